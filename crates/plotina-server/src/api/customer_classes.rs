//! Stored customer classes: `GET|PUT /api/v1/companies/{id}/customer-class` (the
//! current class with its history; the manual override) and `POST
//! /api/v1/reports/abc-xyz/recalculate` (a calculation now, with the `[reports]`
//! settings). Overrides and recalculation are for administrators and heads.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use plotina_core::error::{DomainError, FieldError};
use plotina_store::reports::classes::{may_classify, Override, MAX_REASON};
use serde_json::{json, Map, Value};

use crate::api::input;
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

async fn current(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = input::id(&id)?;
    let (current, history) = s.store.customer_class(&auth.actor, id).await?;
    Ok(Json(json!({"data": {"current": current, "history": history}})).into_response())
}

/// A class letter of `allowed`, or null; anything else is a field error.
fn letter(
    obj: &Map<String, Value>,
    field: &str,
    allowed: &str,
    code: &'static str,
    errors: &mut Vec<FieldError>,
) -> Option<char> {
    match obj.get(field) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            let mut chars = s.trim().chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) if allowed.contains(c.to_ascii_uppercase()) => {
                    Some(c.to_ascii_uppercase())
                }
                _ => {
                    errors.push(FieldError::new(field, code));
                    None
                }
            }
        }
        Some(_) => {
            errors.push(FieldError::new(field, code));
            None
        }
    }
}

/// Reads the override body: `{"abc": "A"|null, "xyz": "X"|null, "reason": "…"}`.
pub fn parse_override(obj: &Map<String, Value>) -> Result<Override, DomainError> {
    let mut errors = Vec::new();
    for k in obj.keys() {
        if !["abc", "xyz", "reason"].contains(&k.as_str()) {
            errors.push(FieldError::new(k.clone(), "unknown_field").with("name", k.clone()));
        }
    }
    let abc = letter(obj, "abc", "ABC", "abc_bad_abc", &mut errors);
    let xyz = letter(obj, "xyz", "XYZ", "abc_bad_xyz", &mut errors);
    let reason = match obj.get("reason") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => {
            errors.push(FieldError::new("reason", "abc_reason_required"));
            String::new()
        }
    };
    if (abc.is_some() || xyz.is_some()) && reason.trim().is_empty() {
        errors.push(FieldError::new("reason", "abc_reason_required"));
    }
    if reason.trim().chars().count() > MAX_REASON {
        errors.push(FieldError::new("reason", "text_too_long").with("max", MAX_REASON));
    }
    if errors.is_empty() {
        Ok(Override { abc, xyz, reason })
    } else {
        Err(DomainError::Invalid(errors))
    }
}

async fn set_override(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let id = input::id(&id)?;
    if !may_classify(&auth.actor) {
        return Err(DomainError::Forbidden("abc_forbidden").into());
    }
    let obj = input::json_object(&headers, &body)?;
    let o = parse_override(&obj)?;
    let current = s
        .store
        .set_customer_class_override(&auth.actor, id, &o)
        .await?;
    Ok(Json(json!({"data": current})).into_response())
}

async fn recalculate(State(s): State<AppState>, auth: Auth) -> ApiResult<Response> {
    if !may_classify(&auth.actor) {
        return Err(DomainError::Forbidden("abc_forbidden").into());
    }
    let settings = s
        .config
        .reports
        .class_settings()
        .map_err(ApiError::Internal)?;
    let run = s
        .store
        .recalculate_customer_classes(
            Some(&auth.actor),
            &settings,
            plotina_core::value::now(),
            "api",
        )
        .await?;
    Ok((StatusCode::OK, Json(json!({"data": run}))).into_response())
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/companies/{id}/customer-class",
            get(current).put(set_override),
        )
        .route("/api/v1/reports/abc-xyz/recalculate", post(recalculate))
}

