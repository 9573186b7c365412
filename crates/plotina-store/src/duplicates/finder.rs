//! The duplicate finder over the whole base: one GROUP BY per reason over an indexed
//! column (`companies.inn`, `record_lookup`, `dedup_keys`), never a comparison of pairs;
//! and clean-up tasks for the owners of the groups it finds.

use plotina_core::policy::{Action, Actor};
use plotina_core::schema::Entity;
use sea_query::{Alias, Expr, Func, Order, Query, SimpleExpr};
use serde::Serialize;

use super::{reindex, ENTITIES};
use crate::db::Tx;
use crate::error::Result;
use crate::filter_sql::col;
use crate::scope::visible;
use crate::Store;

/// A set of records sharing one key.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Group {
    pub reason: &'static str,
    /// The shared value: the INN (`inn`, `inn_kpp` as `INN/KPP`), phone, e-mail or name key.
    pub value: String,
    pub records: Vec<Member>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Member {
    pub id: i64,
    pub title: Option<String>,
    pub owner_id: Option<i64>,
}

/// Which groups to list.
#[derive(Debug, Clone)]
pub struct FindParams {
    pub entity: Entity,
    /// One reason, or every reason of the entity.
    pub reason: Option<&'static str>,
    /// Groups whose value sorts after this one (with a reason: the next page).
    pub after: Option<String>,
    pub limit: u64,
}

pub fn reasons_of(entity: Entity) -> &'static [&'static str] {
    match entity {
        Entity::Company => &["inn_kpp", "inn", "phone", "email", "name"],
        Entity::Lead => &["inn", "phone", "email", "name"],
        _ => &["phone", "email", "name"],
    }
}

/// Members of at most this many records are listed per group.
const MAX_MEMBERS: u64 = 50;

