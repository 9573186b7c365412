//! API tests through a spawned server, on SQLite and PostgreSQL.

mod automation;
mod duplicates;
mod helpers;
mod notebook;
mod imports;
mod reports;
mod approvals;
mod calendar;
mod helpers;
mod reminders;
mod scope;
mod smtp;
mod validation;
mod workflow;
