//! Stored customer classes on pages: the company card shows the class, its change
//! against the previous calculation and the override (with its form for heads); the
//! ABC/XYZ report shows the stored class per customer and recalculates on request.

use chrono::{Datelike, Duration, Utc};
use plotina_core::schema::Entity;
use plotina_store::db::Backend;
use sea_query::{Alias, Expr, Query, Value as SqlValue};
use serde_json::json;

use crate::helpers::{apps, TestApp};

/// A won deal of `company` closed on the 10th of last month.
async fn won_last_month(app: &TestApp, company: i64, amount: &str) {
    let deal = app
        .create(
            "m1",
            Entity::Deal,
            json!({"title": format!("sale {company} {amount}"), "pipeline_id": app.fx.pipeline,
                "stage_id": app.fx.stage("Успешно"), "company_id": company, "amount": amount}),
        )
        .await;
    let first = Utc::now().date_naive().with_day(1).unwrap();
    let at = (first - Duration::days(1))
        .with_day(10)
        .unwrap()
        .and_hms_opt(12, 0, 0)
        .unwrap()
        .and_utc();
    let v: SqlValue = match app.store.backend() {
        Backend::Sqlite => plotina_core::value::format_datetime(at).into(),
        Backend::Postgres => at.into(),
    };
    let mut tx = app.store.pool().begin_write().await.expect("begin");
    tx.execute(
        Query::update()
            .table(Alias::new("deals"))
            .value(Alias::new("closed_at"), v)
            .and_where(Expr::col(Alias::new("id")).eq(deal)),
    )
    .await
    .expect("closed_at");
    tx.commit().await.expect("commit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_card_and_the_report_show_the_stored_class() {
    for app in apps().await {
        let k1 = app
            .create("admin", Entity::Company, json!({"name": "Альфа"}))
            .await;
        let k2 = app
            .create("admin", Entity::Company, json!({"name": "Бета"}))
            .await;
        won_last_month(&app, k1, "300").await;
        won_last_month(&app, k2, "100").await;

        let head = app.browser("head").await;
        let report = head.get("/reports/abc-xyz").await;
        assert_eq!(report.status, 200, "{}", app.backend);
        assert!(
            report.has("Расчёта ещё не было.") && report.has(r#"data-testid="abc-recalculate""#)
        );
        let m1 = app.browser("m1").await;
        assert!(!m1
            .get("/reports/abc-xyz")
            .await
            .has(r#"data-testid="abc-recalculate""#));
        assert_eq!(
            m1.post(
                "/reports/abc-xyz/recalculate",
                &[("back", "/reports/abc-xyz")]
            )
            .await
            .status,
            403
        );
        // Run 1: 400 in all; Альфа A (nothing before it), Бета B (75 % before it); one
        // month of twelve with a purchase → CV √11 → Z.
        let done = head
            .post(
                "/reports/abc-xyz/recalculate",
                &[("back", "/reports/abc-xyz")],
            )
            .await;
        assert_eq!(done.status, 303, "{}", done.body);
        assert!(done.location.starts_with("/reports/abc-xyz?recalculated="));
        let report = head.get(&done.location).await;
        assert!(report.has(r#"data-testid="abc-recalculated""#));
        assert!(report.has("клиентов 2, изменилось 2"), "{}", report.body);
        assert!(report.has(r#"data-testid="abc-stored-class">A / Z"#));
        assert!(report.has(r#"data-testid="abc-stored-class">B / Z"#));
        assert!(report.has(r#"data-testid="abc-change">новый"#));

        // The card of Бета for a manager: the class, no form.
        let card = m1.get(&format!("/companies/{k2}")).await;
        assert_eq!(card.status, 200);
        assert!(
            card.has(r#"data-testid="customer-class-value">B / Z"#),
            "{}",
            card.body
        );
        assert!(card.has("впервые классифицирован последним расчётом"));
        assert!(!card.has(r#"data-testid="customer-class-form""#));
        assert_eq!(
            m1.post(
                &format!("/companies/{k2}/customer-class"),
                &[("abc", "A"), ("reason", "мой")]
            )
            .await
            .status,
            403
        );

        // Revenue changes: Бета buys 800 more. Run 2: Бета 900 A, Альфа B (75 % before
        // it) — Альфа was A / Z.
        won_last_month(&app, k2, "800").await;
        let done = head
            .post(
                "/reports/abc-xyz/recalculate",
                &[("back", "/reports/abc-xyz")],
            )
            .await;
        assert_eq!(done.status, 303);
        let card = head.get(&format!("/companies/{k1}")).await;
        let today = Utc::now().date_naive().format("%d.%m.%Y").to_string();
        assert!(
            card.has(r#"data-testid="customer-class-value">B / Z"#),
            "{}",
            card.body
        );
        assert!(card.has(&format!("было A / Z до {today}")), "{}", card.body);
        let report = head.get("/reports/abc-xyz").await;
        assert!(
            report.has(r#"data-testid="abc-change">A / Z → B / Z"#),
            "{}",
            report.body
        );
        assert!(report.has(r#"data-testid="abc-change">B / Z → A / Z"#));

        // The head overrides Альфа: a missing reason is refused on the card, in Russian.
        assert!(card.has(r#"data-testid="customer-class-form""#));
        let bad = head
            .post(
                &format!("/companies/{k1}/customer-class"),
                &[("abc", "A"), ("reason", "")],
            )
            .await;
        assert_eq!(bad.status, 422);
        assert!(
            bad.has("Укажите причину ручного класса") && bad.has(r#"data-testid="record-title""#)
        );
        let ok = head
            .post(
                &format!("/companies/{k1}/customer-class"),
                &[
                    ("abc", "A"),
                    ("xyz", ""),
                    ("reason", "Стратегический клиент"),
                ],
            )
            .await;
        assert_eq!(ok.status, 303, "{}", ok.body);
        let card = head.get(&ok.location.replace("#customer-class", "")).await;
        assert!(card.has(r#"data-testid="customer-class-value">A / Z"#));
        assert!(card.has(r#"data-testid="customer-class-override""#));
        assert!(
            card.has("Задан вручную: «Стратегический клиент»") && card.has("по расчёту: B / Z")
        );
        assert!(card.has("задан вручную: B / Z → A / Z"));
    }
}
