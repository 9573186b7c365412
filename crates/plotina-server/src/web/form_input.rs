//! Submitted forms as the API's JSON (local times to UTC, lists split, links kept),
//! and the linked records a page must name.

use std::collections::BTreeMap;

use plotina_core::record::CustomFieldDef;
use plotina_core::schema::{Entity, FieldDef, FieldKind, ADDRESS_KINDS};
use plotina_store::Record;
use serde_json::{json, Map, Value as Json};

use super::ctx::{Ctx, FormData};
use super::fields::split_list;
use super::fmt::{self, option_label};

fn text_or_null(s: &str) -> Json {
    let t = s.trim();
    if t.is_empty() {
        Json::Null
    } else {
        Json::String(t.to_string())
    }
}

fn address_kind(lang: crate::i18n::Lang, prefix: &str) -> Option<&'static str> {
    let p = prefix.trim().to_lowercase();
    ADDRESS_KINDS
        .iter()
        .copied()
        .find(|k| *k == p || option_label(lang, "address", k).to_lowercase() == p)
}

/// One built-in field's submitted text as the API's JSON.
pub fn parse_builtin(ctx: &Ctx, def: &FieldDef, form: &FormData, old: Option<&Record>) -> Json {
    let name = def.name;
    let raw = form.get(name).unwrap_or("");
    match def.kind {
        FieldKind::Bool => Json::Bool(matches!(raw, "true" | "on" | "1")),
        FieldKind::DateTime => text_or_null(&fmt::datetime_from_input(ctx.tz, raw)),
        FieldKind::MultiSelect(_) => json!(form
            .all(name)
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()),
        FieldKind::Phones | FieldKind::Emails | FieldKind::Tags | FieldKind::RefList(_) => {
            json!(split_list(raw))
        }
        FieldKind::CompanyLinks => {
            let roles: BTreeMap<i64, Json> = old
                .and_then(|o| o.get(name))
                .and_then(Json::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|l| Some((l["company_id"].as_i64()?, l["role"].clone())))
                        .collect()
                })
                .unwrap_or_default();
            json!(split_list(raw)
                .iter()
                .map(|s| match s.parse::<i64>() {
                    Ok(id) => json!({"company_id": id, "role": roles.get(&id).cloned().unwrap_or(Json::Null)}),
                    Err(_) => json!(s),
                })
                .collect::<Vec<_>>())
        }
        FieldKind::Addresses => json!(raw
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| {
                match l
                    .split_once(':')
                    .and_then(|(p, v)| Some((address_kind(ctx.lang, p)?, v)))
                {
                    Some((kind, v)) => json!({"kind": kind, "value": v.trim()}),
                    None => json!({"kind": "actual", "value": l}),
                }
            })
            .collect::<Vec<_>>()),
        FieldKind::StringMap => Json::Object(
            raw.lines()
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_string(), Json::String(v.trim().to_string())))
                .filter(|(k, _)| !k.is_empty())
                .collect(),
        ),
        FieldKind::Json => json!(raw
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()),
        _ => text_or_null(raw),
    }
}

pub fn parse_custom(ctx: &Ctx, def: &CustomFieldDef, form: &FormData) -> Json {
    let name = format!("custom.{}", def.key);
    let raw = form.get(&name).unwrap_or("");
    match def.kind.as_str() {
        "bool" => Json::Bool(matches!(raw, "true" | "on" | "1")),
        "datetime" => text_or_null(&fmt::datetime_from_input(ctx.tz, raw)),
        "multi_select" => json!(form
            .all(&name)
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()),
        _ => text_or_null(raw),
    }
}

/// Whether a form sent a field. Unchecked boxes send nothing, so for them absence
/// means "off".
fn sent(form: &FormData, name: &str, boxes: bool) -> bool {
    boxes || form.has(name)
}

