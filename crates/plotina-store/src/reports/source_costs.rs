//! Source costs: what a source of first contact cost in a month (kopecks), the figure
//! the sources report divides by leads and won deals. Set by administrators and heads,
//! the rule of sales plans.

use chrono::NaiveDate;
use plotina_core::error::{DomainError, FieldError};
use plotina_core::policy::Actor;
use sea_query::{Alias, Order, Query};
use serde::Serialize;

use super::sources::month_key;
use super::ts_value;
use crate::error::{fail, Result};
use crate::filter_sql::col;
use crate::store::Store;

/// The longest source name a cost may be entered for (the `source` fields hold 100).
pub const MAX_SOURCE_LEN: usize = 100;

/// A month's cost of a source.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SourceCost {
    pub source: String,
    /// `YYYY-MM`.
    pub month: String,
    /// Kopecks.
    pub amount: i64,
    pub updated_at: String,
    pub updated_by: Option<i64>,
}

/// The first day of a `YYYY-MM` month.
pub fn parse_month(month: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d")
        .ok()
        .filter(|_| month.len() == 7)
        .ok_or_else(|| DomainError::invalid("month", "sources_bad_month").into())
}

impl Store {
    /// Sets (or with `None` removes) what a source cost in a month (kopecks).
    /// Administrators and heads only, as for sales plans.
    pub async fn set_source_cost(
        &self,
        actor: &Actor,
        source: &str,
        month: &str,
        amount: Option<i64>,
    ) -> Result<()> {
        if !super::forecast::may_plan(actor) {
            return fail(DomainError::Forbidden("sources_cost_forbidden"));
        }
        let source = source.trim();
        if source.is_empty() || source.chars().count() > MAX_SOURCE_LEN {
            return fail(DomainError::Invalid(vec![FieldError::new(
                "source",
                "sources_bad_source",
            )
            .with("max", MAX_SOURCE_LEN)]));
        }
        let month = parse_month(month)?;
        if amount.is_some_and(|a| a < 0) {
            return fail(DomainError::invalid("amount", "money_negative"));
        }
        let mut tx = self.pool().begin_write().await?;
        tx.execute(
            Query::delete()
                .from_table(Alias::new("source_costs"))
                .and_where(col("source").eq(source))
                .and_where(col("month").eq(month)),
        )
        .await?;
        if let Some(amount) = amount {
            tx.execute(
                Query::insert()
                    .into_table(Alias::new("source_costs"))
                    .columns(
                        ["source", "month", "amount", "updated_at", "updated_by"].map(Alias::new),
                    )
                    .values_panic(crate::db::vals([
                        source.into(),
                        month.into(),
                        amount.into(),
                        ts_value(plotina_core::value::now()),
                        actor.user_id.into(),
                    ])),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The costs of a span of months (`YYYY-MM`, both included), by month and source.
    pub async fn source_costs(&self, from: &str, to: &str) -> Result<Vec<SourceCost>> {
        let (from, to) = (parse_month(from)?, parse_month(to)?);
        let mut tx = self.pool().begin().await?;
        let q = Query::select()
            .columns(["source", "month", "amount", "updated_at", "updated_by"].map(Alias::new))
            .from(Alias::new("source_costs"))
            .and_where(col("month").gte(from))
            .and_where(col("month").lte(to))
            .order_by(Alias::new("month"), Order::Asc)
            .order_by(Alias::new("source"), Order::Asc)
            .to_owned();
        let mut out = Vec::new();
        for r in tx.fetch_all(&q).await? {
            out.push(SourceCost {
                source: r.text("source")?.unwrap_or_default(),
                month: r.date("month")?.map(month_key).unwrap_or_default(),
                amount: r.i64("amount")?.unwrap_or_default(),
                updated_at: r
                    .datetime("updated_at")?
                    .map(plotina_core::value::format_datetime)
                    .unwrap_or_default(),
                updated_by: r.i64("updated_by")?,
            });
        }
        tx.commit().await?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months() {
        assert!(parse_month("2026-13").is_err());
        assert!(parse_month("2026-1").is_err());
        assert_eq!(
            parse_month("2026-02").ok(),
            NaiveDate::from_ymd_opt(2026, 2, 1)
        );
    }
}
