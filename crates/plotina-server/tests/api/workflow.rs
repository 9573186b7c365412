//! Everyday flows through the API: idempotent creates, lead conversion, paging, sessions
//! with CSRF, custom fields, history, trash, and the service endpoints.

use serde_json::{json, Value};

use crate::helpers::{apps, json};

#[tokio::test]
async fn idempotency_key_makes_retries_safe() {
    for app in apps().await {
        let body = json!({"name": "ООО «Повтор»"});
        let send = |b: &Value| {
            app.req("m1", reqwest::Method::POST, "/api/v1/companies")
                .header("Idempotency-Key", "k-1")
                .json(b)
                .send()
        };
        let first = send(&body).await.unwrap();
        assert_eq!(first.status(), 201);
        let (_, a) = json(first).await;
        let second = send(&body).await.unwrap();
        assert_eq!(second.status(), 200);
        assert_eq!(second.headers()["idempotent-replayed"], "true");
        let (_, b) = json(second).await;
        assert_eq!(a["id"], b["id"]);
        let (_, n) = json(
            app.get(
                "m1",
                "/api/v1/companies/count?filter=name%20%3D%20%22ООО%20«Повтор»%22",
            )
            .await,
        )
        .await;
        assert_eq!(n["count"], 1);
        let other = send(&json!({"name": "Другое"})).await.unwrap();
        assert_eq!(other.status(), 409);
    }
}

#[tokio::test]
async fn lead_conversion_links_everything_both_ways() {
    for app in apps().await {
        let lead = app
            .create("m1", "leads", json!({"title": "Заявка с сайта", "source": "web_form", "contact_name": "Петров Пётр Петрович", "company_name": "ООО «Лид»", "phone": "+7 912 000-11-22", "email": "petrov@lid.ru", "amount": "50000"}))
            .await;
        let id = lead["id"].as_i64().unwrap();
        let before = app.counts().await;
        let r = app
            .post(
                "m1",
                &format!("/api/v1/leads/{id}/convert"),
                &json!({"deal": {}}),
            )
            .await;
        let (s, p) = json(r).await;
        assert_eq!(s, 422, "a deal needs a pipeline: {p}");
        assert_eq!(p["errors"][0]["field"], "deal.pipeline_id");
        assert_eq!(
            app.counts().await,
            before,
            "a refused conversion leaves nothing behind"
        );
        let r = app
            .post(
                "m1",
                &format!("/api/v1/leads/{id}/convert"),
                &json!({"deal": {"pipeline_id": app.fx.pipeline}}),
            )
            .await;
        let (s, out) = json(r).await;
        assert_eq!(s, 200, "{out}");
        assert_eq!(out["lead"]["status"], "converted");
        assert_eq!(out["contact"]["last_name"], "Петров");
        assert_eq!(out["contact"]["phones"], json!(["+79120001122"]));
        assert_eq!(out["deal"]["lead_id"], id);
        assert_eq!(out["deal"]["amount"], "50000.00");
        assert_eq!(out["deal"]["source"], "web_form");
        assert_eq!(out["lead"]["deal_id"], out["deal"]["id"]);
        assert_eq!(out["lead"]["company_id"], out["company"]["id"]);
        let again = app
            .post(
                "m1",
                &format!("/api/v1/leads/{id}/convert"),
                &json!({"deal": {"pipeline_id": app.fx.pipeline}}),
            )
            .await;
        assert_eq!(again.status(), 409);
    }
}

