//! Imports of companies, contacts, leads, deals and activities from CSV and spreadsheet
//! files, as batches that can be undone as a whole.
//!
//! How an import runs (and why it is never left half-done):
//! 1. **Check pass** (streaming, no database): the whole file is read once, so that a
//!    broken file (encoding, quotes, a giant cell, no rows) is refused before anything is
//!    written.
//! 2. **Write pass** (streaming again): rows are converted to the JSON an API client would
//!    send, parsed by `core::record::parse_input`, matched against existing records
//!    (duplicates) and written through the record engine (`records::insert`/`apply`, so
//!    history and lookups are written too), in transactions of [`CHUNK_ROWS`] rows.
//!    Creates (policy `skip` or `create`) go in bulk (`bulk_chunk`: one duplicate query
//!    per key kind for the chunk, `records::insert_many`), with the same rows as one
//!    create after the other. Updates, dry runs and a chunk whose bulk write was refused
//!    go row by row (`one_by_one`): each row in a savepoint, so that a row the engine
//!    refuses is rolled back alone and reported.
//!    Every created or updated record is listed in `import_items` in the chunk's
//!    transaction. If anything fails between chunks (database gone, disk full), the
//!    chunks already committed are undone and the batch is marked `failed`. Each chunk's
//!    commit also stamps the batch's `heartbeat_at`; a batch left `running` by a process
//!    that stopped (crash, server restart) is marked `interrupted` by
//!    [`recover_interrupted`] once its heartbeat is older than [`STALE_AFTER_SECS`]: what
//!    it committed stays and can be undone as usual. A process whose batch was marked
//!    `interrupted` under it stops at its next chunk (the progress update finds the batch
//!    no longer `running`), so the state never lies about what is written.
//! 3. A **dry run** is the same write pass with every chunk rolled back; duplicates within
//!    the file are then found through an in-memory set of key hashes.
//!
//! Undo removes the records the batch created (with their history and lookups, so the
//! tables are as before) and restores updated records from the values saved before the
//! change, through the record engine (so the restore is itself in their history).

pub mod mapping;
pub mod pages;
pub mod source;

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::path::Path;

use plotina_core::error::{DomainError, FieldError};
use plotina_core::policy::{Action, Actor};
use plotina_core::record::{parse_input, Changes, CustomFieldDef, Mode};
use plotina_core::schema::{Access, Entity};
use plotina_core::types::names::normalize_company_name;
use sea_query::{Alias, Order, Query, Value as SqlValue};
use serde::Serialize;
use serde_json::{json, Map, Value as Json};

use crate::db::Tx;
use crate::error::{fail, Result, StoreError};
use crate::filter_sql::col;
use crate::listing::QueryCtx;
use crate::rows::Record;
use crate::{history, records, Store};

pub use mapping::{ColumnMap, Preset};
pub use source::{FileError, Format};

/// Rows per write transaction.
pub const CHUNK_ROWS: usize = 1000;
/// Row problems kept in a report returned to the caller (all are stored).
pub const REPORT_PROBLEMS: usize = 1000;
/// A batch still `running` (or `checking`) whose process has not committed a chunk for
/// this long is taken for abandoned by [`recover_interrupted`]. A chunk takes well under
/// a second in bulk and a few seconds row by row, so two minutes leave a wide margin for
/// a slow chunk without leaving a dead batch `running` for long.
pub const STALE_AFTER_SECS: i64 = 120;

/// What happens to a row that matches an existing record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnDuplicate {
    Skip,
    Update,
    Create,
}

impl OnDuplicate {
    pub fn code(self) -> &'static str {
        match self {
            OnDuplicate::Skip => "skip",
            OnDuplicate::Update => "update",
            OnDuplicate::Create => "create",
        }
    }
    pub fn parse(s: &str) -> Option<OnDuplicate> {
        match s {
            "skip" => Some(OnDuplicate::Skip),
            "update" => Some(OnDuplicate::Update),
            "create" => Some(OnDuplicate::Create),
            _ => None,
        }
    }
}

/// The entities an import can fill.
pub const IMPORTABLE: &[Entity] = &[
    Entity::Company,
    Entity::Contact,
    Entity::Lead,
    Entity::Deal,
    Entity::Activity,
];

#[derive(Debug, Clone)]
pub struct ImportRequest {
    pub entity: Entity,
    pub file_name: String,
    pub dry_run: bool,
    pub on_duplicate: OnDuplicate,
    pub preset: Option<Preset>,
    /// An edited mapping; the automatic one when `None`. Matched to the file by header.
    pub columns: Option<Vec<ColumnMap>>,
    /// Writes every row through the single-record path, never the bulk path (the
    /// reference the bulk path is tested against; slower, same result).
    pub per_row: bool,
}

/// One problem of one row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowProblem {
    pub row: u64,
    /// The file's column header, when the problem belongs to one.
    pub column: Option<String>,
    pub field: String,
    pub code: String,
    pub args: Vec<(String, String)>,
}

/// Where an import is, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// `"check"` (the first pass) or `"write"`.
    pub phase: &'static str,
    pub done: u64,
    pub total: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    pub batch_id: i64,
    pub status: String,
    pub format: Format,
    pub dry_run: bool,
    pub rows_total: u64,
    pub created: u64,
    pub updated: u64,
    pub skipped: u64,
    pub rejected: u64,
    pub mapping: Vec<ColumnMap>,
    /// The first [`REPORT_PROBLEMS`] problems.
    pub problems: Vec<RowProblem>,
}

fn file_error(e: FileError) -> StoreError {
    let mut fe = FieldError::new("file", e.code);
    fe.args = e.args;
    StoreError::Domain(DomainError::BadRequest(fe))
}

fn hash_key(parts: &[&str]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    parts.hash(&mut h);
    h.finish()
}

/// Users, stages and companies by the names a file uses for them.
struct Resolver {
    users: HashMap<String, i64>,
    pipeline: Option<i64>,
    stages: HashMap<String, i64>,
    /// Normalised company name → id (loaded when companies are matched by name).
    companies: HashMap<String, i64>,
}

impl Resolver {
    async fn load(tx: &mut Tx, entity: Entity, mapping: &[ColumnMap]) -> Result<Resolver> {
        let mut users = HashMap::new();
        let q = Query::select()
            .columns(["id", "login", "name", "email"].map(Alias::new))
            .from(Alias::new("users"))
            .to_owned();
        for r in tx.fetch_all(&q).await? {
            let id = r.i64("id")?.unwrap_or_default();
            for c in ["login", "name", "email"] {
                if let Some(v) = r.text(c)? {
                    users.entry(v.trim().to_lowercase()).or_insert(id);
                }
            }
        }
        let pipeline = tx
            .fetch_optional(
                &Query::select()
                    .column(Alias::new("id"))
                    .from(Alias::new("pipelines"))
                    .and_where(col("deleted_at").is_null())
                    .order_by(Alias::new("position"), Order::Asc)
                    .order_by(Alias::new("id"), Order::Asc)
                    .limit(1)
                    .to_owned(),
            )
            .await?
            .and_then(|r| r.i64("id").ok().flatten());
        let mut stages = HashMap::new();
        if let Some(p) = pipeline {
            let q = Query::select()
                .columns(["id", "name", "code"].map(Alias::new))
                .from(Alias::new("stages"))
                .and_where(col("pipeline_id").eq(p))
                .and_where(col("deleted_at").is_null())
                .to_owned();
            for r in tx.fetch_all(&q).await? {
                let id = r.i64("id")?.unwrap_or_default();
                for c in ["name", "code"] {
                    if let Some(v) = r.text(c)? {
                        stages.entry(v.trim().to_lowercase()).or_insert(id);
                    }
                }
            }
        }
        let mut companies = HashMap::new();
        let by_name = entity == Entity::Company
            || mapping
                .iter()
                .any(|c| c.target.as_deref() == Some("company"));
        if by_name {
            let mut after = 0i64;
            loop {
                let q = Query::select()
                    .columns(["id", "name"].map(Alias::new))
                    .from(Alias::new("companies"))
                    .and_where(col("deleted_at").is_null())
                    .and_where(col("id").gt(after))
                    .order_by(Alias::new("id"), Order::Asc)
                    .limit(10_000)
                    .to_owned();
                let rows = tx.fetch_all(&q).await?;
                if rows.is_empty() {
                    break;
                }
                for r in rows {
                    let id = r.i64("id")?.unwrap_or_default();
                    after = id;
                    let key = normalize_company_name(&r.text("name")?.unwrap_or_default());
                    if !key.is_empty() {
                        companies.entry(key).or_insert(id);
                    }
                }
            }
        }
        Ok(Resolver {
            users,
            pipeline,
            stages,
            companies,
        })
    }
}

