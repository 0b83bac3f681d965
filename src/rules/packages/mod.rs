//! Package-manager hygiene (DF2xx): one update, one install and one cleanup
//! per RUN, the flags a careful engineer writes, and caches kept out of the
//! image.

pub mod apk_no_cache;
pub mod apk_redundant_cache;
pub mod apt_get_not_apt;
pub mod apt_get_yes;
pub mod apt_lists_cleanup;
pub mod apt_no_install_recommends;
pub mod apt_update_with_install;
mod cache_clean;
mod flags;
pub mod gem_no_document;
pub mod npm_cache_clean;
pub mod package_duplicates;
pub mod package_merge_runs;
pub mod package_repeated_steps;
pub mod pip_no_cache_dir;
pub mod rpm_assume_yes;
pub mod rpm_cache_clean;
pub mod rpm_no_weak_deps;
pub mod yarn_cache_clean;
pub mod yarn_frozen_lockfile;
