//! `Store`: the facade handlers use. Each method is one transaction.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use plotina_core::filter::{CmpOp, Condition, Expr, Literal, Path, Test};
use plotina_core::policy::{Action, Actor};
use plotina_core::record::CustomFieldDef;
use plotina_core::schema::Entity;
use serde_json::{Map, Value as Json};

use crate::db::{Backend, Pool};
use crate::error::Result;
use crate::history::{HistoryEntry, HistoryPage};
use crate::listing::{self, ListParams, Page, QueryCtx};
use crate::records::{self, IdempotencyKey};
use crate::rows::Record;
use crate::rules;

type CustomMap = BTreeMap<Entity, Vec<CustomFieldDef>>;

pub struct Store {
    pool: Pool,
    customs: RwLock<Option<Arc<CustomMap>>>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct SearchHit {
    pub entity: Entity,
    pub id: i64,
    pub title: String,
    pub subtitle: Option<String>,
}

/// `field = id` as a filter expression, for related lists.
pub fn eq_filter(field: &str, id: i64) -> Expr {
    Expr::Cond(Condition {
        path: Path {
            segments: vec![field.to_string()],
            pos: 0,
        },
        test: Test::Cmp(CmpOp::Eq, Literal::Num(id.into(), 0)),
    })
}

impl Store {
    pub fn new(pool: Pool) -> Store {
        Store {
            pool,
            customs: RwLock::new(None),
        }
    }

    pub async fn open(cfg: &crate::DbConfig) -> anyhow::Result<Store> {
        let pool = Pool::connect(cfg).await?;
        pool.migrate().await?;
        Ok(Store::new(pool))
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.pool.backend()
    }

    /// Custom-field definitions, cached until a definition changes.
    pub async fn customs(&self) -> Result<Arc<CustomMap>> {
        if let Some(c) = self.customs.read().ok().and_then(|g| g.clone()) {
            return Ok(c);
        }
        let mut tx = self.pool.begin().await?;
        let map = Arc::new(rules::load_custom_defs(&mut tx).await?);
        tx.commit().await?;
        if let Ok(mut g) = self.customs.write() {
            *g = Some(map.clone());
        }
        Ok(map)
    }

    fn invalidate(&self, entity: Entity) {
        if entity == Entity::CustomField {
            if let Ok(mut g) = self.customs.write() {
                *g = None;
            }
        }
    }

    /// The custom-field definitions as the lookup function query contexts take.
    pub(crate) async fn custom_lookup(
        &self,
    ) -> Result<impl Fn(Entity) -> Vec<CustomFieldDef> + Send + Sync + 'static> {
        let map = self.customs().await?;
        Ok(move |e: Entity| map.get(&e).cloned().unwrap_or_default())
    }

    pub async fn custom_defs(&self, entity: Entity) -> Result<Vec<CustomFieldDef>> {
        Ok(self
            .customs()
            .await?
            .get(&entity)
            .cloned()
            .unwrap_or_default())
    }

