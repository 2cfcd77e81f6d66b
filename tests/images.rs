//! `skiff images`, `image inspect`, `tag`, `rmi`, `image prune` and
//! `system df`, with Docker's columns, flags, filters and formats.

mod common;

use common::expect::pull;
use common::{fixtures, Out, Registry, Setup, Skiff};

/// A store holding busybox:latest and hello:latest from the registry.
fn two_images(name: &str) -> (Registry, Skiff) {
    let f = fixtures();
    let reg = Registry::start(Setup::Plain);
    let env = Skiff::new(name);
    let b = reg.image("busybox:latest");
    pull(&env, &[&b], &b, &f.busybox.manifest.digest);
    let h = reg.image("hello:latest");
    pull(&env, &[&h], &h, &f.hello.manifest.digest);
    (reg, env)
}

/// An image with neither name nor digest (`<none>:<none>`), made by
/// importing a tar without a reference; returns its ID.
fn dangling(env: &Skiff) -> String {
    let tar = env.path("dangling.tar");
    std::fs::write(&tar, &fixtures().hello.layers[0].tar).unwrap();
    let out = env.ok(&["import", tar.to_str().unwrap()]);
    let id = out.last_line().trim().to_string();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{out}");
    id
}

/// A table row's cells: columns are separated by two or more spaces
/// (cells such as "IMAGE ID" or "2 years ago" hold single ones).
fn cells(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut spaces = 0;
    for ch in line.trim().chars() {
        if ch == ' ' {
            spaces += 1;
            continue;
        }
        if spaces >= 2 && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        } else if spaces == 1 {
            cur.push(' ');
        }
        spaces = 0;
        cur.push(ch);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn rows(out: &Out) -> Vec<Vec<String>> {
    out.lines().iter().skip(1).map(|l| cells(l)).collect()
}

fn row<'a>(out: &Out, rows: &'a [Vec<String>], repo: &str, tag: &str) -> &'a Vec<String> {
    rows.iter()
        .find(|r| r[0] == repo && r[1] == tag)
        .unwrap_or_else(|| out.fail(&format!("no row for {repo} {tag}")))
}

#[test]
fn images_lists_dockers_columns() {
    let f = fixtures();
    let (reg, env) = two_images("images_columns");
    let out = env.ok(&["images"]);
    assert_eq!(
        cells(out.lines()[0]),
        ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"],
        "{out}"
    );
    let rs = rows(&out);
    assert_eq!(rs.len(), 2, "{out}");
    let b = row(&out, &rs, &reg.image("busybox"), "latest");
    assert_eq!(b[2], f.busybox.short_id());
    assert!(b[3].ends_with("ago"), "CREATED is relative: {out}");
    assert!(b[4].ends_with('B'), "SIZE is human: {out}");
    let h = row(&out, &rs, &reg.image("hello"), "latest");
    assert_eq!(h[2], f.hello.short_id());

    let ls = env.ok(&["image", "ls"]);
    assert_eq!(ls.stdout, out.stdout, "image ls is images");
    env.assert_store_clean();
}

#[test]
fn images_quiet_no_trunc_and_digests() {
    let f = fixtures();
    let (reg, env) = two_images("images_quiet");
    let out = env.ok(&["images", "-q"]);
    let mut ids: Vec<&str> = out.lines();
    ids.sort();
    let mut want = vec![f.busybox.short_id(), f.hello.short_id()];
    want.sort();
    assert_eq!(ids, want, "{out}");

    let out = env.ok(&["images", "--no-trunc"]);
    let rs = rows(&out);
    assert_eq!(
        row(&out, &rs, &reg.image("busybox"), "latest")[2],
        f.busybox.id()
    );

    let out = env.ok(&["images", "--digests"]);
    assert_eq!(
        cells(out.lines()[0]),
        ["REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE"],
        "{out}"
    );
    let rs = rows(&out);
    let b = row(&out, &rs, &reg.image("busybox"), "latest");
    assert_eq!(b[2], f.busybox.manifest.digest);
    assert_eq!(b[3], f.busybox.short_id());

    // -a lists the same here (no intermediate build images).
    let all = env.ok(&["images", "-a", "-q"]);
    assert_eq!(all.lines().len(), 2, "{all}");
}

