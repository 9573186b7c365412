//! `GET /reports/velocity`: cycle length of the deals closed in the period (figures, a
//! histogram of won and lost by days, per owner) and the stuck open deals — stale in
//! their stage and forgotten without activity — each a link to its card.

use askama::Template;
use axum::extract::{RawQuery, State};
use plotina_core::policy::Action;
use plotina_core::schema::Entity;
use plotina_store::reports::velocity::{Cycle, StuckDeal, Velocity};

use super::lookups::Lookups;
use super::reports::{export_qs, params_form, run_report, ParamsForm};
use super::{html, urls, Ctx, Web, WebResult};
use crate::api::reports::ReportQuery;
use crate::state::AppState;

/// Height of the histogram's plot area (SVG units).
const PLOT_H: f64 = 160.0;

pub struct CycleView {
    pub count: i64,
    pub median: String,
    pub p90: String,
    pub avg: String,
    pub href: String,
}

pub struct BarView {
    pub label: String,
    pub x: f64,
    pub won: i64,
    pub won_h: f64,
    pub lost: i64,
    pub lost_h: f64,
}

pub struct OwnerView {
    pub owner: String,
    pub won: CycleView,
    pub lost: CycleView,
}

pub struct StuckView {
    pub title: String,
    pub href: String,
    pub owner: String,
    pub stage: String,
    pub days: i64,
    pub limit: i64,
}

#[derive(Template)]
#[template(path = "report_velocity.html")]
struct VelocityPage {
    ctx: Ctx,
    form: ParamsForm,
    error: String,
    can_export: bool,
    export_qs: String,
    shown: bool,
    won: CycleView,
    lost: CycleView,
    bars: Vec<BarView>,
    owners: Vec<OwnerView>,
    stale_caption: String,
    stale: Vec<StuckView>,
    forgotten_caption: String,
    forgotten: Vec<StuckView>,
}

fn opt_days(v: Option<i64>) -> String {
    v.map(|d| d.to_string()).unwrap_or_else(|| "—".into())
}

fn cycle_view(c: &Cycle, href: String) -> CycleView {
    CycleView {
        count: c.count,
        median: opt_days(c.median_days),
        p90: opt_days(c.p90_days),
        avg: c
            .avg_days
            .map(|a| format!("{a:.1}"))
            .unwrap_or_else(|| "—".into()),
        href,
    }
}

fn stuck_views(deals: &[StuckDeal], lk: &Lookups) -> Vec<StuckView> {
    deals
        .iter()
        .map(|d| StuckView {
            title: d.title.clone(),
            href: urls::card(Entity::Deal, d.id),
            owner: d
                .owner_id
                .and_then(|o| lk.org_name(Entity::User, o))
                .unwrap_or_default(),
            stage: d.stage.clone(),
            days: d.days,
            limit: d.limit_days,
        })
        .collect()
}

fn bars(ctx: &Ctx, v: &Velocity) -> Vec<BarView> {
    let top = v
        .buckets
        .iter()
        .map(|b| b.won.max(b.lost))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    v.buckets
        .iter()
        .enumerate()
        .map(|(i, b)| BarView {
            label: match b.to_days {
                Some(to) => ctx.ta2(
                    "reports-velocity-days",
                    ("from", b.from_days.to_string()),
                    ("to", to.to_string()),
                ),
                None => ctx.ta("reports-velocity-days-open", "from", b.from_days - 1),
            },
            x: 40.0 + i as f64 * 100.0,
            won: b.won,
            won_h: b.won as f64 / top * PLOT_H,
            lost: b.lost,
            lost_h: b.lost as f64 / top * PLOT_H,
        })
        .collect()
}

pub async fn page(State(s): State<AppState>, web: Web, RawQuery(raw): RawQuery) -> WebResult {
    let ctx = web.ctx.clone().with_section("reports");
    let q: ReportQuery =
        serde_urlencoded::from_str(raw.as_deref().unwrap_or("")).unwrap_or_default();
    let lk = Lookups::load(&s.store, &web.actor).await?;
    let actor = &web.actor;
    let parsed = q.params().and_then(|p| q.idle_days().map(|d| (p, d)));
    let store = &s.store;
    let (result, error) = run_report(&ctx, parsed, |p, idle| async move {
        store.report_velocity(actor, &p, idle).await
    })
    .await?;
    let params = result.as_ref().map(|(p, _)| p.clone()).unwrap_or_default();
    // The deals behind a cycle figure: closed in the period with that outcome.
    let closed_href = |kind: &str| {
        let base = params.deal_filter("closed_at");
        let filter = if base.is_empty() {
            format!("stage.kind = \"{kind}\"")
        } else {
            format!("{base} and stage.kind = \"{kind}\"")
        };
        format!("/deals{}", urls::query(&[("filter", &filter)]))
    };
    let owner_href = |owner: Option<i64>, kind: &str| {
        let mut p = params.clone();
        p.owner = owner;
        let base = p.deal_filter("closed_at");
        let filter = if base.is_empty() {
            format!("stage.kind = \"{kind}\"")
        } else {
            format!("{base} and stage.kind = \"{kind}\"")
        };
        format!("/deals{}", urls::query(&[("filter", &filter)]))
    };
    let empty = Cycle::default();
    let (won, lost) = match &result {
        Some((_, v)) => (&v.won, &v.lost),
        None => (&empty, &empty),
    };
    let idle = q
        .idle_days()
        .unwrap_or(plotina_store::reports::velocity::DEFAULT_IDLE_DAYS);
    let page = VelocityPage {
        form: params_form(
            "/reports/velocity",
            &lk,
            &q,
            &params,
            params.pipelines.first().copied(),
        ),
        error,
        can_export: web.actor.can(Entity::Deal, Action::Export),
        export_qs: export_qs(&params, &[("idle_days", idle.to_string())]),
        shown: result.is_some(),
        won: cycle_view(won, closed_href("won")),
        lost: cycle_view(lost, closed_href("lost")),
        bars: result
            .as_ref()
            .map(|(_, v)| bars(&ctx, v))
            .unwrap_or_default(),
        owners: result
            .as_ref()
            .map(|(_, v)| {
                v.owners
                    .iter()
                    .map(|o| OwnerView {
                        owner: o
                            .owner_id
                            .and_then(|id| lk.org_name(Entity::User, id))
                            .unwrap_or_else(|| "—".into()),
                        won: cycle_view(&o.won, owner_href(o.owner_id, "won")),
                        lost: cycle_view(&o.lost, owner_href(o.owner_id, "lost")),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        stale_caption: ctx.ta(
            "reports-velocity-stale-caption",
            "count",
            result.as_ref().map(|(_, v)| v.stale_total).unwrap_or(0),
        ),
        stale: result
            .as_ref()
            .map(|(_, v)| stuck_views(&v.stale, &lk))
            .unwrap_or_default(),
        forgotten_caption: ctx.ta2(
            "reports-velocity-forgotten-caption",
            ("days", idle.to_string()),
            (
                "count",
                result
                    .as_ref()
                    .map(|(_, v)| v.forgotten_total)
                    .unwrap_or(0)
                    .to_string(),
            ),
        ),
        forgotten: result
            .as_ref()
            .map(|(_, v)| stuck_views(&v.forgotten, &lk))
            .unwrap_or_default(),
        ctx,
    };
    html(&page)
}
