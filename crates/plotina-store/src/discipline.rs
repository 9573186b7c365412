//! The discipline report: per person and week, notebook items handled on time, handled
//! late, still open, and gate refusals — the number a head of sales looks at to see
//! whether the CRM is used.
//!
//! Weeks are ISO weeks (Monday to Monday, UTC). An item is *handled* in the week it was
//! closed (done or dismissed): on time when closed no later than its due time (undated
//! items are always on time), late otherwise. An item is *open* in the week it is due
//! (created, when undated) while it is still open now.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use plotina_core::error::DomainError;
use plotina_core::policy::{Action, Actor, Scope};
use plotina_core::schema::Entity;
use sea_query::{Alias, Order, Query};

use crate::error::{fail, Result};
use crate::filter_sql::col;
use crate::notebook::state;
use crate::store::Store;

/// One person's week.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DisciplineRow {
    pub user_id: i64,
    pub name: String,
    /// Monday of the ISO week.
    pub week_start: NaiveDate,
    pub on_time: i64,
    pub late: i64,
    pub open: i64,
    pub gate_blocks: i64,
}

pub const MAX_WEEKS: u32 = 26;

fn monday(t: DateTime<Utc>) -> NaiveDate {
    let d = t.date_naive();
    d - Duration::days(d.weekday().num_days_from_monday() as i64)
}

impl Store {
    /// The last `weeks` ISO weeks (this one included) for the people the actor may
    /// see: everybody for an administrator, the department subtree for a role that
    /// reads the department's activities, else only the actor.
    pub async fn discipline(
        &self,
        actor: &Actor,
        weeks: u32,
        now: DateTime<Utc>,
    ) -> Result<Vec<DisciplineRow>> {
        if weeks == 0 || weeks > MAX_WEEKS {
            return fail(DomainError::bad_request("weeks", "discipline_weeks_range"));
        }
        let first = monday(now) - Duration::weeks(weeks as i64 - 1);
        let from = first
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc())
            .unwrap_or(now);
        let mut tx = self.pool().begin().await?;
        let mut uq = Query::select();
        uq.columns(["id", "name"].map(Alias::new))
            .from(Alias::new("users"))
            .and_where(col("deleted_at").is_null())
            .order_by(Alias::new("name"), Order::Asc)
            .order_by(Alias::new("id"), Order::Asc);
        if !actor.is_admin {
            if actor.scope(Entity::Activity, Action::Read) >= Scope::Department {
                uq.cond_where(
                    sea_query::Condition::any()
                        .add(col("department_id").is_in(actor.department_subtree.clone()))
                        .add(col("id").eq(actor.user_id)),
                );
            } else {
                uq.and_where(col("id").eq(actor.user_id));
            }
        }
        let users: Vec<(i64, String)> = tx
            .fetch_all(&uq)
            .await?
            .iter()
            .map(|r| {
                Ok((
                    r.i64("id")?.unwrap_or_default(),
                    r.text("name")?.unwrap_or_default(),
                ))
            })
            .collect::<Result<_>>()?;
        let ids: Vec<i64> = users.iter().map(|(id, _)| *id).collect();
        // (user, week) → [on_time, late, open, blocks]
        let mut cells: BTreeMap<(i64, NaiveDate), [i64; 4]> = BTreeMap::new();
        let closed = Query::select()
            .columns(["owner_id", "due_at", "closed_at"].map(Alias::new))
            .from(Alias::new("notebook_items"))
            .and_where(col("owner_id").is_in(ids.clone()))
            .and_where(col("state").is_in([state::DONE, state::DISMISSED]))
            .and_where(col("closed_at").gte(from))
            .to_owned();
        for r in tx.fetch_all(&closed).await? {
            let (Some(owner), Some(at)) = (r.i64("owner_id")?, r.datetime("closed_at")?) else {
                continue;
            };
            let late = r.datetime("due_at")?.is_some_and(|due| at > due);
            cells.entry((owner, monday(at))).or_default()[usize::from(late)] += 1;
        }
        let open = Query::select()
            .columns(["owner_id", "due_at", "created_at"].map(Alias::new))
            .from(Alias::new("notebook_items"))
            .and_where(col("owner_id").is_in(ids.clone()))
            .and_where(col("state").eq(state::OPEN))
            .to_owned();
        for r in tx.fetch_all(&open).await? {
            let Some(owner) = r.i64("owner_id")? else {
                continue;
            };
            let Some(at) = r.datetime("due_at")?.or(r.datetime("created_at")?) else {
                continue;
            };
            if at >= from && monday(at) <= monday(now) {
                cells.entry((owner, monday(at))).or_default()[2] += 1;
            }
        }
        let blocks = Query::select()
            .columns(["user_id", "blocked_at"].map(Alias::new))
            .from(Alias::new("notebook_gate_blocks"))
            .and_where(col("user_id").is_in(ids.clone()))
            .and_where(col("blocked_at").gte(from))
            .to_owned();
        for r in tx.fetch_all(&blocks).await? {
            if let (Some(u), Some(at)) = (r.i64("user_id")?, r.datetime("blocked_at")?) {
                cells.entry((u, monday(at))).or_default()[3] += 1;
            }
        }
        tx.commit().await?;
        let mut out = Vec::new();
        for (id, name) in &users {
            for w in 0..weeks {
                let week = first + Duration::weeks(w as i64);
                let c = cells.get(&(*id, week)).copied().unwrap_or_default();
                out.push(DisciplineRow {
                    user_id: *id,
                    name: name.clone(),
                    week_start: week,
                    on_time: c[0],
                    late: c[1],
                    open: c[2],
                    gate_blocks: c[3],
                });
            }
        }
        Ok(out)
    }
}
