//! Entity rules that need the database: links must exist and be visible, deals follow
//! their pipeline, leads and activities keep their derived fields consistent.

use std::collections::BTreeMap;

use plotina_core::error::{DomainError, FieldError};
use plotina_core::pipeline::{PipelineRules, StageInfo, StageKind};
use plotina_core::policy::{Action, Actor, Permissions};
use plotina_core::record::{valid_custom_key, Changes, CustomFieldDef};
use plotina_core::schema::{Entity, FieldKind};
use plotina_core::value::{referenced_ids, Value};
use sea_query::{Alias, Order, Query};
use serde_json::Value as Json;

use crate::db::Tx;
use crate::error::{fail, Result};
use crate::filter_sql::col;
use crate::rows::Record;
use crate::scope::visible;

/// What a write did besides changing columns, to be recorded after the row is written.
#[derive(Debug, Default)]
pub struct Effects {
    pub stage_change: Option<StageMove>,
}

#[derive(Debug, Clone)]
pub struct StageMove {
    pub pipeline_id: i64,
    pub from: Option<i64>,
    pub to: i64,
}

fn old_i64(old: Option<&Record>, name: &str) -> Option<i64> {
    old.and_then(|o| o.get(name)).and_then(Json::as_i64)
}

fn old_str<'a>(old: Option<&'a Record>, name: &str) -> Option<&'a str> {
    old.and_then(|o| o.get(name)).and_then(Json::as_str)
}

/// The value a field will have after the write: the change if any, else the old value.
fn merged_i64(changes: &Changes, old: Option<&Record>, name: &str) -> Option<i64> {
    match changes.get(name) {
        Some(v) => v.as_i64(),
        None => old_i64(old, name),
    }
}

pub async fn prepare(
    tx: &mut Tx,
    actor: &Actor,
    entity: Entity,
    customs: &[CustomFieldDef],
    old: Option<&Record>,
    changes: &mut Changes,
) -> Result<Effects> {
    check_links(tx, actor, entity, customs, changes).await?;
    let mut effects = Effects::default();
    match entity {
        Entity::Deal => effects.stage_change = deal(tx, old, changes).await?,
        Entity::Contact => contact(old, changes)?,
        Entity::Lead if !changes.trusted => lead(old, changes)?,
        Entity::Lead => {}
        Entity::Activity => activity(actor, old, changes),
        Entity::Role => role(changes)?,
        Entity::CustomField => custom_field(old, changes)?,
        Entity::Department => department(tx, old, changes).await?,
        Entity::Stage => stage(changes),
        Entity::Pipeline => pipeline(changes)?,
        Entity::User => user(old, changes),
        Entity::Company => {}
    }
    Ok(effects)
}

