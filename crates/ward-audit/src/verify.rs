//! The streaming verifier: feed entries in stored order, checkpoints right after the entry
//! they cover, and get either "intact up to seq N" or the first inconsistency.
//!
//! Rules, applied to each entry in order (the first that fails is reported):
//!
//! 1. The entry's tenant is not the verified tenant → `Inserted`.
//! 2. The recomputed hash differs from the stored `hash` → `Changed` (this entry).
//! 3. A gap is pending (an earlier entry skipped from seq `m` to `n > m`): if this entry's
//!    seq is in `m..n` it arrived late → `Reordered`; otherwise → `Missing` at `m`.
//! 4. First entry: seq 0 → `Changed`; seq 1 with a `prev_hash` other than 32 zero bytes →
//!    `Changed`. A first seq above 1 must be accounted for by a prune marker (rule 7).
//! 5. seq = last + 1 but `prev_hash` ≠ the last hash: if `prev_hash` is the hash of the entry
//!    before the last one, the last entry was slipped in → `Inserted` (at the last seq);
//!    otherwise the last entry no longer hashes to what its successor recorded → `Changed`
//!    (at the last seq).
//! 6. seq ≤ last: every seq up to the last has been seen once, so this one is a duplicate →
//!    `Inserted`. seq > last + 1 → a gap, judged at the next entry (rule 3) or at the end.
//! 7. A prune marker must have `through_seq` < its own seq (else `Changed`). If the first entry
//!    verified has seq `through_seq + 1`, its `prev_hash` must equal the marker's `last_hash`
//!    (else `Changed`) and the start is anchored. At the end, a first seq above 1 with no
//!    anchoring marker → `Missing` (from the marker's `through_seq + 1`, or from 1).
//!
//! Checkpoints: tenant other than the verified one, unknown `key_id` or an invalid signature →
//! `BadSignature`. A valid signature whose hash differs from the entry at its seq → `Changed`
//! (the entry was altered after it was signed). A checkpoint beyond the last entry at the end →
//! `TruncatedTail`. A checkpoint for an entry already passed (other than the last one) →
//! `Reordered`; one for a pruned seq is checked for its signature only.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use ward_model::TenantId;

use crate::checkpoint::{Checkpoint, CheckpointError, PublicKey};
use crate::entry::{Entry, GENESIS, Hash, Kind, hex32};
use crate::export::ExportLine;

/// What kind of inconsistency was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InconsistencyKind {
    /// An entry's contents no longer match its hash, or the hash its successor or a signed
    /// checkpoint recorded.
    Changed,
    /// A sequence number is absent.
    Missing,
    /// Entries are out of order.
    Reordered,
    /// An entry that does not belong: duplicate seq, unlinked entry, or another tenant's.
    Inserted,
    /// A checkpoint whose signature does not verify (or unknown key, or wrong tenant).
    BadSignature,
    /// A checkpoint covers a seq beyond the last entry: the tail was cut off.
    TruncatedTail,
}

/// The first inconsistency found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inconsistency {
    /// The seq it is about.
    pub seq: u64,
    /// What kind it is.
    pub kind: InconsistencyKind,
    /// A sentence for people.
    pub detail: String,
}

impl std::fmt::Display for Inconsistency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} at seq {}: {}", self.kind, self.seq, self.detail)
    }
}

impl std::error::Error for Inconsistency {}

/// Where verification started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Start {
    /// At seq 1, from the genesis `prev_hash`.
    Genesis,
    /// After a retention cut recorded by a prune marker.
    Pruned {
        /// The last pruned seq.
        through_seq: u64,
        /// Its hash.
        #[serde(with = "hex32")]
        last_hash: Hash,
    },
    /// No entries were fed.
    Empty,
}

/// The outcome of a verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// Every entry and checkpoint is consistent.
    Intact {
        /// Where the verified range starts.
        start: Start,
        /// Number of entries verified.
        entries: u64,
        /// The last seq (0 if empty).
        last_seq: u64,
        /// The last hash (zeros if empty).
        #[serde(with = "hex32")]
        last_hash: Hash,
        /// The checkpoint with the highest seq, if any. Entries after its seq are linked
        /// but not yet signed.
        last_checkpoint: Option<Checkpoint>,
    },
    /// The first inconsistency.
    Broken(Inconsistency),
}

