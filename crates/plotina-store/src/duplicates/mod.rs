//! Duplicates of companies, contacts and leads: match keys kept in `dedup_keys`, the
//! check a create or an edit runs before it is committed, and the finder that groups the
//! whole base by equal keys.
//!
//! Reasons, strongest first: `inn_kpp` (same INN and KPP), `inn`, `phone` (E.164, via
//! `record_lookup`), `email` (lower-cased, via `record_lookup`) and `name` (equal
//! normalised name: `core::types::names::normalize_company_name` for companies and the
//! company of a lead, `person_key` for contacts and the contact of a lead). Name
//! similarity is *equality of normalised keys*, not a fuzzy distance: it is an index
//! look-up on create and a GROUP BY in the finder, so both stay cheap on a million rows.
//!
//! Visibility: the check on create/edit looks at the **whole** base, so a manager cannot
//! create a second copy of a company hidden from them, but a candidate the actor may not
//! read is reported with its id, the reason and the owner's name only ("exists, owned by
//! X"), never its title or values. The finder lists only records the actor may read.

use std::collections::{BTreeMap, BTreeSet};

use plotina_core::policy::{Action, Actor};
use plotina_core::schema::Entity;
use plotina_core::types::names::{normalize_company_name, person_key};
use sea_query::{Alias, Order, Query};

pub mod bench_data;
mod finder;
mod merge;
pub use finder::{find, reasons_of, FindParams, Group, Member, TaskCounts};
pub use merge::{MergeOutcome, MergeRequest, MAX_VICTIMS};
use serde::Serialize;
use serde_json::{Map, Value as Json};

use crate::db::Tx;
use crate::error::Result;
use crate::filter_sql::col;
use crate::listing::QueryCtx;
use crate::records::{self, IdempotencyKey};
use crate::rows::Record;
use crate::scope::visible;
use crate::Store;

/// The entities duplicates are looked for in.
pub const ENTITIES: [Entity; 3] = [Entity::Company, Entity::Contact, Entity::Lead];

pub const REASONS: [&str; 5] = ["inn_kpp", "inn", "phone", "email", "name"];

fn text<'a>(rec: &'a Record, field: &str) -> Option<&'a str> {
    rec.get(field)
        .and_then(Json::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn list(rec: &Record, field: &str) -> Vec<String> {
    let kind = match field {
        "phones" | "phone" => plotina_core::schema::FieldKind::Phones,
        _ => plotina_core::schema::FieldKind::Emails,
    };
    crate::lookup::values(kind, rec.get(field).unwrap_or(&Json::Null))
}

/// The name keys of a record: `(kind, value)`, kinds `company_name` and `person_name`.
pub fn name_keys(entity: Entity, rec: &Record) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let mut push = |kind: &'static str, key: String| {
        if !key.is_empty() {
            out.push((kind, key));
        }
    };
    match entity {
        Entity::Company => push(
            "company_name",
            normalize_company_name(text(rec, "name").unwrap_or("")),
        ),
        Entity::Contact => push(
            "person_name",
            person_key(text(rec, "full_name").unwrap_or("")),
        ),
        Entity::Lead => {
            push(
                "company_name",
                normalize_company_name(text(rec, "company_name").unwrap_or("")),
            );
            push(
                "person_name",
                person_key(text(rec, "contact_name").unwrap_or("")),
            );
        }
        _ => {}
    }
    out
}

/// Rewrites the name keys of one record (in the transaction of its write).
pub async fn refresh_keys(tx: &mut Tx, entity: Entity, id: i64, rec: &Record) -> Result<()> {
    if !ENTITIES.contains(&entity) {
        return Ok(());
    }
    tx.execute(
        &Query::delete()
            .from_table(Alias::new("dedup_keys"))
            .and_where(col("entity").eq(entity.code()))
            .and_where(col("record_id").eq(id))
            .to_owned(),
    )
    .await?;
    let keys = name_keys(entity, rec)
        .into_iter()
        .map(|(kind, value)| (id, kind, value))
        .collect();
    insert_keys(tx, entity, keys).await
}