/// Every link must point at a live record the actor may read: linking a deal to a
/// private company you cannot see fails exactly like linking to a missing one.
///
/// A deal's pipeline and stage are left to the pipeline's rules (`deal`), which read the
/// pipeline's live stages anyway and refuse a stage outside them; every user may read
/// pipelines and stages, so no scope is skipped.
async fn check_links(
    tx: &mut Tx,
    actor: &Actor,
    entity: Entity,
    customs: &[CustomFieldDef],
    changes: &Changes,
) -> Result<()> {
    let mut wanted: Vec<(String, Entity, Vec<i64>)> = Vec::new();
    for (def, v) in &changes.fields {
        if entity == Entity::Deal && matches!(def.name, "pipeline_id" | "stage_id") {
            continue;
        }
        let target = match def.kind {
            FieldKind::Ref(t) | FieldKind::RefList(t) => t,
            FieldKind::CompanyLinks => Entity::Company,
            _ => continue,
        };
        let ids = referenced_ids(def.kind, v);
        if !ids.is_empty() {
            wanted.push((def.name.to_string(), target, ids));
        }
    }
    for (key, v) in &changes.custom {
        if let (Some(def), Some(id)) = (
            customs.iter().find(|d| &d.key == key && d.kind == "link"),
            v.as_i64(),
        ) {
            wanted.push((
                format!("custom.{key}"),
                def.link_entity.unwrap_or(Entity::Company),
                vec![id],
            ));
        }
    }
    let mut errors = Vec::new();
    for (field, target, ids) in wanted {
        let mut q = Query::select();
        q.column(Alias::new("id"))
            .from(Alias::new(target.table()))
            .and_where(col("id").is_in(ids.clone()))
            .and_where(col("deleted_at").is_null());
        if let Some(scope) = visible(actor, target, Action::Read) {
            q.and_where(scope);
        }
        let found = tx.fetch_all(&q).await?.len();
        if found != ids.len() {
            errors.push(FieldError::new(field, "link_not_found"));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        fail(DomainError::Invalid(errors))
    }
}

/// A pipeline's stages and rules, from the pool's settings cache (see `config_cache`).
pub async fn load_pipeline(tx: &mut Tx, pipeline_id: i64) -> Result<Option<PipelineRules>> {
    let rules = crate::config_cache::cached(tx, &format!("pipeline:{pipeline_id}"), move |tx| {
        Box::pin(read_pipeline(tx, pipeline_id))
    })
    .await?;
    Ok(Option::clone(&rules))
}

async fn read_pipeline(tx: &mut Tx, pipeline_id: i64) -> Result<Option<PipelineRules>> {
    let p = tx
        .fetch_optional(
            &Query::select()
                .columns(["id", "forbid_skip", "lost_reasons"].map(Alias::new))
                .from(Alias::new("pipelines"))
                .and_where(col("id").eq(pipeline_id))
                .and_where(col("deleted_at").is_null())
                .to_owned(),
        )
        .await?;
    let Some(p) = p else { return Ok(None) };
    let rows = tx
        .fetch_all(
            &Query::select()
                .columns(
                    [
                        "id",
                        "pipeline_id",
                        "name",
                        "kind",
                        "position",
                        "probability",
                        "rotten_days",
                    ]
                    .map(Alias::new),
                )
                .from(Alias::new("stages"))
                .and_where(col("pipeline_id").eq(pipeline_id))
                .and_where(col("deleted_at").is_null())
                .order_by(Alias::new("position"), Order::Asc)
                .order_by(Alias::new("id"), Order::Asc)
                .to_owned(),
        )
        .await?;
    let mut stages = Vec::with_capacity(rows.len());
    for r in rows {
        stages.push(StageInfo {
            id: r.i64("id")?.unwrap_or_default(),
            pipeline_id,
            name: r.text("name")?.unwrap_or_default(),
            kind: StageKind::parse(&r.text("kind")?.unwrap_or_default()),
            position: r.i64("position")?.unwrap_or_default(),
            probability: r.i64("probability")?.unwrap_or_default(),
            rotten_days: r.i64("rotten_days")?,
        });
    }
    // Open stages first, then the closing ones: the order a deal travels.
    stages.sort_by_key(|s| (s.kind.is_closed(), s.position, s.id));
    let lost_reasons = p
        .json("lost_reasons")?
        .and_then(|j| j.as_array().cloned())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|r| r.as_str().map(String::from))
        .collect();
    Ok(Some(PipelineRules {
        id: pipeline_id,
        forbid_skip: p.bool("forbid_skip")?,
        lost_reasons,
        stages,
    }))
}

