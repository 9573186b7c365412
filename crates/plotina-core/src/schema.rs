//! Record metadata: which entities exist, which fields they have and of what kind.
//!
//! Plotina is metadata-driven the way business CRMs are: one description of every field
//! drives validation, storage columns, the filter language, sorting, history, OpenAPI and
//! the UI. Adding a field is one line here plus a migration.

use serde::Serialize;

/// Every kind of record Plotina stores through the generic record engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Entity {
    Company,
    Contact,
    Lead,
    Deal,
    Activity,
    User,
    Department,
    Role,
    Pipeline,
    Stage,
    CustomField,
}

/// The kind of value a field holds; decides parsing, storage type and filter semantics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Id,
    Text {
        max: usize,
    },
    LongText,
    Int {
        min: i64,
        max: i64,
    },
    /// Decimal money with two places, stored as an integer number of kopecks.
    Money,
    Currency,
    Date,
    DateTime,
    Bool,
    Select(&'static [&'static str]),
    /// Several values from a fixed list; stored as a JSON array.
    MultiSelect(&'static [&'static str]),
    Inn,
    Kpp,
    Phone,
    Email,
    Url,
    /// A list of phones (E.164), stored as a JSON array and indexed in `record_lookup`.
    Phones,
    /// A list of e-mails, stored as a JSON array and indexed in `record_lookup`.
    Emails,
    Tags,
    /// `[{"kind": "legal|actual|delivery", "value": "...", "name": "..."}]`
    Addresses,
    /// A contact's companies: `[{"company_id": 1, "role": "..."}]`.
    CompanyLinks,
    /// String-to-string object (messenger handles).
    StringMap,
    /// Opaque JSON object (raw inbound payload, role permissions, select options).
    Json,
    Ref(Entity),
    /// A list of record ids stored as a JSON array and indexed in `record_lookup`.
    RefList(Entity),
    Language,
    TimeZone,
}

impl FieldKind {
    /// Kinds whose values are stored as JSON documents.
    pub fn is_json(self) -> bool {
        matches!(
            self,
            FieldKind::MultiSelect(_)
                | FieldKind::Phones
                | FieldKind::Emails
                | FieldKind::Tags
                | FieldKind::Addresses
                | FieldKind::CompanyLinks
                | FieldKind::StringMap
                | FieldKind::Json
                | FieldKind::RefList(_)
        )
    }

    /// List kinds that are mirrored into `record_lookup` so "contains" filters and
    /// searches use an index instead of scanning JSON.
    pub fn lookup_kind(self) -> Option<&'static str> {
        match self {
            FieldKind::Phones | FieldKind::Phone => Some("phone"),
            FieldKind::Emails | FieldKind::Email => Some("email"),
            FieldKind::Tags => Some("tag"),
            FieldKind::MultiSelect(_) => Some("option"),
            FieldKind::RefList(_) => Some("ref"),
            FieldKind::CompanyLinks => Some("company"),
            _ => None,
        }
    }

    /// Short name used in the API schema and in custom-field definitions.
    pub fn type_name(self) -> &'static str {
        match self {
            FieldKind::Id => "id",
            FieldKind::Text { .. } => "text",
            FieldKind::LongText => "long_text",
            FieldKind::Int { .. } => "number",
            FieldKind::Money => "money",
            FieldKind::Currency => "currency",
            FieldKind::Date => "date",
            FieldKind::DateTime => "datetime",
            FieldKind::Bool => "bool",
            FieldKind::Select(_) => "select",
            FieldKind::MultiSelect(_) => "multi_select",
            FieldKind::Inn => "inn",
            FieldKind::Kpp => "kpp",
            FieldKind::Phone => "phone",
            FieldKind::Email => "email",
            FieldKind::Url => "url",
            FieldKind::Phones => "phones",
            FieldKind::Emails => "emails",
            FieldKind::Tags => "tags",
            FieldKind::Addresses => "addresses",
            FieldKind::CompanyLinks => "company_links",
            FieldKind::StringMap => "string_map",
            FieldKind::Json => "json",
            FieldKind::Ref(_) => "link",
            FieldKind::RefList(_) => "links",
            FieldKind::Language => "language",
            FieldKind::TimeZone => "time_zone",
        }
    }
}

