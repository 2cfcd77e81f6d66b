//! The second pass: each instruction read is understood, its flags
//! and arguments checked with Docker's messages. The text stays
//! unexpanded.

use super::flags::{self, FlagKind};
use super::words::{self, heredoc_word, json_array, split_blanks, split_command, split_quoted};
use super::{body, health, mount, Node, ReadHeredoc};
use crate::build::ast::{ArgDecl, Command, Copy, Heredoc, Kind, Run, Stage};

const INSTRUCTIONS: [&str; 18] = [
    "add",
    "arg",
    "cmd",
    "copy",
    "entrypoint",
    "env",
    "expose",
    "from",
    "healthcheck",
    "label",
    "maintainer",
    "onbuild",
    "run",
    "shell",
    "stopsignal",
    "user",
    "volume",
    "workdir",
];

/// Understands one instruction other than `FROM`.
pub(super) fn instruction(node: &Node, escape: char) -> Result<Kind, String> {
    let name = node.name.to_ascii_lowercase();
    let no_flags = || flags::parse(&node.flags, &[]).map(drop);
    Ok(match name.as_str() {
        "run" => Kind::Run(run(node)?),
        "copy" => Kind::Copy(copy(node, false)?),
        "add" => Kind::Add(copy(node, true)?),
        "env" => {
            no_flags()?;
            Kind::Env(pairs(node, "ENV", escape)?)
        }
        "label" => {
            no_flags()?;
            Kind::Label(pairs(node, "LABEL", escape)?)
        }
        "arg" => Kind::Arg(args(node, escape)?),
        "workdir" => Kind::Workdir(one_string(node, "WORKDIR")?),
        "user" => Kind::User(one_string(node, "USER")?),
        "stopsignal" => Kind::StopSignal(one_string(node, "STOPSIGNAL")?),
        "maintainer" => Kind::Maintainer(one_string(node, "MAINTAINER")?),
        "cmd" => {
            no_flags()?;
            Kind::Cmd(command(&node.args)?)
        }
        "entrypoint" => {
            no_flags()?;
            Kind::Entrypoint(command(&node.args)?)
        }
        "expose" => {
            let ports = split_blanks(&node.args);
            if ports.is_empty() {
                return Err(at_least_one("EXPOSE"));
            }
            no_flags()?;
            Kind::Expose(ports)
        }
        "volume" => Kind::Volume(volume(node)?),
        "shell" => {
            no_flags()?;
            Kind::Shell(shell(node)?)
        }
        "healthcheck" => Kind::Healthcheck(health::parse(&node.flags, &node.args)?),
        "onbuild" => Kind::Onbuild(onbuild(node)?),
        _ => {
            let hint = flags::suggest(&node.name, &INSTRUCTIONS, false)
                .map(|s| format!(" (did you mean {s}?)"))
                .unwrap_or_default();
            return Err(format!("unknown instruction: {}{hint}", node.name));
        }
    })
}

fn at_least_one(instr: &str) -> String {
    format!("{instr} requires at least one argument")
}

/// `FROM [--platform=...] image [AS name]`.
pub(super) fn from(node: &Node, index: usize) -> Result<Stage, String> {
    let args = split_blanks(&node.args);
    let name = match args.as_slice() {
        [_] => None,
        [_, as_, name] if as_.eq_ignore_ascii_case("as") => {
            let lower = name.to_lowercase();
            if !valid_stage_name(&lower) {
                return Err(format!(
                    "invalid name for build stage: {name:?}, name can't start with a number or contain symbols"
                ));
            }
            Some(lower)
        }
        _ => return Err("FROM requires either one or three arguments".into()),
    };
    let flags = flags::parse(&node.flags, &[("platform", FlagKind::Str)])?;
    Ok(Stage {
        index,
        name,
        base: args[0].clone(),
        platform: flags.string("platform"),
        line: node.line,
        original: node.original.clone(),
        instructions: Vec::new(),
    })
}

/// Docker's `^[a-z][a-z0-9-_.]*$`.
fn valid_stage_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c))
}

