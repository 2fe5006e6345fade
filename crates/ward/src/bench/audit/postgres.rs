//! The PostgreSQL peer of `ward bench audit`: a throwaway cluster (`initdb` in a temporary
//! directory, `postgres` on a free loopback port, durable settings spelled out), an audit table
//! shaped like Ward's entries, then one autocommitted `INSERT` per entry at a fixed rate and
//! 100-row transactions from several connections at full speed.
//!
//! PostgreSQL refuses to run as root. When the bench runs as root, the cluster's directory is
//! handed to the `postgres` OS user (or `nobody` when there is none) and `initdb` and
//! `postgres` run as that user (`setuid`/`setgid` in the child before `exec`).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinHandle;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Statement};

use super::entries::{self, Entry};
use super::{Batched, Paced};
use crate::bench::load::{self, Outcome, RatePlan};
use crate::bench::process::{self, ChildGuard};
use ward_model::time::now_unix_nanos;

/// Columns of the audit table, in insert order.
const COLUMNS: &str =
    "tenant, seq, time_ns, agent, action, resource, outcome, details, prev_hash, hash";
/// Number of columns in [`COLUMNS`].
const NUM_COLUMNS: usize = 10;

/// The table the peer appends to.
const CREATE_TABLE: &str = "CREATE TABLE audit_entries (
    tenant text NOT NULL,
    seq bigint NOT NULL,
    time_ns bigint NOT NULL,
    agent text NOT NULL,
    action text NOT NULL,
    resource text NOT NULL,
    outcome text NOT NULL,
    details text NOT NULL,
    prev_hash bytea NOT NULL,
    hash bytea NOT NULL,
    PRIMARY KEY (tenant, seq)
)";

/// Settings passed to `postgres` on its command line (the rest are the defaults of `initdb`).
pub const SETTINGS: [&str; 4] = [
    "listen_addresses=127.0.0.1",
    "synchronous_commit=on",
    "fsync=on",
    "full_page_writes=on",
];

/// The database role `initdb` makes the superuser.
const ROLE: &str = "ward_bench";

/// Where PostgreSQL's server programs were found.
#[derive(Debug, Clone)]
pub struct PgBin {
    /// The directory holding `initdb` and `postgres`.
    pub dir: PathBuf,
}

/// Finds PostgreSQL's server programs: in `explicit` when given (an error if they are not
/// there), else in `pg_config --bindir`, else in the newest `/usr/lib/postgresql/*/bin`.
/// `None` when there are none.
pub fn find(explicit: Option<&Path>) -> anyhow::Result<Option<PgBin>> {
    if let Some(dir) = explicit {
        if has_server(dir) {
            return Ok(Some(PgBin {
                dir: dir.to_path_buf(),
            }));
        }
        bail!(
            "--pg-bin {}: no `initdb` and `postgres` there",
            dir.display()
        );
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if has_server(&dir) {
            return Ok(Some(PgBin { dir }));
        }
    }
    let mut versions: Vec<(Vec<u64>, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| {
                    (
                        version_key(&e.file_name().to_string_lossy()),
                        e.path().join("bin"),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    versions.sort();
    Ok(versions
        .into_iter()
        .rev()
        .map(|(_, dir)| dir)
        .find(|dir| has_server(dir))
        .map(|dir| PgBin { dir }))
}

/// Whether `dir` holds `initdb` and `postgres`.
fn has_server(dir: &Path) -> bool {
    dir.join("initdb").is_file() && dir.join("postgres").is_file()
}

/// `"15"` → `[15]`, `"9.6"` → `[9, 6]`: directory names that sort as versions.
fn version_key(name: &str) -> Vec<u64> {
    name.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

/// An OS user the cluster runs as.
#[derive(Debug, Clone, PartialEq)]
pub struct RunAs {
    /// User name.
    pub user: String,
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
}

/// Who runs the cluster: nobody else (`None`) unless the bench runs as root, then the
/// `postgres` user, or `nobody` when there is no `postgres` user.
fn run_as() -> anyhow::Result<Option<RunAs>> {
    // SAFETY: geteuid(2) has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    let passwd = std::fs::read_to_string("/etc/passwd").context("cannot read /etc/passwd")?;
    ["postgres", "nobody"]
        .iter()
        .find_map(|user| passwd_entry(&passwd, user))
        .map(Some)
        .context("running as root, and neither a `postgres` nor a `nobody` user exists to run PostgreSQL as (it refuses root)")
}

/// The entry of `user` in the text of `/etc/passwd`.
fn passwd_entry(passwd: &str, user: &str) -> Option<RunAs> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        if fields.next()? != user {
            return None;
        }
        let _password = fields.next()?;
        let uid = fields.next()?.parse().ok()?;
        let gid = fields.next()?.parse().ok()?;
        Some(RunAs {
            user: user.to_owned(),
            uid,
            gid,
        })
    })
}

/// A command for one of PostgreSQL's programs: as `who`, in the C locale, without the caller's
/// `PG*` variables.
fn pg_command(bin: &PgBin, program: &str, who: Option<&RunAs>, cwd: &Path) -> Command {
    let mut command = Command::new(bin.dir.join(program));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PG") {
            command.env_remove(key);
        }
    }
    command.current_dir(cwd).env("LC_ALL", "C").env("LANG", "C");
    if let Some(who) = who {
        // Dropping to a user from root also clears the supplementary groups (std does so).
        command.uid(who.uid).gid(who.gid);
    }
    command
}

