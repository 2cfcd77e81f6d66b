//! `skiff tag SOURCE TARGET`: another name for an image.

use crate::config::Config;
use crate::image::lookup::find;
use crate::registry::reference::Reference;
use crate::store::Store;
use anyhow::{Context, Result};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// SOURCE_IMAGE[:TAG]
    pub source: String,
    /// TARGET_IMAGE[:TAG]
    pub target: String,
}

pub fn run(args: Args, cfg: &Config) -> Result<i32> {
    let target = Reference::parse(&args.target).with_context(|| format!("tag {}", args.target))?;
    if target.digest.is_some() {
        crate::bail_kind!(
            InvalidArgument,
            "tag {}: refusing to create a tag with a digest reference",
            args.target
        );
    }
    let name = format!(
        "{}:{}",
        target.name(),
        target.tag.as_deref().unwrap_or("latest")
    );
    let store = Store::open(&cfg.root)?;
    store.update_images(|images| {
        let id = find(images, cfg, &args.source)?.id.clone();
        for img in images.iter_mut() {
            img.names.retain(|n| *n != name);
        }
        if let Some(img) = images.iter_mut().find(|i| i.id == id) {
            img.names.push(name.clone());
        }
        Ok(())
    })?;
    store.event("image", "tag", &name, &[("name", &name)]);
    Ok(0)
}
