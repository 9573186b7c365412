//! The customer-classes job: recalculates the ABC/XYZ class of every company once per
//! schedule period (`[reports] abc_recalculate = "monthly"` in plotina.toml; `weekly`,
//! `daily` or `off`). It checks at start — so a server that was down when a period
//! began catches up at once — and then every `abc_check_secs`; the check is one query,
//! and `Store::scheduled_customer_classes` calculates only when the last calculation is
//! older than the current period, marking the run with the period's unique key, so
//! restarts and several servers never calculate a period twice.

use std::sync::Arc;
use std::time::Duration;

use plotina_store::reports::abc_xyz::Thresholds;
use plotina_store::reports::classes::{ClassSettings, Schedule};
use plotina_store::Store;
use serde::{Deserialize, Serialize};

/// `[reports]` in plotina.toml (`PLOTINA_REPORTS__ABC_RECALCULATE`… in the environment).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ReportsConfig {
    /// `monthly` (default), `weekly`, `daily` or `off`.
    pub abc_recalculate: String,
    /// Seconds between the job's checks.
    pub abc_check_secs: u64,
    /// Whole months before the calculation's month that the classes look at.
    pub abc_months: u32,
    /// Rank customers by `revenue` (default) or by the `count` of won deals.
    pub abc_by: String,
    /// Share of class A and of class B, percent.
    pub abc_a: f64,
    pub abc_b: f64,
    /// Largest coefficient of variation of class X and of class Y, percent.
    pub xyz_x: f64,
    pub xyz_y: f64,
}

impl Default for ReportsConfig {
    fn default() -> Self {
        let t = Thresholds::default();
        ReportsConfig {
            abc_recalculate: "monthly".into(),
            abc_check_secs: 3600,
            abc_months: 12,
            abc_by: "revenue".into(),
            abc_a: t.a,
            abc_b: t.b,
            xyz_x: t.x,
            xyz_y: t.y,
        }
    }
}

impl ReportsConfig {
    /// The schedule, or what is wrong with the setting.
    pub fn schedule(&self) -> anyhow::Result<Schedule> {
        Schedule::parse(&self.abc_recalculate).ok_or_else(|| {
            anyhow::anyhow!(
                "reports.abc_recalculate must be monthly, weekly, daily or off, not {:?}",
                self.abc_recalculate
            )
        })
    }

    /// The calculation's settings, checked.
    pub fn class_settings(&self) -> anyhow::Result<ClassSettings> {
        let by_count = match self.abc_by.as_str() {
            "revenue" => false,
            "count" => true,
            other => anyhow::bail!("reports.abc_by must be revenue or count, not {other:?}"),
        };
        let s = ClassSettings {
            thresholds: Thresholds {
                a: self.abc_a,
                b: self.abc_b,
                x: self.xyz_x,
                y: self.xyz_y,
                by_count,
            },
            months: self.abc_months,
        };
        s.validate().map_err(|e| {
            anyhow::anyhow!(
                "[reports] thresholds or months are out of range ({e}): 0 < abc_a, 0 < abc_b, abc_a + abc_b < 100, 0 < xyz_x < xyz_y < 1000, abc_months 1..60"
            )
        })?;
        Ok(s)
    }
}

/// Starts the job (nothing when the schedule is `off`).
pub fn spawn(
    store: Arc<Store>,
    config: &ReportsConfig,
) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    let schedule = config.schedule()?;
    let settings = config.class_settings()?;
    if schedule == Schedule::Off {
        return Ok(None);
    }
    let every = Duration::from_secs(config.abc_check_secs.max(60));
    Ok(Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match store
                .scheduled_customer_classes(schedule, &settings, plotina_core::value::now())
                .await
            {
                Ok(Some(run)) => tracing::info!(
                    run = run.id,
                    period = run.period_key.as_deref().unwrap_or_default(),
                    customers = run.customers,
                    changed = run.changed,
                    "customer classes recalculated"
                ),
                Ok(None) => {}
                Err(e) => tracing::error!(error = ?e, "customer classes failed"),
            }
        }
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked() {
        let c = ReportsConfig::default();
        assert_eq!(c.schedule().unwrap(), Schedule::Monthly);
        let s = c.class_settings().unwrap();
        assert_eq!((s.months, s.thresholds.a, s.thresholds.y), (12, 70.0, 25.0));
        let bad = ReportsConfig {
            abc_recalculate: "hourly".into(),
            ..Default::default()
        };
        assert!(bad.schedule().is_err());
        let bad = ReportsConfig {
            abc_a: 85.0,
            abc_b: 20.0,
            ..Default::default()
        };
        assert!(bad.class_settings().is_err());
        let bad = ReportsConfig {
            abc_by: "profit".into(),
            ..Default::default()
        };
        assert!(bad.class_settings().is_err());
    }
}
