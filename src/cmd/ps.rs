//! `skiff ps`: list containers, with Docker's flags, filters, columns and
//! wording.

mod filter;

use super::format::{render_rows, Format};
use super::images::parse_time;
use super::inspect::container::{image_size, labels, load_spec, mounts, network_mode, upper_size};
use crate::config::Config;
use crate::container::state;
use crate::image::lookup;
use crate::store::{ContainerRecord, Store};
use crate::util::human;
use anyhow::Result;
use filter::{Filters, Subject};
use serde_json::{json, Value};
use std::collections::BTreeMap;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    pub all: bool,
    /// Filter output based on conditions provided (id, name, label,
    /// status, ancestor, exited, before, since, volume, health,
    /// publish, expose)
    #[arg(short, long = "filter", value_name = "FILTER")]
    pub filters: Vec<String>,
    /// Show n last created containers (includes all states)
    #[arg(short = 'n', long = "last", default_value_t = -1, allow_negative_numbers = true)]
    pub last: i64,
    /// Show the latest created container (includes all states)
    #[arg(short, long)]
    pub latest: bool,
    /// Only display container IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Display total file sizes
    #[arg(short, long)]
    pub size: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Format output using a custom template ('table', 'json', or a Go template)
    #[arg(long)]
    pub format: Option<String>,
    /// Show also the containers of builds in progress
    #[arg(long)]
    pub external: bool,
}

const DEFAULT_TABLE: &str =
    "{{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";

const HEADERS: [(&str, &str); 14] = [
    ("ID", "CONTAINER ID"),
    ("Image", "IMAGE"),
    ("Command", "COMMAND"),
    ("CreatedAt", "CREATED AT"),
    ("RunningFor", "CREATED"),
    ("Status", "STATUS"),
    ("Ports", "PORTS"),
    ("Names", "NAMES"),
    ("State", "STATE"),
    ("Labels", "LABELS"),
    ("Size", "SIZE"),
    ("Mounts", "MOUNTS"),
    ("Networks", "NETWORKS"),
    ("LocalVolumes", "LOCAL VOLUMES"),
];

/// Docker's STATUS wording.
pub fn status_text(rec: &ContainerRecord) -> String {
    let since = |t: &Option<String>| {
        parse_time(t.as_deref())
            .map(|t| human::duration((chrono::Utc::now() - t).to_std().unwrap_or_default()))
            .unwrap_or_else(|| human::duration(Default::default()))
    };
    let code = rec.state.exit_code.unwrap_or(0);
    match rec.state.status.as_str() {
        "running" => match rec.state.health.as_ref().map(|h| h.status.as_str()) {
            Some("starting") => format!("Up {} (health: starting)", since(&rec.state.started_at)),
            Some(h) => format!("Up {} ({h})", since(&rec.state.started_at)),
            None => format!("Up {}", since(&rec.state.started_at)),
        },
        "paused" => format!("Up {} (Paused)", since(&rec.state.started_at)),
        "restarting" => format!("Restarting ({code}) {} ago", since(&rec.state.finished_at)),
        "exited" => format!("Exited ({code}) {} ago", since(&rec.state.finished_at)),
        "removing" => "Removal In Progress".into(),
        "dead" => "Dead".into(),
        _ => "Created".into(),
    }
}

