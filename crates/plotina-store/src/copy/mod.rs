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
    entity(
        "roles",
        &[("name", Text), ("code", Text), ("is_admin", Bool), ("permissions", Json), ("export_row_limit", Int)],
    ),
    entity("departments", &[("name", Text), ("parent_id", Int), ("head_id", Int)]),
    entity(
        "users",
        &[
            ("login", Text), ("name", Text), ("email", Text), ("phone", Text), ("department_id", Int),
            ("role_id", Int), ("language", Text), ("time_zone", Text), ("active", Bool),
            ("password_hash", Text), ("away_until", Time), ("deputy_id", Int),
        ],
    ),
    entity(
        "pipelines",
        &[
            ("name", Text), ("code", Text), ("department_id", Int), ("forbid_skip", Bool),
            ("lost_reasons", Json), ("position", Int), ("active", Bool),
            ("discount_floor_pct", Int), ("approval_escalation_hours", Int),
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
            ("discount_pct", Int),
        ],
    ),
    entity(
        "activities",
        &[
            ("kind", Text), ("subject", Text), ("body", Text), ("due_at", Time), ("duration_min", Int),
            ("done", Bool), ("done_at", Time), ("result", Text), ("direction", Text),
            ("assignee_id", Int), ("company_id", Int), ("contact_id", Int), ("deal_id", Int),
            ("lead_id", Int), ("participant_ids", Json), ("parent_id", Int),
            ("remind_before_min", Int),
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
    table(
        "notebook_items",
        Key::Id,
        &[
            ("id", Int), ("kind", Text), ("owner_id", Int), ("entity", Text), ("record_id", Int),
            ("text", Text), ("due_at", Time), ("state", Text), ("snoozed_until", Time),
            ("source", Text), ("dedupe_key", Text), ("payload", Json), ("created_at", Time),
            ("created_by", Int), ("closed_at", Time), ("closed_by", Int),
        ],
    ),
    table(
        "mail_outbox",
        Key::Id,
        &[
            ("id", Int), ("to_addr", Text), ("subject", Text), ("body_text", Text),
            ("attachments", Json), ("source", Text), ("dedupe_key", Text), ("state", Text),
            ("attempts", Int), ("next_attempt_at", Time), ("last_error", Text),
            ("created_at", Time), ("sent_at", Time),
        ],
    ),
    table(
        "notebook_gates",
        Key::Id,
        &[
            ("id", Int), ("name", Text), ("action", Text), ("kinds", Json),
            ("older_than_hours", Int), ("max_overdue_tasks", Int), ("exempt_role_ids", Json),
            ("active", Bool), ("created_at", Time), ("created_by", Int), ("updated_at", Time),
        ],
    ),
    table(
        "notebook_gate_blocks",
        Key::Id,
        &[
            ("id", Int), ("gate_id", Int), ("gate_name", Text), ("user_id", Int),
            ("action", Text), ("entity", Text), ("record_id", Int), ("item_count", Int),
            ("blocked_at", Time),
        ],
    ),
    table(
        "automation_rules",
        Key::Id,
        &[
            ("id", Int), ("name", Text), ("entity", Text), ("pipeline_id", Int),
            ("trigger_spec", Json), ("condition", Text), ("actions", Json), ("enabled", Bool),
            ("webhook_token", Text), ("state", Json), ("scheduled_until", Time),
            ("created_at", Time), ("created_by", Int), ("updated_at", Time), ("version", Int),
        ],
    ),
    table(
        "automation_runs",
        Key::Id,
        &[
            ("id", Int), ("rule_id", Int), ("entity", Text), ("record_id", Int),
            ("trigger_code", Text), ("status", Text), ("depth", Int), ("actions", Json),
            ("error", Text), ("started_at", Time), ("finished_at", Time),
        ],
    ),
    table(
        "automation_jobs",
        Key::Id,
        &[
            ("id", Int), ("rule_id", Int), ("entity", Text), ("record_id", Int),
            ("action_index", Int), ("payload", Json), ("trigger_code", Text), ("depth", Int),
            ("attempts", Int), ("state", Text), ("next_attempt_at", Time), ("last_error", Text),
            ("created_at", Time),
        ],
    ),
    table(
        "import_batches",
        Key::Id,
        &[
            ("id", Int), ("entity", Text), ("file_name", Text), ("format", Text), ("status", Text),
            ("dry_run", Bool), ("on_duplicate", Text), ("mapping", Json), ("rows_total", Int),
            ("rows_created", Int), ("rows_updated", Int), ("rows_skipped", Int),
            ("rows_rejected", Int), ("error", Text), ("created_by", Int), ("created_at", Time),
            ("finished_at", Time), ("undone_at", Time), ("undone_by", Int),
            ("rows_done", Int), ("heartbeat_at", Time),
        ],
    ),
    table(
        "import_items",
        Key::Id,
        &[
            ("id", Int), ("batch_id", Int), ("row_no", Int), ("record_id", Int), ("action", Text),
            ("version", Int), ("before", Json),
        ],
    ),
    table(
        "import_rejects",
        Key::Id,
        &[("id", Int), ("batch_id", Int), ("row_no", Int), ("cells", Json), ("problems", Json)],
    ),
    table(
        "import_mappings",
        Key::Id,
        &[
            ("id", Int), ("entity", Text), ("name", Text), ("columns", Json), ("created_by", Int),
            ("created_at", Time),
        ],
    ),
    table(
        "automation_fired",
        Key::Id,
        &[
            ("id", Int), ("rule_id", Int), ("record_id", Int), ("fire_key", Text),
            ("fired_at", Time),
        ],
    ),
    table(
        "webhook_subscriptions",
        Key::Id,
        &[
            ("id", Int), ("url", Text), ("events", Json), ("entity", Text), ("secret", Text),
            ("enabled", Bool), ("max_failures", Int), ("consecutive_failures", Int),
            ("disabled_at", Time), ("created_at", Time), ("created_by", Int), ("updated_at", Time),
        ],
    ),
    table(
        "webhook_deliveries",
        Key::Id,
        &[
            ("id", Int), ("subscription_id", Int), ("event", Text), ("payload", Json),
            ("state", Text), ("attempts", Int), ("next_attempt_at", Time), ("last_status", Int),
            ("last_error", Text), ("created_at", Time), ("delivered_at", Time),
        ],
    ),
    table(
        "app_settings",
        Key::Primary(&["key"]),
        &[("key", Text), ("value", Text), ("updated_at", Time), ("updated_by", Int)],
    ),
    table(
        "sales_plans",
        Key::Id,
        &[
            ("id", Int), ("month", Text), ("target", Text), ("amount", Int), ("updated_at", Time),
            ("updated_by", Int),
        ],
    ),
    table(
        "report_schedules",
        Key::Id,
        &[
            ("id", Int), ("report", Text), ("params", Text), ("frequency", Text), ("day", Int),
            ("hour", Int), ("time_zone", Text), ("enabled", Bool), ("next_due", Time),
            ("last_sent_at", Time), ("created_by", Int), ("created_at", Time), ("updated_at", Time),
        ],
    ),
    table(
        "report_schedule_recipients",
        Key::Primary(&["schedule_id", "user_id"]),
        &[("schedule_id", Int), ("user_id", Int)],
    ),
    table(
        "source_costs",
        Key::Id,
        &[
            ("id", Int), ("source", Text), ("month", Date), ("amount", Int), ("updated_at", Time),
            ("updated_by", Int),
        ],
    ),
    table(
        "export_log",
        Key::Id,
        &[
            ("id", Int), ("user_id", Int), ("entity", Text), ("filter", Text), ("format", Text),
            ("rows", Int), ("created_at", Time), ("q", Text), ("columns", Text), ("source", Text),
        ],
    ),
    table(
        "dedup_keys",
        Key::Primary(&["entity", "record_id", "kind"]),
        &[("entity", Text), ("record_id", Int), ("kind", Text), ("value", Text)],
    ),
    table(
        "merges",
        Key::Id,
        &[
            ("id", Int), ("entity", Text), ("survivor_id", Int), ("victim_ids", Json),
            ("snapshot", Json), ("after_versions", Json), ("moved", Json), ("created_at", Time),
            ("created_by", Int), ("undone_at", Time), ("undone_by", Int),
        ],
    ),
    table(
        "approvals",
        Key::Id,
        &[
            ("id", Int), ("entity", Text), ("record_id", Int), ("field", Text),
            ("requested_value", Json), ("previous_value", Json), ("reason", Text),
            ("requester_id", Int), ("approver_id", Int), ("department_id", Int), ("level", Int),
            ("state", Text), ("comment", Text), ("decided_by", Int), ("decided_at", Time),
            ("escalate_at", Time), ("created_at", Time), ("updated_at", Time),
        ],
    ),
    table(
        "calendar_feeds",
        Key::Primary(&["user_id"]),
        &[("user_id", Int), ("token_hash", Text), ("created_at", Time)],
    ),
    table(
        "customer_class_runs",
        Key::Id,
        &[
            ("id", Int), ("calculated_at", Time), ("period_key", Text), ("window_from", Date),
            ("window_to", Date), ("thresholds", Json), ("customers", Int), ("changed", Int),
            ("source", Text), ("created_by", Int),
        ],
    ),
    table(
        "customer_classes",
        Key::Primary(&["company_id"]),
        &[
            ("company_id", Int), ("run_id", Int), ("abc", Text), ("xyz", Text), ("revenue", Int),
            ("deals", Int), ("share_e4", Int), ("cv_e4", Int), ("calculated_at", Time),
            ("override_abc", Text), ("override_xyz", Text), ("override_reason", Text),
            ("override_by", Int), ("override_at", Time),
        ],
    ),
    table(
        "customer_class_changes",
        Key::Id,
        &[
            ("id", Int), ("company_id", Int), ("kind", Text), ("run_id", Int), ("old_abc", Text),
            ("old_xyz", Text), ("new_abc", Text), ("new_xyz", Text), ("reason", Text),
            ("changed_at", Time), ("changed_by", Int),
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

mod schema_check;
pub use schema_check::schema_differences;

#[cfg(test)]
mod tests;
