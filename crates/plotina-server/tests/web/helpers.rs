//! Spawned servers for web tests: a fresh database per test on every backend, and a
//! browser-like client per user (cookie jar, no automatic redirects).

use std::sync::Arc;

use plotina_core::policy::Actor;
use plotina_core::schema::Entity;
use plotina_server::{Application, Config};
use plotina_store::testing::{self, Fixtures, TestDb, PASSWORD};
use plotina_store::Store;
use reqwest::{Client, Response};
use serde_json::{Map, Value};

pub struct TestApp {
    pub base: String,
    pub store: Arc<Store>,
    pub fx: Fixtures,
    pub backend: &'static str,
    _db: TestDb,
    _data: tempfile::TempDir,
}

/// One signed-in (or not yet) browser.
pub struct Browser {
    pub base: String,
    pub client: Client,
    pub csrf: String,
}

pub struct Page {
    pub status: u16,
    pub body: String,
    pub location: String,
    pub headers: reqwest::header::HeaderMap,
}

impl Page {
    async fn from(resp: Response) -> Page {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let location = headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = resp.text().await.unwrap_or_default();
        Page {
            status,
            body,
            location,
            headers,
        }
    }

    pub fn has(&self, needle: &str) -> bool {
        self.body.contains(needle)
    }
}

/// The value of the first `name="…" value="…"` hidden input with that name.
pub fn input_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_string())
}

impl Browser {
    pub fn new(base: &str) -> Browser {
        let client = Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Browser {
            base: base.to_string(),
            client,
            csrf: String::new(),
        }
    }

    pub async fn get(&self, path: &str) -> Page {
        Page::from(
            self.client
                .get(format!("{}{path}", self.base))
                .send()
                .await
                .expect("request"),
        )
        .await
    }

    /// Posts a form, adding this session's CSRF token.
    pub async fn post(&self, path: &str, pairs: &[(&str, &str)]) -> Page {
        let mut all: Vec<(&str, &str)> = vec![("csrf", &self.csrf)];
        all.extend_from_slice(pairs);
        self.post_raw(path, &all).await
    }

    pub async fn post_raw(&self, path: &str, pairs: &[(&str, &str)]) -> Page {
        let resp = self
            .client
            .post(format!("{}{path}", self.base))
            .form(pairs)
            .send()
            .await
            .expect("request");
        Page::from(resp).await
    }

    /// Signs in through the login form and remembers the session's CSRF token.
    pub async fn login(&mut self, login: &str) {
        let page = self.get("/login").await;
        assert_eq!(page.status, 200);
        let token = input_value(&page.body, "csrf").expect("login form has a csrf field");
        let done = self
            .post_raw(
                "/login",
                &[
                    ("csrf", &token),
                    ("login", login),
                    ("password", PASSWORD),
                    ("next", "/"),
                ],
            )
            .await;
        assert_eq!(done.status, 303, "login as {login}: {}", done.body);
        let home = self.get("/").await;
        assert_eq!(home.status, 200, "home after login");
        self.csrf = input_value(&home.body, "csrf").expect("pages carry the csrf token");
    }
}

impl TestApp {
    pub async fn browser(&self, login: &str) -> Browser {
        let mut b = Browser::new(&self.base);
        b.login(login).await;
        b
    }

    pub fn actor(&self, login: &str) -> &Actor {
        self.fx
            .actors()
            .into_iter()
            .find(|(l, _)| *l == login)
            .map(|(_, a)| a)
            .expect("seeded user")
    }

    /// Rows per table (trash included).
    pub async fn counts(&self) -> std::collections::BTreeMap<&'static str, i64> {
        testing::row_counts(self.store.pool()).await
    }

    /// Creates a record through the store as a seeded user and returns its id.
    pub async fn create(&self, login: &str, entity: Entity, body: Value) -> i64 {
        let map: Map<String, Value> = body.as_object().cloned().expect("object");
        let (rec, _) = self
            .store
            .create(self.actor(login), entity, &map, None)
            .await
            .unwrap_or_else(|e| panic!("create {entity:?}: {e:?}"));
        rec["id"].as_i64().expect("id")
    }
}

pub async fn spawn(db: TestDb) -> TestApp {
    spawn_with(db, |_| {}).await
}

/// Like `spawn`, with the configuration adjusted first.
pub async fn spawn_with(db: TestDb, adjust: impl FnOnce(&mut Config)) -> TestApp {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(std::env::var("TEST_LOG").unwrap_or_else(|_| "error".into()))
        .with_test_writer()
        .try_init();
    let backend = db.name();
    let (store, fx) = testing::seeded_store(&db).await;
    let data = tempfile::tempdir().expect("tempdir");
    let mut config = Config {
        listen: "127.0.0.1:0".into(),
        data_dir: data.path().to_path_buf(),
        ..Config::default()
    };
    adjust(&mut config);
    let store = Arc::new(store);
    let app = Application::with_store(config, store.clone())
        .await
        .expect("build app");
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    TestApp {
        base,
        store,
        fx,
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
