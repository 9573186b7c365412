//! Automation on cards: rule runs on the record's timeline, and for a parent deal its
//! children's owner and time spent per stage.

use plotina_core::schema::Entity;
use plotina_store::automation::RunQuery;
use plotina_store::{Record, StoreError};
use serde_json::Value as Json;

use super::cards::RelItem;
use super::ctx::Ctx;
use super::fmt;
use super::lookups::Lookups;
use super::timeline::TimelineItem;
use crate::state::AppState;

/// "2 д 3 ч", "45 мин".
pub fn duration_text(ctx: &Ctx, seconds: i64) -> String {
    let (d, h, m) = (
        seconds / 86_400,
        seconds % 86_400 / 3_600,
        seconds % 3_600 / 60,
    );
    let mut parts = Vec::new();
    if d > 0 {
        parts.push(ctx.ta("automation-dur-d", "n", d));
    }
    if h > 0 && d < 10 {
        parts.push(ctx.ta("automation-dur-h", "n", h));
    }
    if d == 0 && (m > 0 || parts.is_empty()) {
        parts.push(ctx.ta("automation-dur-m", "n", m));
    }
    parts.join(" ")
}

/// The rule runs on a record, as timeline items.
pub async fn timeline_items(
    s: &AppState,
    actor: &plotina_core::policy::Actor,
    ctx: &Ctx,
    entity: Entity,
    id: i64,
) -> Result<Vec<TimelineItem>, StoreError> {
    if !entity.is_business() {
        return Ok(Vec::new());
    }
    let q = RunQuery {
        record: Some((entity, id)),
        limit: 50,
        ..Default::default()
    };
    let runs = s.store.automation_runs(actor, &q).await?;
    Ok(runs
        .into_iter()
        .map(|r| {
            let at = r
                .started_at
                .map(plotina_core::value::format_datetime)
                .unwrap_or_default();
            let status = ctx.t(&format!("automation-status-{}", r.status));
            let mut lines: Vec<String> = r
                .actions
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.get("action").and_then(Json::as_str))
                        .map(|code| ctx.t(&format!("automation-action-{code}")))
                        .collect()
                })
                .unwrap_or_default();
            if let Some(e) = r.error {
                lines.push(e);
            }
            TimelineItem {
                when: fmt::datetime_text(ctx, &at),
                at,
                icon: "⚙",
                title: crate::i18n::t_args(
                    ctx.lang,
                    "automation-tl-run",
                    &[("rule", r.rule_name), ("status", status)],
                ),
                lines,
                class: "automation".into(),
                ..Default::default()
            }
        })
        .collect())
}

/// Adds owner and time per stage to the child deals of a card.
pub async fn child_meta(
    s: &AppState,
    actor: &plotina_core::policy::Actor,
    ctx: &Ctx,
    lk: &Lookups,
    children: &[Record],
    items: &mut [RelItem],
) -> Result<(), StoreError> {
    let now = chrono::Utc::now();
    for (child, item) in children.iter().zip(items.iter_mut()) {
        let Some(id) = child.get("id").and_then(Json::as_i64) else {
            continue;
        };
        let owner = child
            .get("owner_id")
            .and_then(Json::as_i64)
            .and_then(|u| lk.user(u))
            .unwrap_or("");
        let steps = s.store.stage_history(actor, id).await?;
        let mut spent: Vec<(String, i64)> = Vec::new();
        let mut add = |name: &str, secs: i64| match spent.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 += secs,
            None => spent.push((name.to_string(), secs)),
        };
        for st in &steps {
            if let (Some(from), Some(secs)) = (&st.from_stage, st.seconds_in_previous) {
                add(from, secs);
            }
        }
        if let Some(last) = steps.last() {
            if let Ok(since) = plotina_core::value::parse_datetime(&last.changed_at) {
                add(&last.to_stage, (now - since).num_seconds().max(0));
            }
        }
        let times: Vec<String> = spent
            .iter()
            .map(|(n, secs)| format!("{n} {}", duration_text(ctx, *secs)))
            .collect();
        if !owner.is_empty() {
            item.meta = format!("{} · {owner}", item.meta);
        }
        if !times.is_empty() {
            item.meta = format!("{} · {}", item.meta, times.join(", "));
        }
    }
    Ok(())
}
