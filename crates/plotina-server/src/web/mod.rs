//! The web interface: server-rendered pages (askama templates, auto-escaped), one small
//! hand-written script and one stylesheet. Every page is one round trip; every read and
//! write goes through the same permission-scoped `Store` methods as the JSON API.

mod approvals;
pub mod assets;
mod auth;
mod automation;
mod board;
mod cards;
mod charts;
mod convert;
mod ctx;
mod customer_classes;
mod dashboard;
mod errors;
mod exports;
mod fields;
mod files;
pub(crate) mod fmt;
mod form_input;
mod forms;
mod import_views;
mod imports;
mod lists;
mod lookups;
mod notebook;
mod notebook_admin;
mod notebook_planner;
mod profile;
mod quality;
mod report_forecast;
mod report_operations;
mod report_rating;
mod report_schedules;
mod report_sources;
mod report_velocity;
mod reports;
mod rules;
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

pub fn router(max_upload: usize) -> Router<AppState> {
    Router::new()
        .merge(assets::router())
        .merge(auth::router())
        .merge(notebook::router())
        .merge(approvals::router())
        .merge(notebook_admin::router())
        .merge(notebook_planner::router())
        .merge(board::router())
        .merge(convert::router())
        .merge(lists::router())
        .merge(forms::router())
        .merge(cards::router())
        .merge(files::router(max_upload))
        .merge(search::router())
        .merge(settings::router())
        .merge(rules::router())
        .merge(reports::router())
        .merge(customer_classes::router())
        .merge(imports::router())
        .merge(report_schedules::router())
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

#[cfg(test)]
mod tests {
    use plotina_core::schema::{Entity, FieldKind};

    use crate::i18n::{I18n, Lang};

    fn assert_both(id: &str) {
        let i = I18n::get();
        assert!(i.has(Lang::Ru, id), "{id} is missing in Russian");
        assert!(i.has(Lang::En, id), "{id} is missing in English");
    }

    /// Every `ui-…` id written in a template or a page handler exists in both languages.
    #[test]
    fn every_interface_text_is_translated() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        for dir in ["templates", "src/web"] {
            for entry in std::fs::read_dir(root.join(dir)).expect("read dir") {
                files.push(
                    std::fs::read_to_string(entry.expect("entry").path()).expect("read file"),
                );
            }
        }
        let mut seen = 0;
        for text in &files {
            for part in text.split("\"ui-").skip(1) {
                let id: String = part
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                    .collect();
                if !id.is_empty() && part[id.len()..].starts_with('"') && !id.ends_with('-') {
                    assert_both(&format!("ui-{id}"));
                    seen += 1;
                }
            }
        }
        assert!(seen > 100, "found only {seen} ids");
    }

    /// Ids built at run time: sections, titles and every option of a select field.
    #[test]
    fn generated_ids_are_translated() {
        for e in Entity::ALL {
            assert_both(&format!("ui-new-{}", e.code()));
            assert_both(&format!("ui-edit-{}", e.code()));
            for f in e.fields() {
                if let FieldKind::Select(opts) | FieldKind::MultiSelect(opts) = f.kind {
                    for o in opts {
                        assert_both(&format!("ui-opt-{}-{o}", f.name));
                    }
                }
            }
        }
        for e in Entity::BUSINESS {
            assert_both(&format!("ui-nav-{}", e.plural()));
            assert_both(&format!("ui-entity-{}", e.code()));
        }
        for e in [
            Entity::Pipeline,
            Entity::CustomField,
            Entity::User,
            Entity::Department,
            Entity::Role,
        ] {
            assert_both(&format!("ui-settings-{}", e.plural()));
        }
    }

    #[test]
    fn redirects_stay_on_this_site() {
        assert_eq!(super::urls::safe_next("/deals?x=1"), "/deals?x=1");
        assert_eq!(super::urls::safe_next("//evil.example"), "/");
        assert_eq!(super::urls::safe_next("https://evil.example"), "/");
        assert_eq!(super::urls::safe_next("/\\evil.example"), "/");
    }
}
