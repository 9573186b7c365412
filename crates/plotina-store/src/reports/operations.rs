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
use sea_query::{Alias, Order, Query};
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
        let q = Query::select()
            .columns(["company_id", "stage_id", "amount"].map(Alias::new))
            .from(Alias::new("deals"))
            .cond_where(cond)
            .to_owned();
        let deals = tx.fetch_all(&q).await?;
        let mut company_ids: Vec<i64> = deals
            .iter()
            .filter_map(|r| r.i64("company_id").ok().flatten())
            .collect();
        company_ids.sort_unstable();
        company_ids.dedup();
        // The industry is a fact about the client, read whatever the actor's company
        // scope: the figures are about the actor's own deals.
        let mut industry: HashMap<i64, Option<String>> = HashMap::new();
        for chunk in company_ids.chunks(IN_CHUNK) {
            let q = Query::select()
                .columns(["id", "industry"].map(Alias::new))
                .from(Alias::new("companies"))
                .and_where(col("id").is_in(chunk.iter().copied()))
                .to_owned();
            for r in tx.fetch_all(&q).await? {
                industry.insert(
                    r.i64("id")?.unwrap_or_default(),
                    r.text("industry")?.filter(|s| !s.trim().is_empty()),
                );
            }
        }
        tx.commit().await?;
        let mut rows: BTreeMap<(bool, Option<String>), IndustryRow> = BTreeMap::new();
        for r in deals {
            let company = r.i64("company_id")?;
            let ind = company.and_then(|c| industry.get(&c).cloned().flatten());
            let key = (company.is_none(), ind.clone());
            let row = rows.entry(key).or_insert_with(|| IndustryRow {
                industry: ind,
                without_company: company.is_none(),
                ..Default::default()
            });
            let amount = r.i64("amount")?.unwrap_or(0);
            row.deals += 1;
            let kind = r
                .i64("stage_id")?
                .and_then(|s| stages.get(&s))
                .map(|s| s.kind.as_str())
                .unwrap_or("open");
            match kind {
                "won" => {
                    row.won += 1;
                    row.won_amount += amount;
                }
                "lost" => row.lost += 1,
                _ => {
                    row.open += 1;
                    row.open_amount += amount;
                }
            }
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
