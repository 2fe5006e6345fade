//! Append and verification throughput over 1M in-memory entries.
//! `cargo bench -p ward-audit --bench verify`

use std::time::Instant;

use ward_audit::{Actor, Chain, Details, EntryDraft, Field, Outcome, TenantId, Verdict, Verifier};

fn draft(i: u64) -> EntryDraft {
    EntryDraft {
        actor: Actor {
            agent: "support-bot".into(),
            on_behalf_of: Some(Field::Plain(format!("user:{}", i % 1000))),
        },
        trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
        details: Details::parse(&format!(
            r#"{{"tool":"crm.lookup","rows":{},"model":"gpt-x"}}"#,
            i % 97
        ))
        .unwrap_or_else(|_| Details::empty()),
        ..EntryDraft::agent(
            "support-bot",
            "tool.call",
            format!("crm/customer/{i}").as_str(),
            Outcome::Success,
        )
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    const N: u64 = 1_000_000;
    let tenant = TenantId::new("bench").expect("tenant");
    let drafts: Vec<EntryDraft> = (0..N).map(draft).collect();
    let mut append_rates = Vec::new();
    let mut entries = Vec::new();
    for _ in 0..3 {
        let ds = drafts.clone();
        let mut chain = Chain::new(tenant.clone());
        let t = Instant::now();
        entries = ds
            .into_iter()
            .enumerate()
            .map(|(i, d)| chain.append(d, 1_700_000_000_000_000_000 + i as i64))
            .collect();
        append_rates.push(N as f64 / t.elapsed().as_secs_f64());
    }
    let bytes: usize = entries.iter().map(|e| e.canonical_bytes().len()).sum();
    let mut verify_rates = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let mut v = Verifier::new(tenant.clone(), &[]);
        for e in &entries {
            if v.entry(e).is_err() {
                break;
            }
        }
        let verdict = v.finish();
        verify_rates.push(N as f64 / t.elapsed().as_secs_f64());
        assert!(
            matches!(verdict, Verdict::Intact { last_seq: N, .. }),
            "{verdict:?}"
        );
    }
    println!(
        "entries: {N}, mean canonical size {} bytes",
        bytes as u64 / N
    );
    println!(
        "append (hash + chain, moves drafts): median {:.0} entries/s over 3 runs",
        median(append_rates)
    );
    println!(
        "verify (recompute + link checks): median {:.0} entries/s over 5 runs",
        median(verify_rates)
    );
}
