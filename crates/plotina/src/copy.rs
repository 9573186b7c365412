//! `plotina db copy`: moves a whole database to another engine with a progress bar, and
//! refuses to report success unless every table's count and checksum match.

use indicatif::{ProgressBar, ProgressStyle};
use plotina_store::{DbConfig, Pool};

pub async fn run(from: &str, to: &str) -> anyhow::Result<()> {
    let source = Pool::connect(&DbConfig {
        url: from.into(),
        max_connections: 2,
    })
    .await?;
    source.migrate().await?;
    let target = Pool::connect(&DbConfig {
        url: to.into(),
        max_connections: 2,
    })
    .await?;
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{msg:>18} [{bar:40}] {pos}/{len} rows ({per_sec}, {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let report = plotina_store::copy::copy_database(&source, &target, &|p| {
        bar.set_message(p.table.to_string());
        bar.set_length(p.total);
        bar.set_position(p.done);
    })
    .await?;
    bar.finish_and_clear();
    println!(
        "{:<20} {:>10}  {:<16} {:<16}",
        "table", "rows", "source checksum", "target checksum"
    );
    for t in &report.tables {
        println!(
            "{:<20} {:>10}  {:<16} {:<16}",
            t.table,
            t.rows_copied,
            &t.source_checksum[..16.min(t.source_checksum.len())],
            &t.target_checksum[..16.min(t.target_checksum.len())]
        );
    }
    if report.ok() {
        println!("copy verified: every table has the same rows and checksum");
        Ok(())
    } else {
        anyhow::bail!("copy verification FAILED: see the table above")
    }
}
