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
    let rows = if action == CREATE {
        vec![created_row(entity, id, changes.to_vec(), at, by)]
    } else {
        changed_rows(entity, id, action, changes, at, by)
    };
    crate::db::insert_values(tx, "history", &HISTORY_COLUMNS, rows).await?;
    Ok(())
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

/// The action of a record's creation: stored as one row (see [`created_row`]).
const CREATE: &str = "create";

/// A value as stored in `old_value`/`new_value`: JSON null is SQL NULL.
fn json_value(v: Json) -> sea_query::Value {
    if v.is_null() {
        sea_query::Value::Json(None)
    } else {
        sea_query::Value::Json(Some(Box::new(v)))
    }
}

/// One row per changed field; a write that changed no field (a merge, a restore) is one
/// row without a field.
fn changed_rows(
    entity: Entity,
    id: i64,
    action: &str,
    changes: &[(String, Json, Json)],
    at: DateTime<Utc>,
    by: i64,
) -> Vec<Vec<sea_query::Value>> {
    let row = |field: Option<&String>, old: &Json, new: &Json| {
        vec![
            entity.code().into(),
            id.into(),
            action.into(),
            sea_query::Value::String(field.map(|f| Box::new(f.clone()))),
            json_value(old.clone()),
            json_value(new.clone()),
            at.into(),
            by.into(),
        ]
    };
    if changes.is_empty() {
        return vec![row(None, &Json::Null, &Json::Null)];
    }
    changes
        .iter()
        .map(|(field, old, new)| row(Some(field), old, new))
        .collect()
}

/// A creation is one row: no field, and the values set, in the order [`diff`] gives
/// them, as one JSON object in `new_value` (every old value of a creation is empty).
/// [`read`] lists it field by field, as the rows of any other write. One row instead of
/// one per field (ten or so for an imported contact) is most of what an import writes.
fn created_row(
    entity: Entity,
    id: i64,
    changes: Diff,
    at: DateTime<Utc>,
    by: i64,
) -> Vec<sea_query::Value> {
    let values: serde_json::Map<String, Json> = changes
        .into_iter()
        .map(|(field, _, new)| (field, new))
        .collect();
    vec![
        entity.code().into(),
        id.into(),
        CREATE.into(),
        sea_query::Value::String(None),
        json_value(Json::Null),
        json_value(Json::Object(values)),
        at.into(),
        by.into(),
    ]
}

/// A record's changed fields: (field, old value, new value), as [`diff`] gives them.
pub type Diff = Vec<(String, Json, Json)>;

/// The creation rows of many new records (the import's bulk path), from their diffs
/// taken by value: the same rows as [`write`] gives each of them.
pub async fn write_created(
    tx: &mut Tx,
    entity: Entity,
    records: Vec<(i64, Diff)>,
    at: DateTime<Utc>,
    by: i64,
) -> Result<()> {
    let rows = records
        .into_iter()
        .map(|(id, changes)| created_row(entity, id, changes, at, by))
        .collect();
    crate::db::insert_values(tx, "history", &HISTORY_COLUMNS, rows).await?;
    Ok(())
}

/// A page of a record's history, newest first.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HistoryPage {
    pub entries: Vec<HistoryEntry>,
    /// The history id to continue before, when the page was full.
    pub next_before: Option<i64>,
}

/// Up to `limit` history rows of a record, newest first, before the row `before_id`.
/// A creation stored as one row ([`created_row`]) is listed as one entry per field, all
/// with the row's id, so a page may hold more than `limit` entries; the older form (a
/// row per field) reads the same.
pub async fn read(
    tx: &mut Tx,
    entity: Entity,
    id: i64,
    before_id: Option<i64>,
    limit: u64,
) -> Result<HistoryPage> {
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
    let full = rows.len() as u64 == limit;
    let mut entries = Vec::with_capacity(rows.len());
    let mut last = None;
    for r in rows {
        let entry = HistoryEntry {
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
        };
        last = Some(entry.id);
        expand_into(&mut entries, entry);
    }
    Ok(HistoryPage {
        entries,
        next_before: if full { last } else { None },
    })
}

/// Appends an entry, a creation row as one entry per field it set (none set: the row
/// itself, without a field and values).
fn expand_into(out: &mut Vec<HistoryEntry>, entry: HistoryEntry) {
    match entry {
        HistoryEntry {
            id,
            action,
            field: None,
            new_value: Json::Object(values),
            changed_at,
            changed_by,
            ..
        } if action == CREATE => {
            if values.is_empty() {
                out.push(HistoryEntry {
                    id,
                    action,
                    field: None,
                    old_value: Json::Null,
                    new_value: Json::Null,
                    changed_at,
                    changed_by,
                });
                return;
            }
            for (field, value) in values {
                out.push(HistoryEntry {
                    id,
                    action: action.clone(),
                    field: Some(field),
                    old_value: Json::Null,
                    new_value: value,
                    changed_at: changed_at.clone(),
                    changed_by,
                });
            }
        }
        other => out.push(other),
    }
}
