//! The dam: customers flowing in and out, per month.
//!
//! A **purchase** is a won deal (in a won stage) with a company; its month is the month
//! of `closed_at` (UTC). With `N` = `lost_after_months`:
//! - a customer is **active at the end of month M** when it bought in one of the months
//!   M-N+1 … M; **active at start** of M = active at the end of M-1;
//! - **new** in M: its first purchase ever is in M;
//! - **returning** in M: it bought in M, had bought before, but not in M-N … M-1 (it came
//!   back after a gap long enough to have been counted as lost);
//! - **lost** in M: its last purchase up to M was in month M-N (N months without buying);
//! - so `active_end = active_start + new + returning - lost`; **churn rate** = lost /
//!   active at start.
//! - **Repeat purchases**: purchases in the period by customers who had bought before;
//!   **order growth** compares each such order with the same customer's previous
//!   order: sum(repeat orders) / sum(their previous orders) - 1.
//! - **Loss reasons**: lost reasons of deals lost (closed in a lost stage) in the period.
//! - **Coverage**: active customers at the end of the period / the target number of
//!   potential customers, when a target is given.
//!
//! The whole purchase history before the period's end is read (a customer's first
//! purchase may be years old); the period selects the months shown.

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, NaiveDate};
use plotina_core::error::{DomainError, FieldError};
use plotina_core::policy::Actor;
use sea_query::{Alias, Order, Query};

use super::funnel::{ReasonCount, LINK_IDS};
use super::stats::ratio;
use super::{deal_condition, ts_value, PeriodOn, ReportParams};
use crate::error::Result;
use crate::filter_sql::col;
use crate::store::Store;

/// The default number of months without a purchase after which a customer is lost.
pub const DEFAULT_LOST_AFTER: u32 = 6;

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DamMonth {
    /// `YYYY-MM`.
    pub month: String,
    pub active_start: i64,
    pub new: i64,
    pub returning: i64,
    pub lost: i64,
    pub active_end: i64,
    pub churn_rate: Option<f64>,
    pub purchases: i64,
    pub repeat_purchases: i64,
    /// Sum of the purchases' amounts, minor units (kopecks).
    pub revenue: i64,
    /// Company ids behind the figures (the first `LINK_IDS`), for links.
    #[serde(skip)]
    pub new_ids: Vec<i64>,
    #[serde(skip)]
    pub returning_ids: Vec<i64>,
    #[serde(skip)]
    pub lost_ids: Vec<i64>,
    #[serde(skip)]
    pub active_end_ids: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Dam {
    pub lost_after_months: u32,
    pub months: Vec<DamMonth>,
    pub loss_reasons: Vec<ReasonCount>,
    pub target: Option<i64>,
    pub coverage: Option<f64>,
    pub repeat_purchases: i64,
    /// Average repeat order, minor units.
    pub avg_repeat_order: Option<i64>,
    pub order_growth: Option<f64>,
}

/// One purchase: customer, month index (`year * 12 + month - 1`), amount in kopecks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Purchase {
    pub company: i64,
    pub month: i32,
    pub amount: i64,
}

pub fn month_index(d: NaiveDate) -> i32 {
    d.year() * 12 + d.month0() as i32
}

fn month_name(i: i32) -> String {
    format!("{:04}-{:02}", i.div_euclid(12), i.rem_euclid(12) + 1)
}

/// The dam for months `first ..= last` from the purchases (any order) and the lost
/// reasons of the period. Pure: the definitions are in the module documentation.
pub fn compute(
    purchases: &[Purchase],
    first: i32,
    last: i32,
    n: u32,
    reasons: Vec<ReasonCount>,
    target: Option<i64>,
) -> Dam {
    let n = n as i32;
    let mut by_company: HashMap<i64, Vec<Purchase>> = HashMap::new();
    for p in purchases {
        by_company.entry(p.company).or_default().push(*p);
    }
    for v in by_company.values_mut() {
        v.sort_by_key(|p| p.month);
    }
    let bought_in = |list: &[Purchase], from: i32, to: i32| {
        list.iter().any(|p| p.month >= from && p.month <= to)
    };
    // In id order (the order of the linked ids), sorted once for all months.
    let mut companies: Vec<(&i64, &Vec<Purchase>)> = by_company.iter().collect();
    companies.sort_by_key(|(id, _)| **id);
    let mut months = Vec::new();
    let (mut repeat_sum, mut previous_sum, mut repeat_total) = (0i64, 0i64, 0i64);
    for m in first..=last {
        let mut row = DamMonth {
            month: month_name(m),
            active_start: 0,
            new: 0,
            returning: 0,
            lost: 0,
            active_end: 0,
            churn_rate: None,
            purchases: 0,
            repeat_purchases: 0,
            revenue: 0,
            new_ids: Vec::new(),
            returning_ids: Vec::new(),
            lost_ids: Vec::new(),
            active_end_ids: Vec::new(),
        };
        let companies = companies.iter().copied();
        let keep = |ids: &mut Vec<i64>, id: i64| {
            if ids.len() < LINK_IDS {
                ids.push(id);
            }
        };
        for (&company, list) in companies {
            let first_month = list[0].month;
            let buys_now = bought_in(list, m, m);
            if bought_in(list, m - n, m - 1) {
                row.active_start += 1;
            }
            if bought_in(list, m - n + 1, m) {
                row.active_end += 1;
                keep(&mut row.active_end_ids, company);
            }
            if buys_now && first_month == m {
                row.new += 1;
                keep(&mut row.new_ids, company);
            } else if buys_now && !bought_in(list, m - n, m - 1) {
                row.returning += 1;
                keep(&mut row.returning_ids, company);
            }
            let last_upto = list.iter().rev().find(|p| p.month <= m).map(|p| p.month);
            if last_upto == Some(m - n) {
                row.lost += 1;
                keep(&mut row.lost_ids, company);
            }
            for (i, p) in list.iter().enumerate() {
                if p.month != m {
                    continue;
                }
                row.purchases += 1;
                row.revenue += p.amount;
                if i > 0 {
                    row.repeat_purchases += 1;
                    repeat_sum += p.amount;
                    previous_sum += list[i - 1].amount;
                }
            }
        }
        row.churn_rate = ratio(row.lost, row.active_start);
        repeat_total += row.repeat_purchases;
        months.push(row);
    }
    let active_end = months.last().map(|m| m.active_end).unwrap_or(0);
    Dam {
        lost_after_months: n as u32,
        months,
        loss_reasons: reasons,
        target,
        coverage: target.and_then(|t| ratio(active_end, t)),
        repeat_purchases: repeat_total,
        avg_repeat_order: (repeat_total > 0).then(|| repeat_sum / repeat_total),
        order_growth: (previous_sum > 0).then(|| {
            ((repeat_sum as f64 / previous_sum as f64 - 1.0) * 10_000.0).round() / 10_000.0
        }),
    }
}

