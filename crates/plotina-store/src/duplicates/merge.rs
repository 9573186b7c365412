//! Merging duplicates into one survivor, and undoing a merge exactly.
//!
//! A merge, in one transaction: the survivor takes the chosen field values (through the
//! record engine, so history and lookups follow); every link to a victim moves to the
//! survivor — deals, activities, leads, contacts' company links, deals' contact lists
//! (with a history row and a new version on each moved record, trashed ones included),
//! attachments and notebook items; the victims go to the trash (their own history stays
//! with them); the survivor's history gets a `merge` row. The `merges` row keeps every
//! touched record as it was before, so an undo writes those rows back column by column
//! and rebuilds their lookups and keys: the record tables return to exactly their state
//! before the merge. An undo is refused once any touched record changed again.
//! Custom link fields pointing at a victim are not moved.

use std::collections::{BTreeMap, BTreeSet};

use plotina_core::error::DomainError;
use plotina_core::policy::{Action, Actor};
use plotina_core::record::{parse_input, Mode};
use plotina_core::schema::{Entity, FieldKind};
use sea_query::{Alias, Expr, Query};
use serde::Serialize;
use serde_json::{json, Map, Value as Json};

use super::refresh_keys;
use crate::db::Tx;
use crate::error::{fail, Result};
use crate::filter_sql::col;
use crate::listing::QueryCtx;
use crate::records::{self, fetch_unscoped};
use crate::rows::{sql_value_from_json, Record};
use crate::{history, lookup, search, Store};

/// At most this many victims per merge.
pub const MAX_VICTIMS: usize = 20;

#[derive(Debug, Clone)]
pub struct MergeRequest {
    pub entity: Entity,
    pub survivor: i64,
    pub victims: Vec<i64>,
    /// Field → the record (survivor or a victim) whose value the survivor keeps.
    pub take: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MergeOutcome {
    pub merge_id: i64,
    pub survivor: Record,
    /// Moved links by kind (`deal.company_id`, `attachments`, …).
    pub moved: BTreeMap<String, u64>,
}

#[derive(Clone, Copy, PartialEq)]
enum LinkKind {
    /// A single id column.
    Scalar,
    /// `contacts.companies`: `[{company_id, role}]`.
    CompanyLinks,
    /// A JSON list of ids (`deals.contact_ids`).
    IdList,
}

fn links(entity: Entity) -> &'static [(Entity, &'static str, LinkKind)] {
    match entity {
        Entity::Company => &[
            (Entity::Deal, "company_id", LinkKind::Scalar),
            (Entity::Activity, "company_id", LinkKind::Scalar),
            (Entity::Lead, "company_id", LinkKind::Scalar),
            (Entity::Contact, "companies", LinkKind::CompanyLinks),
        ],
        Entity::Contact => &[
            (Entity::Activity, "contact_id", LinkKind::Scalar),
            (Entity::Lead, "contact_id", LinkKind::Scalar),
            (Entity::Deal, "contact_ids", LinkKind::IdList),
        ],
        Entity::Lead => &[
            (Entity::Activity, "lead_id", LinkKind::Scalar),
            (Entity::Deal, "lead_id", LinkKind::Scalar),
        ],
        _ => &[],
    }
}

/// Ids of the records of `table_entity` whose `column` points at one of `victims`
/// (trash included).
async fn linked_ids(
    tx: &mut Tx,
    table_entity: Entity,
    column: &str,
    kind: LinkKind,
    victims: &[i64],
) -> Result<Vec<i64>> {
    let q = match kind {
        LinkKind::Scalar => Query::select()
            .column(Alias::new("id"))
            .from(Alias::new(table_entity.table()))
            .and_where(col(column).is_in(victims.to_vec()))
            .to_owned(),
        // JSON lists are mirrored in `record_lookup` as decimal strings.
        _ => Query::select()
            .distinct()
            .expr_as(Expr::col(Alias::new("record_id")), Alias::new("id"))
            .from(Alias::new("record_lookup"))
            .and_where(col("entity").eq(table_entity.code()))
            .and_where(col("field").eq(column))
            .and_where(col("value").is_in(victims.iter().map(|v| v.to_string())))
            .to_owned(),
    };
    let mut out = Vec::new();
    for row in tx.fetch_all(&q).await? {
        out.push(row.i64("id")?.unwrap_or_default());
    }
    out.sort_unstable();
    Ok(out)
}

