//! The process allocator: mimalloc, for Rust's allocations and — through its `override`
//! build, which defines `malloc`/`free` in this binary — for SQLite's as well.
//!
//! Why: profiles of the import (SQLite) and of the page and kanban benchmarks put a
//! fifth to a quarter of all CPU time in glibc's malloc/free (`_int_malloc`,
//! `_int_free`, `malloc_consolidate`); see BENCHMARKS.md.
//!
//! Memory: with mimalloc's defaults the server's peak RSS under the 16-client bench was
//! about 50 % higher than with glibc, because freed memory goes back to the system only
//! after a delay (1 s in mimalloc 3). A long-running server therefore returns it at once
//! ([`for_server`]); the option is set here rather than through the environment so that
//! an operator need not know it. Batch commands (import, demo, copy) keep the delay: at
//! once, the import spent twice the system time in `madvise` (2.6 → 5.2–5.9 s for 100k
//! rows) for 10 % less peak memory.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc's `mi_option_t` (the same index in versions 2 and
/// 3; the `-sys` crate names only some of the options).
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Freed memory goes back to the system at once, which keeps the server's resident size
/// near what it uses. mimalloc reads the option whenever it purges, so setting it after
/// start-up takes effect.
pub fn for_server() {
    // SAFETY: `mi_option_set` only stores an integer in mimalloc's option table.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, 0) };
}