/// Exec form when the text is a JSON array, shell form otherwise.
fn command(args: &str) -> Result<Command, String> {
    Ok(match json_array(args)? {
        Some(argv) => Command::Exec(argv),
        None => Command::Shell(args.to_string()),
    })
}

fn run(node: &Node) -> Result<Run, String> {
    let flags = flags::parse(
        &node.flags,
        &[
            ("mount", FlagKind::Strs),
            ("network", FlagKind::Str),
            ("security", FlagKind::Str),
        ],
    )?;
    let command = command(&node.args)?;
    let mounts = flags
        .strings("mount")
        .iter()
        .map(|spec| mount::parse(spec))
        .collect::<Result<Vec<_>, _>>()?;
    let network = flags.string("network");
    if let Some(mode) = network.as_deref() {
        if !matches!(mode, "default" | "none" | "host") {
            return Err(format!("invalid network mode {mode:?}"));
        }
    }
    let security = flags.string("security");
    if let Some(mode) = security.as_deref() {
        if !matches!(mode, "sandbox" | "insecure") {
            return Err(format!("security {mode:?} is not valid"));
        }
    }
    Ok(Run {
        command,
        heredocs: node.heredocs.iter().map(ReadHeredoc::to_ast).collect(),
        mounts,
        network,
        security,
    })
}

/// `COPY` and `ADD`: sources (paths or heredocs) and a destination.
fn copy(node: &Node, is_add: bool) -> Result<Copy, String> {
    let instr = if is_add { "ADD" } else { "COPY" };
    let list = match json_array(&node.args)? {
        Some(list) => list,
        None => split_blanks(&node.args),
    };
    let Some((dest, sources)) = list.split_last().filter(|(_, s)| !s.is_empty()) else {
        return Err(format!(
            "{instr} requires at least two arguments, but only one was provided. Destination could not be determined"
        ));
    };
    let known: &[(&str, FlagKind)] = if is_add {
        &[
            ("exclude", FlagKind::Strs),
            ("chown", FlagKind::Str),
            ("chmod", FlagKind::Str),
            ("link", FlagKind::Bool),
            ("keep-git-dir", FlagKind::Bool),
            ("checksum", FlagKind::Str),
        ]
    } else {
        &[
            ("exclude", FlagKind::Strs),
            ("parents", FlagKind::Bool),
            ("chown", FlagKind::Str),
            ("from", FlagKind::Str),
            ("chmod", FlagKind::Str),
            ("link", FlagKind::Bool),
        ]
    };
    let flags = flags::parse(&node.flags, known)?;
    if heredoc_word(dest).is_some() {
        return Err(format!("{instr} cannot accept a heredoc as a destination"));
    }
    let mut paths = Vec::new();
    let mut heredocs = Vec::new();
    for source in sources {
        let Some(word) = heredoc_word(source) else {
            paths.push(source.clone());
            continue;
        };
        // The body read for the delimiter of that name; the word's own
        // `-` and quotes decide tabs and expansion, as in BuildKit.
        let read = node
            .heredocs
            .iter()
            .rev()
            .find(|h| h.word.name == word.name);
        heredocs.push(Heredoc {
            content: read.map_or_else(String::new, |h| body(&h.body, word.chomp)),
            expand: word.expand,
            name: word.name,
        });
    }
    Ok(Copy {
        sources: paths,
        dest: dest.clone(),
        heredocs,
        from: flags.string("from"),
        chown: flags.string("chown"),
        chmod: flags.string("chmod"),
        link: flags.bool("link"),
        parents: flags.bool("parents"),
        exclude: flags.strings("exclude"),
        checksum: flags.string("checksum"),
        keep_git_dir: flags.bool("keep-git-dir"),
    })
}

/// `ENV`/`LABEL` pairs, keys and values as written.
fn pairs(node: &Node, instr: &str, escape: char) -> Result<Vec<(String, String)>, String> {
    let pairs = words::name_values(&node.args, instr, escape)?;
    if pairs.is_empty() {
        return Err(at_least_one(instr));
    }
    if pairs.iter().any(|(key, _)| key.is_empty()) {
        return Err(format!("{instr} names can not be blank"));
    }
    Ok(pairs)
}

