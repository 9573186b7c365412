//! Web interface tests through a spawned server and a cookie-keeping client, on SQLite
//! and (when configured) PostgreSQL.

mod approvals;
mod automation;
mod calendar;
mod customer_classes;
mod dashboard;
mod duplicates;
mod exports;
mod gates;
mod helpers;
mod imports;
mod notebook;
mod quality;
mod reports;

use helpers::{apps, Browser};
use plotina_core::schema::Entity;
use serde_json::json;

/// A valid company INN (its check digit matches).
const GOOD_INN: &str = "7707083893";

#[tokio::test]
async fn pages_need_a_session_and_the_login_form_signs_in() {
    for app in apps().await {
        let mut b = Browser::new(&app.base);
        let home = b.get("/companies").await;
        assert_eq!(home.status, 303, "{}", app.backend);
        assert_eq!(home.location, "/login?next=%2Fcompanies");

        let login = b.get("/login").await;
        assert!(login.has(r#"data-testid="login-form""#) && login.has("Вход"));
        let token = helpers::input_value(&login.body, "csrf").unwrap();
        let bad = b
            .post_raw(
                "/login",
                &[("csrf", &token), ("login", "m1"), ("password", "nope")],
            )
            .await;
        assert_eq!(bad.status, 401);
        assert!(bad.has("Неверный логин или пароль"), "{}", bad.body);
        let forged = b
            .post_raw(
                "/login",
                &[("csrf", "forged"), ("login", "m1"), ("password", "x")],
            )
            .await;
        assert_eq!(
            forged.status, 403,
            "a login form without its token is refused"
        );

        b.login("m1").await;
        let home = b.get("/").await;
        assert!(home.has("Блокнот") && home.has("Менеджер Первый"));
        let csp = home
            .headers
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert!(
            csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );
        assert!(
            !home.body.contains("<script>") && !home.body.contains(" style="),
            "no inline script or style"
        );
        for nav in [
            "nav-notebook",
            "nav-leads",
            "nav-deals",
            "nav-companies",
            "nav-contacts",
            "nav-activities",
            "nav-settings",
        ] {
            assert!(home.has(&format!("data-testid=\"{nav}\"")), "{nav}");
        }
        assert!(
            home.has("data-testid=\"nav-reports\"") && home.has("Отчёты"),
            "the reports module is linked from the navigation"
        );

        let out = b.post("/logout", &[]).await;
        assert_eq!(out.status, 303);
        assert_eq!(b.get("/").await.status, 303, "signed out");
    }
}

#[tokio::test]
async fn session_cookie_is_http_only_and_same_site() {
    let app = apps().await.remove(0);
    let b = Browser::new(&app.base);
    let login = b.get("/login").await;
    let token = helpers::input_value(&login.body, "csrf").unwrap();
    let resp = b
        .post_raw(
            "/login",
            &[
                ("csrf", &token),
                ("login", "m1"),
                ("password", plotina_store::testing::PASSWORD),
            ],
        )
        .await;
    let cookies: Vec<&str> = resp
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("plotina_session="))
        .expect("session cookie");
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Lax"),
        "{session}"
    );
}

