//! TLS for both listeners: a rustls configuration with the *ring* provider, TLS 1.2 and 1.3
//! with AEAD suites only, and a certificate that can be replaced on disk while Ward runs.
//!
//! The current certificate lives in a [`CertStore`], read by every handshake through an atomic
//! pointer swap. A background task compares the files' (modification time, length, inode)
//! every `tls.reload_interval` and reloads them when they change; [`CertStore::reload_now`]
//! does the same on demand. A new pair that does not parse or whose key does not match its
//! certificate is refused and the old certificate stays in use, so a half-written rotation
//! never takes Ward off the air. Established connections keep their session either way.
//!
//! Client certificates (`tls.client_auth`) are verified by rustls against `tls.client_ca`; the
//! subject of a verified certificate reaches handlers as the [`ClientCertificate`] request
//! extension (gRPC: [`crate::listener::ConnInfo`]), and the gate refuses ingest without one
//! when `client_auth = "ingest"`.

pub mod x509;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use rustls::crypto::CryptoProvider;
use rustls::crypto::ring::cipher_suite;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use ward_model::{SecurityEvent, SecuritySeverity, TenantId};

use crate::config::{ClientAuth, TlsSettings};
use crate::metrics::Metrics;
use crate::security::SecurityEvents;

/// Longest time a client may take to complete the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The suites Ward offers: AEAD only, forward secrecy only (rustls has no CBC or RSA key
/// exchange at all; the list also fixes the order of preference).
pub static CIPHER_SUITES: &[rustls::SupportedCipherSuite] = &[
    cipher_suite::TLS13_AES_256_GCM_SHA384,
    cipher_suite::TLS13_AES_128_GCM_SHA256,
    cipher_suite::TLS13_CHACHA20_POLY1305_SHA256,
    cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    cipher_suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    cipher_suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    cipher_suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    cipher_suite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
];

/// Why certificates or keys could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The configuration key naming the file.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file does not hold what it should.
    #[error("{}: {message}", path.display())]
    Parse {
        /// The configuration key naming the file.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong (never the file's contents).
        message: String,
    },
    /// The private key is not the key of the certificate.
    #[error("the private key in {} does not belong to the certificate in {}", key_path.display(), cert_path.display())]
    Mismatch {
        /// The certificate file.
        cert_path: PathBuf,
        /// The key file.
        key_path: PathBuf,
    },
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Config(String),
}

impl TlsError {
    /// The configuration key to blame.
    pub fn config_key(&self) -> &'static str {
        match self {
            TlsError::Read { key, .. } | TlsError::Parse { key, .. } => key,
            TlsError::Mismatch { .. } => "tls.key",
            TlsError::Config(_) => "tls",
        }
    }
}

/// The subject of the verified client certificate of the connection a request came on,
/// e.g. `CN=planner,O=Acme`. Inserted as a request extension (HTTP) and reachable through
/// [`crate::listener::ConnInfo`] (gRPC); absent when the client presented none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    /// Distinguished name in certificate order, RFC 4514 escaping.
    pub subject: String,
}

/// The *ring* provider restricted to [`CIPHER_SUITES`].
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(CryptoProvider {
        cipher_suites: CIPHER_SUITES.to_vec(),
        ..rustls::crypto::ring::default_provider()
    })
}

fn read(key: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        key,
        path: path.to_owned(),
        source,
    })
}

fn parse_certs(
    key: &'static str,
    path: &Path,
    pem: &[u8],
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let parse = |message: String| TlsError::Parse {
        key,
        path: path.to_owned(),
        message,
    };
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        // The PEM error may quote a line of the file: not repeated.
        .map_err(|_| parse("not a PEM certificate file".into()))?;
    if certs.is_empty() {
        return Err(parse("holds no CERTIFICATE block".into()));
    }
    if let Some(bad) = certs.iter().position(|c| x509::not_after(c).is_none()) {
        return Err(parse(format!("certificate {} is not valid X.509", bad + 1)));
    }
    Ok(certs)
}

/// Reads and checks a certificate chain and its private key.
pub fn load_pair(cert_path: &Path, key_path: &Path) -> Result<CertifiedKey, TlsError> {
    let certs = parse_certs("tls.cert", cert_path, &read("tls.cert", cert_path)?)?;
    let key_pem = read("tls.key", key_path)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| TlsError::Parse {
        key: "tls.key",
        path: key_path.to_owned(),
        message: "holds no PKCS#8, PKCS#1 or SEC1 private key".into(),
    })?;
    CertifiedKey::from_der(certs, key, &provider()).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => TlsError::Mismatch {
            cert_path: cert_path.to_owned(),
            key_path: key_path.to_owned(),
        },
        other => TlsError::Parse {
            key: "tls.key",
            path: key_path.to_owned(),
            message: format!("unusable private key: {}", error_kind(&other)),
        },
    })
}

