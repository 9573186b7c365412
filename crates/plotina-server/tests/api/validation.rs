//! Bad input gets a clear 4xx naming the field, in the caller's language, and changes
//! nothing in the database.

use serde_json::{json, Value};

use crate::helpers::{apps, json, TestApp};

/// Sends a request, checks status, error field and code, and that no table changed.
async fn refused(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: Value,
    status: u16,
    field: &str,
    code: &str,
) -> Value {
    let before = app.counts().await;
    let resp = app
        .req("m1", method, path)
        .header("Accept-Language", "ru")
        .json(&body)
        .send()
        .await
        .expect("send");
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let (got, problem) = json(resp).await;
    assert_eq!(
        got, status,
        "{} {path} {body} on {}: {problem}",
        "request", app.backend
    );
    assert!(
        ct.starts_with("application/problem+json"),
        "content type {ct}"
    );
    let errors = problem["errors"].as_array().cloned().unwrap_or_default();
    assert!(
        errors
            .iter()
            .any(|e| e["field"] == field && e["code"] == code),
        "expected {field}/{code} in {problem} on {}",
        app.backend
    );
    assert!(problem["request_id"]
        .as_str()
        .is_some_and(|r| !r.is_empty()));
    assert_eq!(
        app.counts().await,
        before,
        "the database changed after a refused request on {}",
        app.backend
    );
    problem
}

#[tokio::test]
async fn invalid_fields_are_named_and_change_nothing() {
    for app in apps().await {
        let p = refused(
            &app,
            reqwest::Method::POST,
            "/api/v1/companies",
            json!({"name": "Ромашка", "inn": "7707083894"}),
            422,
            "inn",
            "inn_checksum",
        )
        .await;
        let msg = p["errors"][0]["message"].as_str().unwrap_or("");
        assert!(
            msg.starts_with("ИНН:") && msg.contains("контрольное"),
            "Russian message naming the field: {msg}"
        );
        refused(
            &app,
            reqwest::Method::POST,
            "/api/v1/companies",
            json!({"name": "Ромашка", "kpp": "12"}),
            422,
            "kpp",
            "kpp_format",
        )
        .await;
        refused(
            &app,
            reqwest::Method::POST,
            "/api/v1/companies",
            json!({"name": "Ромашка", "phones": ["12"]}),
            422,
            "phones",
            "phone_invalid",
        )
        .await;
        refused(
            &app,
            reqwest::Method::POST,
            "/api/v1/companies",
            json!({"name": "Ромашка", "emails": ["not-mail"]}),
            422,
            "emails",
            "email_invalid",
        )
        .await;
        refused(
            &app,
            reqwest::Method::POST,
            "/api/v1/companies",
            json!({"name": "Ромашка", "colour": "red"}),
            422,
            "colour",
            "unknown_field",
        )
        .await;
        refused(
            &app,
            reqwest::Method::POST,
            "/api/v1/companies",
            json!({"name": 5}),
            422,
            "name",
            "expected_string",
        )
        .await;
        refused(
            &app,
            reqwest::Method::POST,
            "/api/v1/companies",
            json!({"inn": "7707083893"}),
            422,
            "name",
            "required",
        )
        .await;
        let pipeline = app.fx.pipeline;
        refused(
            &app,
            reqwest::Method::POST,
            "/api/v1/deals",
            json!({"title": "Сделка", "pipeline_id": pipeline, "amount": "12.345"}),
            422,
            "amount",
            "money_scale",
        )
        .await;
        refused(
            &app,
            reqwest::Method::POST,
            "/api/v1/deals",
            json!({"title": "Сделка", "pipeline_id": pipeline, "amount": "-5"}),
            422,
            "amount",
            "money_negative",
        )
        .await;
        refused(
            &app,
            reqwest::Method::GET,
            "/api/v1/deals?filter=amount%20%3E%3D",
            json!(null),
            400,
            "filter",
            "filter_expected_value",
        )
        .await;
        let p = refused(
            &app,
            reqwest::Method::GET,
            "/api/v1/deals?filter=nosuch%20%3D%201",
            json!(null),
            400,
            "filter",
            "filter_unknown_field",
        )
        .await;
        assert_eq!(p["position"], 0);
        refused(
            &app,
            reqwest::Method::GET,
            "/api/v1/deals?limit=100000",
            json!(null),
            400,
            "limit",
            "limit_range",
        )
        .await;
        refused(
            &app,
            reqwest::Method::GET,
            "/api/v1/deals?sort=nosuch",
            json!(null),
            400,
            "sort",
            "sort_unknown_field",
        )
        .await;

        // English on request.
        let resp = app
            .req("m1", reqwest::Method::POST, "/api/v1/companies")
            .header("Accept-Language", "en-US,en;q=0.9")
            .json(&json!({"name": "X", "inn": "123"}))
            .send()
            .await
            .unwrap();
        let (_, p) = json(resp).await;
        assert_eq!(
            p["errors"][0]["message"],
            "INN: An INN has 10 digits (company) or 12 digits (sole trader)"
        );

        // A field kept with a default (the currency): null on create takes the default,
        // null on update is refused by name instead of reaching the NOT NULL column.
        let deal = app
            .create(
                "m1",
                "deals",
                json!({"title": "Без валюты", "pipeline_id": pipeline, "currency": null}),
            )
            .await;
        assert_eq!(deal["currency"], "RUB", "on {}", app.backend);
        refused(
            &app,
            reqwest::Method::PATCH,
            &format!("/api/v1/deals/{}", deal["id"]),
            json!({"currency": null}),
            422,
            "currency",
            "required",
        )
        .await;
    }
}

