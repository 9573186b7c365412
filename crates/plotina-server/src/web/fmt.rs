//! Values as people read them: money, dates and times in the user's locale and time
//! zone, options by their translated labels, links by the linked record's name.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use plotina_core::record::CustomFieldDef;
use plotina_core::schema::{Entity, FieldKind};
use plotina_core::types::Money;
use serde_json::Value as Json;

use super::ctx::Ctx;
use super::lookups::{Lookups, Titles};
use super::urls;
use crate::i18n::{I18n, Lang};

/// A shown value, possibly a link.
#[derive(Debug, Clone, Default)]
pub struct Shown {
    pub text: String,
    pub href: String,
}

impl Shown {
    pub fn text(text: impl Into<String>) -> Shown {
        Shown {
            text: text.into(),
            href: String::new(),
        }
    }
    pub fn link(text: impl Into<String>, href: impl Into<String>) -> Shown {
        Shown {
            text: text.into(),
            href: href.into(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }
}

fn symbol(currency: &str) -> &str {
    match currency {
        "RUB" => "₽",
        "USD" => "$",
        "EUR" => "€",
        "CNY" => "¥",
        other => other,
    }
}

/// `1 234 567,00 ₽` in Russian, `₽1,234,567.00` in English.
pub fn money(lang: Lang, amount: Money, currency: &str) -> String {
    let sym = symbol(currency);
    match lang {
        Lang::Ru => format!("{}\u{00A0}{sym}", amount.format_ru()),
        Lang::En if sym.chars().count() == 1 => format!("{sym}{}", amount.format_en()),
        Lang::En => format!("{} {sym}", amount.format_en()),
    }
}

pub fn money_minor(lang: Lang, minor: i64, currency: &str) -> String {
    money(lang, Money::from_minor(minor), currency)
}

pub fn money_text(lang: Lang, text: &str, currency: &str) -> String {
    match Money::parse(text) {
        Ok(m) => money(lang, m, currency),
        Err(_) => text.to_string(),
    }
}

/// `23.11.2026` in Russian, `2026-11-23` in English.
pub fn date(lang: Lang, d: NaiveDate) -> String {
    match lang {
        Lang::Ru => d.format("%d.%m.%Y").to_string(),
        Lang::En => d.format("%Y-%m-%d").to_string(),
    }
}

pub fn datetime(ctx: &Ctx, t: DateTime<Utc>) -> String {
    let local = t.with_timezone(&ctx.tz);
    match ctx.lang {
        Lang::Ru => local.format("%d.%m.%Y %H:%M").to_string(),
        Lang::En => local.format("%Y-%m-%d %H:%M").to_string(),
    }
}

pub fn datetime_text(ctx: &Ctx, s: &str) -> String {
    plotina_core::value::parse_datetime(s)
        .map(|t| datetime(ctx, t))
        .unwrap_or_else(|_| s.to_string())
}

pub fn date_text(lang: Lang, s: &str) -> String {
    plotina_core::value::parse_date(s)
        .map(|d| date(lang, d))
        .unwrap_or_else(|_| s.to_string())
}

/// The value for a `datetime-local` input, in the user's zone.
pub fn datetime_input(ctx: &Ctx, s: &str) -> String {
    plotina_core::value::parse_datetime(s)
        .map(|t| {
            t.with_timezone(&ctx.tz)
                .format("%Y-%m-%dT%H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

/// A `datetime-local` input's value (the user's zone) as UTC RFC 3339; other text is
/// passed on for the store to reject with its own message.
pub fn datetime_from_input(tz: chrono_tz::Tz, s: &str) -> String {
    let s = s.trim();
    let naive = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S"));
    match naive
        .ok()
        .and_then(|n| tz.from_local_datetime(&n).earliest())
    {
        Some(t) => plotina_core::value::format_datetime(t.with_timezone(&Utc)),
        None => s.to_string(),
    }
}

pub fn yes_no(ctx: &Ctx, b: bool) -> String {
    ctx.t(if b { "ui-yes" } else { "ui-no" })
}

/// The label of a select option: `ui-opt-<field>-<value>`, the value itself if none.
pub fn option_label(lang: Lang, field: &str, value: &str) -> String {
    let id = format!("ui-opt-{field}-{value}");
    let i = I18n::get();
    if i.has(lang, &id) {
        i.text(lang, &id, &[])
    } else {
        value.to_string()
    }
}

pub fn field_label(lang: Lang, entity: Entity, field: &str) -> String {
    let i = I18n::get();
    let specific = format!("ui-field-{}-{field}", entity.code());
    if i.has(lang, &specific) {
        i.text(lang, &specific, &[])
    } else {
        i.field_label(lang, field)
    }
}

pub fn custom_label(lang: Lang, def: &CustomFieldDef) -> String {
    def.label_for(lang.code()).to_string()
}

fn strings(v: &Json) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|x| {
                    x.as_str()
                        .map(String::from)
                        .unwrap_or_else(|| x.to_string())
                })
                .collect()
        })
        .unwrap_or_default()
}

fn link(entity: Entity, id: i64, lk: &Lookups, titles: &Titles) -> Shown {
    if let Some(name) = lk.org_name(entity, id) {
        return Shown::text(name);
    }
    match titles.get(entity, id) {
        Some(t) => Shown::link(t, urls::card(entity, id)),
        // Not visible to the viewer (or gone): no name, no link.
        None => Shown::text("—"),
    }
}

/// A built-in field's value for display.
pub fn show(
    ctx: &Ctx,
    lk: &Lookups,
    titles: &Titles,
    field: &str,
    kind: FieldKind,
    v: &Json,
    rec_currency: &str,
) -> Shown {
    if v.is_null() {
        return Shown::default();
    }
    let lang = ctx.lang;
    match kind {
        FieldKind::Money => Shown::text(money_text(lang, v.as_str().unwrap_or(""), rec_currency)),
        FieldKind::Date => Shown::text(date_text(lang, v.as_str().unwrap_or(""))),
        FieldKind::DateTime => Shown::text(datetime_text(ctx, v.as_str().unwrap_or(""))),
        FieldKind::Bool => Shown::text(yes_no(ctx, v.as_bool().unwrap_or(false))),
        FieldKind::Select(_) => Shown::text(option_label(lang, field, v.as_str().unwrap_or(""))),
        FieldKind::MultiSelect(_) => Shown::text(
            strings(v)
                .iter()
                .map(|s| option_label(lang, field, s))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        FieldKind::Phones | FieldKind::Emails | FieldKind::Tags => {
            Shown::text(strings(v).join(", "))
        }
        FieldKind::Url => {
            let s = v.as_str().unwrap_or("");
            Shown::text(s)
        }
        FieldKind::Ref(target) => match v.as_i64() {
            Some(id) => link(target, id, lk, titles),
            None => Shown::default(),
        },
        FieldKind::RefList(target) => {
            let names: Vec<String> = v
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Json::as_i64)
                        .map(|id| link(target, id, lk, titles).text)
                        .collect()
                })
                .unwrap_or_default();
            Shown::text(names.join(", "))
        }
        FieldKind::CompanyLinks => {
            let names: Vec<String> = v
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|l| l["company_id"].as_i64())
                        .map(|id| link(Entity::Company, id, lk, titles).text)
                        .collect()
                })
                .unwrap_or_default();
            Shown::text(names.join(", "))
        }
        FieldKind::Addresses => {
            let lines: Vec<String> = v
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|x| {
                            let kind = x["kind"].as_str().unwrap_or("actual");
                            format!(
                                "{}: {}",
                                option_label(lang, "address", kind),
                                x["value"].as_str().unwrap_or("")
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            Shown::text(lines.join("; "))
        }
        FieldKind::StringMap => Shown::text(
            v.as_object()
                .map(|o| {
                    o.iter()
                        .map(|(k, x)| format!("{k}: {}", x.as_str().unwrap_or("")))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default(),
        ),
        FieldKind::Json => Shown::text(strings(v).join(", ")),
        _ => Shown::text(match v {
            Json::String(s) => s.clone(),
            other => other.to_string(),
        }),
    }
}

/// A custom field's value for display.
pub fn show_custom(ctx: &Ctx, titles: &Titles, def: &CustomFieldDef, v: &Json) -> Shown {
    if v.is_null() {
        return Shown::default();
    }
    match def.kind.as_str() {
        "money" => Shown::text(money_text(ctx.lang, v.as_str().unwrap_or(""), "RUB")),
        "date" => Shown::text(date_text(ctx.lang, v.as_str().unwrap_or(""))),
        "datetime" => Shown::text(datetime_text(ctx, v.as_str().unwrap_or(""))),
        "bool" => Shown::text(yes_no(ctx, v.as_bool().unwrap_or(false))),
        "multi_select" => Shown::text(strings(v).join(", ")),
        "link" => {
            let target = def.link_entity.unwrap_or(Entity::Company);
            match v
                .as_i64()
                .and_then(|id| titles.get(target, id).map(|t| (id, t)))
            {
                Some((id, t)) => Shown::link(t, urls::card(target, id)),
                None => Shown::text("—"),
            }
        }
        _ => Shown::text(match v {
            Json::String(s) => s.clone(),
            other => other.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_follows_the_locale() {
        let m = Money::parse("1234567").unwrap();
        assert_eq!(
            money(Lang::Ru, m, "RUB"),
            "1\u{202F}234\u{202F}567,00\u{00A0}₽"
        );
        assert_eq!(money(Lang::En, m, "RUB"), "₽1,234,567.00");
        assert_eq!(money(Lang::En, m, "KZT"), "1,234,567.00 KZT");
    }

    #[test]
    fn dates_follow_the_locale() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        assert_eq!(date(Lang::Ru, d), "23.11.2026");
        assert_eq!(date(Lang::En, d), "2026-11-23");
    }

    #[test]
    fn local_input_times_become_utc() {
        let tz: chrono_tz::Tz = "Asia/Yekaterinburg".parse().unwrap();
        assert_eq!(
            datetime_from_input(tz, "2026-11-23T10:00"),
            "2026-11-23T05:00:00.000Z"
        );
        assert_eq!(datetime_from_input(tz, "soon"), "soon");
    }
}
