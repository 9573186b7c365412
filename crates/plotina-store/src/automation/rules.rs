//! Stored rules: save (with every check that needs the database), read, list, delete.

use chrono::{DateTime, Utc};
use plotina_core::automation::{Action, RuleInput, Trigger};
use plotina_core::error::{DomainError, FieldError};
use plotina_core::filter;
use plotina_core::policy::Actor;
use plotina_core::record::CustomFieldDef;
use plotina_core::schema::Entity;
use rand::RngCore;
use sea_query::{Alias, Order, Query, SimpleExpr};
use serde_json::{Map, Value as Json};

use crate::db::{Row, Tx};
use crate::error::{fail, Result};
use crate::filter_sql::{col, FilterCtx};

/// A rule as stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StoredRule {
    pub id: i64,
    pub name: String,
    #[serde(serialize_with = "entity_code")]
    pub entity: Entity,
    pub pipeline_id: Option<i64>,
    pub trigger: Trigger,
    pub condition: Option<String>,
    pub actions: Vec<Action>,
    pub enabled: bool,
    /// The secret of the incoming-webhook URL (`webhook` trigger only).
    pub webhook_token: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    pub version: i64,
    #[serde(skip)]
    pub created_by: Option<i64>,
    #[serde(skip)]
    pub scheduled_until: Option<DateTime<Utc>>,
}

fn entity_code<S: serde::Serializer>(e: &Entity, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(e.code())
}

const COLUMNS: [&str; 14] = [
    "id",
    "name",
    "entity",
    "pipeline_id",
    "trigger_spec",
    "condition",
    "actions",
    "enabled",
    "webhook_token",
    "created_at",
    "updated_at",
    "version",
    "created_by",
    "scheduled_until",
];

fn from_row(r: &Row) -> Result<StoredRule> {
    let bad = |what: &str| anyhow::anyhow!("automation rule row: bad {what}");
    let entity =
        Entity::from_code(&r.text("entity")?.unwrap_or_default()).ok_or_else(|| bad("entity"))?;
    let trigger = serde_json::from_value(r.json("trigger_spec")?.unwrap_or_default())
        .map_err(|_| bad("trigger"))?;
    let actions = serde_json::from_value(r.json("actions")?.unwrap_or_default())
        .map_err(|_| bad("actions"))?;
    Ok(StoredRule {
        id: r.i64("id")?.unwrap_or_default(),
        name: r.text("name")?.unwrap_or_default(),
        entity,
        pipeline_id: r.i64("pipeline_id")?,
        trigger,
        condition: r.text("condition")?,
        actions,
        enabled: r.bool("enabled")?,
        webhook_token: r.text("webhook_token")?,
        created_at: r.datetime("created_at")?,
        updated_at: r.datetime("updated_at")?,
        version: r.i64("version")?.unwrap_or(1),
        created_by: r.i64("created_by")?,
        scheduled_until: r.datetime("scheduled_until")?,
    })
}

async fn select(tx: &mut Tx, cond: Vec<SimpleExpr>) -> Result<Vec<StoredRule>> {
    let mut q = Query::select();
    q.columns(COLUMNS.map(Alias::new))
        .from(Alias::new("automation_rules"))
        .order_by(Alias::new("id"), Order::Asc);
    for c in cond {
        q.and_where(c);
    }
    tx.fetch_all(&q).await?.iter().map(from_row).collect()
}

/// The enabled rules of an entity that changes start (not scheduled, manual or webhook).
pub async fn load_active(tx: &mut Tx, entity: Entity) -> Result<Vec<StoredRule>> {
    let mut rules = select(
        tx,
        vec![col("entity").eq(entity.code()), col("enabled").eq(true)],
    )
    .await?;
    rules.retain(|r| {
        !r.trigger.is_scheduled() && !matches!(r.trigger, Trigger::Manual | Trigger::Webhook)
    });
    Ok(rules)
}

pub async fn all(tx: &mut Tx) -> Result<Vec<StoredRule>> {
    select(tx, Vec::new()).await
}

