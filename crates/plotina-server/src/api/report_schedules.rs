//! Scheduled reports: `GET/POST /api/v1/report-schedules`, `PUT/DELETE
//! /api/v1/report-schedules/{id}` (`{"report": "funnel", "params": "period_from=…",
//! "frequency": "weekly"|"monthly", "day", "hour", "recipients": [user ids], "enabled"}`).
//! Creating needs the right to export deals; changing and deleting, being the creator or
//! an administrator (others get 404). The report kind and its parameters are checked at
//! save time by running the report once as the saving user, so a bad parameter, filter
//! or pipeline is a 422 naming it rather than a mail that never comes.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use plotina_core::error::{DomainError, FieldError};
use plotina_core::policy::Actor;
use plotina_store::reports::schedules::{
    Schedule, ScheduleInput, KINDS, MAX_PARAMS, MAX_RECIPIENTS,
};
use plotina_store::{Store, StoreError};
use serde_json::{json, Map, Value};

use crate::api::input;
use crate::api::report_export::Table;
use crate::api::reports::{self, ReportQuery};
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::i18n::Lang;
use crate::state::AppState;

fn lang(actor: &Actor) -> Lang {
    Lang::from_code(&actor.language).unwrap_or_default()
}

/// Runs report `kind` with the parameters `params` (a query string) as `actor` — within
/// what the actor may read — and shapes it as the table its XLSX export has.
pub async fn report_table(
    store: &Store,
    actor: &Actor,
    kind: &str,
    params: &str,
) -> Result<Table, ApiError> {
    let q: ReportQuery = input::query(Some(params))?;
    let p = q.params()?;
    let l = lang(actor);
    let table = match kind {
        "funnel" => reports::funnel_table(&store.report_funnel(actor, &p).await?, l),
        "dam" => {
            let (n, target) = q.dam_params()?;
            reports::dam_table(&store.report_dam(actor, &p, n, target).await?, l)
        }
        "abc-xyz" => {
            let t = q.abc_params()?;
            reports::abc_table(&store.report_abc_xyz(actor, &p, t).await?, l)
        }
        "velocity" => {
            let idle = q.idle_days()?;
            reports::velocity_table(&store.report_velocity(actor, &p, idle).await?, l)
        }
        "forecast" => reports::forecast_table(&store.report_forecast(actor, &p).await?, l),
        "managers" => reports::rating_table(&store.report_rating(actor, &p).await?, l),
        "by-industry" => reports::industry_table(&store.report_by_industry(actor, &p).await?, l),
        "overdue-children" => {
            reports::overdue_table(&store.report_overdue_children(actor, &p).await?, l)
        }
        "sources" => {
            super::report_sources::sources_table(&store.report_sources(actor, &p).await?, l)
        }
        _ => return Err(DomainError::invalid("report", "report_schedule_kind").into()),
    };
    Ok(table)
}

/// A refused parameter as a 422 field error (it is part of the body, not the URL).
fn as_invalid(e: ApiError) -> ApiError {
    let field_error = |fe: FieldError| ApiError::from(DomainError::Invalid(vec![fe]));
    match e {
        ApiError::Domain(DomainError::BadRequest(fe)) => field_error(fe),
        ApiError::Domain(DomainError::BadFilter(fe)) => {
            let mut e = FieldError::new("filter", fe.code).with("position", fe.pos);
            for (k, v) in &fe.args {
                e = e.with(k, v);
            }
            field_error(e)
        }
        ApiError::Domain(DomainError::NotFound) => {
            field_error(FieldError::new("pipeline", "report_schedule_bad_pipeline"))
        }
        other => other,
    }
}

fn wrong_type(field: &str, code: &'static str) -> FieldError {
    FieldError::new(field, code)
}