/// Groups of records (among those the actor may read) that share a key. One GROUP BY
/// per reason over an indexed column, never a comparison of pairs.
pub async fn find(tx: &mut Tx, actor: &Actor, p: &FindParams) -> Result<Vec<Group>> {
    let e = p.entity;
    let t = Alias::new("t");
    let scope = || {
        let mut c =
            sea_query::Cond::all().add(Expr::col((t.clone(), Alias::new("deleted_at"))).is_null());
        if let Some(v) = visible(actor, e, Action::Read) {
            c = c.add(v);
        }
        c
    };
    let mut groups = Vec::new();
    let reasons: Vec<&'static str> = match p.reason {
        Some(r) => vec![r],
        None => reasons_of(e).to_vec(),
    };
    for reason in reasons {
        let left = p.limit.saturating_sub(groups.len() as u64);
        if left == 0 {
            break;
        }
        let mut q = Query::select();
        // The grouped columns (`inn` and `kpp` for `inn_kpp`, else one) and the count.
        let value_cols: Vec<SimpleExpr>;
        let count_expr: SimpleExpr;
        match reason {
            "inn" | "inn_kpp" => {
                let c =
                    |name: &str| -> SimpleExpr { Expr::col((t.clone(), Alias::new(name))).into() };
                value_cols = if reason == "inn_kpp" {
                    vec![c("inn"), c("kpp")]
                } else {
                    vec![c("inn")]
                };
                q.from_as(Alias::new(e.table()), t.clone())
                    .and_where(Expr::expr(c("inn")).is_not_null())
                    .and_where(Expr::expr(c("inn")).ne(""));
                if reason == "inn_kpp" {
                    q.and_where(Expr::expr(c("kpp")).is_not_null());
                }
                count_expr = Func::count(Expr::col((t.clone(), Alias::new("id")))).into();
            }
            _ => {
                let (table, kind) = match (reason, e) {
                    ("name", Entity::Contact) => ("dedup_keys", "person_name"),
                    ("name", _) => ("dedup_keys", "company_name"),
                    (r, _) => ("record_lookup", r),
                };
                let l = Alias::new("l");
                value_cols = vec![Expr::col((l.clone(), Alias::new("value"))).into()];
                count_expr =
                    Func::count_distinct(Expr::col((l.clone(), Alias::new("record_id")))).into();
                q.from_as(Alias::new(table), l.clone())
                    .inner_join(
                        sea_query::TableRef::TableAlias(
                            sea_query::SeaRc::new(Alias::new(e.table())),
                            sea_query::SeaRc::new(t.clone()),
                        ),
                        Expr::col((t.clone(), Alias::new("id")))
                            .equals((l.clone(), Alias::new("record_id"))),
                    )
                    .and_where(Expr::col((l.clone(), Alias::new("entity"))).eq(e.code()))
                    .and_where(Expr::col((l.clone(), Alias::new("kind"))).eq(kind));
            }
        }
        for (i, v) in value_cols.iter().enumerate() {
            q.expr_as(v.clone(), Alias::new(format!("v{i}")))
                .order_by_expr(v.clone(), Order::Asc);
        }
        q.expr_as(count_expr.clone(), Alias::new("n"))
            .cond_where(scope())
            .add_group_by(value_cols.clone())
            .and_having(Expr::expr(count_expr).gt(1))
            .limit(left);
        if let Some(after) = &p.after {
            // Keyset paging on the grouped value(s).
            let first = Expr::expr(value_cols[0].clone());
            match (value_cols.get(1), after.split_once('/')) {
                (Some(kpp), Some((a_inn, a_kpp))) => {
                    q.cond_where(
                        sea_query::Cond::any()
                            .add(Expr::expr(value_cols[0].clone()).gt(a_inn))
                            .add(first.eq(a_inn).and(Expr::expr(kpp.clone()).gt(a_kpp))),
                    );
                }
                _ => {
                    q.and_where(first.gt(after.clone()));
                }
            }
        }
        let rows = tx.fetch_all(&q).await?;
        for row in rows {
            if row.i64("n")?.unwrap_or_default() < 2 {
                continue;
            }
            let mut value = row.text("v0")?.unwrap_or_default();
            if reason == "inn_kpp" {
                value = format!("{value}/{}", row.text("v1")?.unwrap_or_default());
            }
            let members = members(tx, actor, e, reason, &value).await?;
            if members.len() > 1 {
                groups.push(Group {
                    reason,
                    value,
                    records: members,
                });
            }
        }
    }
    Ok(groups)
}

async fn members(
    tx: &mut Tx,
    actor: &Actor,
    e: Entity,
    reason: &str,
    value: &str,
) -> Result<Vec<Member>> {
    let title = e.title_field();
    let mut q = Query::select();
    q.columns(["id", title, "owner_id"].map(Alias::new))
        .from(Alias::new(e.table()))
        .and_where(col("deleted_at").is_null())
        .order_by(Alias::new("id"), Order::Asc)
        .limit(MAX_MEMBERS);
    if let Some(v) = visible(actor, e, Action::Read) {
        q.and_where(v);
    }
    match reason {
        "inn" => {
            q.and_where(col("inn").eq(value));
        }
        "inn_kpp" => {
            let (inn, kpp) = value.split_once('/').unwrap_or((value, ""));
            q.and_where(col("inn").eq(inn))
                .and_where(col("kpp").eq(kpp));
        }
        _ => {
            let (table, kind) = match (reason, e) {
                ("name", Entity::Contact) => ("dedup_keys", "person_name"),
                ("name", _) => ("dedup_keys", "company_name"),
                (r, _) => ("record_lookup", r),
            };
            q.and_where(
                col("id").in_subquery(
                    Query::select()
                        .column(Alias::new("record_id"))
                        .from(Alias::new(table))
                        .and_where(col("entity").eq(e.code()))
                        .and_where(col("kind").eq(kind))
                        .and_where(col("value").eq(value))
                        .to_owned(),
                ),
            );
        }
    }
    let mut out = Vec::new();
    for row in tx.fetch_all(&q).await? {
        out.push(Member {
            id: row.i64("id")?.unwrap_or_default(),
            title: row.text(title)?,
            owner_id: row.i64("owner_id")?,
        });
    }
    Ok(out)
}