async fn deal(
    tx: &mut Tx,
    old: Option<&Record>,
    changes: &mut Changes,
) -> Result<Option<StageMove>> {
    let pipeline_id = merged_i64(changes, old, "pipeline_id").unwrap_or_default();
    let rules = load_pipeline(tx, pipeline_id)
        .await?
        .ok_or_else(|| DomainError::invalid("pipeline_id", "link_not_found"))?;
    let pipeline_changed = old.is_some()
        && changes.get("pipeline_id").is_some()
        && old_i64(old, "pipeline_id") != Some(pipeline_id);
    let old_stage = if pipeline_changed {
        None
    } else {
        old_i64(old, "stage_id")
    };
    let target = match changes.get("stage_id").and_then(Value::as_i64) {
        Some(s) => s,
        None if old_stage.is_some() && changes.get("stage_id").is_none() => {
            old_stage.unwrap_or_default()
        }
        None => rules
            .first_stage()
            .map(|s| s.id)
            .ok_or_else(|| DomainError::invalid("pipeline_id", "pipeline_has_no_stages"))?,
    };
    if let Some(parent) = changes.get("parent_id").and_then(Value::as_i64) {
        check_parent_chain(tx, old_i64(old, "id"), parent).await?;
    }
    if old_stage == Some(target) && !pipeline_changed {
        return Ok(None);
    }
    let lost_reason = match changes.get("lost_reason") {
        Some(v) => v.as_str().map(String::from),
        None => old_str(old, "lost_reason").map(String::from),
    };
    let from = if pipeline_changed { None } else { old_stage };
    let stage = rules
        .check_move(
            if old.is_none() || pipeline_changed {
                None
            } else {
                from
            },
            target,
            lost_reason.as_deref(),
        )
        .map_err(|e| match e.code {
            "stage_skip_forbidden" => DomainError::Conflict(e),
            _ => DomainError::Invalid(vec![e]),
        })?
        .clone();
    let now = plotina_core::value::now();
    changes.set(Entity::Deal, "stage_id", Value::Int(stage.id));
    if changes.get("probability").is_none() {
        changes.set(Entity::Deal, "probability", Value::Int(stage.probability));
    }
    changes.set(Entity::Deal, "stage_changed_at", Value::DateTime(now));
    let closed = if stage.kind.is_closed() {
        Value::DateTime(now)
    } else {
        Value::Null
    };
    changes.set(Entity::Deal, "closed_at", closed);
    if stage.kind != StageKind::Lost
        && changes.get("lost_reason").is_none()
        && old_str(old, "lost_reason").is_some()
    {
        // A reopened or won deal no longer has a loss to explain; history keeps the old one.
        changes.set(Entity::Deal, "lost_reason", Value::Null);
    }
    Ok(Some(StageMove {
        pipeline_id,
        from,
        to: stage.id,
    }))
}

/// A deal cannot be its own ancestor.
async fn check_parent_chain(tx: &mut Tx, id: Option<i64>, parent: i64) -> Result<()> {
    let mut current = Some(parent);
    for _ in 0..32 {
        let Some(p) = current else { return Ok(()) };
        if Some(p) == id {
            return fail(DomainError::conflict("parent_id", "parent_cycle"));
        }
        let row = tx
            .fetch_optional(
                &Query::select()
                    .column(Alias::new("parent_id"))
                    .from(Alias::new("deals"))
                    .and_where(col("id").eq(p))
                    .to_owned(),
            )
            .await?;
        current = row.and_then(|r| r.i64("parent_id").ok().flatten());
    }
    fail(DomainError::conflict("parent_id", "parent_cycle"))
}

fn contact(old: Option<&Record>, changes: &mut Changes) -> Result<()> {
    let part = |name: &str| -> String {
        match changes.get(name) {
            Some(v) => v.as_str().unwrap_or("").to_string(),
            None => old_str(old, name).unwrap_or("").to_string(),
        }
    };
    let full = [part("last_name"), part("first_name"), part("middle_name")]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if full.is_empty() {
        return fail(DomainError::Invalid(vec![
            FieldError::new("last_name", "contact_name_required"),
            FieldError::new("first_name", "contact_name_required"),
        ]));
    }
    changes.set(Entity::Contact, "full_name", Value::Text(full));
    Ok(())
}

fn lead(old: Option<&Record>, changes: &mut Changes) -> Result<()> {
    let status = match changes.get("status") {
        Some(Value::Text(s)) => Some(s.clone()),
        Some(_) => None,
        None => old_str(old, "status").map(String::from),
    };
    if changes
        .get("status")
        .is_some_and(|s| s.as_str() == Some("converted"))
        && old_str(old, "status") != Some("converted")
    {
        return fail(DomainError::conflict(
            "status",
            "lead_convert_via_conversion",
        ));
    }
    if old_str(old, "status") == Some("converted")
        && changes
            .get("status")
            .is_some_and(|s| s.as_str() != Some("converted"))
    {
        return fail(DomainError::conflict("status", "lead_already_converted"));
    }
    let status = status.unwrap_or_else(|| "new".into());
    if old.is_none() || changes.get("status").is_some() {
        changes.set(Entity::Lead, "status", Value::Text(status.clone()));
    }
    if status == "junk" {
        let reason = match changes.get("junk_reason") {
            Some(v) => v.as_str().map(String::from),
            None => old_str(old, "junk_reason").map(String::from),
        };
        if reason.is_none() {
            return fail(DomainError::invalid("junk_reason", "junk_reason_required"));
        }
    }
    if old.is_none() && changes.get("source").is_none() {
        changes.set(Entity::Lead, "source", Value::Text("manual".into()));
    }
    Ok(())
}

