//! Reports e-mailed on a schedule (`report_schedules`, migration 0018): a report kind
//! with its parameters as a query string, weekly or monthly at an hour of the saving
//! user's time zone, to chosen users. The server's job computes the report for each
//! recipient with the recipient's own permissions and queues the mails; this module
//! keeps the schedules, computes due times ([`next_due`]) and claims a due time
//! ([`Store::complete_report_schedule`]): the mails are queued in the transaction that
//! moves `next_due` on, guarded by the `next_due` that was read, so each due time is
//! sent once however many workers run and whatever restarts happen. After downtime the
//! next due time is counted from the moment of sending: one catch-up mail, not one per
//! missed period.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use plotina_core::error::{DomainError, FieldError};
use plotina_core::policy::{Action, Actor};
use plotina_core::schema::Entity;
use sea_query::{Alias, Order, Query};
use serde::Serialize;

use super::ts_value;
use crate::db::Tx;
use crate::error::{fail, Result};
use crate::filter_sql::col;
use crate::mail::{queue_mail, NewMail};
use crate::store::Store;

/// The reports a schedule can send (the names of `/api/v1/reports/{name}`).
pub const KINDS: [&str; 9] = [
    "funnel",
    "dam",
    "abc-xyz",
    "velocity",
    "forecast",
    "managers",
    "by-industry",
    "overdue-children",
    "sources",
];

/// The most recipients one schedule has.
pub const MAX_RECIPIENTS: usize = 50;
/// The longest parameter string.
pub const MAX_PARAMS: usize = 4000;

/// How often a schedule sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Frequency {
    /// On an ISO weekday (1 = Monday … 7 = Sunday).
    Weekly,
    /// On a day of the month (1–31; a shorter month uses its last day).
    Monthly,
}

impl Frequency {
    pub fn parse(s: &str) -> Option<Frequency> {
        match s {
            "weekly" => Some(Frequency::Weekly),
            "monthly" => Some(Frequency::Monthly),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Frequency::Weekly => "weekly",
            Frequency::Monthly => "monthly",
        }
    }

    /// The days allowed: weekdays 1–7 or days of the month 1–31.
    pub fn max_day(self) -> i64 {
        match self {
            Frequency::Weekly => 7,
            Frequency::Monthly => 31,
        }
    }
}

