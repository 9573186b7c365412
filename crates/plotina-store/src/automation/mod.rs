//! Automation: stored rules, the engine the record engine calls in every write's
//! transaction, the run log, and the scheduler for time rules and queued work.

pub mod actions;
pub mod engine;
pub mod hooks;
pub mod rules;
pub mod scheduler;
pub mod webhooks;

use chrono::{DateTime, Utc};
use plotina_core::automation::{RuleInput, Trigger};
use plotina_core::error::DomainError;
use plotina_core::policy::{Action as Perm, Actor};
use plotina_core::schema::Entity;
use sea_query::{Alias, Order, Query};
use serde_json::Value as Json;

pub use engine::{RunOutcome, RunRequest};
pub use rules::StoredRule;
pub use scheduler::{HookSender, TickReport};

use crate::error::{fail, Result};
use crate::filter_sql::col;
use crate::listing::QueryCtx;
use crate::store::Store;

/// One line of the run log.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunRow {
    pub id: i64,
    pub rule_id: i64,
    pub rule_name: String,
    pub entity: String,
    pub record_id: Option<i64>,
    pub trigger: String,
    pub status: String,
    pub depth: i64,
    pub actions: Json,
    pub error: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
}

/// Which runs to list.
#[derive(Debug, Clone, Default)]
pub struct RunQuery {
    pub rule_id: Option<i64>,
    pub record: Option<(Entity, i64)>,
    pub before_id: Option<i64>,
    pub limit: u64,
}

fn admin_only(actor: &Actor) -> Result<()> {
    if actor.is_admin {
        Ok(())
    } else {
        fail(DomainError::Forbidden("forbidden_action"))
    }
}

impl Store {
    pub async fn automation_rules(&self, actor: &Actor) -> Result<Vec<StoredRule>> {
        admin_only(actor)?;
        let mut tx = self.pool().begin().await?;
        let out = rules::all(&mut tx).await?;
        tx.commit().await?;
        Ok(out)
    }

    pub async fn automation_rule(&self, actor: &Actor, id: i64) -> Result<StoredRule> {
        admin_only(actor)?;
        let mut tx = self.pool().begin().await?;
        let out = rules::get(&mut tx, id).await?;
        tx.commit().await?;
        Ok(out)
    }

    pub async fn create_automation_rule(
        &self,
        actor: &Actor,
        input: &RuleInput,
    ) -> Result<StoredRule> {
        admin_only(actor)?;
        let mut tx = self.pool().begin_write().await?;
        let out = rules::insert(&mut tx, actor, input).await?;
        tx.commit().await?;
        Ok(out)
    }

    pub async fn update_automation_rule(
        &self,
        actor: &Actor,
        id: i64,
        input: &RuleInput,
        if_match: Option<i64>,
    ) -> Result<StoredRule> {
        admin_only(actor)?;
        let mut tx = self.pool().begin_write().await?;
        let out = rules::update(&mut tx, actor, id, input, if_match).await?;
        tx.commit().await?;
        Ok(out)
    }