#[tokio::test]
async fn company_form_shows_errors_next_to_fields_and_keeps_the_input() {
    for app in apps().await {
        let b = app.browser("m1").await;
        let form = b.get("/companies/new").await;
        assert_eq!(form.status, 200);
        assert!(
            form.has(r#"name="inn""#)
                && form.has(r#"name="roles""#)
                && form.has(r#"name="private""#)
        );

        let bad = b
            .post(
                "/companies/new",
                &[
                    ("name", "Ромашка"),
                    ("inn", "7707083890"),
                    ("roles", "customer"),
                    ("phones", "8 (912) 345-67-89"),
                ],
            )
            .await;
        assert_eq!(bad.status, 422, "{}", app.backend);
        assert!(
            bad.has(r#"class="field-error" data-field="inn""#),
            "{}",
            bad.body
        );
        assert!(bad.has("Неверный ИНН: не сходится контрольное число"));
        assert!(bad.has(r#"value="Ромашка""#), "the typed name is kept");
        assert!(bad.has(r#"value="7707083890""#), "the typed INN is kept");
        assert!(bad.has("8 (912) 345-67-89"), "the typed phone is kept");

        let ok = b
            .post(
                "/companies/new",
                &[
                    ("name", "Ромашка"),
                    ("inn", GOOD_INN),
                    ("roles", "customer"),
                    ("phones", "8 (912) 345-67-89"),
                ],
            )
            .await;
        assert_eq!(ok.status, 303, "{}", ok.body);
        assert!(ok.location.starts_with("/companies/"));
        let card = b.get(&ok.location).await;
        assert_eq!(card.status, 200);
        assert!(
            card.has("Ромашка")
                && card.has(GOOD_INN)
                && card.has("+79123456789")
                && card.has("Клиент")
        );
        assert!(card.has(r#"data-testid="timeline""#) && card.has("Запись создана"));

        // Editing keeps optimistic locking: a stale version is refused with a message.
        let edit = b.get(&format!("{}/edit", ok.location)).await;
        let version = helpers::input_value(&edit.body, "version").unwrap();
        let saved = b
            .post(
                &format!("{}/edit", ok.location),
                &[
                    ("version", &version),
                    ("name", "Ромашка-2"),
                    ("inn", GOOD_INN),
                ],
            )
            .await;
        assert_eq!(saved.status, 303, "{}", saved.body);
        let stale = b
            .post(
                &format!("{}/edit", ok.location),
                &[("version", &version), ("name", "Ромашка-3")],
            )
            .await;
        assert_eq!(stale.status, 422);
        assert!(stale.has("Запись уже изменили"));
        let card = b.get(&ok.location).await;
        assert!(
            card.has("Ромашка-2") && card.has("Название: Ромашка → Ромашка-2"),
            "history in the timeline"
        );
    }
}

#[tokio::test]
async fn names_render_as_text_not_markup() {
    for app in apps().await {
        let b = app.browser("m1").await;
        let xss = "<script>alert(1)</script>";
        let created = b.post("/companies/new", &[("name", xss)]).await;
        assert_eq!(created.status, 303);
        for path in [
            created.location.clone(),
            "/companies".into(),
            format!("/search?q={}", "script"),
        ] {
            let page = b.get(&path).await;
            assert!(!page.has(xss), "{path} renders markup");
        }
        let card = b.get(&created.location).await;
        assert!(
            card.has("&#60;script&#62;alert(1)&#60;/script&#62;")
                || card.has("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{}",
            card.body
        );
    }
}

#[tokio::test]
async fn records_outside_the_scope_do_not_exist() {
    for app in apps().await {
        let secret = app
            .create(
                "m1",
                Entity::Company,
                json!({"name": "Тайная Компания", "private": true, "inn": GOOD_INN}),
            )
            .await;
        let deal = app
            .create(
                "m1",
                Entity::Deal,
                json!({"title": "Сделка Первого", "pipeline_id": app.fx.pipeline}),
            )
            .await;
        let m2 = app.browser("m2").await;
        assert_eq!(
            m2.get(&format!("/companies/{secret}")).await.status,
            404,
            "{}",
            app.backend
        );
        assert_eq!(
            m2.get(&format!("/companies/{secret}/edit")).await.status,
            404
        );
        assert_eq!(m2.get(&format!("/deals/{deal}")).await.status, 404);
        let search = m2.get("/search?q=Тайная").await;
        assert!(!search.has("Тайная Компания") && !search.has(&format!("/companies/{secret}")));
        let by_inn = m2.get(&format!("/search?q={GOOD_INN}")).await;
        assert!(!by_inn.has(&format!("/companies/{secret}")));
        let list = m2.get("/companies").await;
        assert!(!list.has("Тайная Компания"));
        let board = m2.get("/deals/board").await;
        assert!(!board.has("Сделка Первого"));
        let moved = m2
            .post(
                &format!("/deals/{deal}/move"),
                &[("stage_id", &app.fx.stage("Квалификация").to_string())],
            )
            .await;
        assert_eq!(moved.status, 404, "no move of an invisible deal");

        let m1 = app.browser("m1").await;
        assert_eq!(m1.get(&format!("/companies/{secret}")).await.status, 200);
        assert!(m1
            .get("/search?q=Тайная")
            .await
            .has(&format!("/companies/{secret}")));
    }
}

#[tokio::test]
async fn forms_without_the_csrf_token_are_refused() {
    for app in apps().await {
        let b = app.browser("m1").await;
        let before = plotina_store::testing::row_count(app.store.pool(), "companies").await;
        let page = b
            .post_raw("/companies/new", &[("name", "Без токена")])
            .await;
        assert_eq!(page.status, 403, "{}", app.backend);
        assert!(page.has("Форма устарела"));
        let wrong = b
            .post_raw(
                "/companies/new",
                &[("csrf", "0000"), ("name", "Чужой токен")],
            )
            .await;
        assert_eq!(wrong.status, 403);
        assert_eq!(
            plotina_store::testing::row_count(app.store.pool(), "companies").await,
            before
        );
        assert_eq!(
            b.post_raw("/language", &[("language", "en")]).await.status,
            403
        );
    }
}

#[tokio::test]
async fn the_language_switch_changes_texts_numbers_and_dates() {
    for app in apps().await {
        let deal = app
            .create("m1", Entity::Deal, json!({"title": "Поставка", "pipeline_id": app.fx.pipeline, "amount": "1234567", "close_date": "2026-11-23"}))
            .await;
        let b = app.browser("m1").await;
        let ru = b.get(&format!("/deals/{deal}")).await;
        assert!(
            ru.has("1\u{202F}234\u{202F}567,00\u{00A0}₽") && ru.has("23.11.2026"),
            "{}",
            app.backend
        );
        assert!(ru.has("Сделки"));
        let switched = b
            .post(
                "/language",
                &[("language", "en"), ("back", &format!("/deals/{deal}"))],
            )
            .await;
        assert_eq!(switched.status, 303);
        assert_eq!(switched.location, format!("/deals/{deal}"));
        let en = b.get(&format!("/deals/{deal}")).await;
        assert!(en.has("Notebook") && en.has("Deals") && !en.has("Блокнот"));
        assert!(en.has("₽1,234,567.00") && en.has("2026-11-23"));
        assert!(en.has(r#"lang="en""#));
        // Before sign-in the login page follows Accept-Language.
        let guest = reqwest::Client::new()
            .get(format!("{}/login", app.base))
            .header("accept-language", "en-US,en;q=0.9")
            .send()
            .await
            .unwrap();
        assert!(guest.text().await.unwrap().contains("Sign in"));
    }
}

#[tokio::test]
async fn kanban_shows_columns_with_counts_and_moves_deals() {
    for app in apps().await {
        let new_stage = app.fx.stage("Новая");
        for (title, amount) in [("Первая", "1000"), ("Вторая", "2500.50")] {
            app.create(
                "m1",
                Entity::Deal,
                json!({"title": title, "pipeline_id": app.fx.pipeline, "amount": amount}),
            )
            .await;
        }
        let b = app.browser("m1").await;
        let board = b.get("/deals/board").await;
        assert_eq!(board.status, 200, "{}", app.backend);
        for (_, id) in &app.fx.stages {
            assert!(board.has(&format!("data-stage-id=\"{id}\"")), "column {id}");
        }
        let column = board
            .body
            .split(&format!("data-stage-id=\"{new_stage}\""))
            .nth(1)
            .unwrap();
        assert!(
            column.contains(r#"<span class="count" data-testid="column-count">2</span>"#),
            "{column}"
        );
        assert!(
            column.contains("3\u{202F}500,50\u{00A0}₽"),
            "the column's sum"
        );
        assert!(board.has("data-deal-id="));
        // One move form for the board, not one per card; without scripts a card's
        // "Move" leads to the deal's own stage bar.
        assert_eq!(board.body.matches("data-move-form").count(), 1);
        assert_eq!(
            board
                .body
                .matches("<select id=\"move-stage\" name=\"stage_id\">")
                .count(),
            1
        );
        assert_eq!(board.body.matches("#stage-bar\" data-move>").count(), 2);
        let first_id = column
            .split("data-deal-id=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap();
        assert!(
            column.contains(&format!("href=\"/deals/{first_id}#stage-bar\" data-move")),
            "{column}"
        );
        let card_page = b.get(&format!("/deals/{first_id}")).await;
        assert!(card_page.has("id=\"stage-bar\""));

        let id = app
            .create(
                "m1",
                Entity::Deal,
                json!({"title": "Третья", "pipeline_id": app.fx.pipeline}),
            )
            .await;
        let qual = app.fx.stage("Квалификация").to_string();
        let moved = b
            .post(
                &format!("/deals/{id}/move"),
                &[("stage_id", &qual), ("back", "/deals/board")],
            )
            .await;
        assert_eq!(moved.status, 303);
        // The script gets the redrawn board back.
        let lost = app.fx.stage("Проиграна").to_string();
        let resp = b
            .client
            .post(format!("{}/deals/{id}/move", app.base))
            .header("x-requested-with", "fetch")
            .form(&[
                ("csrf", b.csrf.as_str()),
                ("stage_id", &lost),
                ("back", "/deals/board"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 422, "a lost stage needs a reason");
        assert!(resp
            .text()
            .await
            .unwrap()
            .contains("Укажите причину проигрыша"));
        let resp = b
            .client
            .post(format!("{}/deals/{id}/move", app.base))
            .header("x-requested-with", "fetch")
            .form(&[
                ("csrf", b.csrf.as_str()),
                ("stage_id", &lost),
                ("lost_reason", "Дорого"),
                ("back", "/deals/board"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let fragment = resp.text().await.unwrap();
        assert!(
            fragment.starts_with("<div class=\"board\"") && !fragment.contains("<html"),
            "a fragment"
        );
        let card = b.get(&format!("/deals/{id}")).await;
        assert!(
            card.has("Проиграна")
                && card.has("Дорого")
                && card.has("Этап: Квалификация → Проиграна")
        );
    }
}

#[tokio::test]
async fn a_forbidden_skip_shows_its_reason_on_the_board() {
    let app = apps().await.remove(0);
    let admin = app.fx.admin.clone();
    app.store
        .update(
            &admin,
            Entity::Pipeline,
            app.fx.pipeline,
            json!({"forbid_skip": true}).as_object().unwrap(),
            None,
        )
        .await
        .unwrap();
    let id = app
        .create(
            "m1",
            Entity::Deal,
            json!({"title": "Скачок", "pipeline_id": app.fx.pipeline}),
        )
        .await;
    let b = app.browser("m1").await;
    let target = app.fx.stage("Договор").to_string();
    let page = b
        .post(
            &format!("/deals/{id}/move"),
            &[("stage_id", &target), ("back", "/deals/board")],
        )
        .await;
    assert_eq!(page.status, 409);
    assert!(
        page.has("нельзя перескакивать этапы") && page.has("Квалификация"),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn lists_filter_sort_page_and_explain_filter_errors() {
    for app in apps().await {
        for i in 0..55 {
            app.create("m1", Entity::Company, json!({"name": format!("Компания {i:02}"), "industry": if i % 2 == 0 { "Ретейл" } else { "Авто" }})).await;
        }
        let b = app.browser("m1").await;
        let first = b.get("/companies?sort=name").await;
        assert_eq!(first.status, 200, "{}", app.backend);
        assert!(
            first.has(r#"data-testid="list-table""#)
                && first.has("Компания 00")
                && !first.has("Компания 54")
        );
        assert!(first.has(r#"aria-sort="ascending""#));
        let next = helpers::input_value(
            &first
                .body
                .replace("data-testid=\"next-page\" rel=\"next\"", ""),
            "zzz",
        );
        assert!(next.is_none());
        let href = first
            .body
            .split("href=\"")
            .find(|s| s.contains("cursor="))
            .map(|s| {
                s.split('"')
                    .next()
                    .unwrap()
                    .replace("&amp;", "&")
                    .replace("&#38;", "&")
            })
            .expect("next page link");
        let second = b.get(&href).await;
        assert!(
            second.has("Компания 54") && !second.has("Компания 00"),
            "{href}: {}",
            second.body
        );

        let filtered = b
            .get("/companies?filter=industry%20%3D%20%22%D0%90%D0%B2%D1%82%D0%BE%22")
            .await;
        assert!(filtered.has("Компания 01") && !filtered.has("Компания 02"));
        let broken = b.get("/companies?filter=industry%20%3D%3D%20%22x%22").await;
        assert_eq!(broken.status, 200);
        assert!(
            broken.has(r#"data-testid="filter-error""#) && broken.has("позиция 10"),
            "{}",
            broken.body
        );

        // Columns are chosen and remembered.
        let chosen = b.get("/companies?cols_set=1&cols=name&cols=industry").await;
        assert!(chosen.headers.get_all("set-cookie").iter().any(|c| c
            .to_str()
            .unwrap_or("")
            .starts_with("plotina_cols_company=")));
        let again = b.get("/companies").await;
        assert!(again.has(r#"data-column="industry""#) && !again.has(r#"data-column="owner_id""#));

        // A saved view brings its filter back.
        let saved = b
            .post(
                "/companies/views",
                &[
                    ("name", "Авто"),
                    ("filter", "industry = \"Авто\""),
                    ("sort", "name"),
                    ("cols", "name|industry"),
                ],
            )
            .await;
        assert_eq!(saved.status, 303);
        let view = b.get(&saved.location).await;
        assert!(view.has("Компания 01") && !view.has("Компания 02") && view.has("data-view-id="));
    }
}

#[tokio::test]
async fn bulk_applies_to_the_whole_filtered_set_not_just_the_page() {
    for app in apps().await {
        let mut wanted = Vec::new();
        for i in 0..3 {
            wanted.push(
                app.create(
                    "head",
                    Entity::Company,
                    json!({"name": format!("Пакетный клиент {i}")}),
                )
                .await,
            );
        }
        let other = app
            .create("head", Entity::Company, json!({"name": "Посторонний"}))
            .await;
        let b = app.browser("head").await;
        let page = b
            .post(
                "/companies/bulk",
                &[
                    ("scope", "all"),
                    ("filter", ""),
                    ("q", "пакетный"),
                    ("action", "tag"),
                    ("tag", "акция"),
                    ("back", "/companies?q=пакетный"),
                ],
            )
            .await;
        assert_eq!(page.status, 303, "{}", app.backend);
        assert!(page.location.contains("ok=3"), "{}", page.location);
        for id in wanted {
            let rec = app
                .store
                .get(&app.fx.admin, Entity::Company, id)
                .await
                .unwrap();
            assert_eq!(rec["tags"], json!(["акция"]), "{id}");
        }
        let rec = app
            .store
            .get(&app.fx.admin, Entity::Company, other)
            .await
            .unwrap();
        assert_eq!(rec["tags"], json!([]), "outside the filter");
        // A manager may edit only their own companies: the others are counted, untouched.
        let m1 = app.browser("m1").await;
        let page = m1
            .post(
                "/companies/bulk",
                &[
                    ("scope", "all"),
                    ("q", "пакетный"),
                    ("action", "tag"),
                    ("tag", "чужое"),
                    ("back", "/companies"),
                ],
            )
            .await;
        assert!(
            page.location.contains("ok=0") && page.location.contains("failed=3"),
            "{}",
            page.location
        );
    }
}

#[tokio::test]
async fn bulk_actions_go_through_permissions() {
    for app in apps().await {
        let mine = app
            .create(
                "m1",
                Entity::Deal,
                json!({"title": "Моя", "pipeline_id": app.fx.pipeline}),
            )
            .await;
        let theirs = app
            .create(
                "m2",
                Entity::Deal,
                json!({"title": "Чужая", "pipeline_id": app.fx.pipeline}),
            )
            .await;
        let b = app.browser("m1").await;
        let (m, t) = (mine.to_string(), theirs.to_string());
        let page = b
            .post(
                "/deals/bulk",
                &[
                    ("action", "tag"),
                    ("tag", "срочно"),
                    ("ids", &m),
                    ("ids", &t),
                    ("back", "/deals"),
                ],
            )
            .await;
        assert_eq!(page.status, 303, "{}", app.backend);
        assert!(
            page.location.contains("ok=1") && page.location.contains("failed=1"),
            "{}",
            page.location
        );
        let notice = b.get(&page.location).await;
        assert!(notice.has("Изменено записей: 1") && notice.has("Не изменено: 1"));
        let rec = app.store.get(&app.fx.m1, Entity::Deal, mine).await.unwrap();
        assert_eq!(rec["tags"], json!(["срочно"]));
        let other = app
            .store
            .get(&app.fx.m2, Entity::Deal, theirs)
            .await
            .unwrap();
        assert_eq!(other["tags"], json!([]));
    }
}

#[tokio::test]
async fn cards_show_related_records_and_take_quick_activities() {
    for app in apps().await {
        let company = app
            .create("m1", Entity::Company, json!({"name": "Альфа"}))
            .await;
        let contact = app
            .create(
                "m1",
                Entity::Contact,
                json!({"last_name": "Иванов", "first_name": "Пётр", "companies": [company]}),
            )
            .await;
        let deal = app.create("m1", Entity::Deal, json!({"title": "Альфа: поставка", "pipeline_id": app.fx.pipeline, "company_id": company, "contact_ids": [contact]})).await;
        let b = app.browser("m1").await;
        let card = b.get(&format!("/companies/{company}")).await;
        assert!(
            card.has("Иванов Пётр") && card.has("Альфа: поставка"),
            "{}",
            app.backend
        );
        let added = b
            .post(
                &format!("/deals/{deal}/activity"),
                &[
                    ("kind", "call"),
                    ("subject", "Позвонить"),
                    ("due_at", "2030-01-15T10:00"),
                ],
            )
            .await;
        assert_eq!(added.status, 303, "{}", added.body);
        let deal_card = b.get(&format!("/deals/{deal}")).await;
        assert!(
            deal_card.has("Позвонить") && deal_card.has("15.01.2030 10:00"),
            "local time shown back"
        );
        assert!(deal_card.has("Иванов Пётр"));
        let acts = app
            .store
            .list(&app.fx.m1, Entity::Activity, &Default::default())
            .await
            .unwrap()
            .data;
        assert_eq!(
            acts[0]["due_at"],
            json!("2030-01-15T07:00:00.000Z"),
            "stored in UTC (Moscow is UTC+3)"
        );
        assert_eq!(
            acts[0]["company_id"],
            json!(company),
            "a deal's activity is on its company too"
        );
        let company_card = b.get(&format!("/companies/{company}")).await;
        assert!(company_card.has("Позвонить"));
    }
}

#[tokio::test]
async fn a_lead_is_converted_from_its_screen() {
    for app in apps().await {
        let lead = app.create("m1", Entity::Lead, json!({"title": "Заявка с сайта", "company_name": "Бета", "contact_name": "Петров Иван", "phone": "+79001234567"})).await;
        let b = app.browser("m1").await;
        let screen = b.get(&format!("/leads/{lead}/convert")).await;
        assert_eq!(screen.status, 200, "{}", app.backend);
        assert!(screen.has(r#"value="Бета""#) && screen.has(r#"value="Петров""#));
        let p = app.fx.pipeline.to_string();
        let done = b
            .post(
                &format!("/leads/{lead}/convert"),
                &[
                    ("company_mode", "new"),
                    ("company_name", "Бета"),
                    ("contact_mode", "new"),
                    ("last_name", "Петров"),
                    ("first_name", "Иван"),
                    ("create_deal", "true"),
                    ("pipeline_id", &p),
                    ("deal_title", "Бета: сделка"),
                ],
            )
            .await;
        assert_eq!(done.status, 303, "{}", done.body);
        assert!(done.location.starts_with("/deals/"));
        let deal = b.get(&done.location).await;
        assert!(deal.has("Бета: сделка") && deal.has("Бета"));
        let again = b.get(&format!("/leads/{lead}")).await;
        assert!(again.has("Сконвертирован") && !again.has(r#"data-testid="convert""#));
    }
}

#[tokio::test]
async fn a_lead_naming_a_company_converts_without_one_when_asked() {
    for app in apps().await {
        let lead = app.create("m1", Entity::Lead, json!({"title": "Частное лицо", "company_name": "Гамма", "contact_name": "Сидорова Анна"})).await;
        let before = app.counts().await;
        let b = app.browser("m1").await;
        let screen = b.get(&format!("/leads/{lead}/convert")).await;
        assert!(screen.has(r#"name="company_mode" value="none""#));
        let done = b
            .post(
                &format!("/leads/{lead}/convert"),
                &[
                    ("company_mode", "none"),
                    ("company_name", "Гамма"),
                    ("contact_mode", "new"),
                    ("last_name", "Сидорова"),
                    ("first_name", "Анна"),
                ],
            )
            .await;
        assert_eq!(done.status, 303, "{}: {}", app.backend, done.body);
        let after = app.counts().await;
        assert_eq!(
            after["companies"], before["companies"],
            "no company created"
        );
        assert_eq!(after["contacts"], before["contacts"] + 1);
        assert_eq!(after["deals"], before["deals"], "no deal asked for");
    }
}

#[tokio::test]
async fn an_activity_card_shows_its_chain_in_order() {
    for app in apps().await {
        let company = app
            .create("m1", Entity::Company, json!({"name": "ООО «Цепочка»"}))
            .await;
        let call = app
            .create(
                "m1",
                Entity::Activity,
                json!({"kind": "call", "subject": "Первый звонок", "company_id": company}),
            )
            .await;
        let meeting = app.create("m1", Entity::Activity, json!({"kind": "meeting", "subject": "Встреча по итогам", "company_id": company, "parent_id": call})).await;
        let task = app.create("m1", Entity::Activity, json!({"kind": "task", "subject": "Отправить КП", "company_id": company, "parent_id": meeting})).await;
        let b = app.browser("m1").await;
        let card = b.get(&format!("/activities/{meeting}")).await;
        assert_eq!(card.status, 200, "{}", app.backend);
        let block = card
            .body
            .split(r#"data-testid="related-chain""#)
            .nth(1)
            .expect("a chain block")
            .split("</ul>")
            .next()
            .unwrap()
            .to_string();
        let pos = |t: &str| block.find(t).unwrap_or_else(|| panic!("{t} in {block}"));
        assert!(pos("Первый звонок") < pos("Встреча по итогам"));
        assert!(pos("Встреча по итогам") < pos("Отправить КП"));
        assert!(block.contains(&format!(
            r#"<li class="current" aria-current="true"><a href="/activities/{meeting}""#
        )));
        // askama escapes `&` in attributes as `&#38;`.
        assert!(
            card.has(&format!(
                "/activities/new?parent_id={meeting}&#38;company_id={company}"
            )),
            "the follow-up link carries the parent and the company"
        );
        let form = b
            .get(&format!(
                "/activities/new?parent_id={meeting}&company_id={company}"
            ))
            .await;
        assert_eq!(form.status, 200);
        let _ = task;
    }
}

#[tokio::test]
async fn settings_are_for_administrators() {
    for app in apps().await {
        let m1 = app.browser("m1").await;
        assert_eq!(
            m1.get("/settings/pipelines").await.status,
            403,
            "{}",
            app.backend
        );
        assert_eq!(m1.get("/settings/tokens").await.status, 200);
        let admin = app.browser("admin").await;
        for path in [
            "/settings",
            "/settings/pipelines",
            "/settings/custom_fields",
            "/settings/users",
            "/settings/departments",
            "/settings/roles",
        ] {
            assert_eq!(admin.get(path).await.status, 200, "{path}");
        }
        let pipeline = admin
            .get(&format!("/settings/pipelines/{}", app.fx.pipeline))
            .await;
        assert!(pipeline.has(r#"data-testid="stage-editor""#) && pipeline.has("Квалификация"));
        let added = admin
            .post(
                &format!("/settings/pipelines/{}/stages", app.fx.pipeline),
                &[("name", "Пилот"), ("kind", "open"), ("probability", "50")],
            )
            .await;
        assert_eq!(added.status, 303);
        let role = app.fx.roles["manager"];
        let form = admin.get(&format!("/settings/roles/{role}")).await;
        assert!(
            form.has(r#"data-testid="permissions-matrix""#) && form.has(r#"name="perm.deal.read""#)
        );
        let field = admin
            .post(
                "/settings/custom_fields/new",
                &[
                    ("entity", "company"),
                    ("key", "region"),
                    ("label", "Регион"),
                    ("kind", "text"),
                ],
            )
            .await;
        assert_eq!(field.status, 303, "{}", field.body);
        let company_form = m1.get("/companies/new").await;
        assert!(company_form.has(r#"name="custom.region""#) && company_form.has("Регион"));
        let user = admin
            .post(
                "/settings/users/new",
                &[
                    ("login", "m3"),
                    ("name", "Третий"),
                    ("role_id", &app.fx.roles["manager"].to_string()),
                    ("password", "short"),
                ],
            )
            .await;
        assert_eq!(user.status, 422);
        assert!(user.has(r#"data-field="password""#) && user.has(r#"value="Третий""#));
        let token = m1.post("/settings/tokens", &[("name", "1С")]).await;
        assert!(token.has(r#"data-testid="new-token""#) && token.has("plt_"));
    }
}

#[tokio::test]
async fn static_files_are_cached_and_small() {
    let app = apps().await.remove(0);
    let b = Browser::new(&app.base);
    let mut total = 0;
    for path in ["/static/app.css", "/static/app.js"] {
        let page = b.get(path).await;
        assert_eq!(page.status, 200);
        let cache = page
            .headers
            .get("cache-control")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert!(cache.contains("max-age=31536000"), "{cache}");
        total += page.body.len();
    }
    assert!(total < 150 * 1024, "CSS + JS weigh {total} bytes");
}

#[tokio::test]
async fn every_page_renders_for_every_kind_of_record() {
    for app in apps().await {
        let company = app.create("m1", Entity::Company, json!({"name": "Гамма", "phones": ["+7 912 345-67-89"], "emails": ["info@gamma.ru"]})).await;
        let contact = app
            .create(
                "m1",
                Entity::Contact,
                json!({"last_name": "Сидорова", "companies": [company]}),
            )
            .await;
        let lead = app
            .create("m1", Entity::Lead, json!({"title": "Входящий звонок"}))
            .await;
        let deal = app.create("m1", Entity::Deal, json!({"title": "Гамма: аренда", "pipeline_id": app.fx.pipeline, "company_id": company})).await;
        let activity = app
            .create(
                "m1",
                Entity::Activity,
                json!({"kind": "meeting", "deal_id": deal}),
            )
            .await;
        let mut b = app.browser("m1").await;
        for lang in ["ru", "en"] {
            if lang == "en" {
                assert_eq!(b.post("/language", &[("language", "en")]).await.status, 303);
                b.login("m1").await;
            }
            for (plural, id) in [
                ("companies", company),
                ("contacts", contact),
                ("leads", lead),
                ("deals", deal),
                ("activities", activity),
            ] {
                for path in [
                    format!("/{plural}"),
                    format!("/{plural}/new"),
                    format!("/{plural}/{id}"),
                    format!("/{plural}/{id}/edit"),
                ] {
                    let page = b.get(&path).await;
                    assert_eq!(
                        page.status, 200,
                        "{path} ({lang}, {}): {}",
                        app.backend, page.body
                    );
                    assert!(page.has(&format!("<html lang=\"{lang}\"")));
                }
            }
            for path in [
                "/",
                "/deals/board",
                "/search?q=Гамма",
                "/settings",
                "/settings/profile",
                "/settings/tokens",
            ] {
                assert_eq!(b.get(path).await.status, 200, "{path} ({lang})");
            }
        }
        for q in ["912 345 67 89", "8-912-345-67-89", "info@gamma.ru", "гаммы"] {
            let found = b
                .get(&format!(
                    "/search?q={}",
                    q.replace(' ', "+").replace('@', "%40")
                ))
                .await;
            assert!(
                found.has(&format!("/companies/{company}")),
                "search {q:?} on {}",
                app.backend
            );
        }
        assert_eq!(b.get("/companies/999999").await.status, 404);
        assert_eq!(b.get("/companies/abc").await.status, 404);
        let activity_card = b.get(&format!("/activities/{activity}")).await;
        assert!(
            activity_card.has("Meeting"),
            "an activity without a subject is named by its kind"
        );
    }
}

/// A `multipart/form-data` body with the csrf field and one file.
fn multipart_body(csrf: &str, name: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----plotina-test-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
         Content-Type: text/plain\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn files_are_uploaded_listed_and_downloaded_from_cards() {
    for app in apps().await {
        let company = app
            .create(
                "m1",
                Entity::Company,
                json!({"name": "Альфа", "private": true}),
            )
            .await;
        let b = app.browser("m1").await;
        let card = b.get(&format!("/companies/{company}")).await;
        assert!(card.has("enctype=\"multipart/form-data\""), "upload form");
        let upload = |csrf: &str, content: &'static [u8]| {
            let (ct, body) = multipart_body(csrf, "счёт.txt", content);
            b.client
                .post(format!("{}/companies/{company}/attachments", b.base))
                .header("content-type", ct)
                .body(body)
                .send()
        };
        let forged = upload("wrong", b"hello, file").await.expect("request");
        assert_eq!(forged.status().as_u16(), 403, "csrf is checked");
        let empty = upload(&b.csrf, b"").await.expect("request");
        assert_eq!(empty.status().as_u16(), 400);
        assert!(empty.text().await.unwrap().contains("Выберите файл"));
        let done = upload(&b.csrf, b"hello, file").await.expect("request");
        assert_eq!(done.status().as_u16(), 303, "{}", app.backend);
        let card = b.get(&format!("/companies/{company}")).await;
        assert!(card.has("счёт.txt") && card.has("11 Б"), "{}", card.body);
        let list = app
            .store
            .attachments(&app.fx.m1, Entity::Company, company)
            .await
            .unwrap();
        assert_eq!(list.len(), 1);
        let href = format!("/api/v1/attachments/{}", list[0].id);
        assert!(card.has(&href));
        let got = b
            .client
            .get(format!("{}{href}", b.base))
            .send()
            .await
            .unwrap();
        assert_eq!(got.status().as_u16(), 200);
        assert_eq!(got.bytes().await.unwrap().as_ref(), b"hello, file");
        let other = app.browser("m2").await;
        assert_eq!(other.get(&href).await.status, 404, "m2 may not read it");
        let gone = b
            .post(&format!("/attachments/{}/delete", list[0].id), &[])
            .await;
        assert_eq!(gone.status, 303);
        assert!(gone.location.starts_with(&format!("/companies/{company}")));
        assert!(!b
            .get(&format!("/companies/{company}"))
            .await
            .has("счёт.txt"));
    }
}

#[tokio::test]
async fn a_too_large_file_is_refused_on_the_card() {
    let db = plotina_store::testing::all().await.remove(0);
    let app = helpers::spawn_with(db, |c| c.max_upload_bytes = 1000).await;
    let company = app
        .create("m1", Entity::Company, json!({"name": "Альфа"}))
        .await;
    let b = app.browser("m1").await;
    for size in [1001, 200_000] {
        let (ct, body) = multipart_body(&b.csrf, "big.bin", &vec![b'x'; size]);
        let resp = b
            .client
            .post(format!("{}/companies/{company}/attachments", b.base))
            .header("content-type", ct)
            .body(body)
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status().as_u16(), 413, "{size} bytes");
        let text = resp.text().await.unwrap();
        assert!(text.contains("Файл слишком большой"), "{text}");
        assert!(
            text.contains("data-testid=\"record-title\""),
            "the card itself"
        );
    }
    let list = app
        .store
        .attachments(&app.fx.m1, Entity::Company, company)
        .await
        .unwrap();
    assert!(list.is_empty());
}