/// Inserts the name keys `(record id, kind, value)` of new records (see [`name_keys`]),
/// in multi-row INSERTs.
pub async fn insert_keys(
    tx: &mut Tx,
    entity: Entity,
    keys: Vec<(i64, &'static str, String)>,
) -> Result<()> {
    let rows = keys
        .into_iter()
        .map(|(id, kind, value)| {
            crate::db::vals([entity.code().into(), id.into(), kind.into(), value.into()])
        })
        .collect();
    crate::db::insert_rows(
        tx,
        "dedup_keys",
        &["entity", "record_id", "kind", "value"],
        rows,
    )
    .await?;
    Ok(())
}

/// After an update: rewrites the keys only when they changed.
pub async fn refresh_keys_if_changed(
    tx: &mut Tx,
    entity: Entity,
    id: i64,
    old: &Record,
    new: &Record,
) -> Result<()> {
    if ENTITIES.contains(&entity) && name_keys(entity, old) != name_keys(entity, new) {
        refresh_keys(tx, entity, id, new).await?;
    }
    Ok(())
}

/// Writes the keys of every live record of an entity that has none (records written
/// before migration 0009, or by bulk loaders that bypass the record engine). Returns
/// the number of records keyed.
pub async fn reindex(tx: &mut Tx, entity: Entity) -> Result<u64> {
    let fields: &[&str] = match entity {
        Entity::Company => &["id", "name"],
        Entity::Contact => &["id", "full_name"],
        Entity::Lead => &["id", "company_name", "contact_name"],
        _ => return Ok(0),
    };
    let mut done = 0u64;
    let mut after = 0i64;
    loop {
        let keyed = Query::select()
            .column(Alias::new("record_id"))
            .from(Alias::new("dedup_keys"))
            .and_where(col("entity").eq(entity.code()))
            .to_owned();
        let rows = tx
            .fetch_all(
                &Query::select()
                    .columns(fields.iter().map(|f| Alias::new(*f)))
                    .from(Alias::new(entity.table()))
                    .and_where(col("id").gt(after))
                    .and_where(col("id").not_in_subquery(keyed))
                    .order_by(Alias::new("id"), Order::Asc)
                    .limit(5000)
                    .to_owned(),
            )
            .await?;
        if rows.is_empty() {
            return Ok(done);
        }
        let mut insert = Query::insert();
        insert
            .into_table(Alias::new("dedup_keys"))
            .columns(["entity", "record_id", "kind", "value"].map(Alias::new));
        let mut any = false;
        for row in &rows {
            let id = row.i64("id")?.unwrap_or_default();
            after = after.max(id);
            let mut rec = Record::new();
            for f in &fields[1..] {
                if let Some(v) = row.text(f)? {
                    rec.insert((*f).to_string(), Json::String(v));
                }
            }
            for (kind, value) in name_keys(entity, &rec) {
                insert.values_panic(crate::db::vals([
                    entity.code().into(),
                    id.into(),
                    kind.into(),
                    value.into(),
                ]));
                any = true;
            }
            done += 1;
        }
        if any {
            tx.execute(&insert).await?;
        }
    }
}

/// One way a record may be found again: look in `target` for `reason` with `value`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Probe {
    target: Entity,
    reason: &'static str,
    value: String,
    /// For `inn`: the KPP that upgrades the match to `inn_kpp`.
    kpp: Option<String>,
}

fn probes(entity: Entity, rec: &Record) -> BTreeSet<Probe> {
    let mut out = BTreeSet::new();
    let mut add = |target: Entity, reason: &'static str, value: String, kpp: Option<String>| {
        out.insert(Probe {
            target,
            reason,
            value,
            kpp,
        });
    };
    let (phones, emails) = match entity {
        Entity::Lead => (list(rec, "phone"), list(rec, "email")),
        _ => (list(rec, "phones"), list(rec, "emails")),
    };
    let inn = text(rec, "inn").map(String::from);
    let kpp = text(rec, "kpp").map(String::from);
    let targets: &[Entity] = match entity {
        Entity::Company => &[Entity::Company],
        Entity::Contact => &[Entity::Contact],
        // A lead is checked against the base it would be converted into, too.
        _ => &[Entity::Lead, Entity::Company, Entity::Contact],
    };
    let keys = name_keys(entity, rec);
    for &t in targets {
        if let Some(inn) = &inn {
            if matches!(t, Entity::Company | Entity::Lead) {
                add(
                    t,
                    "inn",
                    inn.clone(),
                    kpp.clone().filter(|_| t == Entity::Company),
                );
            }
        }
        for p in &phones {
            add(t, "phone", p.clone(), None);
        }
        for e in &emails {
            add(t, "email", e.clone(), None);
        }
        for (kind, key) in &keys {
            let fits = match t {
                Entity::Company => *kind == "company_name",
                Entity::Contact => *kind == "person_name",
                _ => true,
            };
            if fits {
                add(t, "name", format!("{kind}:{key}"), None);
            }
        }
    }
    out
}

