//! The rule editor in Settings (`/settings/automation`): a list of rules, a plain form
//! for a rule (trigger parameters and action rows re-rendered by the server when the
//! kind changes or a row is added, removed or moved), the rule's run log and a dry run
//! on a record. Saving goes through the same store checks as the API.

use std::collections::BTreeMap;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::Router;
use plotina_core::automation::{RuleInput, Trigger};
use plotina_core::policy::Actor;
use plotina_core::schema::{Access, Entity, FieldKind};
use plotina_core::{DomainError, FieldError};
use plotina_store::automation::{RunOutcome, RunQuery, StoredRule};
use plotina_store::{Store, StoreError};
use serde_json::{json, Map, Value as Json};

use super::fmt::{field_label, option_label};
use super::forms::parse_id;
use super::lookups::{title_of, Lookups};
use super::{html, redirect, urls, Ctx, FormData, Web, WebError, WebResult};
use crate::i18n::{I18n, Lang};
use crate::state::AppState;

const TRIGGERS: &[&str] = &[
    "created",
    "updated",
    "deleted",
    "field_changed",
    "stage_entered",
    "stage_left",
    "activity_overdue",
    "time",
    "webhook",
    "manual",
];

const ACTIONS: &[&str] = &[
    "create_activity",
    "create_child_deal",
    "move_parent",
    "move_children",
    "move_stage",
    "set_field",
    "assign_owner",
    "add_tag",
    "remove_tag",
    "notebook_item",
    "send_email",
    "webhook",
    "delay",
    "request_approval",
];

const ASSIGNEES: &[&str] = &[
    "owner",
    "user",
    "department_head",
    "round_robin",
    "least_loaded",
];

const ACTIVITY_KINDS: &[&str] = &["task", "call", "meeting", "email", "sms", "note"];
const UNITS: &[(&str, i64)] = &[("minutes", 1), ("hours", 60), ("days", 1440)];
/// The most action rows a form may carry.
const MAX_ACTIONS: usize = 50;

/// One input of the form.
#[derive(Debug, Clone, Default)]
pub struct Input {
    pub name: String,
    /// The error path of the API (`trigger.field`, `actions[0].subject`).
    pub path: String,
    pub label: String,
    /// `text`, `number`, `select`, `textarea`, `checkbox`.
    pub widget: &'static str,
    pub value: String,
    pub options: Vec<(String, String)>,
    pub error: String,
    pub autosubmit: bool,
    pub help: String,
    /// Values offered while typing (value, label): field names of the rule's entity.
    pub suggestions: Vec<(String, String)>,
}

impl Input {
    fn has_error(&self) -> bool {
        !self.error.is_empty()
    }
}

pub struct ActionRow {
    pub index: usize,
    pub inputs: Vec<Input>,
    pub errors: Vec<String>,
    pub last: bool,
}

pub struct RuleRow {
    pub id: i64,
    pub name: String,
    pub entity: String,
    pub pipeline: String,
    pub trigger: String,
    pub enabled: bool,
    pub runs: usize,
    pub errors: usize,
}

pub struct RunLine {
    pub at: String,
    pub href: String,
    pub record: String,
    pub trigger: String,
    pub status: String,
    pub failed: bool,
    pub actions: String,
    pub error: String,
}

pub struct DryRun {
    pub record: String,
    pub status: String,
    pub lines: Vec<String>,
    pub error: String,
}

#[derive(Template)]
#[template(path = "settings_rules.html")]
struct ListPage {
    ctx: Ctx,
    rules: Vec<RuleRow>,
}

#[derive(Template)]
#[template(path = "settings_rule.html")]
struct RulePage {
    ctx: Ctx,
    id: Option<i64>,
    title: String,
    action_url: String,
    version: String,
    enabled: bool,
    head: Vec<Input>,
    /// The trigger kind first, then its parameters.
    trigger_inputs: Vec<Input>,
    trigger_errors: Vec<String>,
    condition: Vec<Input>,
    /// The condition split around the error position.
    echo: Option<(String, String, String)>,
    rows: Vec<ActionRow>,
    actions_error: String,
    general: Vec<String>,
    webhook_url: String,
    runs: Vec<RunLine>,
    dry: Option<DryRun>,
    dry_record: String,
    dry_choices: Vec<(String, String)>,
}

/// How many recently changed records the dry run offers.
const DRY_CHOICES: u64 = 20;

fn admin(web: &Web) -> Result<(), WebError> {
    if web.actor.is_admin {
        Ok(())
    } else {
        Err(WebError::Forbidden("forbidden_settings"))
    }
}

/// The typed values of the form, kept as text so nothing is lost on an error.
#[derive(Debug, Clone, Default)]
struct RuleForm {
    name: String,
    entity: String,
    pipeline_id: String,
    enabled: bool,
    trigger: String,
    t: BTreeMap<String, String>,
    condition: String,
    actions: Vec<ActionForm>,
}

#[derive(Debug, Clone, Default)]
struct ActionForm {
    kind: String,
    p: BTreeMap<String, String>,
}

impl ActionForm {
    fn get(&self, k: &str) -> &str {
        self.p.get(k).map(|s| s.as_str()).unwrap_or("")
    }
    fn set(&mut self, k: &str, v: impl ToString) {
        self.p.insert(k.into(), v.to_string());
    }
}

impl RuleForm {
    fn tget(&self, k: &str) -> &str {
        self.t.get(k).map(|s| s.as_str()).unwrap_or("")
    }

    fn from_form(form: &FormData) -> RuleForm {
        let mut out = RuleForm {
            name: form.get("name").unwrap_or("").to_string(),
            entity: form.text("entity").to_string(),
            pipeline_id: form.text("pipeline_id").to_string(),
            enabled: form.has("enabled"),
            trigger: form.text("trigger").to_string(),
            condition: form.get("condition").unwrap_or("").to_string(),
            ..Default::default()
        };
        for (k, v) in &form.0 {
            if let Some(key) = k.strip_prefix("t_") {
                out.t.insert(key.to_string(), v.clone());
            }
        }
        for i in 0..MAX_ACTIONS {
            let Some(kind) = form.get(&format!("a{i}_type")) else {
                break;
            };
            let prefix = format!("a{i}_");
            let mut a = ActionForm {
                kind: kind.trim().to_string(),
                ..Default::default()
            };
            for (k, v) in &form.0 {
                if let Some(key) = k.strip_prefix(&prefix) {
                    if key != "type" {
                        a.p.insert(key.to_string(), v.clone());
                    }
                }
            }
            out.actions.push(a);
        }
        out
    }