/// The months a dam covers: the period's months, or the last twelve up to `today`.
pub fn months_of(params: &ReportParams, today: NaiveDate) -> Result<(i32, i32)> {
    let last = month_index(params.period_to.unwrap_or(today));
    let first = params.period_from.map(month_index).unwrap_or(last - 11);
    if last - first >= 120 {
        return Err(DomainError::BadRequest(
            FieldError::new("period_to", "report_period_long")
                .with("days", super::MAX_PERIOD_DAYS.to_string()),
        )
        .into());
    }
    Ok((first, last))
}

impl Store {
    /// The dam of the companies whose deals the actor may read.
    pub async fn report_dam(
        &self,
        actor: &Actor,
        params: &ReportParams,
        lost_after_months: u32,
        target: Option<i64>,
    ) -> Result<Dam> {
        if !(1..=60).contains(&lost_after_months) {
            return Err(DomainError::BadRequest(FieldError::new(
                "lost_after",
                "report_lost_after",
            ))
            .into());
        }
        if target.is_some_and(|t| t <= 0) {
            return Err(
                DomainError::BadRequest(FieldError::new("target", "report_bad_target")).into(),
            );
        }
        params.validate()?;
        let (first, last) = months_of(params, chrono::Utc::now().date_naive())?;
        let end = NaiveDate::from_ymd_opt(
            (last + 1).div_euclid(12),
            (last + 1).rem_euclid(12) as u32 + 1,
            1,
        )
        .unwrap_or(NaiveDate::MAX)
        .and_time(chrono::NaiveTime::MIN)
        .and_utc();
        let start =
            NaiveDate::from_ymd_opt(first.div_euclid(12), first.rem_euclid(12) as u32 + 1, 1)
                .unwrap_or(NaiveDate::MIN)
                .and_time(chrono::NaiveTime::MIN)
                .and_utc();
        let mut tx = self.pool().begin().await?;
        let base = deal_condition(self, &mut tx, actor, params, PeriodOn::None).await?;
        let stages_of = |kind: &str| {
            col("stage_id").in_subquery(
                Query::select()
                    .column(Alias::new("id"))
                    .from(Alias::new("stages"))
                    .and_where(col("kind").eq(kind))
                    .to_owned(),
            )
        };
        let q = Query::select()
            .columns(["company_id", "closed_at", "amount"].map(Alias::new))
            .from(Alias::new("deals"))
            .cond_where(base.clone())
            .and_where(stages_of("won"))
            .and_where(col("company_id").is_not_null())
            .and_where(col("closed_at").lt(ts_value(end)))
            .order_by(Alias::new("closed_at"), Order::Asc)
            .to_owned();
        let mut purchases = Vec::new();
        for r in tx.fetch_all(&q).await? {
            let (Some(company), Some(at)) = (r.i64("company_id")?, r.datetime("closed_at")?) else {
                continue;
            };
            purchases.push(Purchase {
                company,
                month: month_index(at.date_naive()),
                amount: r.i64("amount")?.unwrap_or(0),
            });
        }
        let q = Query::select()
            .column(Alias::new("lost_reason"))
            .from(Alias::new("deals"))
            .cond_where(base)
            .and_where(stages_of("lost"))
            .and_where(col("closed_at").gte(ts_value(start)))
            .and_where(col("closed_at").lt(ts_value(end)))
            .to_owned();
        let mut reasons: BTreeMap<String, i64> = BTreeMap::new();
        for r in tx.fetch_all(&q).await? {
            *reasons
                .entry(r.text("lost_reason")?.unwrap_or_default())
                .or_default() += 1;
        }
        tx.commit().await?;
        let mut reasons: Vec<ReasonCount> = reasons
            .into_iter()
            .map(|(reason, count)| ReasonCount { reason, count })
            .collect();
        reasons.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.reason.cmp(&b.reason)));
        Ok(compute(
            &purchases,
            first,
            last,
            lost_after_months,
            reasons,
            target,
        ))
    }
}
