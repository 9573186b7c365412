//! `plotina notebook`: run the sweep now (for cron when the server's own schedule is not
//! wanted) and build the benchmark's purpose-built data set.

use anyhow::Context;
use chrono::Duration;
use clap::Subcommand;
use plotina_store::gates::GateInput;
use plotina_store::notebook::{post_item, NewItem};
use plotina_store::{auth, bootstrap, DbConfig, Store};

#[derive(Subcommand, Debug)]
pub enum NotebookCommand {
    /// Post due-task and stale-deal items now (the server does it every 5 minutes).
    Sweep,
    /// Give one user many open items and add a deal-move gate they pass, for
    /// `plotina bench --scenario notebook_open_items --scenario gate_check`.
    BenchData {
        #[arg(long, default_value = "admin")]
        login: String,
        #[arg(long, default_value_t = 10_000)]
        items: u64,
    },
}

async fn open(config: &plotina_server::Config) -> anyhow::Result<Store> {
    let store = Store::open(&DbConfig {
        url: config.database_url(),
        max_connections: config.pool_size,
    })
    .await?;
    bootstrap::seed_roles(store.pool()).await?;
    Ok(store)
}

pub async fn run(config: plotina_server::Config, command: NotebookCommand) -> anyhow::Result<()> {
    let store = open(&config).await?;
    match command {
        NotebookCommand::Sweep => {
            let out = store
                .sweep_notebook(plotina_core::value::now())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("task_due: {}, deal_stale: {}", out.task_due, out.deal_stale);
        }
        NotebookCommand::BenchData { login, items } => {
            let user = auth::user_id_by_login(store.pool(), &login)
                .await?
                .with_context(|| format!("no user {login}"))?;
            let admin_id = auth::first_admin(store.pool())
                .await?
                .context("no administrator")?;
            let admin = auth::actor_for(store.pool(), admin_id)
                .await?
                .context("administrator inactive")?;
            let now = plotina_core::value::now();
            let kinds = [
                "system",
                "reminder",
                "task_assigned",
                "web_order",
                "missed_call",
            ];
            let mut tx = store.pool().begin_write().await?;
            for i in 0..items {
                // A fifth overdue, half in the coming weeks, the rest undated.
                let due = match i % 10 {
                    0 | 1 => Some(now - Duration::minutes(1 + (i as i64 % 5000))),
                    2..=6 => Some(now + Duration::minutes(1 + (i as i64 % 40_000))),
                    _ => None,
                };
                post_item(
                    &mut tx,
                    &NewItem {
                        kind: kinds[(i % kinds.len() as u64) as usize].into(),
                        owner_id: user,
                        text: format!("Пункт для замера {i}"),
                        due_at: due,
                        source: "bench".into(),
                        dedupe_key: Some(format!("bench:{i}")),
                        ..Default::default()
                    },
                )
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            }
            tx.commit().await?;
            let gate: GateInput = serde_json::from_value(serde_json::json!({
                "name": "Застрявшие сделки старше суток", "action": "deal_move",
                "kinds": ["deal_stale"], "older_than_hours": 24}))?;
            store
                .create_gate(&admin, &gate)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{items} open items for {login}; a deal_move gate on stale deals");
        }
    }
    Ok(())
}
