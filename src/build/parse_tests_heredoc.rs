//! Heredocs: `RUN <<EOF`, `COPY <<EOF /dest`, their forms and limits.

use super::tests::{err, instructions, ok};
use super::*;
use crate::build::ast::{Command, Copy, Heredoc, Instruction, Kind, Run};

fn doc(name: &str, content: &str, expand: bool) -> Heredoc {
    Heredoc {
        name: name.into(),
        content: content.into(),
        expand,
    }
}

fn only_run(text: &str) -> (Instruction, Run) {
    let mut all = instructions(text);
    let first = all.remove(0);
    match first.kind.clone() {
        Kind::Run(run) => (first, run),
        other => panic!("{other:?}"),
    }
}

fn only_copy(text: &str) -> Copy {
    match instructions(text).remove(0).kind {
        Kind::Copy(copy) | Kind::Add(copy) => copy,
        other => panic!("{other:?}"),
    }
}

#[test]
fn run_heredoc_script() {
    let text = "FROM alpine\nRUN <<EOF\nset -e\napk add curl\n# a shell comment\nEOF\nUSER app\n";
    let all = instructions(text);
    let Kind::Run(run) = &all[0].kind else {
        panic!()
    };
    assert_eq!(run.command, Command::Shell("<<EOF".into()));
    assert_eq!(
        run.heredocs,
        [doc(
            "EOF",
            "set -e\napk add curl\n# a shell comment\n",
            true
        )]
    );
    // The line as written, the body left out.
    assert_eq!(all[0].original, "RUN <<EOF");
    assert_eq!(all[0].line, 2);
    assert_eq!(all[1].line, 7);
    assert_eq!(all[1].kind, Kind::User("app".into()));
}

#[test]
fn body_lines_are_taken_verbatim() {
    let body = "RUN not an instruction \\\n  # indented\n\n\tline with tab\nEOFX\n EOF\nEOF \n";
    let (_, run) = only_run(&format!("FROM a\nRUN <<EOF\n{body}EOF\n"));
    assert_eq!(run.heredocs[0].content, body);
}

#[test]
fn empty_body() {
    let (_, run) = only_run("FROM a\nRUN <<EOF\nEOF\n");
    assert_eq!(run.heredocs, [doc("EOF", "", true)]);
}

#[test]
fn dash_strips_leading_tabs() {
    let (_, run) =
        only_run("FROM a\nRUN <<-EOF\n\techo hi\n\t\t echo nested\n  spaces stay\n\tEOF\n");
    assert_eq!(
        run.heredocs,
        [doc("EOF", "echo hi\n echo nested\n  spaces stay\n", true)]
    );
    // Spaces before the delimiter do not end the body, even with `-`.
    let (_, run) = only_run("FROM a\nRUN <<-EOF\n  EOF\nEOF\n");
    assert_eq!(run.heredocs[0].content, "  EOF\n");
}

#[test]
fn quoted_delimiters_turn_expansion_off() {
    for (opener, name) in [
        ("<<\"EOF\"", "EOF"),
        ("<<'EOF'", "EOF"),
        ("<<E\"O\"F", "EOF"),
        ("<<-'END'", "END"),
    ] {
        let (_, run) = only_run(&format!("FROM a\nRUN cat {opener}\n$HOME\n{name}\n"));
        assert_eq!(run.heredocs[0].name, name, "{opener}");
        assert!(!run.heredocs[0].expand, "{opener}");
    }
    let (_, run) = only_run("FROM a\nRUN cat <<EOF\n$HOME\nEOF\n");
    assert!(run.heredocs[0].expand);
}

#[test]
fn several_heredocs_on_one_line() {
    let (i, run) = only_run("FROM a\nRUN <<A cat - <<B > /out\nfirst\nA\nsecond\nB\n");
    assert_eq!(run.command, Command::Shell("<<A cat - <<B > /out".into()));
    assert_eq!(
        run.heredocs,
        [doc("A", "first\n", true), doc("B", "second\n", true)]
    );
    assert_eq!(i.original, "RUN <<A cat - <<B > /out");
}

#[test]
fn heredoc_fed_to_a_program_and_with_flags() {
    let (_, run) = only_run(
        "FROM a\nRUN --mount=type=cache,target=/root/.cache python3 <<EOF\nprint('hi')\nEOF\n",
    );
    assert_eq!(run.command, Command::Shell("python3 <<EOF".into()));
    assert_eq!(run.mounts[0].target.as_deref(), Some("/root/.cache"));
    assert_eq!(run.heredocs, [doc("EOF", "print('hi')\n", true)]);
    let (_, run) = only_run("FROM a\nRUN cat 3<<FD\nx\nFD\n");
    assert_eq!(run.heredocs, [doc("FD", "x\n", true)]);
}

