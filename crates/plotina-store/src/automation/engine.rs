//! The rule engine: the record engine calls [`on_change`] in the transaction of every
//! write; matching rules run their local actions in that same transaction, so a change
//! and what the rules did about it commit (or roll back) together and each change is
//! processed exactly once. Each rule runs inside a savepoint: a failing rule is rolled
//! back alone, logged, and retried later by the job; the user's change stands. (On
//! SQLite a rule whose only write is one INSERT needs none; see `needs_savepoint`.)
//! The run log of a change's rules is written in one statement at the change's end.
//!
//! Chains (a rule's change starting another rule) carry their path in a task-local;
//! the same rule on the same record twice in one chain is a loop and is stopped, and
//! so is a chain longer than [`MAX_DEPTH`].

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use plotina_core::automation::{
    backoff_seconds, Action, Assignee, Trigger, MAX_ATTEMPTS, MAX_DEPTH,
};
use plotina_core::filter;
use plotina_core::policy::Actor;
use plotina_core::record::CustomFieldDef;
use plotina_core::schema::Entity;
use sea_query::{Alias, Order, Query};
use serde_json::{json, Map, Value as Json};

use super::actions;
use super::rules::{load_active, StoredRule};
use super::webhooks::Subscription;
use crate::config_cache;
use crate::db::{Backend, Tx};
use crate::error::Result;
use crate::filter_sql::{col, FilterCtx};
use crate::rows::Record;
use crate::rules::StageMove;

tokio::task_local! {
    static CHAIN: Vec<Link>;
    static READS: Mutex<Reads>;
}

/// What a change reads once for itself and for every change its rules make in the same
/// transaction: the enabled rules per entity and the enabled webhook subscriptions. No
/// action edits rules or subscriptions, so they cannot go stale within the change.
///
/// It also holds what the change's rules leave to write at its end: the run-log rows of
/// the runs it started, written by one statement when the outermost change is done
/// (nothing in the transaction reads them before), and the last record an action read,
/// valid until the next write (see [`forget_record`]).
#[derive(Default)]
struct Reads {
    rules: HashMap<Entity, Arc<Vec<StoredRule>>>,
    subscriptions: Option<Arc<Vec<Subscription>>>,
    custom_fields: Option<Arc<CustomDefs>>,
    pending_runs: Vec<Vec<sea_query::SimpleExpr>>,
    record: Option<(Entity, i64, Record)>,
}

type CustomDefs = std::collections::BTreeMap<Entity, Vec<CustomFieldDef>>;

fn cached<T>(pick: impl FnOnce(&Reads) -> Option<T>) -> Option<T> {
    READS
        .try_with(|r| pick(&r.lock().unwrap_or_else(|e| e.into_inner())))
        .ok()
        .flatten()
}

fn remember(put: impl FnOnce(&mut Reads)) {
    let _ = READS.try_with(|r| put(&mut r.lock().unwrap_or_else(|e| e.into_inner())));
}

/// The enabled rules of an entity from the pool's settings cache (see `config_cache`).
async fn settings_rules(tx: &mut Tx, entity: Entity) -> Result<Arc<Vec<StoredRule>>> {
    config_cache::cached(tx, &format!("active_rules:{}", entity.code()), move |tx| {
        Box::pin(load_active(tx, entity))
    })
    .await
}

/// The enabled webhook subscriptions from the pool's settings cache.
async fn settings_subscriptions(tx: &mut Tx) -> Result<Arc<Vec<Subscription>>> {
    config_cache::cached(tx, "enabled_subscriptions", |tx| {
        Box::pin(super::webhooks::subscriptions(tx, true))
    })
    .await
}

async fn active_rules(tx: &mut Tx, entity: Entity) -> Result<Arc<Vec<StoredRule>>> {
    if let Some(rules) = cached(|r| r.rules.get(&entity).cloned()) {
        return Ok(rules);
    }
    let rules = settings_rules(tx, entity).await?;
    remember(|r| {
        r.rules.insert(entity, rules.clone());
    });
    Ok(rules)
}

