//! Report pages: the same parameters and store calls as `/api/v1/reports/*`, a chart
//! drawn on the server (see `charts`) and the figures in a table; every figure links to
//! the list of deals behind it (`/deals?filter=id in (…)`, or the report's selection in
//! the filter language when there are more than `LINK_IDS` of them).

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::routing::get;
use axum::Router;
use plotina_core::policy::Action;
use plotina_core::schema::Entity;
use plotina_core::DomainError;
use plotina_store::reports::dam::Dam;
use plotina_store::reports::funnel::{Funnel, LINK_IDS};
use plotina_store::reports::ReportParams;
use plotina_store::StoreError;

use super::charts::{self, FunnelChart};
use super::fields::{FormErrors, Opt};
use super::lookups::Lookups;
use super::{html, urls, Ctx, Web, WebResult};
use crate::api::reports::ReportQuery;
use crate::state::AppState;

pub struct FunnelRow {
    pub name: String,
    pub reached: i64,
    pub reached_href: String,
    pub skipped: i64,
    pub conversion_next: String,
    pub conversion_won: String,
    pub median: String,
    pub p90: String,
    pub in_progress: i64,
    pub in_progress_href: String,
    pub dropped: i64,
    pub dropped_href: String,
    pub reasons: String,
}

#[derive(Template)]
#[template(path = "report_funnel.html")]
struct FunnelPage {
    ctx: Ctx,
    form: ParamsForm,
    error: String,
    can_export: bool,
    export_qs: String,
    funnel: Option<Funnel>,
    summary: String,
    chart: FunnelChart,
    rows: Vec<FunnelRow>,
}

/// The parameters form shared by the report pages (`_report_params.html`).
pub struct ParamsForm {
    pub action: &'static str,
    pub dam: bool,
    pub abc: bool,
    pub velocity: bool,
    pub forecast: bool,
    pub rating: bool,
    pub operations: bool,
    pub sources: bool,
    pub idle_days: String,
    pub abc_by: String,
    pub pipelines: Vec<Opt>,
    pub owners: Vec<Opt>,
    pub departments: Vec<Opt>,
    pub period_from: String,
    pub period_to: String,
    pub filter: String,
    pub lost_after: String,
    pub target: String,
}

pub(super) fn params_form(
    action: &'static str,
    lk: &Lookups,
    q: &ReportQuery,
    params: &ReportParams,
    pipeline: Option<i64>,
) -> ParamsForm {
    ParamsForm {
        action,
        dam: action == "/reports/dam",
        abc: action == "/reports/abc-xyz",
        velocity: action == "/reports/velocity",
        forecast: action == "/reports/forecast",
        rating: action == "/reports/rating",
        operations: action == "/reports/operations",
        sources: action == "/reports/sources",
        idle_days: q.idle_days.clone().unwrap_or_default(),
        abc_by: q.abc_by.clone().unwrap_or_default(),
        pipelines: options(
            lk.pipelines.iter().map(|p| (p.id, p.name.clone())),
            pipeline,
        ),
        owners: options(
            lk.users
                .iter()
                .filter(|u| u.active)
                .map(|u| (u.id, u.name.clone())),
            params.owner,
        ),
        departments: options(
            lk.departments.iter().map(|d| (d.id, d.name.clone())),
            params.department,
        ),
        period_from: q.period_from.clone().unwrap_or_default(),
        period_to: q.period_to.clone().unwrap_or_default(),
        filter: q.filter.clone().unwrap_or_default(),
        lost_after: q.lost_after.clone().unwrap_or_default(),
        target: q.target.clone().unwrap_or_default(),
    }
}

/// The query string of an export link with the report's parameters.
pub(super) fn export_qs(params: &ReportParams, extra: &[(&str, String)]) -> String {
    let pipelines = params
        .pipelines
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let mut pairs: Vec<(&str, String)> = vec![
        ("pipeline", pipelines),
        (
            "period_from",
            params
                .period_from
                .map(|d| d.to_string())
                .unwrap_or_default(),
        ),
        (
            "period_to",
            params.period_to.map(|d| d.to_string()).unwrap_or_default(),
        ),
        (
            "owner",
            params.owner.map(|d| d.to_string()).unwrap_or_default(),
        ),
        (
            "department",
            params.department.map(|d| d.to_string()).unwrap_or_default(),
        ),
        ("filter", params.filter.clone().unwrap_or_default()),
    ];
    pairs.extend(extra.iter().cloned());
    let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let qs = urls::query(&refs);
    if qs.is_empty() {
        "?".into()
    } else {
        qs
    }
}

