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
use sea_query::{Alias, Cond, Order, Query};

use super::stats::{percentile, ratio};
use super::PeriodOn;
use super::{deal_condition, deal_ids, id_list, pipeline_stages, render, report_pipeline};
use super::{ReportParams, StageInfo};
use crate::db::Tx;
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

/// The stages of a pipeline as the funnel ranks them: open stages by position, then
/// every won stage as one row; lost stages have no rank.
struct Ranks<'a> {
    open: Vec<&'a StageInfo>,
    won: HashSet<i64>,
    lost: HashSet<i64>,
}

impl<'a> Ranks<'a> {
    fn new(stages: &'a [StageInfo]) -> Ranks<'a> {
        let of = |kind: &str| -> HashSet<i64> {
            stages
                .iter()
                .filter(|s| s.kind == kind)
                .map(|s| s.id)
                .collect()
        };
        Ranks {
            open: stages.iter().filter(|s| s.kind == "open").collect(),
            won: of("won"),
            lost: of("lost"),
        }
    }

    /// The index among open stages, or the number of open stages for won.
    fn rank(&self, stage: i64) -> Option<usize> {
        if self.won.contains(&stage) {
            Some(self.open.len())
        } else {
            self.open.iter().position(|s| s.id == stage)
        }
    }

    fn state(&self, stage: i64) -> State {
        if self.lost.contains(&stage) {
            State::Lost
        } else if self.won.contains(&stage) {
            State::Won
        } else {
            State::Open
        }
    }
}

/// Where a deal is now: a stage of the pipeline that is not won or lost (a deleted stage
/// too) counts as open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum State {
    Open,
    Won,
    Lost,
}

/// A set of ranks, as bits (bit *r* of word *r* / 64).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct RankSet(Vec<u64>);

impl RankSet {
    /// The set of the low 63 bits of an integer (the SQL path's form).
    fn from_bits(bits: i64) -> RankSet {
        RankSet(vec![bits.max(0) as u64])
    }

    fn insert(&mut self, r: usize) {
        if self.0.len() <= r / 64 {
            self.0.resize(r / 64 + 1, 0);
        }
        self.0[r / 64] |= 1 << (r % 64);
    }

    fn contains(&self, r: usize) -> bool {
        self.0.get(r / 64).is_some_and(|w| w & (1 << (r % 64)) != 0)
    }

    /// The furthest rank entered; the first open stage when none.
    fn furthest(&self) -> usize {
        self.0
            .iter()
            .enumerate()
            .rev()
            .find(|(_, w)| **w != 0)
            .map(|(i, w)| i * 64 + 63 - w.leading_zeros() as usize)
            .unwrap_or(0)
    }
}

/// Deals that share the set of ranks they entered (their current stage included) and
/// their state now.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Group {
    ranks: RankSet,
    state: State,
    /// The lost reason of lost deals; empty when none was given.
    reason: String,
    deals: i64,
}

/// The completed stays in one stage: how many, their median and p90.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Stays {
    count: i64,
    median: Option<i64>,
    p90: Option<i64>,
}

