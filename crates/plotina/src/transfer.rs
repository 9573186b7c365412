//! `plotina import`: imports a CSV/XLSX/XLS file as the first administrator (or `--login`)
//! with a progress bar, prints the report in the chosen language, and undoes batches.

use std::path::PathBuf;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use plotina_core::policy::Actor;
use plotina_server::api::imports::{importable, problem_message, rejects_csv};
use plotina_server::i18n::{I18n, Lang};
use plotina_store::import::{self, ImportRequest, OnDuplicate, Preset};
use plotina_store::{auth, Store, StoreError};

#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// companies, contacts, leads, deals or activities — or `undo`.
    pub what: String,
    /// The file to import (for `undo`: the batch number).
    pub file: String,
    /// Check everything and report, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Column names of an export: bitrix24 (CSV) or amocrm (XLSX).
    #[arg(long)]
    pub preset: Option<String>,
    /// Rows matching an existing record (INN, e-mail, phone, company name): skip, update or create.
    #[arg(long, default_value = "skip")]
    pub on_duplicate: String,
    /// A saved mapping to use by name.
    #[arg(long)]
    pub mapping: Option<String>,
    /// Save the mapping used under this name.
    #[arg(long)]
    pub save_mapping: Option<String>,
    /// Write the rejected rows (with their problems) to this CSV file.
    #[arg(long)]
    pub rejects: Option<PathBuf>,
    /// Import as this user (default: the first administrator).
    #[arg(long)]
    pub login: Option<String>,
    /// Language of the report: ru or en (default: from LANG).
    #[arg(long)]
    pub lang: Option<String>,
}

fn lang(args: &ImportArgs) -> Lang {
    cli_lang(args.lang.as_deref())
}

/// `--lang`, else English when `LANG` says so, else Russian.
pub(crate) fn cli_lang(flag: Option<&str>) -> Lang {
    flag.and_then(Lang::from_code)
        .or_else(|| {
            std::env::var("LANG")
                .ok()
                .filter(|l| l.starts_with("en"))
                .map(|_| Lang::En)
        })
        .unwrap_or(Lang::Ru)
}

