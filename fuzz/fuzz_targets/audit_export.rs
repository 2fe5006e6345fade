#![no_main]
//! The audit verifier on arbitrary exports: whatever a third party feeds `ward audit verify
//! --file` (lines that parse or not, entries with any seq, hash, link or prune marker,
//! checkpoints with any signature), nothing may panic, and a verdict is always reached.
//!
//! Lines are split at `\n`; each that parses as an export line is fed in order. To reach past
//! the JSON parser, every input also yields a chain of well-formed entries whose seqs, links
//! and kinds are taken from the input bytes.

use libfuzzer_sys::fuzz_target;
use ward_audit::{
    Chain, CheckpointSigner, EntryDraft, ExportLine, Outcome, TenantId, Verdict, Verifier,
};

fuzz_target!(|data: &[u8]| {
    let tenant = TenantId::new("acme").expect("valid tenant");
    let signer = CheckpointSigner::from_seed(&[9; 32]).expect("valid seed");
    let keys = [signer.public_key().clone()];

    let mut verifier = Verifier::new(tenant.clone(), &keys);
    for line in data.split(|&b| b == b'\n') {
        let Ok(text) = std::str::from_utf8(line) else {
            continue;
        };
        if let Ok(parsed) = ExportLine::parse(text) {
            if verifier.line(&parsed).is_err() {
                break;
            }
        }
    }
    let _: Verdict = verifier.finish();

    // Well-formed entries, then mangled by the input: dropped, repeated, re-sequenced,
    // relinked, or followed by a checkpoint (valid or not).
    let mut chain = Chain::new(tenant.clone());
    let mut entries = Vec::new();
    for (i, &b) in data.iter().take(64).enumerate() {
        let draft = if b % 7 == 0 {
            EntryDraft::prune(u64::from(b), chain.last_hash())
        } else {
            EntryDraft::agent("bot", "act", format!("r/{i}").as_str(), Outcome::Success)
        };
        entries.push(chain.append(draft, i as i64));
    }
    let mut verifier = Verifier::new(tenant.clone(), &keys);
    for (i, (entry, &b)) in entries.iter().zip(data).enumerate() {
        let mut e = entry.clone();
        match b % 11 {
            0 => continue,
            1 => e.seq = u64::from(b),
            2 => e.prev_hash[0] ^= b,
            3 => {
                let _ = verifier.entry(&e);
            }
            _ => {}
        }
        if verifier.entry(&e).is_err() {
            break;
        }
        if b % 5 == 0 {
            let mut cp = signer.sign(&tenant, e.seq, &e.hash, i as i64);
            if b % 3 == 0 {
                cp.seq = cp.seq.wrapping_add(u64::from(b));
            }
            if verifier.checkpoint(&cp).is_err() {
                break;
            }
        }
    }
    let _: Verdict = verifier.finish();
});
