//! Sources of first contact: per source, the leads and deals it brought, what was won,
//! the conversions, what the source cost and whether it paid off.
//!
//! - **Leads**: created in the period, by their `source`; *converted* are those of them
//!   that became a deal (`deal_id` set by the conversion). Leads take the period, the
//!   owner, the department and the actor's lead scope; pipelines and the filter language
//!   are about deals and do not apply to them.
//! - **Deals**: created in the period (the report's deal selection). A child deal (the
//!   work of another department on a sale, `parent_id` set) counts for the source of its
//!   *top* parent, whatever its own source says: the client came through the parent.
//!   *Won of them* are those now in a won stage; deal → won conversion is that share.
//! - **Won**: deals closed won in the period and their amount (kopecks), attributed the
//!   same way. This is the revenue ROMI compares with the cost.
//! - **Cost**: `source_costs` (kopecks per source and month). A period counts the whole
//!   cost of every month it touches (a report from 10 March to 9 April counts March and
//!   April); without a period, every month. Costs are the company's: they do not shrink
//!   with an owner, department or pipeline filter.
//! - Cost per lead = cost / leads, cost per won deal = cost / won (kopecks, rounded;
//!   `None` without a cost), ROMI = (won amount − cost) / cost × 100 % — each `None`
//!   when its divisor is zero.
//!
//! Records without a source (NULL or blank) form one row with `source: None`. The
//! figures are SQL aggregates (GROUP BY source): root deals are grouped directly; child
//! deals walk up their parent chain in a recursive CTE (both engines) and are grouped by
//! the top parent's source. The parent's source is read whatever the actor's scope: it
//! is a fact about the sale, and the figures are about the actor's own deals.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use plotina_core::policy::{Action, Actor};
use plotina_core::schema::Entity;
use sea_query::{
    Alias, CommonTableExpression, Cond, Expr, Func, JoinType, Query, SelectStatement, SimpleExpr,
    UnionType, WithClause,
};
use serde::Serialize;

use super::stats::ratio;
use super::{all_stages, deal_condition, stages_of_kind, ts_value, PeriodOn, ReportParams};
use crate::db::Tx;
use crate::error::Result;
use crate::filter_sql::col;
use crate::listing::{ListParams, QueryCtx};
use crate::store::Store;

/// Parent chains longer than this stop climbing (cycles are refused on write anyway).
const MAX_CHAIN: i64 = 32;
/// Parent levels the links from a figure to its deals follow (the filter language
/// reaches three relations deep).
pub const LINK_LEVELS: usize = 2;

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct SourceRow {
    /// `None`: no source.
    pub source: Option<String>,
    pub leads: i64,
    /// Leads of the period converted into a deal.
    pub converted_leads: i64,
    /// converted_leads / leads.
    pub lead_conversion: Option<f64>,
    /// Deals created in the period.
    pub deals: i64,
    /// Of those, in a won stage now.
    pub deals_won: i64,
    /// deals_won / deals.
    pub deal_conversion: Option<f64>,
    /// Deals closed won in the period and their amount (kopecks).
    pub won: i64,
    pub won_amount: i64,
    /// Kopecks.
    pub cost: i64,
    pub cost_per_lead: Option<i64>,
    pub cost_per_won: Option<i64>,
    /// Percent, one decimal.
    pub romi: Option<f64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SourcesReport {
    /// The months whose costs are counted (`YYYY-MM`), `None` for "all".
    pub cost_from: Option<String>,
    pub cost_to: Option<String>,
    pub rows: Vec<SourceRow>,
    pub total: SourceRow,
}

/// What one aggregate query gives per source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub n: i64,
    pub won: i64,
    pub amount: i64,
}

