//! The approvals page: the head decides a held discount through the web form, the deal
//! gets the discount, and the requester sees the decision in the notebook and in "my
//! requests"; refusals are shown in the user's language.

use plotina_core::schema::Entity;
use serde_json::{json, Map, Value};

use crate::helpers::TestApp;

/// Sets up «Продажи» with `head` as its head and a price floor of 85 %, and lets m1 ask
/// for a 25 % discount on a new deal. Returns (deal id, approval id).
pub async fn held_discount(app: &TestApp, title: &str) -> (i64, i64) {
    let obj = |v: Value| -> Map<String, Value> { v.as_object().cloned().expect("object") };
    app.store
        .update(
            &app.fx.admin,
            Entity::Department,
            app.fx.sales_dept,
            &obj(json!({"head_id": app.fx.head.user_id})),
            None,
        )
        .await
        .expect("department head");
    app.store
        .update(
            &app.fx.admin,
            Entity::Pipeline,
            app.fx.pipeline,
            &obj(json!({"discount_floor_pct": 85})),
            None,
        )
        .await
        .expect("floor");
    let deal = app
        .create(
            "m1",
            Entity::Deal,
            json!({"title": title, "pipeline_id": app.fx.pipeline}),
        )
        .await;
    let a = app
        .store
        .approval_request(
            app.actor("m1"),
            deal,
            "discount_pct",
            &json!(25),
            "Оптовый заказ на год",
        )
        .await
        .expect("request");
    (deal, a["id"].as_i64().expect("id"))
}

#[tokio::test]
async fn the_head_approves_through_the_page_and_the_requester_sees_it() {
    for app in crate::helpers::apps().await {
        let (deal, id) = held_discount(&app, "Поставка в «Ромашку»").await;
        let head = app.browser("head").await;
        let home = head.get("/").await;
        assert!(
            home.has("href=\"/approvals\""),
            "the notebook links the page"
        );
        let page = head.get("/approvals").await;
        assert_eq!(page.status, 200, "{}", app.backend);
        let waiting = page
            .body
            .split("data-testid=\"approvals-to-me\"")
            .nth(1)
            .unwrap_or("");
        assert!(waiting.contains("Поставка в «Ромашку»"), "{}", page.body);
        assert!(waiting.contains("Оптовый заказ на год"));
        assert!(waiting.contains(&format!("href=\"/deals/{deal}\"")));
        assert!(waiting.contains("Скидка, %: — → 25 %"), "{waiting}");

        // The deal card tells about the pending request.
        let card = head.get(&format!("/deals/{deal}")).await;
        let pending = card
            .body
            .split("data-testid=\"pending-approval\"")
            .nth(1)
            .unwrap_or("");
        assert!(
            pending.contains("25 %") && pending.contains("ждёт решения"),
            "{}",
            card.body
        );

        // The requester may not decide; a form without the CSRF token is refused.
        let m1 = app.browser("m1").await;
        let own = m1.post(&format!("/approvals/{id}/approve"), &[]).await;
        assert_eq!(own.status, 403, "{}", own.body);
        assert!(own.has("Нельзя согласовать собственный запрос"));
        let forged = head
            .post_raw(&format!("/approvals/{id}/approve"), &[("comment", "x")])
            .await;
        assert_eq!(forged.status, 403);
        let long = "я".repeat(2001);
        let too_long = head
            .post(&format!("/approvals/{id}/approve"), &[("comment", &long)])
            .await;
        assert_eq!(too_long.status, 422, "{}", too_long.body);
        assert!(too_long.has("data-testid=\"approval-error\""));
        let rec = app
            .store
            .get(&app.fx.admin, Entity::Deal, deal)
            .await
            .unwrap();
        assert_eq!(rec["discount_pct"], Value::Null, "nothing applied yet");

        let done = head
            .post(
                &format!("/approvals/{id}/approve"),
                &[("comment", "Согласовано до конца года")],
            )
            .await;
        assert_eq!(
            (done.status, done.location.as_str()),
            (303, "/approvals?done=approved")
        );
        let after = head.get(&done.location).await;
        assert!(after.has("Запрос согласован, изменение применено."));
        assert!(after.has("Запросов на решение нет"));
        let rec = app
            .store
            .get(&app.fx.admin, Entity::Deal, deal)
            .await
            .unwrap();
        assert_eq!(rec["discount_pct"], 25);
        assert!(!head
            .get(&format!("/deals/{deal}"))
            .await
            .has("pending-approval"));

        // Deciding again: a clear message, not an error page.
        let again = head.post(&format!("/approvals/{id}/reject"), &[]).await;
        assert_eq!(again.status, 409);
        assert!(
            again.has("По запросу уже принято решение"),
            "{}",
            again.body
        );

        let notebook = m1.get("/").await;
        assert!(notebook.has("Согласовано до конца года"));
        assert!(notebook.has("Решение по согласованию"), "{}", notebook.body);
        let mine = m1.get("/approvals").await;
        let row = mine
            .body
            .split("data-testid=\"my-approval\"")
            .nth(1)
            .unwrap_or("");
        assert!(row.contains("data-state=\"approved\""), "{}", mine.body);
        assert!(row.contains("согласовано") && row.contains("Согласовано до конца года"));
    }
}

#[tokio::test]
async fn a_rejection_leaves_the_deal_alone() {
    for app in crate::helpers::apps().await {
        let (deal, id) = held_discount(&app, "Тендер").await;
        let head = app.browser("head").await;
        let done = head
            .post(
                &format!("/approvals/{id}/reject"),
                &[("comment", "Слишком много")],
            )
            .await;
        assert_eq!(done.location, "/approvals?done=rejected", "{}", app.backend);
        let rec = app
            .store
            .get(&app.fx.admin, Entity::Deal, deal)
            .await
            .unwrap();
        assert_eq!(rec["discount_pct"], Value::Null);
        let m1 = app.browser("m1").await;
        let mine = m1.get("/approvals").await;
        assert!(mine.has("data-state=\"rejected\"") && mine.has("Слишком много"));
        // Somebody who is neither party gets "not found".
        let m2 = app.browser("m2").await;
        assert_eq!(
            m2.post(&format!("/approvals/{id}/approve"), &[])
                .await
                .status,
            404
        );
        assert_eq!(m2.post("/approvals/abc/approve", &[]).await.status, 404);
    }
}

#[tokio::test]
async fn the_pipeline_form_has_the_floor_and_the_escalation_period() {
    for app in crate::helpers::apps().await {
        let admin = app.browser("admin").await;
        let form = admin
            .get(&format!("/settings/pipelines/{}", app.fx.pipeline))
            .await;
        assert_eq!(form.status, 200, "{}", app.backend);
        assert!(form.has("name=\"discount_floor_pct\""), "{}", form.body);
        assert!(form.has("name=\"approval_escalation_hours\""));
        assert!(form.has("Эскалация согласования через, ч"));
    }
}
