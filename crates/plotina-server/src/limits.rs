//! Login rate limiting: at most N failed attempts per login and per client address in a
//! sliding window, so passwords cannot be guessed at speed.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct LoginLimiter {
    window: Duration,
    max_failures: usize,
    failures: Mutex<HashMap<String, Vec<Instant>>>,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        LoginLimiter::new(Duration::from_secs(60), 10)
    }
}

impl LoginLimiter {
    pub fn new(window: Duration, max_failures: usize) -> Self {
        LoginLimiter {
            window,
            max_failures,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn prune(&self, list: &mut Vec<Instant>, now: Instant) {
        list.retain(|t| now.duration_since(*t) < self.window);
    }

    pub fn blocked(&self, keys: &[String]) -> bool {
        let now = Instant::now();
        let Ok(mut map) = self.failures.lock() else {
            return false;
        };
        keys.iter().any(|k| {
            map.get_mut(k).is_some_and(|list| {
                self.prune(list, now);
                list.len() >= self.max_failures
            })
        })
    }

    pub fn failed(&self, keys: &[String]) {
        let now = Instant::now();
        if let Ok(mut map) = self.failures.lock() {
            // Bound the map: forget the oldest entries rather than grow without limit.
            if map.len() > 10_000 {
                map.retain(|_, l| {
                    l.last()
                        .is_some_and(|t| now.duration_since(*t) < self.window)
                });
            }
            for k in keys {
                let list = map.entry(k.clone()).or_default();
                self.prune(list, now);
                list.push(now);
            }
        }
    }

    pub fn succeeded(&self, keys: &[String]) {
        if let Ok(mut map) = self.failures.lock() {
            for k in keys {
                map.remove(k);
            }
        }
    }
}
