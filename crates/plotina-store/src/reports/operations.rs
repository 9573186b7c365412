//! Two operational reports mainstream CRMs do not give:
//!
//! - **Deals by client industry**: the selected deals (created in the period) grouped by
//!   their company's industry — count, open, won and lost with amounts, win rate. Deals
//!   without a company or whose company has no industry form their own rows.
//! - **Overdue by contractor**: child deals (the work of other departments on a sale:
//!   logistics, engineering, supply) still open past their expected close date, grouped
//!   by the child's owner — who holds up whose sale — with the parent of each.

use std::collections::{BTreeMap, HashMap};

use plotina_core::policy::Actor;
use sea_query::{Alias, Expr, JoinType, Order, Query};
use serde::Serialize;

use super::stats::ratio;
use super::{all_stages, deal_condition, stages_of_kind, PeriodOn, ReportParams};
use crate::error::Result;
use crate::filter_sql::col;
use crate::store::Store;

/// Rows of an `IN (…)` list per query.
const IN_CHUNK: usize = 500;
/// At most this many overdue child deals are listed per owner (counts are exact).
const LIST_PER_OWNER: usize = 50;

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct IndustryRow {
    /// `None`: no company, or a company without an industry.
    pub industry: Option<String>,
    pub without_company: bool,
    pub deals: i64,
    pub open: i64,
    /// Kopecks.
    pub open_amount: i64,
    pub won: i64,
    pub won_amount: i64,
    pub lost: i64,
    pub win_rate: Option<f64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OverdueChild {
    pub id: i64,
    pub title: String,
    pub pipeline_id: i64,
    pub close_date: String,
    pub days_late: i64,
    pub parent_id: i64,
    pub parent_title: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ContractorRow {
    pub owner_id: Option<i64>,
    pub overdue: i64,
    pub max_days_late: i64,
    pub deals: Vec<OverdueChild>,
}

impl Store {
    pub async fn report_by_industry(
        &self,
        actor: &Actor,
        params: &ReportParams,
    ) -> Result<Vec<IndustryRow>> {
        let mut tx = self.pool().begin().await?;
        let stages = all_stages(&mut tx).await?;
        let cond = deal_condition(self, &mut tx, actor, params, PeriodOn::CreatedAt).await?;
        // Deals are summed per company first (one row per client instead of one per
        // deal), then per industry through the company; a stage not found counts as open.
        // `-1` for no stage of a kind: ids are positive, and `NOT IN (NULL)` would be
        // unknown instead of true.
        let list = |ids: Vec<i64>| {
            if ids.is_empty() {
                "-1".to_string()
            } else {
                ids.iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        let won = list(stages_of_kind(&stages, &["won"]));
        let lost = list(stages_of_kind(&stages, &["lost"]));
        let count_if = |test: &str| format!("COALESCE(SUM(CASE WHEN {test} THEN 1 ELSE 0 END), 0)");
        let sum_if = |test: &str| {
            format!("COALESCE(SUM(CASE WHEN {test} THEN COALESCE(amount, 0) ELSE 0 END), 0)")
        };
        let open_test = format!("stage_id NOT IN ({won}) AND stage_id NOT IN ({lost})");
        let won_test = format!("stage_id IN ({won})");
        let lost_test = format!("stage_id IN ({lost})");
        // Grouped by `+company_id`: through `deals_company_idx` SQLite would visit every
        // deal's row in company order (5 s on the medium set); so it reads the report
        // index whole (covering, or a seek for one owner) and sorts instead (3 s).
        let per_company = Query::select()
            .expr_as(Expr::cust("+company_id"), Alias::new("company_id"))
            .expr_as(Expr::cust("COUNT(*)"), Alias::new("deals"))
            .expr_as(Expr::cust(count_if(&open_test)), Alias::new("open"))
            .expr_as(Expr::cust(sum_if(&open_test)), Alias::new("open_amount"))
            .expr_as(Expr::cust(count_if(&won_test)), Alias::new("won"))
            .expr_as(Expr::cust(sum_if(&won_test)), Alias::new("won_amount"))
            .expr_as(Expr::cust(count_if(&lost_test)), Alias::new("lost"))
            .from(Alias::new("deals"))
            .cond_where(cond)
            .add_group_by([Expr::cust("+company_id")])
            .to_owned();
        // The industry is a fact about the client, read whatever the actor's company
        // scope: the figures are about the actor's own deals.
        let total = |c: &str| Expr::cust(format!("CAST(SUM(d.{c}) AS BIGINT)"));
        let no_company = "CASE WHEN d.company_id IS NULL THEN 1 ELSE 0 END";
        let mut q = Query::select()
            .expr_as(Expr::cust("c.industry"), Alias::new("industry"))
            .expr_as(
                Expr::cust(format!("CAST({no_company} AS BIGINT)")),
                Alias::new("no_company"),
            )
            .from_subquery(per_company, Alias::new("d"))
            .join_as(
                JoinType::LeftJoin,
                Alias::new("companies"),
                Alias::new("c"),
                Expr::cust("c.id = d.company_id"),
            )
            .add_group_by([Expr::cust("c.industry"), Expr::cust(no_company)])
            .to_owned();
        for c in ["deals", "open", "open_amount", "won", "won_amount", "lost"] {
            q.expr_as(total(c), Alias::new(c));
        }
        let totals = tx.fetch_all(&q).await?;
        tx.commit().await?;
        let mut rows: BTreeMap<(bool, Option<String>), IndustryRow> = BTreeMap::new();
        for r in totals {
            let without_company = r.i64("no_company")? == Some(1);
            let ind = r
                .text("industry")?
                .filter(|s| !without_company && !s.trim().is_empty());
            let row = rows
                .entry((without_company, ind.clone()))
                .or_insert_with(|| IndustryRow {
                    industry: ind,
                    without_company,
                    ..Default::default()
                });
            let n = |c: &str| r.i64(c).map(Option::unwrap_or_default);
            row.deals += n("deals")?;
            row.open += n("open")?;
            row.open_amount += n("open_amount")?;
            row.won += n("won")?;
            row.won_amount += n("won_amount")?;
            row.lost += n("lost")?;
        }
        let mut out: Vec<IndustryRow> = rows
            .into_values()
            .map(|mut r| {
                r.win_rate = ratio(r.won, r.won + r.lost);
                r
            })
            .collect();
        out.sort_by(|a, b| {
            b.won_amount
                .cmp(&a.won_amount)
                .then(b.deals.cmp(&a.deals))
                .then(a.industry.cmp(&b.industry))
        });
        Ok(out)
    }

    pub async fn report_overdue_children(
        &self,
        actor: &Actor,
        params: &ReportParams,
    ) -> Result<Vec<ContractorRow>> {
        let today = actor.today();
        let mut tx = self.pool().begin().await?;
        let stages = all_stages(&mut tx).await?;
        let open = stages_of_kind(&stages, &["open"]);
        let cond = deal_condition(self, &mut tx, actor, params, PeriodOn::None)
            .await?
            .add(col("parent_id").is_not_null())
            .add(col("stage_id").is_in(open))
            .add(col("close_date").lt(today));
        let q = Query::select()
            .columns(
                [
                    "id",
                    "title",
                    "owner_id",
                    "pipeline_id",
                    "close_date",
                    "parent_id",
                ]
                .map(Alias::new),
            )
            .from(Alias::new("deals"))
            .cond_where(cond)
            .order_by(Alias::new("close_date"), Order::Asc)
            .order_by(Alias::new("id"), Order::Asc)
            .to_owned();
        let rows = tx.fetch_all(&q).await?;
        let mut parent_ids: Vec<i64> = rows
            .iter()
            .filter_map(|r| r.i64("parent_id").ok().flatten())
            .collect();
        parent_ids.sort_unstable();
        parent_ids.dedup();
        let mut parents = HashMap::new();
        for chunk in parent_ids.chunks(IN_CHUNK) {
            let q = Query::select()
                .columns(["id", "title"].map(Alias::new))
                .from(Alias::new("deals"))
                .and_where(col("id").is_in(chunk.iter().copied()))
                .to_owned();
            for r in tx.fetch_all(&q).await? {
                parents.insert(
                    r.i64("id")?.unwrap_or_default(),
                    r.text("title")?.unwrap_or_default(),
                );
            }
        }
        tx.commit().await?;
        let mut by_owner: BTreeMap<Option<i64>, ContractorRow> = BTreeMap::new();
        for r in rows {
            let Some(date) = r.date("close_date")? else {
                continue;
            };
            let owner = r.i64("owner_id")?;
            let parent_id = r.i64("parent_id")?.unwrap_or_default();
            let days_late = (today - date).num_days();
            let row = by_owner.entry(owner).or_insert_with(|| ContractorRow {
                owner_id: owner,
                overdue: 0,
                max_days_late: 0,
                deals: Vec::new(),
            });
            row.overdue += 1;
            row.max_days_late = row.max_days_late.max(days_late);
            if row.deals.len() < LIST_PER_OWNER {
                row.deals.push(OverdueChild {
                    id: r.i64("id")?.unwrap_or_default(),
                    title: r.text("title")?.unwrap_or_default(),
                    pipeline_id: r.i64("pipeline_id")?.unwrap_or_default(),
                    close_date: date.to_string(),
                    days_late,
                    parent_id,
                    parent_title: parents.get(&parent_id).cloned().unwrap_or_default(),
                });
            }
        }
        let mut out: Vec<ContractorRow> = by_owner.into_values().collect();
        out.sort_by(|a, b| b.overdue.cmp(&a.overdue).then(a.owner_id.cmp(&b.owner_id)));
        Ok(out)
    }
}
