//! The notebook: one model for everything a person must react to. Other parts of
//! Plotina (automation, exports, integrations) post items here through [`post_item`]
//! inside their own transaction, so an item exists exactly when the change that caused
//! it was committed.

use chrono::{DateTime, Utc};
use plotina_core::error::DomainError;
use plotina_core::policy::{Action, Actor, Scope};
use plotina_core::schema::Entity;
use sea_query::{Alias, Expr as SqlExpr, Order, Query, SelectStatement};
use serde_json::Value as Json;

use crate::db::{Row, Tx};
use crate::error::{fail, Result};
use crate::filter_sql::col;
use crate::rows::Record;
use crate::store::Store;

/// Kinds of notebook items. Stored as their code; integrations may post other codes
/// that follow the same `[a-z_]+` shape (see the API documentation).
pub mod kind {
    pub const TASK_DUE: &str = "task_due";
    pub const TASK_ASSIGNED: &str = "task_assigned";
    pub const REMINDER: &str = "reminder";
    pub const LEAD_ASSIGNED: &str = "lead_assigned";
    pub const DEAL_STALE: &str = "deal_stale";
    pub const APPROVAL_REQUESTED: &str = "approval_requested";
    pub const APPROVAL_DECIDED: &str = "approval_decided";
    pub const HANDOVER: &str = "handover";
    pub const SYSTEM: &str = "system";
}

/// A new item for one person.
#[derive(Debug, Clone, Default)]
pub struct NewItem {
    pub kind: String,
    pub owner_id: i64,
    /// The record the item is about (`"deal"`, 42), if any.
    pub record: Option<(String, i64)>,
    pub text: String,
    pub due_at: Option<DateTime<Utc>>,
    /// Who or what created it: `"system"`, `"rule:12"`, `"integration:telephony"`…
    pub source: String,
    /// The user whose action caused the item, if a person did.
    pub created_by: Option<i64>,
    /// Posting the same key twice for the same owner is a no-op (reminders, stale-deal
    /// sweeps and retried integrations must not double items).
    pub dedupe_key: Option<String>,
    pub payload: Option<serde_json::Value>,
}

/// The columns of a new item, in the order of [`item_values`].
pub(crate) const ITEM_COLUMNS: [&str; 12] = [
    "kind",
    "owner_id",
    "entity",
    "record_id",
    "text",
    "due_at",
    "state",
    "source",
    "dedupe_key",
    "payload",
    "created_at",
    "created_by",
];

/// The values of a new item for [`ITEM_COLUMNS`]; an empty source is `system`.
pub(crate) fn item_values(item: &NewItem, now: DateTime<Utc>) -> Vec<sea_query::SimpleExpr> {
    let (entity, record_id) = match &item.record {
        Some((e, id)) => (Some(e.clone()), Some(*id)),
        None => (None, None),
    };
    let source = if item.source.is_empty() {
        "system".to_string()
    } else {
        item.source.clone()
    };
    crate::db::vals([
        item.kind.clone().into(),
        item.owner_id.into(),
        entity.into(),
        record_id.into(),
        item.text.clone().into(),
        item.due_at.into(),
        "open".into(),
        source.into(),
        item.dedupe_key.clone().into(),
        item.payload.clone().into(),
        now.into(),
        item.created_by.into(),
    ])
}

/// Inserts an item in the caller's transaction. Returns the new id, or `None` when an
/// item with the same owner and dedupe key already exists.
pub async fn post_item(tx: &mut Tx, item: &NewItem) -> Result<Option<i64>> {
    if let Some(key) = &item.dedupe_key {
        let existing = tx
            .fetch_optional(
                &Query::select()
                    .column(Alias::new("id"))
                    .from(Alias::new("notebook_items"))
                    .and_where(crate::filter_sql::col("owner_id").eq(item.owner_id))
                    .and_where(crate::filter_sql::col("dedupe_key").eq(key.as_str()))
                    .to_owned(),
            )
            .await?;
        if existing.is_some() {
            return Ok(None);
        }
    }
    let id = tx
        .insert_id(
            Query::insert()
                .into_table(Alias::new("notebook_items"))
                .columns(ITEM_COLUMNS.map(Alias::new))
                .values_panic(item_values(item, plotina_core::value::now())),
        )
        .await?;
    Ok(Some(id))
}

