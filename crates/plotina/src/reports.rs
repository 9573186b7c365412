//! `plotina reports`: report jobs run by hand (for cron, or right after an import).

use clap::Subcommand;
use plotina_store::{bootstrap, DbConfig, Store};

#[derive(Subcommand, Debug)]
pub enum ReportsCommand {
    /// Recalculate the stored ABC/XYZ class of every company now, with the `[reports]`
    /// thresholds and window (the server does it on its schedule, `abc_recalculate`).
    RecalculateClasses {
        /// Only if the schedule's current period has no calculation yet (for cron
        /// alongside servers that run the job): never a second one in a period.
        #[arg(long)]
        if_due: bool,
    },
}

pub async fn run(config: plotina_server::Config, command: ReportsCommand) -> anyhow::Result<()> {
    let settings = config.reports.class_settings()?;
    let store = Store::open(&DbConfig {
        url: config.database_url(),
        max_connections: config.pool_size,
    })
    .await?;
    bootstrap::seed_roles(store.pool()).await?;
    let now = plotina_core::value::now();
    match command {
        ReportsCommand::RecalculateClasses { if_due } => {
            let run = if if_due {
                let schedule = config.reports.schedule()?;
                store
                    .scheduled_customer_classes(schedule, &settings, now)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?
            } else {
                Some(
                    store
                        .recalculate_customer_classes(None, &settings, now, "cli")
                        .await
                        .map_err(|e| anyhow::anyhow!("{e}"))?,
                )
            };
            match run {
                Some(r) => println!(
                    "calculation {}: {} customers, {} changed, window {} .. {}",
                    r.id, r.customers, r.changed, r.window_from, r.window_to
                ),
                None => println!("not due: this period already has a calculation"),
            }
        }
    }
    Ok(())
}
