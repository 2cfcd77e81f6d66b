//! One stage of a build: its base (`FROM`), the base image's `ONBUILD`
//! triggers, then each instruction in turn. Instructions that only change
//! the config are applied at once; `RUN`, `COPY` and `ADD` run in a step
//! container (`step`) unless the cache has their result. Every step,
//! cached or not, gets a key from the state it ran on and what it did;
//! its history time comes from the cache, so a rebuild with nothing
//! changed makes the very same image.

use super::ast::{Command, Containerfile, Instruction, Kind, Stage};
use super::builder::{BuildOptions, PROXY_ARGS};
use super::expand;
use super::state::State;
use crate::config::Config;
use crate::store::build_cache::{CacheEntry, CachedLayer};
use crate::store::Store;
use anyhow::{anyhow, bail, Context, Result};
use std::collections::{BTreeMap, BTreeSet};

/// The build arguments in scope: declared ones (with a value or not) and,
/// for the global scope, the platform ones BuildKit defines.
#[derive(Debug, Clone, Default)]
pub struct Args {
    declared: BTreeMap<String, Option<String>>,
    automatic: BTreeMap<String, String>,
}

impl Args {
    /// `ARG name[=value]`.
    pub fn declare(&mut self, name: &str, value: Option<String>) {
        self.declared.insert(name.to_string(), value);
    }

    /// A platform argument, usable where it is in scope.
    pub fn set_automatic(&mut self, name: &str, value: String) {
        self.automatic.insert(name.to_string(), value);
    }

    /// Its value in this scope.
    pub fn value(&self, name: &str) -> Option<String> {
        match self.declared.get(name) {
            Some(v) => v.clone(),
            None => self.automatic.get(name).cloned(),
        }
    }

    pub fn declared(&self, name: &str) -> bool {
        self.declared.contains_key(name)
    }

    /// The declared arguments that have values, by name.
    pub fn with_values(&self) -> impl Iterator<Item = (&String, &String)> {
        self.declared
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
    }
}

/// The building of one stage.
pub struct StageBuild<'a> {
    pub store: &'a Store,
    pub cfg: &'a Config,
    pub ctx: &'a super::context::Context,
    pub opts: &'a BuildOptions,
    pub file: &'a Containerfile,
    pub stage: &'a Stage,
    pub globals: &'a Args,
    /// The stages built so far, by index.
    pub done: &'a BTreeMap<usize, State>,
    /// The `--build-arg`s some `ARG` took.
    pub consumed: &'a mut BTreeSet<String>,
    /// `[n/m] ` before each step when there are several stages.
    pub label: String,
    /// A `CMD` of this stage's own was given (an `ENTRYPOINT` then keeps
    /// it).
    pub cmd_set: bool,
}