    fn from_rule(r: &StoredRule) -> RuleForm {
        let mut out = RuleForm {
            name: r.name.clone(),
            entity: r.entity.code().into(),
            pipeline_id: r.pipeline_id.map(|p| p.to_string()).unwrap_or_default(),
            enabled: r.enabled,
            trigger: r.trigger.code().into(),
            condition: r.condition.clone().unwrap_or_default(),
            ..Default::default()
        };
        let mut t = |k: &str, v: String| {
            out.t.insert(k.into(), v);
        };
        match &r.trigger {
            Trigger::FieldChanged { field, to } => {
                t("field", field.clone());
                t("to", to.as_ref().map(json_text).unwrap_or_default());
            }
            Trigger::StageEntered { stage_id } | Trigger::StageLeft { stage_id } => {
                t("stage_id", stage_id.to_string())
            }
            Trigger::Time {
                field,
                offset_minutes,
                yearly,
            } => {
                t("field", field.clone());
                let (amount, unit) = split_minutes(offset_minutes.abs());
                t("amount", amount.to_string());
                t("unit", unit.into());
                t(
                    "dir",
                    if *offset_minutes < 0 {
                        "before"
                    } else {
                        "after"
                    }
                    .into(),
                );
                if *yearly {
                    t("yearly", "true".into());
                }
            }
            _ => {}
        }
        out.actions = r
            .actions
            .iter()
            .map(|a| {
                let v = serde_json::to_value(a).unwrap_or_default();
                action_form(&v)
            })
            .collect();
        out
    }

    /// Builds the rule; errors of values that are not even numbers come back as
    /// field errors of the API paths.
    fn to_input(&self) -> (Option<RuleInput>, Vec<FieldError>) {
        let mut errs = Vec::new();
        let mut trigger = json!({"type": self.trigger});
        match self.trigger.as_str() {
            "field_changed" => {
                trigger["field"] = self.tget("field").trim().into();
                let to = self.tget("to");
                if !to.trim().is_empty() {
                    trigger["to"] = to.trim().into();
                }
            }
            "stage_entered" | "stage_left" => {
                trigger["stage_id"] = int(
                    &mut errs,
                    "trigger.stage_id".into(),
                    self.tget("stage_id"),
                    true,
                );
            }
            "time" => {
                trigger["field"] = self.tget("field").trim().into();
                let amount = int(
                    &mut errs,
                    "trigger.offset_minutes".into(),
                    self.tget("amount"),
                    false,
                );
                let mult = unit_minutes(self.tget("unit"));
                let sign = if self.tget("dir") == "before" { -1 } else { 1 };
                trigger["offset_minutes"] = json!(amount.as_i64().unwrap_or(0) * mult * sign);
                trigger["yearly"] = json!(!self.tget("yearly").is_empty());
            }
            _ => {}
        }
        let mut actions = Vec::new();
        for (i, a) in self.actions.iter().enumerate() {
            let at = |k: &str| format!("actions[{i}].{k}");
            let mut v = json!({"type": a.kind});
            let assignee = |a: &ActionForm, errs: &mut Vec<FieldError>| -> Json {
                let mode = a.get("assignee");
                let mut out = json!({"kind": if mode.is_empty() { "owner" } else { mode }});
                let mut id = |key: &str, s: &str| match s.trim().parse::<i64>() {
                    Ok(n) => out[key] = json!(n),
                    Err(_) => errs.push(FieldError::new(
                        format!("actions[{i}].assignee.{key}"),
                        if key == "user_id" {
                            "automation_user_missing"
                        } else {
                            "automation_department_missing"
                        },
                    )),
                };
                match mode {
                    "user" => id("user_id", a.get("assignee_user")),
                    "department_head" | "round_robin" | "least_loaded" => {
                        id("department_id", a.get("assignee_department"))
                    }
                    _ => {}
                }
                out
            };
            match a.kind.as_str() {
                "create_activity" => {
                    v["subject"] = a.get("subject").into();
                    v["kind"] = if a.get("kind").is_empty() {
                        "task"
                    } else {
                        a.get("kind")
                    }
                    .into();
                    let days = int(&mut errs, at("due_in_minutes"), a.get("due_days"), false);
                    if let Some(d) = days.as_i64() {
                        v["due_in_minutes"] = json!(d * 1440);
                    }
                    v["assignee"] = assignee(a, &mut errs);
                }
                "create_child_deal" => {
                    v["pipeline_id"] =
                        int(&mut errs, at("pipeline_id"), a.get("pipeline_id"), true);
                    let stage = int(&mut errs, at("stage_id"), a.get("stage_id"), false);
                    if !stage.is_null() {
                        v["stage_id"] = stage;
                    }
                    if !a.get("title").trim().is_empty() {
                        v["title"] = a.get("title").into();
                    }
                    let mut fields = Map::new();
                    for line in a.get("fields").lines() {
                        let line = line.trim();
                        if line.is_empty() {
                            continue;
                        }
                        match line.split_once('=') {
                            Some((k, val)) if !k.trim().is_empty() => {
                                fields.insert(k.trim().to_string(), val.trim().into());
                            }
                            _ => errs
                                .push(FieldError::new(at("fields"), "automation_mapping_invalid")),
                        }
                    }
                    v["fields"] = Json::Object(fields);
                    if !a.get("assignee").is_empty() {
                        v["assignee"] = assignee(a, &mut errs);
                    }
                }
                "move_parent" | "move_children" | "move_stage" => {
                    v["stage_id"] = int(&mut errs, at("stage_id"), a.get("stage_id"), true);
                }
                "set_field" => {
                    v["field"] = a.get("field").trim().into();
                    let val = a.get("value");
                    v["value"] = if val.is_empty() {
                        Json::Null
                    } else {
                        val.into()
                    };
                }
                "assign_owner" => v["assignee"] = assignee(a, &mut errs),
                "add_tag" | "remove_tag" => v["tag"] = a.get("tag").trim().into(),
                "notebook_item" => {
                    v["text"] = a.get("text").into();
                    v["assignee"] = assignee(a, &mut errs);
                }
                "send_email" => {
                    v["to"] = a.get("to").trim().into();
                    v["subject"] = a.get("subject").into();
                    v["body"] = a.get("body").into();
                }
                "webhook" => v["url"] = a.get("url").trim().into(),
                "request_approval" => {
                    let val = a.get("value").trim();
                    v["value"] = match val.parse::<i64>() {
                        Ok(n) => json!(n),
                        Err(_) => val.into(),
                    };
                    v["reason"] = a.get("reason").into();
                }
                "delay" => {
                    let n = int(&mut errs, at("minutes"), a.get("amount"), true);
                    v["minutes"] = json!(n.as_i64().unwrap_or(0) * unit_minutes(a.get("unit")));
                }
                _ => errs.push(FieldError::new(
                    format!("actions[{i}]"),
                    "automation_action_unknown",
                )),
            }
            actions.push(v);
        }
        if !TRIGGERS.contains(&self.trigger.as_str()) {
            errs.push(FieldError::new("trigger", "automation_trigger_unknown"));
        }
        let pipeline = match self.pipeline_id.trim() {
            "" => Json::Null,
            s => int(&mut errs, "pipeline_id".into(), s, false),
        };
        let cond = self.condition.trim();
        let body = json!({
            "name": self.name,
            "entity": self.entity,
            "pipeline_id": pipeline,
            "trigger": trigger,
            "condition": if cond.is_empty() { Json::Null } else { cond.into() },
            "actions": actions,
            "enabled": self.enabled,
        });
        if !errs.is_empty() {
            return (None, errs);
        }
        match serde_json::from_value::<RuleInput>(body) {
            Ok(r) => (Some(r), errs),
            Err(e) => {
                errs.push(
                    FieldError::new("", "automation_rule_malformed").with("detail", e.to_string()),
                );
                (None, errs)
            }
        }
    }
}

