//! `plotina demo` and `serve --demo`: a realistic data set with a progress bar.

use indicatif::{ProgressBar, ProgressStyle};
use plotina_store::demo::{self, DemoSize};
use plotina_store::Store;

use crate::Size;

pub async fn fill(
    store: &Store,
    size: Size,
    seed: u64,
    admin_password: &str,
) -> anyhow::Result<()> {
    if !demo::is_empty(store).await? {
        anyhow::bail!("the database has records already; demo data goes into an empty database");
    }
    let size = match size {
        Size::Small => DemoSize::Small,
        Size::Medium => DemoSize::Medium,
        Size::Large => DemoSize::Large,
    };
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{msg:>14} [{bar:40}] {pos}/{len} ({per_sec}, {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let started = std::time::Instant::now();
    let report = demo::generate(store, size, seed, admin_password, &|p| {
        bar.set_message(p.phase);
        bar.set_length(p.total);
        bar.set_position(p.done);
    })
    .await?;
    bar.finish_and_clear();
    for (what, n) in &report.counts {
        println!("{what:>16}: {n}");
    }
    println!("demo data ready in {:.1}s", started.elapsed().as_secs_f64());
    println!(
        "Log in as:\n  login:    {}\n  password: {}",
        report.admin_login, report.admin_password
    );
    Ok(())
}
