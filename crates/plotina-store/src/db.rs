//! The two engines behind one small interface: statements are built once with sea-query
//! and rendered for the backend at hand; rows are decoded through `Row`.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use sea_query::{PostgresQueryBuilder, QueryStatementWriter, SqliteQueryBuilder, Values};
use sea_query_binder::{SqlxBinder, SqlxValues};
use serde_json::Value as Json;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{PgPool, Postgres, Row as _, Sqlite, SqlitePool, Transaction};

pub use crate::config_cache::ConfigCache;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone, Debug)]
pub enum Pool {
    Sqlite(SqlitePool, WriteQueue, Arc<ConfigCache>),
    Postgres(PgPool, Arc<ConfigCache>),
}

/// SQLite has one writer at a time. Left to its busy handler, writers waiting for the
/// lock poll it with growing sleeps, and under steady writes a waiting writer can lose
/// every race until its busy timeout runs out (seen as 503s and 18 s waits with eight
/// clients creating deals). Write transactions of this process queue here first, in
/// arrival order, so at most one of them asks SQLite for the lock; the busy timeout stays
/// for writers in other processes (the command line tools).
pub type WriteQueue = std::sync::Arc<tokio::sync::Mutex<()>>;

/// How long a write transaction waits for its turn in [`WriteQueue`], as SQLite's busy
/// timeout does for the lock itself.
const WRITE_QUEUE_WAIT: Duration = Duration::from_secs(10);

/// A write transaction waited longer than [`WRITE_QUEUE_WAIT`] for its turn: the
/// database is busy, nothing was written (see `error::is_busy`).
#[derive(Debug, thiserror::Error)]
#[error("waited {WRITE_QUEUE_WAIT:?} for the database's write lock")]
pub struct WriteQueueTimeout;

/// Connection settings: a URL (`sqlite://path` or `postgres://…`) and the pool size.
#[derive(Debug, Clone)]
pub struct DbConfig {
    pub url: String,
    pub max_connections: u32,
}

/// Pages the WAL may reach before a committing writer checkpoints it itself.
const WAL_BACKSTOP_PAGES: &str = "8192";

/// How often the background checkpointer copies the WAL into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// Copies committed WAL frames into the database file off the request path. With
/// SQLite's default, the commit that pushes the WAL past 1,000 pages does the
/// checkpoint (writing those pages back and fsyncing the database file) before it
/// returns, which put a few milliseconds on one write in every few dozen — the tail of
/// every write latency. A PASSIVE checkpoint takes no writer lock, so writers carry on
/// while it runs. The task ends when the pool is closed (or with the runtime).
fn spawn_checkpointer(pool: sqlx::SqlitePool) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            if pool.is_closed() {
                break;
            }
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&pool)
                .await
            {
                if pool.is_closed() {
                    break;
                }
                tracing::debug!("background WAL checkpoint: {e}");
            }
        }
    });
}

