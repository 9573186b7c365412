//! Bulk writing that keeps every derived structure exactly as the record engine writes it.
//!
//! Generators describe each record as the API shows it (a [`Record`]); the [`Sink`] turns
//! it into the same column values (`rows::sql_value_from_json`), `search_text`
//! (`search::record_search_text`), `record_lookup` rows (`lookup::field_rows`) and history
//! rows (`history::diff`) that `records::insert` would produce, with explicit ids so
//! that later records can link to earlier ones without reading anything back. The
//! rows collect into a [`Batch`]; the [`Writer`] inserts a batch in one transaction with
//! multi-row INSERT statements built by sea-query (rendered once per shape and reused).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use plotina_core::schema::{Entity, FieldKind};
use plotina_core::value::format_datetime;
use sea_query::{
    Alias, PostgresQueryBuilder, Query, SimpleExpr, SqliteQueryBuilder, Value as SqlValue, Values,
};
use sea_query_binder::SqlxValues;
use serde_json::{json, Value as Json};
use sqlx::postgres::PgArguments;
use sqlx::sqlite::SqliteArguments;
use sqlx::IntoArguments;

use crate::db::{Backend, Pool, Tx};
use crate::rows::{sql_value_from_json, Record};
use crate::{history, lookup, search};

/// The entities written in bulk, in foreign-key order.
pub const BULK: [Entity; 4] = [
    Entity::Company,
    Entity::Contact,
    Entity::Deal,
    Entity::Activity,
];

const LOOKUP_COLS: [&str; 5] = ["entity", "record_id", "field", "kind", "value"];
const STAGE_COLS: [&str; 7] = [
    "deal_id",
    "pipeline_id",
    "from_stage_id",
    "to_stage_id",
    "changed_at",
    "changed_by",
    "seconds_in_previous",
];

/// The columns of an entity's table as the engine fills them.
pub fn record_columns(entity: Entity) -> Vec<&'static str> {
    let mut cols: Vec<&'static str> = entity.fields().map(|f| f.name).collect();
    if entity.is_business() {
        cols.push("custom");
    }
    if entity.has_search_text() {
        cols.push("search_text");
    }
    cols
}

/// An empty record as `record_from_row` would read it back: every field present, lists
/// empty, flags false, version 1.
pub fn blank(entity: Entity) -> Record {
    let mut rec = Record::new();
    for f in entity.fields() {
        let v = match f.kind {
            FieldKind::Bool => Json::Bool(false),
            FieldKind::Json | FieldKind::StringMap => json!({}),
            k if k.is_json() => json!([]),
            _ => Json::Null,
        };
        rec.insert(f.name.to_string(), v);
    }
    rec.insert("version".into(), json!(1));
    if entity.is_business() {
        rec.insert("custom".into(), json!({}));
    }
    rec
}

/// Sets the audit columns of a record created (and last changed) at `at` by `by`.
pub fn stamp(rec: &mut Record, id: i64, at: DateTime<Utc>, by: i64, owner: i64) {
    let t = Json::String(format_datetime(at));
    rec.insert("id".into(), json!(id));
    rec.insert("created_at".into(), t.clone());
    rec.insert("updated_at".into(), t);
    rec.insert("created_by".into(), json!(by));
    rec.insert("updated_by".into(), json!(by));
    rec.insert("owner_id".into(), json!(owner));
}

/// Rows of one table waiting to be inserted.
pub struct Rows {
    pub table: &'static str,
    pub columns: Vec<&'static str>,
    /// Columns stored as JSON by the engine but declared TEXT on this database; their
    /// values are bound as text so the statement type-checks.
    as_text: Vec<bool>,
    pub values: Vec<SqlValue>,
    pub count: usize,
}

impl Rows {
    fn new(
        table: &'static str,
        columns: Vec<&'static str>,
        text_columns: &HashSet<(String, String)>,
    ) -> Rows {
        let as_text = columns
            .iter()
            .map(|c| text_columns.contains(&(table.to_string(), c.to_string())))
            .collect();
        Rows {
            table,
            columns,
            as_text,
            values: Vec::new(),
            count: 0,
        }
    }

