//! The notebook API: the caller's open items and their actions, items posted by
//! integrations, the sweep job, gate rules and the log of refusals.
//!
//! Integration permission: `POST /api/v1/notebook/items` posts an item for any user and
//! therefore takes an API token (bearer) of an administrator — create one with
//! `plotina token create --login <admin>` and give it to the integration; a browser
//! session is refused even for an administrator (403 `notebook_integration_only`).

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use plotina_core::{DomainError, FieldError};
use plotina_store::gates::GateInput;
use plotina_store::notebook::{ItemAction, PostItem};
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};

use crate::api::input;
use crate::auth::{require_admin, Auth, Credential};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(serde::Deserialize)]
struct NotebookQuery {
    user_id: Option<i64>,
    limit: Option<u64>,
}

/// A JSON body into a typed input; unknown fields and wrong types are 422 naming the
/// field where serde tells it.
fn body<T: DeserializeOwned>(headers: &HeaderMap, bytes: &Bytes) -> ApiResult<T> {
    let obj = input::json_object(headers, bytes)?;
    serde_json::from_value(Value::Object(obj)).map_err(|e| {
        ApiError::Domain(DomainError::Invalid(vec![FieldError::new(
            "body", "bad_json",
        )
        .with("detail", e.to_string())]))
    })
}

async fn list(
    State(s): State<AppState>,
    auth: Auth,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let q: NotebookQuery = input::query(raw.as_deref())?;
    let items = s
        .store
        .notebook(&auth.actor, q.user_id, q.limit.unwrap_or(100))
        .await?;
    Ok(Json(json!({"data": items})).into_response())
}

async fn post_item(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    if !matches!(auth.credential, Credential::Token) {
        return Err(DomainError::Forbidden("notebook_integration_only").into());
    }
    require_admin(&auth).map_err(|_| DomainError::Forbidden("notebook_integration_only"))?;
    let input: PostItem = body(&headers, &bytes)?;
    let (item, created) = s.store.post_item_from_api(&auth.actor, input).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(item)).into_response())
}

