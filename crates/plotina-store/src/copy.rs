//! `plotina db copy`: a whole Plotina database from one engine to another (SQLite →
//! PostgreSQL, back, or to the same engine), losslessly and verified.
//!
//! Why it works this way:
//!
//! - **One table of truth.** [`TABLES`] names every table, every column and the column's
//!   kind ([`ColumnKind`]) once. The engines store the same value differently (SQLite keeps
//!   timestamps, dates and JSON as TEXT and booleans as INTEGER; PostgreSQL has
//!   TIMESTAMPTZ, DATE, JSONB and BOOLEAN), so a column is decoded by its kind into a
//!   typed [`Cell`] and bound again as that type: the target engine then stores it in its
//!   own native form, exactly as the application would have written it.
//!   [`schema_differences`] compares this table with the live schema (`sqlite_master` /
//!   `pragma_table_info`, `pg_catalog`); a copy refuses a source or target that differs,
//!   and a test fails as soon as a migration adds a table or column copy.rs does not know.
//! - **Streaming by key.** Tables are read in batches of [`BATCH_ROWS`] in primary-key
//!   order (keyset pagination, never `OFFSET`, never a whole table in memory) and written
//!   with multi-row sea-query INSERTs. `record_lookup` has no key at all and may hold equal
//!   rows, so it is ordered by every column and a batch re-reads the run of rows equal to
//!   the last one it saw, skipping those already copied. Text keys are compared bytewise
//!   on both engines (`COLLATE "C"` on PostgreSQL, SQLite's default BINARY), so both read a
//!   table in the same order.
//! - **All or nothing.** The source is read in one snapshot (a read transaction; on
//!   PostgreSQL `REPEATABLE READ, READ ONLY`), the target is loaded in one transaction.
//!   Tables link to each other in circles (users ↔ departments ↔ roles), so foreign keys
//!   are checked at commit: PostgreSQL's are `DEFERRABLE INITIALLY DEFERRED`, SQLite gets
//!   `PRAGMA defer_foreign_keys = ON`. Ids are copied as they are; afterwards PostgreSQL's
//!   identity sequences are moved past the largest id (SQLite's AUTOINCREMENT follows
//!   inserted ids by itself through `sqlite_sequence`).
//! - **Empty targets only.** The target is migrated, then must hold no rows at all: a copy
//!   never merges into a live database.
//! - **Verified.** Per table a SHA-256 over a canonical text form of every decoded row in
//!   key order (integers in decimal, text as a JSON string, timestamps in UTC RFC 3339 with
//!   milliseconds — more digits only if the value has them, so a lost microsecond shows —,
//!   dates ISO, booleans `true`/`false`, JSON re-serialised with sorted keys, SQL NULL as
//!   `\N`, distinct from JSON `null`). The source sum is taken while copying (from the same
//!   snapshot), the target's by reading it back after the commit; equal sums and row
//!   counts on both sides make the [`CopyReport`] ok. The same sum on either engine means
//!   a round trip SQLite → PostgreSQL → SQLite can be checked at every step.

use std::fmt::Write as _;

use anyhow::{bail, Context};
use chrono::{DateTime, NaiveDate, SecondsFormat, Timelike, Utc};
use sea_query::{Alias, Query, SimpleExpr, Value, Values};
use sea_query_binder::SqlxValues;
use serde::Serialize;
use serde_json::Value as JsonValue;
use sha2::{Digest, Sha256};
use sqlx::Row as _;

use crate::db::{Backend, Pool, Row, Tx};

/// Rows read per keyset batch.
pub const BATCH_ROWS: usize = 2_000;
/// Bound parameters per INSERT, well under SQLite's 32,766 and PostgreSQL's 65,535.
const MAX_PARAMS: usize = 30_000;
/// How SQL NULL appears in the canonical form (JSON `null` is `null`).
const NULL_MARK: &str = "\\N";

/// What a column holds, independent of how each engine stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ColumnKind {
    /// BIGINT / INTEGER: ids, links, counters, money in kopecks.
    Int,
    Text,
    /// TIMESTAMPTZ / RFC 3339 TEXT.
    Time,
    /// DATE / `YYYY-MM-DD` TEXT.
    Date,
    /// BOOLEAN / INTEGER 0 or 1.
    Bool,
    /// JSONB / JSON TEXT.
    Json,
}

impl ColumnKind {
    /// The declared type of such a column on an engine (`pragma_table_info.type`,
    /// `pg_type.typname`).
    pub fn sql_type(self, backend: Backend) -> &'static str {
        match (backend, self) {
            (Backend::Sqlite, ColumnKind::Int | ColumnKind::Bool) => "INTEGER",
            (Backend::Sqlite, _) => "TEXT",
            (Backend::Postgres, ColumnKind::Int) => "int8",
            (Backend::Postgres, ColumnKind::Text) => "text",
            (Backend::Postgres, ColumnKind::Time) => "timestamptz",
            (Backend::Postgres, ColumnKind::Date) => "date",
            (Backend::Postgres, ColumnKind::Bool) => "bool",
            (Backend::Postgres, ColumnKind::Json) => "jsonb",
        }
    }
}

/// How a table's rows are ordered and told apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// An identity `id` column is the primary key.
    Id,
    /// A natural primary key of these columns.
    Primary(&'static [&'static str]),
    /// No primary key (equal rows are possible): ordered by every column.
    EveryColumn,
}

/// One table as the copy knows it.
#[derive(Debug)]
pub struct TableSpec {
    pub name: &'static str,
    /// Whether the table starts with the record columns of [`AUDIT`].
    audit: bool,
    own: &'static [(&'static str, ColumnKind)],
    pub key: Key,
}

impl TableSpec {
    /// Every column with its kind, in the order the copy reads and writes them.
    pub fn columns(&self) -> impl Iterator<Item = (&'static str, ColumnKind)> + '_ {
        let audit: &[(&str, ColumnKind)] = if self.audit { AUDIT } else { &[] };
        audit.iter().chain(self.own).copied()
    }

    pub fn kind(&self, column: &str) -> Option<ColumnKind> {
        self.columns().find(|(c, _)| *c == column).map(|(_, k)| k)
    }

    /// The primary key the live schema must have (none for [`Key::EveryColumn`]).
    pub fn primary_key(&self) -> Vec<&'static str> {
        match self.key {
            Key::Id => vec!["id"],
            Key::Primary(cols) => cols.to_vec(),
            Key::EveryColumn => Vec::new(),
        }
    }

    /// Positions (in [`columns`](Self::columns)) of the columns rows are ordered by.
    fn order_positions(&self) -> Vec<usize> {
        let names: Vec<&str> = self.columns().map(|(c, _)| c).collect();
        match self.key {
            Key::EveryColumn => (0..names.len()).collect(),
            _ => self
                .primary_key()
                .iter()
                .filter_map(|k| names.iter().position(|c| c == k))
                .collect(),
        }
    }
}

use ColumnKind::{Bool, Date, Int, Json, Text, Time};

/// The record columns every entity table starts with (DESIGN.md §3).
const AUDIT: &[(&str, ColumnKind)] = &[
    ("id", Int),
    ("created_at", Time),
    ("created_by", Int),
    ("updated_at", Time),
    ("updated_by", Int),
    ("owner_id", Int),
    ("version", Int),
    ("deleted_at", Time),
    ("custom", Json),
    ("tags", Json),
];

const fn entity(name: &'static str, own: &'static [(&'static str, ColumnKind)]) -> TableSpec {
    TableSpec {
        name,
        audit: true,
        own,
        key: Key::Id,
    }
}

const fn table(
    name: &'static str,
    key: Key,
    own: &'static [(&'static str, ColumnKind)],
) -> TableSpec {
    TableSpec {
        name,
        audit: false,
        own,
        key,
    }
}

