//! What each subcommand does.

use std::sync::Arc;

use anyhow::Context;
use plotina_core::policy::Actor;
use plotina_store::{auth, bootstrap, DbConfig, Store};
use serde_json::Map;

use crate::{
    settings, Cli, Command, DbCommand, DuplicatesCommand, Size, TokenCommand, UserCommand,
};

fn random_password() -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..14)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect()
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

/// The first administrator, acting for the CLI.
async fn admin_actor(store: &Store) -> anyhow::Result<Actor> {
    let id = auth::first_admin(store.pool())
        .await?
        .context("no administrator yet: run `plotina serve` once or `plotina demo`")?;
    auth::actor_for(store.pool(), id)
        .await?
        .context("the administrator is inactive")
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut config = settings::load(&cli)?;
    match cli.command {
        Command::Serve { listen, demo } => {
            if let Some(l) = listen {
                config.listen = l;
            }
            serve(config, demo).await
        }
        Command::Migrate => {
            let store = open(&config).await?;
            println!("database is up to date ({:?})", store.backend());
            Ok(())
        }
        Command::Demo {
            size,
            seed,
            admin_password,
        } => {
            let store = open(&config).await?;
            let password = admin_password.unwrap_or_else(random_password);
            crate::demo::fill(&store, size, seed, &password).await
        }
        Command::User { command } => user(config, command).await,
        Command::Token { command } => token(config, command).await,
        Command::Notebook { command } => crate::notebook::run(config, command).await,
        Command::Reports { command } => crate::reports::run(config, command).await,
        Command::Db {
            command: DbCommand::Copy { from, to },
        } => crate::copy::run(&from, &to).await,
        Command::Import(args) => crate::transfer::run(&open(&config).await?, args).await,
        Command::Export(args) => {
            let store = open(&config).await?;
            crate::export::run(&store, config.export_notify_above_rows, args).await
        }
        Command::Duplicates { command } => {
            let store = open(&config).await?;
            match command {
                DuplicatesCommand::Find {
                    entity,
                    reason,
                    limit,
                } => {
                    let actor = admin_actor(&store).await?;
                    crate::duplicates::find(&store, &actor, &entity, reason.as_deref(), limit).await
                }
                DuplicatesCommand::Reindex => crate::duplicates::reindex(&store).await,
                DuplicatesCommand::Bench { contacts } => {
                    let actor = admin_actor(&store).await?;
                    crate::duplicates::bench(&store, &actor, contacts).await
                }
            }
        }
        Command::Bench {
            url,
            token,
            duration,
            concurrency,
            scenarios,
            json,
            direct,
        } => {
            let store = open(&config).await?;
            let args = crate::bench::BenchArgs {
                url,
                token,
                duration,
                concurrency: concurrency.max(1),
                scenarios,
                json,
                direct,
            };
            crate::bench::run(store, args).await
        }
    }
}

async fn serve(config: plotina_server::Config, demo: bool) -> anyhow::Result<()> {
    let store = Arc::new(open(&config).await?);
    if bootstrap::user_count(store.pool()).await? == 0 {
        let password = random_password();
        if demo {
            crate::demo::fill(&store, Size::Small, 42, &password).await?;
        } else {
            bootstrap::create_user(
                &store,
                None,
                "admin",
                "Администратор",
                "admin",
                &password,
                Map::new(),
            )
            .await?;
            let actor = admin_actor(&store).await?;
            bootstrap::seed_pipeline(&store, &actor).await?;
            println!("Created the administrator:\n  login:    admin\n  password: {password}");
        }
    } else if demo {
        println!("The database has data already; demo data was not added. Reset a password with `plotina user passwd admin`.");
    }
    let app = plotina_server::Application::with_store(config.clone(), store).await?;
    println!(
        "Plotina is running on http://{}  (Ctrl-C to stop)",
        display_addr(&config.listen, app.port())
    );
    app.run_until_stopped().await
}

fn display_addr(listen: &str, port: u16) -> String {
    let host = listen.rsplit_once(':').map_or(listen, |(h, _)| h);
    format!("{host}:{port}")
}

async fn user(config: plotina_server::Config, command: UserCommand) -> anyhow::Result<()> {
    let store = open(&config).await?;
    match command {
        UserCommand::Add {
            login,
            name,
            role,
            email,
            password,
        } => {
            let generated = password.is_none();
            let password = password.unwrap_or_else(random_password);
            let mut extra = Map::new();
            if let Some(e) = email {
                extra.insert("email".into(), e.into());
            }
            let by = match bootstrap::user_count(store.pool()).await? {
                0 => None,
                _ => Some(admin_actor(&store).await?),
            };
            let id =
                bootstrap::create_user(&store, by.as_ref(), &login, &name, &role, &password, extra)
                    .await
                    .map_err(describe)?;
            println!("user {login} created (id {id})");
            if generated {
                println!("password: {password}");
            }
        }
        UserCommand::List => {
            let actor = admin_actor(&store).await?;
            let params = plotina_store::ListParams {
                sort: Some("login".into()),
                limit: Some(500),
                ..Default::default()
            };
            let page = store
                .list(&actor, plotina_core::Entity::User, &params)
                .await
                .map_err(describe)?;
            println!(
                "{:>5}  {:<20} {:<30} {:<8} active",
                "id", "login", "name", "role"
            );
            for u in page.data {
                println!(
                    "{:>5}  {:<20} {:<30} {:<8} {}",
                    u["id"],
                    u["login"].as_str().unwrap_or(""),
                    u["name"].as_str().unwrap_or(""),
                    u["role_id"],
                    u["active"]
                );
            }
        }
        UserCommand::Passwd { login, password } => {
            let id = auth::user_id_by_login(store.pool(), &login)
                .await?
                .with_context(|| format!("no user {login}"))?;
            let generated = password.is_none();
            let password = password.unwrap_or_else(random_password);
            auth::set_password(store.pool(), id, &password).await?;
            println!("password of {login} changed");
            if generated {
                println!("password: {password}");
            }
        }
    }
    Ok(())
}

async fn token(config: plotina_server::Config, command: TokenCommand) -> anyhow::Result<()> {
    let store = open(&config).await?;
    match command {
        TokenCommand::Create { login, name } => {
            let id = auth::user_id_by_login(store.pool(), &login)
                .await?
                .with_context(|| format!("no user {login}"))?;
            let (token_id, token) = auth::create_token(store.pool(), id, &name).await?;
            eprintln!("token {token_id} for {login} (keep it secret; revoke with `plotina token revoke {token_id}`):");
            println!("{token}");
        }
        TokenCommand::Revoke { id } => {
            if auth::revoke_token(store.pool(), id).await? {
                println!("token {id} revoked");
            } else {
                anyhow::bail!("no live token {id}");
            }
        }
    }
    Ok(())
}

/// Store errors as readable text for the terminal.
pub fn describe(e: plotina_store::StoreError) -> anyhow::Error {
    match e {
        plotina_store::StoreError::Domain(d) => anyhow::anyhow!("{d}"),
        plotina_store::StoreError::Internal(e) => e,
    }
}
