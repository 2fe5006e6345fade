//! Child processes of the benches (`ward serve`, the sink): spawning on loopback ports,
//! readiness, memory, and stopping them whatever happens (a guard that sends SIGTERM, then
//! SIGKILL after 10 s, when dropped).

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long a stopped child gets between SIGTERM and SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(10);
/// Lines of a child's stderr kept for error messages.
const KEPT_LINES: usize = 40;

/// A free loopback port: bound, then released (another process could take it in between,
/// which on a bench machine does not happen in practice).
pub fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot find a free loopback port")?;
    Ok(listener.local_addr()?.port())
}

/// What a child wrote on stderr that the bench cares about.
#[derive(Debug, Default)]
struct Seen {
    /// The admin key, were `ward serve` to print it (it does so only on a terminal).
    admin_key: Option<String>,
    /// The last lines, for error messages.
    tail: VecDeque<String>,
}

/// A running child process, stopped when dropped.
pub struct ChildGuard {
    name: String,
    child: std::process::Child,
    seen: Arc<Mutex<Seen>>,
    /// When `spawn` was called.
    pub spawned_at: Instant,
}

impl ChildGuard {
    /// Starts `command` with stdin and stdout closed and stderr read by a thread (so the child
    /// never blocks on a full pipe).
    pub fn spawn(name: &str, mut command: Command) -> anyhow::Result<ChildGuard> {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let spawned_at = Instant::now();
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        let stderr = child.stderr.take().context("no stderr pipe")?;
        let seen = Arc::new(Mutex::new(Seen::default()));
        let sink = seen.clone();
        std::thread::Builder::new()
            .name(format!("{name}-stderr"))
            .spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    let Ok(mut seen) = sink.lock() else { return };
                    let trimmed = line.trim();
                    if seen.admin_key.is_none()
                        && trimmed.starts_with("ward_")
                        && !trimmed.contains(' ')
                    {
                        seen.admin_key = Some(trimmed.to_owned());
                        continue; // never keep a key among the lines shown in errors
                    }
                    if seen.tail.len() == KEPT_LINES {
                        seen.tail.pop_front();
                    }
                    seen.tail.push_back(line);
                }
            })
            .context("cannot start a thread")?;
        Ok(ChildGuard {
            name: name.to_owned(),
            child,
            seen,
            spawned_at,
        })
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last lines the child wrote on stderr.
    pub fn stderr_tail(&self) -> String {
        self.seen
            .lock()
            .map(|s| s.tail.iter().cloned().collect::<Vec<_>>().join("\n"))
            .unwrap_or_default()
    }

    /// The admin key made on first start: written to `<data_dir>/admin.key` when stderr is
    /// not a terminal (as here), printed otherwise. Waits up to `wait` for it.
    pub async fn admin_key(
        &self,
        data_dir: &std::path::Path,
        wait: Duration,
    ) -> anyhow::Result<String> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(key) = self.seen.lock().ok().and_then(|s| s.admin_key.clone()) {
                return Ok(key);
            }
            if let Ok(text) = std::fs::read_to_string(data_dir.join("admin.key"))
                && text.ends_with('\n')
            {
                return Ok(text.trim().to_owned());
            }
            if Instant::now() >= deadline {
                bail!(
                    "{} printed no admin key; its last output:\n{}",
                    self.name,
                    self.stderr_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Fails if the child has exited, with its last output.
    pub fn check_running(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!(
                "{} exited ({status}); its last output:\n{}",
                self.name,
                self.stderr_tail()
            );
        }
        Ok(())
    }

    /// Polls `GET /readyz` on `addr` every `interval` until it answers 200; returns the time
    /// from spawn to that answer. Fails if the child exits or `timeout` passes.
    pub async fn wait_ready(
        &mut self,
        addr: SocketAddr,
        interval: Duration,
        timeout: Duration,
    ) -> anyhow::Result<Duration> {
        let deadline = self.spawned_at + timeout;
        loop {
            if probe_ready(addr).await {
                return Ok(self.spawned_at.elapsed());
            }
            self.check_running()?;
            if Instant::now() >= deadline {
                bail!(
                    "{} was not ready on {addr} within {timeout:?}; its last output:\n{}",
                    self.name,
                    self.stderr_tail()
                );
            }
            tokio::time::sleep(interval).await;
        }
    }

    /// Stops the child: SIGTERM, then SIGKILL if it has not exited after [`STOP_GRACE`].
    /// Returns the exit status and how long the exit took after SIGTERM.
    pub fn stop(&mut self) -> anyhow::Result<(ExitStatus, Duration)> {
        let started = Instant::now();
        if let Some(status) = self.child.try_wait()? {
            return Ok((status, Duration::ZERO));
        }
        terminate(self.child.id());
        while started.elapsed() < STOP_GRACE {
            if let Some(status) = self.child.try_wait()? {
                return Ok((status, started.elapsed()));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        eprintln!(
            "warning: {} did not stop within {STOP_GRACE:?} of SIGTERM; killing it",
            self.name
        );
        let _ = self.child.kill();
        let status = self.child.wait()?;
        Ok((status, started.elapsed()))
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("warning: cannot stop {}: {e:#}", self.name);
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Sends SIGTERM to `pid`.
fn terminate(pid: u32) {
    // SAFETY: kill(2) has no memory-safety preconditions; `pid` is our own child, not yet
    // reaped, so it cannot name another process.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGTERM);
    }
}

/// One `GET /readyz` over a fresh connection, written by hand to keep the probe itself cheap:
/// true on a `200` answer.
pub async fn probe_ready(addr: SocketAddr) -> bool {
    let attempt = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
        stream.set_nodelay(true).ok()?;
        stream
            .write_all(b"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .await
            .ok()?;
        let mut head = [0u8; 12];
        let mut filled = 0;
        while filled < head.len() {
            let n = stream.read(&mut head[filled..]).await.ok()?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        Some(head[..filled].starts_with(b"HTTP/1.1 200"))
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), attempt).await,
        Ok(Some(true))
    )
}

/// A `ward serve` command on loopback ports with `data_dir`, run in `work_dir` (so that no
/// `./ward.toml` of the caller is read) and without the caller's `WARD_*` variables.
pub fn ward_serve_command(
    data_dir: &Path,
    work_dir: &Path,
    http: SocketAddr,
    grpc: SocketAddr,
) -> anyhow::Result<Command> {
    let exe = std::env::current_exe().context("cannot find the ward executable")?;
    let mut command = Command::new(exe);
    command.arg("serve").current_dir(work_dir);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("WARD_") {
            command.env_remove(key);
        }
    }
    command
        .env("WARD_DATA_DIR", data_dir)
        .env("WARD_SERVER_LISTEN", http.to_string())
        .env("WARD_SERVER_GRPC_LISTEN", grpc.to_string());
    Ok(command)
}

/// A loopback address on a free port.
pub fn loopback() -> anyhow::Result<SocketAddr> {
    Ok(SocketAddr::from(([127, 0, 0, 1], free_port()?)))
}

/// A value of `/proc/<pid>/status` in bytes (`VmRSS`, `VmHWM`); `None` when unreadable.
pub fn proc_status_bytes(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_status_kib(&status, field).map(|kib| kib * 1024)
}

/// The kB value of `field` in the text of `/proc/<pid>/status`.
fn parse_status_kib(status: &str, field: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| {
            l.strip_prefix(field)
                .and_then(|rest| rest.strip_prefix(':'))
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
}

/// Samples a process's resident memory every 100 ms in the background, keeping the peak.
pub struct RssSampler {
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl RssSampler {
    /// Starts sampling `pid`.
    pub fn start(pid: u32) -> RssSampler {
        let peak = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (peak.clone(), stop.clone());
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            while !s.load(Ordering::Relaxed) {
                tick.tick().await;
                if let Some(rss) = proc_status_bytes(pid, "VmRSS") {
                    p.fetch_max(rss, Ordering::Relaxed);
                }
            }
        });
        RssSampler { peak, stop, task }
    }

    /// Stops sampling; returns the peak seen (0 when none could be read).
    pub async fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        self.peak.load(Ordering::Relaxed)
    }
}