/// Item states as stored. A snoozed item stays `open` with `snoozed_until` in the future
/// and is shown (and reported) as `snoozed` until that time comes.
pub mod state {
    pub const OPEN: &str = "open";
    pub const DONE: &str = "done";
    pub const DISMISSED: &str = "dismissed";
    pub const SNOOZED: &str = "snoozed";
}

/// Longest item text accepted from integrations.
pub const MAX_TEXT: usize = 2000;
/// Most items one notebook request returns.
pub const MAX_LIMIT: u64 = 500;

/// One notebook item as the API and the pages show it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Item {
    pub id: i64,
    pub kind: String,
    pub owner_id: i64,
    pub entity: Option<String>,
    pub record_id: Option<i64>,
    pub text: String,
    pub due_at: Option<DateTime<Utc>>,
    /// `open`, `snoozed`, `done` or `dismissed`.
    pub state: String,
    pub snoozed_until: Option<DateTime<Utc>>,
    /// Open and due before now.
    pub overdue: bool,
    pub source: String,
    pub payload: Option<Json>,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<i64>,
    pub closed_at: Option<DateTime<Utc>>,
    pub closed_by: Option<i64>,
}

const COLUMNS: [&str; 15] = [
    "id",
    "kind",
    "owner_id",
    "entity",
    "record_id",
    "text",
    "due_at",
    "state",
    "snoozed_until",
    "source",
    "payload",
    "created_at",
    "created_by",
    "closed_at",
    "closed_by",
];

fn item_from_row(row: &Row, now: DateTime<Utc>) -> Result<Item> {
    let stored = row.text("state")?.unwrap_or_default();
    let snoozed_until = row.datetime("snoozed_until")?;
    let due_at = row.datetime("due_at")?;
    let open = stored == state::OPEN;
    let snoozed = open && snoozed_until.is_some_and(|t| t > now);
    Ok(Item {
        id: row.i64("id")?.unwrap_or_default(),
        kind: row.text("kind")?.unwrap_or_default(),
        owner_id: row.i64("owner_id")?.unwrap_or_default(),
        entity: row.text("entity")?,
        record_id: row.i64("record_id")?,
        text: row.text("text")?.unwrap_or_default(),
        due_at,
        state: if snoozed {
            state::SNOOZED.to_string()
        } else {
            stored
        },
        snoozed_until: if snoozed { snoozed_until } else { None },
        overdue: open && due_at.is_some_and(|d| d < now),
        source: row.text("source")?.unwrap_or_default(),
        payload: row.json("payload")?,
        created_at: row.datetime("created_at")?.unwrap_or(now),
        created_by: row.i64("created_by")?,
        closed_at: row.datetime("closed_at")?,
        closed_by: row.i64("closed_by")?,
    })
}

fn select_items() -> SelectStatement {
    Query::select()
        .columns(COLUMNS.map(Alias::new))
        .from(Alias::new("notebook_items"))
        .to_owned()
}

/// The condition "open and not snoozed past `now`" (what a notebook shows).
pub fn showing(now: DateTime<Utc>) -> sea_query::Condition {
    sea_query::Condition::all()
        .add(col("state").eq(state::OPEN))
        .add(
            sea_query::Condition::any()
                .add(col("snoozed_until").is_null())
                .add(col("snoozed_until").lte(now)),
        )
}

