use std::io::BufRead;
use std::sync::Arc;

use rusqlite::{Connection, params};
use serde_json::{Map, Value, json};
use ward_audit::{
    CheckpointPolicy, CheckpointSigner, ExportLine, InconsistencyKind, Outcome, PublicKey, Start,
    TenantId, Verdict, Verifier,
};

use super::*;

fn signer() -> Arc<CheckpointSigner> {
    Arc::new(CheckpointSigner::from_seed(&[7; 32]).unwrap())
}

fn open(dir: &Path, every: u64) -> AuditStore {
    let mut config = AuditConfig::new(dir);
    config.signer = Some(signer());
    config.policy = CheckpointPolicy {
        every_entries: every,
        every_nanos: 0,
    };
    AuditStore::open(config).unwrap()
}

fn tenant() -> TenantId {
    TenantId::new("acme").unwrap()
}

fn keys() -> Vec<PublicKey> {
    vec![signer().public_key().clone()]
}

fn draft(i: usize) -> AuditDraft {
    let mut details = Map::new();
    details.insert("i".into(), json!(i));
    details.insert(
        "email".into(),
        json!(format!("person{}@example.com", i % 3)),
    );
    AuditDraft {
        system: false,
        agent: format!("agent-{}", i % 2),
        on_behalf_of: Some(format!("u{}", i % 3)),
        action: "tool.call".into(),
        resource: format!("crm/ticket/{i}"),
        outcome: if i.is_multiple_of(5) {
            Outcome::Failure
        } else {
            Outcome::Success
        },
        trace_id: None,
        details,
    }
}

fn personal() -> Arc<[String]> {
    Arc::from(vec!["email".to_owned()])
}

/// Appends `n` entries in requests of five (so count-based checkpoints fall on multiples of 5).
async fn append(store: &AuditStore, n: usize) -> Vec<Appended> {
    let mut out = Vec::new();
    for start in (0..n).step_by(5) {
        let drafts = (start..n.min(start + 5)).map(draft).collect();
        out.extend(
            store
                .append(tenant(), drafts, personal())
                .unwrap()
                .await
                .unwrap(),
        );
    }
    out
}

fn verdict(dir: &Path) -> Verdict {
    AuditReader::open(dir)
        .unwrap()
        .verify(&tenant(), &keys(), |_| {})
        .unwrap()
}

fn broken_kind(dir: &Path) -> (InconsistencyKind, u64) {
    match verdict(dir) {
        Verdict::Broken(i) => (i.kind, i.seq),
        v => panic!("expected an inconsistency, got {v:?}"),
    }
}

fn intact_last_seq(v: &Verdict) -> u64 {
    match v {
        Verdict::Intact { last_seq, .. } => *last_seq,
        v => panic!("expected intact, got {v:?}"),
    }
}

#[tokio::test]
async fn appends_chain_sign_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), 10);
    let first = append(&store, 25).await;
    assert_eq!(
        first.iter().map(|a| a.seq).collect::<Vec<_>>(),
        (1..=25).collect::<Vec<_>>()
    );
    let cp = store.checkpoint(tenant()).await.unwrap().unwrap();
    assert_eq!(cp.seq, 25);
    assert_eq!(cp.hash, first[24].hash);
    match verdict(dir.path()) {
        Verdict::Intact {
            entries,
            last_seq,
            last_checkpoint,
            start,
            ..
        } => {
            assert_eq!((entries, last_seq, start), (25, 25, Start::Genesis));
            assert_eq!(last_checkpoint.unwrap().seq, 25);
        }
        v => panic!("{v:?}"),
    }
    // Checkpoints every 10 entries plus the forced one.
    assert_eq!(
        store
            .read(|r| r.stats(&tenant()))
            .await
            .unwrap()
            .checkpoints,
        3
    );
    store.shutdown().await.unwrap();

    // The chain continues after a restart.
    let store = open(dir.path(), 10);
    let more = append(&store, 1).await;
    assert_eq!(more[0].seq, 26);
    store.shutdown().await.unwrap();
    assert_eq!(intact_last_seq(&verdict(dir.path())), 26);
}

#[tokio::test]
async fn concurrent_writers_never_fork_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), 100);
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for _ in 0..20 {
                let fut = store
                    .append(tenant(), vec![draft(1), draft(2)], personal())
                    .unwrap();
                seqs.extend(fut.await.unwrap().into_iter().map(|a| a.seq));
            }
            seqs
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort_unstable();
    assert_eq!(all, (1..=1280).collect::<Vec<_>>());
    store.shutdown().await.unwrap();
    assert_eq!(intact_last_seq(&verdict(dir.path())), 1280);
}

