//! The generic record engine: create, read, update, delete and restore any entity, with
//! permissions, optimistic locking, history, lookups and entity rules, each request in
//! one transaction.

use plotina_core::error::DomainError;
use plotina_core::policy::{Action, Actor};
use plotina_core::record::{parse_input, Changes, CustomFieldDef, Mode};
use plotina_core::schema::Entity;
use plotina_core::value::Value;
use sea_query::{Alias, Expr as SqlExpr, Query, Value as SqlValue};
use serde_json::{Map, Value as Json};
use sha2::{Digest, Sha256};

use crate::automation::engine as automation;
use crate::db::Tx;
use crate::error::{fail, Result};
use crate::filter_sql::col;
use crate::listing::{ListParams, QueryCtx};
use crate::rows::{record_from_row, sql_value, Record};
use crate::rules::{self, Effects};
use crate::{history, lookup, search};

/// A client's retry key for a create.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    pub key: String,
    pub body: Json,
}

impl IdempotencyKey {
    fn request_hash(&self, entity: Entity) -> String {
        let mut h = Sha256::new();
        h.update(entity.code().as_bytes());
        h.update(self.body.to_string().as_bytes());
        hex::encode(h.finalize())
    }
}

/// Reads one record as the actor may see it for the given action.
pub async fn fetch(
    tx: &mut Tx,
    ctx: &QueryCtx<'_>,
    entity: Entity,
    id: i64,
    action: Action,
    trash: bool,
) -> Result<Option<Record>> {
    let params = ListParams {
        trash,
        ..Default::default()
    };
    let cond = ctx
        .conditions(entity, action, &params)?
        .add(col("id").eq(id));
    let q = ctx.select(entity, cond);
    Ok(match tx.fetch_optional(&q).await? {
        Some(row) => Some(record_from_row(entity, &row)?),
        None => None,
    })
}

/// The columns a record is read from: its fields, the id, and the custom values.
fn record_columns(entity: Entity) -> Vec<Alias> {
    let mut cols: Vec<Alias> = entity.fields().map(|f| Alias::new(f.name)).collect();
    if !entity.fields().any(|f| f.name == "id") {
        cols.push(Alias::new("id"));
    }
    if entity.is_business() {
        cols.push(Alias::new("custom"));
    }
    cols
}

/// Reads a record with no permission check (after a write, inside its transaction).
pub async fn fetch_unscoped(tx: &mut Tx, entity: Entity, id: i64) -> Result<Record> {
    let mut q = Query::select();
    q.from(Alias::new(entity.table()))
        .columns(record_columns(entity))
        .and_where(col("id").eq(id));
    let row = tx.fetch_optional(&q).await?.ok_or(DomainError::NotFound)?;
    Ok(record_from_row(entity, &row)?)
}

/// 404 when the record is not visible, 403 when visible but the action is not allowed.
///
/// One statement: the record is read within the read scope, and whether the action's
/// scope also holds comes back as a column of the same row. A record deleted meanwhile
/// is missing from both at once (404), never "visible but forbidden".
pub async fn fetch_for(
    tx: &mut Tx,
    ctx: &QueryCtx<'_>,
    entity: Entity,
    id: i64,
    action: Action,
    trash: bool,
) -> Result<Record> {
    let params = ListParams {
        trash,
        ..Default::default()
    };
    let cond = ctx
        .conditions(entity, Action::Read, &params)?
        .add(col("id").eq(id));
    let mut q = ctx.select(entity, cond);
    let action_scope = match action {
        Action::Read => None,
        _ => crate::scope::visible(ctx.actor, entity, action),
    };
    if let Some(scope) = &action_scope {
        // A boolean column; NULL (an empty owner) counts as false, as in a WHERE.
        q.expr_as(scope.clone(), Alias::new("action_allowed"));
    }
    let row = tx.fetch_optional(&q).await?.ok_or(DomainError::NotFound)?;
    if action_scope.is_some() && !row.bool("action_allowed")? {
        return fail(DomainError::Forbidden("forbidden_action"));
    }
    Ok(record_from_row(entity, &row)?)
}

