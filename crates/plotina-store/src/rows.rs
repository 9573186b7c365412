//! Converting between stored columns and the record JSON the API speaks.

use plotina_core::schema::{Entity, FieldKind};
use plotina_core::types::Money;
use plotina_core::value::Value;
use sea_query::Value as SqlValue;
use serde_json::{json, Map, Value as Json};

use crate::db::{Col, Row};

/// A record as the API shows it: built-in fields in schema order, then `custom`.
pub type Record = Map<String, Json>;

/// Reads a stored column of a given kind as API JSON.
pub fn column_json(row: &Row, name: &str, kind: FieldKind) -> Result<Json, sqlx::Error> {
    value_json(row, name, kind)
}

/// [`column_json`] by name or position.
fn value_json(row: &Row, col: impl Col, kind: FieldKind) -> Result<Json, sqlx::Error> {
    Ok(match kind {
        FieldKind::Id | FieldKind::Int { .. } | FieldKind::Ref(_) => {
            row.i64_at(col)?.map_or(Json::Null, Json::from)
        }
        FieldKind::Money => row
            .i64_at(col)?
            .map_or(Json::Null, |m| Json::String(money_text(m))),
        FieldKind::Date => row
            .date_at(col)?
            .map_or(Json::Null, |d| json!(d.format("%Y-%m-%d").to_string())),
        FieldKind::DateTime => row.datetime_text_at(col)?.map_or(Json::Null, Json::String),
        FieldKind::Bool => Json::Bool(row.bool_at(col)?),
        k if k.is_json() => row.json_at(col)?.unwrap_or(Json::Null),
        _ => row.text_at(col)?.map_or(Json::Null, Json::String),
    })
}

/// An amount in minor units as `Money` writes it (`1234.50`, `-0.05`), without going
/// through a decimal.
fn money_text(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

pub fn record_from_row(entity: Entity, row: &Row) -> Result<Record, sqlx::Error> {
    RecordReader::new(entity, row, None).read(row)
}

/// The built-in fields in `columns` of a row read with only those columns.
pub fn record_from_columns(
    entity: Entity,
    row: &Row,
    columns: &[&str],
) -> Result<Record, sqlx::Error> {
    RecordReader::new(entity, row, Some(columns)).read(row)
}

/// Reads the records of one statement's rows: the columns are found by name once, and
/// every row is read by position.
pub struct RecordReader {
    /// Field name, kind and the column's position (`None`: not in the statement).
    fields: Vec<(&'static str, FieldKind, Option<usize>)>,
    /// Position of `custom`, for business records read whole.
    custom: Option<Option<usize>>,
}

impl RecordReader {
    /// For rows shaped like `first`: whole records (`columns` is `None`), or only the
    /// built-in fields in `columns`.
    pub fn new(entity: Entity, first: &Row, columns: Option<&[&str]>) -> RecordReader {
        RecordReader {
            fields: entity
                .fields()
                .filter(|f| columns.is_none_or(|c| c.contains(&f.name)))
                .map(|f| (f.name, f.kind, first.position(f.name)))
                .collect(),
            custom: (entity.is_business() && columns.is_none()).then(|| first.position("custom")),
        }
    }

    pub fn read(&self, row: &Row) -> Result<Record, sqlx::Error> {
        let mut rec = Map::with_capacity(self.fields.len() + 1);
        for (name, kind, at) in &self.fields {
            let value = match at {
                Some(i) => value_json(row, *i, *kind)?,
                // Not selected: the same error a read by name gives.
                None => value_json(row, *name, *kind)?,
            };
            rec.insert((*name).to_string(), value);
        }
        if let Some(at) = self.custom {
            let custom = match at {
                Some(i) => row.json_at(i)?,
                None => row.json("custom")?,
            };
            rec.insert("custom".into(), custom.unwrap_or_else(|| json!({})));
        }
        Ok(rec)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_as_money_writes_them() {
        for minor in [0, 5, -5, 99, 100, 123_450, -123_456, i64::MAX, i64::MIN + 1] {
            assert_eq!(
                money_text(minor),
                Money::from_minor(minor).to_string(),
                "{minor}"
            );
        }
    }
}
