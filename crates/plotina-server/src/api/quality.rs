//! Data quality over the API: completeness per field and owner
//! (`GET /api/v1/data-quality?entity=company`) and records without a planned next
//! activity (`GET /api/v1/data-quality/idle?entity=deal`).

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use plotina_core::schema::Entity;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::api::input;
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Q {
    entity: Option<String>,
    after: Option<i64>,
    limit: Option<u64>,
}

fn entity(code: Option<&str>, allowed: &[Entity]) -> ApiResult<Entity> {
    code.and_then(Entity::from_code)
        .filter(|e| allowed.contains(e))
        .ok_or_else(|| ApiError::malformed("entity", "bad_request"))
}

fn share(missing: i64, total: i64) -> f64 {
    if total == 0 {
        0.0
    } else {
        ((missing as f64 / total as f64) * 10_000.0).round() / 10_000.0
    }
}

async fn completeness(
    State(state): State<AppState>,
    auth: Auth,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let q: Q = input::query(raw.as_deref())?;
    let e = entity(
        q.entity.as_deref(),
        &[Entity::Company, Entity::Contact, Entity::Deal, Entity::Lead],
    )?;
    if q.after.is_some() || q.limit.is_some() {
        return Err(ApiError::malformed("limit", "bad_request"));
    }
    let rows = state.store.completeness(&auth.actor, e).await?;
    let fields = plotina_store::quality::report_fields(e);
    let mut total = 0i64;
    let mut sums: Map<String, Value> = Map::new();
    let mut data = Vec::new();
    for r in &rows {
        total += r.total;
        let mut shares = Map::new();
        for (f, m) in &r.missing {
            shares.insert((*f).into(), json!(share(*m, r.total)));
            let s = sums.get(*f).and_then(Value::as_i64).unwrap_or(0) + m;
            sums.insert((*f).into(), json!(s));
        }
        data.push(json!({"owner_id": r.owner_id, "total": r.total, "missing": r.missing, "share_missing": shares}));
    }
    let overall: Map<String, Value> = fields
        .iter()
        .map(|f| {
            let m = sums.get(*f).and_then(Value::as_i64).unwrap_or(0);
            ((*f).to_string(), json!(share(m, total)))
        })
        .collect();
    Ok(Json(json!({
        "entity": e.code(),
        "fields": fields,
        "total": total,
        "missing": sums,
        "share_missing": overall,
        "owners": data,
    }))
    .into_response())
}

async fn idle(
    State(state): State<AppState>,
    auth: Auth,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let q: Q = input::query(raw.as_deref())?;
    let e = entity(
        q.entity.as_deref(),
        &[Entity::Company, Entity::Contact, Entity::Deal],
    )?;
    let limit = q.limit.unwrap_or(50);
    if limit == 0 || limit > 500 {
        return Err(ApiError::malformed("limit", "limit_range"));
    }
    let rows = state
        .store
        .without_next_activity(&auth.actor, e, q.after, limit)
        .await?;
    let next = (rows.len() as u64 == limit)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    let data: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({"id": r.id, "title": r.title, "owner_id": r.owner_id,
                        "url": format!("/api/v1/{}/{}", e.plural(), r.id)})
        })
        .collect();
    Ok(Json(json!({"data": data, "next_after": next})).into_response())
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/data-quality", get(completeness))
        .route("/api/v1/data-quality/idle", get(idle))
        // The same list under the reports' name for it.
        .route("/api/v1/reports/no-next-step", get(idle))
}

pub fn openapi(paths: &mut Map<String, Value>) {
    let problem = json!({"description": "Problem (RFC 9457)", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}});
    let counts = json!({"type": "object", "additionalProperties": {"type": "integer"}});
    let shares = json!({"type": "object", "additionalProperties": {"type": "number"}});
    paths.insert("/api/v1/data-quality".into(), json!({"get": {
        "summary": "Completeness per field and owner: how many readable records lack a phone, an INN, an industry…",
        "tags": ["data-quality"],
        "parameters": [{"name": "entity", "in": "query", "required": true, "schema": {"type": "string", "enum": ["company", "contact", "deal", "lead"]}}],
        "responses": {"200": {"description": "Report", "content": {"application/json": {"schema": {"type": "object", "properties": {
            "entity": {"type": "string"}, "fields": {"type": "array", "items": {"type": "string"}}, "total": {"type": "integer"},
            "missing": counts.clone(), "share_missing": shares.clone(),
            "owners": {"type": "array", "items": {"type": "object", "properties": {
                "owner_id": {"type": ["integer", "null"]}, "total": {"type": "integer"}, "missing": counts, "share_missing": shares},
                "required": ["owner_id", "total", "missing", "share_missing"]}}},
            "required": ["entity", "fields", "total", "missing", "share_missing", "owners"]}}}},
            "default": problem.clone()}}}));
    let idle = json!({"get": {
        "summary": "Companies, contacts or open deals without a planned next activity (no open activity linked)",
        "tags": ["data-quality"],
        "parameters": [
            {"name": "entity", "in": "query", "required": true, "schema": {"type": "string", "enum": ["company", "contact", "deal"]}},
            {"name": "after", "in": "query", "required": false, "schema": {"type": "integer", "format": "int64"}, "description": "next_after of the previous page"},
            {"name": "limit", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 1, "maximum": 500}}],
        "responses": {"200": {"description": "Records", "content": {"application/json": {"schema": {"type": "object", "properties": {
            "data": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "integer"}, "title": {"type": ["string", "null"]},
                "owner_id": {"type": ["integer", "null"]}, "url": {"type": "string"}}, "required": ["id", "url"]}},
            "next_after": {"type": ["integer", "null"]}}, "required": ["data", "next_after"]}}}},
            "default": problem}}});
    paths.insert("/api/v1/data-quality/idle".into(), idle.clone());
    paths.insert("/api/v1/reports/no-next-step".into(), idle);
}