async fn custom_fields(tx: &mut Tx) -> Result<Arc<CustomDefs>> {
    if let Some(defs) = cached(|r| r.custom_fields.clone()) {
        return Ok(defs);
    }
    let defs = config_cache::cached(tx, "custom_fields", |tx| {
        Box::pin(crate::rules::load_custom_defs(tx))
    })
    .await?;
    remember(|r| r.custom_fields = Some(defs.clone()));
    Ok(defs)
}

async fn enabled_subscriptions(tx: &mut Tx) -> Result<Arc<Vec<Subscription>>> {
    if let Some(subs) = cached(|r| r.subscriptions.clone()) {
        return Ok(subs);
    }
    let subs = settings_subscriptions(tx).await?;
    remember(|r| r.subscriptions = Some(subs.clone()));
    Ok(subs)
}

/// The record an action reads, from the change's cache when no write came since it was
/// last read. Outside a change (a scheduled or manual run) it is always read.
pub(super) async fn action_record(tx: &mut Tx, entity: Entity, id: i64) -> Result<Record> {
    if let Some(rec) = cached(|r| {
        r.record
            .as_ref()
            .filter(|(e, i, _)| *e == entity && *i == id)
            .map(|(_, _, rec)| rec.clone())
    }) {
        return Ok(rec);
    }
    let rec = crate::records::fetch_unscoped(tx, entity, id).await?;
    remember(|r| r.record = Some((entity, id, rec.clone())));
    Ok(rec)
}

/// Drops the cached record: called for every write the record engine reports and after
/// every action that may write one.
pub(super) fn forget_record() {
    remember(|r| r.record = None);
}

/// One step of a rule chain.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub rule_id: i64,
    pub entity: Entity,
    pub record_id: i64,
}

/// What happened to a record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ChangeKind {
    Created,
    Updated,
    Deleted,
}

/// A write the record engine reports.
pub struct Change<'a> {
    pub entity: Entity,
    pub kind: ChangeKind,
    pub old: Option<&'a Record>,
    pub new: &'a Record,
    pub stage: Option<&'a StageMove>,
}

impl<'a> Change<'a> {
    pub fn created(entity: Entity, new: &'a Record, stage: Option<&'a StageMove>) -> Self {
        Change {
            entity,
            kind: ChangeKind::Created,
            old: None,
            new,
            stage,
        }
    }
    pub fn deleted(entity: Entity, old: &'a Record, new: &'a Record) -> Self {
        Change {
            entity,
            kind: ChangeKind::Deleted,
            old: Some(old),
            new,
            stage: None,
        }
    }
    pub fn updated(
        entity: Entity,
        old: &'a Record,
        new: &'a Record,
        stage: Option<&'a StageMove>,
    ) -> Self {
        Change {
            entity,
            kind: ChangeKind::Updated,
            old: Some(old),
            new,
            stage,
        }
    }
}

type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

fn record_id(rec: &Record) -> i64 {
    rec.get("id").and_then(Json::as_i64).unwrap_or_default()
}

/// A field's value in a record (`custom.x` from the custom map).
pub fn field_value<'a>(rec: &'a Record, field: &str) -> Option<&'a Json> {
    match field.strip_prefix("custom.") {
        Some(key) => rec.get("custom").and_then(|c| c.get(key)),
        None => rec.get(field),
    }
    .filter(|v| !v.is_null())
}

/// Loose equality for `to` values: `5` matches `"5"` (ids from forms arrive as text).
fn same_value(a: Option<&Json>, b: &Json) -> bool {
    match (a, b) {
        (None, Json::Null) => true,
        (None, _) => false,
        (Some(a), b) if a == b => true,
        (Some(a), b) => {
            let text = |v: &Json| match v {
                Json::String(s) => s.clone(),
                other => other.to_string(),
            };
            text(a) == text(b)
        }
    }
}