/// A running throwaway cluster; stopped (by the child guard) when dropped.
pub struct Cluster {
    /// The postmaster.
    server: ChildGuard,
    /// Its loopback port.
    port: u16,
    /// Who it runs as.
    pub run_as: Option<RunAs>,
}

impl Cluster {
    /// Makes a cluster in `dir` (which must exist and be empty) and starts it. When it runs as
    /// another user, `dir` is handed to that user and its parent opened to it.
    pub async fn start(bin: &PgBin, dir: &Path) -> anyhow::Result<Cluster> {
        let who = run_as()?;
        if let Some(who) = &who {
            if let Some(parent) = dir.parent() {
                make_traversable(parent)?;
            }
            std::os::unix::fs::chown(dir, Some(who.uid), Some(who.gid))
                .with_context(|| format!("cannot hand {} to user {}", dir.display(), who.user))?;
        }
        let data = dir.join("data");
        let mut initdb = pg_command(bin, "initdb", who.as_ref(), dir);
        initdb.arg("-D").arg(&data).args([
            "-U",
            ROLE,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ]);
        // Where a cluster run as another user fails for want of access, say why.
        let hint = |error: &str| match &who {
            Some(who) if error.contains("ermission denied") => format!(
                " (PostgreSQL runs as OS user {}, since it refuses root: every directory above {} must be open to that user; choose a --data-dir under /tmp)",
                who.user,
                dir.display()
            ),
            _ => String::new(),
        };
        let out = match tokio::process::Command::from(initdb)
            .kill_on_drop(true)
            .stdin(std::process::Stdio::null())
            .output()
            .await
        {
            Ok(out) => out,
            Err(e) => bail!("cannot run initdb: {e}{}", hint(&e.to_string())),
        };
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            bail!(
                "initdb failed ({}){}:\n{}",
                out.status,
                hint(&stderr),
                stderr.trim()
            );
        }

