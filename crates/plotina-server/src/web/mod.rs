//! The web interface: server-rendered pages (askama templates, auto-escaped), one small
//! hand-written script and one stylesheet. Every page is one round trip; every read and
//! write goes through the same permission-scoped `Store` methods as the JSON API.

pub mod assets;
mod auth;
mod board;
mod cards;
mod convert;
mod ctx;
mod errors;
mod fields;
mod fmt;
mod forms;
mod lists;
mod lookups;
mod notebook;
mod profile;
mod search;
mod settings;
mod timeline;
mod urls;

use askama::Template;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;

pub use ctx::{Ctx, FormData, Web};
pub use errors::WebError;

use crate::state::AppState;

pub const CSP: &str =
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'";

pub type WebResult = Result<Response, WebError>;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(assets::router())
        .merge(auth::router())
        .merge(notebook::router())
        .merge(board::router())
        .merge(convert::router())
        .merge(lists::router())
        .merge(forms::router())
        .merge(cards::router())
        .merge(search::router())
        .merge(settings::router())
        .layer(axum::middleware::from_fn(ctx::layer))
}

/// A rendered page.
pub fn html<T: Template>(t: &T) -> WebResult {
    html_status(StatusCode::OK, t)
}

pub fn html_status<T: Template>(status: StatusCode, t: &T) -> WebResult {
    let body = t
        .render()
        .map_err(|e| WebError::Internal(anyhow::anyhow!("template: {e}")))?;
    Ok((
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response())
}

/// "See other": where a successful form post sends the browser.
pub fn redirect(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_string())]).into_response()
}