/// A blank source is no source.
fn key(source: Option<String>) -> Option<String> {
    source
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// `part / whole` rounded half away from zero; `None` for a zero whole.
fn per(part: i64, whole: i64) -> Option<i64> {
    if whole == 0 {
        return None;
    }
    Some((part as f64 / whole as f64).round() as i64)
}

/// ROMI in percent with one decimal: (revenue − cost) / cost × 100.
pub fn romi(revenue: i64, cost: i64) -> Option<f64> {
    if cost == 0 {
        return None;
    }
    Some((((revenue - cost) as f64 / cost as f64) * 1000.0).round() / 10.0)
}

fn finish(mut r: SourceRow) -> SourceRow {
    r.lead_conversion = ratio(r.converted_leads, r.leads);
    r.deal_conversion = ratio(r.deals_won, r.deals);
    // Without a cost entered there is no price of a lead to speak of.
    if r.cost > 0 {
        r.cost_per_lead = per(r.cost, r.leads);
        r.cost_per_won = per(r.cost, r.won);
    }
    r.romi = romi(r.won_amount, r.cost);
    r
}

/// The report from its four aggregates by source: leads (n, converted in `won`), deals
/// created (n, won now), deals won in the period (n, amount) and costs (amount). Rows
/// are ordered by won amount, then deals, then leads (largest first), then name; the
/// row without a source comes last.
pub fn compute(
    leads: &[(Option<String>, Counts)],
    created: &[(Option<String>, Counts)],
    won: &[(Option<String>, Counts)],
    costs: &[(Option<String>, i64)],
) -> (Vec<SourceRow>, SourceRow) {
    fn entry<'a>(
        rows: &'a mut BTreeMap<Option<String>, SourceRow>,
        s: &Option<String>,
    ) -> &'a mut SourceRow {
        let k = key(s.clone());
        rows.entry(k.clone()).or_insert_with(|| SourceRow {
            source: k,
            ..Default::default()
        })
    }
    let mut rows: BTreeMap<Option<String>, SourceRow> = BTreeMap::new();
    for (s, c) in leads {
        let r = entry(&mut rows, s);
        r.leads += c.n;
        r.converted_leads += c.won;
    }
    for (s, c) in created {
        let r = entry(&mut rows, s);
        r.deals += c.n;
        r.deals_won += c.won;
    }
    for (s, c) in won {
        let r = entry(&mut rows, s);
        r.won += c.n;
        r.won_amount += c.amount;
    }
    for (s, amount) in costs {
        entry(&mut rows, s).cost += amount;
    }
    let mut total = SourceRow::default();
    let mut out: Vec<SourceRow> = rows
        .into_values()
        .map(|r| {
            total.leads += r.leads;
            total.converted_leads += r.converted_leads;
            total.deals += r.deals;
            total.deals_won += r.deals_won;
            total.won += r.won;
            total.won_amount += r.won_amount;
            total.cost += r.cost;
            finish(r)
        })
        .collect();
    out.sort_by(|a, b| {
        a.source
            .is_none()
            .cmp(&b.source.is_none())
            .then(b.won_amount.cmp(&a.won_amount))
            .then(b.deals.cmp(&a.deals))
            .then(b.leads.cmp(&a.leads))
            .then(a.source.cmp(&b.source))
    });
    (out, finish(total))
}

/// The selection's deals of one source, in the filter language: a root deal (no
/// parent) with this source, or a child whose top parent — up to [`LINK_LEVELS`] levels
/// up — has it. Related paths only see parents the reader may read, so a link can show
/// fewer deals than the figure when a parent is someone else's.
pub fn attribution_filter(source: Option<&str>) -> String {
    let test = |path: &str| match source {
        Some(s) => format!(
            "{path}source = \"{}\"",
            s.replace('\\', "\\\\").replace('"', "\\\"")
        ),
        None => format!("{path}source is null"),
    };
    let terms: Vec<String> = (0..=LINK_LEVELS)
        .map(|level| {
            let path = "parent.".repeat(level);
            format!("({path}parent is null and {})", test(&path))
        })
        .collect();
    format!("({})", terms.join(" or "))
}

fn first_of(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap_or(d)
}

pub(crate) fn month_key(d: NaiveDate) -> String {
    format!("{:04}-{:02}", d.year(), d.month())
}

/// The deal figures of one source: created in the period (`created`, `created_won` of
/// them in a won stage now) and won in the period (`won`, `won_amount` in kopecks).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct DealCounts {
    created: i64,
    created_won: i64,
    won: i64,
    won_amount: i64,
}

/// The four per-deal flags every deal is summed by, as 1/0 (the won amount as the
/// amount or 0). Literal 1/0 (not bound values) so that SUM is an integer on PostgreSQL.
const FLAGS: [&str; 4] = ["c", "ck", "w", "wa"];

fn flag(cond: SimpleExpr, then: SimpleExpr) -> SimpleExpr {
    Expr::case(cond, then).finally(Expr::cust("0")).into()
}

/// The sums of the flags, per `source` column given.
fn sum_flags(q: &mut SelectStatement, column: impl Fn(&str) -> Expr) {
    for f in FLAGS {
        let sum = Func::sum(column(f));
        if f == "wa" {
            q.expr_as(Func::cast_as(sum, Alias::new("BIGINT")), Alias::new(f));
        } else {
            q.expr_as(sum, Alias::new(f));
        }
    }
}

