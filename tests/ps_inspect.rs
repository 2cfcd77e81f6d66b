//! `skiff ps` and `skiff inspect` of containers: Docker's columns and
//! wording, `-a/-q/-n/-l/-s/--no-trunc`, filters, `--format`, and
//! Docker's container JSON, against running, exited and created
//! containers.

mod common;

use common::run::{is_short_id, Ctx};
use serde_json::Value;

/// The NAMES column (the last) of each row after the header.
fn names(out: &str) -> Vec<String> {
    out.lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().last().map(String::from))
        .collect()
}

fn ps(c: &Ctx, args: &[&str]) -> String {
    let mut a = vec!["ps"];
    a.extend_from_slice(args);
    c.env.ok(&a).stdout
}

/// `ps --format {{.Names}}` with `args`, one name a line.
fn ps_names(c: &Ctx, args: &[&str]) -> Vec<String> {
    let mut a = vec!["--format", "{{.Names}}"];
    a.extend_from_slice(args);
    ps(c, &a).lines().map(String::from).collect()
}

fn inspect_json(c: &Ctx, args: &[&str]) -> Vec<Value> {
    let out = c.env.ok(args);
    let v: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("inspect printed no JSON ({e}):\n{out}"));
    v.as_array()
        .unwrap_or_else(|| panic!("not an array:\n{out}"))
        .clone()
}

#[test]
fn ps_columns_flags_filters_and_formats() {
    let c = Ctx::new("ps_basics");
    let bb = c.bb();
    let up = c.run_ok(&[
        "-d", "--name", "ps-up", "--label", "app=web", &bb, "sleep", "30",
    ]);
    let up_id = up.stdout.trim().to_string();
    assert_eq!(up_id.len(), 64, "{up}");
    c.run_ok(&["--name", "ps-done", &bb, "sh", "-c", "echo hello > /f"]);
    c.run(&["--name", "ps-fail", &bb, "sh", "-c", "exit 3"])
        .assert_code(3);
    c.env.ok(&["create", "--name", "ps-new", &bb, "true"]);

    // Running ones only, Docker's header and wording.
    let out = ps(&c, &[]);
    let header = out.lines().next().unwrap();
    let cols: Vec<&str> = header
        .split("   ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(
        cols,
        [
            "CONTAINER ID",
            "IMAGE",
            "COMMAND",
            "CREATED",
            "STATUS",
            "PORTS",
            "NAMES"
        ],
        "{out}"
    );
    assert_eq!(names(&out), ["ps-up"], "{out}");
    let row = out.lines().nth(1).unwrap();
    assert!(row.starts_with(&up_id[..12]), "{out}");
    for want in [bb.as_str(), "\"sleep 30\"", "ago", "Up "] {
        assert!(row.contains(want), "{want:?} in:\n{out}");
    }

    // All states, newest first.
    let out = ps(&c, &["-a"]);
    assert_eq!(
        names(&out),
        ["ps-new", "ps-fail", "ps-done", "ps-up"],
        "{out}"
    );
    assert!(out.contains("Exited (3) "), "{out}");
    assert!(out.contains("Exited (0) "), "{out}");
    assert!(out.contains("Created "), "{out}");
    assert!(
        out.contains("\"sh -c echo hello > …\""),
        "cut at 20:\n{out}"
    );
    let out = ps(&c, &["-a", "--no-trunc"]);
    assert!(out.contains("\"sh -c echo hello > /f\""), "{out}");
    assert!(out.contains(&up_id), "{out}");

    // -q, -n, -l.
    assert_eq!(ps(&c, &["-q"]).trim(), &up_id[..12]);
    assert_eq!(ps(&c, &["-q", "--no-trunc"]).trim(), up_id);
    let ids = ps(&c, &["-aq"]);
    assert_eq!(ids.lines().count(), 4);
    assert!(ids.lines().all(is_short_id), "{ids}");
    assert_eq!(ps_names(&c, &["-n", "2"]), ["ps-new", "ps-fail"]);
    assert_eq!(ps_names(&c, &["-l"]), ["ps-new"]);

    // Filters: the same key ORs, different keys AND.
    assert_eq!(
        ps_names(&c, &["-f", "status=exited"]),
        ["ps-fail", "ps-done"]
    );
    assert_eq!(
        ps_names(&c, &["-f", "status=exited", "-f", "status=created"]),
        ["ps-new", "ps-fail", "ps-done"]
    );
    assert_eq!(
        ps_names(&c, &["-a", "-f", "name=ps-", "-f", "status=running"]),
        ["ps-up"]
    );
    assert_eq!(ps_names(&c, &["-a", "-f", "name=^ps-d"]), ["ps-done"]);
    assert_eq!(ps_names(&c, &["-a", "-f", "label=app=web"]), ["ps-up"]);
    assert_eq!(ps_names(&c, &["-a", "-f", "label=app"]), ["ps-up"]);
    assert!(ps_names(&c, &["-a", "-f", "label=app=db"]).is_empty());
    assert_eq!(ps_names(&c, &["-a", "-f", "exited=3"]), ["ps-fail"]);
    assert_eq!(
        ps_names(&c, &["-a", "-f", &format!("id={}", &up_id[..8])]),
        ["ps-up"]
    );
    assert_eq!(
        ps_names(&c, &["-a", "-f", &format!("ancestor={bb}")]).len(),
        4
    );
    assert!(ps_names(&c, &["-a", "-f", "ancestor=nosuchimage"]).is_empty());
    assert_eq!(
        ps_names(&c, &["-f", "before=ps-fail"]),
        ["ps-done", "ps-up"]
    );
    assert_eq!(
        ps_names(&c, &["-f", "since=ps-done"]),
        ["ps-new", "ps-fail"]
    );
    for bad in ["status=sleeping", "color=red", "exited=x", "status"] {
        let out = c.env.fails(&["ps", "-f", bad]);
        out.assert_error_line();
        out.assert_stderr_any(&["invalid filter", "bad format"]);
    }

    // Templates, json, custom tables, sizes.
    let out = ps(
        &c,
        &["-a", "--format", "{{.Names}} {{.State}} {{.Label \"app\"}}"],
    );
    assert_eq!(
        out,
        "ps-new created \nps-fail exited \nps-done exited \nps-up running web\n"
    );
    let out = ps(&c, &["--format", "json"]);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["Names"], "ps-up");
    assert_eq!(v["State"], "running");
    assert_eq!(v["Labels"], "app=web");
    assert_eq!(v["Command"], "\"sleep 30\"");
    let out = ps(
        &c,
        &[
            "-a",
            "--format",
            "table {{.ID}}\\t{{.Names}}",
            "-f",
            "name=ps-up",
        ],
    );
    assert_eq!(
        out,
        format!("CONTAINER ID   NAMES\n{}   ps-up\n", &up_id[..12])
    );
    let out = ps(&c, &["-a", "-s", "-f", "name=ps-done"]);
    assert!(out.lines().next().unwrap().ends_with("SIZE"), "{out}");
    assert!(out.contains("6B (virtual "), "the 6 bytes of /f:\n{out}");

    c.env
        .ok(&["rm", "-f", "ps-up", "ps-done", "ps-fail", "ps-new"]);
    assert_eq!(ps(&c, &["-aq"]), "");
}