#[tokio::test]
async fn cursor_paging_visits_every_record_once() {
    for app in apps().await {
        for i in 0..23 {
            app.create("m1", "companies", json!({"name": format!("Компания {i:02}"), "industry": if i % 3 == 0 { Value::Null } else { json!(format!("отрасль {}", i % 4)) }})).await;
        }
        for sort in ["name", "-name", "industry,-id", "-updated_at", "-industry"] {
            let mut seen = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let mut path = format!("/api/v1/companies?limit=5&sort={sort}");
                if let Some(c) = &cursor {
                    path.push_str(&format!("&cursor={c}"));
                }
                let (s, page) = json(app.get("m1", &path).await).await;
                assert_eq!(s, 200, "{page}");
                for c in page["data"].as_array().unwrap() {
                    seen.push(c["id"].as_i64().unwrap());
                }
                match page["next_cursor"].as_str() {
                    Some(c) => cursor = Some(c.to_string()),
                    None => break,
                }
            }
            let mut unique = seen.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(unique.len(), 23, "sort {sort} on {}", app.backend);
            assert_eq!(
                seen.len(),
                23,
                "sort {sort} repeated rows on {}",
                app.backend
            );
        }
    }
}

#[tokio::test]
async fn browser_session_needs_the_csrf_token() {
    for app in apps().await {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap();
        let r = client
            .post(app.url("/api/v1/auth/login"))
            .json(&json!({"login": "m1", "password": "wrong"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        let r = client
            .post(app.url("/api/v1/auth/login"))
            .json(&json!({"login": "m1", "password": plotina_store::testing::PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
            "{cookie}"
        );
        let (_, login) = json(r).await;
        let csrf = login["csrf_token"].as_str().unwrap().to_string();
        let r = client.get(app.url("/api/v1/me")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let r = client
            .post(app.url("/api/v1/companies"))
            .json(&json!({"name": "Без токена"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "a cookie alone cannot write");
        let r = client
            .post(app.url("/api/v1/companies"))
            .header("x-csrf-token", &csrf)
            .json(&json!({"name": "С токеном"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let r = client
            .post(app.url("/api/v1/auth/logout"))
            .header("x-csrf-token", &csrf)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
        let r = client.get(app.url("/api/v1/me")).send().await.unwrap();
        assert_eq!(r.status(), 401);
    }
}

#[tokio::test]
async fn custom_fields_history_and_trash() {
    for app in apps().await {
        let r = app.post("admin", "/api/v1/custom_fields", &json!({"entity": "deal", "key": "region", "label": "Регион", "kind": "select", "options": ["Урал", "Сибирь"]})).await;
        assert_eq!(r.status(), 201);
        let r = app
            .post(
                "admin",
                "/api/v1/custom_fields",
                &json!({"entity": "deal", "key": "area", "label": "Площадь", "kind": "number"}),
            )
            .await;
        assert_eq!(r.status(), 201);
        let a = app.create("m1", "deals", json!({"title": "Склад", "pipeline_id": app.fx.pipeline, "custom": {"region": "Урал", "area": 1200}})).await;
        app.create("m1", "deals", json!({"title": "Офис", "pipeline_id": app.fx.pipeline, "custom": {"region": "Сибирь", "area": 80}})).await;
        let r = app.post("m1", "/api/v1/deals", &json!({"title": "Плохой", "pipeline_id": app.fx.pipeline, "custom": {"region": "Луна"}})).await;
        assert_eq!(r.status(), 422);
        let (_, page) = json(app.get("m1", "/api/v1/deals?filter=custom.region%20%3D%20%22Урал%22%20and%20custom.area%20%3E%201000").await).await;
        let titles: Vec<_> = page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["title"].clone())
            .collect();
        assert_eq!(titles, [json!("Склад")], "on {}", app.backend);
        let (_, page) = json(app.get("m1", "/api/v1/deals?sort=custom.area").await).await;
        assert_eq!(page["data"][0]["title"], "Офис");

        let id = a["id"].as_i64().unwrap();
        let r = app
            .patch(
                "m1",
                &format!("/api/v1/deals/{id}"),
                &json!({"amount": "1000.50", "custom": {"region": "Сибирь"}}),
            )
            .await;
        assert_eq!(r.status(), 200);
        let (_, h) = json(app.get("m1", &format!("/api/v1/deals/{id}/history")).await).await;
        let changes: Vec<(String, Value, Value)> = h["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "update")
            .map(|e| {
                (
                    e["field"].as_str().unwrap().to_string(),
                    e["old_value"].clone(),
                    e["new_value"].clone(),
                )
            })
            .collect();
        assert!(
            changes.contains(&("amount".into(), Value::Null, json!("1000.50"))),
            "{changes:?}"
        );
        assert!(
            changes.contains(&("custom.region".into(), json!("Урал"), json!("Сибирь"))),
            "{changes:?}"
        );
        assert!(changes
            .iter()
            .all(|(f, _, _)| f != "version" && f != "updated_at"));

        // Pages count history rows: the update is two rows, the creation one row listed
        // field by field, and the page after the last full one is never lost.
        let (_, p1) = json(
            app.get("m1", &format!("/api/v1/deals/{id}/history?limit=2"))
                .await,
        )
        .await;
        let p1_fields: Vec<&str> = p1["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(p1_fields.len(), 2, "{p1}");
        assert!(p1["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["action"] == "update"));
        let next = p1["next_before"].as_i64().expect("a full page continues");
        let (_, p2) = json(
            app.get(
                "m1",
                &format!("/api/v1/deals/{id}/history?limit=2&before={next}"),
            )
            .await,
        )
        .await;
        let created: std::collections::BTreeMap<&str, &Value> = p2["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                assert_eq!(e["action"], "create", "{p2}");
                assert_eq!(e["old_value"], Value::Null);
                (e["field"].as_str().unwrap(), &e["new_value"])
            })
            .collect();
        assert_eq!(created["title"], &json!("Склад"), "{p2}");
        assert_eq!(created["custom.region"], &json!("Урал"));
        assert_eq!(created["custom.area"], &json!(1200));
        assert!(created.len() > 2, "one row, every field: {p2}");
        assert_eq!(
            p2["next_before"],
            Value::Null,
            "one row is less than a page"
        );

        let r = app.delete("admin", &format!("/api/v1/deals/{id}")).await;
        assert_eq!(r.status(), 204);
        assert_eq!(
            app.get("m1", &format!("/api/v1/deals/{id}")).await.status(),
            404
        );
        let (_, trash) = json(app.get("admin", "/api/v1/deals?trash=true").await).await;
        assert_eq!(trash["data"].as_array().unwrap().len(), 1);
        let r = app
            .post("admin", &format!("/api/v1/deals/{id}/restore"), &json!({}))
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(
            app.get("m1", &format!("/api/v1/deals/{id}")).await.status(),
            200
        );
    }
}

#[tokio::test]
async fn service_endpoints_answer() {
    for app in apps().await {
        assert_eq!(
            app.client
                .get(app.url("/healthz"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
        assert_eq!(
            app.client
                .get(app.url("/readyz"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
        app.get("m1", "/api/v1/companies").await;
        let metrics = app
            .client
            .get(app.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(metrics.contains("http_requests_total"), "{metrics}");
        let (s, doc) = json(
            app.client
                .get(app.url("/api/v1/openapi.json"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(s, 200);
        assert_eq!(doc["openapi"], "3.1.0");
        for path in [
            "/api/v1/companies",
            "/api/v1/deals/{id}",
            "/api/v1/leads/{id}/convert",
            "/api/v1/search",
        ] {
            assert!(doc["paths"].get(path).is_some(), "{path} documented");
        }
        assert_eq!(
            doc["components"]["schemas"]["CompanyCreate"]["additionalProperties"],
            false
        );
    }
}

/// Every file under a directory, recursively.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test]
async fn a_reader_without_edit_rights_cannot_upload_or_leave_a_file_behind() {
    for app in apps().await {
        // m2 may read every company but edit only their own.
        let c = app
            .create("m1", "companies", json!({"name": "ООО «Чужая»"}))
            .await;
        let id = c["id"].as_i64().unwrap();
        assert_eq!(
            app.get("m2", &format!("/api/v1/companies/{id}"))
                .await
                .status(),
            200
        );
        let r = app
            .req(
                "m2",
                reqwest::Method::POST,
                &format!("/api/v1/companies/{id}/attachments?name=x.txt"),
            )
            .body(b"not allowed here".to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{}", app.backend);
        assert!(
            files_under(&app.files_dir()).is_empty(),
            "a refused upload left {:?}",
            files_under(&app.files_dir())
        );
        assert_eq!(app.counts().await["attachments"], 0);
    }
}

#[tokio::test]
async fn attachments_are_served_only_to_readers() {
    for app in apps().await {
        let c = app
            .create(
                "m1",
                "companies",
                json!({"name": "ООО «Файлы»", "private": true}),
            )
            .await;
        let id = c["id"].as_i64().unwrap();
        let r = app
            .req(
                "m1",
                reqwest::Method::POST,
                &format!("/api/v1/companies/{id}/attachments?name=Договор%20№1.pdf"),
            )
            .header("content-type", "application/pdf")
            .body(b"%PDF-1.4 test".to_vec())
            .send()
            .await
            .unwrap();
        let (s, att) = json(r).await;
        assert_eq!(s, 201, "{att}");
        assert_eq!(att["file_name"], "Договор №1.pdf");
        assert_eq!(att["sha256"].as_str().unwrap().len(), 64);
        let aid = att["id"].as_i64().unwrap();
        let r = app.get("m1", &format!("/api/v1/attachments/{aid}")).await;
        assert_eq!(r.status(), 200);
        assert!(r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("UTF-8''"));
        assert_eq!(r.bytes().await.unwrap().as_ref(), b"%PDF-1.4 test");
        assert_eq!(
            app.get("m2", &format!("/api/v1/attachments/{aid}"))
                .await
                .status(),
            404
        );
        assert_eq!(
            app.get("m2", &format!("/api/v1/companies/{id}/attachments"))
                .await
                .status(),
            404
        );
        let (_, list) = json(
            app.get("m1", &format!("/api/v1/companies/{id}/attachments"))
                .await,
        )
        .await;
        assert_eq!(list["data"].as_array().unwrap().len(), 1);
        let big = vec![0u8; 21 * 1024 * 1024];
        let r = app
            .req(
                "m1",
                reqwest::Method::POST,
                &format!("/api/v1/companies/{id}/attachments?name=big.bin"),
            )
            .body(big)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 413);
        assert_eq!(
            app.delete("m1", &format!("/api/v1/attachments/{aid}"))
                .await
                .status(),
            204
        );
        assert_eq!(
            app.get("m1", &format!("/api/v1/attachments/{aid}"))
                .await
                .status(),
            404
        );
    }
}

#[tokio::test]
async fn board_cards_carry_the_card_fields_and_more_on_request() {
    for app in apps().await {
        let p = app.fx.pipeline;
        let company = app
            .create("m1", "companies", json!({"name": "ООО «Доска»"}))
            .await["id"]
            .as_i64()
            .unwrap();
        let deal = app
            .create(
                "m1",
                "deals",
                json!({"title": "Карточка", "pipeline_id": p, "amount": "1500.25",
                    "company_id": company, "close_date": "2026-12-31",
                    "description": "Длинное описание", "probability": 40}),
            )
            .await;
        let (s, board) = json(
            app.get("m1", &format!("/api/v1/deals/board?pipeline={p}"))
                .await,
        )
        .await;
        assert_eq!(s, 200, "{board}");
        let card = &board["columns"][0]["deals"][0];
        let mut keys: Vec<&str> = card
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "amount",
                "close_date",
                "company_id",
                "currency",
                "id",
                "owner_id",
                "stage_changed_at",
                "stage_id",
                "title",
                "updated_at",
                "version"
            ],
            "{card} on {}",
            app.backend
        );
        assert_eq!(card["id"], deal["id"]);
        assert_eq!(card["title"], "Карточка");
        assert_eq!(card["amount"], "1500.25");
        assert_eq!(card["currency"], "RUB");
        assert_eq!(card["company_id"], json!(company));
        assert_eq!(card["close_date"], "2026-12-31");
        assert_eq!(card["stage_id"], json!(app.fx.stage("Новая")));
        assert_eq!(card["version"], 1);
        assert_eq!(board["columns"][0]["next_cursor"], Value::Null);

        // More fields on request; a name twice or a default one changes nothing.
        let (s, board) = json(
            app.get(
                "m1",
                &format!("/api/v1/deals/board?pipeline={p}&fields=description,%20probability,title,description"),
            )
            .await,
        )
        .await;
        assert_eq!(s, 200, "{board}");
        let card = &board["columns"][0]["deals"][0];
        assert_eq!(card.as_object().unwrap().len(), 13, "{card}");
        assert_eq!(card["description"], "Длинное описание");
        assert_eq!(card["probability"], 40);
        assert!(card.get("custom").is_none() && card.get("pipeline_id").is_none());

        // `*`: whole records.
        let (_, board) = json(
            app.get("m1", &format!("/api/v1/deals/board?pipeline={p}&fields=*"))
                .await,
        )
        .await;
        let card = &board["columns"][0]["deals"][0];
        assert_eq!(card["pipeline_id"], json!(p));
        assert_eq!(card["custom"], json!({}));
        assert_eq!(card["created_by"], deal["created_by"]);

        // An unknown field is the caller's mistake, said in their language.
        let r = app
            .req(
                "m1",
                reqwest::Method::GET,
                &format!("/api/v1/deals/board?pipeline={p}&fields=title,secret_sauce"),
            )
            .header("Accept-Language", "ru")
            .send()
            .await
            .unwrap();
        let (s, body) = json(r).await;
        assert_eq!(s, 400, "{body}");
        assert_eq!(body["errors"][0]["field"], "fields");
        assert_eq!(body["errors"][0]["code"], "unknown_field");
        assert_eq!(
            body["errors"][0]["message"],
            "fields: Неизвестное поле «secret_sauce»"
        );

        // The document names the same card fields as required.
        let (_, doc) = json(app.get("m1", "/api/v1/openapi.json").await).await;
        let mut required: Vec<&str> = doc["components"]["schemas"]["DealCard"]["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        required.sort_unstable();
        assert_eq!(required, keys);
        assert_eq!(
            doc["paths"]["/api/v1/deals/board"]["get"]["responses"]["200"]["content"]
                ["application/json"]["schema"]["properties"]["columns"]["items"]["properties"]
                ["deals"]["items"]["$ref"],
            "#/components/schemas/DealCard"
        );
    }
}

#[tokio::test]
async fn board_counts_and_sums_only_what_the_viewer_may_see() {
    for app in apps().await {
        let p = app.fx.pipeline;
        app.create(
            "m1",
            "deals",
            json!({"title": "A", "pipeline_id": p, "amount": "100.50"}),
        )
        .await;
        app.create(
            "m1",
            "deals",
            json!({"title": "B", "pipeline_id": p, "amount": "200"}),
        )
        .await;
        app.create(
            "m2",
            "deals",
            json!({"title": "C", "pipeline_id": p, "amount": "999"}),
        )
        .await;
        let (s, board) = json(
            app.get("m1", &format!("/api/v1/deals/board?pipeline={p}"))
                .await,
        )
        .await;
        assert_eq!(s, 200, "{board}");
        let first = &board["columns"][0];
        assert_eq!(first["stage"]["name"], "Новая");
        assert_eq!(
            first["count"], 2,
            "m1 sees only own deals on {}",
            app.backend
        );
        assert_eq!(first["totals"][0]["sum"], "300.50");
        assert_eq!(first["deals"].as_array().unwrap().len(), 2);
        let (_, board) = json(
            app.get("head", &format!("/api/v1/deals/board?pipeline={p}"))
                .await,
        )
        .await;
        assert_eq!(board["columns"][0]["count"], 3);
        assert_eq!(board["columns"][0]["totals"][0]["sum"], "1299.50");
        assert_eq!(
            app.get("m1", "/api/v1/deals/board?pipeline=999999")
                .await
                .status(),
            404
        );
    }
}