/// Open items of one owner, overdue first: dated items by due time, then undated ones
/// oldest first. Two index-ordered reads, so 10,000 open items cost what 100 do.
pub async fn open_items(
    tx: &mut Tx,
    owner_id: i64,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<Item>> {
    let dated = select_items()
        .and_where(col("owner_id").eq(owner_id))
        .cond_where(showing(now))
        .and_where(col("due_at").is_not_null())
        .order_by(Alias::new("due_at"), Order::Asc)
        .order_by(Alias::new("id"), Order::Asc)
        .limit(limit)
        .to_owned();
    let mut out: Vec<Item> = tx
        .fetch_all(&dated)
        .await?
        .iter()
        .map(|r| item_from_row(r, now))
        .collect::<Result<_>>()?;
    let left = limit.saturating_sub(out.len() as u64);
    if left > 0 {
        let undated = select_items()
            .and_where(col("owner_id").eq(owner_id))
            .cond_where(showing(now))
            .and_where(col("due_at").is_null())
            .order_by(Alias::new("id"), Order::Asc)
            .limit(left)
            .to_owned();
        for r in tx.fetch_all(&undated).await? {
            out.push(item_from_row(&r, now)?);
        }
    }
    Ok(out)
}

/// Closes the open items about one record (a task done or deleted closes its
/// reminders; a deal that moved is no longer stale).
pub async fn close_record_items(
    tx: &mut Tx,
    entity: &str,
    record_id: i64,
    kinds: &[&str],
    to_state: &str,
    by: Option<i64>,
) -> Result<u64> {
    let mut q = Query::update();
    q.table(Alias::new("notebook_items"))
        .value(Alias::new("state"), to_state)
        .value(Alias::new("closed_at"), plotina_core::value::now())
        .value(Alias::new("closed_by"), by)
        .and_where(col("entity").eq(entity))
        .and_where(col("record_id").eq(record_id))
        .and_where(col("state").eq(state::OPEN))
        .and_where(col("kind").is_in(kinds.iter().copied()));
    Ok(tx.execute(&q).await?)
}

fn rec_i64(r: Option<&Record>, name: &str) -> Option<i64> {
    r.and_then(|r| r.get(name)).and_then(Json::as_i64)
}

fn rec_str<'a>(r: &'a Record, name: &str) -> &'a str {
    r.get(name).and_then(Json::as_str).unwrap_or("")
}

/// Whether [`on_record_written`] could write anything for a record `by` just created
/// (no old version): the import's bulk path skips the call when it could not. Keep in
/// step with the conditions of `on_record_written`.
pub fn acts_on_create(by: i64, entity: Entity, new: &Record) -> bool {
    let deleted = new.get("deleted_at").is_some_and(|v| !v.is_null());
    match entity {
        Entity::Activity => {
            new.get("done").and_then(Json::as_bool).unwrap_or(false)
                || deleted
                || rec_i64(Some(new), "assignee_id").is_some_and(|a| a != by)
        }
        Entity::Lead => rec_i64(Some(new), "owner_id").is_some_and(|o| o != by),
        Entity::Deal => deleted,
        _ => false,
    }
}