    pub async fn delete_automation_rule(&self, actor: &Actor, id: i64) -> Result<()> {
        admin_only(actor)?;
        let mut tx = self.pool().begin_write().await?;
        rules::delete(&mut tx, id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Checks that the actor may act on the record (404 outside the scope).
    async fn automation_record(
        &self,
        tx: &mut crate::Tx,
        actor: &Actor,
        entity: Entity,
        id: i64,
        perm: Perm,
    ) -> Result<()> {
        let customs = self.custom_lookup().await?;
        let ctx = QueryCtx {
            backend: self.backend(),
            actor,
            custom: &customs,
        };
        crate::records::fetch_for(tx, &ctx, entity, id, perm, false).await?;
        Ok(())
    }

    /// Runs a rule on a record now (the "manual run" of a card).
    pub async fn run_automation_rule(
        &self,
        actor: &Actor,
        rule_id: i64,
        record_id: i64,
    ) -> Result<RunOutcome> {
        let mut tx = self.pool().begin_write().await?;
        let rule = rules::get(&mut tx, rule_id).await?;
        if rule.trigger != Trigger::Manual && !actor.is_admin {
            return fail(DomainError::Forbidden("forbidden_action"));
        }
        self.automation_record(&mut tx, actor, rule.entity, record_id, Perm::Edit)
            .await?;
        let out = engine::run_rule(
            &mut tx,
            actor,
            RunRequest {
                rule: &rule,
                entity: rule.entity,
                record_id: Some(record_id),
                trigger: "manual",
                payload: None,
                from_index: 0,
                check_condition: true,
                dry_run: false,
                attempts: 0,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(out)
    }

    /// What the rule would do on the record: it runs in a transaction that is rolled
    /// back, so nothing changes (no mail, no calls, no records).
    pub async fn dry_run_automation_rule(
        &self,
        actor: &Actor,
        rule_id: i64,
        record_id: i64,
    ) -> Result<RunOutcome> {
        admin_only(actor)?;
        let mut tx = self.pool().begin_write().await?;
        let rule = rules::get(&mut tx, rule_id).await?;
        self.automation_record(&mut tx, actor, rule.entity, record_id, Perm::Read)
            .await?;
        let mut out = engine::run_rule(
            &mut tx,
            actor,
            RunRequest {
                rule: &rule,
                entity: rule.entity,
                record_id: Some(record_id),
                trigger: "manual",
                payload: None,
                from_index: 0,
                check_condition: true,
                dry_run: true,
                attempts: 0,
            },
        )
        .await?;
        drop(tx); // rolled back
        out.run_id = None;
        Ok(out)
    }

    /// An incoming webhook: the rule with this secret token runs with the body as
    /// `payload`, on the record named by `record_id` in the body if any.
    pub async fn incoming_automation_webhook(
        &self,
        token: &str,
        payload: &Json,
    ) -> Result<RunOutcome> {
        let mut tx = self.pool().begin_write().await?;
        let rule = rules::by_token(&mut tx, token).await?;
        if rule.trigger != Trigger::Webhook {
            return Err(crate::StoreError::not_found());
        }
        let record_id = payload.get("record_id").and_then(Json::as_i64);
        if let Some(id) = record_id {
            let q = Query::select()
                .column(Alias::new("id"))
                .from(Alias::new(rule.entity.table()))
                .and_where(col("id").eq(id))
                .and_where(col("deleted_at").is_null())
                .to_owned();
            if tx.fetch_optional(&q).await?.is_none() {
                return fail(DomainError::invalid("record_id", "link_not_found"));
            }
        }
        let actor = Actor::system(rule.created_by.unwrap_or(1));
        let out = engine::run_rule(
            &mut tx,
            &actor,
            RunRequest {
                rule: &rule,
                entity: rule.entity,
                record_id,
                trigger: "webhook",
                payload: Some(payload.clone()),
                from_index: 0,
                check_condition: true,
                dry_run: false,
                attempts: 0,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(out)
    }

    /// The run log, newest first: of a rule (administrators) or of a record (whoever
    /// may read the record).
    pub async fn automation_runs(&self, actor: &Actor, q: &RunQuery) -> Result<Vec<RunRow>> {
        let mut tx = self.pool().begin().await?;
        match q.record {
            Some((entity, id)) => {
                self.automation_record(&mut tx, actor, entity, id, Perm::Read)
                    .await?
            }
            None => admin_only(actor)?,
        }
        let r = Alias::new("automation_runs");
        let mut sel = Query::select();
        sel.columns(
            [
                "id",
                "rule_id",
                "entity",
                "record_id",
                "trigger_code",
                "status",
                "depth",
                "actions",
                "error",
                "started_at",
            ]
            .map(|c| (r.clone(), Alias::new(c))),
        )
        .column((Alias::new("automation_rules"), Alias::new("name")))
        .from(r.clone())
        .inner_join(
            Alias::new("automation_rules"),
            sea_query::Expr::col((Alias::new("automation_rules"), Alias::new("id")))
                .equals((r.clone(), Alias::new("rule_id"))),
        )
        .order_by((r.clone(), Alias::new("id")), Order::Desc)
        .limit(q.limit.clamp(1, 500));
        if let Some(rule) = q.rule_id {
            sel.and_where(sea_query::Expr::col((r.clone(), Alias::new("rule_id"))).eq(rule));
        }
        if let Some((entity, id)) = q.record {
            sel.and_where(
                sea_query::Expr::col((r.clone(), Alias::new("entity"))).eq(entity.code()),
            )
            .and_where(sea_query::Expr::col((r.clone(), Alias::new("record_id"))).eq(id));
        }
        if let Some(before) = q.before_id {
            sel.and_where(sea_query::Expr::col((r.clone(), Alias::new("id"))).lt(before));
        }
        let rows = tx.fetch_all(&sel).await?;
        tx.commit().await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(RunRow {
                id: row.i64("id")?.unwrap_or_default(),
                rule_id: row.i64("rule_id")?.unwrap_or_default(),
                rule_name: row.text("name")?.unwrap_or_default(),
                entity: row.text("entity")?.unwrap_or_default(),
                record_id: row.i64("record_id")?,
                trigger: row.text("trigger_code")?.unwrap_or_default(),
                status: row.text("status")?.unwrap_or_default(),
                depth: row.i64("depth")?.unwrap_or_default(),
                actions: row.json("actions")?.unwrap_or(Json::Array(Vec::new())),
                error: row.text("error")?,
                started_at: row.datetime("started_at")?,
            });
        }
        Ok(out)
    }
}