    fn push(&mut self, row: impl IntoIterator<Item = SqlValue>) {
        let start = self.values.len();
        for (i, v) in row.into_iter().enumerate() {
            let v = match v {
                SqlValue::Json(j) if self.as_text[i] => {
                    SqlValue::String(j.map(|j| Box::new(j.to_string())))
                }
                other => other,
            };
            self.values.push(v);
        }
        debug_assert_eq!(
            self.values.len() - start,
            self.columns.len(),
            "{}",
            self.table
        );
        self.count += 1;
    }

    /// The collected rows as ready-to-run statements of at most `rows_per_statement`
    /// rows each. Binding happens here, on the generating thread, so that the writer
    /// only executes.
    fn statements(&mut self, backend: Backend, out: &mut Vec<Statement>) {
        let ncols = self.columns.len();
        let per = rows_per_statement(backend, ncols);
        let capacity = self.values.capacity();
        let values = std::mem::replace(&mut self.values, Vec::with_capacity(capacity));
        let mut values = values.into_iter();
        let mut left = std::mem::replace(&mut self.count, 0);
        while left > 0 {
            let rows = left.min(per);
            left -= rows;
            let chunk = SqlxValues(Values(values.by_ref().take(rows * ncols).collect()));
            let args = match backend {
                Backend::Sqlite => Args::Sqlite(
                    IntoArguments::<'static, sqlx::Sqlite>::into_arguments(chunk),
                ),
                Backend::Postgres => Args::Postgres(
                    IntoArguments::<'static, sqlx::Postgres>::into_arguments(chunk),
                ),
            };
            out.push(Statement {
                table: self.table,
                columns: self.columns.clone(),
                rows,
                full: rows == per,
                args,
            });
        }
    }
}

/// Bound statement arguments for either engine.
pub enum Args {
    Sqlite(SqliteArguments<'static>),
    Postgres(PgArguments),
}

/// One multi-row INSERT, bound and ready to run.
pub struct Statement {
    table: &'static str,
    columns: Vec<&'static str>,
    rows: usize,
    /// A full-size statement (its SQL repeats and is worth preparing once).
    full: bool,
    args: Args,
}

/// One transaction's worth of statements, with the progress it represents.
pub struct Batch {
    pub statements: Vec<Statement>,
    pub phase: &'static str,
    pub done: u64,
    pub total: u64,
}

/// Running totals of what was generated.
#[derive(Debug, Default, Clone)]
pub struct Counts {
    pub records: HashMap<&'static str, u64>,
    pub lookups: u64,
    pub history: u64,
    pub stage_changes: u64,
}

/// Collects generated records into rows.
pub struct Sink {
    records: Vec<(Entity, Rows)>,
    lookups: Rows,
    history: Rows,
    stages: Rows,
    next_id: HashMap<Entity, i64>,
    backend: Backend,
    /// Per-field 'create' rows (as `history::diff` gives them) rather than one row per
    /// created record.
    field_history: bool,
    pub counts: Counts,
}

fn json_value(v: &Json) -> SqlValue {
    if v.is_null() {
        SqlValue::Json(None)
    } else {
        SqlValue::Json(Some(Box::new(v.clone())))
    }
}

impl Sink {
    /// `first_ids`: the first free id of every bulk entity; `text_columns`: JSON columns
    /// that this database declares as TEXT.
    pub fn new(
        backend: Backend,
        first_ids: HashMap<Entity, i64>,
        text_columns: &HashSet<(String, String)>,
        field_history: bool,
    ) -> Sink {
        Sink {
            records: BULK
                .iter()
                .map(|e| (*e, Rows::new(e.table(), record_columns(*e), text_columns)))
                .collect(),
            lookups: Rows::new("record_lookup", LOOKUP_COLS.to_vec(), text_columns),
            history: Rows::new(
                "history",
                crate::history::HISTORY_COLUMNS.to_vec(),
                text_columns,
            ),
            stages: Rows::new("stage_changes", STAGE_COLS.to_vec(), text_columns),
            next_id: first_ids,
            backend,
            field_history,
            counts: Counts::default(),
        }
    }