pub async fn scheduled(tx: &mut Tx) -> Result<Vec<StoredRule>> {
    let mut rules = select(tx, vec![col("enabled").eq(true)]).await?;
    rules.retain(|r| r.trigger.is_scheduled());
    Ok(rules)
}

pub async fn get(tx: &mut Tx, id: i64) -> Result<StoredRule> {
    select(tx, vec![col("id").eq(id)])
        .await?
        .into_iter()
        .next()
        .ok_or_else(crate::StoreError::not_found)
}

pub async fn by_token(tx: &mut Tx, token: &str) -> Result<StoredRule> {
    select(
        tx,
        vec![col("webhook_token").eq(token), col("enabled").eq(true)],
    )
    .await?
    .into_iter()
    .next()
    .ok_or_else(crate::StoreError::not_found)
}

/// The rule's remembered state (round-robin positions).
pub async fn rule_state(tx: &mut Tx, id: i64) -> Result<Map<String, Json>> {
    let row = tx
        .fetch_optional(
            &Query::select()
                .column(Alias::new("state"))
                .from(Alias::new("automation_rules"))
                .and_where(col("id").eq(id))
                .to_owned(),
        )
        .await?;
    Ok(row
        .and_then(|r| r.json("state").ok().flatten())
        .and_then(|j| j.as_object().cloned())
        .unwrap_or_default())
}

async fn exists(tx: &mut Tx, table: &str, id: i64, extra: Option<SimpleExpr>) -> Result<bool> {
    let mut q = Query::select();
    q.column(Alias::new("id"))
        .from(Alias::new(table))
        .and_where(col("id").eq(id))
        .and_where(col("deleted_at").is_null());
    if let Some(e) = extra {
        q.and_where(e);
    }
    Ok(tx.fetch_optional(&q).await?.is_some())
}

/// Every check of a rule: the model's own, then the condition against the entity's
/// fields and every referenced pipeline, stage, user and department.
pub async fn check(tx: &mut Tx, actor: &Actor, input: &RuleInput) -> Result<Entity> {
    let entity = input.validate().map_err(DomainError::Invalid)?;
    let mut errs: Vec<FieldError> = Vec::new();
    if let (Some(text), false) = (&input.condition, input.trigger == Trigger::Webhook) {
        if let Ok(Some(expr)) = filter::parse(text) {
            let customs = crate::rules::load_custom_defs(tx).await?;
            let lookup = move |e: Entity| -> Vec<CustomFieldDef> {
                customs.get(&e).cloned().unwrap_or_default()
            };
            let ctx = FilterCtx {
                backend: tx.backend(),
                actor,
                input: text,
                custom: &lookup,
            };
            if let Err(e) = ctx.compile(entity, &expr) {
                errs.push(
                    FieldError::new("condition", "automation_condition_invalid")
                        .with("position", e.pos),
                );
            }
        }
    }
    if let Some(p) = input.pipeline_id {
        if !exists(tx, "pipelines", p, None).await? {
            errs.push(FieldError::new(
                "pipeline_id",
                "automation_pipeline_missing",
            ));
        }
    }
    if let Trigger::StageEntered { stage_id } | Trigger::StageLeft { stage_id } = &input.trigger {
        if !exists(tx, "stages", *stage_id, None).await? {
            errs.push(FieldError::new(
                "trigger.stage_id",
                "automation_stage_missing",
            ));
        }
    }
    for (i, a) in input.actions.iter().enumerate() {
        let at = format!("actions[{i}]");
        if let Action::CreateChildDeal { pipeline_id, .. } = a {
            if !exists(tx, "pipelines", *pipeline_id, None).await? {
                errs.push(FieldError::new(
                    format!("{at}.pipeline_id"),
                    "automation_pipeline_missing",
                ));
            }
        }
        for s in a.stage_ids() {
            let extra = match a {
                Action::CreateChildDeal { pipeline_id, .. } => {
                    Some(col("pipeline_id").eq(*pipeline_id))
                }
                _ => None,
            };
            if !exists(tx, "stages", s, extra).await? {
                errs.push(FieldError::new(
                    format!("{at}.stage_id"),
                    "automation_stage_missing",
                ));
            }
        }
        if let Some(assignee) = a.assignee() {
            if let Some(u) = assignee.user_id() {
                if !exists(tx, "users", u, Some(col("active").eq(true))).await? {
                    errs.push(FieldError::new(
                        format!("{at}.assignee.user_id"),
                        "automation_user_missing",
                    ));
                }
            }
            if let Some(d) = assignee.department_id() {
                if !exists(tx, "departments", d, None).await? {
                    errs.push(FieldError::new(
                        format!("{at}.assignee.department_id"),
                        "automation_department_missing",
                    ));
                }
            }
        }
    }
    if errs.is_empty() {
        Ok(entity)
    } else {
        fail(DomainError::Invalid(errs))
    }
}

