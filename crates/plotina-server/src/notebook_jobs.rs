//! The notebook's scheduled job: every five minutes the server sweeps due tasks and
//! stale deals into notebooks (`Store::sweep_notebook`; dedupe keys make repeats and
//! restarts harmless). The first run is one period after start.

use std::sync::Arc;
use std::time::Duration;

use plotina_store::Store;

pub const PERIOD: Duration = Duration::from_secs(300);

pub fn spawn(store: Arc<Store>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + PERIOD, PERIOD);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match store.sweep_notebook(plotina_core::value::now()).await {
                Ok(out) if out.task_due + out.deal_stale > 0 => {
                    tracing::info!(
                        task_due = out.task_due,
                        deal_stale = out.deal_stale,
                        "notebook sweep"
                    );
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = ?e, "notebook sweep failed"),
            }
        }
    })
}