async fn get_item(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let item = s.store.notebook_item(&auth.actor, input::id(&id)?).await?;
    Ok(Json(item).into_response())
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SnoozeBody {
    until: DateTime<Utc>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RescheduleBody {
    due_at: DateTime<Utc>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DelegateBody {
    user_id: i64,
}

async fn act(
    State(s): State<AppState>,
    auth: Auth,
    Path((id, verb)): Path<(String, String)>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let id = input::id(&id)?;
    let action = match verb.as_str() {
        "done" => ItemAction::Done,
        "dismiss" => ItemAction::Dismiss,
        "snooze" => ItemAction::Snooze(body::<SnoozeBody>(&headers, &bytes)?.until),
        "reschedule" => ItemAction::Reschedule(body::<RescheduleBody>(&headers, &bytes)?.due_at),
        "delegate" => ItemAction::Delegate(body::<DelegateBody>(&headers, &bytes)?.user_id),
        _ => return Err(ApiError::not_found()),
    };
    let item = s.store.act_on_item(&auth.actor, id, action).await?;
    Ok(Json(item).into_response())
}

/// `POST /api/v1/notebook/sweep` (administrators; the server also runs it on a
/// schedule): posts due-task and stale-deal items, never twice.
async fn sweep(State(s): State<AppState>, auth: Auth) -> ApiResult<Response> {
    require_admin(&auth)?;
    let out = s.store.sweep_notebook(plotina_core::value::now()).await?;
    Ok(Json(out).into_response())
}

async fn gates(State(s): State<AppState>, auth: Auth) -> ApiResult<Response> {
    let list = s.store.gates(&auth.actor).await?;
    Ok(Json(json!({"data": list})).into_response())
}

async fn create_gate(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    require_admin(&auth)?;
    let input: GateInput = body(&headers, &bytes)?;
    let g = s.store.create_gate(&auth.actor, &input).await?;
    Ok((StatusCode::CREATED, Json(g)).into_response())
}

async fn get_gate(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let g = s.store.gate(&auth.actor, input::id(&id)?).await?;
    Ok(Json(g).into_response())
}

async fn put_gate(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    require_admin(&auth)?;
    let id = input::id(&id)?;
    let input: GateInput = body(&headers, &bytes)?;
    let g = s.store.update_gate(&auth.actor, id, &input).await?;
    Ok(Json(g).into_response())
}

async fn delete_gate(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    s.store.delete_gate(&auth.actor, input::id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn blocks(
    State(s): State<AppState>,
    auth: Auth,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let q: NotebookQuery = input::query(raw.as_deref())?;
    let list = s
        .store
        .gate_blocks(&auth.actor, q.user_id, q.limit.unwrap_or(100))
        .await?;
    Ok(Json(json!({"data": list})).into_response())
}

/// `POST /api/v1/notebook/handover` (administrators): everything open of a leaving
/// user to colleagues, in one transaction.
async fn handover(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    require_admin(&auth)?;
    let req: plotina_store::handover::HandoverRequest = body(&headers, &bytes)?;
    let out = s.store.hand_over(&auth.actor, &req).await?;
    Ok(Json(json!({"data": out})).into_response())
}

#[derive(serde::Deserialize)]
struct DisciplineQuery {
    weeks: Option<u32>,
}

/// `GET /api/v1/notebook/discipline?weeks=4`: per person and week.
async fn discipline(
    State(s): State<AppState>,
    auth: Auth,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let q: DisciplineQuery = input::query(raw.as_deref())?;
    let rows = s
        .store
        .discipline(
            &auth.actor,
            q.weeks.unwrap_or(4),
            plotina_core::value::now(),
        )
        .await?;
    Ok(Json(json!({"data": rows})).into_response())
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/notebook", get(list))
        .route("/api/v1/notebook/items", post(post_item))
        .route("/api/v1/notebook/items/{id}", get(get_item))
        .route("/api/v1/notebook/items/{id}/{action}", post(act))
        .route("/api/v1/notebook/sweep", post(sweep))
        .route("/api/v1/notebook/gates", get(gates).post(create_gate))
        .route(
            "/api/v1/notebook/gates/{id}",
            get(get_gate).put(put_gate).delete(delete_gate),
        )
        .route("/api/v1/notebook/gate-blocks", get(blocks))
        .route("/api/v1/notebook/handover", post(handover))
        .route("/api/v1/notebook/discipline", get(discipline))
}

// ---------------------------------------------------------------------------------------
// OpenAPI: the notebook's part of the document (merged by `openapi::document`).

fn ok(schema: Value, description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

fn op(
    summary: &str,
    params: Vec<Value>,
    body: Option<Value>,
    responses: Vec<(&str, Value)>,
) -> Value {
    let mut r = Map::new();
    for (code, v) in responses {
        r.insert(code.into(), v);
    }
    r.insert("default".into(), json!({"description": "Problem (RFC 9457); 423 when a gate refuses, with the blocking `items`", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}));
    let mut o =
        json!({"summary": summary, "tags": ["notebook"], "parameters": params, "responses": r});
    if let Some(b) = body {
        o["requestBody"] =
            json!({"required": true, "content": {"application/json": {"schema": b}}});
    }
    o
}

fn sref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn id_param() -> Value {
    json!({"name": "id", "in": "path", "required": true, "schema": {"type": "integer", "format": "int64", "minimum": 1}})
}

fn qp(name: &str, schema: Value, description: &str) -> Value {
    json!({"name": name, "in": "query", "required": false, "schema": schema, "description": description})
}

/// Adds the notebook's paths and schemas.
pub fn openapi(paths: &mut Map<String, Value>, schemas: &mut Map<String, Value>) {
    let ts = json!({"type": "string", "format": "date-time"});
    let ts_null = json!({"type": ["string", "null"], "format": "date-time"});
    let int_null = json!({"type": ["integer", "null"]});
    let str_null = json!({"type": ["string", "null"]});
    schemas.insert("NotebookItem".into(), json!({"type": "object", "properties": {
        "id": {"type": "integer"}, "kind": {"type": "string"}, "owner_id": {"type": "integer"},
        "entity": str_null, "record_id": int_null, "text": {"type": "string"}, "due_at": ts_null,
        "state": {"type": "string", "enum": ["open", "snoozed", "done", "dismissed"]},
        "snoozed_until": ts_null, "overdue": {"type": "boolean"}, "source": {"type": "string"},
        "payload": {"type": ["object", "null"]}, "created_at": ts, "created_by": int_null,
        "closed_at": ts_null, "closed_by": int_null},
        "required": ["id", "kind", "owner_id", "text", "state", "overdue", "source", "created_at"]}));
    schemas.insert("Gate".into(), json!({"type": "object", "properties": {
        "id": {"type": "integer"}, "name": {"type": "string"},
        "action": {"type": "string", "enum": ["deal_create", "deal_move", "lead_convert", "export", "invoice_create"]},
        "kinds": {"type": "array", "items": {"type": "string"}}, "older_than_hours": int_null,
        "max_overdue_tasks": int_null, "exempt_role_ids": {"type": "array", "items": {"type": "integer"}},
        "active": {"type": "boolean"}, "created_at": ts, "updated_at": ts},
        "required": ["id", "name", "action", "kinds", "exempt_role_ids", "active", "created_at", "updated_at"]}));
    let gate_input = json!({"type": "object", "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "action": {"type": "string", "enum": ["deal_create", "deal_move", "lead_convert", "export", "invoice_create"]},
        "kinds": {"type": "array", "maxItems": 20, "items": {"type": "string", "pattern": "^[a-z0-9_]{1,40}$"}},
        "older_than_hours": {"type": ["integer", "null"], "minimum": 0, "maximum": 87600},
        "max_overdue_tasks": {"type": ["integer", "null"], "minimum": 0, "maximum": 10000},
        "exempt_role_ids": {"type": "array", "items": {"type": "integer", "minimum": 1}},
        "active": {"type": "boolean"}},
        "required": ["name", "action"], "additionalProperties": false,
        "description": "Blocks `action` while the user has open items of `kinds` (all kinds when empty) whose due time (creation time when undated) is older than `older_than_hours`, or more than `max_overdue_tasks` overdue activities. At least one condition."});
    let page = |item: Value| json!({"type": "object", "properties": {"data": {"type": "array", "items": item}}, "required": ["data"]});
    paths.insert("/api/v1/notebook".into(), json!({"get": op("The caller's open items (or a department member's, read-only), overdue first",
        vec![qp("user_id", json!({"type": "integer", "minimum": 1}), "Whose notebook (heads of department: their members)"),
             qp("limit", json!({"type": "integer", "minimum": 1, "maximum": 500}), "At most this many (default 100)")], None,
        vec![("200", ok(page(sref("NotebookItem")), "Open items"))])}));
    paths.insert("/api/v1/notebook/items".into(), json!({"post": op("Post an item (integrations: an administrator's API token; sessions are refused)", vec![],
        Some(json!({"type": "object", "properties": {
            "kind": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,39}$"}, "owner_id": {"type": "integer", "minimum": 1},
            "entity": {"type": ["string", "null"]}, "record_id": {"type": ["integer", "null"], "minimum": 1},
            "text": {"type": "string", "minLength": 1, "maxLength": 2000}, "due_at": ts_null,
            "source": {"type": ["string", "null"], "maxLength": 100}, "dedupe_key": {"type": ["string", "null"], "maxLength": 200},
            "payload": {"type": ["object", "null"]}},
            "required": ["kind", "owner_id", "text"], "additionalProperties": false})),
        vec![("201", ok(sref("NotebookItem"), "Posted")), ("200", ok(sref("NotebookItem"), "Already posted with this dedupe_key"))])}));
    paths.insert("/api/v1/notebook/items/{id}".into(), json!({"get": op("One item", vec![id_param()], None, vec![("200", ok(sref("NotebookItem"), "The item"))])}));
    let action_bodies: [(&str, &str, Option<Value>); 5] = [
        ("done", "Mark an item done", None),
        ("dismiss", "Dismiss an item", None),
        (
            "snooze",
            "Hide an item until a future time",
            Some(
                json!({"type": "object", "properties": {"until": ts}, "required": ["until"], "additionalProperties": false}),
            ),
        ),
        (
            "reschedule",
            "Move an item's due time (future only)",
            Some(
                json!({"type": "object", "properties": {"due_at": ts}, "required": ["due_at"], "additionalProperties": false}),
            ),
        ),
        (
            "delegate",
            "Hand an item to another user",
            Some(
                json!({"type": "object", "properties": {"user_id": {"type": "integer", "minimum": 1}}, "required": ["user_id"], "additionalProperties": false}),
            ),
        ),
    ];
    for (verb, summary, b) in action_bodies {
        paths.insert(format!("/api/v1/notebook/items/{{id}}/{verb}"), json!({"post": op(summary, vec![id_param()], b, vec![("200", ok(sref("NotebookItem"), "The item after the action"))])}));
    }
    paths.insert("/api/v1/notebook/sweep".into(), json!({"post": op("Post due-task and stale-deal items now (administrators)", vec![], None,
        vec![("200", ok(json!({"type": "object", "properties": {"task_due": {"type": "integer"}, "deal_stale": {"type": "integer"}}, "required": ["task_due", "deal_stale"]}), "New items"))])}));
    paths.insert("/api/v1/notebook/gates".into(), json!({
        "get": op("Gate rules (administrators)", vec![], None, vec![("200", ok(page(sref("Gate")), "Rules"))]),
        "post": op("Create a gate rule (administrators)", vec![], Some(gate_input.clone()), vec![("201", ok(sref("Gate"), "Created"))])}));
    paths.insert("/api/v1/notebook/gates/{id}".into(), json!({
        "get": op("A gate rule", vec![id_param()], None, vec![("200", ok(sref("Gate"), "The rule"))]),
        "put": op("Replace a gate rule", vec![id_param()], Some(gate_input), vec![("200", ok(sref("Gate"), "Replaced"))]),
        "delete": op("Delete a gate rule (its log stays)", vec![id_param()], None, vec![("204", json!({"description": "Deleted"}))])}));
    paths.insert("/api/v1/notebook/gate-blocks".into(), json!({"get": op("Refused attempts, newest first (own; administrators: anybody's)",
        vec![qp("user_id", json!({"type": "integer", "minimum": 1}), "Whose"), qp("limit", json!({"type": "integer", "minimum": 1, "maximum": 500}), "At most (default 100)")], None,
        vec![("200", ok(page(json!({"type": "object", "properties": {"id": {"type": "integer"}, "gate_id": int_null, "gate_name": {"type": "string"},
            "user_id": {"type": "integer"}, "action": {"type": "string"}, "entity": str_null, "record_id": int_null, "item_count": {"type": "integer"}, "blocked_at": ts},
            "required": ["id", "gate_name", "user_id", "action", "item_count", "blocked_at"]})), "Refusals"))])}));
    let ids = json!({"type": "array", "items": {"type": "integer"}});
    paths.insert("/api/v1/notebook/handover".into(), json!({"post": op("Hand a leaving user's open tasks, deals, leads and companies to colleagues (administrators)", vec![],
        Some(json!({"type": "object", "properties": {
            "from_user_id": {"type": "integer", "minimum": 1},
            "to_user_ids": {"type": "array", "items": {"type": "integer", "minimum": 1}, "description": "Round robin over every record"},
            "by_entity": {"type": "object", "properties": {"deal": {"type": "integer"}, "lead": {"type": "integer"}, "company": {"type": "integer"}, "activity": {"type": "integer"}}, "additionalProperties": false, "description": "One receiver per kind of record"}},
            "required": ["from_user_id"], "additionalProperties": false})),
        vec![("200", ok(page(json!({"type": "object", "properties": {"user_id": {"type": "integer"}, "deals": ids, "leads": ids, "companies": ids, "activities": ids},
            "required": ["user_id", "deals", "leads", "companies", "activities"]})), "What each receiver got"))])}));
    paths.insert("/api/v1/notebook/discipline".into(), json!({"get": op("Per person and ISO week: items handled on time, late, still open, and gate refusals",
        vec![qp("weeks", json!({"type": "integer", "minimum": 1, "maximum": 26}), "How many weeks back, this one included (default 4)")], None,
        vec![("200", ok(page(json!({"type": "object", "properties": {"user_id": {"type": "integer"}, "name": {"type": "string"}, "week_start": {"type": "string", "format": "date"},
            "on_time": {"type": "integer"}, "late": {"type": "integer"}, "open": {"type": "integer"}, "gate_blocks": {"type": "integer"}},
            "required": ["user_id", "name", "week_start", "on_time", "late", "open", "gate_blocks"]})), "Rows"))])}));
}
