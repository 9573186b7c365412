//! Velocity and stagnation: how long a sale takes, and which open deals are stuck.
//!
//! - **Cycle length** of deals closed in the period (won and lost apart): whole days from
//!   creation to closing; median and p90 by nearest rank (see `stats`), the mean, a
//!   histogram in buckets, and the same per owner.
//! - **Stale** open deals: longer in their current stage than the stage's rotten days
//!   (time in stage counts from the last stage change, or from creation).
//! - **Forgotten** open deals: no activity created or changed on the deal for
//!   `idle_days` days (a deal without activities counts from its creation).
//!
//! The period applies to the closing date of the cycle figures only; stale and
//! forgotten are about today. Owner, department, pipelines, the filter language and the
//! actor's read scope apply to all of it.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use plotina_core::policy::Actor;
use sea_query::{Alias, Expr as SqlExpr, Order, Query};
use serde::Serialize;

use super::stats::percentile;
use super::{all_stages, deal_condition, stages_of_kind, PeriodOn, ReportParams};
use crate::error::Result;
use crate::filter_sql::col;
use crate::store::Store;

pub const DEFAULT_IDLE_DAYS: u32 = 14;
/// At most this many stale and forgotten deals are listed (the totals are exact).
pub const LIST_LIMIT: usize = 200;
/// Upper ends (days, included) of the histogram buckets; the last bucket is open.
const BUCKETS: [i64; 5] = [7, 14, 30, 60, 90];

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Cycle {
    pub count: i64,
    pub median_days: Option<i64>,
    pub p90_days: Option<i64>,
    pub avg_days: Option<f64>,
}