impl Pool {
    /// Opens a pool. SQLite runs in WAL mode with `synchronous = FULL`: every acknowledged
    /// commit is fsynced, so it survives a killed process and a power cut alike; the cost
    /// (one fsync per write transaction) is measured in BENCHMARKS.md. Foreign keys are on
    /// and writers wait up to 10 s for the lock instead of failing.
    pub async fn connect(cfg: &DbConfig) -> anyhow::Result<Pool> {
        if cfg.url.starts_with("postgres://") || cfg.url.starts_with("postgresql://") {
            let opts = PgConnectOptions::from_str(&cfg.url)
                .context("bad PostgreSQL URL")?
                .statement_cache_capacity(STATEMENT_CACHE);
            let pool = PgPoolOptions::new()
                .max_connections(cfg.max_connections)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(opts)
                .await
                .context("cannot connect to PostgreSQL")?;
            Ok(Pool::Postgres(pool, Arc::default()))
        } else {
            let path = cfg
                .url
                .trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:");
            if let Some(dir) = std::path::Path::new(path).parent() {
                if !dir.as_os_str().is_empty() {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("cannot create {}", dir.display()))?;
                }
            }
            let opts = SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .with_regexp()
                .busy_timeout(Duration::from_secs(10))
                // 8 MB of page cache per connection: the operating system's file cache
                // holds the hot pages for every connection at once, so a larger private
                // cache per connection mostly multiplies the server's memory.
                .pragma("cache_size", "-8000")
                .pragma("temp_store", "memory")
                // Checkpoints run in the background (see `spawn_checkpointer`); the
                // automatic one stays as a backstop if the WAL still grows past 32 MB.
                .pragma("wal_autocheckpoint", WAL_BACKSTOP_PAGES)
                // Bulk writes use a few statement shapes per table (`statement_sizes`);
                // with the other statements they outgrow the default of 100, and an
                // evicted shape is parsed again at its next use.
                .statement_cache_capacity(STATEMENT_CACHE);
            let pool = SqlitePoolOptions::new()
                .max_connections(cfg.max_connections)
                .acquire_timeout(Duration::from_secs(15))
                .connect_with(opts)
                .await
                .with_context(|| format!("cannot open SQLite database {path}"))?;
            spawn_checkpointer(pool.clone());
            Ok(Pool::Sqlite(pool, WriteQueue::default(), Arc::default()))
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Pool::Sqlite(..) => Backend::Sqlite,
            Pool::Postgres(..) => Backend::Postgres,
        }
    }

    pub async fn begin(&self) -> anyhow::Result<Tx> {
        Ok(self.begin_read().await?)
    }

    async fn begin_read(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Pool::Sqlite(p, _, cache) => Tx::Sqlite(p.begin().await?, None, TxConfig::new(cache)),
            Pool::Postgres(p, cache) => Tx::Postgres(p.begin().await?, TxConfig::new(cache)),
        })
    }

    /// SQLite takes its write lock lazily, which turns a read-then-write transaction into
    /// a deadlock-prone upgrade under concurrency; write transactions take it up front.
    pub async fn begin_write(&self) -> anyhow::Result<Tx> {
        Ok(match self {
            Pool::Sqlite(p, queue, cache) => {
                let turn = tokio::time::timeout(WRITE_QUEUE_WAIT, queue.clone().lock_owned())
                    .await
                    .map_err(|_| WriteQueueTimeout)?;
                Tx::Sqlite(
                    p.begin_with("BEGIN IMMEDIATE").await?,
                    Some(turn),
                    TxConfig::new(cache),
                )
            }
            Pool::Postgres(p, cache) => Tx::Postgres(p.begin().await?, TxConfig::new(cache)),
        })
    }

    /// One integer column of the first row of a single read statement (ids by a key).
    pub async fn fetch_i64<S: QueryStatementWriter + SqlxBinder>(
        &self,
        stmt: &S,
        column: &str,
    ) -> Result<Option<i64>, sqlx::Error> {
        let mut tx = self.begin_read().await?;
        let value = match tx.fetch_optional(stmt).await? {
            Some(row) => row.i64(column)?,
            None => None,
        };
        tx.commit_sqlx().await?;
        Ok(value)
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        match self {
            Pool::Sqlite(p, ..) => sqlx::migrate!("./migrations/sqlite").run(p).await?,
            Pool::Postgres(p, _) => sqlx::migrate!("./migrations/postgres").run(p).await?,
        }
        Ok(())
    }

    pub async fn close(&self) {
        match self {
            Pool::Sqlite(p, ..) => p.close().await,
            Pool::Postgres(p, _) => p.close().await,
        }
    }

    /// Readiness: the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        match self {
            Pool::Sqlite(p, ..) => sqlx::query("SELECT 1").execute(p).await.is_ok(),
            Pool::Postgres(p, _) => sqlx::query("SELECT 1").execute(p).await.is_ok(),
        }
    }
}

pub enum Tx {
    /// A write transaction holds its turn in the [`WriteQueue`] until it ends (the
    /// transaction is dropped before the turn: fields drop in order).
    Sqlite(
        Transaction<'static, Sqlite>,
        Option<tokio::sync::OwnedMutexGuard<()>>,
        TxConfig,
    ),
    Postgres(Transaction<'static, Postgres>, TxConfig),
}

/// A transaction's view of its pool's [`ConfigCache`]: the settings epoch it read, kept
/// until its next statement that is not a plain read (which may have changed settings).
pub struct TxConfig {
    cache: Arc<ConfigCache>,
    epoch: Option<i64>,
}

impl TxConfig {
    fn new(cache: &Arc<ConfigCache>) -> TxConfig {
        TxConfig {
            cache: cache.clone(),
            epoch: None,
        }
    }
}

/// A statement rendered for one backend.
fn render<S: QueryStatementWriter + SqlxBinder>(
    backend: Backend,
    stmt: &S,
) -> (String, SqlxValues) {
    match backend {
        Backend::Sqlite => stmt.build_sqlx(SqliteQueryBuilder),
        Backend::Postgres => stmt.build_sqlx(PostgresQueryBuilder),
    }
}

impl Tx {
    pub fn backend(&self) -> Backend {
        match self {
            Tx::Sqlite(..) => Backend::Sqlite,
            Tx::Postgres(..) => Backend::Postgres,
        }
    }

