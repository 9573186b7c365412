//! Hand-over: when a person leaves, an administrator gives all their open tasks, open
//! deals, open leads and owned companies to one or several colleagues in one
//! transaction. Every change goes through the record engine (history rows, lookups,
//! notebook hooks), and each receiver gets one `handover` item listing what they got.

use std::collections::BTreeMap;

use plotina_core::error::{DomainError, FieldError};
use plotina_core::policy::Actor;
use plotina_core::record::{parse_input, Mode};
use plotina_core::schema::Entity;
use sea_query::{Alias, Order, Query, SelectStatement};
use serde_json::{json, Map, Value as Json};

use crate::db::Tx;
use crate::error::{fail, Result};
use crate::filter_sql::col;
use crate::notebook::{self, kind, NewItem};
use crate::records;
use crate::store::Store;

/// How the records are shared out.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoverRequest {
    pub from_user_id: i64,
    /// Receivers in turn (round robin over every record, in entity then id order).
    #[serde(default)]
    pub to_user_ids: Vec<i64>,
    /// Or one receiver per kind of record: `{"deal": 5, "lead": 6, "company": 5,
    /// "activity": 7}`; kinds left out go round robin to `to_user_ids`.
    #[serde(default)]
    pub by_entity: BTreeMap<String, i64>,
}

/// What moved, per receiver.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Handed {
    pub user_id: i64,
    pub deals: Vec<i64>,
    pub leads: Vec<i64>,
    pub companies: Vec<i64>,
    pub activities: Vec<i64>,
}

impl Handed {
    fn list(&mut self, e: Entity) -> &mut Vec<i64> {
        match e {
            Entity::Deal => &mut self.deals,
            Entity::Lead => &mut self.leads,
            Entity::Company => &mut self.companies,
            _ => &mut self.activities,
        }
    }

    pub fn total(&self) -> usize {
        self.deals.len() + self.leads.len() + self.companies.len() + self.activities.len()
    }
}

const ENTITIES: [Entity; 4] = [
    Entity::Deal,
    Entity::Lead,
    Entity::Company,
    Entity::Activity,
];

/// The ids of what `from` holds: open deals, open leads, live companies they own; open
/// activities assigned to them (or owned and unassigned).
fn holdings(entity: Entity, from: i64) -> SelectStatement {
    let mut q = Query::select();
    q.column(Alias::new("id"))
        .from(Alias::new(entity.table()))
        .and_where(col("deleted_at").is_null())
        .order_by(Alias::new("id"), Order::Asc);
    match entity {
        Entity::Deal => {
            q.and_where(col("owner_id").eq(from)).and_where(
                col("stage_id").in_subquery(
                    Query::select()
                        .column(Alias::new("id"))
                        .from(Alias::new("stages"))
                        .and_where(col("kind").eq("open"))
                        .to_owned(),
                ),
            );
        }
        Entity::Lead => {
            q.and_where(col("owner_id").eq(from))
                .and_where(col("status").is_not_in(["converted", "junk"]));
        }
        Entity::Activity => {
            q.and_where(col("done").eq(false)).cond_where(
                sea_query::Condition::any()
                    .add(col("assignee_id").eq(from))
                    .add(
                        sea_query::Condition::all()
                            .add(col("assignee_id").is_null())
                            .add(col("owner_id").eq(from)),
                    ),
            );
        }
        _ => {
            q.and_where(col("owner_id").eq(from));
        }
    }
    q
}

async fn user_name(tx: &mut Tx, id: i64, active_only: bool) -> Result<Option<String>> {
    let mut q = Query::select();
    q.column(Alias::new("name"))
        .from(Alias::new("users"))
        .and_where(col("id").eq(id))
        .and_where(col("deleted_at").is_null());
    if active_only {
        q.and_where(col("active").eq(true));
    }
    Ok(match tx.fetch_optional(&q).await? {
        Some(r) => r.text("name")?,
        None => None,
    })
}

