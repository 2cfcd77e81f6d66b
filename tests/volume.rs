//! `skiff volume create|ls|inspect|rm|prune`, as Docker's: output,
//! filters, formats, exit codes, and the data directory on disk. How
//! containers use volumes is in `run_mounts.rs`.

mod common;

use common::{Out, Skiff};
use std::path::PathBuf;

/// A table row's cells: columns are separated by two or more spaces.
fn cells(line: &str) -> Vec<String> {
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(String::from)
        .collect()
}

fn names(out: &Out) -> Vec<String> {
    out.lines().iter().map(|l| l.trim().to_string()).collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn inspect(env: &Skiff, names: &[&str]) -> Vec<serde_json::Value> {
    let mut a = vec!["volume", "inspect"];
    a.extend_from_slice(names);
    let out = env.ok(&a);
    let v: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("volume inspect printed no JSON ({e}):\n{out}"));
    v.as_array()
        .unwrap_or_else(|| panic!("volume inspect prints an array:\n{out}"))
        .clone()
}

fn mountpoint(env: &Skiff, name: &str) -> PathBuf {
    let out = env.ok(&["volume", "inspect", "--format", "{{.Mountpoint}}", name]);
    PathBuf::from(out.stdout.trim())
}

#[test]
fn create_prints_the_name_and_is_idempotent() {
    let env = Skiff::new("volume_create");
    let out = env.ok(&["volume", "create", "data1"]);
    assert_eq!(out.stdout, "data1\n", "{out}");
    let mp = mountpoint(&env, "data1");
    assert!(
        mp.is_dir(),
        "the mountpoint is a directory: {}",
        mp.display()
    );
    assert!(
        mp.starts_with(&env.root),
        "volumes live in the store: {}",
        mp.display()
    );
    std::fs::write(mp.join("keep.txt"), b"kept\n").unwrap();

    // Docker: creating an existing volume is no error and changes nothing.
    let out = env.ok(&["volume", "create", "data1"]);
    assert_eq!(out.stdout, "data1\n", "{out}");
    assert_eq!(std::fs::read(mp.join("keep.txt")).unwrap(), b"kept\n");
    let out = env.ok(&["volume", "create", "--name", "data1"]);
    assert_eq!(out.stdout, "data1\n", "--name is the same: {out}");
    let out = env.ok(&["volume", "ls", "-q"]);
    assert_eq!(names(&out), ["data1"], "{out}");
    env.assert_store_clean();
}

#[test]
fn create_in_parallel_makes_one_volume() {
    let env = Skiff::new("volume_create_parallel");
    let children: Vec<_> = (0..8)
        .map(|_| env.spawn(&["volume", "create", "raced"]))
        .collect();
    for c in children {
        let out = common::skiff::wait_out(c, "skiff volume create raced");
        out.assert_ok();
        assert_eq!(out.stdout, "raced\n", "{out}");
    }
    let out = env.ok(&["volume", "ls", "-q"]);
    assert_eq!(names(&out), ["raced"], "{out}");
    assert_eq!(inspect(&env, &["raced"]).len(), 1);
}

#[test]
fn create_without_a_name_makes_an_anonymous_volume() {
    let env = Skiff::new("volume_create_anonymous");
    let out = env.ok(&["volume", "create"]);
    let anon = out.stdout.trim().to_string();
    assert!(
        anon.len() == 64 && anon.bytes().all(|b| b.is_ascii_hexdigit()),
        "a random 64-hex name: {out}"
    );
    env.ok(&["volume", "create", "named1"]);
    assert_eq!(
        sorted(names(&env.ok(&["volume", "ls", "-q"]))),
        sorted(vec![anon.clone(), "named1".into()])
    );
    // Docker labels a volume created without a name as anonymous, and a
    // plain `volume prune` (no -a) removes exactly those.
    let out = env.ok(&["volume", "prune", "-f"]);
    out.assert_stdout_has(&anon);
    out.assert_stdout_lacks("named1");
    assert_eq!(names(&env.ok(&["volume", "ls", "-q"])), ["named1"]);
    env.assert_store_clean();
}

#[test]
fn create_refuses_bad_names_drivers_and_conflicts() {
    let env = Skiff::new("volume_create_bad");
    for bad in ["bad/name", "a", "_under", "sp ace", "../up"] {
        let out = env.fails(&["volume", "create", bad]);
        out.assert_error_line();
        out.assert_stderr_has("invalid characters");
    }
    let out = env.fails(&["volume", "create", "-d", "nfs", "v1"]);
    out.assert_error_line();
    out.assert_stderr_has("nfs");
    let out = env.fails(&["volume", "create", "--name", "one", "two"]);
    out.assert_error_line();
    let out = env.ok(&["volume", "ls", "-q"]);
    assert!(out.stdout.trim().is_empty(), "nothing created:\n{out}");
    env.assert_store_clean();
}

