//! Error messages: Docker's wording, the file and the line.

use super::tests::{err, kind};
use super::*;
use crate::build::ast::Kind;

/// The error for `line` placed after `FROM a` (so on line 2).
fn err2(line: &str) -> String {
    let e = err(&format!("FROM a\n{line}\n"));
    e.strip_prefix("Dockerfile:2: ")
        .unwrap_or_else(|| panic!("not on line 2: {e}"))
        .to_string()
}

#[test]
fn files_without_instructions_or_stages() {
    assert_eq!(err(""), "Dockerfile: file with no instructions");
    assert_eq!(
        err("# only a comment\n\n   \n"),
        "Dockerfile: file with no instructions"
    );
    assert_eq!(
        err("ARG A=1\nARG B\n"),
        "Dockerfile: dockerfile contains no stages to build"
    );
}

#[test]
fn instructions_before_the_first_from() {
    assert_eq!(
        err("# c\nRUN echo hi\nFROM a\n"),
        "Dockerfile:2: no build stage in current context"
    );
    assert_eq!(
        err("ARG X\nENV A=b\nFROM a\n"),
        "Dockerfile:2: no build stage in current context"
    );
}

#[test]
fn unknown_instructions_with_hints() {
    assert_eq!(
        err2("RUNN x"),
        "unknown instruction: RUNN (did you mean RUN?)"
    );
    assert_eq!(
        err2("runn x"),
        "unknown instruction: runn (did you mean run?)"
    );
    assert_eq!(
        err2("Cpy a b"),
        "unknown instruction: Cpy (did you mean copy?)"
    );
    assert_eq!(
        err2("ENTRYPIONT x"),
        "unknown instruction: ENTRYPIONT (did you mean ENTRYPOINT?)"
    );
    assert_eq!(err2("FOOBAR x"), "unknown instruction: FOOBAR");
    assert_eq!(
        err("FROM a\nRUN a\nINVALID\n"),
        "Dockerfile:3: unknown instruction: INVALID"
    );
}

#[test]
fn the_file_name_is_the_one_given() {
    let e = parse("FROM a\nCOPY x\n", "build/Containerfile.dev").unwrap_err();
    assert!(e
        .to_string()
        .starts_with("build/Containerfile.dev:2: COPY requires"));
    let e = parse("", "-").unwrap_err();
    assert_eq!(e.to_string(), "-: file with no instructions");
}

#[test]
fn line_errors_win_over_instruction_errors_as_in_docker() {
    // BuildKit reads every line before checking instructions.
    assert_eq!(
        err("FROM a\nCOPY x\nRUN [\"a\", 1]\n"),
        "Dockerfile:3: when using JSON array syntax, arrays must be comprised of strings only"
    );
    assert_eq!(
        err("RUN x\nFROM a\nENV broken\n"),
        "Dockerfile:3: ENV must have two arguments"
    );
    assert_eq!(
        err("FROM a\nUSER\nRUN <<EOF\n"),
        "Dockerfile:3: unterminated heredoc"
    );
}

#[test]
fn errors_name_the_first_line_of_a_continued_instruction() {
    assert_eq!(
        err("FROM a\nRUN \\\n  --mount=type=nope,target=/x \\\n  true\n"),
        "Dockerfile:2: unsupported mount type \"nope\""
    );
    assert_eq!(
        err("FROM a\nRUN <<EOF\nx\nEOF\nCOPY a\n"),
        "Dockerfile:5: COPY requires at least two arguments, but only one was provided. Destination could not be determined"
    );
}

#[test]
fn directive_errors() {
    assert_eq!(
        err("# escape=x\nFROM a\n"),
        "Dockerfile:1: invalid escape token 'x' does not match ` or \\"
    );
    assert_eq!(
        err("# syntax=a\n# syntax=b\nFROM a\n"),
        "Dockerfile:2: only one syntax parser directive can be used"
    );
    assert_eq!(
        err("# escape=`\n# ESCAPE=`\nFROM a\n"),
        "Dockerfile:2: only one escape parser directive can be used"
    );
}

#[test]
fn from_errors() {
    for (line, msg) in [
        ("FROM", "FROM requires either one or three arguments"),
        ("FROM a b", "FROM requires either one or three arguments"),
        ("FROM a TO b", "FROM requires either one or three arguments"),
        ("FROM a AS b c", "FROM requires either one or three arguments"),
        (
            "FROM a AS 1st",
            "invalid name for build stage: \"1st\", name can't start with a number or contain symbols",
        ),
        (
            "FROM a AS My$Stage",
            "invalid name for build stage: \"My$Stage\", name can't start with a number or contain symbols",
        ),
        ("FROM --platform a", "missing a value on flag: --platform"),
        (
            "FROM --plattform=linux/arm64 a",
            "unknown flag: --plattform (did you mean platform?)",
        ),
    ] {
        assert_eq!(err(&format!("{line}\n")), format!("Dockerfile:1: {msg}"), "{line}");
    }
}

