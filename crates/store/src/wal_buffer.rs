//! A SQLite VFS over the system's default one that hands a transaction's writes to the
//! write-ahead log to the operating system in one `pwrite` instead of two per page.
//!
//! SQLite writes each log frame as two calls, its 24-byte header and then its page, and a
//! group commit of the service writes about 130 frames. On the machines we measure on
//! every `pwrite` to a file costs 6 to 9 µs whatever its size (the file system updates
//! the file's times and marks it dirty on each), while one `pwrite` of the same 520 kB
//! costs about 35 µs; the commit's frame writes were a third of its time, on the thread
//! every write waits for. Gathered, they are a few writes of 124 KiB (the most the default
//! VFS takes at once). Written by hand because no crate offers such a shim; it only
//! forwards, except for gathering writes.
//!
//! A file opened as a log (`SQLITE_OPEN_WAL`) keeps a run of contiguous writes in memory
//! and passes it on before anything that must see it: a sync, a read, a truncation, a
//! size query, a file control, a write elsewhere in the file, or closing. That is enough
//! because of when SQLite syncs at `synchronous = FULL` (or `EXTRA`): it syncs the log
//! after writing a commit's frames and before it publishes them to other connections in
//! the shared index. So every byte another connection or the disk can observe is written
//! as without the shim, and a commit is as durable as before when SQLite returns. At a
//! lower level SQLite would publish frames it has not synced, which the shim may still
//! hold: it refuses `PRAGMA synchronous` below `FULL`.
//!
//! The database file itself (`SQLITE_OPEN_MAIN_DB`) is gathered the same way. In WAL mode
//! only checkpoints write it, a page at a time in page order, and a checkpoint of a busy
//! second at 100,000 intents wrote about ten contiguous pages per run: one `pwrite` per
//! page made a tenth of the service's CPU. After its last page, before it records in the
//! shared index how far the database holds the log, SQLite tells the file the checkpoint is
//! done (`SQLITE_FCNTL_CKPT_DONE`, a file control, which passes the writes on), so no
//! other connection is told of pages the shim still holds. Locks, shared-memory locks and
//! barriers pass them on too, so that outside WAL mode (a rollback journal, while the
//! store is created) writes are with the operating system before any lock is released.
//! Other files (a rollback journal, temporary files) are passed through.
//!
//! A checkpoint's pages are also handed to the disk as it goes: after every
//! [`WRITEBACK_BYTES`] passed on to the database file, the shim asks the kernel to write
//! them back (`sync_file_range`), waiting for the previous piece first. Left in the page
//! cache until SQLite's `fsync` at the end of a pass, a busy second's pages (tens of MB at
//! 100,000 intents) reached the disk at once, and every commit's sync of the log queued
//! behind them: a commit stalled for 50-150 ms about once a second.
//!
//! Unsafe code (one of the three modules the workspace's lints allow it in): a VFS is a
//! table of C callbacks over raw file structures that SQLite allocates. Each function here
//! forwards to the default VFS's.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_int, c_void, CStr};
use std::ptr;
use std::sync::OnceLock;

use rusqlite::ffi;

/// The name connections open the store with to use this VFS.
pub(crate) const VFS_NAME: &str = "deconflict-wal-buffer";
const VFS_NAME_C: &CStr = c"deconflict-wal-buffer";

/// A run of writes longer than this is passed on at once: four of the default VFS's
/// writes, so gathering more would save no call. Small enough that the buffer stays in
/// the processor's cache while the kernel copies it out. A checkpoint appends the pages a
/// busy second added to the database file as one long run; gathered up to 16 MiB, the
/// buffer was cold when copied, and grew afresh on every connection that checkpointed: at
/// 100,000 intents and 128 clients, the checkpointing thread took 27,000 page faults and
/// 0.26 s of CPU per 24,000 writes, against 600 and 0.20 s.
const PENDING_BYTES_MAX: usize = 4 * INNER_WRITE_BYTES_MAX;