/// The body as input; wrong types and unknown fields are 422 field errors.
fn parse_body(obj: Map<String, Value>) -> Result<ScheduleInput, ApiError> {
    let mut input = ScheduleInput {
        enabled: true,
        ..Default::default()
    };
    let mut errors = Vec::new();
    for (k, v) in obj {
        match (k.as_str(), v) {
            ("report", Value::String(s)) => input.report = s,
            ("params", Value::String(s)) => input.params = s,
            ("params", Value::Null) => {}
            ("frequency", Value::String(s)) => input.frequency = s,
            ("day", Value::Number(n)) if n.as_i64().is_some() => {
                input.day = n.as_i64().unwrap_or_default()
            }
            ("hour", Value::Number(n)) if n.as_i64().is_some() => {
                input.hour = n.as_i64().unwrap_or_default()
            }
            ("enabled", Value::Bool(b)) => input.enabled = b,
            ("recipients", Value::Array(items)) => {
                for item in items {
                    match item.as_i64().filter(|i| *i > 0) {
                        Some(i) => input.recipients.push(i),
                        None => {
                            errors
                                .push(wrong_type("recipients", "report_schedule_bad_recipient_id"));
                            break;
                        }
                    }
                }
                if input.recipients.len() > MAX_RECIPIENTS {
                    errors.push(
                        FieldError::new("recipients", "report_schedule_many_recipients")
                            .with("max", MAX_RECIPIENTS),
                    );
                }
            }
            ("report" | "frequency", _) => errors.push(wrong_type(&k, "report_schedule_text")),
            ("params", _) => errors.push(wrong_type(&k, "report_schedule_text")),
            ("day" | "hour", _) => errors.push(wrong_type(&k, "report_schedule_integer")),
            ("enabled", _) => errors.push(wrong_type(&k, "report_schedule_boolean")),
            ("recipients", _) => errors.push(wrong_type(&k, "report_schedule_bad_recipient_id")),
            _ => errors.push(FieldError::new(k.clone(), "unknown_field")),
        }
    }
    if input.report.is_empty() && !errors.iter().any(|e| e.field == "report") {
        errors.push(FieldError::new("report", "report_schedule_kind"));
    }
    if !errors.is_empty() {
        return Err(DomainError::Invalid(errors).into());
    }
    Ok(input)
}

/// Checks a submitted schedule: its fields as the store does, and the report and its
/// parameters by running it once as `actor`; every refusal at once.
pub async fn checked_input(
    store: &Store,
    actor: &Actor,
    input: ScheduleInput,
) -> Result<ScheduleInput, ApiError> {
    let mut errors = Vec::new();
    match store.check_report_schedule(&input).await {
        Ok(()) => {}
        Err(StoreError::Domain(DomainError::Invalid(errs))) => errors.extend(errs),
        Err(e) => return Err(e.into()),
    }
    if KINDS.contains(&input.report.as_str()) && input.params.len() <= MAX_PARAMS {
        match report_table(store, actor, &input.report, &input.params)
            .await
            .map_err(as_invalid)
        {
            Ok(_) => {}
            Err(ApiError::Domain(DomainError::Invalid(errs))) => errors.extend(errs),
            Err(e) => return Err(e),
        }
    }
    if errors.is_empty() {
        Ok(input)
    } else {
        Err(DomainError::Invalid(errors).into())
    }
}

