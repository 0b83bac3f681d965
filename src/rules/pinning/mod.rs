//! Pinning base images (DF4xx) to a version tag and a digest, from a
//! registry's answers.

pub mod base_image_digest;
pub mod base_image_version;
mod base_images;

use crate::syntax::Dockerfile;

/// The images a file's FROM lines pull that pinning asks the registry
/// about: not pinned yet, and named through an ARG only when `args`.
/// Each with the offset of its FROM's image.
pub fn pinnable_images(file: &Dockerfile, args: bool) -> Vec<(usize, crate::registry::Reference)> {
    base_images::images(file, &crate::model::stages(file))
        .iter()
        .filter(|image| image.unpinnable(args).is_none())
        .filter_map(|image| {
            image
                .reads_as()
                .map(|(_, r)| (image.range.start, r.clone()))
        })
        .filter(|(_, reference)| reference.digest.is_none())
        .collect()
}
