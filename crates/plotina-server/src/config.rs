//! Server settings. Layering (defaults → plotina.toml → PLOTINA_* → flags) is done by
//! the `plotina` command; this is the resolved result.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Address to listen on.
    pub listen: String,
    /// `sqlite://…` or `postgres://…`; empty means SQLite under `data_dir`.
    pub database_url: Secret,
    /// Where the SQLite database and attachments live.
    pub data_dir: PathBuf,
    pub pool_size: u32,
    /// Largest JSON body accepted (bytes).
    pub max_body_bytes: usize,
    /// Largest attachment accepted (bytes).
    pub max_upload_bytes: usize,
    pub session_days: i64,
    /// Mark cookies `Secure` (behind HTTPS).
    pub secure_cookies: bool,
    /// SMTP settings of the mailer job.
    pub mail: crate::mailer::MailConfig,
    /// Seconds between reminder passes.
    pub reminder_poll_secs: u64,
    /// An export of more rows than this puts a notebook item to the administrators.
    pub export_notify_above_rows: u64,
    /// `[reports]`: the schedule and thresholds of the stored customer classes.
    pub reports: crate::classes_job::ReportsConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".into(),
            database_url: Secret(String::new()),
            data_dir: PathBuf::from("plotina-data"),
            pool_size: 8,
            max_body_bytes: 2 * 1024 * 1024,
            max_upload_bytes: 20 * 1024 * 1024,
            session_days: 14,
            secure_cookies: false,
            mail: crate::mailer::MailConfig::default(),
            reminder_poll_secs: 30,
            export_notify_above_rows: 5_000,
            reports: crate::classes_job::ReportsConfig::default(),
        }
    }
}

impl Config {
    pub fn database_url(&self) -> String {
        if self.database_url.0.trim().is_empty() {
            format!("sqlite://{}", self.data_dir.join("plotina.db").display())
        } else {
            self.database_url.0.clone()
        }
    }
}

/// A secret string: usable, but never printed by `Debug` (database URLs carry passwords).
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            f.write_str("\"\"")
        } else {
            f.write_str("\"[redacted]\"")
        }
    }
}
