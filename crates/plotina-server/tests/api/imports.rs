//! Imports over HTTP: multipart upload, dry run, report in the caller's language, the
//! rejected rows as CSV, status and undo.

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

const CSV: &str = "Название,ИНН,E-mail\nООО «Ромашка»,7707083893,info@romashka.ru\nВасилёк,123,\nЛютик,,lutik@example.ru\n";

#[tokio::test]
async fn import_dry_run_report_rejects_and_undo() {
    for app in crate::helpers::apps().await {
        let before = app.counts().await;
        let (st, dry) = upload(
            &app,
            "m1",
            "entity=companies&dry_run=true",
            CSV.as_bytes(),
            "en",
        )
        .await;
        assert_eq!(st, 201, "{dry}");
        assert_eq!(dry["status"], "dry_run");
        assert_eq!(
            (dry["created"].as_u64(), dry["rejected"].as_u64()),
            (Some(2), Some(1))
        );
        assert_eq!(dry["problems"][0]["row"], 3);
        assert_eq!(dry["problems"][0]["column"], "ИНН");
        assert_eq!(dry["problems"][0]["code"], "inn_length");
        assert!(
            dry["problems"][0]["message"]
                .as_str()
                .unwrap()
                .contains("10 digits"),
            "{dry}"
        );

        let (st, done) = upload(&app, "m1", "entity=companies", CSV.as_bytes(), "ru").await;
        assert_eq!(st, 201, "{done}");
        let id = done["batch_id"].as_i64().unwrap();
        let (_, status) = json(app.get("m1", &format!("/api/v1/imports/{id}")).await).await;
        assert_eq!(status["status"], "done");
        assert_eq!(status["rows_created"], 2);
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