async fn body_input(
    s: &AppState,
    actor: &Actor,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<ScheduleInput, ApiError> {
    let obj = input::json_object(headers, body)?;
    let input = parse_body(obj)?;
    if !plotina_store::reports::schedules::may_schedule(actor) {
        return Err(DomainError::Forbidden("report_export_forbidden").into());
    }
    checked_input(&s.store, actor, input).await
}

async fn list(State(s): State<AppState>, auth: Auth) -> ApiResult<Json<Value>> {
    let data = s.store.report_schedules(&auth.actor).await?;
    Ok(Json(json!({"data": data, "next_cursor": null})))
}

async fn create(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let input = body_input(&s, &auth.actor, &headers, &body).await?;
    let saved: Schedule = s
        .store
        .create_report_schedule(&auth.actor, &input, plotina_core::value::now())
        .await?;
    Ok((StatusCode::CREATED, Json(saved)).into_response())
}

async fn update(
    State(s): State<AppState>,
    auth: Auth,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let id = input::id(&raw)?;
    // Someone else's schedule is absent, before anything about the body is said.
    s.store.report_schedule(&auth.actor, id).await?;
    let input = body_input(&s, &auth.actor, &headers, &body).await?;
    let saved = s
        .store
        .update_report_schedule(&auth.actor, id, &input, plotina_core::value::now())
        .await?;
    Ok(Json(saved).into_response())
}

async fn delete(
    State(s): State<AppState>,
    auth: Auth,
    Path(raw): Path<String>,
) -> ApiResult<StatusCode> {
    let id = input::id(&raw)?;
    s.store
        .delete_report_schedule(&auth.actor, id)
        .await
        .map_err(|e: StoreError| ApiError::from(e))?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/report-schedules", get(list).post(create))
        .route("/api/v1/report-schedules/{id}", put(update).delete(delete))
}

/// This module's paths in the OpenAPI document.
pub fn openapi_paths(paths: &mut Map<String, Value>) {
    let problem = json!({"description": "Problem (RFC 9457), message in the caller's language", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}});
    let schedule = json!({"type": "object", "properties": {
        "id": {"type": "integer"}, "report": {"type": "string", "enum": KINDS},
        "params": {"type": "string"}, "frequency": {"type": "string", "enum": ["weekly", "monthly"]},
        "day": {"type": "integer"}, "hour": {"type": "integer"}, "time_zone": {"type": "string"},
        "recipients": {"type": "array", "items": {"type": "integer"}}, "enabled": {"type": "boolean"},
        "next_due": {"type": "string", "format": "date-time"},
        "last_sent_at": {"type": ["string", "null"], "format": "date-time"},
        "created_by": {"type": "integer"}, "created_at": {"type": "string"}, "updated_at": {"type": "string"}},
        "required": ["id", "report", "params", "frequency", "day", "hour", "time_zone", "recipients", "enabled", "next_due", "created_by"]});
    let input = json!({"type": "object", "properties": {
        "report": {"type": "string", "enum": KINDS, "description": "The report, as in /api/v1/reports/{name}"},
        "params": {"type": "string", "maxLength": MAX_PARAMS, "description": "The report's parameters as a query string, e.g. period_from=2026-01-01&pipeline=1"},
        "frequency": {"type": "string", "enum": ["weekly", "monthly"]},
        "day": {"type": "integer", "minimum": 1, "maximum": 31, "description": "Weekly: ISO weekday (1 = Monday … 7); monthly: day of the month (a shorter month uses its last day)"},
        "hour": {"type": "integer", "minimum": 0, "maximum": 23, "description": "Hour in the saving user's time zone"},
        "recipients": {"type": "array", "minItems": 1, "maxItems": MAX_RECIPIENTS, "items": {"type": "integer", "minimum": 1}, "description": "Active users; each gets the report computed with their own permissions"},
        "enabled": {"type": "boolean", "default": true}},
        "required": ["report", "frequency", "day", "hour", "recipients"], "additionalProperties": false});
    let ok = |code: &str, description: &str, schema: Value| json!({code: {"description": description, "content": {"application/json": {"schema": schema}}}, "default": problem.clone()});
    let id_param = json!({"name": "id", "in": "path", "required": true, "schema": {"type": "integer", "format": "int64", "minimum": 1}});
    paths.insert("/api/v1/report-schedules".into(), json!({
        "get": {"summary": "Scheduled report e-mails I made (administrators: all)", "tags": ["reports"], "parameters": [],
            "responses": ok("200", "Schedules", json!({"type": "object", "properties": {"data": {"type": "array", "items": schedule.clone()}, "next_cursor": {"type": "null"}}, "required": ["data"]}))},
        "post": {"summary": "E-mail a report weekly or monthly as XLSX to chosen users (needs the right to export deals)", "tags": ["reports"], "parameters": [],
            "requestBody": {"required": true, "content": {"application/json": {"schema": input.clone()}}},
            "responses": ok("201", "Created", schedule.clone())}}));
    paths.insert("/api/v1/report-schedules/{id}".into(), json!({
        "put": {"summary": "Replace a schedule (its creator or an administrator)", "tags": ["reports"], "parameters": [id_param.clone()],
            "requestBody": {"required": true, "content": {"application/json": {"schema": input}}},
            "responses": ok("200", "Saved", schedule)},
        "delete": {"summary": "Delete a schedule (its creator or an administrator)", "tags": ["reports"], "parameters": [id_param],
            "responses": {"204": {"description": "Deleted"}, "default": problem}}}));
}
