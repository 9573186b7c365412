//! The process allocator: mimalloc, for Rust's allocations and — through its `override`
//! build, which defines `malloc`/`free` in this binary — for SQLite's as well.
//!
//! Why: profiles of the import (SQLite) and of the page and kanban benchmarks put a
//! fifth to a quarter of all CPU time in glibc's malloc/free (`_int_malloc`,
//! `_int_free`, `malloc_consolidate`); see BENCHMARKS.md.
//!
//! Memory: with mimalloc's defaults the server's peak RSS under the 16-client bench was
//! about 50 % higher than with glibc (freed memory is given back to the system only after
//! a delay). The options that fixed that were once set through environment variables; an
//! operator should not have to know them, so they are set here, first thing in `main`.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc's `mi_option_t` (the same index in versions 2 and
/// 3; the `-sys` crate names only some of the options).
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Gives freed memory back to the system at once instead of after mimalloc's default
/// delay (1 s in version 3), which keeps the resident size near what is in use. Read by
/// mimalloc whenever it purges, so setting it after start-up takes effect.
pub fn configure() {
    // SAFETY: `mi_option_set` only stores an integer in mimalloc's option table.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, 0) };
}
