//! `plotina demo`: a realistic, deterministic demo company.
//!
//! The organisation (roles, departments, users, pipelines) is created through the record
//! engine so that every rule applies. The bulk (companies, contacts, deals with their
//! stage journeys, activities) is written directly with multi-row INSERTs in large
//! transactions, with every derived structure — `search_text`, `record_lookup`,
//! `history`, `stage_changes`, audit columns — exactly as the engine would have written
//! it (see the `writer` module). One deliberate shortcut for the big sizes: medium and large record
//! each creation as a single 'create' history row instead of one row per field (see
//! `Plan`); every later change (stage moves, completed tasks) is recorded field by field.
//! Generation runs on a blocking thread and hands bound statements to the async writer
//! through a small channel, so building rows and writing them overlap.
//!
//! The administrator is `admin` (or `demo-admin` when `admin` exists already); every demo
//! user gets the administrator's password, so any of them can be tried out.
//!
//! Everything is deterministic for a seed, except that dates are laid out relative to
//! the current date so that the demo always looks current (the last three years up to
//! yesterday evening, open tasks due around today).

mod activities;
mod automation;
mod clock;
mod costs;
mod customers;
mod deals;
mod names;
pub use names::SURNAMES;
mod org;
mod writer;

#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};

use anyhow::Context as _;
use plotina_core::schema::Entity;
use sea_query::{Alias, Expr, Query};
use tokio::sync::mpsc;

use self::clock::{Clock, Rng};
use self::org::Org;
use self::writer::{Batch, Counts, Sink, Writer, BULK};
use crate::db::{Backend, Pool};
use crate::Store;

/// How much data to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoSize {
    /// An administrator and 5 people in 2 departments, ≈500 companies, 1,500 contacts,
    /// 10,000 deals, 30,000 activities.
    Small,
    /// An administrator and 200 people in 10 departments, ≈100k companies, 300k contacts,
    /// 1M deals, 3M activities.
    Medium,
    /// Ten times medium (the same organisation).
    Large,
}

impl std::str::FromStr for DemoSize {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<DemoSize> {
        match s {
            "small" => Ok(DemoSize::Small),
            "medium" => Ok(DemoSize::Medium),
            "large" => Ok(DemoSize::Large),
            other => anyhow::bail!("unknown demo size {other:?} (small, medium or large)"),
        }
    }
}

/// Where generation stands; `phase` is one of `organisation`, `companies`, `deals`,
/// `finishing`, and `done` of `total` counts companies or main deals.
#[derive(Debug, Clone, Copy)]
pub struct DemoProgress {
    pub phase: &'static str,
    pub done: u64,
    pub total: u64,
}

/// What was generated and how to log in. Every demo user has the administrator's
/// password.
#[derive(Debug, Clone)]
pub struct DemoReport {
    pub admin_login: String,
    pub admin_password: String,
    pub counts: Vec<(&'static str, u64)>,
}

/// Sizes of one run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    small_org: bool,
    /// Per-field 'create' history (exact `history::diff` rows). Medium and large write
    /// one 'create' row per record instead: per-field rows would be ~55M rows (~6 GB on
    /// SQLite) for medium alone. Later changes are always recorded field by field.
    field_history: bool,
    companies: usize,
    deals: usize,
    activities: usize,
}

impl Plan {
    fn of(size: DemoSize) -> Plan {
        match size {
            DemoSize::Small => Plan {
                small_org: true,
                field_history: true,
                companies: 500,
                deals: 10_000,
                activities: 30_000,
            },
            DemoSize::Medium => Plan {
                small_org: false,
                field_history: false,
                companies: 100_000,
                deals: 1_000_000,
                activities: 3_000_000,
            },
            DemoSize::Large => Plan {
                small_org: false,
                field_history: false,
                companies: 1_000_000,
                deals: 10_000_000,
                activities: 30_000_000,
            },
        }
    }
}

/// Rows per write transaction. Each commit costs an fsync and a WAL checkpoint: on SQLite
/// small took 7.5 s with 40k-row transactions, 3.6 s with 200k and 4.5 s with 500k (less
/// overlap between generating and writing).
const BATCH_ROWS: usize = 200_000;

/// The generator's state: randomness, time, the organisation and the rows being built.
pub(crate) struct Ctx {
    rng: Rng,
    clock: Clock,
    org: Org,
    sink: Sink,
    out: mpsc::Sender<Batch>,
}

impl Ctx {
    /// Hands the collected rows to the writer once there are enough of them.
    fn flush_if_full(&mut self, phase: &'static str, done: u64, total: u64) -> anyhow::Result<()> {
        if self.sink.pending() >= BATCH_ROWS {
            self.flush(phase, done, total)?;
        }
        Ok(())
    }

    fn flush(&mut self, phase: &'static str, done: u64, total: u64) -> anyhow::Result<()> {
        let batch = self.sink.take(phase, done, total);
        self.out
            .blocking_send(batch)
            .map_err(|_| anyhow::anyhow!("the demo writer stopped"))
    }
}

/// True when there are no companies and no deals yet (not even in the trash).
pub async fn is_empty(store: &Store) -> anyhow::Result<bool> {
    let mut tx = store.pool().begin().await?;
    for table in ["companies", "deals"] {
        let q = Query::select()
            .column(Alias::new("id"))
            .from(Alias::new(table))
            .limit(1)
            .to_owned();
        if tx.fetch_optional(&q).await?.is_some() {
            return Ok(false);
        }
    }
    tx.commit().await?;
    Ok(true)
}

/// Generates a demo company into `store`. The caller checks [`is_empty`] first.
pub async fn generate(
    store: &Store,
    size: DemoSize,
    seed: u64,
    admin_password: &str,
    progress: &dyn Fn(DemoProgress),
) -> anyhow::Result<DemoReport> {
    generate_plan(store, Plan::of(size), seed, admin_password, progress).await
}