/// The link value with every victim replaced by the survivor (no repeats).
fn relinked(kind: LinkKind, v: &Json, victims: &[i64], survivor: i64) -> Json {
    let map = |id: i64| if victims.contains(&id) { survivor } else { id };
    match kind {
        LinkKind::Scalar => json!(v.as_i64().map(map)),
        LinkKind::IdList => {
            let mut seen = BTreeSet::new();
            let ids: Vec<i64> = v
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Json::as_i64)
                .map(map)
                .filter(|id| seen.insert(*id))
                .collect();
            json!(ids)
        }
        LinkKind::CompanyLinks => {
            let mut seen = BTreeSet::new();
            let items: Vec<Json> = v
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|item| {
                    let mut item = item.clone();
                    let id = item.get("company_id").and_then(Json::as_i64)?;
                    let id = map(id);
                    item["company_id"] = json!(id);
                    seen.insert(id).then_some(item)
                })
                .collect();
            json!(items)
        }
    }
}

async fn version_of(tx: &mut Tx, entity: Entity, id: i64) -> Result<i64> {
    Ok(fetch_unscoped(tx, entity, id)
        .await?
        .get("version")
        .and_then(Json::as_i64)
        .unwrap_or(1))
}

/// Moves the rows of a side table (`attachments`, `notebook_items`) from the victims to
/// the survivor; returns `[[row id, old record id], …]`.
async fn move_side(
    tx: &mut Tx,
    table: &str,
    entity: Entity,
    victims: &[i64],
    survivor: i64,
) -> Result<Vec<(i64, i64)>> {
    let rows = tx
        .fetch_all(
            &Query::select()
                .columns(["id", "record_id"].map(Alias::new))
                .from(Alias::new(table))
                .and_where(col("entity").eq(entity.code()))
                .and_where(col("record_id").is_in(victims.to_vec()))
                .to_owned(),
        )
        .await?;
    let mut out = Vec::new();
    for r in rows {
        out.push((
            r.i64("id")?.unwrap_or_default(),
            r.i64("record_id")?.unwrap_or_default(),
        ));
    }
    if !out.is_empty() {
        tx.execute(
            &Query::update()
                .table(Alias::new(table))
                .value(Alias::new("record_id"), survivor)
                .and_where(col("id").is_in(out.iter().map(|(id, _)| *id)))
                .to_owned(),
        )
        .await?;
    }
    Ok(out)
}

