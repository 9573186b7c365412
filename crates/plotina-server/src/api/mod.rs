//! The JSON API under `/api/v1`.

pub mod approvals;
pub mod attachments;
pub mod automation;
pub mod bulk;
pub mod calendar;
pub mod customer_classes;
pub mod dashboard;
pub mod duplicates;
pub mod exports;
pub mod imports;
pub mod input;
pub mod notebook;
pub mod openapi;
pub mod quality;
pub mod records;
pub mod reminders;
pub mod report_export;
pub mod report_schedules;
pub mod report_sources;
pub mod reports;
pub mod sales;
pub mod session;
pub mod webhooks;

use axum::Router;

use crate::state::AppState;

pub fn router(max_upload: usize) -> Router<AppState> {
    Router::new()
        .merge(approvals::router())
        .merge(attachments::router(max_upload))
        .merge(calendar::router())
        .merge(session::router())
        .merge(sales::router())
        .merge(notebook::router())
        .merge(records::router())
        .merge(imports::router())
        .merge(duplicates::router())
        .merge(quality::router())
        .merge(bulk::router())
        .merge(exports::router())
        .merge(reports::router())
        .merge(customer_classes::router())
        .merge(report_schedules::router())
        .merge(dashboard::router())
        .merge(report_sources::router())
        .merge(reminders::router())
        .merge(openapi::router())
        .merge(automation::router())
        .merge(webhooks::router())
}