/// Who may write a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Clients set it on create and update.
    Write,
    /// Clients set it on create only.
    CreateOnly,
    /// Maintained by the system (ids, audit columns, conversion links, computed columns).
    System,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldDef {
    pub name: &'static str,
    pub kind: FieldKind,
    pub required: bool,
    pub access: Access,
    /// Hidden fields are stored and filterable but not shown in the UI by default.
    pub hidden: bool,
}

const fn f(name: &'static str, kind: FieldKind) -> FieldDef {
    FieldDef {
        name,
        kind,
        required: false,
        access: Access::Write,
        hidden: false,
    }
}
const fn req(name: &'static str, kind: FieldKind) -> FieldDef {
    FieldDef {
        name,
        kind,
        required: true,
        access: Access::Write,
        hidden: false,
    }
}
const fn sys(name: &'static str, kind: FieldKind) -> FieldDef {
    FieldDef {
        name,
        kind,
        required: false,
        access: Access::System,
        hidden: false,
    }
}

const NAME: FieldKind = FieldKind::Text { max: 255 };
const SHORT: FieldKind = FieldKind::Text { max: 100 };
const PERCENT: FieldKind = FieldKind::Int { min: 0, max: 100 };
const COUNT: FieldKind = FieldKind::Int {
    min: 0,
    max: 1_000_000,
};
const POSITION: FieldKind = FieldKind::Int {
    min: 0,
    max: 10_000,
};

pub const COMPANY_ROLES: &[&str] = &[
    "customer",
    "prospect",
    "supplier",
    "contractor",
    "partner",
    "competitor",
];
pub const LEAD_SOURCES: &[&str] = &["web_form", "call", "email", "manual", "import", "api"];
pub const LEAD_STATUSES: &[&str] = &["new", "in_work", "converted", "junk"];
pub const ACTIVITY_KINDS: &[&str] = &["call", "meeting", "email", "sms", "note", "task"];
pub const CALL_DIRECTIONS: &[&str] = &["incoming", "outgoing"];
pub const STAGE_KINDS: &[&str] = &["open", "won", "lost"];
pub const ADDRESS_KINDS: &[&str] = &["legal", "actual", "delivery", "postal"];
pub const CUSTOM_FIELD_ENTITIES: &[&str] = &["company", "contact", "lead", "deal", "activity"];
pub const CUSTOM_FIELD_KINDS: &[&str] = &[
    "text",
    "long_text",
    "number",
    "money",
    "date",
    "datetime",
    "bool",
    "select",
    "multi_select",
    "phone",
    "email",
    "url",
    "link",
];

/// Audit and ownership columns every record carries (DESIGN.md §3).
pub const COMMON_FIELDS: &[FieldDef] = &[
    sys("id", FieldKind::Id),
    sys("created_at", FieldKind::DateTime),
    sys("created_by", FieldKind::Ref(Entity::User)),
    sys("updated_at", FieldKind::DateTime),
    sys("updated_by", FieldKind::Ref(Entity::User)),
    f("owner_id", FieldKind::Ref(Entity::User)),
    sys(
        "version",
        FieldKind::Int {
            min: 1,
            max: i64::MAX,
        },
    ),
    sys("deleted_at", FieldKind::DateTime),
    f("tags", FieldKind::Tags),
];

const COMPANY: &[FieldDef] = &[
    req("name", NAME),
    f("legal_name", FieldKind::Text { max: 500 }),
    f("inn", FieldKind::Inn),
    f("kpp", FieldKind::Kpp),
    f("industry", SHORT),
    f("roles", FieldKind::MultiSelect(COMPANY_ROLES)),
    f("addresses", FieldKind::Addresses),
    f("phones", FieldKind::Phones),
    f("emails", FieldKind::Emails),
    f("website", FieldKind::Url),
    f("source", SHORT),
    f("private", FieldKind::Bool),
    f("description", FieldKind::LongText),
];

