//! The store's contract suite (DESIGN.md §2 "two databases, one contract"): every
//! repository operation and entity rule, written once and run against every backend
//! `testing::all()` provides — SQLite always, PostgreSQL when
//! `PLOTINA_TEST_DATABASE_URL` is set (and always under `CI=true`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;

use chrono::{Duration, Utc};
use plotina_core::error::DomainError;
use plotina_core::policy::Actor;
use plotina_core::record::{parse_input, Mode};
use plotina_core::schema::Entity;
use plotina_store::db::Row;
use plotina_store::history::HistoryEntry;
use plotina_store::testing::{self, Fixtures, TestDb, PASSWORD};
use plotina_store::{auth, records, IdempotencyKey, ListParams, Record, Store, StoreError};
use sea_query::Values;
use sea_query_binder::SqlxValues;
use serde_json::{json, Map, Value as Json};

// ---------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------

/// One backend's seeded store. Fields drop in order: the store before its database.
struct T {
    store: Store,
    fx: Fixtures,
    _db: TestDb,
}

/// Names the backend when a test body panics, so a failure says where it failed.
struct Backend(&'static str);

impl Drop for Backend {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("^^^ contract test failed on the {} backend", self.0);
        }
    }
}

/// Writes each listed contract once, as a `#[tokio::test]` that runs the body in
/// `cases` on every available backend with a freshly seeded store.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            for db in testing::all().await {
                let _backend = Backend(db.name());
                let (store, fx) = testing::seeded_store(&db).await;
                let t = T { store, fx, _db: db };
                cases::$name(&t).await;
            }
        }
    )*};
}

contract!(
    company_lifecycle,
    contact_lifecycle,
    lead_lifecycle,
    deal_lifecycle,
    activity_lifecycle,
    pipeline_and_stage_lifecycle,
    department_role_and_user_lifecycle,
    custom_field_definitions_lifecycle,
    history_has_one_row_per_changed_field,
    history_is_written_in_the_same_transaction,
    stale_versions_are_refused,
    concurrent_updates_lose_nothing,
    invalid_input_is_refused_and_changes_nothing,
    deal_stage_rules,
    custom_fields_set_filter_and_sort,
    filter_language_end_to_end,
    filter_related_paths,
    filter_lists_and_errors,
    cursor_pagination_visits_every_row_once,
    list_parameters_are_checked,
    managers_see_only_their_own_deals,
    private_companies_stay_private,
    links_to_invisible_records_fail,
    search_by_phone_word_forms_inn_and_email,
    search_follows_renames_and_the_trash,
    search_by_email_domain_inn_prefix_and_phone_tail,
    a_common_domain_gives_the_newest_matches,
    search_lookups_use_their_indexes,
    common_words_give_the_newest_matches_first,
    projected_lists_and_board_columns_match_whole_lists,
    board_totals_follow_every_change,
    idempotency_keys_replay_and_conflict,
    auth_passwords_tokens_and_sessions,
    duplicates_are_found_on_create_by_every_reason,
    hidden_duplicates_are_reported_without_their_data,
    edits_are_checked_only_for_what_they_change,
    finder_groups_the_base_by_reason,
    reindex_keys_records_written_without_them,
    merge_moves_every_link_and_undo_restores_exactly,
    merge_refusals_change_nothing,
    completeness_per_field_and_owner,
    records_without_a_next_activity,
    bulk_edit_covers_the_whole_filtered_set,
    export_writes_every_format_and_logs_it,
    export_refusals_change_nothing,
    mail_claims_are_exclusive_and_survive_a_restart,
    reminders_are_never_lost_nor_doubled,
    approvals_escalate_after_the_pipelines_hours,
);