/// The most the default VFS writes in one call: it takes writes below 128 KiB (the
/// largest page and its frame header) and cuts the length of a longer one to its low 17
/// bits. 124 KiB, so that a commit of about 130 frames is five `pwrite`s.
const INNER_WRITE_BYTES_MAX: usize = 124 * 1024;

/// A checkpoint's pages are handed to the disk in pieces of this many bytes (see the top):
/// at the few hundred MB/s of the disks we measure on, a sync of the log queues behind at
/// most tens of milliseconds of them.
const WRITEBACK_BYTES: usize = 4 * 1024 * 1024;

/// Our file: SQLite's header, then the default VFS's file, which SQLite allocates with it
/// (`szOsFile` covers both).
#[repr(C)]
struct BufferedFile {
    base: ffi::sqlite3_file,
    inner: *mut ffi::sqlite3_file,
    /// Whether this is a log or a database file, whose writes are gathered.
    gathering: bool,
    /// The database file's descriptor, whose pages are handed to the disk as a checkpoint
    /// writes them; -1 for other files, or when the default VFS's file could not be read.
    writeback_fd: c_int,
    /// Bytes passed on to the database file since the last writeback was asked for.
    not_written_back: usize,
    /// The file offset of `pending`'s first byte.
    start: i64,
    /// Writes not yet passed on: the bytes of `start..start + pending.len()`.
    pending: Vec<u8>,
}

/// Where the default VFS's file starts inside ours.
const INNER_OFFSET: usize = std::mem::size_of::<BufferedFile>().next_multiple_of(16);

/// Registers the VFS (once per process); its name, or why it could not be.
pub(crate) fn register() -> Result<&'static str, crate::StoreError> {
    static REGISTERED: OnceLock<Result<(), c_int>> = OnceLock::new();
    let result = *REGISTERED.get_or_init(|| {
        // Before anything initialises SQLite (finding the default VFS does).
        crate::sqlite_memory::configure();
        // SAFETY: `sqlite3_vfs_find` returns the default VFS, which lives as long as the
        // process; ours copies it, is leaked (so it lives as long), and forwards to it.
        unsafe {
            let inner = ffi::sqlite3_vfs_find(ptr::null());
            if inner.is_null() {
                return Err(ffi::SQLITE_ERROR);
            }
            let mut vfs: ffi::sqlite3_vfs = *inner;
            vfs.szOsFile = (INNER_OFFSET + (*inner).szOsFile as usize) as c_int;
            vfs.pNext = ptr::null_mut();
            vfs.zName = VFS_NAME_C.as_ptr();
            vfs.pAppData = inner.cast();
            vfs.xOpen = Some(x_open);
            vfs.xDelete = Some(x_delete);
            vfs.xAccess = Some(x_access);
            vfs.xFullPathname = Some(x_full_pathname);
            let vfs = Box::leak(Box::new(vfs));
            match ffi::sqlite3_vfs_register(vfs, 0) {
                ffi::SQLITE_OK => Ok(()),
                code => Err(code),
            }
        }
    });
    result.map(|()| VFS_NAME).map_err(|code| {
        crate::StoreError::Open(format!(
            "cannot register the store's file layer (SQLite error {code})"
        ))
    })
}

unsafe fn inner_vfs(vfs: *mut ffi::sqlite3_vfs) -> *mut ffi::sqlite3_vfs {
    (*vfs).pAppData.cast()
}

