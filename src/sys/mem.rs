//! Keeping a long-lived process small: pages of its mapped files (the
//! binary's code, the C library) that it touched while starting but will
//! not touch again are handed back to the page cache.

/// Advise the kernel to reclaim this process's file-backed mappings
/// (`MADV_PAGEOUT`). Nothing is lost: clean file pages are simply unmapped
/// and come back from the page cache on the next touch; pages the process
/// wrote (private copies) are left alone without swap. Returns how many
/// mappings were advised; errors (an old kernel) are ignored.
pub fn page_out_file_mappings() -> usize {
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return 0;
    };
    let mut n = 0;
    for line in maps.lines() {
        let mut f = line.split_whitespace();
        let (Some(range), Some(_perms), Some(_off), Some(_dev), Some(inode)) =
            (f.next(), f.next(), f.next(), f.next(), f.next())
        else {
            continue;
        };
        // Anonymous mappings (heap, stack, vdso) have inode 0.
        if inode == "0" {
            continue;
        }
        let Some((a, b)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
        else {
            continue;
        };
        // SAFETY: MADV_PAGEOUT is advice only: it never changes the
        // contents of memory (clean file pages are refetched on access,
        // dirty private ones are kept without swap). The range comes from
        // this process's own map, page aligned by the kernel.
        let r =
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_PAGEOUT) };
        if r == 0 {
            n += 1;
        }
    }
    n
}

/// Return the C library's free heap memory to the kernel.
pub fn trim_heap() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only releases free memory of the allocator's own
    // arenas; no pointer of ours is involved.
    unsafe {
        libc::malloc_trim(0);
    }
}