/// Go's `strconv.Quote`: Docker prints the COMMAND column with it.
fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let n = c as u32;
                if n < 0x80 {
                    out.push_str(&format!("\\x{n:02x}"));
                } else {
                    out.push_str(&format!("\\u{n:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The COMMAND column: the command line cut to 20 characters, quoted.
fn command_text(command: &[String], no_trunc: bool) -> String {
    let cmd = command.join(" ");
    go_quote(&if no_trunc {
        cmd
    } else {
        human::ellipsis(&cmd, 20)
    })
}

/// The IMAGE column: an image ID shortened, a digest dropped, unless
/// `--no-trunc`.
fn image_text(image: &str, no_trunc: bool) -> String {
    if no_trunc {
        return image.to_string();
    }
    let hex = image.strip_prefix("sha256:").unwrap_or(image);
    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return hex[..12].to_string();
    }
    match image.split_once('@') {
        Some((name, _)) if !name.is_empty() => name.to_string(),
        _ => image.to_string(),
    }
}

/// Docker's `{{.Label "key"}}` is a method call, which the template
/// engine cannot make on data: rewrite it as `index .Label "key"` and
/// return the keys it asks for (each row gets them, "" when unset).
fn rewrite_label_calls(tmpl: &str) -> (String, Vec<String>) {
    let mut out = String::new();
    let mut keys = Vec::new();
    let mut rest = tmpl;
    while let Some(i) = rest.find(".Label ") {
        let after = &rest[i + ".Label ".len()..];
        let trimmed = after.trim_start();
        let Some(quoted) = trimmed.strip_prefix('"') else {
            out.push_str(&rest[..i + ".Label ".len()]);
            rest = after;
            continue;
        };
        let Some(end) = quoted.find('"') else {
            break;
        };
        keys.push(quoted[..end].to_string());
        out.push_str(&rest[..i]);
        out.push_str(&format!("index .Label \"{}\"", &quoted[..end]));
        rest = &quoted[end + 1..];
    }
    out.push_str(rest);
    (out, keys)
}

/// The containers the flags select, newest first.
fn select(store: &Store, cfg: &Config, args: &Args, filters: &Filters) -> Result<Vec<Selected>> {
    let mut all = state::list(store)?;
    if !args.external {
        all.retain(|c| !c.build);
    }
    let need_spec = filters.has("volume")
        || args.format.as_deref().is_some_and(|f| {
            f.contains("Mounts")
                || f.contains("Networks")
                || f == "json"
                || f.contains("{{json .}}")
        });
    let limit = if args.latest { 1 } else { args.last };
    let show_all = args.all
        || limit > 0
        || filters.has("status")
        || filters.has("before")
        || filters.has("since");
    let created_of = |v: &String| -> Result<Option<chrono::DateTime<chrono::Utc>>> {
        Ok(parse_time(Some(&state::find(store, v)?.created)))
    };
    let before: Vec<_> = filters
        .get("before")
        .iter()
        .map(created_of)
        .collect::<Result<_>>()?;
    let since: Vec<_> = filters
        .get("since")
        .iter()
        .map(created_of)
        .collect::<Result<_>>()?;
    let images = if filters.has("ancestor") {
        store.images()?
    } else {
        Vec::new()
    };
    let ancestors: Vec<(String, Option<String>)> = filters
        .get("ancestor")
        .iter()
        .map(|a| {
            let id = lookup::find(&images, cfg, a).ok().map(|i| i.id.to_string());
            (a.clone(), id)
        })
        .collect();
    let mut out = Vec::new();
    for rec in all {
        if limit > 0 && out.len() as i64 >= limit {
            break;
        }
        let live = matches!(
            rec.state.status.as_str(),
            "running" | "restarting" | "paused"
        );
        if !show_all && !live {
            continue;
        }
        // The spec (large: it holds the seccomp profile) only when a
        // filter or the format needs mounts or networks.
        let spec = need_spec.then(|| load_spec(store, &rec.id)).flatten();
        let labels = if need_spec {
            labels(&rec, spec.as_ref())
        } else {
            rec.labels.clone()
        };
        let mounts = mounts(store, &rec, spec.as_ref());
        let volume_keys: Vec<String> = mounts
            .iter()
            .flat_map(|m| m.name.clone().into_iter().chain([m.destination.clone()]))
            .collect();
        let ports = if filters.has("publish") || filters.has("expose") {
            super::port::port_triples(&rec)
        } else {
            Vec::new()
        };
        let subject = Subject {
            id: &rec.id,
            name: &rec.name,
            status: &rec.state.status,
            exit_code: rec.state.exit_code,
            labels: &labels,
            started: rec.state.started_at.is_some(),
            volumes: &volume_keys,
            health: rec
                .state
                .health
                .as_ref()
                .map_or("none", |h| h.status.as_str()),
            ports: &ports,
        };
        let created = parse_time(Some(&rec.created));
        let ok = filters.matches(&subject)
            && (before.is_empty() || before.iter().any(|b| created < *b))
            && (since.is_empty() || since.iter().any(|s| created > *s))
            && (ancestors.is_empty()
                || ancestors.iter().any(|(name, id)| {
                    rec.image == *name || id.as_deref() == Some(&rec.image_id.to_string())
                }));
        if !ok {
            continue;
        }
        let mount_names: Vec<String> = mounts
            .iter()
            .filter(|m| m.kind != "tmpfs")
            .map(|m| m.name.clone().unwrap_or_else(|| m.source.clone()))
            .collect();
        let network = network_mode(&rec, spec.as_ref()).to_string();
        out.push(Selected {
            rec,
            labels,
            mount_names,
            network,
        });
    }
    Ok(out)
}

/// A container the flags selected, with what its row needs from its spec.
struct Selected {
    rec: ContainerRecord,
    labels: BTreeMap<String, String>,
    /// Volume names and bind sources.
    mount_names: Vec<String>,
    network: String,
}

pub fn run(args: Args, cfg: &Config) -> Result<i32> {
    let filters = Filters::parse(&args.filters)?;
    let store = Store::open_to_read(&cfg.root)?;
    let selected = select(&store, cfg, &args, &filters)?;
    if args.quiet {
        let mut text = String::new();
        for s in &selected {
            text.push_str(if args.no_trunc {
                &s.rec.id
            } else {
                &s.rec.id[..12]
            });
            text.push('\n');
        }
        super::format::print_out(&text)?;
        return Ok(0);
    }
    let (format, label_keys) = match Format::parse(args.format.as_deref()) {
        Format::Table(t) => {
            let (t, k) = rewrite_label_calls(&t);
            (Format::Table(t), k)
        }
        Format::Template(t) => {
            let (t, k) = rewrite_label_calls(&t);
            (Format::Template(t), k)
        }
        f => (f, Vec::new()),
    };
    let with_size = args.size
        || match &format {
            Format::Table(t) | Format::Template(t) => t.contains(".Size"),
            Format::Json => true,
            Format::DefaultTable => false,
        };
    let rows: Vec<Value> = selected
        .iter()
        .map(|s| row(&store, s, &args, with_size, &label_keys))
        .collect();
    let table = if args.size {
        format!("{DEFAULT_TABLE}\t{{{{.Size}}}}")
    } else {
        DEFAULT_TABLE.to_string()
    };
    super::format::print_out(&render_rows(&format, &table, &HEADERS, &rows)?)?;
    Ok(0)
}

fn row(store: &Store, s: &Selected, args: &Args, with_size: bool, label_keys: &[String]) -> Value {
    let rec = &s.rec;
    let trunc = !args.no_trunc;
    let created = parse_time(Some(&rec.created));
    let size = if with_size {
        let rw = upper_size(store, &rec.id);
        let image = image_size(store, rec);
        if image > 0 {
            format!(
                "{} (virtual {})",
                human::size3(rw),
                human::size3(rw + image)
            )
        } else {
            human::size3(rw)
        }
    } else {
        "0B".into()
    };
    let mounts: Vec<String> = s
        .mount_names
        .iter()
        .map(|m| {
            if trunc {
                human::ellipsis(m, 15)
            } else {
                m.clone()
            }
        })
        .collect();
    let mut v = json!({
        "Command": command_text(&rec.command, args.no_trunc),
        "CreatedAt": created
            .map(|c| c.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string())
            .unwrap_or_default(),
        "ID": if trunc { rec.id[..12].to_string() } else { rec.id.clone() },
        "Image": image_text(&rec.image, args.no_trunc),
        "Labels": s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
        "LocalVolumes": s.mount_names.iter().filter(|m| !m.starts_with('/')).count().to_string(),
        "Mounts": mounts.join(","),
        "Names": rec.name,
        "Networks": s.network,
        "Ports": super::port::ps_text(rec),
        "RunningFor": created.map(human::ago).unwrap_or_default(),
        "Size": size,
        "State": rec.state.status,
        "Status": status_text(rec),
    });
    if !label_keys.is_empty() {
        let map: BTreeMap<&String, String> = label_keys
            .iter()
            .map(|k| (k, s.labels.get(k).cloned().unwrap_or_default()))
            .collect();
        v["Label"] = json!(map);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_cut_and_quoted_like_docker() {
        let c = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(command_text(&c(&["sleep", "30"]), false), "\"sleep 30\"");
        assert_eq!(
            command_text(&c(&["sh", "-c", "echo hello world; sleep 1"]), false),
            "\"sh -c echo hello wo…\""
        );
        assert_eq!(
            command_text(&c(&["sh", "-c", "echo \"hi\""]), true),
            "\"sh -c echo \\\"hi\\\"\""
        );
        assert_eq!(go_quote("a\tb\u{1}"), "\"a\\tb\\x01\"");
    }

    #[test]
    fn images_are_shortened_unless_no_trunc() {
        let id = format!("sha256:{}", "ab".repeat(32));
        assert_eq!(image_text(&id, false), "abababababab");
        assert_eq!(image_text(&id, true), id);
        assert_eq!(image_text("busybox@sha256:00", false), "busybox");
        assert_eq!(
            image_text("localhost:5000/bb:1", false),
            "localhost:5000/bb:1"
        );
    }

    #[test]
    fn label_calls_become_index() {
        let (t, k) = rewrite_label_calls("{{.Names}} {{.Label \"app\"}} {{.Labels}}");
        assert_eq!(t, "{{.Names}} {{index .Label \"app\"}} {{.Labels}}");
        assert_eq!(k, ["app"]);
        let v = json!({"Names": "x", "Labels": "", "Label": {"app": "web"}});
        assert_eq!(super::super::format::render(&t, &v).unwrap(), "x web ");
    }
}
