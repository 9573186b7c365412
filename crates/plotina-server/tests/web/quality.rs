//! The data-quality page: shares of empty key fields per owner, and the records
//! without a planned next step as links.

use plotina_core::schema::Entity;
use serde_json::json;

use crate::helpers::apps;

#[tokio::test]
async fn quality_page_shows_empty_fields_and_idle_records() {
    for app in apps().await {
        app.create(
            "m1",
            Entity::Company,
            json!({"name": "С ИНН", "inn": "7707083893", "industry": "retail"}),
        )
        .await;
        app.create("m1", Entity::Company, json!({"name": "Без ИНН"}))
            .await;
        let b = app.browser("admin").await;
        let page = b.get("/reports/quality?entity=company").await;
        assert_eq!(page.status, 200, "{}", app.backend);
        assert!(page.has("data-testid=\"quality-table\""));
        // m1 has two companies, one without INN: 50 %.
        let row = page
            .body
            .split("<tr>")
            .find(|r| r.contains(&app.fx.m1.name))
            .expect("a row for m1");
        assert!(row.contains(">2<"), "{row}");
        assert!(row.contains("50 %"), "{row}");
        // Both companies have no planned activity yet.
        assert!(page.has("data-testid=\"quality-idle\""));
        assert!(page.has("Без ИНН"));
        // Bad input falls back to companies, never an error.
        assert_eq!(b.get("/reports/quality?entity=role").await.status, 200);
    }
}
