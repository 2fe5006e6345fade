//! `ward keys create|list|revoke`: through the API when an admin key is given, else directly on
//! the local data directory (for bootstrap and recovery on the server's own machine).

use anyhow::bail;
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};
use ward_model::TenantId;
use ward_server::auth::{Scope, mint};
use ward_server::routes::keys::parse_scopes;
use ward_store::KeyAdmin;

use super::{ConfigArg, Remote};
use crate::client::Client;

/// Key commands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it (on stdout) once.
    #[command(
        after_help = "Examples:\n  ward keys create --tenant default --scope ingest --name checkout\n  ward keys create --tenant team-a --scope read --scope ingest\n  KEY=$(WARD_API_KEY=$ADMIN ward keys create --scope ingest)"
    )]
    Create {
        /// Tenant of the key (created if new); default `default`.
        #[arg(long, default_value = TenantId::DEFAULT)]
        tenant: String,
        /// Scope: ingest, read, metrics or admin (repeat for several).
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// A label for people.
        #[arg(long, default_value = "")]
        name: String,
        #[command(flatten)]
        target: Target,
    },
    /// List keys (never their secrets).
    #[command(after_help = "Examples:\n  ward keys list\n  ward keys list --tenant team-a")]
    List {
        /// Only this tenant's keys.
        #[arg(long)]
        tenant: Option<String>,
        #[command(flatten)]
        target: Target,
    },
    /// Revoke a key by id (the part after `ward_`, before the second `_`).
    #[command(after_help = "Examples:\n  ward keys revoke 3kq9x0abc123")]
    Revoke {
        /// Key id.
        id: String,
        #[command(flatten)]
        target: Target,
    },
}

/// Where keys are managed: the API of a running Ward (with an admin key), or the local store.
#[derive(Debug, Args)]
pub struct Target {
    #[command(flatten)]
    remote: Remote,
    #[command(flatten)]
    config: ConfigArg,
}

impl Target {
    fn client(&self) -> anyhow::Result<Option<Client>> {
        match &self.remote.api_key {
            Some(k) if !k.is_empty() => Ok(Some(Client::new(&self.remote)?)),
            _ => Ok(None),
        }
    }

    /// The keys of the local data directory; works while `ward serve` runs.
    fn local_keys(&self) -> anyhow::Result<KeyAdmin> {
        let config = self.config.load()?;
        let settings = self.config.settings(config)?;
        let dir = &settings.config.data_dir;
        if !dir.join(ward_store::DB_FILE).exists() {
            bail!(
                "no Ward store in {} (start `ward serve` once, or pass --config / WARD_DATA_DIR; \
                 to manage keys through the API set WARD_API_KEY)",
                dir.display()
            );
        }
        Ok(KeyAdmin::open(dir)?)
    }
}

fn print_key_line(k: &Value) {
    let scopes: Vec<&str> = k["scopes"]
        .as_array()
        .map(|a| a.iter().filter_map(|s| s.as_str()).collect())
        .unwrap_or_default();
    println!(
        "{:<14} {:<16} {:<24} {:<20} {}{}",
        k["id"].as_str().unwrap_or(""),
        k["tenant"].as_str().unwrap_or(""),
        scopes.join(","),
        k["created_at"]
            .as_str()
            .unwrap_or("")
            .get(..19)
            .unwrap_or(""),
        k["name"].as_str().unwrap_or(""),
        if k["revoked"].as_bool() == Some(true) {
            "  (revoked)"
        } else {
            ""
        }
    );
}

/// Runs a key command.
pub async fn run(cmd: KeysCommand) -> anyhow::Result<()> {
    match cmd {
        KeysCommand::Create {
            tenant,
            scopes,
            name,
            target,
        } => {
            let tenant_id = TenantId::new(&tenant)?;
            let parsed: Vec<Scope> = parse_scopes(&scopes).map_err(anyhow::Error::msg)?;
            let (text, id) = if let Some(client) = target.client()? {
                let created: Value = client
                    .json(
                        client
                            .request(Method::POST, "/api/v1/keys")
                            .json(&json!({"tenant": tenant, "scopes": scopes, "name": name})),
                    )
                    .await?;
                (
                    created["key"].as_str().unwrap_or_default().to_owned(),
                    created["id"].as_str().unwrap_or_default().to_owned(),
                )
            } else {
                let minted = mint(tenant_id, &name, &parsed);
                target.local_keys()?.insert_key(&minted.record)?;
                (minted.text, minted.record.id)
            };
            eprintln!(
                "created key {id} for tenant {tenant} with scopes {}; it is shown only once:",
                scopes.join(",")
            );
            println!("{text}");
            Ok(())
        }
        KeysCommand::List { tenant, target } => {
            let keys: Vec<Value> = if let Some(client) = target.client()? {
                let list: Value = client
                    .json(client.request(Method::GET, "/api/v1/keys"))
                    .await?;
                list["keys"].as_array().cloned().unwrap_or_default()
            } else {
                let keys = target.local_keys()?.list_keys(None)?;
                keys.into_iter()
                    .map(|k| {
                        serde_json::to_value(ward_server::routes::keys::KeyView::from(k))
                            .unwrap_or_default()
                    })
                    .collect()
            };
            println!(
                "{:<14} {:<16} {:<24} {:<20} NAME",
                "ID", "TENANT", "SCOPES", "CREATED"
            );
            for k in keys.iter().filter(|k| {
                tenant
                    .as_deref()
                    .is_none_or(|t| k["tenant"].as_str() == Some(t))
            }) {
                print_key_line(k);
            }
            Ok(())
        }
        KeysCommand::Revoke { id, target } => {
            if let Some(client) = target.client()? {
                client
                    .send(client.request(Method::DELETE, &format!("/api/v1/keys/{id}")))
                    .await?;
            } else {
                if !target.local_keys()?.revoke_key(&id)? {
                    bail!("no active key {id:?}");
                }
            }
            eprintln!("revoked key {id}");
            Ok(())
        }
    }
}
