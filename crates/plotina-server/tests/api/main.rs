//! API tests through a spawned server, on SQLite and PostgreSQL.

mod duplicates;
mod helpers;
mod scope;
mod validation;
mod workflow;
