//! The demo generator against real databases: counts, valid values, search, scopes and
//! derived rows identical to what the engine computes, and determinism.

use std::collections::BTreeSet;

use plotina_core::policy::Actor;
use plotina_core::schema::Entity;
use plotina_core::types::{Inn, Kpp, Phone};
use sea_query::{Alias, Expr, Query};
use serde_json::{json, Value as Json};
use sha2::{Digest, Sha256};

use super::{generate_plan, is_empty, Plan};
use crate::filter_sql::col;
use crate::testing::{self, TestDb};
use crate::{auth, history, lookup, search, ListParams, Store};

/// A small-org plan small enough for debug builds.
const TINY: Plan = Plan {
    small_org: true,
    field_history: true,
    companies: 60,
    deals: 600,
    activities: 1800,
};

async fn demo(db: &TestDb, plan: Plan, seed: u64) -> (Store, super::DemoReport) {
    let store = Store::open(&db.config()).await.expect("open store");
    assert!(is_empty(&store).await.unwrap());
    let report = generate_plan(&store, plan, seed, "демо-пароль", &|_| {})
        .await
        .expect("generate");
    assert!(!is_empty(&store).await.unwrap());
    (store, report)
}

fn count_of(report: &super::DemoReport, name: &str) -> u64 {
    report
        .counts
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, c)| *c)
        .unwrap_or_else(|| panic!("no count {name}"))
}

