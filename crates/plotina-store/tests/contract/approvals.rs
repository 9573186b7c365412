//! The mail queue's claims and the reminders' never-lost, never-doubled passes.

use super::*;
use plotina_store::mail::{self, MailAttachment, NewMail};
use plotina_store::reminders;

async fn queue(t: &T, to: &str, subject: &str) -> i64 {
    let mut tx = t.store.pool().begin_write().await.expect("begin");
    let id = mail::queue_mail(
        &mut tx,
        &NewMail {
            to: to.into(),
            subject: subject.into(),
            body_text: "text".into(),
            attachments: vec![MailAttachment {
                name: "a.txt".into(),
                content_type: "text/plain".into(),
                base64: "aGk=".into(),
            }],
            source: "test".into(),
            dedupe_key: None,
        },
    )
    .await
    .expect("queue")
    .expect("new mail");
    tx.commit().await.expect("commit");
    id
}

pub async fn mail_claims_are_exclusive_and_survive_a_restart(t: &T) {
    let pool = t.store.pool();
    let a = queue(t, "a@example.ru", "A").await;
    let b = queue(t, "b@example.ru", "B").await;
    let now = Utc::now() + Duration::seconds(1);

    let claimed = mail::claim_due(pool, now, 10).await.expect("claim");
    assert_eq!(claimed.iter().map(|c| c.id).collect::<Vec<_>>(), vec![a, b]);
    assert_eq!(claimed[0].attempt, 1);
    assert_eq!(claimed[0].attachments[0].name, "a.txt");
    // Claimed rows are leased: a second worker gets nothing.
    assert!(mail::claim_due(pool, now, 10)
        .await
        .expect("claim")
        .is_empty());

    // A fails: queued again after one minute.
    assert!(mail::mark_failed(pool, &claimed[0], "refused", 3, now)
        .await
        .expect("fail"));
    assert!(mail::claim_due(pool, now + Duration::seconds(30), 10)
        .await
        .expect("claim")
        .is_empty());
    let again = mail::claim_due(pool, now + Duration::seconds(61), 10)
        .await
        .expect("claim");
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].id, again[0].attempt), (a, 2));
    // The first claim is stale and marks nothing; the current one marks once.
    assert!(!mail::mark_sent(pool, &claimed[0], now).await.expect("mark"));
    assert!(mail::mark_sent(pool, &again[0], now).await.expect("mark"));
    assert!(!mail::mark_sent(pool, &again[0], now).await.expect("mark"));

    // B's worker died mid-send (a restart): after the lease B is claimed again.
    let later = now + Duration::seconds(mail::CLAIM_LEASE_SECS + 1);
    let retried = mail::claim_due(pool, later, 10).await.expect("claim");
    assert_eq!(retried.len(), 1);
    assert_eq!((retried[0].id, retried[0].attempt), (b, 2));
    assert!(mail::mark_sent(pool, &retried[0], later)
        .await
        .expect("mark"));

    let states: Vec<(String, i64)> = mail::outbox(pool)
        .await
        .expect("outbox")
        .into_iter()
        .map(|m| (m.state, m.attempts))
        .collect();
    assert_eq!(states, vec![("sent".into(), 2), ("sent".into(), 2)]);

    // The last allowed attempt failing gives the message up.
    let c = queue(t, "c@example.ru", "C").await;
    let cl = mail::claim_due(pool, later, 10).await.expect("claim");
    assert_eq!(cl[0].id, c);
    assert!(
        mail::mark_failed(pool, &cl[0], "550 no such user", 1, later)
            .await
            .expect("fail")
    );
    let out = mail::outbox(pool).await.expect("outbox");
    assert_eq!(out[2].state, "failed");
    assert_eq!(out[2].last_error.as_deref(), Some("550 no such user"));
    assert!(mail::claim_due(pool, later + Duration::days(1), 10)
        .await
        .expect("claim")
        .is_empty());
}

fn compose(r: &reminders::Reminder) -> (String, String) {
    (format!("R: {}", r.subject), format!("due {}", r.due_at))
}

async fn notebook_reminders(t: &T) -> i64 {
    let mut tx = t.store.pool().begin().await.expect("begin");
    let rows = tx
        .fetch_all_sql(
            "SELECT COUNT(*) AS n FROM notebook_items WHERE kind = 'reminder'",
            no_values(),
        )
        .await
        .expect("count");
    tx.commit().await.expect("commit");
    rows[0].i64("n").expect("n").unwrap_or(0)
}

