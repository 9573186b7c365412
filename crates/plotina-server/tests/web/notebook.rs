//! The notebook home page: items with their actions, gate refusals that lead here and
//! back, and a head of department's read-only view of the members' notebooks.

use chrono::{Duration, Utc};
use plotina_core::schema::Entity;
use plotina_store::gates::GateInput;
use plotina_store::notebook::PostItem;
use serde_json::json;

use crate::helpers::{apps, TestApp};

async fn post_item(app: &TestApp, login: &str, kind: &str, text: &str, due_hours: i64) -> i64 {
    let input = PostItem {
        kind: kind.into(),
        owner_id: app.actor(login).user_id,
        entity: None,
        record_id: None,
        text: text.into(),
        due_at: Some(Utc::now() + Duration::hours(due_hours)),
        source: None,
        dedupe_key: None,
        payload: None,
    };
    let (item, _) = app
        .store
        .post_item_from_api(&app.fx.admin, input)
        .await
        .expect("post item");
    item.id
}

/// The part of a page inside one `data-testid` section.
fn section<'a>(body: &'a str, testid: &str) -> &'a str {
    body.split(&format!("data-testid=\"{testid}\""))
        .nth(1)
        .and_then(|s| s.split("</section>").next())
        .unwrap_or("")
}

#[tokio::test]
async fn home_lists_items_by_time_and_their_actions_work() {
    for app in apps().await {
        let late = post_item(&app, "m1", "missed_call", "Перезвонить Иванову", -2).await;
        let week = post_item(&app, "m1", "system", "Сверка за неделю", 24 * 4).await;
        post_item(&app, "m1", "system", "В следующем месяце", 24 * 40).await;
        let b = app.browser("m1").await;
        let home = b.get("/").await;
        assert_eq!(home.status, 200, "{}", app.backend);
        let overdue = section(&home.body, "notebook-items-overdue");
        assert!(overdue.contains("Перезвонить Иванову"), "{overdue}");
        assert!(overdue.contains("Пропущенный звонок"), "kind label");
        assert!(section(&home.body, "notebook-items-next").contains("Сверка за неделю"));
        assert!(section(&home.body, "notebook-items-inbox").contains("В следующем месяце"));

        let done = b
            .post(&format!("/notebook/items/{late}/done"), &[("back", "/")])
            .await;
        assert_eq!((done.status, done.location.as_str()), (303, "/"));
        let home = b.get("/").await;
        assert!(!home.has("Перезвонить Иванову"));

        // Snoozing into the past is refused with a message and changes nothing.
        let past = (Utc::now() - Duration::days(1))
            .format("%Y-%m-%dT%H:%M")
            .to_string();
        let bad = b
            .post(
                &format!("/notebook/items/{week}/snooze"),
                &[("until", &past), ("back", "/")],
            )
            .await;
        assert_eq!(bad.status, 422);
        assert!(
            bad.has("Отложить можно только на время в будущем"),
            "{}",
            bad.body
        );
        assert!(b.get("/").await.has("Сверка за неделю"));
        let m2 = app.actor("m2").user_id.to_string();
        let moved = b
            .post(
                &format!("/notebook/items/{week}/delegate"),
                &[("user_id", &m2), ("back", "/")],
            )
            .await;
        assert_eq!(moved.status, 303);
        assert!(!b.get("/").await.has("Сверка за неделю"));
        let b2 = app.browser("m2").await;
        assert!(b2.get("/").await.has("Сверка за неделю"));
    }
}