/// A record that may be the same as the one being written.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Candidate {
    pub entity: Entity,
    pub id: i64,
    /// Why it matched, strongest first (`inn_kpp`, `inn`, `phone`, `email`, `name`).
    pub reasons: Vec<&'static str>,
    /// Whether the actor may read it; when not, `title` is absent.
    pub visible: bool,
    pub title: Option<String>,
    pub owner_id: Option<i64>,
    pub owner_name: Option<String>,
}

const MAX_CANDIDATES: usize = 20;

async fn ids_for(tx: &mut Tx, p: &Probe) -> Result<Vec<(i64, &'static str)>> {
    let t = p.target;
    let mut out = Vec::new();
    match p.reason {
        "inn" => {
            let mut q = Query::select();
            q.column(Alias::new("id"))
                .from(Alias::new(t.table()))
                .and_where(col("inn").eq(p.value.clone()))
                .and_where(col("deleted_at").is_null())
                .limit(MAX_CANDIDATES as u64 + 1);
            if t == Entity::Company {
                q.column(Alias::new("kpp"));
            }
            for row in tx.fetch_all(&q).await? {
                let same_kpp = t == Entity::Company
                    && p.kpp.is_some()
                    && row.text("kpp")?.as_deref() == p.kpp.as_deref();
                out.push((
                    row.i64("id")?.unwrap_or_default(),
                    if same_kpp { "inn_kpp" } else { "inn" },
                ));
            }
        }
        "phone" | "email" | "name" => {
            let (table, kind, value) = if p.reason == "name" {
                let (kind, key) = p.value.split_once(':').unwrap_or(("", ""));
                ("dedup_keys", kind.to_string(), key.to_string())
            } else {
                ("record_lookup", p.reason.to_string(), p.value.clone())
            };
            let live = Query::select()
                .column(Alias::new("id"))
                .from(Alias::new(t.table()))
                .and_where(col("deleted_at").is_null())
                .to_owned();
            let q = Query::select()
                .distinct()
                .column(Alias::new("record_id"))
                .from(Alias::new(table))
                .and_where(col("kind").eq(kind))
                .and_where(col("value").eq(value))
                .and_where(col("entity").eq(t.code()))
                .and_where(col("record_id").in_subquery(live))
                .limit(MAX_CANDIDATES as u64 + 1)
                .to_owned();
            for row in tx.fetch_all(&q).await? {
                out.push((row.i64("record_id")?.unwrap_or_default(), p.reason));
            }
        }
        _ => {}
    }
    Ok(out)
}

fn reason_rank(r: &str) -> usize {
    REASONS
        .iter()
        .position(|x| *x == r)
        .unwrap_or(REASONS.len())
}