fn changes_to_json(changes: &Changes) -> Map<String, Json> {
    changes
        .fields
        .iter()
        .map(|(f, v)| (f.name.to_string(), v.to_json()))
        .collect()
}

/// The record as it will be after the write, for derived columns.
fn merged(old: Option<&Record>, changes: &Changes) -> Record {
    let mut rec = old.cloned().unwrap_or_default();
    for (k, v) in changes_to_json(changes) {
        rec.insert(k, v);
    }
    rec
}

fn merged_custom(old: Option<&Record>, changes: &Changes) -> Json {
    let mut custom = old
        .and_then(|o| o.get("custom"))
        .and_then(Json::as_object)
        .cloned()
        .unwrap_or_default();
    for (k, v) in &changes.custom {
        if v.is_null() {
            custom.remove(k);
        } else {
            custom.insert(k.clone(), v.clone());
        }
    }
    Json::Object(custom)
}

/// Column values of a write: the changed fields plus derived and audit columns.
fn column_values(
    entity: Entity,
    old: Option<&Record>,
    changes: &Changes,
    actor: &Actor,
) -> Vec<(String, SqlValue)> {
    let now = plotina_core::value::now();
    let mut cols: Vec<(String, SqlValue)> = changes
        .fields
        .iter()
        .map(|(f, v)| (f.name.to_string(), sql_value(f.kind, v)))
        .collect();
    cols.push(("updated_at".into(), now.into()));
    cols.push(("updated_by".into(), actor.user_id.into()));
    if entity.is_business() && (old.is_none() || !changes.custom.is_empty()) {
        cols.push((
            "custom".into(),
            SqlValue::Json(Some(Box::new(merged_custom(old, changes)))),
        ));
    }
    if entity.has_search_text() {
        let rec = merged(old, changes);
        cols.push((
            "search_text".into(),
            search::record_search_text(entity, &rec).into(),
        ));
    }
    if old.is_none() {
        cols.push(("created_at".into(), now.into()));
        cols.push(("created_by".into(), actor.user_id.into()));
        cols.push(("version".into(), 1i64.into()));
        if changes.get("owner_id").is_none_or(Value::is_null) {
            cols.retain(|(c, _)| c != "owner_id");
            cols.push(("owner_id".into(), actor.user_id.into()));
        }
    }
    cols
}

async fn record_stage_move(
    tx: &mut Tx,
    deal_id: i64,
    mv: &rules::StageMove,
    old: Option<&Record>,
    by: i64,
) -> Result<()> {
    let now = plotina_core::value::now();
    let since = old
        .and_then(|o| o.get("stage_changed_at").or_else(|| o.get("created_at")))
        .and_then(Json::as_str)
        .and_then(|s| plotina_core::value::parse_datetime(s).ok());
    let seconds = since.map(|s| (now - s).num_seconds().max(0));
    let mut insert = Query::insert();
    insert
        .into_table(Alias::new("stage_changes"))
        .columns(
            [
                "deal_id",
                "pipeline_id",
                "from_stage_id",
                "to_stage_id",
                "changed_at",
                "changed_by",
                "seconds_in_previous",
            ]
            .map(Alias::new),
        )
        .values_panic(crate::db::vals([
            deal_id.into(),
            mv.pipeline_id.into(),
            mv.from.into(),
            mv.to.into(),
            now.into(),
            by.into(),
            seconds.into(),
        ]));
    tx.execute(&insert).await?;
    Ok(())
}

/// A create checked by the entity rules, with its column values: ready to be written.
pub struct PreparedInsert {
    cols: Vec<(String, SqlValue)>,
    effects: Effects,
    preview: Record,
}

impl PreparedInsert {
    /// The written fields as they will read back (without database defaults).
    pub fn preview(&self) -> &Record {
        &self.preview
    }
}

