//! A record's timeline, newest first: its activities, its stage changes (deals) and
//! its field history, with people's names and values as people read them.

use std::collections::{BTreeMap, BTreeSet};

use plotina_core::record::CustomFieldDef;
use plotina_core::schema::{Entity, FieldKind};
use plotina_store::history::HistoryEntry;
use plotina_store::sales::StageStep;
use plotina_store::Record;
use serde_json::Value as Json;

use super::ctx::Ctx;
use super::fmt::{self, field_label};
use super::lookups::{id_of, str_of, Lookups, Titles};
use super::urls;

#[derive(Debug, Clone, Default)]
pub struct TimelineItem {
    /// RFC 3339, for ordering.
    pub at: String,
    pub when: String,
    pub who: String,
    pub icon: &'static str,
    pub title: String,
    pub lines: Vec<String>,
    pub href: String,
    /// `activity done`, `activity overdue`, `stage`, `history`.
    pub class: String,
    /// An open activity can be marked done from the timeline.
    pub done_id: i64,
}

/// Fields whose history the timeline leaves out (shown elsewhere or pure bookkeeping).
const QUIET: &[&str] = &[
    "stage_id",
    "stage_changed_at",
    "closed_at",
    "probability",
    "full_name",
    "done_at",
];

pub fn activity_icon(kind: &str) -> &'static str {
    match kind {
        "call" => "☎",
        "meeting" => "◷",
        "email" => "✉",
        "sms" => "✆",
        "note" => "✎",
        _ => "☐",
    }
}

pub fn activity_item(ctx: &Ctx, lk: &Lookups, rec: &Record) -> TimelineItem {
    let kind = str_of(rec, "kind");
    let done = rec.get("done").and_then(Json::as_bool).unwrap_or(false);
    let due = str_of(rec, "due_at");
    let at = if due.is_empty() || kind == "note" {
        str_of(rec, "created_at")
    } else {
        due
    };
    let overdue = !done
        && !due.is_empty()
        && plotina_core::value::parse_datetime(due).is_ok_and(|d| d < chrono::Utc::now());
    let who = rec
        .get("assignee_id")
        .and_then(Json::as_i64)
        .and_then(|u| lk.user(u))
        .unwrap_or("")
        .to_string();
    let subject = str_of(rec, "subject");
    let title = if subject.is_empty() {
        fmt::option_label(ctx.lang, "kind", kind)
    } else {
        subject.to_string()
    };
    let mut lines = Vec::new();
    for f in ["body", "result"] {
        let t = str_of(rec, f);
        if !t.is_empty() {
            lines.push(t.to_string());
        }
    }
    let state = if kind == "note" {
        ""
    } else if done {
        " done"
    } else if overdue {
        " overdue"
    } else {
        " planned"
    };
    TimelineItem {
        at: at.to_string(),
        when: fmt::datetime_text(ctx, at),
        who,
        icon: activity_icon(kind),
        title,
        lines,
        href: urls::card(Entity::Activity, id_of(rec)),
        class: format!("activity{state}"),
        done_id: if !done && kind != "note" {
            id_of(rec)
        } else {
            0
        },
    }
}

pub fn stage_items(ctx: &Ctx, lk: &Lookups, steps: &[StageStep]) -> Vec<TimelineItem> {
    steps
        .iter()
        .map(|s| TimelineItem {
            at: s.changed_at.clone(),
            when: fmt::datetime_text(ctx, &s.changed_at),
            who: s
                .changed_by
                .and_then(|u| lk.user(u))
                .unwrap_or("")
                .to_string(),
            icon: "➜",
            title: match &s.from_stage {
                Some(from) => crate::i18n::t_args(
                    ctx.lang,
                    "ui-tl-stage-moved",
                    &[("from", from.clone()), ("to", s.to_stage.clone())],
                ),
                None => ctx.ta("ui-tl-stage-start", "to", &s.to_stage),
            },
            class: "stage".into(),
            ..Default::default()
        })
        .collect()
}

