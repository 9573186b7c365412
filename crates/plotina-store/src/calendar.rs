//! Personal calendar feeds: a secret URL per user (`/calendar/{token}.ics`) listing the
//! user's dated tasks, meetings and calls for phones and Outlook. Only the token's
//! SHA-256 is stored; rotating replaces it, revoking deletes it (the old URL answers 404).

use chrono::{DateTime, Duration, Utc};
use plotina_core::policy::Action;
use plotina_core::schema::Entity;
use sea_query::{Alias, Query};

use crate::auth::hash_secret;
use crate::error::Result;
use crate::filter_sql::col;
use crate::Pool;

/// Activity kinds that belong in a calendar.
pub const KINDS: &[&str] = &["task", "meeting", "call"];
/// The feed covers this many days back and ahead of now.
pub const DAYS_BACK: i64 = 30;
pub const DAYS_AHEAD: i64 = 365;

/// Creates or replaces the user's feed token; returns the new secret.
pub async fn rotate(pool: &Pool, user_id: i64) -> Result<String> {
    let token = crate::auth::random_secret("cal_");
    let mut tx = pool.begin_write().await?;
    tx.execute(
        Query::delete()
            .from_table(Alias::new("calendar_feeds"))
            .and_where(col("user_id").eq(user_id)),
    )
    .await?;
    tx.execute(
        Query::insert()
            .into_table(Alias::new("calendar_feeds"))
            .columns(["user_id", "token_hash", "created_at"].map(Alias::new))
            .values_panic(crate::db::vals([
                user_id.into(),
                hash_secret(&token).into(),
                plotina_core::value::now().into(),
            ])),
    )
    .await?;
    tx.commit().await?;
    Ok(token)
}

/// Deletes the user's feed; whether there was one.
pub async fn revoke(pool: &Pool, user_id: i64) -> Result<bool> {
    let mut tx = pool.begin_write().await?;
    let n = tx
        .execute(
            Query::delete()
                .from_table(Alias::new("calendar_feeds"))
                .and_where(col("user_id").eq(user_id)),
        )
        .await?;
    tx.commit().await?;
    Ok(n > 0)
}

/// When the user's current feed was created, if they have one.
pub async fn created_at(pool: &Pool, user_id: i64) -> Result<Option<DateTime<Utc>>> {
    let mut tx = pool.begin().await?;
    let row = tx
        .fetch_optional(
            Query::select()
                .column(Alias::new("created_at"))
                .from(Alias::new("calendar_feeds"))
                .and_where(col("user_id").eq(user_id)),
        )
        .await?;
    tx.commit().await?;
    Ok(match row {
        Some(r) => r.datetime("created_at")?,
        None => None,
    })
}

/// The user a feed token belongs to.
pub async fn user_for_token(pool: &Pool, token: &str) -> Result<Option<i64>> {
    if token.len() > 200 {
        return Ok(None);
    }
    Ok(pool
        .fetch_i64(
            &Query::select()
                .column(Alias::new("user_id"))
                .from(Alias::new("calendar_feeds"))
                .and_where(col("token_hash").eq(hash_secret(token)))
                .to_owned(),
            "user_id",
        )
        .await?)
}

/// One calendar entry.
#[derive(Debug, Clone, PartialEq)]
pub struct CalEvent {
    pub activity_id: i64,
    pub kind: String,
    pub subject: String,
    pub body: String,
    pub due_at: DateTime<Utc>,
    pub duration_min: Option<i64>,
    pub done: bool,
    pub updated_at: DateTime<Utc>,
}

/// The dated tasks, meetings and calls assigned to the user (or owned and unassigned)
/// around `now`, as far as the user may still read them.
pub async fn events(pool: &Pool, user_id: i64, now: DateTime<Utc>) -> Result<Vec<CalEvent>> {
    let Some(actor) = crate::auth::actor_for(pool, user_id).await? else {
        return Ok(Vec::new());
    };
    let mine = sea_query::Cond::any()
        .add(col("assignee_id").eq(user_id))
        .add(
            sea_query::Cond::all()
                .add(col("assignee_id").is_null())
                .add(col("owner_id").eq(user_id)),
        );
    let mut q = Query::select();
    q.columns(
        [
            "id",
            "kind",
            "subject",
            "body",
            "due_at",
            "duration_min",
            "done",
            "updated_at",
        ]
        .map(Alias::new),
    )
    .from(Alias::new("activities"))
    .cond_where(mine)
    .and_where(col("deleted_at").is_null())
    .and_where(col("kind").is_in(KINDS.iter().copied()))
    .and_where(col("due_at").gte(now - Duration::days(DAYS_BACK)))
    .and_where(col("due_at").lte(now + Duration::days(DAYS_AHEAD)))
    .order_by(Alias::new("due_at"), sea_query::Order::Asc)
    .limit(5000);
    if let Some(cond) = crate::scope::visible(&actor, Entity::Activity, Action::Read) {
        q.and_where(cond);
    }
    let mut tx = pool.begin().await?;
    let rows = tx.fetch_all(&q).await?;
    tx.commit().await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let Some(due_at) = r.datetime("due_at")? else {
            continue;
        };
        out.push(CalEvent {
            activity_id: r.i64("id")?.unwrap_or_default(),
            kind: r.text("kind")?.unwrap_or_default(),
            subject: r.text("subject")?.unwrap_or_default(),
            body: r.text("body")?.unwrap_or_default(),
            due_at,
            duration_min: r.i64("duration_min")?,
            done: r.bool("done")?,
            updated_at: r.datetime("updated_at")?.unwrap_or(due_at),
        });
    }
    Ok(out)
}
