//! The funnel of one pipeline, computed from stage history (`stage_changes`).
//!
//! The cohort is the deals selected by the report parameters, the period applying to
//! their creation date. Definitions:
//! - **Furthest stage** of a deal: the highest-positioned open stage it ever entered, or
//!   "won" when it ever entered a won stage; a deal that entered nothing else is at the
//!   first open stage (every deal of the pipeline starts in its funnel).
//! - **Reached** (open stage *s*): deals whose furthest stage is *s* or beyond. A deal
//!   that jumped over *s* (e.g. from «Новая» straight to «Договор») has passed *s*, so it
//!   counts as having reached it; such deals are also counted in **skipped** so the jump
//!   stays visible. Moving back does not undo having reached a stage.
//! - **Reached** (won): deals that ever entered a won stage (all won stages are one row).
//! - **Conversion to next**: reached(next) / reached(s), the next of the last open stage
//!   being won; **conversion to won**: reached(won) / reached(s).
//! - **Time in stage**: the completed stays in *s* (`seconds_in_previous` of every move
//!   out of *s*); the current, unfinished stay is not counted. Median and p90 are
//!   nearest-rank percentiles (`stats::percentile`).
//! - **Dropped**: deals now in a lost stage whose furthest stage is *s*, with their lost
//!   reasons; **in progress**: deals now in an open stage whose furthest stage is *s*.

use std::collections::{BTreeMap, HashMap, HashSet};

use plotina_core::policy::Actor;
use sea_query::{Alias, Order, Query};

use super::stats::{percentile, ratio};
use super::{deal_condition, deal_ids, pipeline_stages, report_pipeline, PeriodOn};
use super::{ReportParams, StageInfo};
use crate::error::Result;
use crate::store::Store;

/// At most this many deal ids are kept per figure for links to the records behind it.
pub const LINK_IDS: usize = 200;

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ReasonCount {
    /// The lost reason; empty when none was given.
    pub reason: String,
    pub count: i64,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FunnelStage {
    pub stage_id: i64,
    pub name: String,
    /// `open` or `won`.
    pub kind: String,
    pub reached: i64,
    /// Of `reached`: deals that passed the stage without entering it.
    pub skipped: i64,
    pub conversion_next: Option<f64>,
    pub conversion_won: Option<f64>,
    /// Completed stays measured for the time figures.
    pub stays: i64,
    pub median_seconds: Option<i64>,
    pub p90_seconds: Option<i64>,
    pub in_progress: i64,
    pub dropped: i64,
    pub lost_reasons: Vec<ReasonCount>,
    /// Ids of the deals that reached the stage (the first [`LINK_IDS`]), for links.
    #[serde(skip)]
    pub reached_ids: Vec<i64>,
    #[serde(skip)]
    pub dropped_ids: Vec<i64>,
    #[serde(skip)]
    pub in_progress_ids: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Funnel {
    pub pipeline_id: i64,
    /// Deals in the cohort.
    pub deals: i64,
    pub won: i64,
    pub lost: i64,
    pub open: i64,
    pub stages: Vec<FunnelStage>,
    /// Lost reasons over the whole cohort, most frequent first.
    pub lost_reasons: Vec<ReasonCount>,
}

/// What the funnel needs to know about one deal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DealFacts {
    pub id: i64,
    pub stage_id: i64,
    pub lost_reason: Option<String>,
}

/// One move of a deal: out of `from` into `to`, after `seconds` in `from`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    pub deal_id: i64,
    pub from: Option<i64>,
    pub to: i64,
    pub seconds: Option<i64>,
}

fn reasons(map: BTreeMap<String, i64>) -> Vec<ReasonCount> {
    let mut v: Vec<ReasonCount> = map
        .into_iter()
        .map(|(reason, count)| ReasonCount { reason, count })
        .collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.reason.cmp(&b.reason)));
    v
}