#[tokio::test]
async fn pipeline_rules_refuse_with_reasons() {
    for app in apps().await {
        // The default pipeline allows skipping; forbid it first.
        let p = app
            .get("admin", &format!("/api/v1/pipelines/{}", app.fx.pipeline))
            .await;
        assert_eq!(p.status(), 200);
        let r = app
            .patch(
                "admin",
                &format!("/api/v1/pipelines/{}", app.fx.pipeline),
                &json!({"forbid_skip": true}),
            )
            .await;
        assert_eq!(r.status(), 200);
        let deal = app.create("m1", "deals", json!({"title": "Поставка станков", "pipeline_id": app.fx.pipeline, "amount": "150000"})).await;
        let id = deal["id"].as_i64().unwrap();
        assert_eq!(deal["stage_id"], app.fx.stage("Новая"));
        let contract = app.fx.stage("Договор");
        let p = refused(
            &app,
            reqwest::Method::POST,
            &format!("/api/v1/deals/{id}/move"),
            json!({"stage_id": contract}),
            409,
            "stage_id",
            "stage_skip_forbidden",
        )
        .await;
        assert!(
            p["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("Квалификация"),
            "names the next stage: {p}"
        );
        let lost = app.fx.stage("Проиграна");
        refused(
            &app,
            reqwest::Method::POST,
            &format!("/api/v1/deals/{id}/move"),
            json!({"stage_id": lost}),
            422,
            "lost_reason",
            "lost_reason_required",
        )
        .await;
        refused(
            &app,
            reqwest::Method::POST,
            &format!("/api/v1/deals/{id}/move"),
            json!({"stage_id": lost, "lost_reason": "Марсиане"}),
            422,
            "lost_reason",
            "lost_reason_unknown",
        )
        .await;
        let r = app
            .post(
                "m1",
                &format!("/api/v1/deals/{id}/move"),
                &json!({"stage_id": app.fx.stage("Квалификация")}),
            )
            .await;
        assert_eq!(r.status(), 200);
        let r = app
            .post(
                "m1",
                &format!("/api/v1/deals/{id}/move"),
                &json!({"stage_id": lost, "lost_reason": "Дорого"}),
            )
            .await;
        let (s, d) = json(r).await;
        assert_eq!(s, 200, "{d}");
        assert!(d["closed_at"].is_string());
        let (_, h) = json(
            app.get("m1", &format!("/api/v1/deals/{id}/stage-history"))
                .await,
        )
        .await;
        let steps: Vec<_> = h["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["to_stage"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(steps, ["Новая", "Квалификация", "Проиграна"]);
    }
}

#[tokio::test]
async fn stale_versions_answer_412_and_lose_nothing() {
    for app in apps().await {
        let c = app
            .create("m1", "companies", json!({"name": "ООО «Вектор»"}))
            .await;
        let id = c["id"].as_i64().unwrap();
        let r = app.get("m1", &format!("/api/v1/companies/{id}")).await;
        assert_eq!(r.headers()["etag"], "\"1\"");
        let ok = app
            .req(
                "m1",
                reqwest::Method::PATCH,
                &format!("/api/v1/companies/{id}"),
            )
            .header("If-Match", "\"1\"")
            .json(&json!({"industry": "розница"}))
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200);
        assert_eq!(ok.headers()["etag"], "\"2\"");
        let before = app.counts().await;
        let stale = app
            .req(
                "m1",
                reqwest::Method::PATCH,
                &format!("/api/v1/companies/{id}"),
            )
            .header("If-Match", "\"1\"")
            .json(&json!({"industry": "опт"}))
            .send()
            .await
            .unwrap();
        let (s, p) = json(stale).await;
        assert_eq!(s, 412, "{p}");
        assert_eq!(p["current_version"], 2);
        assert_eq!(app.counts().await, before);
        let (_, now) = json(app.get("m1", &format!("/api/v1/companies/{id}")).await).await;
        assert_eq!(now["industry"], "розница");
        let del = app
            .req(
                "m1",
                reqwest::Method::DELETE,
                &format!("/api/v1/companies/{id}"),
            )
            .header("If-Match", "\"1\"")
            .send()
            .await
            .unwrap();
        assert_eq!(
            del.status().as_u16(),
            403,
            "managers may not delete companies"
        );
    }
}

#[tokio::test]
async fn malformed_requests_are_problems_not_crashes() {
    for app in apps().await {
        let r = app
            .req("m1", reqwest::Method::POST, "/api/v1/companies")
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        let (s, p) = json(r).await;
        assert_eq!(s, 400, "{p}");
        assert_eq!(p["errors"][0]["code"], "bad_json");
        let r = app
            .req("m1", reqwest::Method::POST, "/api/v1/companies")
            .json(&json!([1, 2]))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422);
        let big = "я".repeat(300 * 1024);
        let r = app
            .req("m1", reqwest::Method::POST, "/api/v1/companies")
            .json(&json!({"name": big}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 413);
        let r = app
            .req("m1", reqwest::Method::POST, "/api/v1/companies")
            .json(&json!({"name": "a\u{0}b"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422);
        let r = app.get("m1", "/api/v1/companies/abc").await;
        assert_eq!(r.status(), 404);
        let r = app
            .get("m1", "/api/v1/companies/99999999999999999999")
            .await;
        assert_eq!(r.status(), 404);
        let r = app.get("m1", "/api/v1/nothing-here").await;
        let (s, p) = json(r).await;
        assert_eq!((s, p["code"].as_str()), (404, Some("not_found")));
        let r = app
            .client
            .get(app.url("/api/v1/companies"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        let r = app
            .client
            .get(app.url("/api/v1/companies"))
            .bearer_auth("plt_nope")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        let r = app
            .req("m1", reqwest::Method::PATCH, "/api/v1/companies/1")
            .header("If-Match", "yesterday")
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert!(matches!(r.status().as_u16(), 400 | 404));
        let r = app.get("m1", "/api/v1/deals?cursor=%%%").await;
        assert_eq!(r.status(), 400);
    }
}
