//! The secret calendar feed: created, parsed by an iCalendar parser, rotated, revoked.

use std::str::FromStr;

use chrono::{Duration, Utc};
use icalendar::{Calendar, CalendarDateTime, Component, DatePerhapsTime};
use serde_json::json;

use crate::helpers::{apps, json as body};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calendar_feed_lists_my_dated_activities_and_respects_revocation() {
    for app in apps().await {
        let m1 = app.fx.m1.user_id;
        let day = (Utc::now() + Duration::days(3)).date_naive();
        let at = |h: u32| format!("{day}T{h:02}:00:00Z");
        let meeting = app
            .create(
                "m1",
                "activities",
                json!({"kind": "meeting", "subject": "Встреча с ООО «Ромашка»", "body": "Переговорная 2", "due_at": at(10), "duration_min": 90}),
            )
            .await;
        let task = app
            .create(
                "m1",
                "activities",
                json!({"kind": "task", "subject": "Отправить КП", "due_at": at(15)}),
            )
            .await;
        // Not in m1's feed: a note, an undated task, m2's task, a deleted task.
        app.create(
            "m1",
            "activities",
            json!({"kind": "note", "subject": "Заметка", "due_at": at(11)}),
        )
        .await;
        app.create(
            "m1",
            "activities",
            json!({"kind": "task", "subject": "Без срока"}),
        )
        .await;
        app.create(
            "m2",
            "activities",
            json!({"kind": "task", "subject": "Чужая", "due_at": at(12)}),
        )
        .await;
        let gone = app
            .create(
                "m1",
                "activities",
                json!({"kind": "task", "subject": "Удалена", "due_at": at(13)}),
            )
            .await;
        let resp = app
            .delete("m1", &format!("/api/v1/activities/{}", gone["id"]))
            .await;
        assert_eq!(resp.status(), 204);

        let (status, st) = body(app.get("m1", "/api/v1/calendar/feed").await).await;
        assert_eq!((status, &st["active"]), (200, &json!(false)));
        let (status, created) =
            body(app.post("m1", "/api/v1/calendar/feed", &json!({})).await).await;
        assert_eq!(status, 201, "{created}");
        let url = created["url"].as_str().expect("url").to_string();
        assert!(
            url.starts_with("/calendar/cal_") && url.ends_with(".ics"),
            "{url}"
        );

        // No session needed: the URL is the credential.
        let resp = app.client.get(app.url(&url)).send().await.expect("get");
        assert_eq!(resp.status(), 200);
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap_or("")
            .starts_with("text/calendar"));
        let text = resp.text().await.expect("text");
        let cal = Calendar::from_str(&text).expect("parses as iCalendar");
        let events: Vec<_> = cal.components.iter().filter_map(|c| c.as_event()).collect();
        assert_eq!(events.len(), 2, "{text}");
        assert_eq!(events[0].get_summary(), Some("Встреча с ООО «Ромашка»"));
        assert_eq!(events[0].get_description(), Some("Переговорная 2"));
        assert_eq!(
            events[0].get_uid(),
            Some(format!("activity-{}@plotina", meeting["id"]).as_str())
        );
        let start = |d: Option<DatePerhapsTime>| match d {
            Some(DatePerhapsTime::DateTime(CalendarDateTime::Utc(t))) => Some(t.to_rfc3339()),
            _ => None,
        };
        assert_eq!(
            start(events[0].get_start()),
            Some(format!("{day}T10:00:00+00:00"))
        );
        assert_eq!(
            start(events[0].get_end()),
            Some(format!("{day}T11:30:00+00:00"))
        );
        assert_eq!(events[1].get_summary(), Some("Отправить КП"));
        assert_eq!(
            events[1].get_uid(),
            Some(format!("activity-{}@plotina", task["id"]).as_str())
        );
        assert_eq!(
            start(events[1].get_end()),
            Some(format!("{day}T15:30:00+00:00"))
        );

        // Rotation: the old URL is dead, the new one works.
        let (_, rotated) = body(app.post("m1", "/api/v1/calendar/feed", &json!({})).await).await;
        let new_url = rotated["url"].as_str().expect("url").to_string();
        assert_ne!(new_url, url);
        assert_eq!(
            app.client
                .get(app.url(&url))
                .send()
                .await
                .expect("get")
                .status(),
            404
        );
        assert_eq!(
            app.client
                .get(app.url(&new_url))
                .send()
                .await
                .expect("get")
                .status(),
            200
        );

        // Revocation: 404 from then on.
        let resp = app.delete("m1", "/api/v1/calendar/feed").await;
        assert_eq!(resp.status(), 204);
        assert_eq!(
            app.client
                .get(app.url(&new_url))
                .send()
                .await
                .expect("get")
                .status(),
            404
        );
        let (_, st) = body(app.get("m1", "/api/v1/calendar/feed").await).await;
        assert_eq!(st["active"], json!(false));
        assert_eq!(
            app.client
                .get(app.url("/calendar/nonsense.ics"))
                .send()
                .await
                .expect("get")
                .status(),
            404
        );
        let _ = m1;
    }
}
