//! A client's create/update body turned into checked changes: built-in fields by their
//! kind, custom fields by their definitions, unknown names refused by name.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json};

use crate::error::FieldError;
use crate::schema::{Access, Entity, FieldDef, FieldKind};
use crate::types::{Money, ValueError};
use crate::value::{parse_date, parse_datetime, parse_field, Value};

/// A custom-field definition as loaded from the `custom_fields` table.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomFieldDef {
    pub id: i64,
    pub entity: Entity,
    pub key: String,
    pub label: String,
    pub label_en: Option<String>,
    pub kind: String,
    pub options: Vec<String>,
    pub link_entity: Option<Entity>,
    pub required: bool,
    pub hidden: bool,
    pub position: i64,
}

impl CustomFieldDef {
    pub fn label_for(&self, lang: &str) -> &str {
        match (lang, &self.label_en) {
            ("en", Some(en)) => en,
            _ => &self.label,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Create,
    Update,
}

/// Checked changes ready for the store.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes {
    pub fields: Vec<(&'static FieldDef, Value)>,
    /// Custom values in their stored JSON form; `Null` removes the value.
    pub custom: BTreeMap<String, Json>,
    /// Set by the system itself (lead conversion, imports), not parsed from a client:
    /// rules that only guard against clients (e.g. "status is set by conversion") skip.
    pub trusted: bool,
}

impl Changes {
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.fields
            .iter()
            .find(|(f, _)| f.name == name)
            .map(|(_, v)| v)
    }

    pub fn set(&mut self, entity: Entity, name: &str, value: Value) {
        let def = entity.field(name).expect("field exists in schema");
        match self.fields.iter_mut().find(|(f, _)| f.name == name) {
            Some(slot) => slot.1 = value,
            None => self.fields.push((def, value)),
        }
    }

    pub fn remove(&mut self, name: &str) -> Option<Value> {
        let i = self.fields.iter().position(|(f, _)| f.name == name)?;
        Some(self.fields.remove(i).1)
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.custom.is_empty()
    }
}

fn field_error(field: &str, e: ValueError) -> FieldError {
    let mut fe = FieldError::new(field, e.code);
    fe.args = e.args;
    fe
}

/// Parses a create or update body. Every problem is collected, so a form shows all its
/// errors at once.
pub fn parse_input(
    entity: Entity,
    custom_defs: &[CustomFieldDef],
    body: &Map<String, Json>,
    mode: Mode,
) -> Result<Changes, Vec<FieldError>> {
    let mut changes = Changes::default();
    let mut errors = Vec::new();
    for (name, raw) in body {
        if name == "custom" {
            if !entity.is_business() {
                errors.push(FieldError::new("custom", "unknown_field").with("name", "custom"));
                continue;
            }
            match raw {
                Json::Object(values) => {
                    parse_custom(custom_defs, values, &mut changes, &mut errors)
                }
                Json::Null => {}
                _ => errors.push(FieldError::new("custom", "expected_object")),
            }
            continue;
        }
        let Some(def) = entity.field(name) else {
            errors.push(FieldError::new(name.clone(), "unknown_field").with("name", name));
            continue;
        };
        let writable = match def.access {
            Access::Write => true,
            Access::CreateOnly => mode == Mode::Create,
            Access::System => false,
        };
        if !writable {
            // Clients echo back what they read (id, version, created_at): accepting the
            // unchanged read-only values would hide real mistakes, so refuse by name.
            errors.push(FieldError::new(name.clone(), "read_only"));
            continue;
        }
        match parse_field(def.kind, raw) {
            // The column's default stands in for an empty value on create; it is never
            // cleared afterwards.
            Ok(v) if v.is_null() && entity.has_default(def.name) => {
                if mode == Mode::Update {
                    errors.push(FieldError::new(def.name, "required"));
                }
            }
            Ok(v) => changes.fields.push((def, v)),
            Err(e) => errors.push(field_error(name, e)),
        }
    }
    if mode == Mode::Create {
        for def in entity.fields().filter(|f| f.required) {
            if changes.get(def.name).is_none_or(Value::is_null) {
                errors.push(FieldError::new(def.name, "required"));
            }
        }
        for def in custom_defs.iter().filter(|d| d.required && !d.hidden) {
            if changes.custom.get(&def.key).is_none_or(Json::is_null) {
                errors.push(FieldError::new(format!("custom.{}", def.key), "required"));
            }
        }
    } else {
        for (def, v) in &changes.fields {
            if def.required && v.is_null() {
                errors.push(FieldError::new(def.name, "required"));
            }
        }
        for def in custom_defs.iter().filter(|d| d.required && !d.hidden) {
            if changes.custom.get(&def.key).is_some_and(Json::is_null) {
                errors.push(FieldError::new(format!("custom.{}", def.key), "required"));
            }
        }
    }
    if errors.is_empty() {
        Ok(changes)
    } else {
        Err(errors)
    }
}

fn parse_custom(
    defs: &[CustomFieldDef],
    values: &Map<String, Json>,
    changes: &mut Changes,
    errors: &mut Vec<FieldError>,
) {
    for (key, raw) in values {
        let field = format!("custom.{key}");
        let Some(def) = defs.iter().find(|d| &d.key == key) else {
            errors.push(FieldError::new(field, "unknown_field").with("name", key));
            continue;
        };
        match parse_custom_value(def, raw) {
            Ok(v) => {
                changes.custom.insert(key.clone(), v);
            }
            Err(e) => errors.push(field_error(&field, e)),
        }
    }
}

/// The stored JSON form of a custom value: numbers as JSON numbers, money as a decimal
/// string (exact), dates ISO, links as ids.
pub fn parse_custom_value(def: &CustomFieldDef, raw: &Json) -> Result<Json, ValueError> {
    if raw.is_null() || raw.as_str().is_some_and(|s| s.trim().is_empty()) {
        return Ok(Json::Null);
    }
    let options: Vec<&str> = def.options.iter().map(String::as_str).collect();
    let builtin = |kind: FieldKind| parse_field(kind, raw).map(|v| v.to_json());
    match def.kind.as_str() {
        "text" => builtin(FieldKind::Text { max: 1000 }),
        "long_text" => builtin(FieldKind::LongText),
        "number" => {
            let m = match raw {
                Json::Number(n) => n.to_string(),
                Json::String(s) => s.trim().replace(',', "."),
                _ => return Err(ValueError::new("expected_number")),
            };
            let d: rust_decimal::Decimal =
                m.parse().map_err(|_| ValueError::new("expected_number"))?;
            let n: serde_json::Number = d
                .normalize()
                .to_string()
                .parse()
                .map_err(|_| ValueError::new("expected_number"))?;
            Ok(Json::Number(n))
        }
        "money" => Ok(Json::String(Money::from_json(raw)?.to_string())),
        "date" => Ok(Json::String(
            parse_date(raw.as_str().ok_or(ValueError::new("expected_string"))?)?
                .format("%Y-%m-%d")
                .to_string(),
        )),
        "datetime" => Ok(Value::DateTime(parse_datetime(
            raw.as_str().ok_or(ValueError::new("expected_string"))?,
        )?)
        .to_json()),
        "bool" => builtin(FieldKind::Bool),
        "select" => {
            let s = raw
                .as_str()
                .ok_or(ValueError::new("expected_string"))?
                .trim();
            if options.contains(&s) {
                Ok(Json::String(s.into()))
            } else {
                Err(ValueError::new("select_unknown").with("options", options.join(", ")))
            }
        }
        "multi_select" => {
            let items = match raw {
                Json::Array(a) => a.clone(),
                other => vec![other.clone()],
            };
            let mut out = Vec::new();
            for it in &items {
                let s = it
                    .as_str()
                    .ok_or(ValueError::new("expected_string"))?
                    .trim();
                if !options.contains(&s) {
                    return Err(
                        ValueError::new("select_unknown").with("options", options.join(", "))
                    );
                }
                if !out.contains(&s) {
                    out.push(s);
                }
            }
            Ok(serde_json::json!(out))
        }
        "phone" => builtin(FieldKind::Phone),
        "email" => builtin(FieldKind::Email),
        "url" => builtin(FieldKind::Url),
        "link" => builtin(FieldKind::Ref(def.link_entity.unwrap_or(Entity::Company))),
        _ => Err(ValueError::new("custom_kind_unknown")),
    }
}

/// Custom-field keys become JSON paths in SQL, so they are restricted to identifiers.
pub fn valid_custom_key(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && key.len() <= 48
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Json) -> Map<String, Json> {
        v.as_object().unwrap().clone()
    }

