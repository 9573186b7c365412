//! `/api/v1/reports/{name}`: report figures as JSON, or as CSV/XLSX with `?format=`.
//! Every report takes `period_from`, `period_to` (dates, both included), `pipeline`
//! (an id or a comma-separated list), `owner`, `department` and `filter` (the filter
//! language on deals). Figures include only what the caller may read; exports also
//! need the right to export deals.

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use plotina_core::error::{DomainError, FieldError};
use plotina_core::policy::{Action, Actor};
use plotina_core::schema::Entity;
use plotina_store::reports::abc_xyz::{AbcXyz, Thresholds};
use plotina_store::reports::dam::{Dam, DEFAULT_LOST_AFTER};
use plotina_store::reports::forecast::{Forecast, PlanTarget};
use plotina_store::reports::funnel::Funnel;
use plotina_store::reports::operations::{ContractorRow, IndustryRow};
use plotina_store::reports::rating::{Rating, Weights, MEASURES};
use plotina_store::reports::velocity::{Velocity, DEFAULT_IDLE_DAYS};
use plotina_store::reports::ReportParams;
use serde_json::json;

use crate::api::input;
use crate::api::report_export::{download, Cell, Format, Table};
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::i18n::{t, Lang};
use crate::state::AppState;

/// The query string every report takes.
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct ReportQuery {
    pub period_from: Option<String>,
    pub period_to: Option<String>,
    pub pipeline: Option<String>,
    pub owner: Option<String>,
    pub department: Option<String>,
    pub filter: Option<String>,
    pub format: Option<String>,
    /// The dam: months without a purchase after which a customer is lost.
    pub lost_after: Option<String>,
    /// The dam: the number of potential customers in the market.
    pub target: Option<String>,
    /// ABC/XYZ: `revenue` (default) or `count`, and the thresholds in percent.
    pub abc_by: Option<String>,
    pub a: Option<String>,
    pub b: Option<String>,
    pub x: Option<String>,
    pub y: Option<String>,
    /// Velocity: days without a touch after which an open deal is forgotten.
    pub idle_days: Option<String>,
}

pub(crate) fn bad(field: &str, code: &'static str) -> DomainError {
    DomainError::BadRequest(FieldError::new(field, code))
}

fn opt(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn date(field: &str, s: &Option<String>) -> Result<Option<chrono::NaiveDate>, DomainError> {
    opt(s)
        .map(|v| plotina_core::value::parse_date(v).map_err(|_| bad(field, "report_bad_date")))
        .transpose()
}

fn id(field: &str, s: &str) -> Result<i64, DomainError> {
    s.trim()
        .parse::<i64>()
        .ok()
        .filter(|i| *i > 0)
        .ok_or_else(|| bad(field, "report_bad_id"))
}

impl ReportQuery {
    /// ABC/XYZ thresholds (percent) and the ranking measure.
    pub fn abc_params(&self) -> Result<Thresholds, DomainError> {
        let mut t = Thresholds::default();
        for (field, raw, slot) in [
            ("a", &self.a, &mut t.a),
            ("b", &self.b, &mut t.b),
            ("x", &self.x, &mut t.x),
            ("y", &self.y, &mut t.y),
        ] {
            if let Some(v) = opt(raw) {
                *slot = v
                    .parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .ok_or_else(|| bad(field, "report_bad_threshold"))?;
            }
        }
        t.by_count = match opt(&self.abc_by) {
            None | Some("revenue") => false,
            Some("count") => true,
            Some(_) => return Err(bad("abc_by", "report_bad_abc_by")),
        };
        t.validate().map_err(|e| match e {
            plotina_store::StoreError::Domain(d) => d,
            plotina_store::StoreError::Internal(_) => bad("a", "report_bad_threshold"),
        })?;
        Ok(t)
    }

    /// The dam's own parameters: `lost_after` (1–60 months, default 6) and `target`.
    pub fn dam_params(&self) -> Result<(u32, Option<i64>), DomainError> {
        let n = match opt(&self.lost_after) {
            None => DEFAULT_LOST_AFTER,
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=60).contains(n))
                .ok_or_else(|| bad("lost_after", "report_lost_after"))?,
        };
        let target = opt(&self.target)
            .map(|v| {
                v.parse::<i64>()
                    .ok()
                    .filter(|t| *t > 0)
                    .ok_or_else(|| bad("target", "report_bad_target"))
            })
            .transpose()?;
        Ok((n, target))
    }

    /// Velocity: `idle_days` (1–365, default 14).
    pub fn idle_days(&self) -> Result<u32, DomainError> {
        match opt(&self.idle_days) {
            None => Ok(DEFAULT_IDLE_DAYS),
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=365).contains(n))
                .ok_or_else(|| bad("idle_days", "report_idle_days")),
        }
    }

    /// The report parameters; a malformed one answers 400 naming the parameter.
    pub fn params(&self) -> Result<ReportParams, DomainError> {
        let pipelines = match opt(&self.pipeline) {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(|p| id("pipeline", p))
                .collect::<Result<Vec<_>, _>>()?,
        };
        if pipelines.len() > 50 {
            return Err(bad("pipeline", "report_bad_id"));
        }
        let p = ReportParams {
            period_from: date("period_from", &self.period_from)?,
            period_to: date("period_to", &self.period_to)?,
            pipelines,
            owner: opt(&self.owner).map(|o| id("owner", o)).transpose()?,
            department: opt(&self.department)
                .map(|d| id("department", d))
                .transpose()?,
            filter: opt(&self.filter).map(String::from),
        };
        if p.filter.as_ref().is_some_and(|f| f.len() > 4000) {
            return Err(bad("filter", "report_filter_long"));
        }
        Ok(p)
    }
}