        let port = process::free_port()?;
        let mut postgres = pg_command(bin, "postgres", who.as_ref(), dir);
        postgres
            .arg("-D")
            .arg(&data)
            .arg("-k")
            .arg(dir)
            .args(["-p", &port.to_string()]);
        for setting in SETTINGS {
            postgres.args(["-c", setting]);
        }
        let mut server = ChildGuard::spawn("postgres", postgres)?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match tokio_postgres::connect(&conninfo(port), NoTls).await {
                Ok((client, connection)) => {
                    drop(client);
                    let _ = connection.await;
                    break;
                }
                Err(e) => {
                    server.check_running()?;
                    if Instant::now() >= deadline {
                        bail!(
                            "postgres was not ready on port {port} within 60 s ({e}); its last output:\n{}",
                            server.stderr_tail()
                        );
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
        Ok(Cluster {
            server,
            port,
            run_as: who,
        })
    }

    /// A new connection.
    pub async fn connect(&self) -> anyhow::Result<Connection> {
        let (client, connection) = tokio_postgres::connect(&conninfo(self.port), NoTls)
            .await
            .context("cannot connect to postgres")?;
        let task = tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Connection { client, task })
    }

    /// Stops the server (SIGTERM, then SIGKILL); every connection must be closed first, or
    /// PostgreSQL's smart shutdown waits for them.
    pub fn stop(mut self) -> anyhow::Result<()> {
        self.server.stop()?;
        Ok(())
    }
}

/// How to reach the cluster.
fn conninfo(port: u16) -> String {
    format!("host=127.0.0.1 port={port} user={ROLE} dbname=postgres connect_timeout=5")
}

/// A connection; its background task ends when it is dropped.
pub struct Connection {
    /// The client half.
    pub client: Client,
    task: JoinHandle<()>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the PostgreSQL peer measured.
#[derive(Debug, Serialize)]
pub struct PgResult {
    /// `SHOW server_version`.
    pub server_version: String,
    /// `SHOW wal_sync_method`.
    pub wal_sync_method: String,
    /// The OS user the cluster ran as, when not the bench's own.
    pub run_as: Option<String>,
    /// One autocommitted `INSERT` per entry, at a fixed rate.
    pub paced: Paced,
    /// Multi-row `INSERT`s of `batch` rows, one transaction each, from several connections.
    pub batched: Batched,
}

/// What the PostgreSQL measurements need.
pub struct PgPlan {
    /// Entries to insert, used in turn.
    pub entries: Arc<Vec<Entry>>,
    /// Entries per second of the paced phase.
    pub rate: f64,
    /// Rows per transaction of the batched phase.
    pub batch: u32,
    /// Connections.
    pub connections: usize,
    /// Unmeasured warm-up before each phase.
    pub warmup: Duration,
    /// Measured time of each phase.
    pub duration: Duration,
    /// Most paced inserts in flight.
    pub max_outstanding: usize,
}

/// Starts a cluster in `dir`, measures, and stops it.
pub async fn measure(bin: &PgBin, dir: &Path, plan: &PgPlan) -> anyhow::Result<PgResult> {
    let cluster = Cluster::start(bin, dir).await?;
    let result = measure_on(&cluster, dir, plan).await;
    // Every connection of `measure_on` is closed by now, so the shutdown does not wait.
    cluster.stop()?;
    result
}

/// The measurements on a running cluster.
async fn measure_on(cluster: &Cluster, dir: &Path, plan: &PgPlan) -> anyhow::Result<PgResult> {
    let setup = cluster.connect().await?;
    setup
        .client
        .batch_execute(CREATE_TABLE)
        .await
        .context("cannot create the audit table")?;
    let show = |name: &'static str| {
        let client = &setup.client;
        async move {
            client
                .query_one(&format!("SHOW {name}"), &[])
                .await
                .and_then(|row| row.try_get::<_, String>(0))
                .with_context(|| format!("SHOW {name}"))
        }
    };
    let server_version = show("server_version").await?;
    let wal_sync_method = show("wal_sync_method").await?;
    drop(setup);
    // Also writes out what `initdb --no-sync` left unwritten.
    super::settle(dir).await;

    eprintln!(
        "(2a) PostgreSQL: one INSERT per entry (autocommit) at {}/s for {:?}…",
        plan.rate, plan.duration
    );
    let paced = paced(cluster, plan).await.context("paced inserts")?;
    eprintln!(
        "(2b) PostgreSQL: {}-row transactions on {} connections for {:?}…",
        plan.batch, plan.connections, plan.duration
    );
    super::settle(dir).await;
    let batched = batched(cluster, plan).await.context("batched inserts")?;
    Ok(PgResult {
        server_version,
        wal_sync_method,
        run_as: cluster.run_as.as_ref().map(|w| w.user.clone()),
        paced,
        batched,
    })
}

/// The `INSERT` of `rows` rows.
fn insert_sql(rows: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|r| {
            let params: Vec<String> = (1..=NUM_COLUMNS)
                .map(|c| format!("${}", r * NUM_COLUMNS + c))
                .collect();
            format!("({})", params.join(", "))
        })
        .collect();
    format!(
        "INSERT INTO audit_entries ({COLUMNS}) VALUES {}",
        values.join(", ")
    )
}

/// The column values of one row.
struct Row {
    tenant: &'static str,
    seq: i64,
    time_ns: i64,
    agent: &'static str,
    action: &'static str,
    resource: String,
    outcome: &'static str,
    details: String,
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
}

