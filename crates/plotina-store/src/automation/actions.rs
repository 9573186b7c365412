//! What rules do. Every change goes through the record engine (history, stage moves,
//! lookups and the next rules included), in the transaction of the run.

use plotina_core::automation::{render, Action, Assignee};
use plotina_core::error::DomainError;
use plotina_core::policy::Actor;
use plotina_core::record::{parse_input, Changes, Mode};
use plotina_core::schema::Entity;
use plotina_core::value::{parse_field, Value};
use sea_query::{Alias, Expr as SqlExpr, Order, Query};
use serde_json::{json, Map, Value as Json};

use super::engine::template_data;
use super::rules::StoredRule;
use crate::db::Tx;
use crate::error::{fail, Result};
use crate::filter_sql::col;
use crate::records;
use crate::rows::Record;

/// What an action needs to know about its run.
pub struct Ctx<'a> {
    pub rule: &'a StoredRule,
    pub entity: Entity,
    pub record_id: Option<i64>,
    pub payload: Option<Json>,
    pub actor: &'a Actor,
    pub depth: usize,
    pub trigger: &'static str,
}

impl Ctx<'_> {
    async fn record(&self, tx: &mut Tx) -> Result<Option<Record>> {
        match self.record_id {
            Some(id) => Ok(Some(
                super::engine::action_record(tx, self.entity, id).await?,
            )),
            None => Ok(None),
        }
    }
}

fn obj(v: Json) -> Map<String, Json> {
    v.as_object().cloned().unwrap_or_default()
}

fn invalid(field: &str, code: &'static str) -> crate::StoreError {
    DomainError::invalid(field, code).into()
}

