//! Gates: administrator rules "while a user has open notebook items of kinds K older
//! than T (or more than N overdue tasks), block action A". Features that can be gated
//! call [`Store::check_gate`] before they write; a refusal is
//! `DomainError::Locked` (HTTP 423) listing the blocking items, and is logged in
//! `notebook_gate_blocks`. Nothing is cached: the moment the items are handled the
//! next check passes.

use chrono::{DateTime, Duration, Utc};
use plotina_core::error::{DomainError, FieldError, GateRefusal};
use plotina_core::policy::Actor;
use sea_query::{Alias, Order, Query};
use serde_json::{json, Value as Json};

use crate::db::{Row, Tx};
use crate::error::{fail, Result};
use crate::filter_sql::col;
use crate::notebook::{self, kind};
use crate::store::Store;

/// Most blocking items a refusal lists.
pub const MAX_LISTED: u64 = 50;

/// The actions a gate can block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GateAction {
    DealCreate,
    DealMove,
    LeadConvert,
    /// Called by the export feature before it writes a file.
    Export,
    /// Called by invoices when they arrive.
    InvoiceCreate,
}

impl GateAction {
    pub const ALL: [GateAction; 5] = [
        GateAction::DealCreate,
        GateAction::DealMove,
        GateAction::LeadConvert,
        GateAction::Export,
        GateAction::InvoiceCreate,
    ];

    pub fn code(self) -> &'static str {
        match self {
            GateAction::DealCreate => "deal_create",
            GateAction::DealMove => "deal_move",
            GateAction::LeadConvert => "lead_convert",
            GateAction::Export => "export",
            GateAction::InvoiceCreate => "invoice_create",
        }
    }

    pub fn from_code(code: &str) -> Option<GateAction> {
        GateAction::ALL.into_iter().find(|a| a.code() == code)
    }
}

/// A stored gate rule.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Gate {
    pub id: i64,
    pub name: String,
    pub action: String,
    /// Item kinds that count; empty = every kind.
    pub kinds: Vec<String>,
    /// Items count when their due time (their creation time when undated) is older than
    /// this many hours. `None` with no kinds: items do not count, only overdue tasks.
    pub older_than_hours: Option<i64>,
    /// Block when the user has more than this many overdue tasks.
    pub max_overdue_tasks: Option<i64>,
    /// Roles the gate does not apply to.
    pub exempt_role_ids: Vec<i64>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A gate as administrators write it (create and full replace).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateInput {
    pub name: String,
    pub action: String,
    #[serde(default)]
    pub kinds: Vec<String>,
    pub older_than_hours: Option<i64>,
    pub max_overdue_tasks: Option<i64>,
    #[serde(default)]
    pub exempt_role_ids: Vec<i64>,
    pub active: Option<bool>,
}

fn gate_from_row(row: &Row) -> Result<Gate> {
    let list = |v: Option<Json>| v.unwrap_or_else(|| json!([]));
    Ok(Gate {
        id: row.i64("id")?.unwrap_or_default(),
        name: row.text("name")?.unwrap_or_default(),
        action: row.text("action")?.unwrap_or_default(),
        kinds: serde_json::from_value(list(row.json("kinds")?)).unwrap_or_default(),
        older_than_hours: row.i64("older_than_hours")?,
        max_overdue_tasks: row.i64("max_overdue_tasks")?,
        exempt_role_ids: serde_json::from_value(list(row.json("exempt_role_ids")?))
            .unwrap_or_default(),
        active: row.bool("active")?,
        created_at: row.datetime("created_at")?.unwrap_or_default(),
        updated_at: row.datetime("updated_at")?.unwrap_or_default(),
    })
}

const GATE_COLUMNS: [&str; 10] = [
    "id",
    "name",
    "action",
    "kinds",
    "older_than_hours",
    "max_overdue_tasks",
    "exempt_role_ids",
    "active",
    "created_at",
    "updated_at",
];

