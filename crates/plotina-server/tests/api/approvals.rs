//! Approvals end to end: a discount below the pipeline's floor is held for the head of
//! the requester's department, the deputy decides while the head is away, unanswered
//! requests escalate, and invalid decisions change nothing.

use chrono::{Duration, Utc};
use plotina_core::schema::Entity;
use serde_json::{json, Value};

use crate::helpers::{apps, json as body, TestApp};

async fn patch_ok(app: &TestApp, user: &str, path: &str, b: Value) -> Value {
    let (status, out) = body(app.patch(user, path, &b).await).await;
    assert_eq!(status, 200, "PATCH {path} {b} on {}: {out}", app.backend);
    out
}

async fn items(app: &TestApp, user_id: i64, kind: &str) -> Vec<(String, String)> {
    let mut tx = app.store.pool().begin().await.expect("begin");
    let rows = tx
        .fetch_all_sql(
            &format!(
                "SELECT text, state FROM notebook_items WHERE owner_id = {user_id} AND kind = '{kind}' ORDER BY id"
            ),
            sea_query_binder::SqlxValues(sea_query::Values(Vec::new())),
        )
        .await
        .expect("items");
    tx.commit().await.expect("commit");
    rows.iter()
        .map(|r| {
            (
                r.text("text").ok().flatten().unwrap_or_default(),
                r.text("state").ok().flatten().unwrap_or_default(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discount_below_the_floor_waits_for_the_head_deputy_and_escalation() {
    for app in apps().await {
        let fx = &app.fx;
        let (head, m1, m2, support) = (
            fx.head.user_id,
            fx.m1.user_id,
            fx.m2.user_id,
            fx.support.user_id,
        );
        patch_ok(
            &app,
            "admin",
            &format!("/api/v1/departments/{}", fx.sales_dept),
            json!({"head_id": head}),
        )
        .await;
        patch_ok(
            &app,
            "admin",
            &format!("/api/v1/departments/{}", fx.ural_dept),
            json!({"head_id": support}),
        )
        .await;
        // Price may not go below 85 % of the list price without approval; unanswered
        // requests move up after two days.
        let pipeline = format!("/api/v1/pipelines/{}", fx.pipeline);
        for bad in [0, 721] {
            let (status, p) = body(
                app.patch(
                    "admin",
                    &pipeline,
                    &json!({"approval_escalation_hours": bad}),
                )
                .await,
            )
            .await;
            assert_eq!(status, 422, "{p}");
            assert_eq!(p["errors"][0]["field"], "approval_escalation_hours");
        }
        let p = patch_ok(
            &app,
            "admin",
            &pipeline,
            json!({"discount_floor_pct": 85, "approval_escalation_hours": 48}),
        )
        .await;
        assert_eq!(p["approval_escalation_hours"], 48);
        let deal = app
            .create("m1", "deals", json!({"title": "Поставка в «Ромашку»", "pipeline_id": fx.pipeline, "amount": "100000.00"}))
            .await;
        let path = format!("/api/v1/deals/{}", deal["id"]);

        // Within the floor: applied at once.
        let d = patch_ok(&app, "m1", &path, json!({"discount_pct": 15})).await;
        assert_eq!(d["discount_pct"], 15);
        assert!(d.get("pending_approval").is_none());

        // Below the floor without a reason: refused, nothing changes.
        let before = app.counts().await;
        let (status, p) = body(app.patch("m1", &path, &json!({"discount_pct": 25})).await).await;
        assert_eq!(status, 422, "{p}");
        assert_eq!(p["errors"][0]["field"], "approval_reason");
        assert_eq!(app.counts().await, before);

        // With a reason: held; the rest of the update goes through.
        let d = patch_ok(&app, "m1", &path, json!({"discount_pct": 25, "description": "опт", "approval_reason": "Оптовый заказ на год"})).await;
        assert_eq!(d["discount_pct"], 15);
        assert_eq!(d["description"], "опт");
        let req = &d["pending_approval"];
        assert_eq!(req["approver_id"], head);
        assert_eq!(req["requested_value"], 25);
        assert_eq!(req["previous_value"], 15);
        assert_eq!(req["state"], "pending");
        let id = req["id"].as_i64().expect("approval id");
        assert_eq!(
            items(&app, head, "approval_requested").await,
            vec![("Оптовый заказ на год".to_string(), "open".to_string())]
        );
        let (_, mine) = body(
            app.get("m1", "/api/v1/approvals?role=mine&state=pending")
                .await,
        )
        .await;
        assert_eq!(mine["data"].as_array().map(Vec::len), Some(1));
        let (_, to_me) = body(app.get("head", "/api/v1/approvals?role=to_me").await).await;
        assert_eq!(to_me["data"][0]["id"], id);

        // Invalid decisions: own request, a stranger, someone else's turn.
        let approve = format!("/api/v1/approvals/{id}/approve");
        let before = app.counts().await;
        let (status, p) = body(app.post("m1", &approve, &json!({})).await).await;
        assert_eq!(
            (status, p["code"].as_str()),
            (403, Some("approval_own_request"))
        );
        let (status, _) = body(app.post("m2", &approve, &json!({})).await).await;
        assert_eq!(status, 404);
        let (status, p) = body(app.post("admin", &approve, &json!({})).await).await;
        assert_eq!(
            (status, p["code"].as_str()),
            (403, Some("approval_not_approver"))
        );
        assert_eq!(app.counts().await, before);

        // The head approves: the discount is applied through the record engine.
        let (status, a) = body(
            app.post("head", &approve, &json!({"comment": "Согласовано"}))
                .await,
        )
        .await;
        assert_eq!(status, 200, "{a}");
        assert_eq!(
            (a["state"].as_str(), a["decided_by"].as_i64()),
            (Some("approved"), Some(head))
        );
        let (_, d) = body(app.get("m1", &path).await).await;
        assert_eq!(d["discount_pct"], 25);
        let (status, p) = body(app.post("head", &approve, &json!({})).await).await;
        assert_eq!(status, 409, "{p}");
        let (status, _) = body(
            app.post(
                "head",
                &format!("/api/v1/approvals/{id}/reject"),
                &json!({}),
            )
            .await,
        )
        .await;
        assert_eq!(status, 409);
        assert_eq!(
            items(&app, m1, "approval_decided").await,
            vec![("Согласовано".to_string(), "open".to_string())]
        );
        assert_eq!(items(&app, head, "approval_requested").await[0].1, "done");
        let history = app
            .store
            .history(
                &fx.admin,
                Entity::Deal,
                deal["id"].as_i64().unwrap_or_default(),
                None,
                50,
            )
            .await
            .expect("history");
        let actions: Vec<(String, Option<String>)> = history
            .iter()
            .rev()
            .map(|h| (h.action.clone(), h.field.clone()))
            .collect();
        let tail: Vec<(String, Option<String>)> = actions[actions.len() - 4..].to_vec();
        assert_eq!(
            tail,
            vec![
                (
                    "approval_requested".to_string(),
                    Some("discount_pct".to_string())
                ),
                ("update".to_string(), Some("description".to_string())),
                ("update".to_string(), Some("discount_pct".to_string())),
                (
                    "approval_approved".to_string(),
                    Some("discount_pct".to_string())
                ),
            ],
            "{actions:?}"
        );

        // The head is away: the deputy decides; a rejection changes nothing.
        let away = (Utc::now() + Duration::days(3))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        patch_ok(
            &app,
            "admin",
            &format!("/api/v1/users/{head}"),
            json!({"away_until": away, "deputy_id": m2}),
        )
        .await;
        let d = patch_ok(
            &app,
            "m1",
            &path,
            json!({"discount_pct": 40, "approval_reason": "Конкурент дал 40 %"}),
        )
        .await;
        assert_eq!(d["pending_approval"]["approver_id"], m2);
        let rid = d["pending_approval"]["id"].as_i64().expect("id");
        // The away head is not a party to this request: it does not exist for him.
        let (status, _) = body(
            app.post(
                "head",
                &format!("/api/v1/approvals/{rid}/approve"),
                &json!({}),
            )
            .await,
        )
        .await;
        assert_eq!(status, 404);
        let (status, a) = body(
            app.post(
                "m2",
                &format!("/api/v1/approvals/{rid}/reject"),
                &json!({"comment": "Слишком много"}),
            )
            .await,
        )
        .await;
        assert_eq!((status, a["state"].as_str()), (200, Some("rejected")));
        let (_, d) = body(app.get("m1", &path).await).await;
        assert_eq!(d["discount_pct"], 25);

        // Escalation: m2's request goes to the head of «Продажи Урал»; unanswered for the
        // pipeline's two days it moves up to the head of «Продажи» (whose deputy is m2 himself, so the
        // head keeps it); there is no level above that.
        let deal2 = app
            .create(
                "m2",
                "deals",
                json!({"title": "Урал", "pipeline_id": fx.pipeline}),
            )
            .await;
        let (status, a) = body(app.post("m2", "/api/v1/approvals", &json!({"entity": "deal", "record_id": deal2["id"], "field": "discount_pct", "value": 30, "reason": "Тендер"})).await).await;
        assert_eq!(status, 201, "{a}");
        assert_eq!(
            (a["approver_id"].as_i64(), a["level"].as_i64()),
            (Some(support), Some(0))
        );
        let now = Utc::now();
        assert!(app
            .store
            .escalate_approvals(now + Duration::hours(47))
            .await
            .expect("pass")
            .is_empty());
        let up = app
            .store
            .escalate_approvals(now + Duration::hours(49))
            .await
            .expect("pass");
        assert_eq!(up.len(), 1);
        assert_eq!(
            (up[0]["approver_id"].as_i64(), up[0]["level"].as_i64()),
            (Some(head), Some(1))
        );
        assert_eq!(
            items(&app, head, "approval_requested")
                .await
                .last()
                .map(|i| i.0.clone()),
            Some("Тендер".to_string())
        );
        assert!(app
            .store
            .escalate_approvals(now + Duration::hours(100))
            .await
            .expect("pass")
            .is_empty());
        let (status, _) = body(
            app.post(
                "support",
                &format!("/api/v1/approvals/{}/approve", a["id"]),
                &json!({}),
            )
            .await,
        )
        .await;
        assert_eq!(status, 404, "the former approver no longer decides");
        let (status, _) = body(
            app.post(
                "head",
                &format!("/api/v1/approvals/{}/approve", a["id"]),
                &json!({}),
            )
            .await,
        )
        .await;
        assert_eq!(status, 200);
        let (_, d2) = body(
            app.get("m2", &format!("/api/v1/deals/{}", deal2["id"]))
                .await,
        )
        .await;
        assert_eq!(d2["discount_pct"], 30);
    }
}