/// Whether a change starts a rule with this trigger.
pub fn trigger_matches(trigger: &Trigger, change: &Change<'_>) -> bool {
    match trigger {
        Trigger::Created => change.kind == ChangeKind::Created,
        Trigger::Updated => change.kind == ChangeKind::Updated,
        Trigger::Deleted => change.kind == ChangeKind::Deleted,
        Trigger::FieldChanged { field, to } => {
            change.kind == ChangeKind::Updated
                && change.old.and_then(|o| field_value(o, field)) != field_value(change.new, field)
                && to
                    .as_ref()
                    .is_none_or(|t| same_value(field_value(change.new, field), t))
        }
        Trigger::StageEntered { stage_id } => change.stage.is_some_and(|m| m.to == *stage_id),
        Trigger::StageLeft { stage_id } => change.stage.is_some_and(|m| m.from == Some(*stage_id)),
        _ => false,
    }
}

/// Whether [`on_change`] could do anything for a write of this entity: a webhook
/// subscription is enabled or an enabled rule fires on record writes of the entity. The
/// import's bulk path asks once per chunk and skips the per-record calls when not.
pub async fn may_act(tx: &mut Tx, entity: Entity) -> Result<bool> {
    if !entity.is_business() {
        return Ok(false);
    }
    Ok(!settings_subscriptions(tx).await?.is_empty()
        || !settings_rules(tx, entity).await?.is_empty())
}

/// Called by the record engine after every write, in its transaction.
pub fn on_change<'a>(
    tx: &'a mut Tx,
    actor: &'a Actor,
    change: Change<'a>,
) -> BoxFut<'a, Result<()>> {
    Box::pin(async move {
        if !change.entity.is_business() {
            return Ok(());
        }
        if READS.try_with(|_| ()).is_err() {
            // The outermost change: what it reads is kept for the changes its rules make,
            // and the run log of all of them is written at its end.
            return READS
                .scope(Mutex::default(), async {
                    on_change(tx, actor, change).await?;
                    write_pending_runs(tx).await
                })
                .await;
        }
        forget_record();
        let subscriptions = enabled_subscriptions(tx).await?;
        super::webhooks::emit(tx, &change, &subscriptions).await?;
        let rules = active_rules(tx, change.entity).await?;
        if rules.is_empty() {
            return Ok(());
        }
        let pipeline = change.new.get("pipeline_id").and_then(Json::as_i64);
        let id = record_id(change.new);
        let mut pending: Vec<&StoredRule> = rules
            .iter()
            .filter(|r| r.pipeline_id.is_none() || r.pipeline_id == pipeline)
            .filter(|r| trigger_matches(&r.trigger, &change))
            .collect();
        // The conditions of all rules still to run are checked in one query; after a
        // rule that may have changed a record has run, the rest are checked again, so
        // each rule sees the record as the rules before it left it.
        let mut known: Option<Vec<bool>> = None;
        while !pending.is_empty() {
            let holds = match known.take() {
                Some(holds) => holds,
                None => conditions_hold(tx, actor, change.entity, id, &pending).await?,
            };
            let Some(first) = holds.iter().position(|h| *h) else {
                break;
            };
            let rule = pending[first];
            pending.drain(..=first);
            if rule.actions.iter().all(Action::writes_no_record) {
                known = Some(holds[first + 1..].to_vec());
            }
            let run = RunRequest {
                rule,
                entity: change.entity,
                record_id: Some(id),
                trigger: rule.trigger.code(),
                payload: None,
                from_index: 0,
                check_condition: false,
                dry_run: false,
                attempts: 0,
            };
            run_rule(tx, actor, run).await?;
        }
        Ok(())
    })
}