/// Exports need the right to export deals (the seeded manager role has none).
pub fn check_export(actor: &Actor, format: Format) -> Result<(), ApiError> {
    if format != Format::Json && !actor.can(Entity::Deal, Action::Export) {
        return Err(DomainError::Forbidden("report_export_forbidden").into());
    }
    Ok(())
}

fn lang(actor: &Actor) -> Lang {
    Lang::from_code(&actor.language).unwrap_or_default()
}

/// The funnel as a table: one row per stage (won last), lost reasons in one column.
pub fn funnel_table(f: &Funnel, lang: Lang) -> Table {
    let headers = [
        "reports-col-stage",
        "reports-col-reached",
        "reports-col-skipped",
        "reports-col-conversion-next",
        "reports-col-conversion-won",
        "reports-col-stays",
        "reports-col-median-seconds",
        "reports-col-p90-seconds",
        "reports-col-in-progress",
        "reports-col-dropped",
        "reports-col-lost-reasons",
    ]
    .iter()
    .map(|id| t(lang, id))
    .collect();
    let rows = f
        .stages
        .iter()
        .map(|s| {
            let reasons = s
                .lost_reasons
                .iter()
                .map(|r| {
                    let name = if r.reason.is_empty() {
                        t(lang, "reports-no-reason")
                    } else {
                        r.reason.clone()
                    };
                    format!("{name}: {}", r.count)
                })
                .collect::<Vec<_>>()
                .join("; ");
            vec![
                Cell::Text(s.name.clone()),
                s.reached.into(),
                s.skipped.into(),
                s.conversion_next.into(),
                s.conversion_won.into(),
                s.stays.into(),
                s.median_seconds.into(),
                s.p90_seconds.into(),
                s.in_progress.into(),
                s.dropped.into(),
                Cell::Text(reasons),
            ]
        })
        .collect();
    Table {
        title: t(lang, "reports-funnel"),
        headers,
        rows,
    }
}

/// What every report handler does: the query, the format, the shared parameters and
/// the report's own (`extra`, checked before the export right), then the report, answered
/// as JSON or as a CSV/XLSX table.
pub(crate) async fn respond<X, T, Fut>(
    raw: Option<&str>,
    actor: &Actor,
    name: &str,
    extra: impl FnOnce(&ReportQuery) -> Result<X, DomainError>,
    run: impl FnOnce(ReportParams, X) -> Fut,
    table: impl FnOnce(&T, Lang) -> Table,
) -> ApiResult<Response>
where
    T: serde::Serialize,
    Fut: std::future::Future<Output = Result<T, plotina_store::StoreError>>,
{
    let q: ReportQuery = input::query(raw)?;
    let format = Format::parse(q.format.as_deref())?;
    let params = q.params()?;
    let x = extra(&q)?;
    check_export(actor, format)?;
    let data = run(params, x).await?;
    match format {
        Format::Json => Ok(Json(json!({"data": data})).into_response()),
        _ => download(format, name, &table(&data, lang(actor))),
    }
}

pub(crate) fn no_extra(_: &ReportQuery) -> Result<(), DomainError> {
    Ok(())
}

async fn funnel(
    State(s): State<AppState>,
    auth: Auth,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let actor = &auth.actor;
    let s = &s;
    respond(
        raw.as_deref(),
        actor,
        "funnel",
        no_extra,
        |p, ()| async move { s.store.report_funnel(actor, &p).await },
        funnel_table,
    )
    .await
}

/// The dam as a table: one row per month.
pub fn dam_table(d: &Dam, lang: Lang) -> Table {
    let headers = [
        "reports-col-month",
        "reports-col-active-start",
        "reports-col-new",
        "reports-col-returning",
        "reports-col-lost-customers",
        "reports-col-active-end",
        "reports-col-churn",
        "reports-col-purchases",
        "reports-col-repeat-purchases",
        "reports-col-revenue",
    ]
    .iter()
    .map(|id| t(lang, id))
    .collect();
    let rows = d
        .months
        .iter()
        .map(|m| {
            vec![
                Cell::Text(m.month.clone()),
                m.active_start.into(),
                m.new.into(),
                m.returning.into(),
                m.lost.into(),
                m.active_end.into(),
                m.churn_rate.into(),
                m.purchases.into(),
                m.repeat_purchases.into(),
                Cell::Text(plotina_core::types::Money::from_minor(m.revenue).to_string()),
            ]
        })
        .collect();
    Table {
        title: t(lang, "reports-dam"),
        headers,
        rows,
    }
}

