//! Customer classes stored per company (migration 0017): the ABC/XYZ of
//! [`super::abc_xyz::compute`] over the **whole base** (a system job, not a user's
//! view), written to `customer_classes` with one `customer_class_changes` row per company
//! whose class changed against the previous calculation, and a manual override that wins
//! over the computed class.
//!
//! - **Window.** A calculation at instant `now` looks at the last `months` whole months
//!   before `now`'s month (at the start of December 2026 with 12 months: December 2025
//!   to November 2026), so a run early in a month sees finished months only.
//! - **Schedule.** [`Schedule`] cuts time into periods (month, ISO week, day, UTC). The
//!   job calls [`Store::scheduled_customer_classes`], which calculates only when the
//!   last calculation (of any source) is older than the current period's start, and
//!   marks its run with the period's key — unique in the table, so two servers or a
//!   restart never calculate one period twice, and a server that was down catches up on
//!   its first check.
//! - **Override.** Administrators and heads (who see their department's deals, as for
//!   plans and rating weights) set the class of either axis by hand with a reason; the
//!   effective class is the override where set, else the computed one. Setting and
//!   clearing are history rows too.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use plotina_core::error::{DomainError, FieldError};
use plotina_core::policy::{Action, Actor, Scope};
use plotina_core::schema::Entity;
use sea_query::{Alias, Expr, Order, Query, Value as SqlValue};

use super::abc_xyz::{compute, Thresholds};
use super::dam::month_index;
use crate::db::{Row, Tx};
use crate::error::{fail, Result};
use crate::filter_sql::col;
use crate::store::Store;
use crate::StoreError;

/// How often the job recalculates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    Off,
    Daily,
    Weekly,
    Monthly,
}

impl Schedule {
    pub fn parse(s: &str) -> Option<Schedule> {
        match s.trim() {
            "off" | "" => Some(Schedule::Off),
            "daily" => Some(Schedule::Daily),
            "weekly" => Some(Schedule::Weekly),
            "monthly" => Some(Schedule::Monthly),
            _ => None,
        }
    }

    /// The key and the first instant of the period holding `now`; `None` when off.
    pub fn period(self, now: DateTime<Utc>) -> Option<(String, DateTime<Utc>)> {
        let day = now.date_naive();
        let (key, start) = match self {
            Schedule::Off => return None,
            Schedule::Daily => (day.format("%Y-%m-%d").to_string(), day),
            Schedule::Weekly => {
                let w = day.iso_week();
                (
                    format!("{:04}-W{:02}", w.year(), w.week()),
                    day - Duration::days(i64::from(day.weekday().num_days_from_monday())),
                )
            }
            Schedule::Monthly => (day.format("%Y-%m").to_string(), day.with_day(1)?),
        };
        Some((key, start.and_time(chrono::NaiveTime::MIN).and_utc()))
    }
}

/// What a calculation uses: the thresholds of [`Thresholds`] and the window length.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct ClassSettings {
    pub thresholds: Thresholds,
    /// Whole months before the calculation's month (1–60).
    pub months: u32,
}

impl Default for ClassSettings {
    fn default() -> Self {
        ClassSettings {
            thresholds: Thresholds::default(),
            months: 12,
        }
    }
}

impl ClassSettings {
    pub fn validate(&self) -> Result<()> {
        self.thresholds.validate()?;
        if !(1..=60).contains(&self.months) {
            return fail(DomainError::BadRequest(
                FieldError::new("months", "abc_bad_months").with("max", 60),
            ));
        }
        Ok(())
    }

    /// The first and last month (indexes) and days of the window of a run at `now`.
    pub fn window(&self, now: DateTime<Utc>) -> (i32, i32, NaiveDate, NaiveDate) {
        let this = month_index(now.date_naive());
        let (first, last) = (this - self.months as i32, this - 1);
        let day1 = |m: i32| {
            NaiveDate::from_ymd_opt(m.div_euclid(12), m.rem_euclid(12) as u32 + 1, 1)
                .unwrap_or_default()
        };
        (first, last, day1(first), day1(this) - Duration::days(1))
    }
}

/// One calculation.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ClassRun {
    pub id: i64,
    pub calculated_at: DateTime<Utc>,
    pub period_key: Option<String>,
    pub window_from: NaiveDate,
    pub window_to: NaiveDate,
    /// Companies classified.
    pub customers: i64,
    /// Companies whose class changed (including first classified and dropped out).
    pub changed: i64,
    /// `schedule`, `api`, `web` or `cli`.
    pub source: String,
    pub created_by: Option<i64>,
}