const CONTACT: &[FieldDef] = &[
    f("last_name", SHORT),
    f("first_name", SHORT),
    f("middle_name", SHORT),
    sys("full_name", FieldKind::Text { max: 310 }),
    f("position", NAME),
    f("companies", FieldKind::CompanyLinks),
    f("phones", FieldKind::Phones),
    f("emails", FieldKind::Emails),
    f("birthday", FieldKind::Date),
    f("messengers", FieldKind::StringMap),
    f("source", SHORT),
];

const LEAD: &[FieldDef] = &[
    req("title", NAME),
    f("source", FieldKind::Select(LEAD_SOURCES)),
    f("status", FieldKind::Select(LEAD_STATUSES)),
    f("junk_reason", NAME),
    f("contact_name", NAME),
    f("company_name", NAME),
    f("phone", FieldKind::Phone),
    f("email", FieldKind::Email),
    f("inn", FieldKind::Inn),
    f("amount", FieldKind::Money),
    f("message", FieldKind::LongText),
    FieldDef {
        access: Access::CreateOnly,
        ..f("payload", FieldKind::Json)
    },
    sys("company_id", FieldKind::Ref(Entity::Company)),
    sys("contact_id", FieldKind::Ref(Entity::Contact)),
    sys("deal_id", FieldKind::Ref(Entity::Deal)),
    sys("converted_at", FieldKind::DateTime),
];

const DEAL: &[FieldDef] = &[
    req("title", NAME),
    req("pipeline_id", FieldKind::Ref(Entity::Pipeline)),
    f("stage_id", FieldKind::Ref(Entity::Stage)),
    f("amount", FieldKind::Money),
    f("currency", FieldKind::Currency),
    f("close_date", FieldKind::Date),
    f("probability", PERCENT),
    f("company_id", FieldKind::Ref(Entity::Company)),
    f("contact_ids", FieldKind::RefList(Entity::Contact)),
    f("source", SHORT),
    f("lost_reason", NAME),
    f("parent_id", FieldKind::Ref(Entity::Deal)),
    f("planned_deadline", FieldKind::Date),
    f("actual_deadline", FieldKind::Date),
    f("description", FieldKind::LongText),
    f("discount_pct", PERCENT),
    sys("lead_id", FieldKind::Ref(Entity::Lead)),
    sys("stage_changed_at", FieldKind::DateTime),
    sys("closed_at", FieldKind::DateTime),
];

const ACTIVITY: &[FieldDef] = &[
    req("kind", FieldKind::Select(ACTIVITY_KINDS)),
    f("subject", NAME),
    f("body", FieldKind::LongText),
    f("due_at", FieldKind::DateTime),
    f("duration_min", COUNT),
    f("done", FieldKind::Bool),
    sys("done_at", FieldKind::DateTime),
    f("result", FieldKind::Text { max: 2000 }),
    f("direction", FieldKind::Select(CALL_DIRECTIONS)),
    f("assignee_id", FieldKind::Ref(Entity::User)),
    f("company_id", FieldKind::Ref(Entity::Company)),
    f("contact_id", FieldKind::Ref(Entity::Contact)),
    f("deal_id", FieldKind::Ref(Entity::Deal)),
    f("lead_id", FieldKind::Ref(Entity::Lead)),
    f("participant_ids", FieldKind::RefList(Entity::Contact)),
    f("parent_id", FieldKind::Ref(Entity::Activity)),
    f("remind_before_min", COUNT),
];

