//! Keeping a long-lived process small: pages of its mapped files (the
//! binary's code, the C library) that it touched while starting but will
//! not touch again are handed back to the page cache, with the heap's free
//! memory and the stack below the running frame.

use rustix::mm::Advice;

/// How many mappings [`slim`] advises at most (a skiff process has about
/// forty).
const MAX_RANGES: usize = 128;

/// Stack kept below the frame that advises: that frame and the system call
/// it makes need far less.
const STACK_MARGIN: usize = 16 * 1024;

/// One `madvise` to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Range {
    start: usize,
    end: usize,
    advice: Advice,
}

/// Give back what a process that is done starting no longer needs: its
/// pages of mapped files, the heap's free memory, and the main thread's
/// stack below the calling frame. The madvise calls come last and go
/// straight to the kernel, so the code that runs after the binary's and
/// the C library's pages are dropped is this function's loop alone, and
/// little of either is read back in. Returns how many ranges were
/// advised; errors are ignored.
pub fn slim() -> usize {
    let mut ranges = [Range {
        start: 0,
        end: 0,
        advice: Advice::Normal,
    }; MAX_RANGES];
    let (n, stack) = match std::fs::read_to_string("/proc/self/smaps") {
        Ok(smaps) => plan(&smaps, &mut ranges),
        Err(_) => (0, None),
    };
    trim_heap();
    advise(&ranges[..n], stack)
}

/// The ranges to advise for the mappings that `smaps` lists, written to
/// `out`, with how many there are, and the main thread's stack. A file
/// mapping none of whose pages this process wrote (`Anonymous: 0`: code,
/// read-only data) gets `MADV_DONTNEED` (its pages come back from the page
/// cache, unchanged, on the next touch; pages shared with other processes
/// leave this one's RSS too); any other file mapping only `MADV_PAGEOUT`,
/// which never changes memory.
fn plan(smaps: &str, out: &mut [Range]) -> (usize, Option<(usize, usize)>) {
    let mut n = 0;
    let mut stack = None;
    // The file mapping being read, until its `Anonymous:` line.
    let mut current: Option<(usize, usize)> = None;
    for line in smaps.lines() {
        let mut f = line.split_whitespace();
        let first = f.next().unwrap_or_default();
        if let Some((a, b)) = first.split_once('-').filter(|_| !first.ends_with(':')) {
            // A mapping's header: range perms offset dev inode [path].
            let (_perms, _off, _dev, inode, path) =
                (f.next(), f.next(), f.next(), f.next(), f.next());
            current = None;
            let (Ok(start), Ok(end)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
            else {
                continue;
            };
            if path == Some("[stack]") {
                stack = Some((start, end));
            } else if inode.is_some_and(|i| i != "0") {
                // Anonymous mappings (heap, stack, vdso) have inode 0.
                current = Some((start, end));
            }
        } else if first == "Anonymous:" {
            if let Some((start, end)) = current.take() {
                let advice = if f.next() == Some("0") {
                    Advice::LinuxDontNeed
                } else {
                    Advice::LinuxPageOut
                };
                if n < out.len() {
                    out[n] = Range { start, end, advice };
                    n += 1;
                }
            }
        }
    }
    (n, stack)
}

/// The part of the stack `[lo, hi)` that lies more than the margin below
/// `sp`, page aligned; `None` when `sp` is not on it (another thread's
/// stack) or nothing is that far below.
fn stack_below(lo: usize, hi: usize, sp: usize, page: usize) -> Option<(usize, usize)> {
    if sp < lo || sp >= hi {
        return None;
    }
    let end = sp.checked_sub(STACK_MARGIN)? & !(page - 1);
    (end > lo).then_some((lo, end))
}

#[inline(never)]
fn advise(ranges: &[Range], stack: Option<(usize, usize)>) -> usize {
    let mut done = 0;
    for r in ranges {
        // SAFETY: each range is one of this process's own file mappings,
        // page aligned by the kernel. MADV_PAGEOUT never changes memory;
        // MADV_DONTNEED is given only to private file mappings with no
        // page written by this process, whose contents therefore equal
        // the file's and are read back from it on the next access.
        let r = unsafe { rustix::mm::madvise(r.start as *mut _, r.end - r.start, r.advice) };
        done += usize::from(r.is_ok());
    }
    // This frame is the deepest, and the madvise calls above are system
    // calls made in place, with no frame of their own: everything more
    // than the margin below this local is stack no frame is using.
    let here = 0u8;
    let sp = std::hint::black_box(&here) as *const u8 as usize;
    if let Some((lo, hi)) = stack.and_then(|(lo, hi)| stack_below(lo, hi, sp, page_size())) {
        // SAFETY: [lo, hi) is the main thread's stack more than
        // STACK_MARGIN below the running frame: no live data is there
        // (the ABI leaves everything below the stack pointer unused; the
        // red zone is 128 bytes). Dropped pages read back as zeros when
        // the stack grows into them again, as fresh stack pages do.
        let r = unsafe { rustix::mm::madvise(lo as *mut _, hi - lo, Advice::LinuxDontNeed) };
        done += usize::from(r.is_ok());
    }
    done
}

fn page_size() -> usize {
    rustix::param::page_size()
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

#[cfg(test)]
mod tests {
    use super::*;

    const SMAPS: &str = "\
55e558156000-55e5583ad000 r--p 00000000 fe:00 2162745    /usr/bin/skiff
Size:               2396 kB
Anonymous:             0 kB
55e558af1000-55e558b51000 r--p 0099b000 fe:00 2162745    /usr/bin/skiff
Size:                384 kB
Anonymous:           384 kB
55e56571d000-55e5657d3000 rw-p 00000000 00:00 0          [heap]
Anonymous:           696 kB
7ff636334000-7ff63648a000 r-xp 00028000 fe:00 1049       /usr/lib/x86_64-linux-gnu/libc.so.6
Anonymous:             0 kB
7ffd17ce2000-7ffd17d03000 rw-p 00000000 00:00 0          [stack]
Anonymous:           108 kB
";

    #[test]
    fn clean_file_mappings_are_dropped_written_ones_paged_out() {
        let mut out = [Range {
            start: 0,
            end: 0,
            advice: Advice::Normal,
        }; 8];
        let (n, stack) = plan(SMAPS, &mut out);
        let got: Vec<(usize, Advice)> = out[..n].iter().map(|r| (r.start, r.advice)).collect();
        assert_eq!(
            got,
            [
                (0x55e5_5815_6000, Advice::LinuxDontNeed),
                (0x55e5_58af_1000, Advice::LinuxPageOut),
                (0x7ff6_3633_4000, Advice::LinuxDontNeed),
            ]
        );
        assert_eq!(stack, Some((0x7ffd_17ce_2000, 0x7ffd_17d0_3000)));
    }

    #[test]
    fn more_mappings_than_room_keeps_the_first() {
        let mut out = [Range {
            start: 0,
            end: 0,
            advice: Advice::Normal,
        }; 1];
        assert_eq!(plan(SMAPS, &mut out).0, 1);
        assert_eq!(out[0].start, 0x55e5_5815_6000);
    }

    #[test]
    fn the_stack_is_dropped_only_well_below_the_frame() {
        let (lo, hi, page) = (0x10_0000, 0x20_0000, 4096);
        assert_eq!(
            stack_below(lo, hi, 0x1f_0123, page),
            Some((lo, (0x1f_0123 - STACK_MARGIN) & !(page - 1)))
        );
        assert_eq!(stack_below(lo, hi, lo + 100, page), None);
        assert_eq!(stack_below(lo, hi, hi + 100, page), None);
    }
}
