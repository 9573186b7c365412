//! Layered configuration: defaults → plotina.toml → PLOTINA_* environment → flags.

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use plotina_server::Config;

use crate::Cli;

pub fn load(cli: &Cli) -> anyhow::Result<Config> {
    let mut fig = Figment::from(Serialized::defaults(Config::default()));
    let file = cli.config.clone().unwrap_or_else(|| "plotina.toml".into());
    if cli.config.is_some() && !file.exists() {
        anyhow::bail!("configuration file {} not found", file.display());
    }
    fig = fig.merge(Toml::file(file)).merge(
        Env::prefixed("PLOTINA_")
            .ignore(&["config", "log"])
            .split("__"),
    );
    let mut config: Config = fig.extract()?;
    if let Some(url) = &cli.database_url {
        config.database_url = plotina_server::config::Secret(url.clone());
    }
    if let Some(dir) = &cli.data_dir {
        config.data_dir = dir.clone();
    }
    Ok(config)
}
