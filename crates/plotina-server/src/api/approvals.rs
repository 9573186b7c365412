//! Approvals: `GET /api/v1/approvals?role=mine|to_me&state=…`, `POST /api/v1/approvals`
//! (`{"entity": "deal", "record_id", "field": "discount_pct", "value", "reason"}`),
//! `GET /api/v1/approvals/{id}`, `POST /api/v1/approvals/{id}/approve|reject`
//! (`{"comment"}`). A deal PATCH that sets a discount below the pipeline's floor creates
//! the same request (see `plotina_store::approvals`).

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use plotina_core::DomainError;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::input;
use crate::auth::Auth;
use crate::error::ApiResult;
use crate::state::AppState;

#[derive(Deserialize)]
struct ListQuery {
    role: Option<String>,
    state: Option<String>,
}

async fn list(
    State(s): State<AppState>,
    auth: Auth,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let q: ListQuery = input::query(raw.as_deref())?;
    let role = q.role.as_deref().unwrap_or("all");
    if !matches!(role, "all" | "mine" | "to_me") {
        return Err(DomainError::bad_request("role", "approval_role_unknown").into());
    }
    let state = q.state.as_deref().filter(|s| !s.is_empty());
    if let Some(st) = state {
        if !matches!(st, "pending" | "approved" | "rejected") {
            return Err(DomainError::bad_request("state", "approval_state_unknown").into());
        }
    }
    let data = s.store.approvals(&auth.actor, role, state).await?;
    Ok(Json(json!({"data": data, "next_cursor": null})))
}

fn text(obj: &serde_json::Map<String, Value>, key: &str) -> ApiResult<String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(DomainError::invalid(key, "expected_string").into()),
    }
}

async fn create(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let obj = input::json_object(&headers, &body)?;
    for k in obj.keys() {
        if !matches!(
            k.as_str(),
            "entity" | "record_id" | "field" | "value" | "reason"
        ) {
            return Err(DomainError::Invalid(vec![plotina_core::FieldError::new(
                k.as_str(),
                "unknown_field",
            )
            .with("name", k)])
            .into());
        }
    }
    let entity = text(&obj, "entity")?;
    if !entity.is_empty() && entity != "deal" {
        return Err(DomainError::invalid("entity", "approval_field_unsupported").into());
    }
    let Some(record_id) = obj
        .get("record_id")
        .and_then(Value::as_i64)
        .filter(|v| *v > 0)
    else {
        return Err(DomainError::invalid("record_id", "required").into());
    };
    let field = text(&obj, "field")?;
    let reason = text(&obj, "reason")?;
    let value = obj.get("value").cloned().unwrap_or(Value::Null);
    let a = s
        .store
        .approval_request(&auth.actor, record_id, &field, &value, &reason)
        .await?;
    Ok((StatusCode::CREATED, Json(Value::Object(a))).into_response())
}

async fn show(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = input::id(&id)?;
    Ok(Json(Value::Object(
        s.store.approval(&auth.actor, id).await?,
    )))
}

async fn decide(
    s: AppState,
    auth: Auth,
    id: String,
    headers: HeaderMap,
    body: Bytes,
    approve: bool,
) -> ApiResult<Json<Value>> {
    let id = input::id(&id)?;
    let comment = if body.is_empty() {
        String::new()
    } else {
        let obj = input::json_object(&headers, &body)?;
        if let Some(k) = obj.keys().find(|k| k.as_str() != "comment") {
            return Err(DomainError::Invalid(vec![plotina_core::FieldError::new(
                k.as_str(),
                "unknown_field",
            )
            .with("name", k)])
            .into());
        }
        text(&obj, "comment")?
    };
    let a = s
        .store
        .approval_decide(&auth.actor, id, approve, &comment)
        .await?;
    Ok(Json(Value::Object(a)))
}

async fn approve(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    decide(s, auth, id, headers, body, true).await
}

async fn reject(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    decide(s, auth, id, headers, body, false).await
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/approvals", get(list).post(create))
        .route("/api/v1/approvals/{id}", get(show))
        .route("/api/v1/approvals/{id}/approve", post(approve))
        .route("/api/v1/approvals/{id}/reject", post(reject))
}

/// This module's paths in the OpenAPI document.
pub fn openapi_paths(paths: &mut serde_json::Map<String, Value>) {
    let problem = json!({"description": "Problem (RFC 9457)", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}});
    let int_or_null = json!({"type": ["integer", "null"]});
    let approval = json!({"type": "object", "properties": {
        "id": {"type": "integer"}, "entity": {"type": "string"}, "record_id": {"type": "integer"},
        "field": {"type": "string"}, "requested_value": {}, "previous_value": {},
        "reason": {"type": "string"}, "requester_id": {"type": "integer"},
        "approver_id": int_or_null, "department_id": int_or_null, "level": {"type": "integer"},
        "state": {"type": "string", "enum": ["pending", "approved", "rejected"]},
        "comment": {"type": ["string", "null"]}, "decided_by": int_or_null,
        "decided_at": {"type": ["string", "null"]}, "escalate_at": {"type": ["string", "null"]},
        "created_at": {"type": "string"}, "updated_at": {"type": "string"}},
        "required": ["id", "entity", "record_id", "field", "state", "requester_id"]});
    let ok = |code: &str, schema: Value| json!({code: {"description": "OK", "content": {"application/json": {"schema": schema}}}, "default": problem.clone()});
    let id_param = json!({"name": "id", "in": "path", "required": true, "schema": {"type": "integer", "format": "int64", "minimum": 1}});
    let comment = json!({"required": false, "content": {"application/json": {"schema": {"type": "object", "properties": {"comment": {"type": "string", "maxLength": 2000}}, "additionalProperties": false}}}});
    paths.insert("/api/v1/approvals".into(), json!({
        "get": {"summary": "Approval requests I made (role=mine), must decide (role=to_me) or both", "tags": ["approvals"],
            "parameters": [
                {"name": "role", "in": "query", "required": false, "schema": {"type": "string", "enum": ["all", "mine", "to_me"]}},
                {"name": "state", "in": "query", "required": false, "schema": {"type": "string", "enum": ["pending", "approved", "rejected"]}}],
            "responses": ok("200", json!({"type": "object", "properties": {"data": {"type": "array", "items": approval.clone()}, "next_cursor": {"type": "null"}}, "required": ["data"]}))},
        "post": {"summary": "Ask for a change of a record field (a deal's discount_pct) to be approved", "tags": ["approvals"], "parameters": [],
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "properties": {
                "entity": {"type": "string", "enum": ["deal"]}, "record_id": {"type": "integer", "minimum": 1},
                "field": {"type": "string", "enum": ["discount_pct"]}, "value": {"type": "integer", "minimum": 0, "maximum": 100},
                "reason": {"type": "string", "minLength": 1, "maxLength": 2000}}, "required": ["record_id", "field", "value", "reason"], "additionalProperties": false}}}},
            "responses": ok("201", approval.clone())}
    }));
    paths.insert("/api/v1/approvals/{id}".into(), json!({"get": {"summary": "One approval request (requester, approver, administrators)", "tags": ["approvals"], "parameters": [id_param.clone()], "responses": ok("200", approval.clone())}}));
    for (path, summary) in [
        ("approve", "Approve: the held change is applied"),
        ("reject", "Reject: nothing changes on the record"),
    ] {
        paths.insert(format!("/api/v1/approvals/{{id}}/{path}"), json!({"post": {"summary": summary, "tags": ["approvals"], "parameters": [id_param.clone()], "requestBody": comment.clone(), "responses": ok("200", approval.clone())}}));
    }
}
