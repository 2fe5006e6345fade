//! Starts the real `ward` binary on free ports with a temporary data directory.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A free loopback port (bound and released; good enough for tests).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `ward serve`.
pub struct Ward {
    pub child: Child,
    pub http: String,
    pub grpc: String,
    pub admin_key: String,
    pub dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
    pub stderr: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

pub fn ward_bin() -> &'static str {
    env!("CARGO_BIN_EXE_ward")
}

impl Ward {
    /// Starts Ward in a fresh temporary directory.
    pub fn start(env: &[(&str, &str)]) -> Ward {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().to_path_buf();
        let mut w = Ward::start_in(&dir, env, None);
        w._temp = Some(temp);
        w
    }

    /// Starts Ward on an existing data directory; `admin_key` is the key of an earlier run.
    pub fn start_in(dir: &Path, env: &[(&str, &str)], admin_key: Option<String>) -> Ward {
        let http_port = free_port();
        // The OS may hand the same released port out twice in a row.
        let grpc_port = std::iter::repeat_with(free_port)
            .find(|p| *p != http_port)
            .unwrap();
        let mut cmd = Command::new(ward_bin());
        cmd.arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("WARD_DATA_DIR", dir.join("data"))
            .env("WARD_SERVER_LISTEN", format!("127.0.0.1:{http_port}"))
            .env("WARD_SERVER_GRPC_LISTEN", format!("127.0.0.1:{grpc_port}"))
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start ward");
        let stderr = child.stderr.take().unwrap();
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line.clone());
                sink.lock().unwrap().push(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut key = admin_key;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx.recv_timeout(left).unwrap_or_else(|_| {
                panic!("ward did not become ready: {:?}", lines.lock().unwrap())
            });
            let trimmed = line.trim();
            if trimmed.starts_with("ward_") && key.is_none() {
                key = Some(trimmed.to_owned());
            }
            if line.contains("Ward is ready") {
                break;
            }
        }
        // Not a terminal: the first admin key is written to a file, not to stderr.
        if key.is_none()
            && let Ok(text) = std::fs::read_to_string(dir.join("data").join("admin.key"))
        {
            key = Some(text.trim().to_owned());
        }
        Ward {
            child,
            http: format!("http://127.0.0.1:{http_port}"),
            grpc: format!("http://127.0.0.1:{grpc_port}"),
            admin_key: key.expect("admin key printed on first start"),
            dir: dir.to_path_buf(),
            _temp: None,
            stderr: lines,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Sends a signal and waits for the exit status (None if it did not exit in `wait`).
    pub fn signal(&mut self, sig: &str, wait: Duration) -> Option<std::process::ExitStatus> {
        Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Runs the `ward` CLI against this server.
    pub fn cli(&self, key: &str, args: &[&str]) -> std::process::Output {
        Command::new(ward_bin())
            .args(args)
            .env_clear()
            .env("WARD_URL", &self.http)
            .env("WARD_API_KEY", key)
            .env("WARD_DATA_DIR", self.dir.join("data"))
            .current_dir(&self.dir)
            .output()
            .unwrap()
    }

    /// Resident memory of the server process, in bytes.
    pub fn rss_bytes(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    }

    pub fn log_text(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }
}

impl Drop for Ward {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Now, in Unix nanoseconds.
pub fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

impl Ward {
    /// Creates an API key of `tenant` with `scopes` through the API, with the admin key.
    pub fn create_key(&self, scopes: &[&str], tenant: &str) -> String {
        let r = http()
            .post(format!("{}/api/v1/keys", self.http))
            .bearer_auth(&self.admin_key)
            .json(&serde_json::json!({"tenant": tenant, "scopes": scopes, "name": "test"}))
            .send()
            .unwrap();
        assert_eq!(r.status(), 201);
        r.json::<serde_json::Value>().unwrap()["key"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

/// A blocking HTTP client with the key set.
pub fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}