/// A company's stored class.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StoredClass {
    pub company_id: i64,
    /// The effective class: the override where set, else the computed one.
    pub abc: Option<char>,
    pub xyz: Option<char>,
    pub computed_abc: Option<char>,
    pub computed_xyz: Option<char>,
    pub revenue: i64,
    pub deals: i64,
    /// Share of the total, 0–1, four decimals.
    pub share: f64,
    /// Coefficient of variation of monthly revenue, four decimals.
    pub cv: f64,
    pub run_id: Option<i64>,
    pub calculated_at: Option<DateTime<Utc>>,
    pub override_abc: Option<char>,
    pub override_xyz: Option<char>,
    pub override_reason: Option<String>,
    pub override_by: Option<i64>,
    pub override_at: Option<DateTime<Utc>>,
    /// The computed class before the last calculation, when that calculation changed it.
    pub previous: Option<ClassChange>,
}

/// A change of a company's class.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ClassChange {
    pub id: i64,
    /// `calculation`, `override` or `override_cleared`.
    pub kind: String,
    pub run_id: Option<i64>,
    pub old_abc: Option<char>,
    pub old_xyz: Option<char>,
    pub new_abc: Option<char>,
    pub new_xyz: Option<char>,
    pub reason: Option<String>,
    pub changed_at: DateTime<Utc>,
    pub changed_by: Option<i64>,
}

/// A manual class: either axis or both; `None` on both clears the override.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Override {
    pub abc: Option<char>,
    pub xyz: Option<char>,
    pub reason: String,
}

/// The longest reason kept.
pub const MAX_REASON: usize = 500;

/// Who may override classes and recalculate them: administrators, and heads who see
/// their department's deals (as for plans and rating weights).
pub fn may_classify(actor: &Actor) -> bool {
    actor.is_admin || actor.scope(Entity::Deal, Action::Read) >= Scope::Department
}

fn letter(r: &Row, c: &str) -> Result<Option<char>> {
    Ok(r.text(c)?.and_then(|s| s.chars().next()))
}

fn text(c: Option<char>) -> SqlValue {
    SqlValue::String(c.map(|c| Box::new(c.to_string())))
}

fn change(r: &Row) -> Result<ClassChange> {
    Ok(ClassChange {
        id: r.i64("id")?.unwrap_or_default(),
        kind: r.text("kind")?.unwrap_or_default(),
        run_id: r.i64("run_id")?,
        old_abc: letter(r, "old_abc")?,
        old_xyz: letter(r, "old_xyz")?,
        new_abc: letter(r, "new_abc")?,
        new_xyz: letter(r, "new_xyz")?,
        reason: r.text("reason")?,
        changed_at: r.datetime("changed_at")?.unwrap_or_default(),
        changed_by: r.i64("changed_by")?,
    })
}

const CHANGE_COLUMNS: [&str; 11] = [
    "id",
    "company_id",
    "kind",
    "run_id",
    "old_abc",
    "old_xyz",
    "new_abc",
    "new_xyz",
    "reason",
    "changed_at",
    "changed_by",
];

const CLASS_COLUMNS: [&str; 14] = [
    "company_id",
    "run_id",
    "abc",
    "xyz",
    "revenue",
    "deals",
    "share_e4",
    "cv_e4",
    "calculated_at",
    "override_abc",
    "override_xyz",
    "override_reason",
    "override_by",
    "override_at",
];

fn stored(r: &Row) -> Result<StoredClass> {
    let (abc, xyz) = (letter(r, "abc")?, letter(r, "xyz")?);
    let (oa, ox) = (letter(r, "override_abc")?, letter(r, "override_xyz")?);
    Ok(StoredClass {
        company_id: r.i64("company_id")?.unwrap_or_default(),
        abc: oa.or(abc),
        xyz: ox.or(xyz),
        computed_abc: abc,
        computed_xyz: xyz,
        revenue: r.i64("revenue")?.unwrap_or_default(),
        deals: r.i64("deals")?.unwrap_or_default(),
        share: r.i64("share_e4")?.unwrap_or_default() as f64 / 10_000.0,
        cv: r.i64("cv_e4")?.unwrap_or_default() as f64 / 10_000.0,
        run_id: r.i64("run_id")?,
        calculated_at: r.datetime("calculated_at")?,
        override_abc: oa,
        override_xyz: ox,
        override_reason: r.text("override_reason")?,
        override_by: r.i64("override_by")?,
        override_at: r.datetime("override_at")?,
        previous: None,
    })
}