/// Three volumes: `vol-alpha` (env=prod), `vol-beta` (env=dev, tier),
/// `other-gamma` (no labels).
fn three(name: &str) -> Skiff {
    let env = Skiff::new(name);
    env.ok(&["volume", "create", "--label", "env=prod", "vol-alpha"]);
    env.ok(&[
        "volume", "create", "--label", "env=dev", "--label", "tier", "vol-beta",
    ]);
    env.ok(&["volume", "create", "other-gamma"]);
    env
}

#[test]
fn ls_shows_dockers_columns_sorted_by_name() {
    let env = Skiff::new("volume_ls_empty");
    let out = env.ok(&["volume", "ls"]);
    assert_eq!(out.lines().len(), 1, "only the header:\n{out}");
    assert_eq!(cells(out.lines()[0]), ["DRIVER", "VOLUME NAME"], "{out}");

    let env = three("volume_ls");
    let out = env.ok(&["volume", "ls"]);
    assert_eq!(cells(out.lines()[0]), ["DRIVER", "VOLUME NAME"], "{out}");
    let rows: Vec<Vec<String>> = out.lines()[1..].iter().map(|l| cells(l)).collect();
    assert_eq!(
        rows,
        [
            ["local", "other-gamma"],
            ["local", "vol-alpha"],
            ["local", "vol-beta"]
        ],
        "{out}"
    );
    let list = env.ok(&["volume", "list"]);
    assert_eq!(list.stdout, out.stdout, "list is ls");
}

#[test]
fn ls_quiet_and_filters() {
    let env = three("volume_ls_filters");
    let q = |args: &[&str]| {
        let mut a = vec!["volume", "ls", "-q"];
        a.extend_from_slice(args);
        sorted(names(&env.ok(&a)))
    };
    assert_eq!(q(&[]), ["other-gamma", "vol-alpha", "vol-beta"]);
    assert_eq!(q(&["--filter", "name=vol-"]), ["vol-alpha", "vol-beta"]);
    assert_eq!(q(&["-f", "name=gamma"]), ["other-gamma"]);
    assert_eq!(q(&["--filter", "label=env"]), ["vol-alpha", "vol-beta"]);
    assert_eq!(q(&["--filter", "label=env=prod"]), ["vol-alpha"]);
    assert_eq!(q(&["--filter", "label=tier"]), ["vol-beta"]);
    assert_eq!(
        q(&["--filter", "driver=local"]),
        ["other-gamma", "vol-alpha", "vol-beta"]
    );
    // Nothing uses them: all dangle.
    assert_eq!(
        q(&["--filter", "dangling=true"]),
        ["other-gamma", "vol-alpha", "vol-beta"]
    );
    assert!(q(&["--filter", "dangling=false"]).is_empty());
    // Different keys must all match.
    assert_eq!(
        q(&["--filter", "name=vol-", "--filter", "label=env=dev"]),
        ["vol-beta"]
    );
    assert!(q(&["--filter", "name=nothing-like-this"]).is_empty());

    // The table keeps its header when the filter leaves nothing.
    let out = env.ok(&["volume", "ls", "--filter", "label=nope"]);
    assert_eq!(out.lines().len(), 1, "{out}");
}

#[test]
fn ls_formats() {
    let env = three("volume_ls_format");
    let out = env.ok(&["volume", "ls", "--format", "{{.Name}}:{{.Driver}}"]);
    assert_eq!(
        sorted(names(&out)),
        ["other-gamma:local", "vol-alpha:local", "vol-beta:local"],
        "{out}"
    );

    let out = env.ok(&[
        "volume",
        "ls",
        "--filter",
        "name=vol-alpha",
        "--format",
        "table {{.Name}}\t{{.Labels}}\t{{.Scope}}",
    ]);
    assert_eq!(
        cells(out.lines()[0]),
        ["VOLUME NAME", "LABELS", "SCOPE"],
        "{out}"
    );
    assert_eq!(
        cells(out.lines()[1]),
        ["vol-alpha", "env=prod", "local"],
        "{out}"
    );

    let out = env.ok(&["volume", "ls", "--format", "json"]);
    let rows: Vec<serde_json::Value> = out
        .lines()
        .iter()
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("each line is a JSON object ({e}):\n{out}"))
        })
        .collect();
    assert_eq!(rows.len(), 3, "{out}");
    let beta = rows
        .iter()
        .find(|r| r["Name"] == "vol-beta")
        .unwrap_or_else(|| out.fail("no vol-beta row"));
    assert_eq!(beta["Driver"], "local");
    assert_eq!(beta["Scope"], "local");
    let labels = beta["Labels"].as_str().unwrap_or_default();
    assert!(
        labels.contains("env=dev") && labels.contains("tier"),
        "{out}"
    );
    assert!(
        beta["Mountpoint"]
            .as_str()
            .is_some_and(|m| m.starts_with(&env.root.display().to_string())),
        "{out}"
    );
}