/// A whole number typed in a form; a field error when it is not one (or missing while
/// required).
fn int(errs: &mut Vec<FieldError>, path: String, s: &str, required: bool) -> Json {
    let s = s.trim();
    if s.is_empty() {
        if required {
            errs.push(FieldError::new(path, "automation_number_invalid"));
        }
        return Json::Null;
    }
    match s.parse::<i64>() {
        Ok(n) => json!(n),
        Err(_) => {
            errs.push(FieldError::new(path, "automation_number_invalid"));
            Json::Null
        }
    }
}

fn json_text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        Json::Null => String::new(),
        other => other.to_string(),
    }
}

fn unit_minutes(unit: &str) -> i64 {
    UNITS
        .iter()
        .find(|(u, _)| *u == unit)
        .map(|(_, m)| *m)
        .unwrap_or(1)
}

fn split_minutes(m: i64) -> (i64, &'static str) {
    if m != 0 && m % 1440 == 0 {
        (m / 1440, "days")
    } else if m != 0 && m % 60 == 0 {
        (m / 60, "hours")
    } else {
        (m, "minutes")
    }
}

/// The form values of a stored action.
fn action_form(v: &Json) -> ActionForm {
    let mut a = ActionForm {
        kind: v["type"].as_str().unwrap_or("").into(),
        ..Default::default()
    };
    let s = |k: &str| v.get(k).map(json_text).unwrap_or_default();
    if let Some(asg) = v.get("assignee").filter(|x| x.is_object()) {
        a.set("assignee", asg["kind"].as_str().unwrap_or("owner"));
        if let Some(u) = asg.get("user_id") {
            a.set("assignee_user", u);
        }
        if let Some(d) = asg.get("department_id") {
            a.set("assignee_department", d);
        }
    }
    match a.kind.as_str() {
        "create_activity" => {
            a.set("subject", s("subject"));
            a.set("kind", s("kind"));
            if let Some(m) = v["due_in_minutes"].as_i64() {
                a.set("due_days", m / 1440);
            }
        }
        "create_child_deal" => {
            a.set("pipeline_id", s("pipeline_id"));
            a.set("stage_id", s("stage_id"));
            a.set("title", s("title"));
            let lines: Vec<String> = v["fields"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, val)| format!("{k} = {}", json_text(val)))
                        .collect()
                })
                .unwrap_or_default();
            a.set("fields", lines.join("\n"));
        }
        "delay" => {
            let (n, unit) = split_minutes(v["minutes"].as_i64().unwrap_or(0));
            a.set("amount", n);
            a.set("unit", unit);
        }
        _ => {
            for k in [
                "stage_id", "field", "value", "tag", "text", "to", "subject", "body", "url",
                "reason",
            ] {
                if v.get(k).is_some() {
                    a.set(k, s(k));
                }
            }
        }
    }
    a
}

/// A translated field error: its API path, the text and the position in the condition.
type PathError = (String, String, Option<usize>);

/// Field errors by path, translated, and the errors of no field.
fn error_map(ctx: &Ctx, e: &DomainError) -> (Vec<PathError>, Vec<String>) {
    let i18n = I18n::get();
    let mut fields = Vec::new();
    let mut general = Vec::new();
    let mut add = |fe: &FieldError| {
        let text = i18n.text(ctx.lang, fe.code, &fe.args);
        let pos = fe
            .args
            .iter()
            .find(|(k, _)| *k == "position")
            .and_then(|(_, v)| v.parse().ok());
        if fe.field.is_empty() {
            general.push(text);
        } else {
            fields.push((fe.field.clone(), text, pos));
        }
    };
    match e {
        DomainError::Invalid(errs) => errs.iter().for_each(&mut add),
        DomainError::Conflict(fe) | DomainError::BadRequest(fe) => add(fe),
        DomainError::Locked(r) => add(&r.reason),
        DomainError::BadFilter(fe) => {
            let mut args = fe.args.clone();
            args.push(("position", fe.pos.to_string()));
            fields.push((
                "condition".into(),
                i18n.text(ctx.lang, fe.code, &args),
                Some(fe.pos),
            ));
        }
        DomainError::Stale { .. } => general.push(ctx.t("problem-stale_version")),
        DomainError::Forbidden(code) => {
            general.push(i18n.text(ctx.lang, &format!("problem-{code}"), &[]))
        }
        DomainError::NotFound => general.push(ctx.t("problem-not_found")),
    }
    (fields, general)
}

fn opts(ctx: &Ctx, prefix: &str, codes: &[&str]) -> Vec<(String, String)> {
    codes
        .iter()
        .map(|c| (c.to_string(), ctx.t(&format!("{prefix}{c}"))))
        .collect()
}

fn text_input(name: &str, path: &str, label: String, value: &str) -> Input {
    Input {
        name: name.into(),
        path: path.into(),
        label,
        widget: "text",
        value: value.into(),
        ..Default::default()
    }
}