    pub async fn commit(self) -> anyhow::Result<()> {
        Ok(self.commit_sqlx().await?)
    }

    async fn commit_sqlx(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(t, ..) => t.commit().await,
            Tx::Postgres(t, _) => t.commit().await,
        }
    }

    fn config(&mut self) -> &mut TxConfig {
        match self {
            Tx::Sqlite(_, _, c) | Tx::Postgres(_, c) => c,
        }
    }

    /// The pool's settings cache and the settings epoch this transaction sees: read once,
    /// then again only after a statement of this transaction that may have written.
    pub(crate) async fn config_epoch(&mut self) -> Result<(Arc<ConfigCache>, i64), sqlx::Error> {
        if let Some(epoch) = self.config().epoch {
            return Ok((self.config().cache.clone(), epoch));
        }
        let rows = self
            .fetch_all_sql(
                "SELECT epoch FROM config_epoch WHERE id = 1",
                SqlxValues(Values(Vec::new())),
            )
            .await?;
        let epoch = match rows.first() {
            Some(r) => r.i64("epoch")?.unwrap_or_default(),
            None => 0,
        };
        self.config().epoch = Some(epoch);
        Ok((self.config().cache.clone(), epoch))
    }

    /// Called for every statement: one that may write forgets the epoch read before it.
    fn note_statement(&mut self, sql: &str) {
        if !sql.trim_start().starts_with("SELECT") {
            self.config().epoch = None;
        }
    }

    pub async fn fetch_all<S: QueryStatementWriter + SqlxBinder>(
        &mut self,
        stmt: &S,
    ) -> Result<Vec<Row>, sqlx::Error> {
        let (sql, values) = render(self.backend(), stmt);
        self.fetch_all_sql(&sql, values).await
    }

    pub async fn fetch_optional<S: QueryStatementWriter + SqlxBinder>(
        &mut self,
        stmt: &S,
    ) -> Result<Option<Row>, sqlx::Error> {
        Ok(self.fetch_all(stmt).await?.into_iter().next())
    }

    pub async fn execute<S: QueryStatementWriter + SqlxBinder>(
        &mut self,
        stmt: &S,
    ) -> Result<u64, sqlx::Error> {
        let (sql, values) = render(self.backend(), stmt);
        self.execute_sql(&sql, values).await
    }

    /// Runs an INSERT and returns the new row's id (`RETURNING id` works on both).
    pub async fn insert_id(
        &mut self,
        stmt: &mut sea_query::InsertStatement,
    ) -> Result<i64, sqlx::Error> {
        stmt.returning_col(sea_query::Alias::new("id"));
        let row = self
            .fetch_all(&*stmt)
            .await?
            .into_iter()
            .next()
            .ok_or(sqlx::Error::RowNotFound)?;
        row.i64("id")?.ok_or(sqlx::Error::RowNotFound)
    }

    /// Hand-written SQL for what differs between engines; `?` placeholders on SQLite,
    /// `$n` on PostgreSQL, as the caller wrote them.
    pub async fn fetch_all_sql(
        &mut self,
        sql: &str,
        values: SqlxValues,
    ) -> Result<Vec<Row>, sqlx::Error> {
        self.note_statement(sql);
        match self {
            Tx::Sqlite(t, ..) => Ok(sqlx::query_with(sql, values)
                .fetch_all(&mut **t)
                .await?
                .into_iter()
                .map(Row::Sqlite)
                .collect()),
            Tx::Postgres(t, _) => Ok(sqlx::query_with(sql, values)
                .fetch_all(&mut **t)
                .await?
                .into_iter()
                .map(Row::Postgres)
                .collect()),
        }
    }

    pub async fn execute_sql(&mut self, sql: &str, values: SqlxValues) -> Result<u64, sqlx::Error> {
        self.note_statement(sql);
        match self {
            Tx::Sqlite(t, ..) => Ok(sqlx::query_with(sql, values)
                .execute(&mut **t)
                .await?
                .rows_affected()),
            Tx::Postgres(t, _) => Ok(sqlx::query_with(sql, values)
                .execute(&mut **t)
                .await?
                .rows_affected()),
        }
    }

