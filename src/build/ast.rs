//! A parsed Containerfile. Words are kept as written (quotes and
//! variables included): the builder expands them (`expand`) with the
//! arguments and environment in force when each step runs, as Docker
//! does. Only the forms (JSON or shell), flags, heredocs and the split
//! into words are decided here.

/// A whole Containerfile.
#[derive(Debug, Clone, PartialEq)]
pub struct Containerfile {
    /// The name errors give (`Containerfile`, `-f`'s path, `-` for stdin).
    pub file: String,
    /// The `escape` directive's character (`\` or `` ` ``).
    pub escape: char,
    /// The `syntax` directive's value, if any (recorded, not acted on).
    pub syntax: Option<String>,
    /// `ARG`s before the first `FROM`: usable in `FROM` lines, and in a
    /// stage only when declared again there without a value.
    pub global_args: Vec<ArgDecl>,
    pub stages: Vec<Stage>,
}

/// One `FROM` and the instructions up to the next.
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    /// Its position among the stages, from 0 (what `COPY --from=0` names).
    pub index: usize,
    /// `AS name`, lower-cased (Docker's stage names are case-insensitive).
    pub name: Option<String>,
    /// The image word as written (expanded with the global args).
    pub base: String,
    /// `--platform`, as written.
    pub platform: Option<String>,
    /// The `FROM` line's number, from 1.
    pub line: usize,
    /// The `FROM` line as written (continuations joined).
    pub original: String,
    pub instructions: Vec<Instruction>,
}

/// One instruction after `FROM`.
#[derive(Debug, Clone, PartialEq)]
pub struct Instruction {
    /// The line it starts on, from 1.
    pub line: usize,
    /// As written, continuations joined into one line, heredoc bodies
    /// left out: for messages and the image history.
    pub original: String,
    pub kind: Kind,
}

/// What an instruction does, its words unexpanded.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Run(Run),
    Copy(Copy),
    /// `ADD`: `Copy`'s fields, plus archive extraction and URLs.
    Add(Copy),
    /// `ENV k=v ...` (or the old `ENV k v`): pairs, values unexpanded.
    Env(Vec<(String, String)>),
    /// `ARG name[=default] ...`.
    Arg(Vec<ArgDecl>),
    Workdir(String),
    User(String),
    Cmd(Command),
    Entrypoint(Command),
    /// `EXPOSE 80 443/udp ...`: the words.
    Expose(Vec<String>),
    /// `LABEL k=v ...` (or `LABEL k v`).
    Label(Vec<(String, String)>),
    /// `VOLUME ["/a", "/b"]` or `VOLUME /a /b`.
    Volume(Vec<String>),
    /// `SHELL ["exe", "arg", ...]` (JSON form only, as Docker requires).
    Shell(Vec<String>),
    StopSignal(String),
    Healthcheck(Health),
    /// `ONBUILD INSTR ...`: the trigger as written, stored in the image
    /// and parsed when a later build uses it as a base.
    Onbuild(String),
    /// `MAINTAINER name` (deprecated; sets the author).
    Maintainer(String),
}

/// A command in exec (JSON) or shell form.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `["exe", "arg"]`: run as is.
    Exec(Vec<String>),
    /// `exe arg`: run by the stage's `SHELL` (`/bin/sh -c`).
    Shell(String),
}

/// `ARG name[=default]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ArgDecl {
    pub name: String,
    /// The default as written, unexpanded.
    pub default: Option<String>,
}

/// A heredoc (`<<EOF`, `<<-EOF`, `<<"EOF"`).
#[derive(Debug, Clone, PartialEq)]
pub struct Heredoc {
    /// The delimiter word, quotes removed.
    pub name: String,
    /// The body, lines up to the delimiter, each ending in `\n` (leading
    /// tabs already removed for `<<-`).
    pub content: String,
    /// Variables in the body are expanded (the delimiter was unquoted).
    pub expand: bool,
}

/// `RUN`.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub command: Command,
    /// Heredocs the command names, in order. A shell-form `RUN <<EOF`
    /// whose command is only the heredoc runs the body as a script.
    pub heredocs: Vec<Heredoc>,
    /// `--mount=...`, each parsed into its fields.
    pub mounts: Vec<RunMount>,
    /// `--network=default|none|host`.
    pub network: Option<String>,
    /// `--security=sandbox|insecure`.
    pub security: Option<String>,
}

/// The kinds of `RUN --mount`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountType {
    Bind,
    Cache,
    Secret,
    Tmpfs,
    Ssh,
}

/// One `RUN --mount=type=...,target=...` (BuildKit's fields; values
/// unexpanded).
#[derive(Debug, Clone, PartialEq)]
pub struct RunMount {
    pub kind: MountType,
    /// `target`/`dst`/`destination`.
    pub target: Option<String>,
    /// `source`/`src`.
    pub source: Option<String>,
    /// `from`: a stage or image (bind and cache).
    pub from: Option<String>,
    /// `id` (cache and secret).
    pub id: Option<String>,
    /// `rw`/`readwrite` for bind (read-only by default); `ro` for cache.
    pub read_only: Option<bool>,
    /// `sharing=shared|private|locked` (cache).
    pub sharing: Option<String>,
    /// `mode`, `uid`, `gid` (cache and secret), as written.
    pub mode: Option<String>,
    pub uid: Option<String>,
    pub gid: Option<String>,
    /// `required` (secret).
    pub required: bool,
    /// `env` (secret: exposed as this variable instead of a file).
    pub env: Option<String>,
    /// `size` (tmpfs).
    pub size: Option<String>,
}

/// `COPY` and `ADD`.
#[derive(Debug, Clone, PartialEq)]
pub struct Copy {
    /// The sources, unexpanded (globs allowed), at least one unless
    /// heredocs stand for them.
    pub sources: Vec<String>,
    /// The destination, unexpanded (relative to `WORKDIR`; a trailing `/`
    /// means a directory).
    pub dest: String,
    /// Heredocs given as sources (`COPY <<EOF /file`): files named after
    /// their delimiter.
    pub heredocs: Vec<Heredoc>,
    /// `--from=stage|image|index`.
    pub from: Option<String>,
    /// `--chown=user[:group]`.
    pub chown: Option<String>,
    /// `--chmod=0755` (octal).
    pub chmod: Option<String>,
    /// `--link`.
    pub link: bool,
    /// `--parents`.
    pub parents: bool,
    /// `--exclude=pattern` (each).
    pub exclude: Vec<String>,
    /// `ADD --checksum=sha256:...`.
    pub checksum: Option<String>,
    /// `ADD --keep-git-dir`.
    pub keep_git_dir: bool,
}

/// `HEALTHCHECK`.
#[derive(Debug, Clone, PartialEq)]
pub enum Health {
    /// `HEALTHCHECK NONE`: the base image's check turned off.
    None,
    Check {
        /// Exec form as given, or shell form (`CMD-SHELL` in the image).
        command: Command,
        /// Durations as written (`30s`, `1m30s`); `None` for the default.
        interval: Option<String>,
        timeout: Option<String>,
        start_period: Option<String>,
        start_interval: Option<String>,
        retries: Option<String>,
    },
}