/// Streaming verifier of one tenant's chain. Memory is constant in the number of entries
/// (plus checkpoints waiting for their entry).
#[derive(Debug)]
pub struct Verifier {
    tenant: TenantId,
    keys: Vec<(String, PublicKey)>,
    first: Option<(u64, Hash)>,
    last: Option<(u64, Hash)>,
    before_last: Option<Hash>,
    gap: Option<(u64, u64)>,
    anchored: Option<(u64, Hash)>,
    prune_floor: u64,
    waiting: BTreeMap<u64, Checkpoint>,
    last_checkpoint: Option<Checkpoint>,
    entries: u64,
    broken: Option<Inconsistency>,
}

fn short(h: &Hash) -> String {
    hex::encode(&h[..8])
}

impl Verifier {
    /// A verifier for `tenant` trusting checkpoints signed by any of `keys`.
    pub fn new(tenant: TenantId, keys: &[PublicKey]) -> Self {
        Verifier {
            tenant,
            keys: keys.iter().map(|k| (k.key_id(), k.clone())).collect(),
            first: None,
            last: None,
            before_last: None,
            gap: None,
            anchored: None,
            prune_floor: 0,
            waiting: BTreeMap::new(),
            last_checkpoint: None,
            entries: 0,
            broken: None,
        }
    }

    fn fail(
        &mut self,
        seq: u64,
        kind: InconsistencyKind,
        detail: String,
    ) -> Result<(), Inconsistency> {
        let i = Inconsistency { seq, kind, detail };
        self.broken = Some(i.clone());
        Err(i)
    }

    /// Feeds one export line.
    pub fn line(&mut self, line: &ExportLine) -> Result<(), Inconsistency> {
        match line {
            ExportLine::Entry(e) => self.entry(e),
            ExportLine::Checkpoint(c) => self.checkpoint(c),
        }
    }

    /// Feeds the next stored entry. After the first inconsistency every call returns it.
    pub fn entry(&mut self, e: &Entry) -> Result<(), Inconsistency> {
        use InconsistencyKind::*;
        if let Some(b) = &self.broken {
            return Err(b.clone());
        }
        if e.tenant != self.tenant {
            return self.fail(
                e.seq,
                Inserted,
                format!("entry belongs to tenant {}", e.tenant),
            );
        }
        if e.compute_hash() != e.hash {
            return self.fail(
                e.seq,
                Changed,
                "contents do not match the stored hash".into(),
            );
        }
        if let Some((missing, upto)) = self.gap {
            if e.seq >= missing && e.seq < upto {
                return self.fail(
                    e.seq,
                    Reordered,
                    format!("seq {} comes after seq {upto}", e.seq),
                );
            }
            return self.fail(
                missing,
                Missing,
                format!("seq {missing}..{} absent", upto - 1),
            );
        }
        match self.last {
            None => {
                if e.seq == 0 {
                    return self.fail(0, Changed, "seq 0 is not a valid sequence number".into());
                }
                if e.seq == 1 && e.prev_hash != GENESIS {
                    return self.fail(
                        1,
                        Changed,
                        "first entry does not link to the genesis hash".into(),
                    );
                }
                self.first = Some((e.seq, e.prev_hash));
            }
            Some((ls, lh)) => {
                if e.seq == ls.wrapping_add(1) && ls != u64::MAX {
                    if e.prev_hash != lh {
                        if Some(e.prev_hash) == self.before_last {
                            return self.fail(
                                ls,
                                Inserted,
                                format!("seq {} links past seq {ls} to the entry before it", e.seq),
                            );
                        }
                        return self.fail(
                            ls,
                            Changed,
                            format!(
                                "hash {} is not the prev_hash {} recorded by seq {}",
                                short(&lh),
                                short(&e.prev_hash),
                                e.seq
                            ),
                        );
                    }
                } else if e.seq <= ls {
                    return self.fail(
                        e.seq,
                        Inserted,
                        format!("seq {} appears again after seq {ls}", e.seq),
                    );
                } else {
                    self.gap = Some((ls + 1, e.seq));
                }
            }
        }
        if let Kind::Prune {
            through_seq,
            last_hash,
        } = e.kind
        {
            if through_seq >= e.seq {
                return self.fail(
                    e.seq,
                    Changed,
                    format!("prune marker claims seq {through_seq}, not before itself"),
                );
            }
            if let Some((fs, fprev)) = self.first {
                if through_seq.wrapping_add(1) == fs {
                    if fprev != last_hash {
                        return self.fail(
                            fs,
                            Changed,
                            format!("prev_hash does not match the prune marker at seq {}", e.seq),
                        );
                    }
                    self.anchored = Some((through_seq, last_hash));
                } else if through_seq < fs {
                    self.prune_floor = self.prune_floor.max(through_seq);
                }
            }
        }
        self.before_last = self.last.map(|(_, h)| h);
        self.last = Some((e.seq, e.hash));
        self.entries += 1;
        if let Some(cp) = self.waiting.remove(&e.seq) {
            return self.match_checkpoint(cp, &e.hash);
        }
        Ok(())
    }

