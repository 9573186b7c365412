//! Automation rules ("robots"): what starts a rule (trigger), which records it applies
//! to (a condition in the filter language) and what it does (typed actions).
//!
//! Rules are stored as JSON of these types; [`Rule::validate`] checks everything that
//! needs no database (the store adds the checks that do: pipelines, stages and users
//! must exist, the condition must compile against the entity's fields).

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::error::FieldError;
use crate::filter;
use crate::schema::{Entity, FieldKind};

/// The longest chain of rules one change may start (rule → change → rule …).
pub const MAX_DEPTH: usize = 8;
/// Attempts of a failing action before the administrators are told.
pub const MAX_ATTEMPTS: i64 = 5;

/// What starts a rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Trigger {
    Created,
    Updated,
    /// The record was deleted (moved to the trash). Only actions that leave the record
    /// alone may follow: notebook items, e-mails, webhook calls, moving the parent, pauses.
    Deleted,
    /// A field changed; with `to`, only when it changed to that value.
    FieldChanged {
        field: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<Json>,
    },
    /// A deal moved into the stage.
    StageEntered {
        stage_id: i64,
    },
    /// A deal moved out of the stage.
    StageLeft {
        stage_id: i64,
    },
    /// An open activity's due time passed.
    ActivityOverdue,
    /// `offset_minutes` before (negative) or after (positive) a date or datetime field
    /// (`close_date`, `birthday`, `closed_at`, `custom.contract_end`); `yearly` repeats
    /// it on every anniversary (birthdays, recall calls). Dates count from 00:00 UTC.
    Time {
        field: String,
        offset_minutes: i64,
        #[serde(default)]
        yearly: bool,
    },
    /// A POST to the rule's secret URL; the body is `payload.*` to conditions and
    /// templates.
    Webhook,
    /// Started by a person from the record.
    Manual,
}

impl Trigger {
    pub fn code(&self) -> &'static str {
        match self {
            Trigger::Created => "created",
            Trigger::Updated => "updated",
            Trigger::Deleted => "deleted",
            Trigger::FieldChanged { .. } => "field_changed",
            Trigger::StageEntered { .. } => "stage_entered",
            Trigger::StageLeft { .. } => "stage_left",
            Trigger::ActivityOverdue => "activity_overdue",
            Trigger::Time { .. } => "time",
            Trigger::Webhook => "webhook",
            Trigger::Manual => "manual",
        }
    }

    /// Whether the scheduler, not a change, starts the rule.
    pub fn is_scheduled(&self) -> bool {
        matches!(self, Trigger::Time { .. } | Trigger::ActivityOverdue)
    }
}

/// Who gets an activity, a notebook item or a record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Assignee {
    /// The record's owner.
    Owner,
    User {
        user_id: i64,
    },
    DepartmentHead {
        department_id: i64,
    },
    /// The active users of the department in turn.
    RoundRobin {
        department_id: i64,
    },
    /// The active user of the department with the fewest open activities.
    LeastLoaded {
        department_id: i64,
    },
}

impl Assignee {
    pub fn user_id(&self) -> Option<i64> {
        match self {
            Assignee::User { user_id } => Some(*user_id),
            _ => None,
        }
    }
    pub fn department_id(&self) -> Option<i64> {
        match self {
            Assignee::DepartmentHead { department_id }
            | Assignee::RoundRobin { department_id }
            | Assignee::LeastLoaded { department_id } => Some(*department_id),
            _ => None,
        }
    }
}

