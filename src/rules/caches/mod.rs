//! BuildKit cache mounts (DF3xx), the alternative to the cleanups of DF2xx:
//! caches kept between builds and out of the image.

pub mod apt_keep_downloads;
pub mod package_cache_mount;
mod run_user;
pub mod syntax_directive;