/// Runs the entity rules on a create and computes its columns (no write yet).
pub async fn prepare_insert(
    tx: &mut Tx,
    actor: &Actor,
    entity: Entity,
    customs: &[CustomFieldDef],
    mut changes: Changes,
) -> Result<PreparedInsert> {
    let effects: Effects = rules::prepare(tx, actor, entity, customs, None, &mut changes).await?;
    let cols = column_values(entity, None, &changes, actor);
    let preview = merged(None, &changes);
    Ok(PreparedInsert {
        cols,
        effects,
        preview,
    })
}

/// Writes a new record from already-parsed changes (shared by create, conversion, import).
pub async fn insert(
    tx: &mut Tx,
    actor: &Actor,
    entity: Entity,
    customs: &[CustomFieldDef],
    changes: Changes,
) -> Result<Record> {
    let p = prepare_insert(tx, actor, entity, customs, changes).await?;
    let mut q = Query::insert();
    q.into_table(Alias::new(entity.table()))
        .columns(p.cols.iter().map(|(c, _)| Alias::new(c)))
        .values_panic(p.cols.into_iter().map(|(_, v)| SqlExpr::val(v).into()));
    let id = tx.insert_id(&mut q).await?;
    let rec = fetch_unscoped(tx, entity, id).await?;
    lookup::refresh(tx, entity, id, &rec, None).await?;
    crate::duplicates::refresh_keys(tx, entity, id, &rec).await?;
    history::write(
        tx,
        entity,
        id,
        "create",
        &history::diff(None, &rec),
        plotina_core::value::now(),
        actor.user_id,
    )
    .await?;
    after_insert(tx, actor, entity, &p.effects, &rec, true).await?;
    Ok(rec)
}

/// What follows a new record's rows: the stage move of a deal, notebook items and
/// automation (skipped when `automation` is false: the caller knows it can do nothing).
async fn after_insert(
    tx: &mut Tx,
    actor: &Actor,
    entity: Entity,
    effects: &Effects,
    rec: &Record,
    automation: bool,
) -> Result<()> {
    let id = rec.get("id").and_then(Json::as_i64).unwrap_or_default();
    if let Some(mv) = &effects.stage_change {
        record_stage_move(tx, id, mv, Some(rec), actor.user_id).await?;
    }
    if crate::notebook::acts_on_create(actor.user_id, entity, rec) {
        crate::notebook::on_record_written(tx, actor.user_id, entity, None, rec).await?;
    }
    if automation {
        let change = automation::Change::created(entity, rec, effects.stage_change.as_ref());
        automation::on_change(tx, actor, change).await?;
    }
    Ok(())
}

/// Rows per multi-row INSERT of records (cut further by `db::statement_sizes`).
const RECORDS_PER_INSERT: usize = 512;

