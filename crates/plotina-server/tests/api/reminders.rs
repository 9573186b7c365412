//! The mailer against a real SMTP server on loopback, and reminders reaching the user's
//! browser over SSE and their mailbox.

use std::time::Duration;

use chrono::Utc;
use mail_parser::{MessageParser, MimeHeaders};
use plotina_server::mailer::{MailConfig, Mailer};
use plotina_store::mail::{self, MailAttachment, NewMail};
use plotina_store::testing;
use serde_json::{json, Value};

use crate::helpers::{json as body, spawn, spawn_with};
use crate::smtp::{dead_port, SmtpServer};

fn config(port: u16) -> MailConfig {
    MailConfig {
        host: "127.0.0.1".into(),
        port,
        from: "Plotina CRM <crm@plotina.test>".into(),
        timeout_secs: 5,
        max_attempts: 5,
        ..MailConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mailer_sends_queued_mail_once_and_retries_failures() {
    for db in testing::all().await {
        let app = spawn(db).await;
        let pool = app.store.pool();
        let smtp = SmtpServer::start();
        let mut tx = pool.begin_write().await.expect("begin");
        mail::queue_mail(
            &mut tx,
            &NewMail {
                to: "ivanov@romashka.ru".into(),
                subject: "Счёт № 15 на оплату".into(),
                body_text: "Добрый день!\nСчёт во вложении.".into(),
                attachments: vec![MailAttachment {
                    name: "schet-15.txt".into(),
                    content_type: "text/plain".into(),
                    // "Итого: 1500.00"
                    base64: "0JjRgtC+0LPQvjogMTUwMC4wMA==".into(),
                }],
                source: "test".into(),
                dedupe_key: None,
            },
        )
        .await
        .expect("queue");
        tx.commit().await.expect("commit");

        // The mail server is down: the attempt is recorded, the message stays queued.
        let now = Utc::now() + chrono::Duration::seconds(1);
        let down = Mailer::new(&config(dead_port()))
            .expect("config")
            .expect("on");
        assert_eq!(down.drain(pool, now).await.expect("drain"), 0);
        let out = mail::outbox(pool).await.expect("outbox");
        assert_eq!((out[0].state.as_str(), out[0].attempts), ("queued", 1));
        assert!(out[0].last_error.is_some(), "{out:?}");

        // Backoff: not before a minute has passed, then it goes through.
        let up = Mailer::new(&config(smtp.port))
            .expect("config")
            .expect("on");
        assert_eq!(up.drain(pool, now).await.expect("drain"), 0);
        let later = now + chrono::Duration::seconds(61);
        assert_eq!(up.drain(pool, later).await.expect("drain"), 1);
        assert_eq!(up.drain(pool, later).await.expect("drain"), 0);
        let out = mail::outbox(pool).await.expect("outbox");
        assert_eq!((out[0].state.as_str(), out[0].attempts), ("sent", 2));

        let got = smtp.received();
        assert_eq!(got.len(), 1, "{}", app.backend);
        assert_eq!(got[0].rcpt, vec!["ivanov@romashka.ru".to_string()]);
        let msg = MessageParser::default().parse(&got[0].raw).expect("parse");
        assert_eq!(msg.subject(), Some("Счёт № 15 на оплату"));
        let to = msg.to().and_then(|a| a.first()).and_then(|a| a.address());
        assert_eq!(to, Some("ivanov@romashka.ru"));
        let from = msg.from().and_then(|a| a.first()).and_then(|a| a.address());
        assert_eq!(from, Some("crm@plotina.test"));
        assert_eq!(
            // SMTP carries CRLF line ends.
            msg.body_text(0).map(|b| b.trim_end().replace("\r\n", "\n")),
            Some("Добрый день!\nСчёт во вложении.".to_string())
        );
        let att = msg.attachments().next().expect("attachment");
        assert_eq!(att.attachment_name(), Some("schet-15.txt"));
        assert_eq!(std::str::from_utf8(att.contents()), Ok("Итого: 1500.00"));
    }
}

/// Reads SSE events (`event:` name and `data:` JSON) from a streaming response.
struct Events {
    resp: reqwest::Response,
    buf: String,
}

impl Events {
    async fn next(&mut self) -> (String, Value) {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut name = String::new();
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        name = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim());
                    }
                }
                if name.is_empty() {
                    continue; // keep-alive comment
                }
                return (name, serde_json::from_str(&data).unwrap_or(Value::Null));
            }
            let chunk = tokio::time::timeout(Duration::from_secs(20), self.resp.chunk())
                .await
                .expect("an event within 20 s")
                .expect("stream")
                .expect("stream open");
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