    fn match_checkpoint(&mut self, cp: Checkpoint, hash: &Hash) -> Result<(), Inconsistency> {
        if cp.hash != *hash {
            return self.fail(
                cp.seq,
                InconsistencyKind::Changed,
                format!(
                    "entry hash {} differs from the signed checkpoint {}",
                    short(hash),
                    short(&cp.hash)
                ),
            );
        }
        if self
            .last_checkpoint
            .as_ref()
            .is_none_or(|c| c.seq <= cp.seq)
        {
            self.last_checkpoint = Some(cp);
        }
        Ok(())
    }

    /// Feeds a checkpoint (right after the entry it covers, or earlier).
    pub fn checkpoint(&mut self, cp: &Checkpoint) -> Result<(), Inconsistency> {
        use InconsistencyKind::*;
        if let Some(b) = &self.broken {
            return Err(b.clone());
        }
        if cp.tenant != self.tenant {
            return self.fail(
                cp.seq,
                BadSignature,
                format!("checkpoint is for tenant {}", cp.tenant),
            );
        }
        let Some((_, key)) = self.keys.iter().find(|(id, _)| *id == cp.key_id) else {
            return self.fail(
                cp.seq,
                BadSignature,
                format!(
                    "unknown key id {:?}",
                    cp.key_id.chars().take(40).collect::<String>()
                ),
            );
        };
        if let Err(err) = cp.verify(key) {
            let detail = match err {
                CheckpointError::BadSignature => "checkpoint signature does not verify".to_owned(),
                other => other.to_string(),
            };
            return self.fail(cp.seq, BadSignature, detail);
        }
        match self.last {
            Some((ls, lh)) if cp.seq == ls => self.match_checkpoint(cp.clone(), &lh),
            Some((ls, _)) if cp.seq < ls => {
                let pruned = self.first.is_some_and(|(fs, _)| cp.seq < fs);
                if pruned {
                    Ok(())
                } else {
                    self.fail(
                        cp.seq,
                        Reordered,
                        format!("checkpoint for seq {} arrives after seq {ls}", cp.seq),
                    )
                }
            }
            _ => {
                self.waiting.insert(cp.seq, cp.clone());
                Ok(())
            }
        }
    }

    /// Ends the stream and gives the verdict.
    pub fn finish(mut self) -> Verdict {
        use InconsistencyKind::*;
        if let Some(b) = self.broken.take() {
            return Verdict::Broken(b);
        }
        if let Some((missing, upto)) = self.gap {
            return Verdict::Broken(Inconsistency {
                seq: missing,
                kind: Missing,
                detail: format!("seq {missing}..{} absent", upto - 1),
            });
        }
        let last_seq = self.last.map_or(0, |(s, _)| s);
        if let Some((&seq, _)) = self.waiting.iter().next_back() {
            return Verdict::Broken(Inconsistency {
                seq: last_seq + 1,
                kind: TruncatedTail,
                detail: format!(
                    "a signed checkpoint covers seq {seq} but the last entry is seq {last_seq}"
                ),
            });
        }
        let start = match self.first {
            None => Start::Empty,
            Some((1, _)) => Start::Genesis,
            Some((fs, _)) => match self.anchored {
                Some((through_seq, last_hash)) => Start::Pruned {
                    through_seq,
                    last_hash,
                },
                None => {
                    let from = self.prune_floor + 1;
                    return Verdict::Broken(Inconsistency {
                        seq: from,
                        kind: Missing,
                        detail: format!(
                            "entries from seq {from} to {} are absent and no prune marker accounts for them",
                            fs - 1
                        ),
                    });
                }
            },
        };
        Verdict::Intact {
            start,
            entries: self.entries,
            last_seq,
            last_hash: self.last.map_or(GENESIS, |(_, h)| h),
            last_checkpoint: self.last_checkpoint,
        }
    }
}
