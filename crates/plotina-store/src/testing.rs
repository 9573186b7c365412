//! Test kit shared by this crate's contract suite and the server's tests: a fresh
//! database per test on every available backend, and a store seeded with roles, the
//! default pipeline, departments and a handful of users.
//!
//! PostgreSQL databases are created through `PLOTINA_TEST_DATABASE_URL` (a URL whose
//! user may `CREATE DATABASE`); without it PostgreSQL tests are skipped with a notice,
//! except under `CI=true`, where a skip would hide a whole backend and so panics.

use std::collections::BTreeMap;
use std::io::Write;
use std::str::FromStr;
use std::sync::Once;

use plotina_core::policy::Actor;
use plotina_core::schema::Entity;
use rand::Rng;
use sea_query::Values;
use sea_query_binder::SqlxValues;
use serde_json::{json, Map, Value as Json};
use sqlx::Connection;

use crate::db::{Backend, DbConfig, Pool};
use crate::{auth, bootstrap, Store};

/// The variable naming the PostgreSQL server the tests may create databases on.
pub const PG_URL_VAR: &str = "PLOTINA_TEST_DATABASE_URL";

/// The password every seeded user gets.
pub const PASSWORD: &str = "correct horse battery staple";

/// A fresh, empty database; removed when dropped.
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    guard: Guard,
}

enum Guard {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl std::fmt::Debug for TestDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDb")
            .field("url", &self.url)
            .field("backend", &self.backend)
            .finish()
    }
}

impl TestDb {
    /// Connection settings for `Pool::connect` / `Store::open`.
    pub fn config(&self) -> DbConfig {
        DbConfig {
            url: self.url.clone(),
            max_connections: 5,
        }
    }

    /// `"sqlite"` or `"postgres"`, for test messages.
    pub fn name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Guard::Postgres { admin_url, name } = &self.guard else {
            return;
        };
        let (admin_url, name) = (admin_url.clone(), name.clone());
        // Drop may run inside a runtime (which cannot block on another one), so the
        // database is dropped from a thread of its own.
        let dropper = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async {
                let mut conn = sqlx::PgConnection::connect(&admin_url).await?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .execute(&mut conn)
                    .await?;
                conn.close().await?;
                anyhow::Ok(())
            })
        });
        match dropper.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("cannot drop test database: {e:#}"),
            Err(_) => eprintln!("cannot drop test database: the dropping thread panicked"),
        }
    }
}

fn random_suffix() -> String {
    let mut rng = rand::thread_rng();
    (0..12)
        .map(|_| char::from(b'a' + rng.gen_range(0..26u8)))
        .collect()
}

/// A fresh SQLite database file in its own temporary directory.
pub async fn sqlite() -> TestDb {
    let dir = tempfile::Builder::new()
        .prefix("plotina-test-")
        .tempdir()
        .expect("create temp dir");
    let url = format!("sqlite://{}", dir.path().join("plotina.db").display());
    TestDb {
        url,
        backend: Backend::Sqlite,
        guard: Guard::Sqlite(dir),
    }
}

/// `url` with its database name replaced by `database`.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority..].find('/') {
        Some(i) => &base[..authority + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{database}?{q}"),
        None => format!("{base}/{database}"),
    }
}

/// A fresh PostgreSQL database `plotina_t_<random>`, or `None` when
/// `PLOTINA_TEST_DATABASE_URL` is unset (a panic instead under `CI=true`).
pub async fn postgres() -> Option<TestDb> {
    let Some(admin_url) = std::env::var(PG_URL_VAR)
        .ok()
        .filter(|u| !u.trim().is_empty())
    else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{PG_URL_VAR} is not set: CI must run the PostgreSQL contract tests");
        }
        static NOTICE: Once = Once::new();
        NOTICE.call_once(|| {
            // Straight to stderr: the test harness captures `eprintln!` of passing tests.
            let _ = writeln!(
                std::io::stderr(),
                "PostgreSQL contract tests skipped: set {PG_URL_VAR}"
            );
        });
        return None;
    };
    sqlx::postgres::PgConnectOptions::from_str(&admin_url)
        .unwrap_or_else(|e| panic!("{PG_URL_VAR} is not a PostgreSQL URL: {e}"));
    let name = format!("plotina_t_{}", random_suffix());
    let mut conn = sqlx::PgConnection::connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {PG_URL_VAR}: {e}"));
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
    let _ = conn.close().await;
    let url = with_database(&admin_url, &name);
    Some(TestDb {
        url,
        backend: Backend::Postgres,
        guard: Guard::Postgres { admin_url, name },
    })
}

