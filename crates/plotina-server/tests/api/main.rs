//! API tests through a spawned server, on SQLite and PostgreSQL.

mod approvals;
mod calendar;
mod helpers;
mod reminders;
mod scope;
mod smtp;
mod validation;
mod workflow;