async fn dam(
    State(s): State<AppState>,
    auth: Auth,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let actor = &auth.actor;
    let s = &s;
    respond(
        raw.as_deref(),
        actor,
        "dam",
        ReportQuery::dam_params,
        |p, (n, target)| async move { s.store.report_dam(actor, &p, n, target).await },
        dam_table,
    )
    .await
}

/// ABC/XYZ as a table: one row per customer.
pub fn abc_table(r: &AbcXyz, lang: Lang) -> Table {
    let headers = [
        "reports-col-company",
        "reports-col-revenue",
        "reports-col-won-deals",
        "reports-col-share",
        "reports-col-abc",
        "reports-col-cv",
        "reports-col-xyz",
    ]
    .iter()
    .map(|id| t(lang, id))
    .collect();
    let rows = r
        .customers
        .iter()
        .map(|c| {
            vec![
                Cell::Int(c.company_id),
                Cell::Text(plotina_core::types::Money::from_minor(c.revenue).to_string()),
                c.deals.into(),
                Cell::Num(c.share),
                Cell::Text(c.abc.to_string()),
                Cell::Num(c.cv),
                Cell::Text(c.xyz.to_string()),
            ]
        })
        .collect();
    Table {
        title: t(lang, "reports-abc-xyz"),
        headers,
        rows,
    }
}

async fn abc_xyz(
    State(s): State<AppState>,
    auth: Auth,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let actor = &auth.actor;
    let s = &s;
    respond(
        raw.as_deref(),
        actor,
        "abc-xyz",
        ReportQuery::abc_params,
        |p, t| async move { s.store.report_abc_xyz(actor, &p, t).await },
        abc_table,
    )
    .await
}

/// Velocity as a table: the stuck deals (stale, then forgotten), one per row.
pub fn velocity_table(v: &Velocity, lang: Lang) -> Table {
    let headers = [
        "reports-col-problem",
        "reports-col-deal-id",
        "reports-col-deal",
        "reports-col-owner-id",
        "reports-col-stage",
        "reports-col-days",
        "reports-col-limit-days",
    ]
    .iter()
    .map(|id| t(lang, id))
    .collect();
    let rows = [
        ("reports-stale", &v.stale),
        ("reports-forgotten", &v.forgotten),
    ]
    .into_iter()
    .flat_map(|(kind, deals)| {
        deals.iter().map(move |d| {
            vec![
                Cell::Text(t(lang, kind)),
                Cell::Int(d.id),
                Cell::Text(d.title.clone()),
                d.owner_id.into(),
                Cell::Text(d.stage.clone()),
                Cell::Int(d.days),
                Cell::Int(d.limit_days),
            ]
        })
    })
    .collect();
    Table {
        title: t(lang, "reports-velocity"),
        headers,
        rows,
    }
}

/// The forecast as a table: one row per month, amounts in roubles.
pub fn forecast_table(f: &Forecast, lang: Lang) -> Table {
    let money = |minor: i64| Cell::Text(plotina_core::types::Money::from_minor(minor).to_string());
    let headers = [
        "reports-col-month",
        "reports-col-plan",
        "reports-col-actual",
        "reports-col-weighted",
        "reports-col-forecast",
        "reports-col-forecast-to-plan",
        "reports-col-commit",
        "reports-col-best",
        "reports-col-open-deals",
    ]
    .iter()
    .map(|id| t(lang, id))
    .collect();
    let rows = f
        .months
        .iter()
        .map(|m| {
            vec![
                Cell::Text(m.month.clone()),
                m.plan.map(money).unwrap_or(Cell::Empty),
                money(m.actual),
                money(m.weighted),
                money(m.forecast),
                m.forecast_to_plan.into(),
                money(m.commit),
                money(m.best),
                Cell::Int(m.open_deals),
            ]
        })
        .collect();
    Table {
        title: t(lang, "reports-forecast"),
        headers,
        rows,
    }
}

async fn forecast(
    State(s): State<AppState>,
    auth: Auth,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let actor = &auth.actor;
    let s = &s;
    respond(
        raw.as_deref(),
        actor,
        "forecast",
        no_extra,
        |p, ()| async move { s.store.report_forecast(actor, &p).await },
        forecast_table,
    )
    .await
}

/// A span of months (`YYYY-MM`), as the plan and cost lists take it.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MonthSpan {
    pub from: String,
    pub to: String,
}

/// Roubles as a decimal string or number; `None` (or null) removes the amount.
pub fn parse_amount(v: Option<serde_json::Value>) -> Result<Option<i64>, DomainError> {
    match v.filter(|a| !a.is_null()) {
        None => Ok(None),
        Some(v) => plotina_core::types::Money::from_json(&v)
            .map(|m| Some(m.to_minor()))
            .map_err(|e| {
                let mut fe = FieldError::new("amount", e.code);
                fe.args = e.args;
                DomainError::Invalid(vec![fe])
            }),
    }
}

