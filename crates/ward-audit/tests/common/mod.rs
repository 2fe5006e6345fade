#![allow(dead_code)]
use serde_json::json;
use ward_audit::*;

pub const SEED: [u8; 32] = [7; 32];

pub fn tenant() -> TenantId {
    TenantId::new("acme").expect("tenant")
}

pub fn signer() -> CheckpointSigner {
    CheckpointSigner::from_seed(&SEED).expect("seed")
}

/// `n` entries with a checkpoint after every 4th entry and after the last.
pub fn export(n: u64) -> Vec<ExportLine> {
    let s = signer();
    let mut chain = Chain::new(tenant());
    let key = SubjectKey::from_bytes([9; 32]);
    let mut out = Vec::new();
    for i in 1..=n {
        let mut d = EntryDraft::agent(
            "support-bot",
            "tool.call",
            format!("crm/ticket/{i}"),
            Outcome::Success,
        );
        if i % 3 == 0 {
            d.actor.on_behalf_of =
                Some(seal_with_nonce("user:42", &key, [i as u8; 12], "alice@example.com").into());
        }
        if i % 5 == 0 {
            d = EntryDraft::system("keys", "key.create", "key/abc", Outcome::Denied);
        }
        d.trace_id = (i % 2 == 0).then(|| "4bf92f3577b34da6a3ce929d0e0e4736".to_owned());
        d.details = Details::from_value(&json!({"z": i, "a": {"y": [1, "two", null], "b": true}}))
            .expect("object");
        let e = chain.append(d, 1_764_550_000_000_000_000 + i as i64 * 1000);
        let (seq, hash) = (e.seq, e.hash);
        out.push(ExportLine::Entry(e));
        if seq % 4 == 0 || seq == n {
            out.push(ExportLine::Checkpoint(s.sign(
                &tenant(),
                seq,
                &hash,
                1_764_550_000_000_000_000 + seq as i64 * 1000 + 1,
            )));
        }
    }
    out
}

pub fn verify(lines: &[ExportLine]) -> Verdict {
    let mut v = Verifier::new(tenant(), &[signer().public_key().clone()]);
    for l in lines {
        if v.line(l).is_err() {
            break;
        }
    }
    v.finish()
}

/// Re-encodes every line through JSON, applying `edit` to the parsed JSON values first,
/// as an attacker editing the stored rows would.
pub fn edit_json(
    lines: &[ExportLine],
    edit: impl FnOnce(&mut Vec<serde_json::Value>),
) -> Vec<ExportLine> {
    let mut vals: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(&l.to_json()).expect("json"))
        .collect();
    edit(&mut vals);
    vals.iter()
        .map(|v| ExportLine::parse(&v.to_string()).expect("parse"))
        .collect()
}

pub fn entry_index(lines: &[serde_json::Value], seq: u64) -> usize {
    lines
        .iter()
        .position(|l| l["record"] == "entry" && l["seq"] == seq)
        .expect("seq present")
}

/// Recomputes the stored hash of the entry line at `idx` (an attacker covering their tracks).
pub fn rehash(lines: &mut [serde_json::Value], idx: usize) {
    let ExportLine::Entry(e) = ExportLine::parse(&lines[idx].to_string()).expect("parse") else {
        panic!("not an entry")
    };
    lines[idx]["hash"] = json!(hex::encode(e.compute_hash()));
}
