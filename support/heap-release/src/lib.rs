//! Gives the system back the memory glibc's allocator keeps after a service freed it.
//!
//! A service's big buffers are transient: a camera frame's tensors, whisper's and ONNX
//! Runtime's work buffers, a prompt's dequantized matrices. glibc serves them from its heaps
//! once its mmap threshold has grown past their size (it grows with every large block freed, up
//! to 32 MiB), and a freed block in a heap stays resident. Measured in the whole-car benchmark:
//! the vision service held 145 MiB after answering, 55 MiB of it in use.
//!
//! Fixing the threshold (`MALLOC_MMAP_THRESHOLD_`) returns every large block when it is freed,
//! but then every prompt pays page faults for each matrix it dequantizes: Qwen's first token
//! took 1.0 s instead of 0.56. Releasing once a piece of work is done costs those faults once
//! per piece of work at most. glibc has no other way to ask for it than `malloc_trim`, hence the
//! one `unsafe` call in the workspace.

/// Returns the free pages of every arena to the system. Call it when a piece of work is done:
/// glibc locks each arena in turn, and threads allocating meanwhile wait. Returns whether
/// anything was given back; elsewhere than glibc it does nothing (those allocators return
/// large blocks themselves) and returns false.
pub fn release_freed_memory() -> bool {
    let released = release();
    tracing::trace!(released, "gave freed memory back");
    released
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn release() -> bool {
    // SAFETY: `malloc_trim` takes no pointer and touches only glibc's own free lists, under
    // the arenas' locks.
    unsafe { libc::malloc_trim(0) == 1 }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn release() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resident_kib() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.split_whitespace().next()?.parse().ok()).unwrap()
    }

    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn freed_blocks_below_a_live_one_leave_the_process() {
        // A freed 8 MiB block raises glibc's mmap threshold past 8 MiB, so the blocks after it
        // come from the heap; one kept at the top pins the others' pages there when freed.
        drop(std::hint::black_box(vec![1u8; 8 << 20]));
        let blocks: Vec<Vec<u8>> = (0..16).map(|i| std::hint::black_box(vec![i as u8 + 1; 4 << 20])).collect();
        let pin = std::hint::black_box(vec![1u8; 1 << 10]);
        drop(blocks);
        let before = resident_kib();
        assert!(release_freed_memory(), "glibc gave nothing back");
        let after = resident_kib();
        assert!(before >= after + 48 * 1024, "resident {before} KiB before, {after} KiB after: 64 MiB were freed");
        drop(pin);
    }
}