pub fn openapi_paths(paths: &mut Map<String, Value>) {
    let problem = json!({"description": "Problem (RFC 9457), message in the caller's language", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}});
    let abc = json!({"type": ["string", "null"], "enum": ["A", "B", "C", null]});
    let xyz = json!({"type": ["string", "null"], "enum": ["X", "Y", "Z", null]});
    let int_or_null = json!({"type": ["integer", "null"]});
    let time_or_null = json!({"type": ["string", "null"], "format": "date-time"});
    let change = json!({"type": "object", "properties": {
        "id": {"type": "integer"}, "kind": {"type": "string", "enum": ["calculation", "override", "override_cleared"]},
        "run_id": int_or_null, "old_abc": abc, "old_xyz": xyz, "new_abc": abc, "new_xyz": xyz,
        "reason": {"type": ["string", "null"]}, "changed_at": {"type": "string", "format": "date-time"}, "changed_by": int_or_null},
        "required": ["id", "kind", "run_id", "old_abc", "old_xyz", "new_abc", "new_xyz", "reason", "changed_at", "changed_by"]});
    let class = json!({"type": ["object", "null"], "description": "abc/xyz: the effective class (the override where set, else the computed one); revenue in kopecks; share and cv as fractions", "properties": {
        "company_id": {"type": "integer"}, "abc": abc, "xyz": xyz, "computed_abc": abc, "computed_xyz": xyz,
        "revenue": {"type": "integer"}, "deals": {"type": "integer"}, "share": {"type": "number"}, "cv": {"type": "number"},
        "run_id": int_or_null, "calculated_at": time_or_null,
        "override_abc": abc, "override_xyz": xyz, "override_reason": {"type": ["string", "null"]},
        "override_by": int_or_null, "override_at": time_or_null,
        "previous": {"oneOf": [change.clone(), {"type": "null"}], "description": "The change the last calculation made, if any"}},
        "required": ["company_id", "abc", "xyz", "computed_abc", "computed_xyz", "revenue", "deals", "share", "cv", "run_id",
            "calculated_at", "override_abc", "override_xyz", "override_reason", "override_by", "override_at", "previous"]});
    let id_param = json!({"name": "id", "in": "path", "required": true, "schema": {"type": "integer", "format": "int64", "minimum": 1}});
    paths.insert("/api/v1/companies/{id}/customer-class".into(), json!({
        "get": {"summary": "A company's stored ABC/XYZ class and its changes, newest first", "tags": ["reports"], "parameters": [id_param.clone()],
            "responses": {"200": {"description": "Class and history", "content": {"application/json": {"schema": {"type": "object", "properties": {
                "data": {"type": "object", "properties": {"current": class.clone(), "history": {"type": "array", "items": change}}, "required": ["current", "history"]}},
                "required": ["data"]}}}}, "default": problem.clone()}},
        "put": {"summary": "Set the class by hand (either axis or both, with a reason) or clear the override (both null); administrators and heads", "tags": ["reports"],
            "parameters": [id_param],
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "properties": {
                "abc": abc, "xyz": xyz, "reason": {"type": ["string", "null"], "maxLength": MAX_REASON}},
                "additionalProperties": false}}}},
            "responses": {"200": {"description": "The class now", "content": {"application/json": {"schema": {"type": "object", "properties": {"data": class}, "required": ["data"]}}}},
                "default": problem.clone()}}}));
    paths.insert("/api/v1/reports/abc-xyz/recalculate".into(), json!({
        "post": {"summary": "Recalculate every company's stored class now over the whole base (the [reports] thresholds and window); administrators and heads", "tags": ["reports"], "parameters": [],
            "responses": {"200": {"description": "The calculation", "content": {"application/json": {"schema": {"type": "object", "properties": {"data": {"type": "object", "properties": {
                "id": {"type": "integer"}, "calculated_at": {"type": "string", "format": "date-time"}, "period_key": {"type": ["string", "null"]},
                "window_from": {"type": "string", "format": "date"}, "window_to": {"type": "string", "format": "date"},
                "customers": {"type": "integer"}, "changed": {"type": "integer"}, "source": {"type": "string"}, "created_by": int_or_null},
                "required": ["id", "calculated_at", "period_key", "window_from", "window_to", "customers", "changed", "source", "created_by"]}}, "required": ["data"]}}}},
                "default": problem}}}));
}
