//! Lines, directives, continuations and the simpler instructions.

use super::*;
use crate::build::ast::{Command, Containerfile, Health, Instruction, Kind, Run};

/// Parses `text`, which must be valid.
pub(super) fn ok(text: &str) -> Containerfile {
    parse(text, "Dockerfile").unwrap_or_else(|e| panic!("{e:#}\n---\n{text}"))
}

/// The error `text` gives, which must be invalid.
pub(super) fn err(text: &str) -> String {
    match parse(text, "Dockerfile") {
        Ok(parsed) => panic!("expected an error, got {parsed:#?}"),
        Err(e) => format!("{e:#}"),
    }
}

/// The instructions of a one-stage file.
pub(super) fn instructions(text: &str) -> Vec<Instruction> {
    let parsed = ok(text);
    assert_eq!(parsed.stages.len(), 1, "{parsed:#?}");
    parsed.stages.into_iter().next().unwrap().instructions
}

/// The kind of the one instruction after `FROM scratch`.
pub(super) fn kind(line: &str) -> Kind {
    let mut all = instructions(&format!("FROM scratch\n{line}\n"));
    assert_eq!(all.len(), 1, "{all:#?}");
    all.remove(0).kind
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn smallest_file() {
    let parsed = ok("FROM alpine\n");
    assert_eq!(parsed.file, "Dockerfile");
    assert_eq!(parsed.escape, '\\');
    assert_eq!(parsed.syntax, None);
    assert!(parsed.global_args.is_empty());
    let stage = &parsed.stages[0];
    assert_eq!(stage.index, 0);
    assert_eq!(stage.name, None);
    assert_eq!(stage.base, "alpine");
    assert_eq!(stage.platform, None);
    assert_eq!(stage.line, 1);
    assert_eq!(stage.original, "FROM alpine");
    assert!(stage.instructions.is_empty());
}

#[test]
fn instruction_names_are_case_insensitive_and_kept_as_written() {
    let parsed = ok("from alpine As Build\nrun echo hi\nCoPy a b\n");
    assert_eq!(parsed.stages[0].name.as_deref(), Some("build"));
    let i = &parsed.stages[0].instructions;
    assert_eq!(i[0].original, "run echo hi");
    assert_eq!(i[0].kind, Kind::Run(run_shell("echo hi")));
    assert!(matches!(i[1].kind, Kind::Copy(_)));
}

/// A shell-form `RUN` without flags or heredocs.
pub(super) fn run_shell(cmd: &str) -> Run {
    Run {
        command: Command::Shell(cmd.into()),
        heredocs: vec![],
        mounts: vec![],
        network: None,
        security: None,
    }
}

#[test]
fn stages_and_their_names() {
    let parsed = ok("FROM --platform=$BUILDPLATFORM golang:1.22 AS build\n\
         RUN go build\n\
         FROM build as test\n\
         FROM scratch\n\
         COPY --from=build /out /\n");
    let names: Vec<_> = parsed.stages.iter().map(|s| s.name.clone()).collect();
    assert_eq!(names, [Some("build".into()), Some("test".into()), None]);
    let indexes: Vec<_> = parsed.stages.iter().map(|s| s.index).collect();
    assert_eq!(indexes, [0, 1, 2]);
    assert_eq!(parsed.stages[0].platform.as_deref(), Some("$BUILDPLATFORM"));
    assert_eq!(parsed.stages[0].base, "golang:1.22");
    assert_eq!(parsed.stages[1].base, "build");
    assert_eq!(parsed.stages[2].line, 4);
    assert_eq!(parsed.stages[0].instructions.len(), 1);
    assert!(parsed.stages[1].instructions.is_empty());
    assert_eq!(parsed.stages[2].instructions[0].line, 5);
    let ok_names = ["a", "a-b_c.d", "x1", "stage.2"];
    for name in ok_names {
        assert_eq!(
            ok(&format!("FROM x AS {name}\n")).stages[0].name.as_deref(),
            Some(name)
        );
    }
    assert_eq!(
        ok("FROM x AS UPPER\n").stages[0].name.as_deref(),
        Some("upper")
    );
}

#[test]
fn global_args_come_before_the_first_from() {
    let parsed = ok("ARG VERSION=3.19\nARG REGISTRY OTHER=\"a b\"\n\
         FROM ${REGISTRY:-docker.io}/alpine:$VERSION\nARG VERSION\n");
    let args: Vec<_> = parsed
        .global_args
        .iter()
        .map(|a| (a.name.as_str(), a.default.as_deref()))
        .collect();
    assert_eq!(
        args,
        [
            ("VERSION", Some("3.19")),
            ("REGISTRY", None),
            ("OTHER", Some("\"a b\""))
        ]
    );
    assert_eq!(
        parsed.stages[0].base,
        "${REGISTRY:-docker.io}/alpine:$VERSION"
    );
    let Kind::Arg(stage_args) = &parsed.stages[0].instructions[0].kind else {
        panic!()
    };
    assert_eq!(stage_args[0].name, "VERSION");
    assert_eq!(stage_args[0].default, None);
}

#[test]
fn arg_forms() {
    let Kind::Arg(args) = kind("ARG a b=1 c= d=\"x y\" e='$z'") else {
        panic!()
    };
    let got: Vec<_> = args
        .iter()
        .map(|a| (a.name.as_str(), a.default.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            ("a", None),
            ("b", Some("1")),
            ("c", Some("")),
            ("d", Some("\"x y\"")),
            ("e", Some("'$z'"))
        ]
    );
}

#[test]
fn comments_and_blank_lines_are_skipped() {
    let i = instructions(
        "# a comment\n\n   # an indented one\nFROM alpine\n\t\n# RUN not this\nRUN echo # not a comment\n",
    );
    assert_eq!(i.len(), 1);
    assert_eq!(i[0].line, 7);
    assert_eq!(i[0].kind, Kind::Run(run_shell("echo # not a comment")));
}

#[test]
fn crlf_line_endings_and_byte_order_mark() {
    let parsed = ok("\u{feff}# escape=`\r\nFROM alpine\r\nRUN echo a `\r\n  b\r\n");
    assert_eq!(parsed.escape, '`');
    let i = &parsed.stages[0].instructions;
    assert_eq!(i[0].kind, Kind::Run(run_shell("echo a   b")));
    assert_eq!(i[0].line, 3);
}

#[test]
fn continuations_join_lines_as_written() {
    let i = instructions("FROM alpine\nRUN apk add \\\n    curl \\\n    git\nUSER app\n");
    assert_eq!(i[0].kind, Kind::Run(run_shell("apk add     curl     git")));
    assert_eq!(i[0].original, "RUN apk add     curl     git");
    assert_eq!(i[0].line, 2);
    assert_eq!(i[1].line, 5);
}

#[test]
fn continuation_with_trailing_blanks_still_continues() {
    let i = instructions("FROM a\nRUN a \\  \t\n b\n");
    assert_eq!(i[0].kind, Kind::Run(run_shell("a  b")));
}

#[test]
fn comments_and_blank_lines_inside_continuations_are_skipped() {
    let text = "FROM a\nRUN one \\\n# a comment\n    # indented comment\n\n   \n    two \\\n    three\nUSER x\n";
    let i = instructions(text);
    assert_eq!(i[0].kind, Kind::Run(run_shell("one     two     three")));
    assert_eq!(i[1].line, 9);
}

#[test]
fn escaped_escape_at_the_end_is_no_continuation() {
    let i = instructions("FROM a\nRUN echo \\\\\nUSER x\n");
    assert_eq!(i[0].kind, Kind::Run(run_shell("echo \\\\")));
    assert_eq!(i[1].kind, Kind::User("x".into()));
}

#[test]
fn continuation_at_the_end_of_the_file() {
    let i = instructions("FROM a\nRUN echo hi \\");
    assert_eq!(i[0].kind, Kind::Run(run_shell("echo hi")));
    let i = instructions("FROM a\nRUN echo hi \\\n\n# trailing comment\n");
    assert_eq!(i[0].kind, Kind::Run(run_shell("echo hi")));
}

#[test]
fn a_lone_escape_line_joins_with_the_next() {
    let parsed = ok("\\\nFROM a\n");
    assert_eq!(parsed.stages[0].base, "a");
    assert_eq!(parsed.stages[0].line, 1);
}

#[test]
fn directives_at_the_top() {
    let parsed = ok("# syntax=docker/dockerfile:1.7\n#escape=`\n# check=skip=all\nFROM a\n");
    assert_eq!(parsed.syntax.as_deref(), Some("docker/dockerfile:1.7"));
    assert_eq!(parsed.escape, '`');
    let parsed = ok("#  SYNTAX  =  docker/dockerfile:1  \nFROM a\n");
    assert_eq!(parsed.syntax.as_deref(), Some("docker/dockerfile:1"));
    let parsed = ok("# escape=\\\nFROM a\n");
    assert_eq!(parsed.escape, '\\');
}

#[test]
fn misplaced_directives_are_comments() {
    for text in [
        "FROM a\n# escape=`\nRUN echo \\\n  x\n",
        "# a comment\n# escape=`\nFROM a\nRUN echo \\\n  x\n",
        "\n# escape=`\nFROM a\nRUN echo \\\n  x\n",
        "# unknown=1\n# escape=`\nFROM a\nRUN echo \\\n  x\n",
        "#!/usr/bin/env docker\n# escape=`\nFROM a\nRUN echo \\\n  x\n",
    ] {
        let parsed = ok(text);
        assert_eq!(parsed.escape, '\\', "{text}");
        let i = &parsed.stages[0].instructions;
        assert_eq!(i[0].kind, Kind::Run(run_shell("echo   x")), "{text}");
    }
    assert_eq!(ok("FROM a\n# syntax=x\n").syntax, None);
}

#[test]
fn backtick_escape_keeps_windows_paths() {
    let text = "# escape=`\n\
        FROM mcr.microsoft.com/windows/servercore:ltsc2022\n\
        WORKDIR C:\\app\\\n\
        COPY C:\\src\\ C:\\dst\\\n\
        RUN dir C:\\ `\n    && echo done\n\
        ENV PATH=C:\\tools;C:\\Windows `\n    OTHER=x\n\
        SHELL [\"powershell\", \"-Command\"]\n";
    let i = instructions(text);
    assert_eq!(i[0].kind, Kind::Workdir("C:\\app\\".into()));
    let Kind::Copy(copy) = &i[1].kind else {
        panic!()
    };
    assert_eq!(copy.sources, s(&["C:\\src\\"]));
    assert_eq!(copy.dest, "C:\\dst\\");
    assert_eq!(i[2].kind, Kind::Run(run_shell("dir C:\\     && echo done")));
    assert_eq!(
        i[3].kind,
        Kind::Env(pairs(&[("PATH", "C:\\tools;C:\\Windows"), ("OTHER", "x")]))
    );
    assert_eq!(i[4].kind, Kind::Shell(s(&["powershell", "-Command"])));
    // The words expand with the file's escape character.
    let Kind::Copy(copy) = &i[1].kind else {
        panic!()
    };
    let expanded = crate::build::expand::word(&copy.dest, '`', &|_| None).unwrap();
    assert_eq!(expanded, "C:\\dst\\");
}

#[test]
fn env_forms() {
    assert_eq!(
        kind("ENV a=1 b=\"x y\" c='$d' e=f\\ g h="),
        Kind::Env(pairs(&[
            ("a", "1"),
            ("b", "\"x y\""),
            ("c", "'$d'"),
            ("e", "f\\ g"),
            ("h", "")
        ]))
    );
    // The old form: the rest of the line is the value.
    assert_eq!(
        kind("ENV PATH /usr/local/bin:$PATH  and more"),
        Kind::Env(pairs(&[("PATH", "/usr/local/bin:$PATH  and more")]))
    );
    assert_eq!(
        kind("ENV msg \"hello world\""),
        Kind::Env(pairs(&[("msg", "\"hello world\"")]))
    );
    assert_eq!(
        kind("ENV a=\"multi \\\n  line\""),
        Kind::Env(pairs(&[("a", "\"multi   line\"")]))
    );
    assert_eq!(
        kind("env \"quoted\"=key"),
        Kind::Env(pairs(&[("\"quoted\"", "key")]))
    );
}

#[test]
fn label_forms() {
    assert_eq!(
        kind("LABEL org.opencontainers.image.title=\"My App\" version=1.0"),
        Kind::Label(pairs(&[
            ("org.opencontainers.image.title", "\"My App\""),
            ("version", "1.0")
        ]))
    );
    assert_eq!(
        kind("LABEL description This is my app"),
        Kind::Label(pairs(&[("description", "This is my app")]))
    );
    assert_eq!(
        kind("LABEL \"com.example.vendor\"=\"ACME Incorporated\""),
        Kind::Label(pairs(&[(
            "\"com.example.vendor\"",
            "\"ACME Incorporated\""
        )]))
    );
}

#[test]
fn single_string_instructions_take_the_rest_of_the_line() {
    assert_eq!(
        kind("WORKDIR /app/$NAME"),
        Kind::Workdir("/app/$NAME".into())
    );
    assert_eq!(
        kind("WORKDIR \"/my dir\""),
        Kind::Workdir("\"/my dir\"".into())
    );
    assert_eq!(kind("USER app:staff"), Kind::User("app:staff".into()));
    assert_eq!(kind("USER a b"), Kind::User("a b".into()));
    assert_eq!(
        kind("STOPSIGNAL SIGQUIT"),
        Kind::StopSignal("SIGQUIT".into())
    );
    assert_eq!(
        kind("MAINTAINER Jane Doe <jane@example.com>"),
        Kind::Maintainer("Jane Doe <jane@example.com>".into())
    );
}

#[test]
fn expose_words() {
    assert_eq!(
        kind("EXPOSE 80 443/tcp  53/udp $PORT"),
        Kind::Expose(s(&["80", "443/tcp", "53/udp", "$PORT"]))
    );
}

#[test]
fn volume_json_or_words() {
    assert_eq!(kind("VOLUME /data"), Kind::Volume(s(&["/data"])));
    assert_eq!(kind("VOLUME /a /b"), Kind::Volume(s(&["/a", "/b"])));
    assert_eq!(
        kind("VOLUME [\"/a\", \" /b c \"]"),
        Kind::Volume(s(&["/a", "/b c"]))
    );
    assert_eq!(kind("VOLUME [/a]"), Kind::Volume(s(&["[/a]"])));
}

#[test]
fn cmd_and_entrypoint_forms() {
    assert_eq!(
        kind("CMD [\"nginx\", \"-g\", \"daemon off;\"]"),
        Kind::Cmd(Command::Exec(s(&["nginx", "-g", "daemon off;"])))
    );
    assert_eq!(
        kind("CMD nginx -g 'daemon off;'"),
        Kind::Cmd(Command::Shell("nginx -g 'daemon off;'".into()))
    );
    assert_eq!(kind("CMD []"), Kind::Cmd(Command::Exec(vec![])));
    assert_eq!(kind("CMD"), Kind::Cmd(Command::Shell(String::new())));
    assert_eq!(
        kind("ENTRYPOINT [\"/entry.sh\"]"),
        Kind::Entrypoint(Command::Exec(s(&["/entry.sh"])))
    );
    assert_eq!(
        kind("ENTRYPOINT exec top -b"),
        Kind::Entrypoint(Command::Shell("exec top -b".into()))
    );
    // JSON escapes are decoded in exec form.
    assert_eq!(
        kind(r#"CMD ["echo", "a\"b", "\u00e9", "c:\\x"]"#),
        Kind::Cmd(Command::Exec(s(&["echo", "a\"b", "é", "c:\\x"])))
    );
}

#[test]
fn invalid_json_falls_back_to_shell_form() {
    for text in [
        "[\"a\", \"b\"",
        "[\"a\"] && echo x",
        "[ -f /x ] && echo yes",
        "[\"c:\\windows\"]",
        "['single']",
    ] {
        assert_eq!(
            kind(&format!("CMD {text}")),
            Kind::Cmd(Command::Shell(text.into())),
            "{text}"
        );
    }
}

#[test]
fn shell_takes_json() {
    assert_eq!(
        kind("SHELL [\"/bin/bash\", \"-eo\", \"pipefail\", \"-c\"]"),
        Kind::Shell(s(&["/bin/bash", "-eo", "pipefail", "-c"]))
    );
}

#[test]
fn healthcheck_forms() {
    assert_eq!(kind("HEALTHCHECK NONE"), Kind::Healthcheck(Health::None));
    assert_eq!(kind("healthcheck none"), Kind::Healthcheck(Health::None));
    assert_eq!(
        kind("HEALTHCHECK --interval=30s --timeout=3s --start-period=1m30s --start-interval=5s --retries=3 CMD curl -f http://localhost/ || exit 1"),
        Kind::Healthcheck(Health::Check {
            command: Command::Shell("curl -f http://localhost/ || exit 1".into()),
            interval: Some("30s".into()),
            timeout: Some("3s".into()),
            start_period: Some("1m30s".into()),
            start_interval: Some("5s".into()),
            retries: Some("3".into()),
        })
    );
    assert_eq!(
        kind("HEALTHCHECK cmd [\"/bin/check\", \"--deep\"]"),
        Kind::Healthcheck(Health::Check {
            command: Command::Exec(s(&["/bin/check", "--deep"])),
            interval: None,
            timeout: None,
            start_period: None,
            start_interval: None,
            retries: None,
        })
    );
    // Zero means the default; 0 retries is allowed.
    assert!(matches!(
        kind("HEALTHCHECK --interval=0 --timeout=0s --retries=0 CMD true"),
        Kind::Healthcheck(Health::Check { .. })
    ));
}

#[test]
fn onbuild_keeps_the_trigger() {
    assert_eq!(
        kind("ONBUILD RUN echo \"child build\""),
        Kind::Onbuild("RUN echo \"child build\"".into())
    );
    assert_eq!(
        kind("onbuild   COPY --chown=app . /src"),
        Kind::Onbuild("COPY --chown=app . /src".into())
    );
    assert_eq!(
        kind("ONBUILD ADD [\"a\", \"/b\"]"),
        Kind::Onbuild("ADD [\"a\", \"/b\"]".into())
    );
    // Only the forbidden triggers are refused now; the rest is checked
    // when a build uses the image, as Docker does.
    assert_eq!(kind("ONBUILD RUNN x"), Kind::Onbuild("RUNN x".into()));
}

#[test]
fn a_trigger_parses_back_into_its_instruction() {
    let i = parse_trigger("RUN --mount=type=cache,target=/c make", "base").unwrap();
    let Kind::Run(run) = i.kind else { panic!() };
    assert_eq!(run.command, Command::Shell("make".into()));
    assert_eq!(run.mounts[0].target.as_deref(), Some("/c"));
    let i = parse_trigger("COPY . /src", "base").unwrap();
    assert!(matches!(i.kind, Kind::Copy(_)));
    for (trigger, msg) in [
        ("FROM x", "base:1: FROM isn't allowed as an ONBUILD trigger"),
        (
            "ONBUILD RUN x",
            "base:1: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
        ),
        (
            "RUNN x",
            "base:1: unknown instruction: RUNN (did you mean RUN?)",
        ),
        (
            "RUN a\nRUN b",
            "base: onbuild trigger should be a single expression",
        ),
        ("", "base: onbuild trigger should be a single expression"),
    ] {
        let e = parse_trigger(trigger, "base").unwrap_err();
        assert_eq!(format!("{e:#}"), msg, "{trigger}");
    }
}

#[test]
fn errors_carry_the_invalid_argument_kind() {
    let e = parse("RUNN x", "Containerfile").unwrap_err();
    assert_eq!(
        crate::error::kind_of(&e),
        Some(crate::error::ErrorKind::InvalidArgument)
    );
    assert_eq!(
        e.to_string(),
        "Containerfile:1: unknown instruction: RUNN (did you mean RUN?)"
    );
}
