//! Imports over HTTP: multipart upload (202 and a batch to poll), dry run, report in the
//! caller's language, the rejected rows as CSV, status, undo, and a batch left running
//! by a stopped server.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{json, TestApp};

fn multipart(file_name: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "plotina-test-boundary-7d1f";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: text/csv\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(app: &TestApp, user: &str, query: &str, bytes: &[u8], lang: &str) -> (u16, Value) {
    let (ct, body) = multipart("clients.csv", bytes);
    json(
        app.req(user, Method::POST, &format!("/api/v1/imports?{query}"))
            .header("content-type", ct)
            .header("accept-language", lang)
            .body(body)
            .send()
            .await
            .expect("request"),
    )
    .await
}

/// Polls the batch until it is no longer `checking` or `running`, as a client would.
async fn finished(app: &TestApp, user: &str, id: i64) -> Value {
    for _ in 0..600 {
        let (st, b) = json(app.get(user, &format!("/api/v1/imports/{id}")).await).await;
        assert_eq!(st, 200, "{b}");
        if b["status"] != "checking" && b["status"] != "running" {
            return b;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("import {id} still running after 30 s");
}

/// Uploads and checks the 202 answer (the batch, its `Location`); the batch id.
async fn start(app: &TestApp, user: &str, query: &str, bytes: &[u8]) -> i64 {
    let (ct, body) = multipart("clients.csv", bytes);
    let resp = app
        .req(user, Method::POST, &format!("/api/v1/imports?{query}"))
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .expect("request");
    let location = resp
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string());
    let (st, b) = json(resp).await;
    assert_eq!(st, 202, "{b}");
    let id = b["id"].as_i64().unwrap();
    assert_eq!(
        location.as_deref(),
        Some(format!("/api/v1/imports/{id}").as_str())
    );
    let dry = query.contains("dry_run=true");
    assert_eq!(b["dry_run"], dry);
    assert!(
        ["checking", "running", "dry_run", "done"].contains(&b["status"].as_str().unwrap()),
        "{b}"
    );
    assert_eq!(b["rows_total"], 3);
    id
}

const CSV: &str = "Название,ИНН,E-mail\nООО «Ромашка»,7707083893,info@romashka.ru\nВасилёк,123,\nЛютик,,lutik@example.ru\n";

#[tokio::test]
async fn import_dry_run_report_rejects_and_undo() {
    for app in crate::helpers::apps().await {
        let before = app.counts().await;
        let dry_id = start(&app, "m1", "entity=companies&dry_run=true", CSV.as_bytes()).await;
        let dry = finished(&app, "m1", dry_id).await;
        assert_eq!(dry["status"], "dry_run");
        assert_eq!(
            (dry["rows_created"].as_u64(), dry["rows_rejected"].as_u64()),
            (Some(2), Some(1))
        );
        assert_eq!(dry["mapping"][1]["header"], "ИНН");
        assert_eq!(dry["mapping"][1]["target"], "inn");
        let (_, problems) = json(
            app.req(
                "m1",
                Method::GET,
                &format!("/api/v1/imports/{dry_id}/report"),
            )
            .header("accept-language", "en")
            .send()
            .await
            .unwrap(),
        )
        .await;
        assert_eq!(problems["data"][0]["row"], 3);
        assert_eq!(problems["data"][0]["column"], "ИНН");
        assert_eq!(problems["data"][0]["code"], "inn_length");
        assert!(
            problems["data"][0]["message"]
                .as_str()
                .unwrap()
                .contains("10 digits"),
            "{problems}"
        );
        assert_eq!(app.counts().await["companies"], before["companies"]);

        let id = start(&app, "m1", "entity=companies", CSV.as_bytes()).await;
        let status = finished(&app, "m1", id).await;
        assert_eq!(status["status"], "done");
        assert_eq!(status["rows_created"], 2);
        assert_eq!(status["rows_done"], 3);
        // Someone else's batch does not exist for them.
        let other = app.get("m2", &format!("/api/v1/imports/{id}")).await;
        assert_eq!(other.status(), 404);

        let (_, report) = json(
            app.req("m1", Method::GET, &format!("/api/v1/imports/{id}/report"))
                .header("accept-language", "ru")
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            report["data"][0]["message"],
            "ИНН должен содержать 10 цифр (организация) или 12 цифр (ИП)"
        );
        let rejects = app
            .get("m1", &format!("/api/v1/imports/{id}/rejects"))
            .await;
        assert_eq!(rejects.status(), 200);
        let text = rejects.text().await.unwrap();
        let lines: Vec<&str> = text.trim_start_matches('\u{feff}').lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[1].starts_with("Василёк;123;;ИНН: "), "{text}");

        let (st, undone) = json(
            app.req("m1", Method::POST, &format!("/api/v1/imports/{id}/undo"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(st, 200, "{undone}");
        assert_eq!(undone["status"], "undone");
        let after = app.counts().await;
        for t in ["companies", "history", "record_lookup"] {
            assert_eq!(before[t], after[t], "{t}");
        }
    }
}

#[tokio::test]
async fn bad_uploads_are_clear_4xx() {
    for app in crate::helpers::apps().await {
        let (st, p) = upload(&app, "m1", "entity=companies", b"", "en").await;
        assert_eq!(st, 400, "{p}");
        assert_eq!(p["errors"][0]["code"], "import_file_empty");
        let (st, p) = upload(&app, "m1", "entity=planets", CSV.as_bytes(), "en").await;
        assert_eq!(st, 400, "{p}");
        let (st, _) = upload(
            &app,
            "m1",
            "entity=companies&on_duplicate=merge",
            CSV.as_bytes(),
            "en",
        )
        .await;
        assert_eq!(st, 400);
        let (st, _) = upload(&app, "support", "entity=companies", CSV.as_bytes(), "en").await;
        assert_eq!(st, 403);
        let (st, _) = json(
            app.req("m1", Method::POST, "/api/v1/imports/999/undo")
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(st, 404);
    }
}

#[tokio::test]
async fn import_left_running_by_a_stopped_server_is_interrupted_and_undoable() {
    for app in crate::helpers::apps().await {
        let before = app.counts().await;
        let id = start(&app, "m1", "entity=companies", CSV.as_bytes()).await;
        assert_eq!(finished(&app, "m1", id).await["status"], "done");
        // What a server killed after the last chunk's commit leaves behind.
        let mut tx = app.store.pool().begin_write().await.unwrap();
        tx.raw(&format!(
            "UPDATE import_batches SET status = 'running', heartbeat_at = NULL, \
             finished_at = NULL, rows_created = 0, rows_rejected = 0 WHERE id = {id}"
        ))
        .await
        .unwrap();
        tx.commit().await.unwrap();

        let (st, p) = json(
            app.req("m1", Method::POST, &format!("/api/v1/imports/{id}/undo"))
                .header("accept-language", "en")
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(st, 409, "{p}");
        assert_eq!(p["errors"][0]["code"], "import_still_running", "{p}");

        // The next server start finds it.
        let marked = plotina_server::import_job::run_once(&app.store)
            .await
            .unwrap();
        assert_eq!(marked, vec![id]);
        let (st, b) = json(app.get("m1", &format!("/api/v1/imports/{id}")).await).await;
        assert_eq!(st, 200);
        assert_eq!(b["status"], "interrupted");
        assert_eq!(
            (
                b["rows_done"].as_i64(),
                b["rows_created"].as_i64(),
                b["rows_rejected"].as_i64()
            ),
            (Some(3), Some(2), Some(1))
        );

        let (st, undone) = json(
            app.req("m1", Method::POST, &format!("/api/v1/imports/{id}/undo"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(st, 200, "{undone}");
        assert_eq!(undone["status"], "undone");
        let after = app.counts().await;
        for t in ["companies", "history", "record_lookup"] {
            assert_eq!(before[t], after[t], "{t}");
        }
    }
}

#[tokio::test]
async fn openapi_documents_the_background_import() {
    for app in crate::helpers::apps().await {
        let (_, doc) = json(app.get("m1", "/api/v1/openapi.json").await).await;
        let post = &doc["paths"]["/api/v1/imports"]["post"]["responses"];
        assert!(post.get("201").is_none(), "no synchronous report any more");
        assert!(post["202"]["headers"]["Location"].is_object(), "{post}");
        let status = &doc["paths"]["/api/v1/imports/{id}"]["get"]["responses"]["200"]["content"]
            ["application/json"]["schema"];
        assert!(status["properties"]["mapping"].is_object());
        let states = status["properties"]["status"]["enum"].as_array().unwrap();
        assert!(states.contains(&serde_json::json!("interrupted")));
    }
}
