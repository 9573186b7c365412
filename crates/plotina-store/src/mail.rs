//! The outgoing mail queue. Whatever wants to send e-mail (reminders, robots, scheduled
//! reports) calls [`queue_mail`] in its own transaction; the mailer job sends queued
//! messages over SMTP and marks them sent, retrying with backoff on failure.

use sea_query::{Alias, Query};

use crate::db::Tx;
use crate::error::Result;

/// One file attached to a message.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct MailAttachment {
    pub name: String,
    pub content_type: String,
    /// The file's bytes, base64 (standard alphabet).
    pub base64: String,
}

/// A message to send.
#[derive(Debug, Clone, Default)]
pub struct NewMail {
    pub to: String,
    pub subject: String,
    pub body_text: String,
    pub attachments: Vec<MailAttachment>,
    /// `"reminder"`, `"rule:12"`, `"report:3"`…
    pub source: String,
    /// Queuing the same key twice is a no-op (a reminder re-evaluated after a restart).
    pub dedupe_key: Option<String>,
}

/// Queues a message in the caller's transaction; `None` when the dedupe key was seen.
pub async fn queue_mail(tx: &mut Tx, mail: &NewMail) -> Result<Option<i64>> {
    if let Some(key) = &mail.dedupe_key {
        let seen = tx
            .fetch_optional(
                &Query::select()
                    .column(Alias::new("id"))
                    .from(Alias::new("mail_outbox"))
                    .and_where(crate::filter_sql::col("dedupe_key").eq(key.as_str()))
                    .to_owned(),
            )
            .await?;
        if seen.is_some() {
            return Ok(None);
        }
    }
    let now = plotina_core::value::now();
    let attachments = if mail.attachments.is_empty() {
        None
    } else {
        Some(serde_json::to_value(&mail.attachments).expect("attachments serialise"))
    };
    let source = if mail.source.is_empty() {
        "system".to_string()
    } else {
        mail.source.clone()
    };
    let id = tx
        .insert_id(
            Query::insert()
                .into_table(Alias::new("mail_outbox"))
                .columns(
                    [
                        "to_addr",
                        "subject",
                        "body_text",
                        "attachments",
                        "source",
                        "dedupe_key",
                        "state",
                        "attempts",
                        "next_attempt_at",
                        "created_at",
                    ]
                    .map(Alias::new),
                )
                .values_panic(crate::db::vals([
                    mail.to.clone().into(),
                    mail.subject.clone().into(),
                    mail.body_text.clone().into(),
                    attachments.into(),
                    source.into(),
                    mail.dedupe_key.clone().into(),
                    "queued".into(),
                    0i64.into(),
                    now.into(),
                    now.into(),
                ])),
        )
        .await?;
    Ok(Some(id))
}

/// A queued message claimed by the mailer for one attempt.
#[derive(Debug, Clone)]
pub struct ClaimedMail {
    pub id: i64,
    pub to: String,
    pub subject: String,
    pub body_text: String,
    pub attachments: Vec<MailAttachment>,
    /// The attempt number this claim is (1 for the first); marks must carry it back.
    pub attempt: i64,
}

/// How long a claimed message stays reserved for the worker that claimed it. A worker
/// that dies mid-send (a restart) leaves the row `sending`; once the lease has passed the
/// row is claimable again, so nothing is lost.
pub const CLAIM_LEASE_SECS: i64 = 300;

fn tcol(name: &str) -> sea_query::Expr {
    crate::filter_sql::col(name)
}

