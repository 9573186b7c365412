//! Reports: the parameters every report shares (period, pipelines, owner, department,
//! the filter language) turned into one scope-aware condition on deals, and one file per
//! report. Reports read business records only through `scope::visible` (via
//! `QueryCtx::conditions`), so a manager's figures include only what they may read.

pub mod abc_xyz;
pub mod classes;
pub mod dam;
pub mod dashboard;
pub mod forecast;
pub mod funnel;
pub mod operations;
pub mod rating;
pub mod schedules;
pub mod source_costs;
pub mod sources;
pub mod stats;
pub mod velocity;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use plotina_core::error::{DomainError, FieldError};
use plotina_core::filter::Expr;
use plotina_core::policy::{Action, Actor};
use plotina_core::schema::Entity;
use std::collections::HashMap;

use sea_query::{Alias, Cond, Query, SelectStatement, SimpleExpr, Value as SqlValue};
use sea_query::{PostgresQueryBuilder, SqliteQueryBuilder};
use sea_query_binder::{SqlxBinder, SqlxValues};

use crate::db::{Backend, Tx};
use crate::error::Result;
use crate::filter_sql::col;
use crate::listing::{ListParams, QueryCtx};
use crate::store::Store;

/// The longest period a report accepts (in days): ten years.
pub const MAX_PERIOD_DAYS: i64 = 3660;

/// What every report takes. The period is a range of whole days, both ends included,
/// in UTC.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportParams {
    pub period_from: Option<NaiveDate>,
    pub period_to: Option<NaiveDate>,
    /// Pipelines to include; empty means all visible pipelines (reports that need one
    /// pipeline take the first of the list or the first pipeline by position).
    pub pipelines: Vec<i64>,
    pub owner: Option<i64>,
    /// A department: its members and the members of the departments below it.
    pub department: Option<i64>,
    /// The filter language, applied to deals.
    pub filter: Option<String>,
}

impl ReportParams {
    /// Checks the period: both ends in order and at most [`MAX_PERIOD_DAYS`] long.
    pub fn validate(&self) -> Result<()> {
        if let (Some(from), Some(to)) = (self.period_from, self.period_to) {
            if to < from {
                return Err(DomainError::BadRequest(FieldError::new(
                    "period_to",
                    "report_period_order",
                ))
                .into());
            }
            if (to - from).num_days() > MAX_PERIOD_DAYS {
                return Err(DomainError::BadRequest(
                    FieldError::new("period_to", "report_period_long")
                        .with("days", MAX_PERIOD_DAYS.to_string()),
                )
                .into());
            }
        }
        Ok(())
    }

