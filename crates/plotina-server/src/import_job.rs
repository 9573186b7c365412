//! Imports left `running` by a server (or CLI) that stopped: at start and then every
//! [`POLL`] the server marks them `interrupted` once their heartbeat is older than
//! `import::STALE_AFTER_SECS` (see `plotina_store::import::recover_interrupted`), so that
//! their pages say so and their committed rows can be undone.

use std::sync::Arc;
use std::time::Duration;

use plotina_store::{import, Store};

/// How often the server looks for abandoned imports.
pub const POLL: Duration = Duration::from_secs(30);

/// One pass: the batches marked `interrupted`.
pub async fn run_once(store: &Store) -> anyhow::Result<Vec<i64>> {
    let stale = chrono::Duration::seconds(import::STALE_AFTER_SECS);
    let marked = import::recover_interrupted(store, stale)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    for id in &marked {
        tracing::warn!(
            batch = id,
            "import left running by a stopped process: interrupted"
        );
    }
    Ok(marked)
}

/// The first pass now, then one every [`POLL`].
pub fn spawn(store: Arc<Store>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(e) = run_once(&store).await {
                tracing::error!(error = ?e, "looking for interrupted imports failed");
            }
            tokio::time::sleep(POLL).await;
        }
    })
}