/// The candidates for a record as written (`exclude` is the record itself), or only for
/// the probes that `old` did not have yet (an edit is checked for what it changed).
pub async fn candidates(
    tx: &mut Tx,
    actor: &Actor,
    entity: Entity,
    rec: &Record,
    exclude: Option<i64>,
    old: Option<&Record>,
) -> Result<Vec<Candidate>> {
    let mut wanted = probes(entity, rec);
    if let Some(old) = old {
        let before = probes(entity, old);
        wanted.retain(|p| !before.contains(p));
    }
    let mut found: BTreeMap<(Entity, i64), BTreeSet<&'static str>> = BTreeMap::new();
    for p in &wanted {
        for (id, reason) in ids_for(tx, p).await? {
            if p.target == entity && Some(id) == exclude {
                continue;
            }
            found.entry((p.target, id)).or_default().insert(reason);
        }
    }
    // Strongest reason first, then by entity and id.
    let mut keys: Vec<((Entity, i64), Vec<&'static str>)> = found
        .into_iter()
        .map(|(k, v)| {
            let mut v: Vec<&'static str> = v.into_iter().collect();
            v.sort_by_key(|r| reason_rank(r));
            if v.contains(&"inn_kpp") {
                v.retain(|r| *r != "inn");
            }
            (k, v)
        })
        .collect();
    keys.sort_by_key(|(k, v)| (reason_rank(v[0]), k.0.code(), k.1));
    keys.truncate(MAX_CANDIDATES);
    let mut out = Vec::with_capacity(keys.len());
    for ((target, id), reasons) in keys {
        out.push(describe(tx, actor, target, id, reasons).await?);
    }
    Ok(out)
}

async fn describe(
    tx: &mut Tx,
    actor: &Actor,
    entity: Entity,
    id: i64,
    reasons: Vec<&'static str>,
) -> Result<Candidate> {
    let title_field = entity.title_field();
    let row = tx
        .fetch_optional(
            &Query::select()
                .columns([title_field, "owner_id"].map(Alias::new))
                .from(Alias::new(entity.table()))
                .and_where(col("id").eq(id))
                .to_owned(),
        )
        .await?;
    let (title, owner_id) = match &row {
        Some(r) => (r.text(title_field)?, r.i64("owner_id")?),
        None => (None, None),
    };
    let mut q = Query::select();
    q.column(Alias::new("id"))
        .from(Alias::new(entity.table()))
        .and_where(col("id").eq(id));
    if let Some(scope) = visible(actor, entity, Action::Read) {
        q.and_where(scope);
    }
    let is_visible = actor.can(entity, Action::Read) && tx.fetch_optional(&q).await?.is_some();
    let owner_name = match owner_id {
        Some(o) => tx
            .fetch_optional(
                &Query::select()
                    .column(Alias::new("name"))
                    .from(Alias::new("users"))
                    .and_where(col("id").eq(o))
                    .to_owned(),
            )
            .await?
            .map(|r| r.text("name"))
            .transpose()?
            .flatten(),
        None => None,
    };
    Ok(Candidate {
        entity,
        id,
        reasons,
        visible: is_visible,
        title: title.filter(|_| is_visible),
        owner_id,
        owner_name,
    })
}

/// The outcome of a checked write: done, or stopped because of possible duplicates
/// (nothing was written).
#[derive(Debug)]
pub enum Checked<T> {
    Done(T),
    Duplicates(Vec<Candidate>),
}

impl Store {
    /// Creates a record unless it looks like a duplicate of an existing one; `confirm`
    /// creates it anyway. The check sees the record as it would be stored (phones in
    /// E.164, names normalised) and runs in the transaction of the create.
    pub async fn create_checked(
        &self,
        actor: &Actor,
        entity: Entity,
        body: &Map<String, Json>,
        idempotency: Option<&IdempotencyKey>,
        confirm: bool,
    ) -> Result<Checked<(Record, bool)>> {
        let customs = self.custom_lookup().await?;
        let ctx = QueryCtx {
            backend: self.backend(),
            actor,
            custom: &customs,
        };
        let mut tx = self.pool().begin_write().await?;
        let (rec, replayed) = records::create(&mut tx, &ctx, entity, body, idempotency).await?;
        if !confirm && !replayed && ENTITIES.contains(&entity) {
            let id = rec.get("id").and_then(Json::as_i64);
            let found = candidates(&mut tx, actor, entity, &rec, id, None).await?;
            if !found.is_empty() {
                // Dropping the transaction rolls the create back.
                return Ok(Checked::Duplicates(found));
            }
        }
        tx.commit().await?;
        Ok(Checked::Done((rec, replayed)))
    }

    /// Updates a record unless the change makes it look like a duplicate (only matches
    /// the change introduces count, so editing an old duplicate's notes is not stopped).
    pub async fn update_checked(
        &self,
        actor: &Actor,
        entity: Entity,
        id: i64,
        body: &Map<String, Json>,
        if_match: Option<i64>,
        confirm: bool,
    ) -> Result<Checked<Record>> {
        let customs = self.custom_lookup().await?;
        let ctx = QueryCtx {
            backend: self.backend(),
            actor,
            custom: &customs,
        };
        let mut tx = self.pool().begin_write().await?;
        let old = records::fetch_unscoped(&mut tx, entity, id).await.ok();
        let rec = records::update(&mut tx, &ctx, entity, id, body, if_match).await?;
        if !confirm && ENTITIES.contains(&entity) {
            let found = candidates(&mut tx, actor, entity, &rec, Some(id), old.as_ref()).await?;
            if !found.is_empty() {
                return Ok(Checked::Duplicates(found));
            }
        }
        tx.commit().await?;
        Ok(Checked::Done(rec))
    }

    /// Possible duplicates of a record body that is not saved (for forms).
    pub async fn candidates_of(
        &self,
        actor: &Actor,
        entity: Entity,
        rec: &Record,
        exclude: Option<i64>,
    ) -> Result<Vec<Candidate>> {
        let mut tx = self.pool().begin().await?;
        let out = candidates(&mut tx, actor, entity, rec, exclude, None).await?;
        tx.commit().await?;
        Ok(out)
    }
}
