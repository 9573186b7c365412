//! The mailer job: drains `mail_outbox` over SMTP. Messages are claimed in a write
//! transaction (`plotina_store::mail::claim_due`), sent, and marked sent or failed by the
//! claim that is still current, so a message is marked sent exactly once; a message whose
//! worker died mid-send is claimed again when its lease expires. Delivery is therefore
//! at-least-once: a crash between the SMTP server's acceptance and the mark resends it.

use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, Utc};
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use plotina_store::mail::{self, ClaimedMail};
use plotina_store::Pool;
use serde::{Deserialize, Serialize};

use crate::config::Secret;

/// SMTP settings (`[mail]` in plotina.toml, `PLOTINA_MAIL__HOST`… in the environment).
/// An empty host disables sending; messages stay queued.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct MailConfig {
    pub host: String,
    pub port: u16,
    pub username: String,
    pub password: Secret,
    /// The sender address, `Plotina <crm@example.ru>`.
    pub from: String,
    /// Seconds between outbox polls.
    pub poll_secs: u64,
    /// Attempts before a message is given up as `failed`.
    pub max_attempts: i64,
    /// Seconds to wait for the SMTP server.
    pub timeout_secs: u64,
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            host: String::new(),
            port: 25,
            username: String::new(),
            password: Secret(String::new()),
            from: "Plotina <plotina@localhost>".into(),
            poll_secs: 10,
            max_attempts: 8,
            timeout_secs: 30,
        }
    }
}

/// A sender bound to one SMTP server.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    config: MailConfig,
}

impl Mailer {
    /// `None` when mail is not configured.
    pub fn new(config: &MailConfig) -> anyhow::Result<Option<Mailer>> {
        if config.host.trim().is_empty() {
            return Ok(None);
        }
        // Plain SMTP: meant for a relay on the same machine or network (a local
        // Postfix/Exim that handles TLS onwards).
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
            .port(config.port)
            .timeout(Some(Duration::from_secs(config.timeout_secs.max(1))));
        if !config.username.is_empty() {
            builder = builder.credentials(Credentials::new(
                config.username.clone(),
                config.password.0.clone(),
            ));
        }
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|e| anyhow::anyhow!("bad mail.from {:?}: {e}", config.from))?;
        Ok(Some(Mailer {
            transport: builder.build(),
            from,
            config: config.clone(),
        }))
    }

    fn build(&self, m: &ClaimedMail) -> anyhow::Result<Message> {
        let to: Mailbox = m.to.parse()?;
        let builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(m.subject.clone());
        let text = SinglePart::builder()
            .header(ContentType::TEXT_PLAIN)
            .body(m.body_text.clone());
        if m.attachments.is_empty() {
            return Ok(builder.singlepart(text)?);
        }
        let mut parts = MultiPart::mixed().singlepart(text);
        for a in &m.attachments {
            let bytes = base64::engine::general_purpose::STANDARD.decode(&a.base64)?;
            let ct = ContentType::parse(&a.content_type)
                .unwrap_or_else(|_| ContentType::parse("application/octet-stream").expect("mime"));
            parts = parts.singlepart(Attachment::new(a.name.clone()).body(bytes, ct));
        }
        Ok(builder.multipart(parts)?)
    }

    /// Claims, sends and marks the messages due at `now`; returns how many were sent.
    pub async fn drain(&self, pool: &Pool, now: DateTime<Utc>) -> anyhow::Result<usize> {
        let mut sent = 0;
        loop {
            let batch = mail::claim_due(pool, now, 20).await?;
            if batch.is_empty() {
                return Ok(sent);
            }
            for m in &batch {
                let result = match self.build(m) {
                    Ok(msg) => self.transport.send(msg).await.map_err(anyhow::Error::from),
                    Err(e) => Err(e),
                };
                match result {
                    Ok(_) => {
                        mail::mark_sent(pool, m, now).await?;
                        sent += 1;
                    }
                    Err(e) => {
                        tracing::warn!(mail_id = m.id, attempt = m.attempt, error = %e, "mail not sent");
                        mail::mark_failed(pool, m, &e.to_string(), self.config.max_attempts, now)
                            .await?;
                    }
                }
            }
        }
    }
}

/// Runs the mailer until the process stops (nothing when mail is not configured).
pub fn spawn(pool: Pool, config: &MailConfig) -> anyhow::Result<()> {
    let Some(mailer) = Mailer::new(config)? else {
        return Ok(());
    };
    let every = Duration::from_secs(config.poll_secs.max(1));
    tokio::spawn(async move {
        loop {
            if let Err(e) = mailer.drain(&pool, plotina_core::value::now()).await {
                tracing::error!(error = ?e, "mailer pass failed");
            }
            tokio::time::sleep(every).await;
        }
    });
    Ok(())
}
