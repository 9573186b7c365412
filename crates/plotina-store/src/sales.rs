//! Sales flows beyond plain records: lead conversion and a deal's stage history.

use plotina_core::error::DomainError;
use plotina_core::policy::{Action, Actor};
use plotina_core::record::{parse_input, Changes, Mode};
use plotina_core::schema::Entity;
use plotina_core::value::Value;
use sea_query::{Alias, Expr as SqlExpr, JoinType, Order, Query};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value as Json};

use crate::error::{fail, Result};
use crate::listing::QueryCtx;
use crate::records::{self, fetch_for};
use crate::rows::Record;
use crate::store::Store;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvertRequest {
    /// Link an existing company instead of creating one.
    pub company_id: Option<i64>,
    /// Fields for a new company (defaults from the lead).
    pub company: Option<Map<String, Json>>,
    pub contact_id: Option<i64>,
    pub contact: Option<Map<String, Json>>,
    /// Fields for the new deal; `pipeline_id` is required when a deal is created.
    pub deal: Option<Map<String, Json>>,
    /// Set to false to convert without a deal.
    pub create_deal: Option<bool>,
    /// Set to false to convert without a company even when the lead names one.
    pub create_company: Option<bool>,
    /// Set to false to convert without a contact even when the lead names a person.
    pub create_contact: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Conversion {
    pub lead: Record,
    pub company: Option<Record>,
    pub contact: Option<Record>,
    pub deal: Option<Record>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StageStep {
    pub id: i64,
    pub from_stage_id: Option<i64>,
    pub from_stage: Option<String>,
    pub to_stage_id: i64,
    pub to_stage: String,
    pub changed_at: String,
    pub changed_by: Option<i64>,
    pub seconds_in_previous: Option<i64>,
}

fn text(rec: &Record, name: &str) -> Option<String> {
    rec.get(name).and_then(Json::as_str).map(String::from)
}

/// "Иванов Иван Петрович" → last, first, middle (the Russian order); one word is a
/// first name.
fn split_person(name: &str) -> (Option<String>, Option<String>, Option<String>) {
    let parts: Vec<&str> = name.split_whitespace().collect();
    match parts.as_slice() {
        [] => (None, None, None),
        [one] => (None, Some(one.to_string()), None),
        [last, first] => (Some(last.to_string()), Some(first.to_string()), None),
        [last, first, rest @ ..] => (
            Some(last.to_string()),
            Some(first.to_string()),
            Some(rest.join(" ")),
        ),
    }
}

fn parse(
    ctx: &QueryCtx<'_>,
    entity: Entity,
    body: &Map<String, Json>,
    prefix: &str,
) -> Result<Changes> {
    let customs = (ctx.custom)(entity);
    parse_input(entity, &customs, body, Mode::Create).map_err(|errs| {
        DomainError::Invalid(
            errs.into_iter()
                .map(|mut e| {
                    e.field = format!("{prefix}.{}", e.field);
                    e
                })
                .collect(),
        )
        .into()
    })
}

async fn create_with(
    tx: &mut crate::Tx,
    ctx: &QueryCtx<'_>,
    entity: Entity,
    body: Map<String, Json>,
    prefix: &str,
) -> Result<Record> {
    if !ctx.actor.can(entity, Action::Create) {
        return fail(DomainError::Forbidden("forbidden_create"));
    }
    let changes = parse(ctx, entity, &body, prefix)?;
    records::insert(tx, ctx.actor, entity, &(ctx.custom)(entity), changes).await
}

fn id_of(rec: &Record) -> i64 {
    rec.get("id").and_then(Json::as_i64).unwrap_or_default()
}

pub async fn convert(
    tx: &mut crate::Tx,
    ctx: &QueryCtx<'_>,
    lead_id: i64,
    req: ConvertRequest,
) -> Result<Conversion> {
    let lead = fetch_for(tx, ctx, Entity::Lead, lead_id, Action::Edit, false).await?;
    match text(&lead, "status").as_deref() {
        Some("converted") => {
            return fail(DomainError::conflict("status", "lead_already_converted"))
        }
        Some("junk") => return fail(DomainError::conflict("status", "lead_is_junk")),
        _ => {}
    }
    let source = text(&lead, "source");
    let company = match (req.company_id, req.company) {
        (None, _) if req.create_company == Some(false) => None,
        (Some(id), _) => Some(
            fetch_for(tx, ctx, Entity::Company, id, Action::Read, false)
                .await
                .map_err(|_| DomainError::invalid("company_id", "link_not_found"))?,
        ),
        (None, body) => {
            let mut body = body.unwrap_or_default();
            if !body.contains_key("name") {
                if let Some(name) = text(&lead, "company_name") {
                    body.insert("name".into(), json!(name));
                }
            }
            if body.contains_key("name") {
                for (k, v) in [
                    ("inn", lead.get("inn")),
                    ("source", source.as_ref().map(|_| &lead["source"])),
                ] {
                    if let Some(v) = v.filter(|v| !v.is_null()) {
                        body.entry(k.to_string()).or_insert(v.clone());
                    }
                }
                body.entry("roles").or_insert(json!(["prospect"]));
                Some(create_with(tx, ctx, Entity::Company, body, "company").await?)
            } else {
                None
            }
        }
    };
    let contact = match (req.contact_id, req.contact) {
        (None, _) if req.create_contact == Some(false) => None,
        (Some(id), _) => Some(
            fetch_for(tx, ctx, Entity::Contact, id, Action::Read, false)
                .await
                .map_err(|_| DomainError::invalid("contact_id", "link_not_found"))?,
        ),
        (None, body) => {
            let mut body = body.unwrap_or_default();
            if !body.contains_key("last_name") && !body.contains_key("first_name") {
                if let Some(name) = text(&lead, "contact_name") {
                    let (last, first, middle) = split_person(&name);
                    for (k, v) in [
                        ("last_name", last),
                        ("first_name", first),
                        ("middle_name", middle),
                    ] {
                        if let Some(v) = v {
                            body.insert(k.into(), json!(v));
                        }
                    }
                }
            }
            if body.contains_key("last_name") || body.contains_key("first_name") {
                if let Some(p) = text(&lead, "phone") {
                    body.entry("phones").or_insert(json!([p]));
                }
                if let Some(e) = text(&lead, "email") {
                    body.entry("emails").or_insert(json!([e]));
                }
                if let Some(c) = &company {
                    body.entry("companies")
                        .or_insert(json!([{"company_id": id_of(c)}]));
                }
                Some(create_with(tx, ctx, Entity::Contact, body, "contact").await?)
            } else {
                None
            }
        }
    };
    let deal = if req.create_deal == Some(false) {
        None
    } else {
        let mut body = req.deal.unwrap_or_default();
        body.entry("title")
            .or_insert(lead.get("title").cloned().unwrap_or(Json::Null));
        if let Some(a) = lead.get("amount").filter(|a| !a.is_null()) {
            body.entry("amount").or_insert(a.clone());
        }
        if let Some(s) = &source {
            body.entry("source").or_insert(json!(s));
        }
        if let Some(c) = &company {
            body.entry("company_id").or_insert(json!(id_of(c)));
        }
        if let Some(c) = &contact {
            body.entry("contact_ids").or_insert(json!([id_of(c)]));
        }
        if !body.contains_key("pipeline_id") {
            return fail(DomainError::invalid("deal.pipeline_id", "required"));
        }
        if !ctx.actor.can(Entity::Deal, Action::Create) {
            return fail(DomainError::Forbidden("forbidden_create"));
        }
        let mut changes = parse(ctx, Entity::Deal, &body, "deal")?;
        changes.set(Entity::Deal, "lead_id", Value::Int(lead_id));
        Some(
            records::insert(
                tx,
                ctx.actor,
                Entity::Deal,
                &(ctx.custom)(Entity::Deal),
                changes,
            )
            .await?,
        )
    };
    let mut changes = Changes {
        trusted: true,
        ..Default::default()
    };
    changes.set(Entity::Lead, "status", Value::Text("converted".into()));
    changes.set(
        Entity::Lead,
        "converted_at",
        Value::DateTime(plotina_core::value::now()),
    );
    for (field, rec) in [
        ("company_id", &company),
        ("contact_id", &contact),
        ("deal_id", &deal),
    ] {
        if let Some(r) = rec {
            changes.set(Entity::Lead, field, Value::Int(id_of(r)));
        }
    }
    let lead = records::apply(tx, ctx.actor, Entity::Lead, &[], &lead, changes).await?;
    Ok(Conversion {
        lead,
        company,
        contact,
        deal,
    })
}

pub async fn stage_history(
    tx: &mut crate::Tx,
    ctx: &QueryCtx<'_>,
    deal_id: i64,
) -> Result<Vec<StageStep>> {
    fetch_for(tx, ctx, Entity::Deal, deal_id, Action::Read, false).await?;
    let sc = Alias::new("sc");
    let from = Alias::new("sf");
    let to = Alias::new("st");
    let q = Query::select()
        .columns([
            (sc.clone(), Alias::new("id")),
            (sc.clone(), Alias::new("from_stage_id")),
            (sc.clone(), Alias::new("to_stage_id")),
            (sc.clone(), Alias::new("changed_at")),
            (sc.clone(), Alias::new("changed_by")),
            (sc.clone(), Alias::new("seconds_in_previous")),
        ])
        .expr_as(
            SqlExpr::col((from.clone(), Alias::new("name"))),
            Alias::new("from_name"),
        )
        .expr_as(
            SqlExpr::col((to.clone(), Alias::new("name"))),
            Alias::new("to_name"),
        )
        .from_as(Alias::new("stage_changes"), sc.clone())
        .join_as(
            JoinType::LeftJoin,
            Alias::new("stages"),
            from.clone(),
            SqlExpr::col((from.clone(), Alias::new("id")))
                .equals((sc.clone(), Alias::new("from_stage_id"))),
        )
        .join_as(
            JoinType::InnerJoin,
            Alias::new("stages"),
            to.clone(),
            SqlExpr::col((to.clone(), Alias::new("id")))
                .equals((sc.clone(), Alias::new("to_stage_id"))),
        )
        .and_where(SqlExpr::col((sc.clone(), Alias::new("deal_id"))).eq(deal_id))
        .order_by((sc, Alias::new("id")), Order::Asc)
        .to_owned();
    let rows = tx.fetch_all(&q).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(StageStep {
            id: r.i64("id")?.unwrap_or_default(),
            from_stage_id: r.i64("from_stage_id")?,
            from_stage: r.text("from_name")?,
            to_stage_id: r.i64("to_stage_id")?.unwrap_or_default(),
            to_stage: r.text("to_name")?.unwrap_or_default(),
            changed_at: r
                .datetime("changed_at")?
                .map(plotina_core::value::format_datetime)
                .unwrap_or_default(),
            changed_by: r.i64("changed_by")?,
            seconds_in_previous: r.i64("seconds_in_previous")?,
        });
    }
    Ok(out)
}

impl Store {
    pub async fn convert_lead(
        &self,
        actor: &Actor,
        lead_id: i64,
        req: ConvertRequest,
    ) -> Result<Conversion> {
        let gate = crate::gates::GateAction::LeadConvert;
        self.check_gate(actor, gate, Some(("lead", lead_id)))
            .await?;
        let customs = self.custom_lookup().await?;
        let ctx = QueryCtx {
            backend: self.backend(),
            actor,
            custom: &customs,
        };
        let mut tx = self.pool().begin_write().await?;
        let out = convert(&mut tx, &ctx, lead_id, req).await?;
        tx.commit().await?;
        Ok(out)
    }

    pub async fn stage_history(&self, actor: &Actor, deal_id: i64) -> Result<Vec<StageStep>> {
        let customs = self.custom_lookup().await?;
        let ctx = QueryCtx {
            backend: self.backend(),
            actor,
            custom: &customs,
        };
        let mut tx = self.pool().begin().await?;
        let out = stage_history(&mut tx, &ctx, deal_id).await?;
        tx.commit().await?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::split_person;

    #[test]
    fn russian_names_split_in_their_order() {
        assert_eq!(
            split_person("Иванов Иван Петрович"),
            (
                Some("Иванов".into()),
                Some("Иван".into()),
                Some("Петрович".into())
            )
        );
        assert_eq!(split_person("Иван"), (None, Some("Иван".into()), None));
    }
}