impl StageBuild<'_> {
    /// Build the stage; its final state.
    pub fn run(&mut self) -> Result<State> {
        let total = self.stage.instructions.len() + 1;
        let at = |line: usize, text: &str| format!("{}:{line}: {text}", self.file.file);
        self.say(&format!(
            "{}STEP 1/{total}: {}",
            self.label, self.stage.original
        ));
        let mut state = self
            .base()
            .with_context(|| at(self.stage.line, &self.stage.original))?;
        let mut args = Args::default();
        // The base image's ONBUILD triggers run first; the new image
        // does not inherit them.
        let triggers = state
            .run()
            .extra
            .remove("OnBuild")
            .and_then(|v| serde_json::from_value::<Vec<String>>(v).ok())
            .unwrap_or_default();
        for t in triggers {
            let ins = super::parse::parse_trigger(&t, &self.file.file)
                .with_context(|| format!("the base image's ONBUILD {t}"))?;
            self.say(&format!("{}ONBUILD {}", self.label, ins.original));
            self.exec(&mut state, &mut args, &ins)
                .with_context(|| format!("ONBUILD {}", ins.original))?;
        }
        for (n, ins) in self.stage.instructions.iter().enumerate() {
            self.say(&format!(
                "{}STEP {}/{total}: {}",
                self.label,
                n + 2,
                ins.original
            ));
            self.exec(&mut state, &mut args, ins)
                .with_context(|| at(ins.line, &ins.original))?;
        }
        Ok(state)
    }

    fn say(&self, line: &str) {
        if !self.opts.quiet {
            println!("{line}");
        }
    }

    /// The state `FROM` starts from: nothing, an earlier stage, or an
    /// image (found or pulled).
    fn base(&self) -> Result<State> {
        let word = expand::word(&self.stage.base, self.file.escape, &|n| {
            self.globals.value(n)
        })?;
        if word.is_empty() {
            bail!("base name ({}) should not be blank", self.stage.base);
        }
        if word.eq_ignore_ascii_case("scratch") {
            return Ok(State::scratch());
        }
        let before = self.stage.index;
        if let Some(i) = super::builder::stage_named(self.file, &word, before, false) {
            return self
                .done
                .get(&i)
                .cloned()
                .ok_or_else(|| anyhow!("stage {word} was not built"));
        }
        let platform = match &self.stage.platform {
            Some(p) => {
                let p = expand::word(p, self.file.escape, &|n| self.globals.value(n))?;
                Some(crate::registry::platform::Platform::parse(&p)?)
            }
            None => self.opts.platform.clone(),
        };
        self.image_state(&word, platform)
    }

    /// The state of image `name`, found or pulled.
    pub fn image_state(
        &self,
        name: &str,
        platform: Option<crate::registry::platform::Platform>,
    ) -> Result<State> {
        let img = super::builder::find_image(
            self.store,
            self.cfg,
            self.opts,
            name,
            self.opts.pull,
            platform,
        )?;
        State::of_image(self.store, &img)
    }

    /// What `--from`/`from=` names: an earlier stage (by name or index),
    /// else an image (found or pulled).
    pub fn source_state(&self, from: &str) -> Result<State> {
        match super::builder::stage_named(self.file, from, self.stage.index, true) {
            Some(i) => self
                .done
                .get(&i)
                .cloned()
                .ok_or_else(|| anyhow!("stage {from} was not built")),
            None => self.image_state(from, None),
        }
    }

    /// Expand one word with the state's environment over the arguments.
    pub fn word(&self, state: &State, args: &Args, raw: &str) -> Result<String> {
        expand::word(raw, self.file.escape, &|n| {
            state.env(n).or_else(|| args.value(n))
        })
    }

    fn words(&self, state: &State, args: &Args, raw: &str) -> Result<Vec<String>> {
        expand::words(raw, self.file.escape, &|n| {
            state.env(n).or_else(|| args.value(n))
        })
    }

    /// Apply one instruction.
    fn exec(&mut self, state: &mut State, args: &mut Args, ins: &Instruction) -> Result<()> {
        match &ins.kind {
            Kind::Run(run) => return super::run::run_step(self, state, args, run),
            Kind::Copy(c) => return super::copy_step::copy_step(self, state, args, c, false),
            Kind::Add(c) => return super::copy_step::copy_step(self, state, args, c, true),
            _ => {}
        }
        let created_by = self.apply(state, args, &ins.kind)?;
        self.record(state, &created_by.clone(), created_by, |_| Ok(None))
            .map(|_| ())
    }

    /// Apply an instruction that only changes the config; what the
    /// history says of it (which is also its cache identity).
    fn apply(&mut self, state: &mut State, args: &mut Args, kind: &Kind) -> Result<String> {
        Ok(match kind {
            Kind::Env(pairs) => {
                // Every value sees the environment before the instruction.
                let mut set = Vec::new();
                for (k, v) in pairs {
                    set.push((self.word(state, args, k)?, self.word(state, args, v)?));
                }
                let mut text = String::from("ENV");
                for (k, v) in &set {
                    if k.is_empty() {
                        bail!("ENV names can not be blank");
                    }
                    state.set_env(k, v);
                    text.push_str(&format!(" {k}={v}"));
                }
                text
            }
            Kind::Arg(decls) => {
                let mut text = String::from("ARG");
                for d in decls {
                    let value = match self.opts.build_args.get(&d.name) {
                        Some(v) => {
                            self.consumed.insert(d.name.clone());
                            Some(v.clone())
                        }
                        None => match &d.default {
                            Some(def) => Some(self.word(state, args, def)?),
                            None => self.globals.value(&d.name),
                        },
                    };
                    match &value {
                        Some(v) => text.push_str(&format!(" {}={v}", d.name)),
                        None => text.push_str(&format!(" {}", d.name)),
                    }
                    args.declare(&d.name, value);
                }
                text
            }
            Kind::Label(pairs) => {
                let mut text = String::from("LABEL");
                for (k, v) in pairs {
                    let (k, v) = (self.word(state, args, k)?, self.word(state, args, v)?);
                    if k.is_empty() {
                        bail!("LABEL names can not be blank");
                    }
                    text.push_str(&format!(" {k}={v}"));
                    state
                        .run()
                        .labels
                        .get_or_insert_with(BTreeMap::new)
                        .insert(k, v);
                }
                text
            }
            Kind::Workdir(w) => {
                let w = self.word(state, args, w)?;
                let path = if w.starts_with('/') {
                    w.clone()
                } else {
                    format!("{}/{w}", state.workdir())
                };
                let path = crate::runtime::opts::units::clean_path(&path);
                state.run().working_dir = Some(path.clone());
                format!("WORKDIR {path}")
            }
            Kind::User(u) => {
                let u = self.word(state, args, u)?;
                state.run().user = Some(u.clone());
                format!("USER {u}")
            }
            Kind::Cmd(c) => {
                let argv = self.command(state, c);
                self.cmd_set = true;
                let text = format!("CMD {}", serde_json::to_string(&argv)?);
                state.run().cmd = Some(argv);
                text
            }
            Kind::Entrypoint(c) => {
                let argv = self.command(state, c);
                let text = format!("ENTRYPOINT {}", serde_json::to_string(&argv)?);
                state.run().entrypoint = Some(argv);
                // Docker: an ENTRYPOINT resets the CMD the base gave.
                if !self.cmd_set {
                    state.run().cmd = None;
                }
                text
            }
            Kind::Expose(words) => {
                let mut ports = Vec::new();
                for w in words {
                    for p in self.words(state, args, w)? {
                        ports.extend(expose_keys(&p)?);
                    }
                }
                let map = state.run().exposed_ports.get_or_insert_with(BTreeMap::new);
                for p in &ports {
                    map.insert(p.clone(), serde_json::json!({}));
                }
                format!("EXPOSE map[{}]", ports.join(" "))
            }
            Kind::Volume(list) => {
                let mut vols = Vec::new();
                for v in list {
                    let v = self.word(state, args, v)?;
                    if v.trim().is_empty() {
                        bail!("VOLUME specified can not be an empty string");
                    }
                    vols.push(v);
                }
                let map = state.run().volumes.get_or_insert_with(BTreeMap::new);
                for v in &vols {
                    map.insert(v.clone(), serde_json::json!({}));
                }
                format!("VOLUME {}", serde_json::to_string(&vols)?)
            }
            Kind::Shell(sh) => {
                state
                    .run()
                    .extra
                    .insert("Shell".into(), serde_json::to_value(sh)?);
                format!("SHELL {}", serde_json::to_string(sh)?)
            }
            Kind::StopSignal(s) => {
                let s = self.word(state, args, s)?;
                crate::runtime::opts::parse_signal(&s)?;
                state.run().stop_signal = Some(s.clone());
                format!("STOPSIGNAL {s}")
            }
            Kind::Healthcheck(h) => {
                let hc = super::run::health(h)?;
                let text = format!("HEALTHCHECK {}", serde_json::to_string(&hc.test)?);
                state.run().healthcheck = Some(hc);
                text
            }
            Kind::Onbuild(t) => {
                let list = state
                    .run()
                    .extra
                    .entry("OnBuild")
                    .or_insert_with(|| serde_json::json!([]));
                if !list.is_array() {
                    *list = serde_json::json!([]);
                }
                list.as_array_mut()
                    .expect("an array")
                    .push(serde_json::Value::String(t.clone()));
                format!("ONBUILD {t}")
            }
            Kind::Maintainer(m) => {
                let m = self.word(state, args, m)?;
                state.config.author = Some(m.clone());
                format!("MAINTAINER {m}")
            }
            Kind::Run(_) | Kind::Copy(_) | Kind::Add(_) => unreachable!("steps with files"),
        })
    }

    /// A command's argv: the exec form as is, the shell form through the
    /// stage's `SHELL`.
    pub fn command(&self, state: &State, c: &Command) -> Vec<String> {
        match c {
            Command::Exec(v) => v.clone(),
            Command::Shell(s) => {
                let mut argv = state.shell();
                argv.push(s.clone());
                argv
            }
        }
    }

    /// Record a step known by `what` on `state`: from the cache when it
    /// has it (`true`), else made by `make` and remembered.
    pub fn record(
        &self,
        state: &mut State,
        what: &str,
        created_by: String,
        make: impl FnOnce(&State) -> Result<Option<CachedLayer>>,
    ) -> Result<bool> {
        let key = state.next_key(what);
        if !self.opts.no_cache {
            if let Some(e) = self.store.cache_get(&key) {
                let layer = match &e.layer {
                    Some(l) => Some(super::layer::unpack(self.store, l, state.top())?),
                    None => None,
                };
                state.add_step(key, created_by, e.created, layer);
                return Ok(true);
            }
        }
        let layer = make(state)?;
        let entry = CacheEntry {
            created: crate::store::containers::now(),
            layer,
        };
        self.store.cache_put(&key, &entry)?;
        state.add_step(key, created_by, entry.created, entry.layer);
        Ok(false)
    }

    /// The environment a step's process gets from the build arguments:
    /// those in scope with values that `ENV` does not set, and the proxy
    /// arguments given. The second list is what the cache key sees.
    pub fn arg_env(&self, state: &State, args: &Args) -> (Vec<(String, String)>, Vec<String>) {
        let mut env = Vec::new();
        let mut keyed = Vec::new();
        for (k, v) in args.with_values() {
            if state.env(k).is_none() {
                env.push((k.clone(), v.clone()));
                keyed.push(format!("{k}={v}"));
            }
        }
        for p in PROXY_ARGS {
            if let Some(v) = self.opts.build_args.get(p) {
                if !args.declared(p) && state.env(p).is_none() {
                    env.push((p.to_string(), v.clone()));
                }
            }
        }
        (env, keyed)
    }

    /// How the layers made are compressed.
    pub fn compression(&self) -> crate::registry::manifest::Compression {
        self.opts
            .compression
            .unwrap_or(crate::registry::manifest::Compression::Gzip)
    }

    /// Say a cache hit or the step's result.
    pub fn done(&self, hit: bool, state: &State) {
        if hit {
            self.say(&format!("--> Using cache {}", state.key.hex()));
        }
        self.say(&format!("--> {}", &state.key.hex()[..12]));
    }
}

/// `EXPOSE`'s word as the config's keys: `80` is `80/tcp`; a range is
/// every port in it.
fn expose_keys(word: &str) -> Result<Vec<String>> {
    let (ports, proto) = match word.split_once('/') {
        Some((p, proto)) => (p, proto.to_lowercase()),
        None => (word, "tcp".to_string()),
    };
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        bail!("invalid proto: {proto}");
    }
    let bad = || anyhow!("invalid containerPort: {ports}");
    let (lo, hi) = match ports.split_once('-') {
        Some((a, b)) => (
            a.parse::<u16>().map_err(|_| bad())?,
            b.parse::<u16>().map_err(|_| bad())?,
        ),
        None => {
            let p = ports.parse::<u16>().map_err(|_| bad())?;
            (p, p)
        }
    };
    if lo > hi {
        bail!("invalid range specified for container: {ports}");
    }
    Ok((lo..=hi).map(|p| format!("{p}/{proto}")).collect())
}
