//! `record_lookup`: list values (phones, e-mails, tags, options, links) mirrored into
//! rows so that search, duplicate checks and filters use an index.

use plotina_core::schema::{Entity, FieldDef, FieldKind};
use sea_query::{Alias, Query};
use serde_json::Value as Json;

use crate::db::Tx;
use crate::error::Result;
use crate::filter_sql::col;
use crate::rows::Record;

/// The indexed values of one field: normalised so that lookups match regardless of how
/// the value was typed (e-mails and tags lower-cased, phones already E.164).
pub fn values(kind: FieldKind, v: &Json) -> Vec<String> {
    let one = |j: &Json| -> Option<String> {
        match (kind, j) {
            (FieldKind::Emails | FieldKind::Email | FieldKind::Tags, Json::String(s)) => {
                Some(s.to_lowercase())
            }
            (FieldKind::CompanyLinks, Json::Object(o)) => {
                o.get("company_id").map(|i| i.to_string())
            }
            (_, Json::String(s)) => Some(s.clone()),
            (_, Json::Number(n)) => Some(n.to_string()),
            _ => None,
        }
    };
    match v {
        Json::Array(items) => items.iter().filter_map(one).collect(),
        Json::Null => Vec::new(),
        other => one(other).into_iter().collect(),
    }
}

pub fn indexed_fields(entity: Entity) -> impl Iterator<Item = &'static FieldDef> {
    entity.fields().filter(|f| f.kind.lookup_kind().is_some())
}

/// The lookup rows of the given fields of one record: `(field, kind, value)`.
pub fn rows(
    entity: Entity,
    rec: &Record,
    only: Option<&[&str]>,
) -> Vec<(&'static str, &'static str, String)> {
    let mut out = Vec::new();
    for f in indexed_fields(entity).filter(|f| only.is_none_or(|names| names.contains(&f.name))) {
        let kind = f.kind.lookup_kind().unwrap_or("value");
        for v in values(f.kind, rec.get(f.name).unwrap_or(&Json::Null)) {
            out.push((f.name, kind, v));
        }
    }
    out
}

/// Inserts lookup rows `(record id, field, kind, value)` of new records, in multi-row
/// INSERTs (records that had none before: nothing to delete).
pub async fn insert(
    tx: &mut Tx,
    entity: Entity,
    rows: Vec<(i64, &'static str, &'static str, String)>,
) -> Result<()> {
    let rows = rows
        .into_iter()
        .map(|(id, field, kind, value)| {
            crate::db::vals([
                entity.code().into(),
                id.into(),
                field.into(),
                kind.into(),
                value.into(),
            ])
        })
        .collect();
    crate::db::insert_rows(
        tx,
        "record_lookup",
        &["entity", "record_id", "field", "kind", "value"],
        rows,
    )
    .await?;
    Ok(())
}

/// Rewrites the lookup rows of the given fields of one record.
pub async fn refresh(
    tx: &mut Tx,
    entity: Entity,
    id: i64,
    rec: &Record,
    only: Option<&[&str]>,
) -> Result<()> {
    let names: Vec<&str> = indexed_fields(entity)
        .filter(|f| only.is_none_or(|names| names.contains(&f.name)))
        .map(|f| f.name)
        .collect();
    if names.is_empty() {
        return Ok(());
    }
    tx.execute(
        &Query::delete()
            .from_table(Alias::new("record_lookup"))
            .and_where(col("entity").eq(entity.code()))
            .and_where(col("record_id").eq(id))
            .and_where(col("field").is_in(names))
            .to_owned(),
    )
    .await?;
    let rows = rows(entity, rec, only)
        .into_iter()
        .map(|(field, kind, value)| (id, field, kind, value))
        .collect();
    insert(tx, entity, rows).await
}
