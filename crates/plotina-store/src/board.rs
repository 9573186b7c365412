//! Kanban aggregates: deals per stage with their count and amount, per currency, built
//! from the same scope-aware conditions as lists (so a column never counts a deal the
//! viewer cannot open).

use plotina_core::filter::{CmpOp, Condition, Expr, Literal, Test};
use plotina_core::policy::{Action, Actor};
use plotina_core::schema::Entity;
use rust_decimal::prelude::ToPrimitive;
use sea_query::{Alias, Cond, Expr as SqlExpr, Order, Query};

use crate::error::Result;
use crate::listing::{ListParams, QueryCtx};
use crate::store::Store;

/// The fields of a kanban card as the API answers it unless asked for more: what a board
/// shows (title, amount, company, owner, days in the stage) and what a client needs to
/// move the card (`stage_id`, `version`).
pub const CARD_FIELDS: &[&str] = &[
    "id",
    "version",
    "title",
    "amount",
    "currency",
    "stage_id",
    "company_id",
    "owner_id",
    "close_date",
    "stage_changed_at",
    "updated_at",
];

/// One stage's total in one currency.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StageTotal {
    pub stage_id: i64,
    pub currency: String,
    pub count: i64,
    /// Sum of the amounts in minor units (kopecks).
    pub sum_minor: i64,
}

/// `field = N` conditions of a board's extra conditions, when that is all they are.
fn plain_equalities(params: &ListParams) -> Option<Vec<(&str, i64)>> {
    params
        .and
        .iter()
        .map(|e| match e {
            Expr::Cond(Condition {
                path,
                test: Test::Cmp(CmpOp::Eq, Literal::Num(n, _)),
            }) if path.segments.len() == 1 => Some((path.segments[0].as_str(), n.to_i64()?)),
            _ => None,
        })
        .collect()
}

impl Store {
    /// Count and sum of the deals matching `params` (scope, filter, search, extra
    /// conditions such as `pipeline_id = N`), grouped by stage and currency.
    ///
    /// A board of one pipeline without a filter or search (optionally of one owner) is
    /// read from the trigger-maintained `deal_stage_totals`, restricted to the owners the
    /// actor's scope covers; anything else aggregates the deals themselves.
    pub async fn stage_totals(
        &self,
        actor: &Actor,
        params: &ListParams,
    ) -> Result<Vec<StageTotal>> {
        let customs = self.custom_lookup().await?;
        let ctx = self.query_ctx(actor, &customs);
        let mut tx = self.pool().begin().await?;
        let totals = totals_in(&mut tx, &ctx, params).await?;
        tx.commit().await?;
        Ok(totals)
    }

    /// The first `cards` deals of each stage in `stages` (newest first) among those
    /// matching `params`, one page per stage, read in one transaction.
    pub async fn board_cards(
        &self,
        actor: &Actor,
        params: &ListParams,
        stages: &[i64],
        cards: u64,
    ) -> Result<Vec<crate::Page>> {
        let customs = self.custom_lookup().await?;
        let ctx = self.query_ctx(actor, &customs);
        let mut tx = self.pool().begin().await?;
        let pages = cards_in(&mut tx, &ctx, params, stages, cards, None).await?;
        tx.commit().await?;
        Ok(pages)
    }

    /// A kanban in one read transaction: the totals of `params` per stage and currency
    /// ([`Store::stage_totals`]) and the first `cards` deals of each stage in `stages`
    /// ([`Store::board_cards`]), each card with only the built-in fields in `columns`
    /// (whole records when `None`).
    pub async fn board(
        &self,
        actor: &Actor,
        params: &ListParams,
        stages: &[i64],
        cards: u64,
        columns: Option<&[&str]>,
    ) -> Result<Board> {
        let customs = self.custom_lookup().await?;
        let ctx = self.query_ctx(actor, &customs);
        let mut tx = self.pool().begin().await?;
        let totals = totals_in(&mut tx, &ctx, params).await?;
        let pages = cards_in(&mut tx, &ctx, params, stages, cards, columns).await?;
        tx.commit().await?;
        Ok(Board {
            totals,
            columns: pages,
        })
    }

    /// [`Store::board`] of a pipeline's stages, with the pipeline and its stages read in
    /// the same transaction (the board API: one transaction per request). `NotFound` when
    /// the pipeline does not exist or the actor may not read it.
    pub async fn pipeline_board(
        &self,
        actor: &Actor,
        pipeline: i64,
        params: &ListParams,
        cards: u64,
        columns: Option<&[&str]>,
    ) -> Result<PipelineBoard> {
        let customs = self.custom_lookup().await?;
        let ctx = self.query_ctx(actor, &customs);
        let mut tx = self.pool().begin().await?;
        let one = ListParams {
            and: vec![crate::eq_filter("id", pipeline)],
            limit: Some(1),
            ..Default::default()
        };
        let Some(record) =
            crate::listing::list(&mut tx, &ctx, Entity::Pipeline, Action::Read, &one)
                .await?
                .data
                .pop()
        else {
            return Err(crate::StoreError::not_found());
        };
        let of_pipeline = ListParams {
            and: vec![crate::eq_filter("pipeline_id", pipeline)],
            sort: Some("position".into()),
            limit: Some(100),
            ..Default::default()
        };
        let stages = crate::listing::list(&mut tx, &ctx, Entity::Stage, Action::Read, &of_pipeline)
            .await?
            .data;
        let ids: Vec<i64> = stages
            .iter()
            .filter_map(|st| st.get("id").and_then(serde_json::Value::as_i64))
            .collect();
        let totals = totals_in(&mut tx, &ctx, params).await?;
        let pages = cards_in(&mut tx, &ctx, params, &ids, cards, columns).await?;
        tx.commit().await?;
        Ok(PipelineBoard {
            pipeline: record,
            stages,
            board: Board {
                totals,
                columns: pages,
            },
        })
    }
}

