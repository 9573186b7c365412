//! Automation on cards: rule runs on the timeline, children with owner and stage times.

use plotina_core::automation::RuleInput;
use plotina_core::schema::Entity;
use serde_json::json;

use crate::helpers::{self, apps};

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

/// The form fields of a deal rule that tags deals whose amount changed.
fn rule_form<'a>(name: &'a str, condition: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("name", name),
        ("entity", "deal"),
        ("pipeline_id", ""),
        ("enabled", "true"),
        ("trigger", "field_changed"),
        ("t_field", "amount"),
        ("t_to", ""),
        ("condition", condition),
        ("a0_type", "add_tag"),
        ("a0_tag", "крупная"),
        ("op", "save"),
    ]
}

#[tokio::test]
async fn rule_editor_creates_validates_edits_and_tests_rules() {
    for app in apps().await {
        let b = app.browser("admin").await;
        let index = b.get("/settings").await;
        assert!(index.has("data-testid=\"settings-automation\""));
        let empty = b.get("/settings/automation").await;
        assert_eq!(empty.status, 200);
        let new = b.get("/settings/automation/new").await;
        assert_eq!(new.status, 200, "{}", new.body);
        assert!(new.has("data-testid=\"rule-form\""));

        // A bad condition: the error with its position, and everything typed stays.
        let bad = b
            .post(
                "/settings/automation/new",
                &rule_form("Крупные сделки", "amount >= "),
            )
            .await;
        assert_eq!(bad.status, 422, "{}", bad.body);
        assert!(bad.has("Условие не разобрано (позиция"), "{}", bad.body);
        assert!(bad.has("data-testid=\"condition-echo\""));
        assert!(bad.has("value=\"Крупные сделки\""));
        assert!(
            bad.has("amount &gt;= </textarea>") || bad.has("amount &#62;= </textarea>"),
            "{}",
            bad.body
        );
        assert!(bad.has("value=\"крупная\""));
        assert!(app
            .store
            .automation_rules(app.actor("admin"))
            .await
            .unwrap()
            .is_empty());

        // An unknown field in a valid condition is refused by the store check.
        let unknown = b
            .post(
                "/settings/automation/new",
                &rule_form("x", "nonexistent = 1"),
            )
            .await;
        assert_eq!(unknown.status, 422);
        assert!(unknown.has("Условие не разобрано"));

        // Junk in numbers and kinds: localized errors next to the row, never a 500.
        let mut junk = rule_form("Мусор", "");
        junk.retain(|(k, _)| *k != "op");
        junk.extend([
            ("a1_type", "move_stage"),
            ("a1_stage_id", "abc"),
            ("a2_type", "launch_rocket"),
            ("op", "save"),
        ]);
        let junk = b.post("/settings/automation/new", &junk).await;
        assert_eq!(junk.status, 422, "{}", junk.body);
        assert!(junk.has("Введите целое число") && junk.has("Выберите действие"));
        assert!(new.has("Запись удалена") && new.has("Запросить согласование скидки"));

        // "Add action" re-renders with one more row and keeps the values.
        let mut add = rule_form("Крупные сделки", "amount >= 1000");
        add.retain(|(k, _)| *k != "op");
        add.push(("op", "add"));
        let added = b.post("/settings/automation/new", &add).await;
        assert_eq!(added.status, 200);
        assert_eq!(added.body.matches("data-testid=\"rule-action\"").count(), 2);
        assert!(added.has("value=\"крупная\""));

        // Saved.
        let ok = b
            .post(
                "/settings/automation/new",
                &rule_form("Крупные сделки", "amount >= 1000"),
            )
            .await;
        assert_eq!(ok.status, 303, "{}", ok.body);
        let rules = app
            .store
            .automation_rules(app.actor("admin"))
            .await
            .unwrap();
        assert_eq!(rules.len(), 1);
        let id = rules[0].id;
        assert_eq!(ok.location, format!("/settings/automation/{id}"));
        let list = b.get("/settings/automation").await;
        assert!(
            list.has("Крупные сделки") && list.has("Изменилось поле"),
            "{}",
            list.body
        );

        // Edited: a second action (a task for the owner) and a lower threshold.
        let page = b.get(&format!("/settings/automation/{id}")).await;
        assert_eq!(page.status, 200);
        let version = helpers::input_value(&page.body, "version").unwrap();
        let mut edit = rule_form("Крупные сделки", "amount >= 500");
        edit.retain(|(k, _)| *k != "op");
        edit.extend([
            ("version", version.as_str()),
            ("a1_type", "create_activity"),
            ("a1_kind", "call"),
            ("a1_subject", "Позвонить: {{title}}"),
            ("a1_due_days", "2"),
            ("a1_assignee", "owner"),
            ("op", "save"),
        ]);
        let saved = b.post(&format!("/settings/automation/{id}"), &edit).await;
        assert_eq!(saved.status, 303, "{}", saved.body);
        let rule = app
            .store
            .automation_rule(app.actor("admin"), id)
            .await
            .unwrap();
        assert_eq!(rule.condition.as_deref(), Some("amount >= 500"));
        assert_eq!(rule.actions.len(), 2);

        // The rule fires on a record change.
        let deal = app
            .create(
                "m1",
                Entity::Deal,
                json!({"title": "Трубы", "pipeline_id": app.fx.pipeline, "amount": "100"}),
            )
            .await;
        let body = serde_json::Map::from_iter([("amount".to_string(), json!("900"))]);
        app.store
            .update(app.actor("m1"), Entity::Deal, deal, &body, None)
            .await
            .unwrap();
        let rec = app
            .store
            .get(app.actor("m1"), Entity::Deal, deal)
            .await
            .unwrap();
        assert_eq!(rec["tags"], json!(["крупная"]), "{rec:?}");
        let page = b.get(&format!("/settings/automation/{id}")).await;
        assert!(page.has("data-testid=\"rule-run\""), "{}", page.body);
        assert!(page.has(&format!("/deals/{deal}")));
        // Field names are offered while typing, and the dry run offers the deals changed
        // last.
        assert!(
            page.has("list=\"f-t_field-list\"") && page.has("<option value=\"amount\">"),
            "{}",
            page.body
        );
        assert!(
            page.has(&format!("<option value=\"{deal}\">№{deal} Трубы</option>")),
            "{}",
            page.body
        );

        // A dry run shows what it would do and changes nothing.
        let other = app
            .create(
                "m1",
                Entity::Deal,
                json!({"title": "Кабель", "pipeline_id": app.fx.pipeline, "amount": "700"}),
            )
            .await;
        let dry = b
            .post(
                &format!("/settings/automation/{id}/dry-run"),
                &[("record", &other.to_string())],
            )
            .await;
        assert_eq!(dry.status, 200, "{}", dry.body);
        assert!(dry.has("data-testid=\"dry-result\""));
        assert!(
            dry.has("Добавить тег") && dry.has("Создать дело"),
            "{}",
            dry.body
        );
        let rec = app
            .store
            .get(app.actor("m1"), Entity::Deal, other)
            .await
            .unwrap();
        assert_eq!(rec["tags"], json!([]));
        let junk = b
            .post(
                &format!("/settings/automation/{id}/dry-run"),
                &[("record", "abc")],
            )
            .await;
        assert_eq!(junk.status, 200);
        assert!(junk.has("Введите номер записи"));

        // Disable, then delete.
        let off = b
            .post(&format!("/settings/automation/{id}/toggle"), &[])
            .await;
        assert_eq!(off.status, 303);
        assert!(
            !app.store
                .automation_rule(app.actor("admin"), id)
                .await
                .unwrap()
                .enabled
        );
        let gone = b
            .post(&format!("/settings/automation/{id}/delete"), &[])
            .await;
        assert_eq!(gone.status, 303);
        assert!(app
            .store
            .automation_rules(app.actor("admin"))
            .await
            .unwrap()
            .is_empty());

        // Not for managers.
        let m1 = app.browser("m1").await;
        assert_eq!(m1.get("/settings/automation").await.status, 403);
    }
}
