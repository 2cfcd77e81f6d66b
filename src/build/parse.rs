//! The Containerfile/Dockerfile parser: text into [`ast::Containerfile`],
//! accepting what `docker build` (BuildKit's Dockerfile frontend)
//! accepts and refusing what it refuses, with its messages.
//!
//! Reading happens in two passes, as in BuildKit, so the same error
//! wins when a file has several: first every line is read (directives,
//! comments, continuations, heredoc bodies, JSON arrays and `ENV`
//! pairs), then every instruction is checked (flags, argument counts,
//! stage order).
//!
//! Nothing is expanded here. Keys and values of `ENV`, `LABEL` and
//! `ARG` are kept as written, quotes included, and so are paths, flag
//! values and mount fields: the builder runs [`super::expand`] over them
//! with the arguments and environment of the step, as Docker does (keys
//! too). Errors are one line, `Containerfile:7: unknown instruction:
//! RUNN`.

use anyhow::Result;

use super::ast::{ArgDecl, Command, Containerfile, Copy, Heredoc, Instruction, Kind, Run, Stage};
use crate::error::{kind_err, ErrorKind};

#[path = "parse_flags.rs"]
mod flags;
#[path = "parse_health.rs"]
mod health;
#[path = "parse_lines.rs"]
mod lines;
#[path = "parse_mount.rs"]
mod mount;
#[path = "parse_words.rs"]
mod words;

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
#[cfg(test)]
#[path = "parse_tests_errors.rs"]
mod tests_errors;
#[cfg(test)]
#[path = "parse_tests_files.rs"]
mod tests_files;
#[cfg(test)]
#[path = "parse_tests_heredoc.rs"]
mod tests_heredoc;
#[cfg(test)]
#[path = "parse_tests_run.rs"]
mod tests_run;

use flags::FlagKind;
use lines::{Logical, Reader};
use words::{heredoc_word, json_array, split_blanks, split_command, split_quoted, HeredocWord};

/// Parses a Containerfile. `file` is the name errors give (and the
/// result keeps): `Containerfile`, `-f`'s path, `-` for stdin.
pub fn parse(text: &str, file: &str) -> Result<Containerfile> {
    parse_file(text, file).map_err(|fail| fail.into_error(file))
}

/// Parses one `ONBUILD` trigger of a base image (as stored in its
/// config, heredoc bodies included) into the instruction a build that
/// uses the image runs first. `file` names the image in errors.
pub fn parse_trigger(trigger: &str, file: &str) -> Result<Instruction> {
    parse_one_trigger(trigger).map_err(|fail| fail.into_error(file))
}

/// An error and the line it is about (0: the file as a whole).
struct Fail {
    line: usize,
    msg: String,
}

impl Fail {
    fn file(msg: &str) -> Self {
        Fail {
            line: 0,
            msg: msg.into(),
        }
    }

    fn into_error(self, file: &str) -> anyhow::Error {
        let text = match self.line {
            0 => format!("{file}: {}", self.msg),
            line => format!("{file}:{line}: {}", self.msg),
        };
        kind_err(ErrorKind::InvalidArgument, text)
    }
}

/// One instruction as read, before it is understood.
struct Node {
    line: usize,
    /// The line as written, continuations joined, trimmed.
    original: String,
    /// The instruction's name as written.
    name: String,
    flags: Vec<String>,
    /// The rest, after the flags.
    args: String,
    heredocs: Vec<ReadHeredoc>,
}

impl Node {
    fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }
}

/// A heredoc as read: its opening word and its body as written.
struct ReadHeredoc {
    word: HeredocWord,
    body: String,
}

impl ReadHeredoc {
    fn to_ast(&self) -> Heredoc {
        Heredoc {
            name: self.word.name.clone(),
            content: body(&self.body, self.word.chomp),
            expand: self.word.expand,
        }
    }
}

/// A heredoc body, leading tabs removed from each line for `<<-`.
fn body(text: &str, chomp: bool) -> String {
    if !chomp {
        return text.to_string();
    }
    text.split_inclusive('\n')
        .map(|line| line.trim_start_matches('\t'))
        .collect()
}