/// The funnel from deals grouped by entered ranks and state, the first deals of every
/// group in id order (for the links), and the stays per open stage.
fn assemble(
    pipeline_id: i64,
    stages: &[StageInfo],
    ranks: &Ranks,
    groups: &[Group],
    links: &[(i64, RankSet, State)],
    stays: &HashMap<i64, Stays>,
) -> Funnel {
    let n_open = ranks.open.len();
    let rows = n_open + 1;
    let mut reached = vec![0i64; rows];
    let mut skipped = vec![0i64; rows];
    let mut in_progress = vec![0i64; rows];
    let mut dropped = vec![0i64; rows];
    let mut stage_reasons: Vec<BTreeMap<String, i64>> = vec![BTreeMap::new(); rows];
    let mut all_reasons = BTreeMap::new();
    let (mut deals, mut won, mut lost, mut open_now) = (0, 0, 0, 0);
    for g in groups {
        let top = g.ranks.furthest();
        deals += g.deals;
        for r in 0..=top {
            reached[r] += g.deals;
            if r > 0 && !g.ranks.contains(r) {
                skipped[r] += g.deals;
            }
        }
        match g.state {
            State::Lost => {
                lost += g.deals;
                dropped[top] += g.deals;
                *stage_reasons[top].entry(g.reason.clone()).or_default() += g.deals;
                *all_reasons.entry(g.reason.clone()).or_default() += g.deals;
            }
            State::Won => won += g.deals,
            State::Open => {
                open_now += g.deals;
                in_progress[top] += g.deals;
            }
        }
    }
    let mut reached_ids: Vec<Vec<i64>> = vec![Vec::new(); rows];
    let mut dropped_ids: Vec<Vec<i64>> = vec![Vec::new(); rows];
    let mut in_progress_ids: Vec<Vec<i64>> = vec![Vec::new(); rows];
    let mut order: Vec<&(i64, RankSet, State)> = links.iter().collect();
    order.sort_unstable_by_key(|l| l.0);
    let keep = |ids: &mut Vec<i64>, id: i64| {
        if ids.len() < LINK_IDS {
            ids.push(id);
        }
    };
    for (id, set, state) in order {
        let (id, top) = (*id, set.furthest());
        for ids in reached_ids.iter_mut().take(top + 1) {
            keep(ids, id);
        }
        match state {
            State::Lost => keep(&mut dropped_ids[top], id),
            State::Open => keep(&mut in_progress_ids[top], id),
            State::Won => {}
        }
    }
    let won_reached = reached[n_open];
    let first_won = stages.iter().find(|s| s.kind == "won");
    let mut out = Vec::with_capacity(rows);
    for r in 0..rows {
        let is_won = r == n_open;
        let (stage_id, name, kind) = if is_won {
            (
                first_won.map(|s| s.id).unwrap_or_default(),
                first_won.map(|s| s.name.clone()).unwrap_or_default(),
                "won",
            )
        } else {
            let s = ranks.open[r];
            (s.id, s.name.clone(), "open")
        };
        let times = if is_won {
            Stays::default()
        } else {
            stays.get(&stage_id).copied().unwrap_or_default()
        };
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
            stays: times.count,
            median_seconds: times.median,
            p90_seconds: times.p90,
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
        deals,
        won,
        lost,
        open: open_now,
        stages: out,
        lost_reasons: reasons(all_reasons),
    }
}

/// The most ranks a pipeline may have for the funnel to be computed in SQL (one bit of
/// a 64-bit integer per rank, the sign bit left alone).
const MAX_RANKS: usize = 62;

/// The funnel from the stages of the pipeline (ordered by position), the cohort and its
/// moves. Pure: the definitions are in the module documentation.
pub fn compute(
    pipeline_id: i64,
    stages: &[StageInfo],
    deals: &[DealFacts],
    moves: &[Move],
) -> Funnel {
    let ranks = Ranks::new(stages);
    let mut entered: HashMap<i64, HashSet<i64>> = HashMap::new();
    let mut times: HashMap<i64, Vec<i64>> = HashMap::new();
    for m in moves {
        entered.entry(m.deal_id).or_default().insert(m.to);
        if let (Some(from), Some(secs)) = (m.from, m.seconds) {
            times.entry(from).or_default().push(secs);
        }
    }
    let mut groups: BTreeMap<(RankSet, State, String), i64> = BTreeMap::new();
    let mut links = Vec::with_capacity(deals.len());
    for d in deals {
        let mut set = RankSet::default();
        let moved = entered.get(&d.id).into_iter().flatten();
        for r in std::iter::once(&d.stage_id)
            .chain(moved)
            .filter_map(|s| ranks.rank(*s))
        {
            set.insert(r);
        }
        let state = ranks.state(d.stage_id);
        let reason = match state {
            State::Lost => d.lost_reason.clone().unwrap_or_default(),
            _ => String::new(),
        };
        *groups.entry((set.clone(), state, reason)).or_default() += 1;
        links.push((d.id, set, state));
    }
    let groups: Vec<Group> = groups
        .into_iter()
        .map(|((ranks, state, reason), deals)| Group {
            ranks,
            state,
            reason,
            deals,
        })
        .collect();
    let stays = times
        .into_iter()
        .map(|(stage, v)| {
            (
                stage,
                Stays {
                    count: v.len() as i64,
                    median: percentile(&v, 50),
                    p90: percentile(&v, 90),
                },
            )
        })
        .collect();
    assemble(pipeline_id, stages, &ranks, &groups, &links, &stays)
}

