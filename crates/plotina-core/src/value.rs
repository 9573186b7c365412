//! Field values: parsed from client JSON by field kind, stored by the store, written to
//! history and rendered back to JSON. Nothing invalid gets past `parse_field`.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde_json::{json, Map, Value as Json};

use crate::schema::{FieldKind, ADDRESS_KINDS};
use crate::types::{Currency, Email, Inn, Kpp, Money, Phone, ValueError, WebUrl};

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Text(String),
    Int(i64),
    Money(Money),
    Date(NaiveDate),
    DateTime(DateTime<Utc>),
    Bool(bool),
    Json(Json),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The API's JSON form: money as a decimal string, dates ISO 8601.
    pub fn to_json(&self) -> Json {
        match self {
            Value::Null => Json::Null,
            Value::Text(s) => Json::String(s.clone()),
            Value::Int(i) => json!(i),
            Value::Money(m) => Json::String(m.to_string()),
            Value::Date(d) => Json::String(d.format("%Y-%m-%d").to_string()),
            Value::DateTime(t) => Json::String(format_datetime(*t)),
            Value::Bool(b) => Json::Bool(*b),
            Value::Json(j) => j.clone(),
        }
    }
}

pub fn format_datetime(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Timestamps are kept to the millisecond so that what the API shows is exactly what
/// is stored and compared (cursors, ETags, history).
pub fn now() -> DateTime<Utc> {
    let t = Utc::now();
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

const MAX_LONG_TEXT: usize = 100_000;
const MAX_LIST: usize = 100;
const MAX_JSON_BYTES: usize = 64 * 1024;

fn err(code: &'static str) -> ValueError {
    ValueError::new(code)
}

/// Text as stored: trimmed, NUL and other control characters refused (PostgreSQL cannot
/// store NUL, and invisible characters only hide duplicates).
pub fn clean_text(s: &str, max: usize, multiline: bool) -> Result<Option<String>, ValueError> {
    let t = s.trim();
    if t.chars()
        .any(|c| c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t')))
    {
        return Err(err("text_control_chars"));
    }
    let n = t.chars().count();
    if n > max {
        return Err(err("text_too_long").with("max", max));
    }
    Ok((!t.is_empty()).then(|| t.to_string()))
}

fn as_text(v: &Json) -> Result<&str, ValueError> {
    v.as_str().ok_or_else(|| err("expected_string"))
}

fn as_int(v: &Json) -> Result<i64, ValueError> {
    match v {
        Json::Number(n) => n.as_i64().ok_or_else(|| err("expected_integer")),
        Json::String(s) if !s.trim().is_empty() => {
            s.trim().parse::<i64>().map_err(|_| err("expected_integer"))
        }
        _ => Err(err("expected_integer")),
    }
}

fn as_list(v: &Json) -> Result<Vec<&Json>, ValueError> {
    match v {
        Json::Array(items) if items.len() > MAX_LIST => {
            Err(err("list_too_long").with("max", MAX_LIST))
        }
        Json::Array(items) => Ok(items.iter().collect()),
        // A single value where a list is expected is taken as a list of one: forms and
        // simple integrations send one phone as a plain string.
        Json::String(_) | Json::Number(_) => Ok(vec![v]),
        _ => Err(err("expected_list")),
    }
}

pub fn parse_datetime(s: &str) -> Result<DateTime<Utc>, ValueError> {
    let s = s.trim();
    let parsed = DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| {
            // `datetime-local` inputs send no zone; the web layer converts those, the API
            // takes a naive value as UTC.
            chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
                .or_else(|_| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M"))
                .map(|n| n.and_utc())
        })
        .map_err(|_| err("datetime_invalid"))?;
    let year = chrono::Datelike::year(&parsed);
    if !(1900..=2200).contains(&year) {
        return Err(err("datetime_range"));
    }
    Ok(DateTime::from_timestamp_millis(parsed.timestamp_millis()).unwrap_or(parsed))
}

pub fn parse_date(s: &str) -> Result<NaiveDate, ValueError> {
    let s = s.trim();
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(s, "%d.%m.%Y"))
        .map_err(|_| err("date_invalid"))?;
    if !(1900..=2200).contains(&chrono::Datelike::year(&d)) {
        return Err(err("date_range"));
    }
    Ok(d)
}

fn dedup_strings(items: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    items
        .into_iter()
        .filter(|s| seen.insert(s.to_lowercase()))
        .collect()
}

/// Parses a client-supplied JSON value for a field of the given kind. `Null` (or an empty
/// string) clears the field; whether that is allowed is the caller's required-check.
pub fn parse_field(kind: FieldKind, v: &Json) -> Result<Value, ValueError> {
    if v.is_null() || v.as_str().is_some_and(|s| s.trim().is_empty()) {
        return Ok(match kind {
            k if k.is_json() && !matches!(k, FieldKind::Json | FieldKind::StringMap) => {
                Value::Json(json!([]))
            }
            _ => Value::Null,
        });
    }
    let text = |max: usize, multiline: bool| -> Result<Value, ValueError> {
        Ok(clean_text(as_text(v)?, max, multiline)?.map_or(Value::Null, Value::Text))
    };
    match kind {
        FieldKind::Id => Err(err("read_only")),
        FieldKind::Text { max } => text(max, false),
        FieldKind::LongText => text(MAX_LONG_TEXT, true),
        FieldKind::Int { min, max } => {
            let i = as_int(v)?;
            if i < min || i > max {
                return Err(err("number_range").with("min", min).with("max", max));
            }
            Ok(Value::Int(i))
        }
        FieldKind::Money => Ok(Value::Money(Money::from_json(v)?)),
        FieldKind::Currency => Ok(Value::Text(Currency::parse(as_text(v)?)?.as_str().into())),
        FieldKind::Date => Ok(Value::Date(parse_date(as_text(v)?)?)),
        FieldKind::DateTime => Ok(Value::DateTime(parse_datetime(as_text(v)?)?)),
        FieldKind::Bool => match v {
            Json::Bool(b) => Ok(Value::Bool(*b)),
            Json::String(s) if matches!(s.as_str(), "true" | "on" | "1") => Ok(Value::Bool(true)),
            Json::String(s) if matches!(s.as_str(), "false" | "off" | "0") => {
                Ok(Value::Bool(false))
            }
            _ => Err(err("expected_bool")),
        },
        FieldKind::Select(options) => {
            let s = as_text(v)?.trim();
            if options.contains(&s) {
                Ok(Value::Text(s.to_string()))
            } else {
                Err(err("select_unknown").with("options", options.join(", ")))
            }
        }
        FieldKind::MultiSelect(options) => {
            let mut out = Vec::new();
            for item in as_list(v)? {
                let s = as_text(item)?.trim();
                if !options.contains(&s) {
                    return Err(err("select_unknown").with("options", options.join(", ")));
                }
                out.push(s.to_string());
            }
            Ok(Value::Json(json!(dedup_strings(out))))
        }
        FieldKind::Inn => Ok(Value::Text(Inn::parse(as_text(v)?)?.as_str().into())),
        FieldKind::Kpp => Ok(Value::Text(Kpp::parse(as_text(v)?)?.as_str().into())),
        FieldKind::Phone => Ok(Value::Text(Phone::parse(as_text(v)?)?.as_str().into())),
        FieldKind::Email => Ok(Value::Text(Email::parse(as_text(v)?)?.as_str().into())),
        FieldKind::Url => Ok(Value::Text(WebUrl::parse(as_text(v)?)?.as_str().into())),
        FieldKind::Phones => parse_string_list(v, |s| Ok(Phone::parse(s)?.as_str().to_string())),
        FieldKind::Emails => parse_string_list(v, |s| Ok(Email::parse(s)?.as_str().to_string())),
        FieldKind::Tags => parse_string_list(v, |s| {
            clean_text(s, 50, false)?.ok_or_else(|| err("tag_empty"))
        }),
        FieldKind::Addresses => parse_addresses(v),
        FieldKind::CompanyLinks => parse_company_links(v),
        FieldKind::StringMap => {
            let obj = v.as_object().ok_or_else(|| err("expected_object"))?;
            if obj.len() > 20 {
                return Err(err("list_too_long").with("max", 20));
            }
            let mut out = Map::new();
            for (k, val) in obj {
                let key = clean_text(k, 50, false)?.ok_or_else(|| err("expected_string"))?;
                if let Some(s) = clean_text(as_text(val)?, 255, false)? {
                    out.insert(key, Json::String(s));
                }
            }
            Ok(Value::Json(Json::Object(out)))
        }
        FieldKind::Json => {
            if !(v.is_object() || v.is_array()) {
                return Err(err("expected_object"));
            }
            if serde_json::to_string(v)
                .map_or(true, |s| s.len() > MAX_JSON_BYTES || s.contains("\\u0000"))
            {
                return Err(err("json_too_large").with("max", MAX_JSON_BYTES));
            }
            Ok(Value::Json(v.clone()))
        }
        FieldKind::Ref(_) => {
            let id = as_int(v)?;
            if id <= 0 {
                return Err(err("link_invalid"));
            }
            Ok(Value::Int(id))
        }
        FieldKind::RefList(_) => {
            let mut ids = Vec::new();
            for item in as_list(v)? {
                let id = as_int(item)?;
                if id <= 0 {
                    return Err(err("link_invalid"));
                }
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            Ok(Value::Json(json!(ids)))
        }
        FieldKind::Language => match as_text(v)?.trim() {
            l @ ("ru" | "en") => Ok(Value::Text(l.into())),
            _ => Err(err("language_unknown")),
        },
        FieldKind::TimeZone => {
            let s = as_text(v)?.trim();
            s.parse::<chrono_tz::Tz>()
                .map_err(|_| err("time_zone_unknown"))?;
            Ok(Value::Text(s.into()))
        }
    }
}

fn parse_string_list(
    v: &Json,
    one: impl Fn(&str) -> Result<String, ValueError>,
) -> Result<Value, ValueError> {
    let mut out = Vec::new();
    for (i, item) in as_list(v)?.into_iter().enumerate() {
        let s = match item {
            Json::String(s) => s.clone(),
            Json::Number(n) => n.to_string(),
            _ => return Err(err("expected_string")),
        };
        if s.trim().is_empty() {
            continue;
        }
        out.push(one(&s).map_err(|e| e.with("index", i))?);
    }
    Ok(Value::Json(json!(dedup_strings(out))))
}

fn parse_addresses(v: &Json) -> Result<Value, ValueError> {
    let mut out = Vec::new();
    for item in as_list(v)? {
        let obj = item.as_object().ok_or_else(|| err("expected_object"))?;
        if let Some(extra) = obj
            .keys()
            .find(|k| !matches!(k.as_str(), "kind" | "value" | "name"))
        {
            return Err(err("unknown_field").with("name", extra));
        }
        let kind = obj.get("kind").and_then(Json::as_str).unwrap_or("actual");
        if !ADDRESS_KINDS.contains(&kind) {
            return Err(err("select_unknown").with("options", ADDRESS_KINDS.join(", ")));
        }
        let value = clean_text(
            as_text(obj.get("value").unwrap_or(&Json::Null))?,
            500,
            false,
        )?
        .ok_or_else(|| err("required"))?;
        let mut addr = json!({"kind": kind, "value": value});
        if let Some(name) = obj.get("name").filter(|n| !n.is_null()) {
            if let Some(name) = clean_text(as_text(name)?, 255, false)? {
                addr["name"] = Json::String(name);
            }
        }
        out.push(addr);
    }
    Ok(Value::Json(Json::Array(out)))
}

fn parse_company_links(v: &Json) -> Result<Value, ValueError> {
    let mut out: Vec<Json> = Vec::new();
    for item in as_list(v)? {
        let (id, role) = match item {
            Json::Object(obj) => {
                if let Some(extra) = obj
                    .keys()
                    .find(|k| !matches!(k.as_str(), "company_id" | "role"))
                {
                    return Err(err("unknown_field").with("name", extra));
                }
                let id = as_int(obj.get("company_id").unwrap_or(&Json::Null))?;
                let role = match obj.get("role").filter(|r| !r.is_null()) {
                    Some(r) => clean_text(as_text(r)?, 100, false)?,
                    None => None,
                };
                (id, role)
            }
            other => (as_int(other)?, None),
        };
        if id <= 0 {
            return Err(err("link_invalid"));
        }
        if out.iter().any(|l| l["company_id"] == json!(id)) {
            continue;
        }
        out.push(json!({"company_id": id, "role": role}));
    }
    Ok(Value::Json(Json::Array(out)))
}

/// Record ids referenced by a value of a link kind (for existence and scope checks).
pub fn referenced_ids(kind: FieldKind, v: &Value) -> Vec<i64> {
    match (kind, v) {
        (FieldKind::Ref(_), Value::Int(id)) => vec![*id],
        (FieldKind::RefList(_), Value::Json(Json::Array(items))) => {
            items.iter().filter_map(Json::as_i64).collect()
        }
        (FieldKind::CompanyLinks, Value::Json(Json::Array(items))) => items
            .iter()
            .filter_map(|l| l["company_id"].as_i64())
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_normalise_and_deduplicate() {
        let v = parse_field(
            FieldKind::Phones,
            &json!(["8 (912) 345-67-89", "+7 912 345 67 89"]),
        )
        .unwrap();
        assert_eq!(v, Value::Json(json!(["+79123456789"])));
    }

    #[test]
    fn text_refuses_nul_and_overlong_input() {
        let kind = FieldKind::Text { max: 5 };
        assert_eq!(
            parse_field(kind, &json!("a\u{0}b")).unwrap_err().code,
            "text_control_chars"
        );
        assert_eq!(
            parse_field(kind, &json!("abcdef")).unwrap_err().code,
            "text_too_long"
        );
        assert_eq!(parse_field(kind, &json!("  ")).unwrap(), Value::Null);
    }

    #[test]
    fn ints_respect_range_and_type() {
        let kind = FieldKind::Int { min: 0, max: 100 };
        assert_eq!(
            parse_field(kind, &json!(101)).unwrap_err().code,
            "number_range"
        );
        assert_eq!(
            parse_field(kind, &json!(1.5)).unwrap_err().code,
            "expected_integer"
        );
        assert_eq!(parse_field(kind, &json!("42")).unwrap(), Value::Int(42));
    }

    #[test]
    fn company_links_take_ids_and_roles() {
        let v = parse_field(
            FieldKind::CompanyLinks,
            &json!([{"company_id": 3, "role": "CEO"}, 3]),
        )
        .unwrap();
        assert_eq!(v, Value::Json(json!([{"company_id": 3, "role": "CEO"}])));
        assert_eq!(referenced_ids(FieldKind::CompanyLinks, &v), vec![3]);
    }

    #[test]
    fn dates_accept_iso_and_russian_forms() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        assert_eq!(
            parse_field(FieldKind::Date, &json!("2026-11-23")).unwrap(),
            Value::Date(d)
        );
        assert_eq!(
            parse_field(FieldKind::Date, &json!("23.11.2026")).unwrap(),
            Value::Date(d)
        );
        assert_eq!(
            parse_field(FieldKind::Date, &json!("31.02.2026"))
                .unwrap_err()
                .code,
            "date_invalid"
        );
    }
}