fn last_day_of_month(d: NaiveDate) -> u32 {
    let (y, m) = if d.month() == 12 {
        (d.year() + 1, 1)
    } else {
        (d.year(), d.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1)
        .and_then(|n| n.pred_opt())
        .map(|l| l.day())
        .unwrap_or(28)
}

/// The first sending time strictly after `after`: the next matching day (weekday, or day
/// of the month clamped to the month's last day) at `hour`:00 in `tz`. An hour that a
/// clock change skips is taken at the first instant after the gap.
pub fn next_due(
    frequency: Frequency,
    day: u32,
    hour: u32,
    tz: chrono_tz::Tz,
    after: DateTime<Utc>,
) -> DateTime<Utc> {
    let start = after.with_timezone(&tz).date_naive();
    for offset in 0..=70 {
        let date = start + Duration::days(offset);
        let matches = match frequency {
            Frequency::Weekly => date.weekday().number_from_monday() == day,
            Frequency::Monthly => date.day() == day.min(last_day_of_month(date)),
        };
        if !matches {
            continue;
        }
        let Some(naive) = date.and_hms_opt(hour.min(23), 0, 0) else {
            continue;
        };
        let at = tz
            .from_local_datetime(&naive)
            .earliest()
            .or_else(|| {
                tz.from_local_datetime(&(naive + Duration::hours(1)))
                    .earliest()
            })
            .map(|t| t.with_timezone(&Utc));
        if let Some(at) = at.filter(|at| *at > after) {
            return at;
        }
    }
    // Unreachable for valid input (every weekday and month day recurs within 70 days).
    after + Duration::days(7)
}

/// What a user submits.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScheduleInput {
    pub report: String,
    /// The report's parameters as a query string (`period_from=…&pipeline=…`).
    pub params: String,
    pub frequency: String,
    pub day: i64,
    pub hour: i64,
    pub recipients: Vec<i64>,
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Schedule {
    pub id: i64,
    pub report: String,
    pub params: String,
    pub frequency: Frequency,
    pub day: i64,
    pub hour: i64,
    /// The zone the hour is in (the time zone of whoever saved the schedule).
    pub time_zone: String,
    pub recipients: Vec<i64>,
    pub enabled: bool,
    pub next_due: DateTime<Utc>,
    pub last_sent_at: Option<DateTime<Utc>>,
    pub created_by: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Schedule {
    /// The due time after `after` by this schedule's rule.
    pub fn due_after(&self, after: DateTime<Utc>) -> DateTime<Utc> {
        let tz = self.time_zone.parse().unwrap_or(chrono_tz::Europe::Moscow);
        next_due(self.frequency, self.day as u32, self.hour as u32, tz, after)
    }
}

/// Who may schedule reports: those who may export deals (a scheduled report is a
/// spreadsheet sent out of the system).
pub fn may_schedule(actor: &Actor) -> bool {
    actor.can(Entity::Deal, Action::Export)
}

const COLUMNS: [&str; 13] = [
    "id",
    "report",
    "params",
    "frequency",
    "day",
    "hour",
    "time_zone",
    "enabled",
    "next_due",
    "last_sent_at",
    "created_by",
    "created_at",
    "updated_at",
];

fn select() -> sea_query::SelectStatement {
    Query::select()
        .columns(COLUMNS.map(Alias::new))
        .from(Alias::new("report_schedules"))
        .order_by(Alias::new("id"), Order::Asc)
        .to_owned()
}

async fn load(tx: &mut Tx, q: &sea_query::SelectStatement) -> Result<Vec<Schedule>> {
    let rows = tx.fetch_all(q).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let id = r.i64("id")?.unwrap_or_default();
        let recipients = tx
            .fetch_all(
                &Query::select()
                    .column(Alias::new("user_id"))
                    .from(Alias::new("report_schedule_recipients"))
                    .and_where(col("schedule_id").eq(id))
                    .order_by(Alias::new("user_id"), Order::Asc)
                    .to_owned(),
            )
            .await?
            .iter()
            .map(|u| u.i64("user_id").map(Option::unwrap_or_default))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let now = plotina_core::value::now();
        out.push(Schedule {
            id,
            report: r.text("report")?.unwrap_or_default(),
            params: r.text("params")?.unwrap_or_default(),
            frequency: Frequency::parse(&r.text("frequency")?.unwrap_or_default())
                .unwrap_or(Frequency::Weekly),
            day: r.i64("day")?.unwrap_or(1),
            hour: r.i64("hour")?.unwrap_or_default(),
            time_zone: r.text("time_zone")?.unwrap_or_default(),
            recipients,
            enabled: r.bool("enabled")?,
            next_due: r.datetime("next_due")?.unwrap_or(now),
            last_sent_at: r.datetime("last_sent_at")?,
            created_by: r.i64("created_by")?.unwrap_or_default(),
            created_at: r.datetime("created_at")?.unwrap_or(now),
            updated_at: r.datetime("updated_at")?.unwrap_or(now),
        });
    }
    Ok(out)
}

/// Checks the input (every problem at once) and returns the frequency.
async fn validate(tx: &mut Tx, input: &ScheduleInput) -> Result<Frequency> {
    let mut errors = Vec::new();
    if !KINDS.contains(&input.report.as_str()) {
        errors.push(FieldError::new("report", "report_schedule_kind"));
    }
    if input.params.len() > MAX_PARAMS {
        errors
            .push(FieldError::new("params", "report_schedule_params_long").with("max", MAX_PARAMS));
    } else if input.params.chars().any(char::is_control) {
        // PostgreSQL cannot store NUL; a query string has no use for control characters.
        errors.push(FieldError::new("params", "text_control_chars"));
    }
    let frequency = Frequency::parse(&input.frequency);
    match frequency {
        None => errors.push(FieldError::new("frequency", "report_schedule_frequency")),
        Some(f) if !(1..=f.max_day()).contains(&input.day) => {
            errors.push(FieldError::new("day", "report_schedule_day").with("max", f.max_day()))
        }
        Some(_) => {}
    }
    if !(0..=23).contains(&input.hour) {
        errors.push(FieldError::new("hour", "report_schedule_hour"));
    }
    let mut ids = input.recipients.clone();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        errors.push(FieldError::new(
            "recipients",
            "report_schedule_no_recipients",
        ));
    } else if ids.len() > MAX_RECIPIENTS {
        errors.push(
            FieldError::new("recipients", "report_schedule_many_recipients")
                .with("max", MAX_RECIPIENTS),
        );
    } else {
        let found = tx
            .fetch_all(
                &Query::select()
                    .column(Alias::new("id"))
                    .from(Alias::new("users"))
                    .and_where(col("id").is_in(ids.clone()))
                    .and_where(col("active").eq(true))
                    .and_where(col("deleted_at").is_null())
                    .to_owned(),
            )
            .await?
            .iter()
            .map(|r| r.i64("id").map(Option::unwrap_or_default))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        if let Some(missing) = ids.iter().find(|i| !found.contains(i)) {
            errors.push(
                FieldError::new("recipients", "report_schedule_bad_recipient").with("id", *missing),
            );
        }
    }
    match frequency {
        Some(f) if errors.is_empty() => Ok(f),
        _ => fail(DomainError::Invalid(errors)),
    }
}

