//! Time and chance for the demo: a seeded random stream and a business-hours clock.
//!
//! Demo time is counted in *working seconds* since a Monday three years ago: ten working
//! hours a day (09:00–19:00 Moscow time), five days a week. Every instant generated that
//! way falls on a weekday within office hours, and the mapping is monotonic, so events
//! generated in order stay in order.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use rand::{Rng as _, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Working seconds in a working day.
pub const DAY: i64 = 10 * 3600;
/// Moscow is UTC+3 all year round.
const MSK_OFFSET_HOURS: i64 = 3;

/// The business-hours clock of one demo run.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// The Monday the demo history starts on.
    start: NaiveDate,
    /// "Now" in working seconds: the end of the last working day before today.
    pub end: i64,
}

impl Clock {
    /// A clock whose history spans `years` years before `today` (Moscow date).
    pub fn new(today: NaiveDate, years: i32) -> Clock {
        let from = today
            .with_year(today.year() - years)
            .unwrap_or(today - Duration::days(365 * i64::from(years)));
        let start =
            from + Duration::days(i64::from((7 - from.weekday().num_days_from_monday()) % 7));
        let days = (today - start).num_days().max(0);
        let workdays = days / 7 * 5 + (days % 7).min(5);
        Clock {
            start,
            end: workdays * DAY - 60,
        }
    }

    /// Today's clock for the current Moscow date.
    pub fn today() -> Clock {
        let now = Utc::now() + Duration::hours(MSK_OFFSET_HOURS);
        Clock::new(now.date_naive(), 3)
    }

    /// The calendar instant of a working-seconds time (may lie after `end`).
    pub fn instant(&self, t: i64) -> DateTime<Utc> {
        let t = t.max(0);
        let (day, secs) = (t / DAY, t % DAY);
        let date = self.start + Duration::days(day / 5 * 7 + day % 5);
        let local = date.and_time(NaiveTime::MIN)
            + Duration::seconds(9 * 3600 + secs - MSK_OFFSET_HOURS * 3600);
        Utc.from_utc_datetime(&local)
    }

    /// The Moscow calendar date of a working-seconds time.
    pub fn date(&self, t: i64) -> NaiveDate {
        (self.instant(t) + Duration::hours(MSK_OFFSET_HOURS)).date_naive()
    }
}

/// Working days as working seconds.
pub fn days(d: f64) -> i64 {
    (d * DAY as f64) as i64
}

/// A seeded random stream with the helpers the generators need.
pub struct Rng(ChaCha8Rng);

impl Rng {
    /// A stream for one purpose: the same seed and name always give the same numbers.
    pub fn new(seed: u64, stream: &str) -> Rng {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in stream.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        Rng(ChaCha8Rng::seed_from_u64(seed ^ h.rotate_left(17)))
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        self.0.gen::<f64>()
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Uniform in `[lo, hi)`; `lo` when the range is empty.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            lo
        } else {
            self.0.gen_range(lo..hi)
        }
    }

    pub fn index(&mut self, len: usize) -> usize {
        if len <= 1 {
            0
        } else {
            self.0.gen_range(0..len)
        }
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }

    /// An index chosen with the given weights.
    pub fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u32 = weights.iter().sum();
        let mut x = self.0.gen_range(0..total.max(1));
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len().saturating_sub(1)
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.unit().max(1e-12);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Log-normal around `median` with spread `sigma`.
    pub fn lognormal(&mut self, median: f64, sigma: f64) -> f64 {
        median * (sigma * self.normal()).exp()
    }

    /// A small count with the given mean (Poisson by inversion; fine for means < 30).
    pub fn poisson(&mut self, mean: f64) -> usize {
        let limit = (-mean).exp();
        let mut p = self.unit();
        let mut n = 0;
        while p > limit && n < 200 {
            p *= self.unit();
            n += 1;
        }
        n
    }
}

/// A pick among items by cumulative weight (owners, teams).
#[derive(Debug, Clone, Default)]
pub struct Weighted<T> {
    items: Vec<T>,
    cumulative: Vec<f64>,
}

impl<T: Copy> Weighted<T> {
    pub fn new(items: impl IntoIterator<Item = (T, f64)>) -> Weighted<T> {
        let mut out = Weighted {
            items: Vec::new(),
            cumulative: Vec::new(),
        };
        let mut sum = 0.0;
        for (item, w) in items {
            sum += w.max(0.0);
            out.items.push(item);
            out.cumulative.push(sum);
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn pick(&self, rng: &mut Rng) -> T {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let x = rng.unit() * total;
        let i = self
            .cumulative
            .partition_point(|c| *c <= x)
            .min(self.items.len() - 1);
        self.items[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Timelike;

    #[test]
    fn business_hours_only_and_monotonic() {
        let clock = Clock::new(NaiveDate::from_ymd_opt(2025, 6, 18).unwrap(), 3);
        let mut last = clock.instant(0);
        for t in (0..clock.end).step_by(1733) {
            let at = clock.instant(t);
            assert!(at >= last);
            last = at;
            let msk = at + Duration::hours(3);
            assert!(msk.weekday().num_days_from_monday() < 5, "{msk}");
            assert!((9..19).contains(&msk.hour()), "{msk}");
        }
        assert!(clock.date(clock.end) < NaiveDate::from_ymd_opt(2025, 6, 18).unwrap());
        assert!(clock.date(clock.end) >= NaiveDate::from_ymd_opt(2025, 6, 17).unwrap());
    }

    #[test]
    fn streams_are_reproducible() {
        let a: Vec<i64> = (0..5)
            .map({
                let mut r = Rng::new(7, "x");
                move |_| r.range(0, 1000)
            })
            .collect();
        let b: Vec<i64> = (0..5)
            .map({
                let mut r = Rng::new(7, "x");
                move |_| r.range(0, 1000)
            })
            .collect();
        let c: Vec<i64> = (0..5)
            .map({
                let mut r = Rng::new(7, "y");
                move |_| r.range(0, 1000)
            })
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