#[tokio::test]
async fn personal_fields_are_sealed_and_erasure_shreds_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), 1000);
    append(&store, 6).await;
    // Nothing personal is stored in clear.
    let conn = Connection::open(dir.path().join(AUDIT_DB_FILE)).unwrap();
    let raw: Vec<String> = conn
        .prepare("SELECT coalesce(on_behalf_of, '') || on_behalf_of_sealed || details FROM audit_entries")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(raw.len(), 6);
    assert!(
        raw.iter()
            .all(|r| !r.contains("\"u1\"") && !r.contains("example.com")),
        "{raw:?}"
    );

    let query = |user: &str| AuditQuery {
        tenant: tenant(),
        agent: None,
        user: Some(user.to_owned()),
        action: None,
        resource: None,
        outcome: None,
        from_unix_nano: 0,
        to_unix_nano: i64::MAX,
        limit: 100,
        cursor: None,
    };
    let page = store.query(query("u1")).await.unwrap();
    assert_eq!(page.items.len(), 2);
    assert_eq!(page.items[0].on_behalf_of.as_deref(), Some("u1"));
    assert_eq!(page.items[0].details["email"], json!("person1@example.com"));

    let erasure = store
        .erase(tenant(), "user:u1".into(), "admin-key".into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((erasure.entries, erasure.seq), (2, 7));
    assert!(
        store
            .erase(tenant(), "user:u1".into(), "a".into())
            .await
            .unwrap()
            .is_none()
    );
    // The user can no longer be found, and their entries are unreadable.
    assert!(store.query(query("u1")).await.unwrap().items.is_empty());
    let mut all = query("u0");
    all.user = None;
    let items = store.query(all).await.unwrap().items;
    let erased: Vec<_> = items.iter().filter(|r| r.erased).collect();
    assert_eq!(erased.len(), 2);
    assert!(
        erased
            .iter()
            .all(|r| r.on_behalf_of.is_none() && r.details["email"] == json!({"erased": true}))
    );
    assert_eq!(items[0].entry.action, "audit.erase");
    assert!(!format!("{:?}", items[0].entry.resource).contains("u1"));
    // Other users are untouched; the chain still verifies.
    assert_eq!(store.query(query("u2")).await.unwrap().items.len(), 2);
    store.shutdown().await.unwrap();
    assert_eq!(intact_last_seq(&verdict(dir.path())), 7);
}

