//! TLS from the outside: certificates from `ward dev-cert`, clients that are rustls, curl and
//! openssl, rotation under load, client certificates for ingest, refused plaintext, slow and
//! oversized requests.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{Ward, free_port, ward_bin};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

fn dev_cert(out: &Path, extra: &[&str]) -> Output {
    Command::new(ward_bin())
        .arg("dev-cert")
        .arg("--out")
        .arg(out)
        .args(extra)
        .env_clear()
        .output()
        .unwrap()
}

/// A directory of certificates made by `ward dev-cert` (with a client certificate).
fn certs(parent: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let dir = parent.join(name);
    let mut args = vec!["--client", "planner"];
    args.extend_from_slice(extra);
    let out = dev_cert(&dir, &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

fn tls_env(dir: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("WARD_TLS_CERT", dir.join("cert.pem").display().to_string()),
        ("WARD_TLS_KEY", dir.join("key.pem").display().to_string()),
    ]
}

fn start(env: &[(&'static str, String)]) -> Ward {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Ward::start(&env)
}

fn port(url: &str) -> u16 {
    url.rsplit(':').next().unwrap().parse().unwrap()
}

fn pem_certs(path: &Path) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_file_iter(path)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

/// A minimal blocking HTTPS/1.1 client over rustls (ring): enough to send requests on new or
/// kept-alive connections and to see the server's certificate.
#[derive(Clone)]
struct Client {
    config: Arc<rustls::ClientConfig>,
    keep_alive: bool,
    conn: Arc<std::sync::Mutex<Option<Tls>>>,
}

type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
    /// The server's leaf certificate on the connection that answered.
    leaf: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// A client trusting the CAs of `cas`, optionally with the client certificate of `identity`.
fn client(cas: &[&Path], identity: Option<&Path>, keep_alive: bool) -> Client {
    let mut roots = rustls::RootCertStore::empty();
    for ca in cas {
        for cert in pem_certs(&ca.join("ca.pem")) {
            roots.add(cert).unwrap();
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let mut config = match identity {
        Some(dir) => builder
            .with_client_auth_cert(
                pem_certs(&dir.join("client.pem")),
                PrivateKeyDer::from_pem_file(dir.join("client.key")).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    // Every new connection makes a full handshake (a resumed session would not show the
    // certificate the server serves now).
    config.resumption = rustls::client::Resumption::disabled();
    Client {
        config: Arc::new(config),
        keep_alive,
        conn: Arc::new(std::sync::Mutex::new(None)),
    }
}

impl Client {
    fn connect(&self, port: u16) -> std::io::Result<Tls> {
        let tcp = TcpStream::connect(("127.0.0.1", port))?;
        tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
        let name = "localhost".try_into().unwrap();
        let conn = rustls::ClientConnection::new(self.config.clone(), name)
            .map_err(std::io::Error::other)?;
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        while tls.conn.is_handshaking() {
            tls.conn.complete_io(&mut tls.sock)?;
        }
        Ok(tls)
    }

    /// Sends one request to `https://localhost:<port><path>`.
    fn send(
        &self,
        method: &str,
        port: u16,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> std::io::Result<Response> {
        let mut slot = self.conn.lock().unwrap();
        let mut tls = match slot.take() {
            Some(tls) if self.keep_alive => tls,
            _ => self.connect(port)?,
        };
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n",
            body.len()
        );
        if !self.keep_alive {
            head.push_str("Connection: close\r\n");
        }
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        head.push_str(body);
        tls.write_all(head.as_bytes())?;
        tls.flush()?;
        let response = read_response(&mut tls)?;
        if self.keep_alive {
            *slot = Some(tls);
        }
        Ok(response)
    }

    fn get(&self, w: &Ward, path: &str, key: Option<&str>) -> Response {
        let auth = key.map(|k| format!("Bearer {k}"));
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("Authorization", a.as_str())).collect();
        self.send("GET", port(&w.http), path, &headers, "").unwrap()
    }
}

fn read_response(tls: &mut Tls) -> std::io::Result<Response> {
    let leaf = tls
        .conn
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.to_vec())
        .unwrap_or_default();
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if tls.read(&mut byte)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line in {head:?}")))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let find = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let mut body = Vec::new();
    if let Some(len) = find("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body.resize(len, 0);
        tls.read_exact(&mut body)?;
    } else if find("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        loop {
            let mut line = Vec::new();
            while !line.ends_with(b"\r\n") {
                tls.read_exact(&mut byte)?;
                line.push(byte[0]);
            }
            let size = usize::from_str_radix(String::from_utf8_lossy(&line).trim(), 16)
                .map_err(std::io::Error::other)?;
            let mut chunk = vec![0u8; size + 2];
            tls.read_exact(&mut chunk)?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    }
    Ok(Response {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        leaf,
    })
}

fn metric(w: &Ward, c: &Client, line_start: &str) -> f64 {
    let text = c.get(w, "/metrics", Some(&w.admin_key)).body;
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

fn s_client(port: u16, args: &[&str]) -> (bool, String) {
    let mut child = Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let negotiated = text.contains("Cipher is ") && !text.contains("Cipher is (NONE)");
    (negotiated, text)
}

#[test]
fn https_with_tls12_and_13_and_strong_suites_only() {
    let temp = tempfile::tempdir().unwrap();
    let dir = certs(temp.path(), "certs", &[]);
    let w = start(&tls_env(&dir));
    let c = client(&[&dir], None, true);
    let r = c.get(&w, "/livez", None);
    assert_eq!(r.status, 200);

    let url = format!("https://localhost:{}/livez", port(&w.http));
    let curl = Command::new("curl")
        .args(["-sS", "--noproxy", "*", "--cacert"])
        .arg(dir.join("ca.pem"))
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        curl.status.success(),
        "{}",
        String::from_utf8_lossy(&curl.stderr)
    );
    // Plain HTTP on the TLS port gets nothing useful, and Ward lives on.
    let plain = Command::new("curl")
        .args([
            "-sS",
            "--noproxy",
            "*",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
        ])
        .arg(format!("{}/livez", w.http))
        .output()
        .unwrap();
    assert!(!plain.status.success() || plain.stdout != b"200");

    let p = port(&w.http);
    let failures_before = metric(
        &w,
        &c,
        "ward_tls_handshake_failures_total{reason=\"protocol\"}",
    );
    // SECLEVEL=0 lets openssl offer the old versions at all: the refusal must be Ward's.
    for old in ["-tls1", "-tls1_1"] {
        let (ok, text) = s_client(p, &[old, "-cipher", "DEFAULT@SECLEVEL=0"]);
        assert!(!ok, "{old} negotiated:\n{text}");
    }
    let (ok, text) = s_client(p, &["-tls1_2", "-cipher", "AES128-SHA"]);
    assert!(!ok, "AES128-SHA negotiated:\n{text}");
    let (ok, text) = s_client(p, &["-tls1_2", "-cipher", "AES256-GCM-SHA384"]);
    assert!(!ok, "RSA key exchange negotiated:\n{text}");
    let (ok, text) = s_client(p, &["-tls1_2"]);
    assert!(ok && text.contains("ECDHE"), "TLS 1.2:\n{text}");
    let (ok, text) = s_client(p, &["-tls1_3"]);
    assert!(ok && text.contains("TLSv1.3"), "TLS 1.3:\n{text}");
    // The gRPC listener speaks TLS with the same certificate, h2 by ALPN.
    let (ok, text) = s_client(port(&w.grpc), &["-tls1_3", "-alpn", "h2"]);
    assert!(ok && text.contains("ALPN protocol: h2"), "gRPC:\n{text}");

    let failures_after = metric(
        &w,
        &c,
        "ward_tls_handshake_failures_total{reason=\"protocol\"}",
    );
    assert!(
        failures_after >= failures_before + 4.0,
        "{failures_before} → {failures_after}"
    );
    let expiry = metric(&w, &c, "ward_tls_certificate_expiry_seconds");
    let now = common::now_ns() as f64 / 1e9;
    assert!(
        expiry > now + 80.0 * 86_400.0 && expiry < now + 91.0 * 86_400.0,
        "{expiry}"
    );
    assert_eq!(c.get(&w, "/livez", None).status, 200);
}

#[test]
fn plaintext_on_a_public_address_needs_allow_plaintext() {
    let temp = tempfile::tempdir().unwrap();
    let out = Command::new(ward_bin())
        .arg("serve")
        .env_clear()
        .env("WARD_DATA_DIR", temp.path().join("data"))
        .env("WARD_SERVER_LISTEN", format!("0.0.0.0:{}", free_port()))
        .env(
            "WARD_SERVER_GRPC_LISTEN",
            format!("127.0.0.1:{}", free_port()),
        )
        .current_dir(temp.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("server.allow_plaintext") && stderr.contains("0.0.0.0"),
        "{stderr}"
    );
    assert!(!temp.path().join("data").exists(), "nothing is created");

    let http = free_port();
    let listen = format!("0.0.0.0:{http}");
    let w = start(&[
        ("WARD_SERVER_LISTEN", listen),
        ("WARD_SERVER_ALLOW_PLAINTEXT", "true".into()),
    ]);
    assert!(
        w.log_text().contains("server.allow_plaintext is set"),
        "{}",
        w.log_text()
    );
    let r = common::http()
        .get(format!("http://127.0.0.1:{http}/livez"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// Requests on new connections and on one kept-alive connection, while the certificate files
/// are replaced under them: nothing fails, and new connections get the new certificate.
#[test]
fn certificate_rotation_under_load_drops_nothing() {
    let temp = tempfile::tempdir().unwrap();
    let old = certs(temp.path(), "old", &[]);
    let new = certs(
        temp.path(),
        "new",
        &[
            "--host",
            "localhost",
            "--host",
            "127.0.0.1",
            "--host",
            "rotated.example",
        ],
    );
    let live = temp.path().join("live");
    std::fs::create_dir(&live).unwrap();
    for f in ["cert.pem", "key.pem"] {
        std::fs::copy(old.join(f), live.join(f)).unwrap();
    }
    let mut env = tls_env(&live);
    env.push(("WARD_TLS_RELOAD_INTERVAL", "200ms".into()));
    let w = start(&env);
    let new_leaf = pem_certs(&new.join("cert.pem")).remove(0);
    let old_leaf = pem_certs(&old.join("cert.pem")).remove(0);

    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let saw_new = Arc::new(AtomicBool::new(false));
    let kept_alive_requests = Arc::new(AtomicUsize::new(0));
    let mut threads = Vec::new();
    for keep_alive in [false, false, true] {
        let (stop, failures, saw_new, count) = (
            stop.clone(),
            failures.clone(),
            saw_new.clone(),
            kept_alive_requests.clone(),
        );
        let c = client(&[&old, &new], None, keep_alive);
        let p = port(&w.http);
        let (old_leaf, new_leaf) = (old_leaf.clone(), new_leaf.clone());
        threads.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match c.send("GET", p, "/livez", &[], "") {
                    Ok(r) if r.status == 200 => {
                        if keep_alive {
                            count.fetch_add(1, Ordering::Relaxed);
                            // A kept-alive connection keeps its session.
                            if r.leaf != old_leaf.as_ref() {
                                failures.lock().unwrap().push("kept-alive switched".into());
                            }
                        } else if r.leaf == new_leaf.as_ref() {
                            saw_new.store(true, Ordering::Relaxed);
                        } else if r.leaf != old_leaf.as_ref() {
                            failures.lock().unwrap().push("unknown certificate".into());
                        }
                    }
                    Ok(r) => failures
                        .lock()
                        .unwrap()
                        .push(format!("status {}", r.status)),
                    Err(e) => failures.lock().unwrap().push(format!("{e:?}")),
                }
            }
        }));
    }
    std::thread::sleep(Duration::from_millis(700));
    let before_swap = kept_alive_requests.load(Ordering::Relaxed);
    // Replaced the way deployment tools do it: written elsewhere, renamed over the old files
    // one after the other (so Ward may briefly see the new key with the old certificate).
    let staging = live.join(".staging");
    std::fs::create_dir(&staging).unwrap();
    for f in ["key.pem", "cert.pem"] {
        std::fs::copy(new.join(f), staging.join(f)).unwrap();
        std::fs::rename(staging.join(f), live.join(f)).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while !saw_new.load(Ordering::Relaxed) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let failures = failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "{} failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(
        saw_new.load(Ordering::Relaxed),
        "new connections never saw the new certificate: {}",
        w.log_text()
    );
    let total = kept_alive_requests.load(Ordering::Relaxed);
    assert!(
        before_swap > 0 && total > before_swap,
        "{before_swap} / {total}"
    );
    let c = client(&[&new], None, true);
    assert!(metric(&w, &c, "ward_tls_reloads_total{result=\"ok\"}") >= 1.0);
}

fn ingest_logs(
    w: &Ward,
    c: &Client,
    path: &str,
    key: &str,
    body: &str,
) -> std::io::Result<Response> {
    let auth = format!("Bearer {key}");
    c.send(
        "POST",
        port(&w.http),
        path,
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        body,
    )
}

#[test]
fn ingest_requires_a_client_certificate_when_configured() {
    let temp = tempfile::tempdir().unwrap();
    let dir = certs(temp.path(), "certs", &[]);
    let mut env = tls_env(&dir);
    env.push((
        "WARD_TLS_CLIENT_CA",
        dir.join("ca.pem").display().to_string(),
    ));
    env.push(("WARD_TLS_CLIENT_AUTH", "ingest".into()));
    let w = start(&env);
    let anonymous = client(&[&dir], None, false);
    let planner = client(&[&dir], Some(&dir), false);

    let auth = format!("Bearer {}", w.admin_key);
    let r = anonymous
        .send(
            "POST",
            port(&w.http),
            "/api/v1/keys",
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            r#"{"tenant": "default", "scopes": ["ingest"], "name": "t"}"#,
        )
        .unwrap();
    assert_eq!(r.status, 201, "other routes need no client certificate");
    let key = r.json()["key"].as_str().unwrap().to_owned();

    let otlp = r#"{"resourceLogs":[]}"#;
    let r = ingest_logs(
        &w,
        &anonymous,
        "/api/v1/ingest/logs",
        &key,
        "{\"msg\":\"hi\"}\n",
    )
    .unwrap();
    assert_eq!(r.status, 401);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    assert!(r.body.contains("client certificate"), "{}", r.body);
    for path in ["/v1/logs", "/v1/traces", "/v1/metrics"] {
        let r = ingest_logs(&w, &anonymous, path, &key, "{}").unwrap();
        assert_eq!(r.status, 401, "{path}");
    }
    let r = ingest_logs(&w, &planner, "/v1/logs", &key, otlp).unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    // The certificate does not replace the key.
    let r = ingest_logs(&w, &planner, "/v1/logs", "ward_nope_nope", otlp).unwrap();
    assert_eq!(r.status, 401);

    // A certificate from another CA is refused at the handshake.
    let other = certs(temp.path(), "other", &[]);
    let stranger = client(&[&dir], Some(&other), false);
    assert!(ingest_logs(&w, &stranger, "/v1/logs", &key, otlp).is_err());
}

#[test]
fn handshake_failures_are_security_events_bounded_per_peer() {
    let temp = tempfile::tempdir().unwrap();
    let dir = certs(temp.path(), "certs", &[]);
    let w = start(&tls_env(&dir));
    let p = port(&w.http);
    for _ in 0..3 {
        let mut s = TcpStream::connect(("127.0.0.1", p)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        assert!(!buf.starts_with(b"HTTP/1.1 200"), "plaintext served");
    }
    let c = client(&[&dir], None, true);
    assert_eq!(c.get(&w, "/livez", None).status, 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    let events = loop {
        let page = c
            .get(
                &w,
                "/api/v1/security/events?kind=tls_handshake_failed",
                Some(&w.admin_key),
            )
            .json();
        let events = page["events"].as_array().cloned().unwrap_or_default();
        if !events.is_empty() || Instant::now() > deadline {
            break events;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(events.len(), 1, "one event per peer per minute: {events:?}");
    let e = &events[0];
    assert_eq!(e["severity"], "low");
    assert_eq!(e["details"]["peer_ip"], "127.0.0.1");
    assert!(
        e["details"]["error"]
            .as_str()
            .unwrap()
            .starts_with("InvalidMessage"),
        "{e}"
    );
    assert!(
        metric(
            &w,
            &c,
            "ward_tls_handshake_failures_total{reason=\"protocol\"}"
        ) >= 3.0
    );
}

/// Sends `head` and reads until the server answers or closes; the status line (empty when the
/// connection was closed without an answer) and how long it took.
fn raw_request(addr: &str, head: &[u8], stall: bool) -> (String, Duration) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let started = Instant::now();
    // The server may answer (431) and close before it has read everything.
    let _ = s.write_all(head);
    if !stall {
        let _ = s.write_all(b"\r\n");
    }
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    (
        text.lines().next().unwrap_or("").to_owned(),
        started.elapsed(),
    )
}

#[test]
fn slow_and_oversized_request_heads_are_cut_off() {
    let w = Ward::start(&[
        ("WARD_SERVER_HEADER_READ_TIMEOUT", "1s"),
        ("WARD_SERVER_MAX_HEADERS", "20"),
    ]);
    let addr = w.http.trim_start_matches("http://").to_owned();

    // Half a request, then silence: disconnected after about a second, others served meanwhile.
    let slow = {
        let addr = addr.clone();
        std::thread::spawn(move || {
            raw_request(
                &addr,
                b"GET /livez HTTP/1.1\r\nHost: x\r\nX-Partial: ",
                true,
            )
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let r = common::http()
        .get(format!("{}/livez", w.http))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let (status, took) = slow.join().unwrap();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "{took:?}"
    );
    // hyper closes the connection, answering 408 at most.
    assert!(status.is_empty() || status.contains(" 408"), "{status:?}");

    // A connection that never sends anything is closed too (it would hold a connection slot).
    let (status, took) = raw_request(&addr, b"", true);
    assert!(
        status.is_empty() && took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "{status:?} after {took:?}"
    );

    let mut many = b"GET /livez HTTP/1.1\r\nHost: x\r\n".to_vec();
    for i in 0..25 {
        many.extend_from_slice(format!("X-H{i}: v\r\n").as_bytes());
    }
    let (status, _) = raw_request(&addr, &many, false);
    assert!(status.contains(" 431"), "{status:?}");

    let big = format!(
        "GET /livez HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n",
        "a".repeat(20 << 10)
    );
    let (status, _) = raw_request(&addr, big.as_bytes(), false);
    assert!(status.contains(" 431"), "{status:?}");

    let ok = b"GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n";
    let (status, _) = raw_request(&addr, ok, false);
    assert!(status.contains(" 200"), "{status:?}");
}