/// SQLite, plus PostgreSQL when it is configured.
pub async fn all() -> Vec<TestDb> {
    let mut out = vec![sqlite().await];
    out.extend(postgres().await);
    out
}

/// Who is who in a seeded store.
#[derive(Debug, Clone)]
pub struct Fixtures {
    /// Role `admin`.
    pub admin: Actor,
    /// Role `head_of_sales`, department «Продажи».
    pub head: Actor,
    /// Role `manager`, department «Продажи».
    pub m1: Actor,
    /// Role `manager`, department «Продажи Урал» (a child of «Продажи»).
    pub m2: Actor,
    /// Role `support`, department «Поддержка».
    pub support: Actor,
    pub sales_dept: i64,
    pub ural_dept: i64,
    pub support_dept: i64,
    /// The default pipeline «Продажи» (`sales`).
    pub pipeline: i64,
    /// Stage ids of the default pipeline by name, in order.
    pub stages: Vec<(String, i64)>,
    /// Role ids by code.
    pub roles: BTreeMap<String, i64>,
}

impl Fixtures {
    /// The id of a stage of the default pipeline by its name.
    pub fn stage(&self, name: &str) -> i64 {
        self.stages
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, id)| *id)
            .unwrap_or_else(|| panic!("no stage {name:?} in the default pipeline"))
    }

    /// The five seeded actors, with their logins.
    pub fn actors(&self) -> [(&'static str, &Actor); 5] {
        [
            ("admin", &self.admin),
            ("head", &self.head),
            ("m1", &self.m1),
            ("m2", &self.m2),
            ("support", &self.support),
        ]
    }
}

fn obj(v: Json) -> Map<String, Json> {
    v.as_object().cloned().unwrap_or_default()
}

async fn actor(store: &Store, id: i64) -> Actor {
    auth::actor_for(store.pool(), id)
        .await
        .expect("load actor")
        .expect("seeded user is active")
}