pub(crate) async fn generate_plan(
    store: &Store,
    plan: Plan,
    seed: u64,
    admin_password: &str,
    progress: &dyn Fn(DemoProgress),
) -> anyhow::Result<DemoReport> {
    progress(DemoProgress {
        phase: "organisation",
        done: 0,
        total: 1,
    });
    let org = org::create(
        store,
        plan.small_org,
        &mut Rng::new(seed, "organisation"),
        admin_password,
    )
    .await?;
    progress(DemoProgress {
        phase: "organisation",
        done: 1,
        total: 1,
    });

    let pool = store.pool().clone();
    let first_ids = first_free_ids(&pool).await?;
    let text_columns = text_columns(&pool).await?;
    let (out, mut batches) = mpsc::channel::<Batch>(2);
    let (gen_org, clock, backend) = (org.clone(), Clock::today(), pool.backend());
    let generator = tokio::task::spawn_blocking(move || -> anyhow::Result<Counts> {
        let mut ctx = Ctx {
            rng: Rng::new(seed, "companies"),
            clock,
            org: gen_org,
            sink: Sink::new(backend, first_ids, &text_columns, plan.field_history),
            out,
        };
        let per_company = 0.15 * plan.activities as f64 / plan.companies as f64;
        let companies = customers::generate(&mut ctx, plan.companies, per_company)?;
        ctx.rng = Rng::new(seed, "deals");
        // 85% of activities belong to deals; a live deal's open next step adds about 0.15.
        let per_deal = (0.85 * plan.activities as f64 / plan.deals as f64 - 0.15).max(0.0);
        deals::generate(&mut ctx, &companies, plan.deals, per_deal)?;
        Ok(ctx.sink.counts.clone())
    });

    let mut writer = Writer::new(pool.clone());
    let mut failure = None;
    while let Some(batch) = batches.recv().await {
        let (phase, done, total) = (batch.phase, batch.done, batch.total);
        if let Err(e) = writer.write(batch).await {
            failure = Some(e);
            break;
        }
        progress(DemoProgress { phase, done, total });
    }
    drop(batches);
    let generated = generator.await.context("the demo generator panicked")?;
    if let Some(e) = failure {
        return Err(e);
    }
    let counts = generated?;

    progress(DemoProgress {
        phase: "finishing",
        done: 0,
        total: 1,
    });
    finish(&pool).await?;
    automation::install(store, &org).await?;
    costs::install(store, &org, plan.deals, seed).await?;
    progress(DemoProgress {
        phase: "finishing",
        done: 1,
        total: 1,
    });
    let n = |table: &str| counts.records.get(table).copied().unwrap_or(0);
    Ok(DemoReport {
        admin_login: org.admin_login.clone(),
        admin_password: admin_password.to_string(),
        counts: vec![
            ("users", org.users),
            ("departments", org.departments),
            ("pipelines", 3),
            ("companies", n("companies")),
            ("contacts", n("contacts")),
            ("deals", n("deals")),
            ("activities", n("activities")),
            ("stage_changes", counts.stage_changes),
            ("history", counts.history),
            ("record_lookup", counts.lookups),
        ],
    })
}

/// The next free id of every bulk table.
async fn first_free_ids(pool: &Pool) -> anyhow::Result<HashMap<Entity, i64>> {
    let mut tx = pool.begin().await?;
    let mut out = HashMap::new();
    for entity in BULK {
        let q = Query::select()
            .expr_as(Expr::col(Alias::new("id")).max(), Alias::new("n"))
            .from(Alias::new(entity.table()))
            .to_owned();
        let max = tx
            .fetch_optional(&q)
            .await?
            .and_then(|r| r.i64("n").ok().flatten())
            .unwrap_or(0);
        out.insert(entity, max + 1);
    }
    tx.commit().await?;
    Ok(out)
}

/// Columns this database declares as TEXT (on PostgreSQL a JSON value bound to one must
/// be sent as text).
async fn text_columns(pool: &Pool) -> anyhow::Result<HashSet<(String, String)>> {
    if pool.backend() != Backend::Postgres {
        return Ok(HashSet::new());
    }
    let mut tx = pool.begin().await?;
    let rows = tx
        .fetch_all_sql(
            "SELECT table_name::text AS t, column_name::text AS c FROM information_schema.columns \
             WHERE table_schema = current_schema() AND data_type = 'text'",
            sea_query_binder::SqlxValues(sea_query::Values(Vec::new())),
        )
        .await?;
    tx.commit().await?;
    let mut out = HashSet::new();
    for r in rows {
        out.insert((
            r.text("t")?.unwrap_or_default(),
            r.text("c")?.unwrap_or_default(),
        ));
    }
    Ok(out)
}

/// After a bulk load with explicit ids: move PostgreSQL's identity sequences past them
/// (SQLite's AUTOINCREMENT follows explicit ids by itself) and refresh planner stats.
async fn finish(pool: &Pool) -> anyhow::Result<()> {
    if pool.backend() != Backend::Postgres {
        return Ok(());
    }
    let mut tx = pool.begin_write().await?;
    for entity in BULK {
        let t = entity.table();
        tx.raw(&format!("SELECT setval(pg_get_serial_sequence('{t}', 'id'), GREATEST((SELECT MAX(id) FROM {t}), 1))")).await?;
    }
    tx.commit().await?;
    let mut tx = pool.begin().await?;
    tx.raw("ANALYZE companies, contacts, deals, activities, record_lookup, history, stage_changes")
        .await?;
    tx.commit().await?;
    Ok(())
}
