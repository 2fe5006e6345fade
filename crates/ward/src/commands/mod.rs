//! One module per command family.

pub mod audit;
pub mod config;
pub mod dev_cert;
pub mod keys;
pub mod query;
pub mod redact;
pub mod serve;

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use ward_server::config::{Config, Settings};

/// Where a client command finds Ward.
#[derive(Debug, Clone, Args)]
pub struct Remote {
    /// Ward's HTTP address.
    #[arg(long, env = "WARD_URL", default_value = "http://127.0.0.1:4318")]
    pub url: String,
    /// API key (`ward_…`).
    #[arg(long, env = "WARD_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
}

/// Which configuration file to read.
#[derive(Debug, Clone, Args)]
pub struct ConfigArg {
    /// Configuration file; default `./ward.toml` when it exists, else built-in defaults.
    #[arg(long, short = 'c', env = "WARD_CONFIG")]
    pub config: Option<PathBuf>,
}

impl ConfigArg {
    /// The file to read, if any.
    pub fn path(&self) -> Option<PathBuf> {
        self.config.clone().or_else(|| {
            Path::new("ward.toml")
                .exists()
                .then(|| PathBuf::from("ward.toml"))
        })
    }

    /// Loads the file and the `WARD_*` overrides.
    pub fn load(&self) -> anyhow::Result<Config> {
        let path = self.path();
        let config = Config::load(path.as_deref(), |k| std::env::var(k).ok());
        match path {
            Some(p) => config.with_context(|| p.display().to_string()),
            None => Ok(config?),
        }
    }

    /// Loads and validates.
    pub fn settings(&self, config: Config) -> anyhow::Result<Settings> {
        let path = self.path();
        let settings = config.settings();
        match path {
            Some(p) => settings.with_context(|| p.display().to_string()),
            None => Ok(settings?),
        }
    }
}
