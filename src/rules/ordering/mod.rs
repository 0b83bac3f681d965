//! Cache-friendly ordering (DF1xx): dependency manifests copied and installed
//! before the rest of the sources, so a source edit no longer reruns the
//! install.

mod copy_passes;
pub mod install_before_copy;
pub mod packages_before_copy;
pub mod tools_before_copy;
