//! `GET /reports/sources`: per source of first contact, leads, deals, what was won and
//! what it cost, as paired bars (won amount against cost) and a table whose every count
//! opens its leads or deals; `POST /reports/sources/cost`: the form administrators and
//! heads enter a source's monthly cost with.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use plotina_core::policy::Action;
use plotina_core::schema::{Entity, LEAD_SOURCES};
use plotina_store::reports::forecast::may_plan;
use plotina_store::reports::sources::{attribution_filter, SourceRow, SourcesReport};
use plotina_store::reports::ReportParams;

use super::charts::{self, PairChart};
use super::fields::Opt;
use super::lookups::Lookups;
use super::reports::{export_qs, params_form, percent, run_report, ParamsForm};
use super::{html, redirect, urls, Ctx, Web, WebResult};
use crate::api::report_sources::source_name;
use crate::api::reports::ReportQuery;
use crate::state::AppState;

pub struct SourceView {
    pub name: String,
    pub leads: i64,
    pub leads_href: String,
    pub converted: i64,
    pub converted_href: String,
    pub lead_conversion: String,
    pub deals: i64,
    pub deals_href: String,
    pub deals_won: i64,
    pub deals_won_href: String,
    pub deal_conversion: String,
    pub won: i64,
    pub won_href: String,
    pub won_amount: String,
    pub cost: String,
    pub cost_per_lead: String,
    pub cost_per_won: String,
    pub romi: String,
    pub romi_negative: bool,
}

pub struct CostView {
    pub source: String,
    pub month: String,
    pub amount: String,
}

#[derive(Template)]
#[template(path = "report_sources.html")]
struct SourcesPage {
    ctx: Ctx,
    form: ParamsForm,
    error: String,
    notice: String,
    can_export: bool,
    export_qs: String,
    shown: bool,
    rows: Vec<SourceView>,
    total: Option<SourceView>,
    chart: PairChart,
    cost_note: String,
    can_cost: bool,
    known_sources: Vec<Opt>,
    cost_month: String,
    costs: Vec<CostView>,
}

fn rub(ctx: &Ctx, minor: i64) -> String {
    super::fmt::money_minor(ctx.lang, minor, "RUB")
}

fn join(parts: &[String]) -> String {
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .cloned()
        .collect::<Vec<_>>()
        .join(" and ")
}

fn list(entity: &str, filter: &str) -> String {
    format!("/{entity}{}", urls::query(&[("filter", filter)]))
}

/// The leads of the report in the filter language: period on creation and owner (the
/// department is not expressible there and is left out, as for deals).
fn lead_filter(params: &ReportParams) -> String {
    let mut parts = Vec::new();
    if let Some(from) = params.period_from {
        parts.push(format!("created_at >= \"{from}\""));
    }
    if let Some(to) = params.period_to {
        parts.push(format!("created_at <= \"{to}\""));
    }
    if let Some(o) = params.owner {
        parts.push(format!("owner_id = {o}"));
    }
    parts.join(" and ")
}

/// One row of the table; `source` is `None` for the total (no source condition).
fn view(ctx: &Ctx, params: &ReportParams, r: &SourceRow, total: bool) -> SourceView {
    let (lead_source, deal_source) = if total {
        (String::new(), String::new())
    } else {
        let lead = match r.source.as_deref() {
            Some(s) => format!(
                "source = \"{}\"",
                s.replace('\\', "\\\\").replace('"', "\\\"")
            ),
            None => "source is null".into(),
        };
        (lead, attribution_filter(r.source.as_deref()))
    };
    // Leads hold only the sources of their option list: another source has no leads
    // and no list to open (the filter language refuses an unknown option).
    let lead_link = total
        || r.source
            .as_deref()
            .is_none_or(|s| LEAD_SOURCES.contains(&s));
    let leads = join(&[lead_filter(params), lead_source]);
    let created = join(&[params.deal_filter("created_at"), deal_source.clone()]);
    let won_stage = "stage.kind = \"won\"".to_string();
    let money_or_dash = |v: Option<i64>| v.map(|m| rub(ctx, m)).unwrap_or_else(|| "—".into());
    SourceView {
        name: if total {
            ctx.t("sources-total")
        } else {
            source_name(r.source.as_deref(), ctx.lang)
        },
        leads: r.leads,
        leads_href: if lead_link {
            list("leads", &leads)
        } else {
            String::new()
        },
        converted: r.converted_leads,
        converted_href: if lead_link {
            list("leads", &join(&[leads, "deal_id is not null".into()]))
        } else {
            String::new()
        },
        lead_conversion: percent(r.lead_conversion),
        deals: r.deals,
        deals_href: list("deals", &created),
        deals_won: r.deals_won,
        deals_won_href: list("deals", &join(&[created, won_stage.clone()])),
        deal_conversion: percent(r.deal_conversion),
        won: r.won,
        won_href: list(
            "deals",
            &join(&[params.deal_filter("closed_at"), deal_source, won_stage]),
        ),
        won_amount: rub(ctx, r.won_amount),
        cost: rub(ctx, r.cost),
        cost_per_lead: money_or_dash(r.cost_per_lead),
        cost_per_won: money_or_dash(r.cost_per_won),
        romi: r
            .romi
            .map(|v| format!("{v:.1} %"))
            .unwrap_or_else(|| "—".into()),
        romi_negative: r.romi.is_some_and(|v| v < 0.0),
    }
}

