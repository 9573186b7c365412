//! Manager rating: per manager and period the work done (calls and meetings held, tasks
//! done on time and late, open tasks overdue now), the sales (new deals, won count and
//! amount, lost, win rate, average won deal, median cycle) and a composite rating.
//!
//! The composite: each weighted measure is scaled to 0…1 against the best manager of the
//! selection (the most calls scores 1, half as many 0.5; for "fewer is better" measures —
//! late tasks and cycle length — the best is the lowest, scored as best / value), then
//! `rating = 100 × Σ weight × score / Σ weights`. A manager without a value for a measure
//! (no won deal, so no cycle) scores 0 on it. The weights are set by the head of sales
//! and stored in `app_settings` under `rating_weights`; every row carries its scores so
//! the page can show how the rating was made.
//!
//! Activities count for their assignee (else their owner), by `done_at` in the period;
//! deals for their owner: created in the period (new), closed in the period (won, lost).

use std::collections::{BTreeMap, HashMap, HashSet};

use plotina_core::error::{DomainError, FieldError};
use plotina_core::policy::{Action, Actor, Scope};
use plotina_core::schema::Entity;
use sea_query::{Alias, Expr, Query};
use serde::{Deserialize, Serialize};

use super::stats::ratio;
use super::{all_stages, deal_condition, stages_of_kind, ts_value, PeriodOn, ReportParams};
use crate::db::Backend;
use crate::error::{fail, Result};
use crate::filter_sql::col;
use crate::listing::{ListParams, QueryCtx};
use crate::store::Store;

/// The measures a weight can be put on, with whether more is better.
pub const MEASURES: [(&str, bool); 9] = [
    ("calls", true),
    ("meetings", true),
    ("tasks_on_time", true),
    ("tasks_late", false),
    ("new_deals", true),
    ("won_count", true),
    ("won_amount", true),
    ("win_rate", true),
    ("cycle_days", false),
];

/// Weights per measure (0–100), in the order of [`MEASURES`] by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Weights(pub BTreeMap<String, u32>);

impl Default for Weights {
    fn default() -> Self {
        Weights(
            [
                ("calls", 10),
                ("meetings", 10),
                ("tasks_on_time", 10),
                ("tasks_late", 5),
                ("new_deals", 10),
                ("won_count", 10),
                ("won_amount", 30),
                ("win_rate", 15),
                ("cycle_days", 0),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        )
    }
}

impl Weights {
    pub fn validate(&self) -> Result<()> {
        for (k, v) in &self.0 {
            if !MEASURES.iter().any(|(m, _)| m == k) {
                return fail(DomainError::invalid(k, "rating_unknown_measure"));
            }
            if *v > 100 {
                return fail(DomainError::Invalid(vec![FieldError::new(
                    k.clone(),
                    "rating_weight_range",
                )
                .with("max", 100)]));
            }
        }
        if self.0.values().all(|v| *v == 0) {
            return fail(DomainError::invalid("", "rating_weights_zero"));
        }
        Ok(())
    }

