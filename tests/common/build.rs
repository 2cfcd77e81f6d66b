//! Builds for the `build` suites: a context directory written from a
//! list of files, `skiff build` on it, and a look into the result.

use super::run::Ctx;
use super::Out;
use std::path::{Path, PathBuf};

/// A context directory `name` with these files (`Containerfile` among
/// them).
pub fn context(c: &Ctx, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = c.env.path(name);
    for (rel, text) in files {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
    }
    dir
}

/// `skiff build ARGS DIR`.
pub fn build(c: &Ctx, args: &[&str], dir: &Path) -> Out {
    let mut a = vec!["build"];
    a.extend_from_slice(args);
    a.push(dir.to_str().unwrap());
    c.env.run(&a)
}

/// [`build`], which must succeed.
pub fn build_ok(c: &Ctx, args: &[&str], dir: &Path) -> Out {
    let out = build(c, args, dir);
    out.assert_ok();
    out
}

/// `skiff run --rm IMAGE sh -c SCRIPT`'s stdout.
pub fn sh(c: &Ctx, image: &str, script: &str) -> String {
    c.run_ok(&["--rm", image, "sh", "-c", script]).stdout
}
