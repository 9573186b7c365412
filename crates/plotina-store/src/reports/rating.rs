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

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use plotina_core::error::{DomainError, FieldError};
use plotina_core::policy::{Action, Actor, Scope};
use plotina_core::schema::Entity;
use sea_query::{Alias, Query};
use serde::{Deserialize, Serialize};

use super::stats::{percentile, ratio};
use super::{all_stages, deal_condition, ts_value, PeriodOn, ReportParams};
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

fn person(r: &crate::db::Row) -> Result<Option<i64>> {
    Ok(r.i64("assignee_id")?.or(r.i64("owner_id")?))
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
        let mut tx = self.pool().begin().await?;
        let mut rows: HashMap<i64, ManagerRow> = HashMap::new();
        let mut cycles: HashMap<i64, Vec<i64>> = HashMap::new();
        macro_rules! row {
            ($id:expr) => {
                rows.entry($id).or_insert_with(|| ManagerRow {
                    user_id: $id,
                    ..Default::default()
                })
            };
        }
        let stages = all_stages(&mut tx).await?;

        // Deals created in the period: new deals.
        let created = deal_condition(self, &mut tx, actor, params, PeriodOn::CreatedAt).await?;
        let q = Query::select()
            .column(Alias::new("owner_id"))
            .from(Alias::new("deals"))
            .cond_where(created)
            .to_owned();
        for r in tx.fetch_all(&q).await? {
            if let Some(o) = r.i64("owner_id")? {
                row!(o).new_deals += 1;
            }
        }
        // Deals closed in the period: won, lost, amounts, cycle.
        let closed = deal_condition(self, &mut tx, actor, params, PeriodOn::ClosedAt).await?;
        let q = Query::select()
            .columns(["owner_id", "stage_id", "amount", "created_at", "closed_at"].map(Alias::new))
            .from(Alias::new("deals"))
            .cond_where(closed)
            .to_owned();
        for r in tx.fetch_all(&q).await? {
            let Some(o) = r.i64("owner_id")? else {
                continue;
            };
            let kind = r
                .i64("stage_id")?
                .and_then(|s| stages.get(&s))
                .map(|s| s.kind.clone())
                .unwrap_or_default();
            match kind.as_str() {
                "won" => {
                    let m = row!(o);
                    m.won_count += 1;
                    m.won_amount += r.i64("amount")?.unwrap_or(0);
                    if let (Some(c), Some(d)) =
                        (r.datetime("created_at")?, r.datetime("closed_at")?)
                    {
                        cycles.entry(o).or_default().push((d - c).num_days().max(0));
                    }
                }
                "lost" => row!(o).lost_count += 1,
                _ => {}
            }
        }

        // Activities: done in the period (calls, meetings, tasks), and tasks overdue now.
        let customs = self.custom_lookup().await?;
        let ctx = QueryCtx {
            backend: self.backend(),
            actor,
            custom: &customs,
        };
        let visible = ctx.conditions(Entity::Activity, Action::Read, &ListParams::default())?;
        let people = self.rating_people(&mut tx, params).await?;
        let (from, to) = params.instants();
        let backend = self.backend();
        let mut done = visible.clone().add(col("done_at").is_not_null());
        if let Some(f) = from {
            done = done.add(col("done_at").gte(ts_value(backend, f)));
        }
        if let Some(t) = to {
            done = done.add(col("done_at").lt(ts_value(backend, t)));
        }
        let q = Query::select()
            .columns(["kind", "owner_id", "assignee_id", "due_at", "done_at"].map(Alias::new))
            .from(Alias::new("activities"))
            .cond_where(done)
            .and_where(col("kind").is_in(["call", "meeting", "task"]))
            .to_owned();
        for r in tx.fetch_all(&q).await? {
            let Some(p) = person(&r)? else { continue };
            if people.as_ref().is_some_and(|ids| !ids.contains(&p)) {
                continue;
            }
            let kind = r.text("kind")?.unwrap_or_default();
            let m = row!(p);
            match kind.as_str() {
                "call" => m.calls += 1,
                "meeting" => m.meetings += 1,
                _ => {
                    let due: Option<DateTime<Utc>> = r.datetime("due_at")?;
                    let at: Option<DateTime<Utc>> = r.datetime("done_at")?;
                    match (due, at) {
                        (Some(due), Some(at)) if at > due => m.tasks_late += 1,
                        _ => m.tasks_on_time += 1,
                    }
                }
            }
        }
        let q = Query::select()
            .columns(["owner_id", "assignee_id"].map(Alias::new))
            .from(Alias::new("activities"))
            .cond_where(visible)
            .and_where(col("kind").eq("task"))
            .and_where(col("done").eq(false))
            .and_where(col("due_at").lt(ts_value(backend, now)))
            .to_owned();
        for r in tx.fetch_all(&q).await? {
            let Some(p) = person(&r)? else { continue };
            if people.as_ref().is_some_and(|ids| !ids.contains(&p)) {
                continue;
            }
            row!(p).tasks_overdue_now += 1;
        }
        // Only people who are users of a sales role show up: drop rows of inactive users.
        let active: Vec<i64> = tx
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
                r.cycle_days = cycles.get(&r.user_id).and_then(|c| percentile(c, 50));
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
