//! Latency statistics of one scenario, merged from every client.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub scenario: String,
    pub mode: &'static str,
    pub requests: u64,
    pub errors: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub per_sec: f64,
}

pub struct Recorder {
    pub hist: Histogram<u64>,
    pub errors: u64,
    pub first_error: Option<String>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            hist: Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds"),
            errors: 0,
            first_error: None,
        }
    }
}

impl Recorder {
    pub fn ok(&mut self, took: Duration) {
        let _ = self
            .hist
            .record((took.as_micros() as u64).clamp(1, 60_000_000));
    }

    pub fn error(&mut self, what: String) {
        self.errors += 1;
        self.first_error.get_or_insert(what);
    }

    pub fn merge(&mut self, other: Recorder) {
        let _ = self.hist.add(&other.hist);
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    pub fn summary(&self, scenario: &str, mode: &'static str, elapsed: Duration) -> Summary {
        let ms = |us: u64| us as f64 / 1000.0;
        Summary {
            scenario: scenario.to_string(),
            mode,
            requests: self.hist.len(),
            errors: self.errors,
            p50_ms: ms(self.hist.value_at_quantile(0.5)),
            p99_ms: ms(self.hist.value_at_quantile(0.99)),
            max_ms: ms(self.hist.max()),
            per_sec: self.hist.len() as f64 / elapsed.as_secs_f64().max(1e-9),
        }
    }
}

pub fn print_table(rows: &[Summary]) {
    println!(
        "{:<24} {:<7} {:>9} {:>7} {:>9} {:>9} {:>9} {:>10} {:>9}",
        "scenario", "mode", "requests", "errors", "p50 ms", "p99 ms", "max ms", "req/s", "api/dir"
    );
    for r in rows {
        let ratio = if r.mode == "api" {
            rows.iter()
                .find(|d| d.mode == "direct" && d.scenario == r.scenario && d.p50_ms > 0.0)
                .map(|d| format!("{:.2}", r.p50_ms / d.p50_ms))
                .unwrap_or_default()
        } else {
            String::new()
        };
        println!(
            "{:<24} {:<7} {:>9} {:>7} {:>9.2} {:>9.2} {:>9.2} {:>10.1} {:>9}",
            r.scenario,
            r.mode,
            r.requests,
            r.errors,
            r.p50_ms,
            r.p99_ms,
            r.max_ms,
            r.per_sec,
            ratio
        );
    }
}