#[test]
fn inspect_shows_dockers_fields() {
    let env = Skiff::new("volume_inspect");
    env.ok(&[
        "volume",
        "create",
        "--label",
        "team=core",
        "-o",
        "type=none",
        "insp1",
    ]);
    env.ok(&["volume", "create", "insp2"]);
    let vs = inspect(&env, &["insp1"]);
    assert_eq!(vs.len(), 1);
    let v = &vs[0];
    for field in [
        "Name",
        "Driver",
        "Mountpoint",
        "CreatedAt",
        "Labels",
        "Options",
        "Scope",
    ] {
        assert!(v.get(field).is_some(), "Docker's field {field}: {v:#}");
    }
    assert_eq!(v["Name"], "insp1");
    assert_eq!(v["Driver"], "local");
    assert_eq!(v["Scope"], "local");
    assert_eq!(v["Labels"]["team"], "core");
    assert_eq!(v["Options"]["type"], "none");
    let created = v["CreatedAt"].as_str().unwrap_or_default();
    assert!(
        chrono::DateTime::parse_from_rfc3339(created).is_ok(),
        "CreatedAt is RFC 3339: {created:?}"
    );
    let mp = PathBuf::from(v["Mountpoint"].as_str().unwrap());
    assert!(mp.is_absolute() && mp.is_dir(), "{}", mp.display());
    assert!(
        mp.ends_with("insp1/_data"),
        "Docker's layout: {}",
        mp.display()
    );

    // An unlabelled volume: Labels and Options are empty (Docker prints
    // null or {} depending on its version).
    let w = &inspect(&env, &["insp2"])[0];
    for f in ["Labels", "Options"] {
        assert!(
            w[f].is_null() || w[f].as_object().is_some_and(|o| o.is_empty()),
            "{f} empty: {w:#}"
        );
    }

    let both = inspect(&env, &["insp1", "insp2"]);
    let ns: Vec<&str> = both.iter().map(|v| v["Name"].as_str().unwrap()).collect();
    assert_eq!(ns, ["insp1", "insp2"], "in the order asked");

    let out = env.ok(&[
        "volume",
        "inspect",
        "--format",
        "{{.Name}} {{.Driver}} {{.Scope}}",
        "insp1",
        "insp2",
    ]);
    assert_eq!(
        out.stdout, "insp1 local local\ninsp2 local local\n",
        "{out}"
    );
    let out = env.ok(&["volume", "inspect", "-f", "{{.Labels.team}}", "insp1"]);
    assert_eq!(out.stdout.trim(), "core", "{out}");
}

#[test]
fn inspect_of_a_missing_volume_fails() {
    let env = Skiff::new("volume_inspect_missing");
    let out = env.fails(&["volume", "inspect", "nosuch"]);
    out.assert_error_line();
    out.assert_stderr_has("no such volume");
    out.assert_stderr_has("nosuch");

    // Docker prints the ones it found, then fails for the rest.
    env.ok(&["volume", "create", "present"]);
    let out = env.fails(&["volume", "inspect", "present", "nosuch"]);
    out.assert_stdout_has("\"present\"");
    out.assert_stderr_has("nosuch");
}

#[test]
fn rm_removes_the_volume_and_its_data() {
    let env = Skiff::new("volume_rm");
    env.ok(&["volume", "create", "gone1"]);
    env.ok(&["volume", "create", "gone2"]);
    env.ok(&["volume", "create", "stays"]);
    let mp = mountpoint(&env, "gone1");
    std::fs::create_dir_all(mp.join("sub/dir")).unwrap();
    std::fs::write(mp.join("sub/dir/f"), b"data\n").unwrap();
    common::rootless::give(&mp);

    let out = env.ok(&["volume", "rm", "gone1"]);
    assert_eq!(out.stdout, "gone1\n", "{out}");
    assert!(
        !mp.exists() && !mp.parent().unwrap().exists(),
        "data removed: {}",
        mp.display()
    );
    let out = env.ok(&["volume", "remove", "gone2"]);
    assert_eq!(out.stdout, "gone2\n", "remove is rm: {out}");
    assert_eq!(names(&env.ok(&["volume", "ls", "-q"])), ["stays"]);
    env.assert_store_clean();
}