/// Writes many prepared creates at once (the import's bulk path) and returns the new
/// records in the order given. Every record gets exactly the rows [`insert`] writes:
/// the record (multi-row `INSERT ... RETURNING` of every column, which is the read-back
/// [`insert`] does with a SELECT; runs of creates with the same columns go in one
/// statement, in order, so ids ascend as with one insert after the other), then
/// lookups, duplicate keys and history in multi-row INSERTs, then the per-record stage
/// move, notebook items and automation. `automation` false skips
/// `automation::on_change` (see `automation::engine::may_act`); notebook calls are made
/// only for records `notebook::acts_on_create` says they could concern. Statements come
/// in the few row counts of `db::statement_sizes`, so their prepared forms are reused.
pub async fn insert_many(
    tx: &mut Tx,
    actor: &Actor,
    entity: Entity,
    prepared: Vec<PreparedInsert>,
    automation: bool,
) -> Result<Vec<Record>> {
    let mut recs: Vec<Record> = Vec::with_capacity(prepared.len());
    let mut ids: Vec<i64> = Vec::with_capacity(prepared.len());
    let mut start = 0;
    while start < prepared.len() {
        let names: Vec<&str> = prepared[start]
            .cols
            .iter()
            .map(|(c, _)| c.as_str())
            .collect();
        let mut end = start + 1;
        while end < prepared.len()
            && prepared[end]
                .cols
                .iter()
                .map(|(c, _)| c.as_str())
                .eq(names.iter().copied())
        {
            end += 1;
        }
        let per = (30_000 / names.len().max(1)).clamp(1, RECORDS_PER_INSERT);
        for size in crate::db::statement_sizes(end - start, per) {
            let mut q = Query::insert();
            q.into_table(Alias::new(entity.table()))
                .columns(names.iter().map(|c| Alias::new(*c)));
            for p in &prepared[start..start + size] {
                q.values_panic(p.cols.iter().map(|(_, v)| SqlExpr::val(v.clone()).into()));
            }
            q.returning(Query::returning().columns(record_columns(entity)));
            let mut new: Vec<(i64, Record)> = Vec::with_capacity(size);
            for row in tx.fetch_all(&q).await? {
                new.push((
                    row.i64("id")?.unwrap_or_default(),
                    record_from_row(entity, &row)?,
                ));
            }
            if new.len() != size {
                return Err(anyhow::anyhow!("multi-row insert returned {} rows", new.len()).into());
            }
            // RETURNING order is not promised: ids are handed out in VALUES order.
            new.sort_unstable_by_key(|(id, _)| *id);
            for (id, rec) in new {
                ids.push(id);
                recs.push(rec);
            }
            start += size;
        }
    }
    if recs.len() != ids.len() {
        return fail(DomainError::NotFound);
    }
    // Rows a reused id may have left behind, as `lookup::refresh` and
    // `duplicates::refresh_keys` delete them.
    let mut rest = &ids[..];
    for size in crate::db::statement_sizes(ids.len(), RECORDS_PER_INSERT) {
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        for table in ["record_lookup", "dedup_keys"] {
            tx.execute(
                &Query::delete()
                    .from_table(Alias::new(table))
                    .and_where(col("entity").eq(entity.code()))
                    .and_where(col("record_id").is_in(chunk.iter().copied()))
                    .to_owned(),
            )
            .await?;
        }
    }
    let mut lookups = Vec::new();
    let mut keys = Vec::new();
    let mut diffs = Vec::with_capacity(recs.len());
    for (id, rec) in ids.iter().zip(&recs) {
        lookups.extend(
            lookup::rows(entity, rec, None)
                .into_iter()
                .map(|(field, kind, value)| (*id, field, kind, value)),
        );
        if crate::duplicates::ENTITIES.contains(&entity) {
            keys.extend(
                crate::duplicates::name_keys(entity, rec)
                    .into_iter()
                    .map(|(kind, value)| (*id, kind, value)),
            );
        }
        diffs.push(history::diff(None, rec));
    }
    lookup::insert(tx, entity, lookups).await?;
    crate::duplicates::insert_keys(tx, entity, keys).await?;
    history::write_created(
        tx,
        entity,
        ids.iter().copied().zip(diffs).collect(),
        plotina_core::value::now(),
        actor.user_id,
    )
    .await?;
    for (p, rec) in prepared.iter().zip(&recs) {
        after_insert(tx, actor, entity, &p.effects, rec, automation).await?;
    }
    Ok(recs)
}

