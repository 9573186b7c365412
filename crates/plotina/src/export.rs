//! `plotina export deals --filter '…' --format xlsx`: the same export as the list
//! pages and the API (rights, row limit, log, notice), written to a file.

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use anyhow::Context;
use plotina_core::schema::Entity;
use plotina_server::api::exports::{self, parse_delimiter, parse_format, ExportSpec};
use plotina_server::i18n::I18n;
use plotina_store::Store;

use crate::transfer::{actor, cli_lang, explain};

#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// companies, contacts, leads, deals or activities.
    pub what: String,
    /// csv (UTF-8 with BOM), xlsx or json.
    #[arg(long, default_value = "csv")]
    pub format: String,
    /// Filter language, as in the lists: `stage = "won" and amount >= 100000`.
    #[arg(long)]
    pub filter: Option<String>,
    /// Free-text search (name, INN, phone, e-mail).
    #[arg(long)]
    pub q: Option<String>,
    /// Comma-separated field names (`custom.<key>` for custom fields); default: the visible fields.
    #[arg(long, value_delimiter = ',')]
    pub columns: Vec<String>,
    /// CSV delimiter: `;`, `,` or `tab`.
    #[arg(long, default_value = ";")]
    pub delimiter: String,
    /// The file to write (default: standard output).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Export as this user (default: the first administrator); their rights and limit apply.
    #[arg(long)]
    pub login: Option<String>,
    /// Language of the column headers and messages: ru or en (default: from LANG).
    #[arg(long)]
    pub lang: Option<String>,
}

pub async fn run(store: &Store, notify_above: u64, args: ExportArgs) -> anyhow::Result<()> {
    let lang = cli_lang(args.lang.as_deref());
    let i = I18n::get();
    let actor = actor(store, args.login.as_deref()).await?;
    let entity = Entity::from_plural(&args.what)
        .filter(|e| e.is_business())
        .with_context(|| i.text(lang, "export_bad_entity", &[]))?;
    let bad = |code: &str| anyhow::anyhow!("{}", i.text(lang, code, &[]));
    let spec = ExportSpec {
        entity,
        filter: args.filter,
        q: args.q,
        columns: args.columns,
        format: parse_format(Some(&args.format)).map_err(|_| bad("export_bad_format"))?,
        delimiter: parse_delimiter(Some(&args.delimiter))
            .map_err(|_| bad("export_bad_delimiter"))?,
        source: "cli",
    };
    let path = match args.output {
        None => {
            // To standard output: refusals happen before the first byte is written.
            let mut out = BufWriter::with_capacity(256 * 1024, std::io::stdout());
            let summary = exports::write(store, notify_above, &actor, lang, &spec, &mut out)
                .await
                .map_err(|e| explain(lang, e))?;
            out.flush().context("cannot write to standard output")?;
            eprintln!(
                "{}",
                i.text(
                    lang,
                    "export-done",
                    &[
                        ("rows", summary.rows.to_string()),
                        ("path", "stdout".into())
                    ],
                )
            );
            return Ok(());
        }
        Some(path) => path,
    };
    // Written beside the target and renamed at the end: a refused or failed export
    // leaves no half-written file under the wanted name.
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write to {}", dir.display()))?;
    let mut out = BufWriter::new(tmp);
    let summary = exports::write(store, notify_above, &actor, lang, &spec, &mut out)
        .await
        .map_err(|e| explain(lang, e))?;
    let tmp = out.into_inner().context("cannot finish the file")?;
    tmp.persist(&path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    println!(
        "{}",
        i.text(
            lang,
            "export-done",
            &[
                ("rows", summary.rows.to_string()),
                ("path", path.display().to_string()),
            ],
        )
    );
    Ok(())
}
