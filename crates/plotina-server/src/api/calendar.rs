//! Calendar feeds: the caller manages their secret feed URL through
//! `GET|POST|DELETE /api/v1/calendar/feed`; phones and Outlook subscribe to
//! `GET /calendar/{token}.ics` (no session: the token is the credential). A revoked or
//! rotated token answers 404.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::Duration;
use icalendar::{Calendar, Component, EventLike, EventStatus};
use plotina_store::calendar;
use serde_json::json;

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

async fn feed_status(State(s): State<AppState>, auth: Auth) -> ApiResult<Json<serde_json::Value>> {
    let created = calendar::created_at(s.store.pool(), auth.actor.user_id).await?;
    Ok(Json(json!({
        "active": created.is_some(),
        "created_at": created.map(plotina_core::value::format_datetime),
    })))
}

/// Creates the feed, or replaces its URL (the old one stops working).
async fn feed_rotate(State(s): State<AppState>, auth: Auth) -> ApiResult<Response> {
    let token = calendar::rotate(s.store.pool(), auth.actor.user_id).await?;
    let created = calendar::created_at(s.store.pool(), auth.actor.user_id).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "active": true,
            "created_at": created.map(plotina_core::value::format_datetime),
            "url": format!("/calendar/{token}.ics"),
        })),
    )
        .into_response())
}

async fn feed_revoke(State(s): State<AppState>, auth: Auth) -> ApiResult<StatusCode> {
    calendar::revoke(s.store.pool(), auth.actor.user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The ICS document of a user's events.
pub fn render(name: &str, events: &[calendar::CalEvent]) -> String {
    let mut cal = Calendar::new();
    cal.name(name);
    for e in events {
        let minutes = e.duration_min.filter(|m| *m > 0).unwrap_or(30);
        let mut ev = icalendar::Event::new();
        ev.uid(&format!("activity-{}@plotina", e.activity_id))
            .summary(&e.subject)
            .starts(e.due_at)
            .ends(e.due_at + Duration::minutes(minutes))
            .timestamp(e.updated_at)
            .add_property("CATEGORIES", e.kind.to_uppercase())
            .status(if e.done {
                EventStatus::Confirmed
            } else {
                EventStatus::Tentative
            });
        if !e.body.is_empty() {
            ev.description(&e.body);
        }
        cal.push(ev.done());
    }
    cal.done().to_string()
}

async fn feed(State(s): State<AppState>, Path(file): Path<String>) -> ApiResult<Response> {
    let token = file
        .strip_suffix(".ics")
        .ok_or(ApiError::Domain(plotina_core::DomainError::NotFound))?;
    let Some(user_id) = calendar::user_for_token(s.store.pool(), token).await? else {
        return Err(ApiError::Domain(plotina_core::DomainError::NotFound));
    };
    let events = calendar::events(s.store.pool(), user_id, plotina_core::value::now()).await?;
    let body = render("Plotina", &events);
    Ok((
        [
            (header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
            (header::CACHE_CONTROL, "private, max-age=300"),
        ],
        body,
    )
        .into_response())
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/calendar/feed",
            get(feed_status).post(feed_rotate).delete(feed_revoke),
        )
        .route("/calendar/{file}", get(feed))
}

/// This module's paths in the OpenAPI document.
pub fn openapi_paths(paths: &mut serde_json::Map<String, serde_json::Value>) {
    let problem = json!({"description": "Problem (RFC 9457)", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}});
    let feed = json!({"type": "object", "properties": {
        "active": {"type": "boolean"},
        "created_at": {"type": ["string", "null"], "format": "date-time"},
        "url": {"type": "string", "description": "Secret: anyone with it reads the feed"}},
        "required": ["active", "created_at"]});
    let ok = |code: &str, d: &str| json!({code: {"description": d, "content": {"application/json": {"schema": feed.clone()}}}, "default": problem.clone()});
    paths.insert(
        "/api/v1/calendar/feed".into(),
        json!({
            "get": {"summary": "My calendar feed: whether it is active", "tags": ["calendar"], "parameters": [], "responses": ok("200", "Feed state")},
            "post": {"summary": "Create or rotate my secret calendar (ICS) URL; the old URL stops working", "tags": ["calendar"], "parameters": [], "responses": ok("201", "The new URL")},
            "delete": {"summary": "Revoke my calendar feed", "tags": ["calendar"], "parameters": [],
                "responses": {"204": {"description": "Revoked"}, "default": problem.clone()}}
        }),
    );
    paths.insert(
        "/calendar/{file}".into(),
        json!({"get": {"summary": "A calendar feed (iCalendar) by its secret `{token}.ics`; no other authentication", "tags": ["calendar"],
            "security": [],
            "parameters": [{"name": "file", "in": "path", "required": true, "schema": {"type": "string"}}],
            "responses": {"200": {"description": "iCalendar", "content": {"text/calendar": {"schema": {"type": "string"}}}}, "default": problem}}}),
    );
}
