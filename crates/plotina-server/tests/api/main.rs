//! API tests through a spawned server, on SQLite and PostgreSQL.

mod helpers;
mod imports;
mod scope;
mod validation;
mod workflow;
