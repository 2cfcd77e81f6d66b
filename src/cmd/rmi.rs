//! `skiff rmi` / `skiff image rm`: untag and delete images, then reclaim
//! the blobs and layers nothing references any more.

use crate::config::Config;
use crate::error::{kind_err, ErrorKind};
use crate::image::lookup::familiar_name;
use crate::image::lookup::{find, local_candidates};
use crate::store::{ContainerRecord, ImageRecord, Store};
use anyhow::Result;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Force removal of the image
    #[arg(short, long)]
    pub force: bool,
    /// Do not delete untagged parents (accepted for Docker compatibility)
    #[arg(long, hide = true)]
    pub no_prune: bool,
    /// Images to remove
    #[arg(required = true)]
    pub images: Vec<String>,
}

/// What removing one image argument did, as lines Docker prints.
pub fn remove_one(
    images: &mut Vec<ImageRecord>,
    cfg: &Config,
    arg: &str,
    force: bool,
    users: &[ContainerRecord],
) -> Result<Vec<String>> {
    let img = find(images, cfg, arg)?.clone();
    let mut lines = Vec::new();
    // Was the image named by one of its tags? Then only that tag goes,
    // unless it is the last one.
    let by_name = local_candidates(cfg, arg).iter().find_map(|r| {
        let t = r.tag.as_ref()?;
        let full = format!("{}:{}", r.name(), t);
        img.names.contains(&full).then_some(full)
    });
    let idx = images
        .iter()
        .position(|i| i.id == img.id)
        .expect("found above");
    if let Some(name) = &by_name {
        if img.names.len() > 1 && !force {
            images[idx].names.retain(|n| n != name);
            lines.push(format!("Untagged: {}", familiar_name(name)));
            return Ok(lines);
        }
    } else if img.names.len() > 1 && !force {
        let repos: std::collections::BTreeSet<&str> = img
            .names
            .iter()
            .map(|n| crate::image::lookup::repo_of(n))
            .collect();
        if repos.len() > 1 {
            return Err(kind_err(
                ErrorKind::InvalidState,
                format!(
                    "conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories",
                    img.id.short()
                ),
            ));
        }
    }
    // A container still uses the image: Docker refuses, and with -f only
    // untags it (the image stays, dangling, for the container's sake).
    if let Some(c) = users.iter().find(|c| c.image_id == img.id) {
        if !force {
            let what = by_name
                .as_deref()
                .map(familiar_name)
                .unwrap_or_else(|| img.id.short().to_string());
            return Err(kind_err(
                ErrorKind::InvalidState,
                format!(
                    "conflict: unable to remove repository reference \"{what}\" (must force) - container {} is using its referenced image {}",
                    &c.id[..12],
                    img.id.short()
                ),
            ));
        }
        for n in std::mem::take(&mut images[idx].names) {
            lines.push(format!("Untagged: {}", familiar_name(&n)));
        }
        return Ok(lines);
    }
    let removed = images.remove(idx);
    for n in &removed.names {
        lines.push(format!("Untagged: {}", familiar_name(n)));
    }
    for d in &removed.repo_digests {
        lines.push(format!("Untagged: {}", familiar_name(d)));
    }
    lines.push(format!("Deleted: {}", removed.id));
    Ok(lines)
}

pub fn run(args: Args, cfg: &Config) -> Result<i32> {
    let store = Store::open(&cfg.root)?;
    let mut errors = Vec::new();
    for arg in &args.images {
        let users = store.containers()?;
        match store.update_images(|images| remove_one(images, cfg, arg, args.force, &users)) {
            Ok(lines) => {
                for l in lines {
                    println!("{l}");
                    // "Untagged: name" / "Deleted: sha256:..."
                    if let Some((what, id)) = l.split_once(": ") {
                        let action = if what == "Untagged" {
                            "untag"
                        } else {
                            "delete"
                        };
                        store.event("image", action, id, &[("name", id)]);
                    }
                }
            }
            // Docker carries on with the other arguments and fails at the end.
            Err(e) => errors.push(e),
        }
    }
    store.gc()?;
    let last = errors.pop();
    for e in errors {
        eprintln!("skiff: {e:#}");
    }
    match last {
        Some(e) => Err(e),
        None => Ok(0),
    }
}