#[tokio::test]
async fn retention_archives_then_cuts_and_verification_continues() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), 5);
    append(&store, 12).await;
    let cutoff = ward_model::time::now_unix_nanos() + 1;
    append(&store, 3).await;
    let archive_dir = dir.path().join("archive");
    let run = store
        .prune(tenant(), cutoff, archive_dir.clone(), "ward".into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (run.from_seq, run.through_seq, run.entries, run.marker_seq),
        (1, 12, 12, 16)
    );
    assert!(
        store
            .prune(tenant(), 0, archive_dir, "ward".into())
            .await
            .unwrap()
            .is_none()
    );
    store.checkpoint(tenant()).await.unwrap();
    store.shutdown().await.unwrap();

    match verdict(dir.path()) {
        Verdict::Intact {
            start,
            entries,
            last_seq,
            ..
        } => {
            assert!(matches!(
                start,
                Start::Pruned {
                    through_seq: 12,
                    ..
                }
            ));
            assert_eq!((entries, last_seq), (4, 16));
        }
        v => panic!("{v:?}"),
    }
    // The archive is an export of 1..=12 with its checkpoints, and verifies on its own.
    let file = std::fs::File::open(&run.archive).unwrap();
    let reader = std::io::BufReader::new(zstd::Decoder::new(file).unwrap());
    let mut v = Verifier::new(tenant(), &keys());
    let mut checkpoints = 0;
    for line in reader.lines() {
        let line = ExportLine::parse(&line.unwrap()).unwrap();
        checkpoints += matches!(line, ExportLine::Checkpoint(_)) as u32;
        v.line(&line).unwrap();
    }
    assert_eq!(checkpoints, 2);
    assert_eq!(intact_last_seq(&v.finish()), 12);

    // A second cut: the archives, concatenated in name order and followed by an export of
    // what is left, verify as one chain from genesis.
    let store = open(dir.path(), 5);
    append(&store, 4).await;
    let cutoff = ward_model::time::now_unix_nanos() + 1;
    append(&store, 1).await;
    let second = store
        .prune(tenant(), cutoff, dir.path().join("archive"), "ward".into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((second.from_seq, second.through_seq), (13, 20));
    store.shutdown().await.unwrap();
    let mut names: Vec<_> = std::fs::read_dir(dir.path().join("archive").join("acme"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    assert_eq!(names.len(), 2);
    let mut v = Verifier::new(tenant(), &keys());
    for name in names {
        let file = std::fs::File::open(name).unwrap();
        for line in std::io::BufReader::new(zstd::Decoder::new(file).unwrap()).lines() {
            v.line(&ExportLine::parse(&line.unwrap()).unwrap()).unwrap();
        }
    }
    AuditReader::open(dir.path())
        .unwrap()
        .lines(&tenant(), SeqRange::ALL, |l| {
            v.line(&l).map_err(|e| StoreError::Internal(e.to_string()))
        })
        .unwrap();
    match v.finish() {
        Verdict::Intact {
            start, last_seq, ..
        } => assert_eq!((start, last_seq), (Start::Genesis, 22)),
        other => panic!("{other:?}"),
    }
    assert_eq!(intact_last_seq(&verdict(dir.path())), 22);
}

/// Appends 20 entries (checkpoints at 10 and 20) and returns a raw connection to the file.
async fn tamper_fixture(dir: &Path) -> Connection {
    let store = open(dir, 10);
    append(&store, 20).await;
    store.shutdown().await.unwrap();
    assert_eq!(intact_last_seq(&verdict(dir)), 20);
    Connection::open(dir.join(AUDIT_DB_FILE)).unwrap()
}

#[tokio::test]
async fn tampering_with_the_file_is_found_and_named() {
    let cases: Vec<(&str, &str, InconsistencyKind, u64)> = vec![
        (
            "change a field",
            "UPDATE audit_entries SET outcome = 3 WHERE seq = 5",
            InconsistencyKind::Changed,
            5,
        ),
        (
            "delete a row",
            "DELETE FROM audit_entries WHERE seq = 7",
            InconsistencyKind::Missing,
            7,
        ),
        (
            "swap two rows",
            "UPDATE audit_entries SET id = -id WHERE seq IN (8, 9);
             UPDATE audit_entries SET id = CASE seq WHEN 8 THEN 9 ELSE 8 END WHERE seq IN (8, 9)",
            InconsistencyKind::Reordered,
            8,
        ),
        (
            "truncate the tail",
            "DELETE FROM audit_entries WHERE seq > 16",
            InconsistencyKind::TruncatedTail,
            17,
        ),
        (
            "replace a checkpoint signature",
            "UPDATE audit_checkpoints SET signature = (SELECT signature FROM audit_checkpoints WHERE seq = 20) WHERE seq = 10",
            InconsistencyKind::BadSignature,
            10,
        ),
    ];
    for (name, sql, kind, seq) in cases {
        let dir = tempfile::tempdir().unwrap();
        let conn = tamper_fixture(dir.path()).await;
        conn.execute_batch(sql).unwrap();
        drop(conn);
        assert_eq!(broken_kind(dir.path()), (kind, seq), "{name}");
    }

    // Insert a row: a forged copy of entry 4, re-hashed so it links after entry 3, placed
    // between entries 3 and 4 in the file.
    let dir = tempfile::tempdir().unwrap();
    let conn = tamper_fixture(dir.path()).await;
    conn.execute_batch("UPDATE audit_entries SET id = -id; UPDATE audit_entries SET id = -id * 2")
        .unwrap();
    let reader = AuditReader::open(dir.path()).unwrap();
    let mut forged = None;
    reader
        .lines(&tenant(), SeqRange { from: 4, to: 4 }, |l| -> Result<()> {
            if let ExportLine::Entry(e) = l {
                forged = Some(e);
            }
            Ok(())
        })
        .unwrap();
    let mut forged = forged.unwrap();
    forged.action = "forged".into();
    forged.hash = forged.compute_hash();
    let tx_conn = &mut Connection::open(dir.path().join(AUDIT_DB_FILE)).unwrap();
    let tx = tx_conn.transaction().unwrap();
    rows::insert_entry(&tx, &forged).unwrap();
    let new_id: i64 = tx
        .query_row("SELECT max(id) FROM audit_entries", [], |r| r.get(0))
        .unwrap();
    tx.execute(
        "UPDATE audit_entries SET id = 7 WHERE id = ?1",
        params![new_id],
    )
    .unwrap();
    tx.commit().unwrap();
    assert_eq!(broken_kind(dir.path()), (InconsistencyKind::Inserted, 4));
}

#[tokio::test]
async fn overload_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = AuditConfig::new(dir.path());
    config.max_queued_requests = 1;
    let store = AuditStore::open(config).unwrap();
    let mut refused = 0;
    let mut pending = Vec::new();
    for i in 0..200 {
        match store.append(tenant(), vec![draft(i)], personal()) {
            Ok(f) => pending.push(f),
            Err(StoreError::Overloaded { .. }) => refused += 1,
            Err(e) => panic!("{e}"),
        }
    }
    for f in pending {
        f.await.unwrap();
    }
    assert!(refused > 0);
    let _ = Value::Null;
    store.shutdown().await.unwrap();
}

/// Appends `n` entries to `tenant` in requests of 500.
async fn append_to(store: &AuditStore, tenant: &TenantId, n: usize) {
    for start in (0..n).step_by(500) {
        let drafts = (start..n.min(start + 500)).map(draft).collect();
        store
            .append(tenant.clone(), drafts, personal())
            .unwrap()
            .await
            .unwrap();
    }
}

/// The entry seqs `lines` gives for `tenant` in `range`, and whether each checkpoint came
/// right after the entry it covers.
fn line_seqs(dir: &Path, tenant: &TenantId, range: SeqRange) -> Vec<u64> {
    let reader = AuditReader::open(dir).unwrap();
    let mut seqs = Vec::new();
    let mut last = 0;
    reader
        .lines(tenant, range, |l| -> Result<()> {
            match l {
                ExportLine::Entry(e) => {
                    assert_eq!(&e.tenant, tenant);
                    last = e.seq;
                    seqs.push(e.seq);
                }
                ExportLine::Checkpoint(c) => assert_eq!(c.seq, last, "checkpoint placement"),
            }
            Ok(())
        })
        .unwrap();
    seqs
}

/// Every way of scanning a tenant's rows (the whole table in rowid order, a rowid span
/// bounded through the index, the index with a sort) gives the same lines and verdicts,
/// across many verification batches, and still finds a reordering.
#[tokio::test]
async fn scans_of_small_and_large_tenants_agree() {
    let dir = tempfile::tempdir().unwrap();
    let big = TenantId::new("big").unwrap();
    let store = open(dir.path(), 1_000);
    // "big" first, then a small "acme" clustered at the end of the table: a bounded walk.
    append_to(&store, &big, 5_000).await;
    append_to(&store, &tenant(), 20).await;
    store.checkpoint(tenant()).await.unwrap();
    assert_eq!(
        line_seqs(dir.path(), &tenant(), SeqRange::ALL),
        (1..=20).collect::<Vec<_>>()
    );
    assert_eq!(intact_last_seq(&verdict(dir.path())), 20);
    // "big" is most of the table: a walk of the whole table, over several batches.
    let big_verdict = AuditReader::open(dir.path())
        .unwrap()
        .verify(&big, &keys(), |_| {})
        .unwrap();
    assert_eq!(intact_last_seq(&big_verdict), 5_000);
    assert_eq!(
        line_seqs(
            dir.path(),
            &big,
            SeqRange {
                from: 4_990,
                to: 6_000
            }
        ),
        (4_990..=5_000).collect::<Vec<_>>()
    );

    // More of "big", then one more of "acme": acme's rows now span most of the table while
    // being few of it, so the index is used with a sort.
    append_to(&store, &big, 3_000).await;
    append_to(&store, &tenant(), 1).await;
    store.shutdown().await.unwrap();
    assert_eq!(
        line_seqs(dir.path(), &tenant(), SeqRange::ALL),
        (1..=21).collect::<Vec<_>>()
    );
    assert_eq!(
        line_seqs(dir.path(), &tenant(), SeqRange { from: 5, to: 10 }),
        (5..=10).collect::<Vec<_>>()
    );
    assert_eq!(intact_last_seq(&verdict(dir.path())), 21);

    // A swap of two of acme's rows is found whichever plan reads them.
    let conn = Connection::open(dir.path().join(AUDIT_DB_FILE)).unwrap();
    let id = |seq: i64| -> i64 {
        conn.query_row(
            "SELECT id FROM audit_entries WHERE tenant = 'acme' AND seq = ?1",
            [seq],
            |r| r.get(0),
        )
        .unwrap()
    };
    let (id3, id4) = (id(3), id(4));
    conn.execute_batch(&format!(
        "UPDATE audit_entries SET id = -id WHERE tenant = 'acme' AND seq IN (3, 4);
         UPDATE audit_entries SET id = CASE seq WHEN 3 THEN {id4} ELSE {id3} END
         WHERE tenant = 'acme' AND seq IN (3, 4)"
    ))
    .unwrap();
    drop(conn);
    assert_eq!(broken_kind(dir.path()), (InconsistencyKind::Reordered, 3));
    let big_verdict = AuditReader::open(dir.path())
        .unwrap()
        .verify(&big, &keys(), |_| {})
        .unwrap();
    assert_eq!(intact_last_seq(&big_verdict), 8_000);
}