async fn merge_in(tx: &mut Tx, ctx: &QueryCtx<'_>, req: &MergeRequest) -> Result<MergeOutcome> {
    let actor = ctx.actor;
    let e = req.entity;
    if !super::ENTITIES.contains(&e) {
        return fail(DomainError::bad_request("entity", "bad_request"));
    }
    let victims: Vec<i64> = {
        let set: BTreeSet<i64> = req.victims.iter().copied().collect();
        set.into_iter().collect()
    };
    if victims.is_empty() || victims.len() > MAX_VICTIMS || victims.len() != req.victims.len() {
        return fail(DomainError::invalid("victims", "merge_victims_invalid"));
    }
    if victims.contains(&req.survivor) {
        return fail(DomainError::invalid("victims", "merge_survivor_is_victim"));
    }
    let survivor = records::fetch_for(tx, ctx, e, req.survivor, Action::Edit, false).await?;
    let mut snapshot: Vec<(Entity, Record)> = vec![(e, survivor.clone())];
    let mut victim_recs = BTreeMap::new();
    for &v in &victims {
        let rec = records::fetch_for(tx, ctx, e, v, Action::Delete, false).await?;
        snapshot.push((e, rec.clone()));
        victim_recs.insert(v, rec);
    }

    // The survivor's chosen values.
    let mut body = Map::new();
    for (field, &from) in &req.take {
        let def = e
            .field(field)
            .filter(|d| {
                !matches!(
                    d.name,
                    "id" | "created_at"
                        | "created_by"
                        | "updated_at"
                        | "updated_by"
                        | "version"
                        | "deleted_at"
                )
            })
            .ok_or_else(|| DomainError::invalid(format!("take.{field}"), "merge_field_invalid"))?;
        let source = if from == req.survivor {
            &survivor
        } else {
            victim_recs.get(&from).ok_or_else(|| {
                DomainError::invalid(format!("take.{field}"), "merge_source_invalid")
            })?
        };
        body.insert(
            def.name.to_string(),
            source.get(def.name).cloned().unwrap_or(Json::Null),
        );
    }
    let customs = (ctx.custom)(e);

    // Links, collected before anything changes.
    let mut moved = BTreeMap::new();
    let mut link_rows: Vec<(Entity, &'static str, LinkKind, Record)> = Vec::new();
    for &(le, column, kind) in links(e) {
        let ids = linked_ids(tx, le, column, kind, &victims).await?;
        moved.insert(format!("{}.{column}", le.code()), ids.len() as u64);
        for id in ids {
            let rec = fetch_unscoped(tx, le, id).await?;
            snapshot.push((le, rec.clone()));
            link_rows.push((le, column, kind, rec));
        }
    }

    if !body.is_empty() {
        let changes =
            parse_input(e, &customs, &body, Mode::Update).map_err(DomainError::Invalid)?;
        records::apply(tx, actor, e, &customs, &survivor, changes).await?;
    }
    let now = plotina_core::value::now();
    for (le, column, kind, old) in &link_rows {
        let id = old.get("id").and_then(Json::as_i64).unwrap_or_default();
        let before = old.get(*column).cloned().unwrap_or(Json::Null);
        let after = relinked(*kind, &before, &victims, req.survivor);
        let fk = le.field(column).map(|f| f.kind).unwrap_or(FieldKind::Json);
        tx.execute(
            &Query::update()
                .table(Alias::new(le.table()))
                .value(Alias::new(*column), sql_value_from_json(fk, &after))
                .value(Alias::new("updated_at"), now)
                .value(Alias::new("updated_by"), actor.user_id)
                .value(
                    Alias::new("version"),
                    Expr::col(Alias::new("version")).add(1),
                )
                .and_where(col("id").eq(id))
                .to_owned(),
        )
        .await?;
        history::write(
            tx,
            *le,
            id,
            "update",
            &[(column.to_string(), before, after)],
            now,
            actor.user_id,
        )
        .await?;
        if fk.lookup_kind().is_some() {
            let rec = fetch_unscoped(tx, *le, id).await?;
            lookup::refresh(tx, *le, id, &rec, Some(&[column])).await?;
        }
    }
    let attachments = move_side(tx, "attachments", e, &victims, req.survivor).await?;
    let notebook = move_side(tx, "notebook_items", e, &victims, req.survivor).await?;
    moved.insert("attachments".into(), attachments.len() as u64);
    moved.insert("notebook_items".into(), notebook.len() as u64);
    for &v in &victims {
        records::delete(tx, ctx, e, v, None).await?;
    }
    history::write(
        tx,
        e,
        req.survivor,
        "merge",
        &[("merged_ids".into(), Json::Null, json!(victims))],
        now,
        actor.user_id,
    )
    .await?;

    let mut after_versions = Map::new();
    for (se, rec) in &snapshot {
        let id = rec.get("id").and_then(Json::as_i64).unwrap_or_default();
        after_versions.insert(
            format!("{}:{id}", se.code()),
            json!(version_of(tx, *se, id).await?),
        );
    }
    let snap_json: Vec<Json> = snapshot
        .iter()
        .map(|(se, rec)| json!({"entity": se.code(), "record": rec}))
        .collect();
    let mut q = Query::insert();
    q.into_table(Alias::new("merges"))
        .columns(
            [
                "entity",
                "survivor_id",
                "victim_ids",
                "snapshot",
                "after_versions",
                "moved",
                "created_at",
                "created_by",
            ]
            .map(Alias::new),
        )
        .values_panic(crate::db::vals([
            e.code().into(),
            req.survivor.into(),
            sea_query::Value::Json(Some(Box::new(json!(victims)))),
            sea_query::Value::Json(Some(Box::new(Json::Array(snap_json)))),
            sea_query::Value::Json(Some(Box::new(Json::Object(after_versions)))),
            sea_query::Value::Json(Some(Box::new(
                json!({"attachments": attachments, "notebook_items": notebook}),
            ))),
            now.into(),
            actor.user_id.into(),
        ]));
    let merge_id = tx.insert_id(&mut q).await?;
    Ok(MergeOutcome {
        merge_id,
        survivor: fetch_unscoped(tx, e, req.survivor).await?,
        moved,
    })
}

/// Writes a record back exactly as it was (every column, `custom`, derived columns,
/// lookups and keys).
async fn write_back(tx: &mut Tx, entity: Entity, rec: &Record) -> Result<()> {
    let id = rec.get("id").and_then(Json::as_i64).unwrap_or_default();
    let mut q = Query::update();
    q.table(Alias::new(entity.table()));
    for f in entity.fields().filter(|f| f.name != "id") {
        q.value(
            Alias::new(f.name),
            sql_value_from_json(f.kind, rec.get(f.name).unwrap_or(&Json::Null)),
        );
    }
    if entity.is_business() {
        q.value(
            Alias::new("custom"),
            sea_query::Value::Json(Some(Box::new(
                rec.get("custom").cloned().unwrap_or_else(|| json!({})),
            ))),
        );
    }
    if entity.has_search_text() {
        q.value(
            Alias::new("search_text"),
            search::record_search_text(entity, rec),
        );
    }
    q.and_where(col("id").eq(id));
    tx.execute(&q).await?;
    lookup::refresh(tx, entity, id, rec, None).await?;
    refresh_keys(tx, entity, id, rec).await?;
    Ok(())
}

async fn undo_in(tx: &mut Tx, ctx: &QueryCtx<'_>, merge_id: i64) -> Result<()> {
    let actor = ctx.actor;
    let row = tx
        .fetch_optional(
            &Query::select()
                .columns(
                    [
                        "entity",
                        "survivor_id",
                        "snapshot",
                        "after_versions",
                        "moved",
                        "undone_at",
                    ]
                    .map(Alias::new),
                )
                .from(Alias::new("merges"))
                .and_where(col("id").eq(merge_id))
                .to_owned(),
        )
        .await?
        .ok_or(DomainError::NotFound)?;
    let e =
        Entity::from_code(&row.text("entity")?.unwrap_or_default()).ok_or(DomainError::NotFound)?;
    let survivor = row.i64("survivor_id")?.unwrap_or_default();
    // Only someone who may edit the survivor and delete records may undo.
    records::fetch_for(tx, ctx, e, survivor, Action::Edit, false).await?;
    if !actor.can(e, Action::Delete) {
        return fail(DomainError::Forbidden("forbidden_action"));
    }
    if row.datetime("undone_at")?.is_some() {
        return fail(DomainError::conflict("id", "merge_already_undone"));
    }
    let after = row.json("after_versions")?.unwrap_or(Json::Null);
    let snapshot = row.json("snapshot")?.unwrap_or(Json::Null);
    let items: Vec<(Entity, Record)> = snapshot
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| {
            Some((
                Entity::from_code(s.get("entity")?.as_str()?)?,
                s.get("record")?.as_object()?.clone(),
            ))
        })
        .collect();
    for (se, rec) in &items {
        let id = rec.get("id").and_then(Json::as_i64).unwrap_or_default();
        let expected = after
            .get(format!("{}:{id}", se.code()))
            .and_then(Json::as_i64);
        if Some(version_of(tx, *se, id).await?) != expected {
            return fail(DomainError::conflict("id", "merge_changed_since"));
        }
    }
    for (se, rec) in &items {
        write_back(tx, *se, rec).await?;
    }
    let moved = row.json("moved")?.unwrap_or(Json::Null);
    for table in ["attachments", "notebook_items"] {
        for pair in moved
            .get(table)
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            let (Some(id), Some(record)) = (
                pair.get(0).and_then(Json::as_i64),
                pair.get(1).and_then(Json::as_i64),
            ) else {
                continue;
            };
            tx.execute(
                &Query::update()
                    .table(Alias::new(table))
                    .value(Alias::new("record_id"), record)
                    .and_where(col("id").eq(id))
                    .to_owned(),
            )
            .await?;
        }
    }
    let now = plotina_core::value::now();
    for (se, rec) in items.iter().filter(|(se, _)| *se == e) {
        let id = rec.get("id").and_then(Json::as_i64).unwrap_or_default();
        history::write(tx, *se, id, "merge_undone", &[], now, actor.user_id).await?;
    }
    tx.execute(
        &Query::update()
            .table(Alias::new("merges"))
            .value(Alias::new("undone_at"), now)
            .value(Alias::new("undone_by"), actor.user_id)
            .and_where(col("id").eq(merge_id))
            .to_owned(),
    )
    .await?;
    Ok(())
}

impl Store {
    /// Merges victims into a survivor (see the module notes). One transaction.
    pub async fn merge_duplicates(
        &self,
        actor: &Actor,
        req: &MergeRequest,
    ) -> Result<MergeOutcome> {
        let customs = self.custom_lookup().await?;
        let ctx = QueryCtx {
            backend: self.backend(),
            actor,
            custom: &customs,
        };
        let mut tx = self.pool().begin_write().await?;
        let out = merge_in(&mut tx, &ctx, req).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// Undoes a merge: every touched record back as it was. One transaction.
    pub async fn undo_merge(&self, actor: &Actor, merge_id: i64) -> Result<()> {
        let customs = self.custom_lookup().await?;
        let ctx = QueryCtx {
            backend: self.backend(),
            actor,
            custom: &customs,
        };
        let mut tx = self.pool().begin_write().await?;
        undo_in(&mut tx, &ctx, merge_id).await?;
        tx.commit().await?;
        Ok(())
    }
}
