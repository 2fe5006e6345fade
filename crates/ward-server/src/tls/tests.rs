use super::*;

struct Pair {
    cert_pem: String,
    key_pem: String,
}

fn ca() -> (rcgen::Issuer<'static, rcgen::KeyPair>, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "test CA");
    let cert = params.self_signed(&key).unwrap();
    (rcgen::Issuer::new(params, key), cert.pem())
}

fn leaf(issuer: &rcgen::Issuer<'static, rcgen::KeyPair>, name: &str) -> Pair {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec![name.to_owned()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let cert = params.signed_by(&key, issuer).unwrap();
    Pair {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

fn write(dir: &Path, pair: &Pair) -> (PathBuf, PathBuf) {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, &pair.cert_pem).unwrap();
    std::fs::write(&key, &pair.key_pem).unwrap();
    (cert, key)
}

fn served_subject(store: &CertStore) -> String {
    x509::subject(&store.current().cert[0]).unwrap()
}

fn settings(cert: PathBuf, key: PathBuf) -> TlsSettings {
    TlsSettings {
        cert,
        key,
        client_ca: None,
        client_auth: ClientAuth::None,
        reload_interval: Duration::from_secs(10),
    }
}

#[test]
fn only_aead_suites_with_forward_secrecy_and_tls12_or_13() {
    let provider = provider();
    assert_eq!(provider.cipher_suites.len(), 9);
    for suite in &provider.cipher_suites {
        let name = format!("{:?}", suite.suite());
        assert!(
            name.contains("GCM") || name.contains("CHACHA20_POLY1305"),
            "{name}"
        );
        assert!(
            name.starts_with("TLS13_") || name.starts_with("TLS_ECDHE_"),
            "{name}"
        );
        assert!(!name.contains("CBC") && !name.contains("_SHA,"), "{name}");
    }
    let dir = tempfile::tempdir().unwrap();
    let (issuer, _) = ca();
    let (cert, key) = write(dir.path(), &leaf(&issuer, "localhost"));
    let metrics = Arc::new(Metrics::new());
    let store = Arc::new(CertStore::open(&cert, &key, metrics).unwrap());
    let config = server_config(&settings(cert, key), store).unwrap();
    assert_eq!(
        config.alpn_protocols,
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    );
    let versions: Vec<_> = config
        .crypto_provider()
        .cipher_suites
        .iter()
        .map(|s| s.version().version)
        .collect();
    assert!(versions.contains(&rustls::ProtocolVersion::TLSv1_2));
    assert!(versions.contains(&rustls::ProtocolVersion::TLSv1_3));
}

#[test]
fn bad_files_are_refused_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let (issuer, _) = ca();
    let a = leaf(&issuer, "a.example");
    let b = leaf(&issuer, "b.example");
    let (cert, key) = write(dir.path(), &a);
    assert!(load_pair(&cert, &key).is_ok());

    std::fs::write(&key, &b.key_pem).unwrap();
    let e = load_pair(&cert, &key).unwrap_err();
    assert!(matches!(e, TlsError::Mismatch { .. }), "{e}");
    assert_eq!(e.config_key(), "tls.key");

    std::fs::write(&cert, "not a certificate").unwrap();
    let e = load_pair(&cert, &key).unwrap_err();
    assert_eq!(e.config_key(), "tls.cert", "{e}");

    let e = load_pair(&dir.path().join("missing.pem"), &key).unwrap_err();
    assert!(
        matches!(
            e,
            TlsError::Read {
                key: "tls.cert",
                ..
            }
        ),
        "{e}"
    );

    std::fs::write(&cert, &a.cert_pem).unwrap();
    std::fs::write(
        &key,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let e = load_pair(&cert, &key).unwrap_err();
    assert_eq!(e.config_key(), "tls.key", "{e}");
    // The message never repeats the file's contents.
    assert!(!e.to_string().contains("AAAA"), "{e}");
}

#[test]
fn reload_refuses_a_mismatched_pair_and_keeps_the_old_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (issuer, _) = ca();
    let a = leaf(&issuer, "a.example");
    let b = leaf(&issuer, "b.example");
    let (cert, key) = write(dir.path(), &a);
    let metrics = Arc::new(Metrics::new());
    let store = CertStore::open(&cert, &key, metrics.clone()).unwrap();
    assert_eq!(served_subject(&store), "CN=a.example");
    assert!(!store.changed());

    // New certificate, old key: refused, the old pair stays.
    std::fs::write(&cert, &b.cert_pem).unwrap();
    assert!(store.changed());
    let e = store.reload_now().unwrap_err();
    assert!(matches!(e, TlsError::Mismatch { .. }), "{e}");
    assert_eq!(served_subject(&store), "CN=a.example");
    // The refused version is not retried until the files change again.
    assert!(!store.changed());

    // Its key arrives: accepted.
    std::fs::write(&key, &b.key_pem).unwrap();
    assert!(store.changed());
    store.reload_now().unwrap();
    assert_eq!(served_subject(&store), "CN=b.example");

    std::fs::write(&cert, "garbage").unwrap();
    assert!(store.reload_now().is_err());
    assert_eq!(served_subject(&store), "CN=b.example");

    let text = metrics.encode();
    assert!(
        text.contains("ward_tls_reloads_total{result=\"ok\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("ward_tls_reloads_total{result=\"error\"} 2"),
        "{text}"
    );
    assert!(
        !text.contains("ward_tls_certificate_expiry_seconds 0"),
        "{text}"
    );
}

#[tokio::test]
async fn the_watcher_picks_up_replaced_files() {
    let dir = tempfile::tempdir().unwrap();
    let (issuer, _) = ca();
    let (cert, key) = write(dir.path(), &leaf(&issuer, "a.example"));
    let store = Arc::new(CertStore::open(&cert, &key, Arc::new(Metrics::new())).unwrap());
    let (stop, shutdown) = watch::channel(false);
    store.clone().watch(Duration::from_millis(50), shutdown);
    // Replaced the way deployment tools do it: new files renamed over the old ones.
    let next = leaf(&issuer, "b.example");
    let staging = tempfile::tempdir_in(dir.path()).unwrap();
    let (new_cert, new_key) = write(staging.path(), &next);
    std::fs::rename(new_key, &key).unwrap();
    std::fs::rename(new_cert, &cert).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while served_subject(&store) != "CN=b.example" {
        assert!(std::time::Instant::now() < deadline, "not reloaded");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop.send(true);
}

#[tokio::test]
async fn handshake_failure_events_are_bounded_per_peer() {
    let dir = tempfile::tempdir().unwrap();
    let store = ward_store::Store::open(ward_store::StoreConfig {
        data_dir: dir.path().to_path_buf(),
        ..Default::default()
    })
    .unwrap();
    let metrics = Arc::new(Metrics::new());
    let failures = HandshakeFailures {
        metrics: metrics.clone(),
        security: SecurityEvents::start(store, metrics.clone()),
    };
    let a: IpAddr = "192.0.2.1".parse().unwrap();
    let b: IpAddr = "192.0.2.2".parse().unwrap();
    for _ in 0..5 {
        failures.record(
            a,
            "protocol",
            Some("InvalidMessage(InvalidContentType)".into()),
        );
    }
    failures.record(b, "protocol", Some("AlertReceived(UnknownCA)".into()));
    failures.record(b, "timeout", None);
    let text = metrics.encode();
    assert!(
        text.contains("ward_tls_handshake_failures_total{reason=\"protocol\"} 6"),
        "{text}"
    );
    assert!(
        text.contains("ward_tls_handshake_failures_total{reason=\"timeout\"} 1"),
        "{text}"
    );
    assert!(
        text.contains(
            "ward_security_events_total{tenant=\"default\",type=\"tls_handshake_failed\",severity=\"low\"} 2"
        ),
        "{text}"
    );
}

#[test]
fn error_kinds_carry_no_free_text() {
    let e = rustls::Error::General("secret detail".into());
    assert_eq!(error_kind(&e), "General");
    let e = rustls::Error::PeerIncompatible(rustls::PeerIncompatible::Tls12NotOffered);
    assert_eq!(error_kind(&e), "PeerIncompatible(Tls12NotOffered)");
}