async fn plans(
    State(s): State<AppState>,
    _auth: Auth,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let q: MonthSpan = input::query(raw.as_deref())?;
    let plans = s.store.plans(&q.from, &q.to).await?;
    Ok(Json(json!({"data": plans})).into_response())
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanBody {
    month: String,
    target: String,
    amount: Option<serde_json::Value>,
}

async fn set_plan(
    State(s): State<AppState>,
    auth: Auth,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let b: PlanBody = input::json_body(&headers, &body)?;
    let target = PlanTarget::parse(&b.target)
        .ok_or_else(|| ApiError::from(bad("target", "plan_bad_target")))?;
    let amount = parse_amount(b.amount)?;
    s.store
        .set_plan(&auth.actor, &b.month, target, amount)
        .await?;
    Ok(axum::http::StatusCode::NO_CONTENT.into_response())
}

/// The rating as a table: one row per manager, place first.
pub fn rating_table(r: &Rating, lang: Lang) -> Table {
    let money = |minor: i64| Cell::Text(plotina_core::types::Money::from_minor(minor).to_string());
    let mut headers: Vec<String> = [
        "reports-col-place",
        "reports-col-owner-id",
        "reports-col-rating",
    ]
    .iter()
    .map(|id| t(lang, id))
    .collect();
    headers.extend(
        MEASURES
            .iter()
            .map(|(m, _)| t(lang, &format!("reports-measure-{m}"))),
    );
    headers.push(t(lang, "reports-col-lost"));
    headers.push(t(lang, "reports-col-avg-won"));
    headers.push(t(lang, "reports-col-overdue-now"));
    let rows = r
        .managers
        .iter()
        .map(|m| {
            vec![
                Cell::Int(m.place as i64),
                Cell::Int(m.user_id),
                Cell::Num(m.rating),
                Cell::Int(m.calls),
                Cell::Int(m.meetings),
                Cell::Int(m.tasks_on_time),
                Cell::Int(m.tasks_late),
                Cell::Int(m.new_deals),
                Cell::Int(m.won_count),
                money(m.won_amount),
                m.win_rate.into(),
                m.cycle_days.into(),
                Cell::Int(m.lost_count),
                m.avg_won.map(money).unwrap_or(Cell::Empty),
                Cell::Int(m.tasks_overdue_now),
            ]
        })
        .collect();
    Table {
        title: t(lang, "reports-rating"),
        headers,
        rows,
    }
}

async fn rating(
    State(s): State<AppState>,
    auth: Auth,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let actor = &auth.actor;
    let s = &s;
    respond(
        raw.as_deref(),
        actor,
        "managers",
        no_extra,
        |p, ()| async move { s.store.report_rating(actor, &p).await },
        rating_table,
    )
    .await
}

async fn rating_weights(State(s): State<AppState>, _auth: Auth) -> ApiResult<Response> {
    Ok(Json(json!({"data": s.store.rating_weights().await?})).into_response())
}

async fn set_rating_weights(
    State(s): State<AppState>,
    auth: Auth,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let obj = input::json_object(&headers, &body)?;
    let mut weights = Weights(Default::default());
    for (k, v) in obj {
        let w = v
            .as_u64()
            .and_then(|w| u32::try_from(w).ok())
            .ok_or_else(|| {
                ApiError::from(DomainError::Invalid(vec![FieldError::new(
                    k.clone(),
                    "rating_weight_range",
                )
                .with("max", 100)]))
            })?;
        weights.0.insert(k, w);
    }
    s.store.set_rating_weights(&auth.actor, &weights).await?;
    Ok(Json(json!({"data": weights})).into_response())
}

pub fn industry_table(rows: &[IndustryRow], lang: Lang) -> Table {
    let money = |minor: i64| Cell::Text(plotina_core::types::Money::from_minor(minor).to_string());
    let headers = [
        "reports-col-industry",
        "reports-velocity-count",
        "reports-col-open-deals",
        "reports-col-open-amount",
        "reports-velocity-won",
        "reports-measure-won_amount",
        "reports-velocity-lost",
        "reports-measure-win_rate",
    ]
    .iter()
    .map(|id| t(lang, id))
    .collect();
    let rows = rows
        .iter()
        .map(|r| {
            vec![
                Cell::Text(industry_name(r, lang)),
                Cell::Int(r.deals),
                Cell::Int(r.open),
                money(r.open_amount),
                Cell::Int(r.won),
                money(r.won_amount),
                Cell::Int(r.lost),
                r.win_rate.into(),
            ]
        })
        .collect();
    Table {
        title: t(lang, "reports-by-industry"),
        headers,
        rows,
    }
}

/// An industry row's name: the industry, or why there is none.
pub fn industry_name(r: &IndustryRow, lang: Lang) -> String {
    match (&r.industry, r.without_company) {
        (_, true) => t(lang, "reports-no-company"),
        (None, false) => t(lang, "reports-no-industry"),
        (Some(i), false) => {
            let id = format!("ui-opt-industry-{i}");
            if crate::i18n::I18n::get().has(lang, &id) {
                t(lang, &id)
            } else {
                i.clone()
            }
        }
    }
}

pub fn overdue_table(rows: &[ContractorRow], lang: Lang) -> Table {
    let headers = [
        "reports-col-owner-id",
        "reports-col-deal-id",
        "reports-col-deal",
        "reports-col-close-date",
        "reports-col-days-late",
        "reports-col-parent",
    ]
    .iter()
    .map(|id| t(lang, id))
    .collect();
    let rows = rows
        .iter()
        .flat_map(|r| {
            r.deals.iter().map(move |d| {
                vec![
                    r.owner_id.into(),
                    Cell::Int(d.id),
                    Cell::Text(d.title.clone()),
                    Cell::Text(d.close_date.clone()),
                    Cell::Int(d.days_late),
                    Cell::Text(d.parent_title.clone()),
                ]
            })
        })
        .collect();
    Table {
        title: t(lang, "reports-overdue-children"),
        headers,
        rows,
    }
}

async fn by_industry(
    State(s): State<AppState>,
    auth: Auth,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let actor = &auth.actor;
    let s = &s;
    respond(
        raw.as_deref(),
        actor,
        "by-industry",
        no_extra,
        |p, ()| async move { s.store.report_by_industry(actor, &p).await },
        |r: &Vec<IndustryRow>, l| industry_table(r, l),
    )
    .await
}

async fn overdue_children(
    State(s): State<AppState>,
    auth: Auth,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let actor = &auth.actor;
    let s = &s;
    respond(
        raw.as_deref(),
        actor,
        "overdue-children",
        no_extra,
        |p, ()| async move { s.store.report_overdue_children(actor, &p).await },
        |r: &Vec<ContractorRow>, l| overdue_table(r, l),
    )
    .await
}

async fn velocity(
    State(s): State<AppState>,
    auth: Auth,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let actor = &auth.actor;
    let s = &s;
    respond(
        raw.as_deref(),
        actor,
        "velocity",
        ReportQuery::idle_days,
        |p, idle| async move { s.store.report_velocity(actor, &p, idle).await },
        velocity_table,
    )
    .await
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/reports/velocity", get(velocity))
        .route("/api/v1/reports/by-industry", get(by_industry))
        .route("/api/v1/reports/overdue-children", get(overdue_children))
        .route("/api/v1/reports/managers", get(rating))
        .route(
            "/api/v1/reports/managers/weights",
            get(rating_weights).put(set_rating_weights),
        )
        .route("/api/v1/reports/forecast", get(forecast))
        .route("/api/v1/reports/plan", get(forecast))
        .route("/api/v1/sales-plans", get(plans).put(set_plan))
        .route("/api/v1/reports/abc-xyz", get(abc_xyz))
        .route("/api/v1/reports/funnel", get(funnel))
        .route("/api/v1/reports/dam", get(dam))
}

/// The query parameters every report takes, as OpenAPI parameter objects.
pub(crate) fn report_parameters() -> Vec<serde_json::Value> {
    let qp = |name: &str, schema: serde_json::Value, description: &str| json!({"name": name, "in": "query", "required": false, "schema": schema, "description": description});
    let id_list =
        json!({"type": "string", "pattern": "^[1-9][0-9]{0,17}(,[1-9][0-9]{0,17}){0,49}$"});
    vec![
        qp(
            "period_from",
            json!({"type": "string", "format": "date"}),
            "First day of the period (YYYY-MM-DD)",
        ),
        qp(
            "period_to",
            json!({"type": "string", "format": "date"}),
            "Last day of the period, included",
        ),
        qp(
            "pipeline",
            id_list,
            "Pipeline id, or ids separated by commas",
        ),
        qp(
            "owner",
            json!({"type": "integer", "minimum": 1, "maximum": i64::MAX}),
            "Owner (user id)",
        ),
        qp(
            "department",
            json!({"type": "integer", "minimum": 1, "maximum": i64::MAX}),
            "Department id: its members and those of the departments below it",
        ),
        qp(
            "filter",
            json!({"type": "string", "maxLength": 4000}),
            "Filter language on deals",
        ),
        qp(
            "format",
            json!({"type": "string", "enum": ["json", "csv", "xlsx"]}),
            "json (default), csv or xlsx; exports need the right to export deals",
        ),
    ]
}

/// The reports' entries in the OpenAPI document.
pub fn openapi_paths(
    paths: &mut serde_json::Map<String, serde_json::Value>,
    schemas: &mut serde_json::Map<String, serde_json::Value>,
) {
    let qp = |name: &str, schema: serde_json::Value, description: &str| json!({"name": name, "in": "query", "required": false, "schema": schema, "description": description});
    let params = report_parameters();
    let reasons = json!({"type": "array", "items": {"type": "object", "properties": {
        "reason": {"type": "string"}, "count": {"type": "integer"}}, "required": ["reason", "count"]}});
    let num = json!({"type": ["number", "null"]});
    let int_or_null = json!({"type": ["integer", "null"]});
    schemas.insert("FunnelReport".into(), json!({"type": "object", "properties": {
        "pipeline_id": {"type": "integer"}, "deals": {"type": "integer"}, "won": {"type": "integer"},
        "lost": {"type": "integer"}, "open": {"type": "integer"}, "lost_reasons": reasons,
        "stages": {"type": "array", "items": {"type": "object", "properties": {
            "stage_id": {"type": "integer"}, "name": {"type": "string"}, "kind": {"type": "string", "enum": ["open", "won"]},
            "reached": {"type": "integer"}, "skipped": {"type": "integer"},
            "conversion_next": num, "conversion_won": num, "stays": {"type": "integer"},
            "median_seconds": int_or_null, "p90_seconds": int_or_null,
            "in_progress": {"type": "integer"}, "dropped": {"type": "integer"}, "lost_reasons": reasons},
            "required": ["stage_id", "name", "kind", "reached", "skipped", "conversion_next", "conversion_won", "stays",
                "median_seconds", "p90_seconds", "in_progress", "dropped", "lost_reasons"]}}},
        "required": ["pipeline_id", "deals", "won", "lost", "open", "stages", "lost_reasons"]}));
    let ok = |schema: &str, description: &str| {
        json!({"description": description, "content": {
            "application/json": {"schema": {"type": "object", "properties": {"data": {"$ref": format!("#/components/schemas/{schema}")}}, "required": ["data"]}},
            "text/csv": {"schema": {"type": "string"}},
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {"schema": {"type": "string", "contentEncoding": "binary"}}}})
    };
    let problem = json!({"description": "Problem (RFC 9457), message in the caller's language", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}});
    let op = |summary: &str, schema: &str| {
        json!({"get": {"summary": summary, "tags": ["reports"], "parameters": params.clone(),
            "responses": {"200": ok(schema, summary), "default": problem.clone()}}})
    };
    let month = json!({"type": "object", "properties": {
        "month": {"type": "string"}, "active_start": {"type": "integer"}, "new": {"type": "integer"},
        "returning": {"type": "integer"}, "lost": {"type": "integer"}, "active_end": {"type": "integer"},
        "churn_rate": {"type": ["number", "null"]}, "purchases": {"type": "integer"},
        "repeat_purchases": {"type": "integer"}, "revenue": {"type": "integer", "description": "Kopecks"}},
        "required": ["month", "active_start", "new", "returning", "lost", "active_end", "churn_rate", "purchases", "repeat_purchases", "revenue"]});
    schemas.insert("DamReport".into(), json!({"type": "object", "properties": {
        "lost_after_months": {"type": "integer"}, "months": {"type": "array", "items": month},
        "loss_reasons": reasons, "target": {"type": ["integer", "null"]}, "coverage": {"type": ["number", "null"]},
        "repeat_purchases": {"type": "integer"}, "avg_repeat_order": {"type": ["integer", "null"], "description": "Kopecks"},
        "order_growth": {"type": ["number", "null"]}},
        "required": ["lost_after_months", "months", "loss_reasons", "target", "coverage", "repeat_purchases", "avg_repeat_order", "order_growth"]}));
    let mut dam_params = params.clone();
    dam_params.push(qp(
        "lost_after",
        json!({"type": "integer", "minimum": 1, "maximum": 60}),
        "Months without a purchase after which a customer is lost (default 6)",
    ));
    dam_params.push(qp(
        "target",
        json!({"type": "integer", "minimum": 1, "maximum": i64::MAX}),
        "Potential customers in the market, for the coverage",
    ));
    paths.insert(
        "/api/v1/reports/dam".into(),
        json!({"get": {"summary": "The dam: customers in and out per month", "tags": ["reports"], "parameters": dam_params,
            "responses": {"200": ok("DamReport", "The dam"), "default": problem.clone()}}}),
    );
    let letter = |letters: [&str; 3]| json!({"type": "string", "enum": letters});
    schemas.insert("AbcXyzReport".into(), json!({"type": "object", "properties": {
        "thresholds": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}, "x": {"type": "number"}, "y": {"type": "number"}, "by_count": {"type": "boolean"}}, "required": ["a", "b", "x", "y", "by_count"]},
        "months": {"type": "integer"},
        "customers": {"type": "array", "items": {"type": "object", "properties": {
            "company_id": {"type": "integer"}, "revenue": {"type": "integer", "description": "Kopecks"}, "deals": {"type": "integer"},
            "share": {"type": "number"}, "abc": letter(["A", "B", "C"]), "cv": {"type": "number"}, "xyz": letter(["X", "Y", "Z"])},
            "required": ["company_id", "revenue", "deals", "share", "abc", "cv", "xyz"]}},
        "matrix": {"type": "array", "items": {"type": "object", "properties": {
            "abc": letter(["A", "B", "C"]), "xyz": letter(["X", "Y", "Z"]), "customers": {"type": "integer"}, "revenue": {"type": "integer"}},
            "required": ["abc", "xyz", "customers", "revenue"]}}},
        "required": ["thresholds", "months", "customers", "matrix"]}));
    let mut abc_params = params.clone();
    abc_params.push(qp(
        "abc_by",
        json!({"type": "string", "enum": ["revenue", "count"]}),
        "Rank customers by revenue (default) or by the number of won deals",
    ));
    for (name, d) in [
        ("a", "Share of class A, percent (default 70)"),
        ("b", "Share of class B, percent (default 20)"),
        (
            "x",
            "Largest coefficient of variation of class X, percent (default 10)",
        ),
        (
            "y",
            "Largest coefficient of variation of class Y, percent (default 25)",
        ),
    ] {
        abc_params.push(qp(
            name,
            json!({"type": "number", "exclusiveMinimum": 0, "maximum": 1000}),
            d,
        ));
    }
    paths.insert(
        "/api/v1/reports/abc-xyz".into(),
        json!({"get": {"summary": "ABC/XYZ of customers over the period's months", "tags": ["reports"], "parameters": abc_params,
            "responses": {"200": ok("AbcXyzReport", "Classes and the 3x3 matrix"), "default": problem.clone()}}}),
    );
    let month_f = json!({"type": "object", "properties": {
        "month": {"type": "string"}, "plan": int_or_null, "actual": {"type": "integer"}, "weighted": {"type": "integer"},
        "best": {"type": "integer"}, "commit": {"type": "integer"}, "forecast": {"type": "integer"},
        "forecast_to_plan": num, "open_deals": {"type": "integer"}},
        "required": ["month", "plan", "actual", "weighted", "best", "commit", "forecast", "forecast_to_plan", "open_deals"]});
    schemas.insert("ForecastReport".into(), json!({"type": "object", "description": "Amounts in kopecks", "properties": {
        "target": {"type": "string"}, "months": {"type": "array", "items": month_f},
        "overdue_amount": {"type": "integer"}, "overdue_deals": {"type": "integer"},
        "undated_amount": {"type": "integer"}, "undated_deals": {"type": "integer"}},
        "required": ["target", "months", "overdue_amount", "overdue_deals", "undated_amount", "undated_deals"]}));
    paths.insert(
        "/api/v1/reports/forecast".into(),
        op(
            "Forecast and plan per month of the period (default: this month and the next five): plan, actual revenue, the open pipeline by expected close month (weighted by probability, best case, commit at 70 % and above)",
            "ForecastReport",
        ),
    );
    let month_s = json!({"type": "string", "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])$"});
    paths.insert("/api/v1/sales-plans".into(), json!({
        "get": {"summary": "Sales plans of a span of months, every target", "tags": ["reports"],
            "parameters": [
                {"name": "from", "in": "query", "required": true, "schema": month_s},
                {"name": "to", "in": "query", "required": true, "schema": month_s}],
            "responses": {"200": {"description": "Plans (amounts in kopecks)", "content": {"application/json": {"schema": {"type": "object", "properties": {
                "data": {"type": "array", "items": {"type": "object", "properties": {
                    "month": {"type": "string"}, "target": {"type": "string"}, "amount": {"type": "integer"}},
                    "required": ["month", "target", "amount"]}}}, "required": ["data"]}}}},
                "default": problem.clone()}},
        "put": {"summary": "Set or remove (amount null) the plan of the company (`all`), a department (`department:ID`) or a user (`user:ID`) for a month; administrators and heads", "tags": ["reports"],
            "parameters": [],
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "properties": {
                "month": month_s, "target": {"type": "string", "pattern": "^(all|department:[1-9][0-9]{0,17}|user:[1-9][0-9]{0,17})$"},
                "amount": {"type": ["string", "number", "null"], "description": "Roubles, e.g. \"1500000.00\""}},
                "required": ["month", "target"], "additionalProperties": false}}}},
            "responses": {"204": {"description": "Saved"}, "default": problem.clone()}}}));
    let weights_props: serde_json::Map<String, serde_json::Value> = MEASURES
        .iter()
        .map(|(m, _)| {
            (
                (*m).to_string(),
                json!({"type": "integer", "minimum": 0, "maximum": 100}),
            )
        })
        .collect();
    let weights =
        json!({"type": "object", "properties": weights_props, "additionalProperties": false});
    schemas.insert("RatingReport".into(), json!({"type": "object", "properties": {
        "weights": weights.clone(),
        "managers": {"type": "array", "items": {"type": "object", "properties": {
            "user_id": {"type": "integer"}, "calls": {"type": "integer"}, "meetings": {"type": "integer"},
            "tasks_on_time": {"type": "integer"}, "tasks_late": {"type": "integer"}, "tasks_overdue_now": {"type": "integer"},
            "new_deals": {"type": "integer"}, "won_count": {"type": "integer"}, "won_amount": {"type": "integer", "description": "Kopecks"},
            "lost_count": {"type": "integer"}, "win_rate": num, "avg_won": int_or_null, "cycle_days": int_or_null,
            "scores": {"type": "object", "additionalProperties": {"type": "number"}}, "rating": {"type": "number"}, "place": {"type": "integer"}},
            "required": ["user_id", "calls", "meetings", "tasks_on_time", "tasks_late", "tasks_overdue_now", "new_deals", "won_count",
                "won_amount", "lost_count", "win_rate", "avg_won", "cycle_days", "scores", "rating", "place"]}}},
        "required": ["weights", "managers"]}));
    paths.insert(
        "/api/v1/reports/managers".into(),
        op(
            "Manager rating: work and sales per manager in the period and a composite score under the head of sales' weights",
            "RatingReport",
        ),
    );
    paths.insert("/api/v1/reports/managers/weights".into(), json!({
        "get": {"summary": "The weights of the manager rating", "tags": ["reports"], "parameters": [],
            "responses": {"200": {"description": "Weights", "content": {"application/json": {"schema": {"type": "object", "properties": {"data": weights.clone()}, "required": ["data"]}}}},
                "default": problem.clone()}},
        "put": {"summary": "Set the weights (0–100 per measure, not all zero); administrators and heads", "tags": ["reports"], "parameters": [],
            "requestBody": {"required": true, "content": {"application/json": {"schema": weights.clone()}}},
            "responses": {"200": {"description": "Saved", "content": {"application/json": {"schema": {"type": "object", "properties": {"data": weights}, "required": ["data"]}}}},
                "default": problem.clone()}}}));
    schemas.insert("IndustryReport".into(), json!({"type": "array", "items": {"type": "object", "properties": {
        "industry": {"type": ["string", "null"]}, "without_company": {"type": "boolean"}, "deals": {"type": "integer"},
        "open": {"type": "integer"}, "open_amount": {"type": "integer"}, "won": {"type": "integer"}, "won_amount": {"type": "integer"},
        "lost": {"type": "integer"}, "win_rate": num},
        "required": ["industry", "without_company", "deals", "open", "open_amount", "won", "won_amount", "lost", "win_rate"]}}));
    paths.insert(
        "/api/v1/reports/by-industry".into(),
        op(
            "Deals created in the period by their client's industry (amounts in kopecks)",
            "IndustryReport",
        ),
    );
    schemas.insert("OverdueChildrenReport".into(), json!({"type": "array", "items": {"type": "object", "properties": {
        "owner_id": int_or_null, "overdue": {"type": "integer"}, "max_days_late": {"type": "integer"},
        "deals": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "integer"}, "title": {"type": "string"}, "pipeline_id": {"type": "integer"}, "close_date": {"type": "string"},
            "days_late": {"type": "integer"}, "parent_id": {"type": "integer"}, "parent_title": {"type": "string"}},
            "required": ["id", "title", "pipeline_id", "close_date", "days_late", "parent_id", "parent_title"]}}},
        "required": ["owner_id", "overdue", "max_days_late", "deals"]}}));
    paths.insert(
        "/api/v1/reports/overdue-children".into(),
        op("Child deals (other departments' work on a sale) open past their expected close date, by owner", "OverdueChildrenReport"),
    );
    let cycle = json!({"type": "object", "properties": {
        "count": {"type": "integer"}, "median_days": int_or_null, "p90_days": int_or_null, "avg_days": num},
        "required": ["count", "median_days", "p90_days", "avg_days"]});
    let stuck = json!({"type": "array", "items": {"type": "object", "properties": {
        "id": {"type": "integer"}, "title": {"type": "string"}, "owner_id": int_or_null, "stage_id": {"type": "integer"},
        "stage": {"type": "string"}, "days": {"type": "integer"}, "limit_days": {"type": "integer"}},
        "required": ["id", "title", "owner_id", "stage_id", "stage", "days", "limit_days"]}});
    schemas.insert("VelocityReport".into(), json!({"type": "object", "properties": {
        "idle_days": {"type": "integer"}, "won": cycle, "lost": cycle,
        "buckets": {"type": "array", "items": {"type": "object", "properties": {
            "from_days": {"type": "integer"}, "to_days": int_or_null, "won": {"type": "integer"}, "lost": {"type": "integer"}},
            "required": ["from_days", "to_days", "won", "lost"]}},
        "owners": {"type": "array", "items": {"type": "object", "properties": {
            "owner_id": int_or_null, "won": cycle, "lost": cycle}, "required": ["owner_id", "won", "lost"]}},
        "stale_total": {"type": "integer"}, "stale": stuck, "forgotten_total": {"type": "integer"}, "forgotten": stuck},
        "required": ["idle_days", "won", "lost", "buckets", "owners", "stale_total", "stale", "forgotten_total", "forgotten"]}));
    let mut velocity_params = params.clone();
    velocity_params.push(qp(
        "idle_days",
        json!({"type": "integer", "minimum": 1, "maximum": 365}),
        "Days without an activity after which an open deal counts as forgotten (default 14)",
    ));
    paths.insert(
        "/api/v1/reports/velocity".into(),
        json!({"get": {"summary": "Velocity: cycle length of deals closed in the period; stale and forgotten open deals", "tags": ["reports"], "parameters": velocity_params,
            "responses": {"200": ok("VelocityReport", "Velocity and stagnation"), "default": problem.clone()}}}),
    );
    paths.insert(
        "/api/v1/reports/funnel".into(),
        op(
            "Funnel of a pipeline from stage history (deals created in the period)",
            "FunnelReport",
        ),
    );
}

/// `part / whole` rounded to four decimals, `None` for an empty whole.
pub fn share(part: i64, whole: i64) -> Option<f64> {
    plotina_store::reports::stats::ratio(part, whole)
}
