//! The web interface in a real browser: headless Chromium driven over WebDriver
//! (chromedriver), against a spawned server on SQLite. Each test is one browser session;
//! the kit runs them one at a time. Screenshots of the main pages at desktop and phone
//! widths land in `target/screenshots/` on every run.
//!
//! Needs `chromium` and `chromedriver` (Debian: chromium, chromium-driver); without them
//! the tests are skipped, except under `CI=true`.

mod dashboard;
mod imports;
mod kit;
mod notebook;
mod reports;

use fantoccini::key::Key;
use kit::{Kit, DESKTOP, PHONE};
use plotina_core::schema::Entity;
use serde_json::json;

/// A company INN whose check digit matches, and one whose does not.
const GOOD_INN: &str = "7707083893";
const BAD_INN: &str = "7707083894";

/// The id at the end of a card's path (`/deals/12` → 12).
fn id_in(path: &str) -> i64 {
    path.rsplit('/')
        .next()
        .and_then(|s| s.split('?').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no record id in {path}"))
}

#[tokio::test]
async fn signs_in_through_the_login_form() {
    let Some(k) = Kit::start().await else { return };
    k.goto("/companies").await;
    k.el("[data-testid=login-form]").await;
    assert!(
        k.path().await.starts_with("/login?next="),
        "a page without a session sends to the login form"
    );

    k.fill("[data-testid=login-login]", "m1").await;
    k.fill("[data-testid=login-password]", "not the password")
        .await;
    k.click("[data-testid=login-submit]").await;
    k.wait_text("[data-testid=login-error]", "Неверный логин или пароль")
        .await;
    assert_eq!(
        k.value("[data-testid=login-login]").await,
        "m1",
        "the login is kept"
    );
    assert!(!k.has("[data-testid=user-menu]").await);

    k.fill(
        "[data-testid=login-password]",
        plotina_store::testing::PASSWORD,
    )
    .await;
    k.click("[data-testid=login-submit]").await;
    k.wait_text("[data-testid=user-menu] .user-name", "Менеджер Первый")
        .await;
    assert_eq!(
        k.path().await,
        "/companies",
        "back where the user was going"
    );
    assert_eq!(k.nav_label("companies").await, "Компании");
    k.finish().await;
}

#[tokio::test]
async fn an_invalid_inn_is_explained_next_to_its_field_and_the_input_is_kept() {
    let Some(k) = Kit::start().await else { return };
    k.login("m1").await;
    k.goto("/companies").await;
    k.click("[data-testid=new-record]").await;
    k.el("[data-testid=record-form][data-entity=company]").await;

    let name = "Ромашка из браузера";
    k.fill("[name=name]", name).await;
    k.fill("[name=inn]", BAD_INN).await;
    k.click("[data-testid=save]").await;

    k.wait_text(
        ".field-error[data-field=inn]",
        "Неверный ИНН: не сходится контрольное число",
    )
    .await;
    let beside = k
        .js(
            "var err = document.querySelector('.field-error[data-field=inn]'); \
             var input = document.querySelector('[name=inn]'); \
             return err.closest('[data-field-wrap]') === input.closest('[data-field-wrap]') \
               && input.getAttribute('aria-invalid') === 'true' \
               && input.getAttribute('aria-describedby') === err.id;",
            vec![],
        )
        .await;
    assert_eq!(
        beside,
        json!(true),
        "the error sits in the INN field's box and describes the input"
    );
    assert_eq!(k.value("[name=name]").await, name, "the typed name is kept");
    assert_eq!(
        k.value("[name=inn]").await,
        BAD_INN,
        "the typed INN is kept"
    );
    assert!(
        !k.has(".field-error[data-field=name]").await,
        "only the INN is wrong"
    );
    k.screenshot("company-form-error-desktop").await;

    k.fill("[name=inn]", GOOD_INN).await;
    k.click("[data-testid=save]").await;
    k.wait_text("[data-testid=record-title]", name).await;
    let path = k.path().await;
    assert!(path.starts_with("/companies/"), "{path}");
    let id = id_in(&path);
    k.wait_text("[data-testid=record-fields] [data-field=inn]", GOOD_INN)
        .await;
    assert!(!k.has(".field-error").await);
    let stored = k
        .app
        .store
        .get(k.app.actor("m1"), Entity::Company, id)
        .await
        .expect("the company is stored");
    assert_eq!(stored["name"], json!(name));
    assert_eq!(stored["inn"], json!(GOOD_INN));
    k.finish().await;
}

#[tokio::test]
async fn a_deal_moves_on_the_kanban_by_drag_and_drop_and_by_keys() {
    let Some(k) = Kit::start().await else { return };
    let fx = k.app.fx.clone();
    let (new, qual, offer) = (
        fx.stage("Новая"),
        fx.stage("Квалификация"),
        fx.stage("Коммерческое предложение"),
    );
    k.login("m1").await;
    let board = format!("/deals/board?pipeline={}", fx.pipeline);

    // A new deal from the board's button.
    k.goto(&board).await;
    k.click(&format!(
        ".page-head a[href='/deals/new?pipeline_id={}']",
        fx.pipeline
    ))
    .await;
    k.el("[data-testid=record-form][data-entity=deal]").await;
    assert_eq!(
        k.value("select[name=pipeline_id]").await,
        fx.pipeline.to_string()
    );
    k.fill("[name=title]", "Поставка из браузера").await;
    k.fill("[name=amount]", "150000").await;
    k.click("[data-testid=save]").await;
    k.wait_text("[data-testid=record-title]", "Поставка из браузера")
        .await;
    let deal = id_in(&k.path().await);

    // Its pipeline's kanban has it in the first column.
    k.goto(&board).await;
    k.el("[data-testid=board]").await;
    k.wait_card_in(deal, new).await;
    k.wait_text(
        &format!(".column[data-stage-id='{new}'] [data-testid=column-count]"),
        "1",
    )
    .await;
    k.screenshot("kanban-new-deal-desktop").await;

    // Drag and drop to the next column; it stays there after a reload.
    k.drag_card(deal, qual).await;
    k.wait_card_in(deal, qual).await;
    assert!(
        k.js(
            "return document.querySelector('[data-board-message]').hidden;",
            vec![]
        )
        .await
            == json!(true),
        "no message after a good move"
    );
    k.reload().await;
    k.el("[data-testid=board]").await;
    k.wait_card_in(deal, qual).await;
    assert_eq!(k.column_of(deal).await, Some(qual));

    // The keyboard: a focused card moves right with the arrow key, and keeps the focus.
    let card = k.el(&format!("[data-deal-id='{deal}']")).await;
    card.send_keys(&Key::Right.to_string())
        .await
        .expect("press the right arrow on the card");
    k.wait_card_in(deal, offer).await;
    k.wait_js(
        "the moved card keeps the focus",
        "return document.activeElement && document.activeElement.getAttribute('data-deal-id') === String(arguments[0]);",
        vec![json!(deal)],
    )
    .await;
    k.reload().await;
    k.el("[data-testid=board]").await;
    k.wait_card_in(deal, offer).await;
    let card = k.el(&format!("[data-deal-id='{deal}']")).await;
    card.send_keys(&Key::Left.to_string())
        .await
        .expect("press the left arrow on the card");
    k.wait_card_in(deal, qual).await;
    k.reload().await;
    k.wait_card_in(deal, qual).await;

    let stored = k
        .app
        .store
        .get(k.app.actor("m1"), Entity::Deal, deal)
        .await
        .expect("the deal");
    assert_eq!(stored["stage_id"], json!(qual));
    // The card's timeline tells the story.
    k.goto(&format!("/deals/{deal}")).await;
    k.wait_text("[data-testid=timeline]", "Новая → Квалификация")
        .await;
    k.wait_text(
        "[data-testid=timeline]",
        "Квалификация → Коммерческое предложение",
    )
    .await;
    k.finish().await;
}

#[tokio::test]
async fn a_card_moves_through_the_boards_one_move_form() {
    let Some(k) = Kit::start().await else { return };
    let fx = k.app.fx.clone();
    let (new, qual, lost) = (
        fx.stage("Новая"),
        fx.stage("Квалификация"),
        fx.stage("Проиграна"),
    );
    let first = k
        .app
        .create(
            "m1",
            Entity::Deal,
            json!({"title": "Первая на доске", "pipeline_id": fx.pipeline}),
        )
        .await;
    let second = k
        .app
        .create(
            "m1",
            Entity::Deal,
            json!({"title": "Вторая на доске", "pipeline_id": fx.pipeline}),
        )
        .await;
    k.login("m1").await;
    k.goto(&format!("/deals/board?pipeline={}", fx.pipeline))
        .await;
    k.wait_card_in(first, new).await;
    assert_eq!(
        k.js(
            "return document.querySelectorAll('[data-move-form]').length;",
            vec![]
        )
        .await,
        json!(1),
        "one move form for the whole board"
    );

    // The card's button opens the form for that card, on its current stage.
    k.click(&format!("[data-deal-id='{first}'] [data-move]"))
        .await;
    k.wait_js(
        "the move dialog to open",
        "return document.getElementById('move-dialog').open;",
        vec![],
    )
    .await;
    assert_eq!(k.value("#move-stage").await, new.to_string());
    k.wait_text("#move-dialog h2", "Первая на доске").await;
    k.js(
        "document.getElementById('move-stage').value = String(arguments[0]);",
        vec![json!(qual)],
    )
    .await;
    k.click("[data-testid=move-submit]").await;
    k.wait_card_in(first, qual).await;
    assert_eq!(k.column_of(second).await, Some(new), "only that card moved");

    // A lost stage takes the reason from the same form.
    k.click(&format!("[data-deal-id='{second}'] [data-move]"))
        .await;
    k.wait_js(
        "the move dialog to open",
        "return document.getElementById('move-dialog').open;",
        vec![],
    )
    .await;
    k.js(
        "document.getElementById('move-stage').value = String(arguments[0]);",
        vec![json!(lost)],
    )
    .await;
    k.js(
        "document.getElementById('move-reason').value = 'Дорого';",
        vec![],
    )
    .await;
    assert_eq!(k.value("#move-reason").await, "Дорого");
    k.click("[data-testid=move-submit]").await;
    k.wait_card_in(second, lost).await;
    k.reload().await;
    k.wait_card_in(first, qual).await;
    k.wait_card_in(second, lost).await;
    let stored = k
        .app
        .store
        .get(k.app.actor("m1"), Entity::Deal, second)
        .await
        .expect("the deal");
    assert_eq!(stored["stage_id"], json!(lost));
    assert_eq!(stored["lost_reason"], json!("Дорого"));
    k.finish().await;
}

#[tokio::test]
async fn a_forbidden_stage_skip_is_refused_with_its_reason() {
    let Some(k) = Kit::start().await else { return };
    let fx = k.app.fx.clone();
    k.app
        .update(
            "admin",
            Entity::Pipeline,
            fx.pipeline,
            json!({"forbid_skip": true}),
        )
        .await;
    let deal = k
        .app
        .create(
            "m1",
            Entity::Deal,
            json!({"title": "Скачок через этап", "pipeline_id": fx.pipeline}),
        )
        .await;
    let (new, qual, contract) = (
        fx.stage("Новая"),
        fx.stage("Квалификация"),
        fx.stage("Договор"),
    );
    k.login("m1").await;
    k.goto(&format!("/deals/board?pipeline={}", fx.pipeline))
        .await;
    k.wait_card_in(deal, new).await;

    k.drag_card(deal, contract).await;
    k.wait_text("[data-board-message]", "нельзя перескакивать этапы")
        .await;
    let message = k.text("[data-board-message]").await;
    assert!(
        message.contains("«Квалификация»"),
        "the reason names the next stage: {message}"
    );
    assert_eq!(k.column_of(deal).await, Some(new), "the card did not move");
    k.screenshot("kanban-forbidden-skip-desktop").await;
    k.reload().await;
    k.wait_card_in(deal, new).await;
    assert!(
        !k.has(&format!(
            ".column[data-stage-id='{contract}'] [data-deal-id='{deal}']"
        ))
        .await
    );

    // The next stage is allowed, and the message goes away.
    k.drag_card(deal, qual).await;
    k.wait_card_in(deal, qual).await;
    k.wait_js(
        "the message to go",
        "return document.querySelector('[data-board-message]').hidden;",
        vec![],
    )
    .await;
    k.reload().await;
    k.wait_card_in(deal, qual).await;
    let stored = k
        .app
        .store
        .get(k.app.actor("m1"), Entity::Deal, deal)
        .await
        .expect("the deal");
    assert_eq!(stored["stage_id"], json!(qual));
    k.finish().await;
}

#[tokio::test]
async fn the_global_search_finds_a_contact_by_a_phone_typed_the_russian_way() {
    let Some(k) = Kit::start().await else { return };
    let anna = k
        .app
        .create(
            "m1",
            Entity::Contact,
            json!({"last_name": "Смирнова", "first_name": "Анна", "phones": ["+7 (912) 345-67-89"]}),
        )
        .await;
    let other = k
        .app
        .create(
            "m1",
            Entity::Contact,
            json!({"last_name": "Кузнецов", "first_name": "Олег", "phones": ["+7 (912) 000-11-22"]}),
        )
        .await;
    k.login("m1").await;
    k.goto("/deals").await;
    let box_ = k.el("[data-testid=search-box]").await;
    box_.send_keys(&format!("8 912 345-67-89{}", Key::Enter))
        .await
        .expect("type into the search box");
    k.el("[data-testid=search-results]").await;
    let link = format!("[data-testid=search-group-contacts] a[href='/contacts/{anna}']");
    k.wait_text(&link, "Смирнова").await;
    assert!(
        !k.has(&format!("a[href='/contacts/{other}']")).await,
        "only the matching contact"
    );
    assert!(k.path().await.starts_with("/search?q="));
    assert_eq!(
        k.value("[data-testid=search-box]").await,
        "8 912 345-67-89",
        "the query stays in the box"
    );
    k.click(&link).await;
    k.wait_text("[data-testid=record-title]", "Смирнова").await;
    assert_eq!(k.path().await, format!("/contacts/{anna}"));
    k.finish().await;
}

#[tokio::test]
async fn switching_to_english_changes_the_texts() {
    let Some(k) = Kit::start().await else { return };
    k.login("m1").await;
    k.goto("/deals").await;
    assert_eq!(k.nav_label("deals").await, "Сделки");
    assert_eq!(
        k.js("return document.documentElement.lang;", vec![]).await,
        json!("ru")
    );

    k.click("[data-testid=user-menu] > summary").await;
    k.click("[data-testid=lang-en]").await;
    k.wait_text("[data-testid=nav-deals]", "Deals").await;
    assert_eq!(k.nav_label("deals").await, "Deals");
    assert_eq!(k.nav_label("companies").await, "Companies");
    assert_eq!(k.nav_label("notebook").await, "Notebook");
    assert_eq!(
        k.js("return document.documentElement.lang;", vec![]).await,
        json!("en")
    );
    assert_eq!(
        k.path().await,
        "/deals",
        "the switch comes back to the page"
    );
    let heading = k.text("main h1").await;
    assert_eq!(heading, "Deals");

    // It is remembered: other pages and a new visit are in English too.
    k.goto("/companies/new").await;
    k.el("[data-testid=record-form]").await;
    assert_eq!(k.text("[data-testid=save]").await, "Save");
    k.logout().await;
    k.login("m1").await;
    k.wait_text("[data-testid=nav-deals]", "Deals").await;

    // And back.
    k.click("[data-testid=user-menu] > summary").await;
    k.click("[data-testid=lang-ru]").await;
    k.wait_text("[data-testid=nav-deals]", "Сделки").await;
    k.finish().await;
}

#[tokio::test]
async fn a_manager_cannot_find_or_open_another_managers_private_company() {
    let Some(k) = Kit::start().await else { return };
    let secret = k
        .app
        .create(
            "m1",
            Entity::Company,
            json!({"name": "Тайная Компания", "private": true, "inn": GOOD_INN}),
        )
        .await;
    let link = format!("a[href='/companies/{secret}']");
    let search = |q: &'static str| {
        let k = &k;
        async move {
            k.fill("[data-testid=search-box]", q).await;
            k.el("[data-testid=search-box]")
                .await
                .send_keys(&Key::Enter.to_string())
                .await
                .expect("submit the search");
            k.wait_js(
                "search results",
                "return location.pathname === '/search' \
                   && new URLSearchParams(location.search).get('q') === arguments[0] \
                   && !!document.querySelector('[data-testid=search-results]');",
                vec![json!(q)],
            )
            .await;
        }
    };

    // The owner finds it, by name and by INN.
    k.login("m1").await;
    search("Тайная").await;
    k.wait_text(&link, "Тайная Компания").await;
    search(GOOD_INN).await;
    k.el(&link).await;
    k.logout().await;

    // Another manager does not.
    k.login("m2").await;
    search("Тайная").await;
    k.el("[data-testid=search-empty]").await;
    assert!(
        !k.has(&link).await,
        "m2 sees m1's private company in search"
    );
    search(GOOD_INN).await;
    assert!(!k.has(&link).await, "m2 finds m1's private company by INN");
    k.goto("/companies").await;
    let list = k.text("main").await;
    assert!(!list.contains("Тайная"), "m2's company list: {list}");

    k.goto(&format!("/companies/{secret}")).await;
    k.wait_text("[data-testid=error-page] h1", "Страница не найдена")
        .await;
    let page = k.text("main").await;
    assert!(!page.contains("Тайная"), "{page}");
    k.goto(&format!("/companies/{secret}/edit")).await;
    k.wait_text("[data-testid=error-page] h1", "Страница не найдена")
        .await;
    k.finish().await;
}