/// Deals grouped by entered ranks, state and lost reason, and the first [`LINK_IDS`]
/// deals of every (ranks, state) group, in one statement: the set of ranks a deal
/// entered is the SUM of the DISTINCT bits of the stages it moved into, OR the bit of
/// its current stage. The first ids of a figure are among the first ids of the groups
/// it adds up, so the links come out exact.
fn groups_sql(cohort: &str, pipeline: i64, ranks: &Ranks) -> String {
    let n_open = ranks.open.len();
    let mut bits: Vec<(i64, i64)> = ranks
        .open
        .iter()
        .enumerate()
        .map(|(r, s)| (s.id, 1i64 << r))
        .collect();
    bits.extend(ranks.won.iter().map(|w| (*w, 1i64 << n_open)));
    bits.sort_unstable();
    let mut rk: Vec<String> = bits
        .iter()
        .map(|(id, bit)| format!("(CAST({id} AS BIGINT), CAST({bit} AS BIGINT))"))
        .collect();
    if rk.is_empty() {
        rk.push("(CAST(NULL AS BIGINT), CAST(0 AS BIGINT))".into());
    }
    let lost = id_list(ranks.lost.iter().copied());
    let won = id_list(ranks.won.iter().copied());
    format!(
        "WITH rk (stage_id, bit) AS (VALUES {rk}), \
         cohort AS ({cohort}), \
         per_deal AS (SELECT c.id AS id, \
           CAST(CASE WHEN c.stage_id IN {lost} THEN 2 WHEN c.stage_id IN {won} THEN 1 ELSE 0 END \
             AS BIGINT) AS state, \
           CASE WHEN c.stage_id IN {lost} THEN COALESCE(c.lost_reason, '') ELSE '' END AS reason, \
           (COALESCE((SELECT CAST(SUM(DISTINCT rk.bit) AS BIGINT) FROM stage_changes sc \
               JOIN rk ON rk.stage_id = sc.to_stage_id \
               WHERE sc.deal_id = c.id AND sc.pipeline_id = {pipeline}), 0) \
            | COALESCE((SELECT rk.bit FROM rk WHERE rk.stage_id = c.stage_id), 0)) AS ranks \
           FROM cohort c) \
         SELECT ranks, state, reason, COUNT(*) AS n, CAST(NULL AS BIGINT) AS id \
           FROM per_deal GROUP BY ranks, state, reason \
         UNION ALL \
         SELECT ranks, state, '' AS reason, CAST(0 AS BIGINT) AS n, id FROM \
           (SELECT id, ranks, state, \
              ROW_NUMBER() OVER (PARTITION BY ranks, state ORDER BY id) AS rn \
            FROM per_deal) firsts \
           WHERE rn <= {LINK_IDS}",
        rk = rk.join(", "),
    )
}