fn select(
    name: &str,
    path: &str,
    label: String,
    value: &str,
    options: Vec<(String, String)>,
) -> Input {
    Input {
        widget: "select",
        options,
        ..text_input(name, path, label, value)
    }
}

fn widget(mut i: Input, w: &'static str) -> Input {
    i.widget = w;
    i
}

fn help(mut i: Input, text: String) -> Input {
    i.help = text;
    i
}

fn stage_options(lk: &Lookups) -> Vec<(String, String)> {
    let mut out = vec![(String::new(), "—".to_string())];
    for p in &lk.pipelines {
        for s in lk.stages_of(p.id) {
            out.push((s.id.to_string(), format!("{} · {}", p.name, s.name)));
        }
    }
    out
}

fn pipeline_options(lk: &Lookups) -> Vec<(String, String)> {
    let mut out = vec![(String::new(), "—".to_string())];
    out.extend(
        lk.pipelines
            .iter()
            .map(|p| (p.id.to_string(), p.name.clone())),
    );
    out
}

fn date_fields(entity: Option<Entity>) -> Vec<String> {
    entity
        .map(|e| {
            e.fields()
                .filter(|f| matches!(f.kind, FieldKind::Date | FieldKind::DateTime))
                .map(|f| f.name.to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// The fields of the rule's entity a rule may watch or set, with their labels: the
/// entity's own fields (not the system-kept ones) and its custom fields as `custom.key`.
fn field_suggestions(ctx: &Ctx, lk: &Lookups, entity: Option<Entity>) -> Vec<(String, String)> {
    let Some(entity) = entity else {
        return Vec::new();
    };
    let own = entity
        .fields()
        .filter(|f| f.access != Access::System)
        .map(|f| (f.name.to_string(), field_label(ctx.lang, entity, f.name)));
    let custom = lk
        .custom_fields
        .iter()
        .filter(|c| c.entity == entity)
        .map(|c| {
            let label = match (ctx.lang, &c.label_en) {
                (Lang::En, Some(en)) if !en.is_empty() => en.clone(),
                _ => c.label.clone(),
            };
            (format!("custom.{}", c.key), label)
        });
    own.chain(custom).collect()
}

fn suggest(mut i: Input, values: Vec<(String, String)>) -> Input {
    i.suggestions = values;
    i
}

/// The lookups of the rule pages: the shared ones plus every custom field, for the
/// field pickers.
async fn rule_lookups(store: &Store, actor: &Actor) -> Result<Lookups, WebError> {
    let mut lk = Lookups::load(store, actor).await?;
    for entity in Entity::BUSINESS {
        lk.custom_fields.extend(store.custom_defs(*entity).await?);
    }
    Ok(lk)
}

fn assignee_inputs(
    ctx: &Ctx,
    lk: &Lookups,
    i: usize,
    a: &ActionForm,
    optional: bool,
) -> Vec<Input> {
    let mut modes = opts(ctx, "ui-rule-assignee-", ASSIGNEES);
    if optional {
        modes.insert(0, (String::new(), ctx.t("ui-rule-assignee-parent")));
    }
    let mode = a.get("assignee");
    let mut out = vec![Input {
        autosubmit: true,
        ..select(
            &format!("a{i}_assignee"),
            &format!("actions[{i}].assignee"),
            ctx.t("ui-rule-assignee"),
            mode,
            modes,
        )
    }];
    match mode {
        "user" => {
            let mut users = vec![(String::new(), "—".to_string())];
            users.extend(
                lk.users
                    .iter()
                    .filter(|u| u.active)
                    .map(|u| (u.id.to_string(), u.name.clone())),
            );
            out.push(select(
                &format!("a{i}_assignee_user"),
                &format!("actions[{i}].assignee.user_id"),
                ctx.t("ui-rule-user"),
                a.get("assignee_user"),
                users,
            ));
        }
        "department_head" | "round_robin" | "least_loaded" => {
            let mut deps = vec![(String::new(), "—".to_string())];
            deps.extend(
                lk.departments
                    .iter()
                    .map(|d| (d.id.to_string(), d.name.clone())),
            );
            out.push(select(
                &format!("a{i}_assignee_department"),
                &format!("actions[{i}].assignee.department_id"),
                ctx.t("ui-rule-department"),
                a.get("assignee_department"),
                deps,
            ));
        }
        _ => {}
    }
    out
}

fn action_inputs(
    ctx: &Ctx,
    lk: &Lookups,
    entity: Option<Entity>,
    i: usize,
    a: &ActionForm,
) -> Vec<Input> {
    let n = |k: &str| format!("a{i}_{k}");
    let p = |k: &str| format!("actions[{i}].{k}");
    let t = |id: &str| ctx.t(id);
    match a.kind.as_str() {
        "create_activity" => {
            let mut v = vec![
                select(
                    &n("kind"),
                    &p("kind"),
                    t("ui-rule-activity-kind"),
                    a.get("kind"),
                    ACTIVITY_KINDS
                        .iter()
                        .map(|k| (k.to_string(), option_label(ctx.lang, "kind", k)))
                        .collect(),
                ),
                text_input(
                    &n("subject"),
                    &p("subject"),
                    t("ui-rule-subject"),
                    a.get("subject"),
                ),
                widget(
                    text_input(
                        &n("due_days"),
                        &p("due_in_minutes"),
                        t("ui-rule-due-days"),
                        a.get("due_days"),
                    ),
                    "number",
                ),
            ];
            v.extend(assignee_inputs(ctx, lk, i, a, false));
            v
        }
        "create_child_deal" => {
            let mut v = vec![
                select(
                    &n("pipeline_id"),
                    &p("pipeline_id"),
                    t("ui-rule-target-pipeline"),
                    a.get("pipeline_id"),
                    pipeline_options(lk),
                ),
                select(
                    &n("stage_id"),
                    &p("stage_id"),
                    t("ui-rule-target-stage"),
                    a.get("stage_id"),
                    stage_options(lk),
                ),
                help(
                    text_input(
                        &n("title"),
                        &p("title"),
                        t("ui-rule-child-title"),
                        a.get("title"),
                    ),
                    t("ui-rule-template-help"),
                ),
                help(
                    widget(
                        text_input(
                            &n("fields"),
                            &p("fields"),
                            t("ui-rule-mapping"),
                            a.get("fields"),
                        ),
                        "textarea",
                    ),
                    t("ui-rule-mapping-help"),
                ),
            ];
            v.extend(assignee_inputs(ctx, lk, i, a, true));
            v
        }
        "move_parent" | "move_children" | "move_stage" => vec![select(
            &n("stage_id"),
            &p("stage_id"),
            t("ui-rule-stage"),
            a.get("stage_id"),
            stage_options(lk),
        )],
        "set_field" => vec![
            suggest(
                help(
                    text_input(&n("field"), &p("field"), t("ui-rule-field"), a.get("field")),
                    t("ui-rule-field-help"),
                ),
                field_suggestions(ctx, lk, entity),
            ),
            help(
                text_input(&n("value"), &p("value"), t("ui-rule-value"), a.get("value")),
                t("ui-rule-template-help"),
            ),
        ],
        "assign_owner" => assignee_inputs(ctx, lk, i, a, false),
        "add_tag" | "remove_tag" => vec![text_input(
            &n("tag"),
            &p("tag"),
            t("ui-rule-tag"),
            a.get("tag"),
        )],
        "notebook_item" => {
            let mut v = vec![help(
                widget(
                    text_input(&n("text"), &p("text"), t("ui-rule-text"), a.get("text")),
                    "textarea",
                ),
                t("ui-rule-template-help"),
            )];
            v.extend(assignee_inputs(ctx, lk, i, a, false));
            v
        }
        "send_email" => vec![
            help(
                text_input(&n("to"), &p("to"), t("ui-rule-email-to"), a.get("to")),
                t("ui-rule-template-help"),
            ),
            text_input(
                &n("subject"),
                &p("subject"),
                t("ui-rule-subject"),
                a.get("subject"),
            ),
            widget(
                text_input(
                    &n("body"),
                    &p("body"),
                    t("ui-rule-email-body"),
                    a.get("body"),
                ),
                "textarea",
            ),
        ],
        "webhook" => vec![text_input(
            &n("url"),
            &p("url"),
            t("ui-rule-url"),
            a.get("url"),
        )],
        "request_approval" => vec![
            help(
                text_input(
                    &n("value"),
                    &p("value"),
                    t("ui-rule-discount"),
                    a.get("value"),
                ),
                t("ui-rule-discount-help"),
            ),
            help(
                widget(
                    text_input(
                        &n("reason"),
                        &p("reason"),
                        t("ui-rule-reason"),
                        a.get("reason"),
                    ),
                    "textarea",
                ),
                t("ui-rule-template-help"),
            ),
        ],
        "delay" => vec![
            widget(
                text_input(
                    &n("amount"),
                    &p("minutes"),
                    t("ui-rule-amount"),
                    a.get("amount"),
                ),
                "number",
            ),
            select(
                &n("unit"),
                &p("minutes"),
                t("ui-rule-unit"),
                a.get("unit"),
                opts(ctx, "ui-rule-unit-", &["minutes", "hours", "days"]),
            ),
        ],
        _ => Vec::new(),
    }
}

fn trigger_inputs(ctx: &Ctx, lk: &Lookups, f: &RuleForm) -> Vec<Input> {
    let t = |id: &str| ctx.t(id);
    let entity = Entity::from_code(&f.entity);
    match f.trigger.as_str() {
        "field_changed" => vec![
            suggest(
                help(
                    text_input(
                        "t_field",
                        "trigger.field",
                        t("ui-rule-field"),
                        f.tget("field"),
                    ),
                    t("ui-rule-field-help"),
                ),
                field_suggestions(ctx, lk, entity),
            ),
            help(
                text_input("t_to", "trigger.to", t("ui-rule-to"), f.tget("to")),
                t("ui-rule-to-help"),
            ),
        ],
        "stage_entered" | "stage_left" => vec![select(
            "t_stage_id",
            "trigger.stage_id",
            t("ui-rule-stage"),
            f.tget("stage_id"),
            stage_options(lk),
        )],
        "time" => {
            let mut fields: Vec<(String, String)> = vec![(String::new(), "—".into())];
            fields.extend(date_fields(entity).into_iter().map(|name| {
                let label = entity
                    .map(|e| field_label(ctx.lang, e, &name))
                    .unwrap_or_else(|| name.clone());
                (name, label)
            }));
            let cur = f.tget("field");
            if !cur.is_empty() && !fields.iter().any(|(v, _)| v == cur) {
                fields.push((cur.to_string(), cur.to_string()));
            }
            vec![
                select(
                    "t_field",
                    "trigger.field",
                    t("ui-rule-date-field"),
                    cur,
                    fields,
                ),
                widget(
                    text_input(
                        "t_amount",
                        "trigger.offset_minutes",
                        t("ui-rule-amount"),
                        f.tget("amount"),
                    ),
                    "number",
                ),
                select(
                    "t_unit",
                    "trigger.unit",
                    t("ui-rule-unit"),
                    f.tget("unit"),
                    opts(ctx, "ui-rule-unit-", &["minutes", "hours", "days"]),
                ),
                select(
                    "t_dir",
                    "trigger.dir",
                    t("ui-rule-direction"),
                    f.tget("dir"),
                    vec![
                        ("after".into(), t("ui-rule-after")),
                        ("before".into(), t("ui-rule-before")),
                    ],
                ),
                Input {
                    widget: "checkbox",
                    ..text_input(
                        "t_yearly",
                        "trigger.yearly",
                        t("ui-rule-yearly"),
                        f.tget("yearly"),
                    )
                },
            ]
        }
        _ => Vec::new(),
    }
}

/// Everything the rule page shows besides the form.
#[derive(Default)]
struct Extras {
    runs: Vec<RunLine>,
    /// Records to try the rule on: (id, "№id title").
    dry_choices: Vec<(String, String)>,
    dry: Option<DryRun>,
    dry_record: String,
    webhook_url: String,
    version: String,
}

fn build_page(
    ctx: &Ctx,
    lk: &Lookups,
    id: Option<i64>,
    f: &RuleForm,
    error: Option<&DomainError>,
    extras: Extras,
) -> RulePage {
    let t = |k: &str| ctx.t(k);
    let mut entities: Vec<(String, String)> = Entity::BUSINESS
        .iter()
        .map(|e| {
            (
                e.code().to_string(),
                ctx.t(&format!("ui-entity-{}", e.code())),
            )
        })
        .collect();
    if f.entity.is_empty() {
        entities.insert(0, (String::new(), "—".into()));
    }
    let mut head = vec![
        text_input("name", "name", t("ui-rule-name"), &f.name),
        Input {
            autosubmit: true,
            ..select("entity", "entity", t("ui-rule-entity"), &f.entity, entities)
        },
        help(
            select(
                "pipeline_id",
                "pipeline_id",
                t("ui-rule-pipeline"),
                &f.pipeline_id,
                pipeline_options(lk),
            ),
            t("ui-rule-pipeline-help"),
        ),
    ];
    let mut trigger_inputs = vec![Input {
        autosubmit: true,
        ..select(
            "trigger",
            "trigger",
            t("ui-rule-trigger"),
            &f.trigger,
            opts(ctx, "ui-rule-trigger-", TRIGGERS),
        )
    }];
    trigger_inputs.extend(self::trigger_inputs(ctx, lk, f));
    let mut condition = help(
        widget(
            text_input(
                "condition",
                "condition",
                t("ui-rule-condition"),
                &f.condition,
            ),
            "textarea",
        ),
        t("ui-rule-condition-help"),
    );
    let count = f.actions.len();
    let mut rows: Vec<ActionRow> = f
        .actions
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let mut inputs = vec![Input {
                autosubmit: true,
                ..select(
                    &format!("a{i}_type"),
                    &format!("actions[{i}]"),
                    t("ui-rule-action"),
                    &a.kind,
                    opts(ctx, "ui-rule-action-", ACTIONS),
                )
            }];
            inputs.extend(action_inputs(ctx, lk, Entity::from_code(&f.entity), i, a));
            ActionRow {
                index: i,
                inputs,
                errors: Vec::new(),
                last: i + 1 == count,
            }
        })
        .collect();
    let mut trigger_errors = Vec::new();
    let mut actions_error = String::new();
    let mut echo = None;
    let mut general = Vec::new();
    if let Some(e) = error {
        let (fields, gen) = error_map(ctx, e);
        general = gen;
        for (path, text, pos) in fields {
            let put = |inputs: &mut Vec<Input>| -> bool {
                match inputs.iter_mut().find(|i| i.path == path) {
                    Some(i) => {
                        if i.error.is_empty() {
                            i.error = text.clone();
                        }
                        true
                    }
                    None => false,
                }
            };
            if put(&mut head) {
                continue;
            }
            if path == "condition" {
                condition.error = text;
                if let Some(p) = pos {
                    let chars: Vec<char> = f.condition.chars().collect();
                    let p = p.min(chars.len());
                    echo = Some((
                        chars[..p].iter().collect(),
                        chars
                            .get(p)
                            .map(|c| c.to_string())
                            .unwrap_or_else(|| " ".into()),
                        chars
                            .get(p + 1..)
                            .map(|r| r.iter().collect())
                            .unwrap_or_default(),
                    ));
                }
                continue;
            }
            if path == "trigger" || path.starts_with("trigger.") {
                if !put(&mut trigger_inputs) {
                    trigger_errors.push(text);
                }
                continue;
            }
            if path == "actions" {
                actions_error = text;
                continue;
            }
            let row = path
                .strip_prefix("actions[")
                .and_then(|r| r.split_once(']'))
                .and_then(|(n, _)| n.parse::<usize>().ok())
                .and_then(|n| rows.get_mut(n));
            match row {
                Some(r) => {
                    if !put(&mut r.inputs) {
                        r.errors.push(text);
                    }
                }
                None => general.push(text),
            }
        }
    }
    RulePage {
        ctx: ctx.clone(),
        id,
        title: if id.is_some() {
            f.name.clone()
        } else {
            t("ui-rule-new")
        },
        action_url: match id {
            Some(id) => format!("/settings/automation/{id}"),
            None => "/settings/automation/new".into(),
        },
        version: extras.version,
        enabled: f.enabled,
        head,
        trigger_inputs,
        trigger_errors,
        condition: vec![condition],
        echo,
        rows,
        actions_error,
        general,
        webhook_url: extras.webhook_url,
        runs: extras.runs,
        dry: extras.dry,
        dry_record: extras.dry_record,
        dry_choices: extras.dry_choices,
    }
}

fn trigger_summary(ctx: &Ctx, lk: &Lookups, r: &StoredRule) -> String {
    let name = ctx.t(&format!("ui-rule-trigger-{}", r.trigger.code()));
    let detail = match &r.trigger {
        Trigger::FieldChanged { field, to } => match to {
            Some(v) => format!(
                "{} → {}",
                field_label(ctx.lang, r.entity, field),
                json_text(v)
            ),
            None => field_label(ctx.lang, r.entity, field),
        },
        Trigger::StageEntered { stage_id } | Trigger::StageLeft { stage_id } => lk
            .stage(*stage_id)
            .map(|s| s.name.clone())
            .unwrap_or_default(),
        Trigger::Time {
            field,
            offset_minutes,
            yearly,
        } => {
            let (n, unit) = split_minutes(offset_minutes.abs());
            let dir = if *offset_minutes < 0 {
                "ui-rule-before"
            } else {
                "ui-rule-after"
            };
            let mut s = format!(
                "{}: {n} {} {}",
                field_label(ctx.lang, r.entity, field),
                ctx.t(&format!("ui-rule-unit-{unit}")),
                ctx.t(dir)
            );
            if *yearly {
                s.push_str(&format!(", {}", ctx.t("ui-rule-yearly")));
            }
            s
        }
        _ => String::new(),
    };
    if detail.is_empty() {
        name
    } else {
        format!("{name}: {detail}")
    }
}

fn run_lines(ctx: &Ctx, runs: Vec<plotina_store::automation::RunRow>) -> Vec<RunLine> {
    runs.into_iter()
        .map(|r| {
            let entity = Entity::from_code(&r.entity);
            let actions: Vec<String> = r
                .actions
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.get("action").and_then(Json::as_str))
                        .map(|code| ctx.t(&format!("automation-action-{code}")))
                        .collect()
                })
                .unwrap_or_default();
            RunLine {
                at: r
                    .started_at
                    .map(|t| {
                        super::fmt::datetime_text(ctx, &plotina_core::value::format_datetime(t))
                    })
                    .unwrap_or_default(),
                href: match (entity, r.record_id) {
                    (Some(e), Some(id)) => urls::card(e, id),
                    _ => String::new(),
                },
                record: match (entity, r.record_id) {
                    (Some(e), Some(id)) => {
                        format!("{} №{id}", ctx.t(&format!("ui-entity-{}", e.code())))
                    }
                    _ => String::new(),
                },
                trigger: ctx.t(&format!("ui-rule-trigger-{}", r.trigger)),
                failed: r.error.is_some() || r.status == "failed",
                status: ctx.t(&format!("automation-status-{}", r.status)),
                actions: actions.join(", "),
                error: r.error.unwrap_or_default(),
            }
        })
        .collect()
}