    fn region_def() -> CustomFieldDef {
        CustomFieldDef {
            id: 1,
            entity: Entity::Company,
            key: "region".into(),
            label: "Регион".into(),
            label_en: None,
            kind: "select".into(),
            options: vec!["Урал".into(), "Сибирь".into()],
            link_entity: None,
            required: false,
            hidden: false,
            position: 0,
        }
    }

    #[test]
    fn unknown_and_read_only_fields_are_named() {
        let body = obj(json!({"name": "Ромашка", "colour": "red", "id": 5}));
        let errs = parse_input(Entity::Company, &[], &body, Mode::Create).unwrap_err();
        let codes: Vec<_> = errs.iter().map(|e| (e.field.as_str(), e.code)).collect();
        assert!(codes.contains(&("colour", "unknown_field")));
        assert!(codes.contains(&("id", "read_only")));
    }

    #[test]
    fn required_fields_are_checked_on_create_only() {
        let errs = parse_input(Entity::Company, &[], &Map::new(), Mode::Create).unwrap_err();
        assert_eq!(errs[0].field, "name");
        assert_eq!(errs[0].code, "required");
        assert!(parse_input(Entity::Company, &[], &Map::new(), Mode::Update)
            .unwrap()
            .is_empty());
        let clear = obj(json!({"name": null}));
        assert_eq!(
            parse_input(Entity::Company, &[], &clear, Mode::Update).unwrap_err()[0].code,
            "required"
        );
    }

