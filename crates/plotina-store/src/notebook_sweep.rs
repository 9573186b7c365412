//! The notebook sweep: tasks due within a day and deals left too long in a stage become
//! notebook items of their owners.
//!
//! On a large base the candidates run into the hundreds of thousands (the medium data
//! set: 68k overdue tasks, 274k stale deals), and every sweep finds the old ones again;
//! the dedupe keys make that harmless. So the sweep reads the candidates in pages of
//! [`PAGE`] records (by id, in read transactions, which never wait for writers) and
//! writes each page's items with one multi-row `INSERT … ON CONFLICT DO NOTHING` in a
//! short write transaction of its own. A sweep therefore never holds the write lock for
//! more than one page, and its memory is one page, however large the base.

use chrono::{DateTime, Duration, Utc};
use sea_query::{Alias, Expr as SqlExpr, Order, Query};
use sea_query_binder::SqlxBinder;

use crate::db::{Backend, Row, Tx};
use crate::error::Result;
use crate::filter_sql::col;
use crate::notebook::{item_values, kind, NewItem, SweepOutcome, ITEM_COLUMNS};
use crate::reports::ts_value;
use crate::store::Store;

/// Records read per page, and so items written per write transaction at most.
pub const PAGE: u64 = 1000;

/// Inserts the items whose (owner, dedupe key) is not taken yet; returns how many were
/// new. Items without a dedupe key are not for this path.
async fn insert_new_items(tx: &mut Tx, items: &[NewItem], now: DateTime<Utc>) -> Result<u64> {
    if items.is_empty() {
        return Ok(0);
    }
    let backend = tx.backend();
    let mut insert = Query::insert();
    insert
        .into_table(Alias::new("notebook_items"))
        .columns(ITEM_COLUMNS.map(Alias::new));
    for item in items {
        insert.values_panic(item_values(item, now));
    }
    let (sql, values) = match backend {
        Backend::Sqlite => insert.build_sqlx(sea_query::SqliteQueryBuilder),
        Backend::Postgres => insert.build_sqlx(sea_query::PostgresQueryBuilder),
    };
    // The conflict target is the partial unique index on (owner_id, dedupe_key).
    let sql =
        format!("{sql} ON CONFLICT (owner_id, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING");
    Ok(tx.execute_sql(&sql, values).await?)
}

/// The due-task items of one page of activities after `after` (by id), and the last id
/// read (`None` when the page was the last).
async fn due_task_page(
    store: &Store,
    until: DateTime<Utc>,
    after: i64,
) -> Result<(Vec<NewItem>, Option<i64>)> {
    let q = Query::select()
        .columns(["id", "subject", "due_at", "assignee_id", "owner_id"].map(Alias::new))
        .from(Alias::new("activities"))
        .and_where(col("id").gt(after))
        .and_where(col("done").eq(false))
        .and_where(col("deleted_at").is_null())
        .and_where(col("due_at").is_not_null())
        .and_where(col("due_at").lt(ts_value(until)))
        .order_by(Alias::new("id"), Order::Asc)
        .limit(PAGE)
        .to_owned();
    let rows = read_page(store, &q).await?;
    let last = last_id(&rows)?;
    let mut items = Vec::with_capacity(rows.len());
    for row in &rows {
        let id = row.i64("id")?.unwrap_or_default();
        let Some(owner) = row.i64("assignee_id")?.or(row.i64("owner_id")?) else {
            continue;
        };
        let due = row.datetime("due_at")?;
        items.push(NewItem {
            kind: kind::TASK_DUE.into(),
            owner_id: owner,
            record: Some(("activity".into(), id)),
            text: row.text("subject")?.unwrap_or_default(),
            due_at: due,
            source: "sweep:task_due".into(),
            dedupe_key: Some(format!(
                "task_due:{id}:{}",
                due.map(|d| d.timestamp_millis()).unwrap_or_default()
            )),
            ..Default::default()
        });
    }
    Ok((items, last))
}

/// Open stages that go stale: (stage id, rotten days).
async fn rotting_stages(store: &Store) -> Result<Vec<(i64, i64)>> {
    let q = Query::select()
        .columns(["id", "rotten_days"].map(Alias::new))
        .from(Alias::new("stages"))
        .and_where(col("kind").eq("open"))
        .and_where(col("deleted_at").is_null())
        .and_where(col("rotten_days").gt(0))
        .to_owned();
    let mut out = Vec::new();
    for r in read_page(store, &q).await? {
        out.push((
            r.i64("id")?.unwrap_or_default(),
            r.i64("rotten_days")?.unwrap_or_default(),
        ));
    }
    Ok(out)
}

