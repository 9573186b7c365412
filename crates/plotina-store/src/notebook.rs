//! The notebook: one model for everything a person must react to. Other parts of
//! Plotina (automation, exports, integrations) post items here through [`post_item`]
//! inside their own transaction, so an item exists exactly when the change that caused
//! it was committed.

use chrono::{DateTime, Utc};
use sea_query::{Alias, Query};

use crate::db::Tx;
use crate::error::Result;
use crate::store::Store;

/// Kinds of notebook items. Stored as their code; integrations may post other codes
/// that follow the same `[a-z_]+` shape (see the API documentation).
pub mod kind {
    pub const TASK_DUE: &str = "task_due";
    pub const TASK_ASSIGNED: &str = "task_assigned";
    pub const REMINDER: &str = "reminder";
    pub const LEAD_ASSIGNED: &str = "lead_assigned";
    pub const DEAL_STALE: &str = "deal_stale";
    pub const APPROVAL_REQUESTED: &str = "approval_requested";
    pub const APPROVAL_DECIDED: &str = "approval_decided";
    pub const HANDOVER: &str = "handover";
    pub const SYSTEM: &str = "system";
}

/// A new item for one person.
#[derive(Debug, Clone, Default)]
pub struct NewItem {
    pub kind: String,
    pub owner_id: i64,
    /// The record the item is about (`"deal"`, 42), if any.
    pub record: Option<(String, i64)>,
    pub text: String,
    pub due_at: Option<DateTime<Utc>>,
    /// Who or what created it: `"system"`, `"rule:12"`, `"integration:telephony"`…
    pub source: String,
    /// The user whose action caused the item, if a person did.
    pub created_by: Option<i64>,
    /// Posting the same key twice for the same owner is a no-op (reminders, stale-deal
    /// sweeps and retried integrations must not double items).
    pub dedupe_key: Option<String>,
    pub payload: Option<serde_json::Value>,
}

/// Inserts an item in the caller's transaction. Returns the new id, or `None` when an
/// item with the same owner and dedupe key already exists.
pub async fn post_item(tx: &mut Tx, item: &NewItem) -> Result<Option<i64>> {
    if let Some(key) = &item.dedupe_key {
        let existing = tx
            .fetch_optional(
                &Query::select()
                    .column(Alias::new("id"))
                    .from(Alias::new("notebook_items"))
                    .and_where(crate::filter_sql::col("owner_id").eq(item.owner_id))
                    .and_where(crate::filter_sql::col("dedupe_key").eq(key.as_str()))
                    .to_owned(),
            )
            .await?;
        if existing.is_some() {
            return Ok(None);
        }
    }
    let (entity, record_id) = match &item.record {
        Some((e, id)) => (Some(e.clone()), Some(*id)),
        None => (None, None),
    };
    let source = if item.source.is_empty() {
        "system".to_string()
    } else {
        item.source.clone()
    };
    let id = tx
        .insert_id(
            Query::insert()
                .into_table(Alias::new("notebook_items"))
                .columns(
                    [
                        "kind",
                        "owner_id",
                        "entity",
                        "record_id",
                        "text",
                        "due_at",
                        "state",
                        "source",
                        "dedupe_key",
                        "payload",
                        "created_at",
                        "created_by",
                    ]
                    .map(Alias::new),
                )
                .values_panic(crate::db::vals([
                    item.kind.clone().into(),
                    item.owner_id.into(),
                    entity.into(),
                    record_id.into(),
                    item.text.clone().into(),
                    item.due_at.into(),
                    "open".into(),
                    source.into(),
                    item.dedupe_key.clone().into(),
                    item.payload.clone().into(),
                    plotina_core::value::now().into(),
                    item.created_by.into(),
                ])),
        )
        .await?;
    Ok(Some(id))
}

impl Store {
    /// Posts one item in a transaction of its own.
    pub async fn post_notebook_item(&self, item: &NewItem) -> Result<Option<i64>> {
        let mut tx = self.pool().begin_write().await?;
        let id = post_item(&mut tx, item).await?;
        tx.commit().await?;
        Ok(id)
    }
}
