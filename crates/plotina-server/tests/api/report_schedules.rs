//! Scheduled reports over HTTP and through a real SMTP server: saving and refusing
//! schedules, and a due schedule mailing each recipient their own copy of the report as
//! an XLSX attachment, once.

use calamine::{Data, Reader};
use chrono::{DateTime, Utc};
use mail_parser::{MessageParser, MimeHeaders};
use plotina_server::mailer::{MailConfig, Mailer};
use sea_query::{Alias, Expr, Query};
use serde_json::{json, Value};

use crate::helpers::{apps, json as body, TestApp};
use crate::smtp::SmtpServer;

async fn set_user(app: &TestApp, id: i64, email: &str, language: &str) {
    let mut tx = app.store.pool().begin_write().await.expect("begin");
    tx.execute(
        Query::update()
            .table(Alias::new("users"))
            .value(Alias::new("email"), email)
            .value(Alias::new("language"), language)
            .and_where(Expr::col(Alias::new("id")).eq(id)),
    )
    .await
    .expect("set email");
    tx.commit().await.expect("commit");
}

/// The rows of the first sheet of an XLSX file, as text.
fn sheet(bytes: &[u8]) -> Vec<Vec<String>> {
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes.to_vec())).expect("xlsx");
    let range = book.worksheet_range_at(0).expect("a sheet").expect("range");
    range
        .rows()
        .map(|r| {
            r.iter()
                .map(|c| match c {
                    Data::Float(f) => f.to_string(),
                    Data::Int(i) => i.to_string(),
                    Data::Empty => String::new(),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn due_schedule_mails_each_recipient_their_own_report_once() {
    for app in apps().await {
        let fx = &app.fx;
        set_user(&app, fx.m1.user_id, "m1@plotina.test", "ru").await;
        set_user(&app, fx.head.user_id, "head@plotina.test", "en").await;
        // m1: two open deals (1000 and 2500 ₽); m2: one (400 ₽). None has a company.
        for (user, title, amount) in [
            ("m1", "Окна", "1000"),
            ("m1", "Двери", "2500"),
            ("m2", "Крыша", "400"),
        ] {
            app.create(
                user,
                "deals",
                json!({"title": title, "pipeline_id": fx.pipeline, "stage_id": fx.stage("Новая"), "amount": amount}),
            )
            .await;
        }
        let (status, saved) = body(
            app.post(
                "head",
                "/api/v1/report-schedules",
                &json!({"report": "by-industry", "params": "", "frequency": "weekly", "day": 1, "hour": 8,
                    "recipients": [fx.m1.user_id, fx.head.user_id]}),
            )
            .await,
        )
        .await;
        assert_eq!(status, 201, "{} {saved}", app.backend);
        assert_eq!(saved["frequency"], "weekly");
        let id = saved["id"].as_i64().expect("id");
        let due: DateTime<Utc> = saved["next_due"].as_str().unwrap().parse().unwrap();
        let (_, listed) = body(app.get("head", "/api/v1/report-schedules").await).await;
        assert_eq!(listed["data"].as_array().map(Vec::len), Some(1));

        // Not yet due: nothing is queued.
        let before = due - chrono::Duration::minutes(1);
        assert_eq!(
            plotina_server::report_schedule_job::run_once(&app.store, before)
                .await
                .unwrap(),
            0
        );
        let now = due + chrono::Duration::minutes(1);
        assert_eq!(
            plotina_server::report_schedule_job::run_once(&app.store, now)
                .await
                .unwrap(),
            1
        );
        let smtp = SmtpServer::start();
        let mailer = Mailer::new(&MailConfig {
            host: "127.0.0.1".into(),
            port: smtp.port,
            from: "Plotina CRM <crm@plotina.test>".into(),
            timeout_secs: 5,
            ..MailConfig::default()
        })
        .unwrap()
        .unwrap();
        assert_eq!(mailer.drain(app.store.pool(), now).await.unwrap(), 2);

        // Again at the same moment, and after a restart-like second pass: nothing more.
        assert_eq!(
            plotina_server::report_schedule_job::run_once(&app.store, now)
                .await
                .unwrap(),
            0
        );
        assert_eq!(mailer.drain(app.store.pool(), now).await.unwrap(), 0);
        let got = smtp.received();
        assert_eq!(got.len(), 2, "{}", app.backend);

        let mut by_rcpt = std::collections::BTreeMap::new();
        for m in &got {
            by_rcpt.insert(
                m.rcpt[0].clone(),
                MessageParser::default().parse(&m.raw).unwrap(),
            );
        }
        let m1_mail = &by_rcpt["m1@plotina.test"];
        let head_mail = &by_rcpt["head@plotina.test"];
        let date = now
            .with_timezone(&chrono_tz::Europe::Moscow)
            .format("%d.%m.%Y")
            .to_string();
        assert_eq!(
            m1_mail.subject(),
            Some(format!("Сделки по отраслям клиентов на {date}").as_str())
        );
        assert_eq!(
            head_mail.subject(),
            Some(format!("Deals by client industry for {date}").as_str())
        );
        let xlsx = |m: &mail_parser::Message| {
            let a = m.attachments().next().expect("attachment");
            assert!(a.attachment_name().unwrap().ends_with(".xlsx"));
            sheet(a.contents())
        };
        // m1 reads only their own deals: 2 deals, both open, 3500 ₽.
        let m1_rows = xlsx(m1_mail);
        assert_eq!(
            m1_rows[0][0..4],
            ["Отрасль", "Сделок", "Открытых сделок", "Сумма открытых"]
        );
        assert_eq!(m1_rows[1][0..4], ["Без компании", "2", "2", "3500.00"]);
        assert_eq!(m1_rows.len(), 2);
        // The head reads the department and its child: 3 deals, 3900 ₽.
        let head_rows = xlsx(head_mail);
        assert_eq!(
            head_rows[0][0..4],
            ["Industry", "Deals", "Open deals", "Open amount"]
        );
        assert_eq!(head_rows[1][0..4], ["No company", "3", "3", "3900.00"]);

        let (_, after) = body(app.get("admin", "/api/v1/report-schedules").await).await;
        let next: DateTime<Utc> = after["data"][0]["next_due"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(next, due + chrono::Duration::days(7));

        // Changing and deleting: the creator or an administrator; others see nothing.
        let put = |user: &'static str, b: Value| {
            let app = &app;
            async move {
                app.req(
                    user,
                    reqwest::Method::PUT,
                    &format!("/api/v1/report-schedules/{id}"),
                )
                .json(&b)
                .send()
                .await
                .unwrap()
            }
        };
        let good = json!({"report": "funnel", "params": "period_from=2026-01-01", "frequency": "monthly",
            "day": 31, "hour": 9, "recipients": [fx.m1.user_id], "enabled": false});
        assert_eq!(put("m2", good.clone()).await.status(), 404);
        let (status, changed) = body(put("admin", good).await).await;
        assert_eq!(status, 200, "{changed}");
        assert_eq!(
            (changed["report"].as_str(), changed["enabled"].as_bool()),
            (Some("funnel"), Some(false))
        );
        // The sources report can be sent as well.
        let sources = json!({"report": "sources", "params": "period_from=2026-01-01", "frequency": "weekly",
            "day": 1, "hour": 8, "recipients": [fx.m1.user_id], "enabled": true});
        let (status, changed) = body(put("admin", sources).await).await;
        assert_eq!(status, 200, "{changed}");
        assert_eq!(changed["report"].as_str(), Some("sources"));
        assert_eq!(
            app.delete("m1", &format!("/api/v1/report-schedules/{id}"))
                .await
                .status(),
            404
        );
        assert_eq!(
            app.delete("head", &format!("/api/v1/report-schedules/{id}"))
                .await
                .status(),
            204
        );
        assert_eq!(
            app.delete("head", &format!("/api/v1/report-schedules/{id}"))
                .await
                .status(),
            404
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_schedules_are_refused_with_the_field() {
    for app in apps().await {
        let fx = &app.fx;
        let base = json!({"report": "funnel", "params": "", "frequency": "weekly", "day": 1, "hour": 8,
            "recipients": [fx.m1.user_id]});
        let with = |k: &str, v: Value| {
            let mut b = base.clone();
            b[k] = v;
            b
        };
        let before = app.counts().await;
        for (b, field, code) in [
            (
                with("report", json!("weather")),
                "report",
                "report_schedule_kind",
            ),
            (
                with("frequency", json!("daily")),
                "frequency",
                "report_schedule_frequency",
            ),
            (with("day", json!(8)), "day", "report_schedule_day"),
            (
                with("day", json!("monday")),
                "day",
                "report_schedule_integer",
            ),
            (with("hour", json!(24)), "hour", "report_schedule_hour"),
            (
                with("recipients", json!([])),
                "recipients",
                "report_schedule_no_recipients",
            ),
            (
                with("recipients", json!([999_999])),
                "recipients",
                "report_schedule_bad_recipient",
            ),
            (
                with("recipients", json!(["m1"])),
                "recipients",
                "report_schedule_bad_recipient_id",
            ),
            (
                with("params", json!("period_from=2026-13-01")),
                "period_from",
                "report_bad_date",
            ),
            (
                with(
                    "params",
                    json!("period_from=2026-03-01&period_to=2026-02-01"),
                ),
                "period_to",
                "report_period_order",
            ),
            (
                with("params", json!("filter=amount >>> 5")),
                "filter",
                "filter_",
            ),
            (
                with("params", json!("pipeline=999999")),
                "pipeline",
                "report_schedule_bad_pipeline",
            ),
            (with("colour", json!("red")), "colour", "unknown_field"),
            (
                with("params", json!("period_from=2026-01-01\u{0}")),
                "params",
                "text_control_chars",
            ),
            (with("hour", json!(8.5)), "hour", "report_schedule_integer"),
        ] {
            let resp = app
                .req("head", reqwest::Method::POST, "/api/v1/report-schedules")
                .header("accept-language", "en")
                .json(&b)
                .send()
                .await
                .unwrap();
            let (status, p) = body(resp).await;
            assert_eq!(status, 422, "{b} → {p}");
            let errors = p["errors"].as_array().expect("errors");
            assert!(
                errors.iter().any(|e| e["field"] == field
                    && e["code"].as_str().is_some_and(|c| c.starts_with(code))),
                "{b} → {p}"
            );
            assert!(
                errors.iter().all(|e| e["message"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty() && m != e["code"].as_str().unwrap_or(""))),
                "{p}"
            );
        }
        // Managers may not export deals, so may not schedule a report.
        let (status, _) = body(app.post("m1", "/api/v1/report-schedules", &base).await).await;
        assert_eq!(status, 403);
        assert_eq!(
            app.delete("head", "/api/v1/report-schedules/abc")
                .await
                .status(),
            404
        );
        assert!(app
            .store
            .report_schedules(&fx.admin)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(app.counts().await, before, "refusals leave nothing behind");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_figures_as_json() {
    for app in apps().await {
        let fx = &app.fx;
        for (user, stage, amount) in [
            ("m1", "Успешно", "1000"),
            ("m2", "Успешно", "400"),
            ("m1", "Проиграна", "50"),
        ] {
            let mut b = json!({"title": format!("{user} {stage}"), "pipeline_id": fx.pipeline,
                "stage_id": fx.stage(stage), "amount": amount});
            if stage == "Проиграна" {
                b["lost_reason"] = json!("Дорого");
            }
            app.create(user, "deals", b).await;
        }
        // Forty days either side of today, so the deals closed just now are inside.
        let today = Utc::now().date_naive();
        let period = format!(
            "period_from={}&period_to={}",
            today - chrono::Duration::days(40),
            today + chrono::Duration::days(40)
        );
        let url = format!("/api/v1/reports/dashboard?{period}");
        // The administrator: 1000 + 400 ₽ won in two deals, one lost → 2 / 3.
        let (status, all) = body(app.get("admin", &url).await).await;
        assert_eq!(status, 200, "{all}");
        let c = &all["data"]["current"];
        assert_eq!(
            (
                c["won_amount"].as_i64(),
                c["won_count"].as_i64(),
                c["lost_count"].as_i64()
            ),
            (Some(140_000), Some(2), Some(1))
        );
        assert_eq!(c["win_rate"], json!(0.6667));
        assert_eq!(all["data"]["months"].as_array().map(Vec::len), Some(12));
        // The manager m1 reads only own deals: 1000 ₽ won, one lost → 1 / 2.
        let (_, own) = body(app.get("m1", &url).await).await;
        let c = &own["data"]["current"];
        assert_eq!(
            (
                c["won_amount"].as_i64(),
                c["won_count"].as_i64(),
                c["win_rate"].as_f64()
            ),
            (Some(100_000), Some(1), Some(0.5))
        );
        for bad in [
            "period_from=2026-13-01",
            "period_from=2000-01-01",
            "owner=abc",
            "format=xlsx",
        ] {
            let (status, p) = body(
                app.get("admin", &format!("/api/v1/reports/dashboard?{bad}"))
                    .await,
            )
            .await;
            assert_eq!(status, 400, "{bad}: {p}");
        }
    }
}