/// Claims up to `limit` messages due at `now` in one write transaction: each is moved to
/// `sending` with its attempt counter raised and a lease; the caller sends them and marks
/// each with [`mark_sent`] or [`mark_failed`]. On PostgreSQL rows locked by a concurrent
/// claimer are skipped; SQLite write transactions are serialised by `BEGIN IMMEDIATE`.
pub async fn claim_due(
    pool: &crate::Pool,
    now: chrono::DateTime<chrono::Utc>,
    limit: u64,
) -> Result<Vec<ClaimedMail>> {
    let mut tx = pool.begin_write().await?;
    let mut select = Query::select();
    select
        .columns(
            [
                "id",
                "to_addr",
                "subject",
                "body_text",
                "attachments",
                "attempts",
            ]
            .map(Alias::new),
        )
        .from(Alias::new("mail_outbox"))
        .and_where(tcol("state").is_in(["queued", "sending"]))
        .and_where(tcol("next_attempt_at").lte(now))
        .order_by(Alias::new("id"), sea_query::Order::Asc)
        .limit(limit);
    if tx.backend() == crate::Backend::Postgres {
        select.lock_with_behavior(
            sea_query::LockType::Update,
            sea_query::LockBehavior::SkipLocked,
        );
    }
    let rows = tx.fetch_all(&select).await?;
    let lease = now + chrono::Duration::seconds(CLAIM_LEASE_SECS);
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let id = row.i64("id")?.unwrap_or_default();
        let attempt = row.i64("attempts")?.unwrap_or_default() + 1;
        tx.execute(
            Query::update()
                .table(Alias::new("mail_outbox"))
                .value(Alias::new("state"), "sending")
                .value(Alias::new("attempts"), attempt)
                .value(Alias::new("next_attempt_at"), lease)
                .and_where(tcol("id").eq(id)),
        )
        .await?;
        let attachments = match row.json("attachments")? {
            Some(v) => serde_json::from_value(v).unwrap_or_default(),
            None => Vec::new(),
        };
        out.push(ClaimedMail {
            id,
            to: row.text("to_addr")?.unwrap_or_default(),
            subject: row.text("subject")?.unwrap_or_default(),
            body_text: row.text("body_text")?.unwrap_or_default(),
            attachments,
            attempt,
        });
    }
    tx.commit().await?;
    Ok(out)
}

/// Marks a claimed message sent. Only the claim that is still current can mark it (a
/// worker whose lease expired and was re-claimed by another marks nothing); returns
/// whether this call marked it.
pub async fn mark_sent(
    pool: &crate::Pool,
    claim: &ClaimedMail,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<bool> {
    let mut tx = pool.begin_write().await?;
    let n = tx
        .execute(
            Query::update()
                .table(Alias::new("mail_outbox"))
                .value(Alias::new("state"), "sent")
                .value(Alias::new("sent_at"), now)
                .value(Alias::new("last_error"), Option::<String>::None)
                .and_where(tcol("id").eq(claim.id))
                .and_where(tcol("state").eq("sending"))
                .and_where(tcol("attempts").eq(claim.attempt)),
        )
        .await?;
    tx.commit().await?;
    Ok(n == 1)
}

/// Delay before attempt `attempt + 1` after `attempt` failed: 1, 2, 4, 8… minutes, at most
/// six hours.
pub fn backoff(attempt: i64) -> chrono::Duration {
    let exp = attempt.clamp(1, 20) - 1;
    let minutes = (1i64 << exp).min(360);
    chrono::Duration::minutes(minutes)
}

/// Records a failed attempt: the message is queued again after [`backoff`], or becomes
/// `failed` once `max_attempts` were spent.
pub async fn mark_failed(
    pool: &crate::Pool,
    claim: &ClaimedMail,
    error: &str,
    max_attempts: i64,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<bool> {
    let give_up = claim.attempt >= max_attempts;
    let error: String = error.chars().take(1000).collect();
    let mut tx = pool.begin_write().await?;
    let n = tx
        .execute(
            Query::update()
                .table(Alias::new("mail_outbox"))
                .value(
                    Alias::new("state"),
                    if give_up { "failed" } else { "queued" },
                )
                .value(Alias::new("next_attempt_at"), now + backoff(claim.attempt))
                .value(Alias::new("last_error"), error)
                .and_where(tcol("id").eq(claim.id))
                .and_where(tcol("state").eq("sending"))
                .and_where(tcol("attempts").eq(claim.attempt)),
        )
        .await?;
    tx.commit().await?;
    Ok(n == 1)
}

/// One outbox row as the operators' views and tests see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxState {
    pub id: i64,
    pub to: String,
    pub subject: String,
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
}

/// The outbox, oldest first.
pub async fn outbox(pool: &crate::Pool) -> Result<Vec<OutboxState>> {
    let mut tx = pool.begin().await?;
    let rows = tx
        .fetch_all(
            Query::select()
                .columns(
                    [
                        "id",
                        "to_addr",
                        "subject",
                        "state",
                        "attempts",
                        "last_error",
                    ]
                    .map(Alias::new),
                )
                .from(Alias::new("mail_outbox"))
                .order_by(Alias::new("id"), sea_query::Order::Asc),
        )
        .await?;
    tx.commit().await?;
    let mut out = Vec::new();
    for r in rows {
        out.push(OutboxState {
            id: r.i64("id")?.unwrap_or_default(),
            to: r.text("to_addr")?.unwrap_or_default(),
            subject: r.text("subject")?.unwrap_or_default(),
            state: r.text("state")?.unwrap_or_default(),
            attempts: r.i64("attempts")?.unwrap_or_default(),
            last_error: r.text("last_error")?,
        });
    }
    Ok(out)
}
