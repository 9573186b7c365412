//! Field-level history, written in the same transaction as the change it describes.

use chrono::{DateTime, Utc};
use plotina_core::schema::Entity;
use sea_query::{Alias, Order, Query};
use serde::Serialize;
use serde_json::Value as Json;

use crate::db::Tx;
use crate::error::Result;
use crate::filter_sql::col;
use crate::rows::Record;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HistoryEntry {
    pub id: i64,
    pub action: String,
    pub field: Option<String>,
    pub old_value: Json,
    pub new_value: Json,
    pub changed_at: String,
    pub changed_by: Option<i64>,
}

/// Columns that change with every write and would only add noise to the history.
const NOISE: &[&str] = &[
    "id",
    "version",
    "updated_at",
    "updated_by",
    "created_at",
    "created_by",
];

/// One history row per changed field (custom fields as `custom.<key>`).
pub fn diff(old: Option<&Record>, new: &Record) -> Vec<(String, Json, Json)> {
    let mut out = Vec::new();
    let empty = Record::new();
    let old = old.unwrap_or(&empty);
    for (k, v) in new {
        if NOISE.contains(&k.as_str()) {
            continue;
        }
        if k == "custom" {
            let empty_obj = serde_json::Map::new();
            let old_c = old
                .get("custom")
                .and_then(Json::as_object)
                .unwrap_or(&empty_obj);
            let new_c = v.as_object().unwrap_or(&empty_obj);
            let keys: std::collections::BTreeSet<&String> =
                old_c.keys().chain(new_c.keys()).collect();
            for key in keys {
                let a = old_c.get(key).cloned().unwrap_or(Json::Null);
                let b = new_c.get(key).cloned().unwrap_or(Json::Null);
                if a != b {
                    out.push((format!("custom.{key}"), a, b));
                }
            }
            continue;
        }
        let before = old.get(k).cloned().unwrap_or(Json::Null);
        if &before != v && !(is_empty(&before) && is_empty(v)) {
            out.push((k.clone(), before, v.clone()));
        }
    }
    out
}

fn is_empty(v: &Json) -> bool {
    match v {
        Json::Null => true,
        Json::Array(a) => a.is_empty(),
        Json::Object(o) => o.is_empty(),
        Json::Bool(false) => true,
        _ => false,
    }
}

pub async fn write(
    tx: &mut Tx,
    entity: Entity,
    id: i64,
    action: &str,
    changes: &[(String, Json, Json)],
    at: DateTime<Utc>,
    by: i64,
) -> Result<()> {
    write_many(tx, entity, &[(id, action, changes)], at, by).await
}

/// The columns of a history row, as the writers here and the demo generator fill them.
pub(crate) const HISTORY_COLUMNS: [&str; 8] = [
    "entity",
    "record_id",
    "action",
    "field",
    "old_value",
    "new_value",
    "changed_at",
    "changed_by",
];

/// A value as stored in `old_value`/`new_value`: JSON null is SQL NULL.
fn json_value(v: Json) -> sea_query::Value {
    if v.is_null() {
        sea_query::Value::Json(None)
    } else {
        sea_query::Value::Json(Some(Box::new(v)))
    }
}

/// One write's history for [`write_many`]: record id, action, changed fields.
pub type Entry<'a> = (i64, &'a str, &'a [(String, Json, Json)]);

/// The history of several writes at once, `(record id, action, changes)` in order: the
/// same rows `write` gives each of them, in multi-row INSERTs (the import's bulk path).
pub async fn write_many(
    tx: &mut Tx,
    entity: Entity,
    entries: &[Entry<'_>],
    at: DateTime<Utc>,
    by: i64,
) -> Result<()> {
    let json = |v: &Json| json_value(v.clone());
    let mut rows = Vec::new();
    for (id, action, changes) in entries {
        if changes.is_empty() {
            rows.push(crate::db::vals([
                entity.code().into(),
                (*id).into(),
                (*action).into(),
                sea_query::Value::String(None),
                json(&Json::Null),
                json(&Json::Null),
                at.into(),
                by.into(),
            ]));
        }
        for (field, old, new) in changes.iter() {
            rows.push(crate::db::vals([
                entity.code().into(),
                (*id).into(),
                (*action).into(),
                field.clone().into(),
                json(old),
                json(new),
                at.into(),
                by.into(),
            ]));
        }
    }
    crate::db::insert_rows(tx, "history", &HISTORY_COLUMNS, rows).await?;
    Ok(())
}

/// A record's changed fields: (field, old value, new value), as [`diff`] gives them.
pub type Diff = Vec<(String, Json, Json)>;

/// The `create` rows of many new records, from their diffs taken by value (the bulk
/// import writes ten or so a record, so the values are moved, not cloned): the same rows
/// as [`write_many`].
pub async fn write_created(
    tx: &mut Tx,
    entity: Entity,
    records: Vec<(i64, Diff)>,
    at: DateTime<Utc>,
    by: i64,
) -> Result<()> {
    let json = json_value;
    let row = |id: i64, field: Option<String>, old: Json, new: Json| {
        vec![
            entity.code().into(),
            id.into(),
            "create".into(),
            sea_query::Value::String(field.map(Box::new)),
            json(old),
            json(new),
            at.into(),
            by.into(),
        ]
    };
    let mut rows = Vec::new();
    for (id, changes) in records {
        if changes.is_empty() {
            rows.push(row(id, None, Json::Null, Json::Null));
        }
        for (field, old, new) in changes {
            rows.push(row(id, Some(field), old, new));
        }
    }
    crate::db::insert_values(tx, "history", &HISTORY_COLUMNS, rows).await?;
    Ok(())
}

pub async fn read(
    tx: &mut Tx,
    entity: Entity,
    id: i64,
    before_id: Option<i64>,
    limit: u64,
) -> Result<Vec<HistoryEntry>> {
    let mut q = Query::select();
    q.columns(
        [
            "id",
            "action",
            "field",
            "old_value",
            "new_value",
            "changed_at",
            "changed_by",
        ]
        .map(Alias::new),
    )
    .from(Alias::new("history"))
    .and_where(col("entity").eq(entity.code()))
    .and_where(col("record_id").eq(id))
    .order_by(Alias::new("id"), Order::Desc)
    .limit(limit);
    if let Some(b) = before_id {
        q.and_where(col("id").lt(b));
    }
    let rows = tx.fetch_all(&q).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(HistoryEntry {
            id: r.i64("id")?.unwrap_or_default(),
            action: r.text("action")?.unwrap_or_default(),
            field: r.text("field")?,
            old_value: r.json("old_value")?.unwrap_or(Json::Null),
            new_value: r.json("new_value")?.unwrap_or(Json::Null),
            changed_at: r
                .datetime("changed_at")?
                .map(plotina_core::value::format_datetime)
                .unwrap_or_default(),
            changed_by: r.i64("changed_by")?,
        });
    }
    Ok(out)
}