/// Business-record ids that history values refer to, so they can be named.
pub fn history_links(
    entity: Entity,
    entries: &[HistoryEntry],
    out: &mut BTreeMap<Entity, BTreeSet<i64>>,
) {
    for e in entries {
        let Some(def) = e.field.as_deref().and_then(|f| entity.field(f)) else {
            continue;
        };
        if let FieldKind::Ref(t) = def.kind {
            if t.is_business() {
                for v in [&e.old_value, &e.new_value] {
                    if let Some(id) = v.as_i64() {
                        out.entry(t).or_default().insert(id);
                    }
                }
            }
        }
    }
}

fn value_text(
    ctx: &Ctx,
    lk: &Lookups,
    titles: &Titles,
    entity: Entity,
    customs: &[CustomFieldDef],
    field: &str,
    v: &Json,
) -> String {
    let shown = if let Some(key) = field.strip_prefix("custom.") {
        customs
            .iter()
            .find(|d| d.key == key)
            .map(|d| fmt::show_custom(ctx, titles, d, v))
            .unwrap_or_default()
    } else {
        let kind = entity
            .field(field)
            .map(|f| f.kind)
            .unwrap_or(FieldKind::LongText);
        fmt::show(ctx, lk, titles, field, kind, v, "RUB")
    };
    if shown.text.is_empty() {
        "—".into()
    } else {
        shown.text
    }
}

/// Field history grouped into one item per write.
pub fn history_items(
    ctx: &Ctx,
    lk: &Lookups,
    titles: &Titles,
    entity: Entity,
    customs: &[CustomFieldDef],
    entries: &[HistoryEntry],
) -> Vec<TimelineItem> {
    let mut out: Vec<TimelineItem> = Vec::new();
    let mut last_key = None;
    for e in entries {
        let key = (e.changed_at.clone(), e.changed_by, e.action.clone());
        if e.action == "update" && e.field.as_deref().is_some_and(|f| QUIET.contains(&f)) {
            continue;
        }
        let line = match (e.action.as_str(), e.field.as_deref()) {
            ("update", Some(f)) => {
                let label = match f.strip_prefix("custom.") {
                    Some(k) => customs
                        .iter()
                        .find(|d| d.key == k)
                        .map(|d| fmt::custom_label(ctx.lang, d))
                        .unwrap_or_else(|| k.to_string()),
                    None => field_label(ctx.lang, entity, f),
                };
                Some(format!(
                    "{label}: {} → {}",
                    value_text(ctx, lk, titles, entity, customs, f, &e.old_value),
                    value_text(ctx, lk, titles, entity, customs, f, &e.new_value)
                ))
            }
            _ => None,
        };
        if last_key.as_ref() == Some(&key) {
            if let (Some(item), Some(l)) = (out.last_mut(), line) {
                item.lines.push(l);
            }
            continue;
        }
        last_key = Some(key);
        let title = ctx.t(match e.action.as_str() {
            "create" => "ui-tl-created",
            "delete" => "ui-tl-deleted",
            "restore" => "ui-tl-restored",
            _ => "ui-tl-changed",
        });
        out.push(TimelineItem {
            at: e.changed_at.clone(),
            when: fmt::datetime_text(ctx, &e.changed_at),
            who: e
                .changed_by
                .and_then(|u| lk.user(u))
                .unwrap_or("")
                .to_string(),
            icon: if e.action == "create" { "✚" } else { "✎" },
            title,
            lines: line.into_iter().collect(),
            class: "history".into(),
            ..Default::default()
        });
    }
    let changed = ctx.t("ui-tl-changed");
    out.retain(|i| !(i.lines.is_empty() && i.title == changed));
    out
}

/// Merges and orders the timeline, newest first.
pub fn merge(mut parts: Vec<Vec<TimelineItem>>) -> Vec<TimelineItem> {
    let mut all: Vec<TimelineItem> = parts.drain(..).flatten().collect();
    all.sort_by(|a, b| b.at.cmp(&a.at));
    all
}