/// The funnel from the stages of the pipeline (ordered by position), the cohort and its
/// moves. Pure: the definitions are in the module documentation.
pub fn compute(
    pipeline_id: i64,
    stages: &[StageInfo],
    deals: &[DealFacts],
    moves: &[Move],
) -> Funnel {
    let open: Vec<&StageInfo> = stages.iter().filter(|s| s.kind == "open").collect();
    let won_ids: HashSet<i64> = stages
        .iter()
        .filter(|s| s.kind == "won")
        .map(|s| s.id)
        .collect();
    let lost_ids: HashSet<i64> = stages
        .iter()
        .filter(|s| s.kind == "lost")
        .map(|s| s.id)
        .collect();
    let n_open = open.len();
    // Rank of a stage: its index among open stages, or n_open for won; lost has none.
    let rank = |stage: i64| -> Option<usize> {
        if won_ids.contains(&stage) {
            Some(n_open)
        } else {
            open.iter().position(|s| s.id == stage)
        }
    };
    let mut entered: HashMap<i64, HashSet<i64>> = HashMap::new();
    let mut stays: HashMap<i64, Vec<i64>> = HashMap::new();
    for m in moves {
        entered.entry(m.deal_id).or_default().insert(m.to);
        if let (Some(from), Some(secs)) = (m.from, m.seconds) {
            stays.entry(from).or_default().push(secs);
        }
    }
    let rows = n_open + 1;
    let mut reached = vec![0i64; rows];
    let mut skipped = vec![0i64; rows];
    let mut in_progress = vec![0i64; rows];
    let mut dropped = vec![0i64; rows];
    let mut reached_ids: Vec<Vec<i64>> = vec![Vec::new(); rows];
    let mut dropped_ids: Vec<Vec<i64>> = vec![Vec::new(); rows];
    let mut in_progress_ids: Vec<Vec<i64>> = vec![Vec::new(); rows];
    let mut stage_reasons: Vec<BTreeMap<String, i64>> = vec![BTreeMap::new(); rows];
    let mut all_reasons = BTreeMap::new();
    let (mut won, mut lost, mut open_now) = (0, 0, 0);
    for d in deals {
        let mut seen = entered.get(&d.id).cloned().unwrap_or_default();
        seen.insert(d.stage_id);
        let furthest = seen.iter().filter_map(|s| rank(*s)).max().unwrap_or(0);
        for r in 0..=furthest {
            reached[r] += 1;
            if reached_ids[r].len() < LINK_IDS {
                reached_ids[r].push(d.id);
            }
            let entered_here = if r == n_open {
                seen.iter().any(|s| won_ids.contains(s))
            } else {
                seen.contains(&open[r].id)
            };
            if !entered_here && r > 0 {
                skipped[r] += 1;
            }
        }
        if lost_ids.contains(&d.stage_id) {
            lost += 1;
            let reason = d.lost_reason.clone().unwrap_or_default();
            dropped[furthest] += 1;
            if dropped_ids[furthest].len() < LINK_IDS {
                dropped_ids[furthest].push(d.id);
            }
            *stage_reasons[furthest].entry(reason.clone()).or_default() += 1;
            *all_reasons.entry(reason).or_default() += 1;
        } else if won_ids.contains(&d.stage_id) {
            won += 1;
        } else {
            open_now += 1;
            in_progress[furthest] += 1;
            if in_progress_ids[furthest].len() < LINK_IDS {
                in_progress_ids[furthest].push(d.id);
            }
        }
    }
    let won_reached = reached[n_open];
    let mut out = Vec::with_capacity(rows);
    for r in 0..rows {
        let (stage_id, name, kind, times) = if r < n_open {
            let s = open[r];
            (
                s.id,
                s.name.clone(),
                "open",
                stays.get(&s.id).cloned().unwrap_or_default(),
            )
        } else {
            let first_won = stages.iter().find(|s| s.kind == "won");
            (
                first_won.map(|s| s.id).unwrap_or_default(),
                first_won.map(|s| s.name.clone()).unwrap_or_default(),
                "won",
                Vec::new(),
            )
        };
        let is_won = r == n_open;
        out.push(FunnelStage {
            stage_id,
            name,
            kind: kind.into(),
            reached: reached[r],
            skipped: skipped[r],
            conversion_next: if is_won {
                None
            } else {
                ratio(reached[r + 1], reached[r])
            },
            conversion_won: if is_won {
                None
            } else {
                ratio(won_reached, reached[r])
            },
            stays: times.len() as i64,
            median_seconds: percentile(&times, 50),
            p90_seconds: percentile(&times, 90),
            in_progress: in_progress[r],
            dropped: dropped[r],
            lost_reasons: reasons(std::mem::take(&mut stage_reasons[r])),
            reached_ids: std::mem::take(&mut reached_ids[r]),
            dropped_ids: std::mem::take(&mut dropped_ids[r]),
            in_progress_ids: std::mem::take(&mut in_progress_ids[r]),
        });
    }
    Funnel {
        pipeline_id,
        deals: deals.len() as i64,
        won,
        lost,
        open: open_now,
        stages: out,
        lost_reasons: reasons(all_reasons),
    }
}

impl Store {
    /// The funnel of one pipeline (the first of `params.pipelines`, or the first
    /// pipeline) for the deals the actor may read, created in the period.
    pub async fn report_funnel(&self, actor: &Actor, params: &ReportParams) -> Result<Funnel> {
        let mut tx = self.pool().begin().await?;
        let pipeline = report_pipeline(&mut tx, params).await?;
        let mut p = params.clone();
        p.pipelines = vec![pipeline];
        let cond = deal_condition(self, &mut tx, actor, &p, PeriodOn::CreatedAt).await?;
        let stages = pipeline_stages(&mut tx, pipeline).await?;
        let q = Query::select()
            .columns(["id", "stage_id", "lost_reason"].map(Alias::new))
            .from(Alias::new("deals"))
            .cond_where(cond.clone())
            .order_by(Alias::new("id"), Order::Asc)
            .to_owned();
        let mut deals = Vec::new();
        for r in tx.fetch_all(&q).await? {
            deals.push(DealFacts {
                id: r.i64("id")?.unwrap_or_default(),
                stage_id: r.i64("stage_id")?.unwrap_or_default(),
                lost_reason: r.text("lost_reason")?,
            });
        }
        let q = Query::select()
            .columns(
                [
                    "deal_id",
                    "from_stage_id",
                    "to_stage_id",
                    "seconds_in_previous",
                ]
                .map(Alias::new),
            )
            .from(Alias::new("stage_changes"))
            .and_where(deal_ids(cond))
            .and_where(crate::filter_sql::col("pipeline_id").eq(pipeline))
            .order_by(Alias::new("id"), Order::Asc)
            .to_owned();
        let mut moves = Vec::new();
        for r in tx.fetch_all(&q).await? {
            moves.push(Move {
                deal_id: r.i64("deal_id")?.unwrap_or_default(),
                from: r.i64("from_stage_id")?,
                to: r.i64("to_stage_id")?.unwrap_or_default(),
                seconds: r.i64("seconds_in_previous")?,
            });
        }
        tx.commit().await?;
        Ok(compute(pipeline, &stages, &deals, &moves))
    }
}