pub async fn create(
    tx: &mut Tx,
    ctx: &QueryCtx<'_>,
    entity: Entity,
    body: &Map<String, Json>,
    idempotency: Option<&IdempotencyKey>,
) -> Result<(Record, bool)> {
    let actor = ctx.actor;
    if !actor.can(entity, Action::Create) {
        return fail(DomainError::Forbidden("forbidden_create"));
    }
    if let Some(key) = idempotency {
        let q = Query::select()
            .columns(["request_hash", "entity", "record_id"].map(Alias::new))
            .from(Alias::new("idempotency_keys"))
            .and_where(col("user_id").eq(actor.user_id))
            .and_where(col("key").eq(key.key.clone()))
            .to_owned();
        if let Some(row) = tx.fetch_optional(&q).await? {
            if row.text("request_hash")?.as_deref() != Some(&key.request_hash(entity)) {
                return fail(DomainError::conflict(
                    "Idempotency-Key",
                    "idempotency_key_reused",
                ));
            }
            let id = row.i64("record_id")?.unwrap_or_default();
            let rec = fetch_unscoped(tx, entity, id).await?;
            return Ok((rec, true));
        }
    }
    let customs = (ctx.custom)(entity);
    let changes =
        parse_input(entity, &customs, body, Mode::Create).map_err(DomainError::Invalid)?;
    let rec = insert(tx, actor, entity, &customs, changes).await?;
    if let Some(key) = idempotency {
        let id = rec.get("id").and_then(Json::as_i64).unwrap_or_default();
        let mut q = Query::insert();
        q.into_table(Alias::new("idempotency_keys"))
            .columns(
                [
                    "user_id",
                    "key",
                    "request_hash",
                    "entity",
                    "record_id",
                    "created_at",
                ]
                .map(Alias::new),
            )
            .values_panic(crate::db::vals([
                actor.user_id.into(),
                key.key.clone().into(),
                key.request_hash(entity).into(),
                entity.code().into(),
                id.into(),
                plotina_core::value::now().into(),
            ]));
        tx.execute(&q).await?;
    }
    Ok((rec, false))
}

fn check_version(rec: &Record, expected: Option<i64>) -> Result<i64> {
    let current = rec.get("version").and_then(Json::as_i64).unwrap_or(1);
    match expected {
        Some(v) if v != current => fail(DomainError::Stale { current }),
        _ => Ok(current),
    }
}

/// Applies parsed changes to an existing record (shared by update, conversion, bulk edit).
pub async fn apply(
    tx: &mut Tx,
    actor: &Actor,
    entity: Entity,
    customs: &[CustomFieldDef],
    old: &Record,
    mut changes: Changes,
) -> Result<Record> {
    let id = old.get("id").and_then(Json::as_i64).unwrap_or_default();
    let version = old.get("version").and_then(Json::as_i64).unwrap_or(1);
    let effects = rules::prepare(tx, actor, entity, customs, Some(old), &mut changes).await?;
    if changes.is_empty() && effects.stage_change.is_none() {
        return Ok(old.clone());
    }
    let cols = column_values(entity, Some(old), &changes, actor);
    let mut q = Query::update();
    q.table(Alias::new(entity.table()));
    for (c, v) in cols {
        q.value(Alias::new(c), v);
    }
    q.value(
        Alias::new("version"),
        SqlExpr::col(Alias::new("version")).add(1),
    )
    .and_where(col("id").eq(id))
    .and_where(col("version").eq(version))
    // The record as written comes back with the write (no trigger changes its row).
    .returning(Query::returning().columns(record_columns(entity)));
    let Some(row) = tx.fetch_optional(&q).await? else {
        // Someone else wrote between our read and our write.
        let current = fetch_unscoped(tx, entity, id).await?;
        return fail(DomainError::Stale {
            current: current
                .get("version")
                .and_then(Json::as_i64)
                .unwrap_or(version),
        });
    };
    let rec = record_from_row(entity, &row)?;
    let diff = history::diff(Some(old), &rec);
    if !diff.is_empty() {
        history::write(
            tx,
            entity,
            id,
            "update",
            &diff,
            plotina_core::value::now(),
            actor.user_id,
        )
        .await?;
    }
    let changed_lookups: Vec<&str> = changes
        .fields
        .iter()
        .filter(|(f, _)| f.kind.lookup_kind().is_some())
        .map(|(f, _)| f.name)
        .collect();
    if !changed_lookups.is_empty() {
        lookup::refresh(tx, entity, id, &rec, Some(&changed_lookups)).await?;
    }
    crate::duplicates::refresh_keys_if_changed(tx, entity, id, old, &rec).await?;
    if let Some(mv) = &effects.stage_change {
        record_stage_move(tx, id, mv, Some(old), actor.user_id).await?;
    }
    crate::notebook::on_record_written(tx, actor.user_id, entity, Some(old), &rec).await?;
    let change = automation::Change::updated(entity, old, &rec, effects.stage_change.as_ref());
    automation::on_change(tx, actor, change).await?;
    Ok(rec)
}

