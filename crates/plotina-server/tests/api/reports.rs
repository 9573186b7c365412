//! Reports over HTTP: figures, exports, permissions and refused parameters.

use chrono::{Duration, Utc};
use serde_json::{json, Value};

use crate::helpers::{apps, json, TestApp};

async fn moved(app: &TestApp, user: &str, deal: i64, body: Value) {
    let r = app
        .post(user, &format!("/api/v1/deals/{deal}/move"), &body)
        .await;
    assert_eq!(r.status(), 200, "move on {}", app.backend);
}

#[tokio::test]
async fn funnel_json_csv_xlsx_and_errors() {
    for app in apps().await {
        let fx = &app.fx;
        let p = fx.pipeline;
        // a (m1): Новая → Квалификация → Успешно (skips КП, Переговоры, Договор).
        // b (m1): Новая → Проиграна «Дорого». c (m2): stays in Новая.
        let a = app
            .create("m1", "deals", json!({"title": "a", "pipeline_id": p}))
            .await;
        let a = a["id"].as_i64().unwrap();
        moved(&app, "m1", a, json!({"stage_id": fx.stage("Квалификация")})).await;
        moved(&app, "m1", a, json!({"stage_id": fx.stage("Успешно")})).await;
        let b = app
            .create("m1", "deals", json!({"title": "b", "pipeline_id": p}))
            .await;
        let b = b["id"].as_i64().unwrap();
        moved(
            &app,
            "m1",
            b,
            json!({"stage_id": fx.stage("Проиграна"), "lost_reason": "Дорого"}),
        )
        .await;
        app.create("m2", "deals", json!({"title": "c", "pipeline_id": p}))
            .await;

        let today = Utc::now().date_naive();
        let period = format!(
            "period_from={}&period_to={}&pipeline={p}",
            today - Duration::days(1),
            today + Duration::days(1)
        );
        // Admin: 3 deals. Reached: Новая 3, Квалификация 1, КП 1 (skipped), Переговоры 1
        // (skipped), Договор 1 (skipped), Успешно 1. Новая → Квалификация 1/3.
        let (st, body) = json(
            app.get("admin", &format!("/api/v1/reports/funnel?{period}"))
                .await,
        )
        .await;
        assert_eq!(st, 200, "{body}");
        let f = &body["data"];
        assert_eq!(
            (
                f["deals"].as_i64(),
                f["won"].as_i64(),
                f["lost"].as_i64(),
                f["open"].as_i64()
            ),
            (Some(3), Some(1), Some(1), Some(1))
        );
        let reached: Vec<i64> = f["stages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["reached"].as_i64().unwrap())
            .collect();
        assert_eq!(reached, vec![3, 1, 1, 1, 1, 1]);
        let skipped: Vec<i64> = f["stages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["skipped"].as_i64().unwrap())
            .collect();
        assert_eq!(skipped, vec![0, 0, 1, 1, 1, 0]);
        assert_eq!(f["stages"][0]["conversion_next"], json!(0.3333));
        assert_eq!(f["stages"][0]["dropped"], json!(1));
        assert_eq!(f["lost_reasons"], json!([{"reason": "Дорого", "count": 1}]));

        // m1 sees own deals only: 2 deals, Новая → Квалификация 1/2.
        let (_, body) = json(
            app.get("m1", &format!("/api/v1/reports/funnel?{period}"))
                .await,
        )
        .await;
        assert_eq!(body["data"]["deals"], json!(2));
        assert_eq!(body["data"]["stages"][0]["conversion_next"], json!(0.5));

        // CSV in the user's language (admin: Russian), with a byte-order mark.
        let r = app
            .get(
                "admin",
                &format!("/api/v1/reports/funnel?{period}&format=csv"),
            )
            .await;
        assert_eq!(r.status(), 200);
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv"));
        let text = r.text().await.unwrap();
        let mut lines = text.lines();
        assert!(lines
            .next()
            .unwrap()
            .starts_with("\u{feff}Этап,Дошли,Из них перескочили этап,"));
        assert!(
            lines
                .next()
                .unwrap()
                .starts_with("Новая,3,0,0.3333,0.3333,2,"),
            "{text}"
        );
        assert_eq!(text.lines().count(), 7);
        let r = app
            .get(
                "admin",
                &format!("/api/v1/reports/funnel?{period}&format=xlsx"),
            )
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers()["content-disposition"].to_str().unwrap(),
            "attachment; filename=\"funnel.xlsx\""
        );
        assert_eq!(&r.bytes().await.unwrap()[..2], b"PK");

        // The seeded manager role may not export deals.
        let (st, body) = json(
            app.get("m1", &format!("/api/v1/reports/funnel?{period}&format=csv"))
                .await,
        )
        .await;
        assert_eq!(
            (st, body["code"].as_str()),
            (403, Some("report_export_forbidden"))
        );

        // Refused parameters: 400 naming the parameter, in the caller's language.
        for (qs, field) in [
            ("period_from=2026-13-01", "period_from"),
            ("period_from=2026-03-02&period_to=2026-03-01", "period_to"),
            ("pipeline=abc", "pipeline"),
            ("owner=-1", "owner"),
            ("format=pdf", "format"),
            ("filter=amount%20%3E%3D", "filter"),
        ] {
            let r = app
                .req(
                    "admin",
                    reqwest::Method::GET,
                    &format!("/api/v1/reports/funnel?{qs}"),
                )
                .header("Accept-Language", "en")
                .send()
                .await
                .unwrap();
            let (st, body) = json(r).await;
            assert_eq!(st, 400, "{qs}: {body}");
            assert_eq!(
                body["errors"][0]["field"].as_str(),
                Some(field),
                "{qs}: {body}"
            );
        }
        let r = app
            .req(
                "admin",
                reqwest::Method::GET,
                "/api/v1/reports/funnel?period_from=2026-03-02&period_to=2026-03-01",
            )
            .header("Accept-Language", "en")
            .send()
            .await
            .unwrap();
        let (_, body) = json(r).await;
        assert_eq!(
            body["errors"][0]["message"].as_str(),
            Some("Period to: The period ends before it starts")
        );
        let (st, _) = json(
            app.get("admin", "/api/v1/reports/funnel?pipeline=999999")
                .await,
        )
        .await;
        assert_eq!(st, 404);
    }
}

#[tokio::test]
async fn dam_json_csv_and_errors() {
    for app in apps().await {
        let fx = &app.fx;
        let company = app
            .create("m1", "companies", json!({"name": "ООО Ромашка"}))
            .await;
        let cid = company["id"].as_i64().unwrap();
        // One purchase today (1 500.50 ₽) by a new customer; a lost deal «Дорого».
        app.create(
            "m1",
            "deals",
            json!({"title": "Поставка", "pipeline_id": fx.pipeline, "company_id": cid,
            "stage_id": fx.stage("Успешно"), "amount": "1500.50"}),
        )
        .await;
        app.create(
            "m1",
            "deals",
            json!({"title": "Сервис", "pipeline_id": fx.pipeline, "company_id": cid,
            "stage_id": fx.stage("Проиграна"), "lost_reason": "Дорого"}),
        )
        .await;
        let today = Utc::now().date_naive();
        let qs = format!("period_from={today}&period_to={today}&lost_after=3&target=4");
        let (st, body) = json(app.get("admin", &format!("/api/v1/reports/dam?{qs}")).await).await;
        assert_eq!(st, 200, "{body}");
        let d = &body["data"];
        assert_eq!(d["lost_after_months"], json!(3));
        let m = &d["months"][0];
        assert_eq!(
            (
                m["active_start"].as_i64(),
                m["new"].as_i64(),
                m["lost"].as_i64(),
                m["active_end"].as_i64(),
                m["revenue"].as_i64()
            ),
            (Some(0), Some(1), Some(0), Some(1), Some(150_050))
        );
        // Coverage 1 of 4.
        assert_eq!(d["coverage"], json!(0.25));
        assert_eq!(d["loss_reasons"], json!([{"reason": "Дорого", "count": 1}]));
        // m2 reads none of m1's deals: an empty dam.
        let (_, body) = json(app.get("m2", &format!("/api/v1/reports/dam?{qs}")).await).await;
        assert_eq!(body["data"]["months"][0]["active_end"], json!(0));

        let r = app
            .get("admin", &format!("/api/v1/reports/dam?{qs}&format=csv"))
            .await;
        assert_eq!(r.status(), 200);
        let text = r.text().await.unwrap();
        assert!(text.starts_with("\u{feff}Месяц,Активных на начало,Новые,Вернувшиеся,Потерянные,Активных на конец,Отток,"), "{text}");
        assert!(
            text.lines()
                .nth(1)
                .unwrap()
                .ends_with(",0,1,0,0,1,,1,0,1500.50"),
            "{text}"
        );

        for (q, field) in [
            ("lost_after=0", "lost_after"),
            ("lost_after=x", "lost_after"),
            ("target=-3", "target"),
            ("period_from=2000-01-01&period_to=2020-01-01", "period_to"),
        ] {
            let (st, body) =
                json(app.get("admin", &format!("/api/v1/reports/dam?{q}")).await).await;
            assert_eq!(st, 400, "{q}: {body}");
            assert_eq!(
                body["errors"][0]["field"].as_str(),
                Some(field),
                "{q}: {body}"
            );
        }
    }
}

#[tokio::test]
async fn abc_xyz_json_and_errors() {
    for app in apps().await {
        let fx = &app.fx;
        let mut ids = Vec::new();
        for (name, amount) in [("Альфа", "800"), ("Бета", "150"), ("Гамма", "50")] {
            let c = app.create("m1", "companies", json!({"name": name})).await;
            let cid = c["id"].as_i64().unwrap();
            ids.push(cid);
            app.create(
                "m1",
                "deals",
                json!({"title": name, "pipeline_id": fx.pipeline, "company_id": cid,
                "stage_id": fx.stage("Успешно"), "amount": amount}),
            )
            .await;
        }
        let today = Utc::now().date_naive();
        // One month: every CV is 0 → X. Revenue 800, 150, 50 of 1000: shares before 0,
        // 80 %, 95 % → A, B, C.
        let (st, body) = json(
            app.get(
                "admin",
                &format!("/api/v1/reports/abc-xyz?period_from={today}&period_to={today}"),
            )
            .await,
        )
        .await;
        assert_eq!(st, 200, "{body}");
        let got: Vec<(i64, String)> = body["data"]["customers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["company_id"].as_i64().unwrap(),
                    format!(
                        "{}{}",
                        c["abc"].as_str().unwrap(),
                        c["xyz"].as_str().unwrap()
                    ),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (ids[0], "AX".into()),
                (ids[1], "BX".into()),
                (ids[2], "CX".into())
            ]
        );
        assert_eq!(body["data"]["matrix"].as_array().unwrap().len(), 9);
        // With A = 90 %: Бета (80 % before) becomes A as well.
        let (_, body) = json(
            app.get(
                "admin",
                &format!("/api/v1/reports/abc-xyz?period_from={today}&period_to={today}&a=90&b=5"),
            )
            .await,
        )
        .await;
        assert_eq!(body["data"]["customers"][1]["abc"], json!("A"));
        for (q, field) in [
            ("a=95&b=10", "b"),
            ("x=30", "y"),
            ("abc_by=margin", "abc_by"),
            ("a=abc", "a"),
        ] {
            let (st, body) = json(
                app.get("admin", &format!("/api/v1/reports/abc-xyz?{q}"))
                    .await,
            )
            .await;
            assert_eq!(st, 400, "{q}: {body}");
            assert_eq!(
                body["errors"][0]["field"].as_str(),
                Some(field),
                "{q}: {body}"
            );
        }
    }
}

