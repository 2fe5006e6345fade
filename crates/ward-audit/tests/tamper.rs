//! Tamper cases built by editing exported entries; each must be named with the right kind.
mod common;
use common::*;
use serde_json::json;
use ward_audit::*;

fn broken(v: Verdict) -> Inconsistency {
    match v {
        Verdict::Broken(i) => i,
        other => panic!("expected broken, got {other:?}"),
    }
}

#[test]
fn untouched_chain_is_intact() {
    let lines = export(10);
    match verify(&lines) {
        Verdict::Intact {
            start,
            entries,
            last_seq,
            last_checkpoint,
            ..
        } => {
            assert_eq!((start, entries, last_seq), (Start::Genesis, 10, 10));
            assert_eq!(last_checkpoint.map(|c| c.seq), Some(10));
        }
        v => panic!("{v:?}"),
    }
    // JSON round trip changes nothing.
    assert!(matches!(
        verify(&edit_json(&lines, |_| {})),
        Verdict::Intact { .. }
    ));
}

#[test]
fn changed_field_is_changed() {
    let i = broken(verify(&edit_json(&export(10), |l| {
        let k = entry_index(l, 6);
        l[k]["action"] = json!("tool.delete");
    })));
    assert_eq!((i.kind, i.seq), (InconsistencyKind::Changed, 6));
}

#[test]
fn changed_field_with_recomputed_hash_is_changed_at_that_entry() {
    let i = broken(verify(&edit_json(&export(10), |l| {
        let k = entry_index(l, 6);
        l[k]["details"] = json!("{\"z\":0}");
        rehash(l, k);
    })));
    assert_eq!((i.kind, i.seq), (InconsistencyKind::Changed, 6));
}

#[test]
fn changed_last_entry_is_caught_by_its_checkpoint() {
    let i = broken(verify(&edit_json(&export(10), |l| {
        let k = entry_index(l, 10);
        l[k]["outcome"] = json!("success");
        rehash(l, k);
    })));
    assert_eq!((i.kind, i.seq), (InconsistencyKind::Changed, 10));
}

#[test]
fn deleted_entry_is_missing() {
    let i = broken(verify(&edit_json(&export(10), |l| {
        let k = entry_index(l, 5);
        l.remove(k);
    })));
    assert_eq!((i.kind, i.seq), (InconsistencyKind::Missing, 5));
}

#[test]
fn swapped_entries_are_reordered() {
    let i = broken(verify(&edit_json(&export(10), |l| {
        let (a, b) = (entry_index(l, 6), entry_index(l, 7));
        l.swap(a, b);
    })));
    assert_eq!((i.kind, i.seq), (InconsistencyKind::Reordered, 6));
}

#[test]
fn duplicate_seq_is_inserted() {
    let i = broken(verify(&edit_json(&export(10), |l| {
        let k = entry_index(l, 6);
        let mut forged = l[k - 1].clone();
        forged["seq"] = json!(6);
        forged["action"] = json!("forged");
        forged["prev_hash"] = l[k - 1]["hash"].clone();
        l.insert(k, forged);
        rehash(l, k);
    })));
    // The forged entry links correctly; the genuine seq 6 then appears twice.
    assert_eq!((i.kind, i.seq), (InconsistencyKind::Inserted, 6));
}

#[test]
fn renumbered_insertion_is_inserted() {
    // Insert a forged seq 6 and renumber the rest (hashes recomputed, links left).
    let i = broken(verify(&edit_json(&export(10), |l| {
        let k = entry_index(l, 6);
        l.retain(|x| x["record"] == "entry");
        let mut forged = l[k - 1].clone();
        forged["seq"] = json!(6);
        forged["prev_hash"] = l[k - 1]["hash"].clone();
        l.insert(k, forged);
        rehash(l, k);
        for j in k + 1..l.len() {
            l[j]["seq"] = json!(l[j]["seq"].as_u64().unwrap_or(0) + 1);
            rehash(l, j);
        }
    })));
    assert_eq!((i.kind, i.seq), (InconsistencyKind::Inserted, 6));
}

#[test]
fn other_tenant_entry_is_inserted() {
    let i = broken(verify(&edit_json(&export(6), |l| {
        let k = entry_index(l, 3);
        l[k]["tenant"] = json!("other");
        rehash(l, k);
    })));
    assert_eq!((i.kind, i.seq), (InconsistencyKind::Inserted, 3));
}

#[test]
fn cut_tail_is_truncated() {
    // Drop entries 9 and 10 but keep the checkpoint for 10 (stored apart from entries).
    let lines = export(10);
    let cp = lines.last().cloned().expect("checkpoint");
    let mut cut: Vec<ExportLine> = lines
        .into_iter()
        .filter(|l| !matches!(l, ExportLine::Entry(e) if e.seq >= 9))
        .collect();
    cut.retain(|l| !matches!(l, ExportLine::Checkpoint(c) if c.seq == 10));
    cut.push(cp);
    let i = broken(verify(&cut));
    assert_eq!((i.kind, i.seq), (InconsistencyKind::TruncatedTail, 9));
    // Without the checkpoint a cut tail cannot be told from a shorter chain.
    assert!(matches!(
        verify(&export(8)),
        Verdict::Intact { last_seq: 8, .. }
    ));
}