#[test]
fn heredoc_after_a_continuation() {
    let (i, run) = only_run("FROM a\nRUN cat \\\n  <<EOF > /f\nbody\nEOF\n");
    assert_eq!(run.command, Command::Shell("cat   <<EOF > /f".into()));
    assert_eq!(run.heredocs, [doc("EOF", "body\n", true)]);
    assert_eq!(i.line, 2);
}

#[test]
fn crlf_bodies_are_kept_as_written() {
    let (_, run) = only_run("FROM a\r\nRUN <<EOF\r\necho hi\r\nEOF\r\nUSER x\r\n");
    assert_eq!(run.heredocs, [doc("EOF", "echo hi\r\n", true)]);
}

#[test]
fn things_that_are_not_heredocs() {
    for line in [
        "RUN echo \"<<EOF\"",
        "RUN echo '<<EOF'",
        "RUN cat <<<\"a here-string\"",
        "RUN echo a<<EOF",
        "RUN echo \\<<EOF",
        "ENV a=<<EOF",
        "LABEL x=<<EOF",
    ] {
        let all = instructions(&format!("FROM a\n{line}\nUSER x\n"));
        assert_eq!(all.len(), 2, "{line}");
        if let Kind::Run(run) = &all[0].kind {
            assert!(run.heredocs.is_empty(), "{line}");
        }
    }
    // Exec form reads no heredoc: the next line is an instruction.
    assert_eq!(
        err("FROM a\nRUN [\"sh\", \"-c\", \"cat <<EOF\"]\nEOF\n"),
        "Dockerfile:3: unknown instruction: EOF (did you mean ENV?)"
    );
}

#[test]
fn copy_heredoc_files() {
    let c = only_copy("FROM a\nCOPY <<EOF /etc/motd\nWelcome, $USER\nEOF\n");
    assert!(c.sources.is_empty());
    assert_eq!(c.dest, "/etc/motd");
    assert_eq!(c.heredocs, [doc("EOF", "Welcome, $USER\n", true)]);
    let c = only_copy("FROM a\nCOPY --chmod=0755 <<-'run.sh' <<config.ini /app/\n\t#!/bin/sh\n\texec app\n\trun.sh\n[main]\nx=1\nconfig.ini\n");
    assert_eq!(
        c.heredocs,
        [
            doc("run.sh", "#!/bin/sh\nexec app\n", false),
            doc("config.ini", "[main]\nx=1\n", true)
        ]
    );
    assert_eq!(c.chmod.as_deref(), Some("0755"));
    assert_eq!(c.dest, "/app/");
}

#[test]
fn copy_mixes_paths_and_heredocs() {
    let c = only_copy("FROM a\nCOPY ./a <<EOF ./b /dir/\ninline\nEOF\n");
    assert_eq!(c.sources, ["./a", "./b"]);
    assert_eq!(c.heredocs, [doc("EOF", "inline\n", true)]);
    let Kind::Add(c) = instructions("FROM a\nADD <<EOF /x\ny\nEOF\n")
        .remove(0)
        .kind
    else {
        panic!()
    };
    assert_eq!(c.heredocs, [doc("EOF", "y\n", true)]);
}

#[test]
fn unterminated_heredoc_names_the_instruction_line() {
    assert_eq!(
        err("FROM a\nRUN <<EOF\necho hi\n"),
        "Dockerfile:2: unterminated heredoc"
    );
    assert_eq!(
        err("FROM a\nRUN <<A <<B\na\nA\nb\n"),
        "Dockerfile:2: unterminated heredoc"
    );
    assert_eq!(
        err("FROM a\nCOPY <<-EOF /x\n  EOF\n"),
        "Dockerfile:2: unterminated heredoc"
    );
}

#[test]
fn onbuild_keeps_heredoc_bodies_in_the_trigger() {
    let parsed = ok("FROM a\nONBUILD RUN <<-EOF\n\techo child\n\tEOF\nUSER x\n");
    let i = &parsed.stages[0].instructions;
    assert_eq!(i[0].original, "ONBUILD RUN <<-EOF");
    // Stored as Docker stores it (body as written, then the delimiter)
    // so that it parses back the same.
    assert_eq!(
        i[0].kind,
        Kind::Onbuild("RUN <<-EOF\n\techo child\nEOF".into())
    );
    assert_eq!(i[1].line, 5);
    let Kind::Onbuild(trigger) = &i[0].kind else {
        panic!()
    };
    let back = parse_trigger(trigger, "base").unwrap();
    let Kind::Run(run) = back.kind else { panic!() };
    assert_eq!(run.heredocs, [doc("EOF", "echo child\n", true)]);
}

#[test]
fn heredoc_delimiter_lines_are_not_instructions() {
    // A body line equal to an instruction stays body text.
    let all = instructions("FROM a\nRUN <<FROM\nFROM b\nFROM\nUSER x\n");
    assert_eq!(all.len(), 2);
    let Kind::Run(run) = &all[0].kind else {
        panic!()
    };
    assert_eq!(run.heredocs, [doc("FROM", "FROM b\n", true)]);
}
