//! glibc's allocator set up for a long-lived daemon on tokio, where its
//! defaults keep what a burst of work freed.
//!
//! Measured on the all-in-one (issue 14): each `docker logs` of a 16 MB log
//! left ~20 MiB more resident (five of them: +102 MiB), and `malloc_trim`
//! gave only part of it back. The reasons are glibc's: a thread that
//! allocates while another holds its arena gets an arena of its own (up to
//! 8 per core), and tokio's workers and its blocking pool (every SQLite
//! call) are many threads, so the same burst leaves its high-water mark in
//! arena after arena; and freeing one large (mmapped) buffer raises the
//! mmap threshold to its size (up to 32 MiB), so the next such buffers come
//! from the arenas and stay there, fragmented, once freed. With two arenas
//! and a fixed threshold alone, the five `docker logs` added 29 MiB; with
//! the reads paged as well, nothing. The periodic trim returns the free
//! pages in the middle of the heaps, which glibc only gives back from
//! their top.

// unsafe: glibc's mallopt and malloc_trim.
#![allow(unsafe_code)]

use std::time::Duration;

/// Arenas: one per core of a small host is enough for a daemon that mostly
/// waits; more only multiply the memory a burst leaves behind.
const ARENA_MAX: i32 = 2;
/// Allocations at least this large are mmapped and so returned to the
/// system when freed (log reads, tarballs, copy buffers); fixing it stops
/// glibc from raising it after each large free.
const MMAP_THRESHOLD: i32 = 256 << 10;
/// How often free memory is handed back to the system.
pub const TRIM_EVERY: Duration = Duration::from_secs(30);

/// Sets the allocator's options. Call first in `main`, before any thread
/// starts (arenas made before keep existing).
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called before other
    // threads exist.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, ARENA_MAX);
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
}

/// Starts a thread that returns free heap pages to the system every
/// [`TRIM_EVERY`] (a few milliseconds each time for heaps of tens of MiB).
pub fn spawn_trimmer() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let started = std::thread::Builder::new()
            .name("malloc-trim".into())
            .stack_size(64 << 10)
            .spawn(|| {
                loop {
                    std::thread::sleep(TRIM_EVERY);
                    // SAFETY: malloc_trim takes the allocator's own locks.
                    unsafe {
                        libc::malloc_trim(0);
                    }
                }
            });
        if let Err(e) = started {
            tracing::warn!(error = %e, "cannot start the malloc-trim thread");
        }
    }
}