#[test]
fn inspect_of_containers() {
    let c = Ctx::new("inspect_containers");
    let bb = c.bb();
    let up = c.run_ok(&[
        "-d",
        "--name",
        "in-up",
        "--restart",
        "on-failure:3",
        "-e",
        "FOO=bar",
        "-v",
        "in-vol:/data",
        &bb,
        "sleep",
        "30",
    ]);
    let up_id = up.stdout.trim().to_string();
    c.run(&["--name", "in-done", &bb, "sh", "-c", "exit 7"])
        .assert_code(7);

    let v = inspect_json(&c, &["inspect", "in-up"]);
    assert_eq!(v.len(), 1);
    let u = &v[0];
    assert_eq!(u["Id"], up_id.as_str());
    assert_eq!(u["Name"], "/in-up");
    assert_eq!(u["Path"], "sleep");
    assert_eq!(u["Args"], serde_json::json!(["30"]));
    assert_eq!(u["State"]["Status"], "running");
    assert_eq!(u["State"]["Running"], true);
    assert_eq!(u["State"]["FinishedAt"], "0001-01-01T00:00:00Z");
    let pid = u["State"]["Pid"].as_u64().unwrap();
    assert!(
        pid > 0 && std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "{u:#}"
    );
    assert!(u["State"]["StartedAt"].as_str().unwrap().ends_with('Z'));
    assert!(u["Image"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(u["Driver"], "overlay");
    assert_eq!(u["Config"]["Cmd"], serde_json::json!(["sleep", "30"]));
    assert_eq!(u["Config"]["Image"], bb.as_str());
    let env = u["Config"]["Env"].as_array().unwrap();
    assert!(env.iter().any(|e| e == "FOO=bar"), "{u:#}");
    assert_eq!(
        u["HostConfig"]["RestartPolicy"],
        serde_json::json!({"Name": "on-failure", "MaximumRetryCount": 3})
    );
    assert_eq!(u["HostConfig"]["LogConfig"]["Type"], "json-file");
    let mounts = u["Mounts"].as_array().unwrap();
    assert_eq!(mounts.len(), 1, "{u:#}");
    assert_eq!(mounts[0]["Type"], "volume");
    assert_eq!(mounts[0]["Name"], "in-vol");
    assert_eq!(mounts[0]["Destination"], "/data");
    assert_eq!(mounts[0]["RW"], true);

    // Exited, through `container inspect` and templates.
    let out = c.env.ok(&[
        "container",
        "inspect",
        "-f",
        "{{.State.Status}} {{.State.ExitCode}} {{.State.Running}}",
        "in-done",
    ]);
    assert_eq!(out.stdout, "exited 7 false\n");
    let out = c
        .env
        .ok(&["inspect", "--format", "{{json .Config.Cmd}}", "in-done"]);
    assert_eq!(out.stdout.trim(), r#"["sh","-c","exit 7"]"#);
    assert_eq!(
        inspect_json(&c, &["inspect", "in-up", &up_id[..10], "in-done"]).len(),
        3
    );

    // Images still, and --type.
    let img = inspect_json(&c, &["inspect", &bb]);
    assert!(img[0]["RepoTags"].is_array(), "{img:?}");
    c.env
        .fails(&["inspect", "--type", "container", &bb])
        .assert_stderr_has("No such container");
    c.env
        .fails(&["image", "inspect", "in-done"])
        .assert_stderr_has("No such image: in-done");
    c.env
        .fails(&["inspect", "--type", "volume", "in-done"])
        .assert_error_line();

    // The found ones printed, then the error.
    let out = c.env.fails(&["inspect", "in-done", "nosuch"]);
    out.assert_error_line();
    out.assert_stderr_has("No such object: nosuch");
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v[0]["Name"], "/in-done");
    c.env
        .fails(&["container", "inspect", "nosuch"])
        .assert_stderr_has("No such container: nosuch");

    c.env.ok(&["rm", "-f", "in-up", "in-done"]);
    c.env.ok(&["volume", "rm", "in-vol"]);
}