    pub async fn raw(&mut self, sql: &str) -> Result<u64, sqlx::Error> {
        self.execute_sql(sql, SqlxValues(Values(Vec::new()))).await
    }
}

/// A result row of either engine.
pub enum Row {
    Sqlite(SqliteRow),
    Postgres(PgRow),
}

macro_rules! get {
    ($row:expr, $t:ty, $col:expr) => {
        match $row {
            Row::Sqlite(r) => r.try_get::<$t, _>($col),
            Row::Postgres(r) => r.try_get::<$t, _>($col),
        }
    };
}

/// A column of a [`Row`]: its name, or its position (`usize`) when many rows of one
/// statement are read (a name is looked up in a hash map for every value).
pub trait Col: sqlx::ColumnIndex<SqliteRow> + sqlx::ColumnIndex<PgRow> + Copy {}
impl<T: sqlx::ColumnIndex<SqliteRow> + sqlx::ColumnIndex<PgRow> + Copy> Col for T {}

impl Row {
    pub fn i64(&self, col: &str) -> Result<Option<i64>, sqlx::Error> {
        self.i64_at(col)
    }
    pub fn text(&self, col: &str) -> Result<Option<String>, sqlx::Error> {
        self.text_at(col)
    }
    pub fn bool(&self, col: &str) -> Result<bool, sqlx::Error> {
        self.bool_at(col)
    }
    pub fn datetime(&self, col: &str) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        self.datetime_at(col)
    }
    pub fn date(&self, col: &str) -> Result<Option<NaiveDate>, sqlx::Error> {
        self.date_at(col)
    }
    pub fn json(&self, col: &str) -> Result<Option<Json>, sqlx::Error> {
        self.json_at(col)
    }
    pub fn f64(&self, col: &str) -> Result<Option<f64>, sqlx::Error> {
        get!(self, Option<f64>, col)
    }

    /// The position of a named column, for reading many rows by position.
    pub fn position(&self, col: &str) -> Option<usize> {
        use sqlx::Column as _;
        match self {
            Row::Sqlite(r) => r.try_column(col).ok().map(|c| c.ordinal()),
            Row::Postgres(r) => r.try_column(col).ok().map(|c| c.ordinal()),
        }
    }

    pub fn i64_at(&self, col: impl Col) -> Result<Option<i64>, sqlx::Error> {
        get!(self, Option<i64>, col)
    }
    pub fn text_at(&self, col: impl Col) -> Result<Option<String>, sqlx::Error> {
        get!(self, Option<String>, col)
    }
    pub fn bool_at(&self, col: impl Col) -> Result<bool, sqlx::Error> {
        Ok(get!(self, Option<bool>, col)?.unwrap_or(false))
    }
    pub fn datetime_at(&self, col: impl Col) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        get!(self, Option<DateTime<Utc>>, col)
    }
    /// A timestamp as the API writes it (RFC 3339, milliseconds, `Z`). SQLite keeps
    /// `2026-11-24T08:15:25.468+00:00`, which only needs its offset rewritten; anything
    /// else is parsed and formatted.
    pub fn datetime_text_at(&self, col: impl Col) -> Result<Option<String>, sqlx::Error> {
        if let Row::Sqlite(r) = self {
            if let Some(stored) = r.try_get::<Option<&str>, _>(col)? {
                if let Some(text) = api_datetime(stored) {
                    return Ok(Some(text));
                }
            }
        }
        Ok(self
            .datetime_at(col)?
            .map(plotina_core::value::format_datetime))
    }
    pub fn date_at(&self, col: impl Col) -> Result<Option<NaiveDate>, sqlx::Error> {
        get!(self, Option<NaiveDate>, col)
    }
    pub fn json_at(&self, col: impl Col) -> Result<Option<Json>, sqlx::Error> {
        if let Row::Sqlite(r) = self {
            // Most list columns of most records are empty.
            match r.try_get::<Option<&str>, _>(col)? {
                None => return Ok(None),
                Some("[]") => return Ok(Some(Json::Array(Vec::new()))),
                Some("{}") => return Ok(Some(Json::Object(Default::default()))),
                Some(_) => {}
            }
        }
        Ok(get!(self, Option<sqlx::types::Json<Json>>, col)?.map(|j| j.0))
    }
}