unsafe extern "C" fn x_open(
    vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let ours = file.cast::<BufferedFile>();
    let inner_file = file
        .cast::<u8>()
        .add(INNER_OFFSET)
        .cast::<ffi::sqlite3_file>();
    let inner = inner_vfs(vfs);
    let Some(open) = (*inner).xOpen else {
        (*file).pMethods = ptr::null();
        return ffi::SQLITE_CANTOPEN;
    };
    let code = open(inner, name, inner_file, flags, out_flags);
    if code != ffi::SQLITE_OK || (*inner_file).pMethods.is_null() {
        // SQLite closes a file whose open failed only if it has methods.
        (*file).pMethods = ptr::null();
        return code;
    }
    ptr::write(
        ours,
        BufferedFile {
            base: ffi::sqlite3_file {
                pMethods: &IO_METHODS,
            },
            inner: inner_file,
            gathering: flags & (ffi::SQLITE_OPEN_WAL | ffi::SQLITE_OPEN_MAIN_DB) != 0,
            writeback_fd: if flags & ffi::SQLITE_OPEN_MAIN_DB != 0 {
                descriptor_of(inner_file, name)
            } else {
                -1
            },
            not_written_back: 0,
            start: 0,
            pending: Vec::new(),
        },
    );
    ffi::SQLITE_OK
}

/// The descriptor of the default VFS's file `inner`, opened at `name`, or -1.
///
/// The unix VFS's file structure starts with three pointers and then the descriptor, as it
/// has in every SQLite release this century; SQLite offers no call that gives it. So the
/// descriptor is taken from there only when it is open on the very file at `name` (same
/// device and inode), and otherwise the file is simply not written back early.
unsafe fn descriptor_of(inner: *mut ffi::sqlite3_file, name: ffi::sqlite3_filename) -> c_int {
    use std::os::unix::fs::MetadataExt as _;
    if name.is_null() {
        return -1;
    }
    let fd = *inner
        .cast::<u8>()
        .add(3 * std::mem::size_of::<*const c_void>())
        .cast::<c_int>();
    let mut opened: libc::stat = std::mem::zeroed();
    if fd < 0 || libc::fstat(fd, &mut opened) != 0 {
        return -1;
    }
    let Ok(path) = CStr::from_ptr(name).to_str() else {
        return -1;
    };
    match std::fs::metadata(path) {
        Ok(named) if named.dev() == opened.st_dev && named.ino() == opened.st_ino => fd,
        _ => -1,
    }
}

/// Asks the kernel to write back the database file's dirty pages once
/// [`WRITEBACK_BYTES`] were passed on since it last asked, first waiting for the
/// writeback asked for then (see the top). Only a hint: SQLite still syncs the file.
unsafe fn write_back_every_piece(file: &mut BufferedFile, passed_on: usize) {
    if file.writeback_fd < 0 {
        return;
    }
    file.not_written_back += passed_on;
    if file.not_written_back >= WRITEBACK_BYTES {
        file.not_written_back = 0;
        libc::sync_file_range(
            file.writeback_fd,
            0,
            0,
            libc::SYNC_FILE_RANGE_WAIT_BEFORE | libc::SYNC_FILE_RANGE_WRITE,
        );
    }
}

unsafe extern "C" fn x_delete(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    sync_dir: c_int,
) -> c_int {
    let inner = inner_vfs(vfs);
    match (*inner).xDelete {
        Some(delete) => delete(inner, name, sync_dir),
        None => ffi::SQLITE_IOERR_DELETE,
    }
}

unsafe extern "C" fn x_access(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    flags: c_int,
    out: *mut c_int,
) -> c_int {
    let inner = inner_vfs(vfs);
    match (*inner).xAccess {
        Some(access) => access(inner, name, flags, out),
        None => ffi::SQLITE_IOERR_ACCESS,
    }
}

unsafe extern "C" fn x_full_pathname(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    size: c_int,
    out: *mut c_char,
) -> c_int {
    let inner = inner_vfs(vfs);
    match (*inner).xFullPathname {
        Some(full) => full(inner, name, size, out),
        None => ffi::SQLITE_CANTOPEN,
    }
}

static IO_METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(x_close),
    xRead: Some(x_read),
    xWrite: Some(x_write),
    xTruncate: Some(x_truncate),
    xSync: Some(x_sync),
    xFileSize: Some(x_file_size),
    xLock: Some(x_lock),
    xUnlock: Some(x_unlock),
    xCheckReservedLock: Some(x_check_reserved_lock),
    xFileControl: Some(x_file_control),
    xSectorSize: Some(x_sector_size),
    xDeviceCharacteristics: Some(x_device_characteristics),
    xShmMap: Some(x_shm_map),
    xShmLock: Some(x_shm_lock),
    xShmBarrier: Some(x_shm_barrier),
    xShmUnmap: Some(x_shm_unmap),
    xFetch: Some(x_fetch),
    xUnfetch: Some(x_unfetch),
};

