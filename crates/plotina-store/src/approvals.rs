//! Approvals: a change to one record field held back until a person decides. First use:
//! a deal discount that takes the price below the pipeline's floor
//! (`100 − discount_pct < discount_floor_pct`; the floor is the lowest price, in percent of
//! the list price, a manager may give on their own).
//!
//! The approver is the head of the requester's department (the next department up when
//! the requester is the head); while that head is away (`users.away_until` in the future)
//! their `deputy_id` decides instead. A request nobody answered by `escalate_at` moves one
//! level up (`escalate_due`) after the pipeline's `approval_escalation_hours` (24 unless
//! set). Every step writes a history row on the record, so the card's
//! timeline shows it, and the approved change goes through the record engine.

use chrono::{DateTime, Duration, Utc};
use plotina_core::error::DomainError;
use plotina_core::policy::{Action, Actor};
use plotina_core::record::{parse_input, Mode};
use plotina_core::schema::Entity;
use sea_query::{Alias, Query};
use serde_json::{json, Map, Value as Json};

use crate::db::Tx;
use crate::error::{fail, Result};
use crate::filter_sql::col;
use crate::listing::QueryCtx;
use crate::notebook::{kind, post_item, NewItem};
use crate::store::Store;
use crate::{history, records};

/// Hours before an unanswered request escalates, unless the pipeline says otherwise.
pub const DEFAULT_ESCALATE_HOURS: i64 = 24;
/// The range of `pipelines.approval_escalation_hours` (up to 30 days).
pub const ESCALATE_HOURS_RANGE: std::ops::RangeInclusive<i64> = 1..=720;
/// The body member that carries the reason of a held change.
pub const REASON_FIELD: &str = "approval_reason";

const COLUMNS: [&str; 18] = [
    "id",
    "entity",
    "record_id",
    "field",
    "requested_value",
    "previous_value",
    "reason",
    "requester_id",
    "approver_id",
    "department_id",
    "level",
    "state",
    "comment",
    "decided_by",
    "decided_at",
    "escalate_at",
    "created_at",
    "updated_at",
];

/// An approval request as the API shows it.
pub type Approval = Map<String, Json>;

async fn load(tx: &mut Tx, id: i64) -> Result<Option<Approval>> {
    let row = tx
        .fetch_optional(
            Query::select()
                .columns(COLUMNS.map(Alias::new))
                .from(Alias::new("approvals"))
                .and_where(col("id").eq(id)),
        )
        .await?;
    let Some(r) = row else { return Ok(None) };
    let mut m = Map::new();
    for c in COLUMNS {
        let v = match c {
            "requested_value" | "previous_value" => r.json(c)?.unwrap_or(Json::Null),
            "id" | "record_id" | "requester_id" | "approver_id" | "department_id" | "level"
            | "decided_by" => r.i64(c)?.map(Json::from).unwrap_or(Json::Null),
            "decided_at" | "escalate_at" | "created_at" | "updated_at" => r
                .datetime(c)?
                .map(|t| Json::from(plotina_core::value::format_datetime(t)))
                .unwrap_or(Json::Null),
            _ => r.text(c)?.map(Json::from).unwrap_or(Json::Null),
        };
        m.insert(c.into(), v);
    }
    Ok(Some(m))
}

fn int(a: &Approval, k: &str) -> Option<i64> {
    a.get(k).and_then(Json::as_i64)
}

async fn one(tx: &mut Tx, table: &str, id: i64, cols: &[&str]) -> Result<Option<crate::db::Row>> {
    Ok(tx
        .fetch_optional(
            Query::select()
                .columns(cols.iter().map(|c| Alias::new(*c)))
                .from(Alias::new(table))
                .and_where(col("id").eq(id)),
        )
        .await?)
}

/// How long a request about deal `record_id` waits before it escalates: its pipeline's
/// `approval_escalation_hours` (the default when unset or the deal is gone).
async fn escalate_after(tx: &mut Tx, record_id: i64) -> Result<Duration> {
    let pipeline = match one(tx, "deals", record_id, &["pipeline_id"]).await? {
        Some(r) => r.i64("pipeline_id")?,
        None => None,
    };
    let hours = match pipeline {
        Some(p) => match one(tx, "pipelines", p, &["approval_escalation_hours"]).await? {
            Some(r) => r.i64("approval_escalation_hours")?,
            None => None,
        },
        None => None,
    };
    Ok(Duration::hours(
        hours
            .filter(|h| ESCALATE_HOURS_RANGE.contains(h))
            .unwrap_or(DEFAULT_ESCALATE_HOURS),
    ))
}