/// Whether each rule's condition holds for a stored record, answered by one query
/// (`CASE WHEN condition THEN 1 ELSE 0 END` per rule); a rule without a condition holds
/// without asking. [`condition_holds`] asks it for one rule.
pub async fn conditions_hold(
    tx: &mut Tx,
    actor: &Actor,
    entity: Entity,
    record_id: i64,
    rules: &[&StoredRule],
) -> Result<Vec<bool>> {
    let mut compiled: Vec<Option<sea_query::SimpleExpr>> = Vec::with_capacity(rules.len());
    let mut customs = None;
    for rule in rules {
        let parsed = match rule.condition.as_deref() {
            Some(text) => filter::parse(text)
                .map_err(plotina_core::DomainError::BadFilter)?
                .map(|expr| (text, expr)),
            None => None,
        };
        let Some((text, expr)) = parsed else {
            compiled.push(None);
            continue;
        };
        if customs.is_none() {
            customs = Some(custom_fields(tx).await?);
        }
        let defs = customs.as_ref().expect("loaded above");
        let lookup =
            |e: Entity| -> Vec<CustomFieldDef> { defs.get(&e).cloned().unwrap_or_default() };
        let ctx = FilterCtx {
            backend: tx.backend(),
            actor,
            input: text,
            custom: &lookup,
        };
        let cond = ctx
            .compile(entity, &expr)
            .map_err(plotina_core::DomainError::BadFilter)?;
        compiled.push(Some(cond));
    }
    if compiled.iter().all(Option::is_none) {
        return Ok(vec![true; rules.len()]);
    }
    let mut q = Query::select();
    q.from(Alias::new(entity.table()))
        .and_where(col("id").eq(record_id));
    for (i, cond) in compiled.iter().enumerate() {
        if let Some(cond) = cond {
            q.expr_as(
                sea_query::Expr::case(cond.clone(), 1i64).finally(0i64),
                Alias::new(format!("c{i}")),
            );
        }
    }
    let Some(row) = tx.fetch_optional(&q).await? else {
        return Ok(vec![false; rules.len()]);
    };
    let mut out = Vec::with_capacity(rules.len());
    for (i, cond) in compiled.iter().enumerate() {
        out.push(match cond {
            Some(_) => row.i64(&format!("c{i}"))? == Some(1),
            None => true,
        });
    }
    Ok(out)
}

/// One run of one rule.
pub struct RunRequest<'a> {
    pub rule: &'a StoredRule,
    pub entity: Entity,
    pub record_id: Option<i64>,
    pub trigger: &'static str,
    /// The body of an incoming webhook (`payload.*`).
    pub payload: Option<Json>,
    /// Where to start (after a delay).
    pub from_index: usize,
    pub check_condition: bool,
    /// Report what would happen; the caller rolls the transaction back.
    pub dry_run: bool,
    /// Failed attempts so far (a retry from the job).
    pub attempts: i64,
}

/// How a run ended.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunOutcome {
    pub run_id: Option<i64>,
    /// `done`, `skipped` (condition false), `failed`, `loop_stopped`, `depth_limit`,
    /// `delayed`.
    pub status: String,
    pub actions: Vec<Json>,
    pub error: Option<String>,
}

/// Whether the rule's condition holds for the record.
pub async fn condition_holds(
    tx: &mut Tx,
    actor: &Actor,
    rule: &StoredRule,
    entity: Entity,
    record: &Record,
    payload: Option<&Json>,
) -> Result<bool> {
    let Some(text) = rule.condition.as_deref() else {
        return Ok(true);
    };
    let Some(expr) = filter::parse(text).map_err(plotina_core::DomainError::BadFilter)? else {
        return Ok(true);
    };
    if rule.trigger == Trigger::Webhook {
        // Conditions on webhook rules may read the payload: evaluated in memory.
        let mut data = record.clone();
        data.insert("payload".into(), payload.cloned().unwrap_or(Json::Null));
        let r = MemResolve {
            data: Json::Object(data),
            me: actor.user_id,
            now: plotina_core::value::now(),
            today: actor.today(),
        };
        return Ok(filter::eval::eval(&expr, &r));
    }
    let holds = conditions_hold(tx, actor, entity, record_id(record), &[rule]).await?;
    Ok(holds.first().copied().unwrap_or(false))
}

struct MemResolve {
    data: Json,
    me: i64,
    now: DateTime<Utc>,
    today: chrono::NaiveDate,
}