async fn stream(app: &crate::helpers::TestApp, user: &str) -> reqwest::Response {
    app.req(user, reqwest::Method::GET, "/api/v1/notebook/stream")
        .header("accept", "text/event-stream")
        .send()
        .await
        .expect("stream")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminder_reaches_the_browser_over_sse_and_the_mailbox() {
    for db in testing::all().await {
        let smtp = SmtpServer::start();
        let port = smtp.port;
        let app = spawn_with(db, |c| {
            c.mail = MailConfig {
                poll_secs: 1,
                ..config(port)
            };
            c.reminder_poll_secs = 1;
        })
        .await;
        let m1 = app.fx.m1.user_id;
        let (status, _) = body(
            app.patch(
                "admin",
                &format!("/api/v1/users/{m1}"),
                &json!({"email": "m1@plotina.test", "language": "en", "time_zone": "UTC"}),
            )
            .await,
        )
        .await;
        assert_eq!(status, 200);

        // Unauthenticated streams are refused.
        let anon = app
            .client
            .get(app.url("/api/v1/notebook/stream"))
            .send()
            .await
            .expect("get");
        assert_eq!(anon.status(), 401);

        // Not an event-stream client: a clear 400, not an endless response.
        let (status, problem) = body(app.get("m1", "/api/v1/notebook/stream").await).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (400, Some("bad_request"))
        );
        let resp = stream(&app, "m1").await;
        assert_eq!(resp.status(), 200);
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap_or("")
            .starts_with("text/event-stream"));
        let mut events = Events {
            resp,
            buf: String::new(),
        };
        assert_eq!(events.next().await, ("badge".into(), json!({"count": 0})));

        // Due in five minutes, reminded ten minutes before: due now.
        let due = (Utc::now() + chrono::Duration::minutes(5))
            .format("%Y-%m-%dT%H:%M:00Z")
            .to_string();
        let task = app
            .create(
                "m1",
                "activities",
                json!({"kind": "task", "subject": "Call Romashka back", "due_at": due, "remind_before_min": 10}),
            )
            .await;
        let (name, toast) = events.next().await;
        assert_eq!(name, "toast");
        assert_eq!(toast["kind"], "reminder");
        assert_eq!(toast["text"], "Call Romashka back");
        assert_eq!(toast["record"], format!("/activities/{}", task["id"]));
        assert_eq!(events.next().await, ("badge".into(), json!({"count": 1})));

        let got = smtp.wait_for(1).await;
        assert_eq!(got[0].rcpt, vec!["m1@plotina.test".to_string()]);
        let msg = MessageParser::default().parse(&got[0].raw).expect("parse");
        assert_eq!(msg.subject(), Some("Reminder: Call Romashka back"));
        let text = msg.body_text(0).expect("body").to_string();
        assert!(text.contains("Reminded 10 min before."), "{text}");
        // The pass keeps running: nothing is sent or posted twice.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert_eq!(smtp.received().len(), 1);
        assert_eq!(app.counts().await["notebook_items"], 1);
        // m2 saw nothing of it.
        let other = stream(&app, "m2").await;
        let mut other = Events {
            resp: other,
            buf: String::new(),
        };
        assert_eq!(other.next().await, ("badge".into(), json!({"count": 0})));
    }
}
