//! Form fields from the record metadata: which widget a field gets, what it shows (the
//! stored value, or exactly what was typed when the form comes back with errors), how
//! the submitted text becomes the API's JSON, and which error goes next to which field.

use std::collections::BTreeMap;

use plotina_core::error::{DomainError, FieldError};
use plotina_core::record::CustomFieldDef;
use plotina_core::schema::{Entity, FieldDef, FieldKind};
use plotina_core::types::money::SUPPORTED_CURRENCIES;
use plotina_store::Record;
use serde_json::Value as Json;

use super::ctx::{Ctx, FormData};
use super::fmt::{self, custom_label, field_label, option_label};
use super::lookups::{Lookups, Titles};
use crate::i18n::I18n;

#[derive(Debug, Clone, Default)]
pub struct Opt {
    pub value: String,
    pub label: String,
    pub selected: bool,
    /// `data-group` (a stage's pipeline) and `data-kind` (a stage's kind).
    pub group: String,
    pub kind: String,
}

#[derive(Debug, Clone, Default)]
pub struct FieldView {
    pub name: String,
    pub id: String,
    pub label: String,
    /// text, textarea, number, money, date, datetime, checkbox, select, checks, picker, password
    pub widget: &'static str,
    pub value: String,
    pub options: Vec<Opt>,
    pub error: String,
    pub required: bool,
    pub help: String,
    /// For pickers: the plural of the entity searched, several ids or one.
    pub picker: &'static str,
    pub multiple: bool,
    pub picked: Vec<Opt>,
    pub inputmode: &'static str,
    /// Extra class on the field's wrapper (`when-lost` is shown for lost stages only).
    pub wrap: &'static str,
    pub datalist: Vec<String>,
    pub wide: bool,
}

impl FieldView {
    pub fn has_error(&self) -> bool {
        !self.error.is_empty()
    }
}

/// Where a form's values come from.
pub enum Source<'a> {
    Record(&'a Record),
    Form(&'a FormData),
}

/// Errors of a submitted form: per field, and the rest.
#[derive(Debug, Clone, Default)]
pub struct FormErrors {
    pub fields: BTreeMap<String, String>,
    pub general: Vec<String>,
}

impl FormErrors {
    /// Maps a domain error onto the form's fields (by name, `custom.<key>` included);
    /// errors of fields the form does not show become general messages.
    pub fn from_domain(ctx: &Ctx, entity: Entity, e: &DomainError, shown: &[String]) -> FormErrors {
        let i18n = I18n::get();
        let mut out = FormErrors::default();
        let mut add = |fe: &FieldError| {
            let text = i18n.text(ctx.lang, fe.code, &fe.args);
            let field = fe.field.as_str();
            if shown.iter().any(|s| s == field) {
                out.fields.entry(field.to_string()).or_insert(text);
            } else if field.is_empty() || field == "filter" {
                out.general.push(text);
            } else {
                let base = field.rsplit('.').next().unwrap_or(field);
                out.general
                    .push(format!("{}: {text}", field_label(ctx.lang, entity, base)));
            }
        };
        match e {
            DomainError::Invalid(errs) => errs.iter().for_each(&mut add),
            DomainError::Conflict(fe) | DomainError::BadRequest(fe) => add(fe),
            DomainError::Locked(r) => add(&r.reason),
            DomainError::BadFilter(fe) => {
                let mut args = fe.args.clone();
                args.push(("position", fe.pos.to_string()));
                out.general.push(i18n.text(ctx.lang, fe.code, &args));
            }
            DomainError::Stale { .. } => out.general.push(ctx.t("problem-stale_version")),
            DomainError::Forbidden(code) => {
                out.general
                    .push(i18n.text(ctx.lang, &format!("problem-{code}"), &[]))
            }
            DomainError::NotFound => out.general.push(ctx.t("problem-not_found")),
        }
        out
    }
}

/// The fields a form shows, in order.
pub fn form_fields(entity: Entity, create: bool) -> Vec<&'static FieldDef> {
    let names: &[&str] = match entity {
        Entity::Company => &[
            "name",
            "legal_name",
            "inn",
            "kpp",
            "industry",
            "roles",
            "phones",
            "emails",
            "website",
            "source",
            "addresses",
            "owner_id",
            "private",
            "tags",
            "description",
        ],
        Entity::Contact => &[
            "last_name",
            "first_name",
            "middle_name",
            "position",
            "companies",
            "phones",
            "emails",
            "birthday",
            "messengers",
            "source",
            "owner_id",
            "tags",
        ],
        Entity::Lead => &[
            "title",
            "status",
            "junk_reason",
            "source",
            "contact_name",
            "company_name",
            "phone",
            "email",
            "inn",
            "amount",
            "message",
            "owner_id",
            "tags",
        ],
        Entity::Deal => &[
            "title",
            "pipeline_id",
            "stage_id",
            "lost_reason",
            "amount",
            "currency",
            "close_date",
            "company_id",
            "contact_ids",
            "source",
            "parent_id",
            "probability",
            "planned_deadline",
            "actual_deadline",
            "owner_id",
            "tags",
            "description",
        ],
        Entity::Activity => &[
            "kind",
            "subject",
            "body",
            "due_at",
            "duration_min",
            "done",
            "result",
            "direction",
            "assignee_id",
            "company_id",
            "contact_id",
            "deal_id",
            "lead_id",
            "owner_id",
        ],
        Entity::User => &[
            "login",
            "name",
            "email",
            "phone",
            "department_id",
            "role_id",
            "language",
            "time_zone",
            "active",
        ],
        Entity::Department => &["name", "parent_id", "head_id"],
        Entity::Role => &["name", "code", "is_admin"],
        Entity::Pipeline => &[
            "name",
            "code",
            "department_id",
            "forbid_skip",
            "lost_reasons",
            "position",
            "active",
            "discount_floor_pct",
            "approval_escalation_hours",
        ],
        Entity::Stage => &["name", "kind", "probability", "rotten_days", "position"],
        Entity::CustomField => &[
            "entity",
            "key",
            "label",
            "label_en",
            "kind",
            "options",
            "link_entity",
            "required",
            "hidden",
            "position",
        ],
    };
    names
        .iter()
        .filter_map(|n| entity.field(n))
        .filter(|f| create || f.access != plotina_core::schema::Access::CreateOnly)
        .collect()
}