impl Store {
    /// The duplicate finder: groups of records the actor may read that share a key.
    pub async fn find_duplicates(&self, actor: &Actor, p: &FindParams) -> Result<Vec<Group>> {
        if !actor.can(p.entity, Action::Read) {
            return Err(plotina_core::error::DomainError::Forbidden("forbidden_action").into());
        }
        let mut tx = self.pool().begin().await?;
        let out = find(&mut tx, actor, p).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// Keys records written without them (see [`reindex`]); one transaction per entity.
    pub async fn reindex_duplicate_keys(&self) -> Result<u64> {
        let mut n = 0;
        for e in ENTITIES {
            let mut tx = self.pool().begin_write().await?;
            n += reindex(&mut tx, e).await?;
            tx.commit().await?;
        }
        Ok(n)
    }
}

/// What `duplicate_cleanup_tasks` did.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct TaskCounts {
    pub groups: u64,
    pub created: u64,
    /// Groups that already have an open clean-up task with the same subject.
    pub skipped: u64,
}

impl Store {
    /// One task (activity of kind `task`) per duplicate group, assigned to the owner of
    /// the group's oldest record and linked to it; a group whose record already has an
    /// open task with the same subject is skipped. One transaction.
    pub async fn duplicate_cleanup_tasks(
        &self,
        actor: &Actor,
        p: &FindParams,
        subject: &(dyn Fn(&Group) -> String + Sync),
    ) -> Result<TaskCounts> {
        if !actor.can(p.entity, Action::Read) || !actor.can(Entity::Activity, Action::Create) {
            return Err(plotina_core::error::DomainError::Forbidden("forbidden_action").into());
        }
        let customs = self.custom_defs(Entity::Activity).await?;
        let mut tx = self.pool().begin_write().await?;
        let groups = find(&mut tx, actor, p).await?;
        let mut counts = TaskCounts {
            groups: groups.len() as u64,
            created: 0,
            skipped: 0,
        };
        let link = match p.entity {
            Entity::Company => "company_id",
            Entity::Contact => "contact_id",
            _ => "lead_id",
        };
        for g in &groups {
            let Some(first) = g.records.first() else {
                continue;
            };
            let text = subject(g);
            let open = tx
                .fetch_optional(
                    &Query::select()
                        .column(Alias::new("id"))
                        .from(Alias::new("activities"))
                        .and_where(col("kind").eq("task"))
                        .and_where(col("done").eq(false))
                        .and_where(col("deleted_at").is_null())
                        .and_where(col(link).eq(first.id))
                        .and_where(col("subject").eq(text.clone()))
                        .to_owned(),
                )
                .await?;
            if open.is_some() {
                counts.skipped += 1;
                continue;
            }
            let ids: Vec<String> = g.records.iter().map(|m| format!("#{}", m.id)).collect();
            let mut body = serde_json::Map::new();
            body.insert("kind".into(), "task".into());
            body.insert("subject".into(), text.into());
            body.insert("body".into(), ids.join(", ").into());
            body.insert(link.into(), first.id.into());
            if let Some(owner) = first.owner_id {
                body.insert("assignee_id".into(), owner.into());
            }
            let changes = plotina_core::record::parse_input(
                Entity::Activity,
                &customs,
                &body,
                plotina_core::record::Mode::Create,
            )
            .map_err(plotina_core::error::DomainError::Invalid)?;
            crate::records::insert(&mut tx, actor, Entity::Activity, &customs, changes).await?;
            counts.created += 1;
        }
        tx.commit().await?;
        Ok(counts)
    }
}
