//! Column mapping: which file column feeds which field. Automatic by header names in
//! Russian and English, with presets for the exports of Bitrix24 (CSV) and amoCRM (XLSX);
//! editable and savable by name. Also the conversion of cell text into the JSON the API
//! takes, so that values then go through `parse_input` like any API request.

use plotina_core::record::CustomFieldDef;
use plotina_core::schema::{Entity, FieldKind};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};

/// Targets that are not fields themselves but resolved to one.
/// `full_name` (contacts: «Фамилия Имя Отчество»), `company` (a company by INN or name),
/// `stage` (a deal stage by name), `owner` / `assignee` (a user by name, login or e-mail).
pub const PSEUDO_TARGETS: &[&str] = &["full_name", "company", "stage", "owner", "assignee"];

/// One column of the file and where it goes (`None`: ignored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnMap {
    pub header: String,
    pub target: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    Bitrix24,
    Amocrm,
}

impl Preset {
    pub fn parse(s: &str) -> Option<Preset> {
        match s.trim().to_ascii_lowercase().as_str() {
            "bitrix24" | "bitrix" => Some(Preset::Bitrix24),
            "amocrm" | "amo" => Some(Preset::Amocrm),
            _ => None,
        }
    }
}

/// Header names per target, lower-case, Russian and English.
fn synonyms(entity: Entity) -> Vec<(&'static str, &'static [&'static str])> {
    const PHONES: &[&str] = &[
        "телефон",
        "телефоны",
        "рабочий телефон",
        "мобильный телефон",
        "домашний телефон",
        "телефон рабочий",
        "телефон мобильный",
        "мобильный",
        "другой телефон",
        "рабочий прямой телефон",
        "phone",
        "phones",
        "work phone",
        "mobile phone",
        "mobile",
        "телефон (рабочий)",
        "телефон (мобильный)",
    ];
    const EMAILS: &[&str] = &[
        "e-mail",
        "email",
        "эл. почта",
        "электронная почта",
        "почта",
        "рабочий e-mail",
        "частный e-mail",
        "другой e-mail",
        "рабочий email",
        "личный email",
        "email рабочий",
        "e-mail рабочий",
        "work email",
        "emails",
        "e-mail (рабочий)",
    ];
    const OWNER: &[&str] = &[
        "ответственный",
        "ответственный менеджер",
        "менеджер",
        "owner",
        "responsible",
        "responsible user",
    ];
    const TAGS: &[&str] = &["теги", "тег", "метки", "tags"];
    const SOURCE: &[&str] = &["источник", "source"];
    const COMPANY: &[&str] = &[
        "компания",
        "название компании",
        "организация",
        "company",
        "company name",
    ];
    const AMOUNT: &[&str] = &["сумма", "бюджет", "amount", "budget", "сумма сделки"];
    const DESCRIPTION: &[&str] = &[
        "комментарий",
        "описание",
        "примечание",
        "description",
        "comment",
        "notes",
        "note",
    ];
    let mut out: Vec<(&'static str, &'static [&'static str])> =
        vec![("owner", OWNER), ("tags", TAGS)];
    match entity {
        Entity::Company => out.extend([
            (
                "name",
                &[
                    "название",
                    "название компании",
                    "компания",
                    "наименование",
                    "организация",
                    "company",
                    "company name",
                    "name",
                ][..],
            ),
            (
                "legal_name",
                &[
                    "полное наименование",
                    "юридическое название",
                    "полное название",
                    "legal name",
                ][..],
            ),
            ("inn", &["инн", "inn", "tax id"][..]),
            ("kpp", &["кпп", "kpp"][..]),
            (
                "industry",
                &["сфера деятельности", "отрасль", "industry"][..],
            ),
            (
                "website",
                &[
                    "сайт",
                    "веб-сайт",
                    "корпоративный сайт",
                    "web",
                    "website",
                    "site",
                    "url",
                ][..],
            ),
            (
                "addresses",
                &["адрес", "юридический адрес", "фактический адрес", "address"][..],
            ),
            ("phones", PHONES),
            ("emails", EMAILS),
            ("source", SOURCE),
            ("description", DESCRIPTION),
        ]),
        Entity::Contact => out.extend([
            (
                "last_name",
                &["фамилия", "last name", "surname", "family name"][..],
            ),
            ("first_name", &["имя", "first name", "given name"][..]),
            (
                "middle_name",
                &["отчество", "middle name", "second name"][..],
            ),
            (
                "full_name",
                &[
                    "фио",
                    "полное имя",
                    "полное имя контакта",
                    "контакт",
                    "контактное лицо",
                    "full name",
                    "name",
                    "contact",
                ][..],
            ),
            (
                "position",
                &["должность", "position", "job title", "title"][..],
            ),
            (
                "birthday",
                &[
                    "дата рождения",
                    "день рождения",
                    "birthday",
                    "date of birth",
                ][..],
            ),
            ("company", COMPANY),
            ("phones", PHONES),
            ("emails", EMAILS),
            ("source", SOURCE),
        ]),
        Entity::Lead => out.extend([
            (
                "title",
                &[
                    "название лида",
                    "название",
                    "лид",
                    "заявка",
                    "title",
                    "lead",
                    "lead title",
                    "lead name",
                ][..],
            ),
            (
                "contact_name",
                &[
                    "имя контакта",
                    "контактное лицо",
                    "контакт",
                    "фио",
                    "имя",
                    "фамилия",
                    "отчество",
                    "contact",
                    "contact name",
                    "name",
                ][..],
            ),
            ("company_name", COMPANY),
            ("phone", PHONES),
            ("email", EMAILS),
            ("inn", &["инн", "inn"][..]),
            ("amount", AMOUNT),
            ("status", &["статус", "статус лида", "status"][..]),
            ("source", SOURCE),
            (
                "message",
                &["комментарий", "сообщение", "описание", "message", "comment"][..],
            ),
        ]),
        Entity::Deal => out.extend([
            (
                "title",
                &[
                    "название сделки",
                    "название",
                    "сделка",
                    "title",
                    "deal",
                    "deal name",
                    "name",
                ][..],
            ),
            ("amount", AMOUNT),
            ("currency", &["валюта", "currency"][..]),
            (
                "stage",
                &[
                    "стадия",
                    "стадия сделки",
                    "этап",
                    "этап сделки",
                    "stage",
                    "deal stage",
                ][..],
            ),
            (
                "close_date",
                &[
                    "предполагаемая дата закрытия",
                    "дата закрытия",
                    "close date",
                    "expected close date",
                ][..],
            ),
            ("probability", &["вероятность", "probability"][..]),
            ("company", COMPANY),
            ("source", SOURCE),
            (
                "lost_reason",
                &["причина отказа", "причина проигрыша", "lost reason"][..],
            ),
            ("description", DESCRIPTION),
        ]),
        Entity::Activity => out.extend([
            ("kind", &["тип", "тип дела", "вид", "kind", "type"][..]),
            (
                "subject",
                &["тема", "название", "тема дела", "subject", "title"][..],
            ),
            (
                "body",
                &[
                    "описание",
                    "текст",
                    "текст задачи",
                    "примечание",
                    "body",
                    "description",
                    "text",
                ][..],
            ),
            (
                "due_at",
                &[
                    "срок",
                    "крайний срок",
                    "дата",
                    "дата исполнения",
                    "due",
                    "due date",
                    "deadline",
                    "date",
                ][..],
            ),
            (
                "duration_min",
                &[
                    "длительность",
                    "длительность, мин",
                    "duration",
                    "duration, min",
                ][..],
            ),
            (
                "done",
                &["выполнено", "выполнена", "завершено", "done", "completed"][..],
            ),
            ("result", &["результат", "result"][..]),
            ("direction", &["направление", "direction"][..]),
            ("assignee", &["исполнитель", "assignee"][..]),
            ("company", COMPANY),
        ]),
        _ => {}
    }
    out
}

/// Columns that exports carry and an import never writes (ids, audit data of the old
/// system).
const IGNORED: &[&str] = &[
    "id",
    "дата создания",
    "дата изменения",
    "кем создан",
    "кем изменен",
    "кем изменён",
    "created",
    "created at",
    "updated at",
    "modified",
    "created by",
    "modified by",
    "обращение",
    "дата последнего контакта",
];

/// Presets: exact header names of the exports of Bitrix24 (CSV) and amoCRM (XLSX); the
/// rest of a preset file goes through the automatic rules.
fn preset_rules(preset: Preset, entity: Entity) -> &'static [(&'static str, &'static str)] {
    match (preset, entity) {
        (Preset::Bitrix24, Entity::Company) => &[
            ("название компании", "name"),
            ("тип компании", "-"),
            ("сфера деятельности", "industry"),
            ("рабочий телефон", "phones"),
            ("мобильный телефон", "phones"),
            ("рабочий e-mail", "emails"),
            ("корпоративный сайт", "website"),
            ("адрес", "addresses"),
            ("комментарий", "description"),
            ("ответственный", "owner"),
            ("источник", "source"),
            ("инн", "inn"),
            ("кпп", "kpp"),
        ],
        (Preset::Bitrix24, Entity::Contact) => &[
            ("имя", "first_name"),
            ("отчество", "middle_name"),
            ("фамилия", "last_name"),
            ("дата рождения", "birthday"),
            ("должность", "position"),
            ("компания", "company"),
            ("рабочий телефон", "phones"),
            ("мобильный телефон", "phones"),
            ("домашний телефон", "phones"),
            ("рабочий e-mail", "emails"),
            ("частный e-mail", "emails"),
            ("ответственный", "owner"),
            ("источник", "source"),
            ("комментарий", "-"),
            ("тип контакта", "-"),
        ],
        (Preset::Bitrix24, Entity::Lead) => &[
            ("название лида", "title"),
            ("статус", "status"),
            ("имя", "contact_name"),
            ("отчество", "contact_name"),
            ("фамилия", "contact_name"),
            ("название компании", "company_name"),
            ("рабочий телефон", "phone"),
            ("мобильный телефон", "phone"),
            ("рабочий e-mail", "email"),
            ("сумма", "amount"),
            ("валюта", "-"),
            ("комментарий", "message"),
            ("ответственный", "owner"),
            ("источник", "-"),
        ],
        (Preset::Bitrix24, Entity::Deal) => &[
            ("название сделки", "title"),
            ("стадия сделки", "stage"),
            ("сумма", "amount"),
            ("валюта", "currency"),
            ("компания", "company"),
            ("контакт", "-"),
            ("предполагаемая дата закрытия", "close_date"),
            ("ответственный", "owner"),
            ("вероятность", "probability"),
            ("комментарий", "description"),
            ("источник", "source"),
            ("направление", "-"),
        ],
        (Preset::Amocrm, Entity::Company) => &[
            ("название", "name"),
            ("компания", "name"),
            ("рабочий телефон", "phones"),
            ("мобильный телефон", "phones"),
            ("рабочий email", "emails"),
            ("email", "emails"),
            ("web", "website"),
            ("адрес", "addresses"),
            ("ответственный", "owner"),
            ("теги", "tags"),
            ("примечание", "description"),
            ("инн", "inn"),
        ],
        (Preset::Amocrm, Entity::Contact) => &[
            ("полное имя контакта", "full_name"),
            ("полное имя", "full_name"),
            ("имя", "first_name"),
            ("фамилия", "last_name"),
            ("компания", "company"),
            ("должность", "position"),
            ("рабочий телефон", "phones"),
            ("мобильный телефон", "phones"),
            ("рабочий email", "emails"),
            ("личный email", "emails"),
            ("ответственный", "owner"),
            ("теги", "tags"),
        ],
        (Preset::Amocrm, Entity::Deal) => &[
            ("название сделки", "title"),
            ("бюджет", "amount"),
            ("этап сделки", "stage"),
            ("статус", "stage"),
            ("воронка", "-"),
            ("компания", "company"),
            ("основной контакт", "-"),
            ("ответственный", "owner"),
            ("теги", "tags"),
            ("дата закрытия", "close_date"),
        ],
        (Preset::Amocrm, Entity::Lead) => &[
            ("название сделки", "title"),
            ("бюджет", "amount"),
            ("основной контакт", "contact_name"),
            ("компания", "company_name"),
            ("рабочий телефон", "phone"),
            ("рабочий email", "email"),
            ("ответственный", "owner"),
            ("этап сделки", "-"),
            ("воронка", "-"),
        ],
        _ => &[],
    }
}

fn norm_header(h: &str) -> String {
    h.trim()
        .trim_matches(|c: char| c == '*' || c == ':')
        .to_lowercase()
        .replace('ё', "е")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The automatic mapping of a file's headers (a preset first, then names, then custom
/// fields by their labels).
pub fn auto_map(
    entity: Entity,
    headers: &[String],
    preset: Option<Preset>,
    customs: &[CustomFieldDef],
) -> Vec<ColumnMap> {
    let rules = synonyms(entity);
    headers
        .iter()
        .map(|h| {
            let n = norm_header(h);
            let from_preset = preset.and_then(|p| {
                preset_rules(p, entity)
                    .iter()
                    .find(|(name, _)| *name == n)
                    .map(|(_, t)| *t)
            });
            let target = match from_preset {
                Some("-") => None,
                Some(t) => Some(t.to_string()),
                None if IGNORED.contains(&n.as_str()) => None,
                None => rules
                    .iter()
                    .find(|(_, names)| names.contains(&n.as_str()))
                    .map(|(t, _)| t.to_string())
                    .or_else(|| {
                        entity
                            .field(&n)
                            .filter(|f| f.access != plotina_core::schema::Access::System)
                            .map(|f| f.name.to_string())
                    })
                    .or_else(|| {
                        customs
                            .iter()
                            .find(|d| {
                                norm_header(&d.label) == n
                                    || d.label_en.as_deref().map(norm_header).as_deref()
                                        == Some(n.as_str())
                                    || d.key == n
                            })
                            .map(|d| format!("custom.{}", d.key))
                    }),
            };
            ColumnMap {
                header: h.clone(),
                target,
            }
        })
        .collect()
}

/// Whether a target names something the entity can take.
pub fn valid_target(entity: Entity, target: &str, customs: &[CustomFieldDef]) -> bool {
    if let Some(key) = target.strip_prefix("custom.") {
        return customs.iter().any(|d| d.key == key);
    }
    let pseudo_ok = match target {
        "full_name" => entity == Entity::Contact,
        "company" => matches!(entity, Entity::Contact | Entity::Deal | Entity::Activity),
        "stage" => entity == Entity::Deal,
        "owner" => true,
        "assignee" => entity == Entity::Activity,
        _ => false,
    };
    pseudo_ok
        || entity.field(target).is_some_and(|f| {
            f.access == plotina_core::schema::Access::Write
                && !matches!(
                    f.kind,
                    FieldKind::Ref(_) | FieldKind::RefList(_) | FieldKind::CompanyLinks
                )
        })
}

fn split_list(s: &str) -> Vec<Json> {
    s.split([',', ';', '\n'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| Json::String(p.to_string()))
        .collect()
}

/// A number as people type it: spaces (also non-breaking) as thousands separators, a
/// comma as decimal point, a currency sign after it.
pub fn clean_number(s: &str) -> String {
    let t: String = s
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{a0}' && *c != '\u{202f}')
        .collect();
    let t = t
        .trim_end_matches("руб.")
        .trim_end_matches("руб")
        .trim_end_matches("р.")
        .trim_end_matches('₽')
        .trim_end_matches("RUB");
    t.replace(',', ".")
}

/// `31.12.2024 14:30[:05]` → `2024-12-31T14:30:05`; other forms unchanged.
fn russian_datetime(s: &str) -> String {
    let s = s.trim();
    for fmt in [
        "%d.%m.%Y %H:%M:%S",
        "%d.%m.%Y %H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, fmt) {
            return t.format("%Y-%m-%dT%H:%M:%S").to_string();
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%d.%m.%Y") {
        return d.format("%Y-%m-%dT00:00:00").to_string();
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d.format("%Y-%m-%dT00:00:00").to_string();
    }
    s.to_string()
}

fn yes_no(s: &str) -> Json {
    match s.trim().to_lowercase().as_str() {
        "да" | "yes" | "y" | "true" | "1" | "+" | "x" | "истина" => Json::Bool(true),
        "нет" | "no" | "n" | "false" | "0" | "-" | "ложь" => Json::Bool(false),
        other => Json::String(other.to_string()),
    }
}

/// Russian and English names of select options.
fn option_synonym(field: &str, s: &str) -> Option<&'static str> {
    let n = s.trim().to_lowercase();
    let table: &[(&str, &[&str])] = match field {
        "kind" => &[
            ("call", &["звонок", "call", "телефонный звонок"]),
            ("meeting", &["встреча", "meeting"]),
            ("email", &["письмо", "e-mail", "email", "почта"]),
            ("sms", &["смс", "sms"]),
            ("note", &["заметка", "комментарий", "note"]),
            ("task", &["задача", "дело", "task"]),
        ],
        "direction" => &[
            ("incoming", &["входящий", "входящее", "incoming"]),
            ("outgoing", &["исходящий", "исходящее", "outgoing"]),
        ],
        "status" => &[
            ("new", &["новый", "новая", "не обработан", "new"]),
            (
                "in_work",
                &["в работе", "в обработке", "in work", "in_work"],
            ),
            (
                "junk",
                &["некачественный", "некачественный лид", "спам", "junk"],
            ),
            (
                "converted",
                &["качественный лид", "сконвертирован", "converted"],
            ),
        ],
        "source" => &[
            ("web_form", &["веб-форма", "сайт", "web form", "web_form"]),
            ("call", &["звонок", "call"]),
            ("email", &["e-mail", "email", "письмо"]),
            ("manual", &["вручную", "manual"]),
            ("import", &["импорт", "import"]),
            ("api", &["api"]),
        ],
        _ => &[],
    };
    table
        .iter()
        .find(|(_, names)| names.contains(&n.as_str()))
        .map(|(v, _)| *v)
}

/// The JSON an API client would send for this cell of a field of the given kind.
pub fn cell_json(field: &str, kind: FieldKind, cell: &str) -> Json {
    let s = cell.trim();
    match kind {
        FieldKind::Phones | FieldKind::Emails | FieldKind::Tags | FieldKind::MultiSelect(_) => {
            Json::Array(split_list(s))
        }
        FieldKind::Money => Json::String(clean_number(s)),
        FieldKind::Int { .. } => {
            let n = clean_number(s).trim_end_matches('%').to_string();
            n.parse::<i64>()
                .map_or(Json::String(s.into()), |i| json!(i))
        }
        FieldKind::Bool => yes_no(s),
        FieldKind::Date => {
            let d = s.split_whitespace().next().unwrap_or("");
            Json::String(d.to_string())
        }
        FieldKind::DateTime => Json::String(russian_datetime(s)),
        FieldKind::Select(_) => Json::String(option_synonym(field, s).unwrap_or(s).to_string()),
        FieldKind::Addresses => json!([{"kind": "legal", "value": s}]),
        FieldKind::Inn | FieldKind::Kpp => {
            Json::String(s.chars().filter(|c| !c.is_whitespace()).collect())
        }
        _ => Json::String(s.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(h: &[&str]) -> Vec<String> {
        h.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn russian_and_english_headers_map_automatically() {
        let m = auto_map(
            Entity::Company,
            &headers(&[
                "Название",
                "ИНН",
                "Телефон",
                "E-mail",
                "Website",
                "ID",
                "Что-то",
            ]),
            None,
            &[],
        );
        let t: Vec<Option<&str>> = m.iter().map(|c| c.target.as_deref()).collect();
        assert_eq!(
            t,
            [
                Some("name"),
                Some("inn"),
                Some("phones"),
                Some("emails"),
                Some("website"),
                None,
                None
            ]
        );
    }

    #[test]
    fn presets_win_over_names() {
        let m = auto_map(
            Entity::Lead,
            &headers(&["Имя", "Фамилия", "Источник"]),
            Some(Preset::Bitrix24),
            &[],
        );
        assert_eq!(m[0].target.as_deref(), Some("contact_name"));
        assert_eq!(m[2].target, None);
    }

    #[test]
    fn cells_become_api_values() {
        assert_eq!(
            cell_json("amount", FieldKind::Money, "1 500 000,50 ₽"),
            json!("1500000.50")
        );
        assert_eq!(
            cell_json("phones", FieldKind::Phones, "+7 495 1, 8 (912) 000"),
            json!(["+7 495 1", "8 (912) 000"])
        );
        assert_eq!(cell_json("done", FieldKind::Bool, "Да"), json!(true));
        assert_eq!(
            cell_json("due_at", FieldKind::DateTime, "31.12.2024 14:30"),
            json!("2024-12-31T14:30:00")
        );
        assert_eq!(
            cell_json("kind", FieldKind::Select(&[]), "Звонок"),
            json!("call")
        );
    }
}
