//! Report pages: the funnel with its chart, links to the deals behind each figure,
//! export buttons only for those who may export, errors shown on the page.

use plotina_core::schema::Entity;
use serde_json::json;

use crate::helpers::apps;

#[tokio::test]
async fn funnel_page_draws_the_chart_and_links_to_the_deals() {
    for app in apps().await {
        let p = app.fx.pipeline;
        let a = app
            .create(
                "m1",
                Entity::Deal,
                json!({"title": "Поставка труб", "pipeline_id": p}),
            )
            .await;
        let b = app
            .create(
                "m1",
                Entity::Deal,
                json!({"title": "Монтаж котла", "pipeline_id": p, "stage_id": app.fx.stage("Успешно")}),
            )
            .await;
        let admin = app.browser("admin").await;
        let page = admin.get(&format!("/reports/funnel?pipeline={p}")).await;
        assert_eq!(page.status, 200, "{}", app.backend);
        assert!(page.has(r#"data-testid="funnel-chart""#) && page.has("<svg"));
        assert!(page.has(r#"data-testid="export-xlsx""#));
        // Both deals reached «Новая» (b was created straight into «Успешно»): 2 of 2
        // reached, 1 won → «Успешно» bar shows 50.0 % of the cohort.
        let link = format!("/deals?filter=id+in+%28{a}%2C+{b}%29");
        assert!(page.has(&link), "{}", page.body);
        assert!(page.has("50.0 %"));
        let list = admin
            .get(&link.replace("%28", "(").replace("%29", ")"))
            .await;
        assert_eq!(list.status, 200);
        assert!(list.has("Поставка труб") && list.has("Монтаж котла"));

        // Errors in the parameters are shown on the page, in the user's language.
        let bad = admin
            .get("/reports/funnel?period_from=2026-03-02&period_to=2026-03-01")
            .await;
        assert_eq!(bad.status, 200);
        assert!(bad.has("Период заканчивается раньше, чем начинается"));

        // A manager sees the report of own deals but no export buttons.
        let m1 = app.browser("m1").await;
        let page = m1.get("/reports/funnel").await;
        assert_eq!(page.status, 200);
        assert!(page.has(r#"data-testid="funnel-chart""#));
        assert!(!page.has(r#"data-testid="export-csv""#));
        assert!(page.has(r#"data-testid="nav-reports""#));
    }
}

#[tokio::test]
async fn dam_page_draws_the_water_level() {
    for app in apps().await {
        let c = app
            .create("admin", Entity::Company, json!({"name": "ООО Ромашка"}))
            .await;
        app.create(
            "m1",
            Entity::Deal,
            json!({"title": "Поставка", "pipeline_id": app.fx.pipeline, "company_id": c,
                "stage_id": app.fx.stage("Успешно"), "amount": "1000"}),
        )
        .await;
        let admin = app.browser("admin").await;
        let page = admin.get("/reports/dam?lost_after=3&target=10").await;
        assert_eq!(page.status, 200, "{}", app.backend);
        assert!(page.has(r#"data-testid="dam-chart""#) && page.has("<polyline"));
        // The current month has one new customer: its link opens that company.
        let link = format!("/companies?filter=id+in+%28{c}%29");
        assert!(page.has(&link), "{}", page.body);
        assert!(page.has("10.0 %"), "coverage 1 of 10");
        let bad = admin.get("/reports/dam?lost_after=0").await;
        assert!(bad.has("Через сколько месяцев клиент потерян"));
    }
}

#[tokio::test]
async fn abc_xyz_page_draws_the_matrix() {
    for app in apps().await {
        let c = app
            .create("admin", Entity::Company, json!({"name": "ООО Ромашка"}))
            .await;
        app.create(
            "m1",
            Entity::Deal,
            json!({"title": "Поставка", "pipeline_id": app.fx.pipeline, "company_id": c,
                "stage_id": app.fx.stage("Успешно"), "amount": "1000"}),
        )
        .await;
        let admin = app.browser("admin").await;
        let page = admin.get("/reports/abc-xyz").await;
        assert_eq!(page.status, 200, "{}", app.backend);
        assert!(page.has(r#"data-testid="abc-matrix""#));
        // The only customer is A; one purchase in the default twelve months (1000 and
        // eleven zeros) has a CV of √11 ≈ 332 % → Z. The AZ cell links to it.
        assert!(
            page.has("ООО Ромашка") && page.has("<strong>AZ</strong>"),
            "{}",
            page.body
        );
        assert!(page.has(&format!("/companies?filter=id+in+%28{c}%29")));
    }
}

#[tokio::test]
async fn velocity_page_shows_cycle_chart_and_stuck_deals() {
    for app in apps().await {
        app.create(
            "m1",
            Entity::Deal,
            json!({"title": "Быстрая продажа", "pipeline_id": app.fx.pipeline,
                "stage_id": app.fx.stage("Успешно"), "amount": "1000"}),
        )
        .await;
        let open = app
            .create(
                "m1",
                Entity::Deal,
                json!({"title": "Тихая сделка", "pipeline_id": app.fx.pipeline}),
            )
            .await;
        let admin = app.browser("admin").await;
        // Idle threshold 1 day: a deal created now is not forgotten yet.
        let page = admin.get("/reports/velocity?idle_days=1").await;
        assert_eq!(page.status, 200, "{}", app.backend);
        assert!(page.has(r#"data-testid="velocity-cycle""#), "{}", page.body);
        assert!(page.has(r#"data-testid="velocity-chart""#) && page.has("<rect"));
        assert!(
            page.has("stage.kind+%3D+%22won%22"),
            "won links to its deals"
        );
        assert!(!page.has(&format!("/deals/{open}\"")), "not forgotten yet");
        assert!(page.has(r#"data-testid="export-csv""#));
        let bad = admin.get("/reports/velocity?idle_days=0").await;
        assert!(bad.has("Дней без касания: целое число"), "{}", bad.body);
        let m1 = app.browser("m1").await;
        let page = m1.get("/reports/velocity").await;
        assert_eq!(page.status, 200);
        assert!(!page.has(r#"data-testid="export-csv""#));
    }
}

#[tokio::test]
async fn forecast_page_sets_plans_and_compares() {
    for app in apps().await {
        let month = chrono::Utc::now().format("%Y-%m").to_string();
        app.create(
            "m1",
            Entity::Deal,
            json!({"title": "Продано", "pipeline_id": app.fx.pipeline,
                "stage_id": app.fx.stage("Успешно"), "amount": "250000"}),
        )
        .await;
        let admin = app.browser("admin").await;
        let saved = admin
            .post(
                "/reports/forecast/plan",
                &[
                    ("month", &month),
                    ("target", "all"),
                    ("amount", "1 000 000"),
                    ("back", "/reports/forecast"),
                ],
            )
            .await;
        assert_eq!(saved.status, 303, "{}", saved.body);
        let page = admin.get(&saved.location).await;
        assert_eq!(page.status, 200, "{}", app.backend);
        assert!(page.has(r#"data-testid="plan-saved""#));
        assert!(page.has(r#"data-testid="forecast-chart""#));
        let table = page
            .body
            .split(r#"data-testid="forecast-table""#)
            .nth(1)
            .unwrap();
        let plan_cell = table.split("<td class=\"num\">").nth(1).unwrap_or("");
        assert!(
            plan_cell.starts_with("1\u{a0}000\u{a0}000,00")
                || plan_cell.starts_with("1\u{202f}000\u{202f}000,00"),
            "the plan: {table}"
        );
        assert!(table.contains("25 %"), "250 000 of 1 000 000");
        let bad = admin
            .post(
                "/reports/forecast/plan",
                &[("month", "2026-13"), ("target", "all"), ("amount", "1")],
            )
            .await;
        assert!(bad.status >= 400 && bad.status < 500, "{}", bad.status);
        let m1 = app.browser("m1").await;
        let page = m1.get("/reports/forecast").await;
        assert_eq!(page.status, 200);
        assert!(!page.has(r#"data-testid="plan-form""#));
        let refused = m1
            .post(
                "/reports/forecast/plan",
                &[("month", &month), ("target", "all"), ("amount", "1")],
            )
            .await;
        assert_eq!(refused.status, 403);
    }
}

#[tokio::test]
async fn rating_page_ranks_and_takes_weights() {
    for app in apps().await {
        app.create(
            "m1",
            Entity::Deal,
            json!({"title": "Продано", "pipeline_id": app.fx.pipeline,
                "stage_id": app.fx.stage("Успешно"), "amount": "1000"}),
        )
        .await;
        let head = app.browser("head").await;
        let page = head.get("/reports/rating").await;
        assert_eq!(page.status, 200, "{}", app.backend);
        assert!(page.has(r#"data-testid="rating-table""#));
        assert!(page.has(&app.fx.m1.name));
        assert!(page.has(r#"data-testid="weights-form""#));
        let mut form: Vec<(&str, &str)> = vec![("back", "/reports/rating")];
        for m in [
            "calls",
            "meetings",
            "tasks_on_time",
            "tasks_late",
            "new_deals",
            "won_count",
            "win_rate",
            "cycle_days",
        ] {
            form.push((m, "0"));
        }
        form.push(("won_amount", "100"));
        let saved = head.post("/reports/rating/weights", &form).await;
        assert_eq!(saved.status, 303, "{}", saved.body);
        let page = head.get(&saved.location).await;
        assert!(page.has(r#"data-testid="weights-saved""#));
        assert!(page.has("100.0"), "m1 has all the won amount");
        let m1 = app.browser("m1").await;
        assert!(!m1
            .get("/reports/rating")
            .await
            .has(r#"data-testid="weights-form""#));
        let refused = m1.post("/reports/rating/weights", &form).await;
        assert_eq!(refused.status, 403);
        let bad = head
            .post("/reports/rating/weights", &[("calls", "abc")])
            .await;
        assert_eq!(bad.status, 422);
    }
}

#[tokio::test]
async fn operations_page_groups_by_industry_and_lists_late_child_deals() {
    for app in apps().await {
        let c = app
            .create(
                "admin",
                Entity::Company,
                json!({"name": "Магазин", "industry": "Розница"}),
            )
            .await;
        let parent = app
            .create(
                "m1",
                Entity::Deal,
                json!({"title": "Продажа", "pipeline_id": app.fx.pipeline, "company_id": c, "amount": "100"}),
            )
            .await;
        let late = (chrono::Utc::now() - chrono::Duration::days(5))
            .format("%Y-%m-%d")
            .to_string();
        app.create(
            "admin",
            Entity::Deal,
            json!({"title": "Доставка", "pipeline_id": app.fx.pipeline, "parent_id": parent,
                "close_date": late, "owner_id": app.fx.m2.user_id}),
        )
        .await;
        let admin = app.browser("admin").await;
        let page = admin.get("/reports/operations").await;
        assert_eq!(page.status, 200, "{}", app.backend);
        assert!(page.has(r#"data-testid="by-industry""#), "{}", page.body);
        assert!(page.has("Розница"));
        // The industry's figure opens its deals through the filter language.
        let link = page
            .body
            .split("Розница")
            .nth(1)
            .and_then(|row| row.split("href=\"/deals?filter=").nth(1))
            .and_then(|s| s.split('"').next())
            .unwrap()
            .replace("&amp;", "&");
        let list = admin.get(&format!("/deals?filter={link}")).await;
        assert_eq!(list.status, 200);
        assert!(list.has("Продажа"), "{}", list.body);
        assert!(page.has(r#"data-testid="overdue-children""#));
        assert!(page.has("Доставка") && page.has(&app.fx.m2.name));
    }
}

#[tokio::test]
async fn sources_page_shows_figures_links_and_saves_costs() {
    for app in apps().await {
        let month = chrono::Utc::now().format("%Y-%m").to_string();
        let parent = app
            .create(
                "m1",
                Entity::Deal,
                json!({"title": "Продажа с выставки", "pipeline_id": app.fx.pipeline,
                    "stage_id": app.fx.stage("Успешно"), "amount": "90000", "source": "Выставка"}),
            )
            .await;
        app.create(
            "m1",
            Entity::Deal,
            json!({"title": "Монтаж для выставки", "pipeline_id": app.fx.pipeline,
                "parent_id": parent, "source": "Монтаж"}),
        )
        .await;
        app.create(
            "m1",
            Entity::Lead,
            json!({"title": "Заявка с формы", "source": "web_form"}),
        )
        .await;
        let admin = app.browser("admin").await;
        let saved = admin
            .post(
                "/reports/sources/cost",
                &[
                    ("source", "Выставка"),
                    ("month", &month),
                    ("amount", "30 000"),
                    ("back", "/reports/sources"),
                ],
            )
            .await;
        assert_eq!(saved.status, 303, "{}", saved.body);
        let page = admin.get(&saved.location).await;
        assert_eq!(page.status, 200, "{}", app.backend);
        assert!(page.has(r#"data-testid="cost-saved""#));
        assert!(page.has(r#"data-testid="sources-chart""#) && page.has("<svg"));
        assert!(page.has(r#"data-testid="cost-form""#));
        assert!(page.has(r#"href="/reports/sources" class="on""#));
        let table = page
            .body
            .split(r#"data-testid="sources-table""#)
            .nth(1)
            .unwrap();
        let row = table
            .split(r#"data-testid="sources-row""#)
            .nth(1)
            .and_then(|r| r.split("</tr>").next())
            .unwrap();
        // «Выставка»: the sale and its child (the child counts for the parent's source),
        // one won for 90 000; cost 30 000 → ROMI (90 000 − 30 000) / 30 000 = 200 %.
        assert!(row.contains("Выставка"), "{row}");
        assert!(row.contains(">2</a>"), "two deals: {row}");
        assert!(row.contains("50.0 %"), "one of two won: {row}");
        assert!(row.contains("200.0 %"), "ROMI: {row}");
        assert!(
            !table.contains(">Монтаж<"),
            "the child's own source has no row"
        );
        // «Выставка» is not a lead source: its lead counts are not links. The first link
        // opens the deals, the last the won ones.
        let hrefs: Vec<String> = row
            .split("href=\"")
            .skip(1)
            .filter_map(|s| s.split('"').next())
            .map(|h| h.replace("&amp;", "&"))
            .collect();
        assert_eq!(hrefs.len(), 4, "deals, won of them, won, won amount: {row}");
        assert!(hrefs.iter().all(|h| h.starts_with("/deals?")), "{hrefs:?}");
        let href = hrefs[0].clone();
        let list = admin.get(&href).await;
        assert_eq!(list.status, 200, "{href}");
        assert!(
            list.has("Продажа с выставки") && list.has("Монтаж для выставки"),
            "{href}"
        );
        // The won link opens the won sale only.
        let won_href = hrefs[3].clone();
        let list = admin.get(&won_href).await;
        assert_eq!(list.status, 200, "{won_href}");
        assert!(list.has("Продажа с выставки") && !list.has("Монтаж для выставки"));
        assert!(page.has(r#"data-testid="costs-table""#));
        // The lead source's row: its lead count opens its leads.
        let leads = "/leads?filter=source+%3D+%22web_form%22";
        assert!(page.has(leads), "{}", page.body);
        assert!(page.has("Форма на сайте"));
        let list = admin.get(&leads.replace("+", " ")).await;
        assert_eq!(list.status, 200);
        assert!(list.has("Заявка с формы"));

        let m1 = app.browser("m1").await;
        let page = m1.get("/reports/sources").await;
        assert_eq!(page.status, 200);
        assert!(!page.has(r#"data-testid="cost-form""#));
        let refused = m1
            .post(
                "/reports/sources/cost",
                &[("source", "Выставка"), ("month", &month), ("amount", "1")],
            )
            .await;
        assert_eq!(refused.status, 403);
        let bad = admin
            .post(
                "/reports/sources/cost",
                &[
                    ("source", "Выставка"),
                    ("month", "2026-13"),
                    ("amount", "1"),
                ],
            )
            .await;
        assert!(bad.status >= 400 && bad.status < 500, "{}", bad.status);
        let bad = admin.get("/reports/sources?period_from=x").await;
        assert_eq!(bad.status, 200);
        assert!(bad.has(r#"data-testid="report-error""#));
    }
}