/// Some records so the pages have something to show.
async fn showcase(k: &Kit) -> i64 {
    let fx = k.app.fx.clone();
    let company = k
        .app
        .create(
            "m1",
            Entity::Company,
            json!({
                "name": "ООО «Уральские Трубные Технологии и Комплектация»",
                "legal_name": "Общество с ограниченной ответственностью «Уральские Трубные Технологии и Комплектация»",
                "inn": GOOD_INN, "kpp": "773601001", "industry": "Металлургия",
                "roles": ["customer", "partner"],
                "phones": ["+7 (343) 123-45-67", "8 912 345-67-89"],
                "emails": ["zakupki@ural-truby.example.ru"],
                "website": "https://ural-truby.example.ru/catalog/very/long/path",
                "description": "Крупный клиент: поставки труб большого диаметра для нефтегазовых проектов, оплата по факту отгрузки, договор на 2026 год.",
                "tags": ["ключевой", "урал"],
            }),
        )
        .await;
    for (last, first, phone) in [
        ("Константинопольский", "Александр", "+7 912 111-22-33"),
        ("Иванова", "Мария", "+7 912 444-55-66"),
    ] {
        k.app
            .create(
                "m1",
                Entity::Contact,
                json!({"last_name": last, "first_name": first, "position": "Руководитель отдела закупок",
                       "phones": [phone], "companies": [company]}),
            )
            .await;
    }
    let stages = [
        "Новая",
        "Квалификация",
        "Коммерческое предложение",
        "Переговоры",
        "Договор",
    ];
    for i in 0..9 {
        k.app
            .create(
                "m1",
                Entity::Deal,
                json!({
                    "title": format!("Поставка труб Ду-{} для объекта №{}", 500 + i * 100, i + 1),
                    "pipeline_id": fx.pipeline,
                    "stage_id": fx.stage(stages[i % stages.len()]),
                    "amount": format!("{}.50", 1_250_000 + i * 375_000),
                    "company_id": company,
                    "close_date": "2026-11-23",
                }),
            )
            .await;
    }
    k.app
        .create(
            "m1",
            Entity::Activity,
            json!({"kind": "call", "subject": "Созвон по спецификации", "company_id": company}),
        )
        .await;
    company
}

