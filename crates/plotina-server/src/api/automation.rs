//! Automation API: rules (CRUD, dry run, manual run), the run log, and the secret URLs
//! of incoming webhooks.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use plotina_core::automation::RuleInput;
use plotina_core::schema::Entity;
use plotina_core::{DomainError, FieldError};
use plotina_store::automation::{RunQuery, StoredRule};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::api::input;
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

fn rule_input(headers: &HeaderMap, body: &Bytes) -> ApiResult<RuleInput> {
    let obj = input::json_object(headers, body)?;
    serde_json::from_value(Value::Object(obj)).map_err(|e| {
        let detail = e.to_string();
        ApiError::Domain(DomainError::Invalid(vec![FieldError::new(
            "body",
            "automation_rule_malformed",
        )
        .with("detail", detail)]))
    })
}

fn rule_response(status: StatusCode, rule: &StoredRule) -> Response {
    let etag = input::etag(rule.version);
    (status, [(header::ETAG, etag)], Json(json!(rule))).into_response()
}

async fn list_rules(State(s): State<AppState>, auth: Auth) -> ApiResult<Response> {
    let rules = s.store.automation_rules(&auth.actor).await?;
    Ok(Json(json!({"data": rules})).into_response())
}

async fn create_rule(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let input = rule_input(&headers, &body)?;
    let rule = s.store.create_automation_rule(&auth.actor, &input).await?;
    Ok(rule_response(StatusCode::CREATED, &rule))
}

async fn get_rule(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let rule = s
        .store
        .automation_rule(&auth.actor, input::id(&id)?)
        .await?;
    Ok(rule_response(StatusCode::OK, &rule))
}

async fn replace_rule(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let id = input::id(&id)?;
    let input = rule_input(&headers, &body)?;
    let rule = s
        .store
        .update_automation_rule(&auth.actor, id, &input, input::if_match(&headers)?)
        .await?;
    Ok(rule_response(StatusCode::OK, &rule))
}

async fn delete_rule(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    s.store
        .delete_automation_rule(&auth.actor, input::id(&id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
struct RecordQuery {
    record: Option<i64>,
}

fn record_param(raw: Option<&str>) -> ApiResult<i64> {
    let q: RecordQuery = input::query(raw)?;
    match q.record {
        Some(r) if r > 0 => Ok(r),
        _ => Err(DomainError::bad_request("record", "required").into()),
    }
}

async fn dry_run(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let id = input::id(&id)?;
    let record = record_param(raw.as_deref())?;
    let out = s
        .store
        .dry_run_automation_rule(&auth.actor, id, record)
        .await?;
    Ok(Json(json!(out)).into_response())
}

async fn run_now(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let id = input::id(&id)?;
    let record = record_param(raw.as_deref())?;
    let out = s.store.run_automation_rule(&auth.actor, id, record).await?;
    Ok(Json(json!(out)).into_response())
}

#[derive(Deserialize)]
struct RunsQuery {
    rule: Option<i64>,
    entity: Option<String>,
    record: Option<i64>,
    before: Option<i64>,
    limit: Option<u64>,
}

async fn runs(
    State(s): State<AppState>,
    auth: Auth,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let q: RunsQuery = input::query(raw.as_deref())?;
    let record = match (q.entity.as_deref(), q.record) {
        (None, None) => None,
        (Some(e), Some(id)) => {
            let entity = Entity::from_code(e)
                .filter(|e| e.is_business())
                .ok_or_else(|| DomainError::bad_request("entity", "automation_entity_invalid"))?;
            Some((entity, id))
        }
        _ => return Err(DomainError::bad_request("record", "required").into()),
    };
    let rows = s
        .store
        .automation_runs(
            &auth.actor,
            &RunQuery {
                rule_id: q.rule,
                record,
                before_id: q.before,
                limit: q.limit.unwrap_or(50).clamp(1, 500),
            },
        )
        .await?;
    Ok(Json(json!({"data": rows})).into_response())
}

/// `POST /api/v1/automation/hooks/{token}`: the secret URL of a webhook rule. No
/// session or token: knowing the URL is the permission. The JSON body becomes
/// `payload`; `record_id` in it names the record to run on.
async fn incoming(
    State(s): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    if token.len() != 48 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::not_found());
    }
    let payload = if body.is_empty() {
        Map::new()
    } else {
        input::json_object(&headers, &body)?
    };
    let out = s
        .store
        .incoming_automation_webhook(&token, &Value::Object(payload))
        .await?;
    Ok((StatusCode::ACCEPTED, Json(json!(out))).into_response())
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/automation/rules",
            get(list_rules).post(create_rule),
        )
        .route(
            "/api/v1/automation/rules/{id}",
            get(get_rule).put(replace_rule).delete(delete_rule),
        )
        .route("/api/v1/automation/rules/{id}/dry-run", post(dry_run))
        .route("/api/v1/automation/rules/{id}/run", post(run_now))
        .route("/api/v1/automation/runs", get(runs))
        .route("/api/v1/automation/hooks/{token}", post(incoming))
}

