//! Automation on cards: rule runs on the timeline, children with owner and stage times.

use plotina_core::automation::RuleInput;
use plotina_core::schema::Entity;
use serde_json::json;

use crate::helpers::apps;

#[tokio::test]
async fn parent_card_shows_children_and_rule_runs() {
    for app in apps().await {
        let admin = app.actor("admin").clone();
        let p = app
            .create(
                "admin",
                Entity::Pipeline,
                json!({"name": "Логистика: оценка"}),
            )
            .await;
        app.create(
            "admin",
            Entity::Stage,
            json!({"pipeline_id": p, "name": "Расчёт", "position": 0}),
        )
        .await;
        let input: RuleInput = serde_json::from_value(json!({"name": "Запросить оценку", "entity": "deal",
            "trigger": {"type": "stage_entered", "stage_id": app.fx.stage("Квалификация")},
            "actions": [{"type": "create_child_deal", "pipeline_id": p, "title": "Оценка: {{title}}"}]})).unwrap();
        app.store
            .create_automation_rule(&admin, &input)
            .await
            .unwrap();
        let deal = app
            .create(
                "m1",
                Entity::Deal,
                json!({"title": "Трубы", "pipeline_id": app.fx.pipeline}),
            )
            .await;
        let body = serde_json::Map::from_iter([(
            "stage_id".to_string(),
            json!(app.fx.stage("Квалификация")),
        )]);
        app.store
            .update(app.actor("m1"), Entity::Deal, deal, &body, None)
            .await
            .unwrap();

        let b = app.browser("m1").await;
        let page = b.get(&format!("/deals/{deal}")).await;
        assert_eq!(page.status, 200);
        assert!(
            page.has("Правило «Запросить оценку»: выполнено"),
            "{}",
            page.body
        );
        assert!(page.has("создана дочерняя сделка"));
        assert!(page.has("Оценка: Трубы"));
        let owner = &app.actor("m1").name;
        assert!(
            page.has(&format!(
                "Логистика: оценка · Расчёт · {owner} · Расчёт 0 мин"
            )),
            "{}",
            page.body
        );
    }
}
