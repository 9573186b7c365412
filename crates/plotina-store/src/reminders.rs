//! Reminders of tasks and meetings. An activity with `remind_before_min` reminds its
//! assignee (or owner) at `due_at - remind_before_min`: a `reminder` notebook item and a
//! queued e-mail, written in one transaction whose dedupe key names the activity, its due
//! time and the offset. A pass after a restart therefore posts what fell due while the
//! server was down, and never posts anything twice; moving the due time re-arms it.

use chrono::{DateTime, Duration, Utc};
use sea_query::{Alias, Expr, Query};

use crate::error::Result;
use crate::filter_sql::col;
use crate::mail::{queue_mail, NewMail};
use crate::notebook::{kind, post_item, NewItem};
use crate::Pool;

/// The longest offset considered (a week); longer offsets are reminded a week ahead.
pub const MAX_OFFSET_MIN: i64 = 7 * 24 * 60;
/// How far back a pass looks for reminders missed while the server was down.
pub const LOOKBACK_HOURS: i64 = 24;

/// One reminder that fell due, with what the message needs.
#[derive(Debug, Clone)]
pub struct Reminder {
    pub activity_id: i64,
    pub user_id: i64,
    pub kind: String,
    pub subject: String,
    pub due_at: DateTime<Utc>,
    pub remind_before_min: i64,
    pub email: Option<String>,
    pub language: String,
    pub time_zone: String,
}

impl Reminder {
    pub fn dedupe_key(&self) -> String {
        format!(
            "reminder:{}:{}:{}",
            self.activity_id,
            plotina_core::value::format_datetime(self.due_at),
            self.remind_before_min
        )
    }
}

/// A posted reminder: the notebook item it became.
#[derive(Debug, Clone)]
pub struct Fired {
    pub reminder: Reminder,
    pub item_id: i64,
    pub mail_id: Option<i64>,
}

/// Reminders due at `now` that were not posted yet.
pub async fn due(pool: &Pool, now: DateTime<Utc>) -> Result<Vec<Reminder>> {
    let mut tx = pool.begin().await?;
    let a = Alias::new("a");
    let u = Alias::new("u");
    let rows = tx
        .fetch_all(
            Query::select()
                .expr_as(Expr::col((a.clone(), Alias::new("id"))), Alias::new("id"))
                .expr_as(
                    Expr::col((a.clone(), Alias::new("kind"))),
                    Alias::new("kind"),
                )
                .expr_as(
                    Expr::col((a.clone(), Alias::new("subject"))),
                    Alias::new("subject"),
                )
                .expr_as(
                    Expr::col((a.clone(), Alias::new("due_at"))),
                    Alias::new("due_at"),
                )
                .expr_as(
                    Expr::col((a.clone(), Alias::new("remind_before_min"))),
                    Alias::new("remind_before_min"),
                )
                .expr_as(
                    Expr::col((u.clone(), Alias::new("id"))),
                    Alias::new("user_id"),
                )
                .expr_as(
                    Expr::col((u.clone(), Alias::new("email"))),
                    Alias::new("email"),
                )
                .expr_as(
                    Expr::col((u.clone(), Alias::new("language"))),
                    Alias::new("language"),
                )
                .expr_as(
                    Expr::col((u.clone(), Alias::new("time_zone"))),
                    Alias::new("time_zone"),
                )
                .from_as(Alias::new("activities"), a.clone())
                .join_as(
                    sea_query::JoinType::InnerJoin,
                    Alias::new("users"),
                    u.clone(),
                    Expr::col((u.clone(), Alias::new("id"))).eq(Expr::expr(Expr::cust(
                        "COALESCE(a.assignee_id, a.owner_id)",
                    ))),
                )
                .and_where(Expr::col((a.clone(), Alias::new("remind_before_min"))).is_not_null())
                .and_where(Expr::col((a.clone(), Alias::new("deleted_at"))).is_null())
                .and_where(Expr::col((a.clone(), Alias::new("done"))).eq(false))
                .and_where(
                    Expr::col((a.clone(), Alias::new("due_at")))
                        .lte(now + Duration::minutes(MAX_OFFSET_MIN)),
                )
                .and_where(
                    Expr::col((a.clone(), Alias::new("due_at")))
                        .gte(now - Duration::hours(LOOKBACK_HOURS)),
                )
                .and_where(Expr::col((u.clone(), Alias::new("active"))).eq(true))
                .order_by((a.clone(), Alias::new("due_at")), sea_query::Order::Asc),
        )
        .await?;
    tx.commit().await?;
    let mut out = Vec::new();
    for r in rows {
        let (Some(due_at), Some(offset)) = (r.datetime("due_at")?, r.i64("remind_before_min")?)
        else {
            continue;
        };
        if due_at - Duration::minutes(offset.clamp(0, MAX_OFFSET_MIN)) > now {
            continue;
        }
        out.push(Reminder {
            activity_id: r.i64("id")?.unwrap_or_default(),
            user_id: r.i64("user_id")?.unwrap_or_default(),
            kind: r.text("kind")?.unwrap_or_default(),
            subject: r.text("subject")?.unwrap_or_default(),
            due_at,
            remind_before_min: offset,
            email: r.text("email")?.filter(|e| !e.is_empty()),
            language: r.text("language")?.unwrap_or_else(|| "ru".into()),
            time_zone: r
                .text("time_zone")?
                .unwrap_or_else(|| "Europe/Moscow".into()),
        });
    }
    Ok(out)
}

