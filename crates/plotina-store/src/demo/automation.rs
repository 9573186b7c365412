//! The demo's robots: the logistics-estimate flow across linked deals, a missed-deadline
//! flag, a yearly recall call after a won deal and birthday greetings.

use plotina_core::automation::RuleInput;
use serde_json::json;

use super::org::Org;
use crate::store::Store;

pub async fn install(store: &Store, org: &Org) -> anyhow::Result<()> {
    let admin = crate::auth::actor_for(store.pool(), org.admin_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("demo administrator missing"))?;
    let (sales, logistics) = (&org.sales, &org.logistics_pipeline);
    let stage =
        |p: &super::org::PipelineInfo, i: usize| p.open.get(i).map(|s| s.0).unwrap_or_default();
    let rules = [
        json!({"name": "Запросить оценку у логистов", "entity": "deal", "pipeline_id": sales.id,
            "trigger": {"type": "stage_entered", "stage_id": stage(sales, 2)},
            "actions": [{"type": "create_child_deal", "pipeline_id": logistics.id,
                "title": "Оценка: {{title}}", "fields": {"source": "{{source}}"}}]}),
        json!({"name": "Оценка согласована — дальше КП", "entity": "deal", "pipeline_id": logistics.id,
            "trigger": {"type": "stage_entered", "stage_id": stage(logistics, 2)},
            "actions": [{"type": "move_parent", "stage_id": stage(sales, 3)},
                {"type": "notebook_item", "text": "Логисты согласовали оценку: {{title}}", "assignee": {"kind": "owner"}}]}),
        json!({"name": "Срок оценки сорван", "entity": "deal", "pipeline_id": logistics.id,
            "trigger": {"type": "time", "field": "planned_deadline", "offset_minutes": 1440},
            "condition": "actual_deadline is null",
            "actions": [{"type": "add_tag", "tag": "срок сорван"},
                {"type": "notebook_item", "text": "Сорван срок оценки: {{title}}", "assignee": {"kind": "owner"}}]}),
        json!({"name": "Повторный звонок через год после сделки", "entity": "deal", "pipeline_id": sales.id,
            "trigger": {"type": "time", "field": "closed_at", "offset_minutes": 0, "yearly": true},
            "condition": "probability = 100",
            "actions": [{"type": "create_activity", "kind": "call", "subject": "Повторный звонок: {{title}}",
                "due_in_minutes": 1440, "assignee": {"kind": "owner"}}]}),
        json!({"name": "Поздравить с днём рождения", "entity": "contact",
            "trigger": {"type": "time", "field": "birthday", "offset_minutes": 540, "yearly": true},
            "actions": [{"type": "notebook_item", "text": "Сегодня день рождения: {{full_name}}", "assignee": {"kind": "owner"}}]}),
    ];
    for r in rules {
        let input: RuleInput = serde_json::from_value(r)?;
        store
            .create_automation_rule(&admin, &input)
            .await
            .map_err(|e| anyhow::anyhow!("demo rule {:?}: {e}", input.name))?;
    }
    Ok(())
}
