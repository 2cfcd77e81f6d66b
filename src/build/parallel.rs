//! Independent stages built at once. A step's container is started by
//! forking, which wants a single-threaded process, so the stages run in
//! processes of their own: the same `skiff build` again, told to build
//! one stage and stop (`--stage-only`). They fill the shared build cache;
//! the build itself then goes through its stages in order and finds
//! their steps cached. A stage that fails there fails again in order,
//! where its error is reported.

use super::ast::Containerfile;
use anyhow::Result;
use std::collections::BTreeSet;
use std::process::{Command, Stdio};

/// Build at once the stages the target needs that no other of them
/// needs (each with what it needs), when there are two or more; the
/// names (or indexes) of those built.
pub fn prebuild(file: &Containerfile, needed: &[usize], target: usize) -> Result<Vec<String>> {
    let others: Vec<usize> = needed.iter().copied().filter(|&i| i != target).collect();
    let mut below = BTreeSet::new();
    for &i in &others {
        for d in super::builder::needed_stages(file, i)? {
            if d != i {
                below.insert(d);
            }
        }
    }
    let tops: Vec<usize> = others.into_iter().filter(|i| !below.contains(i)).collect();
    if tops.len() < 2 {
        return Ok(Vec::new());
    }
    // Works for a sealed copy of the binary too.
    let exe = std::path::PathBuf::from("/proc/self/exe");
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let mut children = Vec::new();
    for &i in &tops {
        let child = Command::new(&exe)
            .args(&args)
            .arg("--stage-only")
            .arg(i.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        if let Ok(c) = child {
            children.push(c);
        }
    }
    for mut c in children {
        let _ = c.wait();
    }
    Ok(tops
        .iter()
        .map(|&i| file.stages[i].name.clone().unwrap_or_else(|| i.to_string()))
        .collect())
}