/// Time zones offered in forms (Russia's, then a few neighbours').
pub const TIME_ZONES: &[&str] = &[
    "Europe/Kaliningrad",
    "Europe/Moscow",
    "Europe/Samara",
    "Asia/Yekaterinburg",
    "Asia/Omsk",
    "Asia/Novosibirsk",
    "Asia/Krasnoyarsk",
    "Asia/Irkutsk",
    "Asia/Yakutsk",
    "Asia/Vladivostok",
    "Asia/Magadan",
    "Asia/Kamchatka",
    "Europe/Minsk",
    "Asia/Almaty",
    "Asia/Tashkent",
    "UTC",
];

fn json_strings(v: &Json) -> Vec<String> {
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

/// The text an input shows for a stored value.
pub fn input_value(ctx: &Ctx, field: &str, kind: FieldKind, v: &Json) -> String {
    if v.is_null() {
        return String::new();
    }
    match kind {
        FieldKind::DateTime => fmt::datetime_input(ctx, v.as_str().unwrap_or("")),
        FieldKind::Bool => {
            if v.as_bool() == Some(true) {
                "true".into()
            } else {
                String::new()
            }
        }
        FieldKind::MultiSelect(_)
        | FieldKind::RefList(_)
        | FieldKind::Phones
        | FieldKind::Emails
        | FieldKind::Tags => json_strings(v).join(", "),
        FieldKind::CompanyLinks => v
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|l| l["company_id"].as_i64())
                    .map(|i| i.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default(),
        FieldKind::Addresses => v
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|x| {
                        let kind = x["kind"].as_str().unwrap_or("actual");
                        let value = x["value"].as_str().unwrap_or("");
                        if kind == "actual" {
                            value.to_string()
                        } else {
                            format!("{}: {value}", option_label(ctx.lang, "address", kind))
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default(),
        FieldKind::StringMap => v
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, x)| format!("{k}: {}", x.as_str().unwrap_or("")))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default(),
        FieldKind::Json if field == "lost_reasons" || field == "options" => {
            json_strings(v).join("\n")
        }
        _ => match v {
            Json::String(s) => s.clone(),
            other => other.to_string(),
        },
    }
}

fn select_opts(
    lang: crate::i18n::Lang,
    field: &str,
    options: &[&str],
    current: &[String],
) -> Vec<Opt> {
    options
        .iter()
        .map(|o| Opt {
            value: o.to_string(),
            label: option_label(lang, field, o),
            selected: current.iter().any(|c| c == o),
            ..Default::default()
        })
        .collect()
}

fn named_opts(items: impl Iterator<Item = (i64, String, bool)>, current: &str) -> Vec<Opt> {
    items
        .filter(|(id, _, active)| *active || id.to_string() == current)
        .map(|(id, name, _)| Opt {
            selected: id.to_string() == current,
            value: id.to_string(),
            label: name,
            ..Default::default()
        })
        .collect()
}

fn picker_of(entity: Entity) -> &'static str {
    entity.plural()
}

pub fn split_list(s: &str) -> Vec<String> {
    s.split([',', ';', '\n'])
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(String::from)
        .collect()
}