    fn get(&self, measure: &str) -> u32 {
        self.0.get(measure).copied().unwrap_or(0)
    }
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ManagerRow {
    pub user_id: i64,
    pub calls: i64,
    pub meetings: i64,
    pub tasks_on_time: i64,
    pub tasks_late: i64,
    pub tasks_overdue_now: i64,
    pub new_deals: i64,
    pub won_count: i64,
    /// Kopecks.
    pub won_amount: i64,
    pub lost_count: i64,
    pub win_rate: Option<f64>,
    pub avg_won: Option<i64>,
    pub cycle_days: Option<i64>,
    /// Score 0…1 per weighted measure.
    pub scores: BTreeMap<String, f64>,
    pub rating: f64,
    pub place: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Rating {
    pub weights: Weights,
    pub managers: Vec<ManagerRow>,
}

const WEIGHTS_KEY: &str = "rating_weights";

fn value(row: &ManagerRow, measure: &str) -> Option<f64> {
    match measure {
        "calls" => Some(row.calls as f64),
        "meetings" => Some(row.meetings as f64),
        "tasks_on_time" => Some(row.tasks_on_time as f64),
        "tasks_late" => Some(row.tasks_late as f64),
        "new_deals" => Some(row.new_deals as f64),
        "won_count" => Some(row.won_count as f64),
        "won_amount" => Some(row.won_amount as f64),
        "win_rate" => row.win_rate,
        "cycle_days" => row.cycle_days.map(|d| d as f64),
        _ => None,
    }
}

/// Scores and ratings, places by rating (ties share nothing: the lower user id first).
pub fn score(rows: &mut [ManagerRow], weights: &Weights) {
    let total: u32 = MEASURES.iter().map(|(m, _)| weights.get(m)).sum();
    for (measure, more_is_better) in MEASURES {
        let w = weights.get(measure);
        if w == 0 {
            continue;
        }
        let values: Vec<f64> = rows.iter().filter_map(|r| value(r, measure)).collect();
        let best = if more_is_better {
            values.iter().copied().fold(0.0, f64::max)
        } else {
            values.iter().copied().fold(f64::INFINITY, f64::min)
        };
        for r in rows.iter_mut() {
            let s = match value(r, measure) {
                None => 0.0,
                Some(v) if more_is_better && best > 0.0 => v / best,
                Some(_) if more_is_better => 0.0,
                // Fewer is better: zero late tasks is the best possible.
                Some(v) if v <= 0.0 => 1.0,
                Some(v) => (best.max(0.0) / v).min(1.0),
            };
            r.scores
                .insert(measure.to_string(), (s * 1000.0).round() / 1000.0);
        }
    }
    for r in rows.iter_mut() {
        let sum: f64 = MEASURES
            .iter()
            .map(|(m, _)| f64::from(weights.get(m)) * r.scores.get(*m).copied().unwrap_or(0.0))
            .sum();
        r.rating = if total == 0 {
            0.0
        } else {
            (sum / f64::from(total) * 1000.0).round() / 10.0
        };
    }
    rows.sort_by(|a, b| {
        b.rating
            .total_cmp(&a.rating)
            .then(a.user_id.cmp(&b.user_id))
    });
    for (i, r) in rows.iter_mut().enumerate() {
        r.place = i + 1;
    }
}

/// Whose an activity is for the rating and the dashboard: its assignee, else its owner.
/// The same expression is indexed (`activities_kind_person_idx`), so it must stay as
/// written.
pub(super) const PERSON: &str = "COALESCE(assignee_id, owner_id)";

/// A won deal's cycle in whole days (truncated, at least 0), `NULL` for other stages and
/// for deals without both dates: the same figure as `(closed - created).num_days()`.
fn cycle_days_sql(backend: Backend, won: &[i64]) -> String {
    let won = if won.is_empty() {
        "NULL".to_string()
    } else {
        won.iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let days = match backend {
        // julianday keeps milliseconds; rounding the difference to whole milliseconds
        // undoes the floating point before the integer division truncates to days.
        Backend::Sqlite => {
            "MAX(0, CAST(ROUND((julianday(closed_at) - julianday(created_at)) * 86400000) \
             AS INTEGER) / 86400000)"
        }
        Backend::Postgres => {
            "GREATEST(0, CAST(TRUNC(EXTRACT(EPOCH FROM (closed_at - created_at)) / 86400) \
             AS BIGINT))"
        }
    };
    format!(
        "CASE WHEN stage_id IN ({won}) AND created_at IS NOT NULL AND closed_at IS NOT NULL \
         THEN {days} END"
    )
}

/// The median (nearest rank, as [`super::stats::percentile`]) of values given as counts
/// per value.
fn median_of_counts(counts: &BTreeMap<i64, i64>) -> Option<i64> {
    let n: u64 = counts
        .values()
        .map(|c| u64::try_from(*c).unwrap_or(0))
        .sum();
    let rank = (50 * n).div_ceil(100).max(1);
    let mut seen = 0u64;
    for (value, count) in counts {
        seen += u64::try_from(*count).unwrap_or(0);
        if seen >= rank {
            return Some(*value);
        }
    }
    None
}

impl Store {
    pub async fn rating_weights(&self) -> Result<Weights> {
        let mut tx = self.pool().begin().await?;
        let row = tx
            .fetch_optional(
                &Query::select()
                    .column(Alias::new("value"))
                    .from(Alias::new("app_settings"))
                    .and_where(col("key").eq(WEIGHTS_KEY))
                    .to_owned(),
            )
            .await?;
        tx.commit().await?;
        Ok(row
            .and_then(|r| r.text("value").ok().flatten())
            .and_then(|v| serde_json::from_str(&v).ok())
            .unwrap_or_default())
    }

    /// Stores the weights (administrators and heads who see the whole sales team).
    pub async fn set_rating_weights(&self, actor: &Actor, weights: &Weights) -> Result<()> {
        if !(actor.is_admin || actor.scope(Entity::Deal, Action::Read) >= Scope::Department) {
            return fail(DomainError::Forbidden("rating_weights_forbidden"));
        }
        weights.validate()?;
        let mut tx = self.pool().begin_write().await?;
        tx.execute(
            Query::delete()
                .from_table(Alias::new("app_settings"))
                .and_where(col("key").eq(WEIGHTS_KEY)),
        )
        .await?;
        tx.execute(
            Query::insert()
                .into_table(Alias::new("app_settings"))
                .columns(["key", "value", "updated_at", "updated_by"].map(Alias::new))
                .values_panic(crate::db::vals([
                    WEIGHTS_KEY.into(),
                    serde_json::to_string(weights).unwrap_or_default().into(),
                    plotina_core::value::now().into(),
                    actor.user_id.into(),
                ])),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn report_rating(&self, actor: &Actor, params: &ReportParams) -> Result<Rating> {
        let weights = self.rating_weights().await?;
        let now = plotina_core::value::now();
        let backend = self.backend();
        let mut tx = self.pool().begin().await?;
        let mut rows: HashMap<i64, ManagerRow> = HashMap::new();
        // Won deals' cycle lengths per owner as counts per number of days, so the median
        // is taken without every deal coming back from the database.
        let mut cycles: HashMap<i64, BTreeMap<i64, i64>> = HashMap::new();
        macro_rules! row {
            ($id:expr) => {
                rows.entry($id).or_insert_with(|| ManagerRow {
                    user_id: $id,
                    ..Default::default()
                })
            };
        }
        let stages = all_stages(&mut tx).await?;
        let won = stages_of_kind(&stages, &["won"]);

        // Deals created in the period: new deals, counted per owner in the database.
        let created = deal_condition(self, &mut tx, actor, params, PeriodOn::CreatedAt).await?;
        let q = Query::select()
            .column(Alias::new("owner_id"))
            .expr_as(Expr::cust("COUNT(*)"), Alias::new("n"))
            .from(Alias::new("deals"))
            .cond_where(created)
            .and_where(col("owner_id").is_not_null())
            .group_by_col(Alias::new("owner_id"))
            .to_owned();
        for r in tx.fetch_all(&q).await? {
            if let Some(o) = r.i64("owner_id")? {
                row!(o).new_deals += r.i64("n")?.unwrap_or(0);
            }
        }
        // Deals closed in the period: won, lost, amounts per owner and stage, and for won
        // deals the cycle in whole days (created to closed, never below zero). Only won
        // and lost stages count; `+stage_id` keeps SQLite on the owner index (in owner
        // order, covering) instead of a stage index that visits every deal's row.
        let closed = deal_condition(self, &mut tx, actor, params, PeriodOn::ClosedAt).await?;
        let closed_stages = stages_of_kind(&stages, &["won", "lost"]);
        let days = cycle_days_sql(backend, &won);
        let q = Query::select()
            .columns(["owner_id", "stage_id"].map(Alias::new))
            .expr_as(Expr::cust(&days), Alias::new("days"))
            .expr_as(Expr::cust("COUNT(*)"), Alias::new("n"))
            .expr_as(
                Expr::cust("CAST(COALESCE(SUM(amount), 0) AS BIGINT)"),
                Alias::new("amount"),
            )
            .from(Alias::new("deals"))
            .cond_where(closed)
            .and_where(col("owner_id").is_not_null())
            .and_where(Expr::expr(Expr::cust("+stage_id")).is_in(closed_stages))
            .group_by_columns(["owner_id", "stage_id"].map(Alias::new))
            .add_group_by([Expr::cust(&days)])
            .to_owned();
        for r in tx.fetch_all(&q).await? {
            let Some(o) = r.i64("owner_id")? else {
                continue;
            };
            let n = r.i64("n")?.unwrap_or(0);
            let kind = r
                .i64("stage_id")?
                .and_then(|s| stages.get(&s))
                .map(|s| s.kind.as_str())
                .unwrap_or_default();
            match kind {
                "won" => {
                    let m = row!(o);
                    m.won_count += n;
                    m.won_amount += r.i64("amount")?.unwrap_or(0);
                    if let Some(d) = r.i64("days")? {
                        *cycles.entry(o).or_default().entry(d).or_default() += n;
                    }
                }
                "lost" => row!(o).lost_count += n,
                _ => {}
            }
        }

        // Activities: done in the period (calls, meetings, tasks on time and late) and
        // tasks overdue now, counted per person (the assignee, else the owner).
        let customs = self.custom_lookup().await?;
        let ctx = QueryCtx {
            backend,
            actor,
            custom: &customs,
        };
        let visible = ctx.conditions(Entity::Activity, Action::Read, &ListParams::default())?;
        let people = self.rating_people(&mut tx, params).await?;
        let mut visible_people = visible;
        if let Some(ids) = &people {
            visible_people = visible_people.add(Expr::expr(Expr::cust(PERSON)).is_in(ids.clone()));
        }
        let (from, to) = params.instants();
        let mut done = visible_people.clone().add(col("done_at").is_not_null());
        if let Some(f) = from {
            done = done.add(col("done_at").gte(ts_value(f)));
        }
        if let Some(t) = to {
            done = done.add(col("done_at").lt(ts_value(t)));
        }
        let late = match backend {
            // Compared as instants: stored texts may differ in their offset notation.
            Backend::Sqlite => "julianday(done_at) > julianday(due_at)",
            Backend::Postgres => "done_at > due_at",
        };
        let q = Query::select()
            .column(Alias::new("kind"))
            .expr_as(Expr::cust(PERSON), Alias::new("person"))
            .expr_as(Expr::cust("COUNT(*)"), Alias::new("n"))
            .expr_as(
                Expr::cust(format!(
                    "CAST(COALESCE(SUM(CASE WHEN kind = 'task' AND due_at IS NOT NULL \
                     AND {late} THEN 1 ELSE 0 END), 0) AS BIGINT)"
                )),
                Alias::new("late"),
            )
            .from(Alias::new("activities"))
            .cond_where(done)
            .and_where(col("kind").is_in(["call", "meeting", "task"]))
            .add_group_by([Expr::cust(PERSON), Expr::col(Alias::new("kind")).into()])
            .to_owned();
        for r in tx.fetch_all(&q).await? {
            let Some(p) = r.i64("person")? else { continue };
            let n = r.i64("n")?.unwrap_or(0);
            let kind = r.text("kind")?.unwrap_or_default();
            let m = row!(p);
            match kind.as_str() {
                "call" => m.calls += n,
                "meeting" => m.meetings += n,
                _ => {
                    let late = r.i64("late")?.unwrap_or(0);
                    m.tasks_late += late;
                    m.tasks_on_time += n - late;
                }
            }
        }
        let q = Query::select()
            .expr_as(Expr::cust(PERSON), Alias::new("person"))
            .expr_as(Expr::cust("COUNT(*)"), Alias::new("n"))
            .from(Alias::new("activities"))
            .cond_where(visible_people)
            .and_where(col("kind").eq("task"))
            .and_where(col("done").eq(false))
            .and_where(col("due_at").lt(ts_value(now)))
            .add_group_by([Expr::cust(PERSON)])
            .to_owned();
        for r in tx.fetch_all(&q).await? {
            let Some(p) = r.i64("person")? else { continue };
            row!(p).tasks_overdue_now += r.i64("n")?.unwrap_or(0);
        }
        // Only people who are users of a sales role show up: drop rows of inactive users.
        let active: HashSet<i64> = tx
            .fetch_all(
                &Query::select()
                    .column(Alias::new("id"))
                    .from(Alias::new("users"))
                    .and_where(col("active").eq(true))
                    .and_where(col("deleted_at").is_null())
                    .to_owned(),
            )
            .await?
            .iter()
            .filter_map(|r| r.i64("id").ok().flatten())
            .collect();
        tx.commit().await?;

        let mut managers: Vec<ManagerRow> = rows
            .into_values()
            .filter(|r| active.contains(&r.user_id))
            .map(|mut r| {
                r.win_rate = ratio(r.won_count, r.won_count + r.lost_count);
                r.avg_won = (r.won_count > 0).then(|| r.won_amount / r.won_count);
                r.cycle_days = cycles.get(&r.user_id).and_then(median_of_counts);
                r
            })
            .collect();
        score(&mut managers, &weights);
        Ok(Rating { weights, managers })
    }

    /// The users an owner or department filter narrows activities to (`None`: anyone).
    async fn rating_people(
        &self,
        tx: &mut crate::db::Tx,
        params: &ReportParams,
    ) -> Result<Option<Vec<i64>>> {
        if let Some(o) = params.owner {
            return Ok(Some(vec![o]));
        }
        let Some(d) = params.department else {
            return Ok(None);
        };
        let depts = super::department_subtree(tx, d).await?;
        let rows = tx
            .fetch_all(
                &Query::select()
                    .column(Alias::new("id"))
                    .from(Alias::new("users"))
                    .and_where(col("department_id").is_in(depts))
                    .to_owned(),
            )
            .await?;
        Ok(Some(
            rows.iter()
                .filter_map(|r| r.i64("id").ok().flatten())
                .collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_from_counts_per_value() {
        // 2, 2, 5, 9, 9, 9: median rank ceil(0.5 × 6) = 3 → 5.
        let counts: BTreeMap<i64, i64> = [(2, 2), (5, 1), (9, 3)].into_iter().collect();
        assert_eq!(median_of_counts(&counts), Some(5));
        // 0, 7, 7, 7: rank 2 → 7. One value: itself.
        let counts: BTreeMap<i64, i64> = [(0, 1), (7, 3)].into_iter().collect();
        assert_eq!(median_of_counts(&counts), Some(7));
        assert_eq!(median_of_counts(&[(4, 1)].into_iter().collect()), Some(4));
        assert_eq!(median_of_counts(&BTreeMap::new()), None);
    }

    #[test]
    fn scores_against_the_best_and_weights() {
        let mut rows = vec![
            ManagerRow {
                user_id: 1,
                calls: 10,
                tasks_late: 0,
                won_amount: 1000,
                ..Default::default()
            },
            ManagerRow {
                user_id: 2,
                calls: 5,
                tasks_late: 4,
                won_amount: 4000,
                ..Default::default()
            },
        ];
        let w = Weights(
            [("calls", 50), ("won_amount", 50), ("tasks_late", 0)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        );
        score(&mut rows, &w);
        // User 2: calls 0.5, amount 1 → 75; user 1: calls 1, amount 0.25 → 62.5.
        assert_eq!(
            (rows[0].user_id, rows[0].rating, rows[0].place),
            (2, 75.0, 1)
        );
        assert_eq!((rows[1].user_id, rows[1].rating), (1, 62.5));
        assert_eq!(rows[1].scores["won_amount"], 0.25);
        assert!(
            !rows[1].scores.contains_key("tasks_late"),
            "weight 0 is not scored"
        );
        // Fewer is better: no late tasks scores 1, the others best/value.
        let w = Weights([("tasks_late".to_string(), 10)].into_iter().collect());
        score(&mut rows, &w);
        let late = |id| rows.iter().find(|r| r.user_id == id).unwrap().scores["tasks_late"];
        assert_eq!((late(1), late(2)), (1.0, 0.0));
        assert!(Weights::default().validate().is_ok());
        assert!(Weights([("x".to_string(), 1)].into_iter().collect())
            .validate()
            .is_err());
        assert!(Weights([("calls".to_string(), 0)].into_iter().collect())
            .validate()
            .is_err());
        assert!(Weights([("calls".to_string(), 101)].into_iter().collect())
            .validate()
            .is_err());
    }
}