/// A row turned into an API body, with the problems the conversion itself found.
fn row_body(
    entity: Entity,
    mapping: &[ColumnMap],
    cells: &[String],
    res: &Resolver,
) -> (Map<String, Json>, Vec<FieldError>) {
    let mut body = Map::new();
    let mut custom = Map::new();
    let mut errors = Vec::new();
    let put = |body: &mut Map<String, Json>, name: &str, v: Json| match (body.get_mut(name), v) {
        (Some(Json::Array(a)), Json::Array(b)) => a.extend(b),
        (Some(Json::String(a)), Json::String(b)) => {
            a.push(' ');
            a.push_str(&b);
        }
        (_, v) => {
            body.insert(name.to_string(), v);
        }
    };
    for (i, col) in mapping.iter().enumerate() {
        let Some(target) = col.target.as_deref() else {
            continue;
        };
        let cell = cells.get(i).map(|s| s.trim()).unwrap_or("");
        if cell.is_empty() {
            continue;
        }
        match target {
            "full_name" => {
                let parts: Vec<&str> = cell.split_whitespace().collect();
                for (name, part) in ["last_name", "first_name", "middle_name"]
                    .iter()
                    .zip(&parts)
                {
                    body.entry(name.to_string())
                        .or_insert_with(|| Json::String(part.to_string()));
                }
                if parts.len() > 3 {
                    let rest = parts[2..].join(" ");
                    body.insert("middle_name".into(), Json::String(rest));
                }
            }
            "company" => {
                let digits: String = cell.chars().filter(|c| !c.is_whitespace()).collect();
                let id = if digits.len() >= 10 && digits.chars().all(|c| c.is_ascii_digit()) {
                    None
                } else {
                    res.companies.get(&normalize_company_name(cell)).copied()
                };
                if let Some(id) = id {
                    if entity == Entity::Contact {
                        body.insert("companies".into(), json!([{"company_id": id}]));
                    } else {
                        body.insert("company_id".into(), json!(id));
                    }
                }
            }
            "stage" => match res.stages.get(&cell.to_lowercase()) {
                Some(id) => {
                    body.insert("stage_id".into(), json!(id));
                }
                None => errors
                    .push(FieldError::new("stage", "import_stage_unknown").with("value", cell)),
            },
            "owner" | "assignee" => {
                let field = if target == "owner" {
                    "owner_id"
                } else {
                    "assignee_id"
                };
                match res.users.get(&cell.to_lowercase()) {
                    Some(id) => {
                        body.insert(field.into(), json!(id));
                    }
                    None => errors
                        .push(FieldError::new(target, "import_user_unknown").with("value", cell)),
                }
            }
            t if t.starts_with("custom.") => {
                let key = &t["custom.".len()..];
                custom.insert(key.to_string(), Json::String(cell.to_string()));
            }
            t => {
                if let Some(def) = entity.field(t) {
                    put(&mut body, t, mapping::cell_json(t, def.kind, cell));
                }
            }
        }
    }
    if !custom.is_empty() {
        body.insert("custom".into(), Json::Object(custom));
    }
    match entity {
        Entity::Deal => {
            if let Some(p) = res.pipeline {
                body.entry("pipeline_id").or_insert(json!(p));
            }
        }
        Entity::Lead => {
            body.entry("source").or_insert(json!("import"));
        }
        _ => {}
    }
    (body, errors)
}

/// The keys a record is matched on: INN, e-mails, phones (E.164) and the normalised
/// company name, as (kind, value).
fn dup_keys(entity: Entity, changes: &Changes) -> Vec<(&'static str, String)> {
    let mut keys = Vec::new();
    let mut list = |kind: &'static str, name: &str| {
        if let Some(v) = changes.get(name) {
            match v.to_json() {
                Json::Array(items) => keys.extend(
                    items
                        .iter()
                        .filter_map(|i| i.as_str().map(|s| (kind, s.to_lowercase()))),
                ),
                Json::String(s) => keys.push((kind, s.to_lowercase())),
                _ => {}
            }
        }
    };
    match entity {
        Entity::Company => {
            list("inn", "inn");
            list("email", "emails");
            list("phone", "phones");
        }
        Entity::Contact => {
            list("email", "emails");
            list("phone", "phones");
        }
        Entity::Lead => {
            list("inn", "inn");
            list("email", "email");
            list("phone", "phone");
        }
        _ => {}
    }
    if entity == Entity::Company {
        if let Some(name) = changes.get("name").and_then(|v| v.as_str()) {
            let n = normalize_company_name(name);
            if !n.is_empty() {
                keys.push(("name", n));
            }
        }
    }
    keys
}

