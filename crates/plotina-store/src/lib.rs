//! Plotina's persistence on SQLite and PostgreSQL: one record engine over sea-query,
//! permissions applied in every query, history in the same transaction as the change.

pub mod approvals;
pub mod attachments;
pub mod auth;
pub mod automation;
pub mod board;
pub mod bootstrap;
pub mod bulk;
pub mod calendar;
pub mod config_cache;
pub mod copy;
pub mod db;
pub mod demo;
pub mod discipline;
pub mod duplicates;
pub mod error;
pub mod export;
pub mod filter_sql;
pub mod gates;
pub mod handover;
pub mod history;
pub mod import;
pub mod listing;
pub mod lookup;
pub mod mail;
pub mod notebook;
pub mod notebook_sweep;
pub mod profile;
pub mod quality;
pub mod records;
pub mod reminders;
pub mod reports;
pub mod rows;
pub mod rules;
pub mod sales;
pub mod scope;
pub mod search;
mod store;
pub mod testing;
pub mod views;

pub use db::{Backend, DbConfig, Pool, Tx};
pub use error::{is_busy, Result, StoreError};
pub use listing::{ListParams, Page};
pub use records::IdempotencyKey;
pub use rows::Record;
pub use store::{eq_filter, SearchHit, Store};
