//! Connections Ward opens itself (JWKS fetches, checkpoint webhooks): HTTP/1 over plain TCP or
//! rustls with *ring*, trusting the system's root certificates, or Mozilla's when the system
//! has none.

use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;

/// The connector of every outbound client.
pub(crate) fn https_connector() -> Result<HttpsConnector<HttpConnector>, String> {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let builder = match hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(provider.clone())
    {
        Ok(builder) => builder,
        Err(_) => hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(provider)
            .map_err(|e| format!("TLS setup failed: {e}"))?,
    };
    Ok(builder.https_or_http().enable_http1().build())
}