unsafe fn ours<'a>(file: *mut ffi::sqlite3_file) -> &'a mut BufferedFile {
    &mut *file.cast::<BufferedFile>()
}

unsafe fn methods(file: &BufferedFile) -> &ffi::sqlite3_io_methods {
    &*(*file.inner).pMethods
}

/// Passes the gathered writes on, in pieces the default VFS takes.
unsafe fn pass_on(file: &mut BufferedFile) -> c_int {
    if file.pending.is_empty() {
        return ffi::SQLITE_OK;
    }
    let Some(write) = methods(file).xWrite else {
        file.pending.clear();
        return ffi::SQLITE_IOERR_WRITE;
    };
    let mut code = ffi::SQLITE_OK;
    let mut offset = file.start;
    for chunk in file.pending.chunks(INNER_WRITE_BYTES_MAX) {
        code = write(
            file.inner,
            chunk.as_ptr().cast(),
            chunk.len() as c_int,
            offset,
        );
        #[cfg(test)]
        tests::WRITES_PASSED_ON.with(|writes| writes.set(writes.get() + 1));
        if code != ffi::SQLITE_OK {
            break;
        }
        offset += chunk.len() as i64;
    }
    if code == ffi::SQLITE_OK {
        write_back_every_piece(file, file.pending.len());
    }
    file.pending.clear();
    if file.pending.capacity() > PENDING_BYTES_MAX {
        file.pending.shrink_to(PENDING_BYTES_MAX);
    }
    code
}

/// Passes the gathered writes on where SQLite does not look at the answer: the file control
/// that ends a checkpoint (SQLite then records in the shared index that the database holds
/// the pages it wrote) and a barrier. A write that fails there would leave the database
/// without pages SQLite believes copied, and the log would later start again over them. So
/// the process stops at once instead: SQLite rebuilds the shared index from the log when the
/// store is next opened, and copies those pages again.
unsafe fn pass_on_or_stop(file: &mut BufferedFile) {
    let code = pass_on(file);
    if code != ffi::SQLITE_OK {
        eprintln!(
            "deconflict: the store's file layer could not write a checkpoint's pages to the \
             database file (SQLite error {code}); stopping before SQLite counts them as \
             copied (the next start copies them again from the log)"
        );
        std::process::abort();
    }
}

unsafe extern "C" fn x_close(file: *mut ffi::sqlite3_file) -> c_int {
    let ours = ours(file);
    let passed = pass_on(ours);
    let closed = match methods(ours).xClose {
        Some(close) => close(ours.inner),
        None => ffi::SQLITE_OK,
    };
    ptr::drop_in_place(&mut ours.pending);
    if passed != ffi::SQLITE_OK {
        passed
    } else {
        closed
    }
}

unsafe extern "C" fn x_read(
    file: *mut ffi::sqlite3_file,
    buffer: *mut c_void,
    amount: c_int,
    offset: ffi::sqlite3_int64,
) -> c_int {
    let ours = ours(file);
    let passed = pass_on(ours);
    if passed != ffi::SQLITE_OK {
        return passed;
    }
    match methods(ours).xRead {
        Some(read) => read(ours.inner, buffer, amount, offset),
        None => ffi::SQLITE_IOERR_READ,
    }
}

