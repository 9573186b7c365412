//! `GET /api/v1/reports/sources`: leads, deals, won amount, conversions, cost, cost per
//! lead and ROMI per source of first contact (JSON, or CSV/XLSX with `?format=`);
//! `GET/PUT /api/v1/source-costs`: what a source cost per month, set by administrators
//! and heads (the rule of sales plans).

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use plotina_core::types::Money;
use plotina_store::reports::sources::{SourceRow, SourcesReport};
use serde_json::json;

use crate::api::input;
use crate::api::report_export::{Cell, Table};
use crate::api::reports::{no_extra, parse_amount, report_parameters, respond, MonthSpan};
use crate::auth::Auth;
use crate::error::ApiResult;
use crate::i18n::{t, I18n, Lang};
use crate::state::AppState;

/// A source as people read it: lead sources by their option label, the row without a
/// source by name, anything else as typed.
pub fn source_name(source: Option<&str>, lang: Lang) -> String {
    match source {
        None => t(lang, "sources-no-source"),
        Some(s) => {
            let id = format!("ui-opt-source-{s}");
            if I18n::get().has(lang, &id) {
                t(lang, &id)
            } else {
                s.to_string()
            }
        }
    }
}

fn money(minor: i64) -> Cell {
    Cell::Text(Money::from_minor(minor).to_string())
}

fn row_cells(name: String, r: &SourceRow) -> Vec<Cell> {
    vec![
        Cell::Text(name),
        Cell::Int(r.leads),
        Cell::Int(r.converted_leads),
        r.lead_conversion.into(),
        Cell::Int(r.deals),
        Cell::Int(r.deals_won),
        r.deal_conversion.into(),
        Cell::Int(r.won),
        money(r.won_amount),
        money(r.cost),
        r.cost_per_lead.map(money).unwrap_or(Cell::Empty),
        r.cost_per_won.map(money).unwrap_or(Cell::Empty),
        r.romi.map(Cell::Num).unwrap_or(Cell::Empty),
    ]
}

/// The report as a table: one row per source, then the total.
pub fn sources_table(r: &SourcesReport, lang: Lang) -> Table {
    let headers = [
        "sources-col-source",
        "sources-col-leads",
        "sources-col-converted",
        "sources-col-lead-conversion",
        "sources-col-deals",
        "sources-col-deals-won",
        "sources-col-deal-conversion",
        "sources-col-won",
        "sources-col-won-amount",
        "sources-col-cost",
        "sources-col-cost-per-lead",
        "sources-col-cost-per-won",
        "sources-col-romi",
    ]
    .iter()
    .map(|id| t(lang, id))
    .collect();
    let mut rows: Vec<Vec<Cell>> = r
        .rows
        .iter()
        .map(|row| row_cells(source_name(row.source.as_deref(), lang), row))
        .collect();
    rows.push(row_cells(t(lang, "sources-total"), &r.total));
    Table {
        title: t(lang, "sources-title"),
        headers,
        rows,
    }
}

async fn sources(
    State(s): State<AppState>,
    auth: Auth,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let actor = &auth.actor;
    let s = &s;
    respond(
        raw.as_deref(),
        actor,
        "sources",
        no_extra,
        |p, ()| async move { s.store.report_sources(actor, &p).await },
        sources_table,
    )
    .await
}