#[test]
fn forged_checkpoint_is_bad_signature() {
    let i = broken(verify(&edit_json(&export(10), |l| {
        let k = entry_index(l, 8) + 1;
        assert_eq!(l[k]["record"], "checkpoint");
        l[k]["time_unix_nano"] = json!(5);
    })));
    assert_eq!((i.kind, i.seq), (InconsistencyKind::BadSignature, 8));
    // Signed by another key.
    let other = CheckpointSigner::from_seed(&[1; 32]).expect("seed");
    let mut lines = export(4);
    let ExportLine::Entry(e) = &lines[3] else {
        panic!()
    };
    lines.push(ExportLine::Checkpoint(other.sign(&tenant(), 4, &e.hash, 9)));
    assert_eq!(broken(verify(&lines)).kind, InconsistencyKind::BadSignature);
}

#[test]
fn whole_chain_rewrite_is_caught_by_checkpoints() {
    // Every hash recomputed after a change at seq 2: only the signature reveals it.
    let i = broken(verify(&edit_json(&export(6), |l| {
        l.retain(|x| x["record"] == "entry" || x["seq"] == 4);
        let mut prev = json!(hex::encode([0u8; 32]));
        for j in 0..l.len() {
            if l[j]["record"] != "entry" {
                continue;
            }
            if l[j]["seq"] == 2 {
                l[j]["action"] = json!("rewritten");
            }
            l[j]["prev_hash"] = prev.clone();
            rehash(l, j);
            prev = l[j]["hash"].clone();
        }
    })));
    assert_eq!((i.kind, i.seq), (InconsistencyKind::Changed, 4));
}

#[test]
fn verification_continues_across_a_prune_marker() {
    let lines = export(10);
    let entries: Vec<Entry> = lines
        .iter()
        .filter_map(|l| match l {
            ExportLine::Entry(e) => Some(e.clone()),
            _ => None,
        })
        .collect();
    let mut chain = Chain::resume(tenant(), 10, entries[9].hash);
    let marker = chain.append(EntryDraft::prune(4, entries[3].hash), 1);
    let after = chain.append(EntryDraft::agent("a", "b", "c", Outcome::Error), 2);
    let mut kept: Vec<ExportLine> = lines
        .into_iter()
        .filter(|l| {
            !matches!(l, ExportLine::Entry(e) if e.seq <= 4)
                && !matches!(l, ExportLine::Checkpoint(c) if c.seq <= 4)
        })
        .collect();
    kept.push(ExportLine::Entry(marker.clone()));
    kept.push(ExportLine::Entry(after));
    match verify(&kept) {
        Verdict::Intact {
            start, last_seq, ..
        } => {
            assert_eq!(
                start,
                Start::Pruned {
                    through_seq: 4,
                    last_hash: entries[3].hash
                }
            );
            assert_eq!(last_seq, 12);
        }
        v => panic!("{v:?}"),
    }
    // Cutting more than the marker accounts for is missing.
    let more: Vec<ExportLine> = kept
        .iter()
        .filter(|l| !matches!(l, ExportLine::Entry(e) if e.seq == 5))
        .cloned()
        .collect();
    let i = broken(verify(&more));
    assert_eq!((i.kind, i.seq), (InconsistencyKind::Missing, 5));
    // Cutting without any marker is missing from seq 1.
    let i = broken(verify(&kept[..kept.len() - 2]));
    assert_eq!((i.kind, i.seq), (InconsistencyKind::Missing, 1));
}

#[test]
fn garbage_never_panics() {
    let lines = export(6);
    // Arbitrary seq/time/hash values through the verifier.
    for seq in [0u64, 1, 2, u64::MAX, u64::MAX - 1] {
        let mut l = edit_json(&lines, |l| {
            l[0]["seq"] = json!(seq);
            rehash(l, 0);
        });
        l.rotate_left(2);
        let _ = verify(&l);
    }
    let mut v = Verifier::new(tenant(), &[]);
    let ExportLine::Entry(mut e) = lines[0].clone() else {
        panic!()
    };
    e.seq = u64::MAX;
    e.hash = e.compute_hash();
    let _ = v.entry(&e);
    let _ = v.entry(&e);
    let _ = v.finish();
    assert!(ExportLine::parse("{\"record\":\"entry\"}").is_err());
    assert!(ExportLine::parse("{\"record\":\"entry\",\"tenant\":\"BAD\"}").is_err());
}