#[test]
fn env_label_and_arg_errors() {
    assert_eq!(err2("ENV"), "ENV requires at least one argument");
    assert_eq!(err2("ENV a"), "ENV must have two arguments");
    assert_eq!(
        err2("ENV a=1 b"),
        "Syntax error - can't find = in \"b\". Must be of the form: name=value"
    );
    assert_eq!(err2("ENV =x"), "ENV names can not be blank");
    assert_eq!(err2("ENV --x=1 a=b"), "unknown flag: --x");
    assert_eq!(err2("LABEL"), "LABEL requires at least one argument");
    assert_eq!(err2("LABEL a"), "LABEL must have two arguments");
    assert_eq!(err2("LABEL =x"), "LABEL names can not be blank");
    assert_eq!(err2("ARG"), "ARG requires at least one argument");
    assert_eq!(err2("ARG =x"), "ARG names can not be blank");
    assert_eq!(err2("ARG --required X"), "unknown flag: --required");
}

#[test]
fn argument_count_errors() {
    for name in ["WORKDIR", "USER", "STOPSIGNAL", "MAINTAINER"] {
        assert_eq!(err2(name), format!("{name} requires exactly one argument"));
    }
    assert_eq!(err2("EXPOSE"), "EXPOSE requires at least one argument");
    assert_eq!(err2("VOLUME"), "VOLUME requires at least one argument");
    assert_eq!(err2("VOLUME []"), "VOLUME requires at least one argument");
    assert_eq!(
        err2("VOLUME [\"/a\", \" \"]"),
        "VOLUME specified can not be an empty string"
    );
    assert_eq!(err2("USER --uid=1 app"), "unknown flag: --uid");
    assert_eq!(err2("CMD --help"), "unknown flag: --help");
    assert_eq!(err2("EXPOSE --udp 53"), "unknown flag: --udp");
}

