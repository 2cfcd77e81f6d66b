//! `skiff ps`: list containers, with Docker's columns and wording.

use super::format::{render_rows, Format};
use crate::config::Config;
use crate::container::state;
use crate::store::{ContainerRecord, Store};
use crate::util::human;
use anyhow::Result;
use serde_json::{json, Value};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    pub all: bool,
    /// Only display container IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Format output using a custom template ('table', 'json', or a Go template)
    #[arg(long)]
    pub format: Option<String>,
}

const DEFAULT_TABLE: &str = "{{.ID}}\t{{.Image}}\t{{.Command}}\t{{.CreatedAt | since}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";

/// Docker's STATUS wording.
pub fn status_text(rec: &ContainerRecord) -> String {
    let since = |t: &Option<String>| {
        t.as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| {
                let d = (chrono::Utc::now() - t.with_timezone(&chrono::Utc))
                    .to_std()
                    .unwrap_or_default();
                human::duration(d)
            })
            .unwrap_or_default()
    };
    match rec.state.status.as_str() {
        "running" => format!("Up {}", since(&rec.state.started_at)),
        "paused" => format!("Up {} (Paused)", since(&rec.state.started_at)),
        "restarting" => format!(
            "Restarting ({}) {} ago",
            rec.state.exit_code.unwrap_or(0),
            since(&rec.state.finished_at)
        ),
        "exited" => format!(
            "Exited ({}) {} ago",
            rec.state.exit_code.unwrap_or(0),
            since(&rec.state.finished_at)
        ),
        _ => "Created".into(),
    }
}

/// The COMMAND column: the command line, quoted, cut to 20 characters.
fn command_text(rec: &ContainerRecord, no_trunc: bool) -> String {
    let cmd = rec.command.join(" ");
    let cmd = if !no_trunc && cmd.chars().count() > 20 {
        format!("{}…", cmd.chars().take(19).collect::<String>())
    } else {
        cmd
    };
    format!("\"{cmd}\"")
}

pub fn run(args: Args, cfg: &Config) -> Result<i32> {
    let store = Store::open(&cfg.root)?;
    let mut rows = Vec::new();
    for rec in state::list(&store)? {
        if !args.all
            && !matches!(
                rec.state.status.as_str(),
                "running" | "restarting" | "paused"
            )
        {
            continue;
        }
        let id = if args.no_trunc {
            rec.id.clone()
        } else {
            rec.id[..12].to_string()
        };
        if args.quiet {
            println!("{id}");
            continue;
        }
        rows.push(row(&rec, id, args.no_trunc));
    }
    if args.quiet {
        return Ok(0);
    }
    let headers = [
        ("ID", "CONTAINER ID"),
        ("Image", "IMAGE"),
        ("Command", "COMMAND"),
        ("CreatedAt", "CREATED"),
        ("RunningFor", "CREATED"),
        ("Status", "STATUS"),
        ("Ports", "PORTS"),
        ("Names", "NAMES"),
        ("State", "STATE"),
        ("Labels", "LABELS"),
    ];
    let fmt = Format::parse(args.format.as_deref());
    let table = DEFAULT_TABLE.replace("{{.CreatedAt | since}}", "{{.RunningFor}}");
    print!("{}", render_rows(&fmt, &table, &headers, &rows)?);
    Ok(0)
}

fn row(rec: &ContainerRecord, id: String, no_trunc: bool) -> Value {
    let created = chrono::DateTime::parse_from_rfc3339(&rec.created)
        .map(|t| t.with_timezone(&chrono::Utc))
        .ok();
    json!({
        "ID": id,
        "Image": rec.image,
        "Command": command_text(rec, no_trunc),
        "CreatedAt": created
            .map(|c| c.format("%Y-%m-%d %H:%M:%S %z UTC").to_string())
            .unwrap_or_default(),
        "RunningFor": created.map(human::ago).unwrap_or_default(),
        "Status": status_text(rec),
        "State": rec.state.status,
        "Ports": "",
        "Names": rec.name,
        "Labels": rec
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(","),
    })
}