    /// The period as instants: `[from 00:00, to+1 00:00)` UTC.
    pub fn instants(&self) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        (
            self.period_from
                .map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc()),
            self.period_to.map(|d| {
                (d + Duration::days(1))
                    .and_time(chrono::NaiveTime::MIN)
                    .and_utc()
            }),
        )
    }

    /// The same selection in the filter language, for links from a figure to the list
    /// of deals behind it (`/deals?filter=…`). The department is not expressible there
    /// and is left out of links.
    pub fn deal_filter(&self, date_field: &str) -> String {
        let mut parts = Vec::new();
        match self.pipelines.as_slice() {
            [] => {}
            [one] => parts.push(format!("pipeline_id = {one}")),
            many => parts.push(format!(
                "pipeline_id in ({})",
                many.iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
        if let Some(from) = self.period_from {
            parts.push(format!("{date_field} >= \"{from}\""));
        }
        if let Some(to) = self.period_to {
            parts.push(format!("{date_field} <= \"{to}\""));
        }
        if let Some(o) = self.owner {
            parts.push(format!("owner_id = {o}"));
        }
        if let Some(f) = self
            .filter
            .as_deref()
            .map(str::trim)
            .filter(|f| !f.is_empty())
        {
            parts.push(format!("({f})"));
        }
        parts.join(" and ")
    }
}

/// A timestamp as a bound value. SQLite keeps timestamps as RFC 3339 text and compares
/// them as text, so a bound must be written exactly as the stored values are: through
/// the driver's own encoding of an instant (`2026-03-01T05:00:00+00:00`, fractions only
/// when there are any), as every writer stores them. The API's notation
/// (`…T05:00:00.000Z`) sorts before the stored text of the same instant (`.` after `+`),
/// which put a record made exactly at a period's first instant into the period before.
pub(crate) fn ts_value(t: DateTime<Utc>) -> SqlValue {
    t.into()
}

/// The ids of a department and every department below it.
pub(crate) async fn department_subtree(tx: &mut Tx, root: i64) -> Result<Vec<i64>> {
    let q = Query::select()
        .columns([Alias::new("id"), Alias::new("parent_id")])
        .from(Alias::new("departments"))
        .and_where(col("deleted_at").is_null())
        .to_owned();
    let rows = tx.fetch_all(&q).await?;
    let mut pairs = Vec::with_capacity(rows.len());
    for r in rows {
        pairs.push((r.i64("id")?.unwrap_or_default(), r.i64("parent_id")?));
    }
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        let parent = out[i];
        for (id, p) in &pairs {
            if *p == Some(parent) && !out.contains(id) {
                out.push(*id);
            }
        }
        i += 1;
    }
    Ok(out)
}

/// The owner and department of the parameters as a condition on `owner_id` (of deals,
/// leads or any record with an owner).
pub(crate) async fn owner_condition(tx: &mut Tx, params: &ReportParams) -> Result<Cond> {
    let mut cond = Cond::all();
    if let Some(owner) = params.owner {
        cond = cond.add(col("owner_id").eq(owner));
    }
    if let Some(dept) = params.department {
        let ids = department_subtree(tx, dept).await?;
        let members = Query::select()
            .column(Alias::new("id"))
            .from(Alias::new("users"))
            .and_where(col("department_id").is_in(ids))
            .to_owned();
        cond = cond.add(col("owner_id").in_subquery(members));
    }
    Ok(cond)
}

/// Which date of a deal the period applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeriodOn {
    /// Deals created in the period (cohorts: the funnel).
    CreatedAt,
    /// Deals closed in the period.
    ClosedAt,
    /// No period condition.
    None,
}

/// The WHERE on `deals` for a report: the actor's read scope, live records, the filter
/// language, pipelines, owner, department and the period on the chosen date.
pub(crate) async fn deal_condition(
    store: &Store,
    tx: &mut Tx,
    actor: &Actor,
    params: &ReportParams,
    period_on: PeriodOn,
) -> Result<Cond> {
    params.validate()?;
    let customs = store.custom_lookup().await?;
    let ctx = QueryCtx {
        backend: store.backend(),
        actor,
        custom: &customs,
    };
    let list = ListParams {
        filter: params.filter.clone().filter(|f| !f.trim().is_empty()),
        and: Vec::<Expr>::new(),
        ..Default::default()
    };
    let mut cond = ctx.conditions(Entity::Deal, Action::Read, &list)?;
    if !params.pipelines.is_empty() {
        cond = cond.add(col("pipeline_id").is_in(params.pipelines.clone()));
    }
    cond = cond.add(owner_condition(tx, params).await?);
    let column = match period_on {
        PeriodOn::CreatedAt => Some("created_at"),
        PeriodOn::ClosedAt => Some("closed_at"),
        PeriodOn::None => None,
    };
    if let Some(column) = column {
        let (from, to) = params.instants();
        if let Some(from) = from {
            cond = cond.add(col(column).gte(ts_value(from)));
        }
        if let Some(to) = to {
            cond = cond.add(col(column).lt(ts_value(to)));
        }
    }
    Ok(cond)
}

/// Stages of a pipeline as the reports need them, ordered by position.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StageInfo {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub position: i64,
    pub probability: Option<i64>,
    pub rotten_days: Option<i64>,
}

fn stage_columns() -> SelectStatement {
    Query::select()
        .columns(
            [
                "id",
                "name",
                "kind",
                "position",
                "probability",
                "rotten_days",
            ]
            .map(Alias::new),
        )
        .from(Alias::new("stages"))
        .to_owned()
}

