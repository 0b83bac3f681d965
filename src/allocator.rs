//! mimalloc as the binary's allocator (`src/main.rs`), for Rust's
//! allocations and for tree-sitter's C core: each parse builds its nodes
//! and parse stacks with malloc, which glibc served with 3% of a corpus
//! run's instructions beside mimalloc serving the rest.

use std::alloc::{GlobalAlloc, Layout};

use libmimalloc_sys::{
    mi_calloc, mi_free, mi_malloc, mi_malloc_aligned, mi_option_set, mi_option_t, mi_realloc,
    mi_realloc_aligned, mi_zalloc, mi_zalloc_aligned,
};

/// Rust's allocations on mimalloc. The `mimalloc` crate asks for every
/// block by alignment, a longer path than malloc's; a block malloc
/// already aligns (the rule std's own allocator follows) takes the short
/// one, and a file of 26,000 COPYs makes two blocks for each.
pub struct Mimalloc;

/// The alignment mimalloc's malloc gives a block of at least this size.
const MALLOC_ALIGN: usize = 16;

fn plain(layout: Layout) -> bool {
    layout.align() <= MALLOC_ALIGN && layout.align() <= layout.size()
}

// Safety: mimalloc's functions keep `GlobalAlloc`'s contract; the plain
// ones only serve layouts whose alignment malloc gives.
unsafe impl GlobalAlloc for Mimalloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let block = unsafe {
            if plain(layout) {
                mi_malloc(layout.size())
            } else {
                mi_malloc_aligned(layout.size(), layout.align())
            }
        };
        debug_assert!(block as usize % layout.align() == 0);
        block.cast()
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        unsafe {
            if plain(layout) {
                mi_zalloc(layout.size()).cast()
            } else {
                mi_zalloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        unsafe { mi_free(ptr.cast()) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        unsafe {
            let grown = Layout::from_size_align_unchecked(new_size, layout.align());
            if plain(grown) {
                mi_realloc(ptr.cast(), new_size).cast()
            } else {
                mi_realloc_aligned(ptr.cast(), new_size, layout.align()).cast()
            }
        }
    }
}

/// Makes tree-sitter allocate with mimalloc.
///
/// # Safety
/// Call it once, before any tree-sitter object exists (first thing in
/// `main`): memory one allocator gave must not go back to the other.
pub unsafe fn tree_sitter_on_mimalloc() {
    // Safety: the caller's promise, and mimalloc's functions keep malloc's
    // contract (alignment, null only for failure).
    unsafe {
        tree_sitter::set_allocator(Some(tree_sitter::Allocator {
            malloc: mi_malloc,
            calloc: mi_calloc,
            realloc: mi_realloc,
            free: mi_free,
        }))
    }
}

/// `mi_option_purge_delay` in mimalloc's `mi_option_e`, which the crate
/// does not name: how long freed memory waits before it goes back to the
/// system, in milliseconds (10), or -1 for never.
const PURGE_DELAY: mi_option_t = 15;

/// Call as the process ends: at exit mimalloc collects its heap and hands
/// the freed pages back to the system one `madvise` at a time, splitting
/// huge pages to do it, work the exit itself does at once. Skipping it
/// took 5% off a run over a file of 26,000 COPYs (5.58 to 5.27 ms) and
/// over the example (2.26 to 2.13 ms), the quarter point of 200 runs each.
pub fn keep_pages_at_exit() {
    // Safety: setting an option is allowed at any time.
    unsafe { mi_option_set(PURGE_DELAY, -1) }
}

#[cfg(test)]
mod tests {
    use libmimalloc_sys::mi_option_get;

    #[test]
    fn the_purge_delay_option_is_the_one_set_at_exit() {
        // 10 ms is the purge delay's default; the options either side of
        // it in `mi_option_e` default to 0 or 1, so a shifted index fails.
        let set = ["MIMALLOC_PURGE_DELAY", "MIMALLOC_RESET_DELAY"];
        let default = set.iter().all(|name| std::env::var_os(name).is_none());
        unsafe {
            if default {
                assert_eq!(mi_option_get(super::PURGE_DELAY), 10);
            }
            super::keep_pages_at_exit();
            assert_eq!(mi_option_get(super::PURGE_DELAY), -1);
        }
    }
}
