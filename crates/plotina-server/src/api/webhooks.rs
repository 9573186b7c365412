//! Outgoing webhook subscriptions: `/api/v1/webhooks` and the delivery log.
//!
//! Every delivery is a JSON POST with `X-Plotina-Event`, `X-Plotina-Delivery`,
//! `X-Plotina-Timestamp` (Unix seconds) and `X-Plotina-Signature` = lower-case hex
//! HMAC-SHA256 of `timestamp + "." + raw body`, keyed with the subscription's `secret`.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use plotina_core::{DomainError, FieldError};
use plotina_store::automation::webhooks::SubscriptionInput;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::api::input;
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

fn body(headers: &HeaderMap, bytes: &Bytes) -> ApiResult<SubscriptionInput> {
    let obj = input::json_object(headers, bytes)?;
    serde_json::from_value(Value::Object(obj)).map_err(|e| {
        ApiError::Domain(DomainError::Invalid(vec![FieldError::new(
            "body",
            "automation_rule_malformed",
        )
        .with("detail", e.to_string())]))
    })
}

async fn list(State(s): State<AppState>, auth: Auth) -> ApiResult<Response> {
    let subs = s.store.webhook_subscriptions(&auth.actor).await?;
    Ok(Json(json!({"data": subs})).into_response())
}

async fn create(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let input = body(&headers, &bytes)?;
    let sub = s
        .store
        .create_webhook_subscription(&auth.actor, &input)
        .await?;
    Ok((StatusCode::CREATED, Json(json!(sub))).into_response())
}

async fn get_one(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let sub = s
        .store
        .webhook_subscription(&auth.actor, input::id(&id)?)
        .await?;
    Ok(Json(json!(sub)).into_response())
}

async fn replace(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let id = input::id(&id)?;
    let input = body(&headers, &bytes)?;
    let sub = s
        .store
        .update_webhook_subscription(&auth.actor, id, &input)
        .await?;
    Ok(Json(json!(sub)).into_response())
}

async fn remove(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    s.store
        .delete_webhook_subscription(&auth.actor, input::id(&id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
struct LimitQuery {
    limit: Option<u64>,
}

async fn deliveries(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let q: LimitQuery = input::query(raw.as_deref())?;
    let rows = s
        .store
        .webhook_deliveries(&auth.actor, input::id(&id)?, q.limit.unwrap_or(50))
        .await?;
    Ok(Json(json!({"data": rows})).into_response())
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/webhooks", get(list).post(create))
        .route(
            "/api/v1/webhooks/{id}",
            get(get_one).put(replace).delete(remove),
        )
        .route("/api/v1/webhooks/{id}/deliveries", get(deliveries))
}

/// The webhook part of the OpenAPI document.
pub fn openapi(paths: &mut Map<String, Value>, schemas: &mut Map<String, Value>) {
    let r = |n: &str| json!({"$ref": format!("#/components/schemas/{n}")});
    let problem = json!({"description": "Problem (RFC 9457), message in the caller's language",
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}});
    let ok = |schema: Value, d: &str| json!({"description": d, "content": {"application/json": {"schema": schema}}});
    let id_param = json!({"name": "id", "in": "path", "required": true, "schema": {"type": "integer", "format": "int64", "minimum": 1}});
    let events = json!({"type": "array", "minItems": 1, "items": {"enum": plotina_store::automation::webhooks::EVENTS}});
    schemas.insert("WebhookSubscriptionInput".into(), json!({"type": "object", "properties": {
        "url": {"type": "string", "description": "http(s) URL"}, "events": events,
        "entity": {"type": ["string", "null"], "enum": ["company", "contact", "lead", "deal", "activity", null]},
        "max_failures": {"type": ["integer", "null"], "minimum": 1, "maximum": 100},
        "enabled": {"type": ["boolean", "null"]}},
        "required": ["url", "events"], "additionalProperties": false}));
    schemas.insert("WebhookSubscription".into(), json!({"type": "object", "description":
        "Deliveries carry X-Plotina-Timestamp and X-Plotina-Signature = hex(HMAC-SHA256(secret, timestamp + \".\" + body))",
        "properties": {"id": {"type": "integer"}, "url": {"type": "string"}, "events": {"type": "array", "items": {"type": "string"}},
        "entity": {"type": ["string", "null"]}, "secret": {"type": "string"}, "enabled": {"type": "boolean"},
        "max_failures": {"type": "integer"}, "consecutive_failures": {"type": "integer"},
        "disabled_at": {"type": ["string", "null"]}, "created_at": {"type": ["string", "null"]}},
        "required": ["id", "url", "events", "secret", "enabled", "max_failures", "consecutive_failures"]}));
    schemas.insert("WebhookDelivery".into(), json!({"type": "object", "properties": {
        "id": {"type": "integer"}, "event": {"type": "string"}, "payload": {"type": "object"},
        "state": {"enum": ["queued", "delivered", "failed"]}, "attempts": {"type": "integer"},
        "next_attempt_at": {"type": ["string", "null"]}, "last_status": {"type": ["integer", "null"]},
        "last_error": {"type": ["string", "null"]}, "created_at": {"type": ["string", "null"]}, "delivered_at": {"type": ["string", "null"]}},
        "required": ["id", "event", "payload", "state", "attempts"]}));
    let list = |item: &str| json!({"type": "object", "properties": {"data": {"type": "array", "items": r(item)}}, "required": ["data"]});
    let op = |summary: &str, params: Vec<Value>, body: Option<Value>, responses: Value| {
        let mut resp = responses;
        resp["default"] = problem.clone();
        let mut o = json!({"summary": summary, "tags": ["webhooks"], "parameters": params, "responses": resp});
        if let Some(b) = body {
            o["requestBody"] =
                json!({"required": true, "content": {"application/json": {"schema": b}}});
        }
        o
    };
    paths.insert("/api/v1/webhooks".into(), json!({
        "get": op("Webhook subscriptions (administrators)", vec![], None, json!({"200": ok(list("WebhookSubscription"), "Subscriptions")})),
        "post": op("Subscribe a URL to events", vec![], Some(r("WebhookSubscriptionInput")), json!({"201": ok(r("WebhookSubscription"), "Created")})),
    }));
    paths.insert("/api/v1/webhooks/{id}".into(), json!({
        "get": op("A subscription", vec![id_param.clone()], None, json!({"200": ok(r("WebhookSubscription"), "Subscription")})),
        "put": op("Replace a subscription (enabling resets the failure count)", vec![id_param.clone()], Some(r("WebhookSubscriptionInput")), json!({"200": ok(r("WebhookSubscription"), "Saved")})),
        "delete": op("Delete a subscription and its log", vec![id_param.clone()], None, json!({"204": {"description": "Deleted"}})),
    }));
    paths.insert("/api/v1/webhooks/{id}/deliveries".into(), json!({
        "get": op("Delivery log, newest first", vec![id_param, json!({"name": "limit", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 1, "maximum": 500}})],
            None, json!({"200": ok(list("WebhookDelivery"), "Deliveries")})),
    }));
}
