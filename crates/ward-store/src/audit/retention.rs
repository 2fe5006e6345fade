//! Retention: archive the oldest part of a chain, then cut it.
//!
//! The range to cut is read and written to `<archive_dir>/<tenant>/audit-<tenant>-<from>-<to>.jsonl.zst`
//! (the export format, zstd-compressed, with the range's checkpoints) from a read snapshot,
//! off the writer thread; the file is fsync'd and renamed into place, and only then does the
//! writer append the prune marker and delete the range, in one transaction. A crash in between
//! leaves an archive and an uncut chain: the next run archives the range again, to the same name.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use ward_audit::{ExportLine, TenantId};

use super::read::{AuditReader, SeqRange};
use super::writer::PrunePlan;
use crate::error::{Result, StoreError};

/// zstd level of archives: compresses JSON lines about 8× at well over 100 MB/s.
const ZSTD_LEVEL: i32 = 6;

/// Archives what `tenant`'s chain holds from before `cutoff` (Unix nanoseconds) and returns
/// the plan for the writer, or `None` when nothing is old enough.
pub(crate) fn archive_range(
    reader: &AuditReader,
    tenant: &TenantId,
    cutoff: i64,
    archive_dir: &Path,
) -> Result<Option<PrunePlan>> {
    let Some((from_seq, through_seq, last_hash)) = reader.prune_point(tenant, cutoff)? else {
        return Ok(None);
    };
    let dir = archive_dir.join(tenant.as_str());
    std::fs::create_dir_all(&dir)?;
    let name = format!(
        "audit-{}-{from_seq:012}-{through_seq:012}.jsonl.zst",
        tenant.as_str()
    );
    let path = dir.join(&name);
    let tmp = dir.join(format!(".{name}.tmp"));
    let entries = write_archive(reader, tenant, from_seq, through_seq, &tmp)?;
    std::fs::rename(&tmp, &path)?;
    File::open(&dir)?.sync_all()?;
    Ok(Some(PrunePlan {
        from_seq,
        through_seq,
        last_hash,
        entries,
        archive: path.to_string_lossy().into_owned(),
    }))
}

fn write_archive(
    reader: &AuditReader,
    tenant: &TenantId,
    from: u64,
    to: u64,
    path: &PathBuf,
) -> Result<u64> {
    let file = File::create(path)?;
    let mut out = zstd::Encoder::new(BufWriter::new(file), ZSTD_LEVEL)?;
    let mut entries = 0u64;
    reader.lines(tenant, SeqRange { from, to }, |line| -> Result<()> {
        if matches!(line, ExportLine::Entry(_)) {
            entries += 1;
        }
        out.write_all(line.to_json().as_bytes())?;
        out.write_all(b"\n")?;
        Ok(())
    })?;
    let file = out
        .finish()?
        .into_inner()
        .map_err(|e| StoreError::Io(e.into_error()))?;
    file.sync_all()?;
    Ok(entries)
}
