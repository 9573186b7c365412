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
use plotina_store::reports::funnel::{Funnel, LINK_IDS};
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
    pipelines: Vec<Opt>,
    owners: Vec<Opt>,
    departments: Vec<Opt>,
    period_from: String,
    period_to: String,
    filter: String,
    error: String,
    can_export: bool,
    export_qs: String,
    funnel: Option<Funnel>,
    summary: String,
    chart: FunnelChart,
    rows: Vec<FunnelRow>,
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
    let mut error = String::new();
    let result = match q.params() {
        Ok(p) => match s.store.report_funnel(&web.actor, &p).await {
            Ok(f) => Some((p, f)),
            Err(StoreError::Domain(
                d
                @ (DomainError::BadFilter(_) | DomainError::BadRequest(_) | DomainError::NotFound),
            )) => {
                error = FormErrors::from_domain(&ctx, Entity::Deal, &d, &[])
                    .general
                    .join(" ");
                if error.is_empty() {
                    error = ctx.t("problem-not_found");
                }
                None
            }
            Err(e) => return Err(e.into()),
        },
        Err(d) => {
            error = FormErrors::from_domain(&ctx, Entity::Deal, &d, &[])
                .general
                .join(" ");
            None
        }
    };
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
    let export_qs = urls::query(&[
        (
            "pipeline",
            &pipeline.map(|p| p.to_string()).unwrap_or_default(),
        ),
        (
            "period_from",
            &params
                .period_from
                .map(|d| d.to_string())
                .unwrap_or_default(),
        ),
        (
            "period_to",
            &params.period_to.map(|d| d.to_string()).unwrap_or_default(),
        ),
        (
            "owner",
            &params.owner.map(|d| d.to_string()).unwrap_or_default(),
        ),
        (
            "department",
            &params.department.map(|d| d.to_string()).unwrap_or_default(),
        ),
        ("filter", params.filter.as_deref().unwrap_or("")),
    ]);
    let page = FunnelPage {
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
        error,
        can_export: web.actor.can(Entity::Deal, Action::Export),
        export_qs: if export_qs.is_empty() {
            "?".into()
        } else {
            export_qs
        },
        funnel: result.map(|(_, f)| f),
        summary,
        chart,
        rows,
        ctx,
    };
    html(&page)
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/reports",
            get(|| async { super::redirect("/reports/funnel") }),
        )
        .route("/reports/funnel", get(funnel_page))
}
