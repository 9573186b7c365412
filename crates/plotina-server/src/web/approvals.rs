//! The approvals page: requests waiting for my decision (approve or reject with a
//! comment) and the requests I made, with their state and the decision's comment.
//! Every row links to its deal. A decision redirects back with a one-line notice.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use plotina_core::schema::Entity;
use plotina_store::approvals::Approval;
use plotina_store::StoreError;
use serde_json::Value as Json;

use super::lookups::{title_of, Lookups};
use super::{fmt, html_status, redirect, urls, Ctx, Web, WebError, WebResult};
use crate::error::ApiError;
use crate::state::AppState;

pub struct ApprovalRow {
    pub id: i64,
    pub deal: String,
    pub href: String,
    pub change: String,
    pub reason: String,
    /// The requester (in "to me") or the approver (in "mine").
    pub person: String,
    pub state: String,
    pub state_label: String,
    pub comment: String,
    pub created: String,
}

#[derive(Template)]
#[template(path = "approvals.html")]
struct ApprovalsPage {
    ctx: Ctx,
    to_me: Vec<ApprovalRow>,
    mine: Vec<ApprovalRow>,
    notice: String,
    error: String,
}

fn int(a: &Approval, k: &str) -> i64 {
    a.get(k).and_then(Json::as_i64).unwrap_or_default()
}

fn text(a: &Approval, k: &str) -> String {
    a.get(k)
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_string()
}

/// "discount: 15 % → 25 %" in the viewer's language.
pub fn change_text(ctx: &Ctx, a: &Approval) -> String {
    let field = text(a, "field");
    let value = |k: &str| match a.get(k) {
        Some(Json::Number(n)) if field == "discount_pct" => format!("{n} %"),
        Some(Json::Null) | None => "—".to_string(),
        Some(Json::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    format!(
        "{}: {} → {}",
        fmt::field_label(ctx.lang, Entity::Deal, &field),
        value("previous_value"),
        value("requested_value")
    )
}

pub fn state_label(ctx: &Ctx, state: &str) -> String {
    ctx.t(&format!("ui-approval-state-{state}"))
}

pub async fn row(
    s: &AppState,
    web: &Web,
    lk: &Lookups,
    a: &Approval,
    person_key: &str,
) -> ApprovalRow {
    let ctx = &web.ctx;
    let record_id = int(a, "record_id");
    let deal = match s.store.get(&web.actor, Entity::Deal, record_id).await {
        Ok(rec) => title_of(Entity::Deal, &rec),
        Err(_) => format!("#{record_id}"),
    };
    let state = text(a, "state");
    ApprovalRow {
        id: int(a, "id"),
        deal,
        href: urls::card(Entity::Deal, record_id),
        change: change_text(ctx, a),
        reason: text(a, "reason"),
        person: lk.user(int(a, person_key)).unwrap_or("").to_string(),
        state_label: state_label(ctx, &state),
        state,
        comment: text(a, "comment"),
        created: fmt::datetime_text(ctx, &text(a, "created_at")),
    }
}

async fn page(
    s: &AppState,
    web: &Web,
    status: StatusCode,
    notice: String,
    error: String,
) -> WebResult {
    let ctx = web.ctx.clone().with_section("notebook");
    let lk = Lookups::load(&s.store, &web.actor).await?;
    let mut to_me = Vec::new();
    for a in s
        .store
        .approvals(&web.actor, "to_me", Some("pending"))
        .await?
    {
        to_me.push(row(s, web, &lk, &a, "requester_id").await);
    }
    let mut mine = Vec::new();
    for a in s.store.approvals(&web.actor, "mine", None).await? {
        mine.push(row(s, web, &lk, &a, "approver_id").await);
    }
    html_status(
        status,
        &ApprovalsPage {
            ctx,
            to_me,
            mine,
            notice,
            error,
        },
    )
}

async fn show(State(s): State<AppState>, web: Web, RawQuery(raw): RawQuery) -> WebResult {
    #[derive(serde::Deserialize, Default)]
    struct Q {
        done: Option<String>,
    }
    let q: Q = serde_urlencoded::from_str(raw.as_deref().unwrap_or("")).unwrap_or_default();
    let notice = match q.done.as_deref() {
        Some("approved") => web.ctx.t("ui-approval-done-approved"),
        Some("rejected") => web.ctx.t("ui-approval-done-rejected"),
        _ => String::new(),
    };
    page(&s, &web, StatusCode::OK, notice, String::new()).await
}

/// A refusal of the decision as one line in the viewer's language, with its status.
fn refusal(ctx: &Ctx, e: StoreError) -> Result<(StatusCode, String), WebError> {
    let d = match e {
        StoreError::Domain(plotina_core::DomainError::NotFound) => return Err(WebError::NotFound),
        StoreError::Domain(d) => d,
        StoreError::Internal(e) => return Err(WebError::Internal(e)),
    };
    let parts = ApiError::Domain(d).parts();
    let i18n = crate::i18n::I18n::get();
    let line = match parts.errors.first() {
        Some(fe) => {
            let t = i18n.text(ctx.lang, fe.code, &fe.args);
            if fe.field.is_empty() {
                t
            } else {
                format!("{}: {t}", i18n.field_label(ctx.lang, &fe.field))
            }
        }
        None => i18n.text(ctx.lang, &format!("problem-{}", parts.code), &[]),
    };
    Ok((parts.status, line))
}

async fn decide(
    State(s): State<AppState>,
    web: Web,
    Path((id, verb)): Path<(String, String)>,
    body: Bytes,
) -> WebResult {
    let approve = match verb.as_str() {
        "approve" => true,
        "reject" => false,
        _ => return Err(WebError::NotFound),
    };
    let id: i64 = id
        .parse()
        .ok()
        .filter(|i| *i > 0)
        .ok_or(WebError::NotFound)?;
    let form = web.form(&body)?;
    match s
        .store
        .approval_decide(&web.actor, id, approve, form.text("comment"))
        .await
    {
        Ok(_) => {
            let done = if approve { "approved" } else { "rejected" };
            Ok(redirect(&format!("/approvals?done={done}")))
        }
        Err(e) => {
            let (status, line) = refusal(&web.ctx, e)?;
            page(&s, &web, status, String::new(), line).await
        }
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/approvals", get(show))
        .route("/approvals/{id}/{verb}", post(decide))
}