impl filter::eval::Resolve for MemResolve {
    fn get(&self, path: &[String]) -> Option<Json> {
        let mut cur = &self.data;
        for seg in path {
            cur = cur.get(seg)?;
        }
        Some(cur.clone())
    }
    fn me(&self) -> Option<i64> {
        Some(self.me)
    }
    fn today(&self) -> chrono::NaiveDate {
        self.today
    }
    fn now(&self) -> DateTime<Utc> {
        self.now
    }
}

/// Runs a rule on a record in the caller's transaction and logs the run.
pub fn run_rule<'a>(
    tx: &'a mut Tx,
    actor: &'a Actor,
    req: RunRequest<'a>,
) -> BoxFut<'a, Result<RunOutcome>> {
    Box::pin(async move {
        let chain = CHAIN.try_with(Clone::clone).unwrap_or_default();
        let rule = req.rule;
        let link = Link {
            rule_id: rule.id,
            entity: req.entity,
            record_id: req.record_id.unwrap_or_default(),
        };
        if chain.contains(&link) || chain.len() >= MAX_DEPTH {
            let status = if chain.contains(&link) {
                "loop_stopped"
            } else {
                "depth_limit"
            };
            let path: Vec<String> = chain
                .iter()
                .chain(std::iter::once(&link))
                .map(|l| format!("rule {} on {} {}", l.rule_id, l.entity.code(), l.record_id))
                .collect();
            let msg = format!("{status}: {}", path.join(" → "));
            tracing::warn!(
                rule = rule.id,
                record = link.record_id,
                depth = chain.len(),
                "automation chain stopped: {msg}"
            );
            let outcome = RunOutcome {
                run_id: None,
                status: status.into(),
                actions: Vec::new(),
                error: Some(msg),
            };
            return log_run(tx, &req, chain.len(), outcome).await;
        }
        // The record is read for the condition only; actions read what they need.
        let record = match req.record_id {
            Some(id) if req.check_condition => {
                Some(crate::records::fetch_unscoped(tx, req.entity, id).await?)
            }
            _ => None,
        };
        let empty = Record::new();
        if req.check_condition
            && !condition_holds(
                tx,
                actor,
                rule,
                req.entity,
                record.as_ref().unwrap_or(&empty),
                req.payload.as_ref(),
            )
            .await?
        {
            let outcome = RunOutcome {
                run_id: None,
                status: "skipped".into(),
                actions: Vec::new(),
                error: None,
            };
            // Skips are not logged for change triggers (most changes match no
            // condition); a dry run or a manual run reports them.
            if req.dry_run || req.trigger == "manual" {
                return log_run(tx, &req, chain.len(), outcome).await;
            }
            return Ok(outcome);
        }
        let depth = chain.len();
        let savepoint = format!("automation_{depth}");
        let guarded = needs_savepoint(tx.backend(), rule, req.from_index);
        if guarded {
            tx.raw(&format!("SAVEPOINT {savepoint}")).await?;
        }
        let mut next = chain.clone();
        next.push(link);
        let robot = Actor::system(actor.user_id);
        let result = CHAIN
            .scope(next, async {
                let mut ctx = actions::Ctx {
                    rule,
                    entity: req.entity,
                    record_id: req.record_id,
                    payload: req.payload.clone(),
                    actor: &robot,
                    depth,
                    trigger: req.trigger,
                };
                let mut done = Vec::new();
                for (i, action) in rule.actions.iter().enumerate().skip(req.from_index) {
                    if let Action::Delay { minutes } = action {
                        let at = plotina_core::value::now() + chrono::Duration::minutes(*minutes);
                        queue_job(tx, &ctx, i + 1, at, 0).await?;
                        done.push(json!({"action": "delay", "until": plotina_core::value::format_datetime(at)}));
                        return Ok::<_, crate::StoreError>((done, true));
                    }
                    let res = actions::perform(tx, &mut ctx, i, action).await;
                    if !action.writes_no_record() {
                        // Whatever it wrote, the next action reads the record afresh.
                        forget_record();
                    }
                    let res = res?;
                    done.push(json!({"action": action.code(), "result": res}));
                }
                Ok((done, false))
            })
            .await;
        let outcome = match result {
            Ok((done, delayed)) => {
                if guarded {
                    tx.raw(&format!("RELEASE SAVEPOINT {savepoint}")).await?;
                }
                RunOutcome {
                    run_id: None,
                    status: if delayed { "delayed" } else { "done" }.into(),
                    actions: done,
                    error: None,
                }
            }
            Err(e) => {
                if guarded {
                    tx.raw(&format!("ROLLBACK TO SAVEPOINT {savepoint}"))
                        .await?;
                    tx.raw(&format!("RELEASE SAVEPOINT {savepoint}")).await?;
                }
                forget_record();
                let msg = describe(&e);
                tracing::warn!(rule = rule.id, record = ?req.record_id, "automation rule failed: {msg}");
                if !req.dry_run {
                    let attempts = req.attempts + 1;
                    if attempts >= MAX_ATTEMPTS {
                        super::scheduler::notify_admins(
                            tx,
                            &format!(
                                "Правило «{}» (№{}) не выполнено после {attempts} попыток: {msg}",
                                rule.name, rule.id
                            ),
                            &format!("rule:{}", rule.id),
                            &format!(
                                "automation-failed:{}:{}:{}",
                                rule.id,
                                req.record_id.unwrap_or_default(),
                                plotina_core::value::format_datetime(plotina_core::value::now())
                            ),
                        )
                        .await?;
                    } else {
                        let ctx = actions::Ctx {
                            rule,
                            entity: req.entity,
                            record_id: req.record_id,
                            payload: req.payload.clone(),
                            actor: &robot,
                            depth,
                            trigger: req.trigger,
                        };
                        let at = plotina_core::value::now()
                            + chrono::Duration::seconds(backoff_seconds(attempts));
                        queue_job(tx, &ctx, req.from_index, at, attempts).await?;
                    }
                }
                RunOutcome {
                    run_id: None,
                    status: "failed".into(),
                    actions: Vec::new(),
                    error: Some(msg),
                }
            }
        };
        log_run(tx, &req, depth, outcome).await
    })
}

