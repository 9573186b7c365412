//! ABC/XYZ of customers. Purchases are won deals with a company closed in the period
//! (as in the dam).
//!
//! - **ABC** ranks customers by revenue (or by the number of won deals), largest first,
//!   ties by company id. A customer's class follows the cumulative share of the
//!   customers ranked *before* it: below `a` (70 %) → A, below `a + b` (90 %) → B, else
//!   C — so the largest customer is always A, and the customer that crosses a boundary
//!   belongs to the class it started in.
//! - **XYZ** is the coefficient of variation of the customer's monthly revenue over every
//!   month of the period (months without purchases count as zero): population standard
//!   deviation / mean. At most `x` (10 %) → X, at most `y` (25 %) → Y, else Z.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use plotina_core::error::{DomainError, FieldError};
use plotina_core::policy::Actor;
use sea_query::{Alias, Query};

use super::dam::month_index;
use super::funnel::LINK_IDS;
use super::{deal_condition, PeriodOn, ReportParams};
use crate::error::Result;
use crate::filter_sql::col;
use crate::store::Store;

/// Thresholds in percent.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Thresholds {
    pub a: f64,
    pub b: f64,
    pub x: f64,
    pub y: f64,
    /// Rank by the number of won deals instead of revenue.
    pub by_count: bool,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            a: 70.0,
            b: 20.0,
            x: 10.0,
            y: 25.0,
            by_count: false,
        }
    }
}

