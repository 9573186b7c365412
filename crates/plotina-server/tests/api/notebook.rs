//! The notebook API: items, their actions, integration posting, gates answering 423.

use chrono::{Duration, Utc};
use serde_json::{json, Value};

use crate::helpers::{apps, json, TestApp};

async fn post_item(app: &TestApp, owner: i64, kind: &str, text: &str, due_hours: i64) -> i64 {
    let due = (Utc::now() + Duration::hours(due_hours)).to_rfc3339();
    let (s, item) = json(
        app.post(
            "admin",
            "/api/v1/notebook/items",
            &json!({"kind": kind, "owner_id": owner, "text": text, "due_at": due}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 201, "{item}");
    item["id"].as_i64().unwrap()
}

fn texts(list: &Value) -> Vec<&str> {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["text"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn gate_blocks_a_deal_move_with_423_listing_items_and_lifts_when_done() {
    for app in apps().await {
        let m1 = app.fx.m1.user_id;
        let (s, gate) = json(
            app.post(
                "admin",
                "/api/v1/notebook/gates",
                &json!({"name": "Сначала звонки", "action": "deal_move",
                        "kinds": ["missed_call"], "older_than_hours": 1}),
            )
            .await,
        )
        .await;
        assert_eq!(s, 201, "{gate}");
        let deal = app
            .create(
                "m1",
                "deals",
                json!({"title": "Поставка", "pipeline_id": app.fx.pipeline}),
            )
            .await;
        let deal_id = deal["id"].as_i64().unwrap();
        let item = post_item(&app, m1, "missed_call", "Пропущенный звонок", -2).await;
        let target = app.fx.stage("Квалификация");
        let path = format!("/api/v1/deals/{deal_id}/move");

        let r = app.post("m1", &path, &json!({"stage_id": target})).await;
        assert_eq!(
            r.headers()["content-type"].to_str().unwrap(),
            "application/problem+json"
        );
        let (s, p) = json(r).await;
        assert_eq!(s, 423, "{p}");
        assert_eq!(p["code"], "gate_blocked");
        assert_eq!(p["items"].as_array().unwrap().len(), 1);
        assert_eq!(p["items"][0]["item_id"], json!(item));
        assert_eq!(p["items"][0]["kind"], "missed_call");
        assert_eq!(p["items"][0]["text"], "Пропущенный звонок");
        assert!(
            p["detail"].as_str().unwrap().contains("«Сначала звонки»"),
            "{p}"
        );
        // English on request.
        let r = app
            .req("m1", reqwest::Method::POST, &path)
            .header("Accept-Language", "en")
            .json(&json!({"stage_id": target}))
            .send()
            .await
            .unwrap();
        let (s, p) = json(r).await;
        assert_eq!(s, 423);
        assert_eq!(p["title"], "Blocked: handle your notebook first");
        // Nothing moved; both refusals are logged.
        let (_, d) = json(app.get("m1", &format!("/api/v1/deals/{deal_id}")).await).await;
        assert_eq!(d["stage_id"], json!(app.fx.stage("Новая")));
        let (_, blocks) = json(app.get("m1", "/api/v1/notebook/gate-blocks").await).await;
        assert_eq!(blocks["data"].as_array().unwrap().len(), 2);
        assert_eq!(blocks["data"][0]["record_id"], json!(deal_id));
        assert_eq!(blocks["data"][0]["gate_id"], gate["id"]);

        // Done → the move goes through at once.
        let (s, done) = json(
            app.post(
                "m1",
                &format!("/api/v1/notebook/items/{item}/done"),
                &json!({}),
            )
            .await,
        )
        .await;
        assert_eq!((s, done["state"].as_str()), (200, Some("done")));
        let (s, moved) = json(app.post("m1", &path, &json!({"stage_id": target})).await).await;
        assert_eq!(s, 200, "{moved}");
        assert_eq!(moved["stage_id"], json!(target));
    }
}

#[tokio::test]
async fn notebook_items_and_their_actions() {
    for app in apps().await {
        let (m1, m2) = (app.fx.m1.user_id, app.fx.m2.user_id);
        let later = post_item(&app, m1, "system", "Позже", 30).await;
        let late = post_item(&app, m1, "web_order", "Заказ с сайта", -1).await;
        let (s, list) = json(app.get("m1", "/api/v1/notebook").await).await;
        assert_eq!(s, 200);
        assert_eq!(texts(&list), ["Заказ с сайта", "Позже"]);
        assert_eq!(list["data"][0]["overdue"], json!(true));
        assert_eq!(list["data"][1]["overdue"], json!(false));

        let until = (Utc::now() + Duration::hours(3)).to_rfc3339();
        let (s, it) = json(
            app.post(
                "m1",
                &format!("/api/v1/notebook/items/{late}/snooze"),
                &json!({"until": until}),
            )
            .await,
        )
        .await;
        assert_eq!((s, it["state"].as_str()), (200, Some("snoozed")));
        let (_, list) = json(app.get("m1", "/api/v1/notebook").await).await;
        assert_eq!(texts(&list), ["Позже"]);

        let due = (Utc::now() + Duration::days(2)).to_rfc3339();
        let (s, it) = json(
            app.post(
                "m1",
                &format!("/api/v1/notebook/items/{later}/reschedule"),
                &json!({"due_at": due}),
            )
            .await,
        )
        .await;
        assert_eq!(s, 200, "{it}");
        let (s, it) = json(
            app.post(
                "m1",
                &format!("/api/v1/notebook/items/{later}/delegate"),
                &json!({"user_id": m2}),
            )
            .await,
        )
        .await;
        assert_eq!((s, it["owner_id"].as_i64()), (200, Some(m2)));
        let (_, list) = json(app.get("m2", "/api/v1/notebook").await).await;
        assert_eq!(texts(&list), ["Позже"]);
        let (s, _) = json(
            app.post(
                "m2",
                &format!("/api/v1/notebook/items/{later}/dismiss"),
                &json!({}),
            )
            .await,
        )
        .await;
        assert_eq!(s, 200);
        let (_, list) = json(app.get("m2", "/api/v1/notebook").await).await;
        assert_eq!(texts(&list), Vec::<&str>::new());

        // The head of the department reads m1's notebook; a colleague does not.
        let (s, _) = json(
            app.get("head", &format!("/api/v1/notebook?user_id={m1}"))
                .await,
        )
        .await;
        assert_eq!(s, 200);
        let (s, _) = json(
            app.get("m2", &format!("/api/v1/notebook?user_id={m1}"))
                .await,
        )
        .await;
        assert_eq!(s, 404);
    }
}

#[tokio::test]
async fn invalid_notebook_inputs_answer_4xx_and_change_nothing() {
    for app in apps().await {
        let m1 = app.fx.m1.user_id;
        let item = post_item(&app, m1, "system", "Пункт", 5).await;
        let before = app.counts().await;
        let (_, original) = json(
            app.get("m1", &format!("/api/v1/notebook/items/{item}"))
                .await,
        )
        .await;
        let act = |verb: &str| format!("/api/v1/notebook/items/{item}/{verb}");
        let past = (Utc::now() - Duration::hours(1)).to_rfc3339();

        let (s, p) = json(
            app.post("m1", &act("snooze"), &json!({"until": past}))
                .await,
        )
        .await;
        assert_eq!(s, 422, "{p}");
        assert_eq!(p["errors"][0]["field"], "until");
        assert_eq!(p["errors"][0]["code"], "notebook_snooze_past");
        assert_eq!(
            p["errors"][0]["message"],
            "Отложить до: Отложить можно только на время в будущем"
        );
        let (s, p) = json(
            app.post("m1", &act("reschedule"), &json!({"due_at": past}))
                .await,
        )
        .await;
        assert_eq!(
            (s, p["errors"][0]["code"].as_str()),
            (422, Some("notebook_due_past"))
        );
        let (s, _) = json(
            app.post("m1", &act("snooze"), &json!({"until": "завтра"}))
                .await,
        )
        .await;
        assert_eq!(s, 422);
        let (s, _) = json(app.post("m1", &act("snooze"), &json!({})).await).await;
        assert_eq!(s, 422);
        let (s, _) = json(
            app.post("m1", &act("delegate"), &json!({"user_id": m1, "extra": 1}))
                .await,
        )
        .await;
        assert_eq!(s, 422);
        let (s, p) = json(
            app.post("m1", &act("delegate"), &json!({"user_id": m1}))
                .await,
        )
        .await;
        assert_eq!(
            (s, p["errors"][0]["code"].as_str()),
            (422, Some("notebook_delegate_self"))
        );
        let (s, _) = json(app.post("m1", &act("fly"), &json!({})).await).await;
        assert_eq!(s, 404);
        let (s, _) = json(app.post("m2", &act("done"), &json!({})).await).await;
        assert_eq!(s, 404, "somebody else's item is invisible");
        let (s, _) = json(app.post("head", &act("done"), &json!({})).await).await;
        assert_eq!(s, 403, "a head reads but does not act");
        let (s, _) = json(app.get("m1", "/api/v1/notebook/items/abc").await).await;
        assert_eq!(s, 404);
        let (s, _) = json(app.get("m1", "/api/v1/notebook?limit=0").await).await;
        assert_eq!(s, 400);

        // Posting for others: administrators' tokens only.
        let body = json!({"kind": "system", "owner_id": m1, "text": "x"});
        let (s, p) = json(app.post("m1", "/api/v1/notebook/items", &body).await).await;
        assert_eq!(
            (s, p["code"].as_str()),
            (403, Some("notebook_integration_only"))
        );
        let (s, p) = json(
            app.post(
                "admin",
                "/api/v1/notebook/items",
                &json!({"kind": "Bad", "owner_id": 999999, "text": ""}),
            )
            .await,
        )
        .await;
        assert_eq!(s, 422, "{p}");
        assert_eq!(p["errors"].as_array().unwrap().len(), 3);

        // Gate rules: administrators only, validated.
        let gate = json!({"name": "x", "action": "deal_move", "older_than_hours": 1});
        let (s, _) = json(app.post("m1", "/api/v1/notebook/gates", &gate).await).await;
        assert_eq!(s, 403);
        let (s, p) = json(
            app.post(
                "admin",
                "/api/v1/notebook/gates",
                &json!({"name": "x", "action": "fly", "older_than_hours": -5}),
            )
            .await,
        )
        .await;
        assert_eq!(s, 422, "{p}");
        let (s, _) = json(app.post("m1", "/api/v1/notebook/sweep", &json!({})).await).await;
        assert_eq!(s, 403);

        assert_eq!(app.counts().await, before, "nothing changed");
        let (_, now) = json(
            app.get("m1", &format!("/api/v1/notebook/items/{item}"))
                .await,
        )
        .await;
        assert_eq!(now, original);

        let (s, out) = json(
            app.post("admin", "/api/v1/notebook/sweep", &json!({}))
                .await,
        )
        .await;
        assert_eq!((s, out), (200, json!({"task_due": 0, "deal_stale": 0})));
    }
}

#[tokio::test]
async fn openapi_documents_the_notebook() {
    for app in apps().await {
        let (_, doc) = json(app.get("m1", "/api/v1/openapi.json").await).await;
        for path in [
            "/api/v1/notebook",
            "/api/v1/notebook/items",
            "/api/v1/notebook/items/{id}/done",
            "/api/v1/notebook/items/{id}/snooze",
            "/api/v1/notebook/gates/{id}",
        ] {
            assert!(doc["paths"][path].is_object(), "{path} documented");
        }
        assert!(doc["components"]["schemas"]["NotebookItem"].is_object());
    }
}