/// A migrated store with seeded roles, the default pipeline, the departments «Продажи»
/// (with its child «Продажи Урал») and «Поддержка», and the users `admin`, `head`,
/// `m1`, `m2` and `support`, each with the password [`PASSWORD`].
pub async fn seeded_store(db: &TestDb) -> (Store, Fixtures) {
    let store = Store::open(&db.config())
        .await
        .expect("open and migrate test database");
    bootstrap::seed_roles(store.pool())
        .await
        .expect("seed roles");
    let admin_id = bootstrap::create_user(
        &store,
        None,
        "admin",
        "Администратор",
        "admin",
        PASSWORD,
        Map::new(),
    )
    .await
    .expect("create admin");
    let admin = actor(&store, admin_id).await;
    bootstrap::seed_pipeline(&store, &admin)
        .await
        .expect("seed pipeline");

    let department = |name: &str, parent: Option<i64>| {
        let body = obj(json!({"name": name, "parent_id": parent}));
        let (store, admin) = (&store, &admin);
        async move {
            let (rec, _) = store
                .create(admin, Entity::Department, &body, None)
                .await
                .expect("create department");
            rec["id"].as_i64().expect("department id")
        }
    };
    let sales_dept = department("Продажи", None).await;
    let ural_dept = department("Продажи Урал", Some(sales_dept)).await;
    let support_dept = department("Поддержка", None).await;

    let user = |login: &'static str, name: &'static str, role: &'static str, dept: i64| {
        let (store, admin) = (&store, &admin);
        async move {
            let extra = obj(json!({"department_id": dept}));
            bootstrap::create_user(store, Some(admin), login, name, role, PASSWORD, extra)
                .await
                .unwrap_or_else(|e| panic!("create user {login}: {e}"))
        }
    };
    let head_id = user("head", "Руководитель Продаж", "head_of_sales", sales_dept).await;
    let m1_id = user("m1", "Менеджер Первый", "manager", sales_dept).await;
    let m2_id = user("m2", "Менеджер Второй", "manager", ural_dept).await;
    let support_id = user("support", "Поддержка Клиентов", "support", support_dept).await;

    let mut tx = store.pool().begin().await.expect("begin");
    let pipeline = tx
        .fetch_all_sql("SELECT id FROM pipelines ORDER BY id", no_values())
        .await
        .expect("read pipelines")
        .first()
        .and_then(|r| r.i64("id").ok().flatten())
        .expect("the default pipeline");
    let mut stages = Vec::new();
    for r in tx
        .fetch_all_sql(
            "SELECT id, name FROM stages ORDER BY position, id",
            no_values(),
        )
        .await
        .expect("read stages")
    {
        stages.push((
            r.text("name").ok().flatten().unwrap_or_default(),
            r.i64("id").ok().flatten().unwrap_or_default(),
        ));
    }
    let mut roles = BTreeMap::new();
    for r in tx
        .fetch_all_sql("SELECT id, code FROM roles", no_values())
        .await
        .expect("read roles")
    {
        roles.insert(
            r.text("code").ok().flatten().unwrap_or_default(),
            r.i64("id").ok().flatten().unwrap_or_default(),
        );
    }
    tx.commit().await.expect("commit");

    let fixtures = Fixtures {
        head: actor(&store, head_id).await,
        m1: actor(&store, m1_id).await,
        m2: actor(&store, m2_id).await,
        support: actor(&store, support_id).await,
        admin,
        sales_dept,
        ural_dept,
        support_dept,
        pipeline,
        stages,
        roles,
    };
    (store, fixtures)
}

fn no_values() -> SqlxValues {
    SqlxValues(Values(Vec::new()))
}

/// Every table a write may touch, for "nothing changed" checks.
pub const TABLES: &[&str] = &[
    "companies",
    "contacts",
    "leads",
    "deals",
    "activities",
    "users",
    "departments",
    "roles",
    "pipelines",
    "stages",
    "custom_fields",
    "history",
    "stage_changes",
    "record_lookup",
    "idempotency_keys",
    "api_tokens",
    "sessions",
    "attachments",
    "saved_views",
    "notebook_items",
    "mail_outbox",
    "notebook_gates",
    "notebook_gate_blocks",
    "automation_rules",
    "automation_runs",
    "automation_jobs",
    "automation_fired",
    "webhook_subscriptions",
    "webhook_deliveries",
    "import_batches",
    "import_items",
    "import_rejects",
    "import_mappings",
    "export_log",
    "dedup_keys",
    "merges",
    "approvals",
    "calendar_feeds",
    "customer_class_runs",
    "customer_classes",
    "customer_class_changes",
    "report_schedules",
    "report_schedule_recipients",
];

/// The number of rows in a table (all rows, the trash included).
pub async fn row_count(pool: &Pool, table: &str) -> i64 {
    assert!(
        table.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
        "not a table name: {table}"
    );
    let mut tx = pool.begin().await.expect("begin");
    let rows = tx
        .fetch_all_sql(&format!("SELECT COUNT(*) AS n FROM {table}"), no_values())
        .await
        .unwrap_or_else(|e| panic!("count {table}: {e}"));
    tx.commit().await.expect("commit");
    rows.first()
        .and_then(|r| r.i64("n").ok().flatten())
        .unwrap_or(0)
}

/// Row counts of every table in [`TABLES`].
pub async fn row_counts(pool: &Pool) -> BTreeMap<&'static str, i64> {
    let mut out = BTreeMap::new();
    for t in TABLES {
        out.insert(*t, row_count(pool, t).await);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_name_is_replaced() {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            with_database("postgres://u@h:5432", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            with_database("postgresql://u:p@h/db?sslmode=disable", "x"),
            "postgresql://u:p@h/x?sslmode=disable"
        );
    }
}