/// What a rule does, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// An activity (a task by default) linked to the record.
    CreateActivity {
        subject: String,
        #[serde(default = "default_kind")]
        kind: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        due_in_minutes: Option<i64>,
        assignee: Assignee,
    },
    /// A child deal in another pipeline, linked to this deal by `parent_id`.
    /// `fields` maps child fields to templates over the parent (`"{{title}}"`).
    CreateChildDeal {
        pipeline_id: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stage_id: Option<i64>,
        #[serde(default = "default_child_title")]
        title: String,
        #[serde(default)]
        fields: serde_json::Map<String, Json>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        assignee: Option<Assignee>,
    },
    /// Moves this deal's parent to a stage (use with `stage_entered` on the child).
    MoveParent {
        stage_id: i64,
    },
    /// Moves this deal's children that are in the stage's pipeline to the stage.
    MoveChildren {
        stage_id: i64,
    },
    /// Moves this deal to a stage.
    MoveStage {
        stage_id: i64,
    },
    /// Sets a field (system fields included); strings are templates.
    SetField {
        field: String,
        value: Json,
    },
    AssignOwner {
        assignee: Assignee,
    },
    AddTag {
        tag: String,
    },
    RemoveTag {
        tag: String,
    },
    NotebookItem {
        text: String,
        assignee: Assignee,
    },
    /// Queues an e-mail; `to` is an address or a template (`"{{email}}"`).
    SendEmail {
        to: String,
        subject: String,
        body: String,
    },
    /// POSTs the record as JSON to the URL (from the job, with retries).
    Webhook {
        url: String,
    },
    /// The following actions run this many minutes later.
    Delay {
        minutes: i64,
    },
    /// Opens an approval request on the deal on behalf of its owner: the discount
    /// (`discount_pct`) becomes `value` once the owner's department head approves.
    /// `value` is a number or a template (`"{{custom.requested_discount}}"`).
    RequestApproval {
        value: Json,
        reason: String,
    },
}

fn default_kind() -> String {
    "task".into()
}
fn default_child_title() -> String {
    "{{title}}".into()
}

impl Action {
    /// Writes nothing a rule's condition can read: only notebook items, mail and webhook
    /// deliveries (a delay only postpones the actions after it).
    pub fn writes_no_record(&self) -> bool {
        matches!(
            self,
            Action::NotebookItem { .. }
                | Action::SendEmail { .. }
                | Action::Webhook { .. }
                | Action::Delay { .. }
        )
    }

    pub fn code(&self) -> &'static str {
        match self {
            Action::CreateActivity { .. } => "create_activity",
            Action::CreateChildDeal { .. } => "create_child_deal",
            Action::MoveParent { .. } => "move_parent",
            Action::MoveChildren { .. } => "move_children",
            Action::MoveStage { .. } => "move_stage",
            Action::SetField { .. } => "set_field",
            Action::AssignOwner { .. } => "assign_owner",
            Action::AddTag { .. } => "add_tag",
            Action::RemoveTag { .. } => "remove_tag",
            Action::NotebookItem { .. } => "notebook_item",
            Action::SendEmail { .. } => "send_email",
            Action::Webhook { .. } => "webhook",
            Action::Delay { .. } => "delay",
            Action::RequestApproval { .. } => "request_approval",
        }
    }

    /// Stage ids the action refers to (checked against the database at save).
    pub fn stage_ids(&self) -> Vec<i64> {
        match self {
            Action::CreateChildDeal {
                stage_id: Some(s), ..
            } => vec![*s],
            Action::MoveParent { stage_id }
            | Action::MoveChildren { stage_id }
            | Action::MoveStage { stage_id } => vec![*stage_id],
            _ => Vec::new(),
        }
    }

    pub fn assignee(&self) -> Option<&Assignee> {
        match self {
            Action::CreateActivity { assignee, .. }
            | Action::AssignOwner { assignee }
            | Action::NotebookItem { assignee, .. } => Some(assignee),
            Action::CreateChildDeal { assignee, .. } => assignee.as_ref(),
            _ => None,
        }
    }
}

/// A rule as clients send it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    pub name: String,
    pub entity: String,
    #[serde(default)]
    pub pipeline_id: Option<i64>,
    pub trigger: Trigger,
    #[serde(default)]
    pub condition: Option<String>,
    pub actions: Vec<Action>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

const ACTIVITY_KINDS: &[&str] = &["call", "meeting", "email", "sms", "note", "task"];

fn date_kind(kind: FieldKind) -> bool {
    matches!(kind, FieldKind::Date | FieldKind::DateTime)
}