/// Every table of the schema, parents first. (Laid out by hand as the table it is.)
#[rustfmt::skip]
pub const TABLES: &[TableSpec] = &[
    entity("roles", &[("name", Text), ("code", Text), ("is_admin", Bool), ("permissions", Json)]),
    entity("departments", &[("name", Text), ("parent_id", Int), ("head_id", Int)]),
    entity(
        "users",
        &[
            ("login", Text), ("name", Text), ("email", Text), ("phone", Text), ("department_id", Int),
            ("role_id", Int), ("language", Text), ("time_zone", Text), ("active", Bool),
            ("password_hash", Text),
        ],
    ),
    entity(
        "pipelines",
        &[
            ("name", Text), ("code", Text), ("department_id", Int), ("forbid_skip", Bool),
            ("lost_reasons", Json), ("position", Int), ("active", Bool),
        ],
    ),
    entity(
        "stages",
        &[
            ("pipeline_id", Int), ("name", Text), ("code", Text), ("kind", Text), ("position", Int),
            ("probability", Int), ("rotten_days", Int),
        ],
    ),
    entity(
        "custom_fields",
        &[
            ("entity", Text), ("key", Text), ("label", Text), ("label_en", Text), ("kind", Text),
            ("options", Json), ("link_entity", Text), ("required", Bool), ("hidden", Bool),
            ("position", Int),
        ],
    ),
    entity(
        "companies",
        &[
            ("name", Text), ("legal_name", Text), ("inn", Text), ("kpp", Text), ("industry", Text),
            ("roles", Json), ("addresses", Json), ("phones", Json), ("emails", Json), ("website", Text),
            ("source", Text), ("private", Bool), ("description", Text), ("search_text", Text),
        ],
    ),
    entity(
        "contacts",
        &[
            ("last_name", Text), ("first_name", Text), ("middle_name", Text), ("full_name", Text),
            ("position", Text), ("companies", Json), ("phones", Json), ("emails", Json),
            ("birthday", Date), ("messengers", Json), ("source", Text), ("search_text", Text),
        ],
    ),
    entity(
        "leads",
        &[
            ("title", Text), ("source", Text), ("status", Text), ("junk_reason", Text),
            ("contact_name", Text), ("company_name", Text), ("phone", Text), ("email", Text),
            ("inn", Text), ("amount", Int), ("message", Text), ("payload", Json), ("company_id", Int),
            ("contact_id", Int), ("deal_id", Int), ("converted_at", Time), ("search_text", Text),
        ],
    ),
    entity(
        "deals",
        &[
            ("title", Text), ("pipeline_id", Int), ("stage_id", Int), ("amount", Int),
            ("currency", Text), ("close_date", Date), ("probability", Int), ("company_id", Int),
            ("contact_ids", Json), ("source", Text), ("lost_reason", Text), ("parent_id", Int),
            ("planned_deadline", Date), ("actual_deadline", Date), ("description", Text),
            ("lead_id", Int), ("stage_changed_at", Time), ("closed_at", Time), ("search_text", Text),
        ],
    ),
    entity(
        "activities",
        &[
            ("kind", Text), ("subject", Text), ("body", Text), ("due_at", Time), ("duration_min", Int),
            ("done", Bool), ("done_at", Time), ("result", Text), ("direction", Text),
            ("assignee_id", Int), ("company_id", Int), ("contact_id", Int), ("deal_id", Int),
            ("lead_id", Int), ("participant_ids", Json), ("parent_id", Int),
        ],
    ),
    table(
        "record_lookup",
        Key::EveryColumn,
        &[("entity", Text), ("record_id", Int), ("field", Text), ("kind", Text), ("value", Text)],
    ),
    table(
        "history",
        Key::Id,
        &[
            ("id", Int), ("entity", Text), ("record_id", Int), ("action", Text), ("field", Text),
            ("old_value", Json), ("new_value", Json), ("changed_at", Time), ("changed_by", Int),
        ],
    ),
    table(
        "stage_changes",
        Key::Id,
        &[
            ("id", Int), ("deal_id", Int), ("pipeline_id", Int), ("from_stage_id", Int),
            ("to_stage_id", Int), ("changed_at", Time), ("changed_by", Int),
            ("seconds_in_previous", Int),
        ],
    ),
    table(
        "api_tokens",
        Key::Id,
        &[
            ("id", Int), ("user_id", Int), ("name", Text), ("token_hash", Text), ("created_at", Time),
            ("last_used_at", Time), ("revoked_at", Time),
        ],
    ),
    table(
        "sessions",
        Key::Primary(&["id_hash"]),
        &[
            ("id_hash", Text), ("user_id", Int), ("csrf_token", Text), ("created_at", Time),
            ("expires_at", Time),
        ],
    ),
    table(
        "idempotency_keys",
        Key::Primary(&["user_id", "key"]),
        &[
            ("user_id", Int), ("key", Text), ("request_hash", Text), ("entity", Text),
            ("record_id", Int), ("created_at", Time),
        ],
    ),
    table(
        "attachments",
        Key::Id,
        &[
            ("id", Int), ("entity", Text), ("record_id", Int), ("file_name", Text),
            ("content_type", Text), ("size", Int), ("sha256", Text), ("created_at", Time),
            ("created_by", Int), ("deleted_at", Time),
        ],
    ),
    table(
        "saved_views",
        Key::Id,
        &[
            ("id", Int), ("entity", Text), ("name", Text), ("filter", Text), ("sort", Text),
            ("columns", Text), ("owner_id", Int), ("shared", Bool), ("created_at", Time),
            ("updated_at", Time),
        ],
    ),
];

/// The spec of a table by name.
pub fn table_spec(name: &str) -> Option<&'static TableSpec> {
    TABLES.iter().find(|t| t.name == name)
}

// ---------------------------------------------------------------------------------------
// Reports

/// Where a copy is, for a progress bar: `done` of `total` rows of `table`, the
/// `table_index`-th of `tables`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyProgress {
    pub table: &'static str,
    pub table_index: usize,
    pub tables: usize,
    pub done: u64,
    pub total: u64,
}

/// One table's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableReport {
    pub table: &'static str,
    /// `COUNT(*)` in the source snapshot.
    pub source_rows: u64,
    /// Rows read from the source and inserted into the target.
    pub rows_copied: u64,
    /// Rows read back from the target after the commit.
    pub target_rows: u64,
    pub source_checksum: String,
    pub target_checksum: String,
}

impl TableReport {
    pub fn ok(&self) -> bool {
        self.source_rows == self.rows_copied
            && self.rows_copied == self.target_rows
            && self.source_checksum == self.target_checksum
    }
}

/// The outcome of [`copy_database`]: the caller decides what a mismatch means (the CLI
/// exits non-zero).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CopyReport {
    pub tables: Vec<TableReport>,
}

impl CopyReport {
    pub fn ok(&self) -> bool {
        self.tables.iter().all(TableReport::ok)
    }

    pub fn rows_copied(&self) -> u64 {
        self.tables.iter().map(|t| t.rows_copied).sum()
    }
}

/// A table's row count and canonical checksum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableChecksum {
    pub table: &'static str,
    pub rows: u64,
    pub checksum: String,
}

// ---------------------------------------------------------------------------------------
// Copy

