//! Keeps the memory glibc holds for the service near what it uses. glibc keeps what a
//! thread freed in that thread's arena, one arena for each of up to 16 threads on two
//! cores: after the watchdog's catching up and fifteen reports over a year of 100,000
//! cases the service stood at 171–179 MiB resident, while its heap had peaked at 89 MB
//! (`docs/benchmarks.md`). So the service hands back what a large piece of work freed,
//! and bounds the arenas to two a core.

use std::sync::atomic::{AtomicBool, Ordering};

/// Arenas for each core, where neither `MALLOC_ARENA_MAX` nor `GLIBC_TUNABLES` sets them.
const ARENAS_PER_CORE: usize = 2;

/// Bounds glibc's arenas to [`ARENAS_PER_CORE`] a core, unless the environment bounds them
/// already. To be called before the process starts a thread: a thread keeps the arena it
/// was given. Does nothing where the C library is not glibc.
pub fn bound_arenas() {
    let set_by_environment = std::env::var_os("MALLOC_ARENA_MAX").is_some()
        || std::env::var("GLIBC_TUNABLES").is_ok_and(|tunables| tunables.contains("arena_max"));
    if !set_by_environment {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        set_arena_max(ARENAS_PER_CORE * cores);
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn set_arena_max(arenas: usize) {
    let arenas = libc::c_int::try_from(arenas).unwrap_or(libc::c_int::MAX);
    // SAFETY: `mallopt` takes two integers, and glibc serialises it with every other
    // allocator call.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, arenas);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn set_arena_max(_arenas: usize) {}

/// Set while a trim runs: one at a time is enough, since each walks every arena.
static TRIMMING: AtomicBool = AtomicBool::new(false);

/// Returns the free pages of every allocator arena to the system, on a blocking thread
/// (glibc locks each arena in turn while it walks it), unless a trim is already running.
/// Does nothing where the C library is not glibc.
pub fn give_back() {
    if TRIMMING.swap(true, Ordering::AcqRel) {
        return;
    }
    drop(tokio::task::spawn_blocking(|| {
        trim();
        TRIMMING.store(false, Ordering::Release);
    }));
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn trim() {
    // SAFETY: `malloc_trim` takes no pointer, and glibc serialises it with every other
    // allocator call.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}