fn run(r: &Row) -> Result<ClassRun> {
    Ok(ClassRun {
        id: r.i64("id")?.unwrap_or_default(),
        calculated_at: r.datetime("calculated_at")?.unwrap_or_default(),
        period_key: r.text("period_key")?,
        window_from: r.date("window_from")?.unwrap_or_default(),
        window_to: r.date("window_to")?.unwrap_or_default(),
        customers: r.i64("customers")?.unwrap_or_default(),
        changed: r.i64("changed")?.unwrap_or_default(),
        source: r.text("source")?.unwrap_or_default(),
        created_by: r.i64("created_by")?,
    })
}

/// Stored classes of the given companies (all of them with `None`), with the change
/// their last calculation made.
async fn classes_of(tx: &mut Tx, ids: Option<&[i64]>) -> Result<Vec<StoredClass>> {
    let mut q = Query::select()
        .columns(CLASS_COLUMNS.map(Alias::new))
        .from(Alias::new("customer_classes"))
        .order_by(Alias::new("company_id"), Order::Asc)
        .to_owned();
    if let Some(ids) = ids {
        q.and_where(col("company_id").is_in(ids.to_vec()));
    }
    let mut out = Vec::new();
    for r in tx.fetch_all(&q).await? {
        out.push(stored(&r)?);
    }
    let runs: Vec<i64> = out.iter().filter_map(|c| c.run_id).collect();
    if runs.is_empty() {
        return Ok(out);
    }
    let mut q = Query::select()
        .columns(CHANGE_COLUMNS.map(Alias::new))
        .from(Alias::new("customer_class_changes"))
        .and_where(col("kind").eq("calculation"))
        .and_where(col("run_id").is_in(runs))
        .to_owned();
    if let Some(ids) = ids {
        q.and_where(col("company_id").is_in(ids.to_vec()));
    }
    let mut last: HashMap<(i64, i64), ClassChange> = HashMap::new();
    for r in tx.fetch_all(&q).await? {
        let c = change(&r)?;
        last.insert(
            (
                r.i64("company_id")?.unwrap_or_default(),
                c.run_id.unwrap_or(0),
            ),
            c,
        );
    }
    for c in &mut out {
        if let Some(run) = c.run_id {
            c.previous = last.remove(&(c.company_id, run));
        }
    }
    Ok(out)
}

struct Current {
    abc: Option<char>,
    xyz: Option<char>,
    overridden: bool,
}

