//! `skiff image prune`: remove dangling (or, with -a, unused) images; the
//! report's parts, which `system prune` puts together.

use crate::config::Config;
use crate::image::lookup::familiar_name;
use crate::store::Store;
use crate::util::human;
use anyhow::Result;
use std::io::{BufRead, Write};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Remove all unused images, not just dangling ones
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Provide filter values (label=<key>[=<value>], label!=..., until=<timestamp>)
    #[arg(long)]
    pub filter: Vec<String>,
}

/// Ask "Are you sure" the way Docker does; false unless the user says y.
pub fn confirm(warning: &str) -> bool {
    print!("{warning}\nAre you sure you want to continue? [y/N] ");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    matches!(line.trim().to_lowercase().as_str(), "y" | "yes")
}

/// One part of a prune's report: `Deleted Images:` and its lines.
#[derive(Debug, Default)]
pub struct Section {
    pub title: &'static str,
    pub lines: Vec<String>,
}

impl Section {
    /// The title, the lines and a blank line, as Docker prints them;
    /// nothing when nothing was removed.
    pub fn print(&self) -> Result<()> {
        if self.lines.is_empty() {
            return Ok(());
        }
        let mut text = format!("{}:\n", self.title);
        for l in &self.lines {
            text.push_str(l);
            text.push('\n');
        }
        text.push('\n');
        super::format::print_out(&text)
    }
}

/// Which images a prune may take: `label=KEY[=VALUE]` (must carry it),
/// `label!=...` (must not), `until=TIME` (made before it).
#[derive(Debug, Default)]
pub struct ImageFilters {
    labels: Vec<(String, Option<String>, bool)>,
    until: Option<chrono::DateTime<chrono::Utc>>,
}

impl ImageFilters {
    pub fn parse(filters: &[String]) -> Result<ImageFilters> {
        let mut out = ImageFilters::default();
        for f in filters {
            let (k, v) = f.split_once('=').unwrap_or((f, ""));
            let label = |v: &str, want| match v.split_once('=') {
                Some((k, v)) => (k.to_string(), Some(v.to_string()), want),
                None => (v.to_string(), None, want),
            };
            match k {
                "label" => out.labels.push(label(v, true)),
                "label!" => out.labels.push(label(v, false)),
                "until" => {
                    out.until = Some(crate::util::timespec::parse(v, chrono::Utc::now()).map_err(
                        |e| {
                            crate::error::kind_err(
                                crate::error::ErrorKind::InvalidArgument,
                                format!("{e:#}"),
                            )
                        },
                    )?)
                }
                _ => crate::bail_kind!(
                    InvalidArgument,
                    "invalid filter {f:?}: expected label=, label!= or until="
                ),
            }
        }
        Ok(out)
    }

    /// The `until=` time, if one was given.
    pub fn until(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.until
    }

    fn takes(&self, img: &crate::store::ImageRecord) -> bool {
        let labels = self
            .labels
            .iter()
            .all(|(k, v, want)| crate::util::labels::has(&img.labels, k, v.as_deref()) == *want);
        let made = super::images::parse_time(img.created.as_deref());
        labels && self.until.is_none_or(|t| made.is_some_and(|m| m < t))
    }
}

/// Remove the dangling images (with `all`, every unused one) `filters`
/// take; the blobs they leave unreferenced go at the next `gc`.
pub fn prune_images(store: &Store, all: bool, filters: &ImageFilters) -> Result<Section> {
    // Images a container uses are never "unused", tagged or not.
    let used: Vec<_> = store
        .containers()?
        .into_iter()
        .map(|c| c.image_id)
        .collect();
    let removed = store.update_images(|images| {
        let (gone, keep): (Vec<_>, Vec<_>) = std::mem::take(images).into_iter().partition(|i| {
            !used.contains(&i.id) && (all || i.names.is_empty()) && filters.takes(i)
        });
        *images = keep;
        Ok(gone)
    })?;
    let mut lines = Vec::new();
    for img in &removed {
        for n in img.names.iter().chain(&img.repo_digests) {
            lines.push(format!("untagged: {}", familiar_name(n)));
        }
        lines.push(format!("deleted: {}", img.id));
    }
    Ok(Section {
        title: "Deleted Images",
        lines,
    })
}

pub fn run(args: Args, cfg: &Config) -> Result<i32> {
    let warning = if args.all {
        "WARNING! This will remove all images without at least one container associated to them."
    } else {
        "WARNING! This will remove all dangling images."
    };
    let filters = ImageFilters::parse(&args.filter)?;
    if !args.force && !confirm(warning) {
        return Ok(0);
    }
    let store = Store::open(&cfg.root)?;
    let images = prune_images(&store, args.all, &filters)?;
    let report = store.gc()?;
    images.print()?;
    println!("Total reclaimed space: {}", human::size(report.bytes_freed));
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(labels: &[(&str, &str)], created: &str) -> crate::store::ImageRecord {
        let mut i: crate::store::ImageRecord = serde_json::from_value(serde_json::json!({
            "id": format!("sha256:{}", "a".repeat(64)),
            "manifest_digest": format!("sha256:{}", "b".repeat(64)),
            "manifest_media_type": "application/vnd.oci.image.manifest.v1+json",
            "manifest_size": 1,
            "added": created,
        }))
        .unwrap();
        i.created = Some(created.to_string());
        i.labels = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        i
    }

    #[test]
    fn image_filters_take_labels_their_absence_and_age() {
        let f =
            |v: &[&str]| ImageFilters::parse(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let old = image(&[("tier", "web")], "2020-01-01T00:00:00Z");
        let new = image(&[], "2999-01-01T00:00:00Z");
        assert!(f(&[]).unwrap().takes(&old) && f(&[]).unwrap().takes(&new));
        let web = f(&["label=tier=web"]).unwrap();
        assert!(web.takes(&old) && !web.takes(&new));
        let not_tier = f(&["label!=tier"]).unwrap();
        assert!(!not_tier.takes(&old) && not_tier.takes(&new));
        let until = f(&["until=24h"]).unwrap();
        assert!(until.takes(&old) && !until.takes(&new));
        assert!(f(&["colour=red"]).is_err());
    }
}
