//! The analytics home page's key figures, read with SQL aggregates (COUNT and SUM, no
//! row of a deal or task is read into memory): for the period (default: this month) and
//! the period before it (default: last month) the won amount and count, new deals, lost
//! deals and the win rate; the open pipeline (amount, count and weighted by probability —
//! the deal's own, else its stage's); tasks overdue now; open deals without a planned
//! activity; and the won amount per month for the twelve months ending with the
//! period's last month. Every deal figure goes through [`deal_condition`], so the
//! actor's read scope and the report parameters apply as in every other report.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use plotina_core::policy::{Action, Actor};
use plotina_core::schema::Entity;
use sea_query::{Alias, Cond, Expr, Func, Query, SimpleExpr};
use serde::Serialize;

use super::stats::ratio;
use super::{all_stages, deal_condition, department_subtree, stages_of_kind, ts_value};
use super::{PeriodOn, ReportParams};
use crate::db::Tx;
use crate::error::Result;
use crate::filter_sql::col;
use crate::scope::visible;
use crate::store::Store;

/// Figures of one period. Amounts in kopecks.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Figures {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub won_amount: i64,
    pub won_count: i64,
    pub lost_count: i64,
    pub new_deals: i64,
    /// won / (won + lost) of the deals closed in the period.
    pub win_rate: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MonthWon {
    /// `YYYY-MM`.
    pub month: String,
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    pub amount: i64,
    pub count: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Dashboard {
    pub current: Figures,
    pub previous: Figures,
    pub open_count: i64,
    pub open_amount: i64,
    /// Σ amount × probability / 100 over open deals (per stage and probability group).
    pub open_weighted: i64,
    /// Open tasks (visible to the actor, of the selected people) past their due time.
    pub overdue_tasks: i64,
    /// Open deals with no open activity linked.
    pub no_next_step: i64,
    pub months: Vec<MonthWon>,
    pub won_stages: Vec<i64>,
    pub lost_stages: Vec<i64>,
    pub open_stages: Vec<i64>,
}

fn first_of(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap_or(d)
}

fn add_months(d: NaiveDate, n: i32) -> NaiveDate {
    let total = d.year() * 12 + d.month0() as i32 + n;
    NaiveDate::from_ymd_opt(total.div_euclid(12), total.rem_euclid(12) as u32 + 1, 1).unwrap_or(d)
}

fn last_of(d: NaiveDate) -> NaiveDate {
    add_months(first_of(d), 1).pred_opt().unwrap_or(d)
}

/// The period and the one before it. Without dates: this month and last month. A period
/// of whole calendar months is compared with as many months before it; any other
/// period with as many days just before it. Only a start: up to today; only an end: from
/// the first of its month.
pub fn periods(
    params: &ReportParams,
    today: NaiveDate,
) -> ((NaiveDate, NaiveDate), (NaiveDate, NaiveDate)) {
    let (from, to) = match (params.period_from, params.period_to) {
        (None, None) => (first_of(today), last_of(today)),
        (Some(f), None) => (f, today.max(f)),
        (None, Some(t)) => (first_of(t), t),
        (Some(f), Some(t)) => (f, t),
    };
    let whole_months = from.day() == 1 && to == last_of(to);
    let previous = if whole_months {
        let months = (to.year() - from.year()) * 12 + to.month() as i32 - from.month() as i32 + 1;
        let start = add_months(from, -months);
        (start, from.pred_opt().unwrap_or(from))
    } else {
        let days = (to - from).num_days() + 1;
        (from - Duration::days(days), from - Duration::days(1))
    };
    ((from, to), previous)
}

/// `CAST(COALESCE(SUM(x), 0) AS BIGINT)`: an integer on both engines (PostgreSQL sums
/// BIGINT as NUMERIC).
fn sum(x: SimpleExpr) -> SimpleExpr {
    Func::cast_as(
        Func::coalesce([Func::sum(x).into(), Expr::cust("0")]),
        Alias::new("BIGINT"),
    )
    .into()
}

async fn count_and_sum(tx: &mut Tx, cond: Cond) -> Result<(i64, i64)> {
    let q = Query::select()
        .expr_as(Func::count(Expr::col(Alias::new("id"))), Alias::new("n"))
        .expr_as(sum(Expr::col(Alias::new("amount")).into()), Alias::new("s"))
        .from(Alias::new("deals"))
        .cond_where(cond)
        .to_owned();
    let row = tx.fetch_optional(&q).await?;
    Ok(match row {
        Some(r) => (r.i64("n")?.unwrap_or(0), r.i64("s")?.unwrap_or(0)),
        None => (0, 0),
    })
}

impl Store {
    async fn dashboard_figures(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        params: &ReportParams,
        (from, to): (NaiveDate, NaiveDate),
        won: &[i64],
        lost: &[i64],
    ) -> Result<Figures> {
        let mut p = params.clone();
        p.period_from = Some(from);
        p.period_to = Some(to);
        let closed = deal_condition(self, tx, actor, &p, PeriodOn::ClosedAt).await?;
        let (won_count, won_amount) =
            count_and_sum(tx, closed.clone().add(col("stage_id").is_in(won.to_vec()))).await?;
        let (lost_count, _) =
            count_and_sum(tx, closed.add(col("stage_id").is_in(lost.to_vec()))).await?;
        let created = deal_condition(self, tx, actor, &p, PeriodOn::CreatedAt).await?;
        let (new_deals, _) = count_and_sum(tx, created).await?;
        Ok(Figures {
            from,
            to,
            won_amount,
            won_count,
            lost_count,
            new_deals,
            win_rate: ratio(won_count, won_count + lost_count),
        })
    }

    /// The dashboard's figures at `now` (the period's default month is the actor's).
    pub async fn report_dashboard(
        &self,
        actor: &Actor,
        params: &ReportParams,
        now: DateTime<Utc>,
    ) -> Result<Dashboard> {
        params.validate()?;
        let today = now.with_timezone(&actor.time_zone).date_naive();
        let (current, previous) = periods(params, today);
        // The resolved period (an open end becomes today) obeys the same limits.
        ReportParams {
            period_from: Some(previous.0),
            period_to: Some(current.1),
            ..Default::default()
        }
        .validate()?;
        let mut tx = self.pool().begin().await?;
        let stages = all_stages(&mut tx).await?;
        let mut won = stages_of_kind(&stages, &["won"]);
        let mut lost = stages_of_kind(&stages, &["lost"]);
        let mut open = stages_of_kind(&stages, &["open"]);
        won.sort_unstable();
        lost.sort_unstable();
        open.sort_unstable();
        let mut out = Dashboard {
            current: self
                .dashboard_figures(&mut tx, actor, params, current, &won, &lost)
                .await?,
            previous: self
                .dashboard_figures(&mut tx, actor, params, previous, &won, &lost)
                .await?,
            ..Default::default()
        };

        // The open pipeline, grouped by stage and the deal's own probability.
        let open_cond = deal_condition(self, &mut tx, actor, params, PeriodOn::None)
            .await?
            .add(col("stage_id").is_in(open.clone()));
        let q = Query::select()
            .columns(["stage_id", "probability"].map(Alias::new))
            .expr_as(Func::count(Expr::col(Alias::new("id"))), Alias::new("n"))
            .expr_as(sum(Expr::col(Alias::new("amount")).into()), Alias::new("s"))
            .from(Alias::new("deals"))
            .cond_where(open_cond.clone())
            .group_by_columns(["stage_id", "probability"].map(Alias::new))
            .to_owned();
        for r in tx.fetch_all(&q).await? {
            let (n, s) = (r.i64("n")?.unwrap_or(0), r.i64("s")?.unwrap_or(0));
            let probability = r
                .i64("probability")?
                .or_else(|| {
                    r.i64("stage_id")
                        .ok()
                        .flatten()
                        .and_then(|id| stages.get(&id))
                        .and_then(|st| st.probability)
                })
                .unwrap_or(0)
                .clamp(0, 100);
            out.open_count += n;
            out.open_amount += s;
            out.open_weighted += s * probability / 100;
        }

        // Open deals without an open activity.
        let open_activity = Query::select()
            .expr(Expr::cust("1"))
            .from(Alias::new("activities"))
            .and_where(
                Expr::col(Alias::new("deal_id")).equals((Alias::new("deals"), Alias::new("id"))),
            )
            .and_where(col("done").eq(false))
            .and_where(col("deleted_at").is_null())
            .to_owned();
        let (n, _) =
            count_and_sum(&mut tx, open_cond.add(Expr::exists(open_activity).not())).await?;
        out.no_next_step = n;

        // Tasks overdue now, of the selected people (the assignee, else the owner).
        let mut tasks = Cond::all()
            .add(col("kind").eq("task"))
            .add(col("done").eq(false))
            .add(col("deleted_at").is_null())
            .add(col("due_at").lt(ts_value(now)));
        if let Some(v) = visible(actor, Entity::Activity, Action::Read) {
            tasks = tasks.add(v);
        }
        let people = match (params.owner, params.department) {
            (Some(o), _) => Some(vec![o]),
            (None, Some(d)) => {
                let ids = department_subtree(&mut tx, d).await?;
                let q = Query::select()
                    .column(Alias::new("id"))
                    .from(Alias::new("users"))
                    .and_where(col("department_id").is_in(ids))
                    .to_owned();
                let mut users = Vec::new();
                for r in tx.fetch_all(&q).await? {
                    users.push(r.i64("id")?.unwrap_or_default());
                }
                Some(users)
            }
            (None, None) => None,
        };
        if let Some(people) = people {
            // Written as the indexed expression, so that one person's overdue tasks are a
            // seek in `activities_kind_person_idx` rather than a walk over everyone's.
            tasks = tasks.add(Expr::expr(Expr::cust(super::rating::PERSON)).is_in(people));
        }
        let q = Query::select()
            .expr_as(Func::count(Expr::col(Alias::new("id"))), Alias::new("n"))
            .from(Alias::new("activities"))
            .cond_where(tasks)
            .to_owned();
        out.overdue_tasks = match tx.fetch_optional(&q).await? {
            Some(r) => r.i64("n")?.unwrap_or(0),
            None => 0,
        };

        // Won per month: twelve months ending with the period's last month, one query of
        // SUM(CASE …) columns.
        let last = first_of(current.1);
        let firsts: Vec<NaiveDate> = (0..=12).map(|i| add_months(last, i - 11)).collect();
        let mut p = params.clone();
        p.period_from = firsts.first().copied();
        p.period_to = firsts.last().and_then(|d| d.pred_opt());
        let cond = deal_condition(self, &mut tx, actor, &p, PeriodOn::ClosedAt)
            .await?
            .add(col("stage_id").is_in(won.clone()));
        let mut q = Query::select();
        q.from(Alias::new("deals")).cond_where(cond);
        let instant = |d: NaiveDate| ts_value(d.and_time(chrono::NaiveTime::MIN).and_utc());
        for (i, w) in firsts.windows(2).enumerate() {
            let inside = Cond::all()
                .add(col("closed_at").gte(instant(w[0])))
                .add(col("closed_at").lt(instant(w[1])));
            q.expr_as(
                sum(Expr::case(inside.clone(), Expr::col(Alias::new("amount")))
                    .finally(Expr::cust("0"))
                    .into()),
                Alias::new(format!("a{i}")),
            );
            q.expr_as(
                sum(Expr::case(inside, Expr::cust("1"))
                    .finally(Expr::cust("0"))
                    .into()),
                Alias::new(format!("n{i}")),
            );
        }
        let row = tx.fetch_optional(&q).await?;
        for (i, w) in firsts.windows(2).enumerate() {
            let (amount, count) = match &row {
                Some(r) => (
                    r.i64(&format!("a{i}"))?.unwrap_or(0),
                    r.i64(&format!("n{i}"))?.unwrap_or(0),
                ),
                None => (0, 0),
            };
            out.months.push(MonthWon {
                month: format!("{:04}-{:02}", w[0].year(), w[0].month()),
                first_day: w[0],
                last_day: w[1].pred_opt().unwrap_or(w[1]),
                amount,
                count,
            });
        }
        tx.commit().await?;
        out.won_stages = won;
        out.lost_stages = lost;
        out.open_stages = open;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn periods_compare_with_the_one_before() {
        let today = d(2026, 3, 10);
        let none = ReportParams::default();
        assert_eq!(
            periods(&none, today),
            (
                (d(2026, 3, 1), d(2026, 3, 31)),
                (d(2026, 2, 1), d(2026, 2, 28))
            )
        );
        let january = ReportParams {
            period_from: Some(d(2026, 1, 1)),
            period_to: Some(d(2026, 1, 31)),
            ..Default::default()
        };
        assert_eq!(
            periods(&january, today),
            (
                (d(2026, 1, 1), d(2026, 1, 31)),
                (d(2025, 12, 1), d(2025, 12, 31))
            )
        );
        let quarter = ReportParams {
            period_from: Some(d(2026, 4, 1)),
            period_to: Some(d(2026, 6, 30)),
            ..Default::default()
        };
        assert_eq!(periods(&quarter, today).1, (d(2026, 1, 1), d(2026, 3, 31)));
        let ten_days = ReportParams {
            period_from: Some(d(2026, 3, 5)),
            period_to: Some(d(2026, 3, 14)),
            ..Default::default()
        };
        assert_eq!(periods(&ten_days, today).1, (d(2026, 2, 23), d(2026, 3, 4)));
        assert_eq!(add_months(d(2026, 1, 1), -11), d(2025, 2, 1));
        assert_eq!(add_months(d(2026, 12, 1), 1), d(2027, 1, 1));
    }
}