const USER: &[FieldDef] = &[
    FieldDef {
        access: Access::CreateOnly,
        ..req("login", FieldKind::Text { max: 64 })
    },
    req("name", NAME),
    f("email", FieldKind::Email),
    f("phone", FieldKind::Phone),
    f("department_id", FieldKind::Ref(Entity::Department)),
    req("role_id", FieldKind::Ref(Entity::Role)),
    f("language", FieldKind::Language),
    f("time_zone", FieldKind::TimeZone),
    f("active", FieldKind::Bool),
    f("away_until", FieldKind::DateTime),
    f("deputy_id", FieldKind::Ref(Entity::User)),
];

const DEPARTMENT: &[FieldDef] = &[
    req("name", NAME),
    f("parent_id", FieldKind::Ref(Entity::Department)),
    f("head_id", FieldKind::Ref(Entity::User)),
];

const ROLE: &[FieldDef] = &[
    req("name", NAME),
    FieldDef {
        access: Access::CreateOnly,
        ..f("code", FieldKind::Text { max: 64 })
    },
    f("is_admin", FieldKind::Bool),
    f("permissions", FieldKind::Json),
    // At most this many rows per export (empty: no limit); see the export module.
    f(
        "export_row_limit",
        FieldKind::Int {
            min: 1,
            max: 100_000_000,
        },
    ),
];

const PIPELINE: &[FieldDef] = &[
    req("name", NAME),
    f("code", FieldKind::Text { max: 64 }),
    f("department_id", FieldKind::Ref(Entity::Department)),
    f("forbid_skip", FieldKind::Bool),
    f("lost_reasons", FieldKind::Json),
    f("position", POSITION),
    f("active", FieldKind::Bool),
    f("discount_floor_pct", PERCENT),
    f(
        "approval_escalation_hours",
        FieldKind::Int { min: 1, max: 720 },
    ),
];

/// Fields stored in `NOT NULL` columns with a default (see [`Entity::has_default`]).
const DEFAULTED: &[(Entity, &str)] = &[
    (Entity::Stage, "kind"),
    (Entity::Deal, "currency"),
    (Entity::Lead, "status"),
];

const STAGE: &[FieldDef] = &[
    FieldDef {
        access: Access::CreateOnly,
        ..req("pipeline_id", FieldKind::Ref(Entity::Pipeline))
    },
    req("name", NAME),
    f("code", FieldKind::Text { max: 64 }),
    f("kind", FieldKind::Select(STAGE_KINDS)),
    f("position", POSITION),
    f("probability", PERCENT),
    f("rotten_days", COUNT),
];

const CUSTOM_FIELD: &[FieldDef] = &[
    FieldDef {
        access: Access::CreateOnly,
        ..req("entity", FieldKind::Select(CUSTOM_FIELD_ENTITIES))
    },
    FieldDef {
        access: Access::CreateOnly,
        ..req("key", FieldKind::Text { max: 48 })
    },
    req("label", NAME),
    f("label_en", NAME),
    FieldDef {
        access: Access::CreateOnly,
        ..req("kind", FieldKind::Select(CUSTOM_FIELD_KINDS))
    },
    f("options", FieldKind::Json),
    f("link_entity", FieldKind::Select(CUSTOM_FIELD_ENTITIES)),
    f("required", FieldKind::Bool),
    f("hidden", FieldKind::Bool),
    f("position", POSITION),
];