fn obj(v: Json) -> Map<String, Json> {
    match v {
        Json::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

fn id(r: &Record) -> i64 {
    r["id"].as_i64().expect("record id")
}

fn version(r: &Record) -> i64 {
    r["version"].as_i64().expect("record version")
}

fn no_values() -> SqlxValues {
    SqlxValues(Values(Vec::new()))
}

fn domain<V: Debug>(r: Result<V, StoreError>) -> DomainError {
    match r {
        Err(StoreError::Domain(e)) => e,
        other => panic!("expected a domain error, got {other:?}"),
    }
}

/// The (field, code) pairs of an `Invalid` answer.
fn invalid<V: Debug>(r: Result<V, StoreError>) -> Vec<(String, &'static str)> {
    match domain(r) {
        DomainError::Invalid(errs) => errs.into_iter().map(|e| (e.field, e.code)).collect(),
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[track_caller]
fn assert_invalid<V: Debug>(r: Result<V, StoreError>, field: &str, code: &str) {
    let errs = invalid(r);
    assert!(
        errs.iter().any(|(f, c)| f == field && *c == code),
        "expected {field}: {code}, got {errs:?}"
    );
}

#[track_caller]
fn assert_conflict<V: Debug>(r: Result<V, StoreError>, field: &str, code: &str) {
    match domain(r) {
        DomainError::Conflict(e) => assert_eq!((e.field.as_str(), e.code), (field, code)),
        other => panic!("expected Conflict {field}: {code}, got {other:?}"),
    }
}

#[track_caller]
fn assert_not_found<V: Debug>(r: Result<V, StoreError>) {
    match domain(r) {
        DomainError::NotFound => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
}

#[track_caller]
fn assert_forbidden<V: Debug>(r: Result<V, StoreError>) {
    match domain(r) {
        DomainError::Forbidden(_) => {}
        other => panic!("expected Forbidden, got {other:?}"),
    }
}

#[track_caller]
fn assert_stale<V: Debug>(r: Result<V, StoreError>, current: i64) {
    match domain(r) {
        DomainError::Stale { current: c } => assert_eq!(c, current, "current version"),
        other => panic!("expected Stale, got {other:?}"),
    }
}

/// The code of a filter error (`BadFilter`) and its character position.
fn bad_filter<V: Debug>(r: Result<V, StoreError>) -> (&'static str, usize) {
    match domain(r) {
        DomainError::BadFilter(e) => (e.code, e.pos),
        other => panic!("expected BadFilter, got {other:?}"),
    }
}

fn bad_request<V: Debug>(r: Result<V, StoreError>) -> (String, &'static str) {
    match domain(r) {
        DomainError::BadRequest(e) => (e.field, e.code),
        other => panic!("expected BadRequest, got {other:?}"),
    }
}

fn sorted(mut ids: Vec<i64>) -> Vec<i64> {
    ids.sort_unstable();
    ids
}

impl T {
    async fn try_create(&self, a: &Actor, e: Entity, body: Json) -> Result<Record, StoreError> {
        self.store
            .create(a, e, &obj(body), None)
            .await
            .map(|(r, _)| r)
    }

    async fn create(&self, a: &Actor, e: Entity, body: Json) -> Record {
        let shown = body.to_string();
        self.try_create(a, e, body)
            .await
            .unwrap_or_else(|err| panic!("create {e:?} {shown}: {err:?}"))
    }

    async fn update(
        &self,
        a: &Actor,
        e: Entity,
        id: i64,
        body: Json,
        if_match: Option<i64>,
    ) -> Result<Record, StoreError> {
        self.store.update(a, e, id, &obj(body), if_match).await
    }

    async fn get(&self, a: &Actor, e: Entity, id: i64) -> Result<Record, StoreError> {
        self.store.get(a, e, id).await
    }

    async fn try_ids(&self, a: &Actor, e: Entity, filter: &str) -> Result<Vec<i64>, StoreError> {
        let params = ListParams {
            filter: Some(filter.into()),
            sort: Some("id".into()),
            limit: Some(500),
            ..Default::default()
        };
        Ok(self
            .store
            .list(a, e, &params)
            .await?
            .data
            .iter()
            .map(id)
            .collect())
    }

    /// Ids matching a filter, ascending; the count must agree with the list.
    async fn ids(&self, a: &Actor, e: Entity, filter: &str) -> Vec<i64> {
        let ids = self
            .try_ids(a, e, filter)
            .await
            .unwrap_or_else(|err| panic!("filter {filter:?}: {err:?}"));
        let params = ListParams {
            filter: Some(filter.into()),
            ..Default::default()
        };
        let n = self
            .store
            .count(a, e, &params, 10_000)
            .await
            .expect("count");
        assert_eq!(
            n,
            ids.len() as u64,
            "count and list disagree for {filter:?}"
        );
        ids
    }

    async fn history(&self, e: Entity, id: i64) -> Vec<HistoryEntry> {
        self.store
            .history(&self.fx.admin, e, id, None, 500)
            .await
            .expect("history")
    }

    async fn rows(&self, sql: &str) -> Vec<Row> {
        let mut tx = self.store.pool().begin().await.expect("begin");
        let rows = tx
            .fetch_all_sql(sql, no_values())
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        tx.commit().await.expect("commit");
        rows
    }

    async fn counts(&self) -> BTreeMap<&'static str, i64> {
        testing::row_counts(self.store.pool()).await
    }

    /// (from, to) of every recorded stage move of a deal, oldest first.
    async fn stage_moves(&self, deal: i64) -> Vec<(Option<i64>, i64)> {
        let sql = format!("SELECT from_stage_id, to_stage_id FROM stage_changes WHERE deal_id = {deal} ORDER BY id");
        self.rows(&sql)
            .await
            .iter()
            .map(|r| {
                (
                    r.i64("from_stage_id").unwrap(),
                    r.i64("to_stage_id").unwrap().unwrap(),
                )
            })
            .collect()
    }

    fn user(&self, login: &str) -> i64 {
        self.fx
            .actors()
            .iter()
            .find(|(l, _)| *l == login)
            .map(|(_, a)| a.user_id)
            .expect("seeded login")
    }
}

/// Trash round trip shared by every entity: delete hides the record, the trash shows
/// it, restore brings it back, and both leave a history row.
async fn trash_round_trip(t: &T, a: &Actor, e: Entity, rec: &Record) {
    let rid = id(rec);
    let v = version(&t.get(a, e, rid).await.expect("live before delete"));
    assert_stale(t.store.delete(a, e, rid, Some(v + 7)).await, v);
    t.store
        .delete(a, e, rid, Some(v))
        .await
        .unwrap_or_else(|err| panic!("delete {e:?}: {err:?}"));
    assert_not_found(t.get(a, e, rid).await);
    assert_not_found(t.store.delete(a, e, rid, None).await);
    assert_not_found(t.update(a, e, rid, json!({}), None).await);
    let in_trash = t
        .store
        .get_in(a, e, rid, true)
        .await
        .expect("found in the trash");
    assert!(in_trash["deleted_at"].is_string(), "deleted_at is set");
    assert_eq!(version(&in_trash), v + 1);
    let trash = t
        .store
        .list(
            a,
            e,
            &ListParams {
                trash: true,
                limit: Some(500),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(
        trash.data.iter().any(|r| id(r) == rid),
        "listed in the trash"
    );
    let live = t
        .store
        .list(
            a,
            e,
            &ListParams {
                limit: Some(500),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(
        !live.data.iter().any(|r| id(r) == rid),
        "not listed among live records"
    );

    let restored = t
        .store
        .restore(a, e, rid)
        .await
        .unwrap_or_else(|err| panic!("restore {e:?}: {err:?}"));
    assert!(restored["deleted_at"].is_null());
    assert_eq!(version(&restored), v + 2);
    assert_eq!(
        t.get(a, e, rid).await.expect("live again")["id"],
        json!(rid)
    );
    assert_not_found(t.store.restore(a, e, rid).await);
    let actions: Vec<String> = t
        .history(e, rid)
        .await
        .into_iter()
        .take(2)
        .map(|h| h.action)
        .collect();
    assert_eq!(actions, ["restore", "delete"], "newest first");
}

/// History entries of one action, as (field, old, new), in write order.
fn changes_of(history: &[HistoryEntry], action: &str) -> Vec<(String, Json, Json)> {
    let mut out: Vec<_> = history
        .iter()
        .filter(|h| h.action == action)
        .map(|h| {
            (
                h.field.clone().unwrap_or_default(),
                h.old_value.clone(),
                h.new_value.clone(),
            )
        })
        .collect();
    out.reverse();
    out
}

fn fields_of(history: &[HistoryEntry], action: &str) -> BTreeSet<String> {
    changes_of(history, action)
        .into_iter()
        .map(|(f, _, _)| f)
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// A date relative to today in the seeded users' time zone (what `today` means to them).
fn day(offset: i64) -> String {
    let today = Utc::now()
        .with_timezone(&chrono_tz::Europe::Moscow)
        .date_naive();
    (today + Duration::days(offset))
        .format("%Y-%m-%d")
        .to_string()
}

#[path = "contract/access.rs"]
mod access;
#[path = "contract/approvals.rs"]
mod approvals;
#[path = "contract/bulk.rs"]
mod bulk;
#[path = "contract/business.rs"]
mod business;
#[path = "contract/duplicates.rs"]
mod duplicates;
#[path = "contract/export.rs"]
mod export;
#[path = "contract/filters.rs"]
mod filters;
#[path = "contract/integrity.rs"]
mod integrity;
#[path = "contract/lists.rs"]
mod lists;
#[path = "contract/organisation.rs"]
mod organisation;
#[path = "contract/quality.rs"]
mod quality;
#[path = "contract/rules.rs"]
mod rules;
#[path = "contract/search.rs"]
mod search;

mod cases {
    pub use super::access::*;
    pub use super::approvals::*;
    pub use super::bulk::*;
    pub use super::business::*;
    pub use super::duplicates::*;
    pub use super::export::*;
    pub use super::filters::*;
    pub use super::integrity::*;
    pub use super::lists::*;
    pub use super::organisation::*;
    pub use super::quality::*;
    pub use super::rules::*;
    pub use super::search::*;
}
