//! `ward keys create|list|rotate|revoke`: through the API when an admin key is given, else
//! directly on the local data directory (for bootstrap and recovery on the server's own
//! machine).

use anyhow::bail;
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};
use ward_model::TenantId;
use ward_server::auth::{mint, successor};
use ward_server::routes::keys::{KeyView, parse_expiry, parse_grace, parse_scopes, rotated};
use ward_store::KeyAdmin;

use super::{ConfigArg, Remote};
use crate::client::Client;

/// Key commands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it (on stdout) once.
    #[command(
        after_help = "Scopes: ingest, read, write, metrics, security:read, keys:read, keys:write,\n\
                      audit:read, audit:write, secrets:read[:<glob>], secrets:write[:<glob>], admin.\n\n\
                      Examples:\n  ward keys create --tenant default --scope ingest --name checkout\n  \
                      ward keys create --tenant team-a --scope read --scope ingest --expires-in 90d\n  \
                      KEY=$(WARD_API_KEY=$ADMIN ward keys create --scope ingest)"
    )]
    Create {
        /// Tenant of the key (created if new); default `default`.
        #[arg(long, default_value = TenantId::DEFAULT)]
        tenant: String,
        /// Scope (repeat for several), see below.
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// A label for people.
        #[arg(long, default_value = "")]
        name: String,
        /// Lifetime, e.g. `90d`; default: the key does not expire.
        #[arg(long, conflicts_with = "expires_at")]
        expires_in: Option<String>,
        /// Expiry as RFC 3339, e.g. `2027-01-01T00:00:00Z`.
        #[arg(long)]
        expires_at: Option<String>,
        #[command(flatten)]
        target: Target,
    },
    /// List keys (never their secrets), with state, expiry, last use and use count.
    #[command(after_help = "Examples:\n  ward keys list\n  ward keys list --tenant team-a")]
    List {
        /// Only this tenant's keys.
        #[arg(long)]
        tenant: Option<String>,
        #[command(flatten)]
        target: Target,
    },
    /// Replace a key by a new one (printed once); the old one keeps working for the grace
    /// period, so clients can switch without downtime.
    #[command(
        after_help = "Examples:\n  ward keys rotate 3kq9x0abc123\n  ward keys rotate 3kq9x0abc123 --grace 1h\n  ward keys rotate 3kq9x0abc123 --grace 0s   # the old key stops now"
    )]
    Rotate {
        /// Key id.
        id: String,
        /// How long the old key keeps working (at most 30d).
        #[arg(long, default_value = "24h")]
        grace: String,
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

fn print_header() {
    println!(
        "{:<14} {:<16} {:<24} {:<8} {:<20} {:<20} {:>8}  NAME",
        "ID", "TENANT", "SCOPES", "STATE", "EXPIRES", "LAST USED", "USES"
    );
}

fn print_key_line(k: &Value) {
    let text = |field: &str| k[field].as_str().unwrap_or("");
    let time = |field: &str| text(field).get(..19).unwrap_or("-").to_owned();
    let scopes: Vec<&str> = k["scopes"]
        .as_array()
        .map(|a| a.iter().filter_map(|s| s.as_str()).collect())
        .unwrap_or_default();
    let mut state = text("state").to_owned();
    if let Some(next) = k["replaced_by"].as_str() {
        state = format!("{state} (rotated to {next})");
    }
    println!(
        "{:<14} {:<16} {:<24} {:<8} {:<20} {:<20} {:>8}  {}",
        text("id"),
        text("tenant"),
        scopes.join(","),
        state,
        time("expires_at"),
        time("last_used_at"),
        k["use_count"].as_u64().unwrap_or(0),
        text("name"),
    );
}

fn view(record: ward_store::KeyRecord) -> Value {
    serde_json::to_value(KeyView::new(
        record,
        ward_model::time::now_unix_nanos(),
        None,
    ))
    .unwrap_or_default()
}

/// Runs a key command.
pub async fn run(cmd: KeysCommand) -> anyhow::Result<()> {
    match cmd {
        KeysCommand::Create {
            tenant,
            scopes,
            name,
            expires_in,
            expires_at,
            target,
        } => {
            let tenant_id = TenantId::new(&tenant)?;
            let grants = parse_scopes(&scopes).map_err(anyhow::Error::msg)?;
            let now = ward_model::time::now_unix_nanos();
            let expires = parse_expiry(expires_in.as_deref(), expires_at.as_deref(), now)
                .map_err(anyhow::Error::msg)?;
            let (text, id) = if let Some(client) = target.client()? {
                let created: Value = client
                    .json(client.request(Method::POST, "/api/v1/keys").json(&json!({
                        "tenant": tenant,
                        "scopes": scopes,
                        "name": name,
                        "expires_in": expires_in,
                        "expires_at": expires_at,
                    })))
                    .await?;
                (
                    created["key"].as_str().unwrap_or_default().to_owned(),
                    created["id"].as_str().unwrap_or_default().to_owned(),
                )
            } else {
                let minted = mint(tenant_id, &name, &grants, expires);
                target.local_keys()?.insert_key(&minted.record)?;
                (minted.text.to_string(), minted.record.id)
            };
            eprintln!(
                "created key {id} for tenant {tenant} with scopes {}{}; it is shown only once:",
                grants.names().join(","),
                expires.map_or(String::new(), |t| format!(
                    ", expiring {}",
                    ward_model::time::format_rfc3339(t)
                )),
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
                keys.into_iter().map(view).collect()
            };
            print_header();
            for k in keys.iter().filter(|k| {
                tenant
                    .as_deref()
                    .is_none_or(|t| k["tenant"].as_str() == Some(t))
            }) {
                print_key_line(k);
            }
            Ok(())
        }
        KeysCommand::Rotate { id, grace, target } => {
            let grace_nanos = parse_grace(Some(&grace)).map_err(anyhow::Error::msg)?;
            let (text, new_id, old_expires) = if let Some(client) = target.client()? {
                let created: Value = client
                    .json(
                        client
                            .request(Method::POST, &format!("/api/v1/keys/{id}/rotate"))
                            .json(&json!({ "grace": grace })),
                    )
                    .await?;
                (
                    created["key"].as_str().unwrap_or_default().to_owned(),
                    created["id"].as_str().unwrap_or_default().to_owned(),
                    created["replaces"]["expires_at"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                )
            } else {
                let keys = target.local_keys()?;
                let Some(old) = keys.get_key(&id)? else {
                    bail!("no key {id:?}");
                };
                let now = ward_model::time::now_unix_nanos();
                let minted = successor(&old, now);
                let outcome =
                    keys.rotate_key(&id, &minted.record, now.saturating_add(grace_nanos))?;
                let old_expires =
                    rotated(&id, outcome).map_err(|(_, message)| anyhow::anyhow!(message))?;
                (
                    minted.text.to_string(),
                    minted.record.id.clone(),
                    ward_model::time::format_rfc3339(old_expires),
                )
            };
            eprintln!(
                "rotated key {id} to {new_id}; {id} keeps working until {old_expires}. \
                 The new key is shown only once:"
            );
            println!("{text}");
            Ok(())
        }
        KeysCommand::Revoke { id, target } => {
            if let Some(client) = target.client()? {
                client
                    .send(client.request(Method::DELETE, &format!("/api/v1/keys/{id}")))
                    .await?;
            } else if !target.local_keys()?.revoke_key(&id)? {
                bail!("no active key {id:?}");
            }
            eprintln!("revoked key {id}");
            Ok(())
        }
    }
}
