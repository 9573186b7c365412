//! Scheduled reports on every backend `testing::all()` provides: saving, refusing bad
//! input, due times written out by hand, and claiming a due time exactly once.

use chrono::{DateTime, Utc};
use plotina_core::error::DomainError;
use plotina_store::mail::{self, NewMail};
use plotina_store::reports::schedules::{Frequency, ScheduleInput};
use plotina_store::testing;
use plotina_store::StoreError;

fn at(s: &str) -> DateTime<Utc> {
    s.parse().expect("timestamp")
}

fn codes(e: StoreError) -> Vec<(String, String)> {
    match e {
        StoreError::Domain(DomainError::Invalid(errs)) => errs
            .into_iter()
            .map(|e| (e.field.to_string(), e.code.to_string()))
            .collect(),
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_are_saved_due_and_claimed_once() {
    for db in testing::all().await {
        eprintln!("backend: {}", db.name());
        let (store, fx) = testing::seeded_store(&db).await;
        // The seeded users live in Moscow (UTC+3, no daylight saving).
        assert_eq!(fx.head.time_zone, chrono_tz::Europe::Moscow);
        // Tuesday 24 November 2026, 10:00 in Moscow.
        let now = at("2026-11-24T07:00:00Z");
        let input = ScheduleInput {
            report: "funnel".into(),
            params: "period_from=2026-11-01&period_to=2026-11-30".into(),
            frequency: "weekly".into(),
            day: 1,
            hour: 8,
            recipients: vec![fx.m1.user_id, fx.head.user_id, fx.m1.user_id],
            enabled: true,
        };
        let s = store
            .create_report_schedule(&fx.head, &input, now)
            .await
            .expect("create");
        assert_eq!(s.frequency, Frequency::Weekly);
        assert_eq!(s.time_zone, "Europe/Moscow");
        assert_eq!(s.created_by, fx.head.user_id);
        let mut want = vec![fx.head.user_id, fx.m1.user_id];
        want.sort_unstable();
        assert_eq!(s.recipients, want, "duplicates dropped, sorted");
        // Weekly on Monday 08:00 Moscow from Tuesday → Monday 30 November, 05:00 UTC.
        assert_eq!(s.next_due, at("2026-11-30T05:00:00Z"));
        assert_eq!(s.last_sent_at, None);

        // Monthly on the 31st at 09:00: November has 30 days → 30 November 06:00 UTC.
        let monthly = ScheduleInput {
            frequency: "monthly".into(),
            day: 31,
            hour: 9,
            report: "forecast".into(),
            params: String::new(),
            ..input.clone()
        };
        let s2 = store
            .update_report_schedule(&fx.head, s.id, &monthly, now)
            .await
            .expect("update");
        assert_eq!(s2.next_due, at("2026-11-30T06:00:00Z"));
        assert_eq!(s2.report, "forecast");

        // Bad input: every problem at once, as 422-style field errors.
        let bad = ScheduleInput {
            report: "weather".into(),
            frequency: "daily".into(),
            day: 0,
            hour: 24,
            recipients: vec![],
            ..input.clone()
        };
        let mut got = codes(
            store
                .create_report_schedule(&fx.head, &bad, now)
                .await
                .unwrap_err(),
        );
        got.sort();
        assert_eq!(
            got,
            vec![
                (
                    "frequency".to_string(),
                    "report_schedule_frequency".to_string()
                ),
                ("hour".to_string(), "report_schedule_hour".to_string()),
                (
                    "recipients".to_string(),
                    "report_schedule_no_recipients".to_string()
                ),
                ("report".to_string(), "report_schedule_kind".to_string()),
            ]
        );
        let weekday_8 = ScheduleInput {
            day: 8,
            ..input.clone()
        };
        assert_eq!(
            codes(
                store
                    .create_report_schedule(&fx.head, &weekday_8, now)
                    .await
                    .unwrap_err()
            ),
            vec![("day".to_string(), "report_schedule_day".to_string())]
        );
        let stranger = ScheduleInput {
            recipients: vec![fx.m1.user_id, 999_999],
            ..input.clone()
        };
        assert_eq!(
            codes(
                store
                    .create_report_schedule(&fx.head, &stranger, now)
                    .await
                    .unwrap_err()
            ),
            vec![(
                "recipients".to_string(),
                "report_schedule_bad_recipient".to_string()
            )]
        );
        // A manager may not export deals, so may not schedule either.
        assert!(matches!(
            store.create_report_schedule(&fx.m1, &input, now).await,
            Err(StoreError::Domain(DomainError::Forbidden(_)))
        ));

        // The creator and administrators see and change it; others get NotFound.
        assert_eq!(store.report_schedules(&fx.head).await.unwrap().len(), 1);
        assert_eq!(store.report_schedules(&fx.admin).await.unwrap().len(), 1);
        assert!(store.report_schedules(&fx.m1).await.unwrap().is_empty());
        assert!(matches!(
            store.report_schedule(&fx.m1, s.id).await,
            Err(StoreError::Domain(DomainError::NotFound))
        ));
        assert!(matches!(
            store.delete_report_schedule(&fx.m2, s.id).await,
            Err(StoreError::Domain(DomainError::NotFound))
        ));

        // Back to weekly Monday 08:00. Nothing is due on Sunday; on Monday 08:00 it is.
        store
            .update_report_schedule(&fx.head, s.id, &input, now)
            .await
            .unwrap();
        assert!(store
            .due_report_schedules(at("2026-11-29T20:00:00Z"))
            .await
            .unwrap()
            .is_empty());
        // The server was down for two weeks: on Tuesday 15 December it sends once and
        // the next due time is the following Monday, not the missed ones.
        let late = at("2026-12-15T07:00:00Z");
        let due = store.due_report_schedules(late).await.unwrap();
        assert_eq!(due.len(), 1);
        let mail = |to: &str| NewMail {
            to: to.into(),
            subject: "Воронка".into(),
            body_text: "во вложении".into(),
            source: format!("report:{}", due[0].id),
            ..Default::default()
        };
        assert!(store
            .complete_report_schedule(&due[0], late, &[mail("m1@plotina.test")])
            .await
            .unwrap());
        // A second worker that read the same due time claims nothing and queues nothing.
        assert!(!store
            .complete_report_schedule(&due[0], late, &[mail("m1@plotina.test")])
            .await
            .unwrap());
        assert_eq!(mail::outbox(store.pool()).await.unwrap().len(), 1);
        let after = store.report_schedule(&fx.head, s.id).await.unwrap();
        assert_eq!(after.next_due, at("2026-12-21T05:00:00Z"));
        assert_eq!(after.last_sent_at, Some(late));
        assert!(store.due_report_schedules(late).await.unwrap().is_empty());

        // A disabled schedule is never due.
        let off = ScheduleInput {
            enabled: false,
            ..input.clone()
        };
        store
            .update_report_schedule(&fx.admin, s.id, &off, now)
            .await
            .unwrap();
        assert!(store
            .due_report_schedules(at("2027-06-01T00:00:00Z"))
            .await
            .unwrap()
            .is_empty());

        store.delete_report_schedule(&fx.head, s.id).await.unwrap();
        assert!(store.report_schedules(&fx.admin).await.unwrap().is_empty());
    }
}
