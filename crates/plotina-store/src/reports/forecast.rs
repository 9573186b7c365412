//! Forecast and plan: per month, the sales plan, the actual revenue (won deals by
//! closing month) and the open pipeline by expected close month — weighted
//! (amount × probability), best case (every open deal), commit (deals at 70 % or more)
//! — with `forecast = actual + weighted`, what the month is expected to end at.
//!
//! A deal's probability is its own when set, else its stage's, else 0. Open deals
//! without an expected close date, or dated before the first month, are counted in
//! `undated` / `overdue` so nothing in the pipeline silently disappears.
//!
//! Plans are set per month for the company (`all`), a department or a user; the report
//! shows the plan of what it is filtered to (the owner's, else the department's, else
//! the company's).

use std::collections::HashMap;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use plotina_core::error::{DomainError, FieldError};
use plotina_core::policy::{Action, Actor, Scope};
use plotina_core::schema::Entity;
use sea_query::{Alias, Expr, Order, Query};
use serde::Serialize;

use super::{
    all_stages, deal_condition, stages_of_kind, ts_value, PeriodOn, ReportParams, StageInfo,
};
use crate::db::Backend;
use crate::error::{fail, Result};
use crate::filter_sql::col;
use crate::store::Store;

/// Deals at this probability (percent) or above make the commit figure.
pub const COMMIT_PROBABILITY: i64 = 70;
/// The longest span of months a forecast covers.
pub const MAX_MONTHS: usize = 36;

/// Whose plan: the whole company, a department or a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanTarget {
    All,
    Department(i64),
    User(i64),
}

impl PlanTarget {
    pub fn code(self) -> String {
        match self {
            PlanTarget::All => "all".into(),
            PlanTarget::Department(d) => format!("department:{d}"),
            PlanTarget::User(u) => format!("user:{u}"),
        }
    }

    pub fn parse(s: &str) -> Option<PlanTarget> {
        match s.split_once(':') {
            None if s == "all" => Some(PlanTarget::All),
            Some(("department", id)) => id
                .parse()
                .ok()
                .filter(|i| *i > 0)
                .map(PlanTarget::Department),
            Some(("user", id)) => id.parse().ok().filter(|i| *i > 0).map(PlanTarget::User),
            _ => None,
        }
    }

