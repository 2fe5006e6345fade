//! A decompression bomb is stopped at the limit without allocating much beyond it. This binary
//! counts every allocation, so it holds a single test.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

use flate2::Compression;
use flate2::write::{GzEncoder, ZlibEncoder};
use ward_ingest::{DecodeError, decompress};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
            PEAK.fetch_max(now, Ordering::SeqCst);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::SeqCst);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Bytes allocated at the peak of `f`, above what was allocated before it.
fn peak_during(f: impl FnOnce()) -> usize {
    let base = CURRENT.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    f();
    PEAK.load(Ordering::SeqCst) - base
}

#[test]
fn bombs_stop_at_the_limit_without_allocating_past_it() {
    const LIMIT: usize = 1 << 20;
    // On top of the output buffer: the last buffer of the doubling phase (256 KiB, held while
    // growing straight to the limit) and the decoder's state (inflate window and tables, the
    // 32 KiB read buffer of the gzip reader).
    const SLACK: usize = 256 * 1024 + 128 * 1024;

    let zeros = vec![0u8; 10 << 20];
    let mut gz = GzEncoder::new(Vec::new(), Compression::best());
    gz.write_all(&zeros).unwrap();
    let gzip_bomb = gz.finish().unwrap();
    let mut z = ZlibEncoder::new(Vec::new(), Compression::best());
    z.write_all(&zeros).unwrap();
    let zlib_bomb = z.finish().unwrap();
    drop(zeros);
    assert!(
        gzip_bomb.len() < 32 * 1024,
        "bomb is {} bytes",
        gzip_bomb.len()
    );

    for (bomb, encoding) in [(&gzip_bomb, "gzip"), (&zlib_bomb, "deflate")] {
        let mut result = None;
        let peak = peak_during(|| result = Some(decompress(bomb, Some(encoding), LIMIT)));
        assert!(
            matches!(result, Some(Err(DecodeError::TooLarge { limit: LIMIT }))),
            "{encoding}: {result:?}"
        );
        assert!(
            peak <= LIMIT + SLACK,
            "{encoding}: peak allocation {peak} bytes"
        );
        println!("{encoding} bomb: peak allocation {peak} bytes for a limit of {LIMIT}");
    }

    // Small bodies stay small: the decoder's own state is a few tens of KiB.
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(b"{\"resourceLogs\":[]}").unwrap();
    let small = gz.finish().unwrap();
    let peak =
        peak_during(|| assert_eq!(decompress(&small, Some("gzip"), LIMIT).unwrap().len(), 19));
    assert!(
        peak <= 128 * 1024,
        "small body: peak allocation {peak} bytes"
    );

    // A legitimate body just under the limit decodes, within the same bound.
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(&vec![b'x'; LIMIT]).unwrap();
    let body = gz.finish().unwrap();
    let mut len = 0;
    let peak = peak_during(|| len = decompress(&body, Some("gzip"), LIMIT).unwrap().len());
    assert_eq!(len, LIMIT);
    assert!(peak <= LIMIT + SLACK, "peak allocation {peak} bytes");
}
