//! API tests through a spawned server, on SQLite and PostgreSQL.

mod helpers;
mod reports;
mod scope;
mod validation;
mod workflow;