/// Copies every table of `from` into `to` (migrated here, and required to be empty), in
/// one target transaction, then verifies row counts and checksums per table.
pub async fn copy_database(
    from: &Pool,
    to: &Pool,
    progress: &dyn Fn(CopyProgress),
) -> anyhow::Result<CopyReport> {
    ensure_schema(from, "source").await?;
    to.migrate()
        .await
        .context("cannot migrate the target database")?;
    ensure_schema(to, "target").await?;
    let mut source = begin_snapshot(from).await?;
    let mut target = begin_load(to).await?;
    refuse_non_empty(&mut target).await?;
    let mut copied = Vec::with_capacity(TABLES.len());
    for (index, spec) in TABLES.iter().enumerate() {
        let step = |done, total| {
            progress(CopyProgress {
                table: spec.name,
                table_index: index,
                tables: TABLES.len(),
                done,
                total,
            })
        };
        copied.push(copy_table(&mut source, &mut target, spec, &step).await?);
    }
    reset_identities(&mut target).await?;
    target
        .commit()
        .await
        .context("cannot commit the copy (the source's rows break a constraint of the target)")?;
    source
        .commit()
        .await
        .context("cannot close the source snapshot")?;
    verify(to, copied).await
}

/// Row counts and checksums of every table, read in one snapshot.
pub async fn checksums(pool: &Pool) -> anyhow::Result<Vec<TableChecksum>> {
    let mut tx = begin_snapshot(pool).await?;
    let mut out = Vec::with_capacity(TABLES.len());
    for spec in TABLES {
        let mut scan = Scan::new(spec);
        let mut sum = Checksum::default();
        while let Some(rows) = scan.next(&mut tx).await? {
            rows.iter().for_each(|r| sum.add(r));
        }
        out.push(sum.finish(spec.name));
    }
    tx.commit().await?;
    Ok(out)
}

/// What one table's copy saw on the source side.
struct Copied {
    source_rows: u64,
    sum: TableChecksum,
}

async fn copy_table(
    source: &mut Tx,
    target: &mut Tx,
    spec: &'static TableSpec,
    step: &dyn Fn(u64, u64),
) -> anyhow::Result<Copied> {
    let total = count_rows(source, spec).await?;
    step(0, total);
    let mut scan = Scan::new(spec);
    let mut sum = Checksum::default();
    while let Some(rows) = scan.next(source).await? {
        rows.iter().for_each(|r| sum.add(r));
        insert_rows(target, spec, &rows).await?;
        step(sum.rows, total);
    }
    Ok(Copied {
        source_rows: total,
        sum: sum.finish(spec.name),
    })
}

async fn verify(to: &Pool, copied: Vec<Copied>) -> anyhow::Result<CopyReport> {
    let target = checksums(to).await.context("cannot read the target back")?;
    let tables = copied
        .into_iter()
        .zip(target)
        .map(|(c, t)| TableReport {
            table: c.sum.table,
            source_rows: c.source_rows,
            rows_copied: c.sum.rows,
            target_rows: t.rows,
            source_checksum: c.sum.checksum,
            target_checksum: t.checksum,
        })
        .collect();
    Ok(CopyReport { tables })
}

/// A read transaction that sees one state of the database throughout.
async fn begin_snapshot(pool: &Pool) -> anyhow::Result<Tx> {
    let mut tx = pool.begin().await?;
    if tx.backend() == Backend::Postgres {
        tx.raw("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await?;
    }
    Ok(tx)
}

/// The target's write transaction, foreign keys checked at commit.
async fn begin_load(pool: &Pool) -> anyhow::Result<Tx> {
    let mut tx = pool.begin_write().await?;
    if tx.backend() == Backend::Sqlite {
        tx.raw("PRAGMA defer_foreign_keys = ON").await?;
    }
    Ok(tx)
}

async fn refuse_non_empty(target: &mut Tx) -> anyhow::Result<()> {
    let mut filled = Vec::new();
    for spec in TABLES {
        let sql = format!("SELECT 1 AS one FROM {} LIMIT 1", quote(spec.name));
        if !target.fetch_all_sql(&sql, no_values()).await?.is_empty() {
            filled.push(spec.name);
        }
    }
    if !filled.is_empty() {
        bail!(
            "the target database is not empty (rows in: {}); plotina db copy only loads into a \
             new, empty database and never merges into a live one",
            filled.join(", ")
        );
    }
    Ok(())
}

async fn ensure_schema(pool: &Pool, side: &str) -> anyhow::Result<()> {
    let diffs = schema_differences(pool).await?;
    if !diffs.is_empty() {
        bail!(
            "the {side} database's schema is not the one plotina db copy knows (migrate both to the \
             same Plotina version): {}",
            diffs.join("; ")
        );
    }
    Ok(())
}

async fn count_rows(tx: &mut Tx, spec: &TableSpec) -> anyhow::Result<u64> {
    let sql = format!("SELECT COUNT(*) AS n FROM {}", quote(spec.name));
    let rows = tx.fetch_all_sql(&sql, no_values()).await?;
    let n = rows
        .first()
        .map(|r| r.i64("n"))
        .transpose()?
        .flatten()
        .unwrap_or(0);
    Ok(u64::try_from(n)?)
}

async fn insert_rows(target: &mut Tx, spec: &TableSpec, rows: &[Vec<Cell>]) -> anyhow::Result<()> {
    let columns: Vec<Alias> = spec.columns().map(|(c, _)| Alias::new(c)).collect();
    let per_insert = (MAX_PARAMS / columns.len()).max(1);
    for chunk in rows.chunks(per_insert) {
        let mut insert = Query::insert();
        insert
            .into_table(Alias::new(spec.name))
            .columns(columns.clone());
        for row in chunk {
            insert.values(row.iter().map(|c| SimpleExpr::Value(c.to_value())))?;
        }
        target
            .execute(&insert)
            .await
            .with_context(|| format!("cannot insert into {}", spec.name))?;
    }
    Ok(())
}

/// Moves PostgreSQL's identity sequences past the copied ids.
async fn reset_identities(target: &mut Tx) -> anyhow::Result<()> {
    if target.backend() != Backend::Postgres {
        return Ok(());
    }
    for spec in TABLES.iter().filter(|t| t.key == Key::Id) {
        let sql = format!(
            "SELECT setval(pg_get_serial_sequence('{t}', 'id'), COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) FROM {q}",
            t = spec.name,
            q = quote(spec.name)
        );
        target
            .fetch_all_sql(&sql, no_values())
            .await
            .with_context(|| format!("cannot reset {}'s id", spec.name))?;
    }
    Ok(())
}

fn no_values() -> SqlxValues {
    SqlxValues(Values(Vec::new()))
}

/// Identifiers here are the constants of [`TABLES`], never input.
fn quote(name: &str) -> String {
    format!("\"{name}\"")
}

// ---------------------------------------------------------------------------------------
// Keyset reading

/// A table read in key order, one batch at a time.
struct Scan {
    spec: &'static TableSpec,
    order: Vec<usize>,
    /// Key of the last row handed out.
    last: Option<Vec<Cell>>,
    /// How many rows with key `last` were handed out (more than one only without a key).
    skip: usize,
    done: bool,
}

impl Scan {
    fn new(spec: &'static TableSpec) -> Scan {
        Scan {
            spec,
            order: spec.order_positions(),
            last: None,
            skip: 0,
            done: false,
        }
    }

    async fn next(&mut self, tx: &mut Tx) -> anyhow::Result<Option<Vec<Vec<Cell>>>> {
        if self.done {
            return Ok(None);
        }
        let limit = BATCH_ROWS + self.skip;
        let sql = self.select_sql(tx.backend(), limit);
        let params = self.last.iter().flatten().map(Cell::to_value).collect();
        let fetched = tx
            .fetch_all_sql(&sql, SqlxValues(Values(params)))
            .await
            .with_context(|| format!("cannot read {}", self.spec.name))?;
        self.done = fetched.len() < limit;
        let rows = fetched
            .iter()
            .skip(self.skip)
            .map(|r| decode_row(self.spec, r))
            .collect::<anyhow::Result<Vec<_>>>()?;
        self.advance(&rows);
        Ok((!rows.is_empty()).then_some(rows))
    }

    /// `SELECT … WHERE (key) >= (last) ORDER BY key LIMIT n`; `>=` so that equal rows of a
    /// keyless table are not lost at a batch border (the already copied ones are skipped).
    fn select_sql(&self, backend: Backend, limit: usize) -> String {
        let cols: Vec<(&str, ColumnKind)> = self.spec.columns().collect();
        let list: Vec<String> = cols.iter().map(|(c, _)| quote(c)).collect();
        let key: Vec<String> = self
            .order
            .iter()
            .map(|&i| sort_expr(backend, cols[i]))
            .collect();
        let key = key.join(", ");
        let filter = match &self.last {
            Some(last) => format!(" WHERE ({key}) >= ({})", placeholders(backend, last.len())),
            None => String::new(),
        };
        format!(
            "SELECT {} FROM {}{filter} ORDER BY {key} LIMIT {limit}",
            list.join(", "),
            quote(self.spec.name)
        )
    }

    fn key_of(&self, row: &[Cell]) -> Vec<Cell> {
        self.order.iter().map(|&i| row[i].clone()).collect()
    }

    fn advance(&mut self, rows: &[Vec<Cell>]) {
        let Some(last_row) = rows.last() else { return };
        let key = self.key_of(last_row);
        let run = rows
            .iter()
            .rev()
            .take_while(|r| self.key_of(r) == key)
            .count();
        let continues = run == rows.len() && self.last.as_ref() == Some(&key);
        self.skip = if continues { self.skip + run } else { run };
        self.last = Some(key);
    }
}

/// Bytewise text order on both engines, so both read a table in the same order.
fn sort_expr(backend: Backend, (column, kind): (&str, ColumnKind)) -> String {
    match (backend, kind) {
        (Backend::Postgres, ColumnKind::Text) => format!("{} COLLATE \"C\"", quote(column)),
        _ => quote(column),
    }
}

fn placeholders(backend: Backend, n: usize) -> String {
    let one = |i: usize| match backend {
        Backend::Sqlite => "?".to_string(),
        Backend::Postgres => format!("${i}"),
    };
    (1..=n).map(one).collect::<Vec<_>>().join(", ")
}

// ---------------------------------------------------------------------------------------
// Values

/// A decoded column value, typed by its [`ColumnKind`]; `None` is SQL NULL.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Int(Option<i64>),
    Text(Option<String>),
    Time(Option<DateTime<Utc>>),
    Date(Option<NaiveDate>),
    Bool(Option<bool>),
    Json(Option<JsonValue>),
}

