//! `COPY` and `ADD` steps: the words expanded, `--chown` resolved
//! against the stage's own `/etc/passwd` and `/etc/group`, the source
//! root found (the context through its ignore file, or another stage's
//! or an image's files for `--from`), the content digested for the cache
//! key, and on a miss the files written into a step container whose
//! changes become the layer.

use super::ast::Copy;
use super::copy::{checksum, copy, parse_chmod, CopySpec};
use super::stage::{Args, StageBuild};
use super::state::State;
use super::step::StepContainer;
use crate::digest::Digest;
use anyhow::{Context, Result};
use std::os::fd::AsRawFd;
use std::path::PathBuf;

/// Run a `COPY` (or, with `add`, an `ADD`) step, or take it from the cache.
pub fn copy_step(
    sb: &StageBuild,
    state: &mut State,
    args: &Args,
    c: &Copy,
    add: bool,
) -> Result<()> {
    let instr = if add { "ADD" } else { "COPY" };
    let mut sources = Vec::new();
    for s in &c.sources {
        sources.push(sb.word(state, args, s)?);
    }
    let dest_word = sb.word(state, args, &c.dest)?;
    let dest = if dest_word.starts_with('/') {
        dest_word.clone()
    } else {
        format!("{}/{dest_word}", state.workdir().trim_end_matches('/'))
    };
    let chown = match &c.chown {
        Some(raw) => Some(owner(sb, state, &sb.word(state, args, raw)?)?),
        None => None,
    };
    let chmod = match &c.chmod {
        Some(raw) => Some(parse_chmod(&sb.word(state, args, raw)?)?),
        None => None,
    };
    let mut exclude = Vec::new();
    for e in &c.exclude {
        exclude.push(sb.word(state, args, e)?);
    }
    let pin = match &c.checksum {
        Some(raw) => Some(
            Digest::parse(&sb.word(state, args, raw)?).context("ADD --checksum: not a digest")?,
        ),
        None => None,
    };
    let mut heredocs = Vec::new();
    for h in &c.heredocs {
        let body = if h.expand {
            super::expand::heredoc_body(&h.content, &|n| state.env(n).or_else(|| args.value(n)))?
        } else {
            h.content.clone()
        };
        heredocs.push((h.name.clone(), body.into_bytes()));
    }
    let spec = CopySpec {
        sources: sources.clone(),
        heredocs,
        dest: dest.clone(),
        chown,
        chmod,
        exclude,
        parents: c.parents,
        add,
        checksum: pin,
    };

    // Where the files come from, and what that source is known by.
    let from = match &c.from {
        Some(raw) => Some(sb.word(state, args, raw)?),
        None => None,
    };
    let source_state = from.as_deref().map(|f| sb.source_state(f)).transpose()?;
    let what = format!("build step of {}", sb.file.file);
    let viewer = match &source_state {
        Some(s) => Some(StepContainer::files_only(sb.store, sb.cfg, s, &what)?),
        None => None,
    };
    let view = match &viewer {
        Some(v) => Some(v.view_root()?),
        None => None,
    };
    let (src_root, filter) = match &view {
        Some(v) => (
            PathBuf::from(format!("/proc/self/fd/{}", v.fd().as_raw_fd())),
            None,
        ),
        None => (sb.ctx.root().to_path_buf(), sb.ctx.matcher()),
    };
    let sum = checksum(&src_root, filter, &spec)?;
    let key = serde_json::json!({
        "instruction": instr,
        "sources": spec.sources,
        "heredocs": spec.heredocs.iter().map(|(n, b)| (n.clone(), Digest::of(b))).collect::<Vec<_>>(),
        "dest": spec.dest,
        "chown": spec.chown,
        "chmod": spec.chmod,
        "exclude": spec.exclude,
        "parents": spec.parents,
        "from": source_state.as_ref().map(|s| s.key.clone()),
        "content": sum,
    })
    .to_string();
    let mut shown = String::from(instr);
    if let Some(f) = &from {
        shown.push_str(&format!(" --from={f}"));
    }
    for s in &sources {
        shown.push(' ');
        shown.push_str(s);
    }
    for (n, _) in &spec.heredocs {
        shown.push_str(&format!(" <<{n}"));
    }
    shown.push(' ');
    shown.push_str(&dest_word);
    let hit = sb.record(state, &key, shown, |state| {
        let sc = StepContainer::files_only(sb.store, sb.cfg, state, &what)?;
        let root = sc.open_root()?;
        let into = PathBuf::from(format!("/proc/self/fd/{}", root.fd().as_raw_fd()));
        copy(&src_root, filter, &spec, &into)?;
        drop(root);
        sc.commit(state, sb.compression())
    })?;
    drop(view);
    sb.done(hit, state);
    Ok(())
}

/// `--chown=user[:group]` as ids, names looked up in the stage's own
/// `/etc/passwd` and `/etc/group` (numbers need neither).
fn owner(sb: &StageBuild, state: &State, spec: &str) -> Result<(u32, u32)> {
    let layers: Vec<PathBuf> = state
        .layers
        .iter()
        .rev()
        .map(|l| sb.store.layer_dir(&l.chain_id))
        .collect();
    let passwd = crate::runtime::create::image_file(&layers, "etc/passwd");
    let group = crate::runtime::create::image_file(&layers, "etc/group");
    let u = crate::runtime::user::resolve_user(spec, passwd.as_deref(), group.as_deref())
        .with_context(|| format!("--chown={spec}"))?;
    Ok((u.uid, u.gid))
}