/// Builds the view of one built-in field.
pub fn builtin_view(
    ctx: &Ctx,
    lk: &Lookups,
    titles: &Titles,
    entity: Entity,
    def: &FieldDef,
    src: &Source<'_>,
) -> FieldView {
    let lang = ctx.lang;
    let name = def.name;
    let (value, multi): (String, Vec<String>) = match src {
        Source::Record(rec) => {
            let v = rec.get(name).cloned().unwrap_or(Json::Null);
            let multi = match def.kind {
                FieldKind::MultiSelect(_) => json_strings(&v),
                _ => Vec::new(),
            };
            (input_value(ctx, name, def.kind, &v), multi)
        }
        Source::Form(f) => {
            let all: Vec<String> = f.all(name).into_iter().map(String::from).collect();
            (f.get(name).unwrap_or("").to_string(), all)
        }
    };
    let mut fv = FieldView {
        id: format!("f-{name}"),
        name: name.to_string(),
        label: field_label(lang, entity, name),
        required: def.required,
        value: value.clone(),
        widget: "text",
        ..Default::default()
    };
    match def.kind {
        FieldKind::LongText => {
            fv.widget = "textarea";
            fv.wide = true;
        }
        FieldKind::Int { .. } => {
            fv.widget = "number";
            fv.inputmode = "numeric";
        }
        FieldKind::Money => {
            fv.widget = "money";
            fv.inputmode = "decimal";
        }
        FieldKind::Date => fv.widget = "date",
        FieldKind::DateTime => fv.widget = "datetime",
        FieldKind::Bool => fv.widget = "checkbox",
        FieldKind::Inn | FieldKind::Kpp => fv.inputmode = "numeric",
        FieldKind::Phone => fv.inputmode = "tel",
        FieldKind::Email => fv.inputmode = "email",
        FieldKind::Url => fv.inputmode = "url",
        FieldKind::Currency => {
            fv.widget = "select";
            let cur = if value.is_empty() {
                "RUB".to_string()
            } else {
                value.clone()
            };
            fv.options = SUPPORTED_CURRENCIES
                .iter()
                .map(|c| Opt {
                    value: c.to_string(),
                    label: c.to_string(),
                    selected: *c == cur,
                    ..Default::default()
                })
                .collect();
            fv.required = true;
        }
        FieldKind::Select(options) => {
            fv.widget = "select";
            let shown: Vec<&str> = options
                .iter()
                .copied()
                .filter(|o| {
                    !(entity == Entity::Lead
                        && name == "status"
                        && *o == "converted"
                        && value != "converted")
                })
                .collect();
            fv.options = select_opts(lang, name, &shown, std::slice::from_ref(&value));
        }
        FieldKind::MultiSelect(options) => {
            fv.widget = "checks";
            fv.options = select_opts(lang, name, options, &multi);
            fv.wide = true;
        }
        FieldKind::Phones | FieldKind::Emails | FieldKind::Tags => {
            fv.widget = "textarea";
            fv.help = ctx.t("ui-help-list");
        }
        FieldKind::Addresses => {
            fv.widget = "textarea";
            fv.help = ctx.t("ui-help-addresses");
            fv.wide = true;
        }
        FieldKind::StringMap => {
            fv.widget = "textarea";
            fv.help = ctx.t("ui-help-map");
        }
        FieldKind::Json => {
            fv.widget = "textarea";
            fv.help = ctx.t("ui-help-lines");
        }
        FieldKind::Language => {
            fv.widget = "select";
            fv.options = ["ru", "en"]
                .iter()
                .map(|l| Opt {
                    value: l.to_string(),
                    label: option_label(lang, "language", l),
                    selected: value == *l,
                    ..Default::default()
                })
                .collect();
        }
        FieldKind::TimeZone => {
            fv.widget = "select";
            let mut zones: Vec<&str> = TIME_ZONES.to_vec();
            if !value.is_empty() && !zones.contains(&value.as_str()) {
                zones.push(&value);
            }
            fv.options = zones
                .iter()
                .map(|z| Opt {
                    value: z.to_string(),
                    label: z.to_string(),
                    selected: value == *z,
                    ..Default::default()
                })
                .collect();
        }
        FieldKind::Ref(target) => ref_widget(lk, titles, &mut fv, target, &value),
        FieldKind::RefList(target) => {
            picker(titles, &mut fv, target, &value);
            fv.multiple = true;
        }
        FieldKind::CompanyLinks => {
            picker(titles, &mut fv, Entity::Company, &value);
            fv.multiple = true;
        }
        _ => {}
    }
    if entity == Entity::Deal && name == "lost_reason" {
        fv.wrap = "when-lost";
        let mut reasons: Vec<String> = lk
            .pipelines
            .iter()
            .flat_map(|p| p.lost_reasons.clone())
            .collect();
        reasons.dedup();
        fv.datalist = reasons;
    }
    fv
}