    /// The plan a report filtered this way compares with.
    pub fn of(params: &ReportParams) -> PlanTarget {
        match (params.owner, params.department) {
            (Some(u), _) => PlanTarget::User(u),
            (None, Some(d)) => PlanTarget::Department(d),
            (None, None) => PlanTarget::All,
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Plan {
    /// `YYYY-MM`.
    pub month: String,
    pub target: String,
    /// Kopecks.
    pub amount: i64,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct MonthForecast {
    pub month: String,
    /// All amounts in kopecks.
    pub plan: Option<i64>,
    pub actual: i64,
    pub weighted: i64,
    pub best: i64,
    pub commit: i64,
    pub forecast: i64,
    /// Share of the plan the forecast reaches (`None` without a plan).
    pub forecast_to_plan: Option<f64>,
    pub open_deals: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Forecast {
    pub target: String,
    pub months: Vec<MonthForecast>,
    /// Open deals whose expected close date is before the first month (kopecks, count).
    pub overdue_amount: i64,
    pub overdue_deals: i64,
    /// Open deals without an expected close date.
    pub undated_amount: i64,
    pub undated_deals: i64,
}

/// A deal's probability in percent as SQL: its own when set, else its stage's, else 0,
/// kept within 0…100. The stages' probabilities are written into the expression (a
/// handful of integers), so it needs no join.
fn probability_sql(stages: &HashMap<i64, StageInfo>) -> String {
    let mut by_stage: Vec<(i64, i64)> = stages
        .values()
        .filter_map(|s| s.probability.map(|p| (s.id, p)))
        .collect();
    by_stage.sort_unstable();
    let stage = if by_stage.is_empty() {
        "0".to_string()
    } else {
        let arms: String = by_stage
            .iter()
            .map(|(id, p)| format!(" WHEN {id} THEN {p}"))
            .collect();
        format!("CASE stage_id{arms} ELSE 0 END")
    };
    let raw = format!("COALESCE(probability, {stage})");
    format!("(CASE WHEN {raw} < 0 THEN 0 WHEN {raw} > 100 THEN 100 ELSE {raw} END)")
}

/// The instant a local day starts in a time zone (the first existing moment of it when
/// the clocks jump over midnight).
fn local_midnight(tz: chrono_tz::Tz, day: NaiveDate) -> DateTime<Utc> {
    let start = day.and_time(chrono::NaiveTime::MIN);
    (0..=3)
        .find_map(|h| {
            tz.from_local_datetime(&(start + chrono::Duration::hours(h)))
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| start.and_utc())
}

fn month_key(d: NaiveDate) -> String {
    format!("{:04}-{:02}", d.year(), d.month())
}

fn first_of(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap_or(d)
}

fn next_month(d: NaiveDate) -> NaiveDate {
    let (y, m) = if d.month() == 12 {
        (d.year() + 1, 1)
    } else {
        (d.year(), d.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(d)
}

/// The months of the report: the period's, or this month and the next five.
fn months(params: &ReportParams, today: NaiveDate) -> Result<Vec<NaiveDate>> {
    let from = first_of(params.period_from.unwrap_or(today));
    let to = match params.period_to {
        Some(t) => first_of(t),
        None => {
            let mut m = from;
            for _ in 0..5 {
                m = next_month(m);
            }
            m
        }
    };
    if to < from {
        // Only the end was given, and it is before this month.
        return fail(DomainError::BadRequest(FieldError::new(
            "period_to",
            "report_period_order",
        )));
    }
    let mut out = Vec::new();
    let mut m = from;
    while m <= to {
        if out.len() == MAX_MONTHS {
            return fail(DomainError::BadRequest(
                FieldError::new("period_to", "report_months_many").with("max", MAX_MONTHS),
            ));
        }
        out.push(m);
        m = next_month(m);
    }
    Ok(out)
}

fn valid_month(month: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d")
        .ok()
        .filter(|_| month.len() == 7)
        .ok_or_else(|| DomainError::BadRequest(FieldError::new("month", "plan_bad_month")).into())
}

/// Who may set plans: administrators, and heads who see their department's deals.
pub fn may_plan(actor: &Actor) -> bool {
    actor.is_admin || actor.scope(Entity::Deal, Action::Read) >= Scope::Department
}

impl Store {
    /// Sets (or with `None` removes) the plan of a target for a month.
    pub async fn set_plan(
        &self,
        actor: &Actor,
        month: &str,
        target: PlanTarget,
        amount: Option<i64>,
    ) -> Result<()> {
        if !may_plan(actor) {
            return fail(DomainError::Forbidden("plan_forbidden"));
        }
        valid_month(month)?;
        if amount.is_some_and(|a| a < 0) {
            return fail(DomainError::invalid("amount", "money_negative"));
        }
        let mut tx = self.pool().begin_write().await?;
        let (table, id) = match target {
            PlanTarget::All => ("", 0),
            PlanTarget::Department(d) => ("departments", d),
            PlanTarget::User(u) => ("users", u),
        };
        if !table.is_empty() {
            let q = Query::select()
                .column(Alias::new("id"))
                .from(Alias::new(table))
                .and_where(col("id").eq(id))
                .and_where(col("deleted_at").is_null())
                .to_owned();
            if tx.fetch_optional(&q).await?.is_none() {
                return fail(DomainError::invalid("target", "plan_bad_target"));
            }
        }
        tx.execute(
            Query::delete()
                .from_table(Alias::new("sales_plans"))
                .and_where(col("month").eq(month))
                .and_where(col("target").eq(target.code())),
        )
        .await?;
        if let Some(amount) = amount {
            tx.execute(
                Query::insert()
                    .into_table(Alias::new("sales_plans"))
                    .columns(
                        ["month", "target", "amount", "updated_at", "updated_by"].map(Alias::new),
                    )
                    .values_panic(crate::db::vals([
                        month.into(),
                        target.code().into(),
                        amount.into(),
                        plotina_core::value::now().into(),
                        actor.user_id.into(),
                    ])),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The plans of a span of months (`YYYY-MM`, both included), for every target.
    pub async fn plans(&self, from: &str, to: &str) -> Result<Vec<Plan>> {
        valid_month(from)?;
        valid_month(to)?;
        let mut tx = self.pool().begin().await?;
        let q = Query::select()
            .columns(["month", "target", "amount"].map(Alias::new))
            .from(Alias::new("sales_plans"))
            .and_where(col("month").gte(from))
            .and_where(col("month").lte(to))
            .order_by(Alias::new("month"), Order::Asc)
            .order_by(Alias::new("target"), Order::Asc)
            .to_owned();
        let mut out = Vec::new();
        for r in tx.fetch_all(&q).await? {
            out.push(Plan {
                month: r.text("month")?.unwrap_or_default(),
                target: r.text("target")?.unwrap_or_default(),
                amount: r.i64("amount")?.unwrap_or_default(),
            });
        }
        tx.commit().await?;
        Ok(out)
    }

    pub async fn report_forecast(&self, actor: &Actor, params: &ReportParams) -> Result<Forecast> {
        params.validate()?;
        let months = months(params, actor.today())?;
        let keys: Vec<String> = months.iter().map(|m| month_key(*m)).collect();
        let first = months[0];
        let after_last = next_month(*months.last().unwrap_or(&first));
        let mut tx = self.pool().begin().await?;
        let stages = all_stages(&mut tx).await?;
        let with_kind = |kind: &str| stages_of_kind(&stages, &[kind]);
        let mut by_month: HashMap<String, MonthForecast> = keys
            .iter()
            .map(|k| {
                (
                    k.clone(),
                    MonthForecast {
                        month: k.clone(),
                        ..Default::default()
                    },
                )
            })
            .collect();

        // Actual: won deals by closing month, within the report's months. The months are
        // the actor's (a deal closed late on the last evening of a month in Moscow is that
        // month's even if it is the next one in UTC): each month's bounds become instants,
        // the deals are selected between the first and the last of them (not between UTC
        // midnights, which would miss the edge hours of the span), and the database sums
        // per month.
        let backend = self.backend();
        let bounds: Vec<_> = months
            .iter()
            .copied()
            .chain([after_last])
            .map(|m| ts_value(local_midnight(actor.time_zone, m)))
            .collect();
        // `months` is never empty: at least two bounds.
        let (start, end) = (bounds[0].clone(), bounds[bounds.len() - 1].clone());
        let won = deal_condition(self, &mut tx, actor, params, PeriodOn::None)
            .await?
            .add(col("stage_id").is_in(with_kind("won")))
            .add(col("closed_at").gte(start))
            .add(col("closed_at").lt(end));
        let closed_at = || Expr::col(Alias::new("closed_at"));
        let mut bucket = Expr::case(closed_at().lt(bounds[1].clone()), 0);
        for (i, bound) in bounds.iter().enumerate().skip(2) {
            bucket = bucket.case(closed_at().lt(bound.clone()), i as i64 - 1);
        }
        let bucket = bucket.finally(-1);
        let q = Query::select()
            .expr_as(bucket, Alias::new("bucket"))
            .expr_as(
                Expr::cust("CAST(COALESCE(SUM(amount), 0) AS BIGINT)"),
                Alias::new("amount"),
            )
            .from(Alias::new("deals"))
            .cond_where(won)
            // By position: the bucket carries bound values, which PostgreSQL would not
            // match between the select list and a repeated expression.
            .add_group_by([Expr::cust("1")])
            .to_owned();
        for r in tx.fetch_all(&q).await? {
            let Some(i) = r.i64("bucket")?.and_then(|i| usize::try_from(i).ok()) else {
                continue;
            };
            if let Some(m) = keys.get(i).and_then(|k| by_month.get_mut(k)) {
                m.actual += r.i64("amount")?.unwrap_or(0);
            }
        }

        // The open pipeline by expected close month, summed per month and probability.
        // A third of the base: `+stage_id` lets SQLite read the owner index whole
        // (covering) instead of every open deal's row through a stage index.
        let open = deal_condition(self, &mut tx, actor, params, PeriodOn::None)
            .await?
            .add(Expr::expr(Expr::cust("+stage_id")).is_in(with_kind("open")));
        let probability = probability_sql(&stages);
        let month = match backend {
            Backend::Sqlite => "substr(close_date, 1, 7)",
            Backend::Postgres => "to_char(close_date, 'YYYY-MM')",
        };
        let q = Query::select()
            .expr_as(Expr::cust(month), Alias::new("month"))
            .expr_as(Expr::cust(&probability), Alias::new("p"))
            .expr_as(Expr::cust("COUNT(*)"), Alias::new("n"))
            .expr_as(
                Expr::cust("CAST(COALESCE(SUM(amount), 0) AS BIGINT)"),
                Alias::new("amount"),
            )
            .expr_as(
                // Per deal, as the figure is defined: amount × probability / 100 rounded
                // down for each deal, then summed.
                Expr::cust(format!(
                    "CAST(COALESCE(SUM(COALESCE(amount, 0) * {probability} / 100), 0) AS BIGINT)"
                )),
                Alias::new("weighted"),
            )
            .from(Alias::new("deals"))
            .cond_where(open)
            .add_group_by([Expr::cust(month), Expr::cust(&probability)])
            .to_owned();
        let first_key = month_key(first);
        let (mut overdue_amount, mut overdue_deals) = (0, 0);
        let (mut undated_amount, mut undated_deals) = (0, 0);
        for r in tx.fetch_all(&q).await? {
            let n = r.i64("n")?.unwrap_or(0);
            let amount = r.i64("amount")?.unwrap_or(0);
            let Some(key) = r.text("month")? else {
                undated_amount += amount;
                undated_deals += n;
                continue;
            };
            if key < first_key {
                overdue_amount += amount;
                overdue_deals += n;
                continue;
            }
            let Some(m) = by_month.get_mut(&key) else {
                continue;
            };
            m.open_deals += n;
            m.best += amount;
            m.weighted += r.i64("weighted")?.unwrap_or(0);
            if r.i64("p")?.unwrap_or(0) >= COMMIT_PROBABILITY {
                m.commit += amount;
            }
        }

        let target = PlanTarget::of(params);
        let q = Query::select()
            .columns(["month", "amount"].map(Alias::new))
            .from(Alias::new("sales_plans"))
            .and_where(col("target").eq(target.code()))
            .and_where(col("month").is_in(keys.clone()))
            .to_owned();
        for r in tx.fetch_all(&q).await? {
            if let Some(m) = by_month.get_mut(&r.text("month")?.unwrap_or_default()) {
                m.plan = r.i64("amount")?;
            }
        }
        tx.commit().await?;

        let months = keys
            .iter()
            .filter_map(|k| by_month.remove(k))
            .map(|mut m| {
                m.forecast = m.actual + m.weighted;
                m.forecast_to_plan = m.plan.and_then(|p| super::stats::ratio(m.forecast, p));
                m
            })
            .collect();
        Ok(Forecast {
            target: target.code(),
            months,
            overdue_amount,
            overdue_deals,
            undated_amount,
            undated_deals,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_months() {
        for t in [
            PlanTarget::All,
            PlanTarget::Department(3),
            PlanTarget::User(5),
        ] {
            assert_eq!(PlanTarget::parse(&t.code()), Some(t));
        }
        assert_eq!(PlanTarget::parse("user:0"), None);
        assert_eq!(PlanTarget::parse("team:1"), None);
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        let p = ReportParams::default();
        let m = months(&p, d(2026, 11, 23)).unwrap();
        assert_eq!(
            m.iter().map(|m| month_key(*m)).collect::<Vec<_>>(),
            ["2026-11", "2026-12", "2027-01", "2027-02", "2027-03", "2027-04"]
        );
        let p = ReportParams {
            period_from: Some(d(2020, 1, 15)),
            period_to: Some(d(2026, 1, 1)),
            ..Default::default()
        };
        assert!(months(&p, d(2026, 11, 23)).is_err());
        let only_end = ReportParams {
            period_to: Some(d(2026, 9, 12)),
            ..Default::default()
        };
        assert!(
            months(&only_end, d(2026, 11, 23)).is_err(),
            "an end before this month"
        );
        assert!(valid_month("2026-13").is_err());
        assert!(valid_month("2026-1").is_err());
        assert!(valid_month("2026-02").is_ok());
    }
}
