//! dockfix: rewrites Dockerfiles so they build faster and produce smaller,
//! reproducible images, without changing what the image does.

pub mod syntax;
