//! A manager cannot reach another manager's private company or out-of-scope deals
//! through any endpoint: read, list, count, search, history, related lists, writes.

use serde_json::json;

use crate::helpers::{apps, json};

#[tokio::test]
async fn private_company_and_foreign_deals_are_invisible_everywhere() {
    for app in apps().await {
        let company = app
            .create("m1", "companies", json!({"name": "Секретный завод", "inn": "7707083893", "phones": ["8 (912) 345-67-89"], "private": true}))
            .await;
        let cid = company["id"].as_i64().unwrap();
        let deal = app.create("m1", "deals", json!({"title": "Тайная поставка", "pipeline_id": app.fx.pipeline, "company_id": cid})).await;
        let did = deal["id"].as_i64().unwrap();
        let child = app.create("m1", "deals", json!({"title": "Тайная логистика", "pipeline_id": app.fx.pipeline, "parent_id": did})).await;
        let activity = app
            .create(
                "m1",
                "activities",
                json!({"kind": "call", "subject": "Звонок по тайной поставке", "deal_id": did}),
            )
            .await;
        let aid = activity["id"].as_i64().unwrap();

        for user in ["m2", "support"] {
            for path in [
                format!("/api/v1/companies/{cid}"),
                format!("/api/v1/companies/{cid}/history"),
                format!("/api/v1/deals/{did}"),
                format!("/api/v1/deals/{did}/history"),
                format!("/api/v1/deals/{did}/stage-history"),
                format!("/api/v1/deals/{did}/children"),
                format!("/api/v1/activities/{aid}"),
            ] {
                if user == "support" && path.contains("/deals/") {
                    continue; // support reads deals of its own department only; checked below
                }
                let r = app.get(user, &path).await;
                assert_eq!(r.status(), 404, "{user} GET {path} on {}", app.backend);
            }
            let r = app
                .patch(
                    user,
                    &format!("/api/v1/companies/{cid}"),
                    &json!({"name": "x"}),
                )
                .await;
            assert_eq!(r.status(), 404, "{user} PATCH company");
            let r = app.delete(user, &format!("/api/v1/companies/{cid}")).await;
            assert!(
                matches!(r.status().as_u16(), 403 | 404),
                "{user} DELETE company"
            );
            let (_, list) = json(app.get(user, "/api/v1/companies?limit=500").await).await;
            assert!(
                list["data"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|c| c["id"] != cid),
                "{user} lists it"
            );
            let (_, n) = json(
                app.get(
                    user,
                    "/api/v1/companies/count?filter=name%20~%20%22Секретный%22",
                )
                .await,
            )
            .await;
            assert_eq!(n["count"], 0, "{user} counts it");
            for q in ["Секретный", "7707083893", "8 912 345-67-89"] {
                let (_, hits) = json(
                    app.get(user, &format!("/api/v1/search?q={}", urlencode(q)))
                        .await,
                )
                .await;
                assert!(
                    hits["data"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .all(|h| h["id"] != cid || h["entity"] != "company"),
                    "{user} finds it by {q}"
                );
            }
            let (_, by_filter) = json(
                app.get(user, &format!("/api/v1/companies?filter=id%20%3D%20{cid}"))
                    .await,
            )
            .await;
            assert_eq!(by_filter["data"].as_array().unwrap().len(), 0);
            // Linking to it is refused as if it did not exist.
            let r = app
                .post(
                    user,
                    "/api/v1/contacts",
                    &json!({"first_name": "Шпион", "companies": [{"company_id": cid}]}),
                )
                .await;
            let (s, p) = json(r).await;
            assert_eq!(s, 422, "{user}: {p}");
            assert_eq!(p["errors"][0]["code"], "link_not_found");
        }
        // m2's manager scope: none of m1's deals or activities.
        let (_, deals) = json(app.get("m2", "/api/v1/deals?limit=500").await).await;
        assert!(
            deals["data"].as_array().unwrap().is_empty(),
            "m2 sees m1's deals on {}",
            app.backend
        );
        let (_, n) = json(app.get("m2", "/api/v1/deals/count").await).await;
        assert_eq!(n["count"], 0);
        let (_, acts) = json(
            app.get(
                "m2",
                "/api/v1/activities?filter=deal_id%20%3D%20"
                    .to_string()
                    .as_str(),
            )
            .await,
        )
        .await;
        let _ = acts;
        let (_, acts) = json(app.get("m2", "/api/v1/activities").await).await;
        assert!(acts["data"].as_array().unwrap().is_empty());
        let r = app
            .post(
                "m2",
                &format!("/api/v1/deals/{did}/move"),
                &json!({"stage_id": app.fx.stage("Квалификация")}),
            )
            .await;
        assert_eq!(r.status(), 404);
        let (_, hits) = json(
            app.get(
                "m2",
                "/api/v1/search?q=%D0%A2%D0%B0%D0%B9%D0%BD%D0%B0%D1%8F",
            )
            .await,
        )
        .await;
        assert!(
            hits["data"].as_array().unwrap().is_empty(),
            "search leaks deals: {hits}"
        );

        // The head of sales sees the department's deals, but not the private company.
        let (_, deals) = json(app.get("head", "/api/v1/deals?limit=500").await).await;
        let ids: Vec<_> = deals["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_i64().unwrap())
            .collect();
        assert!(ids.contains(&did) && ids.contains(&child["id"].as_i64().unwrap()));
        assert_eq!(
            app.get("head", &format!("/api/v1/companies/{cid}"))
                .await
                .status(),
            404
        );
        // The owner and the administrator see everything.
        assert_eq!(
            app.get("m1", &format!("/api/v1/companies/{cid}"))
                .await
                .status(),
            200
        );
        assert_eq!(
            app.get("admin", &format!("/api/v1/companies/{cid}"))
                .await
                .status(),
            200
        );
        let (_, hits) = json(app.get("m1", "/api/v1/search?q=8%20912%20345-67-89").await).await;
        assert!(
            hits["data"]
                .as_array()
                .unwrap()
                .iter()
                .any(|h| h["id"] == cid),
            "owner finds by phone: {hits}"
        );
    }
}

#[tokio::test]
async fn settings_are_for_administrators() {
    for app in apps().await {
        let r = app
            .post("m1", "/api/v1/pipelines", &json!({"name": "Моя воронка"}))
            .await;
        assert_eq!(r.status(), 403);
        let r = app
            .patch(
                "m1",
                &format!("/api/v1/users/{}", app.fx.m1.user_id),
                &json!({"role_id": app.fx.roles["admin"]}),
            )
            .await;
        assert_eq!(r.status(), 403, "a manager cannot make themselves admin");
        let r = app
            .post("admin", "/api/v1/pipelines", &json!({"name": "Аренда"}))
            .await;
        assert_eq!(r.status(), 201);
        let r = app.get("m1", "/api/v1/users").await;
        assert_eq!(
            r.status(),
            200,
            "everyone reads the user list (owners, assignees)"
        );
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