fn read_deal_counts(rows: Vec<crate::db::Row>) -> Result<Vec<(Option<String>, DealCounts)>> {
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push((
            r.text("source")?,
            DealCounts {
                created: r.i64("c")?.unwrap_or(0),
                created_won: r.i64("ck")?.unwrap_or(0),
                won: r.i64("w")?.unwrap_or(0),
                won_amount: r.i64("wa")?.unwrap_or(0),
            },
        ));
    }
    Ok(out)
}

/// A period condition on a deal timestamp column; `1 = 1` without a period.
fn period_on(params: &ReportParams, column: &str) -> SimpleExpr {
    let (from, to) = params.instants();
    let mut cond = Cond::all();
    if let Some(from) = from {
        cond = cond.add(col(column).gte(ts_value(from)));
    }
    if let Some(to) = to {
        cond = cond.add(col(column).lt(ts_value(to)));
    }
    if cond.is_empty() {
        Expr::cust("1 = 1")
    } else {
        cond.into()
    }
}

/// The deals of the selection (`base`, no period) created in the period or won in it,
/// by attributed source, in one pass over the deals: root deals by their own source,
/// child deals by their top parent's.
async fn deals_by_source(
    tx: &mut Tx,
    base: Cond,
    created_in: SimpleExpr,
    won_in: SimpleExpr,
    won_stages: &[i64],
) -> Result<Vec<(Option<String>, DealCounts)>> {
    let a = Alias::new;
    let is_won: SimpleExpr = col("stage_id").is_in(won_stages.to_vec());
    let won_in = Cond::all().add(won_in).add(is_won.clone());
    let flags = [
        flag(created_in.clone(), Expr::cust("1")),
        flag(
            Cond::all().add(created_in.clone()).add(is_won).into(),
            Expr::cust("1"),
        ),
        flag(won_in.clone().into(), Expr::cust("1")),
        flag(
            won_in.clone().into(),
            Func::coalesce([Expr::col(a("amount")).into(), Expr::cust("0")]).into(),
        ),
    ];
    let wanted = base.add(Cond::any().add(created_in).add(won_in));

    // Root deals: their own source. The flags are summed directly, each also requiring
    // no parent — kept out of the WHERE so that the planner can use the indexes on the
    // two dates (`parent_id IS NULL` looks selective to it and is not). Sources of child
    // deals alone come out as rows of zeros, dropped below.
    let root = |e: &SimpleExpr| -> SimpleExpr {
        Expr::case(col("parent_id").is_not_null(), Expr::cust("0"))
            .finally(e.clone())
            .into()
    };
    let mut roots = Query::select();
    roots
        .column(a("source"))
        .from(a("deals"))
        .cond_where(wanted.clone())
        .group_by_col(a("source"));
    for (f, e) in FLAGS.iter().zip(flags.iter()) {
        let sum = Func::sum(root(e));
        if *f == "wa" {
            roots.expr_as(Func::cast_as(sum, a("BIGINT")), a(f));
        } else {
            roots.expr_as(sum, a(f));
        }
    }
    let mut out: Vec<(Option<String>, DealCounts)> = read_deal_counts(tx.fetch_all(&roots).await?)?
        .into_iter()
        .filter(|(_, c)| *c != DealCounts::default())
        .collect();

    // Child deals climb their parent chain carrying their flags: each step replaces
    // `cur` by the parent's parent and `src` by the parent's source; the top is where
    // there is no parent.
    let (up, p, p2) = (a("up"), a("p"), a("p2"));
    let mut seed = Query::select();
    seed.column(a("id"))
        .expr_as(Expr::col(a("parent_id")), a("cur"))
        .expr_as(Expr::col(a("source")), a("src"));
    for (f, e) in FLAGS.iter().zip(flags) {
        seed.expr_as(e, a(f));
    }
    seed.expr_as(Expr::cust("0"), a("depth"))
        .from(a("deals"))
        // `> 0` (ids are positive) rather than IS NOT NULL: SQLite then reads the few
        // child deals through `deals_parent_idx` instead of scanning every deal.
        .cond_where(wanted.add(col("parent_id").gt(0)));
    let mut step = Query::select();
    step.expr(Expr::col((up.clone(), a("id"))))
        .expr(Expr::col((p.clone(), a("parent_id"))))
        .expr(Expr::col((p.clone(), a("source"))));
    for f in FLAGS {
        step.expr(Expr::col((up.clone(), a(f))));
    }
    step.expr(Expr::col((up.clone(), a("depth"))).add(Expr::cust("1")))
        .from(up.clone())
        .join_as(
            JoinType::InnerJoin,
            a("deals"),
            p.clone(),
            Expr::col((p.clone(), a("id"))).equals((up.clone(), a("cur"))),
        )
        .and_where(Expr::col((up.clone(), a("depth"))).lt(Expr::cust(MAX_CHAIN.to_string())));
    seed.union(UnionType::All, step);
    let mut columns = vec![a("id"), a("cur"), a("src")];
    columns.extend(FLAGS.map(a));
    columns.push(a("depth"));
    let cte = CommonTableExpression::new()
        .query(seed)
        .columns(columns)
        .table_name(up.clone())
        .to_owned();
    let has_parent = Query::select()
        .expr(Expr::cust("1"))
        .from_as(a("deals"), p2.clone())
        .and_where(Expr::col((p2.clone(), a("id"))).equals((up.clone(), a("cur"))))
        .to_owned();
    let at_top = Cond::any()
        .add(Expr::exists(has_parent).not())
        .add(Expr::col((up.clone(), a("depth"))).gte(Expr::cust(MAX_CHAIN.to_string())));
    let mut top = Query::select();
    top.expr_as(Expr::col((up.clone(), a("src"))), a("source"))
        .from(up.clone())
        .cond_where(at_top)
        .group_by_col((up.clone(), a("src")));
    sum_flags(&mut top, |f| Expr::col((up.clone(), Alias::new(f))));
    let q = top.with(WithClause::new().recursive(true).cte(cte).to_owned());
    out.extend(read_deal_counts(tx.fetch_all(&q).await?)?);
    Ok(out)
}