/// The 1, 5 and 15 minute load averages of the machine, as `/proc/loadavg` says.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into())
}

/// Bytes of every file under `dir`.
pub fn disk_usage(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => disk_usage(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// The `n` largest non-empty files directly in `dir`, largest first, with their sizes.
pub fn largest_files(dir: &Path, n: usize) -> Vec<(String, u64)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<(String, u64)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let m = e.metadata().ok()?;
            (m.is_file() && m.len() > 0)
                .then(|| (e.file_name().to_string_lossy().into_owned(), m.len()))
        })
        .collect();
    files.sort_by_key(|f| std::cmp::Reverse(f.1));
    files.truncate(n);
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_status_fields_parse() {
        let text = "Name:\tward\nVmHWM:\t   40960 kB\nVmRSS:\t   20480 kB\nThreads:\t5\n";
        assert_eq!(parse_status_kib(text, "VmRSS"), Some(20480));
        assert_eq!(parse_status_kib(text, "VmHWM"), Some(40960));
        assert_eq!(parse_status_kib(text, "VmSwap"), None);
        assert!(proc_status_bytes(std::process::id(), "VmRSS").unwrap() > 0);
    }

    #[tokio::test]
    async fn children_are_stopped_when_dropped() {
        let mut sleep = Command::new("sleep");
        sleep.arg("30");
        let mut guard = ChildGuard::spawn("sleep", sleep).unwrap();
        let pid = guard.pid();
        assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
        let (status, took) = guard.stop().unwrap();
        assert!(!status.success());
        assert!(took < STOP_GRACE);
        drop(guard);
        assert!(
            !probe_ready(loopback().unwrap()).await,
            "nothing listens on a free port"
        );
    }
}
