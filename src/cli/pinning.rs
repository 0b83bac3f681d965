//! The registry client, auth and answer cache of a run that pins.

use std::cell::{Ref, RefCell};
use std::collections::HashMap;
use std::io::{IsTerminal, Write};

use super::args::FixArgs;
use crate::pin::{floating_variant, PinMode, Pins, Resolver};
use crate::registry::{self, Mirror};
use crate::rules;
use crate::syntax;

/// The registry answers of a run that pins, asked for file by file and kept
/// for the next run in the disk cache.
pub(super) struct Pinning {
    /// By what is pinned (the mode, and whether ARG defaults are), which
    /// each file's settings choose; one client and cache serve them all.
    pub(super) pins: RefCell<HashMap<(PinMode, bool), Pins>>,
    pub(super) resolver: RefCell<Resolver>,
    /// Shows which image is being asked about, on a terminal.
    pub(super) progress: bool,
}

impl Pinning {
    pub(super) fn new(args: &FixArgs, mirrors: Vec<Mirror>) -> Result<Pinning, String> {
        let store = registry::auth::Store::load(registry::auth::docker_config_path().as_deref())?;
        let options = registry::Options {
            mirrors,
            insecure: args.insecure_registry.clone(),
            ..Default::default()
        };
        let client = registry::Client::new(store, options);
        let cache =
            registry::cache::Cache::open(registry::cache::default_dir(), registry::cache::EXPIRY);
        Ok(Pinning {
            pins: RefCell::new(HashMap::new()),
            resolver: RefCell::new(Resolver::new(client, cache)),
            progress: std::io::stderr().is_terminal(),
        })
    }

    /// Asks about the images a file pulls that were not asked about yet,
    /// and returns where in the file the registry could not answer, and why.
    pub(super) fn resolve(
        &self,
        file: &syntax::Dockerfile,
        mode: PinMode,
        args: bool,
    ) -> Vec<(usize, String)> {
        let mut all = self.pins.borrow_mut();
        let pins = all
            .entry((mode, args))
            .or_insert_with(|| Pins::new(mode, args));
        let mut resolver = self.resolver.borrow_mut();
        // A version-only run asks only about floating tags.
        let images: Vec<_> = rules::pinning::pinnable_images(file, pins.args)
            .into_iter()
            .filter(|(_, image)| mode.digests() || floating_variant(image.tag.as_deref()).is_some())
            .collect();
        let mut seen = std::collections::HashSet::new();
        let pending: Vec<_> = images
            .iter()
            .map(|(_, image)| image)
            .filter(|image| pins.answer(image).is_none() && seen.insert(*image))
            .collect();
        for (i, image) in pending.iter().enumerate() {
            if self.progress {
                say_part!(
                    "\r\x1b[Kdockfix: pinning {}/{}: {image} ({})",
                    i + 1,
                    pending.len(),
                    resolver.api_origin(image)
                );
            }
            pins.resolve(image, &mut resolver);
        }
        if self.progress && !pending.is_empty() {
            say_part!("\r\x1b[K");
        }
        images
            .iter()
            .filter_map(|(at, image)| {
                let why = match pins.answer(image)? {
                    Err(e) => e.clone(),
                    Ok(resolved) => resolved.version.as_ref().err()?.clone(),
                };
                Some((*at, format!("could not pin `{image}`: {why}")))
            })
            .collect()
    }

    /// The answers for files pinned in `mode`, once `resolve` asked.
    pub(super) fn pins(&self, mode: PinMode, args: bool) -> Option<Ref<'_, Pins>> {
        Ref::filter_map(self.pins.borrow(), |all| all.get(&(mode, args))).ok()
    }

    pub(super) fn finish(&self) {
        if let Err(e) = self.resolver.borrow_mut().save() {
            say!("dockfix: warning: cannot keep registry answers: {e}");
        }
    }
}