/// Renders string values (and strings inside arrays/objects) as templates.
fn render_json(v: &Json, data: &Json) -> Json {
    match v {
        Json::String(s) => Json::String(render(s, data)),
        Json::Array(items) => Json::Array(items.iter().map(|i| render_json(i, data)).collect()),
        Json::Object(m) => Json::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), render_json(v, data)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Performs one action; returns what it did, for the run log.
pub async fn perform(
    tx: &mut Tx,
    ctx: &mut Ctx<'_>,
    index: usize,
    action: &Action,
) -> Result<Json> {
    let rec = ctx.record(tx).await?;
    let data = template_data(rec.as_ref(), ctx.payload.as_ref());
    let need_record = || -> Result<&Record> {
        rec.as_ref()
            .ok_or_else(|| invalid("record", "automation_record_required"))
    };
    match action {
        Action::CreateActivity {
            subject,
            kind,
            due_in_minutes,
            assignee,
        } => {
            let user = resolve_assignee(tx, ctx, index, assignee, rec.as_ref()).await?;
            let mut body = json!({
                "kind": kind,
                "subject": render(subject, &data),
                "assignee_id": user,
                "owner_id": user,
            });
            if let Some(m) = due_in_minutes {
                let due = plotina_core::value::now() + chrono::Duration::minutes(*m);
                body["due_at"] = plotina_core::value::format_datetime(due).into();
            }
            if let Some(id) = ctx.record_id {
                let link = match ctx.entity {
                    Entity::Deal => "deal_id",
                    Entity::Company => "company_id",
                    Entity::Contact => "contact_id",
                    Entity::Lead => "lead_id",
                    _ => "parent_id",
                };
                body[link] = id.into();
            }
            let id = create(tx, ctx.actor, Entity::Activity, obj(body)).await?;
            Ok(json!({"activity_id": id, "assignee_id": user}))
        }
        Action::CreateChildDeal {
            pipeline_id,
            stage_id,
            title,
            fields,
            assignee,
        } => {
            let parent = need_record()?;
            let mut body = obj(render_json(&Json::Object(fields.clone()), &data));
            body.insert("title".into(), render(title, &data).into());
            body.insert("pipeline_id".into(), (*pipeline_id).into());
            if let Some(s) = stage_id {
                body.insert("stage_id".into(), (*s).into());
            }
            body.insert("parent_id".into(), ctx.record_id.into());
            let owner = match assignee {
                Some(a) => Some(resolve_assignee(tx, ctx, index, a, rec.as_ref()).await?),
                None => parent.get("owner_id").and_then(Json::as_i64),
            };
            body.insert("owner_id".into(), owner.into());
            let id = create(tx, ctx.actor, Entity::Deal, body).await?;
            Ok(json!({"deal_id": id}))
        }
        Action::MoveParent { stage_id } => {
            let Some(parent) = need_record()?.get("parent_id").and_then(Json::as_i64) else {
                return Ok(json!({"skipped": "no_parent"}));
            };
            move_deal(tx, ctx.actor, parent, *stage_id).await?;
            Ok(json!({"deal_id": parent, "stage_id": stage_id}))
        }
        Action::MoveStage { stage_id } => {
            let id = ctx.record_id.unwrap_or_default();
            need_record()?;
            move_deal(tx, ctx.actor, id, *stage_id).await?;
            Ok(json!({"deal_id": id, "stage_id": stage_id}))
        }
        Action::MoveChildren { stage_id } => {
            need_record()?;
            let pipeline = stage_pipeline(tx, *stage_id).await?;
            let rows = tx
                .fetch_all(
                    &Query::select()
                        .column(Alias::new("id"))
                        .from(Alias::new("deals"))
                        .and_where(col("parent_id").eq(ctx.record_id))
                        .and_where(col("pipeline_id").eq(pipeline))
                        .and_where(col("deleted_at").is_null())
                        .order_by(Alias::new("id"), Order::Asc)
                        .to_owned(),
                )
                .await?;
            let mut moved = Vec::new();
            for r in rows {
                let id = r.i64("id")?.unwrap_or_default();
                move_deal(tx, ctx.actor, id, *stage_id).await?;
                moved.push(id);
            }
            Ok(json!({"deal_ids": moved, "stage_id": stage_id}))
        }
        Action::SetField { field, value } => {
            let old = need_record()?;
            let v = render_json(value, &data);
            let mut changes = Changes {
                trusted: true,
                ..Default::default()
            };
            match field.strip_prefix("custom.") {
                Some(key) => {
                    changes.custom.insert(key.to_string(), v.clone());
                }
                None => {
                    let def = ctx
                        .entity
                        .field(field)
                        .ok_or_else(|| invalid(field, "automation_field_unknown"))?;
                    let parsed = if v.is_null() {
                        Value::Null
                    } else {
                        parse_field(def.kind, &v).map_err(|e| invalid(field, e.code))?
                    };
                    changes.set(ctx.entity, field, parsed);
                }
            }
            apply(tx, ctx.actor, ctx.entity, old, changes).await?;
            Ok(json!({"field": field, "value": v}))
        }
        Action::AssignOwner { assignee } => {
            let old = need_record()?;
            let user = resolve_assignee(tx, ctx, index, assignee, rec.as_ref()).await?;
            let mut changes = Changes {
                trusted: true,
                ..Default::default()
            };
            changes.set(ctx.entity, "owner_id", Value::Int(user));
            apply(tx, ctx.actor, ctx.entity, old, changes).await?;
            Ok(json!({"owner_id": user}))
        }
        Action::AddTag { tag } | Action::RemoveTag { tag } => {
            let old = need_record()?;
            let tag = render(tag, &data);
            let mut tags: Vec<Json> = old
                .get("tags")
                .and_then(Json::as_array)
                .cloned()
                .unwrap_or_default();
            let has = tags.iter().any(|t| t.as_str() == Some(tag.as_str()));
            let add = matches!(action, Action::AddTag { .. });
            if add == has {
                return Ok(json!({"tag": tag, "unchanged": true}));
            }
            if add {
                tags.push(tag.clone().into());
            } else {
                tags.retain(|t| t.as_str() != Some(tag.as_str()));
            }
            let def = ctx
                .entity
                .field("tags")
                .ok_or_else(|| invalid("tags", "automation_field_unknown"))?;
            let parsed =
                parse_field(def.kind, &Json::Array(tags)).map_err(|e| invalid("tags", e.code))?;
            let mut changes = Changes {
                trusted: true,
                ..Default::default()
            };
            changes.set(ctx.entity, "tags", parsed);
            apply(tx, ctx.actor, ctx.entity, old, changes).await?;
            Ok(json!({"tag": tag}))
        }
        Action::NotebookItem { text, assignee } => {
            let user = resolve_assignee(tx, ctx, index, assignee, rec.as_ref()).await?;
            let item = crate::notebook::NewItem {
                kind: crate::notebook::kind::SYSTEM.into(),
                owner_id: user,
                record: ctx.record_id.map(|id| (ctx.entity.code().to_string(), id)),
                text: render(text, &data),
                source: format!("rule:{}", ctx.rule.id),
                ..Default::default()
            };
            let id = crate::notebook::post_item(tx, &item).await?;
            Ok(json!({"notebook_item_id": id, "owner_id": user}))
        }
        Action::SendEmail { to, subject, body } => {
            let to = render(to, &data);
            if plotina_core::types::Email::parse(&to).is_err() {
                return fail(DomainError::invalid("to", "automation_email_invalid"));
            }
            let mail = crate::mail::NewMail {
                to: to.clone(),
                subject: render(subject, &data),
                body_text: render(body, &data),
                source: format!("rule:{}", ctx.rule.id),
                ..Default::default()
            };
            let id = crate::mail::queue_mail(tx, &mail).await?;
            Ok(json!({"mail_id": id, "to": to}))
        }
        Action::Webhook { url } => {
            // Sent by the job (network calls never run inside a record transaction).
            let body = json!({
                "rule_id": ctx.rule.id,
                "entity": ctx.entity.code(),
                "record": rec,
                "payload": ctx.payload,
            });
            let id = super::hooks::queue_call(tx, ctx.rule.id, url, &body).await?;
            Ok(json!({"queued_call_id": id}))
        }
        Action::Delay { .. } => Ok(Json::Null),
        Action::RequestApproval { value, reason } => {
            let deal = need_record()?;
            let id = ctx.record_id.unwrap_or_default();
            let owner = deal
                .get("owner_id")
                .and_then(Json::as_i64)
                .ok_or_else(|| invalid("owner_id", "automation_record_required"))?;
            let value = match render_json(value, &data) {
                // "25" or "25.0" from a template is the number 25.
                Json::String(s) => match s.trim().parse::<f64>() {
                    Ok(n) if n.fract() == 0.0 && n.abs() < 1e9 => json!(n as i64),
                    _ => Json::String(s),
                },
                other => other,
            };
            // Asked on behalf of the deal's owner, so the owner's head decides.
            let requester = Actor::system(owner);
            let customs = crate::rules::load_custom_defs(tx).await?;
            let lookup = move |e: Entity| customs.get(&e).cloned().unwrap_or_default();
            let qctx = crate::listing::QueryCtx {
                backend: tx.backend(),
                actor: &requester,
                custom: &lookup,
            };
            let a = crate::approvals::request(
                tx,
                &qctx,
                id,
                "discount_pct",
                &value,
                &render(reason, &data),
                plotina_core::value::now(),
            )
            .await?;
            Ok(json!({
                "approval_id": a.get("id"),
                "approver_id": a.get("approver_id"),
                "requested_value": value,
            }))
        }
    }
}

async fn create(
    tx: &mut Tx,
    actor: &Actor,
    entity: Entity,
    body: Map<String, Json>,
) -> Result<i64> {
    let customs = crate::rules::load_custom_defs(tx).await?;
    let defs = customs.get(&entity).cloned().unwrap_or_default();
    let mut changes =
        parse_input(entity, &defs, &body, Mode::Create).map_err(DomainError::Invalid)?;
    changes.trusted = true;
    let rec = records::insert(tx, actor, entity, &defs, changes).await?;
    Ok(rec.get("id").and_then(Json::as_i64).unwrap_or_default())
}

async fn apply(
    tx: &mut Tx,
    actor: &Actor,
    entity: Entity,
    old: &Record,
    changes: Changes,
) -> Result<()> {
    let customs = crate::rules::load_custom_defs(tx).await?;
    let defs = customs.get(&entity).cloned().unwrap_or_default();
    records::apply(tx, actor, entity, &defs, old, changes).await?;
    Ok(())
}

async fn stage_pipeline(tx: &mut Tx, stage_id: i64) -> Result<i64> {
    let row = tx
        .fetch_optional(
            &Query::select()
                .column(Alias::new("pipeline_id"))
                .from(Alias::new("stages"))
                .and_where(col("id").eq(stage_id))
                .and_where(col("deleted_at").is_null())
                .to_owned(),
        )
        .await?;
    row.and_then(|r| r.i64("pipeline_id").ok().flatten())
        .ok_or_else(|| invalid("stage_id", "automation_stage_missing"))
}

/// Moves a deal to a stage (of another pipeline too) through the record engine.
async fn move_deal(tx: &mut Tx, actor: &Actor, deal_id: i64, stage_id: i64) -> Result<()> {
    let old = records::fetch_unscoped(tx, Entity::Deal, deal_id).await?;
    if old.get("stage_id").and_then(Json::as_i64) == Some(stage_id) {
        return Ok(());
    }
    let pipeline = stage_pipeline(tx, stage_id).await?;
    let mut changes = Changes {
        trusted: true,
        ..Default::default()
    };
    changes.set(Entity::Deal, "stage_id", Value::Int(stage_id));
    if old.get("pipeline_id").and_then(Json::as_i64) != Some(pipeline) {
        changes.set(Entity::Deal, "pipeline_id", Value::Int(pipeline));
    }
    apply(tx, actor, Entity::Deal, &old, changes).await
}

/// The active users of a department, by id.
async fn department_users(tx: &mut Tx, department_id: i64) -> Result<Vec<i64>> {
    let rows = tx
        .fetch_all(
            &Query::select()
                .column(Alias::new("id"))
                .from(Alias::new("users"))
                .and_where(col("department_id").eq(department_id))
                .and_where(col("active").eq(true))
                .and_where(col("deleted_at").is_null())
                .order_by(Alias::new("id"), Order::Asc)
                .to_owned(),
        )
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| r.i64("id").ok().flatten())
        .collect())
}

