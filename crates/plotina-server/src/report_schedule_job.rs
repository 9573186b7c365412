//! The scheduled-report job: every minute it looks for schedules whose due time has
//! come, computes the report for each recipient with the recipient's own permissions
//! (a manager's copy holds only what the manager may read), writes it as XLSX and queues
//! one mail per recipient in their language. The mails are queued in the transaction
//! that moves the schedule's `next_due` on, and only if `next_due` is still the one read
//! (`Store::complete_report_schedule`), so a due time is sent once even with two
//! servers or a restart in the middle; the mailer job then delivers them.

use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, Utc};
use plotina_store::mail::{MailAttachment, NewMail};
use plotina_store::reports::schedules::Schedule;
use plotina_store::Store;

use crate::api::report_export::xlsx_bytes;
use crate::api::report_schedules::report_table;
use crate::i18n::{t_args, Lang};
use crate::state::AppState;

pub const PERIOD: Duration = Duration::from_secs(60);

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The mails of one due schedule: one per active recipient with an address whose
/// report could be computed.
async fn mails(store: &Store, s: &Schedule, now: DateTime<Utc>) -> anyhow::Result<Vec<NewMail>> {
    let mut out = Vec::new();
    for (user_id, email) in store.recipient_addresses(&s.recipients).await? {
        let Some(actor) = plotina_store::auth::actor_for(store.pool(), user_id).await? else {
            continue;
        };
        let table = match report_table(store, &actor, &s.report, &s.params).await {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(schedule = s.id, user_id, error = ?e, "scheduled report not computed");
                continue;
            }
        };
        let lang = Lang::from_code(&actor.language).unwrap_or_default();
        let date = now
            .with_timezone(&actor.time_zone)
            .format("%d.%m.%Y")
            .to_string();
        let args = [
            ("report", table.title.clone()),
            ("date", date.clone()),
            ("rows", table.rows.len().to_string()),
        ];
        let bytes = xlsx_bytes(&table)?;
        out.push(NewMail {
            to: email,
            subject: t_args(lang, "dashboard-schedule-mail-subject", &args),
            body_text: t_args(lang, "dashboard-schedule-mail-body", &args),
            attachments: vec![MailAttachment {
                name: format!(
                    "{}-{}.xlsx",
                    s.report,
                    now.with_timezone(&actor.time_zone).format("%Y-%m-%d")
                ),
                content_type: XLSX.into(),
                base64: base64::engine::general_purpose::STANDARD.encode(bytes),
            }],
            source: format!("report:{}", s.id),
            dedupe_key: Some(format!(
                "report:{}:{}:{}",
                s.id,
                plotina_core::value::format_datetime(s.next_due),
                user_id
            )),
        });
    }
    Ok(out)
}

/// One pass at `now`; returns how many schedules this pass sent.
pub async fn run_once(store: &Store, now: DateTime<Utc>) -> anyhow::Result<usize> {
    let mut sent = 0;
    for s in store.due_report_schedules(now).await? {
        let mails = mails(store, &s, now).await?;
        if store.complete_report_schedule(&s, now, &mails).await? {
            tracing::info!(
                schedule = s.id,
                mails = mails.len(),
                "scheduled report queued"
            );
            sent += 1;
        }
    }
    Ok(sent)
}

pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PERIOD);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = run_once(&state.store, plotina_core::value::now()).await {
                tracing::error!(error = ?e, "scheduled reports pass failed");
            }
        }
    })
}
