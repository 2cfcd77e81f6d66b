//! `skiff images` / `skiff image ls`: Docker's table, filters and formats.

use super::format::{render_rows, Format};
use crate::config::Config;
use crate::image::lookup::{familiar_repo, find, repo_of};
use crate::store::{ImageRecord, Store};
use crate::util::glob::path_match;
use crate::util::human;
use anyhow::Result;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Show all images (default hides intermediate images)
    #[arg(short, long)]
    pub all: bool,
    /// Show digests
    #[arg(long)]
    pub digests: bool,
    /// Filter output based on conditions provided (dangling=, label=, reference=, before=, since=)
    #[arg(short, long, value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Format output using a custom template ('table', 'table TEMPLATE', 'json', 'TEMPLATE')
    #[arg(long)]
    pub format: Option<String>,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Only show image IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Show only images of this repository[:tag]
    pub reference: Option<String>,
}

/// Docker's `CreatedAt` layout: `2006-01-02 15:04:05 -0700 MST`.
pub fn created_at(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string()
}

pub fn parse_time(s: Option<&str>) -> Option<DateTime<Utc>> {
    s.and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

struct Filters {
    dangling: Option<bool>,
    labels: Vec<(String, Option<String>)>,
    references: Vec<String>,
    before: Option<DateTime<Utc>>,
    since: Option<DateTime<Utc>>,
}

fn parse_filters(raw: &[String], images: &[ImageRecord], cfg: &Config) -> Result<Filters> {
    let mut f = Filters {
        dangling: None,
        labels: Vec::new(),
        references: Vec::new(),
        before: None,
        since: None,
    };
    for item in raw {
        let Some((k, v)) = item.split_once('=') else {
            crate::bail_kind!(
                InvalidArgument,
                "bad format of filter (expected name=value): {item}"
            );
        };
        match k {
            "dangling" => match v.to_lowercase().as_str() {
                "true" | "1" => f.dangling = Some(true),
                "false" | "0" => f.dangling = Some(false),
                _ => crate::bail_kind!(
                    InvalidArgument,
                    "invalid filter 'dangling={v}': must be true or false"
                ),
            },
            "label" => f.labels.push(match v.split_once('=') {
                Some((a, b)) => (a.to_string(), Some(b.to_string())),
                None => (v.to_string(), None),
            }),
            "reference" => f.references.push(v.to_string()),
            "before" | "since" => {
                let img = find(images, cfg, v)?;
                let t = parse_time(img.created.as_deref()).unwrap_or_default();
                if k == "before" {
                    f.before = Some(t);
                } else {
                    f.since = Some(t);
                }
            }
            _ => crate::bail_kind!(InvalidArgument, "invalid filter '{k}'"),
        }
    }
    Ok(f)
}

/// One row per (image, tag); an image without tags shows once, with the
/// repository of a repo digest if it has one, else `<none>`.
fn rows_of(img: &ImageRecord) -> Vec<(String, String, String)> {
    let digest_for = |repo: &str| {
        img.repo_digests
            .iter()
            .find(|d| repo_of(d) == repo)
            .and_then(|d| d.split_once('@').map(|(_, d)| d.to_string()))
            .unwrap_or_else(|| "<none>".into())
    };
    let mut rows = Vec::new();
    for n in &img.names {
        let repo = repo_of(n);
        let tag = n[repo.len()..].trim_start_matches(':').to_string();
        rows.push((repo.to_string(), tag, digest_for(repo)));
    }
    if rows.is_empty() {
        if img.repo_digests.is_empty() {
            rows.push(("<none>".into(), "<none>".into(), "<none>".into()));
        }
        for d in &img.repo_digests {
            let repo = repo_of(d);
            rows.push((repo.to_string(), "<none>".into(), digest_for(repo)));
        }
    }
    rows
}

fn reference_matches(patterns: &[String], repo: &str, tag: &str) -> bool {
    let fam = familiar_repo(repo);
    patterns.iter().any(|p| {
        path_match(p, &fam)
            || path_match(p, &format!("{fam}:{tag}"))
            || path_match(p, repo)
            || path_match(p, &format!("{repo}:{tag}"))
    })
}

pub fn run(args: Args, cfg: &Config) -> Result<i32> {
    let store = Store::open(&cfg.root)?;
    let mut images = store.images()?;
    let mut filters = parse_filters(&args.filter, &images, cfg)?;
    if let Some(r) = &args.reference {
        filters.references.push(r.clone());
    }
    images.sort_by(|a, b| {
        parse_time(b.created.as_deref())
            .cmp(&parse_time(a.created.as_deref()))
            .then_with(|| b.added.cmp(&a.added))
    });
    let mut rows: Vec<Value> = Vec::new();
    for img in &images {
        let dangling = img.names.is_empty();
        if filters.dangling.is_some_and(|d| d != dangling) {
            continue;
        }
        if !filters
            .labels
            .iter()
            .all(|(k, v)| crate::util::labels::has(&img.labels, k, v.as_deref()))
        {
            continue;
        }
        let created = parse_time(img.created.as_deref());
        if let (Some(b), Some(c)) = (filters.before, created) {
            if c >= b {
                continue;
            }
        }
        if let (Some(s), Some(c)) = (filters.since, created) {
            if c <= s {
                continue;
            }
        }
        for (repo, tag, digest) in rows_of(img) {
            if !filters.references.is_empty()
                && !reference_matches(&filters.references, &repo, &tag)
            {
                continue;
            }
            let id = if args.no_trunc {
                img.id.to_string()
            } else {
                img.id.short().to_string()
            };
            let size = human::size(img.size);
            rows.push(json!({
                "Containers": "N/A",
                "CreatedAt": created.map(|c| created_at(&c)).unwrap_or_default(),
                "CreatedSince": created.map(human::ago).unwrap_or_else(|| "N/A".into()),
                "Digest": digest,
                "ID": id,
                "Repository": if repo == "<none>" { repo.clone() } else { familiar_repo(&repo) },
                "SharedSize": "N/A",
                "Size": size,
                "Tag": tag,
                "UniqueSize": "N/A",
                "VirtualSize": size,
            }));
        }
    }
    if args.quiet {
        for r in &rows {
            println!("{}", r["ID"].as_str().unwrap_or(""));
        }
        return Ok(0);
    }
    let default = if args.digests {
        "{{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    } else {
        "{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    };
    let headers = [
        ("Repository", "REPOSITORY"),
        ("Tag", "TAG"),
        ("Digest", "DIGEST"),
        ("ID", "IMAGE ID"),
        ("CreatedSince", "CREATED"),
        ("CreatedAt", "CREATED AT"),
        ("Size", "SIZE"),
        ("Containers", "CONTAINERS"),
        ("SharedSize", "SHARED SIZE"),
        ("UniqueSize", "UNIQUE SIZE"),
        ("VirtualSize", "VIRTUAL SIZE"),
    ];
    let out = render_rows(
        &Format::parse(args.format.as_deref()),
        default,
        &headers,
        &rows,
    )?;
    print!("{out}");
    Ok(0)
}