#[test]
fn rm_of_a_missing_volume_fails_unless_forced() {
    let env = Skiff::new("volume_rm_missing");
    let out = env.fails(&["volume", "rm", "nosuch"]);
    out.assert_error_line();
    out.assert_stderr_has("no such volume");
    assert!(out.stdout.is_empty(), "{out}");

    let out = env.ok(&["volume", "rm", "-f", "nosuch"]);
    assert!(out.stdout.trim().is_empty(), "{out}");

    // The ones that exist go; the missing one makes the exit code.
    env.ok(&["volume", "create", "r1"]);
    env.ok(&["volume", "create", "r2"]);
    let out = env.fails(&["volume", "rm", "r1", "nosuch", "r2"]);
    out.assert_stdout_has("r1");
    out.assert_stdout_has("r2");
    out.assert_stderr_has("nosuch");
    assert!(names(&env.ok(&["volume", "ls", "-q"])).is_empty());
    env.assert_store_clean();
}

#[test]
fn prune_all_removes_every_unused_volume() {
    let env = three("volume_prune_all");
    let mp = mountpoint(&env, "vol-alpha");
    std::fs::write(mp.join("f"), vec![7u8; 1500]).unwrap();
    let out = env.ok(&["volume", "prune", "-a", "-f"]);
    out.assert_stdout_has("Deleted Volumes:");
    for n in ["vol-alpha", "vol-beta", "other-gamma"] {
        out.assert_stdout_has(n);
    }
    assert_eq!(
        out.last_line(),
        "Total reclaimed space: 1.5kB",
        "Docker's summary, in decimal units:\n{out}"
    );
    assert!(names(&env.ok(&["volume", "ls", "-q"])).is_empty());
    assert!(!mp.exists());

    // Nothing left to prune: only the summary.
    let out = env.ok(&["volume", "prune", "-a", "-f"]);
    out.assert_stdout_lacks("Deleted Volumes:");
    assert_eq!(out.last_line(), "Total reclaimed space: 0B", "{out}");
    env.assert_store_clean();
}

#[test]
fn prune_filters_by_label() {
    let env = three("volume_prune_label");
    let out = env.ok(&["volume", "prune", "-a", "-f", "--filter", "label=env"]);
    out.assert_stdout_has("vol-alpha");
    out.assert_stdout_has("vol-beta");
    out.assert_stdout_lacks("other-gamma");
    assert_eq!(names(&env.ok(&["volume", "ls", "-q"])), ["other-gamma"]);
}

#[test]
fn prune_filters_keep_what_a_negated_label_names_and_refuse_unknown_ones() {
    let env = three("volume_prune_not_label");
    // An unknown filter is refused before anything goes.
    let out = env.fails(&["volume", "prune", "-a", "-f", "--filter", "until=1h"]);
    out.assert_stderr_has("volumes take label=, label!= and all=");
    assert_eq!(names(&env.ok(&["volume", "ls", "-q"])).len(), 3);
    let out = env.ok(&["volume", "prune", "-a", "-f", "--filter", "label!=env"]);
    out.assert_stdout_has("other-gamma");
    out.assert_stdout_lacks("vol-alpha");
    let mut left = names(&env.ok(&["volume", "ls", "-q"]));
    left.sort();
    assert_eq!(left, ["vol-alpha", "vol-beta"]);
}

#[test]
fn prune_asks_first_without_force() {
    let env = three("volume_prune_prompt");
    let out = env.run_stdin(&["volume", "prune", "-a"], Some(b"n\n"));
    out.assert_ok();
    out.assert_any_has("WARNING!");
    out.assert_any_has("[y/N]");
    out.assert_stdout_lacks("Deleted Volumes:");
    assert_eq!(names(&env.ok(&["volume", "ls", "-q"])).len(), 3, "{out}");

    let out = env.run_stdin(&["volume", "prune", "-a"], Some(b"y\n"));
    out.assert_ok();
    out.assert_stdout_has("Deleted Volumes:");
    assert!(names(&env.ok(&["volume", "ls", "-q"])).is_empty(), "{out}");
}

#[test]
fn prune_without_all_keeps_named_volumes() {
    let env = three("volume_prune_named");
    let out = env.ok(&["volume", "prune", "-f"]);
    out.assert_stdout_lacks("Deleted Volumes:");
    assert_eq!(out.last_line(), "Total reclaimed space: 0B", "{out}");
    assert_eq!(names(&env.ok(&["volume", "ls", "-q"])).len(), 3);
}
