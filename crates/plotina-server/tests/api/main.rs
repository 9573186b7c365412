//! API tests through a spawned server, on SQLite and PostgreSQL.

mod automation;
mod helpers;
mod notebook;
mod scope;
mod validation;
mod workflow;