impl Row {
    /// Row `seq` of `tenant`, with `entry`'s content, timed now.
    fn new(tenant: &'static str, seq: i64, entry: &Entry) -> Row {
        Row {
            tenant,
            seq,
            time_ns: now_unix_nanos(),
            agent: entry.agent,
            action: entry.action,
            resource: entry.resource.clone(),
            outcome: entry.outcome,
            details: entry.details_text(),
            prev_hash: entries::fake_hash(seq.wrapping_sub(1) as u64),
            hash: entries::fake_hash(seq as u64),
        }
    }

    /// Bytes of the values, roughly what goes over the wire.
    fn bytes(&self) -> u64 {
        (self.tenant.len()
            + 16
            + self.agent.len()
            + self.action.len()
            + self.resource.len()
            + self.outcome.len()
            + self.details.len()
            + self.prev_hash.len()
            + self.hash.len()) as u64
    }

    /// The values as statement parameters, in [`COLUMNS`] order.
    fn params(&self) -> [&(dyn ToSql + Sync); NUM_COLUMNS] {
        [
            &self.tenant,
            &self.seq,
            &self.time_ns,
            &self.agent,
            &self.action,
            &self.resource,
            &self.outcome,
            &self.details,
            &self.prev_hash,
            &self.hash,
        ]
    }
}

/// Runs `statement` with `rows` and says how it went.
async fn insert(client: &Client, statement: &Statement, rows: Vec<Row>) -> Outcome {
    let bytes = rows.iter().map(Row::bytes).sum();
    let params: Vec<&(dyn ToSql + Sync)> = rows.iter().flat_map(Row::params).collect();
    match client.execute(statement, &params).await {
        Ok(n) => Outcome::Ok {
            records: n,
            rejected: 0,
            bytes,
        },
        Err(e) => Outcome::Failed(format!("{:#}", anyhow::Error::from(e))),
    }
}

/// A connection with a prepared insert.
struct Prepared {
    connection: Connection,
    statement: Statement,
}

/// `n` connections, each with the insert of `rows` rows prepared.
async fn prepared(cluster: &Cluster, n: usize, rows: usize) -> anyhow::Result<Vec<Prepared>> {
    let sql = insert_sql(rows);
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let connection = cluster.connect().await?;
        let statement = connection
            .client
            .prepare(&sql)
            .await
            .context("cannot prepare the insert")?;
        out.push(Prepared {
            connection,
            statement,
        });
    }
    Ok(out)
}

/// A pool of connections: a send takes a free one, in arrival order, and waits while there is
/// none (that wait counts in its latency, as with any client pool).
struct Pool {
    free: Mutex<mpsc::Receiver<Prepared>>,
    back: mpsc::Sender<Prepared>,
}

impl Pool {
    fn new(connections: Vec<Prepared>) -> Pool {
        let (back, free) = mpsc::channel(connections.len().max(1));
        for c in connections {
            // The channel has room for every connection.
            let _ = back.try_send(c);
        }
        Pool {
            free: Mutex::new(free),
            back,
        }
    }

    /// Inserts `row` on a free connection.
    async fn insert(&self, row: Row) -> Outcome {
        let Some(c) = self.free.lock().await.recv().await else {
            return Outcome::Failed("the pool is closed".into());
        };
        let outcome = insert(&c.connection.client, &c.statement, vec![row]).await;
        let _ = self.back.send(c).await;
        outcome
    }
}

/// (2a): one autocommitted single-row `INSERT` per entry, on the schedule of `plan.rate`.
async fn paced(cluster: &Cluster, plan: &PgPlan) -> anyhow::Result<Paced> {
    let pool = Arc::new(Pool::new(prepared(cluster, plan.connections, 1).await?));
    let seq = Arc::new(AtomicI64::new(0));
    let mut measured = None;
    for length in [plan.warmup, plan.duration] {
        if length.is_zero() {
            continue;
        }
        let rate_plan = RatePlan::new(plan.rate, length);
        let (pool, seq, entries) = (pool.clone(), seq.clone(), plan.entries.clone());
        let result = load::open_loop(rate_plan, plan.max_outstanding, move |i| {
            let pool = pool.clone();
            let n = seq.fetch_add(1, Ordering::Relaxed);
            let row = Row::new("paced", n, &entries[i as usize % entries.len()]);
            async move { pool.insert(row).await }
        })
        .await?;
        measured = Some((rate_plan, result));
    }
    let (rate_plan, result) = measured.context("the duration must be positive")?;
    Ok(Paced::new(rate_plan.per_second, result, Default::default()))
}