impl Store {
    /// Recalculates every company's class over the whole base now (by hand: the API,
    /// the page, the CLI). `by` is checked with [`may_classify`]; the CLI passes `None`.
    pub async fn recalculate_customer_classes(
        &self,
        by: Option<&Actor>,
        settings: &ClassSettings,
        now: DateTime<Utc>,
        source: &str,
    ) -> Result<ClassRun> {
        if by.is_some_and(|a| !may_classify(a)) {
            return fail(DomainError::Forbidden("abc_forbidden"));
        }
        settings.validate()?;
        let mut tx = self.pool().begin_write().await?;
        let out = calculate(&mut tx, by.map(|a| a.user_id), settings, now, source, None).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// The job's pass: calculates when the last calculation is older than the start of
    /// the schedule's current period, marking the run with the period's key. `None`
    /// when nothing was due (or another server took the period first).
    pub async fn scheduled_customer_classes(
        &self,
        schedule: Schedule,
        settings: &ClassSettings,
        now: DateTime<Utc>,
    ) -> Result<Option<ClassRun>> {
        let Some((key, start)) = schedule.period(now) else {
            return Ok(None);
        };
        settings.validate()?;
        let mut tx = self.pool().begin_write().await?;
        let last = tx
            .fetch_optional(
                &Query::select()
                    .expr_as(
                        Expr::col(Alias::new("calculated_at")).max(),
                        Alias::new("last_at"),
                    )
                    .from(Alias::new("customer_class_runs"))
                    .to_owned(),
            )
            .await?;
        // MAX over a TEXT column comes back as text on SQLite; compare as instants.
        let last_at = match last {
            Some(r) => match r.datetime("last_at") {
                Ok(t) => t,
                Err(_) => r
                    .text("last_at")?
                    .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
                    .map(|t| t.with_timezone(&Utc)),
            },
            None => None,
        };
        if last_at.is_some_and(|t| t >= start) {
            return Ok(None);
        }
        match calculate(&mut tx, None, settings, now, "schedule", Some(&key)).await {
            Ok(out) => {
                tx.commit().await?;
                Ok(Some(out))
            }
            Err(StoreError::Domain(DomainError::Conflict(_))) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The calculations, newest first.
    pub async fn customer_class_runs(&self, limit: u64) -> Result<Vec<ClassRun>> {
        let mut tx = self.pool().begin().await?;
        let rows = tx
            .fetch_all(
                &Query::select()
                    .columns(
                        [
                            "id",
                            "calculated_at",
                            "period_key",
                            "window_from",
                            "window_to",
                            "customers",
                            "changed",
                            "source",
                            "created_by",
                        ]
                        .map(Alias::new),
                    )
                    .from(Alias::new("customer_class_runs"))
                    .order_by(Alias::new("id"), Order::Desc)
                    .limit(limit.clamp(1, 500))
                    .to_owned(),
            )
            .await?;
        tx.commit().await?;
        rows.iter().map(run).collect()
    }

    /// A company's stored class (none when it was never classified nor overridden) and
    /// its changes, newest first. 404 when the actor may not read the company.
    pub async fn customer_class(
        &self,
        actor: &Actor,
        company_id: i64,
    ) -> Result<(Option<StoredClass>, Vec<ClassChange>)> {
        self.get(actor, Entity::Company, company_id).await?;
        let mut tx = self.pool().begin().await?;
        let current = classes_of(&mut tx, Some(&[company_id])).await?.pop();
        let rows = tx
            .fetch_all(
                &Query::select()
                    .columns(CHANGE_COLUMNS.map(Alias::new))
                    .from(Alias::new("customer_class_changes"))
                    .and_where(col("company_id").eq(company_id))
                    .order_by(Alias::new("id"), Order::Desc)
                    .limit(200)
                    .to_owned(),
            )
            .await?;
        tx.commit().await?;
        let history = rows.iter().map(change).collect::<Result<Vec<_>>>()?;
        Ok((current, history))
    }

    /// Stored classes of the companies among `ids` the actor may read, by company.
    pub async fn customer_classes_of(
        &self,
        actor: &Actor,
        ids: &[i64],
    ) -> Result<BTreeMap<i64, StoredClass>> {
        let mut out = BTreeMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        let mut tx = self.pool().begin().await?;
        let mut q = Query::select()
            .column(Alias::new("id"))
            .from(Alias::new("companies"))
            .and_where(col("id").is_in(ids.to_vec()))
            .and_where(col("deleted_at").is_null())
            .to_owned();
        if let Some(v) = crate::scope::visible(actor, Entity::Company, Action::Read) {
            q.and_where(v);
        }
        let mut readable = Vec::new();
        for r in tx.fetch_all(&q).await? {
            readable.extend(r.i64("id")?);
        }
        for c in classes_of(&mut tx, Some(&readable)).await? {
            out.insert(c.company_id, c);
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Sets (or, with neither axis, clears) a company's manual class.
    pub async fn set_customer_class_override(
        &self,
        actor: &Actor,
        company_id: i64,
        o: &Override,
    ) -> Result<Option<StoredClass>> {
        if !may_classify(actor) {
            return fail(DomainError::Forbidden("abc_forbidden"));
        }
        let mut errors = Vec::new();
        if o.abc.is_some_and(|c| !"ABC".contains(c)) {
            errors.push(FieldError::new("abc", "abc_bad_abc"));
        }
        if o.xyz.is_some_and(|c| !"XYZ".contains(c)) {
            errors.push(FieldError::new("xyz", "abc_bad_xyz"));
        }
        let reason = o.reason.trim();
        let setting = o.abc.is_some() || o.xyz.is_some();
        if setting && reason.is_empty() {
            errors.push(FieldError::new("reason", "abc_reason_required"));
        }
        if reason.chars().count() > MAX_REASON {
            errors.push(FieldError::new("reason", "text_too_long").with("max", MAX_REASON));
        }
        if !errors.is_empty() {
            return fail(DomainError::Invalid(errors));
        }
        self.get(actor, Entity::Company, company_id).await?;
        let now = plotina_core::value::now();
        let mut tx = self.pool().begin_write().await?;
        let row = tx
            .fetch_optional(
                &Query::select()
                    .columns(["abc", "xyz", "override_abc", "override_xyz"].map(Alias::new))
                    .from(Alias::new("customer_classes"))
                    .and_where(col("company_id").eq(company_id))
                    .to_owned(),
            )
            .await?;
        let (computed, old) = match &row {
            Some(r) => {
                let (a, x) = (letter(r, "abc")?, letter(r, "xyz")?);
                let (oa, ox) = (letter(r, "override_abc")?, letter(r, "override_xyz")?);
                ((a, x), (oa.or(a), ox.or(x)))
            }
            None => ((None, None), (None, None)),
        };
        let had_override = match &row {
            Some(r) => r.text("override_abc")?.is_some() || r.text("override_xyz")?.is_some(),
            None => false,
        };
        if !setting && !had_override {
            tx.commit().await?;
            return Ok(self
                .customer_classes_of(actor, &[company_id])
                .await?
                .remove(&company_id));
        }
        let reason_v: SqlValue = if reason.is_empty() {
            SqlValue::String(None)
        } else {
            reason.to_string().into()
        };
        let (by, at): (SqlValue, SqlValue) = if setting {
            (actor.user_id.into(), now.into())
        } else {
            (SqlValue::BigInt(None), SqlValue::ChronoDateTimeUtc(None))
        };
        if !setting && computed.0.is_none() {
            // Nothing computed and nothing overridden any more: no class to keep.
            tx.execute(
                Query::delete()
                    .from_table(Alias::new("customer_classes"))
                    .and_where(col("company_id").eq(company_id)),
            )
            .await?;
        } else if row.is_some() {
            tx.execute(
                Query::update()
                    .table(Alias::new("customer_classes"))
                    .values([
                        (Alias::new("override_abc"), text(o.abc).into()),
                        (Alias::new("override_xyz"), text(o.xyz).into()),
                        (Alias::new("override_reason"), reason_v.clone().into()),
                        (Alias::new("override_by"), by.into()),
                        (Alias::new("override_at"), at.into()),
                    ])
                    .and_where(col("company_id").eq(company_id)),
            )
            .await?;
        } else {
            tx.execute(
                Query::insert()
                    .into_table(Alias::new("customer_classes"))
                    .columns(
                        [
                            "company_id",
                            "override_abc",
                            "override_xyz",
                            "override_reason",
                            "override_by",
                            "override_at",
                        ]
                        .map(Alias::new),
                    )
                    .values_panic(crate::db::vals([
                        company_id.into(),
                        text(o.abc),
                        text(o.xyz),
                        reason_v.clone(),
                        by,
                        at,
                    ])),
            )
            .await?;
        }
        let new = (o.abc.or(computed.0), o.xyz.or(computed.1));
        tx.execute(
            Query::insert()
                .into_table(Alias::new("customer_class_changes"))
                .columns(
                    [
                        "company_id",
                        "kind",
                        "old_abc",
                        "old_xyz",
                        "new_abc",
                        "new_xyz",
                        "reason",
                        "changed_at",
                        "changed_by",
                    ]
                    .map(Alias::new),
                )
                .values_panic(crate::db::vals([
                    company_id.into(),
                    if setting {
                        "override"
                    } else {
                        "override_cleared"
                    }
                    .into(),
                    text(old.0),
                    text(old.1),
                    text(new.0),
                    text(new.1),
                    reason_v,
                    now.into(),
                    actor.user_id.into(),
                ])),
        )
        .await?;
        tx.commit().await?;
        Ok(self
            .customer_classes_of(actor, &[company_id])
            .await?
            .remove(&company_id))
    }
}

/// One calculation inside `tx`: reads the won deals of the window over the whole base,
/// classifies, and writes the classes, the changes and the run.
async fn calculate(
    tx: &mut Tx,
    by: Option<i64>,
    settings: &ClassSettings,
    now: DateTime<Utc>,
    source: &str,
    period_key: Option<&str>,
) -> Result<ClassRun> {
    let (first, last, window_from, window_to) = settings.window(now);
    let from = window_from.and_time(chrono::NaiveTime::MIN).and_utc();
    let to = (window_to + Duration::days(1))
        .and_time(chrono::NaiveTime::MIN)
        .and_utc();
    let stages = super::all_stages(tx).await?;
    let won = super::stages_of_kind(&stages, &["won"]);
    let q = Query::select()
        .columns(["company_id", "closed_at", "amount"].map(Alias::new))
        .from(Alias::new("deals"))
        .and_where(col("deleted_at").is_null())
        .and_where(col("company_id").is_not_null())
        .and_where(col("stage_id").is_in(won))
        .and_where(col("closed_at").gte(super::ts_value(from)))
        .and_where(col("closed_at").lt(super::ts_value(to)))
        .and_where(
            col("company_id").in_subquery(
                Query::select()
                    .column(Alias::new("id"))
                    .from(Alias::new("companies"))
                    .and_where(col("deleted_at").is_null())
                    .to_owned(),
            ),
        )
        .to_owned();
    let mut sales = Vec::new();
    for r in tx.fetch_all(&q).await? {
        if let (Some(c), Some(at)) = (r.i64("company_id")?, r.datetime("closed_at")?) {
            sales.push((
                c,
                month_index(at.date_naive()),
                r.i64("amount")?.unwrap_or(0),
            ));
        }
    }
    let result = compute(&sales, first, last, settings.thresholds);

    let mut current: HashMap<i64, Current> = HashMap::new();
    let rows = tx
        .fetch_all(
            &Query::select()
                .columns(
                    ["company_id", "abc", "xyz", "override_abc", "override_xyz"].map(Alias::new),
                )
                .from(Alias::new("customer_classes"))
                .to_owned(),
        )
        .await?;
    for r in rows {
        current.insert(
            r.i64("company_id")?.unwrap_or_default(),
            Current {
                abc: letter(&r, "abc")?,
                xyz: letter(&r, "xyz")?,
                overridden: r.text("override_abc")?.is_some() || r.text("override_xyz")?.is_some(),
            },
        );
    }

    let thresholds = serde_json::to_value(settings).unwrap_or_default();
    let mut ins = Query::insert();
    ins.into_table(Alias::new("customer_class_runs"))
        .columns(
            [
                "calculated_at",
                "period_key",
                "window_from",
                "window_to",
                "thresholds",
                "customers",
                "changed",
                "source",
                "created_by",
            ]
            .map(Alias::new),
        )
        .values_panic(crate::db::vals([
            now.into(),
            SqlValue::String(period_key.map(|k| Box::new(k.to_string()))),
            window_from.into(),
            window_to.into(),
            SqlValue::Json(Some(Box::new(thresholds))),
            (result.customers.len() as i64).into(),
            0i64.into(),
            source.into(),
            by.into(),
        ]));
    let run_id = tx.insert_id(&mut ins).await?;

    let mut changes: Vec<Vec<sea_query::SimpleExpr>> = Vec::new();
    let mut change_row =
        |company: i64, old: (Option<char>, Option<char>), new: (Option<char>, Option<char>)| {
            changes.push(crate::db::vals([
                company.into(),
                "calculation".into(),
                run_id.into(),
                text(old.0),
                text(old.1),
                text(new.0),
                text(new.1),
                now.into(),
                by.into(),
            ]));
        };
    let mut inserts = Vec::new();
    for c in &result.customers {
        let e4 = |v: f64| (v * 10_000.0).round() as i64;
        let computed = (Some(c.abc), Some(c.xyz));
        match current.remove(&c.company_id) {
            Some(cur) => {
                if (cur.abc, cur.xyz) != computed {
                    change_row(c.company_id, (cur.abc, cur.xyz), computed);
                }
                tx.execute(
                    Query::update()
                        .table(Alias::new("customer_classes"))
                        .values([
                            (Alias::new("run_id"), run_id.into()),
                            (Alias::new("abc"), text(computed.0).into()),
                            (Alias::new("xyz"), text(computed.1).into()),
                            (Alias::new("revenue"), c.revenue.into()),
                            (Alias::new("deals"), c.deals.into()),
                            (Alias::new("share_e4"), e4(c.share).into()),
                            (Alias::new("cv_e4"), e4(c.cv).into()),
                            (Alias::new("calculated_at"), now.into()),
                        ])
                        .and_where(col("company_id").eq(c.company_id)),
                )
                .await?;
            }
            None => {
                change_row(c.company_id, (None, None), computed);
                inserts.push(crate::db::vals([
                    c.company_id.into(),
                    run_id.into(),
                    text(computed.0),
                    text(computed.1),
                    c.revenue.into(),
                    c.deals.into(),
                    e4(c.share).into(),
                    e4(c.cv).into(),
                    now.into(),
                ]));
            }
        }
    }
    crate::db::insert_rows(
        tx,
        "customer_classes",
        &[
            "company_id",
            "run_id",
            "abc",
            "xyz",
            "revenue",
            "deals",
            "share_e4",
            "cv_e4",
            "calculated_at",
        ],
        inserts,
    )
    .await?;
    // Companies that bought nothing in the window: no computed class any more. A row
    // with an override stays (the override still holds); others go.
    let mut gone = Vec::new();
    let mut keep = Vec::new();
    for (company, cur) in current {
        if cur.abc.is_some() || cur.xyz.is_some() {
            change_row(company, (cur.abc, cur.xyz), (None, None));
        }
        if cur.overridden {
            keep.push(company);
        } else {
            gone.push(company);
        }
    }
    if !gone.is_empty() {
        tx.execute(
            Query::delete()
                .from_table(Alias::new("customer_classes"))
                .and_where(col("company_id").is_in(gone)),
        )
        .await?;
    }
    if !keep.is_empty() {
        tx.execute(
            Query::update()
                .table(Alias::new("customer_classes"))
                .values([
                    (Alias::new("run_id"), run_id.into()),
                    (Alias::new("abc"), text(None).into()),
                    (Alias::new("xyz"), text(None).into()),
                    (Alias::new("revenue"), 0i64.into()),
                    (Alias::new("deals"), 0i64.into()),
                    (Alias::new("share_e4"), 0i64.into()),
                    (Alias::new("cv_e4"), 0i64.into()),
                    (Alias::new("calculated_at"), now.into()),
                ])
                .and_where(col("company_id").is_in(keep)),
        )
        .await?;
    }
    let changed = changes.len() as i64;
    crate::db::insert_rows(
        tx,
        "customer_class_changes",
        &[
            "company_id",
            "kind",
            "run_id",
            "old_abc",
            "old_xyz",
            "new_abc",
            "new_xyz",
            "changed_at",
            "changed_by",
        ],
        changes,
    )
    .await?;
    tx.execute(
        Query::update()
            .table(Alias::new("customer_class_runs"))
            .value(Alias::new("changed"), changed)
            .and_where(col("id").eq(run_id)),
    )
    .await?;
    Ok(ClassRun {
        id: run_id,
        calculated_at: now,
        period_key: period_key.map(str::to_string),
        window_from,
        window_to,
        customers: result.customers.len() as i64,
        changed,
        source: source.to_string(),
        created_by: by,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn periods_and_windows() {
        let now = at("2026-12-03T10:00:00Z");
        assert_eq!(
            Schedule::Monthly.period(now),
            Some(("2026-12".into(), at("2026-12-01T00:00:00Z")))
        );
        // 3 December 2026 is a Thursday of ISO week 49; the week began on Monday 30 November.
        assert_eq!(
            Schedule::Weekly.period(now),
            Some(("2026-W49".into(), at("2026-11-30T00:00:00Z")))
        );
        assert_eq!(
            Schedule::Daily.period(now),
            Some(("2026-12-03".into(), at("2026-12-03T00:00:00Z")))
        );
        assert_eq!(Schedule::Off.period(now), None);
        assert_eq!(Schedule::parse("yearly"), None);
        // Twelve whole months before December 2026: December 2025 to November 2026.
        let (_, _, from, to) = ClassSettings::default().window(now);
        assert_eq!(
            (from, to),
            (
                NaiveDate::from_ymd_opt(2025, 12, 1).unwrap(),
                NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()
            )
        );
        // Three months before March 2026: December 2025 to February 2026 (28 days).
        let s = ClassSettings {
            months: 3,
            ..Default::default()
        };
        let (first, last, from, to) = s.window(at("2026-03-01T00:00:00Z"));
        assert_eq!(last - first, 2);
        assert_eq!(
            (from, to),
            (
                NaiveDate::from_ymd_opt(2025, 12, 1).unwrap(),
                NaiveDate::from_ymd_opt(2026, 2, 28).unwrap()
            )
        );
        assert!(ClassSettings {
            months: 0,
            ..Default::default()
        }
        .validate()
        .is_err());
    }
}
