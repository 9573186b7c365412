//! Converting between stored columns and the record JSON the API speaks.

use plotina_core::schema::{Entity, FieldKind};
use plotina_core::types::Money;
use plotina_core::value::{format_datetime, Value};
use sea_query::Value as SqlValue;
use serde_json::{json, Map, Value as Json};

use crate::db::Row;

/// A record as the API shows it: built-in fields in schema order, then `custom`.
pub type Record = Map<String, Json>;

/// Reads a stored column of a given kind as API JSON.
pub fn column_json(row: &Row, name: &str, kind: FieldKind) -> Result<Json, sqlx::Error> {
    Ok(match kind {
        FieldKind::Id | FieldKind::Int { .. } | FieldKind::Ref(_) => json!(row.i64(name)?),
        FieldKind::Money => row
            .i64(name)?
            .map_or(Json::Null, |m| json!(Money::from_minor(m).to_string())),
        FieldKind::Date => row
            .date(name)?
            .map_or(Json::Null, |d| json!(d.format("%Y-%m-%d").to_string())),
        FieldKind::DateTime => row
            .datetime(name)?
            .map_or(Json::Null, |t| json!(format_datetime(t))),
        FieldKind::Bool => json!(row.bool(name)?),
        k if k.is_json() => row.json(name)?.unwrap_or(Json::Null),
        _ => row.text(name)?.map_or(Json::Null, Json::String),
    })
}

pub fn record_from_row(entity: Entity, row: &Row) -> Result<Record, sqlx::Error> {
    let mut rec = Map::new();
    for f in entity.fields() {
        rec.insert(f.name.to_string(), column_json(row, f.name, f.kind)?);
    }
    if entity.is_business() {
        rec.insert(
            "custom".into(),
            row.json("custom")?.unwrap_or_else(|| json!({})),
        );
    }
    Ok(rec)
}

/// The built-in fields in `columns` of a row read with only those columns.
pub fn record_from_columns(
    entity: Entity,
    row: &Row,
    columns: &[&str],
) -> Result<Record, sqlx::Error> {
    let mut rec = Map::new();
    for f in entity.fields().filter(|f| columns.contains(&f.name)) {
        rec.insert(f.name.to_string(), column_json(row, f.name, f.kind)?);
    }
    Ok(rec)
}

/// A typed SQL value for a field; NULLs carry their type so PostgreSQL accepts them.
pub fn sql_value(kind: FieldKind, v: &Value) -> SqlValue {
    match (kind, v) {
        (FieldKind::Bool, Value::Null) => SqlValue::Bool(Some(false)),
        (k, Value::Null) if k.is_json() => SqlValue::Json(Some(Box::new(match k {
            FieldKind::Json | FieldKind::StringMap => json!({}),
            _ => json!([]),
        }))),
        (
            FieldKind::Id | FieldKind::Int { .. } | FieldKind::Ref(_) | FieldKind::Money,
            Value::Null,
        ) => SqlValue::BigInt(None),
        (FieldKind::Date, Value::Null) => SqlValue::ChronoDate(None),
        (FieldKind::DateTime, Value::Null) => SqlValue::ChronoDateTimeUtc(None),
        (_, Value::Null) => SqlValue::String(None),
        (_, Value::Text(s)) => s.clone().into(),
        (_, Value::Int(i)) => (*i).into(),
        (_, Value::Money(m)) => m.to_minor().into(),
        (_, Value::Date(d)) => (*d).into(),
        (_, Value::DateTime(t)) => (*t).into(),
        (_, Value::Bool(b)) => (*b).into(),
        (_, Value::Json(j)) => SqlValue::Json(Some(Box::new(j.clone()))),
    }
}

/// The inverse of `column_json` for values already in API form (used by copy and
/// restore-from-history): JSON back to a typed SQL value.
pub fn sql_value_from_json(kind: FieldKind, v: &Json) -> SqlValue {
    let value = match (kind, v) {
        (_, Json::Null) => Value::Null,
        (FieldKind::Money, Json::String(s)) => {
            Money::parse(s).map(Value::Money).unwrap_or(Value::Null)
        }
        (FieldKind::Date, Json::String(s)) => plotina_core::value::parse_date(s)
            .map(Value::Date)
            .unwrap_or(Value::Null),
        (FieldKind::DateTime, Json::String(s)) => plotina_core::value::parse_datetime(s)
            .map(Value::DateTime)
            .unwrap_or(Value::Null),
        (FieldKind::Id | FieldKind::Int { .. } | FieldKind::Ref(_), Json::Number(n)) => {
            n.as_i64().map(Value::Int).unwrap_or(Value::Null)
        }
        (FieldKind::Bool, Json::Bool(b)) => Value::Bool(*b),
        (k, j) if k.is_json() => Value::Json(j.clone()),
        (_, Json::String(s)) => Value::Text(s.clone()),
        (_, other) => Value::Text(other.to_string()),
    };
    sql_value(kind, &value)
}