async fn costs(
    State(s): State<AppState>,
    _auth: Auth,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let q: MonthSpan = input::query(raw.as_deref())?;
    let costs = s.store.source_costs(&q.from, &q.to).await?;
    Ok(Json(json!({"data": costs})).into_response())
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CostBody {
    source: String,
    month: String,
    amount: Option<serde_json::Value>,
}

async fn set_cost(
    State(s): State<AppState>,
    auth: Auth,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let b: CostBody = input::json_body(&headers, &body)?;
    let amount = parse_amount(b.amount)?;
    s.store
        .set_source_cost(&auth.actor, &b.source, &b.month, amount)
        .await?;
    Ok(axum::http::StatusCode::NO_CONTENT.into_response())
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/reports/sources", get(sources))
        .route("/api/v1/source-costs", get(costs).put(set_cost))
}

/// The entries in the OpenAPI document.
pub fn openapi_paths(
    paths: &mut serde_json::Map<String, serde_json::Value>,
    schemas: &mut serde_json::Map<String, serde_json::Value>,
) {
    let problem = json!({"description": "Problem (RFC 9457), message in the caller's language", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}});
    let int = json!({"type": "integer"});
    let num = json!({"type": ["number", "null"]});
    let kopecks_or_null = json!({"type": ["integer", "null"], "description": "Kopecks"});
    let row = json!({"type": "object", "description": "Amounts in kopecks", "properties": {
        "source": {"type": ["string", "null"]}, "leads": int, "converted_leads": int, "lead_conversion": num,
        "deals": int, "deals_won": int, "deal_conversion": num, "won": int, "won_amount": int, "cost": int,
        "cost_per_lead": kopecks_or_null, "cost_per_won": kopecks_or_null,
        "romi": {"type": ["number", "null"], "description": "Percent: (won amount − cost) / cost × 100"}},
        "required": ["source", "leads", "converted_leads", "lead_conversion", "deals", "deals_won", "deal_conversion",
            "won", "won_amount", "cost", "cost_per_lead", "cost_per_won", "romi"]});
    let month_or_null = json!({"type": ["string", "null"]});
    schemas.insert(
        "SourcesReport".into(),
        json!({"type": "object", "properties": {
        "cost_from": month_or_null, "cost_to": month_or_null,
        "rows": {"type": "array", "items": row.clone()}, "total": row},
        "required": ["cost_from", "cost_to", "rows", "total"]}),
    );
    paths.insert("/api/v1/reports/sources".into(), json!({"get": {
        "summary": "Sources of first contact: leads and deals created in the period, deals won in it and their amount, conversions, cost (every month the period touches), cost per lead and per won deal, ROMI; child deals count for their top parent's source",
        "tags": ["reports"], "parameters": report_parameters(),
        "responses": {"200": {"description": "Per source and in total", "content": {
            "application/json": {"schema": {"type": "object", "properties": {"data": {"$ref": "#/components/schemas/SourcesReport"}}, "required": ["data"]}},
            "text/csv": {"schema": {"type": "string"}},
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {"schema": {"type": "string", "contentEncoding": "binary"}}}},
            "default": problem.clone()}}}));
    let month_s = json!({"type": "string", "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])$"});
    paths.insert("/api/v1/source-costs".into(), json!({
        "get": {"summary": "What each source cost per month, for a span of months", "tags": ["reports"],
            "parameters": [
                {"name": "from", "in": "query", "required": true, "schema": month_s},
                {"name": "to", "in": "query", "required": true, "schema": month_s}],
            "responses": {"200": {"description": "Costs (amounts in kopecks)", "content": {"application/json": {"schema": {"type": "object", "properties": {
                "data": {"type": "array", "items": {"type": "object", "properties": {
                    "source": {"type": "string"}, "month": {"type": "string"}, "amount": {"type": "integer"},
                    "updated_at": {"type": "string"}, "updated_by": {"type": ["integer", "null"]}},
                    "required": ["source", "month", "amount", "updated_at", "updated_by"]}}}, "required": ["data"]}}}},
                "default": problem.clone()}},
        "put": {"summary": "Set or remove (amount null) what a source cost in a month; administrators and heads", "tags": ["reports"],
            "parameters": [],
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "properties": {
                "source": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "\\S"},
                "month": month_s,
                "amount": {"type": ["string", "number", "null"], "description": "Roubles, e.g. \"45000.00\""}},
                "required": ["source", "month"], "additionalProperties": false}}}},
            "responses": {"204": {"description": "Saved"}, "default": problem}}}));
}
