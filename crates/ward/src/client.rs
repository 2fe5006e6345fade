//! A small HTTP client for Ward's API, turning problem+json answers into one-line errors.

use anyhow::{Context, anyhow, bail};
use reqwest::{Method, RequestBuilder, Response};
use serde::de::DeserializeOwned;

use crate::commands::Remote;

/// Talks to one Ward.
pub struct Client {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Client {
    /// A client for `remote`; fails when no API key is configured.
    pub fn new(remote: &Remote) -> anyhow::Result<Client> {
        let key = remote
            .api_key
            .clone()
            .filter(|k| !k.is_empty())
            .ok_or_else(|| anyhow!("no API key: pass --api-key or set WARD_API_KEY"))?;
        let http = reqwest::Client::builder()
            .user_agent(concat!("ward-cli/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Client {
            http,
            base: remote.url.trim_end_matches('/').to_owned(),
            key,
        })
    }

    /// A request to `path` with the key attached.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{}", self.base, path))
            .bearer_auth(&self.key)
    }

    /// Sends and checks the status; non-2xx answers become errors carrying the problem detail.
    pub async fn send(&self, request: RequestBuilder) -> anyhow::Result<Response> {
        let response = request
            .send()
            .await
            .with_context(|| format!("cannot reach Ward at {}", self.base))?;
        check(response).await
    }

    /// Sends and decodes a JSON answer.
    pub async fn json<T: DeserializeOwned>(&self, request: RequestBuilder) -> anyhow::Result<T> {
        let response = self.send(request).await?;
        response
            .json()
            .await
            .context("Ward sent an answer this version of the CLI does not understand")
    }
}

/// Turns a non-2xx answer into an error with the problem's detail.
pub async fn check(response: Response) -> anyhow::Result<Response> {
    if response.status().is_success() {
        return Ok(response);
    }
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let detail = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("detail").and_then(|d| d.as_str()).map(str::to_owned))
        .unwrap_or(text);
    bail!("{status}: {detail}")
}