/// Who stands in for `user` at `now`: their deputy while they are away.
async fn present(tx: &mut Tx, user: i64, requester: i64, now: DateTime<Utc>) -> Result<i64> {
    let Some(r) = one(tx, "users", user, &["away_until", "deputy_id"]).await? else {
        return Ok(user);
    };
    match (r.datetime("away_until")?, r.i64("deputy_id")?) {
        (Some(until), Some(deputy)) if until > now && deputy != requester => Ok(deputy),
        _ => Ok(user),
    }
}

/// The approver at escalation `level` (0: the requester's department head) and the
/// department whose head it is; `None` when the tree has no such level.
pub async fn resolve_approver(
    tx: &mut Tx,
    requester: i64,
    level: i64,
    now: DateTime<Utc>,
) -> Result<Option<(i64, i64)>> {
    let Some(u) = one(tx, "users", requester, &["department_id"]).await? else {
        return Ok(None);
    };
    let mut dept = u.i64("department_id")?;
    let mut seen = 0;
    for _ in 0..64 {
        let Some(d) = dept else { break };
        let Some(row) = one(tx, "departments", d, &["parent_id", "head_id"]).await? else {
            break;
        };
        if let Some(head) = row.i64("head_id")?.filter(|h| *h != requester) {
            if seen == level {
                return Ok(Some((present(tx, head, requester, now).await?, d)));
            }
            seen += 1;
        }
        dept = row.i64("parent_id")?;
    }
    Ok(None)
}

async fn notify_approver(tx: &mut Tx, a: &Approval, approver: i64, level: i64) -> Result<()> {
    let id = int(a, "id").unwrap_or_default();
    post_item(
        tx,
        &NewItem {
            kind: kind::APPROVAL_REQUESTED.into(),
            owner_id: approver,
            record: Some((
                a["entity"].as_str().unwrap_or("deal").into(),
                int(a, "record_id").unwrap_or_default(),
            )),
            text: a["reason"].as_str().unwrap_or_default().into(),
            due_at: None,
            source: "approval".into(),
            created_by: int(a, "requester_id"),
            dedupe_key: Some(format!("approval:{id}:{level}")),
            payload: Some(json!({"approval_id": id, "field": a["field"], "requested_value": a["requested_value"]})),
        },
    )
    .await?;
    Ok(())
}

