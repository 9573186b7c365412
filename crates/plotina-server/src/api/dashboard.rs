//! `GET /api/v1/reports/dashboard`: the analytics home page's key figures as JSON — the
//! period (default: this month) against the one before it, the open pipeline, overdue
//! tasks, deals without a next step and the won amount per month for twelve months. It
//! takes the reports' parameters and counts only what the caller may read.

use axum::extract::{RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::api::input;
use crate::api::reports::ReportQuery;
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

async fn dashboard(
    State(s): State<AppState>,
    auth: Auth,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let q: ReportQuery = input::query(raw.as_deref())?;
    if q.format
        .as_deref()
        .is_some_and(|f| !f.is_empty() && f != "json")
    {
        return Err(ApiError::malformed("format", "report_bad_format"));
    }
    let params = q.params()?;
    let data = s
        .store
        .report_dashboard(&auth.actor, &params, plotina_core::value::now())
        .await?;
    Ok(Json(json!({ "data": data })))
}

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/reports/dashboard", get(dashboard))
}

/// This module's entry in the OpenAPI document.
pub fn openapi_paths(paths: &mut serde_json::Map<String, Value>) {
    let problem = json!({"description": "Problem (RFC 9457), message in the caller's language", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}});
    let qp = |name: &str, schema: Value, description: &str| json!({"name": name, "in": "query", "required": false, "schema": schema, "description": description});
    let figures = json!({"type": "object", "description": "Amounts in kopecks", "properties": {
        "from": {"type": "string", "format": "date"}, "to": {"type": "string", "format": "date"},
        "won_amount": {"type": "integer"}, "won_count": {"type": "integer"}, "lost_count": {"type": "integer"},
        "new_deals": {"type": "integer"}, "win_rate": {"type": ["number", "null"]}},
        "required": ["from", "to", "won_amount", "won_count", "lost_count", "new_deals", "win_rate"]});
    let ids = json!({"type": "array", "items": {"type": "integer"}});
    let schema = json!({"type": "object", "properties": {
        "current": figures.clone(), "previous": figures,
        "open_count": {"type": "integer"}, "open_amount": {"type": "integer"}, "open_weighted": {"type": "integer"},
        "overdue_tasks": {"type": "integer"}, "no_next_step": {"type": "integer"},
        "months": {"type": "array", "items": {"type": "object", "properties": {
            "month": {"type": "string"}, "first_day": {"type": "string", "format": "date"}, "last_day": {"type": "string", "format": "date"},
            "amount": {"type": "integer"}, "count": {"type": "integer"}}, "required": ["month", "first_day", "last_day", "amount", "count"]}},
        "won_stages": ids.clone(), "lost_stages": ids.clone(), "open_stages": ids},
        "required": ["current", "previous", "open_count", "open_amount", "open_weighted", "overdue_tasks", "no_next_step", "months"]});
    paths.insert("/api/v1/reports/dashboard".into(), json!({"get": {
        "summary": "Key figures of the period (default: this month) against the period before it, the open pipeline, overdue tasks, deals without a next step and won per month",
        "tags": ["reports"],
        "parameters": [
            qp("period_from", json!({"type": "string", "format": "date"}), "First day of the period (YYYY-MM-DD)"),
            qp("period_to", json!({"type": "string", "format": "date"}), "Last day of the period, included"),
            qp("pipeline", json!({"type": "string", "pattern": "^[1-9][0-9]{0,17}(,[1-9][0-9]{0,17}){0,49}$"}), "Pipeline id, or ids separated by commas"),
            qp("owner", json!({"type": "integer", "minimum": 1, "maximum": i64::MAX}), "Owner (user id)"),
            qp("department", json!({"type": "integer", "minimum": 1, "maximum": i64::MAX}), "Department id with the departments below it"),
            qp("filter", json!({"type": "string", "maxLength": 4000}), "Filter language on deals"),
            qp("format", json!({"type": "string", "enum": ["json"]}), "json only")],
        "responses": {"200": {"description": "Figures", "content": {"application/json": {"schema": {"type": "object", "properties": {"data": schema}, "required": ["data"]}}}},
            "default": problem}}}));
}
