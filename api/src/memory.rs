//! Hands the memory a large piece of work freed back to the system. glibc keeps what a
//! thread freed in that thread's arena, one arena for each of up to 16 threads on two
//! cores: after the watchdog's catching up and fifteen reports over a year of 100,000
//! cases the service stood at 171–179 MiB resident, while its heap had peaked at 89 MB
//! (`docs/benchmarks.md`).

use std::sync::atomic::{AtomicBool, Ordering};

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