impl Cycle {
    fn of(days: &[i64]) -> Cycle {
        Cycle {
            count: days.len() as i64,
            median_days: percentile(days, 50),
            p90_days: percentile(days, 90),
            avg_days: (!days.is_empty()).then(|| {
                let avg = days.iter().sum::<i64>() as f64 / days.len() as f64;
                (avg * 10.0).round() / 10.0
            }),
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Bucket {
    /// Lower and upper end in days, both included; no upper end for the last.
    pub from_days: i64,
    pub to_days: Option<i64>,
    pub won: i64,
    pub lost: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OwnerVelocity {
    pub owner_id: Option<i64>,
    pub won: Cycle,
    pub lost: Cycle,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StuckDeal {
    pub id: i64,
    pub title: String,
    pub owner_id: Option<i64>,
    pub stage_id: i64,
    pub stage: String,
    /// Stale: days in the current stage; forgotten: days since the last touch.
    pub days: i64,
    /// Stale: the stage's rotten days; forgotten: the idle threshold.
    pub limit_days: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Velocity {
    pub idle_days: u32,
    pub won: Cycle,
    pub lost: Cycle,
    pub buckets: Vec<Bucket>,
    pub owners: Vec<OwnerVelocity>,
    pub stale_total: i64,
    pub stale: Vec<StuckDeal>,
    pub forgotten_total: i64,
    pub forgotten: Vec<StuckDeal>,
}

fn whole_days(from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    (to - from).num_days().max(0)
}

fn buckets(won: &[i64], lost: &[i64]) -> Vec<Bucket> {
    let mut out = Vec::new();
    let mut from = 0;
    for upper in BUCKETS.iter().copied().map(Some).chain([None]) {
        let inside = |d: &&i64| **d >= from && upper.is_none_or(|u| **d <= u);
        out.push(Bucket {
            from_days: from,
            to_days: upper,
            won: won.iter().filter(inside).count() as i64,
            lost: lost.iter().filter(inside).count() as i64,
        });
        from = upper.map(|u| u + 1).unwrap_or(from);
    }
    out
}

/// Sorts the stuck deals longest first and keeps the first [`LIST_LIMIT`].
fn top(mut deals: Vec<StuckDeal>) -> (i64, Vec<StuckDeal>) {
    let total = deals.len() as i64;
    deals.sort_by(|a, b| b.days.cmp(&a.days).then(a.id.cmp(&b.id)));
    deals.truncate(LIST_LIMIT);
    (total, deals)
}

impl Store {
    pub async fn report_velocity(
        &self,
        actor: &Actor,
        params: &ReportParams,
        idle_days: u32,
    ) -> Result<Velocity> {
        let now = plotina_core::value::now();
        let mut tx = self.pool().begin().await?;
        let stages = all_stages(&mut tx).await?;
        let of_kind = |kinds: &[&str]| stages_of_kind(&stages, kinds);

        // Cycle length of the deals closed in the period.
        let closed = deal_condition(self, &mut tx, actor, params, PeriodOn::ClosedAt)
            .await?
            .add(col("stage_id").is_in(of_kind(&["won", "lost"])))
            .add(col("closed_at").is_not_null());
        let q = Query::select()
            .columns(["owner_id", "stage_id", "created_at", "closed_at"].map(Alias::new))
            .from(Alias::new("deals"))
            .cond_where(closed)
            .to_owned();
        let (mut won, mut lost) = (Vec::new(), Vec::new());
        let mut per_owner: BTreeMap<Option<i64>, (Vec<i64>, Vec<i64>)> = BTreeMap::new();
        for r in tx.fetch_all(&q).await? {
            let (Some(created), Some(closed)) =
                (r.datetime("created_at")?, r.datetime("closed_at")?)
            else {
                continue;
            };
            let days = whole_days(created, closed);
            let entry = per_owner.entry(r.i64("owner_id")?).or_default();
            let is_won = r
                .i64("stage_id")?
                .and_then(|s| stages.get(&s))
                .is_some_and(|s| s.kind == "won");
            if is_won {
                won.push(days);
                entry.0.push(days);
            } else {
                lost.push(days);
                entry.1.push(days);
            }
        }

        // Open deals: stale and forgotten.
        let open = deal_condition(self, &mut tx, actor, params, PeriodOn::None)
            .await?
            .add(col("stage_id").is_in(of_kind(&["open"])));
        let q = Query::select()
            .columns(
                [
                    "id",
                    "title",
                    "owner_id",
                    "stage_id",
                    "stage_changed_at",
                    "created_at",
                ]
                .map(Alias::new),
            )
            .from(Alias::new("deals"))
            .cond_where(open.clone())
            .order_by(Alias::new("id"), Order::Asc)
            .to_owned();
        let open_rows = tx.fetch_all(&q).await?;
        let q = Query::select()
            .column(Alias::new("deal_id"))
            .expr_as(SqlExpr::cust("MAX(updated_at)"), Alias::new("last_touch"))
            .from(Alias::new("activities"))
            .and_where(col("deleted_at").is_null())
            .and_where(
                col("deal_id").in_subquery(
                    Query::select()
                        .column(Alias::new("id"))
                        .from(Alias::new("deals"))
                        .cond_where(open)
                        .to_owned(),
                ),
            )
            .group_by_col(Alias::new("deal_id"))
            .to_owned();
        let mut touched = HashMap::new();
        for r in tx.fetch_all(&q).await? {
            if let (Some(id), Some(t)) = (r.i64("deal_id")?, r.datetime("last_touch")?) {
                touched.insert(id, t);
            }
        }
        tx.commit().await?;

        let (mut stale, mut forgotten) = (Vec::new(), Vec::new());
        for r in open_rows {
            let id = r.i64("id")?.unwrap_or_default();
            let stage_id = r.i64("stage_id")?.unwrap_or_default();
            let created = r.datetime("created_at")?.unwrap_or(now);
            let in_stage_since = r.datetime("stage_changed_at")?.unwrap_or(created);
            let stage = stages.get(&stage_id);
            let deal = |days: i64, limit_days: i64| StuckDeal {
                id,
                title: r.text("title").ok().flatten().unwrap_or_default(),
                owner_id: r.i64("owner_id").ok().flatten(),
                stage_id,
                stage: stage.map(|s| s.name.clone()).unwrap_or_default(),
                days,
                limit_days,
            };
            if let Some(rotten) = stage.and_then(|s| s.rotten_days).filter(|d| *d > 0) {
                let days = whole_days(in_stage_since, now);
                if days > rotten {
                    stale.push(deal(days, rotten));
                }
            }
            let last = touched.get(&id).copied().unwrap_or(created).max(created);
            let idle = whole_days(last, now);
            if idle >= i64::from(idle_days) {
                forgotten.push(deal(idle, i64::from(idle_days)));
            }
        }
        let (stale_total, stale) = top(stale);
        let (forgotten_total, forgotten) = top(forgotten);
        Ok(Velocity {
            idle_days,
            buckets: buckets(&won, &lost),
            won: Cycle::of(&won),
            lost: Cycle::of(&lost),
            owners: per_owner
                .into_iter()
                .map(|(owner_id, (w, l))| OwnerVelocity {
                    owner_id,
                    won: Cycle::of(&w),
                    lost: Cycle::of(&l),
                })
                .collect(),
            stale_total,
            stale,
            forgotten_total,
            forgotten,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycle_figures_and_buckets() {
        let c = Cycle::of(&[1, 3, 10, 40, 100]);
        assert_eq!(c.count, 5);
        assert_eq!(c.median_days, Some(10));
        assert_eq!(c.p90_days, Some(100));
        assert_eq!(c.avg_days, Some(30.8));
        assert_eq!(Cycle::of(&[]), Cycle::default());
        let b = buckets(&[0, 7, 8, 91], &[30]);
        let counts: Vec<(i64, Option<i64>, i64, i64)> = b
            .iter()
            .map(|b| (b.from_days, b.to_days, b.won, b.lost))
            .collect();
        assert_eq!(
            counts,
            vec![
                (0, Some(7), 2, 0),
                (8, Some(14), 1, 0),
                (15, Some(30), 0, 1),
                (31, Some(60), 0, 0),
                (61, Some(90), 0, 0),
                (91, None, 1, 0),
            ]
        );
    }
}
