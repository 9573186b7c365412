//! The JSON API under `/api/v1`.

pub mod approvals;
pub mod attachments;
pub mod calendar;
pub mod input;
pub mod openapi;
pub mod records;
pub mod reminders;
pub mod sales;
pub mod session;

use axum::Router;

use crate::state::AppState;

pub fn router(max_upload: usize) -> Router<AppState> {
    Router::new()
        .merge(approvals::router())
        .merge(attachments::router(max_upload))
        .merge(calendar::router())
        .merge(session::router())
        .merge(sales::router())
        .merge(records::router())
        .merge(reminders::router())
        .merge(openapi::router())
}
