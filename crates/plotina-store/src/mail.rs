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
