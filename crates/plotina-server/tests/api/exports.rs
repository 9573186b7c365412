//! Export over HTTP: the three formats as downloads, the right, bad requests, the log
//! and the administrators' notice above the configured threshold.

use plotina_store::testing;
use reqwest::Method;
use serde_json::json;

use crate::helpers::{json, spawn_with};

#[tokio::test]
async fn exports_are_downloads_with_rights_limits_and_a_log() {
    for db in testing::all().await {
        let app = spawn_with(db, |c| c.export_notify_above_rows = 1).await;
        for (user, name) in [("admin", "=2+3"), ("m1", "ООО «Север»")] {
            let resp = app
                .req(user, Method::POST, "/api/v1/companies")
                .header("x-confirm-duplicates", "true")
                .json(&json!({"name": name, "tags": ["выгрузка"]}))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 201);
        }
        let body = |format: &str| {
            json!({"entity": "companies", "format": format, "filter": "tags = \"выгрузка\"",
                   "columns": ["name", "owner_id"]})
        };

        let resp = app.post("admin", "/api/v1/exports", &body("csv")).await;
        assert_eq!(resp.status(), 200);
        let h = resp.headers().clone();
        assert_eq!(h["content-type"], "text/csv; charset=utf-8");
        let disposition = h["content-disposition"].to_str().unwrap();
        assert!(
            disposition.starts_with("attachment; filename=\"companies-"),
            "{disposition}"
        );
        assert_eq!(h["x-export-rows"], "2");
        let text = resp.text().await.unwrap();
        let lines: Vec<&str> = text.trim_start_matches('\u{feff}').lines().collect();
        assert_eq!(lines[0], "Название;Ответственный");
        assert_eq!(lines[1].split(';').next(), Some("'=2+3"));
        assert!(lines[2].contains(&app.fx.m1.name), "{text}");

        // Compressed on the way out: the whole body arrives (the stream ends cleanly).
        let resp = app
            .req("admin", Method::POST, "/api/v1/exports")
            .header("accept-encoding", "gzip")
            .json(&body("csv"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert!(!resp.bytes().await.expect("a complete body").is_empty());

        let resp = app.post("admin", "/api/v1/exports", &body("xlsx")).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(&resp.bytes().await.unwrap()[..2], b"PK");
        let (status, doc) = json(app.post("admin", "/api/v1/exports", &body("json")).await).await;
        assert_eq!(status, 200);
        assert_eq!(doc[0]["name"], "=2+3", "JSON is data, not a spreadsheet");
        assert_eq!(doc[1]["owner_id"], app.fx.m1.user_id);

        // A manager has no export right; bad requests are 4xx and log nothing.
        let (status, problem) = json(app.post("m1", "/api/v1/exports", &body("csv")).await).await;
        assert_eq!(status, 403, "{problem}");
        assert_eq!(problem["code"], "export_forbidden");
        for (bad, code) in [
            (json!({"entity": "companies", "format": "pdf"}), 400),
            (json!({"entity": "users"}), 400),
            (json!({"entity": "companies", "delimiter": "|"}), 400),
            (json!({"entity": "companies", "columns": ["salary"]}), 422),
            (json!({"entity": "companies", "filter": "name ="}), 400),
            (json!({"entity": "companies", "extra": 1}), 400),
        ] {
            let r = app.post("admin", "/api/v1/exports", &bad).await;
            assert_eq!(r.status(), code, "{bad}");
        }

        let (status, log) = json(app.get("admin", "/api/v1/exports").await).await;
        assert_eq!(status, 200);
        let entries = log["data"].as_array().unwrap();
        assert_eq!(entries.len(), 4, "{log}");
        assert_eq!(entries[0]["format"], "json");
        assert_eq!(entries[3]["rows"], 2);
        assert_eq!(entries[3]["source"], "api");
        assert_eq!(entries[3]["filter"], "tags = \"выгрузка\"");
        assert_eq!(app.get("m1", "/api/v1/exports").await.status(), 403);

        // Each export above the threshold (1 row here) told the administrator.
        let (_, notebook) = json(app.get("admin", "/api/v1/notebook").await).await;
        let notices = notebook["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["source"] == "export")
            .count();
        assert_eq!(notices, 4, "{notebook}");
    }
}