fn decode_row(spec: &TableSpec, row: &Row) -> anyhow::Result<Vec<Cell>> {
    spec.columns()
        .enumerate()
        .map(|(i, (name, kind))| {
            Cell::decode(row, i, kind)
                .with_context(|| format!("cannot read {}.{name} as {kind:?}", spec.name))
        })
        .collect()
}

fn get<T>(row: &Row, i: usize) -> Result<Option<T>, sqlx::Error>
where
    T: for<'r> sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    match row {
        Row::Sqlite(r) => r.try_get(i),
        Row::Postgres(r) => r.try_get(i),
    }
}

impl Cell {
    fn decode(row: &Row, i: usize, kind: ColumnKind) -> Result<Cell, sqlx::Error> {
        Ok(match kind {
            ColumnKind::Int => Cell::Int(get(row, i)?),
            ColumnKind::Text => Cell::Text(get(row, i)?),
            ColumnKind::Time => Cell::Time(get(row, i)?),
            ColumnKind::Date => Cell::Date(get(row, i)?),
            ColumnKind::Bool => Cell::Bool(get(row, i)?),
            ColumnKind::Json => {
                Cell::Json(get::<sqlx::types::Json<JsonValue>>(row, i)?.map(|j| j.0))
            }
        })
    }

    /// The value to bind; NULLs keep their type so PostgreSQL accepts them.
    fn to_value(&self) -> Value {
        match self {
            Cell::Int(v) => Value::BigInt(*v),
            Cell::Text(v) => Value::String(v.clone().map(Box::new)),
            Cell::Time(v) => Value::ChronoDateTimeUtc(v.map(Box::new)),
            Cell::Date(v) => Value::ChronoDate(v.map(Box::new)),
            Cell::Bool(v) => Value::Bool(*v),
            Cell::Json(v) => Value::Json(v.clone().map(Box::new)),
        }
    }

    fn write_canonical(&self, out: &mut String) {
        match self {
            Cell::Int(Some(v)) => push(out, v),
            Cell::Text(Some(s)) => write_json_string(s, out),
            Cell::Time(Some(t)) => out.push_str(&canonical_time(*t)),
            Cell::Date(Some(d)) => push(out, d.format("%Y-%m-%d")),
            Cell::Bool(Some(b)) => push(out, b),
            Cell::Json(Some(j)) => write_canonical_json(j, out),
            _ => out.push_str(NULL_MARK),
        }
    }
}

fn push(out: &mut String, v: impl std::fmt::Display) {
    // Writing to a String cannot fail.
    let _ = write!(out, "{v}");
}

/// UTC, milliseconds always, micro- or nanoseconds only when the value has them.
fn canonical_time(t: DateTime<Utc>) -> String {
    let below_ms = t.nanosecond() % 1_000_000;
    let format = match below_ms {
        0 => SecondsFormat::Millis,
        n if n % 1_000 == 0 => SecondsFormat::Micros,
        _ => SecondsFormat::Nanos,
    };
    t.to_rfc3339_opts(format, true)
}

fn write_json_string(s: &str, out: &mut String) {
    push(out, JsonValue::from(s));
}

/// Compact JSON with object keys sorted and numbers in one form (PostgreSQL's JSONB
/// reorders keys and writes `1e2` as `100`).
fn write_canonical_json(v: &JsonValue, out: &mut String) {
    match v {
        JsonValue::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(k, out);
                out.push(':');
                write_canonical_json(v, out);
            }
            out.push('}');
        }
        JsonValue::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical_json(v, out);
            }
            out.push(']');
        }
        JsonValue::Number(n) => write_canonical_number(n, out),
        other => push(out, other),
    }
}

fn write_canonical_number(n: &serde_json::Number, out: &mut String) {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53: every integer below is exact
    match (n.as_i64(), n.as_u64(), n.as_f64()) {
        (Some(i), _, _) => push(out, i),
        (_, Some(u), _) => push(out, u),
        (_, _, Some(f)) if f.fract() == 0.0 && f.abs() < EXACT => push(out, f as i64),
        (_, _, Some(f)) => push(out, f),
        _ => push(out, n),
    }
}

/// SHA-256 over the canonical rows of a table, in key order.
#[derive(Default)]
struct Checksum {
    hasher: Sha256,
    rows: u64,
    line: String,
}

impl Checksum {
    fn add(&mut self, row: &[Cell]) {
        self.line.clear();
        for (i, cell) in row.iter().enumerate() {
            if i > 0 {
                self.line.push('\t');
            }
            cell.write_canonical(&mut self.line);
        }
        self.line.push('\n');
        self.hasher.update(self.line.as_bytes());
        self.rows += 1;
    }