/// Whether a run needs a savepoint to be undone alone if it fails. On SQLite a failed
/// statement undoes only itself and leaves the transaction open, so a run whose only
/// write is one INSERT (a notebook item not given round-robin, a queued mail or
/// webhook call) either fails before that write or with it: there is nothing to undo,
/// and the two statements of a savepoint are saved on every such run. PostgreSQL aborts
/// the whole transaction on any failed statement, so there every run has its savepoint.
fn needs_savepoint(backend: Backend, rule: &StoredRule, from_index: usize) -> bool {
    let rest = rule.actions.get(from_index..).unwrap_or_default();
    let one_insert = match rest {
        [Action::NotebookItem { assignee, .. }] => !matches!(assignee, Assignee::RoundRobin { .. }),
        [Action::SendEmail { .. }] | [Action::Webhook { .. }] => true,
        _ => false,
    };
    backend == Backend::Postgres || !one_insert
}

/// A short, client-safe description of a failure (domain errors by code).
pub fn describe(e: &crate::StoreError) -> String {
    match e {
        crate::StoreError::Domain(d) => match d {
            plotina_core::DomainError::Invalid(errs) => errs
                .iter()
                .map(|f| format!("{}: {}", f.field, f.code))
                .collect::<Vec<_>>()
                .join(", "),
            plotina_core::DomainError::Conflict(f) | plotina_core::DomainError::BadRequest(f) => {
                format!("{}: {}", f.field, f.code)
            }
            other => other.to_string(),
        },
        crate::StoreError::Internal(e) => format!("internal: {e:#}"),
    }
}