/// Reads the client CA bundle.
fn load_roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let certs = parse_certs("tls.client_ca", path, &read("tls.client_ca", path)?)?;
    let mut roots = RootCertStore::empty();
    for cert in certs {
        roots.add(cert).map_err(|e| TlsError::Parse {
            key: "tls.client_ca",
            path: path.to_owned(),
            message: format!("not a usable CA certificate: {}", error_kind(&e)),
        })?;
    }
    Ok(roots)
}

/// Checks, at start, that the configured files are readable and usable.
pub fn check_files(settings: &TlsSettings) -> Result<(), TlsError> {
    load_pair(&settings.cert, &settings.key)?;
    if let Some(ca) = &settings.client_ca {
        load_roots(ca)?;
    }
    Ok(())
}

/// Identity of a file version, to notice replacements cheaply.
type Stamp = Option<(SystemTime, u64, u64)>;

fn stamp(path: &Path) -> Stamp {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len(), meta.ino()))
}

/// The server certificate in use, swappable while handshakes read it.
pub struct CertStore {
    cert_path: PathBuf,
    key_path: PathBuf,
    current: ArcSwap<CertifiedKey>,
    /// File stamps of the last load attempt (successful or not), taken before reading.
    seen: Mutex<(Stamp, Stamp)>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for CertStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("CertStore")
            .field("cert_path", &self.cert_path)
            .field("key_path", &self.key_path)
            .finish_non_exhaustive()
    }
}

impl CertStore {
    /// Loads the pair; fails when it is unusable.
    pub fn open(
        cert_path: &Path,
        key_path: &Path,
        metrics: Arc<Metrics>,
    ) -> Result<CertStore, TlsError> {
        let stamps = (stamp(cert_path), stamp(key_path));
        let key = load_pair(cert_path, key_path)?;
        let store = CertStore {
            cert_path: cert_path.to_owned(),
            key_path: key_path.to_owned(),
            current: ArcSwap::from_pointee(key),
            seen: Mutex::new(stamps),
            metrics,
        };
        store.publish_expiry();
        Ok(store)
    }

    /// The certificate chain served now.
    pub fn current(&self) -> Arc<CertifiedKey> {
        self.current.load_full()
    }

    fn publish_expiry(&self) {
        let current = self.current.load();
        if let Some(seconds) = current.cert.first().and_then(|c| x509::not_after(c)) {
            self.metrics.tls_certificate_expiry.set(seconds);
        }
    }

    /// Reads the files again and serves the new pair from the next handshake on. An unusable
    /// pair is refused (and counted); the old certificate stays in use.
    pub fn reload_now(&self) -> Result<(), TlsError> {
        let stamps = (stamp(&self.cert_path), stamp(&self.key_path));
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()) = stamps;
        match load_pair(&self.cert_path, &self.key_path) {
            Ok(key) => {
                self.current.store(Arc::new(key));
                self.publish_expiry();
                self.count("ok");
                tracing::info!(cert = %self.cert_path.display(), "TLS certificate reloaded");
                Ok(())
            }
            Err(e) => {
                self.count("error");
                tracing::warn!(
                    error = %e,
                    "TLS certificate reload refused; the previous certificate stays in use"
                );
                Err(e)
            }
        }
    }

    fn count(&self, result: &'static str) {
        self.metrics
            .tls_reloads
            .get_or_create(&crate::metrics::ResultLabels { result })
            .inc();
    }

    /// Whether either file changed since the last load attempt.
    fn changed(&self) -> bool {
        let now = (stamp(&self.cert_path), stamp(&self.key_path));
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()) != now
    }

    /// Polls the files every `interval` and reloads when they change, until `shutdown` is true.
    pub fn watch(self: Arc<Self>, interval: Duration, mut shutdown: watch::Receiver<bool>) {
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = ticks.tick() => {}
                    _ = shutdown.wait_for(|s| *s) => return,
                }
                if self.changed() {
                    let store = self.clone();
                    // File reads and key parsing are blocking work.
                    let _ = tokio::task::spawn_blocking(move || store.reload_now()).await;
                }
            }
        });
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

