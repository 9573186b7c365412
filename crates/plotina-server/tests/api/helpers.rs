//! Spawned servers for API tests: a fresh database per test on every backend, a real
//! HTTP listener on port 0, tokens for each seeded user.

use std::collections::BTreeMap;
use std::sync::Arc;

use plotina_server::{Application, Config};
use plotina_store::testing::{self, Fixtures, TestDb};
use plotina_store::Store;
use reqwest::{Client, Method, RequestBuilder, Response};
use serde_json::Value;

pub struct TestApp {
    pub base: String,
    pub client: Client,
    pub store: Arc<Store>,
    pub fx: Fixtures,
    pub tokens: BTreeMap<&'static str, String>,
    pub backend: &'static str,
    _db: TestDb,
    _data: tempfile::TempDir,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn req(&self, user: &str, method: Method, path: &str) -> RequestBuilder {
        let mut r = self.client.request(method, self.url(path));
        if let Some(t) = self.tokens.get(user) {
            r = r.bearer_auth(t);
        }
        r
    }

    pub async fn get(&self, user: &str, path: &str) -> Response {
        self.req(user, Method::GET, path)
            .send()
            .await
            .expect("request")
    }

    pub async fn post(&self, user: &str, path: &str, body: &Value) -> Response {
        self.req(user, Method::POST, path)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn patch(&self, user: &str, path: &str, body: &Value) -> Response {
        self.req(user, Method::PATCH, path)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn delete(&self, user: &str, path: &str) -> Response {
        self.req(user, Method::DELETE, path)
            .send()
            .await
            .expect("request")
    }

    /// Creates a record as `user` and returns it (panics unless 201).
    pub async fn create(&self, user: &str, plural: &str, body: Value) -> Value {
        let resp = self.post(user, &format!("/api/v1/{plural}"), &body).await;
        let status = resp.status();
        let json: Value = resp.json().await.expect("json");
        assert_eq!(
            status, 201,
            "create {plural} as {user} on {}: {json}",
            self.backend
        );
        json
    }

    /// Where the server stores uploaded files.
    pub fn files_dir(&self) -> std::path::PathBuf {
        self._data.path().join("files")
    }

    pub async fn counts(&self) -> BTreeMap<&'static str, i64> {
        testing::row_counts(self.store.pool()).await
    }
}

pub async fn spawn(db: TestDb) -> TestApp {
    spawn_with(db, |_| {}).await
}

/// A spawned app whose configuration the test adjusts first (mail server, job periods).
pub async fn spawn_with(db: TestDb, adjust: impl FnOnce(&mut Config)) -> TestApp {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(std::env::var("TEST_LOG").unwrap_or_else(|_| "error".into()))
        .with_test_writer()
        .try_init();
    let backend = db.name();
    let (store, fx) = testing::seeded_store(&db).await;
    let data = tempfile::tempdir().expect("tempdir");
    let config = Config {
        listen: "127.0.0.1:0".into(),
        data_dir: data.path().to_path_buf(),
        max_body_bytes: 256 * 1024,
        ..Config::default()
    };
    let mut config = config;
    adjust(&mut config);
    let store = Arc::new(store);
    let app = Application::with_store(config, store.clone())
        .await
        .expect("build app");
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let mut tokens = BTreeMap::new();
    for (login, actor) in fx.actors() {
        let (_, token) = plotina_store::auth::create_token(store.pool(), actor.user_id, "test")
            .await
            .expect("token");
        tokens.insert(login, token);
    }
    TestApp {
        base,
        client: Client::new(),
        store,
        fx,
        tokens,
        backend,
        _db: db,
        _data: data,
    }
}

/// One app per available backend (SQLite always; PostgreSQL when configured).
pub async fn apps() -> Vec<TestApp> {
    let mut out = Vec::new();
    for db in testing::all().await {
        out.push(spawn(db).await);
    }
    out
}

pub async fn json(resp: Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let body = resp.json::<Value>().await.unwrap_or(Value::Null);
    (status, body)
}