/// The user an assignee stands for; round-robin remembers its position in the rule.
pub async fn resolve_assignee(
    tx: &mut Tx,
    ctx: &Ctx<'_>,
    index: usize,
    assignee: &Assignee,
    rec: Option<&Record>,
) -> Result<i64> {
    match assignee {
        Assignee::Owner => rec
            .and_then(|r| r.get("owner_id"))
            .and_then(Json::as_i64)
            .ok_or_else(|| invalid("assignee", "automation_record_required")),
        Assignee::User { user_id } => Ok(*user_id),
        Assignee::DepartmentHead { department_id } => {
            let row = tx
                .fetch_optional(
                    &Query::select()
                        .column(Alias::new("head_id"))
                        .from(Alias::new("departments"))
                        .and_where(col("id").eq(*department_id))
                        .to_owned(),
                )
                .await?;
            row.and_then(|r| r.i64("head_id").ok().flatten())
                .ok_or_else(|| invalid("assignee", "automation_no_head"))
        }
        Assignee::RoundRobin { department_id } => {
            let users = department_users(tx, *department_id).await?;
            if users.is_empty() {
                return Err(invalid("assignee", "automation_no_users"));
            }
            let state = super::rules::rule_state(tx, ctx.rule.id).await?;
            let key = format!("rr{index}");
            let last = state.get(&key).and_then(Json::as_i64);
            let next = last
                .and_then(|l| users.iter().copied().find(|u| *u > l))
                .unwrap_or(users[0]);
            let mut state = state;
            state.insert(key, next.into());
            tx.execute(
                Query::update()
                    .table(Alias::new("automation_rules"))
                    .value(Alias::new("state"), Json::Object(state))
                    .and_where(col("id").eq(ctx.rule.id)),
            )
            .await?;
            Ok(next)
        }
        Assignee::LeastLoaded { department_id } => {
            let users = department_users(tx, *department_id).await?;
            if users.is_empty() {
                return Err(invalid("assignee", "automation_no_users"));
            }
            let rows = tx
                .fetch_all(
                    &Query::select()
                        .column(Alias::new("assignee_id"))
                        .expr_as(SqlExpr::cust("COUNT(*)"), Alias::new("n"))
                        .from(Alias::new("activities"))
                        .and_where(col("assignee_id").is_in(users.clone()))
                        .and_where(col("done").eq(false))
                        .and_where(col("deleted_at").is_null())
                        .group_by_col(Alias::new("assignee_id"))
                        .to_owned(),
                )
                .await?;
            let load = |u: i64| -> i64 {
                rows.iter()
                    .find(|r| r.i64("assignee_id").ok().flatten() == Some(u))
                    .and_then(|r| r.i64("n").ok().flatten())
                    .unwrap_or(0)
            };
            Ok(users
                .iter()
                .copied()
                .min_by_key(|u| (load(*u), *u))
                .unwrap_or(users[0]))
        }
    }
}
