//! dockfix: rewrites Dockerfiles so they build faster and produce smaller,
//! reproducible images, without changing what the image does.

pub mod allocator;
pub mod cache;
pub mod cli;
pub mod config;
pub mod context;
pub mod deps;
pub mod dockerignore;
pub mod edit;
pub mod engine;
pub mod facts;
pub mod fix;
pub mod http;
pub mod measure;
pub mod model;
pub mod pin;
pub mod pr;
pub mod registry;
pub mod rules;
pub mod scope;
pub mod suppress;
pub mod syntax;
pub mod transforms;
