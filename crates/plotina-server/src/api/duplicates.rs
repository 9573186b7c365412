//! Duplicates over the API: the 409 answer of a create or edit that looks like an
//! existing record (unless `X-Confirm-Duplicates: true`), the finder
//! `GET /api/v1/duplicates`, and clean-up tasks for the owners
//! `POST /api/v1/duplicates/tasks`.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use plotina_core::schema::Entity;
use plotina_store::duplicates::{self, Candidate, Checked, FindParams, Group, MergeRequest};
use plotina_store::{IdempotencyKey, Record};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::api::input;
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult, Problem};
use crate::i18n::{I18n, Lang};
use crate::state::AppState;

pub const CONFIRM_HEADER: &str = "x-confirm-duplicates";

/// Whether the client confirmed a write despite possible duplicates.
pub fn confirmed(headers: &HeaderMap) -> ApiResult<bool> {
    match headers.get(CONFIRM_HEADER).map(|v| v.to_str()) {
        None => Ok(false),
        Some(Ok(v)) if v.eq_ignore_ascii_case("true") || v == "1" => Ok(true),
        Some(Ok(v)) if v.eq_ignore_ascii_case("false") || v == "0" => Ok(false),
        Some(_) => Err(ApiError::malformed("X-Confirm-Duplicates", "bad_request")),
    }
}

fn candidate_json(c: &Candidate) -> Value {
    json!({
        "entity": c.entity.code(),
        "id": c.id,
        "reasons": c.reasons,
        "visible": c.visible,
        "title": c.title,
        "owner_id": c.owner_id,
        "owner_name": c.owner_name,
        "url": c.visible.then(|| format!("/api/v1/{}/{}", c.entity.plural(), c.id)),
    })
}

/// 409 problem+json with the candidates (rendered in the caller's language by the
/// problem layer).
pub fn conflict(candidates: &[Candidate]) -> Response {
    let problem = Problem {
        status: StatusCode::CONFLICT,
        code: "possible_duplicates",
        errors: Vec::new(),
        extra: Some((
            "candidates",
            Value::Array(candidates.iter().map(candidate_json).collect()),
        )),
    };
    let mut resp = StatusCode::CONFLICT.into_response();
    resp.extensions_mut().insert(problem);
    resp
}

/// A create through the duplicate check (companies, contacts, leads) or a plain one.
pub async fn create(
    state: &AppState,
    auth: &Auth,
    entity: Entity,
    obj: &Map<String, Value>,
    key: Option<&IdempotencyKey>,
    headers: &HeaderMap,
) -> ApiResult<Result<(Record, bool), Response>> {
    if !duplicates::ENTITIES.contains(&entity) {
        return Ok(Ok(state
            .store
            .create(&auth.actor, entity, obj, key)
            .await?));
    }
    let confirm = confirmed(headers)?;
    Ok(
        match state
            .store
            .create_checked(&auth.actor, entity, obj, key, confirm)
            .await?
        {
            Checked::Done(out) => Ok(out),
            Checked::Duplicates(c) => Err(conflict(&c)),
        },
    )
}