    #[test]
    fn defaulted_fields_take_the_default_on_create_and_are_never_cleared() {
        let body = obj(json!({"title": "Сделка", "pipeline_id": 1, "currency": null}));
        let c = parse_input(Entity::Deal, &[], &body, Mode::Create).unwrap();
        assert!(c.get("currency").is_none(), "the column's default applies");
        let clear = obj(json!({"currency": null}));
        let errs = parse_input(Entity::Deal, &[], &clear, Mode::Update).unwrap_err();
        assert_eq!(
            (errs[0].field.as_str(), errs[0].code),
            ("currency", "required")
        );
        let clear = obj(json!({"kind": ""}));
        let errs = parse_input(Entity::Stage, &[], &clear, Mode::Update).unwrap_err();
        assert_eq!((errs[0].field.as_str(), errs[0].code), ("kind", "required"));
        let set = obj(json!({"kind": "won"}));
        assert!(parse_input(Entity::Stage, &[], &set, Mode::Update).is_ok());
    }

    #[test]
    fn custom_values_follow_their_definitions() {
        let defs = [region_def()];
        let ok = obj(json!({"name": "А", "custom": {"region": "Урал"}}));
        let c = parse_input(Entity::Company, &defs, &ok, Mode::Create).unwrap();
        assert_eq!(c.custom["region"], json!("Урал"));
        let bad = obj(json!({"name": "А", "custom": {"region": "Марс", "x": 1}}));
        let errs = parse_input(Entity::Company, &defs, &bad, Mode::Create).unwrap_err();
        assert_eq!(errs.len(), 2);
        assert!(errs
            .iter()
            .any(|e| e.field == "custom.x" && e.code == "unknown_field"));
    }

    #[test]
    fn custom_keys_are_identifiers() {
        assert!(valid_custom_key("contract_end"));
        assert!(!valid_custom_key("Contract"));
        assert!(!valid_custom_key("a'); drop"));
        assert!(!valid_custom_key(""));
    }
}