#[test]
fn shell_errors() {
    assert_eq!(err2("SHELL"), "SHELL requires at least one argument");
    assert_eq!(err2("SHELL []"), "SHELL requires at least one argument");
    assert_eq!(
        err2("SHELL /bin/bash -c"),
        "SHELL requires the arguments to be in JSON form"
    );
    assert_eq!(
        err2(r#"SHELL ["c:\windows\system32\cmd.exe", "/S"]"#),
        r#"SHELL requires the arguments to be in JSON form. It looks like '["c:\windows\system32\cmd.exe", "/s"]' includes a file path without an escaped back-slash. JSON requires back-slashes to be escaped such as ["c:\\path\\to\\file.exe", "/parameter"]"#
    );
    assert_eq!(
        err2("SHELL [\"sh\", true]"),
        "when using JSON array syntax, arrays must be comprised of strings only"
    );
}

#[test]
fn healthcheck_errors() {
    for (line, msg) in [
        ("HEALTHCHECK", "HEALTHCHECK requires at least one argument"),
        (
            "HEALTHCHECK NONE now",
            "HEALTHCHECK NONE takes no arguments",
        ),
        ("HEALTHCHECK --bogus NONE", "unknown flag: --bogus"),
        (
            "HEALTHCHECK CHECK curl x",
            "Unknown type \"CHECK\" in HEALTHCHECK (try CMD)",
        ),
        (
            "HEALTHCHECK curl -f x",
            "Unknown type \"CURL\" in HEALTHCHECK (try CMD)",
        ),
        ("HEALTHCHECK CMD", "Missing command after HEALTHCHECK CMD"),
        (
            "HEALTHCHECK CMD []",
            "Missing command after HEALTHCHECK CMD",
        ),
        (
            "HEALTHCHECK --interval=abc CMD x",
            "time: invalid duration \"abc\"",
        ),
        (
            "HEALTHCHECK --interval=10 CMD x",
            "time: missing unit in duration \"10\"",
        ),
        (
            "HEALTHCHECK --interval=1d CMD x",
            "time: unknown unit \"d\" in duration \"1d\"",
        ),
        (
            "HEALTHCHECK --interval=500us CMD x",
            "Interval \"interval\" cannot be less than 1ms",
        ),
        (
            "HEALTHCHECK --timeout=-1s CMD x",
            "Interval \"timeout\" cannot be less than 1ms",
        ),
        (
            "HEALTHCHECK --start-period=.s CMD x",
            "time: invalid duration \".s\"",
        ),
        (
            "HEALTHCHECK --retries=-1 CMD x",
            "--retries cannot be negative (-1)",
        ),
        (
            "HEALTHCHECK --retries=x CMD x",
            "strconv.ParseInt: parsing \"x\": invalid syntax",
        ),
        (
            "HEALTHCHECK --retries=9999999999 CMD x",
            "strconv.ParseInt: parsing \"9999999999\": value out of range",
        ),
        (
            "HEALTHCHECK --intervall=5s CMD x",
            "unknown flag: --intervall (did you mean interval?)",
        ),
        (
            "HEALTHCHECK --retries CMD x",
            "missing a value on flag: --retries",
        ),
        (
            "HEALTHCHECK CMD [\"a\", 2]",
            "when using JSON array syntax, arrays must be comprised of strings only",
        ),
    ] {
        assert_eq!(err2(line), msg, "{line}");
    }
}

#[test]
fn go_durations() {
    use super::health::go_duration;
    let ms = 1_000_000;
    for (text, nanos) in [
        ("0", 0),
        ("1ms", ms),
        ("1.5s", 1_500 * ms),
        ("1m30s", 90_000 * ms),
        ("2h", 7_200_000 * ms),
        ("+5s", 5_000 * ms),
        ("-5s", -5_000 * ms),
        ("300µs", 300_000),
        ("10ns", 10),
        (".5m", 30_000 * ms),
        ("1h2m3s4ms5us6ns", 3_723_004_005_006),
    ] {
        assert_eq!(go_duration(text), Ok(nanos), "{text}");
    }
    for text in ["", "-", "s", "1", "1.s2", "1x", "9999999999h"] {
        assert!(go_duration(text).is_err(), "{text}");
    }
}

#[test]
fn onbuild_errors() {
    assert_eq!(err2("ONBUILD"), "ONBUILD requires at least one argument");
    assert_eq!(
        err2("ONBUILD ONBUILD RUN x"),
        "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"
    );
    assert_eq!(
        err2("ONBUILD FROM x"),
        "FROM isn't allowed as an ONBUILD trigger"
    );
    assert_eq!(
        err2("onbuild maintainer me"),
        "MAINTAINER isn't allowed as an ONBUILD trigger"
    );
    // The trigger's line is read now, as Docker reads it.
    assert_eq!(err2("ONBUILD ENV a"), "ENV must have two arguments");
    assert_eq!(
        err2("ONBUILD RUN [\"a\", 1]"),
        "when using JSON array syntax, arrays must be comprised of strings only"
    );
    assert_eq!(err2("ONBUILD --x RUN a"), "unknown flag: --x");
}

#[test]
fn stage_names_may_repeat_as_docker_only_warns() {
    let Kind::User(user) = kind("USER x") else {
        panic!()
    };
    assert_eq!(user, "x");
    let parsed = super::tests::ok("FROM a AS x\nFROM b AS x\n");
    assert_eq!(parsed.stages.len(), 2);
}

/// Arbitrary text made of the characters that matter to the parser
/// never panics it (nor the expander): it parses or says why not.
#[test]
fn odd_input_never_panics() {
    const ALPHABET: [&str; 30] = [
        "RUN ",
        "COPY ",
        "FROM a\n",
        "ONBUILD ",
        "ENV ",
        "ARG ",
        "HEALTHCHECK ",
        "CMD ",
        "<<EOF",
        "<<-",
        "EOF",
        "\n",
        "\r\n",
        "\\",
        "`",
        "\"",
        "'",
        "$",
        "${",
        "}",
        ":-",
        "#",
        "# escape=`\n",
        "--mount=",
        "type=secret,",
        "[",
        "]",
        " ",
        "\t",
        "é",
    ];
    let mut seed: u64 = 0x5eed;
    let mut next = move || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize
    };
    for _ in 0..1500 {
        let len = next() % 24;
        let text: String = (0..len)
            .map(|_| ALPHABET[next() % ALPHABET.len()])
            .collect();
        let _ = parse(&text, "Dockerfile");
        let _ = parse(&format!("FROM a\n{text}"), "Dockerfile");
        let _ = parse_trigger(&text, "base");
        let unset = |_: &str| None;
        let _ = crate::build::expand::word(&text, '\\', &unset);
        let _ = crate::build::expand::words(&text, '`', &unset);
        let _ = crate::build::expand::heredoc_body(&text, &|_| Some("v".into()));
    }
}