fn dry_view(ctx: &Ctx, record: i64, out: &RunOutcome) -> DryRun {
    DryRun {
        record: record.to_string(),
        status: ctx.t(&format!("automation-status-{}", out.status)),
        lines: out
            .actions
            .iter()
            .map(|a| {
                let code = a.get("action").and_then(Json::as_str).unwrap_or("");
                // `{"tag": "x", "activity_id": 2}` → `tag: x, activity_id: 2`.
                let detail = match a.get("result").or_else(|| a.get("until")) {
                    Some(Json::Object(m)) => m
                        .iter()
                        .map(|(k, v)| format!("{k}: {}", json_text(v)))
                        .collect::<Vec<_>>()
                        .join(", "),
                    Some(v) => json_text(v),
                    None => String::new(),
                };
                format!("{} {detail}", ctx.t(&format!("ui-rule-action-{code}")))
            })
            .collect(),
        error: out.error.clone().unwrap_or_default(),
    }
}

async fn extras_for(s: &AppState, web: &Web, rule: &StoredRule) -> Result<Extras, StoreError> {
    let runs = s
        .store
        .automation_runs(
            &web.actor,
            &RunQuery {
                rule_id: Some(rule.id),
                limit: 50,
                ..Default::default()
            },
        )
        .await?;
    // The dry run offers the records of the rule's kind (in its pipeline) changed last.
    let recent = s
        .store
        .list(
            &web.actor,
            rule.entity,
            &plotina_store::ListParams {
                filter: rule
                    .pipeline_id
                    .filter(|_| rule.entity == Entity::Deal)
                    .map(|p| format!("pipeline_id = {p}")),
                sort: Some("-updated_at".into()),
                limit: Some(DRY_CHOICES),
                ..Default::default()
            },
        )
        .await?;
    let dry_choices = recent
        .data
        .iter()
        .map(|r| {
            let id = super::lookups::id_of(r);
            (
                id.to_string(),
                format!("№{id} {}", title_of(rule.entity, r)),
            )
        })
        .collect();
    Ok(Extras {
        dry_choices,
        runs: run_lines(&web.ctx, runs),
        webhook_url: rule
            .webhook_token
            .as_ref()
            .map(|t| format!("/api/v1/automation/hooks/{t}"))
            .unwrap_or_default(),
        version: rule.version.to_string(),
        ..Default::default()
    })
}

