//! Bulk edit of a whole filtered set (not just a page): set fields, assign an owner or
//! add a tag on every record the filter matches, in one transaction, through the record
//! engine (one history entry per changed record, rules and lookups as for a single
//! edit). Records the actor may read but not edit are skipped and counted.

use std::collections::BTreeSet;

use plotina_core::error::DomainError;
use plotina_core::policy::{Action, Actor};
use plotina_core::record::{parse_input, Mode};
use plotina_core::schema::Entity;
use sea_query::{Alias, Order, Query};
use serde::Serialize;
use serde_json::{Map, Value as Json};

use crate::db::Tx;
use crate::error::{fail, Result};
use crate::listing::{ListParams, QueryCtx};
use crate::records;
use crate::Store;

/// At most this many records per bulk edit; a larger set must be narrowed. The edit is
/// one write transaction, and on SQLite it holds the write lock: a thousand records keep
/// that under a second or two, so other users' saves wait rather than time out.
pub const MAX_BULK: u64 = 1_000;

#[derive(Debug, Clone)]
pub enum BulkOp {
    /// Field values as in a PATCH body (`{"owner_id": 5}` assigns an owner).
    Set(Map<String, Json>),
    AddTag(String),
}

#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct BulkCounts {
    pub matched: u64,
    pub changed: u64,
    pub unchanged: u64,
    pub skipped_forbidden: u64,
}

async fn ids(
    tx: &mut Tx,
    ctx: &QueryCtx<'_>,
    entity: Entity,
    action: Action,
    params: &ListParams,
) -> Result<Vec<i64>> {
    let cond = ctx.conditions(entity, action, params)?;
    let q = Query::select()
        .column(Alias::new("id"))
        .from(Alias::new(entity.table()))
        .cond_where(cond)
        .order_by(Alias::new("id"), Order::Asc)
        .limit(MAX_BULK + 1)
        .to_owned();
    let mut out = Vec::new();
    for row in tx.fetch_all(&q).await? {
        out.push(row.i64("id")?.unwrap_or_default());
    }
    Ok(out)
}

async fn bulk_in(
    tx: &mut Tx,
    ctx: &QueryCtx<'_>,
    entity: Entity,
    params: &ListParams,
    op: &BulkOp,
) -> Result<BulkCounts> {
    let actor = ctx.actor;
    if !entity.is_business() || !actor.can(entity, Action::Edit) {
        return fail(DomainError::Forbidden("forbidden_action"));
    }
    let matched = ids(tx, ctx, entity, Action::Read, params).await?;
    if matched.len() as u64 > MAX_BULK {
        return fail(DomainError::bad_request("filter", "bulk_too_many"));
    }
    let editable: BTreeSet<i64> = ids(tx, ctx, entity, Action::Edit, params)
        .await?
        .into_iter()
        .collect();
    let customs = (ctx.custom)(entity);
    let mut counts = BulkCounts {
        matched: matched.len() as u64,
        ..Default::default()
    };
    for id in matched {
        if !editable.contains(&id) {
            counts.skipped_forbidden += 1;
            continue;
        }
        let old = records::fetch_unscoped(tx, entity, id).await?;
        let body = match op {
            BulkOp::Set(m) => m.clone(),
            BulkOp::AddTag(tag) => {
                let mut tags: Vec<Json> = old
                    .get("tags")
                    .and_then(Json::as_array)
                    .cloned()
                    .unwrap_or_default();
                if tags.iter().any(|t| {
                    t.as_str()
                        .is_some_and(|t| t.to_lowercase() == tag.to_lowercase())
                }) {
                    counts.unchanged += 1;
                    continue;
                }
                tags.push(Json::String(tag.clone()));
                let mut m = Map::new();
                m.insert("tags".into(), Json::Array(tags));
                m
            }
        };
        let mut changes =
            parse_input(entity, &customs, &body, Mode::Update).map_err(DomainError::Invalid)?;
        // Values a record already has are not writes: no new version for them.
        changes
            .fields
            .retain(|(f, v)| old.get(f.name) != Some(&v.to_json()));
        let old_custom = old.get("custom").cloned().unwrap_or(Json::Null);
        changes
            .custom
            .retain(|k, v| old_custom.get(k).unwrap_or(&Json::Null) != v);
        let new = records::apply(tx, actor, entity, &customs, &old, changes).await?;
        if new.get("version") == old.get("version") {
            counts.unchanged += 1;
        } else {
            counts.changed += 1;
        }
    }
    Ok(counts)
}

impl Store {
    /// Applies one operation to every record the filter (and search) matches. One
    /// transaction: a record that fails validation fails the whole edit.
    pub async fn bulk_edit(
        &self,
        actor: &Actor,
        entity: Entity,
        params: &ListParams,
        op: &BulkOp,
    ) -> Result<BulkCounts> {
        let customs = self.custom_lookup().await?;
        let ctx = QueryCtx {
            backend: self.backend(),
            actor,
            custom: &customs,
        };
        let mut tx = self.pool().begin_write().await?;
        let out = bulk_in(&mut tx, &ctx, entity, params, op).await?;
        tx.commit().await?;
        Ok(out)
    }
}