    pub(crate) fn query_ctx<'a>(
        &self,
        actor: &'a Actor,
        customs: &'a (dyn Fn(Entity) -> Vec<CustomFieldDef> + Sync),
    ) -> QueryCtx<'a> {
        self.ctx(actor, customs)
    }

    fn ctx<'a>(
        &self,
        actor: &'a Actor,
        customs: &'a (dyn Fn(Entity) -> Vec<CustomFieldDef> + Sync),
    ) -> QueryCtx<'a> {
        QueryCtx {
            backend: self.backend(),
            actor,
            custom: customs,
        }
    }

    pub async fn list(&self, actor: &Actor, entity: Entity, params: &ListParams) -> Result<Page> {
        self.list_for(actor, entity, Action::Read, params).await
    }

    pub async fn list_for(
        &self,
        actor: &Actor,
        entity: Entity,
        action: Action,
        params: &ListParams,
    ) -> Result<Page> {
        let customs = self.custom_lookup().await?;
        let ctx = self.ctx(actor, &customs);
        let mut tx = self.pool.begin().await?;
        let page = listing::list(&mut tx, &ctx, entity, action, params).await?;
        tx.commit().await?;
        Ok(page)
    }

    /// Several lists in one read transaction, each with only the built-in fields in its
    /// columns (all fields when `None`): a page's names (users, stages, …) or a
    /// kanban's columns in one round of statements, without a transaction each.
    pub async fn list_many(
        &self,
        actor: &Actor,
        lists: &[(Entity, ListParams, Option<&[&str]>)],
    ) -> Result<Vec<Page>> {
        let customs = self.custom_lookup().await?;
        let ctx = self.ctx(actor, &customs);
        let mut tx = self.pool.begin().await?;
        let mut pages = Vec::with_capacity(lists.len());
        for (entity, params, columns) in lists {
            pages.push(
                listing::list_columns(&mut tx, &ctx, *entity, Action::Read, params, *columns)
                    .await?,
            );
        }
        tx.commit().await?;
        Ok(pages)
    }

    pub async fn count(
        &self,
        actor: &Actor,
        entity: Entity,
        params: &ListParams,
        cap: u64,
    ) -> Result<u64> {
        let customs = self.custom_lookup().await?;
        let ctx = self.ctx(actor, &customs);
        let mut tx = self.pool.begin().await?;
        let n = listing::count(&mut tx, &ctx, entity, params, cap).await?;
        tx.commit().await?;
        Ok(n)
    }

    pub async fn get(&self, actor: &Actor, entity: Entity, id: i64) -> Result<Record> {
        self.get_in(actor, entity, id, false).await
    }

    pub async fn get_in(
        &self,
        actor: &Actor,
        entity: Entity,
        id: i64,
        trash: bool,
    ) -> Result<Record> {
        let customs = self.custom_lookup().await?;
        let ctx = self.ctx(actor, &customs);
        let mut tx = self.pool.begin().await?;
        let rec = records::fetch(&mut tx, &ctx, entity, id, Action::Read, trash).await?;
        tx.commit().await?;
        rec.ok_or_else(crate::StoreError::not_found)
    }

    /// The record if the actor may edit it: 404 when they cannot read it, 403 when they
    /// can read but not edit. For checks that must come before expensive work (storing
    /// an uploaded file), not instead of the check inside the write.
    pub async fn get_editable(&self, actor: &Actor, entity: Entity, id: i64) -> Result<Record> {
        let customs = self.custom_lookup().await?;
        let ctx = self.ctx(actor, &customs);
        let mut tx = self.pool.begin().await?;
        let rec = records::fetch_for(&mut tx, &ctx, entity, id, Action::Edit, false).await?;
        tx.commit().await?;
        Ok(rec)
    }

    /// Creates a record; the flag says whether an earlier request with the same
    /// idempotency key had already created it.
    pub async fn create(
        &self,
        actor: &Actor,
        entity: Entity,
        body: &Map<String, Json>,
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<(Record, bool)> {
        if entity == Entity::Deal {
            self.check_gate(actor, crate::gates::GateAction::DealCreate, None)
                .await?;
        }
        let customs = self.custom_lookup().await?;
        let ctx = self.ctx(actor, &customs);
        let mut tx = self.pool.begin_write().await?;
        let out = records::create(&mut tx, &ctx, entity, body, idempotency).await?;
        tx.commit().await?;
        self.invalidate(entity);
        Ok(out)
    }

    pub async fn update(
        &self,
        actor: &Actor,
        entity: Entity,
        id: i64,
        body: &Map<String, Json>,
        if_match: Option<i64>,
    ) -> Result<Record> {
        let customs = self.custom_lookup().await?;
        let ctx = self.ctx(actor, &customs);
        let mut tx = self.pool.begin_write().await?;
        // A stage move checks its gate in its own transaction (no second transaction for
        // the check); a refusal ends it before the refusal is logged.
        if entity == Entity::Deal && crate::gates::moves_deal(&mut tx, id, body).await? {
            let gate = crate::gates::GateAction::DealMove;
            let now = plotina_core::value::now();
            if let Some((g, items)) = crate::gates::holding_gate(&mut tx, actor, gate, now).await? {
                drop(tx);
                return Err(self
                    .refuse(actor, gate, Some(("deal", id)), g, items, now)
                    .await);
            }
        }
        // A deal discount below the pipeline's floor waits for approval (approvals.rs).
        let mut body = body.clone();
        let held = match entity {
            Entity::Deal => crate::approvals::hold(&mut tx, &ctx, id, &mut body).await?,
            _ => None,
        };
        let mut rec = records::update(&mut tx, &ctx, entity, id, &body, if_match).await?;
        if let Some(a) = held {
            rec.insert("pending_approval".into(), Json::Object(a));
        }
        tx.commit().await?;
        self.invalidate(entity);
        Ok(rec)
    }

    pub async fn delete(
        &self,
        actor: &Actor,
        entity: Entity,
        id: i64,
        if_match: Option<i64>,
    ) -> Result<()> {
        let customs = self.custom_lookup().await?;
        let ctx = self.ctx(actor, &customs);
        let mut tx = self.pool.begin_write().await?;
        records::delete(&mut tx, &ctx, entity, id, if_match).await?;
        tx.commit().await?;
        self.invalidate(entity);
        Ok(())
    }

    pub async fn restore(&self, actor: &Actor, entity: Entity, id: i64) -> Result<Record> {
        let customs = self.custom_lookup().await?;
        let ctx = self.ctx(actor, &customs);
        let mut tx = self.pool.begin_write().await?;
        let rec = records::restore(&mut tx, &ctx, entity, id).await?;
        tx.commit().await?;
        self.invalidate(entity);
        Ok(rec)
    }

    /// The change history of a record the actor may read, newest first: up to `limit`
    /// history rows before the row `before_id` (see [`crate::history::read`]).
    pub async fn history(
        &self,
        actor: &Actor,
        entity: Entity,
        id: i64,
        before_id: Option<i64>,
        limit: u64,
    ) -> Result<Vec<HistoryEntry>> {
        Ok(self
            .history_page(actor, entity, id, before_id, limit)
            .await?
            .entries)
    }

    /// [`Store::history`] with the id to continue before when more rows may follow.
    pub async fn history_page(
        &self,
        actor: &Actor,
        entity: Entity,
        id: i64,
        before_id: Option<i64>,
        limit: u64,
    ) -> Result<HistoryPage> {
        let customs = self.custom_lookup().await?;
        let ctx = self.ctx(actor, &customs);
        let mut tx = self.pool.begin().await?;
        if !records::readable(&mut tx, &ctx, entity, id).await? {
            return Err(crate::StoreError::not_found());
        }
        let out = crate::history::read(&mut tx, entity, id, before_id, limit).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// Global search across companies, contacts, deals and leads, each within the
    /// actor's scope: up to `per_entity` hits per section, the newest records first (by
    /// creation), all read in one transaction with one statement per section
    /// ([`crate::search::hits_statement`]; an e-mail domain is first counted up to a
    /// bound, [`crate::search::dense_probe`]).
    pub async fn search(&self, actor: &Actor, q: &str, per_entity: u64) -> Result<Vec<SearchHit>> {
        let customs = self.custom_lookup().await?;
        let ctx = self.ctx(actor, &customs);
        let sections: Vec<Entity> = [Entity::Company, Entity::Contact, Entity::Deal, Entity::Lead]
            .into_iter()
            .filter(|e| actor.can(*e, Action::Read))
            .collect();
        let mut visible = Vec::with_capacity(sections.len());
        for entity in &sections {
            visible.push(ctx.conditions(*entity, Action::Read, &ListParams::default())?);
        }
        let mut hits = Vec::new();
        let mut tx = self.pool.begin().await?;
        for (entity, visible) in sections.into_iter().zip(visible) {
            let mut plan = crate::search::IndexUse::Drive;
            if let Some(probe) = crate::search::dense_probe(entity, q) {
                let n = tx
                    .fetch_optional(&probe)
                    .await?
                    .and_then(|r| r.i64("n").ok().flatten())
                    .unwrap_or(0);
                if n > crate::search::DENSE_MATCHES {
                    plan = crate::search::IndexUse::Filter;
                }
            }
            let stmt =
                crate::search::hits_statement(self.backend(), entity, q, visible, per_entity, plan);
            let columns = crate::search::hit_columns(entity);
            for row in tx.fetch_all(&stmt).await? {
                let rec = crate::rows::record_from_columns(entity, &row, columns)?;
                hits.push(search_hit(entity, &rec));
            }
        }
        tx.commit().await?;
        Ok(hits)
    }
}

/// A search hit from a record read with [`crate::search::hit_columns`].
fn search_hit(entity: Entity, rec: &Record) -> SearchHit {
    let text = |field: &str| rec.get(field).and_then(Json::as_str).map(String::from);
    let subtitle = match entity {
        Entity::Company => text("inn"),
        Entity::Contact => text("position"),
        Entity::Deal => text("amount").map(|a| {
            format!(
                "{a} {}",
                rec.get("currency").and_then(Json::as_str).unwrap_or("RUB")
            )
        }),
        _ => text("status"),
    };
    SearchHit {
        entity,
        id: rec.get("id").and_then(Json::as_i64).unwrap_or_default(),
        title: text(entity.title_field()).unwrap_or_default(),
        subtitle,
    }
}