/// Items caused by a record write, posted in the write's transaction: a task assigned
/// to somebody else, a lead given to somebody else; a task done or deleted closes its
/// items, a deal that changed stage closes its stale-deal item.
pub async fn on_record_written(
    tx: &mut Tx,
    by: i64,
    entity: Entity,
    old: Option<&Record>,
    new: &Record,
) -> Result<()> {
    let id = rec_i64(Some(new), "id").unwrap_or_default();
    let deleted = new.get("deleted_at").is_some_and(|v| !v.is_null());
    match entity {
        Entity::Activity => {
            let done = new.get("done").and_then(Json::as_bool).unwrap_or(false);
            if done || deleted {
                let to = if done { state::DONE } else { state::DISMISSED };
                close_record_items(
                    tx,
                    "activity",
                    id,
                    &[kind::TASK_DUE, kind::TASK_ASSIGNED, kind::REMINDER],
                    to,
                    Some(by),
                )
                .await?;
                return Ok(());
            }
            let assignee = rec_i64(Some(new), "assignee_id");
            let before = rec_i64(old, "assignee_id");
            if let Some(a) = assignee.filter(|a| *a != by && Some(*a) != before) {
                post_item(
                    tx,
                    &NewItem {
                        kind: kind::TASK_ASSIGNED.into(),
                        owner_id: a,
                        record: Some(("activity".into(), id)),
                        text: rec_str(new, "subject").to_string(),
                        due_at: new
                            .get("due_at")
                            .and_then(Json::as_str)
                            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                            .map(|d| d.with_timezone(&Utc)),
                        source: "system".into(),
                        created_by: Some(by),
                        dedupe_key: Some(format!("task_assigned:{id}:{a}")),
                        payload: None,
                    },
                )
                .await?;
            }
            if before.is_some() && before != assignee {
                // The previous assignee's items about this task are no longer theirs.
                let mut q = Query::update();
                q.table(Alias::new("notebook_items"))
                    .value(Alias::new("state"), state::DISMISSED)
                    .value(Alias::new("closed_at"), plotina_core::value::now())
                    .value(Alias::new("closed_by"), by)
                    .and_where(col("entity").eq("activity"))
                    .and_where(col("record_id").eq(id))
                    .and_where(col("owner_id").eq(before.unwrap_or_default()))
                    .and_where(col("state").eq(state::OPEN))
                    .and_where(col("kind").is_in([kind::TASK_DUE, kind::TASK_ASSIGNED]));
                tx.execute(&q).await?;
            }
        }
        Entity::Lead => {
            let owner = rec_i64(Some(new), "owner_id");
            let before = rec_i64(old, "owner_id");
            if let Some(o) = owner.filter(|o| *o != by && Some(*o) != before) {
                post_item(
                    tx,
                    &NewItem {
                        kind: kind::LEAD_ASSIGNED.into(),
                        owner_id: o,
                        record: Some(("lead".into(), id)),
                        text: rec_str(new, "title").to_string(),
                        source: "system".into(),
                        created_by: Some(by),
                        dedupe_key: Some(format!("lead_assigned:{id}:{o}")),
                        ..Default::default()
                    },
                )
                .await?;
            }
        }
        Entity::Deal => {
            let stage = rec_i64(Some(new), "stage_id");
            if deleted || (old.is_some() && rec_i64(old, "stage_id") != stage) {
                close_record_items(tx, "deal", id, &[kind::DEAL_STALE], state::DONE, Some(by))
                    .await?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SweepOutcome {
    pub task_due: u64,
    pub deal_stale: u64,
}

/// What an item action changes.
#[derive(Debug, Clone)]
pub enum ItemAction {
    Done,
    Dismiss,
    Snooze(DateTime<Utc>),
    Reschedule(DateTime<Utc>),
    Delegate(i64),
}

/// A new item posted through the API by an integration.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostItem {
    pub kind: String,
    pub owner_id: i64,
    pub entity: Option<String>,
    pub record_id: Option<i64>,
    pub text: String,
    pub due_at: Option<DateTime<Utc>>,
    pub source: Option<String>,
    pub dedupe_key: Option<String>,
    pub payload: Option<Json>,
}

/// Timestamps are stored to the millisecond (see the architecture notes).
fn ms(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

fn valid_code(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && s.as_bytes()[0].is_ascii_lowercase()
}

async fn active_user(tx: &mut Tx, id: i64) -> Result<Option<Option<i64>>> {
    let q = Query::select()
        .columns(["id", "department_id"].map(Alias::new))
        .from(Alias::new("users"))
        .and_where(col("id").eq(id))
        .and_where(col("active").eq(true))
        .and_where(col("deleted_at").is_null())
        .to_owned();
    Ok(match tx.fetch_optional(&q).await? {
        Some(r) => Some(r.i64("department_id")?),
        None => None,
    })
}

/// Whether the actor may see `owner`'s notebook: their own; an administrator any; a
/// person whose role reads activities of the department (a head of department) those of
/// the users in their department subtree.
pub async fn may_view(tx: &mut Tx, actor: &Actor, owner: i64) -> Result<bool> {
    if owner == actor.user_id || actor.is_admin {
        return Ok(true);
    }
    if actor.scope(Entity::Activity, Action::Read) < Scope::Department {
        return Ok(false);
    }
    Ok(match active_user(tx, owner).await? {
        Some(Some(dept)) => actor.department_subtree.contains(&dept),
        _ => false,
    })
}

impl Store {
    /// Posts one item in a transaction of its own.
    pub async fn post_notebook_item(&self, item: &NewItem) -> Result<Option<i64>> {
        let mut tx = self.pool().begin_write().await?;
        let id = post_item(&mut tx, item).await?;
        tx.commit().await?;
        Ok(id)
    }
}

impl Store {
    /// The open items of `owner` (the actor's own by default), overdue first.
    pub async fn notebook(
        &self,
        actor: &Actor,
        owner: Option<i64>,
        limit: u64,
    ) -> Result<Vec<Item>> {
        let owner = owner.unwrap_or(actor.user_id);
        if limit == 0 || limit > MAX_LIMIT {
            return fail(DomainError::bad_request("limit", "limit_range"));
        }
        let mut tx = self.pool().begin().await?;
        if !may_view(&mut tx, actor, owner).await? {
            return fail(DomainError::NotFound);
        }
        let items = open_items(&mut tx, owner, plotina_core::value::now(), limit).await?;
        tx.commit().await?;
        Ok(items)
    }

    /// One item of the actor's (or one they may view).
    pub async fn notebook_item(&self, actor: &Actor, id: i64) -> Result<Item> {
        let mut tx = self.pool().begin().await?;
        let item = load_item(&mut tx, id).await?;
        if !may_view(&mut tx, actor, item.owner_id).await? {
            return fail(DomainError::NotFound);
        }
        tx.commit().await?;
        Ok(item)
    }

    /// Done, dismiss, snooze, reschedule or delegate one of the actor's own open items.
    pub async fn act_on_item(&self, actor: &Actor, id: i64, action: ItemAction) -> Result<Item> {
        let now = plotina_core::value::now();
        let action = match action {
            ItemAction::Snooze(t) => ItemAction::Snooze(ms(t)),
            ItemAction::Reschedule(t) => ItemAction::Reschedule(ms(t)),
            other => other,
        };
        let mut tx = self.pool().begin_write().await?;
        let item = load_item(&mut tx, id).await?;
        if item.owner_id != actor.user_id {
            // Somebody else's item: invisible unless one may view it, and then read-only.
            if may_view(&mut tx, actor, item.owner_id).await? {
                return fail(DomainError::Forbidden("notebook_not_yours"));
            }
            return fail(DomainError::NotFound);
        }
        if item.state == state::DONE || item.state == state::DISMISSED {
            return fail(DomainError::conflict("state", "notebook_item_closed"));
        }
        let mut q = Query::update();
        q.table(Alias::new("notebook_items"))
            .and_where(col("id").eq(id))
            .and_where(col("state").eq(state::OPEN));
        match &action {
            ItemAction::Done | ItemAction::Dismiss => {
                let to = if matches!(action, ItemAction::Done) {
                    state::DONE
                } else {
                    state::DISMISSED
                };
                q.value(Alias::new("state"), to)
                    .value(Alias::new("closed_at"), now)
                    .value(Alias::new("closed_by"), actor.user_id);
            }
            ItemAction::Snooze(until) => {
                if *until <= now {
                    return fail(DomainError::invalid("until", "notebook_snooze_past"));
                }
                q.value(Alias::new("snoozed_until"), *until);
            }
            ItemAction::Reschedule(due) => {
                if *due <= now {
                    return fail(DomainError::invalid("due_at", "notebook_due_past"));
                }
                q.value(Alias::new("due_at"), *due)
                    .value(Alias::new("snoozed_until"), None::<DateTime<Utc>>);
            }
            ItemAction::Delegate(to) => {
                if *to == actor.user_id {
                    return fail(DomainError::invalid("user_id", "notebook_delegate_self"));
                }
                if active_user(&mut tx, *to).await?.is_none() {
                    return fail(DomainError::invalid("user_id", "link_not_found"));
                }
                let mut payload = match item.payload.clone() {
                    Some(Json::Object(m)) => m,
                    _ => serde_json::Map::new(),
                };
                payload.insert("delegated_by".into(), actor.user_id.into());
                q.value(Alias::new("owner_id"), *to)
                    .value(Alias::new("payload"), Json::Object(payload))
                    .value(Alias::new("snoozed_until"), None::<DateTime<Utc>>);
                // A second item with the same key for the receiver would break the
                // dedupe index; the delegated one keeps its history without the key.
                q.value(Alias::new("dedupe_key"), None::<String>);
            }
        }
        if tx.execute(&q).await? == 0 {
            return fail(DomainError::conflict("state", "notebook_item_closed"));
        }
        let out = load_item(&mut tx, id).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// Posts an item from the API (`POST /api/v1/notebook/items`). Integrations post for
    /// anybody; the caller checks that they may.
    pub async fn post_item_from_api(&self, actor: &Actor, input: PostItem) -> Result<(Item, bool)> {
        let mut errors = Vec::new();
        use plotina_core::error::FieldError;
        if !valid_code(&input.kind, 40) {
            errors.push(FieldError::new("kind", "notebook_bad_kind"));
        }
        let text = input.text.trim().to_string();
        if text.is_empty() {
            errors.push(FieldError::new("text", "required"));
        } else if text.chars().count() > MAX_TEXT {
            errors.push(FieldError::new("text", "text_too_long").with("max", MAX_TEXT));
        }
        let record = match (&input.entity, input.record_id) {
            (None, None) => None,
            (Some(e), Some(id)) => match Entity::from_code(e).filter(|e| e.is_business()) {
                Some(ent) => Some((ent, id)),
                None => {
                    errors.push(FieldError::new("entity", "notebook_bad_entity"));
                    None
                }
            },
            (None, Some(_)) => {
                errors.push(FieldError::new("entity", "required"));
                None
            }
            (Some(_), None) => {
                errors.push(FieldError::new("record_id", "required"));
                None
            }
        };
        let source = input
            .source
            .clone()
            .unwrap_or_else(|| format!("integration:{}", actor.login));
        if source.is_empty() || source.len() > 100 {
            errors.push(FieldError::new("source", "text_too_long").with("max", 100));
        }
        if input
            .dedupe_key
            .as_ref()
            .is_some_and(|k| k.is_empty() || k.len() > 200)
        {
            errors.push(FieldError::new("dedupe_key", "text_too_long").with("max", 200));
        }
        if input.payload.as_ref().is_some_and(|p| !p.is_object()) {
            errors.push(FieldError::new("payload", "notebook_payload_object"));
        }
        let mut tx = self.pool().begin_write().await?;
        if active_user(&mut tx, input.owner_id).await?.is_none() {
            errors.push(FieldError::new("owner_id", "link_not_found"));
        }
        if let Some((ent, id)) = record {
            let q = Query::select()
                .column(Alias::new("id"))
                .from(Alias::new(ent.table()))
                .and_where(col("id").eq(id))
                .and_where(col("deleted_at").is_null())
                .to_owned();
            if tx.fetch_optional(&q).await?.is_none() {
                errors.push(FieldError::new("record_id", "link_not_found"));
            }
        }
        if !errors.is_empty() {
            return fail(DomainError::Invalid(errors));
        }
        let new = NewItem {
            kind: input.kind,
            owner_id: input.owner_id,
            record: record.map(|(e, id)| (e.code().to_string(), id)),
            text,
            due_at: input.due_at.map(ms),
            source,
            created_by: Some(actor.user_id),
            dedupe_key: input.dedupe_key.clone(),
            payload: input.payload,
        };
        let (id, created) = match post_item(&mut tx, &new).await? {
            Some(id) => (id, true),
            None => {
                let q = Query::select()
                    .column(Alias::new("id"))
                    .from(Alias::new("notebook_items"))
                    .and_where(col("owner_id").eq(new.owner_id))
                    .and_where(col("dedupe_key").eq(input.dedupe_key.unwrap_or_default()))
                    .to_owned();
                let row = tx
                    .fetch_optional(&q)
                    .await?
                    .ok_or_else(crate::StoreError::not_found)?;
                (row.i64("id")?.unwrap_or_default(), false)
            }
        };
        let item = load_item(&mut tx, id).await?;
        tx.commit().await?;
        Ok((item, created))
    }
}

pub async fn load_item(tx: &mut Tx, id: i64) -> Result<Item> {
    let q = select_items().and_where(col("id").eq(id)).to_owned();
    match tx.fetch_optional(&q).await? {
        Some(row) => item_from_row(&row, plotina_core::value::now()),
        None => fail(DomainError::NotFound),
    }
}

/// One person's notebook at a glance (the head of department's overview).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MemberCounts {
    pub user_id: i64,
    pub name: String,
    pub open: i64,
    pub overdue: i64,
}

async fn counts_by_owner(
    tx: &mut Tx,
    owners: &[i64],
    now: DateTime<Utc>,
    overdue: bool,
) -> Result<std::collections::BTreeMap<i64, i64>> {
    let mut q = Query::select();
    q.column(Alias::new("owner_id"))
        .expr_as(SqlExpr::col(Alias::new("id")).count(), Alias::new("n"))
        .from(Alias::new("notebook_items"))
        .and_where(col("owner_id").is_in(owners.iter().copied()))
        .cond_where(showing(now))
        .group_by_col(Alias::new("owner_id"));
    if overdue {
        q.and_where(col("due_at").lt(now));
    }
    let mut out = std::collections::BTreeMap::new();
    for r in tx.fetch_all(&q).await? {
        out.insert(
            r.i64("owner_id")?.unwrap_or_default(),
            r.i64("n")?.unwrap_or_default(),
        );
    }
    Ok(out)
}

impl Store {
    /// Open and overdue item counts of the people whose notebooks the actor may view
    /// (a head: the department subtree; an administrator: everybody), the actor
    /// excluded. Empty for everybody else.
    pub async fn notebook_team(&self, actor: &Actor) -> Result<Vec<MemberCounts>> {
        let all = actor.is_admin;
        if !all && actor.scope(Entity::Activity, Action::Read) < Scope::Department {
            return Ok(Vec::new());
        }
        let mut tx = self.pool().begin().await?;
        let mut q = Query::select();
        q.columns(["id", "name"].map(Alias::new))
            .from(Alias::new("users"))
            .and_where(col("active").eq(true))
            .and_where(col("deleted_at").is_null())
            .and_where(col("id").ne(actor.user_id))
            .order_by(Alias::new("name"), Order::Asc)
            .limit(500);
        if !all {
            q.and_where(col("department_id").is_in(actor.department_subtree.clone()));
        }
        let users: Vec<(i64, String)> = tx
            .fetch_all(&q)
            .await?
            .iter()
            .map(|r| {
                Ok((
                    r.i64("id")?.unwrap_or_default(),
                    r.text("name")?.unwrap_or_default(),
                ))
            })
            .collect::<Result<_>>()?;
        if users.is_empty() {
            tx.commit().await?;
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = users.iter().map(|(id, _)| *id).collect();
        let now = plotina_core::value::now();
        let open = counts_by_owner(&mut tx, &ids, now, false).await?;
        let overdue = counts_by_owner(&mut tx, &ids, now, true).await?;
        tx.commit().await?;
        Ok(users
            .into_iter()
            .map(|(id, name)| MemberCounts {
                user_id: id,
                name,
                open: open.get(&id).copied().unwrap_or(0),
                overdue: overdue.get(&id).copied().unwrap_or(0),
            })
            .collect())
    }
}