#[tokio::test]
async fn velocity_json_csv_and_errors() {
    for app in apps().await {
        app.create(
            "m1",
            "deals",
            json!({"title": "Быстрая продажа", "pipeline_id": app.fx.pipeline,
                "stage_id": app.fx.stage("Успешно"), "amount": "1000"}),
        )
        .await;
        let (status, body) = json(app.get("admin", "/api/v1/reports/velocity").await).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"]["won"]["count"], 1);
        assert_eq!(body["data"]["won"]["median_days"], 0);
        assert_eq!(body["data"]["idle_days"], 14);
        assert_eq!(body["data"]["buckets"].as_array().unwrap().len(), 6);
        let csv = app
            .get("admin", "/api/v1/reports/velocity?format=csv&idle_days=30")
            .await;
        assert_eq!(csv.status(), 200);
        assert!(csv.text().await.unwrap().contains("Проблема"));
        assert_eq!(
            app.get("m1", "/api/v1/reports/velocity?format=csv")
                .await
                .status(),
            403
        );
        for bad in [
            "idle_days=0",
            "idle_days=366",
            "idle_days=x",
            "filter=amount+%3E",
        ] {
            let r = app
                .get("admin", &format!("/api/v1/reports/velocity?{bad}"))
                .await;
            assert_eq!(r.status(), 400, "{bad}");
        }
    }
}