fn read_counts(rows: Vec<crate::db::Row>) -> Result<Vec<(Option<String>, Counts)>> {
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push((
            r.text("source")?,
            Counts {
                n: r.i64("n")?.unwrap_or(0),
                won: r.i64("won")?.unwrap_or(0),
                amount: r.i64("amount")?.unwrap_or(0),
            },
        ));
    }
    Ok(out)
}

/// Leads created in the period by source (`n`), and how many of them were converted
/// into a deal (`won`).
async fn leads_by_source(
    store: &Store,
    tx: &mut Tx,
    actor: &Actor,
    params: &ReportParams,
) -> Result<Vec<(Option<String>, Counts)>> {
    let customs = store.custom_lookup().await?;
    let ctx = QueryCtx {
        backend: store.backend(),
        actor,
        custom: &customs,
    };
    let mut cond = ctx
        .conditions(Entity::Lead, Action::Read, &ListParams::default())?
        .add(super::owner_condition(tx, params).await?);
    let (from, to) = params.instants();
    if let Some(from) = from {
        cond = cond.add(col("created_at").gte(ts_value(from)));
    }
    if let Some(to) = to {
        cond = cond.add(col("created_at").lt(ts_value(to)));
    }
    let converted =
        Expr::case(col("deal_id").is_not_null(), Expr::cust("1")).finally(Expr::cust("0"));
    let q = Query::select()
        .column(Alias::new("source"))
        .expr_as(Func::count(Expr::cust("*")), Alias::new("n"))
        .expr_as(Func::sum(converted), Alias::new("won"))
        .expr_as(Expr::cust("CAST(0 AS BIGINT)"), Alias::new("amount"))
        .from(Alias::new("leads"))
        .cond_where(cond)
        .group_by_col(Alias::new("source"))
        .to_owned();
    read_counts(tx.fetch_all(&q).await?)
}

/// The months whose costs a period counts: every month it touches.
fn cost_span(params: &ReportParams) -> (Option<NaiveDate>, Option<NaiveDate>) {
    (
        params.period_from.map(first_of),
        params.period_to.map(first_of),
    )
}