/// The text of a reminder's e-mail: `(subject, body)` in the user's language.
pub type Compose<'a> = &'a (dyn Fn(&Reminder) -> (String, String) + Send + Sync);

/// Posts every reminder due at `now` that was not posted yet: the notebook item and
/// the e-mail in one transaction per reminder. Returns what was posted by this call.
pub async fn fire_due(pool: &Pool, now: DateTime<Utc>, compose: Compose<'_>) -> Result<Vec<Fired>> {
    let mut fired = Vec::new();
    for r in due(pool, now).await? {
        let key = r.dedupe_key();
        let mut tx = pool.begin_write().await?;
        let item = post_item(
            &mut tx,
            &NewItem {
                kind: kind::REMINDER.into(),
                owner_id: r.user_id,
                record: Some(("activity".into(), r.activity_id)),
                text: r.subject.clone(),
                due_at: Some(r.due_at),
                source: "reminder".into(),
                created_by: None,
                dedupe_key: Some(key.clone()),
                payload: Some(serde_json::json!({
                    "activity_kind": r.kind,
                    "remind_before_min": r.remind_before_min,
                })),
            },
        )
        .await?;
        let Some(item_id) = item else {
            tx.commit().await?;
            continue;
        };
        let mut mail_id = None;
        if let Some(to) = &r.email {
            let (subject, body_text) = compose(&r);
            mail_id = queue_mail(
                &mut tx,
                &NewMail {
                    to: to.clone(),
                    subject,
                    body_text,
                    attachments: Vec::new(),
                    source: "reminder".into(),
                    dedupe_key: Some(format!("{key}:{}", r.user_id)),
                },
            )
            .await?;
        }
        tx.commit().await?;
        fired.push(Fired {
            reminder: r,
            item_id,
            mail_id,
        });
    }
    Ok(fired)
}

/// Open notebook items of a user: the badge's number.
pub async fn open_items(pool: &Pool, user_id: i64) -> Result<i64> {
    let mut tx = pool.begin().await?;
    let row = tx
        .fetch_optional(
            Query::select()
                .expr_as(Expr::col(Alias::new("id")).count(), Alias::new("n"))
                .from(Alias::new("notebook_items"))
                .and_where(col("owner_id").eq(user_id))
                .and_where(col("state").eq("open")),
        )
        .await?;
    tx.commit().await?;
    Ok(match row {
        Some(r) => r.i64("n")?.unwrap_or(0),
        None => 0,
    })
}