unsafe extern "C" fn x_write(
    file: *mut ffi::sqlite3_file,
    buffer: *const c_void,
    amount: c_int,
    offset: ffi::sqlite3_int64,
) -> c_int {
    let ours = ours(file);
    if !ours.gathering || amount <= 0 {
        #[cfg(test)]
        tests::WRITES_PASSED_ON.with(|writes| writes.set(writes.get() + 1));
        return match methods(ours).xWrite {
            Some(write) => write(ours.inner, buffer, amount, offset),
            None => ffi::SQLITE_IOERR_WRITE,
        };
    }
    let follows = offset == ours.start + ours.pending.len() as i64;
    if !follows || ours.pending.len() + amount as usize > PENDING_BYTES_MAX {
        let passed = pass_on(ours);
        if passed != ffi::SQLITE_OK {
            return passed;
        }
        ours.start = offset;
    }
    ours.pending.extend_from_slice(std::slice::from_raw_parts(
        buffer.cast::<u8>(),
        amount as usize,
    ));
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_truncate(file: *mut ffi::sqlite3_file, size: ffi::sqlite3_int64) -> c_int {
    let ours = ours(file);
    let passed = pass_on(ours);
    if passed != ffi::SQLITE_OK {
        return passed;
    }
    match methods(ours).xTruncate {
        Some(truncate) => truncate(ours.inner, size),
        None => ffi::SQLITE_IOERR_TRUNCATE,
    }
}

unsafe extern "C" fn x_sync(file: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    let ours = ours(file);
    let passed = pass_on(ours);
    if passed != ffi::SQLITE_OK {
        return passed;
    }
    match methods(ours).xSync {
        Some(sync) => sync(ours.inner, flags),
        None => ffi::SQLITE_IOERR_FSYNC,
    }
}

unsafe extern "C" fn x_file_size(
    file: *mut ffi::sqlite3_file,
    size: *mut ffi::sqlite3_int64,
) -> c_int {
    let ours = ours(file);
    let passed = pass_on(ours);
    if passed != ffi::SQLITE_OK {
        return passed;
    }
    match methods(ours).xFileSize {
        Some(file_size) => file_size(ours.inner, size),
        None => ffi::SQLITE_IOERR_FSTAT,
    }
}

unsafe extern "C" fn x_lock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    let ours = ours(file);
    let passed = pass_on(ours);
    if passed != ffi::SQLITE_OK {
        return passed;
    }
    match methods(ours).xLock {
        Some(lock) => lock(ours.inner, level),
        None => ffi::SQLITE_IOERR_LOCK,
    }
}

unsafe extern "C" fn x_unlock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    let ours = ours(file);
    let passed = pass_on(ours);
    if passed != ffi::SQLITE_OK {
        return passed;
    }
    match methods(ours).xUnlock {
        Some(unlock) => unlock(ours.inner, level),
        None => ffi::SQLITE_IOERR_UNLOCK,
    }
}

unsafe extern "C" fn x_check_reserved_lock(file: *mut ffi::sqlite3_file, out: *mut c_int) -> c_int {
    let ours = ours(file);
    match methods(ours).xCheckReservedLock {
        Some(check) => check(ours.inner, out),
        None => ffi::SQLITE_IOERR_CHECKRESERVEDLOCK,
    }
}

/// Whether `PRAGMA synchronous = value` keeps SQLite syncing every commit (see the top).
fn syncs_every_commit(value: &[u8]) -> bool {
    [&b"2"[..], b"3", b"full", b"extra"]
        .iter()
        .any(|level| value.eq_ignore_ascii_case(level))
}

unsafe extern "C" fn x_file_control(
    file: *mut ffi::sqlite3_file,
    op: c_int,
    argument: *mut c_void,
) -> c_int {
    let ours = ours(file);
    if op == ffi::SQLITE_FCNTL_PRAGMA {
        // [error message out, pragma name, value or null]
        let words = argument.cast::<*mut c_char>();
        let (name, value) = (*words.add(1), *words.add(2));
        if !name.is_null()
            && !value.is_null()
            && CStr::from_ptr(name)
                .to_bytes()
                .eq_ignore_ascii_case(b"synchronous")
            && !syncs_every_commit(CStr::from_ptr(value).to_bytes())
        {
            *words = ffi::sqlite3_mprintf(
                c"the store's file layer needs synchronous = FULL: a lower level would publish log frames it still holds".as_ptr(),
            );
            return ffi::SQLITE_ERROR;
        }
    }
    if op == ffi::SQLITE_FCNTL_CKPT_DONE {
        pass_on_or_stop(ours);
    }
    // Some controls act on the file (a size hint, a persistent log): let them see it whole.
    let passed = pass_on(ours);
    if passed != ffi::SQLITE_OK {
        return passed;
    }
    match methods(ours).xFileControl {
        Some(control) => control(ours.inner, op, argument),
        None => ffi::SQLITE_NOTFOUND,
    }
}