impl Thresholds {
    pub fn validate(&self) -> Result<()> {
        let bad = |f: &str| {
            Err(DomainError::BadRequest(FieldError::new(f, "report_bad_threshold")).into())
        };
        if !(self.a > 0.0 && self.a < 100.0) {
            return bad("a");
        }
        if !(self.b > 0.0 && self.a + self.b < 100.0) {
            return bad("b");
        }
        if !(self.x > 0.0 && self.x < 1000.0) {
            return bad("x");
        }
        if !(self.y > self.x && self.y < 1000.0) {
            return bad("y");
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CustomerClass {
    pub company_id: i64,
    /// Revenue in kopecks.
    pub revenue: i64,
    pub deals: i64,
    /// Share of the total (of revenue or of deals), 0–1.
    pub share: f64,
    pub abc: char,
    /// Coefficient of variation of monthly revenue, 0–1+.
    pub cv: f64,
    pub xyz: char,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MatrixCell {
    pub abc: char,
    pub xyz: char,
    pub customers: i64,
    pub revenue: i64,
    #[serde(skip)]
    pub company_ids: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AbcXyz {
    pub thresholds: Thresholds,
    pub months: i64,
    pub customers: Vec<CustomerClass>,
    /// AX, AY, AZ, BX, … CZ.
    pub matrix: Vec<MatrixCell>,
}

/// (company, month index, amount in kopecks) per won deal; months `first ..= last`.
pub fn compute(sales: &[(i64, i32, i64)], first: i32, last: i32, t: Thresholds) -> AbcXyz {
    let n_months = (last - first + 1).max(1) as usize;
    // Per company: revenue, won deals, revenue per month.
    type Totals = (i64, i64, Vec<i64>);
    let mut per: BTreeMap<i64, Totals> = BTreeMap::new();
    for (company, month, amount) in sales {
        if *month < first || *month > last {
            continue;
        }
        let e = per
            .entry(*company)
            .or_insert_with(|| (0, 0, vec![0; n_months]));
        e.0 += amount;
        e.1 += 1;
        e.2[(*month - first) as usize] += amount;
    }
    let value = |e: &Totals| if t.by_count { e.1 } else { e.0 };
    let total: i64 = per.values().map(value).sum();
    let mut ranked: Vec<(i64, &Totals)> = per.iter().map(|(k, v)| (*k, v)).collect();
    ranked.sort_by(|a, b| value(b.1).cmp(&value(a.1)).then(a.0.cmp(&b.0)));
    let mut before = 0i64;
    let mut customers = Vec::with_capacity(ranked.len());
    for (company, e) in ranked {
        let prev_share = if total > 0 {
            before as f64 / total as f64 * 100.0
        } else {
            0.0
        };
        let abc = if prev_share < t.a {
            'A'
        } else if prev_share < t.a + t.b {
            'B'
        } else {
            'C'
        };
        before += value(e);
        let mean = e.2.iter().sum::<i64>() as f64 / n_months as f64;
        let var = e.2.iter().map(|v| (*v as f64 - mean).powi(2)).sum::<f64>() / n_months as f64;
        let cv = if mean > 0.0 { var.sqrt() / mean } else { 0.0 };
        let xyz = if cv * 100.0 <= t.x + 1e-9 {
            'X'
        } else if cv * 100.0 <= t.y + 1e-9 {
            'Y'
        } else {
            'Z'
        };
        customers.push(CustomerClass {
            company_id: company,
            revenue: e.0,
            deals: e.1,
            share: super::stats::ratio(value(e), total).unwrap_or(0.0),
            abc,
            cv: (cv * 10_000.0).round() / 10_000.0,
            xyz,
        });
    }
    let mut matrix = Vec::with_capacity(9);
    for abc in ['A', 'B', 'C'] {
        for xyz in ['X', 'Y', 'Z'] {
            let inside: Vec<&CustomerClass> = customers
                .iter()
                .filter(|c| c.abc == abc && c.xyz == xyz)
                .collect();
            matrix.push(MatrixCell {
                abc,
                xyz,
                customers: inside.len() as i64,
                revenue: inside.iter().map(|c| c.revenue).sum(),
                company_ids: inside.iter().take(LINK_IDS).map(|c| c.company_id).collect(),
            });
        }
    }
    AbcXyz {
        thresholds: t,
        months: n_months as i64,
        customers,
        matrix,
    }
}

impl Store {
    /// ABC/XYZ of the customers of the deals the actor may read, over the period's
    /// months (default: the last twelve).
    pub async fn report_abc_xyz(
        &self,
        actor: &Actor,
        params: &ReportParams,
        t: Thresholds,
    ) -> Result<AbcXyz> {
        t.validate()?;
        params.validate()?;
        let today = chrono::Utc::now().date_naive();
        let (first, last) = super::dam::months_of(params, today)?;
        let mut p = params.clone();
        let first_day =
            NaiveDate::from_ymd_opt(first.div_euclid(12), first.rem_euclid(12) as u32 + 1, 1);
        p.period_from = p.period_from.or(first_day);
        p.period_to = p.period_to.or(Some(today));
        let mut tx = self.pool().begin().await?;
        let cond = deal_condition(self, &mut tx, actor, &p, PeriodOn::ClosedAt).await?;
        let q = Query::select()
            .columns(["company_id", "closed_at", "amount"].map(Alias::new))
            .from(Alias::new("deals"))
            .cond_where(cond)
            .and_where(col("company_id").is_not_null())
            .and_where(
                col("stage_id").in_subquery(
                    Query::select()
                        .column(Alias::new("id"))
                        .from(Alias::new("stages"))
                        .and_where(col("kind").eq("won"))
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
        tx.commit().await?;
        Ok(compute(&sales, first, last, t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::approx_constant)] // 1.4142 is a coefficient of variation, not √2 by intent
    fn classes_from_a_known_spread() {
        // Months 0, 1, 2. K1 100 100 100 (CV 0 → X); K2 90 110 100: mean 100, variance
        // (100 + 100 + 0) / 3 = 66.67, sd 8.165 → CV 8.16 % → X; K3 0 100 50: sd 40.82
        // / 50 → 81.6 % → Z; K4 20 25 15: sd 4.082 / 20 → 20.4 % → Y; K5 30 0 0: sd
        // 14.14 / 10 → 141 % → Z. Revenue 300 300 150 60 30 of 840: shares before each
        // customer 0, 35.7 %, 71.4 %, 89.3 %, 96.4 % → A A B B C.
        let mut sales = Vec::new();
        for (k, months) in [
            (1, [100, 100, 100]),
            (2, [90, 110, 100]),
            (3, [0, 100, 50]),
            (4, [20, 25, 15]),
            (5, [30, 0, 0]),
        ] {
            for (m, v) in months.iter().enumerate() {
                if *v > 0 {
                    sales.push((k, m as i32, *v));
                }
            }
        }
        let r = compute(&sales, 0, 2, Thresholds::default());
        let got: Vec<(i64, char, char, f64)> = r
            .customers
            .iter()
            .map(|c| (c.company_id, c.abc, c.xyz, c.cv))
            .collect();
        assert_eq!(
            got,
            vec![
                (1, 'A', 'X', 0.0),
                (2, 'A', 'X', 0.0816),
                (3, 'B', 'Z', 0.8165),
                (4, 'B', 'Y', 0.2041),
                (5, 'C', 'Z', 1.4142)
            ]
        );
        let cell = |a: char, x: char| {
            r.matrix
                .iter()
                .find(|c| c.abc == a && c.xyz == x)
                .unwrap()
                .customers
        };
        assert_eq!(
            (
                cell('A', 'X'),
                cell('B', 'Z'),
                cell('B', 'Y'),
                cell('C', 'Z'),
                cell('A', 'Z')
            ),
            (2, 1, 1, 1, 0)
        );
        // By the number of won deals: K1 3, K2 3, K4 3, K3 2, K5 1 of 12; shares before
        // 0, 25 %, 50 %, 75 %, 91.7 % → A A A B C.
        let r = compute(
            &sales,
            0,
            2,
            Thresholds {
                by_count: true,
                ..Default::default()
            },
        );
        let got: Vec<(i64, char)> = r.customers.iter().map(|c| (c.company_id, c.abc)).collect();
        assert_eq!(got, vec![(1, 'A'), (2, 'A'), (4, 'A'), (3, 'B'), (5, 'C')]);
        // Tighter X (5 %) moves K2 to Y.
        let r = compute(
            &sales,
            0,
            2,
            Thresholds {
                x: 5.0,
                ..Default::default()
            },
        );
        assert_eq!(r.customers[1].xyz, 'Y');
    }
}
