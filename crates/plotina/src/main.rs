//! `plotina`: the one binary. Serves the CRM, migrates, fills demo data, manages users
//! and tokens, copies databases between engines and benchmarks a running server.

mod bench;
mod commands;
mod copy;
mod demo;
mod duplicates;
mod export;
mod notebook;
mod reports;
mod settings;
mod transfer;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(name = "plotina", version, about = "Plotina — a self-hosted CRM")]
pub struct Cli {
    /// Configuration file (default: ./plotina.toml when present).
    #[arg(long, global = true, env = "PLOTINA_CONFIG")]
    pub config: Option<std::path::PathBuf>,
    /// Database URL: sqlite://path or postgres://user:pass@host/db (default: SQLite under the data dir).
    #[arg(long, global = true)]
    pub database_url: Option<String>,
    /// Data directory for the SQLite database and attachments.
    #[arg(long, global = true)]
    pub data_dir: Option<std::path::PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the web server and the API.
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:8080.
        #[arg(long)]
        listen: Option<String>,
        /// Fill an empty database with demo data (and print the admin password).
        #[arg(long)]
        demo: bool,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Fill the database with a deterministic demo data set.
    Demo {
        #[arg(long, value_enum, default_value_t = Size::Small)]
        size: Size,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Password for the `admin` user (random when not given).
        #[arg(long)]
        admin_password: Option<String>,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Benchmark a running server (and the store directly) with concurrent clients.
    Bench {
        /// Server URL, e.g. http://127.0.0.1:8080.
        #[arg(long)]
        url: Option<String>,
        /// API token (plotina token create --login admin).
        #[arg(long, env = "PLOTINA_BENCH_TOKEN")]
        token: Option<String>,
        /// How long each scenario runs: 10s, 500ms, 1m.
        #[arg(long, default_value = "10s", value_parser = bench::parse_duration)]
        duration: std::time::Duration,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// Run only these scenarios (repeatable).
        #[arg(long = "scenario")]
        scenarios: Vec<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Only the store, no HTTP: the floor the server is compared against.
        #[arg(long)]
        direct: bool,
    },
    /// The notebook's sweep and benchmark data.
    Notebook {
        #[command(subcommand)]
        command: notebook::NotebookCommand,
    },
    /// Import companies, contacts, leads, deals or activities from CSV/XLSX/XLS
    /// (`plotina import companies clients.xlsx --dry-run`), or undo an import
    /// (`plotina import undo 12`).
    Import(transfer::ImportArgs),
    /// Export a filtered list to CSV, XLSX or JSON with the user's rights and row limit
    /// (`plotina export deals --filter 'stage = "won"' --format xlsx`); every export is logged.
    Export(export::ExportArgs),
    /// Duplicates: list groups, key old records, benchmark the finder.
    Duplicates {
        #[command(subcommand)]
        command: DuplicatesCommand,
    },
    /// Report jobs: `plotina reports recalculate-classes` stores every company's ABC/XYZ class.
    Reports {
        #[command(subcommand)]
        command: reports::ReportsCommand,
    },
    /// Database tools.
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum Size {
    Small,
    Medium,
    Large,
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Add a user; prints the password when none is given.
    Add {
        #[arg(long)]
        login: String,
        #[arg(long)]
        name: String,
        /// Role code: admin, head_of_sales, manager, support, marketing.
        #[arg(long, default_value = "manager")]
        role: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        password: Option<String>,
    },
    /// List users.
    List,
    /// Set a user's password (prints a new random one when none is given).
    Passwd {
        login: String,
        #[arg(long)]
        password: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create an API token for a user; the token is printed on the last line.
    Create {
        #[arg(long)]
        login: String,
        #[arg(long, default_value = "cli")]
        name: String,
    },
    /// Revoke a token by its id.
    Revoke { id: i64 },
}

#[derive(Subcommand, Debug)]
pub enum DuplicatesCommand {
    /// Print groups of records sharing INN(+KPP), phone, e-mail or normalised name (JSON lines).
    Find {
        /// company, contact or lead.
        #[arg(long, default_value = "company")]
        entity: String,
        /// inn_kpp, inn, phone, email or name (all when absent).
        #[arg(long)]
        reason: Option<String>,
        #[arg(long, default_value_t = 1000)]
        limit: u64,
    },
    /// Write the name keys of records that have none (data written before the duplicates
    /// migration or by bulk loaders).
    Reindex,
    /// Fill an EMPTY database with N purpose-built contacts and time the finder on them.
    Bench {
        #[arg(long, default_value_t = 1_000_000)]
        contacts: u64,
    },
}

#[derive(Subcommand, Debug)]
pub enum DbCommand {
    /// Copy a whole database to another (empty) one, e.g. SQLite → PostgreSQL, and verify it.
    Copy {
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PLOTINA_LOG").unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=warn")
            }),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
