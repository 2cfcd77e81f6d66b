//! `RUN` with its flags and mounts, `COPY` and `ADD` with theirs.

use super::tests::{err, kind};
use crate::build::ast::{Command, Copy, Kind, MountType, Run, RunMount};

fn run(line: &str) -> Run {
    match kind(line) {
        Kind::Run(run) => run,
        other => panic!("{other:?}"),
    }
}

fn mounts(flags: &str) -> Vec<RunMount> {
    run(&format!("RUN {flags} true")).mounts
}

fn mount(spec: &str) -> RunMount {
    let mut all = mounts(&format!("--mount={spec}"));
    assert_eq!(all.len(), 1);
    all.remove(0)
}

fn mount_err(spec: &str) -> String {
    err(&format!("FROM a\nRUN --mount={spec} true\n"))
}

fn copy(line: &str) -> Copy {
    match kind(line) {
        Kind::Copy(copy) | Kind::Add(copy) => copy,
        other => panic!("{other:?}"),
    }
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn some(v: &str) -> Option<String> {
    Some(v.to_string())
}

#[test]
fn run_forms() {
    let r = run("RUN apt-get update && apt-get install -y curl");
    assert_eq!(
        r.command,
        Command::Shell("apt-get update && apt-get install -y curl".into())
    );
    let r = run("RUN [\"/bin/sh\", \"-c\", \"echo $HOME\"]");
    assert_eq!(
        r.command,
        Command::Exec(s(&["/bin/sh", "-c", "echo $HOME"]))
    );
    assert!(r.mounts.is_empty() && r.network.is_none() && r.security.is_none());
}

#[test]
fn run_flags() {
    let r = run("RUN --network=none --security=insecure make");
    assert_eq!(r.network, some("none"));
    assert_eq!(r.security, some("insecure"));
    assert_eq!(r.command, Command::Shell("make".into()));
    assert_eq!(run("RUN --network=host x").network, some("host"));
    assert_eq!(run("RUN --network=default x").network, some("default"));
    assert_eq!(run("RUN --security=sandbox x").security, some("sandbox"));
    // Quotes in a flag are removed; `--` ends the flags.
    let r = run("RUN --mount=\"type=cache,target=/a b\" -- --not-a-flag");
    assert_eq!(r.mounts[0].target, some("/a b"));
    assert_eq!(r.command, Command::Shell("--not-a-flag".into()));
    // A single dash is not a flag.
    assert_eq!(run("RUN -x").command, Command::Shell("-x".into()));
}

#[test]
fn cache_mount_with_every_field() {
    let m = mount("type=cache,target=/root/.cache,id=pip,sharing=locked,from=builder,source=/c,mode=0755,uid=1000,gid=1000,ro");
    assert_eq!(
        m,
        RunMount {
            kind: MountType::Cache,
            target: some("/root/.cache"),
            source: some("/c"),
            from: some("builder"),
            id: some("pip"),
            read_only: Some(true),
            sharing: some("locked"),
            mode: some("0755"),
            uid: some("1000"),
            gid: some("1000"),
            required: false,
            env: None,
            size: None,
        }
    );
}

#[test]
fn bind_is_the_default_type() {
    let m = mount("target=/src");
    assert_eq!(m.kind, MountType::Bind);
    assert_eq!(m.target, some("/src"));
    assert_eq!(m.read_only, None);
    let m = mount("type=bind,from=build,src=/out,dst=/in,rw");
    assert_eq!(m.source, some("/out"));
    assert_eq!(m.target, some("/in"));
    assert_eq!(m.read_only, Some(false));
}

#[test]
fn mount_field_aliases() {
    assert_eq!(mount("destination=/d").target, some("/d"));
    assert_eq!(mount("dst=/d").target, some("/d"));
    assert_eq!(mount("src=s,target=/t").source, some("s"));
    assert_eq!(mount("source=s,target=/t").source, some("s"));
    assert_eq!(mount("target=/t,readonly").read_only, Some(true));
    assert_eq!(mount("target=/t,readwrite").read_only, Some(false));
    assert_eq!(mount("target=/t,ro=false").read_only, Some(false));
    assert_eq!(mount("target=/t,rw=true").read_only, Some(false));
    assert_eq!(mount("target=/t,readwrite=0").read_only, Some(true));
    assert_eq!(mount("target=/t,readonly=True").read_only, Some(true));
    // Keys and the type are case-insensitive.
    let m = mount("TYPE=Cache,Target=/c");
    assert_eq!((m.kind, m.target), (MountType::Cache, some("/c")));
}

#[test]
fn secret_ssh_and_tmpfs_mounts() {
    let m = mount("type=secret,id=npmrc,target=/root/.npmrc,required,mode=0400");
    assert_eq!(m.kind, MountType::Secret);
    assert_eq!(m.id, some("npmrc"));
    assert!(m.required);
    assert_eq!(m.mode, some("0400"));
    let m = mount("type=secret,id=aws,env=AWS_ACCESS_KEY_ID,required=false");
    assert_eq!(m.env, some("AWS_ACCESS_KEY_ID"));
    assert!(!m.required);
    let m = mount("type=ssh");
    assert_eq!(m.kind, MountType::Ssh);
    let m = mount("type=ssh,id=github,required=true,target=/run/ssh.sock,uid=1");
    assert!(m.required);
    assert_eq!(m.uid, some("1"));
    let m = mount("type=tmpfs,target=/tmp,size=64m");
    assert_eq!(m.kind, MountType::Tmpfs);
    assert_eq!(m.size, some("64m"));
    for size in ["1024", "1.5GiB", "100kb", "2G", "10MB", "3ki"] {
        assert_eq!(
            mount(&format!("type=tmpfs,target=/t,size={size}")).size,
            some(size)
        );
    }
}

#[test]
fn several_mounts_keep_their_order() {
    let all = mounts("--mount=type=cache,target=/a --mount=type=bind,target=/b");
    let targets: Vec<_> = all.iter().map(|m| m.target.clone().unwrap()).collect();
    assert_eq!(targets, ["/a", "/b"]);
}

#[test]
fn mount_values_stay_unexpanded() {
    let m = mount("type=cache,target=$HOME/.cache,id=${ID},uid=$UID,mode=$MODE");
    assert_eq!(m.target, some("$HOME/.cache"));
    assert_eq!(m.id, some("${ID}"));
    assert_eq!(m.uid, some("$UID"));
    assert_eq!(m.mode, some("$MODE"));
}

#[test]
fn mount_csv_quoting() {
    let m = mount("'type=bind,\"target=/a,b\"'");
    assert_eq!(m.target, some("/a,b"));
    assert_eq!(
        mount_err("'target=\"/a\"b'"),
        "Dockerfile:2: failed to parse csv mounts: parse error on line 1, column 8: bare \" in non-quoted field"
    );
}

#[test]
fn mount_errors() {
    for (spec, msg) in [
        ("type=nfs,target=/x", "unsupported mount type \"nfs\""),
        (
            "type=cahce,target=/x",
            "unsupported mount type \"cahce\" (did you mean cache?)",
        ),
        (
            "target=/x,bogus=bar",
            "unexpected key 'bogus' in 'bogus=bar'",
        ),
        (
            "target=/x,traget=/y",
            "unexpected key 'traget' in 'traget=/y' (did you mean target?)",
        ),
        (
            "target=/x,shared",
            "invalid field 'shared' must be a key=value pair",
        ),
        (
            "target=/x,required",
            "unexpected key 'required' for mount type 'bind'",
        ),
        (
            "required,type=secret,id=x",
            "unexpected key 'required' for mount type 'bind'",
        ),
        (
            "type=cache,target=/x,size=1m",
            "unexpected key 'size' for mount type 'cache'",
        ),
        (
            "type=tmpfs,target=/x,size=lots",
            "invalid value for size: lots",
        ),
        ("target=/x,ro=maybe", "invalid value for ro: maybe"),
        ("target=/x,rw=2", "invalid value for rw: 2"),
        (
            "type=secret,id=x,required=sure",
            "invalid value for required: sure",
        ),
        (
            "type=cache,target=/x,sharing=everyone",
            "unsupported sharing value \"everyone\"",
        ),
        (
            "type=cache,target=/x,mode=0999",
            "invalid value 0999 for mode",
        ),
        (
            "type=cache,target=/x,uid=root",
            "invalid value root for uid",
        ),
        ("type=cache,target=/x,gid=-1", "invalid value -1 for gid"),
        (
            "target=/x,mode=0700",
            "mode not allowed for \"bind\" type mounts",
        ),
        (
            "type=tmpfs,target=/x,uid=0",
            "uid not allowed for \"tmpfs\" type mounts",
        ),
        (
            "target=/x,gid=0",
            "gid not allowed for \"bind\" type mounts",
        ),
        (
            "target=/x,sharing=shared",
            "invalid cache sharing set for bind mount",
        ),
        (
            "type=secret,id=x,from=img",
            "secret mount should not have a from",
        ),
        (
            "type=secret",
            "invalid secret mount. one of source, target required",
        ),
        (
            "type=secret,id=a,source=b",
            "both source and id can't be set",
        ),
        (
            "from=$STAGE,target=/x",
            "'from' doesn't support variable expansion, define alias stage instead",
        ),
    ] {
        assert_eq!(mount_err(spec), format!("Dockerfile:2: {msg}"), "{spec}");
    }
}

#[test]
fn run_flag_errors() {
    for (line, msg) in [
        ("RUN --mount true", "missing a value on flag: --mount"),
        ("RUN --network=bridge x", "invalid network mode \"bridge\""),
        (
            "RUN --security=privileged x",
            "security \"privileged\" is not valid",
        ),
        (
            "RUN --network=none --network=host x",
            "duplicate flag specified: --network",
        ),
        (
            "RUN --mout=type=cache x",
            "unknown flag: --mout (did you mean mount?)",
        ),
        ("RUN --device=/dev/fuse x", "unknown flag: --device"),
        (
            "RUN [\"a\", 1]",
            "when using JSON array syntax, arrays must be comprised of strings only",
        ),
    ] {
        assert_eq!(
            err(&format!("FROM a\n{line}\n")),
            format!("Dockerfile:2: {msg}"),
            "{line}"
        );
    }
}

#[test]
fn copy_forms() {
    let c = copy("COPY a b/ /dest/");
    assert_eq!(c.sources, s(&["a", "b/"]));
    assert_eq!(c.dest, "/dest/");
    assert!(c.heredocs.is_empty());
    let c = copy("COPY [\"my file\", \"other file\", \"/my dest/\"]");
    assert_eq!(c.sources, s(&["my file", "other file"]));
    assert_eq!(c.dest, "/my dest/");
    let c = copy("COPY *.go $SRC/");
    assert_eq!(c.sources, s(&["*.go"]));
    assert_eq!(c.dest, "$SRC/");
}

#[test]
fn copy_flags() {
    let c = copy("COPY --from=build --chown=app:app --chmod=0755 --link --parents --exclude=*.md --exclude=tests/ ./src ./lib /app/");
    assert_eq!(c.from, some("build"));
    assert_eq!(c.chown, some("app:app"));
    assert_eq!(c.chmod, some("0755"));
    assert!(c.link && c.parents);
    assert_eq!(c.exclude, s(&["*.md", "tests/"]));
    assert_eq!(c.sources, s(&["./src", "./lib"]));
    assert_eq!(c.checksum, None);
    assert!(!c.keep_git_dir);
    let c = copy("COPY --link=false --from=0 a b");
    assert!(!c.link);
    assert_eq!(c.from, some("0"));
    let c = copy("COPY --link=TRUE a b");
    assert!(c.link);
}

#[test]
fn add_flags() {
    let Kind::Add(c) = kind(
        "ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d --chown=1000 --keep-git-dir https://example.com/a.tar.gz /x/",
    ) else {
        panic!()
    };
    assert_eq!(
        c.checksum,
        some("sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d")
    );
    assert!(c.keep_git_dir);
    assert_eq!(c.chown, some("1000"));
    assert_eq!(c.sources, s(&["https://example.com/a.tar.gz"]));
    let Kind::Add(c) = kind("ADD --link --exclude=x git@github.com:a/b.git#main /src") else {
        panic!()
    };
    assert!(c.link);
    assert_eq!(c.exclude, s(&["x"]));
}

#[test]
fn copy_and_add_errors() {
    for (line, msg) in [
        ("COPY onlyone", "COPY requires at least two arguments, but only one was provided. Destination could not be determined"),
        ("COPY", "COPY requires at least two arguments, but only one was provided. Destination could not be determined"),
        ("ADD [\"x\"]", "ADD requires at least two arguments, but only one was provided. Destination could not be determined"),
        ("COPY --form=build a b", "unknown flag: --form (did you mean from?)"),
        ("ADD --from=build a b", "unknown flag: --from"),
        ("COPY --checksum=sha256:x a b", "unknown flag: --checksum"),
        ("COPY --chown a b", "missing a value on flag: --chown"),
        ("COPY --link= a b", "missing a value on flag: --link"),
        ("COPY --link=yes a b", "expecting boolean value for flag --link, not: yes"),
        ("COPY --from=a --from=b x y", "duplicate flag specified: --from"),
        ("COPY a <<EOF\nx\nEOF", "COPY cannot accept a heredoc as a destination"),
    ] {
        assert_eq!(err(&format!("FROM a\n{line}\n")), format!("Dockerfile:2: {msg}"), "{line}");
    }
}
