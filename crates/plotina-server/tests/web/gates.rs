//! Gate rules in the settings: an administrator creates, edits, turns off and deletes
//! them through the page; refusals are shown next to their fields; a rule made there
//! blocks.

use chrono::{Duration, Utc};
use plotina_core::schema::Entity;
use plotina_store::notebook::PostItem;
use serde_json::json;

use crate::helpers::apps;

/// The `field-error` message shown for `field`.
fn field_error(body: &str, field: &str) -> String {
    let marker = format!("class=\"field-error\" data-field=\"{field}\">");
    body.split(&marker)
        .nth(1)
        .and_then(|s| s.split("</p>").next())
        .unwrap_or("")
        .to_string()
}

#[tokio::test]
async fn a_rule_made_through_the_page_blocks_until_turned_off() {
    for app in apps().await {
        let admin = app.browser("admin").await;
        // Refusals next to their fields; what was typed stays in the form.
        let bad = admin
            .post(
                "/settings/gates",
                &[
                    ("name", ""),
                    ("action", "deal_create"),
                    ("older_than_hours", "сутки"),
                    ("active_shown", "1"),
                    ("active", "1"),
                ],
            )
            .await;
        assert_eq!(bad.status, 422, "{}", app.backend);
        assert_eq!(
            field_error(&bad.body, "older_than_hours"),
            "Ожидается целое число"
        );
        assert!(bad.has("value=\"сутки\""));
        let bad = admin
            .post(
                "/settings/gates",
                &[
                    ("name", ""),
                    ("action", "deal_create"),
                    ("kinds", "Missed Call"),
                    ("older_than_hours", "100000"),
                ],
            )
            .await;
        assert_eq!(bad.status, 422);
        assert!(!field_error(&bad.body, "name").is_empty(), "{}", bad.body);
        assert!(field_error(&bad.body, "older_than_hours").contains("87600"));
        assert!(!field_error(&bad.body, "kinds").is_empty());
        assert!(app.store.gates(&app.fx.admin).await.unwrap().is_empty());

        let made = admin
            .post(
                "/settings/gates",
                &[
                    ("name", "Сначала звонки"),
                    ("action", "deal_create"),
                    ("kinds", "missed_call"),
                    ("older_than_hours", "1"),
                    ("active_shown", "1"),
                    ("active", "1"),
                ],
            )
            .await;
        assert_eq!(made.status, 303, "{}", made.body);
        let gate = app.store.gates(&app.fx.admin).await.unwrap()[0].clone();
        assert!(gate.active);

        let item = PostItem {
            kind: "missed_call".into(),
            owner_id: app.actor("m1").user_id,
            entity: None,
            record_id: None,
            text: "Пропущенный от Петрова".into(),
            due_at: Some(Utc::now() - Duration::hours(3)),
            source: None,
            dedupe_key: None,
            payload: None,
        };
        app.store
            .post_item_from_api(&app.fx.admin, item)
            .await
            .expect("item");
        let deal = json!({"title": "Поставка", "pipeline_id": app.fx.pipeline});
        let obj = deal.as_object().cloned().unwrap();
        let refused = app
            .store
            .create(app.actor("m1"), Entity::Deal, &obj, None)
            .await;
        assert!(refused.is_err(), "the rule blocks");

        // Editing: the form is filled in; a bad value is refused next to its field.
        let path = format!("/settings/gates/{}", gate.id);
        let edit = admin.get(&path).await;
        assert_eq!(edit.status, 200);
        assert!(edit.has("value=\"Сначала звонки\"") && edit.has("value=\"missed_call\""));
        let bad = admin
            .post(
                &path,
                &[
                    ("name", "Сначала звонки"),
                    ("action", "deal_create"),
                    ("max_overdue_tasks", "-1"),
                    ("active_shown", "1"),
                    ("active", "1"),
                ],
            )
            .await;
        assert_eq!(bad.status, 422);
        assert!(field_error(&bad.body, "max_overdue_tasks").contains("10000"));
        let saved = admin
            .post(
                &path,
                &[
                    ("name", "Звонки за сутки"),
                    ("action", "deal_create"),
                    ("kinds", "missed_call"),
                    ("older_than_hours", "24"),
                    ("active_shown", "1"),
                    ("active", "1"),
                ],
            )
            .await;
        assert_eq!(saved.status, 303);
        let g = app.store.gate(&app.fx.admin, gate.id).await.unwrap();
        assert_eq!(
            (g.name.as_str(), g.older_than_hours),
            ("Звонки за сутки", Some(24))
        );
        assert!(app
            .store
            .create(app.actor("m1"), Entity::Deal, &obj, None)
            .await
            .is_ok());

        // Back to one hour, then off: the rule stops blocking; on again: it blocks.
        admin
            .post(
                &path,
                &[
                    ("name", "Звонки"),
                    ("action", "deal_create"),
                    ("kinds", "missed_call"),
                    ("older_than_hours", "1"),
                    ("active_shown", "1"),
                ],
            )
            .await;
        assert!(!app.store.gate(&app.fx.admin, gate.id).await.unwrap().active);
        assert!(app
            .store
            .create(app.actor("m1"), Entity::Deal, &obj, None)
            .await
            .is_ok());
        let on = admin
            .post(&format!("{path}/active"), &[("active", "1")])
            .await;
        assert_eq!(on.status, 303);
        assert!(app
            .store
            .create(app.actor("m1"), Entity::Deal, &obj, None)
            .await
            .is_err());
        let list = admin.get("/settings/gates").await;
        assert!(list.has("data-testid=\"gate-disable\""));
        admin
            .post(&format!("{path}/active"), &[("active", "0")])
            .await;
        assert!(admin
            .get("/settings/gates")
            .await
            .has("data-testid=\"gate-enable\""));

        // Managers may not touch rules; deleting removes the rule.
        let m1 = app.browser("m1").await;
        assert_eq!(m1.get(&path).await.status, 403);
        assert_eq!(m1.post(&format!("{path}/delete"), &[]).await.status, 403);
        assert_eq!(admin.get("/settings/gates/999999").await.status, 404);
        let gone = admin.post(&format!("{path}/delete"), &[]).await;
        assert_eq!(gone.status, 303);
        assert!(app.store.gates(&app.fx.admin).await.unwrap().is_empty());
    }
}