fn stage_info(r: &crate::db::Row) -> Result<StageInfo> {
    Ok(StageInfo {
        id: r.i64("id")?.unwrap_or_default(),
        name: r.text("name")?.unwrap_or_default(),
        kind: r.text("kind")?.unwrap_or_else(|| "open".into()),
        position: r.i64("position")?.unwrap_or_default(),
        probability: r.i64("probability")?,
        rotten_days: r.i64("rotten_days")?,
    })
}

pub(crate) async fn pipeline_stages(tx: &mut Tx, pipeline: i64) -> Result<Vec<StageInfo>> {
    let q = stage_columns()
        .and_where(col("pipeline_id").eq(pipeline))
        .and_where(col("deleted_at").is_null())
        .order_by(Alias::new("position"), sea_query::Order::Asc)
        .order_by(Alias::new("id"), sea_query::Order::Asc)
        .to_owned();
    tx.fetch_all(&q).await?.iter().map(stage_info).collect()
}

/// Every stage of every pipeline by id, deleted ones too (deals may still sit in them).
pub(crate) async fn all_stages(tx: &mut Tx) -> Result<HashMap<i64, StageInfo>> {
    let rows = tx.fetch_all(&stage_columns()).await?;
    rows.iter()
        .map(|r| stage_info(r).map(|s| (s.id, s)))
        .collect()
}

/// The ids of the stages of the given kinds (`open`, `won`, `lost`).
/// In id order, so that a statement listing them reads the same every time (one
/// prepared statement, not one per order the map happens to give).
pub(crate) fn stages_of_kind(stages: &HashMap<i64, StageInfo>, kinds: &[&str]) -> Vec<i64> {
    let mut ids: Vec<i64> = stages
        .values()
        .filter(|s| kinds.contains(&s.kind.as_str()))
        .map(|s| s.id)
        .collect();
    ids.sort_unstable();
    ids
}

/// The pipeline a one-pipeline report is about: the first requested, or the first
/// active pipeline by position. `NotFound` when there is none.
pub(crate) async fn report_pipeline(tx: &mut Tx, params: &ReportParams) -> Result<i64> {
    let mut q = Query::select()
        .column(Alias::new("id"))
        .from(Alias::new("pipelines"))
        .and_where(col("deleted_at").is_null())
        .order_by(Alias::new("position"), sea_query::Order::Asc)
        .order_by(Alias::new("id"), sea_query::Order::Asc)
        .limit(1)
        .to_owned();
    if let Some(first) = params.pipelines.first() {
        q.and_where(col("id").eq(*first));
    }
    let row = tx.fetch_optional(&q).await?;
    match row.and_then(|r| r.i64("id").ok().flatten()) {
        Some(id) => Ok(id),
        None => Err(DomainError::NotFound.into()),
    }
}

/// Ids of deals matching `cond`, as a sub-select for other tables' conditions.
pub(crate) fn deal_ids(cond: Cond) -> SimpleExpr {
    col("deal_id").in_subquery(
        Query::select()
            .column(Alias::new("id"))
            .from(Alias::new("deals"))
            .cond_where(cond)
            .to_owned(),
    )
}

/// A statement rendered for the engine at hand, to embed in hand-written SQL (its
/// placeholders are numbered from 1 on PostgreSQL, so it must be the statement's only
/// bound part).
pub(crate) fn render(backend: Backend, stmt: &SelectStatement) -> (String, SqlxValues) {
    match backend {
        Backend::Sqlite => stmt.build_sqlx(SqliteQueryBuilder),
        Backend::Postgres => stmt.build_sqlx(PostgresQueryBuilder),
    }
}

/// Ids as an SQL list for `IN`, written out (they are integers); `(NULL)` for none, which
/// matches nothing on both engines.
pub(crate) fn id_list(ids: impl IntoIterator<Item = i64>) -> String {
    let ids: Vec<String> = ids.into_iter().map(|i| i.to_string()).collect();
    if ids.is_empty() {
        "(NULL)".into()
    } else {
        format!("({})", ids.join(", "))
    }
}