/// A whole form as the API's create/update body. On update (`old` given) a field the
/// form did not send is left alone.
pub fn body_from_form(
    ctx: &Ctx,
    fields: &[&FieldDef],
    customs: &[CustomFieldDef],
    form: &FormData,
    old: Option<&Record>,
) -> Map<String, Json> {
    let mut body = Map::new();
    let update = old.is_some();
    for def in fields {
        let boxes = matches!(def.kind, FieldKind::Bool | FieldKind::MultiSelect(_));
        if !update || sent(form, def.name, boxes) {
            body.insert(def.name.to_string(), parse_builtin(ctx, def, form, old));
        }
    }
    let mut custom = Map::new();
    for def in customs.iter().filter(|d| !d.hidden) {
        let boxes = matches!(def.kind.as_str(), "bool" | "multi_select");
        if !update || sent(form, &format!("custom.{}", def.key), boxes) {
            custom.insert(def.key.clone(), parse_custom(ctx, def, form));
        }
    }
    if !custom.is_empty() {
        body.insert("custom".into(), Json::Object(custom));
    }
    body
}

/// Ids of linked business records a set of records (or a form) refers to, so their
/// titles can be loaded in one go per entity.
pub fn wanted_links(
    entity: Entity,
    customs: &[CustomFieldDef],
    recs: &[&Record],
    out: &mut BTreeMap<Entity, std::collections::BTreeSet<i64>>,
) {
    for rec in recs {
        for def in entity.fields() {
            let v = rec.get(def.name).unwrap_or(&Json::Null);
            let (target, ids): (Entity, Vec<i64>) = match def.kind {
                FieldKind::Ref(t) if t.is_business() => (t, v.as_i64().into_iter().collect()),
                FieldKind::RefList(t) => (
                    t,
                    v.as_array()
                        .map(|a| a.iter().filter_map(Json::as_i64).collect())
                        .unwrap_or_default(),
                ),
                FieldKind::CompanyLinks => (
                    Entity::Company,
                    v.as_array()
                        .map(|a| a.iter().filter_map(|l| l["company_id"].as_i64()).collect())
                        .unwrap_or_default(),
                ),
                _ => continue,
            };
            out.entry(target).or_default().extend(ids);
        }
        for def in customs.iter().filter(|d| d.kind == "link") {
            if let Some(id) = rec
                .get("custom")
                .and_then(|c| c.get(&def.key))
                .and_then(Json::as_i64)
            {
                out.entry(def.link_entity.unwrap_or(Entity::Company))
                    .or_default()
                    .insert(id);
            }
        }
    }
}

/// The same for a submitted form (pickers show the names of the ids typed).
pub fn wanted_from_form(
    entity: Entity,
    customs: &[CustomFieldDef],
    form: &FormData,
    out: &mut BTreeMap<Entity, std::collections::BTreeSet<i64>>,
) {
    let mut rec = Record::new();
    for def in entity.fields() {
        let raw = form.text(def.name);
        match def.kind {
            FieldKind::Ref(_) => {
                if let Ok(id) = raw.parse::<i64>() {
                    rec.insert(def.name.into(), json!(id));
                }
            }
            FieldKind::RefList(_) => {
                let ids: Vec<i64> = split_list(raw)
                    .iter()
                    .filter_map(|s| s.parse().ok())
                    .collect();
                rec.insert(def.name.into(), json!(ids));
            }
            FieldKind::CompanyLinks => {
                let ids: Vec<Json> = split_list(raw)
                    .iter()
                    .filter_map(|s| s.parse::<i64>().ok())
                    .map(|i| json!({"company_id": i}))
                    .collect();
                rec.insert(def.name.into(), json!(ids));
            }
            _ => {}
        }
    }
    let mut custom = Map::new();
    for def in customs.iter().filter(|d| d.kind == "link") {
        if let Ok(id) = form.text(&format!("custom.{}", def.key)).parse::<i64>() {
            custom.insert(def.key.clone(), json!(id));
        }
    }
    rec.insert("custom".into(), Json::Object(custom));
    wanted_links(entity, customs, &[&rec], out);
}