/// The stale-deal items of one page of deals in rotting stages after `after` (by id).
/// The dedupe key names the stage and the time the deal entered it, so each stay in a
/// stage yields at most one item.
async fn stale_deal_page(
    store: &Store,
    stages: &[(i64, i64)],
    now: DateTime<Utc>,
    after: i64,
) -> Result<(Vec<NewItem>, Option<i64>)> {
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
        .and_where(col("id").gt(after))
        // `+stage_id` keeps the planner on the primary key: through the stage index it
        // sorted every open deal again for each page (1.5 s a page on the medium set).
        .and_where(
            SqlExpr::expr(SqlExpr::cust("+stage_id")).is_in(stages.iter().map(|(id, _)| *id)),
        )
        .and_where(col("deleted_at").is_null())
        .and_where(col("owner_id").is_not_null())
        .order_by(Alias::new("id"), Order::Asc)
        .limit(PAGE)
        .to_owned();
    let rows = read_page(store, &q).await?;
    let last = last_id(&rows)?;
    let mut items = Vec::new();
    for d in &rows {
        let id = d.i64("id")?.unwrap_or_default();
        let stage_id = d.i64("stage_id")?.unwrap_or_default();
        let Some(days) = stages.iter().find(|(s, _)| *s == stage_id).map(|(_, d)| *d) else {
            continue;
        };
        let Some(entered) = d
            .datetime("stage_changed_at")?
            .or(d.datetime("created_at")?)
        else {
            continue;
        };
        if entered >= now - Duration::days(days) {
            continue;
        }
        items.push(NewItem {
            kind: kind::DEAL_STALE.into(),
            owner_id: d.i64("owner_id")?.unwrap_or_default(),
            record: Some(("deal".into(), id)),
            text: d.text("title")?.unwrap_or_default(),
            due_at: Some(entered + Duration::days(days)),
            source: "sweep:deal_stale".into(),
            dedupe_key: Some(format!(
                "deal_stale:{id}:{stage_id}:{}",
                entered.timestamp_millis()
            )),
            payload: Some(serde_json::json!({"stage_id": stage_id, "rotten_days": days})),
            ..Default::default()
        });
    }
    Ok((items, last))
}

async fn read_page(store: &Store, q: &sea_query::SelectStatement) -> Result<Vec<Row>> {
    let mut tx = store.pool().begin().await?;
    let rows = tx.fetch_all(q).await?;
    tx.commit().await?;
    Ok(rows)
}

/// The id of a full page's last row: where the next page starts. `None` after a short
/// page (the last one).
fn last_id(rows: &[Row]) -> Result<Option<i64>> {
    if (rows.len() as u64) < PAGE {
        return Ok(None);
    }
    Ok(rows.last().map(|r| r.i64("id")).transpose()?.flatten())
}

async fn write_page(store: &Store, items: &[NewItem], now: DateTime<Utc>) -> Result<u64> {
    if items.is_empty() {
        return Ok(0);
    }
    let mut tx = store.pool().begin_write().await?;
    let posted = insert_new_items(&mut tx, items, now).await?;
    tx.commit().await?;
    Ok(posted)
}

impl Store {
    /// Sweeps tasks due within the next 24 hours and stale deals into their owners'
    /// notebooks, page by page (see the module documentation). Returns how many items
    /// were new; a second sweep at the same moment posts nothing.
    pub async fn sweep_notebook(&self, now: DateTime<Utc>) -> Result<SweepOutcome> {
        let until = now + Duration::hours(24);
        let mut out = SweepOutcome::default();
        let mut after = 0;
        loop {
            let (items, last) = due_task_page(self, until, after).await?;
            out.task_due += write_page(self, &items, now).await?;
            match last {
                Some(id) => after = id,
                None => break,
            }
        }
        let stages = rotting_stages(self).await?;
        if stages.is_empty() {
            return Ok(out);
        }
        let mut after = 0;
        loop {
            let (items, last) = stale_deal_page(self, &stages, now, after).await?;
            out.deal_stale += write_page(self, &items, now).await?;
            match last {
                Some(id) => after = id,
                None => break,
            }
        }
        Ok(out)
    }
}