    /// Reserves the id of the next record of an entity.
    pub fn next_id(&mut self, entity: Entity) -> i64 {
        let slot = self.next_id.entry(entity).or_insert(1);
        let id = *slot;
        *slot += 1;
        id
    }

    /// Writes a record in its final state. `created` is the record as it was created (for
    /// the 'create' history); pass the same record when it never changed. The creation is
    /// recorded field by field — the form `records::insert` wrote before a creation became
    /// one row; `history::read` lists both alike, and the per-field form keeps the data
    /// sets' history volume (medium: 5M rows) — or, in the compact mode of the large
    /// sizes, as one 'create' row without fields.
    pub fn record(&mut self, entity: Entity, created: &Record, last: &Record) {
        let id = last.get("id").and_then(Json::as_i64).unwrap_or_default();
        let mut row: Vec<SqlValue> = Vec::with_capacity(48);
        for f in entity.fields() {
            row.push(sql_value_from_json(
                f.kind,
                last.get(f.name).unwrap_or(&Json::Null),
            ));
        }
        if entity.is_business() {
            row.push(SqlValue::Json(Some(Box::new(
                last.get("custom").cloned().unwrap_or_else(|| json!({})),
            ))));
        }
        if entity.has_search_text() {
            row.push(search::record_search_text(entity, last).into());
        }
        let rows = &mut self
            .records
            .iter_mut()
            .find(|(e, _)| *e == entity)
            .expect("bulk entity")
            .1;
        rows.push(row);
        *self.counts.records.entry(entity.table()).or_default() += 1;

        for f in lookup::indexed_fields(entity) {
            for (kind, v) in lookup::field_rows(f, last.get(f.name).unwrap_or(&Json::Null)) {
                self.lookups.push([
                    entity.code().into(),
                    id.into(),
                    f.name.into(),
                    kind.into(),
                    v.into(),
                ]);
                self.counts.lookups += 1;
            }
        }
        let at = created
            .get("created_at")
            .and_then(Json::as_str)
            .and_then(|s| plotina_core::value::parse_datetime(s).ok());
        let by = created
            .get("created_by")
            .and_then(Json::as_i64)
            .unwrap_or_default();
        let changes = if self.field_history {
            history::diff(None, created)
        } else {
            Vec::new()
        };
        self.history_rows(
            entity,
            id,
            "create",
            &changes,
            at.unwrap_or_else(Utc::now),
            by,
        );
    }

    /// The history of an update, exactly as `records::apply` writes it. `old` and `new`
    /// may hold just the fields the update touched (in schema order): fields left out
    /// are unchanged and `history::diff` skips them anyway.
    pub fn update(
        &mut self,
        entity: Entity,
        id: i64,
        old: &Record,
        new: &Record,
        at: DateTime<Utc>,
        by: i64,
    ) {
        let diff = history::diff(Some(old), new);
        if !diff.is_empty() {
            self.history_rows(entity, id, "update", &diff, at, by);
        }
    }

    fn history_rows(
        &mut self,
        entity: Entity,
        id: i64,
        action: &str,
        changes: &[(String, Json, Json)],
        at: DateTime<Utc>,
        by: i64,
    ) {
        if changes.is_empty() {
            self.history.push([
                entity.code().into(),
                id.into(),
                action.into(),
                SqlValue::String(None),
                SqlValue::Json(None),
                SqlValue::Json(None),
                at.into(),
                by.into(),
            ]);
            self.counts.history += 1;
        }
        for (field, old, new) in changes {
            self.history.push([
                entity.code().into(),
                id.into(),
                action.into(),
                field.clone().into(),
                json_value(old),
                json_value(new),
                at.into(),
                by.into(),
            ]);
            self.counts.history += 1;
        }
    }