unsafe extern "C" fn x_sector_size(file: *mut ffi::sqlite3_file) -> c_int {
    let ours = ours(file);
    methods(ours).xSectorSize.map_or(0, |size| size(ours.inner))
}

unsafe extern "C" fn x_device_characteristics(file: *mut ffi::sqlite3_file) -> c_int {
    let ours = ours(file);
    methods(ours)
        .xDeviceCharacteristics
        .map_or(0, |characteristics| characteristics(ours.inner))
}

unsafe extern "C" fn x_shm_map(
    file: *mut ffi::sqlite3_file,
    region: c_int,
    size: c_int,
    extend: c_int,
    out: *mut *mut c_void,
) -> c_int {
    let ours = ours(file);
    match methods(ours).xShmMap {
        Some(map) if methods(ours).iVersion >= 2 => map(ours.inner, region, size, extend, out),
        _ => ffi::SQLITE_IOERR_SHMMAP,
    }
}

unsafe extern "C" fn x_shm_lock(
    file: *mut ffi::sqlite3_file,
    offset: c_int,
    count: c_int,
    flags: c_int,
) -> c_int {
    let ours = ours(file);
    let passed = pass_on(ours);
    if passed != ffi::SQLITE_OK {
        return passed;
    }
    match methods(ours).xShmLock {
        Some(lock) if methods(ours).iVersion >= 2 => lock(ours.inner, offset, count, flags),
        _ => ffi::SQLITE_IOERR_SHMLOCK,
    }
}

unsafe extern "C" fn x_shm_barrier(file: *mut ffi::sqlite3_file) {
    // Issued on the database file. The log's frames are passed on by the sync before
    // SQLite changes the shared index (see the top); a checkpoint's pages by the file
    // control that ends it, and by this.
    let ours = ours(file);
    pass_on_or_stop(ours);
    if let Some(barrier) = methods(ours)
        .xShmBarrier
        .filter(|_| methods(ours).iVersion >= 2)
    {
        barrier(ours.inner);
    }
}

unsafe extern "C" fn x_shm_unmap(file: *mut ffi::sqlite3_file, delete: c_int) -> c_int {
    let ours = ours(file);
    match methods(ours).xShmUnmap {
        Some(unmap) if methods(ours).iVersion >= 2 => unmap(ours.inner, delete),
        _ => ffi::SQLITE_OK,
    }
}

unsafe extern "C" fn x_fetch(
    file: *mut ffi::sqlite3_file,
    offset: ffi::sqlite3_int64,
    amount: c_int,
    out: *mut *mut c_void,
) -> c_int {
    let ours = ours(file);
    let passed = pass_on(ours);
    if passed != ffi::SQLITE_OK {
        return passed;
    }
    match methods(ours).xFetch {
        Some(fetch) if methods(ours).iVersion >= 3 => fetch(ours.inner, offset, amount, out),
        _ => {
            // No memory map: SQLite reads instead.
            *out = ptr::null_mut();
            ffi::SQLITE_OK
        }
    }
}

