//! The browser test kit: a spawned server (SQLite, seeded users), a chromedriver started
//! on a free loopback port, one headless Chromium session per test, and small helpers that
//! poll for up to [`WAIT`] instead of sleeping.
//!
//! Browser tests run one at a time (a process-wide lock), since the machine is small and
//! a Chromium per test is heavy. Without Chromium or chromedriver the tests say they were
//! skipped; under `CI=true` they fail instead.

use std::io::Write as _;
use std::net::TcpListener;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use plotina_core::policy::Actor;
use plotina_core::schema::Entity;
use plotina_server::{Application, Config};
use plotina_store::testing::{self, Fixtures, TestDb, PASSWORD};
use plotina_store::Store;
use serde_json::{json, Map, Value};
use tokio::sync::{Mutex, MutexGuard};

/// How long a helper waits for an element or a condition.
pub const WAIT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(100);

pub const DESKTOP: (u32, u32) = (1280, 900);
pub const PHONE: (u32, u32) = (375, 812);

/// One browser at a time.
static BROWSER_LOCK: Mutex<()> = Mutex::const_new(());

/// The programs the kit needs, from `PLOTINA_CHROMIUM` / `PLOTINA_CHROMEDRIVER` or `PATH`.
struct Programs {
    chromium: PathBuf,
    chromedriver: PathBuf,
}