async fn validate(tx: &mut Tx, input: &GateInput) -> Result<()> {
    let mut errors = Vec::new();
    let name = input.name.trim();
    if name.is_empty() {
        errors.push(FieldError::new("name", "required"));
    } else if name.chars().count() > 200 {
        errors.push(FieldError::new("name", "text_too_long").with("max", 200));
    }
    if GateAction::from_code(&input.action).is_none() {
        errors.push(FieldError::new("action", "gate_bad_action"));
    }
    if input.kinds.len() > 20
        || input.kinds.iter().any(|k| {
            k.is_empty()
                || k.len() > 40
                || !k
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        })
    {
        errors.push(FieldError::new("kinds", "notebook_bad_kind"));
    }
    if input
        .older_than_hours
        .is_some_and(|h| !(0..=87_600).contains(&h))
    {
        errors.push(FieldError::new("older_than_hours", "gate_hours_range"));
    }
    if input
        .max_overdue_tasks
        .is_some_and(|n| !(0..=10_000).contains(&n))
    {
        errors.push(FieldError::new("max_overdue_tasks", "gate_count_range"));
    }
    if input.older_than_hours.is_none()
        && input.kinds.is_empty()
        && input.max_overdue_tasks.is_none()
    {
        errors.push(FieldError::new("older_than_hours", "gate_no_condition"));
    }
    if !input.exempt_role_ids.is_empty() {
        if input.exempt_role_ids.len() > 100 {
            errors.push(FieldError::new("exempt_role_ids", "list_too_long").with("max", 100));
        } else {
            let mut ids = input.exempt_role_ids.clone();
            ids.sort_unstable();
            ids.dedup();
            let q = Query::select()
                .column(Alias::new("id"))
                .from(Alias::new("roles"))
                .and_where(col("id").is_in(ids.clone()))
                .and_where(col("deleted_at").is_null())
                .to_owned();
            if tx.fetch_all(&q).await?.len() != ids.len() {
                errors.push(FieldError::new("exempt_role_ids", "link_not_found"));
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        fail(DomainError::Invalid(errors))
    }
}

fn require_admin(actor: &Actor) -> Result<()> {
    if actor.is_admin {
        Ok(())
    } else {
        fail(DomainError::Forbidden("forbidden_settings"))
    }
}

async fn load_gate(tx: &mut Tx, id: i64) -> Result<Gate> {
    let q = Query::select()
        .columns(GATE_COLUMNS.map(Alias::new))
        .from(Alias::new("notebook_gates"))
        .and_where(col("id").eq(id))
        .to_owned();
    match tx.fetch_optional(&q).await? {
        Some(r) => gate_from_row(&r),
        None => fail(DomainError::NotFound),
    }
}

fn sorted_unique(mut v: Vec<i64>) -> Vec<i64> {
    v.sort_unstable();
    v.dedup();
    v
}

/// The blocking items of one gate for one user, newest-overdue last; empty = passes.
pub async fn blocking_items(
    tx: &mut Tx,
    gate: &Gate,
    user_id: i64,
    now: DateTime<Utc>,
) -> Result<Vec<Json>> {
    let mut out = Vec::new();
    if gate.older_than_hours.is_some() || !gate.kinds.is_empty() {
        let cutoff = now - Duration::hours(gate.older_than_hours.unwrap_or(0));
        // Dated items count from their due time, undated ones from their creation: two
        // index ranges instead of one COALESCE scan over every open item.
        for dated in [true, false] {
            let left = MAX_LISTED.saturating_sub(out.len() as u64);
            if left == 0 {
                break;
            }
            let mut q = Query::select();
            q.columns(
                [
                    "id",
                    "kind",
                    "text",
                    "entity",
                    "record_id",
                    "due_at",
                    "created_at",
                ]
                .map(Alias::new),
            )
            .from(Alias::new("notebook_items"))
            .and_where(col("owner_id").eq(user_id))
            .and_where(col("state").eq(notebook::state::OPEN))
            .limit(left);
            if !gate.kinds.is_empty() {
                q.and_where(col("kind").is_in(gate.kinds.clone()));
            }
            if dated {
                q.and_where(col("due_at").lte(cutoff))
                    .order_by(Alias::new("due_at"), Order::Asc);
            } else {
                q.and_where(col("due_at").is_null())
                    .and_where(col("created_at").lte(cutoff))
                    .order_by(Alias::new("created_at"), Order::Asc);
            }
            q.cond_where(
                sea_query::Condition::any()
                    .add(col("snoozed_until").is_null())
                    .add(col("snoozed_until").lte(now)),
            );
            for r in tx.fetch_all(&q).await? {
                out.push(json!({
                    "item_id": r.i64("id")?,
                    "kind": r.text("kind")?,
                    "text": r.text("text")?,
                    "entity": r.text("entity")?,
                    "record_id": r.i64("record_id")?,
                    "due_at": r.datetime("due_at")?,
                }));
            }
        }
    }
    if let Some(max) = gate.max_overdue_tasks {
        let q = Query::select()
            .columns(["id", "subject", "due_at"].map(Alias::new))
            .from(Alias::new("activities"))
            .and_where(col("assignee_id").eq(user_id))
            .and_where(col("done").eq(false))
            .and_where(col("due_at").lt(now))
            .and_where(col("deleted_at").is_null())
            .order_by(Alias::new("due_at"), Order::Asc)
            .limit(max as u64 + 1)
            .to_owned();
        let rows = tx.fetch_all(&q).await?;
        if rows.len() as i64 > max {
            for r in rows.iter().take(MAX_LISTED as usize) {
                out.push(json!({
                    "item_id": null,
                    "kind": kind::TASK_DUE,
                    "text": r.text("subject")?,
                    "entity": "activity",
                    "record_id": r.i64("id")?,
                    "due_at": r.datetime("due_at")?,
                }));
            }
        }
    }
    Ok(out)
}

/// One logged refusal.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct GateBlock {
    pub id: i64,
    pub gate_id: Option<i64>,
    pub gate_name: String,
    pub user_id: i64,
    pub action: String,
    pub entity: Option<String>,
    pub record_id: Option<i64>,
    pub item_count: i64,
    pub blocked_at: DateTime<Utc>,
}

/// Whether an update body would move a deal to another stage (so `DealMove` gates
/// apply); a form that resends the current stage is an edit, not a move.
pub(crate) async fn moves_deal(
    tx: &mut Tx,
    id: i64,
    body: &serde_json::Map<String, Json>,
) -> Result<bool> {
    let Some(wanted) = body.get("stage_id") else {
        return Ok(false);
    };
    let q = Query::select()
        .column(Alias::new("stage_id"))
        .from(Alias::new("deals"))
        .and_where(col("id").eq(id))
        .to_owned();
    let current = match tx.fetch_optional(&q).await? {
        Some(r) => r.i64("stage_id")?,
        None => None,
    };
    let wanted = match wanted {
        Json::Number(n) => n.as_i64(),
        Json::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    Ok(current.is_some() && wanted != current)
}

/// The first active gate of `action` that holds the actor back, with its blocking items;
/// `None` when the action may go ahead. Cost when no gate exists for the action: one
/// read of the settings epoch (the gates are kept in the settings cache).
pub(crate) async fn holding_gate(
    tx: &mut Tx,
    actor: &Actor,
    action: GateAction,
    now: DateTime<Utc>,
) -> Result<Option<(Gate, Vec<Json>)>> {
    let gates = crate::config_cache::cached(tx, &format!("gates:{}", action.code()), move |tx| {
        Box::pin(active_gates(tx, action))
    })
    .await?;
    if gates.is_empty() {
        return Ok(None);
    }
    // A signed-in user's role came with the actor; a system actor acting for a user
    // (the command line, jobs) is exempt as that user's role is.
    let role_id = match actor.role_id {
        Some(r) => Some(r),
        None => {
            let role = Query::select()
                .column(Alias::new("role_id"))
                .from(Alias::new("users"))
                .and_where(col("id").eq(actor.user_id))
                .to_owned();
            match tx.fetch_optional(&role).await? {
                Some(r) => r.i64("role_id")?,
                None => None,
            }
        }
    };
    for gate in gates.iter() {
        if role_id.is_some_and(|r| gate.exempt_role_ids.contains(&r)) {
            continue;
        }
        let items = blocking_items(tx, gate, actor.user_id, now).await?;
        if !items.is_empty() {
            return Ok(Some((gate.clone(), items)));
        }
    }
    Ok(None)
}

/// The active gates of an action, oldest first.
async fn active_gates(tx: &mut Tx, action: GateAction) -> Result<Vec<Gate>> {
    let q = Query::select()
        .columns(GATE_COLUMNS.map(Alias::new))
        .from(Alias::new("notebook_gates"))
        .and_where(col("action").eq(action.code()))
        .and_where(col("active").eq(true))
        .order_by(Alias::new("id"), Order::Asc)
        .to_owned();
    tx.fetch_all(&q).await?.iter().map(gate_from_row).collect()
}

impl Store {
    /// Refuses `action` with `DomainError::Locked` while a gate applies to the actor;
    /// logs the refusal. `record` names what the action is about (`("deal", 7)`).
    /// Call it before the action's own transaction: the log must survive the refusal.
    pub async fn check_gate(
        &self,
        actor: &Actor,
        action: GateAction,
        record: Option<(&str, i64)>,
    ) -> Result<()> {
        let now = plotina_core::value::now();
        let mut tx = self.pool().begin().await?;
        let holding = holding_gate(&mut tx, actor, action, now).await?;
        tx.commit().await?;
        match holding {
            Some((gate, items)) => Err(self.refuse(actor, action, record, gate, items, now).await),
            None => Ok(()),
        }
    }

    /// Logs a gate's refusal in its own transaction (the refused action's transaction,
    /// if any, must have ended) and gives the refusal as `DomainError::Locked`, or the
    /// error that kept it from being logged.
    pub(crate) async fn refuse(
        &self,
        actor: &Actor,
        action: GateAction,
        record: Option<(&str, i64)>,
        gate: Gate,
        items: Vec<Json>,
        now: DateTime<Utc>,
    ) -> crate::StoreError {
        match self
            .log_refusal(actor, action, record, &gate, items.len(), now)
            .await
        {
            Ok(()) => DomainError::Locked(Box::new(GateRefusal {
                reason: FieldError::new("", "notebook_gate_blocked")
                    .with("gate", &gate.name)
                    .with("action", action.code())
                    .with("count", items.len()),
                items: Json::Array(items),
            }))
            .into(),
            Err(e) => e,
        }
    }

    async fn log_refusal(
        &self,
        actor: &Actor,
        action: GateAction,
        record: Option<(&str, i64)>,
        gate: &Gate,
        item_count: usize,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.pool().begin_write().await?;
        let mut ins = Query::insert();
        ins.into_table(Alias::new("notebook_gate_blocks"))
            .columns(
                [
                    "gate_id",
                    "gate_name",
                    "user_id",
                    "action",
                    "entity",
                    "record_id",
                    "item_count",
                    "blocked_at",
                ]
                .map(Alias::new),
            )
            .values_panic(crate::db::vals([
                gate.id.into(),
                gate.name.clone().into(),
                actor.user_id.into(),
                action.code().into(),
                record.map(|(e, _)| e.to_string()).into(),
                record.map(|(_, id)| id).into(),
                (item_count as i64).into(),
                now.into(),
            ]));
        tx.insert_id(&mut ins).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn gates(&self, actor: &Actor) -> Result<Vec<Gate>> {
        require_admin(actor)?;
        let mut tx = self.pool().begin().await?;
        let q = Query::select()
            .columns(GATE_COLUMNS.map(Alias::new))
            .from(Alias::new("notebook_gates"))
            .order_by(Alias::new("id"), Order::Asc)
            .to_owned();
        let out = tx
            .fetch_all(&q)
            .await?
            .iter()
            .map(gate_from_row)
            .collect::<Result<Vec<_>>>()?;
        tx.commit().await?;
        Ok(out)
    }

    pub async fn gate(&self, actor: &Actor, id: i64) -> Result<Gate> {
        require_admin(actor)?;
        let mut tx = self.pool().begin().await?;
        let g = load_gate(&mut tx, id).await?;
        tx.commit().await?;
        Ok(g)
    }

    pub async fn create_gate(&self, actor: &Actor, input: &GateInput) -> Result<Gate> {
        require_admin(actor)?;
        let mut tx = self.pool().begin_write().await?;
        validate(&mut tx, input).await?;
        let now = plotina_core::value::now();
        let mut q = Query::insert();
        q.into_table(Alias::new("notebook_gates"))
            .columns(
                [
                    "name",
                    "action",
                    "kinds",
                    "older_than_hours",
                    "max_overdue_tasks",
                    "exempt_role_ids",
                    "active",
                    "created_at",
                    "created_by",
                    "updated_at",
                ]
                .map(Alias::new),
            )
            .values_panic(crate::db::vals([
                input.name.trim().to_string().into(),
                input.action.clone().into(),
                json!(input.kinds).into(),
                input.older_than_hours.into(),
                input.max_overdue_tasks.into(),
                json!(sorted_unique(input.exempt_role_ids.clone())).into(),
                input.active.unwrap_or(true).into(),
                now.into(),
                actor.user_id.into(),
                now.into(),
            ]));
        let id = tx.insert_id(&mut q).await?;
        let g = load_gate(&mut tx, id).await?;
        tx.commit().await?;
        Ok(g)
    }

    pub async fn update_gate(&self, actor: &Actor, id: i64, input: &GateInput) -> Result<Gate> {
        require_admin(actor)?;
        let mut tx = self.pool().begin_write().await?;
        load_gate(&mut tx, id).await?;
        validate(&mut tx, input).await?;
        let mut q = Query::update();
        q.table(Alias::new("notebook_gates"))
            .value(Alias::new("name"), input.name.trim())
            .value(Alias::new("action"), input.action.clone())
            .value(Alias::new("kinds"), json!(input.kinds))
            .value(Alias::new("older_than_hours"), input.older_than_hours)
            .value(Alias::new("max_overdue_tasks"), input.max_overdue_tasks)
            .value(
                Alias::new("exempt_role_ids"),
                json!(sorted_unique(input.exempt_role_ids.clone())),
            )
            .value(Alias::new("active"), input.active.unwrap_or(true))
            .value(Alias::new("updated_at"), plotina_core::value::now())
            .and_where(col("id").eq(id));
        tx.execute(&q).await?;
        let g = load_gate(&mut tx, id).await?;
        tx.commit().await?;
        Ok(g)
    }

    pub async fn delete_gate(&self, actor: &Actor, id: i64) -> Result<()> {
        require_admin(actor)?;
        let mut tx = self.pool().begin_write().await?;
        load_gate(&mut tx, id).await?;
        let q = Query::delete()
            .from_table(Alias::new("notebook_gates"))
            .and_where(col("id").eq(id))
            .to_owned();
        tx.execute(&q).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Logged refusals, newest first: an administrator's for everybody, anybody's own.
    pub async fn gate_blocks(
        &self,
        actor: &Actor,
        user_id: Option<i64>,
        limit: u64,
    ) -> Result<Vec<GateBlock>> {
        if limit == 0 || limit > notebook::MAX_LIMIT {
            return fail(DomainError::bad_request("limit", "limit_range"));
        }
        let user = match user_id {
            Some(u) if u != actor.user_id => {
                require_admin(actor)?;
                Some(u)
            }
            Some(u) => Some(u),
            None if actor.is_admin => None,
            None => Some(actor.user_id),
        };
        let mut tx = self.pool().begin().await?;
        let mut q = Query::select();
        q.columns(
            [
                "id",
                "gate_id",
                "gate_name",
                "user_id",
                "action",
                "entity",
                "record_id",
                "item_count",
                "blocked_at",
            ]
            .map(Alias::new),
        )
        .from(Alias::new("notebook_gate_blocks"))
        .order_by(Alias::new("id"), Order::Desc)
        .limit(limit);
        if let Some(u) = user {
            q.and_where(col("user_id").eq(u));
        }
        let mut out = Vec::new();
        for r in tx.fetch_all(&q).await? {
            out.push(GateBlock {
                id: r.i64("id")?.unwrap_or_default(),
                gate_id: r.i64("gate_id")?,
                gate_name: r.text("gate_name")?.unwrap_or_default(),
                user_id: r.i64("user_id")?.unwrap_or_default(),
                action: r.text("action")?.unwrap_or_default(),
                entity: r.text("entity")?,
                record_id: r.i64("record_id")?,
                item_count: r.i64("item_count")?.unwrap_or_default(),
                blocked_at: r.datetime("blocked_at")?.unwrap_or_default(),
            });
        }
        tx.commit().await?;
        Ok(out)
    }
}
