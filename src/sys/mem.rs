//! Keeping a long-lived process small: pages of its mapped files (the
//! binary's code, the C library) that it touched while starting but will
//! not touch again are handed back to the page cache.

/// Hand back this process's pages of mapped files. A file mapping none of
/// whose pages this process wrote (`Anonymous: 0` in smaps: code, read-only
/// data) is dropped from its page tables with `MADV_DONTNEED` (its pages
/// come back from the page cache, unchanged, on the next touch; pages
/// shared with other processes leave this one's RSS too); any other file
/// mapping is only advised `MADV_PAGEOUT`, which never changes memory.
/// Returns how many mappings were advised; errors are ignored.
pub fn page_out_file_mappings() -> usize {
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return 0;
    };
    let mut n = 0;
    let mut current: Option<(usize, usize, bool)> = None;
    let mut advise = |m: Option<(usize, usize, bool)>| {
        if let Some((start, end, clean)) = m {
            let how = if clean {
                libc::MADV_DONTNEED
            } else {
                libc::MADV_PAGEOUT
            };
            // SAFETY: the range is one of this process's own file
            // mappings, page aligned by the kernel. MADV_PAGEOUT never
            // changes memory; MADV_DONTNEED is used only on private file
            // mappings with no page written by this process, whose
            // contents therefore equal the file's and are read back from
            // it on the next access.
            if unsafe { libc::madvise(start as *mut libc::c_void, end - start, how) } == 0 {
                n += 1;
            }
        }
    };
    for line in smaps.lines() {
        let mut f = line.split_whitespace();
        let first = f.next().unwrap_or_default();
        if let Some((a, b)) = first.split_once('-').filter(|_| !first.ends_with(':')) {
            // A mapping's header: range perms offset dev inode [path].
            let (_perms, _off, _dev, inode) = (f.next(), f.next(), f.next(), f.next());
            let (Ok(start), Ok(end)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
            else {
                current = None;
                continue;
            };
            // Anonymous mappings (heap, stack, vdso) have inode 0.
            current = (inode.is_some_and(|i| i != "0")).then_some((start, end, false));
        } else if first == "Anonymous:" {
            if let Some(m) = current.take() {
                let clean = f.next() == Some("0");
                advise(Some((m.0, m.1, clean)));
            }
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
