//! `record_lookup`: list values (phones, e-mails, tags, options, links) mirrored into
//! rows so that search, duplicate checks and filters use an index.
//!
//! Besides the value itself (kinds `phone`, `email`, …), two kinds are derived from a
//! value and written with it, so that global search finds a record by a part of a value
//! with a range of the `(kind, value, entity)` index instead of a scan:
//! - [`EMAIL_DOMAIN`]: what follows the first `@` of an e-mail (`mail.ru`);
//! - [`PHONE_REVERSED`]: the digits of a phone, last first (`+79161234567` →
//!   `76543216197`), so the tail people type ("45-67") is a prefix of it.
//!
//! Every writer goes through [`field_rows`] (records, import, merge, the demo writer);
//! migration 0034 fills the derived rows of a base written before them with the same
//! rule in SQL; `db copy` copies the rows as they are.

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

/// The kind of the rows holding the domains of e-mails.
pub const EMAIL_DOMAIN: &str = "email_domain";
/// The kind of the rows holding the digits of phones in reverse order.
pub const PHONE_REVERSED: &str = "phone_rev";

/// The row derived from one value of the given look-up kind, if that kind has one: the
/// domain of an e-mail (after the first `@`; none when empty), the digits of a phone
/// reversed. Migration 0034 computes the same in SQL.
pub fn derived(kind: &str, value: &str) -> Option<(&'static str, String)> {
    match kind {
        "email" => value
            .split_once('@')
            .map(|(_, domain)| domain)
            .filter(|d| !d.is_empty())
            .map(|d| (EMAIL_DOMAIN, d.to_string())),
        "phone" => {
            let digits: String = value.chars().rev().filter(char::is_ascii_digit).collect();
            (!digits.is_empty()).then_some((PHONE_REVERSED, digits))
        }
        _ => None,
    }
}

/// The look-up rows of one field's value: `(kind, value)`, each value followed by the
/// row derived from it ([`derived`]).
pub fn field_rows(f: &FieldDef, v: &Json) -> Vec<(&'static str, String)> {
    let kind = f.kind.lookup_kind().unwrap_or("value");
    let mut out = Vec::new();
    for value in values(f.kind, v) {
        let extra = derived(kind, &value);
        out.push((kind, value));
        out.extend(extra);
    }
    out
}

pub fn indexed_fields(entity: Entity) -> impl Iterator<Item = &'static FieldDef> {
    entity.fields().filter(|f| f.kind.lookup_kind().is_some())
}

/// The lookup rows of the given fields of one record: `(field, kind, value)`, derived
/// rows included.
pub fn rows(
    entity: Entity,
    rec: &Record,
    only: Option<&[&str]>,
) -> Vec<(&'static str, &'static str, String)> {
    let mut out = Vec::new();
    for f in indexed_fields(entity).filter(|f| only.is_none_or(|names| names.contains(&f.name))) {
        for (kind, v) in field_rows(f, rec.get(f.name).unwrap_or(&Json::Null)) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_rows_hold_the_domain_and_the_reversed_digits() {
        assert_eq!(
            derived("email", "ivanov@mail.ru"),
            Some((EMAIL_DOMAIN, "mail.ru".to_string()))
        );
        assert_eq!(derived("email", "ivanov@"), None);
        assert_eq!(derived("email", "no-at-sign"), None);
        assert_eq!(
            derived("phone", "+79161234567"),
            Some((PHONE_REVERSED, "76543216197".to_string()))
        );
        assert_eq!(derived("tag", "vip"), None);
        let f = Entity::Contact.field("emails").unwrap();
        assert_eq!(
            field_rows(f, &serde_json::json!(["A@B.ru", "c@d.com"])),
            [
                ("email", "a@b.ru".to_string()),
                (EMAIL_DOMAIN, "b.ru".to_string()),
                ("email", "c@d.com".to_string()),
                (EMAIL_DOMAIN, "d.com".to_string()),
            ]
        );
    }
}
