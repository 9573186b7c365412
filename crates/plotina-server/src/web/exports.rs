//! `POST /<plural>/export` from a list page: the list's filter, search and columns as a
//! CSV, XLSX or JSON download through the same export as the API. A refusal (no right,
//! over the role's row limit, a bad filter) comes back to the list as its notice; a
//! notebook gate sends the user to the notebook as every gated action does.

use axum::body::Bytes;
use plotina_core::schema::Entity;
use plotina_core::DomainError;

use super::{redirect, urls, FormData, Web, WebError, WebResult};
use crate::api::exports::{download, parse_format, ExportSpec};
use crate::error::ApiError;
use crate::state::AppState;

pub async fn export(entity: Entity, s: AppState, web: Web, body: Bytes) -> WebResult {
    let form = web.form(&body)?;
    let some = |v: &str| Some(v.to_string()).filter(|f| !f.trim().is_empty());
    let format = match parse_format(Some(form.text("format"))) {
        Ok(f) => f,
        Err(e) => return Ok(back_with_refusal(&form, &e)),
    };
    let spec = ExportSpec {
        entity,
        filter: some(form.get("filter").unwrap_or("")),
        q: some(form.get("q").unwrap_or("")),
        columns: form
            .text("cols")
            .split('|')
            .filter(|c| !c.is_empty())
            .map(String::from)
            .collect(),
        format,
        delimiter: b';',
        source: "web",
    };
    match download(&s, &web.actor, spec).await {
        Ok(resp) => Ok(resp),
        Err(ApiError::Domain(DomainError::Locked(r))) => {
            Err(WebError::Domain(DomainError::Locked(r)))
        }
        Err(ApiError::Internal(e)) => Err(WebError::Internal(e)),
        Err(e) => Ok(back_with_refusal(&form, &e)),
    }
}

/// Back to the list with the refusal's message code and its one argument.
fn back_with_refusal(form: &FormData, e: &ApiError) -> axum::response::Response {
    let problem = e.parts();
    let (code, arg) = match problem.errors.first() {
        Some(fe) => (
            fe.code.to_string(),
            fe.args.first().map(|(_, v)| v.clone()).unwrap_or_default(),
        ),
        None => (format!("problem-{}", problem.code), String::new()),
    };
    let back = urls::safe_next(form.text("back"));
    let base = back.split('?').next().unwrap_or("/");
    let rest = back.split_once('?').map(|x| x.1).unwrap_or("");
    let mut pairs: Vec<(String, String)> =
        serde_urlencoded::from_str::<Vec<(String, String)>>(rest)
            .unwrap_or_default()
            .into_iter()
            .filter(|(k, _)| {
                !["ok", "failed", "note", "export_error", "export_arg"].contains(&k.as_str())
            })
            .collect();
    pairs.push(("export_error".into(), code));
    if !arg.is_empty() {
        pairs.push(("export_arg".into(), arg));
    }
    redirect(&format!(
        "{base}?{}",
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    ))
}

/// One row of the export log as the settings page shows it.
pub struct LogRow {
    pub when: String,
    pub user: String,
    pub what: String,
    pub format: String,
    pub rows: i64,
    pub filter: String,
    pub source: String,
}

#[derive(askama::Template)]
#[template(path = "settings_exports.html")]
struct LogPage {
    ctx: super::Ctx,
    rows: Vec<LogRow>,
}

/// `GET /settings/exports`: who exported what, newest first (administrators).
pub async fn log_page(
    axum::extract::State(s): axum::extract::State<AppState>,
    web: Web,
) -> WebResult {
    let entries = s.store.export_log(&web.actor, 500).await?;
    let ctx = web.ctx.clone().with_section("settings");
    let lk = super::lookups::Lookups::load(&s.store, &web.actor).await?;
    let rows = entries
        .into_iter()
        .map(|e| {
            let filter = [e.filter.unwrap_or_default(), e.q.unwrap_or_default()]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" · ");
            LogRow {
                when: e
                    .created_at
                    .as_str()
                    .map(|t| super::fmt::datetime_text(&ctx, t))
                    .unwrap_or_default(),
                user: lk
                    .org_name(Entity::User, e.user_id)
                    .unwrap_or_else(|| format!("#{}", e.user_id)),
                what: Entity::from_code(&e.entity)
                    .map(|en| ctx.t(&format!("ui-nav-{}", en.plural())))
                    .unwrap_or(e.entity),
                format: e.format.to_uppercase(),
                rows: e.rows,
                filter,
                source: e.source,
            }
        })
        .collect();
    super::html(&LogPage { ctx, rows })
}