impl Entity {
    pub const ALL: &'static [Entity] = &[
        Entity::Company,
        Entity::Contact,
        Entity::Lead,
        Entity::Deal,
        Entity::Activity,
        Entity::User,
        Entity::Department,
        Entity::Role,
        Entity::Pipeline,
        Entity::Stage,
        Entity::CustomField,
    ];

    /// Business records: permissioned per role scope, with custom fields.
    pub const BUSINESS: &'static [Entity] = &[
        Entity::Company,
        Entity::Contact,
        Entity::Lead,
        Entity::Deal,
        Entity::Activity,
    ];

    pub fn table(self) -> &'static str {
        match self {
            Entity::Company => "companies",
            Entity::Contact => "contacts",
            Entity::Lead => "leads",
            Entity::Deal => "deals",
            Entity::Activity => "activities",
            Entity::User => "users",
            Entity::Department => "departments",
            Entity::Role => "roles",
            Entity::Pipeline => "pipelines",
            Entity::Stage => "stages",
            Entity::CustomField => "custom_fields",
        }
    }

    /// Singular code used in permissions, history, lookups and custom-field definitions.
    pub fn code(self) -> &'static str {
        match self {
            Entity::Company => "company",
            Entity::Contact => "contact",
            Entity::Lead => "lead",
            Entity::Deal => "deal",
            Entity::Activity => "activity",
            Entity::User => "user",
            Entity::Department => "department",
            Entity::Role => "role",
            Entity::Pipeline => "pipeline",
            Entity::Stage => "stage",
            Entity::CustomField => "custom_field",
        }
    }

    /// Path segment under `/api/v1`.
    pub fn plural(self) -> &'static str {
        self.table()
    }

    pub fn from_code(code: &str) -> Option<Entity> {
        Entity::ALL.iter().copied().find(|e| e.code() == code)
    }

    pub fn from_plural(plural: &str) -> Option<Entity> {
        Entity::ALL.iter().copied().find(|e| e.plural() == plural)
    }

    pub fn is_business(self) -> bool {
        Entity::BUSINESS.contains(&self)
    }

    /// Fields specific to the entity (the common audit fields come first in `fields()`).
    pub fn own_fields(self) -> &'static [FieldDef] {
        match self {
            Entity::Company => COMPANY,
            Entity::Contact => CONTACT,
            Entity::Lead => LEAD,
            Entity::Deal => DEAL,
            Entity::Activity => ACTIVITY,
            Entity::User => USER,
            Entity::Department => DEPARTMENT,
            Entity::Role => ROLE,
            Entity::Pipeline => PIPELINE,
            Entity::Stage => STAGE,
            Entity::CustomField => CUSTOM_FIELD,
        }
    }

    pub fn fields(self) -> impl Iterator<Item = &'static FieldDef> {
        COMMON_FIELDS.iter().chain(self.own_fields().iter())
    }

    pub fn field(self, name: &str) -> Option<&'static FieldDef> {
        self.fields().find(|f| f.name == name)
    }

    /// Whether a field's column is `NOT NULL` with a default: a create may leave it out
    /// (or send null) and gets the default, an update may not clear it.
    pub fn has_default(self, field: &str) -> bool {
        DEFAULTED.contains(&(self, field))
    }

    /// The field that names a record in lists, links and search results.
    pub fn title_field(self) -> &'static str {
        match self {
            Entity::Contact => "full_name",
            Entity::Lead | Entity::Deal => "title",
            Entity::Activity => "subject",
            Entity::CustomField => "label",
            _ => "name",
        }
    }

    /// "Own" scope includes records assigned to the user, not only owned (activities).
    pub fn assignee_field(self) -> Option<&'static str> {
        match self {
            Entity::Activity => Some("assignee_id"),
            _ => None,
        }
    }

    /// Columns searched by the global search box (besides phones/e-mails/INN lookups).
    pub fn has_search_text(self) -> bool {
        matches!(
            self,
            Entity::Company | Entity::Contact | Entity::Lead | Entity::Deal
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entity_round_trips_its_codes() {
        for e in Entity::ALL {
            assert_eq!(Entity::from_code(e.code()), Some(*e));
            assert_eq!(Entity::from_plural(e.plural()), Some(*e));
            assert!(
                e.field(e.title_field()).is_some(),
                "{e:?} lacks its title field"
            );
        }
    }

    #[test]
    fn field_names_are_unique_per_entity() {
        for e in Entity::ALL {
            let mut names: Vec<_> = e.fields().map(|f| f.name).collect();
            let n = names.len();
            names.sort();
            names.dedup();
            assert_eq!(n, names.len(), "{e:?} has a duplicated field");
        }
    }
}
