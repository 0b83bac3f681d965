//! Talking to image registries, for pinning base images: references,
//! credentials, the distribution API and a disk cache of its answers.

pub mod auth;
pub mod cache;
pub mod client;
pub mod reference;

pub use client::{Client, Mirror, Options};
pub use reference::Reference;
