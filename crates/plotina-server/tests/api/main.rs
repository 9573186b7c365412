//! API tests through a spawned server, on SQLite and PostgreSQL.

mod automation;
mod duplicates;
mod helpers;
mod notebook;
mod imports;
mod reports;
mod scope;
mod validation;
mod workflow;