    /// A `stage_changes` row, as `records::record_stage_move` writes it.
    #[allow(clippy::too_many_arguments)]
    pub fn stage_change(
        &mut self,
        deal: i64,
        pipeline: i64,
        from: Option<i64>,
        to: i64,
        at: DateTime<Utc>,
        by: i64,
        seconds: i64,
    ) {
        self.stages.push([
            deal.into(),
            pipeline.into(),
            from.into(),
            to.into(),
            at.into(),
            by.into(),
            Some(seconds).into(),
        ]);
        self.counts.stage_changes += 1;
    }

    /// Rows waiting in the sink.
    pub fn pending(&self) -> usize {
        self.records.iter().map(|(_, r)| r.count).sum::<usize>()
            + self.lookups.count
            + self.history.count
            + self.stages.count
    }

    /// Everything collected so far, in insertion order (parents before children).
    pub fn take(&mut self, phase: &'static str, done: u64, total: u64) -> Batch {
        let mut statements = Vec::new();
        for (_, rows) in &mut self.records {
            rows.statements(self.backend, &mut statements);
        }
        for rows in [&mut self.lookups, &mut self.history, &mut self.stages] {
            rows.statements(self.backend, &mut statements);
        }
        Batch {
            statements,
            phase,
            done,
            total,
        }
    }
}

/// Inserts batches, one transaction each.
pub struct Writer {
    pool: Pool,
    sql: HashMap<(&'static str, usize, usize), String>,
}

/// Rows per statement: as many as the engine's bind-parameter limit allows, up to 1000
/// (SQLite allows 32,766 parameters per statement, PostgreSQL 65,535).
fn rows_per_statement(backend: Backend, columns: usize) -> usize {
    let params = match backend {
        Backend::Sqlite => 32_000,
        Backend::Postgres => 65_000,
    };
    (params / columns.max(1)).clamp(1, 1000)
}

fn insert_sql(backend: Backend, table: &str, columns: &[&str], rows: usize) -> String {
    let mut q = Query::insert();
    q.into_table(Alias::new(table))
        .columns(columns.iter().map(|c| Alias::new(*c)));
    let row: Vec<SimpleExpr> = columns
        .iter()
        .map(|_| SimpleExpr::Value(SqlValue::BigInt(Some(0))))
        .collect();
    for _ in 0..rows {
        q.values_panic(row.clone());
    }
    match backend {
        Backend::Sqlite => q.build(SqliteQueryBuilder).0,
        Backend::Postgres => q.build(PostgresQueryBuilder).0,
    }
}

impl Writer {
    pub fn new(pool: Pool) -> Writer {
        Writer {
            pool,
            sql: HashMap::new(),
        }
    }

    pub async fn write(&mut self, batch: Batch) -> anyhow::Result<()> {
        let backend = self.pool.backend();
        let mut tx = self.pool.begin_write().await?;
        for st in batch.statements {
            let key = (st.table, st.columns.len(), st.rows);
            let sql = self
                .sql
                .entry(key)
                .or_insert_with(|| insert_sql(backend, st.table, &st.columns, st.rows));
            // A batch's last statement per table has a one-off shape: it is neither kept
            // here nor in the connection's statement cache.
            let result = match (&mut tx, st.args) {
                (Tx::Sqlite(t, ..), Args::Sqlite(args)) => sqlx::query_with(sql, args)
                    .persistent(st.full)
                    .execute(&mut **t)
                    .await
                    .map(|_| ()),
                (Tx::Postgres(t, _), Args::Postgres(args)) => sqlx::query_with(sql, args)
                    .persistent(st.full)
                    .execute(&mut **t)
                    .await
                    .map(|_| ()),
                _ => anyhow::bail!("demo rows bound for the other database engine"),
            };
            result
                .map_err(|e| anyhow::anyhow!("cannot insert demo rows into {}: {e}", st.table))?;
            if !st.full {
                self.sql.remove(&key);
            }
        }
        tx.commit().await?;
        Ok(())
    }
}
