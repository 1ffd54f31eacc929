//! The process's allocator: mimalloc, and how long it keeps freed memory before handing it
//! back to the kernel.
//!
//! The service allocates many small, short-lived objects per write (JSON values, records,
//! events) on several threads; glibc's allocator spent about a quarter of the server's
//! time in `perf` under write load, mimalloc a small fraction of that.
//!
//! Built without transparent huge pages (`no_thp`: it never asks the kernel for them). With
//! them, the page faults of the memory mimalloc hands out each zeroed a whole 2 MiB page:
//! 18% of the service's CPU under write load went to that zeroing (`perf`: `clear_page`
//! under `do_huge_pmd_anonymous_page`, from mimalloc's page allocation), 0.4% without.
//! Without them, 4,053-4,379 checked writes/s at 100,000 intents and 32 clients against
//! 3,413-4,023, p99 20-26 ms against 31-46 ms (`bench strategic --url`, four runs each,
//! alternated); the tactical and live benchmarks no slower. (On a kernel whose huge pages
//! are `always` rather than `madvise`, `MIMALLOC_ALLOW_THP=0` does the same.)
//!
//! Written against mimalloc's C API for one option that the `mimalloc` crate does not
//! expose (see [`configure`]); that call, and its test's reading of the option, are this
//! module's only unsafe code.
#![allow(unsafe_code)]

use std::ffi::c_long;

use libmimalloc_sys as mi;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay`: how long, in milliseconds, freed memory stays
/// mapped before mimalloc returns it to the kernel. `libmimalloc-sys` names no constant
/// for it; its place in `mi_option_e` is part of mimalloc's ABI (retired options keep their
/// places as `deprecated_…`), the same in v2 and v3, and a test checks its default.
const MI_OPTION_PURGE_DELAY: mi::mi_option_t = 15;

/// How long freed memory is kept: 10 s instead of mimalloc's 1 s.
///
/// Under write load the service frees, and within a second or two allocates again, memory
/// that mimalloc has meanwhile returned to the kernel (`madvise`); every page of it then
/// faults back in, zeroed. That was 1.5 page faults per checked write at 100,000 intents
/// and 128 clients, 0.14 with 10 s, and returning and faulting cost more than the faults'
/// count suggests (the kernel unmaps, on a virtual machine above all). With 10 s, the
/// service took 9,014 / 9,174 / 9,355 and 9,319 / 9,404 / 9,827 checked writes/s against
/// 8,739 / 8,736 / 8,721 and 8,615 / 8,979 / 9,164 (`scripts/bench-service --rounds 3`,
/// twice, the order swapped: every pair won), 0.162 against 0.174 ms of CPU per write on
/// average; p99 at one client unchanged (1.09-1.19 ms against 1.14-1.25). The price is
/// memory held under load: 878-908 MB resident at the end of a run against 680-701 MB.
/// Memory idle for 10 s is still returned.
const PURGE_DELAY_MS: c_long = 10_000;

/// Sets the allocator's options; runs first thing in `main`. An environment variable
/// `MIMALLOC_PURGE_DELAY` set by whoever starts the process still wins.
pub fn configure() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: `mi_option_set` only stores the value of a valid option (15 is
    // `mi_option_purge_delay`, see above); mimalloc reads it at its next purge, and it may
    // be set at any time.
    unsafe { mi::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configure_sets_the_purge_delay_whose_default_is_a_second() {
        // mimalloc's default purge delay is 1,000 ms, and no other option defaults to it: if
        // a new mimalloc moved its options, this fails before `configure` sets the wrong one.
        // (One test, so that no other test of this process configures in between.)
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            eprintln!("MIMALLOC_PURGE_DELAY is set: the default cannot be read");
            return;
        }
        // SAFETY: reading an option has no precondition.
        let read = || unsafe { mi::mi_option_get(MI_OPTION_PURGE_DELAY) };
        assert_eq!(read(), 1_000);
        configure();
        assert_eq!(read(), PURGE_DELAY_MS);
    }
}