/// Whether a URL is an absolute http(s) URL with a host.
pub fn valid_webhook_url(s: &str) -> bool {
    match url::Url::parse(s) {
        Ok(u) => matches!(u.scheme(), "http" | "https") && u.host_str().is_some(),
        Err(_) => false,
    }
}

impl RuleInput {
    /// Checks that need no database. Returns the entity on success.
    pub fn validate(&self) -> Result<Entity, Vec<FieldError>> {
        let mut errs = Vec::new();
        if self.name.trim().is_empty() || self.name.chars().count() > 255 {
            errs.push(FieldError::new("name", "automation_name_required"));
        }
        let entity = match Entity::from_code(&self.entity) {
            Some(e) if e.is_business() => e,
            _ => {
                errs.push(FieldError::new("entity", "automation_entity_invalid"));
                return Err(errs);
            }
        };
        if self.pipeline_id.is_some() && entity != Entity::Deal {
            errs.push(FieldError::new("pipeline_id", "automation_deal_only"));
        }
        self.validate_trigger(entity, &mut errs);
        if let Some(text) = &self.condition {
            if let Err(e) = filter::parse(text) {
                errs.push(
                    FieldError::new("condition", "automation_condition_invalid")
                        .with("position", e.pos),
                );
            }
        }
        if self.actions.is_empty() {
            errs.push(FieldError::new("actions", "automation_actions_required"));
        }
        for (i, a) in self.actions.iter().enumerate() {
            validate_action(entity, a, &format!("actions[{i}]"), &mut errs);
            let leaves_record_alone =
                a.writes_no_record() || matches!(a, Action::MoveParent { .. });
            if self.trigger == Trigger::Deleted && !leaves_record_alone {
                errs.push(FieldError::new(
                    format!("actions[{i}]"),
                    "automation_deleted_record",
                ));
            }
        }
        if errs.is_empty() {
            Ok(entity)
        } else {
            Err(errs)
        }
    }

    fn validate_trigger(&self, entity: Entity, errs: &mut Vec<FieldError>) {
        match &self.trigger {
            Trigger::FieldChanged { field, .. } if !field_exists(entity, field) => {
                errs.push(FieldError::new("trigger.field", "automation_field_unknown"));
            }
            Trigger::StageEntered { .. } | Trigger::StageLeft { .. } if entity != Entity::Deal => {
                errs.push(FieldError::new("trigger", "automation_deal_only"));
            }
            Trigger::ActivityOverdue if entity != Entity::Activity => {
                errs.push(FieldError::new("trigger", "automation_activity_only"));
            }
            Trigger::Time { field, .. } => {
                let ok = match field.strip_prefix("custom.") {
                    Some(key) => crate::record::valid_custom_key(key),
                    None => entity.field(field).is_some_and(|f| date_kind(f.kind)),
                };
                if !ok {
                    errs.push(FieldError::new("trigger.field", "automation_date_field"));
                }
            }
            _ => {}
        }
    }
}

fn field_exists(entity: Entity, field: &str) -> bool {
    match field.strip_prefix("custom.") {
        Some(key) => crate::record::valid_custom_key(key),
        None => entity.field(field).is_some(),
    }
}