/// Work to do later: the rest of a rule after `action_index` (a delay, a retry).
pub async fn queue_job(
    tx: &mut Tx,
    ctx: &actions::Ctx<'_>,
    action_index: usize,
    at: DateTime<Utc>,
    attempts: i64,
) -> Result<i64> {
    let id = tx
        .insert_id(
            Query::insert()
                .into_table(Alias::new("automation_jobs"))
                .columns(
                    [
                        "rule_id",
                        "entity",
                        "record_id",
                        "action_index",
                        "payload",
                        "trigger_code",
                        "depth",
                        "attempts",
                        "state",
                        "next_attempt_at",
                        "created_at",
                    ]
                    .map(Alias::new),
                )
                .values_panic(crate::db::vals([
                    ctx.rule.id.into(),
                    ctx.entity.code().into(),
                    ctx.record_id.into(),
                    (action_index as i64).into(),
                    ctx.payload.clone().into(),
                    ctx.trigger.into(),
                    (ctx.depth as i64).into(),
                    attempts.into(),
                    "queued".into(),
                    at.into(),
                    plotina_core::value::now().into(),
                ])),
        )
        .await?;
    Ok(id)
}

const RUN_COLUMNS: [&str; 10] = [
    "rule_id",
    "entity",
    "record_id",
    "trigger_code",
    "status",
    "depth",
    "actions",
    "error",
    "started_at",
    "finished_at",
];

/// Logs a run. Within a change the row waits for the change's end (one INSERT for all
/// its runs, see [`Reads`]) and the outcome carries no run id; a manual, scheduled or
/// dry run is written at once and returns its id.
async fn log_run(
    tx: &mut Tx,
    req: &RunRequest<'_>,
    depth: usize,
    mut outcome: RunOutcome,
) -> Result<RunOutcome> {
    let now = plotina_core::value::now();
    let values = crate::db::vals([
        req.rule.id.into(),
        req.entity.code().into(),
        req.record_id.into(),
        req.trigger.into(),
        outcome.status.clone().into(),
        (depth as i64).into(),
        Json::Array(outcome.actions.clone()).into(),
        outcome.error.clone().into(),
        now.into(),
        now.into(),
    ]);
    let mut values = Some(values);
    let deferred = READS
        .try_with(|r| {
            let mut reads = r.lock().unwrap_or_else(|e| e.into_inner());
            reads.pending_runs.extend(values.take());
        })
        .is_ok();
    if let Some(values) = values.filter(|_| !deferred) {
        let id = tx
            .insert_id(
                Query::insert()
                    .into_table(Alias::new("automation_runs"))
                    .columns(RUN_COLUMNS.map(Alias::new))
                    .values_panic(values),
            )
            .await?;
        outcome.run_id = Some(id);
    }
    Ok(outcome)
}

/// Writes the run-log rows a change's rules left (see [`log_run`]).
async fn write_pending_runs(tx: &mut Tx) -> Result<()> {
    let rows = READS
        .try_with(|r| std::mem::take(&mut r.lock().unwrap_or_else(|e| e.into_inner()).pending_runs))
        .unwrap_or_default();
    if rows.is_empty() {
        return Ok(());
    }
    crate::db::insert_rows(tx, "automation_runs", &RUN_COLUMNS, rows).await?;
    Ok(())
}

/// Open queued jobs due at `now`, oldest first.
pub async fn due_jobs(tx: &mut Tx, now: DateTime<Utc>, limit: u64) -> Result<Vec<i64>> {
    let rows = tx
        .fetch_all(
            &Query::select()
                .column(Alias::new("id"))
                .from(Alias::new("automation_jobs"))
                .and_where(col("state").eq("queued"))
                .and_where(col("next_attempt_at").lte(now))
                .order_by(Alias::new("next_attempt_at"), Order::Asc)
                .order_by(Alias::new("id"), Order::Asc)
                .limit(limit)
                .to_owned(),
        )
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| r.i64("id").ok().flatten())
        .collect())
}

/// The payload as a JSON object for templates.
pub fn template_data(record: Option<&Record>, payload: Option<&Json>) -> Json {
    let mut data: Map<String, Json> = record.cloned().unwrap_or_default();
    if let Some(p) = payload {
        data.insert("payload".into(), p.clone());
    }
    let now = plotina_core::value::now();
    data.insert(
        "now".into(),
        plotina_core::value::format_datetime(now).into(),
    );
    data.insert("today".into(), now.date_naive().to_string().into());
    Json::Object(data)
}