/// The live record these keys match, if any.
async fn find_existing(
    tx: &mut Tx,
    entity: Entity,
    keys: &[(&'static str, String)],
    res: &Resolver,
) -> Result<Option<i64>> {
    for (kind, value) in keys {
        let q = match *kind {
            "inn" => Query::select()
                .column(Alias::new("id"))
                .from(Alias::new(entity.table()))
                .and_where(col("inn").eq(value.clone()))
                .and_where(col("deleted_at").is_null())
                .limit(1)
                .to_owned(),
            "name" => {
                if let Some(id) = res.companies.get(value) {
                    return Ok(Some(*id));
                }
                continue;
            }
            _ => Query::select()
                .column(Alias::new("id"))
                .from(Alias::new(entity.table()))
                .and_where(
                    col("id").in_subquery(
                        Query::select()
                            .column(Alias::new("record_id"))
                            .from(Alias::new("record_lookup"))
                            .and_where(col("kind").eq(*kind))
                            .and_where(col("value").eq(value.clone()))
                            .and_where(col("entity").eq(entity.code()))
                            .to_owned(),
                    ),
                )
                .and_where(col("deleted_at").is_null())
                .limit(1)
                .to_owned(),
        };
        if let Some(r) = tx.fetch_optional(&q).await? {
            return Ok(r.i64("id")?);
        }
    }
    Ok(None)
}

enum RowOutcome {
    Created { id: i64, version: i64 },
    Updated { id: i64, version: i64, before: Json },
    Skipped,
}

/// The values an update replaced, in the form `parse_input` takes back on undo.
fn before_values(entity: Entity, old: &Record, new: &Record) -> Json {
    let mut out = Map::new();
    let mut custom = Map::new();
    for (field, old_v, _) in history::diff(Some(old), new) {
        if let Some(key) = field.strip_prefix("custom.") {
            custom.insert(key.to_string(), old_v);
        } else if entity
            .field(&field)
            .is_some_and(|f| f.access == Access::Write)
        {
            out.insert(field, old_v);
        }
    }
    if !custom.is_empty() {
        out.insert("custom".into(), Json::Object(custom));
    }
    Json::Object(out)
}

fn version_of(rec: &Record) -> i64 {
    rec.get("version").and_then(Json::as_i64).unwrap_or(1)
}

fn id_of(rec: &Record) -> i64 {
    rec.get("id").and_then(Json::as_i64).unwrap_or_default()
}

struct RowCtx<'a> {
    entity: Entity,
    customs: &'a [CustomFieldDef],
    mapping: &'a [ColumnMap],
    on_duplicate: OnDuplicate,
    dry_run: bool,
}

/// Refuses a row with more filled cells than the file has columns.
fn check_columns(mapping: &[ColumnMap], cells: &[String]) -> Result<()> {
    if cells.len() > mapping.len() && cells[mapping.len()..].iter().any(|c| !c.trim().is_empty()) {
        return fail(DomainError::Invalid(vec![FieldError::new(
            "",
            "import_columns_count",
        )
        .with("expected", mapping.len())
        .with("found", cells.len())]));
    }
    Ok(())
}

/// A row turned into its API body and parsed as a create (pure CPU, no database).
fn parse_row(
    rc: &RowCtx<'_>,
    res: &Resolver,
    cells: &[String],
) -> Result<(Map<String, Json>, Changes)> {
    let (body, mut errors) = row_body(rc.entity, rc.mapping, cells, res);
    match parse_input(rc.entity, rc.customs, &body, Mode::Create) {
        Ok(c) if errors.is_empty() => Ok((body, c)),
        Ok(_) => fail(DomainError::Invalid(errors)),
        Err(mut e) => {
            errors.append(&mut e);
            fail(DomainError::Invalid(errors))
        }
    }
}

async fn process_row(
    tx: &mut Tx,
    ctx: &QueryCtx<'_>,
    rc: &RowCtx<'_>,
    res: &mut Resolver,
    seen: &mut HashSet<u64>,
    cells: &[String],
) -> Result<RowOutcome> {
    let (body, changes) = parse_row(rc, res, cells)?;
    let keys = dup_keys(rc.entity, &changes);
    let mut existing = None;
    let mut in_file = false;
    if rc.on_duplicate != OnDuplicate::Create && !keys.is_empty() {
        existing = find_existing(tx, rc.entity, &keys, res).await?;
        if rc.dry_run {
            let hashes: Vec<u64> = keys.iter().map(|(k, v)| hash_key(&[k, v])).collect();
            in_file = existing.is_none() && hashes.iter().any(|h| seen.contains(h));
            seen.extend(hashes);
        }
    }
    if in_file {
        return Ok(match rc.on_duplicate {
            OnDuplicate::Update => RowOutcome::Updated {
                id: 0,
                version: 0,
                before: Json::Null,
            },
            _ => RowOutcome::Skipped,
        });
    }
    match (existing, rc.on_duplicate) {
        (Some(_), OnDuplicate::Skip) => Ok(RowOutcome::Skipped),
        (Some(id), OnDuplicate::Update) => {
            let Some(old) = records::fetch(tx, ctx, rc.entity, id, Action::Edit, false).await?
            else {
                return fail(DomainError::Invalid(vec![FieldError::new(
                    "",
                    "import_duplicate_forbidden",
                )]));
            };
            let mut upd = body.clone();
            upd.remove("pipeline_id");
            if rc.entity == Entity::Lead
                && !rc
                    .mapping
                    .iter()
                    .any(|c| c.target.as_deref() == Some("source"))
            {
                upd.remove("source");
            }
            let changes = parse_input(rc.entity, rc.customs, &upd, Mode::Update)
                .map_err(DomainError::Invalid)?;
            let new = records::apply(tx, ctx.actor, rc.entity, rc.customs, &old, changes).await?;
            Ok(RowOutcome::Updated {
                id,
                version: version_of(&new),
                before: before_values(rc.entity, &old, &new),
            })
        }
        _ => {
            let rec = records::insert(tx, ctx.actor, rc.entity, rc.customs, changes).await?;
            let id = id_of(&rec);
            if rc.entity == Entity::Company {
                if let Some((_, n)) = keys.iter().find(|(k, _)| *k == "name") {
                    res.companies.entry(n.clone()).or_insert(id);
                }
            }
            Ok(RowOutcome::Created {
                id,
                version: version_of(&rec),
            })
        }
    }
}

/// The header of the file column a field's problem belongs to.
fn column_of(mapping: &[ColumnMap], field: &str) -> Option<String> {
    let target = match field {
        "owner_id" => "owner",
        "assignee_id" => "assignee",
        "stage_id" => "stage",
        "company_id" | "companies" => "company",
        "last_name" | "first_name" | "middle_name"
            if !mapping.iter().any(|c| c.target.as_deref() == Some(field)) =>
        {
            "full_name"
        }
        f => f,
    };
    mapping
        .iter()
        .find(|c| c.target.as_deref() == Some(target))
        .map(|c| c.header.clone())
}

fn problems_of(row: u64, mapping: &[ColumnMap], e: &DomainError) -> Vec<RowProblem> {
    let one = |fe: &FieldError| RowProblem {
        row,
        column: column_of(mapping, &fe.field),
        field: fe.field.clone(),
        code: fe.code.to_string(),
        args: fe
            .args
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    };
    match e {
        DomainError::Invalid(errs) => errs.iter().map(one).collect(),
        DomainError::Conflict(fe) | DomainError::BadRequest(fe) => vec![one(fe)],
        DomainError::Forbidden(code) => vec![one(&FieldError::new("", code))],
        other => vec![one(&FieldError::new(
            "",
            match other {
                DomainError::NotFound => "link_not_found",
                _ => "import_row_refused",
            },
        ))],
    }
}

/// Matches an edited mapping to the file's headers (by header name, then position).
fn resolve_mapping(
    entity: Entity,
    headers: &[String],
    req: &ImportRequest,
    customs: &[CustomFieldDef],
) -> Result<Vec<ColumnMap>> {
    let mapping = match &req.columns {
        None => mapping::auto_map(entity, headers, req.preset, customs),
        Some(cols) => headers
            .iter()
            .enumerate()
            .map(|(i, h)| ColumnMap {
                header: h.clone(),
                target: cols
                    .iter()
                    .find(|c| c.header.trim() == h.trim())
                    .or_else(|| cols.get(i).filter(|c| c.header.is_empty()))
                    .and_then(|c| c.target.clone())
                    .filter(|t| !t.is_empty()),
            })
            .collect(),
    };
    for c in &mapping {
        if let Some(t) = &c.target {
            if !mapping::valid_target(entity, t, customs) {
                let mut fe = FieldError::new("mapping", "import_target_unknown");
                fe.args = vec![("column", c.header.clone()), ("target", t.clone())];
                return fail(DomainError::BadRequest(fe));
            }
        }
    }
    if mapping.iter().all(|c| c.target.is_none()) {
        return fail(DomainError::bad_request("mapping", "import_nothing_mapped"));
    }
    Ok(mapping)
}

async fn insert_batch(
    store: &Store,
    actor: &Actor,
    req: &ImportRequest,
    format: Format,
    mapping: &[ColumnMap],
    total: u64,
) -> Result<i64> {
    let mut tx = store.pool().begin_write().await?;
    let mut q = Query::insert();
    q.into_table(Alias::new("import_batches"))
        .columns(
            [
                "entity",
                "file_name",
                "format",
                "status",
                "dry_run",
                "on_duplicate",
                "mapping",
                "rows_total",
                "created_by",
                "created_at",
                "heartbeat_at",
            ]
            .map(Alias::new),
        )
        .values_panic(crate::db::vals([
            req.entity.code().into(),
            req.file_name.chars().take(255).collect::<String>().into(),
            format.code().into(),
            if req.dry_run { "checking" } else { "running" }.into(),
            req.dry_run.into(),
            req.on_duplicate.code().into(),
            SqlValue::Json(Some(Box::new(
                serde_json::to_value(mapping).unwrap_or(Json::Null),
            ))),
            (total as i64).into(),
            actor.user_id.into(),
            plotina_core::value::now().into(),
            plotina_core::value::now().into(),
        ]));
    let id = tx.insert_id(&mut q).await?;
    tx.commit().await?;
    Ok(id)
}

#[derive(Default)]
struct Counts {
    created: u64,
    updated: u64,
    skipped: u64,
    rejected: u64,
}

async fn finish_batch(
    store: &Store,
    batch: i64,
    status: &str,
    c: &Counts,
    error: Option<String>,
) -> Result<()> {
    let mut tx = store.pool().begin_write().await?;
    tx.execute(
        &Query::update()
            .table(Alias::new("import_batches"))
            .value(Alias::new("status"), status)
            .value(Alias::new("rows_created"), c.created as i64)
            .value(Alias::new("rows_updated"), c.updated as i64)
            .value(Alias::new("rows_skipped"), c.skipped as i64)
            .value(Alias::new("rows_rejected"), c.rejected as i64)
            .value(Alias::new("error"), error)
            .value(Alias::new("finished_at"), plotina_core::value::now())
            .and_where(col("id").eq(batch))
            .to_owned(),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

struct Item {
    row: u64,
    id: i64,
    action: &'static str,
    version: i64,
    before: Json,
}

async fn write_items(tx: &mut Tx, batch: i64, items: &[Item]) -> Result<()> {
    let rows = items
        .iter()
        .map(|it| {
            crate::db::vals([
                batch.into(),
                (it.row as i64).into(),
                it.id.into(),
                it.action.into(),
                it.version.into(),
                if it.before.is_null() {
                    SqlValue::Json(None)
                } else {
                    SqlValue::Json(Some(Box::new(it.before.clone())))
                },
            ])
        })
        .collect();
    crate::db::insert_rows(
        tx,
        "import_items",
        &[
            "batch_id",
            "row_no",
            "record_id",
            "action",
            "version",
            "before",
        ],
        rows,
    )
    .await?;
    Ok(())
}

async fn write_rejects(
    store: &Store,
    batch: i64,
    rejects: &[(u64, Vec<String>, Vec<RowProblem>)],
) -> Result<()> {
    if rejects.is_empty() {
        return Ok(());
    }
    let mut tx = store.pool().begin_write().await?;
    for chunk in rejects.chunks(200) {
        let mut q = Query::insert();
        q.into_table(Alias::new("import_rejects"))
            .columns(["batch_id", "row_no", "cells", "problems"].map(Alias::new));
        for (row, cells, problems) in chunk {
            q.values_panic(crate::db::vals([
                batch.into(),
                (*row as i64).into(),
                SqlValue::Json(Some(Box::new(json!(cells)))),
                SqlValue::Json(Some(Box::new(
                    serde_json::to_value(problems).unwrap_or(Json::Null),
                ))),
            ]));
        }
        tx.execute(&q).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// An import whose file has been checked and whose batch row exists (status `running`,
/// or `checking` for a dry run): what [`execute`] needs to write it.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub batch_id: i64,
    pub format: Format,
    pub total: u64,
    pub mapping: Vec<ColumnMap>,
    customs: Vec<CustomFieldDef>,
}

/// Runs an import (or a dry run) of a file as `actor`: [`prepare`], then [`execute`].
pub async fn run(
    store: &Store,
    actor: &Actor,
    path: &Path,
    req: &ImportRequest,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<ImportReport> {
    let prepared = prepare(store, actor, path, req, progress).await?;
    execute(store, actor, path, req, prepared, progress).await
}

/// The checks and the first pass over the whole file (no database), then the batch row.
/// Nothing is written when the file or the request is refused. The web pages call this
/// in the request and [`execute`] in the background, so the batch page exists at once.
pub async fn prepare(
    store: &Store,
    actor: &Actor,
    path: &Path,
    req: &ImportRequest,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<Prepared> {
    let entity = req.entity;
    if !IMPORTABLE.contains(&entity) {
        return fail(DomainError::bad_request("entity", "import_entity_unknown"));
    }
    if !actor.can(entity, Action::Create) {
        return fail(DomainError::Forbidden("forbidden_create"));
    }
    let customs = store.custom_defs(entity).await?;
    // Pass 1: the whole file, no database.
    let (format, mut src) = source::open(path).map_err(file_error)?;
    let headers = src.headers().to_vec();
    let mapping = resolve_mapping(entity, &headers, req, &customs)?;
    let mut total = 0u64;
    while let Some(r) = src.next_row() {
        r.map_err(file_error)?;
        total += 1;
        if total.is_multiple_of(4096) {
            let (done, all) = src.progress();
            progress(Progress {
                phase: "check",
                done,
                total: all,
            });
        }
    }
    drop(src);
    if total == 0 {
        return fail(DomainError::bad_request("file", "import_file_no_rows"));
    }
    let batch_id = insert_batch(store, actor, req, format, &mapping, total).await?;
    Ok(Prepared {
        batch_id,
        format,
        total,
        mapping,
        customs,
    })
}

/// The write pass of a prepared import and the batch's final state. On failure the
/// chunks already committed are undone and the batch is marked `failed`.
pub async fn execute(
    store: &Store,
    actor: &Actor,
    path: &Path,
    req: &ImportRequest,
    prepared: Prepared,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<ImportReport> {
    let Prepared {
        batch_id: batch,
        format,
        total,
        mapping,
        customs,
    } = prepared;
    let outcome = write_pass(
        store, actor, path, req, &customs, &mapping, batch, total, progress,
    )
    .await;
    match outcome {
        Ok((counts, problems)) => {
            let status = if req.dry_run { "dry_run" } else { "done" };
            finish_batch(store, batch, status, &counts, None).await?;
            Ok(ImportReport {
                batch_id: batch,
                status: status.into(),
                format,
                dry_run: req.dry_run,
                rows_total: total,
                created: counts.created,
                updated: counts.updated,
                skipped: counts.skipped,
                rejected: counts.rejected,
                mapping,
                problems,
            })
        }
        Err(e) => {
            if batch_row(store, batch)
                .await?
                .is_some_and(|b| b.status == "interrupted")
            {
                // Declared abandoned while this process still ran it: its committed
                // chunks stay, to be undone by the user like any interrupted batch.
                return Err(e);
            }
            // Never half-done: what the committed chunks wrote is taken back.
            let undo_result = if req.dry_run {
                Ok(())
            } else {
                undo_items(store, actor, batch).await
            };
            let msg = format!("{e}");
            let status = if undo_result.is_ok() {
                "failed"
            } else {
                "running"
            };
            let _ = finish_batch(store, batch, status, &Counts::default(), Some(msg)).await;
            Err(e)
        }
    }
}

/// The progress and heartbeat of a batch still in `status`; false when it no longer is
/// (marked `interrupted` by [`recover_interrupted`] in another process).
async fn heartbeat(tx: &mut Tx, batch: i64, status: &str, done: u64) -> Result<bool> {
    let n = tx
        .execute(
            &Query::update()
                .table(Alias::new("import_batches"))
                .value(Alias::new("rows_done"), done as i64)
                .value(Alias::new("heartbeat_at"), plotina_core::value::now())
                .and_where(col("id").eq(batch))
                .and_where(col("status").eq(status))
                .to_owned(),
        )
        .await?;
    Ok(n > 0)
}

#[allow(clippy::too_many_arguments)]
async fn write_pass(
    store: &Store,
    actor: &Actor,
    path: &Path,
    req: &ImportRequest,
    customs: &[CustomFieldDef],
    mapping: &[ColumnMap],
    batch: i64,
    total: u64,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<(Counts, Vec<RowProblem>)> {
    let custom_lookup = store.custom_lookup().await?;
    let ctx = QueryCtx {
        backend: store.backend(),
        actor,
        custom: &custom_lookup,
    };
    let rc = RowCtx {
        entity: req.entity,
        customs,
        mapping,
        on_duplicate: req.on_duplicate,
        dry_run: req.dry_run,
    };
    let (_, mut src) = source::open(path).map_err(file_error)?;
    let mut res = {
        let mut tx = store.pool().begin().await?;
        let r = Resolver::load(&mut tx, req.entity, mapping).await?;
        tx.commit().await?;
        r
    };
    let mut seen = HashSet::new();
    let mut counts = Counts::default();
    let mut problems = Vec::new();
    let mut done = 0u64;
    let mut finished = false;
    while !finished {
        let mut rows = Vec::with_capacity(CHUNK_ROWS);
        while rows.len() < CHUNK_ROWS {
            let Some(r) = src.next_row() else {
                finished = true;
                break;
            };
            rows.push(r.map_err(file_error)?);
        }
        let n = rows.len();
        let mut tx = store.pool().begin_write().await?;
        let mut items = Vec::new();
        let mut rejects = Vec::new();
        let bulk = !req.dry_run && !req.per_row && req.on_duplicate != OnDuplicate::Update;
        let outcomes = if bulk && !rows.is_empty() {
            tx.raw("SAVEPOINT import_chunk").await?;
            match bulk_chunk(&mut tx, &ctx, &rc, &mut res, &rows).await {
                Ok(o) => {
                    tx.raw("RELEASE SAVEPOINT import_chunk").await?;
                    o
                }
                Err(StoreError::Domain(_)) => {
                    // A statement of the bulk write was refused: the chunk again, row by
                    // row, so that the refusal lands on its row alone.
                    tx.raw("ROLLBACK TO SAVEPOINT import_chunk").await?;
                    tx.raw("RELEASE SAVEPOINT import_chunk").await?;
                    one_by_one(&mut tx, &ctx, &rc, &mut res, &mut seen, &rows).await?
                }
                Err(e) => return Err(e),
            }
        } else {
            one_by_one(&mut tx, &ctx, &rc, &mut res, &mut seen, &rows).await?
        };
        for ((row, cells), result) in rows.into_iter().zip(outcomes) {
            match result {
                Ok(o) => match o {
                    RowOutcome::Created { id, version } => {
                        counts.created += 1;
                        items.push(Item {
                            row,
                            id,
                            action: "created",
                            version,
                            before: Json::Null,
                        });
                    }
                    RowOutcome::Updated {
                        id,
                        version,
                        before,
                    } => {
                        counts.updated += 1;
                        if id > 0 {
                            items.push(Item {
                                row,
                                id,
                                action: "updated",
                                version,
                                before,
                            });
                        }
                    }
                    RowOutcome::Skipped => counts.skipped += 1,
                },
                Err(StoreError::Domain(e)) => {
                    counts.rejected += 1;
                    let p = problems_of(row, mapping, &e);
                    for one in &p {
                        if problems.len() < REPORT_PROBLEMS {
                            problems.push(one.clone());
                        }
                    }
                    rejects.push((row, cells, p));
                }
                Err(e) => return Err(e),
            }
        }
        done += n as u64;
        if req.dry_run {
            drop(tx); // rolled back
            let mut tx = store.pool().begin_write().await?;
            let alive = heartbeat(&mut tx, batch, "checking", done).await?;
            tx.commit().await?;
            if !alive {
                return fail(DomainError::conflict("batch", "import_interrupted"));
            }
        } else {
            write_items(&mut tx, batch, &items).await?;
            // The progress, committed with the rows it counts. A batch another process
            // has meanwhile declared interrupted takes no more chunks: this one is
            // rolled back and the batch stays as that process left it.
            if !heartbeat(&mut tx, batch, "running", done).await? {
                drop(tx);
                return fail(DomainError::conflict("batch", "import_interrupted"));
            }
            tx.commit().await?;
        }
        write_rejects(store, batch, &rejects).await?;
        progress(Progress {
            phase: "write",
            done,
            total,
        });
    }
    Ok((counts, problems))
}

/// The rows of a chunk through the single-record path, each in a savepoint: a row the
/// engine refuses is rolled back alone. Domain refusals come back per row; anything
/// else ends the import.
async fn one_by_one(
    tx: &mut Tx,
    ctx: &QueryCtx<'_>,
    rc: &RowCtx<'_>,
    res: &mut Resolver,
    seen: &mut HashSet<u64>,
    rows: &[(u64, Vec<String>)],
) -> Result<Vec<Result<RowOutcome>>> {
    let mut out = Vec::with_capacity(rows.len());
    for (_, cells) in rows {
        if let Err(e) = check_columns(rc.mapping, cells) {
            out.push(Err(e));
            continue;
        }
        tx.raw("SAVEPOINT import_row").await?;
        let r = process_row(tx, ctx, rc, res, seen, cells).await;
        match r {
            Ok(_) => {
                tx.raw("RELEASE SAVEPOINT import_row").await?;
            }
            Err(StoreError::Domain(_)) => {
                tx.raw("ROLLBACK TO SAVEPOINT import_row").await?;
                tx.raw("RELEASE SAVEPOINT import_row").await?;
            }
            Err(e) => return Err(e),
        }
        out.push(r);
    }
    Ok(out)
}

/// Values per `IN (...)` of the chunk's duplicate queries (SQLite allows 32,766
/// parameters a statement, PostgreSQL 65,535), cut by `db::statement_sizes`.
const KEYS_PER_QUERY: usize = 512;

/// Which of the wanted keys (kind → values) a live record of the entity already has,
/// by one query per kind and [`KEYS_PER_QUERY`] values: the same tests as
/// [`find_existing`] (INN column, `record_lookup` rows of live records); company names
/// are matched in memory through the resolver.
async fn existing_keys(
    tx: &mut Tx,
    entity: Entity,
    wanted: &HashMap<&'static str, HashSet<String>>,
) -> Result<HashSet<(&'static str, String)>> {
    let mut found = HashSet::new();
    for (kind, values) in wanted {
        if *kind == "name" {
            continue;
        }
        let values: Vec<&String> = values.iter().collect();
        let mut rest = &values[..];
        for size in crate::db::statement_sizes(values.len(), KEYS_PER_QUERY) {
            let (part, tail) = rest.split_at(size);
            rest = tail;
            let part = part.iter().map(|v| (*v).clone());
            let q = if *kind == "inn" {
                Query::select()
                    .expr_as(sea_query::Expr::col(Alias::new("inn")), Alias::new("value"))
                    .from(Alias::new(entity.table()))
                    .and_where(col("inn").is_in(part))
                    .and_where(col("deleted_at").is_null())
                    .to_owned()
            } else {
                let (l, t) = (Alias::new("l"), Alias::new("t"));
                Query::select()
                    .column((l.clone(), Alias::new("value")))
                    .from_as(Alias::new("record_lookup"), l.clone())
                    .join_as(
                        sea_query::JoinType::InnerJoin,
                        Alias::new(entity.table()),
                        t.clone(),
                        sea_query::Expr::col((t.clone(), Alias::new("id")))
                            .equals((l.clone(), Alias::new("record_id"))),
                    )
                    .and_where(sea_query::Expr::col((l.clone(), Alias::new("kind"))).eq(*kind))
                    .and_where(sea_query::Expr::col((l.clone(), Alias::new("value"))).is_in(part))
                    .and_where(
                        sea_query::Expr::col((l.clone(), Alias::new("entity"))).eq(entity.code()),
                    )
                    .and_where(
                        sea_query::Expr::col((t.clone(), Alias::new("deleted_at"))).is_null(),
                    )
                    .to_owned()
            };
            for r in tx.fetch_all(&q).await? {
                if let Some(v) = r.text("value")? {
                    found.insert((*kind, v));
                }
            }
        }
    }
    Ok(found)
}

/// The keys a new record will be found by once written, in the terms of [`dup_keys`]:
/// its `record_lookup` rows, its INN column.
fn keys_written(entity: Entity, rec: &Record) -> Vec<(&'static str, String)> {
    let mut out: Vec<(&'static str, String)> = crate::lookup::rows(entity, rec, None)
        .into_iter()
        .filter(|(_, kind, _)| {
            ![crate::lookup::EMAIL_DOMAIN, crate::lookup::PHONE_REVERSED].contains(kind)
        })
        .map(|(_, kind, value)| (kind, value))
        .collect();
    if let Some(inn) = rec.get("inn").and_then(Json::as_str) {
        out.push(("inn", inn.to_string()));
    }
    out
}

/// A chunk of creates (`skip` or `create` on duplicates, not a dry run) written in bulk,
/// with the outcome every row would have had through [`one_by_one`]:
/// 1. every row is parsed first (no database);
/// 2. duplicates: one query per key kind for the whole chunk ([`existing_keys`]), then
///    the rows in file order against those and against the keys of the rows this chunk
///    creates before them (what the per-row path finds in the database by then);
/// 3. the entity rules run per row (`records::prepare_insert`: a refusal rejects that
///    row, nothing was written for it, so no savepoint is needed);
/// 4. the creates are written by `records::insert_many`. Automation is called per
///    record only when `automation::engine::may_act` says a rule or webhook could fire,
///    notebook items only for records `notebook::acts_on_create` could concern (an
///    imported contact or company never does).
///
/// A domain error from the bulk write is returned as is; the caller rolls the chunk
/// back and runs it through [`one_by_one`].
async fn bulk_chunk(
    tx: &mut Tx,
    ctx: &QueryCtx<'_>,
    rc: &RowCtx<'_>,
    res: &mut Resolver,
    rows: &[(u64, Vec<String>)],
) -> Result<Vec<Result<RowOutcome>>> {
    let entity = rc.entity;
    let matching = rc.on_duplicate != OnDuplicate::Create;
    type Parsed = (Changes, Vec<(&'static str, String)>);
    let parsed: Vec<Result<Parsed>> = rows
        .iter()
        .map(|(_, cells)| {
            check_columns(rc.mapping, cells)?;
            let (_, changes) = parse_row(rc, res, cells)?;
            let keys = dup_keys(entity, &changes);
            Ok((changes, keys))
        })
        .collect();
    let mut found = HashSet::new();
    if matching {
        let mut wanted: HashMap<&'static str, HashSet<String>> = HashMap::new();
        for (_, keys) in parsed.iter().flatten() {
            for (kind, value) in keys {
                wanted.entry(*kind).or_default().insert(value.clone());
            }
        }
        found = existing_keys(tx, entity, &wanted).await?;
    }
    enum Plan {
        Done(Result<RowOutcome>),
        Create(Option<String>),
    }
    let mut plans = Vec::with_capacity(rows.len());
    let mut prepared = Vec::new();
    let mut new_names: HashSet<String> = HashSet::new();
    for p in parsed {
        let (changes, keys) = match p {
            Ok(p) => p,
            Err(e) => {
                plans.push(Plan::Done(Err(e)));
                continue;
            }
        };
        if matching && !keys.is_empty() {
            let dup = keys.iter().any(|(kind, value)| {
                if *kind == "name" {
                    res.companies.contains_key(value) || new_names.contains(value)
                } else {
                    found.contains(&(*kind, value.clone()))
                }
            });
            if dup {
                plans.push(Plan::Done(Ok(RowOutcome::Skipped)));
                continue;
            }
        }
        let p = match records::prepare_insert(tx, ctx.actor, entity, rc.customs, changes).await {
            Ok(p) => p,
            Err(e @ StoreError::Domain(_)) => {
                plans.push(Plan::Done(Err(e)));
                continue;
            }
            Err(e) => return Err(e),
        };
        let name = if entity == Entity::Company {
            keys.iter()
                .find(|(k, _)| *k == "name")
                .map(|(_, n)| n.clone())
        } else {
            None
        };
        if matching {
            found.extend(keys_written(entity, p.preview()));
            if let Some(n) = &name {
                new_names.insert(n.clone());
            }
        }
        prepared.push(p);
        plans.push(Plan::Create(name));
    }
    let automation = !prepared.is_empty() && crate::automation::engine::may_act(tx, entity).await?;
    let recs = records::insert_many(tx, ctx.actor, entity, prepared, automation).await?;
    let mut recs = recs.into_iter();
    let mut out = Vec::with_capacity(plans.len());
    for plan in plans {
        match plan {
            Plan::Done(r) => out.push(r),
            Plan::Create(name) => {
                let rec = recs.next().ok_or(DomainError::NotFound)?;
                let id = id_of(&rec);
                if let Some(n) = name {
                    res.companies.entry(n).or_insert(id);
                }
                out.push(Ok(RowOutcome::Created {
                    id,
                    version: version_of(&rec),
                }));
            }
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Undo

async fn undo_items(store: &Store, actor: &Actor, batch: i64) -> Result<()> {
    let entity = batch_entity(store, batch).await?;
    let customs = store.custom_defs(entity).await?;
    let mut tx = store.pool().begin_write().await?;
    if tx.backend() == crate::Backend::Postgres {
        // A link to a removed record must fail at its DELETE (a clear conflict), not at
        // the commit.
        tx.raw("SET CONSTRAINTS ALL IMMEDIATE").await?;
    }
    // Records created by the batch: updates to them need no restoring, they go.
    let mut created = HashSet::new();
    let q = Query::select()
        .column(Alias::new("record_id"))
        .from(Alias::new("import_items"))
        .and_where(col("batch_id").eq(batch))
        .and_where(col("action").eq("created"))
        .to_owned();
    for r in tx.fetch_all(&q).await? {
        created.insert(r.i64("record_id")?.unwrap_or_default());
    }
    let mut checked = HashSet::new();
    let mut before_id = i64::MAX;
    loop {
        let q = Query::select()
            .columns(["id", "row_no", "record_id", "action", "version", "before"].map(Alias::new))
            .from(Alias::new("import_items"))
            .and_where(col("batch_id").eq(batch))
            .and_where(col("id").lt(before_id))
            .order_by(Alias::new("id"), Order::Desc)
            .limit(1000)
            .to_owned();
        let rows = tx.fetch_all(&q).await?;
        if rows.is_empty() {
            break;
        }
        for r in rows {
            before_id = r.i64("id")?.unwrap_or_default();
            let id = r.i64("record_id")?.unwrap_or_default();
            let row_no = r.i64("row_no")?.unwrap_or_default();
            let action = r.text("action")?.unwrap_or_default();
            let version = r.i64("version")?.unwrap_or_default();
            if action == "updated" && created.contains(&id) {
                continue;
            }
            let current = records::fetch_unscoped(&mut tx, entity, id).await;
            let current = match current {
                Ok(c) => c,
                Err(StoreError::Domain(DomainError::NotFound)) => {
                    return fail(DomainError::Conflict(
                        FieldError::new("batch", "import_undo_changed").with("row", row_no),
                    ))
                }
                Err(e) => return Err(e),
            };
            if checked.insert(id)
                && (version_of(&current) != version
                    || current.get("deleted_at").is_some_and(|d| !d.is_null()))
            {
                return fail(DomainError::Conflict(
                    FieldError::new("batch", "import_undo_changed").with("row", row_no),
                ));
            }
            if action == "created" {
                remove_record(&mut tx, entity, id).await?;
            } else {
                let before = r.json("before")?.unwrap_or(Json::Null);
                let body = before.as_object().cloned().unwrap_or_default();
                let changes = parse_input(entity, &customs, &body, Mode::Update)
                    .map_err(DomainError::Invalid)?;
                let mut changes = changes;
                changes.trusted = true;
                records::apply(&mut tx, actor, entity, &customs, &current, changes).await?;
            }
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Removes a record the batch created, with everything written about it: lookups,
/// duplicate keys, history, notebook items, automation runs and jobs, stage moves.
async fn remove_record(tx: &mut Tx, entity: Entity, id: i64) -> Result<()> {
    for (table, id_col) in [
        ("record_lookup", "record_id"),
        ("dedup_keys", "record_id"),
        ("history", "record_id"),
        ("notebook_items", "record_id"),
        ("automation_runs", "record_id"),
        ("automation_jobs", "record_id"),
    ] {
        tx.execute(
            &Query::delete()
                .from_table(Alias::new(table))
                .and_where(col("entity").eq(entity.code()))
                .and_where(col(id_col).eq(id))
                .to_owned(),
        )
        .await?;
    }
    if entity == Entity::Deal {
        tx.execute(
            &Query::delete()
                .from_table(Alias::new("stage_changes"))
                .and_where(col("deal_id").eq(id))
                .to_owned(),
        )
        .await?;
    }
    let n = tx
        .execute(
            &Query::delete()
                .from_table(Alias::new(entity.table()))
                .and_where(col("id").eq(id))
                .to_owned(),
        )
        .await;
    match n {
        Ok(_) => Ok(()),
        Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => fail(
            DomainError::Conflict(FieldError::new("batch", "import_undo_linked").with("id", id)),
        ),
        Err(e) => Err(e.into()),
    }
}

async fn batch_entity(store: &Store, batch: i64) -> Result<Entity> {
    let b = batch_row(store, batch)
        .await?
        .ok_or(DomainError::NotFound)?;
    Ok(b.entity)
}

/// An import batch as the status endpoint shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Batch {
    pub id: i64,
    pub entity: Entity,
    pub file_name: String,
    pub format: String,
    pub status: String,
    pub dry_run: bool,
    pub on_duplicate: String,
    pub rows_total: i64,
    pub rows_created: i64,
    pub rows_updated: i64,
    pub rows_skipped: i64,
    pub rows_rejected: i64,
    /// Rows written so far (committed chunks): the progress of a running import.
    pub rows_done: i64,
    pub error: Option<String>,
    pub created_by: i64,
    pub created_at: String,
    pub finished_at: Option<String>,
    pub undone_at: Option<String>,
}

/// The columns [`decode_batch`] reads.
pub(crate) const BATCH_COLUMNS: [&str; 18] = [
    "id",
    "entity",
    "file_name",
    "format",
    "status",
    "dry_run",
    "on_duplicate",
    "rows_total",
    "rows_created",
    "rows_updated",
    "rows_skipped",
    "rows_rejected",
    "rows_done",
    "error",
    "created_by",
    "created_at",
    "finished_at",
    "undone_at",
];

async fn batch_row(store: &Store, batch: i64) -> Result<Option<Batch>> {
    let mut tx = store.pool().begin().await?;
    let q = Query::select()
        .columns(BATCH_COLUMNS.map(Alias::new))
        .from(Alias::new("import_batches"))
        .and_where(col("id").eq(batch))
        .to_owned();
    let row = tx.fetch_optional(&q).await?;
    tx.commit().await?;
    row.map(|r| decode_batch(&r)).transpose()
}

/// A row of `import_batches` selected with [`BATCH_COLUMNS`].
pub(crate) fn decode_batch(r: &crate::db::Row) -> Result<Batch> {
    let entity = r.text("entity")?.unwrap_or_default();
    let entity = IMPORTABLE
        .iter()
        .copied()
        .find(|e| e.code() == entity)
        .ok_or(DomainError::NotFound)?;
    let fmt =
        |t: Option<chrono::DateTime<chrono::Utc>>| t.map(plotina_core::value::format_datetime);
    Ok(Batch {
        id: r.i64("id")?.unwrap_or_default(),
        entity,
        file_name: r.text("file_name")?.unwrap_or_default(),
        format: r.text("format")?.unwrap_or_default(),
        status: r.text("status")?.unwrap_or_default(),
        dry_run: r.bool("dry_run")?,
        on_duplicate: r.text("on_duplicate")?.unwrap_or_default(),
        rows_total: r.i64("rows_total")?.unwrap_or_default(),
        rows_created: r.i64("rows_created")?.unwrap_or_default(),
        rows_updated: r.i64("rows_updated")?.unwrap_or_default(),
        rows_skipped: r.i64("rows_skipped")?.unwrap_or_default(),
        rows_rejected: r.i64("rows_rejected")?.unwrap_or_default(),
        rows_done: r.i64("rows_done")?.unwrap_or_default(),
        error: r.text("error")?,
        created_by: r.i64("created_by")?.unwrap_or_default(),
        created_at: fmt(r.datetime("created_at")?).unwrap_or_default(),
        finished_at: fmt(r.datetime("finished_at")?),
        undone_at: fmt(r.datetime("undone_at")?),
    })
}

/// A batch its creator (or an administrator) may see.
pub async fn batch(store: &Store, actor: &Actor, id: i64) -> Result<Batch> {
    match batch_row(store, id).await? {
        Some(b) if b.created_by == actor.user_id || actor.is_admin => Ok(b),
        _ => Err(StoreError::not_found()),
    }
}

/// Undoes a finished (or failed, or interrupted) import as a whole.
pub async fn undo(store: &Store, actor: &Actor, id: i64) -> Result<Batch> {
    let b = batch(store, actor, id).await?;
    if b.status == "running" {
        // Its process is still writing chunks (or has not been found dead yet).
        return fail(DomainError::conflict("batch", "import_still_running"));
    }
    if b.dry_run || b.status == "undone" || b.status == "checking" {
        return fail(DomainError::conflict("batch", "import_not_undoable"));
    }
    undo_items(store, actor, id).await?;
    let mut tx = store.pool().begin_write().await?;
    tx.execute(
        &Query::update()
            .table(Alias::new("import_batches"))
            .value(Alias::new("status"), "undone")
            .value(Alias::new("undone_at"), plotina_core::value::now())
            .value(Alias::new("undone_by"), actor.user_id)
            .and_where(col("id").eq(id))
            .to_owned(),
    )
    .await?;
    tx.commit().await?;
    batch(store, actor, id).await
}

/// Rows of `table` belonging to `batch` (with `action` when given).
async fn count_of(tx: &mut Tx, table: &str, batch: i64, action: Option<&str>) -> Result<i64> {
    let mut q = Query::select();
    q.expr_as(
        sea_query::Expr::col(Alias::new("id")).count(),
        Alias::new("n"),
    )
    .from(Alias::new(table))
    .and_where(col("batch_id").eq(batch));
    if let Some(a) = action {
        q.and_where(col("action").eq(a));
    }
    Ok(tx
        .fetch_optional(&q)
        .await?
        .map(|r| r.i64("n"))
        .transpose()?
        .flatten()
        .unwrap_or_default())
}

/// Marks the batches left `running` (or `checking`, a dry run) by a process that
/// stopped as `interrupted`: those whose heartbeat (the last committed chunk) is older
/// than `stale_after`. Their counts are those of the committed chunks (`rows_done`,
/// the items and rejects written), and what they wrote can be undone as usual. Called
/// at server start and periodically by the server, and by the CLI before an import.
/// Returns the ids marked.
pub async fn recover_interrupted(store: &Store, stale_after: chrono::Duration) -> Result<Vec<i64>> {
    let now = plotina_core::value::now();
    let mut tx = store.pool().begin_write().await?;
    let q = Query::select()
        .columns(["id", "status", "rows_done", "heartbeat_at"].map(Alias::new))
        .from(Alias::new("import_batches"))
        .and_where(col("status").is_in(["running", "checking"]))
        .order_by(Alias::new("id"), Order::Asc)
        .to_owned();
    let mut marked = Vec::new();
    for r in tx.fetch_all(&q).await? {
        let heartbeat = r.datetime("heartbeat_at")?;
        if heartbeat.is_some_and(|t| now - t < stale_after) {
            continue;
        }
        let id = r.i64("id")?.unwrap_or_default();
        let status = r.text("status")?.unwrap_or_default();
        let done = r.i64("rows_done")?.unwrap_or_default();
        let created = count_of(&mut tx, "import_items", id, Some("created")).await?;
        let updated = count_of(&mut tx, "import_items", id, Some("updated")).await?;
        let rejected = count_of(&mut tx, "import_rejects", id, None).await?;
        let skipped = (done - created - updated - rejected).max(0);
        tx.execute(
            &Query::update()
                .table(Alias::new("import_batches"))
                .value(Alias::new("status"), "interrupted")
                .value(Alias::new("rows_created"), created)
                .value(Alias::new("rows_updated"), updated)
                .value(Alias::new("rows_skipped"), skipped)
                .value(Alias::new("rows_rejected"), rejected)
                .value(Alias::new("finished_at"), now)
                .and_where(col("id").eq(id))
                .and_where(col("status").eq(status))
                .to_owned(),
        )
        .await?;
        marked.push(id);
    }
    tx.commit().await?;
    Ok(marked)
}

/// The rejected rows of a batch: (row, cells, problems), in row order.
pub async fn rejects(
    store: &Store,
    actor: &Actor,
    id: i64,
    after_row: i64,
    limit: u64,
) -> Result<Vec<(i64, Vec<String>, Vec<Json>)>> {
    batch(store, actor, id).await?;
    let mut tx = store.pool().begin().await?;
    let q = Query::select()
        .columns(["row_no", "cells", "problems"].map(Alias::new))
        .from(Alias::new("import_rejects"))
        .and_where(col("batch_id").eq(id))
        .and_where(col("row_no").gt(after_row))
        .order_by(Alias::new("row_no"), Order::Asc)
        .limit(limit)
        .to_owned();
    let mut out = Vec::new();
    for r in tx.fetch_all(&q).await? {
        let cells: Vec<String> = r
            .json("cells")?
            .and_then(|j| serde_json::from_value(j).ok())
            .unwrap_or_default();
        let problems = match r.json("problems")? {
            Some(Json::Array(a)) => a,
            _ => Vec::new(),
        };
        out.push((r.i64("row_no")?.unwrap_or_default(), cells, problems));
    }
    tx.commit().await?;
    Ok(out)
}

/// The header of a batch's file, as mapped.
pub async fn batch_mapping(store: &Store, id: i64) -> Result<Vec<ColumnMap>> {
    let mut tx = store.pool().begin().await?;
    let q = Query::select()
        .column(Alias::new("mapping"))
        .from(Alias::new("import_batches"))
        .and_where(col("id").eq(id))
        .to_owned();
    let m = tx
        .fetch_optional(&q)
        .await?
        .and_then(|r| r.json("mapping").ok().flatten())
        .and_then(|j| serde_json::from_value(j).ok())
        .unwrap_or_default();
    tx.commit().await?;
    Ok(m)
}

/// Saves (or replaces) a named mapping for an entity.
pub async fn save_mapping(
    store: &Store,
    actor: &Actor,
    entity: Entity,
    name: &str,
    columns: &[ColumnMap],
) -> Result<()> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return fail(DomainError::invalid("name", "required"));
    }
    let customs = store.custom_defs(entity).await?;
    for c in columns {
        if let Some(t) = &c.target {
            if !mapping::valid_target(entity, t, &customs) {
                return fail(DomainError::bad_request("mapping", "import_target_unknown"));
            }
        }
    }
    let mut tx = store.pool().begin_write().await?;
    tx.execute(
        &Query::delete()
            .from_table(Alias::new("import_mappings"))
            .and_where(col("entity").eq(entity.code()))
            .and_where(col("name").eq(name))
            .to_owned(),
    )
    .await?;
    tx.execute(
        &Query::insert()
            .into_table(Alias::new("import_mappings"))
            .columns(["entity", "name", "columns", "created_by", "created_at"].map(Alias::new))
            .values_panic(crate::db::vals([
                entity.code().into(),
                name.into(),
                SqlValue::Json(Some(Box::new(
                    serde_json::to_value(columns).unwrap_or(Json::Null),
                ))),
                actor.user_id.into(),
                plotina_core::value::now().into(),
            ]))
            .to_owned(),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A named mapping, if saved.
pub async fn load_mapping(
    store: &Store,
    entity: Entity,
    name: &str,
) -> Result<Option<Vec<ColumnMap>>> {
    let mut tx = store.pool().begin().await?;
    let q = Query::select()
        .column(Alias::new("columns"))
        .from(Alias::new("import_mappings"))
        .and_where(col("entity").eq(entity.code()))
        .and_where(col("name").eq(name.trim()))
        .to_owned();
    let m = tx
        .fetch_optional(&q)
        .await?
        .and_then(|r| r.json("columns").ok().flatten())
        .and_then(|j| serde_json::from_value(j).ok());
    tx.commit().await?;
    Ok(m)
}