fn in_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in names {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

fn from_env(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn programs() -> Option<Programs> {
    let chromium = from_env("PLOTINA_CHROMIUM")
        .or_else(|| in_path(&["chromium", "chromium-browser", "google-chrome"]));
    let chromedriver = from_env("PLOTINA_CHROMEDRIVER").or_else(|| in_path(&["chromedriver"]));
    match (chromium, chromedriver) {
        (Some(chromium), Some(chromedriver)) => Some(Programs {
            chromium,
            chromedriver,
        }),
        (chromium, driver) => {
            let missing = [
                chromium.is_none().then_some("chromium"),
                driver.is_none().then_some("chromedriver"),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" and ");
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{missing} not found: CI must run the browser tests");
            }
            static NOTICE: Once = Once::new();
            NOTICE.call_once(|| {
                // Straight to stderr: the harness captures `eprintln!` of passing tests.
                let _ = writeln!(
                    std::io::stderr(),
                    "browser tests skipped: {missing} not found (install chromium and chromium-driver, \
                     or set PLOTINA_CHROMIUM / PLOTINA_CHROMEDRIVER)"
                );
            });
            None
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A chromedriver process in its own process group; dropping it kills the group, so the
/// Chromium it started goes too, even when a test panics.
struct Driver {
    child: Child,
    url: String,
    /// The browser profile and the driver's log, removed once the browser is gone.
    profile: Option<tempfile::TempDir>,
}

impl Driver {
    async fn start(programs: &Programs) -> Driver {
        let profile = tempfile::Builder::new()
            .prefix("plotina-chromium-")
            .tempdir()
            .expect("profile dir");
        let log = profile.path().join("chromedriver.log");
        let port = free_port();
        let child = Command::new(&programs.chromedriver)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", programs.chromedriver.display()));
        let mut driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            profile: Some(profile),
        };
        let status = format!("{}/status", driver.url);
        let http = reqwest::Client::new();
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(resp) = http.get(&status).send().await {
                if let Ok(body) = resp.json::<Value>().await {
                    if body["value"]["ready"] == json!(true) {
                        return driver;
                    }
                }
            }
            if let Ok(Some(exit)) = driver.child.try_wait() {
                panic!(
                    "chromedriver exited with {exit}: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not become ready on {status}: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// The driver's temporary directory (the browser profile and the log).
    fn dir(&self) -> PathBuf {
        self.profile
            .as_ref()
            .map(|p| p.path().to_path_buf())
            .unwrap_or_default()
    }

    /// Whether any live process is still in this driver's process group.
    fn group_alive(&self) -> bool {
        let pgid = self.child.id().to_string();
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return false;
        };
        dir.flatten().any(|e| {
            let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
            // pid (comm) state ppid pgrp …; comm may hold spaces, so split after ')'.
            let mut rest = stat
                .rsplit_once(')')
                .map(|(_, r)| r.split_whitespace())
                .into_iter()
                .flatten();
            let state = rest.next();
            let pgrp = rest.nth(1);
            pgrp == Some(pgid.as_str()) && state != Some("Z") && state != Some("X")
        })
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The group is the one this kit created: chromedriver and the browser it started.
        let _ = Command::new("kill")
            .arg("-KILL")
            .arg("--")
            .arg(format!("-{}", self.child.id()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Let the browser's processes go before its profile is removed.
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.group_alive() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        if let Some(profile) = self.profile.take() {
            let path = profile.path().to_path_buf();
            if profile.close().is_err() {
                std::thread::sleep(Duration::from_millis(300));
                let _ = std::fs::remove_dir_all(&path);
            }
        }
    }
}

/// A spawned server on a fresh seeded SQLite database.
pub struct Server {
    pub base: String,
    pub store: Arc<Store>,
    pub fx: Fixtures,
    _db: TestDb,
    _data: tempfile::TempDir,
}

impl Server {
    async fn spawn() -> Server {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(std::env::var("TEST_LOG").unwrap_or_else(|_| "error".into()))
            .with_test_writer()
            .try_init();
        let db = testing::sqlite().await;
        let (store, fx) = testing::seeded_store(&db).await;
        let data = tempfile::tempdir().expect("tempdir");
        let config = Config {
            listen: "127.0.0.1:0".into(),
            data_dir: data.path().to_path_buf(),
            ..Config::default()
        };
        let store = Arc::new(store);
        let app = Application::with_store(config, store.clone())
            .await
            .expect("build app");
        let base = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run_until_stopped());
        Server {
            base,
            store,
            fx,
            _db: db,
            _data: data,
        }
    }

    pub fn actor(&self, login: &str) -> &Actor {
        self.fx
            .actors()
            .into_iter()
            .find(|(l, _)| *l == login)
            .map(|(_, a)| a)
            .expect("seeded user")
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

    /// Changes a record through the store as a seeded user.
    pub async fn update(&self, login: &str, entity: Entity, id: i64, changes: Value) {
        let map: Map<String, Value> = changes.as_object().cloned().expect("object");
        self.store
            .update(self.actor(login), entity, id, &map, None)
            .await
            .unwrap_or_else(|e| panic!("update {entity:?} {id}: {e:?}"));
    }
}

/// One test's world: the server, chromedriver and a Chromium session.
///
/// Fields drop in order: the session handle, the server, then chromedriver (killing the
/// browser and removing its profile), then the lock that lets the next test start.
pub struct Kit {
    pub b: Client,
    pub app: Server,
    _driver: Driver,
    _lock: MutexGuard<'static, ()>,
}

impl Kit {
    /// Starts everything, or `None` (with a notice) when Chromium is not installed.
    pub async fn start() -> Option<Kit> {
        let programs = programs()?;
        let lock = BROWSER_LOCK.lock().await;
        let app = Server::spawn().await;
        let driver = Driver::start(&programs).await;
        let dir = driver.dir();
        let user_data = dir.join("profile");
        let args = [
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--no-default-browser-check".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-extensions".into(),
            "--lang=ru-RU".into(),
            format!("--user-data-dir={}", user_data.display()),
            format!("--window-size={},{}", DESKTOP.0, DESKTOP.1),
        ];
        let caps = json!({
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "unhandledPromptBehavior": "dismiss",
            "goog:chromeOptions": {
                "binary": programs.chromium.display().to_string(),
                "args": args,
                // What a Russian-speaking user's browser asks for (the login page follows it).
                "prefs": { "intl.accept_languages": "ru-RU,ru" },
            },
        });
        let caps: Map<String, Value> = caps.as_object().cloned().expect("object");
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let b = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&driver.url)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "start a Chromium session: {e}\n{}",
                    std::fs::read_to_string(dir.join("chromedriver.log")).unwrap_or_default()
                )
            });
        let kit = Kit {
            b,
            app,
            _driver: driver,
            _lock: lock,
        };
        kit.goto("/healthz").await;
        kit.viewport(DESKTOP).await;
        Some(kit)
    }

    /// Ends the browser session cleanly (a panicking test relies on `Drop` instead).
    pub async fn finish(self) {
        let _ = self.b.clone().close().await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.app.base)
    }

    pub async fn goto(&self, path: &str) {
        self.b
            .goto(&self.url(path))
            .await
            .unwrap_or_else(|e| panic!("open {path}: {e}"));
    }

    pub async fn reload(&self) {
        self.b.refresh().await.expect("reload");
    }

    /// The path (and query) of the current page.
    pub async fn path(&self) -> String {
        let url = self.b.current_url().await.expect("current url");
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
    }

    /// Runs a script (its `return` value comes back).
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.b
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Waits until `script` returns `true`; panics with `what` and the page otherwise.
    pub async fn wait_js(&self, what: &str, script: &str, args: Vec<Value>) {
        self.wait_js_within(what, script, args, WAIT).await
    }

    /// [`Self::wait_js`] for work that takes longer than a page change (a background job).
    pub async fn wait_js_within(&self, what: &str, script: &str, args: Vec<Value>, wait: Duration) {
        let deadline = Instant::now() + wait;
        loop {
            // A script run while a page is being replaced may fail: try again.
            if let Ok(v) = self.b.execute(script, args.clone()).await {
                if v == json!(true) {
                    return;
                }
            }
            if Instant::now() >= deadline {
                panic!(
                    "{}",
                    self.report(&format!("timed out waiting for {what}")).await
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits for an element matching `css`.
    pub async fn el(&self, css: &str) -> Element {
        match self
            .b
            .wait()
            .at_most(WAIT)
            .every(POLL)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(e) => e,
            Err(e) => panic!("{}", self.report(&format!("no element {css}: {e}")).await),
        }
    }

    /// Whether an element matching `css` is on the page now.
    pub async fn has(&self, css: &str) -> bool {
        self.js(
            "return document.querySelector(arguments[0]) !== null;",
            vec![json!(css)],
        )
        .await
            == json!(true)
    }

    /// Waits for an element matching `css` and returns its visible text.
    pub async fn text(&self, css: &str) -> String {
        self.el(css).await.text().await.expect("element text")
    }

    /// Waits until the element matching `css` shows text containing `needle`.
    pub async fn wait_text(&self, css: &str, needle: &str) {
        self.wait_js(
            &format!("{needle:?} in {css}"),
            "var e = document.querySelector(arguments[0]); \
             return !!e && e.textContent.indexOf(arguments[1]) >= 0;",
            vec![json!(css), json!(needle)],
        )
        .await;
    }

    /// The label of a navigation link (without its icon).
    pub async fn nav_label(&self, key: &str) -> String {
        self.el(&format!("[data-testid=nav-{key}]")).await;
        let v = self
            .js(
                "var a = document.querySelector('[data-testid=nav-' + arguments[0] + ']').cloneNode(true); \
                 a.querySelectorAll('[aria-hidden=true]').forEach(function (i) { i.remove(); }); \
                 return a.textContent.trim();",
                vec![json!(key)],
            )
            .await;
        v.as_str().unwrap_or_default().to_string()
    }

    /// Replaces the value of a text field by typing.
    pub async fn fill(&self, css: &str, value: &str) {
        let e = self.el(css).await;
        e.clear().await.expect("clear field");
        e.send_keys(value).await.expect("type into field");
    }

    /// The current value of a form field.
    pub async fn value(&self, css: &str) -> String {
        self.el(css)
            .await
            .prop("value")
            .await
            .expect("value")
            .unwrap_or_default()
    }

    pub async fn click(&self, css: &str) {
        self.el(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Signs in through the login form.
    pub async fn login(&self, login: &str) {
        self.goto("/login").await;
        self.fill("[data-testid=login-login]", login).await;
        self.fill("[data-testid=login-password]", PASSWORD).await;
        self.click("[data-testid=login-submit]").await;
        self.el("[data-testid=user-menu]").await;
    }

    /// Signs out through the user menu.
    pub async fn logout(&self) {
        self.click("[data-testid=user-menu] > summary").await;
        self.click("[data-testid=logout]").await;
        self.el("[data-testid=login-form]").await;
    }

    /// Resizes the window so the page's viewport is `width`×`height` CSS pixels.
    pub async fn viewport(&self, (width, height): (u32, u32)) {
        self.b
            .set_window_size(width, height)
            .await
            .expect("resize the window");
        // The window may have borders: grow it by the difference once.
        let inner = self
            .js("return [window.innerWidth, window.innerHeight];", vec![])
            .await;
        let (iw, ih) = (
            inner[0].as_u64().unwrap_or(0) as u32,
            inner[1].as_u64().unwrap_or(0) as u32,
        );
        if (iw, ih) != (width, height) && iw > 0 && ih > 0 {
            self.b
                .set_window_size(
                    width + width.saturating_sub(iw),
                    height + height.saturating_sub(ih),
                )
                .await
                .expect("resize the window");
        }
        self.wait_js(
            &format!("a viewport {width} wide"),
            "return window.innerWidth === arguments[0];",
            vec![json!(width)],
        )
        .await;
    }

    /// Whether the page scrolls sideways.
    pub async fn horizontal_overflow(&self) -> Option<String> {
        let v = self
            .js(
                "var d = document.documentElement; \
                 if (d.scrollWidth <= window.innerWidth) return null; \
                 var wide = Array.prototype.filter.call(document.querySelectorAll('body *'), function (e) { \
                   var r = e.getBoundingClientRect(); return r.right > window.innerWidth + 0.5 && r.width > 0; }) \
                   .slice(0, 5).map(function (e) { \
                   return e.tagName.toLowerCase() + (e.className ? '.' + String(e.className).split(' ').join('.') : '') \
                     + ' right=' + Math.round(e.getBoundingClientRect().right); }); \
                 return 'scrollWidth ' + d.scrollWidth + ' > innerWidth ' + window.innerWidth + ': ' + wide.join(', ');",
                vec![],
            )
            .await;
        v.as_str().map(str::to_string)
    }

    /// Saves a screenshot of the window as `target/screenshots/<name>.png`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.b.screenshot().await.expect("screenshot");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("create the screenshot dir");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write the screenshot");
        path
    }

    /// Drags a kanban card onto a column the way a mouse would, as HTML5 drag-and-drop
    /// events (WebDriver's pointer actions do not start a native drag in Chromium).
    pub async fn drag_card(&self, deal: i64, stage: i64) {
        let done = self
            .js(
                "var card = document.querySelector('[data-deal-id=\"' + arguments[0] + '\"]'); \
                 var col = document.querySelector('.column[data-stage-id=\"' + arguments[1] + '\"]'); \
                 if (!card || !col) return false; \
                 var dt = new DataTransfer(); \
                 function fire(el, type) { \
                   el.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: dt })); } \
                 fire(card, 'dragstart'); fire(col, 'dragenter'); fire(col, 'dragover'); \
                 fire(col, 'drop'); fire(card, 'dragend'); \
                 return true;",
                vec![json!(deal), json!(stage)],
            )
            .await;
        assert_eq!(
            done,
            json!(true),
            "card {deal} and column {stage} on the board"
        );
    }

    /// Waits until the board shows deal `deal` in the column of `stage`.
    pub async fn wait_card_in(&self, deal: i64, stage: i64) {
        self.wait_js(
            &format!("deal {deal} in column {stage}"),
            "return !!document.querySelector('.column[data-stage-id=\"' + arguments[1] + '\"] [data-deal-id=\"' + arguments[0] + '\"]');",
            vec![json!(deal), json!(stage)],
        )
        .await;
    }

    /// The stage id of the column that holds deal `deal` on the board now.
    pub async fn column_of(&self, deal: i64) -> Option<i64> {
        self.js(
            "var c = document.querySelector('[data-deal-id=\"' + arguments[0] + '\"]'); \
             var col = c && c.closest('.column'); \
             return col ? Number(col.getAttribute('data-stage-id')) : null;",
            vec![json!(deal)],
        )
        .await
        .as_i64()
    }

    /// `why`, the current address and the start of the page's text, for a panic message;
    /// saves a screenshot of the page as `failure-<test name>.png`.
    pub async fn report(&self, why: &str) -> String {
        let url = self
            .b
            .current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_default();
        let text = self
            .b
            .execute(
                "return document.body ? document.body.innerText : '';",
                vec![],
            )
            .await
            .ok()
            .and_then(|v| v.as_str().map(|s| s.chars().take(2000).collect::<String>()))
            .unwrap_or_default();
        let shot = match self.b.screenshot().await {
            Ok(png) => {
                let dir = screenshot_dir();
                let _ = std::fs::create_dir_all(&dir);
                let test = std::thread::current()
                    .name()
                    .unwrap_or("test")
                    .replace("::", "-");
                let path = dir.join(format!("failure-{test}.png"));
                let _ = std::fs::write(&path, png);
                path.display().to_string()
            }
            Err(_) => String::new(),
        };
        format!("{why}\nat {url} (screenshot {shot})\n---\n{text}\n---")
    }
}

/// `target/screenshots` of the workspace.
pub fn screenshot_dir() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest.parent().and_then(Path::parent).unwrap_or(manifest);
    root.join("target").join("screenshots")
}