#[test]
fn images_filters() {
    let f = fixtures();
    let (reg, env) = two_images("images_filters");
    let none = dangling(&env);
    let out = env.ok(&["images"]);
    let rs = rows(&out);
    let d = row(&out, &rs, "<none>", "<none>");
    assert_eq!(d[2], &common::hex_of(&none)[..12]);

    let q = |filter: &str| -> Vec<String> {
        let out = env.ok(&["images", "-q", "--no-trunc", "--filter", filter]);
        let mut v: Vec<String> = out.lines().iter().map(|s| s.to_string()).collect();
        v.sort();
        v.dedup();
        v
    };
    assert_eq!(q("dangling=true"), [none]);
    let mut tagged = vec![f.busybox.id().to_string(), f.hello.id().to_string()];
    tagged.sort();
    assert_eq!(q("dangling=false"), tagged);
    assert_eq!(
        q(&format!("reference={}", reg.image("busy*"))),
        [f.busybox.id().to_string()]
    );
    assert_eq!(
        q(&format!("reference={}:latest", reg.image("hello"))),
        [f.hello.id().to_string()]
    );
    assert_eq!(q("label=org.skiff.test=hello"), [f.hello.id().to_string()]);
    assert_eq!(q("label=org.skiff.test"), tagged);
    assert!(q("label=no.such.label").is_empty());

    let out = env.run(&["images", "--filter", "bogus=1"]);
    out.assert_code(125);
    env.assert_store_clean();
}

#[test]
fn images_format_templates_and_json() {
    let f = fixtures();
    let (reg, env) = two_images("images_format");
    let out = env.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    let mut lines = out.lines();
    lines.sort();
    assert_eq!(
        lines,
        [reg.image("busybox:latest"), reg.image("hello:latest")],
        "{out}"
    );

    let out = env.ok(&["images", "--format", "{{.ID}} {{.Repository}}"]);
    assert!(
        out.lines()
            .contains(&format!("{} {}", f.busybox.short_id(), reg.image("busybox")).as_str()),
        "{out}"
    );

    let out = env.ok(&["images", "--format", "json"]);
    let objs: Vec<serde_json::Value> = out
        .lines()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| out.fail(&format!("not JSON: {e}"))))
        .collect();
    assert_eq!(objs.len(), 2, "{out}");
    let b = objs
        .iter()
        .find(|o| o["Repository"] == reg.image("busybox").as_str())
        .unwrap_or_else(|| out.fail("no busybox object"));
    assert_eq!(b["Tag"], "latest");
    assert_eq!(b["ID"], f.busybox.short_id());
}

#[test]
fn inspect_shows_dockers_fields() {
    let f = fixtures();
    let (reg, env) = two_images("inspect_fields");
    let name = reg.image("busybox:latest");
    let img = env.inspect(&name);
    assert_eq!(img["Id"], f.busybox.id());
    assert_eq!(img["RepoTags"], serde_json::json!([name]));
    assert_eq!(
        img["RepoDigests"],
        serde_json::json!([format!(
            "{}@{}",
            reg.image("busybox"),
            f.busybox.manifest.digest
        )])
    );
    assert_eq!(img["Created"], common::oci::CREATED);
    assert_eq!(img["Config"]["Cmd"], serde_json::json!(["sh"]));
    let env_list = img["Config"]["Env"].as_array().unwrap();
    assert!(env_list
        .iter()
        .any(|e| e.as_str().unwrap().starts_with("PATH=")));
    assert_eq!(img["Config"]["Labels"]["org.skiff.test"], "busybox");
    assert_eq!(img["RootFS"]["Type"], "layers");
    assert_eq!(
        img["RootFS"]["Layers"],
        serde_json::json!(f.busybox.diff_ids())
    );
    assert_eq!(img["Architecture"], "amd64");
    assert_eq!(img["Os"], "linux");
    let size = img["Size"].as_u64().unwrap_or(0);
    let bin = std::fs::metadata("/bin/busybox").unwrap().len();
    assert!(size >= bin, "Size counts the unpacked layer: {size}");

    // By short ID, full ID, and hex without the algorithm.
    assert_eq!(env.inspect(f.busybox.short_id())["Id"], f.busybox.id());
    assert_eq!(env.inspect(f.busybox.id())["Id"], f.busybox.id());
    assert_eq!(env.inspect(f.busybox.config.hex())["Id"], f.busybox.id());

    let out = env.ok(&["image", "inspect", "--format", "{{.Id}}", &name]);
    assert_eq!(out.stdout.trim(), f.busybox.id());
    let out = env.ok(&["inspect", "--format", "{{.Architecture}}", &name]);
    assert_eq!(out.stdout.trim(), "amd64");

    let out = env.ok(&["image", "inspect", &name, &reg.image("hello:latest")]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v.as_array().map(|a| a.len()), Some(2), "{out}");

    let out = env.fails(&["image", "inspect", "no-such-image:v9"]);
    out.assert_stderr_any(&["no such image", "no such object"]);
}

