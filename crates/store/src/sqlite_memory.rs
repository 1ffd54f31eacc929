//! SQLite's memory, handed to mimalloc instead of the C library's `malloc`, and without
//! SQLite's own memory statistics.
//!
//! SQLite allocates through `malloc` unless told otherwise, and under the service's write
//! load (page cache pages, b-tree balancing space, statement memory, on the writer thread
//! and the checkpointing connection) glibc's allocator took about 4% of the service's CPU
//! in `perf` (`malloc_consolidate`, `_int_free`, `unlink_chunk`, `_int_malloc`). With
//! statistics on (SQLite's default), every allocation and free also takes a global mutex
//! to count bytes, which the service never reads. mimalloc is the allocator the rest of
//! the process already uses (see `crates/cli/src/allocator.rs`).
//!
//! SQLite takes its allocator only before it is initialised, so [`configure`] runs before
//! any connection is opened: `wal_buffer::register` calls it first, and every connection
//! of the store opens through that file layer. If SQLite is already initialised (a test
//! process that opened a connection some other way), SQLite refuses and keeps its default,
//! which is as correct, only slower.
//!
//! Written by hand because no crate sets SQLite's allocator: it is a table of C callbacks.
#![allow(unsafe_code)]

use std::ffi::{c_int, c_void};
use std::sync::OnceLock;

use libmimalloc_sys as mi;
use rusqlite::ffi;

/// Sets SQLite's allocator and statistics, once per process; whether SQLite took them.
pub(crate) fn configure() -> bool {
    static CONFIGURED: OnceLock<bool> = OnceLock::new();
    *CONFIGURED.get_or_init(|| {
        // SAFETY: `sqlite3_config` is called before SQLite is initialised (or refuses
        // with SQLITE_MISUSE, changing nothing), with the arguments each option takes.
        unsafe {
            let statistics_off = ffi::sqlite3_config(ffi::SQLITE_CONFIG_MEMSTATUS, 0 as c_int);
            // SQLite copies the table.
            let methods = ffi::sqlite3_mem_methods {
                xMalloc: Some(x_malloc),
                xFree: Some(x_free),
                xRealloc: Some(x_realloc),
                xSize: Some(x_size),
                xRoundup: Some(x_roundup),
                xInit: Some(x_init),
                xShutdown: Some(x_shutdown),
                pAppData: std::ptr::null_mut(),
            };
            let allocator = ffi::sqlite3_config(
                ffi::SQLITE_CONFIG_MALLOC,
                &methods as *const ffi::sqlite3_mem_methods,
            );
            let taken = statistics_off == ffi::SQLITE_OK && allocator == ffi::SQLITE_OK;
            if !taken {
                tracing::debug!(
                    statistics_off,
                    allocator,
                    "SQLite was initialised before the store: it keeps its own allocator"
                );
            }
            taken
        }
    })
}

/// SQLite never asks for 0 or a negative size (it answers those itself); a negative one
/// would be refused rather than wrapped.
fn size_of_request(bytes: c_int) -> Option<usize> {
    usize::try_from(bytes).ok()
}

// mimalloc's blocks are aligned to at least 8 bytes, as SQLite requires.
unsafe extern "C" fn x_malloc(bytes: c_int) -> *mut c_void {
    match size_of_request(bytes) {
        Some(bytes) => mi::mi_malloc(bytes),
        None => std::ptr::null_mut(),
    }
}

unsafe extern "C" fn x_free(block: *mut c_void) {
    mi::mi_free(block);
}

unsafe extern "C" fn x_realloc(block: *mut c_void, bytes: c_int) -> *mut c_void {
    match size_of_request(bytes) {
        Some(bytes) => mi::mi_realloc(block, bytes),
        None => std::ptr::null_mut(),
    }
}

unsafe extern "C" fn x_size(block: *mut c_void) -> c_int {
    c_int::try_from(mi::mi_usable_size(block)).unwrap_or(c_int::MAX)
}

unsafe extern "C" fn x_roundup(bytes: c_int) -> c_int {
    match size_of_request(bytes) {
        Some(bytes) => c_int::try_from(mi::mi_good_size(bytes)).unwrap_or(bytes as c_int),
        None => bytes,
    }
}

unsafe extern "C" fn x_init(_: *mut c_void) -> c_int {
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_shutdown(_: *mut c_void) {}

#[cfg(test)]
mod tests {
    use super::*;

    /// In a process whose first SQLite call is the store's, SQLite takes the allocator and
    /// allocates through it: a block SQLite hands out is one of mimalloc's.
    #[test]
    fn sqlite_allocates_through_mimalloc() {
        // Tests share one process; whichever opened a connection first decided. This test
        // checks what it can either way, and the allocator when it was taken.
        let taken = configure();
        // SAFETY: a block from `sqlite3_malloc` is freed with `sqlite3_free`.
        unsafe {
            let block = ffi::sqlite3_malloc(1000);
            assert!(!block.is_null());
            if taken {
                assert!(mi::mi_is_in_heap_region(block));
                assert!(mi::mi_usable_size(block) >= 1000);
            }
            ffi::sqlite3_free(block);
        }
        let connection = rusqlite::Connection::open_in_memory().unwrap();
        let total: i64 = connection
            .query_row(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000) \
                 SELECT sum(length(printf('%0500d', i))) FROM n",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(total, 10_000 * 500);
    }
}
