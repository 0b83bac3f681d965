// A Dockerfile becomes a tree of many small allocations (values, lines,
// logical text per instruction); mimalloc serves and frees them in about a
// third of the system allocator's instructions, and commits memory in
// larger pieces, so a large file takes a fiftieth of the page faults.
#[global_allocator]
static ALLOCATOR: dockfix::allocator::Mimalloc = dockfix::allocator::Mimalloc;

fn main() -> std::process::ExitCode {
    // Safety: nothing has touched tree-sitter yet.
    unsafe { dockfix::allocator::tree_sitter_on_mimalloc() };
    let code = dockfix::cli::main();
    dockfix::allocator::keep_pages_at_exit();
    code
}
