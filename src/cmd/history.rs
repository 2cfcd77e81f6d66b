//! `skiff history` / `skiff image history`: an image's history entries,
//! newest first, with the size of the layer each one made, in Docker's
//! columns and formats.

use super::format::{render_rows, Format};
use super::images::parse_time;
use crate::config::Config;
use crate::image::config::{History, ImageConfig};
use crate::image::lookup::find_in_store;
use crate::store::Store;
use crate::util::human;
use anyhow::Result;
use serde_json::{json, Value};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print sizes and dates in human readable format
    #[arg(short = 'H', long, default_value_t = true, num_args = 0..=1,
          default_missing_value = "true", require_equals = true, action = clap::ArgAction::Set)]
    pub human: bool,
    /// Format output using a custom template ('table', 'table TEMPLATE', 'json', 'TEMPLATE')
    #[arg(long)]
    pub format: Option<String>,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Only show image IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// The image
    pub image: String,
}

/// One row of the history: the entry, and the bytes of the layer it made.
#[derive(Debug, PartialEq)]
pub struct Row<'a> {
    pub entry: &'a History,
    pub size: u64,
}

/// The entries newest first, each made layer matched, in order, to the
/// image's layer sizes (bottom first); an entry past the last layer, or
/// one that made none, counts 0 bytes.
pub fn rows<'a>(history: &'a [History], layer_sizes: &[u64]) -> Vec<Row<'a>> {
    let mut sizes = layer_sizes.iter();
    let mut out: Vec<Row> = history
        .iter()
        .map(|entry| Row {
            entry,
            size: if entry.empty_layer {
                0
            } else {
                sizes.next().copied().unwrap_or(0)
            },
        })
        .collect();
    out.reverse();
    out
}

pub fn run(args: Args, cfg: &Config) -> Result<i32> {
    let store = Store::open(&cfg.root)?;
    let img = find_in_store(&store, cfg, &args.image)?;
    let config = ImageConfig::parse(&store.read_blob(&img.id)?)?;
    let sizes: Vec<u64> = img
        .layers
        .iter()
        .map(|l| store.layer_record(l).map(|r| r.size).unwrap_or(0))
        .collect();
    let trunc = !args.no_trunc;
    let mut out: Vec<Value> = Vec::new();
    for (i, r) in rows(&config.history, &sizes).iter().enumerate() {
        // Only the image itself has an ID here: the images its lower
        // entries made are not kept apart from it.
        let id = match (i, trunc) {
            (0, true) => img.id.short().to_string(),
            (0, false) => img.id.to_string(),
            _ => "<missing>".to_string(),
        };
        let created = parse_time(r.entry.created.as_deref());
        // In the local time zone, as Docker prints it.
        let created_at = created
            .map(|t| {
                t.with_timezone(&chrono::Local)
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            })
            .unwrap_or_default();
        let since = match (args.human, created) {
            (true, Some(t)) => human::ago(t),
            (true, None) => "N/A".to_string(),
            (false, _) => created_at.clone(),
        };
        let by = r
            .entry
            .created_by
            .clone()
            .unwrap_or_default()
            .replace('\t', " ");
        out.push(json!({
            "Comment": r.entry.comment.clone().unwrap_or_default(),
            "CreatedAt": created_at,
            "CreatedBy": if trunc { human::ellipsis(&by, 45) } else { by },
            "CreatedSince": since,
            "ID": id,
            "Size": if args.human { human::size3(r.size) } else { r.size.to_string() },
        }));
    }
    if args.quiet {
        for r in &out {
            println!("{}", r["ID"].as_str().unwrap_or(""));
        }
        return Ok(0);
    }
    let headers = [
        ("ID", "IMAGE"),
        ("CreatedSince", "CREATED"),
        ("CreatedAt", "CREATED AT"),
        ("CreatedBy", "CREATED BY"),
        ("Size", "SIZE"),
        ("Comment", "COMMENT"),
    ];
    let text = render_rows(
        &Format::parse(args.format.as_deref()),
        "{{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}",
        &headers,
        &out,
    )?;
    print!("{text}");
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(by: &str, empty: bool) -> History {
        History {
            created_by: Some(by.to_string()),
            empty_layer: empty,
            ..Default::default()
        }
    }

    #[test]
    fn each_made_layer_gets_its_size_newest_first() {
        let h = [
            entry("ADD rootfs", false),
            entry("ENV A=1", true),
            entry("RUN make", false),
            entry("CMD sh", true),
        ];
        let r = rows(&h, &[100, 20]);
        let got: Vec<(&str, u64)> = r
            .iter()
            .map(|r| (r.entry.created_by.as_deref().unwrap(), r.size))
            .collect();
        assert_eq!(
            got,
            [
                ("CMD sh", 0),
                ("RUN make", 20),
                ("ENV A=1", 0),
                ("ADD rootfs", 100)
            ]
        );
        // More made layers than the image has: the extra ones count 0.
        assert_eq!(rows(&h, &[100]).iter().map(|r| r.size).sum::<u64>(), 100);
    }

    #[test]
    fn long_commands_end_in_an_ellipsis() {
        assert_eq!(human::ellipsis("short", 45), "short");
        let long = "x".repeat(60);
        let e = human::ellipsis(&long, 45);
        assert_eq!(e.chars().count(), 45);
        assert!(e.ends_with('…'));
    }
}