async fn list(State(s): State<AppState>, web: Web) -> WebResult {
    admin(&web)?;
    let ctx = web.ctx.clone().with_section("settings");
    let lk = Lookups::load(&s.store, &web.actor).await?;
    let rules = s.store.automation_rules(&web.actor).await?;
    let mut rows = Vec::new();
    for r in &rules {
        let runs = s
            .store
            .automation_runs(
                &web.actor,
                &RunQuery {
                    rule_id: Some(r.id),
                    limit: 100,
                    ..Default::default()
                },
            )
            .await?;
        rows.push(RuleRow {
            id: r.id,
            name: r.name.clone(),
            entity: ctx.t(&format!("ui-entity-{}", r.entity.code())),
            pipeline: r
                .pipeline_id
                .and_then(|p| lk.pipeline(p))
                .map(|p| p.name.clone())
                .unwrap_or_default(),
            trigger: trigger_summary(&ctx, &lk, r),
            enabled: r.enabled,
            runs: runs.len(),
            errors: runs
                .iter()
                .filter(|x| x.error.is_some() || x.status == "failed")
                .count(),
        });
    }
    html(&ListPage { ctx, rules: rows })
}

fn blank_form() -> RuleForm {
    RuleForm {
        entity: "deal".into(),
        trigger: "created".into(),
        enabled: true,
        actions: vec![ActionForm {
            kind: "create_activity".into(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

async fn new_form(State(s): State<AppState>, web: Web) -> WebResult {
    admin(&web)?;
    let ctx = web.ctx.clone().with_section("settings");
    let lk = rule_lookups(&s.store, &web.actor).await?;
    html(&build_page(
        &ctx,
        &lk,
        None,
        &blank_form(),
        None,
        Extras::default(),
    ))
}

async fn show(State(s): State<AppState>, web: Web, Path(id): Path<String>) -> WebResult {
    admin(&web)?;
    let id = parse_id(&id)?;
    let ctx = web.ctx.clone().with_section("settings");
    let lk = rule_lookups(&s.store, &web.actor).await?;
    let rule = s.store.automation_rule(&web.actor, id).await?;
    let extras = extras_for(&s, &web, &rule).await?;
    html(&build_page(
        &ctx,
        &lk,
        Some(id),
        &RuleForm::from_rule(&rule),
        None,
        extras,
    ))
}

/// Applies an editing operation (`add`, `del:N`, `up:N`, `down:N`); `None` when the
/// operation is saving.
fn edit_op(f: &mut RuleForm, op: &str) -> bool {
    let (name, idx) = match op.split_once(':') {
        Some((n, i)) => (n, i.parse::<usize>().ok()),
        None => (op, None),
    };
    let n = f.actions.len();
    match (name, idx) {
        ("save", _) => return false,
        ("add", _) if n < MAX_ACTIONS => f.actions.push(ActionForm {
            kind: "create_activity".into(),
            ..Default::default()
        }),
        ("del", Some(i)) if i < n => {
            f.actions.remove(i);
        }
        ("up", Some(i)) if i > 0 && i < n => f.actions.swap(i, i - 1),
        ("down", Some(i)) if i + 1 < n => f.actions.swap(i, i + 1),
        _ => {}
    }
    true
}

async fn save(s: AppState, web: Web, id: Option<i64>, body: Bytes) -> WebResult {
    admin(&web)?;
    let form = web.form(&body)?;
    let ctx = web.ctx.clone().with_section("settings");
    let lk = rule_lookups(&s.store, &web.actor).await?;
    let mut f = RuleForm::from_form(&form);
    let op = form.text("op").to_string();
    let version = form.text("version").parse::<i64>().ok();
    let extras = match id {
        Some(id) => {
            let rule = s.store.automation_rule(&web.actor, id).await?;
            let mut e = extras_for(&s, &web, &rule).await?;
            if let Some(v) = version {
                e.version = v.to_string();
            }
            e
        }
        None => Extras::default(),
    };
    if edit_op(&mut f, if op.is_empty() { "refresh" } else { &op }) {
        return html(&build_page(&ctx, &lk, id, &f, None, extras));
    }
    let (input, errs) = f.to_input();
    let result = match input {
        None => Err(StoreError::Domain(DomainError::Invalid(errs))),
        Some(input) => match id {
            None => s.store.create_automation_rule(&web.actor, &input).await,
            Some(id) => {
                s.store
                    .update_automation_rule(&web.actor, id, &input, version)
                    .await
            }
        },
    };
    match result {
        Ok(rule) => Ok(redirect(&format!("/settings/automation/{}", rule.id))),
        Err(StoreError::Domain(e)) => {
            let page = build_page(&ctx, &lk, id, &f, Some(&e), extras);
            super::html_status(axum::http::StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(e) => Err(e.into()),
    }
}

async fn create(State(s): State<AppState>, web: Web, body: Bytes) -> WebResult {
    save(s, web, None, body).await
}

async fn update(
    State(s): State<AppState>,
    web: Web,
    Path(id): Path<String>,
    body: Bytes,
) -> WebResult {
    let id = parse_id(&id)?;
    save(s, web, Some(id), body).await
}

async fn delete(
    State(s): State<AppState>,
    web: Web,
    Path(id): Path<String>,
    body: Bytes,
) -> WebResult {
    admin(&web)?;
    let id = parse_id(&id)?;
    web.form(&body)?;
    s.store.delete_automation_rule(&web.actor, id).await?;
    Ok(redirect("/settings/automation"))
}

async fn toggle(
    State(s): State<AppState>,
    web: Web,
    Path(id): Path<String>,
    body: Bytes,
) -> WebResult {
    admin(&web)?;
    let id = parse_id(&id)?;
    web.form(&body)?;
    let rule = s.store.automation_rule(&web.actor, id).await?;
    let input = RuleInput {
        name: rule.name.clone(),
        entity: rule.entity.code().into(),
        pipeline_id: rule.pipeline_id,
        trigger: rule.trigger.clone(),
        condition: rule.condition.clone(),
        actions: rule.actions.clone(),
        enabled: !rule.enabled,
    };
    s.store
        .update_automation_rule(&web.actor, id, &input, Some(rule.version))
        .await?;
    Ok(redirect(&format!("/settings/automation/{id}")))
}

async fn dry_run(
    State(s): State<AppState>,
    web: Web,
    Path(id): Path<String>,
    body: Bytes,
) -> WebResult {
    admin(&web)?;
    let id = parse_id(&id)?;
    let form = web.form(&body)?;
    let ctx = web.ctx.clone().with_section("settings");
    let lk = rule_lookups(&s.store, &web.actor).await?;
    let rule = s.store.automation_rule(&web.actor, id).await?;
    let mut extras = extras_for(&s, &web, &rule).await?;
    let raw = form.text("record").to_string();
    extras.dry_record = raw.clone();
    extras.dry = Some(match raw.parse::<i64>().ok().filter(|n| *n > 0) {
        None => DryRun {
            record: raw.clone(),
            status: String::new(),
            lines: Vec::new(),
            error: ctx.t("ui-rule-dry-record-invalid"),
        },
        Some(record) => match s
            .store
            .dry_run_automation_rule(&web.actor, id, record)
            .await
        {
            Ok(out) => dry_view(&ctx, record, &out),
            Err(StoreError::Domain(e)) => DryRun {
                record: raw.clone(),
                status: String::new(),
                lines: Vec::new(),
                error: {
                    let (fields, mut general) = error_map(&ctx, &e);
                    general.extend(fields.into_iter().map(|(_, t, _)| t));
                    general.join(" ")
                },
            },
            Err(e) => return Err(e.into()),
        },
    });
    html(&build_page(
        &ctx,
        &lk,
        Some(id),
        &RuleForm::from_rule(&rule),
        None,
        extras,
    ))
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/settings/automation", get(list))
        .route("/settings/automation/new", get(new_form).post(create))
        .route("/settings/automation/{id}", get(show).post(update))
        .route("/settings/automation/{id}/delete", post(delete))
        .route("/settings/automation/{id}/toggle", post(toggle))
        .route("/settings/automation/{id}/dry-run", post(dry_run))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_rule_round_trips_through_the_form() {
        let input: RuleInput = serde_json::from_value(json!({
            "name": "Звонок", "entity": "deal",
            "trigger": {"type": "time", "field": "close_date", "offset_minutes": -2880, "yearly": true},
            "condition": "amount > 10",
            "actions": [
                {"type": "create_activity", "subject": "Позвонить", "kind": "call", "due_in_minutes": 4320,
                 "assignee": {"kind": "round_robin", "department_id": 4}},
                {"type": "create_child_deal", "pipeline_id": 2, "stage_id": 5, "title": "Оценка {{title}}",
                 "fields": {"source": "{{source}}"}},
                {"type": "delay", "minutes": 120},
                {"type": "set_field", "field": "description", "value": "x"},
                {"type": "request_approval", "value": 20, "reason": "Опт: {{title}}"}
            ]
        }))
        .unwrap();
        let stored = StoredRule {
            id: 1,
            name: input.name.clone(),
            entity: Entity::Deal,
            pipeline_id: None,
            trigger: input.trigger.clone(),
            condition: input.condition.clone(),
            actions: input.actions.clone(),
            enabled: true,
            webhook_token: None,
            created_at: None,
            updated_at: None,
            version: 1,
            created_by: None,
            scheduled_until: None,
        };
        let (back, errs) = RuleForm::from_rule(&stored).to_input();
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(back, Some(input));
    }

    #[test]
    fn operations_add_move_and_remove_rows() {
        let mut f = blank_form();
        assert!(edit_op(&mut f, "add"));
        f.actions[1].kind = "add_tag".into();
        assert!(edit_op(&mut f, "up:1"));
        assert_eq!(f.actions[0].kind, "add_tag");
        assert!(edit_op(&mut f, "del:0"));
        assert_eq!(f.actions.len(), 1);
        assert!(edit_op(&mut f, "del:9"));
        assert!(!edit_op(&mut f, "save"));
    }
}