fn new_token() -> String {
    let mut bytes = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn values(input: &RuleInput, entity: Entity) -> Vec<(&'static str, sea_query::Value)> {
    vec![
        ("name", input.name.trim().to_string().into()),
        ("entity", entity.code().into()),
        ("pipeline_id", input.pipeline_id.into()),
        (
            "trigger_spec",
            serde_json::to_value(&input.trigger)
                .unwrap_or_default()
                .into(),
        ),
        (
            "condition",
            input
                .condition
                .clone()
                .filter(|c| !c.trim().is_empty())
                .into(),
        ),
        (
            "actions",
            serde_json::to_value(&input.actions)
                .unwrap_or_default()
                .into(),
        ),
        ("enabled", input.enabled.into()),
        ("updated_at", plotina_core::value::now().into()),
    ]
}

pub async fn insert(tx: &mut Tx, actor: &Actor, input: &RuleInput) -> Result<StoredRule> {
    let entity = check(tx, actor, input).await?;
    let mut cols = values(input, entity);
    let token = (input.trigger == Trigger::Webhook).then(new_token);
    cols.push(("webhook_token", token.into()));
    cols.push(("created_at", plotina_core::value::now().into()));
    cols.push(("created_by", actor.user_id.into()));
    // Time rules fire for due moments from their creation on, not for the past.
    cols.push(("scheduled_until", plotina_core::value::now().into()));
    cols.push(("version", 1i64.into()));
    let mut q = Query::insert();
    q.into_table(Alias::new("automation_rules"))
        .columns(cols.iter().map(|(c, _)| Alias::new(*c)))
        .values_panic(
            cols.into_iter()
                .map(|(_, v)| sea_query::Expr::val(v).into()),
        );
    let id = tx.insert_id(&mut q).await?;
    get(tx, id).await
}

pub async fn update(
    tx: &mut Tx,
    actor: &Actor,
    id: i64,
    input: &RuleInput,
    if_match: Option<i64>,
) -> Result<StoredRule> {
    let old = get(tx, id).await?;
    if let Some(v) = if_match {
        if v != old.version {
            return fail(DomainError::Stale {
                current: old.version,
            });
        }
    }
    let entity = check(tx, actor, input).await?;
    let mut q = Query::update();
    q.table(Alias::new("automation_rules"));
    for (c, v) in values(input, entity) {
        q.value(Alias::new(c), v);
    }
    let token = match (&input.trigger, old.webhook_token) {
        (Trigger::Webhook, Some(t)) => Some(t),
        (Trigger::Webhook, None) => Some(new_token()),
        _ => None,
    };
    q.value(Alias::new("webhook_token"), token)
        .value(Alias::new("version"), old.version + 1)
        .and_where(col("id").eq(id))
        .and_where(col("version").eq(old.version));
    if tx.execute(&q).await? == 0 {
        return fail(DomainError::Stale {
            current: old.version + 1,
        });
    }
    get(tx, id).await
}

pub async fn delete(tx: &mut Tx, id: i64) -> Result<()> {
    get(tx, id).await?;
    for table in ["automation_fired", "automation_jobs", "automation_runs"] {
        tx.execute(
            Query::delete()
                .from_table(Alias::new(table))
                .and_where(col("rule_id").eq(id)),
        )
        .await?;
    }
    tx.execute(
        Query::delete()
            .from_table(Alias::new("automation_rules"))
            .and_where(col("id").eq(id)),
    )
    .await?;
    Ok(())
}