/// The median and p90 stay per open stage: the stays ranked per stage by window
/// functions, keeping only the rows at the nearest ranks `ceil(p · n / 100)` (as
/// `stats::percentile` defines them).
fn stays_sql(cohort: &str, pipeline: i64, open: &[&StageInfo]) -> String {
    let open = id_list(open.iter().map(|s| s.id));
    format!(
        "WITH cohort AS ({cohort}), \
         st AS (SELECT sc.from_stage_id AS s, sc.seconds_in_previous AS v \
           FROM cohort c JOIN stage_changes sc ON sc.deal_id = c.id \
           WHERE sc.pipeline_id = {pipeline} AND sc.from_stage_id IN {open} \
             AND sc.seconds_in_previous IS NOT NULL), \
         ranked AS (SELECT s, v, ROW_NUMBER() OVER (PARTITION BY s ORDER BY v) AS rn, \
           COUNT(*) OVER (PARTITION BY s) AS n FROM st) \
         SELECT s, n, rn, v FROM ranked \
           WHERE rn = (50 * n + 99) / 100 OR rn = (90 * n + 99) / 100"
    )
}

impl Store {
    /// The funnel of one pipeline (the first of `params.pipelines`, or the first
    /// pipeline) for the deals the actor may read, created in the period. Counted in
    /// SQL: only groups of deals, the first ids per figure and the percentile rows come
    /// back.
    pub async fn report_funnel(&self, actor: &Actor, params: &ReportParams) -> Result<Funnel> {
        let mut tx = self.pool().begin().await?;
        let pipeline = report_pipeline(&mut tx, params).await?;
        let mut p = params.clone();
        p.pipelines = vec![pipeline];
        let cond = deal_condition(self, &mut tx, actor, &p, PeriodOn::CreatedAt).await?;
        let stages = pipeline_stages(&mut tx, pipeline).await?;
        let ranks = Ranks::new(&stages);
        if ranks.open.len() + 1 > MAX_RANKS {
            let funnel = load_and_compute(&mut tx, pipeline, &stages, cond).await?;
            tx.commit().await?;
            return Ok(funnel);
        }
        let cohort = Query::select()
            .columns(["id", "stage_id", "lost_reason"].map(Alias::new))
            .from(Alias::new("deals"))
            .cond_where(cond)
            .to_owned();
        let (cohort, values) = render(self.backend(), &cohort);
        let sql = groups_sql(&cohort, pipeline, &ranks);
        let mut groups = Vec::new();
        let mut links = Vec::new();
        for r in tx.fetch_all_sql(&sql, values.clone()).await? {
            let set = RankSet::from_bits(r.i64("ranks")?.unwrap_or(0));
            let state = match r.i64("state")?.unwrap_or(0) {
                2 => State::Lost,
                1 => State::Won,
                _ => State::Open,
            };
            match r.i64("id")? {
                Some(id) => links.push((id, set, state)),
                None => groups.push(Group {
                    ranks: set,
                    state,
                    reason: r.text("reason")?.unwrap_or_default(),
                    deals: r.i64("n")?.unwrap_or(0),
                }),
            }
        }
        let mut stays: HashMap<i64, Stays> = HashMap::new();
        if !ranks.open.is_empty() {
            let sql = stays_sql(&cohort, pipeline, &ranks.open);
            for r in tx.fetch_all_sql(&sql, values).await? {
                let (Some(stage), Some(n), Some(rn)) = (r.i64("s")?, r.i64("n")?, r.i64("rn")?)
                else {
                    continue;
                };
                let v = r.i64("v")?;
                let e = stays.entry(stage).or_default();
                e.count = n;
                let rank = |p: i64| ((p * n + 99) / 100).max(1);
                if rn == rank(50) {
                    e.median = v;
                }
                if rn == rank(90) {
                    e.p90 = v;
                }
            }
        }
        tx.commit().await?;
        Ok(assemble(pipeline, &stages, &ranks, &groups, &links, &stays))
    }
}

/// The funnel of a pipeline with more ranks than fit the SQL path's bit sets: every
/// deal of the cohort and its moves are read and counted in memory.
async fn load_and_compute(
    tx: &mut Tx,
    pipeline: i64,
    stages: &[StageInfo],
    cond: Cond,
) -> Result<Funnel> {
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
    Ok(compute(pipeline, stages, &deals, &moves))
}