pub async fn update(
    tx: &mut Tx,
    ctx: &QueryCtx<'_>,
    entity: Entity,
    id: i64,
    body: &Map<String, Json>,
    if_match: Option<i64>,
) -> Result<Record> {
    let old = fetch_for(tx, ctx, entity, id, Action::Edit, false).await?;
    check_version(&old, if_match)?;
    let customs = (ctx.custom)(entity);
    let changes =
        parse_input(entity, &customs, body, Mode::Update).map_err(DomainError::Invalid)?;
    apply(tx, ctx.actor, entity, &customs, &old, changes).await
}

async fn set_deleted(
    tx: &mut Tx,
    entity: Entity,
    rec: &Record,
    deleted: bool,
    by: i64,
) -> Result<Record> {
    let id = rec.get("id").and_then(Json::as_i64).unwrap_or_default();
    let version = rec.get("version").and_then(Json::as_i64).unwrap_or(1);
    let now = plotina_core::value::now();
    let mut q = Query::update();
    q.table(Alias::new(entity.table()))
        .value(
            Alias::new("deleted_at"),
            if deleted {
                SqlValue::from(now)
            } else {
                SqlValue::ChronoDateTimeUtc(None)
            },
        )
        .value(Alias::new("updated_at"), now)
        .value(Alias::new("updated_by"), by)
        .value(
            Alias::new("version"),
            SqlExpr::col(Alias::new("version")).add(1),
        )
        .and_where(col("id").eq(id))
        .and_where(col("version").eq(version));
    if tx.execute(&q).await? == 0 {
        // Changed since it was read (and checked against If-Match): like `apply`.
        let current = fetch_unscoped(tx, entity, id).await?;
        return fail(DomainError::Stale {
            current: current
                .get("version")
                .and_then(Json::as_i64)
                .unwrap_or(version),
        });
    }
    history::write(
        tx,
        entity,
        id,
        if deleted { "delete" } else { "restore" },
        &[],
        now,
        by,
    )
    .await?;
    let after = fetch_unscoped(tx, entity, id).await?;
    crate::notebook::on_record_written(tx, by, entity, Some(rec), &after).await?;
    Ok(after)
}

pub async fn delete(
    tx: &mut Tx,
    ctx: &QueryCtx<'_>,
    entity: Entity,
    id: i64,
    if_match: Option<i64>,
) -> Result<()> {
    let rec = fetch_for(tx, ctx, entity, id, Action::Delete, false).await?;
    check_version(&rec, if_match)?;
    rules::check_delete(tx, entity, id).await?;
    let after = set_deleted(tx, entity, &rec, true, ctx.actor.user_id).await?;
    // Rules on deletion run in the same transaction (the record is in the trash).
    automation::on_change(
        tx,
        ctx.actor,
        automation::Change::deleted(entity, &rec, &after),
    )
    .await?;
    Ok(())
}

pub async fn restore(tx: &mut Tx, ctx: &QueryCtx<'_>, entity: Entity, id: i64) -> Result<Record> {
    let rec = fetch_for(tx, ctx, entity, id, Action::Delete, true).await?;
    set_deleted(tx, entity, &rec, false, ctx.actor.user_id).await
}

/// Whether the actor may read the record (for attachments and history).
pub async fn readable(tx: &mut Tx, ctx: &QueryCtx<'_>, entity: Entity, id: i64) -> Result<bool> {
    Ok(fetch(tx, ctx, entity, id, Action::Read, false)
        .await?
        .is_some())
}