fn validate_action(entity: Entity, a: &Action, at: &str, errs: &mut Vec<FieldError>) {
    let deal_only = matches!(
        a,
        Action::CreateChildDeal { .. }
            | Action::MoveParent { .. }
            | Action::MoveChildren { .. }
            | Action::MoveStage { .. }
            | Action::RequestApproval { .. }
    );
    if deal_only && entity != Entity::Deal {
        errs.push(FieldError::new(at, "automation_deal_only"));
    }
    match a {
        Action::CreateActivity { subject, kind, .. } => {
            if subject.trim().is_empty() {
                errs.push(FieldError::new(
                    format!("{at}.subject"),
                    "automation_text_required",
                ));
            }
            if !ACTIVITY_KINDS.contains(&kind.as_str()) {
                errs.push(FieldError::new(
                    format!("{at}.kind"),
                    "automation_kind_invalid",
                ));
            }
        }
        Action::SetField { field, .. } => {
            let ok = match field.strip_prefix("custom.") {
                Some(key) => crate::record::valid_custom_key(key),
                None => entity
                    .field(field)
                    .is_some_and(|f| !matches!(f.name, "id" | "version")),
            };
            if !ok {
                errs.push(FieldError::new(
                    format!("{at}.field"),
                    "automation_field_unknown",
                ));
            }
        }
        Action::AddTag { tag } | Action::RemoveTag { tag } if tag.trim().is_empty() => {
            errs.push(FieldError::new(
                format!("{at}.tag"),
                "automation_text_required",
            ));
        }
        Action::NotebookItem { text, .. } if text.trim().is_empty() => {
            errs.push(FieldError::new(
                format!("{at}.text"),
                "automation_text_required",
            ));
        }
        Action::SendEmail { to, subject, .. }
            if to.trim().is_empty() || subject.trim().is_empty() =>
        {
            errs.push(FieldError::new(at, "automation_text_required"));
        }
        Action::Webhook { url } if !valid_webhook_url(url) => {
            errs.push(FieldError::new(
                format!("{at}.url"),
                "automation_url_invalid",
            ));
        }
        Action::RequestApproval { value, reason } => {
            let ok = match value {
                Json::Number(n) => n.as_i64().is_some_and(|n| (0..=100).contains(&n)),
                Json::String(s) => !s.trim().is_empty(),
                _ => false,
            };
            if !ok {
                errs.push(FieldError::new(
                    format!("{at}.value"),
                    "automation_discount_invalid",
                ));
            }
            if reason.trim().is_empty() {
                errs.push(FieldError::new(
                    format!("{at}.reason"),
                    "automation_text_required",
                ));
            }
        }
        Action::Delay { minutes } if !(1..=525_600).contains(minutes) => {
            errs.push(FieldError::new(
                format!("{at}.minutes"),
                "automation_delay_invalid",
            ));
        }
        _ => {}
    }
}