async fn write_recipients(tx: &mut Tx, id: i64, recipients: &[i64]) -> Result<()> {
    tx.execute(
        Query::delete()
            .from_table(Alias::new("report_schedule_recipients"))
            .and_where(col("schedule_id").eq(id)),
    )
    .await?;
    let mut ids = recipients.to_vec();
    ids.sort_unstable();
    ids.dedup();
    for user in ids {
        tx.execute(
            Query::insert()
                .into_table(Alias::new("report_schedule_recipients"))
                .columns(["schedule_id", "user_id"].map(Alias::new))
                .values_panic(crate::db::vals([id.into(), user.into()])),
        )
        .await?;
    }
    Ok(())
}

/// A schedule the actor may see and change: its creator's, or any for an administrator.
async fn own(tx: &mut Tx, actor: &Actor, id: i64) -> Result<Schedule> {
    let mut q = select();
    q.and_where(col("id").eq(id));
    if !actor.is_admin {
        q.and_where(col("created_by").eq(actor.user_id));
    }
    match load(tx, &q).await?.into_iter().next() {
        Some(s) => Ok(s),
        None => fail(DomainError::NotFound),
    }
}

impl Store {
    /// The schedules the actor made (an administrator: every schedule).
    pub async fn report_schedules(&self, actor: &Actor) -> Result<Vec<Schedule>> {
        let mut tx = self.pool().begin().await?;
        let mut q = select();
        if !actor.is_admin {
            q.and_where(col("created_by").eq(actor.user_id));
        }
        let out = load(&mut tx, &q).await?;
        tx.commit().await?;
        Ok(out)
    }