fn chart(ctx: &Ctx, r: &SourcesReport, views: &[SourceView]) -> PairChart {
    charts::pairs(
        r.rows
            .iter()
            .zip(views)
            .map(|(row, v)| charts::PairInput {
                label: v.name.clone(),
                a: row.won_amount,
                a_text: format!("{}: {}", ctx.t("sources-chart-won"), v.won_amount),
                a_href: v.won_href.clone(),
                b: row.cost,
                b_text: format!("{}: {}", ctx.t("sources-chart-cost"), v.cost),
            })
            .collect(),
    )
}

pub async fn page(State(s): State<AppState>, web: Web, RawQuery(raw): RawQuery) -> WebResult {
    let ctx = web.ctx.clone().with_section("reports");
    let q: ReportQuery =
        serde_urlencoded::from_str(raw.as_deref().unwrap_or("")).unwrap_or_default();
    let saved = raw.as_deref().unwrap_or("").contains("saved=1");
    let lk = Lookups::load(&s.store, &web.actor).await?;
    let actor = &web.actor;
    let store = &s.store;
    let (result, error) = run_report(&ctx, q.params().map(|p| (p, ())), |p, ()| async move {
        store.report_sources(actor, &p).await
    })
    .await?;
    let params = result.as_ref().map(|(p, _)| p.clone()).unwrap_or_default();
    let rows: Vec<SourceView> = result
        .as_ref()
        .map(|(p, r)| r.rows.iter().map(|row| view(&ctx, p, row, false)).collect())
        .unwrap_or_default();
    let total = result.as_ref().map(|(p, r)| view(&ctx, p, &r.total, true));
    let chart = result
        .as_ref()
        .map(|(_, r)| chart(&ctx, r, &rows))
        .unwrap_or_else(|| charts::pairs(Vec::new()));
    let today = web.actor.today();
    let this_month = today.format("%Y-%m").to_string();
    let (cost_from, cost_to) = result
        .as_ref()
        .map(|(_, r)| (r.cost_from.clone(), r.cost_to.clone()))
        .unwrap_or_default();
    let cost_note = match (&cost_from, &cost_to) {
        (None, None) => ctx.t("sources-cost-all"),
        (from, to) => super::super::i18n::t_args(
            ctx.lang,
            "sources-cost-months",
            &[
                ("from", from.clone().unwrap_or_else(|| "…".into())),
                ("to", to.clone().unwrap_or_else(|| "…".into())),
            ],
        ),
    };
    // The costs entered for the report's months (a year back to this month without them).
    let year_ago = (today - chrono::Duration::days(334))
        .format("%Y-%m")
        .to_string();
    let costs = s
        .store
        .source_costs(
            cost_from.as_deref().unwrap_or(&year_ago),
            cost_to.as_deref().unwrap_or(&this_month),
        )
        .await?
        .into_iter()
        .map(|c| CostView {
            source: source_name(Some(&c.source), ctx.lang),
            month: c.month,
            amount: rub(&ctx, c.amount),
        })
        .collect();
    let mut known: Vec<String> = LEAD_SOURCES.iter().map(|s| s.to_string()).collect();
    if let Some((_, r)) = &result {
        known.extend(r.rows.iter().filter_map(|r| r.source.clone()));
    }
    known.sort();
    known.dedup();
    let known_sources = known
        .into_iter()
        .map(|s| Opt {
            label: source_name(Some(&s), ctx.lang),
            value: s,
            ..Default::default()
        })
        .collect();
    let page = SourcesPage {
        form: params_form(
            "/reports/sources",
            &lk,
            &q,
            &params,
            params.pipelines.first().copied(),
        ),
        error,
        notice: if saved {
            ctx.t("sources-cost-saved")
        } else {
            String::new()
        },
        can_export: web.actor.can(Entity::Deal, Action::Export),
        export_qs: export_qs(&params, &[]),
        shown: result.is_some(),
        rows,
        total,
        chart,
        cost_note,
        can_cost: may_plan(&web.actor),
        known_sources,
        cost_month: this_month,
        costs,
        ctx,
    };
    html(&page)
}

/// `POST /reports/sources/cost`: source, month, amount (empty removes the cost).
pub async fn save_cost(State(s): State<AppState>, web: Web, body: Bytes) -> WebResult {
    let form = web.form(&body)?;
    let back = urls::safe_next(form.text("back"));
    let base = back.split('?').next().unwrap_or("/reports/sources");
    let amount = super::report_forecast::form_amount(form.text("amount"))
        .map_err(super::WebError::Domain)?;
    s.store
        .set_source_cost(&web.actor, form.text("source"), form.text("month"), amount)
        .await?;
    Ok(redirect(&format!("{base}?saved=1")))
}