    fn finish(self, table: &'static str) -> TableChecksum {
        TableChecksum {
            table,
            rows: self.rows,
            checksum: hex::encode(self.hasher.finalize()),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Schema check

/// A column as the live database declares it.
struct LiveColumn {
    table: String,
    column: String,
    sql_type: String,
    /// 1-based position in the primary key, 0 when not part of it.
    pk: i64,
}

const SQLITE_COLUMNS: &str = "SELECT m.name AS tbl, p.name AS col, p.type AS ty, p.pk AS pk \
     FROM sqlite_master m JOIN pragma_table_info(m.name) p \
     WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND m.name <> '_sqlx_migrations' \
     ORDER BY m.name, p.cid";

/// Ordinary and partitioned tables of the current schema (partitions are part of their
/// parent), with each column's primary-key position.
const POSTGRES_COLUMNS: &str = "SELECT c.relname::text AS tbl, a.attname::text AS col, t.typname::text AS ty, \
       COALESCE((SELECT k.n FROM pg_index i, unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n) \
                 WHERE i.indrelid = c.oid AND i.indisprimary AND k.attnum = a.attnum), 0)::int8 AS pk \
     FROM pg_class c \
     JOIN pg_namespace ns ON ns.oid = c.relnamespace AND ns.nspname = current_schema() \
     JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
     JOIN pg_type t ON t.oid = a.atttypid \
     WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relname <> '_sqlx_migrations' \
     ORDER BY c.relname, a.attnum";

async fn live_columns(pool: &Pool) -> anyhow::Result<Vec<LiveColumn>> {
    let sql = match pool.backend() {
        Backend::Sqlite => SQLITE_COLUMNS,
        Backend::Postgres => POSTGRES_COLUMNS,
    };
    let mut tx = pool.begin().await?;
    let rows = tx
        .fetch_all_sql(sql, no_values())
        .await
        .context("cannot read the database schema")?;
    tx.commit().await?;
    rows.iter()
        .map(|r| {
            Ok(LiveColumn {
                table: r.text("tbl")?.unwrap_or_default(),
                column: r.text("col")?.unwrap_or_default(),
                sql_type: r.text("ty")?.unwrap_or_default(),
                pk: r.i64("pk")?.unwrap_or(0),
            })
        })
        .collect()
}

/// How the live schema differs from [`TABLES`]; empty when the copy knows every table,
/// column, column type and primary key.
pub async fn schema_differences(pool: &Pool) -> anyhow::Result<Vec<String>> {
    let live = live_columns(pool).await?;
    let mut by_table: std::collections::BTreeMap<&str, Vec<&LiveColumn>> = Default::default();
    for c in &live {
        by_table.entry(c.table.as_str()).or_default().push(c);
    }
    let mut out = Vec::new();
    for (name, cols) in &by_table {
        match table_spec(name) {
            Some(spec) => out.extend(table_differences(pool.backend(), spec, cols)),
            None => out.push(format!(
                "table {name} is not known to plotina db copy (copy.rs)"
            )),
        }
    }
    let missing = TABLES.iter().filter(|t| !by_table.contains_key(t.name));
    out.extend(missing.map(|t| format!("table {} is missing", t.name)));
    Ok(out)
}

fn table_differences(backend: Backend, spec: &TableSpec, cols: &[&LiveColumn]) -> Vec<String> {
    let t = spec.name;
    let mut out = Vec::new();
    for c in cols {
        match spec.kind(&c.column) {
            None => out.push(format!(
                "column {t}.{} ({}) is not known to plotina db copy (copy.rs)",
                c.column, c.sql_type
            )),
            Some(kind) if !kind.sql_type(backend).eq_ignore_ascii_case(&c.sql_type) => {
                out.push(format!(
                    "column {t}.{} is {}, copy.rs expects {} ({kind:?})",
                    c.column,
                    c.sql_type,
                    kind.sql_type(backend)
                ))
            }
            Some(_) => {}
        }
    }
    for (name, _) in spec
        .columns()
        .filter(|(n, _)| !cols.iter().any(|c| c.column == *n))
    {
        out.push(format!("column {t}.{name} is missing"));
    }
    let mut pk: Vec<&&LiveColumn> = cols.iter().filter(|c| c.pk > 0).collect();
    pk.sort_by_key(|c| c.pk);
    let pk: Vec<&str> = pk.iter().map(|c| c.column.as_str()).collect();
    if pk != spec.primary_key() {
        out.push(format!(
            "primary key of {t} is {pk:?}, copy.rs expects {:?}",
            spec.primary_key()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::io::Write as _;

    use plotina_core::schema::Entity;
    use serde_json::json;

    use super::*;
    use crate::testing::{self, TestDb};

    const USER: i64 = 1000;

    async fn open(db: &TestDb) -> Pool {
        Pool::connect(&db.config())
            .await
            .unwrap_or_else(|e| panic!("open {}: {e:#}", db.name()))
    }

    fn ts(s: &str) -> Value {
        DateTime::parse_from_rfc3339(s)
            .expect("timestamp")
            .with_timezone(&Utc)
            .into()
    }

    fn day(s: &str) -> Value {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .expect("date")
            .into()
    }

    fn js(v: JsonValue) -> Value {
        Value::Json(Some(Box::new(v)))
    }

    fn null_text() -> Value {
        Value::String(None)
    }

    fn null_int() -> Value {
        Value::BigInt(None)
    }

    type Cols = Vec<(&'static str, Value)>;

    async fn put(tx: &mut Tx, table: &str, row: Cols) {
        let mut q = Query::insert();
        q.into_table(Alias::new(table))
            .columns(row.iter().map(|(c, _)| Alias::new(*c)));
        q.values_panic(row.into_iter().map(|(_, v)| SimpleExpr::Value(v)));
        tx.execute(&q)
            .await
            .unwrap_or_else(|e| panic!("insert into {table}: {e}"));
    }

    async fn put_many(tx: &mut Tx, table: &str, cols: &[&str], rows: Vec<Vec<Value>>) {
        for chunk in rows.chunks(300) {
            let mut q = Query::insert();
            q.into_table(Alias::new(table))
                .columns(cols.iter().map(|c| Alias::new(*c)));
            for row in chunk {
                q.values_panic(row.iter().cloned().map(SimpleExpr::Value));
            }
            tx.execute(&q)
                .await
                .unwrap_or_else(|e| panic!("insert into {table}: {e}"));
        }
    }

    /// The record columns with an id and fixed audit values, then `extra`.
    fn rec(id: i64, extra: Cols) -> Cols {
        let mut row: Cols = vec![
            ("id", id.into()),
            ("created_at", ts("2024-01-15T08:30:00.123Z")),
            ("created_by", USER.into()),
            ("updated_at", ts("2024-02-29T23:59:59.999+03:00")),
            ("updated_by", null_int()),
            ("owner_id", USER.into()),
            ("version", 7i64.into()),
        ];
        row.extend(extra);
        row
    }

    async fn fill_organisation(tx: &mut Tx) {
        let perms =
            json!({"deal": {"read": "all", "edit": "own"}, "a": [1, 2.5, {"z": null, "b": true}]});
        let custom = json!({"nested": {"deep": {"ёж": "колючий", "n": [1, 2, {"k": "v"}]}}});
        put(
            tx,
            "roles",
            rec(
                1000,
                vec![
                    ("name", "Аудитор «Север»".into()),
                    ("code", null_text()),
                    ("is_admin", true.into()),
                    ("permissions", js(perms)),
                    ("custom", js(custom)),
                ],
            ),
        )
        .await;
        put(
            tx,
            "departments",
            rec(
                1000,
                vec![
                    ("name", "Отдел Ω".into()),
                    ("head_id", USER.into()),
                    ("tags", js(json!(["головной"]))),
                ],
            ),
        )
        .await;
        put(
            tx,
            "departments",
            rec(
                1001,
                vec![
                    ("name", "Sub".into()),
                    ("parent_id", 1000i64.into()),
                    ("deleted_at", ts("2025-06-01T00:00:00Z")),
                ],
            ),
        )
        .await;
        put(
            tx,
            "users",
            rec(
                USER,
                vec![
                    ("login", "ivanov".into()),
                    ("name", "Иван Иванов".into()),
                    ("role_id", 1000i64.into()),
                    ("department_id", 1000i64.into()),
                    ("active", false.into()),
                    ("email", null_text()),
                    ("password_hash", null_text()),
                ],
            ),
        )
        .await;
        put(
            tx,
            "pipelines",
            rec(
                1000,
                vec![
                    ("name", "Опт".into()),
                    ("department_id", 1000i64.into()),
                    ("forbid_skip", true.into()),
                    ("lost_reasons", js(json!(["Дорого", "Нет ответа"]))),
                    ("active", false.into()),
                ],
            ),
        )
        .await;
        put(
            tx,
            "stages",
            rec(
                1000,
                vec![
                    ("pipeline_id", 1000i64.into()),
                    ("name", "Новая".into()),
                    ("kind", "open".into()),
                    ("probability", 10i64.into()),
                ],
            ),
        )
        .await;
        put(
            tx,
            "stages",
            rec(
                1001,
                vec![
                    ("pipeline_id", 1000i64.into()),
                    ("name", "Успех".into()),
                    ("kind", "won".into()),
                    ("probability", 100i64.into()),
                    ("rotten_days", 30i64.into()),
                ],
            ),
        )
        .await;
        put(
            tx,
            "custom_fields",
            rec(
                1000,
                vec![
                    ("entity", "company".into()),
                    ("key", "segment".into()),
                    ("label", "Сегмент".into()),
                    ("kind", "select".into()),
                    ("options", js(json!(["A", "Б"]))),
                    ("required", true.into()),
                    ("position", 3i64.into()),
                ],
            ),
        )
        .await;
    }

    async fn fill_customers(tx: &mut Tx) {
        let address =
            json!([{"kind": "legal", "value": "Москва, ул. Тверская, д. 1", "name": null}]);
        let custom = json!({"segment": "A", "nested": {"z": 1, "a": [{"y": 2, "x": 1}]}});
        put(
            tx,
            "companies",
            rec(
                1000,
                vec![
                    ("name", "ООО «Ромашка»".into()),
                    ("legal_name", "Общество \"Ромашка\"".into()),
                    ("inn", "7707083893".into()),
                    ("kpp", "770701001".into()),
                    ("roles", js(json!(["customer", "partner"]))),
                    ("addresses", js(address)),
                    ("phones", js(json!(["+74951234567"]))),
                    ("emails", js(json!(["info@romashka.ru"]))),
                    ("private", true.into()),
                    ("description", "Строка 1\nСтрока 2\t«таб» 🚀 \\N".into()),
                    ("deleted_at", ts("2025-03-01T12:00:00.5Z")),
                    ("custom", js(custom)),
                    ("search_text", "ромашка".into()),
                ],
            ),
        )
        .await;
        put(
            tx,
            "companies",
            rec(
                1001,
                vec![("name", "Minimal".into()), ("owner_id", null_int())],
            ),
        )
        .await;
        put(
            tx,
            "contacts",
            rec(
                1000,
                vec![
                    ("last_name", "Иванова".into()),
                    ("first_name", "Мария".into()),
                    ("full_name", "Иванова Мария".into()),
                    (
                        "companies",
                        r#"[{"company_id":1000,"role":"Директор"}]"#.into(),
                    ),
                    ("birthday", day("1987-02-28")),
                    (
                        "messengers",
                        js(json!({"telegram": "@maria", "max": "мария"})),
                    ),
                ],
            ),
        )
        .await;
        put(tx, "contacts", rec(1001, vec![])).await;
        let payload = json!({"utm": {"source": "yandex", "n": 1.5, "big": 12_345_678_901_234_567_i64, "e": 1e2}, "list": [null, true, "ё"]});
        put(
            tx,
            "leads",
            rec(
                1000,
                vec![
                    ("title", "Заявка с сайта".into()),
                    ("amount", i64::MAX.into()),
                    ("payload", js(payload)),
                    ("company_id", 1000i64.into()),
                    ("contact_id", 1000i64.into()),
                    ("deal_id", 1000i64.into()),
                    ("converted_at", ts("2025-03-02T10:11:12.013Z")),
                ],
            ),
        )
        .await;
        put(
            tx,
            "leads",
            rec(
                1001,
                vec![
                    ("title", "Пусто".into()),
                    ("amount", i64::MIN.into()),
                    ("payload", js(json!(null))),
                ],
            ),
        )
        .await;
    }

    async fn fill_sales(tx: &mut Tx) {
        put(
            tx,
            "deals",
            rec(
                1000,
                vec![
                    ("title", "Поставка".into()),
                    ("pipeline_id", 1000i64.into()),
                    ("stage_id", 1000i64.into()),
                    ("amount", 123_456_789_012_345i64.into()),
                    ("close_date", day("2025-12-31")),
                    ("company_id", 1000i64.into()),
                    ("contact_ids", js(json!([1000, 1001]))),
                    ("lead_id", 1000i64.into()),
                    ("planned_deadline", day("2024-02-29")),
                    ("stage_changed_at", ts("2025-03-03T00:00:00.001Z")),
                ],
            ),
        )
        .await;
        put(
            tx,
            "deals",
            rec(
                1001,
                vec![
                    ("title", "Дочерняя".into()),
                    ("pipeline_id", 1000i64.into()),
                    ("stage_id", 1001i64.into()),
                    ("parent_id", 1000i64.into()),
                    ("amount", (-150i64).into()),
                    ("closed_at", ts("2025-04-01T09:00:00Z")),
                ],
            ),
        )
        .await;
        put(
            tx,
            "activities",
            rec(
                1000,
                vec![
                    ("kind", "call".into()),
                    ("due_at", ts("2025-03-01T09:15:30.123Z")),
                    ("done", true.into()),
                    ("done_at", ts("2025-03-01T09:20:00.007Z")),
                    ("duration_min", 15i64.into()),
                    ("participant_ids", js(json!([1000]))),
                    ("deal_id", 1000i64.into()),
                    ("company_id", 1000i64.into()),
                    ("assignee_id", USER.into()),
                    ("direction", "incoming".into()),
                ],
            ),
        )
        .await;
        put(
            tx,
            "activities",
            rec(
                1001,
                vec![
                    ("kind", "task".into()),
                    ("parent_id", 1000i64.into()),
                    ("body", "Перезвонить\r\nзавтра".into()),
                ],
            ),
        )
        .await;
        let change = |id: i64, from: Value, to: i64, seconds: Value| -> Cols {
            vec![
                ("id", id.into()),
                ("deal_id", 1000i64.into()),
                ("pipeline_id", 1000i64.into()),
                ("from_stage_id", from),
                ("to_stage_id", to.into()),
                ("changed_at", ts("2025-03-03T00:00:00.001Z")),
                ("changed_by", USER.into()),
                ("seconds_in_previous", seconds),
            ]
        };
        put(
            tx,
            "stage_changes",
            change(1000, null_int(), 1000, null_int()),
        )
        .await;
        put(
            tx,
            "stage_changes",
            change(1001, 1000i64.into(), 1001, 86_400i64.into()),
        )
        .await;
    }

    async fn fill_auxiliary(tx: &mut Tx) {
        // Text written by hand in other formats than the application's: still one instant.
        put(
            tx,
            "api_tokens",
            vec![
                ("id", 1000i64.into()),
                ("user_id", USER.into()),
                ("name", "1С".into()),
                ("token_hash", "a1b2".into()),
                ("created_at", ts("2025-01-01T00:00:00Z")),
                ("last_used_at", "2025-05-05 10:00:00.5".into()),
            ],
        )
        .await;
        let session = |hash: &str, created: Value| -> Cols {
            vec![
                ("id_hash", hash.into()),
                ("user_id", USER.into()),
                ("csrf_token", "csrf".into()),
                ("created_at", created),
                ("expires_at", ts("2030-01-01T00:00:00.000Z")),
            ]
        };
        put(
            tx,
            "sessions",
            session("b7f0", "2025-01-01T03:00:00.250+03:00".into()),
        )
        .await;
        put(
            tx,
            "sessions",
            session("A1", ts("2025-01-01T00:00:00.250Z")),
        )
        .await;
        for key in ["ключ-1", "Key-2", "key-2"] {
            put(
                tx,
                "idempotency_keys",
                vec![
                    ("user_id", USER.into()),
                    ("key", key.into()),
                    ("request_hash", "h".into()),
                    ("entity", "company".into()),
                    ("record_id", 1000i64.into()),
                    ("created_at", ts("2025-01-01T00:00:00Z")),
                ],
            )
            .await;
        }
        for (id, deleted) in [
            (1000i64, Value::ChronoDateTimeUtc(None)),
            (1001, ts("2025-02-02T02:02:02.202Z")),
        ] {
            put(
                tx,
                "attachments",
                vec![
                    ("id", id.into()),
                    ("entity", "deal".into()),
                    ("record_id", 1000i64.into()),
                    ("file_name", "Договор №1.pdf".into()),
                    ("content_type", "application/pdf".into()),
                    ("size", 5_000_000_000i64.into()),
                    ("sha256", "00ff".into()),
                    ("created_at", ts("2025-01-01T00:00:00Z")),
                    ("created_by", USER.into()),
                    ("deleted_at", deleted),
                ],
            )
            .await;
        }
    }

    async fn fill_views(tx: &mut Tx) {
        for (id, shared, filter) in [
            (1000i64, true, r#"stage = "won" and amount >= 100000"#),
            (1001, false, ""),
        ] {
            put(
                tx,
                "saved_views",
                vec![
                    ("id", id.into()),
                    ("entity", "deal".into()),
                    ("name", "Крупные сделки".into()),
                    ("filter", filter.into()),
                    ("sort", "-amount".into()),
                    ("columns", "title,amount".into()),
                    ("owner_id", USER.into()),
                    ("shared", shared.into()),
                    ("created_at", ts("2025-01-01T00:00:00.001Z")),
                    ("updated_at", ts("2025-01-02T00:00:00Z")),
                ],
            )
            .await;
        }
    }

    /// More rows than one batch, and a run of equal keyless rows across batch borders.
    async fn fill_bulk(tx: &mut Tx) {
        let lookup = |record: i64, value: &str| -> Vec<Value> {
            vec![
                "company".into(),
                record.into(),
                "tags".into(),
                "tag".into(),
                value.into(),
            ]
        };
        let mut rows: Vec<Vec<Value>> = ["Яблоко", "apple", "Apple", "ёлка", "Zeta", "zeta", "ÄÖ"]
            .iter()
            .map(|v| lookup(1000, v))
            .collect();
        rows.extend((0..2_500).map(|_| lookup(1001, "дубль")));
        rows.extend((0..10).map(|_| lookup(1000, "Zeta")));
        put_many(
            tx,
            "record_lookup",
            &["entity", "record_id", "field", "kind", "value"],
            rows,
        )
        .await;
        let base = DateTime::parse_from_rfc3339("2025-01-01T00:00:00Z")
            .expect("base")
            .with_timezone(&Utc);
        let history = (0..4_100i64)
            .map(|i| {
                let old = match i % 3 {
                    0 => Value::Json(None),
                    1 => js(JsonValue::Null),
                    _ => js(json!({"b": i, "a": "старое"})),
                };
                let by = if i % 2 == 0 { USER.into() } else { null_int() };
                let at = base + chrono::Duration::milliseconds(i * 37);
                vec![
                    "company".into(),
                    1000i64.into(),
                    "update".into(),
                    "name".into(),
                    old,
                    js(json!([i, "новое"])),
                    at.into(),
                    by,
                ]
            })
            .collect();
        let cols = [
            "entity",
            "record_id",
            "action",
            "field",
            "old_value",
            "new_value",
            "changed_at",
            "changed_by",
        ];
        put_many(tx, "history", &cols, history).await;
    }

    /// Rows in every table, in one transaction with foreign keys checked at its end.
    async fn fill(pool: &Pool) {
        let mut tx = begin_load(pool).await.expect("begin");
        fill_organisation(&mut tx).await;
        fill_customers(&mut tx).await;
        fill_sales(&mut tx).await;
        fill_auxiliary(&mut tx).await;
        fill_views(&mut tx).await;
        fill_bulk(&mut tx).await;
        tx.commit().await.expect("commit the fixture");
    }

    /// A SQLite database with the application's seed data plus [`fill`].
    async fn source() -> (TestDb, Pool) {
        let db = testing::sqlite().await;
        let (store, _) = testing::seeded_store(&db).await;
        store.pool().close().await;
        let pool = open(&db).await;
        fill(&pool).await;
        (db, pool)
    }

    async fn copy_ok(from: &Pool, to: &Pool) -> CopyReport {
        let seen = RefCell::new(Vec::new());
        let report = copy_database(from, to, &|p| seen.borrow_mut().push(p))
            .await
            .expect("copy");
        assert!(
            report.ok(),
            "copy {:?} → {:?} does not verify: {report:#?}",
            from.backend(),
            to.backend()
        );
        for t in &report.tables {
            let last = seen
                .borrow()
                .iter()
                .rev()
                .find(|p| p.table == t.table)
                .copied();
            let last = last.unwrap_or_else(|| panic!("no progress for {}", t.table));
            assert_eq!(
                (last.done, last.total),
                (t.rows_copied, t.source_rows),
                "progress of {}",
                t.table
            );
        }
        report
    }

    async fn max_id(pool: &Pool, table: &str) -> i64 {
        let mut tx = pool.begin().await.expect("begin");
        let rows = tx
            .fetch_all_sql(&format!("SELECT MAX(id) AS m FROM {table}"), no_values())
            .await
            .expect("max id");
        tx.commit().await.expect("commit");
        rows[0].i64("m").expect("decode").unwrap_or(0)
    }

    /// New rows without an id get the next one: PostgreSQL's sequences were moved past
    /// the copied ids, SQLite's `sqlite_sequence` followed them.
    async fn assert_next_id(pool: &Pool) {
        for spec in TABLES.iter().filter(|t| t.key == Key::Id) {
            let max = max_id(pool, spec.name).await;
            let sql = match pool.backend() {
                Backend::Postgres => format!(
                    "SELECT nextval(pg_get_serial_sequence('{}', 'id')) - 1 AS n",
                    spec.name
                ),
                Backend::Sqlite => format!(
                    "SELECT seq AS n FROM sqlite_sequence WHERE name = '{}'",
                    spec.name
                ),
            };
            let mut tx = pool.begin_write().await.expect("begin");
            let rows = tx
                .fetch_all_sql(&sql, no_values())
                .await
                .expect("read the sequence");
            let seq = rows.first().and_then(|r| r.i64("n").expect("decode"));
            assert_eq!(
                seq,
                Some(max),
                "{} sequence after the copy on {:?}",
                spec.name,
                pool.backend()
            );
            if spec.name == "history" {
                let mut q = Query::insert();
                q.into_table(Alias::new("history"))
                    .columns(["entity", "record_id", "action", "changed_at"].map(Alias::new))
                    .values_panic(crate::db::vals([
                        "company".into(),
                        1i64.into(),
                        "create".into(),
                        ts("2026-01-01T00:00:00Z"),
                    ]));
                let id = tx.insert_id(&mut q).await.expect("insert without an id");
                assert!(
                    id > max,
                    "new history id {id} collides on {:?}",
                    pool.backend()
                );
            }
            drop(tx); // rolled back: the database stays as copied
        }
    }

    fn assert_every_table_filled(sums: &[TableChecksum]) {
        for s in sums {
            assert!(s.rows > 0, "the fixture leaves {} empty", s.table);
        }
    }

    #[tokio::test]
    async fn copy_sqlite_to_sqlite_keeps_every_row() {
        let (_a, a) = source().await;
        let b_db = testing::sqlite().await;
        let b = open(&b_db).await;
        let report = copy_ok(&a, &b).await;
        let sums = checksums(&a).await.expect("checksums of a");
        assert_every_table_filled(&sums);
        assert_eq!(sums, checksums(&b).await.expect("checksums of b"));
        let lookup = report
            .tables
            .iter()
            .find(|t| t.table == "record_lookup")
            .expect("record_lookup");
        assert_eq!(lookup.rows_copied, 2_517);
        assert_next_id(&b).await;
        a.close().await;
        b.close().await;
    }

    #[tokio::test]
    async fn copy_round_trip_sqlite_postgres_sqlite() {
        let Some(pg_db) = testing::postgres().await else {
            // Straight to stderr: the harness captures `eprintln!` of passing tests.
            let _ = writeln!(
                std::io::stderr(),
                "copy_round_trip_sqlite_postgres_sqlite: PostgreSQL part skipped, {} is not set",
                testing::PG_URL_VAR
            );
            return;
        };
        let (_a, a) = source().await;
        let p = open(&pg_db).await;
        let c_db = testing::sqlite().await;
        let c = open(&c_db).await;
        let there = copy_ok(&a, &p).await;
        let back = copy_ok(&p, &c).await;
        let sums = checksums(&a).await.expect("checksums of a");
        assert_every_table_filled(&sums);
        assert_eq!(
            sums,
            checksums(&p).await.expect("checksums of p"),
            "SQLite → PostgreSQL"
        );
        assert_eq!(
            sums,
            checksums(&c).await.expect("checksums of c"),
            "PostgreSQL → SQLite"
        );
        for (t, b) in there.tables.iter().zip(&back.tables) {
            assert_eq!(t.source_checksum, b.source_checksum, "{}", t.table);
        }
        assert_native_postgres_values(&p).await;
        assert_next_id(&p).await;
        assert_next_id(&c).await;
        for pool in [a, p, c] {
            pool.close().await;
        }
    }

    /// On PostgreSQL the copied values are native ones, not text.
    async fn assert_native_postgres_values(p: &Pool) {
        let mut tx = p.begin().await.expect("begin");
        let sql = "SELECT jsonb_typeof(c.custom -> 'nested') AS kind, l.amount AS amount, s.created_at AS at, \
                   d.close_date AS day, c.private AS private \
                   FROM companies c, leads l, sessions s, deals d \
                   WHERE c.id = 1000 AND l.id = 1001 AND s.id_hash = 'b7f0' AND d.id = 1000";
        let rows = tx
            .fetch_all_sql(sql, no_values())
            .await
            .expect("read PostgreSQL values");
        let r = &rows[0];
        assert_eq!(r.text("kind").expect("kind").as_deref(), Some("object"));
        assert_eq!(r.i64("amount").expect("amount"), Some(i64::MIN));
        let at = r.datetime("at").expect("at").expect("a timestamp");
        assert_eq!(canonical_time(at), "2025-01-01T00:00:00.250Z");
        assert_eq!(
            r.date("day").expect("day"),
            NaiveDate::from_ymd_opt(2025, 12, 31)
        );
        assert!(r.bool("private").expect("private"));
        tx.commit().await.expect("commit");
    }

    #[tokio::test]
    async fn copy_refuses_a_non_empty_target() {
        let src_db = testing::sqlite().await;
        let src = open(&src_db).await;
        src.migrate().await.expect("migrate");
        fill(&src).await;
        for target_db in testing::all().await {
            let target = open(&target_db).await;
            target.migrate().await.expect("migrate");
            let mut tx = begin_load(&target).await.expect("begin");
            fill_organisation(&mut tx).await;
            tx.commit().await.expect("commit");
            let before = checksums(&target).await.expect("checksums");
            let err = copy_database(&src, &target, &|_| {})
                .await
                .expect_err("a non-empty target must be refused");
            let msg = format!("{err:#}");
            assert!(
                msg.contains("not empty") && msg.contains("users"),
                "{}: {msg}",
                target_db.name()
            );
            assert_eq!(
                before,
                checksums(&target).await.expect("checksums"),
                "{} was changed",
                target_db.name()
            );
            target.close().await;
        }
        src.close().await;
    }

    #[tokio::test]
    async fn copy_knows_every_table_and_column_of_the_migrations() {
        for db in testing::all().await {
            let pool = open(&db).await;
            pool.migrate().await.expect("migrate");
            let diffs = schema_differences(&pool).await.expect("read schema");
            assert!(
                diffs.is_empty(),
                "copy.rs is out of date with the {} migrations:\n{}",
                db.name(),
                diffs.join("\n")
            );
            pool.close().await;
        }
        for e in Entity::ALL {
            assert!(
                table_spec(e.table()).is_some(),
                "{} is not copied",
                e.table()
            );
        }
        for spec in TABLES {
            let cols: Vec<_> = spec.columns().collect();
            for i in spec.order_positions() {
                assert!(
                    matches!(cols[i].1, Int | Text),
                    "{}.{} cannot order a keyset",
                    spec.name,
                    cols[i].0
                );
            }
        }
    }

    #[tokio::test]
    async fn schema_check_catches_unknown_tables_and_columns() {
        let db = testing::sqlite().await;
        let pool = open(&db).await;
        pool.migrate().await.expect("migrate");
        let mut tx = pool.begin_write().await.expect("begin");
        tx.raw("ALTER TABLE companies ADD COLUMN fax TEXT")
            .await
            .expect("alter");
        tx.raw("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
            .await
            .expect("create");
        tx.commit().await.expect("commit");
        let diffs = schema_differences(&pool)
            .await
            .expect("read schema")
            .join("\n");
        assert!(
            diffs.contains("companies.fax") && diffs.contains("table invoices"),
            "{diffs}"
        );
        let target_db = testing::sqlite().await;
        let target = open(&target_db).await;
        let err = copy_database(&pool, &target, &|_| {})
            .await
            .expect_err("unknown schema refused");
        assert!(format!("{err:#}").contains("source"), "{err:#}");
        pool.close().await;
        target.close().await;
    }

    fn canonical(cell: Cell) -> String {
        let mut out = String::new();
        cell.write_canonical(&mut out);
        out
    }

    #[test]
    fn canonical_forms_do_not_depend_on_the_engine() {
        let sqlite_json = json!({"b": 1, "a": {"d": [1.0, 1e2, 2.5], "c": null}});
        let jsonb_json: JsonValue =
            serde_json::from_str(r#"{"a": {"c": null, "d": [1.0, 100, 2.5]}, "b": 1}"#)
                .expect("json");
        assert_eq!(
            canonical(Cell::Json(Some(sqlite_json.clone()))),
            r#"{"a":{"c":null,"d":[1,100,2.5]},"b":1}"#
        );
        assert_eq!(
            canonical(Cell::Json(Some(sqlite_json))),
            canonical(Cell::Json(Some(jsonb_json)))
        );
        let t = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .expect("time")
                .with_timezone(&Utc)
        };
        assert_eq!(
            canonical(Cell::Time(Some(t("2025-01-01T03:00:00.25+03:00")))),
            "2025-01-01T00:00:00.250Z"
        );
        assert_eq!(
            canonical(Cell::Time(Some(t("2025-01-01T00:00:00Z")))),
            "2025-01-01T00:00:00.000Z"
        );
        assert_eq!(
            canonical(Cell::Time(Some(t("2025-01-01T00:00:00.000001Z")))),
            "2025-01-01T00:00:00.000001Z"
        );
        assert_ne!(
            canonical(Cell::Json(None)),
            canonical(Cell::Json(Some(JsonValue::Null)))
        );
        assert_ne!(
            canonical(Cell::Text(None)),
            canonical(Cell::Text(Some(NULL_MARK.into())))
        );
        assert_eq!(canonical(Cell::Text(Some("а\tб".into()))), r#""а\tб""#);
        assert_eq!(canonical(Cell::Bool(Some(false))), "false");
        assert_eq!(canonical(Cell::Int(Some(i64::MIN))), "-9223372036854775808");
    }
}