/// `2026-11-24T08:15:25.468+00:00` as `2026-11-24T08:15:25.468Z`; `None` for any other
/// shape.
fn api_datetime(stored: &str) -> Option<String> {
    let b = stored.as_bytes();
    let shaped = b.len() == 29
        && stored.ends_with("+00:00")
        && b[..23].iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'.',
            _ => c.is_ascii_digit(),
        });
    shaped.then(|| {
        let mut text = String::with_capacity(24);
        text.push_str(&stored[..23]);
        text.push('Z');
        text
    })
}

/// Row values for `values_panic`, which takes expressions.
pub fn vals<const N: usize>(values: [sea_query::Value; N]) -> Vec<sea_query::SimpleExpr> {
    values
        .into_iter()
        .map(sea_query::SimpleExpr::Value)
        .collect()
}

/// Prepared statements kept per connection.
const STATEMENT_CACHE: usize = 400;

/// How `n` rows are cut into multi-row statements of at most `max` rows: whole
/// statements of the largest power of two not above `max`, then the rest in smaller
/// powers of two (480 → 256 + 128 + 64 + 32). A table thus sees a handful of statement
/// shapes, which both engines' prepared-statement caches keep, instead of a new shape
/// (parsed and planned again) for every batch whose size was not seen before.
pub fn statement_sizes(mut n: usize, max: usize) -> Vec<usize> {
    let max = max.max(1);
    let top = 1usize << (usize::BITS - 1 - max.leading_zeros());
    let mut out = Vec::new();
    while n >= top {
        out.push(top);
        n -= top;
    }
    let mut size = top >> 1;
    while n > 0 && size > 0 {
        if n >= size {
            out.push(size);
            n -= size;
        }
        size >>= 1;
    }
    out
}

/// Rows per multi-row statement for `columns` values a row: well under both engines'
/// parameter limits (SQLite: 32766, PostgreSQL: 65535), at most 2048.
pub fn rows_per_statement(columns: usize) -> usize {
    (30_000 / columns.max(1)).clamp(1, 2048)
}

/// Multi-row INSERTs of `rows` (each the values of `columns`), cut by
/// [`statement_sizes`] under [`rows_per_statement`].
pub async fn insert_rows(
    tx: &mut Tx,
    table: &str,
    columns: &[&str],
    rows: Vec<Vec<sea_query::SimpleExpr>>,
) -> Result<(), sqlx::Error> {
    if rows.iter().all(|r| {
        r.len() == columns.len()
            && r.iter()
                .all(|e| matches!(e, sea_query::SimpleExpr::Value(_)))
    }) {
        let rows = rows
            .into_iter()
            .map(|r| {
                r.into_iter()
                    .filter_map(|e| match e {
                        sea_query::SimpleExpr::Value(v) => Some(v),
                        _ => None,
                    })
                    .collect()
            })
            .collect();
        return insert_values(tx, table, columns, rows).await;
    }
    let sizes = statement_sizes(rows.len(), rows_per_statement(columns.len()));
    let mut rows = rows.into_iter();
    for size in sizes {
        let mut insert = sea_query::Query::insert();
        insert
            .into_table(sea_query::Alias::new(table))
            .columns(columns.iter().map(|c| sea_query::Alias::new(*c)));
        for row in rows.by_ref().take(size) {
            insert.values_panic(row);
        }
        tx.execute(&insert).await?;
    }
    Ok(())
}

/// `INSERT INTO "table" ("a", "b") VALUES (?, ?), …` for `rows` rows, with the
/// engine's placeholders (`$n` on PostgreSQL).
fn insert_sql(backend: Backend, table: &str, columns: &[&str], rows: usize) -> String {
    let mut sql = String::with_capacity(64 + columns.len() * (rows * 6 + 16));
    sql.push_str("INSERT INTO \"");
    sql.push_str(table);
    sql.push_str("\" (");
    for (i, c) in columns.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push('"');
        sql.push_str(c);
        sql.push('"');
    }
    sql.push_str(") VALUES ");
    let mut n = 0usize;
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..columns.len() {
            if c > 0 {
                sql.push_str(", ");
            }
            n += 1;
            match backend {
                Backend::Sqlite => sql.push('?'),
                Backend::Postgres => {
                    sql.push('$');
                    sql.push_str(&n.to_string());
                }
            }
        }
        sql.push(')');
    }
    sql
}