async fn scalar(store: &Store, sql: &str) -> i64 {
    let mut tx = store.pool().begin().await.unwrap();
    let rows = tx
        .fetch_all_sql(
            sql,
            sea_query_binder::SqlxValues(sea_query::Values(Vec::new())),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    rows[0].i64("n").unwrap().unwrap_or(0)
}

async fn column_texts(store: &Store, table: &str, column: &str) -> Vec<(i64, String)> {
    let mut tx = store.pool().begin().await.unwrap();
    let q = Query::select()
        .columns([Alias::new("id"), Alias::new(column)])
        .from(Alias::new(table))
        .order_by(Alias::new("id"), sea_query::Order::Asc)
        .to_owned();
    let rows = tx.fetch_all(&q).await.unwrap();
    tx.commit().await.unwrap();
    rows.iter()
        .map(|r| {
            let v = r
                .text(column)
                .or_else(|_| r.i64(column).map(|n| n.map(|n| n.to_string())))
                .or_else(|_| r.json(column).map(|j| j.map(|j| j.to_string())))
                .unwrap()
                .unwrap_or_default();
            (r.i64("id").unwrap().unwrap(), v)
        })
        .collect()
}

async fn actor(store: &Store, login: &str) -> Actor {
    let id = auth::user_id_by_login(store.pool(), login)
        .await
        .unwrap()
        .expect("user exists");
    auth::actor_for(store.pool(), id)
        .await
        .unwrap()
        .expect("active user")
}

/// Every user of a role.
async fn users_with_role(store: &Store, role: &str) -> Vec<i64> {
    let sql = format!("SELECT u.id AS n FROM users u JOIN roles r ON r.id = u.role_id WHERE r.code = '{role}' ORDER BY u.id");
    let mut tx = store.pool().begin().await.unwrap();
    let rows = tx
        .fetch_all_sql(
            &sql,
            sea_query_binder::SqlxValues(sea_query::Values(Vec::new())),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    rows.iter().map(|r| r.i64("n").unwrap().unwrap()).collect()
}

async fn lookup_rows(store: &Store, entity: Entity, id: i64) -> BTreeSet<(String, String, String)> {
    let q = Query::select()
        .columns(["field", "kind", "value"].map(Alias::new))
        .from(Alias::new("record_lookup"))
        .and_where(col("entity").eq(entity.code()))
        .and_where(col("record_id").eq(id))
        .to_owned();
    let mut tx = store.pool().begin().await.unwrap();
    let rows = tx.fetch_all(&q).await.unwrap();
    tx.commit().await.unwrap();
    rows.iter()
        .map(|r| {
            (
                r.text("field").unwrap().unwrap(),
                r.text("kind").unwrap().unwrap(),
                r.text("value").unwrap().unwrap(),
            )
        })
        .collect()
}

async fn check(db: &TestDb, plan: Plan) {
    let name = db.name();
    let (store, report) = demo(db, plan, 42).await;
    assert_eq!(report.admin_login, "admin");
    let admin = actor(&store, "admin").await;
    assert!(auth::verify_password(store.pool(), "admin", "демо-пароль")
        .await
        .unwrap()
        .is_some());

    // Counts: what the report says is what the tables hold.
    assert_eq!(count_of(&report, "users"), 6, "{name}");
    for table in [
        "companies",
        "contacts",
        "deals",
        "activities",
        "stage_changes",
    ] {
        let n = scalar(&store, &format!("SELECT COUNT(*) AS n FROM {table}")).await;
        assert_eq!(n as u64, count_of(&report, table), "{name}: {table}");
    }
    // A year of costs for the five paid sources (exhibitions quarterly: 4 of 12 months),
    // so the sources report shows ROMI on a fresh demo.
    let costs = scalar(&store, "SELECT COUNT(*) AS n FROM source_costs").await;
    assert_eq!(costs, 4 * 12 + 4, "{name}");
    let sources = store
        .report_sources(&admin, &crate::reports::ReportParams::default())
        .await
        .unwrap();
    assert!(
        sources.total.cost > 0 && sources.total.romi.is_some(),
        "{name}"
    );
    let bulk = "('company', 'contact', 'deal', 'activity')";
    let n = scalar(
        &store,
        &format!("SELECT COUNT(*) AS n FROM history WHERE entity IN {bulk}"),
    )
    .await;
    assert_eq!(n as u64, count_of(&report, "history"), "{name}: history");
    let n = scalar(
        &store,
        &format!("SELECT COUNT(*) AS n FROM record_lookup WHERE entity IN {bulk}"),
    )
    .await;
    assert_eq!(
        n as u64,
        count_of(&report, "record_lookup"),
        "{name}: record_lookup"
    );
    assert_eq!(count_of(&report, "companies"), 60);
    let contacts = count_of(&report, "contacts");
    assert!(
        (100..=300).contains(&contacts),
        "{name}: {contacts} contacts"
    );
    let deals = count_of(&report, "deals");
    assert!((520..=680).contains(&deals), "{name}: {deals} deals");
    let activities = count_of(&report, "activities");
    assert!(
        (1400..=2300).contains(&activities),
        "{name}: {activities} activities"
    );

    // Values are valid by the core's own parsers.
    for (id, inn) in column_texts(&store, "companies", "inn").await {
        assert!(Inn::parse(&inn).is_ok(), "{name}: company {id} INN {inn}");
    }
    for (id, kpp) in column_texts(&store, "companies", "kpp").await {
        assert!(
            kpp.is_empty() || Kpp::parse(&kpp).is_ok(),
            "{name}: company {id} KPP {kpp}"
        );
    }
    for (id, phones) in column_texts(&store, "contacts", "phones").await {
        let list: Vec<String> = serde_json::from_str(&phones).unwrap();
        for p in list {
            assert_eq!(
                Phone::parse(&p).map(|x| x.to_string()).as_deref(),
                Ok(p.as_str()),
                "{name}: contact {id}"
            );
        }
    }

    // A contact is found by its phone typed the Russian way.
    let (cid, phones) = column_texts(&store, "contacts", "phones")
        .await
        .swap_remove(7);
    let phone: Vec<String> = serde_json::from_str(&phones).unwrap();
    let d = &phone[0][2..];
    let typed = format!("8 ({}) {}-{}-{}", &d[..3], &d[3..6], &d[6..8], &d[8..]);
    let hits = store.search(&admin, &typed, 20).await.unwrap();
    assert!(
        hits.iter()
            .any(|h| h.entity == Entity::Contact && h.id == cid),
        "{name}: {typed} finds contact {cid}: {hits:?}"
    );

    // A manager sees exactly their own deals; each manager has open overdue tasks.
    let managers = users_with_role(&store, "manager").await;
    assert_eq!(managers.len(), 3, "{name}: two sellers and a logistician");
    for m in &managers {
        let a = auth::actor_for(store.pool(), *m).await.unwrap().unwrap();
        let page = store
            .list(
                &a,
                Entity::Deal,
                &ListParams {
                    limit: Some(500),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert!(!page.data.is_empty(), "{name}: manager {m} has deals");
        assert!(
            page.data.iter().all(|d| d["owner_id"] == json!(m)),
            "{name}: manager {m} sees others' deals"
        );
        let own = scalar(
            &store,
            &format!("SELECT COUNT(*) AS n FROM deals WHERE owner_id = {m}"),
        )
        .await;
        let seen = store
            .count(&a, Entity::Deal, &ListParams::default(), 1_000_000)
            .await
            .unwrap();
        assert_eq!(seen as i64, own, "{name}: manager {m}");
    }
    for m in &managers[..2] {
        let overdue = scalar(&store, &format!("SELECT COUNT(*) AS n FROM activities WHERE assignee_id = {m} AND done = {} AND due_at < CURRENT_TIMESTAMP", if db.backend == crate::Backend::Sqlite { "0" } else { "false" })).await;
        assert!(overdue > 0, "{name}: manager {m} has overdue tasks");
    }

    // Child deals in «Логистика: оценка» hang under sales deals.
    let children = scalar(&store, "SELECT COUNT(*) AS n FROM deals d JOIN deals p ON p.id = d.parent_id JOIN pipelines pp ON pp.id = p.pipeline_id JOIN pipelines cp ON cp.id = d.pipeline_id WHERE pp.code = 'turnkey' AND cp.code = 'logistics'").await;
    let all_children = scalar(
        &store,
        "SELECT COUNT(*) AS n FROM deals WHERE parent_id IS NOT NULL",
    )
    .await;
    assert!(
        children > 0 && children == all_children,
        "{name}: {children} of {all_children}"
    );

    // Derived rows are exactly what the engine derives from the stored record.
    for entity in super::BULK {
        let ids: Vec<i64> = column_texts(&store, entity.table(), "id")
            .await
            .into_iter()
            .map(|(id, _)| id)
            .step_by(17)
            .collect();
        let search_texts: std::collections::HashMap<i64, String> = if entity.has_search_text() {
            column_texts(&store, entity.table(), "search_text")
                .await
                .into_iter()
                .collect()
        } else {
            Default::default()
        };
        for id in ids {
            let rec = store
                .get(&admin, entity, id)
                .await
                .unwrap_or_else(|e| panic!("{name}: {entity:?} {id}: {e}"));
            // What the records path writes (`records::insert_many`), derived rows included.
            let expected: BTreeSet<(String, String, String)> = lookup::rows(entity, &rec, None)
                .into_iter()
                .map(|(field, kind, value)| (field.to_string(), kind.to_string(), value))
                .collect();
            assert_eq!(
                lookup_rows(&store, entity, id).await,
                expected,
                "{name}: lookups of {entity:?} {id}"
            );
            if entity.has_search_text() {
                assert_eq!(
                    search_texts[&id],
                    search::record_search_text(entity, &rec),
                    "{name}: search_text of {entity:?} {id}"
                );
            }
            let entries = store.history(&admin, entity, id, None, 1000).await.unwrap();
            let created: Vec<(Option<String>, Json)> = entries
                .iter()
                .rev()
                .filter(|e| e.action == "create")
                .map(|e| (e.field.clone(), e.new_value.clone()))
                .collect();
            let updates = entries.iter().filter(|e| e.action == "update").count();
            let version = rec["version"].as_i64().unwrap();
            if !plan.field_history {
                assert_eq!(
                    created,
                    vec![(None, Json::Null)],
                    "{name}: compact create history of {entity:?} {id}"
                );
            } else if version == 1 {
                let diff: Vec<(Option<String>, Json)> = history::diff(None, &rec)
                    .into_iter()
                    .map(|(f, _, n)| (Some(f), n))
                    .collect();
                assert_eq!(created, diff, "{name}: create history of {entity:?} {id}");
            } else {
                assert!(created.len() > 3, "{name}: {entity:?} {id} v{version}");
            }
            assert_eq!(
                updates > 0,
                version > 1,
                "{name}: {entity:?} {id} v{version}"
            );
            if entity == Entity::Deal {
                // One stage change per version, the last one landing where the deal is.
                let q = Query::select()
                    .columns(["to_stage_id", "changed_at"].map(Alias::new))
                    .from(Alias::new("stage_changes"))
                    .and_where(col("deal_id").eq(id))
                    .order_by(Alias::new("id"), sea_query::Order::Asc)
                    .to_owned();
                let mut tx = store.pool().begin().await.unwrap();
                let rows = tx.fetch_all(&q).await.unwrap();
                tx.commit().await.unwrap();
                assert_eq!(rows.len() as i64, version, "{name}: deal {id}");
                let last = rows.last().unwrap();
                assert_eq!(json!(last.i64("to_stage_id").unwrap()), rec["stage_id"]);
                let at = last
                    .datetime("changed_at")
                    .unwrap()
                    .map(plotina_core::value::format_datetime);
                assert_eq!(json!(at), rec["stage_changed_at"], "{name}: deal {id}");
                assert_eq!(
                    rec["closed_at"].is_null(),
                    !matches!(rec["probability"].as_i64(), Some(0 | 100)),
                    "{name}: deal {id}"
                );
            }
        }
    }

    // Identity sequences continue after the generated ids: the engine can add records.
    let body = json!({"name": "ООО «После демо»"})
        .as_object()
        .cloned()
        .unwrap();
    let (rec, _) = store
        .create(&admin, Entity::Company, &body, None)
        .await
        .expect("create after demo");
    let max = scalar(&store, "SELECT MAX(id) AS n FROM companies").await;
    assert_eq!(rec["id"], json!(max), "{name}");
    store.pool().close().await;
}

#[tokio::test]
async fn tiny_demo_is_consistent_on_sqlite() {
    check(&testing::sqlite().await, TINY).await;
}

#[tokio::test]
async fn tiny_demo_is_consistent_on_postgres() {
    if let Some(db) = testing::postgres().await {
        check(&db, TINY).await;
    }
}

#[tokio::test]
async fn compact_history_is_consistent() {
    let plan = Plan {
        field_history: false,
        ..TINY
    };
    check(&testing::sqlite().await, plan).await;
    if let Some(db) = testing::postgres().await {
        check(&db, plan).await;
    }
}

async fn fingerprint(seed: u64) -> (String, Vec<(&'static str, u64)>) {
    let db = testing::sqlite().await;
    let plan = Plan {
        companies: 30,
        deals: 150,
        activities: 300,
        ..TINY
    };
    let (store, report) = demo(&db, plan, seed).await;
    let mut h = Sha256::new();
    for (table, column) in [
        ("companies", "name"),
        ("companies", "inn"),
        ("contacts", "full_name"),
        ("deals", "title"),
        ("deals", "stage_id"),
        ("activities", "subject"),
    ] {
        for (id, v) in column_texts(&store, table, column).await {
            h.update(format!("{table}.{column}:{id}={v}\n").as_bytes());
        }
    }
    let q = Query::select()
        .expr_as(Expr::col(Alias::new("amount")).sum(), Alias::new("n"))
        .from(Alias::new("deals"))
        .to_owned();
    let mut tx = store.pool().begin().await.unwrap();
    let total = tx
        .fetch_optional(&q)
        .await
        .unwrap()
        .and_then(|r| r.i64("n").ok().flatten());
    tx.commit().await.unwrap();
    h.update(format!("{total:?}").as_bytes());
    store.pool().close().await;
    (hex::encode(h.finalize()), report.counts)
}

#[tokio::test]
async fn same_seed_same_demo() {
    let (a, counts_a) = fingerprint(7).await;
    let (b, counts_b) = fingerprint(7).await;
    let (c, _) = fingerprint(8).await;
    assert_eq!(a, b);
    assert_eq!(counts_a, counts_b);
    assert_ne!(a, c);
}

#[test]
fn generated_phones_are_valid_e164() {
    let mut check = super::customers::PhoneCheck::default();
    for i in 0..300u64 {
        let m = super::customers::mobile(i * 7919);
        assert_eq!(
            Phone::parse(&m).map(|p| p.to_string()).as_deref(),
            Ok(m.as_str())
        );
        for r in super::names::REGIONS {
            if let Some(p) = check.landline(r.area, i * 104_729) {
                assert_eq!(
                    Phone::parse(&p).map(|x| x.to_string()).as_deref(),
                    Ok(p.as_str())
                );
            }
        }
    }
    // Moscow numbers are landlines. (The phone parser rejects St Petersburg's +7 812
    // numbers, so companies there fall back to mobile numbers.)
    assert!(check.landline("495", 1_234_567).is_some());
}

/// Times a full-size run: `PLOTINA_DEMO_SIZE=small|medium|large` and optionally
/// `PLOTINA_DEMO_URL` (default: a temporary SQLite file). Run with
/// `cargo test --release -p plotina-store demo::tests::timed -- --ignored --nocapture`.
#[tokio::test]
#[ignore]
async fn timed() {
    let size: super::DemoSize = std::env::var("PLOTINA_DEMO_SIZE")
        .unwrap_or_else(|_| "small".into())
        .parse()
        .unwrap();
    let tmp = testing::sqlite().await;
    let url = std::env::var("PLOTINA_DEMO_URL").unwrap_or_else(|_| tmp.url.clone());
    let store = Store::open(&crate::DbConfig {
        url: url.clone(),
        max_connections: 4,
    })
    .await
    .unwrap();
    let started = std::time::Instant::now();
    let last = std::cell::Cell::new(std::time::Instant::now());
    let report = super::generate(&store, size, 1, "demo", &|p| {
        if last.get().elapsed().as_secs() >= 10 || p.done == p.total {
            eprintln!(
                "{:>7.1}s {} {}/{}",
                started.elapsed().as_secs_f64(),
                p.phase,
                p.done,
                p.total
            );
            last.set(std::time::Instant::now());
        }
    })
    .await
    .unwrap();
    eprintln!("{size:?} on {url}: {:.1}s", started.elapsed().as_secs_f64());
    for (k, v) in &report.counts {
        eprintln!("  {k:>14}: {v}");
    }
    if let Some(path) = url.strip_prefix("sqlite://") {
        let bytes: u64 = ["", "-wal"]
            .iter()
            .filter_map(|s| std::fs::metadata(format!("{path}{s}")).ok())
            .map(|m| m.len())
            .sum();
        eprintln!("  database size: {:.0} MB", bytes as f64 / 1e6);
    }
    store.pool().close().await;
}