/// Creates a request to set `field` of a deal to `value`; the caller must be allowed to
/// edit the deal. Nothing is changed on the record. It escalates after the deal's
/// pipeline's `approval_escalation_hours`.
pub async fn request(
    tx: &mut Tx,
    ctx: &QueryCtx<'_>,
    record_id: i64,
    field: &str,
    value: &Json,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Approval> {
    if field != "discount_pct" {
        return fail(DomainError::invalid("field", "approval_field_unsupported"));
    }
    let reason = reason.trim();
    if reason.is_empty() {
        return fail(DomainError::invalid(REASON_FIELD, "required"));
    }
    // The value must be one the record would accept.
    let mut probe = Map::new();
    probe.insert(field.into(), value.clone());
    parse_input(Entity::Deal, &[], &probe, Mode::Update).map_err(DomainError::Invalid)?;
    let old = records::fetch_for(tx, ctx, Entity::Deal, record_id, Action::Edit, false).await?;
    let requester = ctx.actor.user_id;
    let Some((approver, dept)) = resolve_approver(tx, requester, 0, now).await? else {
        return fail(DomainError::conflict("", "approval_no_approver"));
    };
    let previous = old.get(field).cloned().unwrap_or(Json::Null);
    let wait = escalate_after(tx, record_id).await?;
    let id = tx
        .insert_id(
            Query::insert()
                .into_table(Alias::new("approvals"))
                .columns(
                    [
                        "entity",
                        "record_id",
                        "field",
                        "requested_value",
                        "previous_value",
                        "reason",
                        "requester_id",
                        "approver_id",
                        "department_id",
                        "level",
                        "state",
                        "escalate_at",
                        "created_at",
                        "updated_at",
                    ]
                    .map(Alias::new),
                )
                .values_panic(crate::db::vals([
                    "deal".into(),
                    record_id.into(),
                    field.into(),
                    value.clone().into(),
                    previous.clone().into(),
                    reason.into(),
                    requester.into(),
                    approver.into(),
                    dept.into(),
                    0i64.into(),
                    "pending".into(),
                    (now + wait).into(),
                    now.into(),
                    now.into(),
                ])),
        )
        .await?;
    let a = load(tx, id)
        .await?
        .ok_or_else(crate::StoreError::not_found)?;
    notify_approver(tx, &a, approver, 0).await?;
    history::write(
        tx,
        Entity::Deal,
        record_id,
        "approval_requested",
        &[(field.into(), previous, value.clone())],
        now,
        requester,
    )
    .await?;
    Ok(a)
}

/// The gate of a deal update: a discount below the pipeline's floor is taken out of the
/// body and becomes an approval request (the rest of the update goes on). The reason
/// comes in the body's `approval_reason`, which is always removed.
pub async fn hold(
    tx: &mut Tx,
    ctx: &QueryCtx<'_>,
    id: i64,
    body: &mut Map<String, Json>,
) -> Result<Option<Approval>> {
    let reason = match body.remove(REASON_FIELD) {
        None | Some(Json::Null) => String::new(),
        Some(Json::String(s)) => s,
        Some(_) => return fail(DomainError::invalid(REASON_FIELD, "expected_string")),
    };
    let Some(requested) = body.get("discount_pct").and_then(Json::as_i64) else {
        return Ok(None);
    };
    if ctx.actor.is_admin || !(0..=100).contains(&requested) {
        return Ok(None);
    }
    let old = records::fetch_for(tx, ctx, Entity::Deal, id, Action::Edit, false).await?;
    if old.get("discount_pct").and_then(Json::as_i64) == Some(requested) {
        return Ok(None);
    }
    let pipeline = body
        .get("pipeline_id")
        .and_then(Json::as_i64)
        .or_else(|| old.get("pipeline_id").and_then(Json::as_i64))
        .unwrap_or_default();
    let floor = match one(tx, "pipelines", pipeline, &["discount_floor_pct"]).await? {
        Some(r) => r.i64("discount_floor_pct")?,
        None => None,
    };
    let Some(floor) = floor else { return Ok(None) };
    if 100 - requested >= floor {
        return Ok(None);
    }
    let value = body.remove("discount_pct").unwrap_or(Json::Null);
    let now = plotina_core::value::now();
    Ok(Some(
        request(tx, ctx, id, "discount_pct", &value, &reason, now).await?,
    ))
}

/// Approves or rejects a pending request as `actor`. Only the current approver may;
/// the requester never; a decided request stays decided. Approval applies the change
/// through the record engine (history by the approver).
pub async fn decide(
    tx: &mut Tx,
    ctx: &QueryCtx<'_>,
    id: i64,
    approve: bool,
    comment: &str,
) -> Result<Approval> {
    let actor: &Actor = ctx.actor;
    let Some(a) = load(tx, id).await? else {
        return fail(DomainError::NotFound);
    };
    let requester = int(&a, "requester_id").unwrap_or_default();
    let approver = int(&a, "approver_id");
    if actor.user_id != requester && Some(actor.user_id) != approver && !actor.is_admin {
        return fail(DomainError::NotFound);
    }
    if a["state"] != "pending" {
        return fail(DomainError::conflict("", "approval_already_decided"));
    }
    if actor.user_id == requester {
        return fail(DomainError::Forbidden("approval_own_request"));
    }
    if Some(actor.user_id) != approver {
        return fail(DomainError::Forbidden("approval_not_approver"));
    }
    let comment = comment.trim();
    if comment.chars().count() > 2000 {
        return fail(DomainError::invalid("comment", "text_too_long"));
    }
    let now = plotina_core::value::now();
    let record_id = int(&a, "record_id").unwrap_or_default();
    let field = a["field"].as_str().unwrap_or_default().to_string();
    if approve {
        let old = records::fetch_unscoped(tx, Entity::Deal, record_id).await?;
        let mut body = Map::new();
        body.insert(field.clone(), a["requested_value"].clone());
        let customs = (ctx.custom)(Entity::Deal);
        let changes = parse_input(Entity::Deal, &customs, &body, Mode::Update)
            .map_err(DomainError::Invalid)?;
        records::apply(tx, actor, Entity::Deal, &customs, &old, changes).await?;
    }
    let state = if approve { "approved" } else { "rejected" };
    tx.execute(
        Query::update()
            .table(Alias::new("approvals"))
            .value(Alias::new("state"), state)
            .value(Alias::new("comment"), comment)
            .value(Alias::new("decided_by"), actor.user_id)
            .value(Alias::new("decided_at"), now)
            .value(Alias::new("escalate_at"), Option::<DateTime<Utc>>::None)
            .value(Alias::new("updated_at"), now)
            .and_where(col("id").eq(id))
            .and_where(col("state").eq("pending")),
    )
    .await?;
    // The approver's items about this request are handled.
    tx.execute(
        Query::update()
            .table(Alias::new("notebook_items"))
            .value(Alias::new("state"), "done")
            .value(Alias::new("closed_at"), now)
            .value(Alias::new("closed_by"), actor.user_id)
            .and_where(col("kind").eq(kind::APPROVAL_REQUESTED))
            .and_where(col("state").eq("open"))
            .and_where(col("dedupe_key").like(format!("approval:{id}:%"))),
    )
    .await?;
    history::write(
        tx,
        Entity::Deal,
        record_id,
        if approve {
            "approval_approved"
        } else {
            "approval_rejected"
        },
        &[(
            field.clone(),
            a["requested_value"].clone(),
            Json::from(comment),
        )],
        now,
        actor.user_id,
    )
    .await?;
    let decided = load(tx, id)
        .await?
        .ok_or_else(crate::StoreError::not_found)?;
    post_item(
        tx,
        &NewItem {
            kind: kind::APPROVAL_DECIDED.into(),
            owner_id: requester,
            record: Some(("deal".into(), record_id)),
            text: comment.into(),
            due_at: None,
            source: "approval".into(),
            created_by: Some(actor.user_id),
            dedupe_key: Some(format!("approval:{id}:decided")),
            payload: Some(json!({"approval_id": id, "state": state, "field": field, "requested_value": a["requested_value"]})),
        },
    )
    .await?;
    Ok(decided)
}

/// Moves every pending request whose `escalate_at` passed one level up; returns the
/// escalated requests. A request with no higher level stays with its approver. The next
/// deadline is the pipeline's `approval_escalation_hours` from `now`.
pub async fn escalate_due(tx: &mut Tx, now: DateTime<Utc>) -> Result<Vec<Approval>> {
    let rows = tx
        .fetch_all(
            Query::select()
                .column(Alias::new("id"))
                .from(Alias::new("approvals"))
                .and_where(col("state").eq("pending"))
                .and_where(col("escalate_at").lte(now))
                .order_by(Alias::new("id"), sea_query::Order::Asc),
        )
        .await?;
    let mut out = Vec::new();
    for r in rows {
        let id = r.i64("id")?.unwrap_or_default();
        let Some(a) = load(tx, id).await? else {
            continue;
        };
        let level = int(&a, "level").unwrap_or(0) + 1;
        let requester = int(&a, "requester_id").unwrap_or_default();
        let next = resolve_approver(tx, requester, level, now).await?;
        let prev_approver = a.get("approver_id").cloned().unwrap_or(Json::Null);
        let mut q = Query::update();
        q.table(Alias::new("approvals"))
            .value(Alias::new("updated_at"), now)
            .and_where(col("id").eq(id));
        match next {
            Some((approver, dept)) => {
                let wait = escalate_after(tx, int(&a, "record_id").unwrap_or_default()).await?;
                q.value(Alias::new("approver_id"), approver)
                    .value(Alias::new("department_id"), dept)
                    .value(Alias::new("level"), level)
                    .value(Alias::new("escalate_at"), now + wait);
                tx.execute(&q).await?;
                let a = load(tx, id)
                    .await?
                    .ok_or_else(crate::StoreError::not_found)?;
                notify_approver(tx, &a, approver, level).await?;
                history::write(
                    tx,
                    Entity::Deal,
                    int(&a, "record_id").unwrap_or_default(),
                    "approval_escalated",
                    &[("approver_id".into(), prev_approver, Json::from(approver))],
                    now,
                    requester,
                )
                .await?;
                out.push(a);
            }
            None => {
                q.value(Alias::new("escalate_at"), Option::<DateTime<Utc>>::None);
                tx.execute(&q).await?;
            }
        }
    }
    Ok(out)
}

/// Requests the actor made (`mine`), must decide (`to_me`), or both, newest first.
pub async fn list(
    tx: &mut Tx,
    actor: &Actor,
    role: &str,
    state: Option<&str>,
) -> Result<Vec<Approval>> {
    let me = actor.user_id;
    let cond: sea_query::SimpleExpr = match role {
        "mine" => col("requester_id").eq(me),
        "to_me" => col("approver_id").eq(me),
        _ => sea_query::Cond::any()
            .add(col("requester_id").eq(me))
            .add(col("approver_id").eq(me))
            .into(),
    };
    let mut q = Query::select();
    q.column(Alias::new("id"))
        .from(Alias::new("approvals"))
        .and_where(cond)
        .order_by(Alias::new("id"), sea_query::Order::Desc)
        .limit(200);
    if let Some(s) = state {
        q.and_where(col("state").eq(s));
    }
    let ids = tx.fetch_all(&q).await?;
    let mut out = Vec::new();
    for r in ids {
        if let Some(a) = load(tx, r.i64("id")?.unwrap_or_default()).await? {
            out.push(a);
        }
    }
    Ok(out)
}

impl Store {
    /// `POST /approvals`: asks for `field` of deal `record_id` to become `value`.
    pub async fn approval_request(
        &self,
        actor: &Actor,
        record_id: i64,
        field: &str,
        value: &Json,
        reason: &str,
    ) -> Result<Approval> {
        let customs = self.custom_lookup().await?;
        let ctx = self.query_ctx(actor, &customs);
        let mut tx = self.pool().begin_write().await?;
        let now = plotina_core::value::now();
        let a = request(&mut tx, &ctx, record_id, field, value, reason, now).await?;
        tx.commit().await?;
        Ok(a)
    }

    pub async fn approval_decide(
        &self,
        actor: &Actor,
        id: i64,
        approve: bool,
        comment: &str,
    ) -> Result<Approval> {
        let customs = self.custom_lookup().await?;
        let ctx = self.query_ctx(actor, &customs);
        let mut tx = self.pool().begin_write().await?;
        let a = decide(&mut tx, &ctx, id, approve, comment).await?;
        tx.commit().await?;
        Ok(a)
    }

    pub async fn approval(&self, actor: &Actor, id: i64) -> Result<Approval> {
        let mut tx = self.pool().begin().await?;
        let a = load(&mut tx, id).await?;
        tx.commit().await?;
        match a {
            Some(a)
                if actor.is_admin
                    || int(&a, "requester_id") == Some(actor.user_id)
                    || int(&a, "approver_id") == Some(actor.user_id) =>
            {
                Ok(a)
            }
            _ => fail(DomainError::NotFound),
        }
    }

    pub async fn approvals(
        &self,
        actor: &Actor,
        role: &str,
        state: Option<&str>,
    ) -> Result<Vec<Approval>> {
        let mut tx = self.pool().begin().await?;
        let out = list(&mut tx, actor, role, state).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// The pending requests about one deal, for its card; the caller has already read
    /// the deal as `actor`.
    pub async fn pending_approvals_of(&self, record_id: i64) -> Result<Vec<Approval>> {
        let mut tx = self.pool().begin().await?;
        let ids = tx
            .fetch_all(
                Query::select()
                    .column(Alias::new("id"))
                    .from(Alias::new("approvals"))
                    .and_where(col("entity").eq("deal"))
                    .and_where(col("record_id").eq(record_id))
                    .and_where(col("state").eq("pending"))
                    .order_by(Alias::new("id"), sea_query::Order::Asc)
                    .limit(20),
            )
            .await?;
        let mut out = Vec::new();
        for r in ids {
            if let Some(a) = load(&mut tx, r.i64("id")?.unwrap_or_default()).await? {
                out.push(a);
            }
        }
        tx.commit().await?;
        Ok(out)
    }

    /// The escalation job's pass at `now` (a parameter, so tests move the clock).
    pub async fn escalate_approvals(&self, now: DateTime<Utc>) -> Result<Vec<Approval>> {
        let mut tx = self.pool().begin_write().await?;
        let out = escalate_due(&mut tx, now).await?;
        tx.commit().await?;
        Ok(out)
    }
}