pub async fn reminders_are_never_lost_nor_doubled(t: &T) {
    assert!(
        Entity::Activity.field("remind_before_min").is_some(),
        "schema"
    );
    let m1 = &t.fx.m1;
    let pool = t.store.pool();
    t.store
        .update(
            &t.fx.admin,
            Entity::User,
            m1.user_id,
            &obj(json!({"email": "m1@example.ru"})),
            None,
        )
        .await
        .expect("set e-mail");
    let base = plotina_core::value::now() + Duration::days(2);
    let at = |min: i64| base + Duration::minutes(min);
    let due = |min: i64| plotina_core::value::format_datetime(at(min));
    let call = t
        .create(
            m1,
            Entity::Activity,
            json!({"kind": "call", "subject": "Позвонить", "due_at": due(60), "remind_before_min": 15}),
        )
        .await;
    let meeting = t
        .create(
            m1,
            Entity::Activity,
            json!({"kind": "meeting", "subject": "Встреча", "due_at": due(120), "remind_before_min": 30, "assignee_id": t.fx.m2.user_id}),
        )
        .await;
    // Done and reminder-less activities never remind.
    t.create(
        m1,
        Entity::Activity,
        json!({"kind": "task", "subject": "Сделано", "due_at": due(60), "remind_before_min": 15, "done": true}),
    )
    .await;
    t.create(
        m1,
        Entity::Activity,
        json!({"kind": "task", "subject": "Без напоминания", "due_at": due(60)}),
    )
    .await;

    assert!(reminders::fire_due(pool, at(40), &compose)
        .await
        .expect("pass")
        .is_empty());
    let fired = reminders::fire_due(pool, at(46), &compose)
        .await
        .expect("pass");
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].reminder.activity_id, id(&call));
    assert_eq!(fired[0].reminder.user_id, m1.user_id);
    assert!(fired[0].mail_id.is_some());
    assert!(reminders::fire_due(pool, at(47), &compose)
        .await
        .expect("pass")
        .is_empty());

    // The server is down from +47 to +180: the meeting's reminder (due at +90) is
    // posted by the first pass after the restart, the call's is not posted again.
    let store2 = Store::open(&t._db.config()).await.expect("reopen");
    let fired = reminders::fire_due(store2.pool(), at(180), &compose)
        .await
        .expect("pass");
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].reminder.activity_id, id(&meeting));
    assert_eq!(fired[0].reminder.user_id, t.fx.m2.user_id);
    // m2 has no e-mail: the notebook item only.
    assert_eq!(fired[0].mail_id, None);
    assert!(reminders::fire_due(store2.pool(), at(181), &compose)
        .await
        .expect("pass")
        .is_empty());
    assert_eq!(notebook_reminders(t).await, 2);
    let outbox = mail::outbox(pool).await.expect("outbox");
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].to, "m1@example.ru");
    assert_eq!(outbox[0].subject, "R: Позвонить");

    // Moving the call a day later arms its reminder again.
    t.store
        .update(
            m1,
            Entity::Activity,
            id(&call),
            &obj(json!({"due_at": due(24 * 60 + 60)})),
            None,
        )
        .await
        .expect("move");
    assert!(reminders::fire_due(pool, at(200), &compose)
        .await
        .expect("pass")
        .is_empty());
    let fired = reminders::fire_due(pool, at(24 * 60 + 50), &compose)
        .await
        .expect("pass");
    assert_eq!(fired.len(), 1);
    assert_eq!(notebook_reminders(t).await, 3);
    assert_eq!(
        reminders::open_items(pool, m1.user_id)
            .await
            .expect("count"),
        2
    );
}

/// An unanswered request moves up after its pipeline's `approval_escalation_hours`
/// (24 unless set; 1..720 accepted), and the next deadline counts from the escalation.
pub async fn approvals_escalate_after_the_pipelines_hours(t: &T) {
    let admin = &t.fx.admin;
    let pipeline = t
        .store
        .get(admin, Entity::Pipeline, t.fx.pipeline)
        .await
        .expect("pipeline");
    assert_eq!(pipeline["approval_escalation_hours"], 24, "the default");
    for bad in [json!(0), json!(721), json!("сутки")] {
        let err = t
            .store
            .update(
                admin,
                Entity::Pipeline,
                t.fx.pipeline,
                &obj(json!({ "approval_escalation_hours": bad })),
                None,
            )
            .await;
        assert!(
            matches!(err, Err(StoreError::Domain(DomainError::Invalid(_)))),
            "{bad}: {err:?}"
        );
    }
    // m2 («Продажи Урал») asks; the Ural head decides first, the sales head next.
    t.store
        .update(
            admin,
            Entity::Department,
            t.fx.ural_dept,
            &obj(json!({"head_id": t.fx.support.user_id})),
            None,
        )
        .await
        .expect("ural head");
    t.store
        .update(
            admin,
            Entity::Department,
            t.fx.sales_dept,
            &obj(json!({"head_id": t.fx.head.user_id})),
            None,
        )
        .await
        .expect("sales head");
    t.store
        .update(
            admin,
            Entity::Pipeline,
            t.fx.pipeline,
            &obj(json!({"approval_escalation_hours": 6})),
            None,
        )
        .await
        .expect("six hours");
    let (deal, _) = t
        .store
        .create(
            &t.fx.m2,
            Entity::Deal,
            &obj(json!({"title": "Тендер", "pipeline_id": t.fx.pipeline})),
            None,
        )
        .await
        .expect("deal");
    let now = Utc::now();
    let a = t
        .store
        .approval_request(
            &t.fx.m2,
            deal["id"].as_i64().unwrap(),
            "discount_pct",
            &json!(30),
            "Тендер",
        )
        .await
        .expect("request");
    assert_eq!(a["approver_id"], t.fx.support.user_id);
    let at = |h: i64| now + Duration::hours(h) + Duration::minutes(1);
    assert!(t.store.escalate_approvals(at(5)).await.unwrap().is_empty());
    let up = t.store.escalate_approvals(at(6)).await.unwrap();
    assert_eq!(up.len(), 1);
    assert_eq!(
        (up[0]["approver_id"].as_i64(), up[0]["level"].as_i64()),
        (Some(t.fx.head.user_id), Some(1))
    );
    let next = chrono::DateTime::parse_from_rfc3339(up[0]["escalate_at"].as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc);
    let expected = at(6) + Duration::hours(6);
    assert!(
        (next - expected).num_seconds().abs() <= 1,
        "{next} vs {expected}"
    );
}
