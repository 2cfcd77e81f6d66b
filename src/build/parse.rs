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

use super::ast::{Containerfile, Heredoc, Instruction, Kind};
use crate::error::{kind_err, ErrorKind};

#[path = "parse_flags.rs"]
mod flags;
#[path = "parse_health.rs"]
mod health;
#[path = "parse_instr.rs"]
mod instr;
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

use instr::{from, instruction, refused_trigger};
use lines::{Logical, Reader};
use words::{json_array, split_command, HeredocWord};

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
    /// Whether this is the instruction `name` (in any case).
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

/// The first pass: every instruction read, heredoc bodies included.
fn read_all(reader: &mut Reader) -> Result<Vec<Node>, Fail> {
    let mut nodes = Vec::new();
    while let Some(logical) = reader.next_logical()? {
        nodes.push(read_node(reader, logical)?);
    }
    Ok(nodes)
}

fn parse_file(text: &str, file: &str) -> Result<Containerfile, Fail> {
    let mut reader = Reader::new(text);
    let nodes = read_all(&mut reader)?;
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
    let nodes = read_all(&mut reader)?;
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