#[test]
fn tag_adds_a_name_to_the_same_image() {
    let f = fixtures();
    let (reg, env) = two_images("tag_names");
    let src = reg.image("busybox:latest");
    env.ok(&["tag", &src, "mybox:v1"]);
    env.ok(&["tag", f.busybox.short_id(), "other/box"]);
    let img = env.inspect("mybox:v1");
    assert_eq!(img["Id"], f.busybox.id());
    let tags: Vec<&str> = img["RepoTags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    for t in [src.as_str(), "mybox:v1", "other/box:latest"] {
        assert!(tags.contains(&t), "RepoTags {tags:?} lacks {t}");
    }
    let out = env.ok(&["images"]);
    let rs = rows(&out);
    assert_eq!(row(&out, &rs, "mybox", "v1")[2], f.busybox.short_id());
    assert_eq!(
        row(&out, &rs, "other/box", "latest")[2],
        f.busybox.short_id()
    );

    // Moving a tag to another image.
    env.ok(&["tag", &reg.image("hello:latest"), "mybox:v1"]);
    assert_eq!(env.inspect("mybox:v1")["Id"], f.hello.id());

    let out = env.fails(&["tag", "no-such-image:v1", "x:y"]);
    out.assert_stderr_any(&["no such image"]);
    let out = env.fails(&["tag", &src, "Bad/Name"]);
    out.assert_stderr_has("invalid reference format");
    env.assert_store_clean();
}

#[test]
fn rmi_untags_refuses_ambiguous_ids_and_deletes() {
    let f = fixtures();
    let (reg, env) = two_images("rmi");
    let src = reg.image("busybox:latest");
    env.ok(&["tag", &src, "mybox:v1"]);
    env.ok(&["tag", &src, "mybox:v2"]);

    let out = env.ok(&["rmi", "mybox:v2"]);
    out.assert_stdout_has("Untagged: mybox:v2");
    out.assert_stdout_lacks("Deleted:");
    assert_eq!(env.inspect(&src)["Id"], f.busybox.id());

    let out = env.fails(&["rmi", f.busybox.short_id()]);
    out.assert_stderr_any(&["must be forced", "multiple"]);
    assert_eq!(env.inspect(&src)["Id"], f.busybox.id());

    let out = env.ok(&["rmi", "-f", f.busybox.short_id()]);
    out.assert_stdout_has(&format!("Untagged: {src}"));
    out.assert_stdout_has("Untagged: mybox:v1");
    out.assert_stdout_has(&format!("Deleted: {}", f.busybox.id()));
    assert_eq!(env.image_ids(), [f.hello.id().to_string()]);
    assert!(
        !env.has_blob(&f.busybox.layers[0].blob.digest),
        "layer blob freed"
    );
    assert!(
        !env.layer_dir(&f.busybox.chain_ids()[0]).exists(),
        "unpacked layer freed"
    );

    let h = reg.image("hello:latest");
    let out = env.ok(&["image", "rm", &h]);
    out.assert_stdout_has(&format!("Untagged: {h}"));
    out.assert_stdout_has(&format!("Deleted: {}", f.hello.id()));
    assert!(env.image_ids().is_empty());

    let out = env.fails(&["rmi", "no-such-image:v1"]);
    out.assert_stderr_any(&["no such image"]);
    env.assert_store_clean();
}

#[test]
fn prune_removes_dangling_images_and_with_all_every_unused_one() {
    let f = fixtures();
    let (reg, env) = two_images("prune");
    let none = dangling(&env);

    let out = env.ok(&["image", "prune", "-f"]);
    out.assert_stdout_has("Deleted Images:");
    out.assert_stdout_has(&format!("deleted: {none}"));
    out.assert_stdout_has("Total reclaimed space:");
    let mut tagged = vec![f.busybox.id().to_string(), f.hello.id().to_string()];
    tagged.sort();
    assert_eq!(env.image_ids(), tagged);

    let out = env.ok(&["image", "prune", "-f"]);
    out.assert_stdout_has("Total reclaimed space: 0B");

    let out = env.ok(&["image", "prune", "-a", "-f"]);
    out.assert_stdout_has(&format!("untagged: {}", reg.image("busybox:latest")));
    out.assert_stdout_has(&format!("deleted: {}", f.busybox.id()));
    out.assert_stdout_has(&format!("deleted: {}", f.hello.id()));
    assert!(env.image_ids().is_empty());
    env.assert_store_clean();
}

#[test]
fn system_df_reports_images() {
    let (_reg, env) = two_images("system_df");
    let out = env.ok(&["system", "df"]);
    assert_eq!(
        cells(out.lines()[0]),
        ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"],
        "{out}"
    );
    let rs = rows(&out);
    let images = rs
        .iter()
        .find(|r| r[0] == "Images")
        .unwrap_or_else(|| out.fail("no Images row"));
    assert_eq!(images[1], "2", "{out}");
    assert_eq!(images[2], "0", "{out}");
    assert!(images[3].ends_with('B'), "{out}");
    for t in ["Containers", "Local Volumes", "Build Cache"] {
        assert!(rs.iter().any(|r| r[0] == t), "no {t} row:\n{out}");
    }
}