unsafe extern "C" fn x_unfetch(
    file: *mut ffi::sqlite3_file,
    offset: ffi::sqlite3_int64,
    page: *mut c_void,
) -> c_int {
    let ours = ours(file);
    match methods(ours).xUnfetch {
        Some(unfetch) if methods(ours).iVersion >= 3 => unfetch(ours.inner, offset, page),
        _ => ffi::SQLITE_OK,
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::{params, Connection, OpenFlags};

    use super::*;

    thread_local! {
        /// Writes passed on to the default VFS by this thread (the tests' connections
        /// write on the test's own thread, so other tests running meanwhile do not count).
        pub(super) static WRITES_PASSED_ON: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    fn writes_passed_on() -> usize {
        WRITES_PASSED_ON.with(std::cell::Cell::get)
    }

    /// A connection to the file at `path` through the shim.
    fn through_shim(path: &std::path::Path) -> Connection {
        Connection::open_with_flags_and_vfs(path, OpenFlags::default(), register().unwrap())
            .unwrap()
    }

    /// A fresh store in WAL mode at `synchronous = FULL`, written through the shim after
    /// `setup` (pragmas and tables): its directory (removed when dropped), path and
    /// connection.
    fn store_through_shim(setup: &str) -> (tempfile::TempDir, std::path::PathBuf, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let connection = through_shim(&path);
        connection
            .execute_batch(&format!(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; {setup}"
            ))
            .unwrap();
        (dir, path, connection)
    }

    /// Copies the whole log into the database and starts it again from its beginning.
    fn truncate_log(connection: &Connection) {
        connection
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
    }

    fn count(connection: &Connection) -> i64 {
        connection
            .query_row("SELECT count(*) FROM t", [], |row| row.get(0))
            .unwrap()
    }

    #[test]
    fn commits_through_the_shim_are_whole_for_other_connections_and_gathered() {
        // A small page cache, so that big transactions spill pages to the log before they
        // commit and read them back.
        let (_dir, path, mut writer) = store_through_shim(
            "PRAGMA cache_size = 20;
             CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
             CREATE INDEX t_body ON t (body);",
        );
        let reader = Connection::open(&path).unwrap();
        for round in 0..3_i64 {
            let transaction = writer.transaction().unwrap();
            for n in 0..2_000_i64 {
                let id = round * 2_000 + n;
                // Bodies in no order, so that the index is written all over.
                let body = format!("{:0>600}", (id * 7_919) % 10_007);
                transaction
                    .execute("INSERT INTO t VALUES (?1, ?2)", params![id, body])
                    .unwrap();
            }
            transaction.commit().unwrap();
            assert_eq!(count(&reader), (round + 1) * 2_000);
        }
        writer
            .execute("DELETE FROM t WHERE id % 3 = 0", [])
            .unwrap();
        assert_eq!(count(&reader), 4_000);
        let check: String = reader
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))
            .unwrap();
        assert_eq!(check, "ok");

        // A small commit touches several pages (two or more frames, four or more writes
        // without the shim); through it, they reach the log as one write.
        let before = writes_passed_on();
        writer
            .execute("INSERT INTO t VALUES (100000, 'one more')", [])
            .unwrap();
        // One, or two when the log starts again: SQLite syncs its new header on its own.
        assert!((1..=2).contains(&(writes_passed_on() - before)));
        assert_eq!(count(&reader), 4_001);

        // After a checkpoint the log starts again from its beginning; still whole.
        truncate_log(&writer);
        writer
            .execute("INSERT INTO t VALUES (100001, 'after the checkpoint')", [])
            .unwrap();
        drop(writer);
        assert_eq!(count(&reader), 4_002);
    }

    #[test]
    fn a_synchronous_level_that_skips_the_commit_sync_is_refused() {
        let (_dir, _path, connection) = store_through_shim("");
        for level in ["NORMAL", "off", "1", "0"] {
            let error = connection
                .execute_batch(&format!("PRAGMA synchronous = {level}"))
                .unwrap_err();
            assert!(error.to_string().contains("synchronous = FULL"), "{error}");
        }
        for level in ["FULL", "extra", "2", "3"] {
            connection
                .execute_batch(&format!("PRAGMA synchronous = {level}"))
                .unwrap();
        }
        let level: i64 = connection
            .query_row("PRAGMA synchronous", [], |row| row.get(0))
            .unwrap();
        assert_eq!(level, 3);
    }

    #[test]
    fn a_commit_of_several_frames_is_one_write_to_the_log() {
        let (_dir, _path, writer) = store_through_shim(
            "CREATE TABLE a (x TEXT); CREATE TABLE b (x TEXT); CREATE TABLE c (x TEXT);",
        );
        // An empty log, so that the commit's frames are all it holds.
        truncate_log(&writer);
        let before = writes_passed_on();
        // Three tables' pages, one commit.
        writer
            .execute_batch(
                "BEGIN; INSERT INTO a VALUES ('1'); INSERT INTO b VALUES ('2');
                 INSERT INTO c VALUES ('3'); COMMIT;",
            )
            .unwrap();
        let writes = writes_passed_on() - before;
        let frames: i64 = writer
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| row.get(1))
            .unwrap();
        assert!(frames >= 3, "{frames} frames");
        // Without the shim, two writes per frame; through it, the log's new header (which
        // SQLite syncs on its own) and then the frames.
        assert_eq!(writes, 2, "{writes} writes for {frames} frames");
    }

    #[test]
    fn the_database_file_is_written_back_through_its_own_descriptor_and_no_other_file_is() {
        let (_dir, path, connection) = store_through_shim("CREATE TABLE t (x TEXT);");
        // The main database's file, or (`SQLITE_FCNTL_JOURNAL_POINTER`) its log.
        let file_of = |pointer: c_int| unsafe {
            let mut file: *mut ffi::sqlite3_file = ptr::null_mut();
            let code = ffi::sqlite3_file_control(
                connection.handle(),
                c"main".as_ptr(),
                pointer,
                (&mut file as *mut *mut ffi::sqlite3_file).cast(),
            );
            assert_eq!(code, ffi::SQLITE_OK);
            assert!(!file.is_null());
            ours(file)
        };
        assert_eq!(file_of(ffi::SQLITE_FCNTL_JOURNAL_POINTER).writeback_fd, -1);
        let database = file_of(ffi::SQLITE_FCNTL_FILE_POINTER);
        // The descriptor read from the default VFS's file is open on the store's file.
        assert!(database.writeback_fd >= 0);
        use std::os::unix::fs::MetadataExt as _;
        let mut opened: libc::stat = unsafe { std::mem::zeroed() };
        assert_eq!(
            unsafe { libc::fstat(database.writeback_fd, &mut opened) },
            0
        );
        assert_eq!(opened.st_ino, std::fs::metadata(&path).unwrap().ino());
    }

    #[test]
    fn a_checkpoint_writes_runs_of_pages_to_the_database_at_once() {
        let (_dir, path, writer) = store_through_shim(
            "PRAGMA wal_autocheckpoint = 0;
             CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL);",
        );
        truncate_log(&writer);
        // Rows in id order fill contiguous pages at the end of the file.
        writer
            .execute_batch(
                "WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < 3000)
                 INSERT INTO t SELECT k, printf('%0500d', k) FROM n;",
            )
            .unwrap();
        // The checkpoint runs on another connection through the shim, as the store's
        // background checkpoints do.
        let checkpointer = through_shim(&path);
        let before = writes_passed_on();
        let (busy, copied): (i64, i64) = checkpointer
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
                Ok((row.get(0)?, row.get(2)?))
            })
            .unwrap();
        let writes = writes_passed_on() - before;
        assert_eq!(busy, 0);
        assert!(copied >= 300, "{copied} pages copied");
        // One write per page without the shim; pieces of 31 pages through it.
        assert!(
            writes * 20 < copied as usize,
            "{writes} writes for {copied} pages"
        );
        // Every page reached the file: a connection outside the shim reads it whole once
        // the log is gone.
        truncate_log(&checkpointer);
        drop(writer);
        drop(checkpointer);
        let reader = Connection::open(&path).unwrap();
        assert_eq!(count(&reader), 3_000);
        let check: String = reader
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))
            .unwrap();
        assert_eq!(check, "ok");
    }
}