#[tokio::test]
async fn forecast_and_plans_over_http() {
    for app in apps().await {
        let month = Utc::now().format("%Y-%m").to_string();
        let r = app
            .req("admin", reqwest::Method::PUT, "/api/v1/sales-plans")
            .json(&json!({"month": month, "target": "all", "amount": "500000.00"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
        let (status, body) = json(
            app.get(
                "admin",
                &format!("/api/v1/sales-plans?from={month}&to={month}"),
            )
            .await,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"][0]["amount"], 50_000_000);
        let (status, body) = json(app.get("admin", "/api/v1/reports/forecast").await).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"]["months"].as_array().unwrap().len(), 6);
        assert_eq!(body["data"]["months"][0]["plan"], 50_000_000);
        let (status, plan) = json(app.get("admin", "/api/v1/reports/plan").await).await;
        assert_eq!(status, 200);
        assert_eq!(plan["data"]["months"][0]["plan"], 50_000_000);
        let csv = app
            .get("admin", "/api/v1/reports/forecast?format=csv")
            .await;
        assert_eq!(csv.status(), 200);
        assert!(csv.text().await.unwrap().contains("500000.00"));
        for (user, body, code) in [
            (
                "m1",
                json!({"month": month, "target": "all", "amount": "1"}),
                403,
            ),
            (
                "admin",
                json!({"month": "2026-13", "target": "all", "amount": "1"}),
                400,
            ),
            (
                "admin",
                json!({"month": month, "target": "team:1", "amount": "1"}),
                400,
            ),
            (
                "admin",
                json!({"month": month, "target": "all", "amount": "-5"}),
                422,
            ),
            (
                "admin",
                json!({"month": month, "target": "user:999999", "amount": "1"}),
                422,
            ),
            ("admin", json!({"month": month}), 400),
        ] {
            let r = app
                .req(user, reqwest::Method::PUT, "/api/v1/sales-plans")
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), code, "{user} {body}");
        }
        for bad in [
            "period_from=2020-01-01&period_to=2026-01-01",
            "period_from=x",
        ] {
            let r = app
                .get("admin", &format!("/api/v1/reports/forecast?{bad}"))
                .await;
            assert_eq!(r.status(), 400, "{bad}");
        }
        assert_eq!(
            app.get("admin", "/api/v1/sales-plans?from=2026-1&to=2026-02")
                .await
                .status(),
            400
        );
    }
}

#[tokio::test]
async fn rating_and_weights_over_http() {
    for app in apps().await {
        app.create(
            "m1",
            "deals",
            json!({"title": "Продано", "pipeline_id": app.fx.pipeline,
                "stage_id": app.fx.stage("Успешно"), "amount": "1000"}),
        )
        .await;
        let (status, body) = json(app.get("admin", "/api/v1/reports/managers").await).await;
        assert_eq!(status, 200, "{body}");
        let first = &body["data"]["managers"][0];
        assert_eq!(first["user_id"], app.fx.m1.user_id);
        assert_eq!(first["won_amount"], 100_000);
        assert_eq!(first["place"], 1);
        let csv = app
            .get("admin", "/api/v1/reports/managers?format=xlsx")
            .await;
        assert_eq!(csv.status(), 200);
        let r = app
            .req(
                "head",
                reqwest::Method::PUT,
                "/api/v1/reports/managers/weights",
            )
            .json(&json!({"calls": 60, "won_amount": 40}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let (_, w) = json(app.get("m1", "/api/v1/reports/managers/weights").await).await;
        assert_eq!(w["data"], json!({"calls": 60, "won_amount": 40}));
        for (user, body, code) in [
            ("m1", json!({"calls": 1}), 403),
            ("admin", json!({"calls": 0}), 422),
            ("admin", json!({"calls": 101}), 422),
            ("admin", json!({"salary": 5}), 422),
            ("admin", json!({"calls": -1}), 422),
        ] {
            let r = app
                .req(
                    user,
                    reqwest::Method::PUT,
                    "/api/v1/reports/managers/weights",
                )
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), code, "{user} {body}");
        }
    }
}

#[tokio::test]
async fn industry_and_overdue_children_over_http() {
    for app in apps().await {
        let (status, body) = json(app.get("admin", "/api/v1/reports/by-industry").await).await;
        assert_eq!(status, 200, "{body}");
        assert!(body["data"].is_array());
        let (status, body) = json(
            app.get("admin", "/api/v1/reports/no-next-step?entity=company")
                .await,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert!(body["data"].is_array());
        let (status, body) = json(app.get("admin", "/api/v1/reports/overdue-children").await).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"], json!([]));
        for path in ["by-industry", "overdue-children"] {
            let r = app
                .get("admin", &format!("/api/v1/reports/{path}?format=csv"))
                .await;
            assert_eq!(r.status(), 200, "{path}");
            let r = app
                .get("m1", &format!("/api/v1/reports/{path}?format=csv"))
                .await;
            assert_eq!(r.status(), 403, "{path}");
            let r = app
                .get(
                    "admin",
                    &format!("/api/v1/reports/{path}?filter=amount+%3E"),
                )
                .await;
            assert_eq!(r.status(), 400, "{path}");
        }
    }
}

#[tokio::test]
async fn sources_report_and_costs_over_http() {
    for app in apps().await {
        let fx = &app.fx;
        let p = fx.pipeline;
        let won = fx.stage("Успешно");
        // m1: «Сайт» won 120 000 with a child «Логистика» (open) — the child counts for
        // «Сайт»; m2: «Сайт» won 50 000; leads of m1: web_form and one without a source.
        let parent = app
            .create(
                "m1",
                "deals",
                json!({"title": "Продажа", "pipeline_id": p, "stage_id": won,
                    "amount": "120000", "source": "Сайт"}),
            )
            .await;
        app.create(
            "m1",
            "deals",
            json!({"title": "Доставка", "pipeline_id": p, "parent_id": parent["id"],
                "source": "Логистика"}),
        )
        .await;
        app.create(
            "m2",
            "deals",
            json!({"title": "Другая", "pipeline_id": p, "stage_id": won,
                "amount": "50000", "source": "Сайт"}),
        )
        .await;
        app.create(
            "m1",
            "leads",
            json!({"title": "С сайта", "source": "web_form"}),
        )
        .await;
        app.create(
            "m1",
            "leads",
            json!({"title": "Без источника", "source": null}),
        )
        .await;
        let month = Utc::now().format("%Y-%m").to_string();
        let r = app
            .req("head", reqwest::Method::PUT, "/api/v1/source-costs")
            .json(&json!({"source": "Сайт", "month": month, "amount": "40000.00"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
        let (st, body) = json(
            app.get(
                "admin",
                &format!("/api/v1/source-costs?from={month}&to={month}"),
            )
            .await,
        )
        .await;
        assert_eq!(st, 200, "{body}");
        assert_eq!(body["data"][0]["amount"], 4_000_000);
        assert_eq!(body["data"][0]["source"], "Сайт");

        let today = Utc::now().date_naive();
        let period = format!(
            "period_from={}&period_to={}",
            today - Duration::days(1),
            today + Duration::days(1)
        );
        let (st, body) = json(
            app.get("admin", &format!("/api/v1/reports/sources?{period}"))
                .await,
        )
        .await;
        assert_eq!(st, 200, "{body}");
        let rows = body["data"]["rows"].as_array().unwrap();
        let sources: Vec<&Value> = rows.iter().map(|r| &r["source"]).collect();
        assert_eq!(
            sources,
            [&json!("Сайт"), &json!("web_form"), &Value::Null],
            "{body}"
        );
        let site = &rows[0];
        // Deals: the parent, its child and m2's; won 120 000 + 50 000 = 17 000 000
        // kopecks; (170 000 − 40 000) / 40 000 = 325 %; 40 000 / 2 won = 20 000.
        assert_eq!(
            (
                &site["deals"],
                &site["deals_won"],
                &site["won"],
                &site["won_amount"],
                &site["cost"],
                &site["cost_per_won"],
                &site["romi"],
                &site["cost_per_lead"]
            ),
            (
                &json!(3),
                &json!(2),
                &json!(2),
                &json!(17_000_000),
                &json!(4_000_000),
                &json!(2_000_000),
                &json!(325.0),
                &Value::Null
            )
        );
        assert_eq!(site["deal_conversion"], json!(0.6667));
        assert_eq!(
            (&rows[1]["leads"], &rows[2]["leads"]),
            (&json!(1), &json!(1))
        );
        assert_eq!(body["data"]["total"]["leads"], json!(2));
        // m1 does not see m2's deal: 2 deals, won 120 000, ROMI (120 000 − 40 000) / 40 000.
        let (_, mine) = json(
            app.get("m1", &format!("/api/v1/reports/sources?{period}"))
                .await,
        )
        .await;
        let site = &mine["data"]["rows"][0];
        assert_eq!(
            (&site["deals"], &site["won_amount"], &site["romi"]),
            (&json!(2), &json!(12_000_000), &json!(200.0))
        );

        // CSV in the admin's language, the total last.
        let r = app
            .get(
                "admin",
                &format!("/api/v1/reports/sources?{period}&format=csv"),
            )
            .await;
        assert_eq!(r.status(), 200);
        let text = r.text().await.unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("\u{feff}Источник,Лиды,Конвертированы,Лид → сделка,Сделки,"),
            "{text}"
        );
        assert!(
            lines[1].starts_with("Сайт,0,0,,3,2,0.6667,2,170000.00,40000.00,,20000.00,325"),
            "{text}"
        );
        assert!(lines[2].starts_with("Форма на сайте,1,0,0,"), "{text}");
        assert!(lines[3].starts_with("(без источника),1,"), "{text}");
        assert!(lines[4].starts_with("Итого,2,0,0,3,2,"), "{text}");
        let r = app
            .get(
                "admin",
                &format!("/api/v1/reports/sources?{period}&format=xlsx"),
            )
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(&r.bytes().await.unwrap()[..2], b"PK");
        assert_eq!(
            app.get("m1", "/api/v1/reports/sources?format=csv")
                .await
                .status(),
            403
        );
        for bad in [
            "period_from=x",
            "pipeline=0",
            "filter=amount+%3E",
            "format=pdf",
        ] {
            let r = app
                .get("admin", &format!("/api/v1/reports/sources?{bad}"))
                .await;
            assert_eq!(r.status(), 400, "{bad}");
        }

        // Costs: managers may not set them; bad input is refused, nothing changes.
        for (user, body, code) in [
            (
                "m1",
                json!({"source": "Сайт", "month": month, "amount": "1"}),
                403,
            ),
            (
                "admin",
                json!({"source": "Сайт", "month": "2026-13", "amount": "1"}),
                422,
            ),
            (
                "admin",
                json!({"source": "  ", "month": month, "amount": "1"}),
                422,
            ),
            (
                "admin",
                json!({"source": "Сайт", "month": month, "amount": "-5"}),
                422,
            ),
            (
                "admin",
                json!({"source": "Сайт", "month": month, "amount": "много"}),
                422,
            ),
            ("admin", json!({"source": 5, "month": month}), 400),
            (
                "admin",
                json!({"source": "Сайт", "month": month, "extra": 1}),
                400,
            ),
        ] {
            let r = app
                .req(user, reqwest::Method::PUT, "/api/v1/source-costs")
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), code, "{user} {body}");
        }
        let (_, body) = json(
            app.get(
                "admin",
                &format!("/api/v1/source-costs?from={month}&to={month}"),
            )
            .await,
        )
        .await;
        assert_eq!(body["data"].as_array().unwrap().len(), 1);
        assert_eq!(body["data"][0]["amount"], 4_000_000);
        assert!(app
            .get("admin", "/api/v1/source-costs?from=2026-1&to=2026-02")
            .await
            .status()
            .is_client_error());
        // Removing the cost: no ROMI any more.
        let r = app
            .req("admin", reqwest::Method::PUT, "/api/v1/source-costs")
            .json(&json!({"source": "Сайт", "month": month, "amount": null}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
        let (_, body) = json(
            app.get("admin", &format!("/api/v1/reports/sources?{period}"))
                .await,
        )
        .await;
        assert_eq!(body["data"]["rows"][0]["romi"], Value::Null);

        let (_, doc) = json(app.get("admin", "/api/v1/openapi.json").await).await;
        let paths = &doc["paths"];
        assert!(paths["/api/v1/reports/sources"]["get"].is_object());
        assert!(paths["/api/v1/source-costs"]["put"].is_object());
        assert!(doc["components"]["schemas"]["SourcesReport"].is_object());
    }
}
