//! `plotina bench`: scenarios against a running server over HTTP on loopback with N
//! concurrent clients for a fixed time, and the same reads straight through the store
//! (`--direct`), so the table shows how much the server adds over the database's work.

mod automation;
mod scenarios;
mod stats;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use plotina_store::Store;

pub use scenarios::Fixture;
use scenarios::{Scenario, SCENARIOS};
use stats::{Recorder, Summary};

pub struct BenchArgs {
    pub url: Option<String>,
    pub token: Option<String>,
    pub duration: Duration,
    pub concurrency: usize,
    pub scenarios: Vec<String>,
    pub json: bool,
    pub direct: bool,
}

pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(
        s.find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(s.len()),
    );
    let n: f64 = num.parse().map_err(|_| format!("bad duration {s:?}"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        _ => return Err(format!("bad duration unit in {s:?} (use ms, s or m)")),
    };
    Ok(Duration::from_secs_f64(secs))
}

async fn run_clients<F, Fut>(
    concurrency: usize,
    duration: Duration,
    make: F,
) -> (Recorder, Duration)
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send,
{
    let make = Arc::new(make);
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for client in 0..concurrency {
        let make = make.clone();
        tasks.push(tokio::spawn(async move {
            let mut rec = Recorder::default();
            let mut i = client as u64 * 1_000_003;
            while Instant::now() < deadline {
                let t = Instant::now();
                match make(i).await {
                    Ok(()) => rec.ok(t.elapsed()),
                    Err(e) => rec.error(e),
                }
                i += 1;
            }
            rec
        }));
    }
    let mut total = Recorder::default();
    for t in tasks {
        if let Ok(r) = t.await {
            total.merge(r);
        }
    }
    (total, start.elapsed())
}

pub async fn run(store: Store, args: BenchArgs) -> anyhow::Result<()> {
    let store = Arc::new(store);
    let fixture = Arc::new(
        Fixture::discover(&store)
            .await
            .context("cannot prepare the benchmark (run `plotina demo` first)")?,
    );
    let http = if args.direct {
        None
    } else {
        let url = args
            .url
            .clone()
            .context("--url is required (or use --direct)")?;
        let token = args
            .token
            .clone()
            .context("--token is required (or use --direct)")?;
        // Web pages take a browser session, not an API token: the bench opens one for
        // the administrator it measures as, straight in the database it was pointed at.
        let (cookie, _csrf) = plotina_store::auth::create_session(
            store.pool(),
            fixture.actor.user_id,
            chrono::Duration::hours(2),
        )
        .await?;
        let session = format!("{}={cookie}", plotina_server::auth::SESSION_COOKIE);
        Some(Arc::new(scenarios::Http::new(url, token, session)?))
    };
    let chosen: Vec<&Scenario> = SCENARIOS
        .iter()
        .filter(|s| args.scenarios.is_empty() || args.scenarios.iter().any(|n| n == s.name))
        .collect();
    if chosen.is_empty() {
        anyhow::bail!(
            "no such scenario; known: {}",
            SCENARIOS
                .iter()
                .map(|s| s.name)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let mut rows: Vec<Summary> = Vec::new();
    for sc in chosen {
        if let Some(http) = &http {
            if let Some(f) = sc.http {
                let (http, fx) = (http.clone(), fixture.clone());
                let (rec, took) = run_clients(args.concurrency, args.duration, move |i| {
                    f(http.clone(), fx.clone(), i)
                })
                .await;
                report(&rec, sc.name);
                rows.push(rec.summary(sc.name, "api", took));
            }
        }
        if let Some(f) = sc.direct {
            let (st, fx) = (store.clone(), fixture.clone());
            let (rec, took) = run_clients(args.concurrency, args.duration, move |i| {
                f(st.clone(), fx.clone(), i)
            })
            .await;
            report(&rec, sc.name);
            rows.push(rec.summary(sc.name, "direct", took));
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        stats::print_table(&rows);
    }
    Ok(())
}

fn report(rec: &Recorder, name: &str) {
    if let Some(e) = &rec.first_error {
        eprintln!("{name}: {} errors, first: {e}", rec.errors);
    }
}