/// A pipeline's whole kanban ([`Store::pipeline_board`]).
#[derive(Debug, Clone)]
pub struct PipelineBoard {
    pub pipeline: crate::Record,
    /// The pipeline's stages in their order, each with its page in `board.columns`.
    pub stages: Vec<crate::Record>,
    pub board: Board,
}

/// A kanban's numbers and first cards ([`Store::board`]).
#[derive(Debug, Clone)]
pub struct Board {
    pub totals: Vec<StageTotal>,
    /// One page of cards per requested stage, in the order asked.
    pub columns: Vec<crate::Page>,
}

/// The first `cards` deals of each stage in `stages` among `params`, newest first, in one
/// statement ([`crate::listing::list_grouped`]).
async fn cards_in(
    tx: &mut crate::db::Tx,
    ctx: &QueryCtx<'_>,
    params: &ListParams,
    stages: &[i64],
    cards: u64,
    columns: Option<&[&str]>,
) -> Result<Vec<crate::Page>> {
    let mut p = params.clone();
    p.sort = Some("-updated_at".into());
    p.limit = Some(cards);
    p.cursor = None;
    crate::listing::list_grouped(
        tx,
        ctx,
        Entity::Deal,
        Action::Read,
        &p,
        "stage_id",
        stages,
        columns,
    )
    .await
}

/// Count and sum of the deals matching `params` per stage and currency (see
/// [`Store::stage_totals`]).
async fn totals_in(
    tx: &mut crate::db::Tx,
    ctx: &QueryCtx<'_>,
    params: &ListParams,
) -> Result<Vec<StageTotal>> {
    let unfiltered = params.filter.as_deref().is_none_or(|f| f.trim().is_empty())
        && params.q.as_deref().is_none_or(|q| q.trim().is_empty())
        && !params.trash;
    if unfiltered {
        if let Some(eqs) = plain_equalities(params) {
            let known = eqs
                .iter()
                .all(|(f, _)| matches!(*f, "pipeline_id" | "owner_id"));
            if known && eqs.iter().any(|(f, _)| *f == "pipeline_id") {
                return maintained_totals(tx, ctx.actor, &eqs).await;
            }
        }
    }
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
    tx.fetch_all(&q).await?.iter().map(total_of).collect()
}

/// Totals from `deal_stage_totals` for `pipeline_id = N [and owner_id = M]`, within
/// the owners the actor may read deals of (the deal scope is owner-based).
async fn maintained_totals(
    tx: &mut crate::db::Tx,
    actor: &Actor,
    eqs: &[(&str, i64)],
) -> Result<Vec<StageTotal>> {
    let mut cond = Cond::all();
    for (field, value) in eqs {
        cond = cond.add(crate::filter_sql::col(field).eq(*value));
    }
    // The deal scope is owner-based (deals have no assignee and no privacy rule), so
    // the same condition applies to the totals' `owner_id` column.
    if let Some(scope) = crate::scope::visible(actor, Entity::Deal, Action::Read) {
        cond = cond.add(scope);
    }
    let q = Query::select()
        .column(Alias::new("stage_id"))
        .column(Alias::new("currency"))
        .expr_as(SqlExpr::cust("CAST(SUM(deals) AS BIGINT)"), Alias::new("n"))
        .expr_as(
            SqlExpr::cust("CAST(SUM(amount) AS BIGINT)"),
            Alias::new("total"),
        )
        .from(Alias::new("deal_stage_totals"))
        .cond_where(cond)
        .group_by_col(Alias::new("stage_id"))
        .group_by_col(Alias::new("currency"))
        .and_having(SqlExpr::cust("SUM(deals) > 0"))
        .order_by(Alias::new("stage_id"), Order::Asc)
        .order_by(Alias::new("currency"), Order::Asc)
        .to_owned();
    tx.fetch_all(&q).await?.iter().map(total_of).collect()
}

fn total_of(r: &crate::db::Row) -> Result<StageTotal> {
    Ok(StageTotal {
        stage_id: r.i64("stage_id")?.unwrap_or_default(),
        currency: r.text("currency")?.unwrap_or_else(|| "RUB".into()),
        count: r.i64("n")?.unwrap_or_default(),
        sum_minor: r.i64("total")?.unwrap_or_default(),
    })
}
