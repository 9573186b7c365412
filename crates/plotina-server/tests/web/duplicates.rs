//! Possible duplicates on the create and edit forms: shown with links (or hidden when
//! the user may not open them), nothing saved until the user confirms.

use plotina_core::schema::Entity;
use serde_json::json;

use crate::helpers::apps;

#[tokio::test]
async fn forms_show_possible_duplicates_and_save_only_when_confirmed() {
    for app in apps().await {
        let existing = app
            .create(
                "head",
                Entity::Company,
                json!({"name": "ООО «Ромашка»", "inn": "7707083893"}),
            )
            .await;
        let b = app.browser("head").await;
        let typed = [("name", "Ромашка ООО"), ("inn", "7707083893")];
        let before = app.counts().await["companies"];
        let page = b.post("/companies/new", &typed).await;
        assert_eq!(page.status, 409, "{}", app.backend);
        assert!(
            page.has("data-testid=\"possible-duplicates\""),
            "{}",
            page.body
        );
        assert!(
            page.has(&format!("href=\"/companies/{existing}\"")),
            "{}",
            page.body
        );
        assert!(page.has("ИНН"), "the reason is named");
        assert!(page.has("value=\"Ромашка ООО\""), "what was typed stays");
        assert_eq!(app.counts().await["companies"], before, "nothing saved");

        let mut confirmed = typed.to_vec();
        confirmed.push(("confirm_duplicates", "1"));
        let saved = b.post("/companies/new", &confirmed).await;
        assert_eq!(saved.status, 303, "{}", saved.body);
        assert_eq!(app.counts().await["companies"], before + 1);

        // Editing another company into a look-alike asks as well.
        let other = app
            .create("head", Entity::Company, json!({"name": "Лютик"}))
            .await;
        let form = b.get(&format!("/companies/{other}/edit")).await;
        let version = crate::helpers::input_value(&form.body, "version").unwrap();
        let page = b
            .post(
                &format!("/companies/{other}/edit"),
                &[
                    ("version", &version),
                    ("name", "Лютик"),
                    ("inn", "7707083893"),
                ],
            )
            .await;
        assert_eq!(page.status, 409, "{}", page.body);
        assert!(page.has("data-testid=\"confirm-duplicates\""));
    }
}
