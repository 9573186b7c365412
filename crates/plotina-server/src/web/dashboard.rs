//! `GET /reports`: the analytics home page. Key figures of the period against the period
//! before it (default: this month against last month) — won amount and count, new
//! deals, win rate, the weighted open pipeline, the share of the plan, overdue tasks and
//! deals without a next step — each a link to the records behind it; charts of the won
//! amount per month (twelve months), the period's funnel and plan against actual (six
//! months); links to every report. The scope follows the role through the ordinary
//! report parameters: a manager's page opens on their own deals, a head's on their
//! department, an administrator's on everything, and every figure is read within what
//! the user may read anyway.

use askama::Template;
use axum::extract::{RawQuery, State};
use chrono::{Datelike, NaiveDate};
use plotina_core::policy::{Action, Actor, Scope};
use plotina_core::schema::Entity;
use plotina_store::reports::dashboard::{Dashboard, Figures};
use plotina_store::reports::ReportParams;

use super::charts::{self, FunnelChart};
use super::lookups::Lookups;
use super::reports::{params_form, percent, run_report, ParamsForm};
use super::{html, urls, Ctx, Web, WebResult};
use crate::api::reports::ReportQuery;
use crate::i18n::Lang;
use crate::state::AppState;

/// One key figure.
pub struct Kpi {
    /// `data-testid` suffix.
    pub key: &'static str,
    pub label: String,
    pub value: String,
    /// The figure as a plain number (kopecks, a count, a share), for scripts and tests.
    pub raw: String,
    pub note: String,
    pub href: String,
    /// `up`, `down` or empty: against the period before.
    pub trend: &'static str,
}

/// A vertical bar of a column chart, in viewBox units.
pub struct Column {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    pub cx: f64,
    /// The group's label (on its first bar only) and where it is centred.
    pub label: String,
    pub label_x: f64,
    pub value: String,
    pub title: String,
    pub href: String,
    pub kind: &'static str,
}

pub struct ColumnChart {
    pub width: f64,
    pub height: f64,
    pub base_y: f64,
    pub label_y: f64,
    pub bars: Vec<Column>,
}

pub const COLUMN_WIDTH: f64 = 640.0;
const COLUMN_TOP: f64 = 26.0;
const COLUMN_BASE: f64 = 200.0;

