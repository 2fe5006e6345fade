//! Small file helpers shared by the key files Ward creates in its data directory.

use std::io::Write;
use std::path::Path;

/// Creates `path` (which must not exist) readable by its owner only, writes `contents` and
/// fsyncs it.
pub fn create_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}