#[tokio::test]
async fn phone_width_pages_do_not_scroll_sideways_and_screenshots_are_saved() {
    let Some(k) = Kit::start().await else { return };
    let company = showcase(&k).await;
    let fx = k.app.fx.clone();
    k.login("m1").await;
    let mut overflow = Vec::new();
    for (label, size) in [("desktop", DESKTOP), ("phone", PHONE)] {
        k.viewport(size).await;

        k.goto("/deals").await;
        k.el("[data-testid=list-table] tbody tr").await;
        k.screenshot(&format!("deals-{label}")).await;
        if let Some(o) = k.horizontal_overflow().await {
            overflow.push(format!("deal list at {label} width: {o}"));
        }

        k.goto(&format!("/companies/{company}")).await;
        k.wait_text("[data-testid=record-title]", "Уральские").await;
        k.el("[data-testid=related-contacts]").await;
        k.screenshot(&format!("company-card-{label}")).await;
        if let Some(o) = k.horizontal_overflow().await {
            overflow.push(format!("company card at {label} width: {o}"));
        }

        k.goto(&format!("/deals/board?pipeline={}", fx.pipeline))
            .await;
        k.el("[data-testid=board] [data-testid=deal-card]").await;
        k.screenshot(&format!("kanban-{label}")).await;
        if let Some(o) = k.horizontal_overflow().await {
            overflow.push(format!("kanban at {label} width: {o}"));
        }
    }
    assert!(
        overflow.is_empty(),
        "pages scroll sideways:\n{}",
        overflow.join("\n")
    );

    // On a phone the navigation sits behind the menu button.
    k.goto("/deals").await;
    k.click("[data-testid=menu-button]").await;
    k.wait_js(
        "the navigation to open",
        "var a = document.querySelector('[data-testid=nav-companies]'); \
         var r = a.getBoundingClientRect(); \
         return r.width > 0 && r.left >= 0 && r.right <= window.innerWidth;",
        vec![],
    )
    .await;
    k.screenshot("menu-phone").await;
    k.click("[data-testid=nav-companies]").await;
    k.wait_js(
        "the company list",
        "return location.pathname === '/companies';",
        vec![],
    )
    .await;
    k.finish().await;
}
