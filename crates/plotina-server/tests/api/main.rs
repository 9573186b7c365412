//! API tests through a spawned server, on SQLite and PostgreSQL.

mod approvals;
mod automation;
mod calendar;
mod customer_classes;
mod duplicates;
mod exports;
mod helpers;
mod imports;
mod notebook;
mod reminders;
mod report_schedules;
mod reports;
mod scope;
mod smtp;
mod validation;
mod workflow;
