//! The notebook in a real browser: a gate refuses a kanban drag, the script takes the
//! user to the notebook with the explanation, and the way back works once the item is
//! done.

use chrono::{Duration, Utc};
use plotina_core::schema::Entity;
use plotina_store::gates::GateInput;
use plotina_store::notebook::PostItem;
use serde_json::json;

use crate::kit::Kit;

#[tokio::test]
async fn a_gated_kanban_drag_leads_to_the_notebook_and_back() {
    let Some(k) = Kit::start().await else { return };
    let fx = k.app.fx.clone();
    let (new, qual) = (fx.stage("Новая"), fx.stage("Квалификация"));
    let gate: GateInput = serde_json::from_value(json!({"name": "Сначала звонки",
        "action": "deal_move", "kinds": ["missed_call"], "older_than_hours": 1}))
    .unwrap();
    k.app.store.create_gate(&fx.admin, &gate).await.unwrap();
    let deal = k
        .app
        .create(
            "m1",
            Entity::Deal,
            json!({"title": "Поставка", "pipeline_id": fx.pipeline}),
        )
        .await;
    let (item, _) = k
        .app
        .store
        .post_item_from_api(
            &fx.admin,
            PostItem {
                kind: "missed_call".into(),
                owner_id: fx.m1.user_id,
                entity: None,
                record_id: None,
                text: "Пропущенный от Петрова".into(),
                due_at: Some(Utc::now() - Duration::hours(3)),
                source: None,
                dedupe_key: None,
                payload: None,
            },
        )
        .await
        .unwrap();
    k.login("m1").await;
    let board = format!("/deals/board?pipeline={}", fx.pipeline);
    k.goto(&board).await;
    k.el("[data-testid=board]").await;
    k.wait_card_in(deal, new).await;

    k.drag_card(deal, qual).await;
    let banner = k.text("[data-testid=gate-banner]").await;
    assert!(banner.contains("Сначала звонки"), "{banner}");
    assert!(k.path().await.starts_with("/?gate="));
    k.click(&format!(
        "[data-item-id='{}'] [data-testid=item-done]",
        item.id
    ))
    .await;
    k.wait_js(
        "the item is gone",
        "return !document.querySelector('[data-item-id=\"' + arguments[0] + '\"]');",
        vec![json!(item.id)],
    )
    .await;
    k.click("[data-testid=gate-return]").await;
    k.el("[data-testid=board]").await;
    k.drag_card(deal, qual).await;
    k.wait_card_in(deal, qual).await;
    k.finish().await;
}
