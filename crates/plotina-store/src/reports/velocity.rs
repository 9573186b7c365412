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
use sea_query::{Alias, Expr as SqlExpr, Query};
use serde::Serialize;

use super::{all_stages, deal_condition, id_list, render, stages_of_kind, PeriodOn};
use super::{ReportParams, StageInfo};
use crate::db::Backend;
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

/// Closed deals by whole days of their cycle: days → how many.
type Counts = BTreeMap<i64, i64>;

/// The nearest-rank percentile of counted values (the same rank `ceil(p/100 · n)` as
/// `stats::percentile`, walked over the counts in order).
fn counted_percentile(counts: &Counts, p: i64) -> Option<i64> {
    let n: i64 = counts.values().sum();
    if n == 0 {
        return None;
    }
    let rank = ((p * n + 99) / 100).max(1);
    let mut seen = 0;
    for (days, k) in counts {
        seen += k;
        if seen >= rank {
            return Some(*days);
        }
    }
    None
}

impl Cycle {
    #[cfg(test)]
    fn of(days: &[i64]) -> Cycle {
        let mut counts = Counts::new();
        for d in days {
            *counts.entry(*d).or_default() += 1;
        }
        Cycle::of_counts(&counts)
    }

    fn of_counts(counts: &Counts) -> Cycle {
        let count: i64 = counts.values().sum();
        let total: i64 = counts.iter().map(|(d, k)| d * k).sum();
        Cycle {
            count,
            median_days: counted_percentile(counts, 50),
            p90_days: counted_percentile(counts, 90),
            avg_days: (count > 0).then(|| {
                let avg = total as f64 / count as f64;
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

fn buckets(won: &Counts, lost: &Counts) -> Vec<Bucket> {
    let mut out = Vec::new();
    let mut from = 0;
    for upper in BUCKETS.iter().copied().map(Some).chain([None]) {
        let inside = |c: &Counts| -> i64 {
            c.iter()
                .filter(|(d, _)| **d >= from && upper.is_none_or(|u| **d <= u))
                .map(|(_, k)| k)
                .sum()
        };
        out.push(Bucket {
            from_days: from,
            to_days: upper,
            won: inside(won),
            lost: inside(lost),
        });
        from = upper.map(|u| u + 1).unwrap_or(from);
    }
    out
}

/// An instant written into SQL as a literal of the engine (it is formatted here, never
/// taken from input).
fn instant_sql(backend: Backend, t: DateTime<Utc>) -> String {
    let text = plotina_core::value::format_datetime(t);
    match backend {
        Backend::Sqlite => format!("'{text}'"),
        Backend::Postgres => format!("CAST('{text}' AS TIMESTAMPTZ)"),
    }
}

/// Whole days from `from` to `to` (SQL expressions), never below zero: the number of
/// whole 24-hour spans, as `chrono`'s `num_days` counts them. SQLite keeps timestamps as
/// text: the difference is taken in milliseconds (timestamps are stored to the
/// millisecond; `julianday` is exact to well under one).
fn days_sql(backend: Backend, from: &str, to: &str) -> String {
    match backend {
        Backend::Sqlite => format!(
            "(MAX(CAST(ROUND((julianday({to}) - julianday({from})) * 86400000) AS INTEGER), 0) \
             / 86400000)"
        ),
        // Not GREATEST: it skips NULL, and an unknown start must stay unknown.
        Backend::Postgres => format!(
            "CAST(CASE WHEN {to} < {from} THEN 0 \
               ELSE FLOOR(EXTRACT(EPOCH FROM ({to} - {from})) / 86400) END AS BIGINT)"
        ),
    }
}

/// The stuck deals of a statement that yields `id`, `title`, `owner_id`, `stage_id`,
/// `days`, `limit_days` and `total` (all of them, counted before the limit), longest
/// first.
fn stuck(
    rows: Vec<crate::db::Row>,
    stages: &HashMap<i64, StageInfo>,
) -> Result<(i64, Vec<StuckDeal>)> {
    let mut total = 0;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        total = r.i64("total")?.unwrap_or(0);
        let stage_id = r.i64("stage_id")?.unwrap_or_default();
        out.push(StuckDeal {
            id: r.i64("id")?.unwrap_or_default(),
            title: r.text("title")?.unwrap_or_default(),
            owner_id: r.i64("owner_id")?,
            stage_id,
            stage: stages
                .get(&stage_id)
                .map(|s| s.name.clone())
                .unwrap_or_default(),
            days: r.i64("days")?.unwrap_or_default(),
            limit_days: r.i64("limit_days")?.unwrap_or_default(),
        });
    }
    Ok((total, out))
}

impl Store {
    /// The velocity report, counted in SQL: cycle lengths come back grouped by owner,
    /// outcome and whole days; the stale and forgotten deals as their totals and the
    /// first [`LIST_LIMIT`], longest first.
    pub async fn report_velocity(
        &self,
        actor: &Actor,
        params: &ReportParams,
        idle_days: u32,
    ) -> Result<Velocity> {
        let now = plotina_core::value::now();
        let b = self.backend();
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
        let (closed, values) = render(b, &q);
        let sql = format!(
            "SELECT owner_id, CAST(CASE WHEN stage_id IN {won} THEN 1 ELSE 0 END AS BIGINT) \
               AS won, {days} AS days, COUNT(*) AS n \
             FROM ({closed}) closed WHERE {days} IS NOT NULL GROUP BY owner_id, won, days",
            won = id_list(of_kind(&["won"])),
            days = days_sql(b, "created_at", "closed_at"),
        );
        let (mut won, mut lost) = (Counts::new(), Counts::new());
        let mut per_owner: BTreeMap<Option<i64>, (Counts, Counts)> = BTreeMap::new();
        for r in tx.fetch_all_sql(&sql, values).await? {
            let (Some(days), n) = (r.i64("days")?, r.i64("n")?.unwrap_or(0)) else {
                continue;
            };
            let entry = per_owner.entry(r.i64("owner_id")?).or_default();
            let (all, mine) = if r.i64("won")? == Some(1) {
                (&mut won, &mut entry.0)
            } else {
                (&mut lost, &mut entry.1)
            };
            *all.entry(days).or_default() += n;
            *mine.entry(days).or_default() += n;
        }

        // Open deals: stale and forgotten.
        let open = deal_condition(self, &mut tx, actor, params, PeriodOn::None)
            .await?
            .add(col("stage_id").is_in(of_kind(&["open"])));
        let rotten: Vec<(i64, i64)> = stages
            .values()
            .filter(|s| s.kind == "open")
            .filter_map(|s| s.rotten_days.filter(|d| *d > 0).map(|d| (s.id, d)))
            .collect();
        let (mut stale_total, mut stale) = (0, Vec::new());
        if !rotten.is_empty() {
            let q = Query::select()
                .expr(SqlExpr::cust("*"))
                .from(Alias::new("deals"))
                .cond_where(open.clone())
                .and_where(col("stage_id").is_in(rotten.iter().map(|r| r.0)))
                .to_owned();
            let (open_sql, values) = render(b, &q);
            let limits: String = rotten
                .iter()
                .map(|(id, d)| format!(" WHEN {id} THEN {d}"))
                .collect();
            let sql = format!(
                "SELECT id, title, owner_id, stage_id, days, limit_days, \
                   COUNT(*) OVER () AS total FROM \
                   (SELECT id, title, owner_id, stage_id, \
                      {days} AS days, CAST(CASE stage_id{limits} END AS BIGINT) AS limit_days \
                    FROM ({open_sql}) open_deals) stale \
                 WHERE days > limit_days ORDER BY days DESC, id ASC LIMIT {LIST_LIMIT}",
                days = days_sql(
                    b,
                    "COALESCE(stage_changed_at, created_at)",
                    &instant_sql(b, now)
                ),
            );
            (stale_total, stale) = stuck(tx.fetch_all_sql(&sql, values).await?, &stages)?;
        }

        let q = Query::select()
            .expr(SqlExpr::cust("*"))
            .from(Alias::new("deals"))
            .cond_where(open)
            .to_owned();
        let (open_sql, values) = render(b, &q);
        let now_sql = instant_sql(b, now);
        let touch = "(SELECT MAX(a.updated_at) FROM activities a \
                      WHERE a.deal_id = open_deals.id AND a.deleted_at IS NULL)";
        let since_touch = days_sql(b, touch, &now_sql);
        let since_created = days_sql(b, "open_deals.created_at", &now_sql);
        // Idle since the later of the last touch and creation: the fewer whole days.
        let idle = match b {
            Backend::Sqlite => {
                format!("MIN(COALESCE({since_touch}, {since_created}), {since_created})")
            }
            Backend::Postgres => format!("LEAST({since_touch}, {since_created})"),
        };
        let sql = format!(
            "SELECT id, title, owner_id, stage_id, days, \
               CAST({idle_days} AS BIGINT) AS limit_days, COUNT(*) OVER () AS total FROM \
               (SELECT id, title, owner_id, stage_id, {idle} AS days \
                FROM ({open_sql}) open_deals) idle \
             WHERE days >= {idle_days} ORDER BY days DESC, id ASC LIMIT {LIST_LIMIT}"
        );
        let (forgotten_total, forgotten) = stuck(tx.fetch_all_sql(&sql, values).await?, &stages)?;
        tx.commit().await?;

        Ok(Velocity {
            idle_days,
            buckets: buckets(&won, &lost),
            won: Cycle::of_counts(&won),
            lost: Cycle::of_counts(&lost),
            owners: per_owner
                .into_iter()
                .map(|(owner_id, (w, l))| OwnerVelocity {
                    owner_id,
                    won: Cycle::of_counts(&w),
                    lost: Cycle::of_counts(&l),
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
        let counts = |days: &[i64]| {
            let mut c = Counts::new();
            for d in days {
                *c.entry(*d).or_default() += 1;
            }
            c
        };
        let b = buckets(&counts(&[0, 7, 8, 91]), &counts(&[30]));
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
