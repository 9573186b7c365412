//! Automation through the API: the estimate flow across linked deals, rules refused at
//! save with a localized reason, dry runs, the run log and incoming webhooks.

use serde_json::{json, Value};

use crate::helpers::{apps, json, TestApp};

async fn pipeline(app: &TestApp, name: &str, stages: &[&str]) -> (i64, Vec<i64>) {
    let p = app
        .create("admin", "pipelines", json!({"name": name}))
        .await;
    let pid = p["id"].as_i64().unwrap();
    let mut ids = Vec::new();
    for (i, s) in stages.iter().enumerate() {
        let st = app
            .create(
                "admin",
                "stages",
                json!({"pipeline_id": pid, "name": s, "position": i}),
            )
            .await;
        ids.push(st["id"].as_i64().unwrap());
    }
    (pid, ids)
}

async fn save_rule(app: &TestApp, body: Value) -> Value {
    let (status, rule) = json(app.post("admin", "/api/v1/automation/rules", &body).await).await;
    assert_eq!(status, 201, "{rule}");
    rule
}

#[tokio::test]
async fn estimate_flow_end_to_end() {
    for app in apps().await {
        let (sales, s) = pipeline(
            &app,
            "Продажи (оценка)",
            &["Новая", "Оценить", "Оценка готова"],
        )
        .await;
        let (logistics, l) = pipeline(
            &app,
            "Логистика: оценка",
            &["Новая", "Расчёт", "Согласование"],
        )
        .await;
        let r1 = save_rule(&app, json!({"name": "Запросить оценку", "entity": "deal", "pipeline_id": sales,
            "trigger": {"type": "stage_entered", "stage_id": s[1]},
            "actions": [{"type": "create_child_deal", "pipeline_id": logistics, "title": "Оценка: {{title}}"}]})).await;
        save_rule(
            &app,
            json!({"name": "Оценка готова", "entity": "deal", "pipeline_id": logistics,
            "trigger": {"type": "stage_entered", "stage_id": l[2]},
            "actions": [{"type": "move_parent", "stage_id": s[2]}]}),
        )
        .await;

        let deal = app
            .create(
                "m1",
                "deals",
                json!({"title": "Поставка", "pipeline_id": sales}),
            )
            .await;
        let id = deal["id"].as_i64().unwrap();
        let (st, _) = json(
            app.post(
                "m1",
                &format!("/api/v1/deals/{id}/move"),
                &json!({"stage_id": s[1]}),
            )
            .await,
        )
        .await;
        assert_eq!(st, 200);
        let (_, kids) = json(
            app.get("admin", &format!("/api/v1/deals/{id}/children"))
                .await,
        )
        .await;
        let kids = kids["data"].as_array().unwrap().clone();
        assert_eq!(kids.len(), 1, "{kids:?}");
        assert_eq!(kids[0]["title"], "Оценка: Поставка");
        assert_eq!(kids[0]["parent_id"], id);
        assert_eq!(kids[0]["pipeline_id"], logistics);
        let child = kids[0]["id"].as_i64().unwrap();

        for stage in [l[1], l[2]] {
            let (st, body) = json(
                app.post(
                    "admin",
                    &format!("/api/v1/deals/{child}/move"),
                    &json!({"stage_id": stage}),
                )
                .await,
            )
            .await;
            assert_eq!(st, 200, "{body}");
        }
        let (_, parent) = json(app.get("m1", &format!("/api/v1/deals/{id}")).await).await;
        assert_eq!(parent["stage_id"], s[2]);
        let (_, steps) = json(
            app.get("m1", &format!("/api/v1/deals/{id}/stage-history"))
                .await,
        )
        .await;
        let to: Vec<&str> = steps["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["to_stage"].as_str().unwrap())
            .collect();
        assert_eq!(to, vec!["Новая", "Оценить", "Оценка готова"]);
        let (_, steps) = json(
            app.get("admin", &format!("/api/v1/deals/{child}/stage-history"))
                .await,
        )
        .await;
        let steps = steps["data"].as_array().unwrap();
        assert_eq!(steps.len(), 3);
        assert!(steps[1]["seconds_in_previous"].is_i64());

        // Filters across the link, both ways.
        let (_, found) = json(app.get("admin", "/api/v1/deals?filter=children.stage%20%3D%20%22%D0%A1%D0%BE%D0%B3%D0%BB%D0%B0%D1%81%D0%BE%D0%B2%D0%B0%D0%BD%D0%B8%D0%B5%22").await).await;
        let ids: Vec<i64> = found["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids, vec![id]);

        let (st, runs) = json(
            app.get(
                "m1",
                &format!("/api/v1/automation/runs?entity=deal&record={id}"),
            )
            .await,
        )
        .await;
        assert_eq!(st, 200);
        assert_eq!(runs["data"].as_array().unwrap().len(), 1);
        assert_eq!(runs["data"][0]["status"], "done");
        assert_eq!(runs["data"][0]["actions"][0]["action"], "create_child_deal");
        let (st, runs) = json(
            app.get(
                "admin",
                &format!("/api/v1/automation/runs?rule={}", r1["id"]),
            )
            .await,
        )
        .await;
        assert_eq!(st, 200);
        assert_eq!(runs["data"].as_array().unwrap().len(), 1);
        // Managers do not read rules or a rule's log.
        let (st, _) = json(app.get("m1", "/api/v1/automation/rules").await).await;
        assert_eq!(st, 403);
    }
}

#[tokio::test]
async fn bad_rules_are_refused_in_the_callers_language() {
    for app in apps().await {
        let before = app.counts().await;
        let bad = json!({"name": "x", "entity": "deal", "trigger": {"type": "created"},
            "condition": "amount >= ", "actions": [{"type": "webhook", "url": "ftp://example.com/"}]});
        let resp = app
            .req("admin", reqwest::Method::POST, "/api/v1/automation/rules")
            .header("Accept-Language", "ru")
            .json(&bad)
            .send()
            .await
            .unwrap();
        let (st, body) = json(resp).await;
        assert_eq!(st, 422, "{body}");
        let errs = body["errors"].as_array().unwrap();
        assert_eq!(errs[0]["field"], "condition");
        assert_eq!(errs[0]["code"], "automation_condition_invalid");
        assert!(
            errs[0]["message"]
                .as_str()
                .unwrap()
                .contains("Условие не разобрано"),
            "{body}"
        );
        assert_eq!(errs[1]["field"], "actions[0].url");
        assert!(
            errs[1]["message"].as_str().unwrap().contains("http://"),
            "{body}"
        );

        let resp = app
            .req("admin", reqwest::Method::POST, "/api/v1/automation/rules")
            .header("Accept-Language", "en")
            .json(
                &json!({"name": "x", "entity": "deal", "trigger": {"type": "created"},
                "actions": [{"type": "move_stage", "stage_id": 987654}]}),
            )
            .send()
            .await
            .unwrap();
        let (st, body) = json(resp).await;
        assert_eq!(st, 422);
        assert_eq!(body["errors"][0]["field"], "actions[0].stage_id");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("stage does not exist"),
            "{body}"
        );

        let (st, body) = json(app.post("admin", "/api/v1/automation/rules",
            &json!({"name": "x", "entity": "deal", "trigger": {"type": "created"}, "actions": [{"type": "launch"}]})).await).await;
        assert_eq!(st, 422);
        assert_eq!(body["errors"][0]["code"], "automation_rule_malformed");
        assert_eq!(app.counts().await, before);
    }
}

#[tokio::test]
async fn crud_dry_run_and_incoming_webhook() {
    for app in apps().await {
        let rule = save_rule(
            &app,
            json!({"name": "Метка", "entity": "deal",
            "trigger": {"type": "manual"}, "actions": [{"type": "add_tag", "tag": "проверено"}]}),
        )
        .await;
        let rid = rule["id"].as_i64().unwrap();
        let deal = app
            .create(
                "admin",
                "deals",
                json!({"title": "Д", "pipeline_id": app.fx.pipeline}),
            )
            .await;
        let did = deal["id"].as_i64().unwrap();
        let before = app.counts().await;
        let (st, out) = json(
            app.post(
                "admin",
                &format!("/api/v1/automation/rules/{rid}/dry-run?record={did}"),
                &json!({}),
            )
            .await,
        )
        .await;
        assert_eq!(st, 200, "{out}");
        assert_eq!(out["status"], "done");
        assert_eq!(out["actions"][0]["result"]["tag"], "проверено");
        assert_eq!(app.counts().await, before);
        let (st, _) = json(
            app.post(
                "admin",
                &format!("/api/v1/automation/rules/{rid}/dry-run"),
                &json!({}),
            )
            .await,
        )
        .await;
        assert_eq!(st, 400);

        // Replace with If-Match; a stale version answers 412.
        let mut input = json!({"name": "Из 1С", "entity": "deal", "trigger": {"type": "webhook"},
            "condition": "payload.sum > 10", "actions": [{"type": "add_tag", "tag": "{{payload.tag}}"}]});
        let put = |v: &Value, etag: &str| {
            app.req(
                "admin",
                reqwest::Method::PUT,
                &format!("/api/v1/automation/rules/{rid}"),
            )
            .header("If-Match", etag.to_string())
            .json(v)
            .send()
        };
        let (st, saved) = json(put(&input, "\"1\"").await.unwrap()).await;
        assert_eq!(st, 200, "{saved}");
        assert_eq!(saved["version"], 2);
        let token = saved["webhook_token"].as_str().unwrap().to_string();
        input["name"] = json!("x");
        assert_eq!(put(&input, "\"1\"").await.unwrap().status(), 412);

        let hook = format!("/api/v1/automation/hooks/{token}");
        let (st, out) = json(
            app.client
                .post(app.url(&hook))
                .json(&json!({"record_id": did, "sum": 50, "tag": "оплачено"}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(st, 202, "{out}");
        assert_eq!(out["status"], "done");
        let (_, d) = json(app.get("admin", &format!("/api/v1/deals/{did}")).await).await;
        assert_eq!(d["tags"], json!(["оплачено"]));
        let (st, _) = json(
            app.client
                .post(app.url(&format!("/api/v1/automation/hooks/{}", "0".repeat(48))))
                .json(&json!({}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(st, 404);

        let (st, _) = json(
            app.delete("admin", &format!("/api/v1/automation/rules/{rid}"))
                .await,
        )
        .await;
        assert_eq!(st, 204);
        let (st, _) = json(
            app.get("admin", &format!("/api/v1/automation/rules/{rid}"))
                .await,
        )
        .await;
        assert_eq!(st, 404);
    }
}

/// A loopback receiver that checks the signature of every request and answers with
/// the configured status.
struct Receiver {
    url: String,
    got: std::sync::Arc<std::sync::Mutex<Vec<(bool, Value)>>>,
}

async fn receiver(secret_slot: std::sync::Arc<std::sync::Mutex<String>>, status: u16) -> Receiver {
    use axum::body::Bytes;
    use axum::http::HeaderMap;
    use hmac::{Hmac, Mac};
    let got: std::sync::Arc<std::sync::Mutex<Vec<(bool, Value)>>> = Default::default();
    let seen = got.clone();
    let handler = move |headers: HeaderMap, body: Bytes| {
        let seen = seen.clone();
        let secret = secret_slot.lock().unwrap().clone();
        async move {
            let ts = headers["x-plotina-timestamp"].to_str().unwrap().to_string();
            let sig = headers["x-plotina-signature"].to_str().unwrap().to_string();
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
            mac.update(format!("{ts}.").as_bytes());
            mac.update(&body);
            let valid = mac
                .verify_slice(&hex::decode(&sig).unwrap_or_default())
                .is_ok();
            let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            seen.lock().unwrap().push((valid, json));
            axum::http::StatusCode::from_u16(status).unwrap()
        }
    };
    let app = axum::Router::new().route("/hook", axum::routing::post(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Receiver { url, got }
}

#[tokio::test]
async fn webhooks_are_signed_delivered_and_logged() {
    for app in apps().await {
        let secret = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let rx = receiver(secret.clone(), 200).await;
        let (st, sub) = json(
            app.post(
                "admin",
                "/api/v1/webhooks",
                &json!({"url": rx.url, "events": ["deal.stage_changed"], "entity": "deal"}),
            )
            .await,
        )
        .await;
        assert_eq!(st, 201, "{sub}");
        *secret.lock().unwrap() = sub["secret"].as_str().unwrap().to_string();
        let sid = sub["id"].as_i64().unwrap();
        let (st, _) = json(
            app.post(
                "admin",
                "/api/v1/webhooks",
                &json!({"url": "ftp://x.ru/", "events": ["deal.stage_changed"]}),
            )
            .await,
        )
        .await;
        assert_eq!(st, 422);

        let deal = app
            .create(
                "m1",
                "deals",
                json!({"title": "Вебхук", "pipeline_id": app.fx.pipeline}),
            )
            .await;
        let id = deal["id"].as_i64().unwrap();
        let stage = app.fx.stage("Квалификация");
        app.post(
            "m1",
            &format!("/api/v1/deals/{id}/move"),
            &json!({"stage_id": stage}),
        )
        .await;
        let sender = plotina_server::automation_job::HttpSender::new().unwrap();
        let rep = app
            .store
            .automation_tick(chrono::Utc::now(), Some(&sender))
            .await
            .unwrap();
        // A new deal enters its first stage too: two stage changes, in order.
        assert_eq!(rep.deliveries, 2);
        let got = rx.got.lock().unwrap().clone();
        assert_eq!(got.len(), 2);
        assert!(
            got.iter().all(|(valid, _)| *valid),
            "signatures must verify"
        );
        assert_eq!(got[0].1["stage"]["from"], Value::Null);
        assert_eq!(got[0].1["stage"]["to"], app.fx.stage("Новая"));
        let moved = &got[1].1;
        assert_eq!(moved["event"], "deal.stage_changed");
        assert_eq!(moved["record_id"], id);
        assert_eq!(moved["stage"]["from"], app.fx.stage("Новая"));
        assert_eq!(moved["stage"]["to"], stage);
        assert_eq!(moved["changes"]["stage_id"]["new"], stage);
        assert_eq!(moved["changes"]["stage_id"]["old"], app.fx.stage("Новая"));

        let (st, log) = json(
            app.get("admin", &format!("/api/v1/webhooks/{sid}/deliveries"))
                .await,
        )
        .await;
        assert_eq!(st, 200);
        assert_eq!(log["data"][0]["state"], "delivered");
        assert_eq!(log["data"][0]["last_status"], 200);
        assert_eq!(log["data"][0]["attempts"], 1);
        // Nothing left to send.
        let rep = app
            .store
            .automation_tick(chrono::Utc::now(), Some(&sender))
            .await
            .unwrap();
        assert_eq!(rep.deliveries, 0);
        let (st, _) = json(app.get("m1", "/api/v1/webhooks").await).await;
        assert_eq!(st, 403);
    }
}

#[tokio::test]
async fn a_failing_receiver_is_retried_then_disabled() {
    for app in apps().await {
        let secret = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let rx = receiver(secret.clone(), 503).await;
        let (_, sub) = json(
            app.post(
                "admin",
                "/api/v1/webhooks",
                &json!({"url": rx.url, "events": ["record.created"], "max_failures": 3}),
            )
            .await,
        )
        .await;
        *secret.lock().unwrap() = sub["secret"].as_str().unwrap().to_string();
        let sid = sub["id"].as_i64().unwrap();
        app.create("m1", "companies", json!({"name": "ООО «Недоступно»"}))
            .await;
        let before_items =
            plotina_store::testing::row_count(app.store.pool(), "notebook_items").await;
        let sender = plotina_server::automation_job::HttpSender::new().unwrap();
        let t0 = chrono::Utc::now();
        // Backoff: the retry is not due a second later, it is after the backoff.
        let rep = app.store.automation_tick(t0, Some(&sender)).await.unwrap();
        assert_eq!(rep.deliveries, 1);
        let rep = app
            .store
            .automation_tick(t0 + chrono::Duration::seconds(1), Some(&sender))
            .await
            .unwrap();
        assert_eq!(rep.deliveries, 0);
        let (_, log) = json(
            app.get("admin", &format!("/api/v1/webhooks/{sid}/deliveries"))
                .await,
        )
        .await;
        assert_eq!(log["data"][0]["state"], "queued");
        assert_eq!(log["data"][0]["attempts"], 1);
        assert_eq!(log["data"][0]["last_status"], 503);
        for minutes in [2, 10] {
            let rep = app
                .store
                .automation_tick(t0 + chrono::Duration::minutes(minutes), Some(&sender))
                .await
                .unwrap();
            assert_eq!(rep.deliveries, 1);
        }
        let (_, s) = json(app.get("admin", &format!("/api/v1/webhooks/{sid}")).await).await;
        assert_eq!(s["enabled"], false);
        assert_eq!(s["consecutive_failures"], 3);
        let rep = app
            .store
            .automation_tick(t0 + chrono::Duration::days(1), Some(&sender))
            .await
            .unwrap();
        assert_eq!(rep.deliveries, 0);
        assert_eq!(rx.got.lock().unwrap().len(), 3);
        assert!(rx.got.lock().unwrap().iter().all(|(valid, _)| *valid));
        let after_items =
            plotina_store::testing::row_count(app.store.pool(), "notebook_items").await;
        assert_eq!(after_items - before_items, 1);
        // Enabling it again resets the count.
        let (st, s) = json(
            app.req(
                "admin",
                reqwest::Method::PUT,
                &format!("/api/v1/webhooks/{sid}"),
            )
            .json(&json!({"url": rx.url, "events": ["record.created"], "max_failures": 3}))
            .send()
            .await
            .unwrap(),
        )
        .await;
        assert_eq!(st, 200);
        assert_eq!(s["enabled"], true);
        assert_eq!(s["consecutive_failures"], 0);
    }
}
