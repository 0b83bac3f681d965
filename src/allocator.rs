//! mimalloc for tree-sitter's C core, as the binary uses it for Rust's
//! allocations (`src/main.rs`): each parse builds its nodes and parse
//! stacks with malloc, which glibc served with 3% of a corpus run's
//! instructions beside mimalloc serving the rest.

use std::ffi::c_void;

unsafe extern "C" {
    fn mi_malloc(size: usize) -> *mut c_void;
    fn mi_calloc(count: usize, size: usize) -> *mut c_void;
    fn mi_realloc(ptr: *mut c_void, size: usize) -> *mut c_void;
    fn mi_free(ptr: *mut c_void);
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
