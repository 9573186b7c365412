//! Kanban aggregates: deals per stage with their count and amount, per currency, built
//! from the same scope-aware conditions as lists (so a column never counts a deal the
//! viewer cannot open).

use plotina_core::policy::{Action, Actor};
use plotina_core::schema::Entity;
use sea_query::{Alias, Expr as SqlExpr, Order, Query};

use crate::error::Result;
use crate::listing::{ListParams, QueryCtx};
use crate::store::Store;

/// One stage's total in one currency.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StageTotal {
    pub stage_id: i64,
    pub currency: String,
    pub count: i64,
    /// Sum of the amounts in minor units (kopecks).
    pub sum_minor: i64,
}

impl Store {
    /// Count and sum of the deals matching `params` (scope, filter, search, extra
    /// conditions such as `pipeline_id = N`), grouped by stage and currency.
    pub async fn stage_totals(
        &self,
        actor: &Actor,
        params: &ListParams,
    ) -> Result<Vec<StageTotal>> {
        let customs = self.custom_lookup().await?;
        let ctx = QueryCtx {
            backend: self.backend(),
            actor,
            custom: &customs,
        };
        let cond = ctx.conditions(Entity::Deal, Action::Read, params)?;
        let q = Query::select()
            .column(Alias::new("stage_id"))
            .column(Alias::new("currency"))
            .expr_as(SqlExpr::cust("COUNT(*)"), Alias::new("n"))
            .expr_as(
                SqlExpr::cust("CAST(COALESCE(SUM(amount), 0) AS BIGINT)"),
                Alias::new("total"),
            )
            .from(Alias::new("deals"))
            .cond_where(cond)
            .group_by_col(Alias::new("stage_id"))
            .group_by_col(Alias::new("currency"))
            .order_by(Alias::new("stage_id"), Order::Asc)
            .order_by(Alias::new("currency"), Order::Asc)
            .to_owned();
        let mut tx = self.pool().begin().await?;
        let rows = tx.fetch_all(&q).await?;
        tx.commit().await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(StageTotal {
                stage_id: r.i64("stage_id")?.unwrap_or_default(),
                currency: r.text("currency")?.unwrap_or_else(|| "RUB".into()),
                count: r.i64("n")?.unwrap_or_default(),
                sum_minor: r.i64("total")?.unwrap_or_default(),
            });
        }
        Ok(out)
    }
}