impl Store {
    pub async fn report_sources(
        &self,
        actor: &Actor,
        params: &ReportParams,
    ) -> Result<SourcesReport> {
        params.validate()?;
        let mut tx = self.pool().begin().await?;
        let stages = all_stages(&mut tx).await?;
        let won_stages = stages_of_kind(&stages, &["won"]);
        let leads = leads_by_source(self, &mut tx, actor, params).await?;
        let base = deal_condition(self, &mut tx, actor, params, PeriodOn::None).await?;
        let deals = deals_by_source(
            &mut tx,
            base,
            period_on(params, "created_at"),
            period_on(params, "closed_at"),
            &won_stages,
        )
        .await?;
        let created: Vec<(Option<String>, Counts)> = deals
            .iter()
            .map(|(s, d)| {
                let c = Counts {
                    n: d.created,
                    won: d.created_won,
                    amount: 0,
                };
                (s.clone(), c)
            })
            .collect();
        let won: Vec<(Option<String>, Counts)> = deals
            .into_iter()
            .map(|(s, d)| {
                let c = Counts {
                    n: d.won,
                    won: d.won,
                    amount: d.won_amount,
                };
                (s, c)
            })
            .collect();
        let (cost_from, cost_to) = cost_span(params);
        let mut q = Query::select()
            .column(Alias::new("source"))
            .expr_as(
                Func::cast_as(
                    Func::sum(Expr::col(Alias::new("amount"))),
                    Alias::new("BIGINT"),
                ),
                Alias::new("amount"),
            )
            .from(Alias::new("source_costs"))
            .group_by_col(Alias::new("source"))
            .to_owned();
        if let Some(from) = cost_from {
            q.and_where(col("month").gte(from));
        }
        if let Some(to) = cost_to {
            q.and_where(col("month").lte(to));
        }
        let mut costs = Vec::new();
        for r in tx.fetch_all(&q).await? {
            costs.push((r.text("source")?, r.i64("amount")?.unwrap_or(0)));
        }
        tx.commit().await?;
        let (rows, total) = compute(&leads, &created, &won, &costs);
        Ok(SourcesReport {
            cost_from: cost_from.map(month_key),
            cost_to: cost_to.map(month_key),
            rows,
            total,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(n: i64, won: i64, amount: i64) -> Counts {
        Counts { n, won, amount }
    }

    #[test]
    fn rows_ratios_and_romi() {
        let s = |x: &str| Some(x.to_string());
        let (rows, total) = compute(
            &[
                (s("Сайт"), c(10, 4, 0)),
                (None, c(2, 0, 0)),
                (s(" "), c(1, 0, 0)),
            ],
            &[(s("Сайт"), c(4, 1, 0)), (s("Сайт"), c(1, 1, 0))],
            &[(s("Сайт"), c(2, 2, 300_000))],
            &[(s("Сайт"), 100_000), (s("Выставка"), 50_000)],
        );
        assert_eq!(rows.len(), 3);
        let site = &rows[0];
        assert_eq!(site.source.as_deref(), Some("Сайт"));
        // 4 of 10 leads converted; 2 of 5 deals won; 1000 ₽ / 10 leads = 100 ₽;
        // 1000 ₽ / 2 won = 500 ₽; (3000 − 1000) / 1000 = 200 %.
        assert_eq!(
            (site.lead_conversion, site.deal_conversion),
            (Some(0.4), Some(0.4))
        );
        assert_eq!(
            (site.cost_per_lead, site.cost_per_won),
            (Some(10_000), Some(50_000))
        );
        assert_eq!(site.romi, Some(200.0));
        // A source that only cost money: −100 %; no leads, no cost per lead.
        assert_eq!(rows[1].source.as_deref(), Some("Выставка"));
        assert_eq!((rows[1].romi, rows[1].cost_per_lead), (Some(-100.0), None));
        // Blank and missing sources are one row, last.
        assert_eq!((rows[2].source.clone(), rows[2].leads), (None, 3));
        assert_eq!(rows[2].romi, None);
        assert_eq!((total.leads, total.deals, total.cost), (13, 5, 150_000));
        // (3000 − 1500) / 1500 = 100 %.
        assert_eq!(total.romi, Some(100.0));
        assert_eq!(romi(1, 3), Some(-66.7));
    }

    #[test]
    fn links_follow_the_parent_chain() {
        assert_eq!(
            attribution_filter(Some("Сайт \"Б\"")),
            "((parent is null and source = \"Сайт \\\"Б\\\"\") or \
             (parent.parent is null and parent.source = \"Сайт \\\"Б\\\"\") or \
             (parent.parent.parent is null and parent.parent.source = \"Сайт \\\"Б\\\"\"))"
        );
        assert!(attribution_filter(None).contains("(parent is null and source is null)"));
        for f in [attribution_filter(Some("x")), attribution_filter(None)] {
            assert!(plotina_core::filter::parse(&f).is_ok(), "{f}");
        }
    }
}