#[tokio::test]
async fn a_gated_move_leads_to_the_notebook_and_back() {
    for app in apps().await {
        let gate: GateInput = serde_json::from_value(json!({"name": "Сначала звонки",
            "action": "deal_move", "kinds": ["missed_call"], "older_than_hours": 1}))
        .unwrap();
        app.store.create_gate(&app.fx.admin, &gate).await.unwrap();
        let deal = app
            .create(
                "m1",
                Entity::Deal,
                json!({"title": "Поставка", "pipeline_id": app.fx.pipeline}),
            )
            .await;
        let item = post_item(&app, "m1", "missed_call", "Пропущенный от Петрова", -3).await;
        let b = app.browser("m1").await;
        let qual = app.fx.stage("Квалификация").to_string();
        let refused = b
            .client
            .post(format!("{}/deals/{deal}/move", app.base))
            .header(
                "referer",
                format!("{}/deals/board?pipeline={}", app.base, app.fx.pipeline),
            )
            .form(&[
                ("csrf", b.csrf.as_str()),
                ("stage_id", &qual),
                ("back", "/deals/board"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 303);
        let to = refused.headers()["location"].to_str().unwrap().to_string();
        assert!(to.starts_with("/?gate="), "{to}");
        let home = b.get(&to).await;
        assert_eq!(home.status, 200);
        let banner = section(&home.body, "gate-banner");
        assert!(
            home.has("Правило «Сначала звонки» не даёт выполнить «перенос сделки»"),
            "{}",
            home.body
        );
        let _ = banner;
        assert!(
            home.has(&format!(
                "href=\"/deals/board?pipeline={}\" data-testid=\"gate-return\"",
                app.fx.pipeline
            )),
            "the way back"
        );
        assert!(section(&home.body, "notebook-items-overdue").contains("Пропущенный от Петрова"));
        // The script's request gets 423 and where to go.
        let r = b
            .client
            .post(format!("{}/deals/{deal}/move", app.base))
            .header("x-requested-with", "fetch")
            .form(&[
                ("csrf", b.csrf.as_str()),
                ("stage_id", &qual),
                ("back", "/deals/board"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 423);
        assert!(r.headers()["x-redirect"]
            .to_str()
            .unwrap()
            .starts_with("/?gate="));

        b.post(&format!("/notebook/items/{item}/done"), &[("back", "/")])
            .await;
        let moved = b
            .post(
                &format!("/deals/{deal}/move"),
                &[("stage_id", &qual), ("back", "/deals/board")],
            )
            .await;
        assert_eq!(
            (moved.status, moved.location.as_str()),
            (303, "/deals/board")
        );
        let blocks = app
            .store
            .gate_blocks(&app.fx.admin, None, 10)
            .await
            .unwrap();
        assert_eq!(blocks.len(), 2, "both refusals logged");
    }
}

#[tokio::test]
async fn a_head_sees_member_notebooks_read_only() {
    for app in apps().await {
        post_item(&app, "m1", "system", "Просроченный пункт", -5).await;
        post_item(&app, "m1", "system", "Будущий пункт", 5).await;
        let head = app.browser("head").await;
        let home = head.get("/").await;
        let team = section(&home.body, "notebook-team");
        let m1 = app.actor("m1").user_id;
        let row = team
            .split("data-testid=\"team-member\"")
            .find(|r| r.contains(&format!("/?user={m1}\"")))
            .expect("m1 listed");
        assert!(row.contains("<td>2</td><td class=\"warn\">1</td>"), "{row}");
        let theirs = head.get(&format!("/?user={m1}")).await;
        assert_eq!(theirs.status, 200);
        assert!(theirs.has("data-testid=\"notebook-read-only\""));
        assert!(theirs.has("Просроченный пункт"));
        assert!(
            !theirs.has("/done\""),
            "no actions on another person's items"
        );
        let m2 = app.browser("m2").await;
        assert_eq!(m2.get(&format!("/?user={m1}")).await.status, 404);
        assert!(!section(&m2.get("/").await.body, "notebook-team").contains("team-member"));
    }
}

#[tokio::test]
async fn the_planner_moves_an_activity_to_another_day_keeping_its_time() {
    for app in apps().await {
        // Tomorrow at 10:00 Moscow time (the seeded users' zone) is 07:00 UTC.
        let tz: chrono_tz::Tz = "Europe/Moscow".parse().unwrap();
        let tomorrow = Utc::now().with_timezone(&tz).date_naive() + Duration::days(1);
        let due = format!("{}T07:00:00Z", tomorrow.format("%Y-%m-%d"));
        let id = app
            .create(
                "m1",
                Entity::Activity,
                json!({"kind": "meeting", "subject": "Встреча в офисе", "due_at": due}),
            )
            .await;
        app.create(
            "m1",
            Entity::Activity,
            json!({"kind": "note", "subject": "Заметка", "due_at": due}),
        )
        .await;
        let b = app.browser("m1").await;
        let page = b.get("/notebook/planner").await;
        assert_eq!(page.status, 200, "{}", app.backend);
        assert_eq!(page.body.matches("data-testid=\"planner-day\"").count(), 21);
        let day = tomorrow.format("%Y-%m-%d").to_string();
        let cell = page
            .body
            .split(&format!("data-date=\"{day}\""))
            .nth(1)
            .and_then(|s| s.split("</section>").next())
            .unwrap();
        assert!(
            cell.contains("Встреча в офисе") && cell.contains("10:00"),
            "{cell}"
        );
        assert!(!page.has("Заметка"), "notes are not planned");

        let target = (tomorrow + Duration::days(2))
            .format("%Y-%m-%d")
            .to_string();
        let moved = b
            .post(
                &format!("/notebook/planner/{id}/move"),
                &[("date", &target)],
            )
            .await;
        assert_eq!(
            (moved.status, moved.location.as_str()),
            (303, "/notebook/planner")
        );
        let rec = app
            .store
            .get(app.actor("m1"), Entity::Activity, id)
            .await
            .unwrap();
        assert_eq!(rec["due_at"], json!(format!("{target}T07:00:00.000Z")));
        let bad = b
            .post(
                &format!("/notebook/planner/{id}/move"),
                &[("date", "завтра")],
            )
            .await;
        assert_eq!(bad.status, 422);
    }
}

#[tokio::test]
async fn gates_and_hand_over_settings_and_the_discipline_page() {
    for app in apps().await {
        let admin = app.browser("admin").await;
        let settings = admin.get("/settings").await;
        assert!(
            settings.has("data-testid=\"settings-gates\"")
                && settings.has("data-testid=\"settings-handover\"")
        );
        let bad = admin
            .post(
                "/settings/gates",
                &[("name", "Без условия"), ("action", "deal_move")],
            )
            .await;
        assert_eq!(bad.status, 422);
        assert!(bad.has("Укажите условие"), "{}", bad.body);
        let made = admin
            .post(
                "/settings/gates",
                &[
                    ("name", "Звонки"),
                    ("action", "deal_create"),
                    ("kinds", "missed_call, reminder"),
                    ("older_than_hours", "4"),
                ],
            )
            .await;
        assert_eq!(made.status, 303);
        let list = admin.get("/settings/gates").await;
        assert!(
            list.has("Звонки")
                && list.has("missed_call, reminder старше 4 ч")
                && list.has("создание сделки"),
            "{}",
            list.body
        );
        let gates = app.store.gates(&app.fx.admin).await.unwrap();
        assert_eq!(gates.len(), 1);
        assert_eq!(gates[0].kinds, ["missed_call", "reminder"]);

        let m1 = app.actor("m1").user_id.to_string();
        let m2 = app.actor("m2").user_id.to_string();
        app.create("m1", Entity::Company, json!({"name": "ООО «Уходящий»"}))
            .await;
        let done = admin
            .post(
                "/settings/handover",
                &[("from_user_id", &m1), ("to_user_ids", &m2)],
            )
            .await;
        assert_eq!(done.status, 200);
        assert!(done.has("data-testid=\"handover-done\""), "{}", done.body);
        let to_self = admin
            .post(
                "/settings/handover",
                &[("from_user_id", &m1), ("to_user_ids", &m1)],
            )
            .await;
        assert!(to_self.has("Нельзя передать дела тому же сотруднику"));
        let manager = app.browser("m1").await;
        assert_eq!(manager.get("/settings/gates").await.status, 403);

        let head = app.browser("head").await;
        let report = head.get("/notebook/discipline?weeks=2").await;
        assert_eq!(report.status, 200);
        assert!(report.has(&format!("data-user-id=\"{m2}\"")));
        assert!(!report.has(&format!(
            "data-user-id=\"{}\"",
            app.actor("support").user_id
        )));
    }
}