fn parse_file(text: &str, file: &str) -> Result<Containerfile, Fail> {
    let mut reader = Reader::new(text);
    let mut nodes = Vec::new();
    while let Some(logical) = reader.next_logical()? {
        nodes.push(read_node(&mut reader, logical)?);
    }
    if nodes.is_empty() {
        return Err(Fail::file("file with no instructions"));
    }
    let escape = reader.directives.escape;
    let mut parsed = Containerfile {
        file: file.to_string(),
        escape,
        syntax: reader.directives.syntax.clone(),
        global_args: Vec::new(),
        stages: Vec::new(),
    };
    for node in &nodes {
        let at = |msg| Fail {
            line: node.line,
            msg,
        };
        if node.is("from") {
            let stage = from(node, parsed.stages.len()).map_err(at)?;
            parsed.stages.push(stage);
            continue;
        }
        let kind = instruction(node, escape).map_err(at)?;
        match (parsed.stages.last_mut(), kind) {
            // `ARG`s before the first `FROM` are the ones `FROM` lines
            // may use.
            (None, Kind::Arg(args)) => parsed.global_args.extend(args),
            (None, _) => return Err(at("no build stage in current context".into())),
            (Some(stage), kind) => stage.instructions.push(Instruction {
                line: node.line,
                original: node.original.clone(),
                kind,
            }),
        }
    }
    if parsed.stages.is_empty() {
        return Err(Fail::file("dockerfile contains no stages to build"));
    }
    Ok(parsed)
}

fn parse_one_trigger(trigger: &str) -> Result<Instruction, Fail> {
    let mut reader = Reader::new(trigger);
    let mut nodes = Vec::new();
    while let Some(logical) = reader.next_logical()? {
        nodes.push(read_node(&mut reader, logical)?);
    }
    let [node] = nodes.as_slice() else {
        return Err(Fail::file("onbuild trigger should be a single expression"));
    };
    let at = |msg| Fail {
        line: node.line,
        msg,
    };
    if let Some(refused) = refused_trigger(&node.name) {
        return Err(at(refused));
    }
    let kind = instruction(node, reader.directives.escape).map_err(at)?;
    Ok(Instruction {
        line: node.line,
        original: node.original.clone(),
        kind,
    })
}

/// Splits a logical line into a node, makes the checks BuildKit makes
/// while reading, and reads the bodies of the heredocs it opens.
fn read_node(reader: &mut Reader, logical: Logical) -> Result<Node, Fail> {
    let escape = reader.directives.escape;
    let split = split_command(&logical.text);
    let at = |msg| Fail {
        line: logical.line,
        msg,
    };
    check_shape(split.name, split.args, escape).map_err(at)?;
    let mut heredocs = Vec::new();
    if holds_heredocs(split.name, split.args) {
        for word in words::heredocs_in_line(&logical.text) {
            let Some(body) = reader.heredoc(&word.name, word.chomp) else {
                return Err(at("unterminated heredoc".into()));
            };
            heredocs.push(ReadHeredoc { word, body });
        }
    }
    Ok(Node {
        line: logical.line,
        original: logical.text.trim().to_string(),
        name: split.name.to_string(),
        flags: split.flags,
        args: split.args.to_string(),
        heredocs,
    })
}

/// The errors BuildKit finds while reading a line, before it looks at
/// instructions: arrays of non-strings, malformed `ENV`/`LABEL` pairs
/// (also in an `ONBUILD` trigger).
fn check_shape(name: &str, args: &str, escape: char) -> Result<(), String> {
    match name.to_ascii_lowercase().as_str() {
        "add" | "copy" | "volume" | "run" | "cmd" | "entrypoint" | "shell" => {
            json_array(args).map(drop)
        }
        "healthcheck" => {
            let rest = args.find(char::is_whitespace).map_or("", |at| &args[at..]);
            json_array(rest).map(drop)
        }
        "env" => words::name_values(args, "ENV", escape).map(drop),
        "label" => words::name_values(args, "LABEL", escape).map(drop),
        "onbuild" if !args.is_empty() => {
            let sub = split_command(args);
            check_shape(sub.name, sub.args, escape)
        }
        _ => Ok(()),
    }
}

/// Whether heredocs are read after this line: shell-form `RUN`, `COPY`
/// and `ADD`, also as an `ONBUILD` trigger.
fn holds_heredocs(name: &str, args: &str) -> bool {
    match name.to_ascii_lowercase().as_str() {
        "run" | "copy" | "add" => !matches!(json_array(args), Ok(Some(_))),
        "onbuild" => {
            let sub = split_command(args);
            !sub.name.eq_ignore_ascii_case("onbuild") && holds_heredocs(sub.name, sub.args)
        }
        _ => false,
    }
}

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
fn instruction(node: &Node, escape: char) -> Result<Kind, String> {
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
fn from(node: &Node, index: usize) -> Result<Stage, String> {
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
fn refused_trigger(name: &str) -> Option<String> {
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
