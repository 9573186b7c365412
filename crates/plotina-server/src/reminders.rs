//! The reminder job: every `reminder_poll_secs` it posts the reminders that fell due
//! (`plotina_store::reminders::fire_due`: notebook item + queued e-mail in one
//! transaction) and pushes each to the user's open browsers.

use std::time::Duration;

use chrono::{DateTime, Utc};
use plotina_store::reminders::{self, Fired, Reminder};

use crate::api::reminders::LiveEvent;
use crate::i18n::{t_args, Lang};
use crate::state::AppState;

/// The reminder e-mail in the user's language and time zone.
pub fn compose(r: &Reminder) -> (String, String) {
    let lang = Lang::from_code(&r.language).unwrap_or(Lang::Ru);
    let tz: chrono_tz::Tz = r.time_zone.parse().unwrap_or(chrono_tz::Europe::Moscow);
    let due = r
        .due_at
        .with_timezone(&tz)
        .format("%d.%m.%Y %H:%M")
        .to_string();
    let subject_text = if r.subject.trim().is_empty() {
        t_args(lang, "reminder-untitled", &[])
    } else {
        r.subject.clone()
    };
    let args = [
        ("subject", subject_text),
        ("due", due),
        ("tz", r.time_zone.clone()),
        ("minutes", r.remind_before_min.to_string()),
    ];
    (
        t_args(lang, "reminder-mail-subject", &args),
        t_args(lang, "reminder-mail-body", &args),
    )
}

fn live_event(f: &Fired) -> LiveEvent {
    LiveEvent {
        user_id: f.reminder.user_id,
        kind: "reminder".into(),
        item_id: f.item_id,
        text: f.reminder.subject.clone(),
        due_at: Some(plotina_core::value::format_datetime(f.reminder.due_at)),
        record: Some(format!("/activities/{}", f.reminder.activity_id)),
    }
}

/// One pass at `now`; returns how many reminders were posted.
pub async fn run_once(state: &AppState, now: DateTime<Utc>) -> anyhow::Result<usize> {
    let fired = reminders::fire_due(state.store.pool(), now, &compose).await?;
    for f in &fired {
        state.live.publish(live_event(f));
    }
    Ok(fired.len())
}

pub fn spawn(state: AppState) {
    let every = Duration::from_secs(state.config.reminder_poll_secs.max(1));
    tokio::spawn(async move {
        loop {
            let now = plotina_core::value::now();
            if let Err(e) = run_once(&state, now).await {
                tracing::error!(error = ?e, "reminder pass failed");
            }
            // Unanswered approval requests move one level up.
            if let Err(e) = state.store.escalate_approvals(now).await {
                tracing::error!(error = ?e, "approval escalation failed");
            }
            tokio::time::sleep(every).await;
        }
    });
}
