//! The scheduler: time rules and queued work (delays, retries, outgoing calls).
//!
//! A time rule remembers the instant up to which it has fired (`scheduled_until`); a
//! tick fires every due moment in `(scheduled_until, now]` and moves the mark to `now`,
//! in one transaction. Each fired (rule, record, moment) is also stored, so nothing
//! fires twice, and a tick after downtime catches up on everything it missed.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use plotina_core::automation::{backoff_seconds, Trigger, MAX_ATTEMPTS};
use plotina_core::policy::Actor;
use plotina_core::schema::{Entity, FieldKind};
use sea_query::{Alias, Expr as SqlExpr, Query};
use serde_json::Value as Json;

use super::engine::{due_jobs, run_rule, RunRequest};
use super::rules::{self, StoredRule};
use crate::db::Tx;
use crate::error::Result;
use crate::filter_sql::col;
use crate::store::Store;

/// Sends an outgoing call (the server implements it over HTTP).
pub trait HookSender: Send + Sync {
    /// POSTs `body` (JSON) to `url` with the headers; `Ok(status)` on any HTTP answer.
    fn post<'a>(
        &'a self,
        url: &'a str,
        body: &'a [u8],
        headers: &'a [(String, String)],
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<u16, String>> + Send + 'a>>;
}

/// What one tick did.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize)]
pub struct TickReport {
    /// Time-rule runs started.
    pub fired: usize,
    /// Queued jobs finished (successfully or given up).
    pub jobs: usize,
    /// Webhook deliveries attempted.
    pub deliveries: usize,
}