fn r1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// One bar's input: value, value text, tooltip, link, CSS kind.
pub type BarInput = (i64, String, String, String, &'static str);

/// Groups of bars side by side over a common zero line, all on one scale. Input per
/// group: its label and its bars (value, value text, tooltip, link, CSS kind).
pub fn columns(groups: Vec<(String, Vec<BarInput>)>) -> ColumnChart {
    let max = groups
        .iter()
        .flat_map(|g| g.1.iter().map(|b| b.0))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let step = (COLUMN_WIDTH - 20.0) / groups.len().max(1) as f64;
    let per = groups.iter().map(|g| g.1.len()).max().unwrap_or(1).max(1) as f64;
    let w = (step * 0.7 / per).min(56.0);
    let mut bars = Vec::new();
    for (i, (label, values)) in groups.into_iter().enumerate() {
        let centre = 10.0 + step * (i as f64 + 0.5);
        let n = values.len() as f64;
        for (j, (value, text, title, href, kind)) in values.into_iter().enumerate() {
            let h = value.max(0) as f64 / max * (COLUMN_BASE - COLUMN_TOP);
            let x = centre - w * n / 2.0 + w * j as f64;
            bars.push(Column {
                x: r1(x + 1.0),
                y: r1(COLUMN_BASE - h),
                w: r1(w - 2.0),
                h: r1(h),
                cx: r1(x + w / 2.0),
                label: if j == 0 { label.clone() } else { String::new() },
                label_x: r1(centre),
                value: text,
                title,
                href,
                kind,
            });
        }
    }
    ColumnChart {
        width: COLUMN_WIDTH,
        height: COLUMN_BASE + 30.0,
        base_y: COLUMN_BASE,
        label_y: COLUMN_BASE + 20.0,
        bars,
    }
}

/// A short amount for a bar: roubles in thousands or millions, one decimal.
pub fn compact(ctx: &Ctx, minor: i64) -> String {
    let roubles = minor as f64 / 100.0;
    let (n, id) = if roubles.abs() >= 1_000_000.0 {
        (roubles / 1_000_000.0, "dashboard-compact-m")
    } else if roubles.abs() >= 1_000.0 {
        (roubles / 1_000.0, "dashboard-compact-k")
    } else {
        return format!("{}", roubles.round() as i64);
    };
    let mut text = format!("{n:.1}");
    if text.ends_with(".0") {
        text.truncate(text.len() - 2);
    }
    if ctx.lang == Lang::Ru {
        text = text.replace('.', ",");
    }
    ctx.ta(id, "n", text)
}

/// "03.26": a month short enough for twelve bars on a phone.
fn short_month(d: NaiveDate) -> String {
    format!("{:02}.{:02}", d.month(), d.year() % 100)
}

fn deals_link(filter: &str) -> String {
    format!("/deals{}", urls::query(&[("filter", filter)]))
}

fn ids(list: &[i64]) -> String {
    list.iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The deals filter of a period on a date field with a stage condition.
fn stage_filter(
    params: &ReportParams,
    (from, to): (NaiveDate, NaiveDate),
    date: &str,
    stages: &[i64],
) -> String {
    let mut p = params.clone();
    p.period_from = Some(from);
    p.period_to = Some(to);
    let mut parts = vec![p.deal_filter(date)];
    if !stages.is_empty() {
        parts.push(format!("stage_id in ({})", ids(stages)));
    }
    parts.retain(|s| !s.is_empty());
    parts.join(" and ")
}

/// Overdue tasks in the filter language, of the selected owner when there is one.
fn tasks_link(params: &ReportParams) -> String {
    let mut filter = "kind = \"task\" and done = false and due_at < now".to_string();
    if let Some(o) = params.owner {
        filter.push_str(&format!(
            " and (assignee_id = {o} or (assignee_id is null and owner_id = {o}))"
        ));
    }
    format!("/activities{}", urls::query(&[("filter", &filter)]))
}

fn trend(now: f64, before: f64) -> &'static str {
    if now > before {
        "up"
    } else if now < before {
        "down"
    } else {
        ""
    }
}

/// The page's default selection by role: a manager's own deals, a head's department.
pub fn role_defaults(actor: &Actor, mut q: ReportQuery) -> ReportQuery {
    let unset = |v: &Option<String>| v.as_deref().map(str::trim).unwrap_or("").is_empty();
    if unset(&q.owner) && unset(&q.department) {
        match actor.scope(Entity::Deal, Action::Read) {
            Scope::Own => q.owner = Some(actor.user_id.to_string()),
            Scope::Department => {
                q.department = actor.department_subtree.first().map(i64::to_string);
            }
            Scope::All | Scope::None => {}
        }
    }
    q
}

/// An amount in whole roubles (`124 088 500 ₽`): key figures are read at a glance, the
/// kopecks are in the lists behind them.
pub fn whole_roubles(lang: Lang, minor: i64) -> String {
    let rounded = (minor + minor.signum() * 50) / 100 * 100;
    let text = super::fmt::money_minor(lang, rounded, "RUB");
    match lang {
        // `1 234,00 ₽`: the only comma is the decimal one.
        Lang::Ru => text.replacen(",00", "", 1),
        // `₽1,234.00`.
        Lang::En => text.strip_suffix(".00").map(String::from).unwrap_or(text),
    }
}

fn kpis(ctx: &Ctx, d: &Dashboard, params: &ReportParams, plan: Option<(i64, f64)>) -> Vec<Kpi> {
    let rub = |m: i64| whole_roubles(ctx.lang, m);
    let (c, p): (&Figures, &Figures) = (&d.current, &d.previous);
    let cur = (c.from, c.to);
    let won_href = deals_link(&stage_filter(params, cur, "closed_at", &d.won_stages));
    let mut closed = d.won_stages.clone();
    closed.extend(&d.lost_stages);
    let before = |v: String| ctx.ta("dashboard-previous", "value", v);
    let mut out = vec![
        Kpi {
            key: "won-amount",
            label: ctx.t("dashboard-kpi-won-amount"),
            value: rub(c.won_amount),
            raw: c.won_amount.to_string(),
            note: before(rub(p.won_amount)),
            href: won_href.clone(),
            trend: trend(c.won_amount as f64, p.won_amount as f64),
        },
        Kpi {
            key: "won-count",
            label: ctx.t("dashboard-kpi-won-count"),
            value: c.won_count.to_string(),
            raw: c.won_count.to_string(),
            note: before(p.won_count.to_string()),
            href: won_href,
            trend: trend(c.won_count as f64, p.won_count as f64),
        },
        Kpi {
            key: "new-deals",
            label: ctx.t("dashboard-kpi-new-deals"),
            value: c.new_deals.to_string(),
            raw: c.new_deals.to_string(),
            note: before(p.new_deals.to_string()),
            href: deals_link(&stage_filter(params, cur, "created_at", &[])),
            trend: trend(c.new_deals as f64, p.new_deals as f64),
        },
        Kpi {
            key: "win-rate",
            label: ctx.t("dashboard-kpi-win-rate"),
            value: percent(c.win_rate),
            raw: c.win_rate.map(|r| r.to_string()).unwrap_or_default(),
            note: before(percent(p.win_rate)),
            href: deals_link(&stage_filter(params, cur, "closed_at", &closed)),
            trend: match (c.win_rate, p.win_rate) {
                (Some(a), Some(b)) => trend(a, b),
                _ => "",
            },
        },
        Kpi {
            key: "weighted",
            label: ctx.t("dashboard-kpi-weighted"),
            value: rub(d.open_weighted),
            raw: d.open_weighted.to_string(),
            note: ctx.ta2(
                "dashboard-kpi-weighted-note",
                ("count", d.open_count.to_string()),
                ("amount", rub(d.open_amount)),
            ),
            href: deals_link(&{
                let mut p = params.clone();
                p.period_from = None;
                p.period_to = None;
                let mut parts = vec![p.deal_filter("created_at")];
                parts.push(format!("stage_id in ({})", ids(&d.open_stages)));
                parts.retain(|s| !s.is_empty());
                parts.join(" and ")
            }),
            trend: "",
        },
    ];
    if let Some((plan, share)) = plan {
        out.push(Kpi {
            key: "plan",
            label: ctx.t("dashboard-kpi-plan"),
            value: percent(Some(share)),
            raw: share.to_string(),
            note: ctx.ta("dashboard-kpi-plan-note", "plan", rub(plan)),
            href: format!(
                "/reports/forecast{}",
                urls::query(&[
                    ("period_from", &c.from.to_string()),
                    ("period_to", &c.to.to_string())
                ])
            ),
            trend: "",
        });
    }
    out.push(Kpi {
        key: "overdue",
        label: ctx.t("dashboard-kpi-overdue"),
        value: d.overdue_tasks.to_string(),
        raw: d.overdue_tasks.to_string(),
        note: ctx.t("dashboard-now"),
        href: tasks_link(params),
        trend: "",
    });
    out.push(Kpi {
        key: "no-next-step",
        label: ctx.t("dashboard-kpi-no-next-step"),
        value: d.no_next_step.to_string(),
        raw: d.no_next_step.to_string(),
        note: ctx.t("dashboard-now"),
        href: "/reports/quality?entity=deal".into(),
        trend: "",
    });
    out
}

pub struct ReportLink {
    pub href: &'static str,
    pub label: String,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    ctx: Ctx,
    form: ParamsForm,
    error: String,
    period: String,
    kpis: Vec<Kpi>,
    won_chart: Option<ColumnChart>,
    funnel: Option<FunnelChart>,
    funnel_href: String,
    plan_chart: Option<ColumnChart>,
    reports: Vec<ReportLink>,
    can_schedule: bool,
}

pub async fn page(State(s): State<AppState>, web: Web, RawQuery(raw): RawQuery) -> WebResult {
    let ctx = web.ctx.clone().with_section("reports");
    let q: ReportQuery =
        serde_urlencoded::from_str(raw.as_deref().unwrap_or("")).unwrap_or_default();
    let q = role_defaults(&web.actor, q);
    let lk = Lookups::load(&s.store, &web.actor).await?;
    let actor = &web.actor;
    let store = &s.store;
    let now = plotina_core::value::now();
    let (result, error) = run_report(&ctx, q.params().map(|p| (p, ())), |p, ()| async move {
        store.report_dashboard(actor, &p, now).await
    })
    .await?;
    let params = result.as_ref().map(|(p, _)| p.clone()).unwrap_or_default();
    let form = params_form(
        "/reports",
        &lk,
        &q,
        &params,
        params.pipelines.first().copied(),
    );
    let mut page = DashboardPage {
        form,
        error,
        period: String::new(),
        kpis: Vec::new(),
        won_chart: None,
        funnel: None,
        funnel_href: String::new(),
        plan_chart: None,
        reports: [
            ("/reports/funnel", "reports-funnel"),
            ("/reports/dam", "reports-dam"),
            ("/reports/abc-xyz", "reports-abc-xyz"),
            ("/reports/forecast", "reports-forecast"),
            ("/reports/rating", "reports-rating"),
            ("/reports/velocity", "reports-velocity"),
            ("/reports/operations", "reports-operations"),
            ("/reports/quality", "ui-quality"),
        ]
        .into_iter()
        .map(|(href, id)| ReportLink {
            href,
            label: ctx.t(id),
        })
        .collect(),
        can_schedule: plotina_store::reports::schedules::may_schedule(actor),
        ctx: ctx.clone(),
    };
    let Some((params, d)) = result else {
        return html(&page);
    };
    let date = |d: NaiveDate| super::fmt::date(ctx.lang, d);
    page.period = ctx.ta2(
        "dashboard-period",
        (
            "current",
            format!("{} – {}", date(d.current.from), date(d.current.to)),
        ),
        (
            "previous",
            format!("{} – {}", date(d.previous.from), date(d.previous.to)),
        ),
    );

    // Plan against actual: the six months ending with the period's last month.
    let mut plan_params = params.clone();
    plan_params.period_from =
        chrono::NaiveDate::from_ymd_opt(d.current.to.year(), d.current.to.month(), 1)
            .map(|m| m - chrono::Months::new(5));
    plan_params.period_to = Some(d.current.to);
    let forecast = store.report_forecast(actor, &plan_params).await.ok();
    let plan_share = forecast.as_ref().and_then(|f| {
        let in_period: Vec<_> = f
            .months
            .iter()
            .filter(|m| {
                let first = format!("{:04}-{:02}", d.current.from.year(), d.current.from.month());
                m.month >= first
                    && m.month.as_str()
                        <= format!("{:04}-{:02}", d.current.to.year(), d.current.to.month())
                            .as_str()
            })
            .collect();
        let plan: i64 = in_period.iter().filter_map(|m| m.plan).sum();
        let any = in_period.iter().any(|m| m.plan.is_some());
        (any && plan > 0).then(|| {
            (
                plan,
                plotina_store::reports::stats::ratio(d.current.won_amount, plan).unwrap_or(0.0),
            )
        })
    });
    page.kpis = kpis(&ctx, &d, &params, plan_share);

    let rub = |m: i64| super::fmt::money_minor(ctx.lang, m, "RUB");
    page.won_chart = Some(columns(
        d.months
            .iter()
            .map(|m| {
                let filter = stage_filter(
                    &params,
                    (m.first_day, m.last_day),
                    "closed_at",
                    &d.won_stages,
                );
                (
                    short_month(m.first_day),
                    vec![(
                        m.amount,
                        compact(&ctx, m.amount),
                        format!("{}: {} ({})", m.month, rub(m.amount), m.count),
                        deals_link(&filter),
                        "won",
                    )],
                )
            })
            .collect(),
    ));
    if let Some(f) = &forecast {
        if f.months.iter().any(|m| m.plan.is_some() || m.actual > 0) {
            page.plan_chart = Some(columns(
                f.months
                    .iter()
                    .map(|m| {
                        let month =
                            NaiveDate::parse_from_str(&format!("{}-01", m.month), "%Y-%m-%d").ok();
                        let label = month.map(short_month).unwrap_or_else(|| m.month.clone());
                        let href = format!(
                            "/reports/forecast{}",
                            urls::query(&[("period_from", &format!("{}-01", m.month))])
                        );
                        let plan = m.plan.unwrap_or(0);
                        (
                            label,
                            vec![
                                (
                                    plan,
                                    compact(&ctx, plan),
                                    format!(
                                        "{} {}: {}",
                                        m.month,
                                        ctx.t("reports-col-plan"),
                                        m.plan.map(rub).unwrap_or_else(|| "—".into())
                                    ),
                                    href.clone(),
                                    "",
                                ),
                                (
                                    m.actual,
                                    compact(&ctx, m.actual),
                                    format!(
                                        "{} {}: {}",
                                        m.month,
                                        ctx.t("reports-col-actual"),
                                        rub(m.actual)
                                    ),
                                    href,
                                    "won",
                                ),
                            ],
                        )
                    })
                    .collect(),
            ));
        }
    }

    // The funnel of the deals created in the period (the first pipeline, or the chosen).
    let mut funnel_params = params.clone();
    funnel_params.period_from = Some(d.current.from);
    funnel_params.period_to = Some(d.current.to);
    if let Ok(f) = store.report_funnel(actor, &funnel_params).await {
        let mut link = funnel_params.clone();
        link.pipelines = vec![f.pipeline_id];
        let fallback = link.deal_filter("created_at");
        page.funnel_href = format!("/reports/funnel{}", super::reports::export_qs(&link, &[]));
        page.funnel = Some(charts::funnel(
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
                        super::reports::deals_href(&st.reached_ids, st.reached, &fallback),
                        if st.kind == "won" {
                            "won".to_string()
                        } else {
                            String::new()
                        },
                    )
                })
                .collect(),
        ));
    }
    html(&page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_amounts_in_whole_roubles() {
        assert_eq!(
            whole_roubles(Lang::Ru, 12_408_850_049),
            "124\u{202f}088\u{202f}500\u{a0}₽"
        );
        assert_eq!(whole_roubles(Lang::En, 70_050), "₽701");
        assert_eq!(whole_roubles(Lang::En, 100_000_000), "₽1,000,000");
        assert_eq!(whole_roubles(Lang::En, -149), "₽-1");
    }

    #[test]
    fn columns_share_one_scale() {
        let bar = |v: i64| (v, String::new(), String::new(), String::new(), "won");
        let c = columns(vec![
            ("a".into(), vec![bar(100)]),
            ("b".into(), vec![bar(50)]),
            ("c".into(), vec![bar(0)]),
        ]);
        // 174 units between the top and the zero line; 620 / 3 per group.
        assert_eq!((c.bars[0].y, c.bars[0].h), (26.0, 174.0));
        assert_eq!((c.bars[1].y, c.bars[1].h), (113.0, 87.0));
        assert_eq!(c.bars[2].h, 0.0);
        assert_eq!((c.bars[1].cx, c.bars[1].label_x), (320.0, 320.0));
    }
}