impl Store {
    /// Hands everything open of `req.from_user_id` to the receivers in one transaction.
    pub async fn hand_over(&self, actor: &Actor, req: &HandoverRequest) -> Result<Vec<Handed>> {
        if !actor.is_admin {
            return fail(DomainError::Forbidden("forbidden_settings"));
        }
        let customs = self.customs().await?;
        let mut tx = self.pool().begin_write().await?;
        let mut errors = Vec::new();
        let from_name = user_name(&mut tx, req.from_user_id, false).await?;
        if from_name.is_none() {
            errors.push(FieldError::new("from_user_id", "link_not_found"));
        }
        let mut per_entity: BTreeMap<Entity, i64> = BTreeMap::new();
        for (code, user) in &req.by_entity {
            match Entity::from_code(code).filter(|e| ENTITIES.contains(e)) {
                Some(e) => {
                    per_entity.insert(e, *user);
                }
                None => errors.push(FieldError::new("by_entity", "handover_bad_entity")),
            }
        }
        if req.to_user_ids.is_empty() && per_entity.len() < ENTITIES.len() {
            errors.push(FieldError::new("to_user_ids", "required"));
        }
        let mut receivers: Vec<i64> = req.to_user_ids.clone();
        receivers.extend(per_entity.values().copied());
        receivers.sort_unstable();
        receivers.dedup();
        for r in &receivers {
            if *r == req.from_user_id {
                errors.push(FieldError::new("to_user_ids", "handover_to_self"));
            } else if user_name(&mut tx, *r, true).await?.is_none() {
                errors.push(FieldError::new("to_user_ids", "link_not_found"));
            }
        }
        if !errors.is_empty() {
            return fail(DomainError::Invalid(errors));
        }
        let mut out: BTreeMap<i64, Handed> = receivers
            .iter()
            .map(|r| {
                (
                    *r,
                    Handed {
                        user_id: *r,
                        ..Default::default()
                    },
                )
            })
            .collect();
        let mut turn = 0usize;
        for entity in ENTITIES {
            let ids: Vec<i64> = tx
                .fetch_all(&holdings(entity, req.from_user_id))
                .await?
                .iter()
                .map(|r| r.i64("id").map(Option::unwrap_or_default))
                .collect::<std::result::Result<_, _>>()?;
            let defs = customs.get(&entity).cloned().unwrap_or_default();
            for id in ids {
                let to = match per_entity.get(&entity) {
                    Some(u) => *u,
                    None => {
                        let u = req.to_user_ids[turn % req.to_user_ids.len()];
                        turn += 1;
                        u
                    }
                };
                let old = records::fetch_unscoped(&mut tx, entity, id).await?;
                let mut body = Map::new();
                if entity == Entity::Activity {
                    body.insert("assignee_id".into(), json!(to));
                    if old.get("owner_id").and_then(Json::as_i64) == Some(req.from_user_id) {
                        body.insert("owner_id".into(), json!(to));
                    }
                } else {
                    body.insert("owner_id".into(), json!(to));
                }
                let changes = parse_input(entity, &defs, &body, Mode::Update)
                    .map_err(DomainError::Invalid)?;
                records::apply(&mut tx, actor, entity, &defs, &old, changes).await?;
                if let Some(h) = out.get_mut(&to) {
                    h.list(entity).push(id);
                }
            }
        }
        let from_name = from_name.unwrap_or_default();
        for h in out.values() {
            if h.total() == 0 {
                continue;
            }
            notebook::post_item(
                &mut tx,
                &NewItem {
                    kind: kind::HANDOVER.into(),
                    owner_id: h.user_id,
                    record: None,
                    text: from_name.clone(),
                    source: "handover".into(),
                    created_by: Some(actor.user_id),
                    payload: Some(json!({
                        "from_user_id": req.from_user_id,
                        "deals": h.deals, "leads": h.leads,
                        "companies": h.companies, "activities": h.activities,
                    })),
                    ..Default::default()
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok(out.into_values().collect())
    }
}