/// Multi-row INSERTs of plain values, the SQL written here rather than through
/// sea-query: the bulk writes (history, lookups, import items) send tens of thousands of
/// values a chunk, and rendering them as expressions and collecting them again cost
/// more than the statement itself. Cut by [`statement_sizes`] like [`insert_rows`].
pub async fn insert_values(
    tx: &mut Tx,
    table: &str,
    columns: &[&str],
    rows: Vec<Vec<sea_query::Value>>,
) -> Result<(), sqlx::Error> {
    let sizes = statement_sizes(rows.len(), rows_per_statement(columns.len()));
    let mut rows = rows.into_iter();
    for size in sizes {
        let sql = insert_sql(tx.backend(), table, columns, size);
        let mut values = Vec::with_capacity(size * columns.len());
        for row in rows.by_ref().take(size) {
            values.extend(row);
        }
        tx.execute_sql(&sql, SqlxValues(Values(values))).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_timestamps_read_as_the_api_writes_them() {
        let t = chrono::DateTime::parse_from_rfc3339("2026-11-24T08:15:25.468+00:00")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(
            api_datetime("2026-11-24T08:15:25.468+00:00").as_deref(),
            Some(plotina_core::value::format_datetime(t).as_str())
        );
        for other in [
            "2026-11-24T08:15:25+00:00",
            "2026-11-24T08:15:25.468+03:00",
            "2026-11-24 08:15:25.468+00:00",
            "2026-11-24T08:15:25.4680+0000",
            "",
        ] {
            assert_eq!(api_datetime(other), None, "{other}");
        }
    }

    /// Write transactions of one process take turns in arrival order; reads do not wait.
    #[tokio::test]
    async fn sqlite_writers_wait_for_their_turn_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = DbConfig {
            url: format!("sqlite://{}", dir.path().join("q.db").display()),
            max_connections: 6,
        };
        let pool = Pool::connect(&cfg).await.unwrap();
        let mut first = pool.begin_write().await.unwrap();
        first
            .raw("CREATE TABLE turns (n INTEGER NOT NULL)")
            .await
            .unwrap();
        let order = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut waiting = Vec::new();
        for n in 1..=3i64 {
            let (pool, order) = (pool.clone(), order.clone());
            waiting.push(tokio::spawn(async move {
                let mut tx = pool.begin_write().await.unwrap();
                order.lock().unwrap().push(n);
                tx.raw(&format!("INSERT INTO turns (n) VALUES ({n})"))
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
            }));
            // Queued one after the other.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // A read transaction is not queued behind the writer.
        let read = tokio::time::timeout(Duration::from_secs(5), pool.begin())
            .await
            .expect("a read does not wait for writers");
        drop(read);
        assert!(
            order.lock().unwrap().is_empty(),
            "nobody writes before the first ends"
        );
        first.commit().await.unwrap();
        for w in waiting {
            w.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), vec![1, 2, 3]);
        assert!(crate::error::is_busy(&anyhow::Error::new(
            WriteQueueTimeout
        )));
        pool.close().await;
    }

    #[test]
    fn insert_sql_numbers_postgres_placeholders() {
        assert_eq!(
            insert_sql(Backend::Sqlite, "t", &["a", "b"], 2),
            r#"INSERT INTO "t" ("a", "b") VALUES (?, ?), (?, ?)"#
        );
        assert_eq!(
            insert_sql(Backend::Postgres, "t", &["a", "b"], 2),
            r#"INSERT INTO "t" ("a", "b") VALUES ($1, $2), ($3, $4)"#
        );
    }

    #[test]
    fn statements_come_in_powers_of_two() {
        assert_eq!(statement_sizes(0, 500), Vec::<usize>::new());
        assert_eq!(statement_sizes(480, 500), vec![256, 128, 64, 32]);
        assert_eq!(
            statement_sizes(1000, 500),
            vec![256, 256, 256, 128, 64, 32, 8]
        );
        assert_eq!(statement_sizes(5, 1), vec![1, 1, 1, 1, 1]);
        assert_eq!(
            statement_sizes(3000, 2048),
            vec![2048, 512, 256, 128, 32, 16, 8]
        );
        for n in 0..700 {
            let s = statement_sizes(n, 300);
            assert_eq!(s.iter().sum::<usize>(), n);
            assert!(s.iter().all(|k| k.is_power_of_two() && *k <= 256));
        }
    }
}