/// An update through the duplicate check (companies, contacts, leads) or a plain one.
pub async fn update(
    state: &AppState,
    auth: &Auth,
    entity: Entity,
    id: i64,
    obj: &Map<String, Value>,
    if_match: Option<i64>,
    headers: &HeaderMap,
) -> ApiResult<Result<Record, Response>> {
    if !duplicates::ENTITIES.contains(&entity) {
        return Ok(Ok(state
            .store
            .update(&auth.actor, entity, id, obj, if_match)
            .await?));
    }
    let confirm = confirmed(headers)?;
    Ok(
        match state
            .store
            .update_checked(&auth.actor, entity, id, obj, if_match, confirm)
            .await?
        {
            Checked::Done(out) => Ok(out),
            Checked::Duplicates(c) => Err(conflict(&c)),
        },
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FindQuery {
    entity: Option<String>,
    reason: Option<String>,
    after: Option<String>,
    limit: Option<u64>,
}

fn parse_entity(code: Option<&str>) -> ApiResult<Entity> {
    code.and_then(Entity::from_code)
        .filter(|e| duplicates::ENTITIES.contains(e))
        .ok_or_else(|| ApiError::malformed("entity", "bad_request"))
}

fn parse_reason(entity: Entity, reason: Option<&str>) -> ApiResult<Option<&'static str>> {
    match reason {
        None => Ok(None),
        Some(r) => duplicates::reasons_of(entity)
            .iter()
            .find(|x| **x == r)
            .copied()
            .map(Some)
            .ok_or_else(|| ApiError::malformed("reason", "bad_request")),
    }
}

fn group_json(entity: Entity, g: &Group) -> Value {
    json!({
        "reason": g.reason,
        "value": g.value,
        "records": g.records.iter().map(|m| json!({
            "id": m.id,
            "title": m.title,
            "owner_id": m.owner_id,
            "url": format!("/api/v1/{}/{}", entity.plural(), m.id),
        })).collect::<Vec<_>>(),
    })
}

fn find_params(
    entity: Option<String>,
    reason: Option<String>,
    after: Option<String>,
    limit: Option<u64>,
) -> ApiResult<FindParams> {
    let entity = parse_entity(entity.as_deref())?;
    let reason = parse_reason(entity, reason.as_deref())?;
    let limit = limit.unwrap_or(100);
    if limit == 0 || limit > 500 {
        return Err(ApiError::malformed("limit", "limit_range"));
    }
    if after.is_some() && reason.is_none() {
        return Err(ApiError::malformed("after", "bad_request"));
    }
    Ok(FindParams {
        entity,
        reason,
        after,
        limit,
    })
}

async fn find(
    State(state): State<AppState>,
    auth: Auth,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let q: FindQuery = input::query(raw.as_deref())?;
    let p = find_params(q.entity, q.reason, q.after, q.limit)?;
    let groups = state.store.find_duplicates(&auth.actor, &p).await?;
    let next = (p.reason.is_some() && groups.len() as u64 == p.limit)
        .then(|| groups.last().map(|g| g.value.clone()))
        .flatten();
    Ok(Json(json!({
        "data": groups.iter().map(|g| group_json(p.entity, g)).collect::<Vec<_>>(),
        "next_after": next,
    }))
    .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TasksBody {
    entity: Option<String>,
    reason: Option<String>,
    limit: Option<u64>,
}

fn task_subject(lang: Lang, g: &Group) -> String {
    let i18n = I18n::get();
    let reason = i18n.text(lang, &format!("duplicates-reason-{}", g.reason), &[]);
    i18n.text(
        lang,
        "duplicates-task-subject",
        &[("reason", reason), ("value", g.value.clone())],
    )
}

async fn tasks(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let b: TasksBody = input::json_body(&headers, &body)?;
    let p = find_params(b.entity, b.reason, None, b.limit)?;
    let lang = Lang::from_accept_language(&auth.actor.language);
    let out = state
        .store
        .duplicate_cleanup_tasks(&auth.actor, &p, &|g| task_subject(lang, g))
        .await?;
    Ok((
        StatusCode::OK,
        Json(json!({"groups": out.groups, "created": out.created, "skipped": out.skipped})),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MergeBody {
    entity: String,
    survivor: i64,
    victims: Vec<i64>,
    #[serde(default)]
    take: std::collections::BTreeMap<String, i64>,
}

async fn merge(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let b: MergeBody = input::json_body(&headers, &body)?;
    let entity = parse_entity(Some(&b.entity))?;
    if b.survivor < 1 || b.victims.iter().any(|v| *v < 1) {
        return Err(ApiError::malformed("victims", "bad_request"));
    }
    let out = state
        .store
        .merge_duplicates(
            &auth.actor,
            &MergeRequest {
                entity,
                survivor: b.survivor,
                victims: b.victims,
                take: b.take,
            },
        )
        .await?;
    Ok(
        Json(json!({"merge_id": out.merge_id, "survivor": out.survivor, "moved": out.moved}))
            .into_response(),
    )
}

async fn undo(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = input::id(&id)?;
    state.store.undo_merge(&auth.actor, id).await?;
    Ok(Json(json!({"merge_id": id, "undone": true})).into_response())
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/duplicates", get(find))
        .route("/api/v1/duplicates/tasks", post(tasks))
        .route("/api/v1/duplicates/merge", post(merge))
        .route("/api/v1/duplicates/merges/{id}/undo", post(undo))
}

/// The endpoints and the confirmation header in the OpenAPI document.
pub fn openapi(paths: &mut Map<String, Value>, schemas: &mut Map<String, Value>) {
    schemas.insert("DuplicateCandidate".into(), json!({"type": "object", "properties": {
        "entity": {"type": "string", "enum": ["company", "contact", "lead"]},
        "id": {"type": "integer"},
        "reasons": {"type": "array", "items": {"type": "string", "enum": duplicates::REASONS}},
        "visible": {"type": "boolean", "description": "false: the record exists but the caller may not read it; only its owner is shown"},
        "title": {"type": ["string", "null"]}, "owner_id": {"type": ["integer", "null"]},
        "owner_name": {"type": ["string", "null"]}, "url": {"type": ["string", "null"]}},
        "required": ["entity", "id", "reasons", "visible"]}));
    schemas.insert("PossibleDuplicates".into(), json!({"allOf": [{"$ref": "#/components/schemas/Problem"},
        {"type": "object", "properties": {"candidates": {"type": "array", "items": {"$ref": "#/components/schemas/DuplicateCandidate"}}}}]}));
    let confirm = json!({"name": "X-Confirm-Duplicates", "in": "header", "required": false,
        "schema": {"type": "string", "enum": ["true", "false", "1", "0"]},
        "description": "true: write even if the record looks like an existing one (else 409 with the candidates)"});
    let dup409 = json!({"description": "A conflict; nothing was written. With code `possible_duplicates` the problem carries `candidates` (by INN, INN+KPP, phone, e-mail or normalised name): repeat with X-Confirm-Duplicates: true to write anyway. Other codes: a reused Idempotency-Key, a unique value taken.",
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/PossibleDuplicates"}}}});
    for e in duplicates::ENTITIES {
        for (path, method) in [
            (format!("/api/v1/{}", e.plural()), "post"),
            (format!("/api/v1/{}/{{id}}", e.plural()), "patch"),
        ] {
            if let Some(op) = paths.get_mut(&path).and_then(|p| p.get_mut(method)) {
                if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
                    params.push(confirm.clone());
                }
                if let Some(r) = op.get_mut("responses").and_then(Value::as_object_mut) {
                    r.insert("409".into(), dup409.clone());
                }
            }
        }
    }
    let entity = json!({"name": "entity", "in": "query", "required": true,
        "schema": {"type": "string", "enum": ["company", "contact", "lead"]}});
    let group = json!({"type": "object", "properties": {
        "reason": {"type": "string", "enum": duplicates::REASONS}, "value": {"type": "string"},
        "records": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "integer"}, "title": {"type": ["string", "null"]},
            "owner_id": {"type": ["integer", "null"]}, "url": {"type": "string"}}, "required": ["id", "url"]}}},
        "required": ["reason", "value", "records"]});
    let problem = json!({"description": "Problem (RFC 9457)", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}});
    paths.insert("/api/v1/duplicates".into(), json!({"get": {
        "summary": "Duplicate finder: groups of readable records sharing INN(+KPP), phone, e-mail or normalised name",
        "tags": ["duplicates"],
        "parameters": [entity,
            {"name": "reason", "in": "query", "required": false, "schema": {"type": "string", "enum": duplicates::REASONS}, "description": "One reason (inn_kpp and inn: companies and leads only); all when absent"},
            {"name": "after", "in": "query", "required": false, "schema": {"type": "string"}, "description": "next_after of the previous page (needs reason)"},
            {"name": "limit", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 1, "maximum": 500}, "description": "Groups per page (default 100)"}],
        "responses": {"200": {"description": "Groups", "content": {"application/json": {"schema": {"type": "object", "properties": {
            "data": {"type": "array", "items": group}, "next_after": {"type": ["string", "null"]}}, "required": ["data", "next_after"]}}}},
            "default": problem.clone()}}}));
    paths.insert("/api/v1/duplicates/tasks".into(), json!({"post": {
        "summary": "Create a clean-up task (activity of kind task) for the owner of each duplicate group; an open task for the same group is not repeated",
        "tags": ["duplicates"], "parameters": [],
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "properties": {
            "entity": {"type": "string", "enum": ["company", "contact", "lead"]},
            "reason": {"type": "string", "enum": duplicates::REASONS},
            "limit": {"type": "integer", "minimum": 1, "maximum": 500}}, "required": ["entity"], "additionalProperties": false}}}},
        "responses": {"200": {"description": "Counts", "content": {"application/json": {"schema": {"type": "object", "properties": {
            "groups": {"type": "integer"}, "created": {"type": "integer"}, "skipped": {"type": "integer"}}, "required": ["groups", "created", "skipped"]}}}},
            "default": problem.clone()}}}));
    paths.insert("/api/v1/duplicates/merge".into(), json!({"post": {
        "summary": "Merge victims into a survivor: chosen field values, every link moved, victims to the trash; undoable",
        "tags": ["duplicates"], "parameters": [],
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "properties": {
            "entity": {"type": "string", "enum": ["company", "contact", "lead"]},
            "survivor": {"type": "integer", "minimum": 1},
            "victims": {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 1, "maxItems": duplicates::MAX_VICTIMS, "uniqueItems": true},
            "take": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 1}, "description": "field → id of the record (survivor or a victim) whose value the survivor keeps"}},
            "required": ["entity", "survivor", "victims"], "additionalProperties": false}}}},
        "responses": {"200": {"description": "Merged", "content": {"application/json": {"schema": {"type": "object", "properties": {
            "merge_id": {"type": "integer"}, "survivor": {"type": "object"}, "moved": {"type": "object", "additionalProperties": {"type": "integer"}}},
            "required": ["merge_id", "survivor", "moved"]}}}},
            "default": problem.clone()}}}));
    paths.insert("/api/v1/duplicates/merges/{id}/undo".into(), json!({"post": {
        "summary": "Undo a merge: every touched record back exactly as it was (refused once any of them changed again)",
        "tags": ["duplicates"],
        "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer", "format": "int64", "minimum": 1}}],
        "responses": {"200": {"description": "Undone", "content": {"application/json": {"schema": {"type": "object", "properties": {
            "merge_id": {"type": "integer"}, "undone": {"type": "boolean"}}, "required": ["merge_id", "undone"]}}}},
            "default": problem}}}));
}
