//! `POST /api/v1/<plural>/bulk`: one operation on the whole filtered set (not a page):
//! `{"filter": "...", "q": "...", "set": {...}}`, `{"filter": ..., "owner_id": 5}` or
//! `{"filter": ..., "add_tag": "vip"}`. Answers the counts: matched, changed, unchanged,
//! skipped for permissions.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use plotina_core::schema::Entity;
use plotina_store::bulk::BulkOp;
use plotina_store::ListParams;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::api::input;
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    filter: Option<String>,
    q: Option<String>,
    set: Option<Map<String, Value>>,
    owner_id: Option<i64>,
    add_tag: Option<String>,
}

async fn bulk(
    entity: Entity,
    state: AppState,
    auth: Auth,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let b: Body = input::json_body(&headers, &body)?;
    let op = match (b.set, b.owner_id, b.add_tag) {
        (Some(set), None, None) if !set.is_empty() => BulkOp::Set(set),
        (None, Some(owner), None) => {
            let mut m = Map::new();
            m.insert("owner_id".into(), json!(owner));
            BulkOp::Set(m)
        }
        (None, None, Some(tag)) if !tag.trim().is_empty() && tag.chars().count() <= 100 => {
            BulkOp::AddTag(tag.trim().to_string())
        }
        _ => return Err(ApiError::malformed("set", "bulk_operation_invalid")),
    };
    let params = ListParams {
        filter: b.filter,
        q: b.q,
        ..Default::default()
    };
    let out = state
        .store
        .bulk_edit(&auth.actor, entity, &params, &op)
        .await?;
    Ok(Json(json!(out)).into_response())
}

pub fn router() -> Router<AppState> {
    Entity::BUSINESS.iter().fold(Router::new(), |r, &e| {
        r.route(
            &format!("/api/v1/{}/bulk", e.plural()),
            post(
                move |State(s): State<AppState>, a: Auth, h: HeaderMap, b: Bytes| {
                    bulk(e, s, a, h, b)
                },
            ),
        )
    })
}

pub fn openapi(paths: &mut Map<String, Value>) {
    for e in Entity::BUSINESS {
        paths.insert(format!("/api/v1/{}/bulk", e.plural()), json!({"post": {
            "summary": format!("Bulk edit every {} the filter matches (not just a page): set fields, assign an owner or add a tag; one transaction, one history entry per changed record", e.code()),
            "tags": [e.plural()], "parameters": [],
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "properties": {
                "filter": {"type": "string", "maxLength": 4000}, "q": {"type": "string", "maxLength": 200},
                "set": {"type": "object", "minProperties": 1}, "owner_id": {"type": "integer", "minimum": 1},
                "add_tag": {"type": "string", "minLength": 1, "maxLength": 100}},
                "additionalProperties": false,
                "description": "Exactly one of set, owner_id, add_tag"}}}},
            "responses": {"200": {"description": "Counts", "content": {"application/json": {"schema": {"type": "object", "properties": {
                "matched": {"type": "integer"}, "changed": {"type": "integer"}, "unchanged": {"type": "integer"}, "skipped_forbidden": {"type": "integer"}},
                "required": ["matched", "changed", "unchanged", "skipped_forbidden"]}}}},
                "default": {"description": "Problem (RFC 9457)", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}}}}));
    }
}
