//! Golden vectors: the canonical bytes and hashes of fixed entries and one checkpoint from a
//! fixed seed. Any change to the encoding fails here. To regenerate after a deliberate,
//! versioned change: `WARD_AUDIT_WRITE_VECTORS=1 cargo test -p ward-audit --test vectors`.
mod common;
use common::*;
use serde_json::{Value, json};
use ward_audit::*;

fn vectors() -> Value {
    let lines = export(5);
    let mut entries = Vec::new();
    let mut checkpoint = Value::Null;
    for l in &lines {
        match l {
            ExportLine::Entry(e) => entries.push(json!({
                "entry": serde_json::from_str::<Value>(&l.to_json()).expect("json"),
                "canonical_hex": hex::encode(e.canonical_bytes()),
                "hash": hex::encode(e.compute_hash()),
            })),
            ExportLine::Checkpoint(c) if c.seq == 4 => {
                checkpoint = json!({
                    "seed_hex": hex::encode(SEED),
                    "public_key_hex": signer().public_key().to_hex(),
                    "checkpoint": serde_json::from_str::<Value>(&l.to_json()).expect("json"),
                    "message_hex": hex::encode(Checkpoint::message(&c.tenant, c.seq, &c.hash, c.time_unix_nano)),
                })
            }
            ExportLine::Checkpoint(_) => {}
        }
    }
    json!({"version": 1, "entry_prefix": "ward-audit/entry/v1\\0", "entries": entries, "checkpoint": checkpoint})
}

#[test]
fn golden_vectors_match() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/v1.json");
    let now = vectors();
    if std::env::var_os("WARD_AUDIT_WRITE_VECTORS").is_some() {
        std::fs::write(
            path,
            serde_json::to_string_pretty(&now).expect("json") + "\n",
        )
        .expect("write");
    }
    let stored: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("vectors file")).expect("json");
    // Recompute from the stored entries, independent of how they were generated.
    for v in stored["entries"].as_array().expect("entries") {
        let ExportLine::Entry(e) = ExportLine::parse(&v["entry"].to_string()).expect("entry")
        else {
            panic!("not an entry")
        };
        assert_eq!(
            hex::encode(e.canonical_bytes()),
            v["canonical_hex"].as_str().expect("hex"),
            "seq {}",
            e.seq
        );
        assert_eq!(
            hex::encode(e.compute_hash()),
            v["hash"].as_str().expect("hex"),
            "seq {}",
            e.seq
        );
        assert_eq!(e.hash, e.compute_hash());
    }
    let cp = &stored["checkpoint"];
    let ExportLine::Checkpoint(c) = ExportLine::parse(&cp["checkpoint"].to_string()).expect("cp")
    else {
        panic!("not a checkpoint")
    };
    let pk = PublicKey::from_hex(cp["public_key_hex"].as_str().expect("pk")).expect("pk");
    assert_eq!(
        hex::encode(Checkpoint::message(
            &c.tenant,
            c.seq,
            &c.hash,
            c.time_unix_nano
        )),
        cp["message_hex"].as_str().expect("hex")
    );
    c.verify(&pk).expect("signature");
    // Ed25519 is deterministic: the fixed seed gives the same signature.
    assert_eq!(
        signer().sign(&c.tenant, c.seq, &c.hash, c.time_unix_nano),
        c
    );
    // And the code still produces exactly the stored vectors.
    assert_eq!(now, stored);
}
