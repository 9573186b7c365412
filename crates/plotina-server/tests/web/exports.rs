//! Export from a list page: the button only for those with the right, the download of
//! the list's search and columns, and refusals shown on the list.

use plotina_core::schema::Entity;
use serde_json::json;

use crate::helpers::apps;

#[tokio::test]
async fn list_pages_export_their_search_and_columns() {
    for app in apps().await {
        for i in 0..3 {
            app.create(
                "head",
                Entity::Company,
                json!({"name": format!("Выгрузочный клиент {i}")}),
            )
            .await;
        }
        let head = app.browser("head").await;
        let page = head.get("/companies?q=выгрузочный").await;
        assert!(page.has("data-testid=\"export-form\""), "{}", app.backend);
        let m1 = app.browser("m1").await;
        assert!(!m1
            .get("/companies")
            .await
            .has("data-testid=\"export-form\""));

        let form = [
            ("q", "выгрузочный"),
            ("filter", ""),
            ("cols", "name|owner_id"),
            ("format", "csv"),
            ("back", "/companies?q=выгрузочный"),
        ];
        let file = head.post("/companies/export", &form).await;
        assert_eq!(file.status, 200, "{}", file.body);
        let disposition = file.headers["content-disposition"].to_str().unwrap();
        assert!(disposition.starts_with("attachment;"), "{disposition}");
        let lines: Vec<&str> = file.body.trim_start_matches('\u{feff}').lines().collect();
        assert_eq!(lines.len(), 4, "{}", file.body);
        assert_eq!(lines[0], "Название;Ответственный");
        assert!(
            lines[1].starts_with("Выгрузочный клиент 0;"),
            "{}",
            lines[1]
        );

        // Over the role's row limit: back to the list with the reason.
        let role = app
            .store
            .list(
                &app.fx.admin,
                Entity::Role,
                &plotina_store::ListParams {
                    filter: Some("code = \"head_of_sales\"".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap()
            .data[0]["id"]
            .as_i64()
            .unwrap();
        app.store
            .update(
                &app.fx.admin,
                Entity::Role,
                role,
                &json!({"export_row_limit": 2}).as_object().unwrap().clone(),
                None,
            )
            .await
            .unwrap();
        let refused = head.post("/companies/export", &form).await;
        assert_eq!(refused.status, 303);
        assert!(
            refused.location.contains("export_error=export_row_limit"),
            "{}",
            refused.location
        );
        let list = head.get(&refused.location).await;
        assert!(list.has("не больше 2 записей"), "{}", list.body);

        // Without the right, or without the form's token, nothing is exported.
        let refused = m1.post("/companies/export", &form).await;
        assert!(
            refused
                .location
                .contains("export_error=problem-export_forbidden"),
            "{}",
            refused.location
        );
        let forged = head.post_raw("/companies/export", &form).await;
        assert_eq!(forged.status, 403);
        let log = app.store.export_log(&app.fx.admin, 10).await.unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].source, "web");
        assert_eq!(log[0].q.as_deref(), Some("выгрузочный"));
        // The administrators' log page names who exported what.
        let admin = app.browser("admin").await;
        let page = admin.get("/settings/exports").await;
        assert_eq!(page.status, 200);
        assert!(page.has("data-testid=\"export-log\""), "{}", page.body);
        assert!(page.has(&app.fx.head.name), "{}", page.body);
        assert!(page.has("выгрузочный"), "{}", page.body);
        assert_eq!(head.get("/settings/exports").await.status, 403);
    }
}
