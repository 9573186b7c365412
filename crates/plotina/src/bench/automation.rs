//! `move_deal_20_rules`: a stage change in a pipeline with 20 active rules, straight
//! through the store (the rules run in the change's transaction). On first use it adds
//! its own pipeline «Бенчмарк автоматизации» with five stages, 200 deals and 20 rules
//! bound to that pipeline, so the other scenarios' deals are not touched by them.

use std::sync::Arc;

use plotina_core::automation::RuleInput;
use plotina_core::schema::Entity;
use plotina_store::{ListParams, Store};
use serde_json::{json, Map, Value};
use tokio::sync::OnceCell;

use super::scenarios::Fixture;

pub struct Setup {
    stages: Vec<i64>,
    deals: Vec<i64>,
    /// Each deal's stage as an index into `stages`, kept here so a run measures the
    /// stage change alone.
    at: std::sync::Mutex<Vec<usize>>,
}

static SETUP: OnceCell<Setup> = OnceCell::const_new();

const PIPELINE: &str = "Бенчмарк автоматизации";

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

async fn prepare(store: &Store, fx: &Fixture) -> Result<Setup, String> {
    let e = |e: plotina_store::StoreError| e.to_string();
    let a = &fx.actor;
    let existing = store
        .list(
            a,
            Entity::Pipeline,
            &ListParams {
                filter: Some(format!("name = \"{PIPELINE}\"")),
                ..Default::default()
            },
        )
        .await
        .map_err(e)?;
    let pipeline = match existing.data.first() {
        Some(p) => p["id"].as_i64().unwrap_or_default(),
        None => {
            let (p, _) = store
                .create(a, Entity::Pipeline, &obj(json!({"name": PIPELINE})), None)
                .await
                .map_err(e)?;
            let pid = p["id"].as_i64().unwrap_or_default();
            for (i, name) in ["Новая", "Оценить", "Оценка готова", "Договор", "Оплата"]
                .iter()
                .enumerate()
            {
                store
                    .create(
                        a,
                        Entity::Stage,
                        &obj(json!({"pipeline_id": pid, "name": name, "position": i})),
                        None,
                    )
                    .await
                    .map_err(e)?;
            }
            pid
        }
    };
    let stages: Vec<i64> = store
        .list(
            a,
            Entity::Stage,
            &ListParams {
                filter: Some(format!("pipeline_id = {pipeline}")),
                sort: Some("position".into()),
                ..Default::default()
            },
        )
        .await
        .map_err(e)?
        .data
        .iter()
        .filter_map(|s| s["id"].as_i64())
        .collect();
    let rules = store.automation_rules(a).await.map_err(e)?;
    if !rules.iter().any(|r| r.pipeline_id == Some(pipeline)) {
        for i in 0..20usize {
            let stage = stages[i % stages.len()];
            let (trigger, condition, action) = match i % 5 {
                0 => (
                    json!({"type": "stage_entered", "stage_id": stage}),
                    Value::Null,
                    json!({"type": "add_tag", "tag": format!("этап-{}", i % stages.len())}),
                ),
                1 => (
                    json!({"type": "stage_left", "stage_id": stage}),
                    json!("amount >= 0"),
                    json!({"type": "notebook_item", "text": "Сделка {{title}} ушла с этапа", "assignee": {"kind": "owner"}}),
                ),
                2 => (
                    json!({"type": "field_changed", "field": "amount"}),
                    Value::Null,
                    json!({"type": "create_activity", "subject": "Проверить сумму", "assignee": {"kind": "owner"}}),
                ),
                3 => (
                    json!({"type": "updated"}),
                    json!("amount > 1000000000"),
                    json!({"type": "add_tag", "tag": "крупная"}),
                ),
                _ => (
                    json!({"type": "created"}),
                    Value::Null,
                    json!({"type": "add_tag", "tag": "новая"}),
                ),
            };
            let input: RuleInput = serde_json::from_value(json!({
                "name": format!("Бенчмарк {i}"), "entity": "deal", "pipeline_id": pipeline,
                "trigger": trigger, "condition": condition, "actions": [action]}))
            .map_err(|e| e.to_string())?;
            store.create_automation_rule(a, &input).await.map_err(e)?;
        }
    }
    let listed = store
        .list(
            a,
            Entity::Deal,
            &ListParams {
                filter: Some(format!("pipeline_id = {pipeline}")),
                limit: Some(500),
                ..Default::default()
            },
        )
        .await
        .map_err(e)?
        .data;
    let mut deals = Vec::new();
    let mut at = Vec::new();
    for d in &listed {
        deals.push(d["id"].as_i64().unwrap_or_default());
        let stage = d["stage_id"].as_i64().unwrap_or_default();
        at.push(stages.iter().position(|s| *s == stage).unwrap_or(0));
    }
    while deals.len() < 200 {
        let (d, _) = store
            .create(
                a,
                Entity::Deal,
                &obj(json!({"title": format!("Бенчмарк-сделка {}", deals.len()), "pipeline_id": pipeline, "amount": "150000"})),
                None,
            )
            .await
            .map_err(e)?;
        deals.push(d["id"].as_i64().unwrap_or_default());
        at.push(0);
    }
    Ok(Setup {
        stages,
        deals,
        at: std::sync::Mutex::new(at),
    })
}

/// One stage change of one of the scenario's deals.
pub async fn move_with_rules(store: Arc<Store>, fx: Arc<Fixture>, i: u64) -> Result<(), String> {
    let setup = SETUP.get_or_try_init(|| prepare(&store, &fx)).await?;
    // Clients start at multiples of 1_000_003 (see `run_clients`): each client keeps to
    // its own slice of the deals, so no two clients move the same deal at once.
    let (client, n) = (i / 1_000_003, i % 1_000_003);
    let slice = (setup.deals.len() / 8).max(1) as u64;
    let k = ((client % 8) * slice + n % slice) as usize % setup.deals.len();
    let id = setup.deals[k];
    let next = {
        let mut at = setup.at.lock().map_err(|_| "poisoned".to_string())?;
        at[k] = (at[k] + 1) % setup.stages.len();
        setup.stages[at[k]]
    };
    store
        .update(
            &fx.actor,
            Entity::Deal,
            id,
            &obj(json!({"stage_id": next})),
            None,
        )
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}