/// (2b): `plan.batch`-row `INSERT`s (one transaction each) from `plan.connections` connections
/// at full speed.
async fn batched(cluster: &Cluster, plan: &PgPlan) -> anyhow::Result<Batched> {
    let batch = plan.batch as usize;
    let connections = Arc::new(prepared(cluster, plan.connections, batch).await?);
    let seq = Arc::new(AtomicI64::new(0));
    let op = {
        let (connections, entries) = (connections.clone(), plan.entries.clone());
        move |worker: usize, _i: u64| {
            let connections = connections.clone();
            let first = seq.fetch_add(batch as i64, Ordering::Relaxed);
            let rows: Vec<Row> = (0..batch)
                .map(|k| {
                    let n = first + k as i64;
                    Row::new("batched", n, &entries[n as usize % entries.len()])
                })
                .collect();
            async move {
                let c = &connections[worker];
                insert(&c.connection.client, &c.statement, rows).await
            }
        }
    };
    if !plan.warmup.is_zero() {
        load::closed_loop(plan.connections, plan.warmup, op.clone()).await?;
    }
    let result = load::closed_loop(plan.connections, plan.duration, op).await?;
    Ok(Batched::new(
        plan.batch,
        plan.connections,
        result,
        Default::default(),
    ))
}

/// Opens `dir` to other users (mode 0755), so that a cluster run as another user can reach the
/// directories inside it.
fn make_traversable(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("cannot open {} to the PostgreSQL user", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_numerically() {
        let mut v = ["9.6", "15", "10", "16"].map(version_key).to_vec();
        v.sort();
        assert_eq!(v, vec![vec![9, 6], vec![10], vec![15], vec![16]]);
    }

    #[test]
    fn passwd_entries_parse() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\npostgres:x:101:104:PostgreSQL administrator,,,:/var/lib/postgresql:/bin/bash\nbroken:x:nope:1::/:/bin/sh\n";
        assert_eq!(
            passwd_entry(passwd, "postgres"),
            Some(RunAs {
                user: "postgres".into(),
                uid: 101,
                gid: 104
            })
        );
        assert_eq!(passwd_entry(passwd, "post"), None);
        assert_eq!(passwd_entry(passwd, "broken"), None);
    }

    #[test]
    fn inserts_number_their_parameters() {
        assert_eq!(
            insert_sql(1),
            format!(
                "INSERT INTO audit_entries ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            )
        );
        let two = insert_sql(2);
        assert!(
            two.ends_with("($11, $12, $13, $14, $15, $16, $17, $18, $19, $20)"),
            "{two}"
        );
        assert_eq!(COLUMNS.split(", ").count(), NUM_COLUMNS);
    }

    #[test]
    fn an_explicit_directory_without_postgres_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(find(Some(dir.path())).is_err());
    }

    /// A real cluster, when this machine has PostgreSQL: both phases insert rows, and the
    /// server is gone afterwards.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn measures_a_real_cluster() {
        let Some(bin) = find(None).unwrap() else {
            eprintln!("skipped: no PostgreSQL server binaries");
            return;
        };
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("postgres");
        std::fs::create_dir(&dir).unwrap();
        let plan = PgPlan {
            entries: Arc::new(entries::generate(5, 64)),
            rate: 200.0,
            batch: 10,
            connections: 2,
            warmup: Duration::ZERO,
            duration: Duration::from_millis(300),
            max_outstanding: 1024,
        };
        let cluster = Cluster::start(&bin, &dir).await.unwrap();
        let result = measure_on(&cluster, &dir, &plan).await.unwrap();
        let check = cluster.connect().await.unwrap();
        let count: i64 = check
            .client
            .query_one(
                "SELECT count(*) FROM audit_entries WHERE tenant = 'batched'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        drop(check);
        let pid = cluster.server.pid();
        cluster.stop().unwrap();
        assert!(!Path::new(&format!("/proc/{pid}")).exists());
        assert_eq!(result.paced.figures.records, 60);
        assert_eq!(result.paced.figures.failed, 0);
        assert!(result.batched.figures.records >= 10);
        assert_eq!(result.batched.figures.records % 10, 0);
        assert_eq!(count as u64, result.batched.figures.records);
        assert!(!result.server_version.is_empty());
    }
}