/// A domain error as the page's message.
/// Runs a report for a page. A refused parameter or filter, or a pipeline that is not
/// there, becomes the page's error line; anything else is a server error.
pub(super) async fn run_report<X, T, Fut>(
    ctx: &Ctx,
    parsed: Result<(ReportParams, X), DomainError>,
    run: impl FnOnce(ReportParams, X) -> Fut,
) -> Result<(Option<(ReportParams, T)>, String), super::WebError>
where
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let (p, x) = match parsed {
        Ok(v) => v,
        Err(d) => return Ok((None, error_text(ctx, &d))),
    };
    match run(p.clone(), x).await {
        Ok(t) => Ok((Some((p, t)), String::new())),
        Err(StoreError::Domain(
            d @ (DomainError::BadFilter(_) | DomainError::BadRequest(_) | DomainError::NotFound),
        )) => Ok((None, error_text(ctx, &d))),
        Err(e) => Err(e.into()),
    }
}

pub(super) fn error_text(ctx: &Ctx, d: &DomainError) -> String {
    let text = FormErrors::from_domain(ctx, Entity::Deal, d, &[])
        .general
        .join(" ");
    if text.is_empty() {
        ctx.t("problem-not_found")
    } else {
        text
    }
}

/// A share as a percentage with one decimal ("71.4 %"), or a dash.
pub fn percent(v: Option<f64>) -> String {
    match v {
        Some(v) => format!("{:.1} %", v * 100.0),
        None => "—".into(),
    }
}

/// A duration in days, hours and minutes, the two largest units ("2 d 3 h", "5 min").
pub fn duration(ctx: &Ctx, secs: Option<i64>) -> String {
    let Some(s) = secs else {
        return "—".into();
    };
    let (d, h, m) = (s / 86_400, s % 86_400 / 3_600, s % 3_600 / 60);
    let unit = |id: &str, n: i64| ctx.ta(id, "n", n);
    match (d, h, m) {
        (0, 0, 0) => unit("reports-dur-s", s),
        (0, 0, m) => unit("reports-dur-m", m),
        (0, h, m) => format!("{} {}", unit("reports-dur-h", h), unit("reports-dur-m", m)),
        (d, h, _) => format!("{} {}", unit("reports-dur-d", d), unit("reports-dur-h", h)),
    }
}