/// The instant a date or datetime value stands for (dates at 00:00 UTC).
fn instant(v: &Json) -> Option<DateTime<Utc>> {
    let s = v.as_str()?;
    if s.len() == 10 {
        return NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    plotina_core::value::parse_datetime(s).ok()
}

/// The same month and day in another year (29 February → 28 February).
fn in_year(t: DateTime<Utc>, year: i32) -> Option<DateTime<Utc>> {
    let d = t.date_naive();
    let day = NaiveDate::from_ymd_opt(year, d.month(), d.day())
        .or_else(|| NaiveDate::from_ymd_opt(year, d.month(), d.day() - 1))?;
    Some(day.and_time(t.time()).and_utc())
}

/// Due moments of one value inside `(from, to]`.
pub fn due_moments(
    base: DateTime<Utc>,
    offset_minutes: i64,
    yearly: bool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<DateTime<Utc>> {
    let off = Duration::minutes(offset_minutes);
    let inside = |t: DateTime<Utc>| t > from && t <= to;
    if !yearly {
        return [base + off].into_iter().filter(|t| inside(*t)).collect();
    }
    let first = (from - off).year() - 1;
    let last = (to - off).year() + 1;
    (first.max(base.year())..=last)
        .filter_map(|y| in_year(base, y))
        .map(|t| t + off)
        .filter(|t| inside(*t))
        .collect()
}

fn static_code(s: &str) -> &'static str {
    const CODES: [&str; 12] = [
        "created",
        "updated",
        "deleted",
        "field_changed",
        "stage_entered",
        "stage_left",
        "activity_overdue",
        "time",
        "webhook",
        "manual",
        "delay",
        "retry",
    ];
    CODES.iter().find(|c| **c == s).copied().unwrap_or("job")
}

async fn candidates(
    tx: &mut Tx,
    rule: &StoredRule,
    field: &str,
    offset: i64,
    yearly: bool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<(i64, Json)>> {
    let entity = rule.entity;
    let mut q = Query::select();
    q.column(Alias::new("id"))
        .from(Alias::new(entity.table()))
        .and_where(col("deleted_at").is_null());
    let custom_key = field.strip_prefix("custom.");
    match custom_key {
        Some(_) => {
            q.column(Alias::new("custom"));
        }
        None => {
            q.column(Alias::new(field))
                .and_where(col(field).is_not_null());
            let kind = entity.field(field).map(|f| f.kind);
            let off = Duration::minutes(offset);
            // Narrow by index where the moment is the value plus a fixed offset.
            match (yearly, kind) {
                (false, Some(FieldKind::DateTime)) => {
                    q.and_where(col(field).gt(from - off))
                        .and_where(col(field).lte(to - off));
                }
                (false, Some(FieldKind::Date)) => {
                    q.and_where(col(field).gte((from - off).date_naive()))
                        .and_where(col(field).lte((to - off).date_naive()));
                }
                _ => {}
            }
        }
    }
    if rule.trigger == Trigger::ActivityOverdue {
        q.and_where(col("done").eq(false));
    }
    let kind = custom_key
        .map(|_| FieldKind::Json)
        .or_else(|| entity.field(field).map(|f| f.kind))
        .unwrap_or(FieldKind::Json);
    let mut out = Vec::new();
    for r in tx.fetch_all(&q).await? {
        let id = r.i64("id")?.unwrap_or_default();
        let v = match custom_key {
            Some(key) => r
                .json("custom")?
                .and_then(|c| c.get(key).cloned())
                .unwrap_or(Json::Null),
            None => crate::rows::column_json(&r, field, kind)?,
        };
        out.push((id, v));
    }
    Ok(out)
}

async fn already_fired(tx: &mut Tx, rule: i64, record: i64, key: &str) -> Result<bool> {
    Ok(tx
        .fetch_optional(
            &Query::select()
                .column(Alias::new("id"))
                .from(Alias::new("automation_fired"))
                .and_where(col("rule_id").eq(rule))
                .and_where(col("record_id").eq(record))
                .and_where(col("fire_key").eq(key))
                .to_owned(),
        )
        .await?
        .is_some())
}

/// Fires one time rule for `(scheduled_until, now]`; returns the runs started.
async fn tick_rule(store: &Store, rule_id: i64, now: DateTime<Utc>) -> Result<usize> {
    let mut tx = store.pool().begin_write().await?;
    let rule = rules::get(&mut tx, rule_id).await?;
    let from = rule.scheduled_until.or(rule.created_at).unwrap_or(now);
    if from >= now || !rule.enabled {
        return Ok(0);
    }
    let (field, offset, yearly) = match &rule.trigger {
        Trigger::Time {
            field,
            offset_minutes,
            yearly,
        } => (field.clone(), *offset_minutes, *yearly),
        Trigger::ActivityOverdue => ("due_at".to_string(), 0, false),
        _ => return Ok(0),
    };
    let actor = Actor::system(rule.created_by.unwrap_or(1));
    let mut fired = 0;
    for (id, v) in candidates(&mut tx, &rule, &field, offset, yearly, from, now).await? {
        let Some(base) = instant(&v) else { continue };
        for due in due_moments(base, offset, yearly, from, now) {
            let key = plotina_core::value::format_datetime(due);
            if already_fired(&mut tx, rule.id, id, &key).await? {
                continue;
            }
            tx.execute(
                Query::insert()
                    .into_table(Alias::new("automation_fired"))
                    .columns(["rule_id", "record_id", "fire_key", "fired_at"].map(Alias::new))
                    .values_panic(crate::db::vals([
                        rule.id.into(),
                        id.into(),
                        key.into(),
                        now.into(),
                    ])),
            )
            .await?;
            let out = run_rule(
                &mut tx,
                &actor,
                RunRequest {
                    rule: &rule,
                    entity: rule.entity,
                    record_id: Some(id),
                    trigger: rule.trigger.code(),
                    payload: None,
                    from_index: 0,
                    check_condition: true,
                    dry_run: false,
                    attempts: 0,
                },
            )
            .await?;
            if out.status != "skipped" {
                fired += 1;
            }
        }
    }
    tx.execute(
        Query::update()
            .table(Alias::new("automation_rules"))
            .value(Alias::new("scheduled_until"), now)
            .and_where(col("id").eq(rule.id)),
    )
    .await?;
    tx.commit().await?;
    Ok(fired)
}

/// Tells every active administrator.
pub async fn notify_admins(tx: &mut Tx, text: &str, source: &str, dedupe: &str) -> Result<()> {
    let rows = tx
        .fetch_all(
            &Query::select()
                .column((Alias::new("users"), Alias::new("id")))
                .from(Alias::new("users"))
                .inner_join(
                    Alias::new("roles"),
                    SqlExpr::col((Alias::new("roles"), Alias::new("id")))
                        .equals((Alias::new("users"), Alias::new("role_id"))),
                )
                .and_where(SqlExpr::col((Alias::new("roles"), Alias::new("is_admin"))).eq(true))
                .and_where(SqlExpr::col((Alias::new("users"), Alias::new("active"))).eq(true))
                .and_where(SqlExpr::col((Alias::new("users"), Alias::new("deleted_at"))).is_null())
                .to_owned(),
        )
        .await?;
    for r in rows {
        let item = crate::notebook::NewItem {
            kind: crate::notebook::kind::SYSTEM.into(),
            owner_id: r.i64("id")?.unwrap_or_default(),
            text: text.to_string(),
            source: source.to_string(),
            dedupe_key: Some(dedupe.to_string()),
            ..Default::default()
        };
        crate::notebook::post_item(tx, &item).await?;
    }
    Ok(())
}

struct Job {
    id: i64,
    rule_id: i64,
    entity: Entity,
    record_id: Option<i64>,
    action_index: usize,
    payload: Option<Json>,
    trigger: String,
    attempts: i64,
}

async fn load_job(tx: &mut Tx, id: i64, now: DateTime<Utc>) -> Result<Option<Job>> {
    let row = tx
        .fetch_optional(
            &Query::select()
                .columns(
                    [
                        "id",
                        "rule_id",
                        "entity",
                        "record_id",
                        "action_index",
                        "payload",
                        "trigger_code",
                        "attempts",
                    ]
                    .map(Alias::new),
                )
                .from(Alias::new("automation_jobs"))
                .and_where(col("id").eq(id))
                .and_where(col("state").eq("queued"))
                .and_where(col("next_attempt_at").lte(now))
                .to_owned(),
        )
        .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some(Job {
        id,
        rule_id: r.i64("rule_id")?.unwrap_or_default(),
        entity: Entity::from_code(&r.text("entity")?.unwrap_or_default()).unwrap_or(Entity::Deal),
        record_id: r.i64("record_id")?,
        action_index: r.i64("action_index")?.unwrap_or_default().max(0) as usize,
        payload: r.json("payload")?,
        trigger: r.text("trigger_code")?.unwrap_or_default(),
        attempts: r.i64("attempts")?.unwrap_or_default(),
    }))
}

async fn finish_job(tx: &mut Tx, id: i64, state: &str, error: Option<String>) -> Result<()> {
    tx.execute(
        Query::update()
            .table(Alias::new("automation_jobs"))
            .value(Alias::new("state"), state)
            .value(Alias::new("last_error"), error)
            .and_where(col("id").eq(id)),
    )
    .await?;
    Ok(())
}

/// Runs one queued job: the rest of a rule, a retry, or an outgoing call.
async fn run_job(
    store: &Store,
    id: i64,
    now: DateTime<Utc>,
    sender: Option<&dyn HookSender>,
) -> Result<bool> {
    let mut tx = store.pool().begin_write().await?;
    let Some(job) = load_job(&mut tx, id, now).await? else {
        return Ok(false);
    };
    if job.trigger == "webhook_call" {
        let Some(sender) = sender else {
            return Ok(false);
        };
        tx.commit().await?;
        return super::hooks::deliver(store, &job_call(&job), sender, now).await;
    }
    let rule = rules::get(&mut tx, job.rule_id).await?;
    let actor = Actor::system(rule.created_by.unwrap_or(1));
    run_rule(
        &mut tx,
        &actor,
        RunRequest {
            rule: &rule,
            entity: job.entity,
            record_id: job.record_id,
            trigger: static_code(&job.trigger),
            payload: job.payload.clone(),
            from_index: job.action_index,
            check_condition: false,
            dry_run: false,
            attempts: job.attempts,
        },
    )
    .await?;
    finish_job(&mut tx, job.id, "done", None).await?;
    tx.commit().await?;
    Ok(true)
}

fn job_call(job: &Job) -> super::hooks::QueuedCall {
    let p = job.payload.clone().unwrap_or_default();
    super::hooks::QueuedCall {
        job_id: job.id,
        rule_id: job.rule_id,
        url: p
            .get("url")
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_string(),
        body: p.get("body").cloned().unwrap_or_default(),
        attempts: job.attempts,
    }
}

/// After a failed attempt: queue the next one with backoff, or give up and tell the
/// administrators.
pub async fn retry_or_give_up(
    tx: &mut Tx,
    job_id: i64,
    rule_id: i64,
    attempts: i64,
    error: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let attempts = attempts + 1;
    if attempts >= MAX_ATTEMPTS {
        finish_job(tx, job_id, "failed", Some(error.to_string())).await?;
        notify_admins(
            tx,
            &format!("Правило №{rule_id} не выполнено после {attempts} попыток: {error}"),
            &format!("rule:{rule_id}"),
            &format!("automation-job-failed:{job_id}"),
        )
        .await?;
        return Ok(true);
    }
    tx.execute(
        Query::update()
            .table(Alias::new("automation_jobs"))
            .value(Alias::new("attempts"), attempts)
            .value(Alias::new("last_error"), error)
            .value(
                Alias::new("next_attempt_at"),
                now + Duration::seconds(backoff_seconds(attempts)),
            )
            .and_where(col("id").eq(job_id)),
    )
    .await?;
    Ok(false)
}

impl Store {
    /// One scheduler pass at `now` (injected, so tests can move time): fires due time
    /// rules and runs due jobs. `sender` delivers outgoing calls; without one they wait.
    pub async fn automation_tick(
        &self,
        now: DateTime<Utc>,
        sender: Option<&dyn HookSender>,
    ) -> Result<TickReport> {
        let mut report = TickReport::default();
        let mut tx = self.pool().begin().await?;
        let time_rules = rules::scheduled(&mut tx).await?;
        tx.commit().await?;
        for rule in time_rules {
            report.fired += tick_rule(self, rule.id, now).await?;
        }
        let mut tx = self.pool().begin().await?;
        let jobs = due_jobs(&mut tx, now, 500).await?;
        tx.commit().await?;
        for id in jobs {
            if run_job(self, id, now, sender).await? {
                report.jobs += 1;
            }
        }
        if let Some(sender) = sender {
            report.deliveries = super::webhooks::deliver_due(self, now, sender).await?;
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        plotina_core::value::parse_datetime(s).unwrap()
    }

    #[test]
    fn moments_inside_the_window() {
        let base = t("2026-03-10T00:00:00Z");
        // One day before: due 9 March 00:00.
        assert_eq!(
            due_moments(
                base,
                -1440,
                false,
                t("2026-03-08T00:00:00Z"),
                t("2026-03-09T00:00:00Z")
            ),
            vec![t("2026-03-09T00:00:00Z")]
        );
        assert!(due_moments(
            base,
            -1440,
            false,
            t("2026-03-09T00:00:00Z"),
            t("2026-03-12T00:00:00Z")
        )
        .is_empty());
    }

    #[test]
    fn yearly_moments_and_leap_days() {
        let birthday = t("1990-02-28T00:00:00Z");
        assert_eq!(
            due_moments(
                birthday,
                9 * 60,
                true,
                t("2026-01-01T00:00:00Z"),
                t("2028-12-31T00:00:00Z")
            ),
            vec![
                t("2026-02-28T09:00:00Z"),
                t("2027-02-28T09:00:00Z"),
                t("2028-02-28T09:00:00Z")
            ]
        );
        let leap = t("2000-02-29T00:00:00Z");
        assert_eq!(
            due_moments(
                leap,
                0,
                true,
                t("2026-01-01T00:00:00Z"),
                t("2026-12-31T00:00:00Z")
            ),
            vec![t("2026-02-28T00:00:00Z")]
        );
    }
}