/// Replaces `{{path}}` with values of `data` (`{{title}}`, `{{custom.x}}`,
/// `{{payload.order.id}}`); unknown paths become empty.
pub fn render(template: &str, data: &Json) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let path = after[..end].trim();
        let mut cur = Some(data);
        for seg in path.split('.') {
            cur = cur.and_then(|v| v.get(seg));
        }
        match cur {
            Some(Json::String(s)) => out.push_str(s),
            Some(Json::Null) | None => {}
            Some(v) => out.push_str(&v.to_string()),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// Backoff before retry `attempt` (1-based): 1, 2, 4, 8 … minutes, at most a day.
pub fn backoff_seconds(attempt: i64) -> i64 {
    let exp = attempt.clamp(1, 11) - 1;
    (60i64 << exp).min(86_400)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(v: Json) -> RuleInput {
        serde_json::from_value(v).expect("rule parses")
    }

    #[test]
    fn estimate_rule_parses_and_validates() {
        let r = rule(json!({
            "name": "Оценка логистики",
            "entity": "deal",
            "trigger": {"type": "stage_entered", "stage_id": 3},
            "condition": "amount >= 1000",
            "actions": [{"type": "create_child_deal", "pipeline_id": 2,
                         "fields": {"source": "{{source}}"}}]
        }));
        assert_eq!(r.validate(), Ok(Entity::Deal));
        assert!(r.enabled);
        match &r.actions[0] {
            Action::CreateChildDeal { title, .. } => assert_eq!(title, "{{title}}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn refuses_bad_condition_url_and_misplaced_triggers() {
        let r = rule(json!({
            "name": "x", "entity": "company",
            "trigger": {"type": "stage_entered", "stage_id": 3},
            "condition": "amount >= ",
            "actions": [{"type": "webhook", "url": "ftp://example.com/x"},
                        {"type": "move_parent", "stage_id": 1}]
        }));
        let errs = r.validate().unwrap_err();
        let codes: Vec<(&str, &str)> = errs.iter().map(|e| (e.field.as_str(), e.code)).collect();
        assert_eq!(
            codes,
            vec![
                ("trigger", "automation_deal_only"),
                ("condition", "automation_condition_invalid"),
                ("actions[0].url", "automation_url_invalid"),
                ("actions[1]", "automation_deal_only"),
            ]
        );
    }

    #[test]
    fn time_trigger_needs_a_date_field() {
        let ok = rule(json!({"name": "Звонок через год", "entity": "deal",
            "trigger": {"type": "time", "field": "closed_at", "offset_minutes": 525600},
            "actions": [{"type": "create_activity", "subject": "Позвонить",
                         "assignee": {"kind": "owner"}}]}));
        assert!(ok.validate().is_ok());
        let bad = rule(json!({"name": "x", "entity": "deal",
            "trigger": {"type": "time", "field": "title", "offset_minutes": 0},
            "actions": [{"type": "add_tag", "tag": "a"}]}));
        assert_eq!(bad.validate().unwrap_err()[0].code, "automation_date_field");
    }

    #[test]
    fn unknown_action_type_is_a_parse_error() {
        let r: Result<RuleInput, _> = serde_json::from_value(json!({"name": "x",
            "entity": "deal", "trigger": {"type": "created"},
            "actions": [{"type": "launch_rocket"}]}));
        assert!(r.is_err());
    }

    #[test]
    fn approval_request_needs_a_deal_a_discount_and_a_reason() {
        let ok = rule(
            json!({"name": "Скидка", "entity": "deal", "trigger": {"type": "created"},
            "actions": [{"type": "request_approval", "value": "{{custom.discount}}", "reason": "Опт"}]}),
        );
        assert!(ok.validate().is_ok());
        let bad = rule(
            json!({"name": "x", "entity": "company", "trigger": {"type": "created"},
            "actions": [{"type": "request_approval", "value": 150, "reason": " "}]}),
        );
        let codes: Vec<(String, &str)> = bad
            .validate()
            .unwrap_err()
            .into_iter()
            .map(|e| (e.field, e.code))
            .collect();
        assert_eq!(
            codes,
            vec![
                ("actions[0]".to_string(), "automation_deal_only"),
                (
                    "actions[0].value".to_string(),
                    "automation_discount_invalid"
                ),
                ("actions[0].reason".to_string(), "automation_text_required"),
            ]
        );
    }

    #[test]
    fn a_delete_rule_only_tells_others() {
        let r = rule(
            json!({"name": "Удалена", "entity": "deal", "trigger": {"type": "deleted"},
            "actions": [{"type": "notebook_item", "text": "Удалена {{title}}", "assignee": {"kind": "owner"}},
                        {"type": "add_tag", "tag": "x"}]}),
        );
        let errs = r.validate().unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(
            (errs[0].field.as_str(), errs[0].code),
            ("actions[1]", "automation_deleted_record")
        );
    }

    #[test]
    fn urls() {
        assert!(valid_webhook_url("https://example.com/hook"));
        assert!(valid_webhook_url("http://127.0.0.1:8080/x"));
        assert!(!valid_webhook_url("file:///etc/passwd"));
        assert!(!valid_webhook_url("javascript:alert(1)"));
        assert!(!valid_webhook_url("example.com"));
    }

    #[test]
    fn templates() {
        let data = json!({"title": "Поставка", "amount": "1500.00", "n": 3,
                          "payload": {"order": {"id": 77}}});
        assert_eq!(
            render(
                "{{title}}: {{ amount }} ₽, {{n}} шт., заказ {{payload.order.id}}{{x}}",
                &data
            ),
            "Поставка: 1500.00 ₽, 3 шт., заказ 77"
        );
        assert_eq!(render("без {{конца", &data), "без {{конца");
    }

    #[test]
    fn backoff_doubles_up_to_a_day() {
        assert_eq!(
            (1..=5).map(backoff_seconds).collect::<Vec<_>>(),
            vec![60, 120, 240, 480, 960]
        );
        assert_eq!(backoff_seconds(20), 61_440);
    }
}