/// The deals list behind a figure: exactly these ids, or the report's selection when
/// there are too many for a link.
pub fn deals_href(ids: &[i64], count: i64, fallback: &str) -> String {
    let filter = if count as usize <= LINK_IDS && !ids.is_empty() {
        format!(
            "id in ({})",
            ids.iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else {
        fallback.to_string()
    };
    format!("/deals{}", urls::query(&[("filter", &filter)]))
}

fn options(named: impl Iterator<Item = (i64, String)>, selected: Option<i64>) -> Vec<Opt> {
    named
        .map(|(id, label)| Opt {
            value: id.to_string(),
            label,
            selected: Some(id) == selected,
            ..Default::default()
        })
        .collect()
}

fn funnel_rows(ctx: &Ctx, f: &Funnel, fallback: &str) -> Vec<FunnelRow> {
    f.stages
        .iter()
        .map(|s| FunnelRow {
            name: s.name.clone(),
            reached: s.reached,
            reached_href: deals_href(&s.reached_ids, s.reached, fallback),
            skipped: s.skipped,
            conversion_next: percent(s.conversion_next),
            conversion_won: percent(s.conversion_won),
            median: duration(ctx, s.median_seconds),
            p90: duration(ctx, s.p90_seconds),
            in_progress: s.in_progress,
            in_progress_href: deals_href(&s.in_progress_ids, s.in_progress, fallback),
            dropped: s.dropped,
            dropped_href: deals_href(&s.dropped_ids, s.dropped, fallback),
            reasons: s
                .lost_reasons
                .iter()
                .map(|r| {
                    let name = if r.reason.is_empty() {
                        ctx.t("reports-no-reason")
                    } else {
                        r.reason.clone()
                    };
                    format!("{name}: {}", r.count)
                })
                .collect::<Vec<_>>()
                .join("; "),
        })
        .collect()
}

async fn funnel_page(State(s): State<AppState>, web: Web, RawQuery(raw): RawQuery) -> WebResult {
    let ctx = web.ctx.clone().with_section("reports");
    let q: ReportQuery =
        serde_urlencoded::from_str(raw.as_deref().unwrap_or("")).unwrap_or_default();
    let lk = Lookups::load(&s.store, &web.actor).await?;
    let actor = &web.actor;
    let store = &s.store;
    let (result, error) = run_report(&ctx, q.params().map(|p| (p, ())), |p, ()| async move {
        store.report_funnel(actor, &p).await
    })
    .await?;
    let params = result.as_ref().map(|(p, _)| p.clone()).unwrap_or_default();
    let pipeline = result.as_ref().map(|(_, f)| f.pipeline_id);
    let mut link_params = params.clone();
    link_params.pipelines = pipeline.into_iter().collect();
    let fallback = link_params.deal_filter("created_at");
    let (chart, rows, summary) = match &result {
        Some((_, f)) => {
            let chart = charts::funnel(
                f.stages
                    .iter()
                    .map(|st| {
                        (
                            st.name.clone(),
                            st.reached,
                            st.reached.to_string(),
                            if st.kind == "won" {
                                percent(crate::api::reports::share(st.reached, f.deals))
                            } else {
                                ctx.ta("reports-to-next", "p", percent(st.conversion_next))
                            },
                            deals_href(&st.reached_ids, st.reached, &fallback),
                            if st.kind == "won" {
                                "won".to_string()
                            } else {
                                String::new()
                            },
                        )
                    })
                    .collect(),
            );
            let summary = format!(
                "{} {} · {} {} · {} {} · {} {}",
                ctx.t("reports-deals"),
                f.deals,
                ctx.t("reports-won"),
                f.won,
                ctx.t("reports-lost"),
                f.lost,
                ctx.t("reports-open"),
                f.open
            );
            (chart, funnel_rows(&ctx, f, &fallback), summary)
        }
        None => (charts::funnel(Vec::new()), Vec::new(), String::new()),
    };
    let page = FunnelPage {
        form: params_form("/reports/funnel", &lk, &q, &params, pipeline),
        error,
        can_export: web.actor.can(Entity::Deal, Action::Export),
        export_qs: export_qs(&link_params, &[]),
        funnel: result.map(|(_, f)| f),
        summary,
        chart,
        rows,
        ctx,
    };
    html(&page)
}

pub struct DamRow {
    pub month: String,
    pub active_start: i64,
    pub new: i64,
    pub new_href: String,
    pub returning: i64,
    pub returning_href: String,
    pub lost: i64,
    pub lost_href: String,
    pub active_end: i64,
    pub active_end_href: String,
    pub churn: String,
    pub purchases: i64,
    pub repeat_purchases: i64,
    pub revenue: String,
}

#[derive(Template)]
#[template(path = "report_dam.html")]
struct DamPage {
    ctx: Ctx,
    form: ParamsForm,
    error: String,
    can_export: bool,
    export_qs: String,
    dam: Option<Dam>,
    active_end: i64,
    avg_repeat_order: String,
    chart: charts::LevelChart,
    rows: Vec<DamRow>,
}

/// The companies list behind a figure of the dam.
fn companies_href(ids: &[i64]) -> String {
    let filter = format!(
        "id in ({})",
        ids.iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    format!("/companies{}", urls::query(&[("filter", &filter)]))
}

async fn dam_page(State(s): State<AppState>, web: Web, RawQuery(raw): RawQuery) -> WebResult {
    let ctx = web.ctx.clone().with_section("reports");
    let q: ReportQuery =
        serde_urlencoded::from_str(raw.as_deref().unwrap_or("")).unwrap_or_default();
    let lk = Lookups::load(&s.store, &web.actor).await?;
    let actor = &web.actor;
    let store = &s.store;
    let parsed = q.params().and_then(|p| q.dam_params().map(|d| (p, d)));
    let (result, error) = run_report(&ctx, parsed, |p, (n, target)| async move {
        store.report_dam(actor, &p, n, target).await
    })
    .await?;
    let params = result.as_ref().map(|(p, _)| p.clone()).unwrap_or_default();
    let money = |minor: i64| super::fmt::money_minor(ctx.lang, minor, "RUB");
    let (chart, rows) = match &result {
        Some((_, d)) => (
            charts::level(
                d.months
                    .iter()
                    .map(|m| {
                        let mut inflow = m.new_ids.clone();
                        inflow.extend(&m.returning_ids);
                        // "2026-03" → "03.26": short enough for twelve months on a phone.
                        let short = match (m.month.get(5..7), m.month.get(2..4)) {
                            (Some(mm), Some(yy)) => format!("{mm}.{yy}"),
                            _ => m.month.clone(),
                        };
                        (
                            short,
                            m.new + m.returning,
                            companies_href(&inflow),
                            m.lost,
                            companies_href(&m.lost_ids),
                            m.active_end,
                            companies_href(&m.active_end_ids),
                        )
                    })
                    .collect(),
            ),
            d.months
                .iter()
                .map(|m| DamRow {
                    month: m.month.clone(),
                    active_start: m.active_start,
                    new: m.new,
                    new_href: companies_href(&m.new_ids),
                    returning: m.returning,
                    returning_href: companies_href(&m.returning_ids),
                    lost: m.lost,
                    lost_href: companies_href(&m.lost_ids),
                    active_end: m.active_end,
                    active_end_href: companies_href(&m.active_end_ids),
                    churn: percent(m.churn_rate),
                    purchases: m.purchases,
                    repeat_purchases: m.repeat_purchases,
                    revenue: money(m.revenue),
                })
                .collect(),
        ),
        None => (charts::level(Vec::new()), Vec::new()),
    };
    let (n, target) = q
        .dam_params()
        .unwrap_or((plotina_store::reports::dam::DEFAULT_LOST_AFTER, None));
    let page = DamPage {
        form: params_form(
            "/reports/dam",
            &lk,
            &q,
            &params,
            params.pipelines.first().copied(),
        ),
        error,
        can_export: web.actor.can(Entity::Deal, Action::Export),
        export_qs: export_qs(
            &params,
            &[
                ("lost_after", n.to_string()),
                ("target", target.map(|t| t.to_string()).unwrap_or_default()),
            ],
        ),
        active_end: result
            .as_ref()
            .and_then(|(_, d)| d.months.last())
            .map(|m| m.active_end)
            .unwrap_or(0),
        avg_repeat_order: result
            .as_ref()
            .and_then(|(_, d)| d.avg_repeat_order)
            .map(money)
            .unwrap_or_else(|| "—".into()),
        dam: result.map(|(_, d)| d),
        chart,
        rows,
        ctx,
    };
    html(&page)
}

/// One cell of the ABC/XYZ matrix as drawn.
pub struct MatrixView {
    pub x: f64,
    pub y: f64,
    pub label: String,
    pub customers: i64,
    pub revenue: String,
    pub href: String,
    /// Fill opacity by the cell's share of customers.
    pub opacity: String,
}

pub struct CustomerRow {
    pub name: String,
    pub href: String,
    pub revenue: String,
    pub deals: i64,
    pub share: String,
    pub class: String,
    pub cv: String,
    /// The stored class (the override where set) and its change in the last calculation.
    pub stored: String,
    pub stored_override: bool,
    pub change: String,
}

#[derive(Template)]
#[template(path = "report_abc.html")]
struct AbcPage {
    ctx: Ctx,
    form: ParamsForm,
    error: String,
    can_export: bool,
    export_qs: String,
    shown: bool,
    cells: Vec<MatrixView>,
    customers: Vec<CustomerRow>,
    total_customers: usize,
    can_recalculate: bool,
    last_run: String,
    recalculated: bool,
}

async fn abc_page(State(s): State<AppState>, web: Web, RawQuery(raw): RawQuery) -> WebResult {
    let ctx = web.ctx.clone().with_section("reports");
    let q: ReportQuery =
        serde_urlencoded::from_str(raw.as_deref().unwrap_or("")).unwrap_or_default();
    let lk = Lookups::load(&s.store, &web.actor).await?;
    let actor = &web.actor;
    let store = &s.store;
    let parsed = q.params().and_then(|p| q.abc_params().map(|t| (p, t)));
    let (result, error) = run_report(&ctx, parsed, |p, t| async move {
        store.report_abc_xyz(actor, &p, t).await
    })
    .await?;
    let params = result.as_ref().map(|(p, _)| p.clone()).unwrap_or_default();
    let money = |minor: i64| super::fmt::money_minor(ctx.lang, minor, "RUB");
    let mut cells = Vec::new();
    let mut customers = Vec::new();
    let mut total_customers = 0;
    if let Some((_, r)) = &result {
        total_customers = r.customers.len();
        let max = r
            .matrix
            .iter()
            .map(|c| c.customers)
            .max()
            .unwrap_or(0)
            .max(1) as f64;
        for (i, c) in r.matrix.iter().enumerate() {
            cells.push(MatrixView {
                x: 40.0 + (i % 3) as f64 * 200.0,
                y: 30.0 + (i / 3) as f64 * 100.0,
                label: format!("{}{}", c.abc, c.xyz),
                customers: c.customers,
                revenue: money(c.revenue),
                href: companies_href(&c.company_ids),
                opacity: format!("{:.2}", 0.12 + 0.6 * c.customers as f64 / max),
            });
        }
        let mut wanted = std::collections::BTreeMap::new();
        wanted.insert(
            Entity::Company,
            r.customers.iter().take(100).map(|c| c.company_id).collect(),
        );
        let titles = super::lookups::Titles::load(&s.store, &web.actor, &wanted).await?;
        let ids: Vec<i64> = r.customers.iter().take(100).map(|c| c.company_id).collect();
        let stored = s.store.customer_classes_of(&web.actor, &ids).await?;
        for c in r.customers.iter().take(100) {
            let (stored_class, stored_override, change) =
                super::customer_classes::report_cells(&ctx, stored.get(&c.company_id));
            customers.push(CustomerRow {
                stored: stored_class,
                stored_override,
                change,
                name: titles
                    .get(Entity::Company, c.company_id)
                    .map(String::from)
                    .unwrap_or_else(|| format!("#{}", c.company_id)),
                href: urls::card(Entity::Company, c.company_id),
                revenue: money(c.revenue),
                deals: c.deals,
                share: percent(Some(c.share)),
                class: format!("{}{}", c.abc, c.xyz),
                cv: percent(Some(c.cv)),
            });
        }
    }
    let t = q.abc_params().unwrap_or_default();
    let page = AbcPage {
        form: params_form(
            "/reports/abc-xyz",
            &lk,
            &q,
            &params,
            params.pipelines.first().copied(),
        ),
        error,
        can_export: web.actor.can(Entity::Deal, Action::Export),
        export_qs: export_qs(
            &params,
            &[
                (
                    "abc_by",
                    if t.by_count { "count" } else { "revenue" }.to_string(),
                ),
                ("a", t.a.to_string()),
                ("b", t.b.to_string()),
                ("x", t.x.to_string()),
                ("y", t.y.to_string()),
            ],
        ),
        shown: result.is_some(),
        cells,
        customers,
        total_customers,
        can_recalculate: plotina_store::reports::classes::may_classify(&web.actor),
        last_run: super::customer_classes::last_run_text(&s, &ctx).await?,
        recalculated: raw.as_deref().unwrap_or("").contains("recalculated="),
        ctx,
    };
    html(&page)
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/reports", get(super::dashboard::page))
        .route("/reports/funnel", get(funnel_page))
        .route("/reports/dam", get(dam_page))
        .route("/reports/abc-xyz", get(abc_page))
        .route("/reports/quality", get(super::quality::page))
        .route("/reports/velocity", get(super::report_velocity::page))
        .route("/reports/forecast", get(super::report_forecast::page))
        .route("/reports/rating", get(super::report_rating::page))
        .route("/reports/operations", get(super::report_operations::page))
        .route("/reports/sources", get(super::report_sources::page))
        .route(
            "/reports/sources/cost",
            axum::routing::post(super::report_sources::save_cost),
        )
        .route(
            "/reports/rating/weights",
            axum::routing::post(super::report_rating::save_weights),
        )
        .route(
            "/reports/forecast/plan",
            axum::routing::post(super::report_forecast::save_plan),
        )
}