/// `ARG name[=default] ...`.
fn args(node: &Node, escape: char) -> Result<Vec<ArgDecl>, String> {
    let words = split_quoted(&node.args, escape);
    if words.is_empty() {
        return Err(at_least_one("ARG"));
    }
    flags::parse(&node.flags, &[])?;
    words
        .into_iter()
        .map(|word| match word.split_once('=') {
            Some(("", _)) => Err("ARG names can not be blank".to_string()),
            Some((name, default)) => Ok(ArgDecl {
                name: name.to_string(),
                default: Some(default.to_string()),
            }),
            None => Ok(ArgDecl {
                name: word,
                default: None,
            }),
        })
        .collect()
}

/// `WORKDIR`, `USER`, `STOPSIGNAL`, `MAINTAINER`: the rest of the line
/// is the one argument (`USER a b` is the user `a b`, as in Docker).
fn one_string(node: &Node, instr: &str) -> Result<String, String> {
    if node.args.is_empty() {
        return Err(format!("{instr} requires exactly one argument"));
    }
    flags::parse(&node.flags, &[])?;
    Ok(node.args.clone())
}

fn volume(node: &Node) -> Result<Vec<String>, String> {
    let list = match json_array(&node.args)? {
        Some(list) => list,
        None => split_blanks(&node.args),
    };
    if list.is_empty() {
        return Err(at_least_one("VOLUME"));
    }
    flags::parse(&node.flags, &[])?;
    list.into_iter()
        .map(|v| match v.trim() {
            "" => Err("VOLUME specified can not be an empty string".to_string()),
            v => Ok(v.to_string()),
        })
        .collect()
}

/// `SHELL`, which takes only the JSON form.
fn shell(node: &Node) -> Result<Vec<String>, String> {
    match json_array(&node.args)? {
        Some(argv) if argv.is_empty() => Err(at_least_one("SHELL")),
        Some(argv) => Ok(argv),
        None if node.args.is_empty() => Err(at_least_one("SHELL")),
        None => Err(not_json("SHELL", &node.original)),
    }
}

/// Docker's message for shell form where JSON is required, with its
/// hint for Windows paths whose backslashes JSON needs doubled.
fn not_json(instr: &str, original: &str) -> String {
    let text = original
        .to_lowercase()
        .replace(&format!("{} ", instr.to_lowercase()), "");
    let bytes = text.as_bytes();
    let drive_path = bytes
        .windows(4)
        .any(|w| w[0] == b'"' && w[1].is_ascii_lowercase() && w[2] == b':' && w[3] == b'\\');
    let hint = if drive_path && !text.contains("\\\\") && text.contains('[') && text.contains(']') {
        format!(
            ". It looks like '{text}' includes a file path without an escaped back-slash. JSON requires back-slashes to be escaped such as [\"c:\\\\path\\\\to\\\\file.exe\", \"/parameter\"]"
        )
    } else {
        String::new()
    };
    format!("{instr} requires the arguments to be in JSON form{hint}")
}

/// Why a trigger instruction may not be one, if it may not.
pub(super) fn refused_trigger(name: &str) -> Option<String> {
    let upper = name.to_uppercase();
    match upper.as_str() {
        "ONBUILD" => Some("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".into()),
        "MAINTAINER" | "FROM" => Some(format!("{upper} isn't allowed as an ONBUILD trigger")),
        _ => None,
    }
}

/// `ONBUILD INSTR ...`: the trigger as written, heredoc bodies appended
/// the way Docker stores them so that it parses again as it was.
fn onbuild(node: &Node) -> Result<String, String> {
    if node.args.is_empty() {
        return Err(at_least_one("ONBUILD"));
    }
    flags::parse(&node.flags, &[])?;
    if let Some(refused) = refused_trigger(split_command(&node.args).name) {
        return Err(refused);
    }
    // The original minus `ONBUILD` and the blanks after it.
    let mut trigger = node.original[node.name.len()..].trim_start().to_string();
    for heredoc in &node.heredocs {
        trigger.push('\n');
        trigger.push_str(&heredoc.body);
        trigger.push_str(&heredoc.word.name);
    }
    Ok(trigger)
}
