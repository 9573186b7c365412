//! Duplicates over HTTP: 409 with candidates on create and edit, confirmation, hidden
//! candidates without their data, the finder, clean-up tasks, the OpenAPI entries.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{apps, json};

#[tokio::test]
async fn create_and_edit_answer_409_with_candidates_unless_confirmed() {
    for app in apps().await {
        let first = app
            .create(
                "admin",
                "companies",
                json!({"name": "ООО «Ромашка»", "inn": "7707083893", "kpp": "773601001", "phones": ["+7 495 123-45-67"]}),
            )
            .await;
        let fid = first["id"].as_i64().unwrap();
        let before = app.counts().await;

        let (status, body) = json(
            app.req("admin", Method::POST, "/api/v1/companies")
                .header("accept-language", "en")
                .json(&json!({"name": "\"POMAШKA\" LLC", "phones": ["8 (495) 1234567"]}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 409, "{body} on {}", app.backend);
        assert_eq!(body["code"], "possible_duplicates");
        assert!(body["title"]
            .as_str()
            .unwrap()
            .starts_with("A similar record"));
        assert_eq!(
            body["candidates"],
            json!([{"entity": "company", "id": fid, "reasons": ["phone", "name"], "visible": true,
                    "title": "ООО «Ромашка»", "owner_id": app.fx.admin.user_id,
                    "owner_name": app.fx.admin.name, "url": format!("/api/v1/companies/{fid}")}])
        );
        assert_eq!(
            app.counts().await,
            before,
            "a refused create writes nothing"
        );

        // Confirmed: created.
        let resp = app
            .req("admin", Method::POST, "/api/v1/companies")
            .header("x-confirm-duplicates", "true")
            .json(&json!({"name": "Ромашка", "inn": "7707083893"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
        let second = resp.json::<Value>().await.unwrap()["id"].as_i64().unwrap();

        // A bad confirmation value is a 400, not a guess.
        let resp = app
            .req("admin", Method::POST, "/api/v1/companies")
            .header("x-confirm-duplicates", "perhaps")
            .json(&json!({"name": "Новая"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400);

        // Editing the confirmed copy's description is fine; giving it the first one's
        // KPP is a new match.
        let r = app
            .patch(
                "admin",
                &format!("/api/v1/companies/{second}"),
                &json!({"description": "копия"}),
            )
            .await;
        assert_eq!(r.status(), 200);
        let (status, body) = json(
            app.patch(
                "admin",
                &format!("/api/v1/companies/{second}"),
                &json!({"kpp": "773601001"}),
            )
            .await,
        )
        .await;
        assert_eq!(status, 409, "{body}");
        assert_eq!(body["candidates"][0]["id"], fid);
        // Only what the edit introduced counts: the names matched already.
        assert_eq!(body["candidates"][0]["reasons"], json!(["inn_kpp"]));
        let resp = app
            .req(
                "admin",
                Method::PATCH,
                &format!("/api/v1/companies/{second}"),
            )
            .header("x-confirm-duplicates", "true")
            .json(&json!({"kpp": "773601001"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);

        // Deals are not checked.
        app.create(
            "admin",
            "deals",
            json!({"title": "Сделка", "pipeline_id": app.fx.pipeline}),
        )
        .await;
        app.create(
            "admin",
            "deals",
            json!({"title": "Сделка", "pipeline_id": app.fx.pipeline}),
        )
        .await;
    }
}

#[tokio::test]
async fn a_hidden_duplicate_shows_only_that_it_exists_and_whose_it_is() {
    for app in apps().await {
        let secret = app
            .create(
                "m2",
                "companies",
                json!({"name": "Секретный завод", "inn": "500100732259", "private": true}),
            )
            .await;
        let (status, body) = json(
            app.post(
                "m1",
                "/api/v1/companies",
                &json!({"name": "Завод", "inn": "500100732259"}),
            )
            .await,
        )
        .await;
        assert_eq!(status, 409, "{body}");
        assert_eq!(
            body["candidates"],
            json!([{"entity": "company", "id": secret["id"], "reasons": ["inn"], "visible": false,
                    "title": null, "owner_id": app.fx.m2.user_id, "owner_name": "Менеджер Второй", "url": null}])
        );
        assert!(!body.to_string().contains("Секретный"));
    }
}

#[tokio::test]
async fn finder_lists_groups_and_creates_cleanup_tasks() {
    for app in apps().await {
        let mut ids = Vec::new();
        for (name, phone) in [
            ("Альфа", "+79123456789"),
            ("альфа ооо", "8 912 345 67 89"),
            ("Бета", "+79001112233"),
        ] {
            let resp = app
                .req("admin", Method::POST, "/api/v1/contacts")
                .header("x-confirm-duplicates", "1")
                .json(&json!({"first_name": name, "phones": [phone]}))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 201);
            ids.push(resp.json::<Value>().await.unwrap()["id"].as_i64().unwrap());
        }
        let (status, body) =
            json(app.get("admin", "/api/v1/duplicates?entity=contact").await).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["next_after"], Value::Null);
        let groups: Vec<(String, String, Vec<i64>)> = body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| {
                (
                    g["reason"].as_str().unwrap().to_string(),
                    g["value"].as_str().unwrap().to_string(),
                    g["records"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|r| r["id"].as_i64().unwrap())
                        .collect(),
                )
            })
            .collect();
        // "альфа ооо" is a person named so: the legal form is not removed from people.
        assert_eq!(
            groups,
            vec![(
                "phone".to_string(),
                "+79123456789".to_string(),
                vec![ids[0], ids[1]]
            )]
        );

        for bad in [
            "/api/v1/duplicates",
            "/api/v1/duplicates?entity=deal",
            "/api/v1/duplicates?entity=contact&reason=inn",
            "/api/v1/duplicates?entity=contact&after=x",
            "/api/v1/duplicates?entity=contact&limit=0",
            "/api/v1/duplicates?entity=contact&bogus=1",
        ] {
            assert_eq!(app.get("admin", bad).await.status(), 400, "{bad}");
        }

        let (status, body) = json(
            app.post(
                "admin",
                "/api/v1/duplicates/tasks",
                &json!({"entity": "contact"}),
            )
            .await,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body, json!({"groups": 1, "created": 1, "skipped": 0}));
        let (_, body) = json(
            app.post(
                "admin",
                "/api/v1/duplicates/tasks",
                &json!({"entity": "contact"}),
            )
            .await,
        )
        .await;
        assert_eq!(body, json!({"groups": 1, "created": 0, "skipped": 1}));
        let (_, tasks) = json(
            app.get(
                "admin",
                &format!("/api/v1/activities?filter=contact_id%20%3D%20{}", ids[0]),
            )
            .await,
        )
        .await;
        let task = &tasks["data"][0];
        assert_eq!(task["kind"], "task");
        assert_eq!(task["subject"], "Проверить дубли: телефон +79123456789");
        assert_eq!(task["assignee_id"], app.fx.admin.user_id);
    }
}

#[tokio::test]
async fn openapi_documents_the_confirmation_and_the_finder() {
    for app in apps().await.into_iter().take(1) {
        let (_, doc) = json(app.get("admin", "/api/v1/openapi.json").await).await;
        let post = &doc["paths"]["/api/v1/companies"]["post"];
        assert!(post["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "X-Confirm-Duplicates"));
        assert_eq!(
            post["responses"]["409"]["content"]["application/problem+json"]["schema"]["$ref"],
            "#/components/schemas/PossibleDuplicates"
        );
        assert!(doc["paths"]["/api/v1/duplicates"]["get"].is_object());
        assert!(doc["paths"]["/api/v1/duplicates/tasks"]["post"].is_object());
        assert!(doc["paths"]["/api/v1/deals"]["post"]["responses"]["409"].is_null());
    }
}

#[tokio::test]
async fn merge_and_undo_over_http() {
    for app in apps().await {
        let mut ids = Vec::new();
        for body in [
            json!({"name": "Вектор", "phones": ["+74950000001"]}),
            json!({"name": "ООО Вектор", "inn": "7707083893"}),
        ] {
            let resp = app
                .req("admin", Method::POST, "/api/v1/companies")
                .header("x-confirm-duplicates", "true")
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 201);
            ids.push(resp.json::<Value>().await.unwrap()["id"].as_i64().unwrap());
        }
        let deal = app
            .create(
                "admin",
                "deals",
                json!({"title": "Поставка", "pipeline_id": app.fx.pipeline, "company_id": ids[1]}),
            )
            .await;
        let (status, body) = json(
            app.post(
                "admin",
                "/api/v1/duplicates/merge",
                &json!({"entity": "company", "survivor": ids[0], "victims": [ids[1]], "take": {"inn": ids[1]}}),
            )
            .await,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["survivor"]["inn"], "7707083893");
        assert_eq!(body["moved"]["deal.company_id"], 1);
        let merge_id = body["merge_id"].as_i64().unwrap();
        let (_, d) = json(
            app.get("admin", &format!("/api/v1/deals/{}", deal["id"]))
                .await,
        )
        .await;
        assert_eq!(d["company_id"], ids[0]);
        assert_eq!(
            app.get("admin", &format!("/api/v1/companies/{}", ids[1]))
                .await
                .status(),
            404
        );

        // Bad requests: 4xx in the caller's language, nothing changed.
        let (status, body) = json(
            app.req("admin", Method::POST, "/api/v1/duplicates/merge")
                .header("accept-language", "ru")
                .json(&json!({"entity": "company", "survivor": ids[0], "victims": [ids[0]]}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["errors"][0]["code"], "merge_survivor_is_victim");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("Основная запись"),
            "{body}"
        );
        for bad in [
            json!({"entity": "deal", "survivor": 1, "victims": [2]}),
            json!({"entity": "company"}),
            json!({"entity": "company", "survivor": 0, "victims": [2]}),
        ] {
            let r = app.post("admin", "/api/v1/duplicates/merge", &bad).await;
            assert_eq!(r.status(), 400, "{bad}");
        }

        let (status, body) = json(
            app.post(
                "admin",
                &format!("/api/v1/duplicates/merges/{merge_id}/undo"),
                &json!({}),
            )
            .await,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let (_, d) = json(
            app.get("admin", &format!("/api/v1/deals/{}", deal["id"]))
                .await,
        )
        .await;
        assert_eq!(d["company_id"], ids[1]);
        assert_eq!(
            app.get("admin", &format!("/api/v1/companies/{}", ids[1]))
                .await
                .status(),
            200
        );
        let r = app
            .post(
                "admin",
                &format!("/api/v1/duplicates/merges/{merge_id}/undo"),
                &json!({}),
            )
            .await;
        assert_eq!(r.status(), 409);
        let r = app
            .post("admin", "/api/v1/duplicates/merges/999999/undo", &json!({}))
            .await;
        assert_eq!(r.status(), 404);
    }
}

#[tokio::test]
async fn data_quality_report_and_idle_lists() {
    for app in apps().await {
        let c1 = app
            .create(
                "admin",
                "companies",
                json!({"name": "Полная", "inn": "7707083893", "phones": ["+74951234567"]}),
            )
            .await;
        app.create("admin", "companies", json!({"name": "Пустая"}))
            .await;
        app.create(
            "admin",
            "activities",
            json!({"kind": "task", "subject": "Позвонить", "company_id": c1["id"]}),
        )
        .await;
        let (status, body) = json(
            app.get("admin", "/api/v1/data-quality?entity=company")
                .await,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["total"], 2);
        assert_eq!(body["missing"]["inn"], 1);
        assert_eq!(body["missing"]["industry"], 2);
        assert_eq!(body["share_missing"]["phones"], 0.5);
        assert_eq!(body["owners"][0]["owner_id"], app.fx.admin.user_id);

        let (status, body) = json(
            app.get("admin", "/api/v1/data-quality/idle?entity=company")
                .await,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let titles: Vec<&str> = body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["title"].as_str().unwrap())
            .collect();
        assert_eq!(titles, vec!["Пустая"]);
        for bad in [
            "/api/v1/data-quality",
            "/api/v1/data-quality?entity=user",
            "/api/v1/data-quality/idle?entity=lead",
            "/api/v1/data-quality/idle?entity=deal&limit=0",
        ] {
            assert_eq!(app.get("admin", bad).await.status(), 400, "{bad}");
        }
    }
}

#[tokio::test]
async fn bulk_edit_over_http() {
    for app in apps().await {
        for (user, name) in [("admin", "Адм"), ("m1", "Мен-1"), ("m1", "Мен-2")] {
            let resp = app
                .req(user, Method::POST, "/api/v1/companies")
                .header("x-confirm-duplicates", "true")
                .json(&json!({"name": name, "tags": ["волна"]}))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 201);
        }
        let (status, body) = json(
            app.post(
                "m1",
                "/api/v1/companies/bulk",
                &json!({"filter": "tags = \"волна\"", "set": {"industry": "retail"}}),
            )
            .await,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body,
            json!({"matched": 3, "changed": 2, "unchanged": 0, "skipped_forbidden": 1})
        );
        let (_, body) = json(
            app.post(
                "admin",
                "/api/v1/companies/bulk",
                &json!({"filter": "tags = \"волна\"", "add_tag": "ключевой"}),
            )
            .await,
        )
        .await;
        assert_eq!(
            body,
            json!({"matched": 3, "changed": 3, "unchanged": 0, "skipped_forbidden": 0})
        );
        let (_, body) = json(
            app.post(
                "admin",
                "/api/v1/companies/bulk",
                &json!({"filter": "name = \"Адм\"", "owner_id": app.fx.m2.user_id}),
            )
            .await,
        )
        .await;
        assert_eq!(body["changed"], 1);
        for bad in [
            json!({"filter": "tags = \"волна\""}),
            json!({"set": {"industry": "x"}, "add_tag": "y"}),
            json!({"add_tag": ""}),
            json!({"filter": "tags =", "add_tag": "y"}),
        ] {
            let r = app.post("admin", "/api/v1/companies/bulk", &bad).await;
            assert_eq!(r.status(), 400, "{bad}");
        }
        let r = app
            .post(
                "admin",
                "/api/v1/companies/bulk",
                &json!({"set": {"inn": "123"}}),
            )
            .await;
        assert_eq!(r.status(), 422);
    }
}