fn op(summary: &str, params: Vec<Value>, body: Option<Value>, responses: Value) -> Value {
    let mut r = responses;
    r["default"] = json!({"description": "Problem (RFC 9457), message in the caller's language",
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}});
    let mut o =
        json!({"summary": summary, "tags": ["automation"], "parameters": params, "responses": r});
    if let Some(b) = body {
        o["requestBody"] =
            json!({"required": true, "content": {"application/json": {"schema": b}}});
    }
    o
}

fn ok(schema: Value, description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

fn id_param() -> Value {
    json!({"name": "id", "in": "path", "required": true, "schema": {"type": "integer", "format": "int64", "minimum": 1}})
}

fn record_query() -> Value {
    json!({"name": "record", "in": "query", "required": true, "schema": {"type": "integer", "format": "int64", "minimum": 1}, "description": "The record to run on"})
}

/// The automation part of the OpenAPI document.
pub fn openapi(paths: &mut Map<String, Value>, schemas: &mut Map<String, Value>) {
    let r = |n: &str| json!({"$ref": format!("#/components/schemas/{n}")});
    let id = json!({"type": "integer", "format": "int64"});
    let assignee = json!({"type": "object", "properties": {
        "kind": {"enum": ["owner", "user", "department_head", "round_robin", "least_loaded"]},
        "user_id": id, "department_id": id}, "required": ["kind"]});
    schemas.insert("AutomationTrigger".into(), json!({"type": "object", "description":
        "created | updated | deleted (only notebook_item, send_email, webhook, move_parent, delay may follow) | field_changed {field, to?} | stage_entered {stage_id} | stage_left {stage_id} | activity_overdue | time {field, offset_minutes, yearly?} | webhook | manual",
        "properties": {"type": {"enum": ["created", "updated", "deleted", "field_changed", "stage_entered", "stage_left", "activity_overdue", "time", "webhook", "manual"]},
            "field": {"type": "string"}, "to": {}, "stage_id": id, "offset_minutes": {"type": "integer"}, "yearly": {"type": "boolean"}},
        "required": ["type"]}));
    schemas.insert("AutomationAction".into(), json!({"type": "object", "description":
        "create_activity {subject, kind?, due_in_minutes?, assignee} | create_child_deal {pipeline_id, stage_id?, title?, fields?, assignee?} | move_parent {stage_id} | move_children {stage_id} | move_stage {stage_id} | set_field {field, value} | assign_owner {assignee} | add_tag {tag} | remove_tag {tag} | notebook_item {text, assignee} | send_email {to, subject, body} | webhook {url} | delay {minutes} | request_approval {value, reason} (deals: asks the owner's department head to approve discount_pct = value; value is 0..100 or a template). Text values are templates: {{title}}, {{custom.key}}, {{payload.x}}.",
        "properties": {"type": {"enum": ["create_activity", "create_child_deal", "move_parent", "move_children", "move_stage", "set_field", "assign_owner", "add_tag", "remove_tag", "notebook_item", "send_email", "webhook", "delay", "request_approval"]},
            "assignee": assignee},
        "required": ["type"]}));
    schemas.insert("AutomationRuleInput".into(), json!({"type": "object", "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 255},
        "entity": {"enum": ["company", "contact", "lead", "deal", "activity"]},
        "pipeline_id": {"type": ["integer", "null"], "format": "int64"},
        "trigger": r("AutomationTrigger"),
        "condition": {"type": ["string", "null"], "description": "Filter language, checked at save"},
        "actions": {"type": "array", "minItems": 1, "items": r("AutomationAction")},
        "enabled": {"type": "boolean"}},
        "required": ["name", "entity", "trigger", "actions"], "additionalProperties": false}));
    schemas.insert("AutomationRule".into(), json!({"type": "object", "properties": {
        "id": id, "name": {"type": "string"}, "entity": {"type": "string"},
        "pipeline_id": {"type": ["integer", "null"]}, "trigger": r("AutomationTrigger"),
        "condition": {"type": ["string", "null"]}, "actions": {"type": "array", "items": r("AutomationAction")},
        "enabled": {"type": "boolean"},
        "webhook_token": {"type": ["string", "null"], "description": "POST /api/v1/automation/hooks/{token} runs a webhook rule"},
        "created_at": {"type": ["string", "null"], "format": "date-time"}, "updated_at": {"type": ["string", "null"], "format": "date-time"},
        "version": {"type": "integer"}},
        "required": ["id", "name", "entity", "trigger", "actions", "enabled", "version"]}));
    schemas.insert("AutomationRunOutcome".into(), json!({"type": "object", "properties": {
        "run_id": {"type": ["integer", "null"]},
        "status": {"enum": ["done", "skipped", "failed", "loop_stopped", "depth_limit", "delayed"]},
        "actions": {"type": "array", "items": {"type": "object"}}, "error": {"type": ["string", "null"]}},
        "required": ["status", "actions"]}));
    schemas.insert("AutomationRun".into(), json!({"type": "object", "properties": {
        "id": id, "rule_id": id, "rule_name": {"type": "string"}, "entity": {"type": "string"},
        "record_id": {"type": ["integer", "null"]}, "trigger": {"type": "string"}, "status": {"type": "string"},
        "depth": {"type": "integer"}, "actions": {"type": "array"}, "error": {"type": ["string", "null"]},
        "started_at": {"type": ["string", "null"], "format": "date-time"}},
        "required": ["id", "rule_id", "rule_name", "entity", "trigger", "status", "depth", "actions"]}));
    let list = |item: &str| json!({"type": "object", "properties": {"data": {"type": "array", "items": r(item)}}, "required": ["data"]});
    paths.insert("/api/v1/automation/rules".into(), json!({
        "get": op("Automation rules (administrators)", vec![], None, json!({"200": ok(list("AutomationRule"), "Rules")})),
        "post": op("Create a rule; an invalid condition, a missing pipeline/stage/user or a non-http(s) webhook URL is refused with the reason", vec![], Some(r("AutomationRuleInput")),
            json!({"201": ok(r("AutomationRule"), "Created")})),
    }));
    paths.insert("/api/v1/automation/rules/{id}".into(), json!({
        "get": op("A rule", vec![id_param()], None, json!({"200": ok(r("AutomationRule"), "The rule; ETag carries the version")})),
        "put": op("Replace a rule", vec![id_param(), json!({"name": "If-Match", "in": "header", "required": false, "schema": {"type": "string"}})],
            Some(r("AutomationRuleInput")), json!({"200": ok(r("AutomationRule"), "Saved")})),
        "delete": op("Delete a rule with its run log", vec![id_param()], None, json!({"204": {"description": "Deleted"}})),
    }));
    paths.insert("/api/v1/automation/rules/{id}/dry-run".into(), json!({
        "post": op("What the rule would do on a record, changing nothing", vec![id_param(), record_query()], None,
            json!({"200": ok(r("AutomationRunOutcome"), "Outcome")})),
    }));
    paths.insert("/api/v1/automation/rules/{id}/run".into(), json!({
        "post": op("Run a rule on a record now (manual trigger)", vec![id_param(), record_query()], None,
            json!({"200": ok(r("AutomationRunOutcome"), "Outcome")})),
    }));
    paths.insert("/api/v1/automation/runs".into(), json!({
        "get": op("Run log, newest first: of a rule (rule=) or of a record (entity= and record=)", vec![
            json!({"name": "rule", "in": "query", "required": false, "schema": {"type": "integer", "format": "int64"}}),
            json!({"name": "entity", "in": "query", "required": false, "schema": {"enum": ["company", "contact", "lead", "deal", "activity"]}}),
            json!({"name": "record", "in": "query", "required": false, "schema": {"type": "integer", "format": "int64"}}),
            json!({"name": "before", "in": "query", "required": false, "schema": {"type": "integer", "format": "int64"}}),
            json!({"name": "limit", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 1, "maximum": 500}})],
            None, json!({"200": ok(list("AutomationRun"), "Runs")})),
    }));
    paths.insert("/api/v1/automation/hooks/{token}".into(), json!({
        "post": {"summary": "Incoming webhook: runs the rule with this secret token; the JSON body is `payload` (record_id names the record)",
            "tags": ["automation"], "security": [],
            "parameters": [{"name": "token", "in": "path", "required": true, "schema": {"type": "string"}}],
            "requestBody": {"required": false, "content": {"application/json": {"schema": {"type": "object"}}}},
            "responses": {"202": ok(r("AutomationRunOutcome"), "Run"),
                "default": {"description": "Problem", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}}},
    }));
}