    pub async fn report_schedule(&self, actor: &Actor, id: i64) -> Result<Schedule> {
        let mut tx = self.pool().begin().await?;
        let out = own(&mut tx, actor, id).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// Checks a schedule's input without saving it (the same checks as saving).
    pub async fn check_report_schedule(&self, input: &ScheduleInput) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        validate(&mut tx, input).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Saves a new schedule; its first due time is the first one after `now`. The report
    /// parameters are checked by the caller (the server parses them as the report does).
    pub async fn create_report_schedule(
        &self,
        actor: &Actor,
        input: &ScheduleInput,
        now: DateTime<Utc>,
    ) -> Result<Schedule> {
        if !may_schedule(actor) {
            return fail(DomainError::Forbidden("report_export_forbidden"));
        }
        let mut tx = self.pool().begin_write().await?;
        let frequency = validate(&mut tx, input).await?;
        let tz = actor.time_zone;
        let due = next_due(frequency, input.day as u32, input.hour as u32, tz, now);
        let id = tx
            .insert_id(
                Query::insert()
                    .into_table(Alias::new("report_schedules"))
                    .columns(
                        [
                            "report",
                            "params",
                            "frequency",
                            "day",
                            "hour",
                            "time_zone",
                            "enabled",
                            "next_due",
                            "created_by",
                            "created_at",
                            "updated_at",
                        ]
                        .map(Alias::new),
                    )
                    .values_panic(crate::db::vals([
                        input.report.clone().into(),
                        input.params.clone().into(),
                        frequency.code().into(),
                        input.day.into(),
                        input.hour.into(),
                        tz.name().into(),
                        input.enabled.into(),
                        ts_value(due),
                        actor.user_id.into(),
                        ts_value(now),
                        ts_value(now),
                    ])),
            )
            .await?;
        write_recipients(&mut tx, id, &input.recipients).await?;
        let out = own(&mut tx, actor, id).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// Replaces a schedule (its creator or an administrator; others get `NotFound`).
    /// The next due time is counted again from `now`, in the saving user's time zone.
    pub async fn update_report_schedule(
        &self,
        actor: &Actor,
        id: i64,
        input: &ScheduleInput,
        now: DateTime<Utc>,
    ) -> Result<Schedule> {
        let mut tx = self.pool().begin_write().await?;
        own(&mut tx, actor, id).await?;
        if !may_schedule(actor) {
            return fail(DomainError::Forbidden("report_export_forbidden"));
        }
        let frequency = validate(&mut tx, input).await?;
        let tz = actor.time_zone;
        let due = next_due(frequency, input.day as u32, input.hour as u32, tz, now);
        tx.execute(
            Query::update()
                .table(Alias::new("report_schedules"))
                .value(Alias::new("report"), input.report.clone())
                .value(Alias::new("params"), input.params.clone())
                .value(Alias::new("frequency"), frequency.code())
                .value(Alias::new("day"), input.day)
                .value(Alias::new("hour"), input.hour)
                .value(Alias::new("time_zone"), tz.name())
                .value(Alias::new("enabled"), input.enabled)
                .value(Alias::new("next_due"), ts_value(due))
                .value(Alias::new("updated_at"), ts_value(now))
                .and_where(col("id").eq(id)),
        )
        .await?;
        write_recipients(&mut tx, id, &input.recipients).await?;
        let out = own(&mut tx, actor, id).await?;
        tx.commit().await?;
        Ok(out)
    }

    pub async fn delete_report_schedule(&self, actor: &Actor, id: i64) -> Result<()> {
        let mut tx = self.pool().begin_write().await?;
        own(&mut tx, actor, id).await?;
        tx.execute(
            Query::delete()
                .from_table(Alias::new("report_schedule_recipients"))
                .and_where(col("schedule_id").eq(id)),
        )
        .await?;
        tx.execute(
            Query::delete()
                .from_table(Alias::new("report_schedules"))
                .and_where(col("id").eq(id)),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Enabled schedules due at `now` (an index range on `(enabled, next_due)`).
    pub async fn due_report_schedules(&self, now: DateTime<Utc>) -> Result<Vec<Schedule>> {
        let mut tx = self.pool().begin().await?;
        let mut q = select();
        q.and_where(col("enabled").eq(true))
            .and_where(col("next_due").lte(ts_value(now)))
            .limit(100);
        let out = load(&mut tx, &q).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// The e-mail addresses of active users among `ids` (users without one are left out).
    pub async fn recipient_addresses(&self, ids: &[i64]) -> Result<Vec<(i64, String)>> {
        let mut tx = self.pool().begin().await?;
        let rows = tx
            .fetch_all(
                &Query::select()
                    .columns(["id", "email"].map(Alias::new))
                    .from(Alias::new("users"))
                    .and_where(col("id").is_in(ids.to_vec()))
                    .and_where(col("active").eq(true))
                    .and_where(col("deleted_at").is_null())
                    .order_by(Alias::new("id"), Order::Asc)
                    .to_owned(),
            )
            .await?;
        tx.commit().await?;
        let mut out = Vec::new();
        for r in rows {
            if let Some(email) = r.text("email")?.filter(|e| !e.trim().is_empty()) {
                out.push((r.i64("id")?.unwrap_or_default(), email));
            }
        }
        Ok(out)
    }

    /// Claims the due time `schedule.next_due` and queues `mails` in one transaction:
    /// `next_due` moves to the first due time after `now` only if it is still the one
    /// read, so a second worker, or a pass repeated after a restart, claims nothing and
    /// queues nothing. Returns whether this call claimed it.
    pub async fn complete_report_schedule(
        &self,
        schedule: &Schedule,
        now: DateTime<Utc>,
        mails: &[NewMail],
    ) -> Result<bool> {
        let mut tx = self.pool().begin_write().await?;
        let next = schedule.due_after(now);
        let claimed = tx
            .execute(
                Query::update()
                    .table(Alias::new("report_schedules"))
                    .value(Alias::new("next_due"), ts_value(next))
                    .value(Alias::new("last_sent_at"), ts_value(now))
                    .and_where(col("id").eq(schedule.id))
                    .and_where(col("enabled").eq(true))
                    .and_where(col("next_due").eq(ts_value(schedule.next_due))),
            )
            .await?;
        if claimed != 1 {
            return Ok(false);
        }
        for m in mails {
            queue_mail(&mut tx, m).await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn weekly_and_monthly_due_times() {
        let msk = chrono_tz::Europe::Moscow;
        // Tuesday 2026-11-24 10:00 Moscow (07:00 UTC) → Monday 2026-11-30 08:00 Moscow.
        assert_eq!(
            next_due(Frequency::Weekly, 1, 8, msk, at("2026-11-24T07:00:00Z")),
            at("2026-11-30T05:00:00Z")
        );
        // Monday 07:59 Moscow → the same day at 08:00; at 08:00 exactly → a week later.
        assert_eq!(
            next_due(Frequency::Weekly, 1, 8, msk, at("2026-11-30T04:59:00Z")),
            at("2026-11-30T05:00:00Z")
        );
        assert_eq!(
            next_due(Frequency::Weekly, 1, 8, msk, at("2026-11-30T05:00:00Z")),
            at("2026-12-07T05:00:00Z")
        );
        // Monthly on the 31st: November has 30 days → 30 November; then 31 December.
        assert_eq!(
            next_due(Frequency::Monthly, 31, 9, msk, at("2026-11-24T07:00:00Z")),
            at("2026-11-30T06:00:00Z")
        );
        assert_eq!(
            next_due(Frequency::Monthly, 31, 9, msk, at("2026-11-30T06:00:00Z")),
            at("2026-12-31T06:00:00Z")
        );
        // February 2027 has 28 days.
        assert_eq!(
            next_due(Frequency::Monthly, 30, 0, msk, at("2027-01-30T00:00:00Z")),
            at("2027-02-27T21:00:00Z")
        );
        // Berlin: 2026-03-29 02:00 does not exist (clocks go 02:00 → 03:00).
        let berlin = chrono_tz::Europe::Berlin;
        assert_eq!(
            next_due(Frequency::Weekly, 7, 2, berlin, at("2026-03-28T12:00:00Z")),
            at("2026-03-29T01:00:00Z")
        );
    }
}