/// A store error as a sentence in `lang`.
pub(crate) fn explain(lang: Lang, e: StoreError) -> anyhow::Error {
    use plotina_core::DomainError as D;
    let i = I18n::get();
    match e {
        StoreError::Domain(D::BadRequest(fe) | D::Conflict(fe)) => {
            anyhow::anyhow!("{}", i.text(lang, fe.code, &fe.args))
        }
        StoreError::Domain(D::Invalid(errs)) => anyhow::anyhow!(
            "{}",
            errs.iter()
                .map(|fe| format!("{}: {}", fe.field, i.text(lang, fe.code, &fe.args)))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        StoreError::Domain(D::Forbidden(code)) => anyhow::anyhow!("{}", i.text(lang, code, &[])),
        StoreError::Domain(D::NotFound) => anyhow::anyhow!("{}", i.text(lang, "not_found", &[])),
        other => crate::commands::describe(other),
    }
}

pub(crate) async fn actor(store: &Store, login: Option<&str>) -> anyhow::Result<Actor> {
    let id = match login {
        Some(l) => auth::user_id_by_login(store.pool(), l)
            .await?
            .with_context(|| format!("no user {l}"))?,
        None => auth::first_admin(store.pool())
            .await?
            .context("no administrator yet: run `plotina serve` once or `plotina demo`")?,
    };
    auth::actor_for(store.pool(), id)
        .await?
        .context("the user is inactive")
}

pub async fn run(store: &Store, args: ImportArgs) -> anyhow::Result<()> {
    let lang = lang(&args);
    let i = I18n::get();
    let actor = actor(store, args.login.as_deref()).await?;
    // Batches a stopped server or CLI left `running` are marked `interrupted` first, so
    // that they can be undone here.
    let stale = chrono::Duration::seconds(import::STALE_AFTER_SECS);
    for id in import::recover_interrupted(store, stale)
        .await
        .map_err(|e| explain(lang, e))?
    {
        eprintln!(
            "{}",
            i.text(lang, "import-marked-interrupted", &[("id", id.to_string())])
        );
    }
    if args.what == "undo" {
        let id: i64 = args.file.parse().context("undo takes a batch number")?;
        import::undo(store, &actor, id)
            .await
            .map_err(|e| explain(lang, e))?;
        println!(
            "{}",
            i.text(lang, "import-undone", &[("id", id.to_string())])
        );
        return Ok(());
    }
    let entity =
        importable(&args.what).with_context(|| i.text(lang, "import_entity_unknown", &[]))?;
    let preset = match args.preset.as_deref() {
        None => None,
        Some(p) => {
            Some(Preset::parse(p).with_context(|| i.text(lang, "import_preset_unknown", &[]))?)
        }
    };
    let on_duplicate = OnDuplicate::parse(&args.on_duplicate)
        .with_context(|| i.text(lang, "import_on_duplicate_unknown", &[]))?;
    let columns = match args.mapping.as_deref() {
        None => None,
        Some(name) => Some(
            import::load_mapping(store, entity, name)
                .await
                .map_err(|e| explain(lang, e))?
                .with_context(|| i.text(lang, "import_mapping_unknown", &[]))?,
        ),
    };
    let path = PathBuf::from(&args.file);
    let req = ImportRequest {
        entity,
        file_name: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        dry_run: args.dry_run,
        on_duplicate,
        preset,
        columns,
        per_row: false,
    };
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{msg:>6} [{bar:40}] {pos}/{len} ({per_sec}, {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let started = std::time::Instant::now();
    let report = import::run(store, &actor, &path, &req, &|p| {
        bar.set_message(p.phase);
        bar.set_length(p.total);
        bar.set_position(p.done);
    })
    .await
    .map_err(|e| explain(lang, e));
    bar.finish_and_clear();
    let report = report?;
    if let Some(name) = args.save_mapping.as_deref() {
        import::save_mapping(store, &actor, entity, name, &report.mapping)
            .await
            .map_err(|e| explain(lang, e))?;
    }
    println!(
        "{}",
        i.text(lang, "import-batch", &[("id", report.batch_id.to_string())])
    );
    for c in &report.mapping {
        println!(
            "  {:<30} → {}",
            c.header,
            c.target.as_deref().unwrap_or("—")
        );
    }
    const SHOWN: usize = 30;
    for p in report.problems.iter().take(SHOWN) {
        let message = problem_message(lang, p);
        let line = match &p.column {
            Some(c) => i.text(
                lang,
                "import-problem",
                &[
                    ("row", p.row.to_string()),
                    ("column", c.clone()),
                    ("message", message),
                ],
            ),
            None => i.text(
                lang,
                "import-problem-row",
                &[("row", p.row.to_string()), ("message", message)],
            ),
        };
        println!("{line}");
    }
    if report.rejected as usize > SHOWN {
        println!("… (--rejects FILE)");
    }
    println!(
        "{}",
        i.text(
            lang,
            "import-report",
            &[
                ("total", report.rows_total.to_string()),
                ("created", report.created.to_string()),
                ("updated", report.updated.to_string()),
                ("skipped", report.skipped.to_string()),
                ("rejected", report.rejected.to_string()),
            ]
        )
    );
    if report.dry_run {
        println!("{}", i.text(lang, "import-report-dry", &[]));
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "{:.1} s, {:.0} rows/s",
        secs,
        report.rows_total as f64 / secs.max(0.001)
    );
    if let Some(out) = args.rejects {
        let bytes = rejects_csv(store, &actor, report.batch_id, lang)
            .await
            .map_err(|e| explain(lang, e))?;
        std::fs::write(&out, bytes).with_context(|| format!("cannot write {}", out.display()))?;
    }
    Ok(())
}
