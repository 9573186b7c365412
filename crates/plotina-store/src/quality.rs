//! Data quality: how complete the records are per field and owner (share of companies
//! without a phone, an industry, an INN…), and the records nobody plans to touch next
//! (companies, contacts and open deals without an open activity). Both within the
//! actor's read scope, each one query.

use std::collections::BTreeMap;

use plotina_core::error::DomainError;
use plotina_core::policy::{Action, Actor};
use plotina_core::schema::{Entity, FieldKind};
use sea_query::{Alias, Cond, Expr, Func, Order, Query, SimpleExpr};
use serde::Serialize;

use crate::db::Tx;
use crate::error::{fail, Result};
use crate::filter_sql::col;
use crate::scope::visible;
use crate::Store;

/// The fields the completeness report looks at, per entity.
pub fn report_fields(entity: Entity) -> &'static [&'static str] {
    match entity {
        Entity::Company => &["inn", "industry", "phones", "emails", "website", "source"],
        Entity::Contact => &["phones", "emails", "position", "companies", "source"],
        Entity::Deal => &["amount", "close_date", "company_id", "source"],
        Entity::Lead => &["phone", "email", "company_name", "source"],
        _ => &[],
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OwnerCompleteness {
    pub owner_id: Option<i64>,
    pub total: i64,
    /// Records without a value, per field.
    pub missing: BTreeMap<&'static str, i64>,
}

/// `field` is empty on the row: NULL or '' for text, no `record_lookup` row for lists.
fn empty(entity: Entity, field: &'static str) -> SimpleExpr {
    let kind = entity.field(field).map(|f| f.kind);
    match kind {
        Some(k) if k.lookup_kind().is_some() => {
            let t = Alias::new(entity.table());
            Expr::exists(
                Query::select()
                    .expr(Expr::cust("1"))
                    .from(Alias::new("record_lookup"))
                    .and_where(col("entity").eq(entity.code()))
                    .and_where(col("field").eq(field))
                    .and_where(Expr::col(Alias::new("record_id")).equals((t, Alias::new("id"))))
                    .to_owned(),
            )
            .not()
        }
        Some(FieldKind::Text { .. } | FieldKind::LongText | FieldKind::Select(_)) => Cond::any()
            .add(col(field).is_null())
            .add(col(field).eq(""))
            .into(),
        _ => col(field).is_null(),
    }
}

async fn completeness_in(
    tx: &mut Tx,
    actor: &Actor,
    entity: Entity,
) -> Result<Vec<OwnerCompleteness>> {
    let fields = report_fields(entity);
    let mut q = Query::select();
    q.column(Alias::new("owner_id"))
        .expr_as(
            Func::count(Expr::col(Alias::new("id"))),
            Alias::new("total"),
        )
        .from(Alias::new(entity.table()))
        .and_where(col("deleted_at").is_null())
        .group_by_col(Alias::new("owner_id"))
        .order_by(Alias::new("owner_id"), Order::Asc);
    if let Some(v) = visible(actor, entity, Action::Read) {
        q.and_where(v);
    }
    for (i, f) in fields.iter().enumerate() {
        // Literal 1/0 (not bound values) so that SUM is an integer on PostgreSQL too.
        let case = Expr::case(empty(entity, f), Expr::cust("1")).finally(Expr::cust("0"));
        q.expr_as(Func::sum(case), Alias::new(format!("m{i}")));
    }
    let mut out = Vec::new();
    for row in tx.fetch_all(&q).await? {
        let mut missing = BTreeMap::new();
        for (i, f) in fields.iter().enumerate() {
            missing.insert(*f, row.i64(&format!("m{i}"))?.unwrap_or_default());
        }
        out.push(OwnerCompleteness {
            owner_id: row.i64("owner_id")?,
            total: row.i64("total")?.unwrap_or_default(),
            missing,
        });
    }
    Ok(out)
}

/// A record without a planned next step.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Idle {
    pub id: i64,
    pub title: Option<String>,
    pub owner_id: Option<i64>,
}

async fn without_next_activity_in(
    tx: &mut Tx,
    actor: &Actor,
    entity: Entity,
    after: Option<i64>,
    limit: u64,
) -> Result<Vec<Idle>> {
    let link = match entity {
        Entity::Company => "company_id",
        Entity::Contact => "contact_id",
        Entity::Deal => "deal_id",
        _ => return fail(DomainError::bad_request("entity", "bad_request")),
    };
    let t = Alias::new(entity.table());
    let open_activity = Query::select()
        .expr(Expr::cust("1"))
        .from(Alias::new("activities"))
        .and_where(Expr::col(Alias::new(link)).equals((t.clone(), Alias::new("id"))))
        .and_where(col("done").eq(false))
        .and_where(col("deleted_at").is_null())
        .to_owned();
    let title = entity.title_field();
    let mut q = Query::select();
    q.columns(["id", title, "owner_id"].map(Alias::new))
        .from(t)
        .and_where(col("deleted_at").is_null())
        .and_where(Expr::exists(open_activity).not())
        .order_by(Alias::new("id"), Order::Asc)
        .limit(limit);
    if let Some(a) = after {
        q.and_where(col("id").gt(a));
    }
    if entity == Entity::Deal {
        q.and_where(
            col("stage_id").in_subquery(
                Query::select()
                    .column(Alias::new("id"))
                    .from(Alias::new("stages"))
                    .and_where(col("kind").eq("open"))
                    .to_owned(),
            ),
        );
    }
    if let Some(v) = visible(actor, entity, Action::Read) {
        q.and_where(v);
    }
    let mut out = Vec::new();
    for row in tx.fetch_all(&q).await? {
        out.push(Idle {
            id: row.i64("id")?.unwrap_or_default(),
            title: row.text(title)?,
            owner_id: row.i64("owner_id")?,
        });
    }
    Ok(out)
}

impl Store {
    /// Completeness per owner of the `report_fields` of an entity, over the records the
    /// actor may read.
    pub async fn completeness(
        &self,
        actor: &Actor,
        entity: Entity,
    ) -> Result<Vec<OwnerCompleteness>> {
        if report_fields(entity).is_empty() {
            return fail(DomainError::bad_request("entity", "bad_request"));
        }
        if !actor.can(entity, Action::Read) {
            return fail(DomainError::Forbidden("forbidden_action"));
        }
        let mut tx = self.pool().begin().await?;
        let out = completeness_in(&mut tx, actor, entity).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// Companies, contacts or open deals (readable by the actor) with no open activity.
    pub async fn without_next_activity(
        &self,
        actor: &Actor,
        entity: Entity,
        after: Option<i64>,
        limit: u64,
    ) -> Result<Vec<Idle>> {
        if !actor.can(entity, Action::Read) {
            return fail(DomainError::Forbidden("forbidden_action"));
        }
        let mut tx = self.pool().begin().await?;
        let out = without_next_activity_in(&mut tx, actor, entity, after, limit).await?;
        tx.commit().await?;
        Ok(out)
    }
}