fn ref_widget(lk: &Lookups, titles: &Titles, fv: &mut FieldView, target: Entity, value: &str) {
    let opts = match target {
        Entity::User => named_opts(
            lk.users.iter().map(|u| (u.id, u.name.clone(), u.active)),
            value,
        ),
        Entity::Department => named_opts(
            lk.departments.iter().map(|u| (u.id, u.name.clone(), true)),
            value,
        ),
        Entity::Role => named_opts(lk.roles.iter().map(|u| (u.id, u.name.clone(), true)), value),
        Entity::Pipeline => named_opts(
            lk.pipelines
                .iter()
                .map(|p| (p.id, p.name.clone(), p.active)),
            value,
        ),
        Entity::Stage => lk
            .stages
            .iter()
            .map(|s| Opt {
                value: s.id.to_string(),
                label: format!(
                    "{} · {}",
                    lk.pipeline(s.pipeline_id)
                        .map(|p| p.name.as_str())
                        .unwrap_or(""),
                    s.name
                ),
                selected: s.id.to_string() == value,
                group: s.pipeline_id.to_string(),
                kind: s.kind.clone(),
            })
            .collect(),
        _ => {
            picker(titles, fv, target, value);
            return;
        }
    };
    fv.widget = "select";
    fv.options = opts;
}

fn picker(titles: &Titles, fv: &mut FieldView, target: Entity, value: &str) {
    fv.widget = "picker";
    fv.picker = picker_of(target);
    fv.inputmode = "numeric";
    fv.picked = split_list(value)
        .iter()
        .filter_map(|s| s.parse::<i64>().ok())
        .map(|id| Opt {
            value: id.to_string(),
            label: titles.get(target, id).unwrap_or("—").to_string(),
            ..Default::default()
        })
        .collect();
}

/// Builds the view of one custom field.
pub fn custom_view(
    ctx: &Ctx,
    titles: &Titles,
    def: &CustomFieldDef,
    src: &Source<'_>,
) -> FieldView {
    let name = format!("custom.{}", def.key);
    let (value, multi): (String, Vec<String>) = match src {
        Source::Record(rec) => {
            let v = rec
                .get("custom")
                .and_then(|c| c.get(&def.key))
                .cloned()
                .unwrap_or(Json::Null);
            let text = match (def.kind.as_str(), &v) {
                (_, Json::Null) => String::new(),
                ("datetime", Json::String(s)) => fmt::datetime_input(ctx, s),
                ("bool", Json::Bool(b)) => {
                    if *b {
                        "true".into()
                    } else {
                        String::new()
                    }
                }
                (_, Json::String(s)) => s.clone(),
                (_, other) => other.to_string(),
            };
            (text, json_strings(&v))
        }
        Source::Form(f) => (
            f.get(&name).unwrap_or("").to_string(),
            f.all(&name).into_iter().map(String::from).collect(),
        ),
    };
    let mut fv = FieldView {
        id: format!("f-custom-{}", def.key),
        name,
        label: custom_label(ctx.lang, def),
        required: def.required,
        value: value.clone(),
        widget: "text",
        ..Default::default()
    };
    let opts = |current: &[String]| -> Vec<Opt> {
        def.options
            .iter()
            .map(|o| Opt {
                value: o.clone(),
                label: o.clone(),
                selected: current.contains(o),
                ..Default::default()
            })
            .collect()
    };
    match def.kind.as_str() {
        "long_text" => fv.widget = "textarea",
        "number" => fv.inputmode = "decimal",
        "money" => {
            fv.widget = "money";
            fv.inputmode = "decimal";
        }
        "date" => fv.widget = "date",
        "datetime" => fv.widget = "datetime",
        "bool" => fv.widget = "checkbox",
        "select" => {
            fv.widget = "select";
            fv.options = opts(std::slice::from_ref(&value));
        }
        "multi_select" => {
            fv.widget = "checks";
            fv.options = opts(&multi);
        }
        "phone" => fv.inputmode = "tel",
        "email" => fv.inputmode = "email",
        "url" => fv.inputmode = "url",
        "link" => picker(
            titles,
            &mut fv,
            def.link_entity.unwrap_or(Entity::Company),
            &value,
        ),
        _ => {}
    }
    fv
}

/// Puts errors next to their fields.
pub fn attach_errors(views: &mut [FieldView], errors: &FormErrors) {
    for v in views.iter_mut() {
        if let Some(e) = errors.fields.get(&v.name) {
            v.error = e.clone();
        }
    }
}