fn activity(actor: &Actor, old: Option<&Record>, changes: &mut Changes) {
    if old.is_none() && changes.get("assignee_id").is_none_or(Value::is_null) {
        let owner = changes
            .get("owner_id")
            .and_then(Value::as_i64)
            .unwrap_or(actor.user_id);
        changes.set(Entity::Activity, "assignee_id", Value::Int(owner));
    }
    if let Some(done) = changes.get("done").and_then(Value::as_bool) {
        let was = old
            .and_then(|o| o.get("done"))
            .and_then(Json::as_bool)
            .unwrap_or(false);
        if done && !was {
            changes.set(
                Entity::Activity,
                "done_at",
                Value::DateTime(plotina_core::value::now()),
            );
        } else if !done {
            changes.set(Entity::Activity, "done_at", Value::Null);
        }
    }
}

fn role(changes: &mut Changes) -> Result<()> {
    if let Some(Value::Json(p)) = changes.get("permissions") {
        let perms = Permissions::from_json(p).map_err(|e| DomainError::Invalid(vec![e]))?;
        let normalized = serde_json::to_value(perms).unwrap_or_default();
        changes.set(Entity::Role, "permissions", Value::Json(normalized));
    }
    Ok(())
}

fn custom_field(old: Option<&Record>, changes: &mut Changes) -> Result<()> {
    if old.is_none() {
        let key = changes.get("key").and_then(Value::as_str).unwrap_or("");
        if !valid_custom_key(key) {
            return fail(DomainError::invalid("key", "custom_key_invalid"));
        }
    }
    let kind = changes
        .get("kind")
        .and_then(Value::as_str)
        .or_else(|| old_str(old, "kind"))
        .unwrap_or("")
        .to_string();
    let options = match changes.get("options") {
        Some(Value::Json(j)) => Some(j.clone()),
        Some(_) => Some(Json::Array(vec![])),
        None => old.and_then(|o| o.get("options")).cloned(),
    };
    let list: Vec<Json> = options
        .as_ref()
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default();
    if options.as_ref().is_some_and(|o| !o.is_array()) || list.iter().any(|o| !o.is_string()) {
        return fail(DomainError::invalid("options", "options_invalid"));
    }
    if matches!(kind.as_str(), "select" | "multi_select") && list.is_empty() {
        return fail(DomainError::invalid("options", "options_required"));
    }
    if kind == "link"
        && changes.get("link_entity").is_none()
        && old_str(old, "link_entity").is_none()
    {
        changes.set(
            Entity::CustomField,
            "link_entity",
            Value::Text("company".into()),
        );
    }
    Ok(())
}

async fn department(tx: &mut Tx, old: Option<&Record>, changes: &Changes) -> Result<()> {
    let Some(parent) = changes.get("parent_id").and_then(Value::as_i64) else {
        return Ok(());
    };
    let id = old_i64(old, "id");
    let mut current = Some(parent);
    for _ in 0..64 {
        let Some(p) = current else { return Ok(()) };
        if Some(p) == id {
            return fail(DomainError::conflict("parent_id", "parent_cycle"));
        }
        let row = tx
            .fetch_optional(
                &Query::select()
                    .column(Alias::new("parent_id"))
                    .from(Alias::new("departments"))
                    .and_where(col("id").eq(p))
                    .to_owned(),
            )
            .await?;
        current = row.and_then(|r| r.i64("parent_id").ok().flatten());
    }
    fail(DomainError::conflict("parent_id", "parent_cycle"))
}

fn stage(changes: &mut Changes) {
    if changes.get("kind").is_none_or(Value::is_null) && changes.get("name").is_some() {
        changes.set(Entity::Stage, "kind", Value::Text("open".into()));
    }
}

