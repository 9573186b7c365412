//! Stored customer classes over HTTP: recalculation, a company's class and history, the
//! manual override, who may change them and refused input.

use chrono::{Datelike, Duration, Utc};
use plotina_store::db::Backend;
use sea_query::{Alias, Expr, Query, Value as SqlValue};
use serde_json::{json, Value};

use crate::helpers::{apps, json, TestApp};

/// A won deal of `company`, closed on the 10th of last month (inside the window of a
/// calculation now).
pub async fn won_last_month(app: &TestApp, company: i64, amount: &str) {
    let d = app
        .create(
            "m1",
            "deals",
            json!({"title": format!("sale {company}"), "pipeline_id": app.fx.pipeline,
                "stage_id": app.fx.stage("Успешно"), "company_id": company, "amount": amount}),
        )
        .await;
    let first = Utc::now().date_naive().with_day(1).unwrap();
    let day = (first - Duration::days(1)).with_day(10).unwrap();
    let at = day.and_hms_opt(12, 0, 0).unwrap().and_utc();
    let v: SqlValue = match app.store.backend() {
        Backend::Sqlite => plotina_core::value::format_datetime(at).into(),
        Backend::Postgres => at.into(),
    };
    let mut tx = app.store.pool().begin_write().await.expect("begin");
    tx.execute(
        Query::update()
            .table(Alias::new("deals"))
            .value(Alias::new("closed_at"), v)
            .and_where(Expr::col(Alias::new("id")).eq(d["id"].as_i64().unwrap())),
    )
    .await
    .expect("closed_at");
    tx.commit().await.expect("commit");
}

async fn put(app: &TestApp, user: &str, company: i64, body: &str) -> (u16, Value) {
    json(
        app.req(
            user,
            reqwest::Method::PUT,
            &format!("/api/v1/companies/{company}/customer-class"),
        )
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classes_recalculate_show_and_override_over_http() {
    for app in apps().await {
        let k1 = app
            .create("admin", "companies", json!({"name": "K1"}))
            .await["id"]
            .as_i64()
            .unwrap();
        let k2 = app
            .create("admin", "companies", json!({"name": "K2"}))
            .await["id"]
            .as_i64()
            .unwrap();
        won_last_month(&app, k1, "300").await;
        won_last_month(&app, k2, "100").await;

        let path = "/api/v1/reports/abc-xyz/recalculate";
        let (st, _) = json(app.post("m1", path, &json!({})).await).await;
        assert_eq!(st, 403, "a manager may not recalculate ({})", app.backend);
        // 12 months, one of them with a purchase: 400 in all; K1 A (nothing before it),
        // K2 B (75 % before it). Each customer: one month of 12 → mean v/12, sd
        // v·√11/12 → CV √11 = 3.3166 → Z.
        let (st, run) = json(app.post("head", path, &json!({})).await).await;
        assert_eq!(st, 200, "{run}");
        assert_eq!(
            (
                &run["data"]["customers"],
                &run["data"]["changed"],
                &run["data"]["source"]
            ),
            (&json!(2), &json!(2), &json!("api"))
        );

        let (st, b) = json(
            app.get("m1", &format!("/api/v1/companies/{k2}/customer-class"))
                .await,
        )
        .await;
        assert_eq!(st, 200, "{b}");
        let c = &b["data"]["current"];
        assert_eq!(
            (&c["abc"], &c["xyz"], &c["revenue"], &c["share"], &c["cv"]),
            (
                &json!("B"),
                &json!("Z"),
                &json!(10_000),
                &json!(0.25),
                &json!(3.3166)
            )
        );
        assert_eq!(b["data"]["history"].as_array().unwrap().len(), 1);

        // Overrides: administrators and heads; a manager is refused.
        let (st, _) = put(&app, "m1", k2, r#"{"abc": "A", "reason": "мой клиент"}"#).await;
        assert_eq!(st, 403);
        for (body, code, field) in [
            (r#"{"abc": "Q", "reason": "x"}"#, 422, "abc"),
            (r#"{"xyz": "XY", "reason": "x"}"#, 422, "xyz"),
            (r#"{"abc": 5, "reason": "x"}"#, 422, "abc"),
            (r#"{"abc": "A"}"#, 422, "reason"),
            (r#"{"abc": "A", "reason": "   "}"#, 422, "reason"),
            (r#"{"abc": "A", "reason": "x", "class": "A"}"#, 422, "class"),
            (r#"{"abc": "A", "reason": 7}"#, 422, "reason"),
            ("[1]", 422, "body"),
            ("{not json", 400, "body"),
        ] {
            let (st, b) = put(&app, "head", k2, body).await;
            assert_eq!(st, code, "{body}: {b}");
            let fields: Vec<&str> = b["errors"]
                .as_array()
                .map(|e| e.iter().filter_map(|e| e["field"].as_str()).collect())
                .unwrap_or_default();
            assert!(fields.contains(&field), "{body}: {b}");
        }
        let long = format!(r#"{{"abc": "A", "reason": "{}"}}"#, "я".repeat(501));
        assert_eq!(put(&app, "head", k2, &long).await.0, 422);
        assert_eq!(
            put(&app, "head", 999_999, r#"{"abc": "A", "reason": "x"}"#)
                .await
                .0,
            404
        );
        assert_eq!(
            put(&app, "head", 0, r#"{"abc": "A", "reason": "x"}"#)
                .await
                .0,
            404
        );
        // The override wins; the computed class stays visible.
        let (st, b) = put(
            &app,
            "head",
            k2,
            r#"{"abc": "a", "reason": "Ключевой клиент"}"#,
        )
        .await;
        assert_eq!(st, 200, "{b}");
        assert_eq!(
            (
                &b["data"]["abc"],
                &b["data"]["xyz"],
                &b["data"]["computed_abc"],
                &b["data"]["override_reason"]
            ),
            (
                &json!("A"),
                &json!("Z"),
                &json!("B"),
                &json!("Ключевой клиент")
            )
        );
        let (_, b) = json(
            app.get("admin", &format!("/api/v1/companies/{k2}/customer-class"))
                .await,
        )
        .await;
        let h = &b["data"]["history"];
        assert_eq!(
            (
                &h[0]["kind"],
                &h[0]["old_abc"],
                &h[0]["new_abc"],
                &h[0]["changed_by"]
            ),
            (
                &json!("override"),
                &json!("B"),
                &json!("A"),
                &json!(app.fx.head.user_id)
            )
        );
        // Clearing it (both null) goes back to the computed B.
        let (st, b) = put(&app, "admin", k2, r#"{"abc": null, "xyz": null}"#).await;
        assert_eq!((st, &b["data"]["abc"]), (200, &json!("B")), "{b}");

        let (_, doc) = json(app.get("admin", "/api/v1/openapi.json").await).await;
        for p in [
            "/api/v1/companies/{id}/customer-class",
            "/api/v1/reports/abc-xyz/recalculate",
        ] {
            assert!(doc["paths"][p].is_object(), "{p} documented");
        }
        // A company nobody classified: no class, no history.
        let k3 = app
            .create("admin", "companies", json!({"name": "K3"}))
            .await["id"]
            .as_i64()
            .unwrap();
        let (st, b) = json(
            app.get("admin", &format!("/api/v1/companies/{k3}/customer-class"))
                .await,
        )
        .await;
        assert_eq!(
            (st, &b["data"]["current"], &b["data"]["history"]),
            (200, &Value::Null, &json!([]))
        );
    }
}
