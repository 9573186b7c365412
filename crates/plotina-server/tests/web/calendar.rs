//! The calendar feed on the profile page: create shows the absolute secret URL once,
//! the URL serves iCalendar, rotating and revoking make old URLs answer 404.

use chrono::{Duration, Utc};
use plotina_core::schema::Entity;
use serde_json::json;

use crate::helpers::apps;

/// The URL inside the `calendar-url` notice.
fn feed_url(body: &str) -> String {
    let part = body
        .split("data-testid=\"calendar-url\"")
        .nth(1)
        .unwrap_or("");
    let start = part.find("http").unwrap_or(0);
    let end = part[start..]
        .find(".ics")
        .map(|i| start + i + 4)
        .unwrap_or(start);
    part[start..end].to_string()
}

#[tokio::test]
async fn the_profile_page_creates_rotates_and_revokes_the_feed() {
    for app in apps().await {
        let due = (Utc::now() + Duration::days(2)).to_rfc3339();
        app.create(
            "m1",
            Entity::Activity,
            json!({"kind": "meeting", "subject": "Встреча в «Ромашке»", "due_at": due}),
        )
        .await;
        let b = app.browser("m1").await;
        let page = b.get("/settings/profile").await;
        assert_eq!(page.status, 200, "{}", app.backend);
        assert!(page.has("Ссылка на календарь не создана."));
        assert!(page.has("Подписной календарь"), "how to add it to a phone");

        let forged = b.post_raw("/settings/profile/calendar", &[]).await;
        assert_eq!(forged.status, 403);
        assert!(b.get("/settings/profile").await.has("не создана"));

        let created = b.post("/settings/profile/calendar", &[]).await;
        assert_eq!(created.status, 200, "{}", created.body);
        let url = feed_url(&created.body);
        assert!(
            url.starts_with(&format!("{}/calendar/cal_", app.base)),
            "absolute URL: {url:?}"
        );
        assert!(created.has("Ссылка действует с"));
        // The URL is shown once; the page afterwards only says the feed is active.
        let later = b.get("/settings/profile").await;
        assert!(!later.has(&url) && later.has("Ссылка действует с"));

        let plain = reqwest::Client::new();
        let ics = plain.get(&url).send().await.unwrap();
        assert_eq!(ics.status(), 200);
        assert!(ics
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/calendar")));
        let text = ics.text().await.unwrap();
        assert!(text.contains("BEGIN:VCALENDAR") && text.contains("Встреча в «Ромашке»"));

        let rotated = b.post("/settings/profile/calendar", &[]).await;
        let url2 = feed_url(&rotated.body);
        assert_ne!(url2, url);
        assert_eq!(plain.get(&url).send().await.unwrap().status(), 404);
        assert_eq!(plain.get(&url2).send().await.unwrap().status(), 200);

        let revoked = b.post("/settings/profile/calendar/revoke", &[]).await;
        assert_eq!(revoked.status, 200);
        assert!(revoked.has("Ссылка отозвана") && revoked.has("не создана"));
        assert_eq!(plain.get(&url2).send().await.unwrap().status(), 404);
    }
}