fn pipeline(changes: &mut Changes) -> Result<()> {
    if let Some(Value::Json(j)) = changes.get("lost_reasons") {
        let ok = j.as_array().is_some_and(|a| {
            a.iter().all(|r| {
                r.as_str()
                    .is_some_and(|s| !s.trim().is_empty() && s.len() <= 255)
            })
        });
        if !ok {
            return fail(DomainError::invalid("lost_reasons", "lost_reasons_invalid"));
        }
    }
    Ok(())
}

fn user(old: Option<&Record>, changes: &mut Changes) {
    if old.is_none() && changes.get("active").is_none() {
        changes.set(Entity::User, "active", Value::Bool(true));
    }
    // A user always has a language and a time zone: missing on create, or cleared later,
    // means the default.
    for (name, default) in [("language", "ru"), ("time_zone", "Europe/Moscow")] {
        let cleared = changes.get(name).is_some_and(Value::is_null);
        if cleared || (old.is_none() && changes.get(name).is_none()) {
            changes.set(Entity::User, name, Value::Text(default.into()));
        }
    }
}

/// Deletes that would orphan other records are refused with the reason.
pub async fn check_delete(tx: &mut Tx, entity: Entity, id: i64) -> Result<()> {
    let uses: &[(&str, &str, &'static str)] = match entity {
        Entity::Stage => &[("deals", "stage_id", "stage_in_use")],
        Entity::Pipeline => &[("deals", "pipeline_id", "pipeline_in_use")],
        Entity::Role => &[("users", "role_id", "role_in_use")],
        Entity::Department => &[
            ("users", "department_id", "department_in_use"),
            ("departments", "parent_id", "department_in_use"),
        ],
        Entity::User => return fail(DomainError::conflict("active", "user_deactivate_instead")),
        _ => &[],
    };
    for (table, column, code) in uses {
        let q = Query::select()
            .column(Alias::new("id"))
            .from(Alias::new(*table))
            .and_where(col(column).eq(id))
            .and_where(col("deleted_at").is_null())
            .limit(1)
            .to_owned();
        if tx.fetch_optional(&q).await?.is_some() {
            return fail(DomainError::conflict("id", code));
        }
    }
    Ok(())
}

/// Custom-field definitions from their table, grouped by entity.
pub async fn load_custom_defs(tx: &mut Tx) -> Result<BTreeMap<Entity, Vec<CustomFieldDef>>> {
    let rows = tx
        .fetch_all(
            &Query::select()
                .columns(
                    [
                        "id",
                        "entity",
                        "key",
                        "label",
                        "label_en",
                        "kind",
                        "options",
                        "link_entity",
                        "required",
                        "hidden",
                        "position",
                    ]
                    .map(Alias::new),
                )
                .from(Alias::new("custom_fields"))
                .and_where(col("deleted_at").is_null())
                .order_by(Alias::new("position"), Order::Asc)
                .order_by(Alias::new("id"), Order::Asc)
                .to_owned(),
        )
        .await?;
    let mut map: BTreeMap<Entity, Vec<CustomFieldDef>> = BTreeMap::new();
    for r in rows {
        let Some(entity) = Entity::from_code(&r.text("entity")?.unwrap_or_default()) else {
            continue;
        };
        map.entry(entity).or_default().push(CustomFieldDef {
            id: r.i64("id")?.unwrap_or_default(),
            entity,
            key: r.text("key")?.unwrap_or_default(),
            label: r.text("label")?.unwrap_or_default(),
            label_en: r.text("label_en")?,
            kind: r.text("kind")?.unwrap_or_default(),
            options: r
                .json("options")?
                .and_then(|o| o.as_array().cloned())
                .unwrap_or_default()
                .into_iter()
                .filter_map(|o| o.as_str().map(String::from))
                .collect(),
            link_entity: r.text("link_entity")?.and_then(|e| Entity::from_code(&e)),
            required: r.bool("required")?,
            hidden: r.bool("hidden")?,
            position: r.i64("position")?.unwrap_or_default(),
        });
    }
    Ok(map)
}
