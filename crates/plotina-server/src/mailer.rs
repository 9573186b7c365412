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
use lettre::transport::smtp::client::{Tls, TlsParameters};
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
    /// `none` (a relay on the same machine or network), `starttls` (upgrade required,
    /// usually port 587) or `tls` (TLS from the first byte, usually port 465).
    pub tls: MailTls,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailTls {
    #[default]
    None,
    Starttls,
    Tls,
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
            tls: MailTls::None,
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
        // `builder_dangerous` only means "no TLS unless asked": it is asked for below.
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
            .port(config.port)
            .timeout(Some(Duration::from_secs(config.timeout_secs.max(1))));
        let tls = || TlsParameters::new(config.host.clone());
        builder = match config.tls {
            MailTls::None => builder,
            // Required, not opportunistic: a server that does not offer STARTTLS gets
            // no mail rather than the mail in clear text.
            MailTls::Starttls => builder.tls(Tls::Required(tls()?)),
            MailTls::Tls => builder.tls(Tls::Wrapper(tls()?)),
        };
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

#[cfg(test)]
mod tests {
    use super::*;

    fn config(port: u16, tls: MailTls) -> MailConfig {
        MailConfig {
            host: "127.0.0.1".into(),
            port,
            tls,
            timeout_secs: 5,
            ..MailConfig::default()
        }
    }

    /// `tls` speaks TLS from the first byte: the server sees a TLS ClientHello.
    #[tokio::test]
    async fn implicit_tls_starts_with_a_handshake() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut hello = [0u8; 2];
            tokio::io::AsyncReadExt::read_exact(&mut socket, &mut hello)
                .await
                .unwrap();
            hello
        });
        let mailer = Mailer::new(&config(port, MailTls::Tls)).unwrap().unwrap();
        let _ = mailer.transport.test_connection().await;
        // A TLS handshake record: 0x16 0x03.
        assert_eq!(seen.await.unwrap(), [0x16, 0x03]);
    }

    /// `starttls` is required: a server that does not offer it is refused, nothing is
    /// sent in clear text.
    #[tokio::test]
    async fn starttls_is_required() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
            let (socket, _) = listener.accept().await.unwrap();
            let (read, mut write) = socket.into_split();
            let mut lines = BufReader::new(read).lines();
            write
                .write_all(b"220 plain.example ESMTP\r\n")
                .await
                .unwrap();
            let mut commands = Vec::new();
            while let Ok(Some(line)) = lines.next_line().await {
                let upper = line.to_ascii_uppercase();
                commands.push(upper.clone());
                if upper.starts_with("EHLO") {
                    write.write_all(b"250 plain.example\r\n").await.unwrap();
                } else if upper.starts_with("QUIT") {
                    write.write_all(b"221 bye\r\n").await.unwrap();
                    break;
                } else {
                    write.write_all(b"502 no\r\n").await.unwrap();
                }
            }
            commands
        });
        let mailer = Mailer::new(&config(port, MailTls::Starttls))
            .unwrap()
            .unwrap();
        assert!(mailer.transport.test_connection().await.is_err());
        drop(mailer);
        let commands = tokio::time::timeout(std::time::Duration::from_secs(5), server)
            .await
            .map(|r| r.unwrap())
            .unwrap_or_default();
        assert!(
            !commands
                .iter()
                .any(|c| c.starts_with("MAIL") || c.starts_with("AUTH")),
            "{commands:?}"
        );
    }
}