/// Everything a listener needs to speak TLS. Shared by the HTTP and gRPC listeners, so both
/// rotate certificates together.
pub struct Tls {
    /// The certificate in use; [`CertStore::reload_now`] rotates it.
    pub certs: Arc<CertStore>,
    /// Where client certificates are required.
    pub client_auth: ClientAuth,
    acceptor: TlsAcceptor,
    failures: HandshakeFailures,
}

impl Tls {
    /// Builds the rustls configuration of `settings`.
    pub fn new(
        settings: &TlsSettings,
        metrics: Arc<Metrics>,
        security: SecurityEvents,
    ) -> Result<Tls, TlsError> {
        let certs = Arc::new(CertStore::open(
            &settings.cert,
            &settings.key,
            metrics.clone(),
        )?);
        let config = server_config(settings, certs.clone())?;
        Ok(Tls {
            certs,
            client_auth: settings.client_auth,
            acceptor: TlsAcceptor::from(config),
            failures: HandshakeFailures { metrics, security },
        })
    }

    /// Completes the handshake within [`HANDSHAKE_TIMEOUT`]; failures are counted and reported
    /// (`tls_handshake_failed`) and yield `None`.
    pub async fn accept(
        &self,
        tcp: TcpStream,
        peer: SocketAddr,
    ) -> Option<(TlsStream<TcpStream>, Option<ClientCertificate>)> {
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, self.acceptor.accept(tcp)).await {
            Ok(Ok(stream)) => {
                let client = stream
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|chain| chain.first())
                    .map(|leaf| ClientCertificate {
                        subject: x509::subject(leaf).unwrap_or_default(),
                    });
                Some((stream, client))
            }
            Ok(Err(e)) => {
                let tls_error = e
                    .get_ref()
                    .and_then(|inner| inner.downcast_ref::<rustls::Error>());
                match tls_error {
                    Some(tls_error) => {
                        self.failures
                            .record(peer.ip(), "protocol", Some(error_kind(tls_error)))
                    }
                    // The peer went away mid-handshake (port scans, TCP health checks).
                    None => self.failures.record(peer.ip(), "io", None),
                }
                None
            }
            Err(_) => {
                self.failures.record(peer.ip(), "timeout", None);
                None
            }
        }
    }
}

/// The rustls configuration: versions, suites, ALPN, client verification, the swappable
/// certificate.
pub fn server_config(
    settings: &TlsSettings,
    certs: Arc<CertStore>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = provider();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let builder = match (&settings.client_ca, settings.client_auth) {
        (Some(ca), auth) if auth != ClientAuth::None => {
            let roots = Arc::new(load_roots(ca)?);
            let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider);
            let verifier = if auth == ClientAuth::Required {
                verifier
            } else {
                verifier.allow_unauthenticated()
            };
            let verifier = verifier
                .build()
                .map_err(|e| TlsError::Config(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
        _ => builder.with_no_client_auth(),
    };
    let mut config = builder.with_cert_resolver(certs);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A short, content-free name of a rustls error, e.g. `PeerIncompatible(Tls12NotOffered)`.
fn error_kind(e: &rustls::Error) -> String {
    let text = match e {
        // Verifier errors may carry free text; the variant is enough.
        rustls::Error::InvalidCertificate(c) => format!("InvalidCertificate({c:?})"),
        rustls::Error::General(_) => "General".to_owned(),
        rustls::Error::Other(_) => "Other".to_owned(),
        other => format!("{other:?}"),
    };
    let end = text.find(['"', '{', '[']).unwrap_or(text.len()).min(96);
    text[..text.floor_char_boundary(end)].trim_end().to_owned()
}

/// Counts failed handshakes and raises at most one event per peer IP per minute (the
/// security event bus bounds what it remembers of peers).
struct HandshakeFailures {
    metrics: Arc<Metrics>,
    security: SecurityEvents,
}

impl HandshakeFailures {
    fn record(&self, peer: IpAddr, reason: &'static str, error: Option<String>) {
        self.metrics
            .tls_handshake_failures
            .get_or_create(&crate::metrics::ReasonLabels { reason })
            .inc();
        tracing::debug!(%peer, reason, error = error.as_deref().unwrap_or(""), "TLS handshake failed");
        // Only protocol errors are worth an operator's attention; a peer closing or stalling
        // is counted above.
        let Some(error) = error else { return };
        self.security.raise_at_most(
            1,
            &peer.to_string(),
            SecurityEvent::now(
                TenantId::default_tenant(),
                SecurityEvent::TLS_HANDSHAKE_FAILED,
                SecuritySeverity::Low,
                "a TLS handshake with Ward failed",
            )
            .with("peer_ip", peer.to_string())
            .with("error", error),
        );
    }
}

#[cfg(test)]
mod tests;
