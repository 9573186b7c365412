//! Outgoing calls of the `webhook` action: queued in the run's transaction, delivered
//! by the scheduler through a [`HookSender`] outside any transaction, retried with
//! backoff; after [`MAX_ATTEMPTS`](plotina_core::automation::MAX_ATTEMPTS) the
//! administrators are told.

use chrono::{DateTime, Utc};
use sea_query::{Alias, Query};
use serde_json::{json, Value as Json};

use super::scheduler::{retry_or_give_up, HookSender};
use crate::db::Tx;
use crate::error::Result;
use crate::filter_sql::col;
use crate::store::Store;

/// A queued call as the sender needs it.
#[derive(Debug, Clone)]
pub struct QueuedCall {
    pub job_id: i64,
    pub rule_id: i64,
    pub url: String,
    pub body: Json,
    pub attempts: i64,
}

pub async fn queue_call(tx: &mut Tx, rule_id: i64, url: &str, body: &Json) -> Result<i64> {
    let now = plotina_core::value::now();
    let id = tx
        .insert_id(
            Query::insert()
                .into_table(Alias::new("automation_jobs"))
                .columns(
                    [
                        "rule_id",
                        "entity",
                        "action_index",
                        "payload",
                        "trigger_code",
                        "attempts",
                        "state",
                        "next_attempt_at",
                        "created_at",
                    ]
                    .map(Alias::new),
                )
                .values_panic(crate::db::vals([
                    rule_id.into(),
                    body.get("entity")
                        .and_then(Json::as_str)
                        .unwrap_or("deal")
                        .to_string()
                        .into(),
                    0i64.into(),
                    json!({"url": url, "body": body}).into(),
                    "webhook_call".into(),
                    0i64.into(),
                    "queued".into(),
                    now.into(),
                    now.into(),
                ])),
        )
        .await?;
    Ok(id)
}

/// Sends one queued call and records the outcome; `true` when the job is finished.
pub async fn deliver(
    store: &Store,
    call: &QueuedCall,
    sender: &dyn HookSender,
    now: DateTime<Utc>,
) -> Result<bool> {
    let body = serde_json::to_vec(&call.body).unwrap_or_default();
    let outcome = sender.post(&call.url, &body, &[]).await;
    let mut tx = store.pool().begin_write().await?;
    let finished = match outcome {
        Ok(status) if (200..300).contains(&status) => {
            tx.execute(
                Query::update()
                    .table(Alias::new("automation_jobs"))
                    .value(Alias::new("state"), "done")
                    .value(Alias::new("attempts"), call.attempts + 1)
                    .and_where(col("id").eq(call.job_id)),
            )
            .await?;
            true
        }
        Ok(status) => {
            retry_or_give_up(
                &mut tx,
                call.job_id,
                call.rule_id,
                call.attempts,
                &format!("HTTP {status}"),
                now,
            )
            .await?
        }
        Err(e) => {
            retry_or_give_up(&mut tx, call.job_id, call.rule_id, call.attempts, &e, now).await?
        }
    };
    tx.commit().await?;
    Ok(finished)
}
