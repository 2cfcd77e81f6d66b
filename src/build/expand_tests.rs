use super::*;

/// The environment BuildKit's own lexer tests use, plus a few more.
fn env(name: &str) -> Option<String> {
    let value = match name {
        "PWD" => "/home",
        "SHELL" => "bash",
        "KOREAN" => "한국어",
        "NULL" => "",
        "WORDS" => "hello   world",
        "FILE" => "/usr/local/lib/libfoo.so.1.2",
        "PATHS" => "a/b/a/b",
        "STARS" => "a*b*c",
        _ => return None,
    };
    Some(value.to_string())
}

fn w(raw: &str) -> String {
    word(raw, '\\', &env).unwrap_or_else(|e| panic!("{raw}: {e:#}"))
}

fn tick(raw: &str) -> String {
    word(raw, '`', &env).unwrap_or_else(|e| panic!("{raw}: {e:#}"))
}

fn err(raw: &str) -> String {
    match word(raw, '\\', &env) {
        Ok(v) => panic!("{raw}: expected an error, got {v:?}"),
        Err(e) => format!("{e:#}"),
    }
}

fn ws(raw: &str) -> Vec<String> {
    words(raw, '\\', &env).unwrap_or_else(|e| panic!("{raw}: {e:#}"))
}

#[test]
fn plain_words_and_quotes() {
    assert_eq!(w("hello"), "hello");
    assert_eq!(w("he'll'o"), "hello");
    assert_eq!(w("\"hel'lo\""), "hel'lo");
    assert_eq!(w("'\"hello\"'"), "\"hello\"");
    assert_eq!(w("\"''\""), "''");
    assert_eq!(w("hello world"), "hello world");
    assert_eq!(w("안'녕'하세요"), "안녕하세요");
    assert_eq!(w(""), "");
}

#[test]
fn escapes_outside_quotes() {
    assert_eq!(w("he\\'llo"), "he'llo");
    assert_eq!(w("abc\\tdef"), "abctdef");
    assert_eq!(w("hello\\"), "hello");
    assert_eq!(w("hello\\\\"), "hello\\");
    assert_eq!(w("he\\$PWD"), "he$PWD");
    assert_eq!(w("he\\\\$PWD"), "he\\/home");
    assert_eq!(w("\\${}"), "${}");
    assert_eq!(w("he\\${}xx"), "he${}xx");
    assert_eq!(w("안녕\\'하세요"), "안녕'하세요");
}

#[test]
fn escapes_inside_double_quotes_are_docker_s_narrow_set() {
    assert_eq!(w("\"abc\\tdef\""), "abc\\tdef");
    assert_eq!(w("\"abc\\\\tdef\""), "abc\\tdef");
    assert_eq!(w("\"he\\$PWD\""), "he$PWD");
    assert_eq!(w("\"he\\\\$PWD\""), "he\\/home");
    assert_eq!(w("\"say \\\"hi\\\"\""), "say \"hi\"");
}

#[test]
fn single_quotes_are_literal() {
    assert_eq!(w("'abc\\tdef'"), "abc\\tdef");
    assert_eq!(w("'hello\\'"), "hello\\");
    assert_eq!(w("'he${XX}'"), "he${XX}");
    assert_eq!(w("'$PWD'"), "$PWD");
    assert_eq!(w("'\\$PWD'"), "\\$PWD");
}

#[test]
fn unterminated_quotes_are_errors() {
    assert_eq!(
        err("he'llo"),
        "failed to process \"he'llo\": unexpected end of statement while looking for matching single-quote"
    );
    assert!(err("he\\\\'llo").contains("matching single-quote"));
    assert!(err("\"hello").contains("matching double-quote"));
    assert!(err("\"hello\\\"").contains("matching double-quote"));
    assert!(err("'안녕하세요").contains("matching single-quote"));
}

#[test]
fn variables() {
    assert_eq!(w("$PWD"), "/home");
    assert_eq!(w("he$PWD"), "he/home");
    assert_eq!(w("he${PWD}"), "he/home");
    assert_eq!(w("he$pwd."), "he.");
    assert_eq!(w("he${hi}xx"), "hexx");
    assert_eq!(w("\"$PWD\""), "/home");
    assert_eq!(w("\"he'$PWD'\""), "he'/home'");
    assert_eq!(w("안녕$KOREAN"), "안녕한국어");
    // Not a name: the `$` stays.
    assert_eq!(w("$."), "$.");
    assert_eq!(w("he$.x"), "he$.x");
    assert_eq!(w("cost: 5$"), "cost: 5$");
    // Positional and special parameters are names, never set here.
    assert_eq!(w("he$1x"), "hex");
    assert_eq!(w("a$@b$#c$$d"), "abcd");
    assert_eq!(w("${aaa}}"), "}");
    assert_eq!(w("${aaa}}}"), "}}");
}

#[test]
fn default_and_alternative_values() {
    assert_eq!(w("he${XXX:-000}xx"), "he000xx");
    assert_eq!(w("he${PWD:-000}xx"), "he/homexx");
    assert_eq!(w("he${XXX:-$PWD}xx"), "he/homexx");
    assert_eq!(w("he${XXX:-${PWD:-yyy}}xx"), "he/homexx");
    assert_eq!(w("he${XXX:-${YYY:-yyy}}xx"), "heyyyxx");
    assert_eq!(w("he${XXX:+${PWD}}xx"), "hexx");
    assert_eq!(w("he${PWD:+${XXX}}xx"), "hexx");
    assert_eq!(w("he${PWD:+${SHELL}}xx"), "hebashxx");
    assert_eq!(w("he${PWD:+000}xx"), "he000xx");
    assert_eq!(w("he${PWD:+${PWD}:}xx"), "he/home:xx");
    assert_eq!(w("he${XXX:-\\$PWD:}xx"), "he$PWD:xx");
    assert_eq!(w("he${XXX:-\\${PWD}z}xx"), "he${PWDz}xx");
    assert_eq!(w("${XXX:-\"a b\"}"), "a b");
}

#[test]
fn colon_decides_whether_empty_counts_as_unset() {
    assert_eq!(w("[${NULL:-d}]"), "[d]");
    assert_eq!(w("[${NULL-d}]"), "[]");
    assert_eq!(w("[${XXX-d}]"), "[d]");
    assert_eq!(w("[${NULL:+a}]"), "[]");
    assert_eq!(w("[${NULL+a}]"), "[a]");
    assert_eq!(w("[${XXX+a}]"), "[]");
}

#[test]
fn required_values() {
    assert_eq!(w("he${PWD?}"), "he/home");
    assert_eq!(w("he${PWD:?}"), "he/home");
    assert_eq!(w("he${NULL?}"), "he");
    assert_eq!(
        err("${XXX?}"),
        "failed to process \"${XXX?}\": XXX: is not allowed to be unset"
    );
    assert_eq!(
        err("${XXX:?}"),
        "failed to process \"${XXX:?}\": XXX: is not allowed to be unset"
    );
    assert_eq!(
        err("${NULL:?}"),
        "failed to process \"${NULL:?}\": NULL: is not allowed to be empty"
    );
    assert_eq!(
        err("${XXX:?set it with --build-arg}"),
        "failed to process \"${XXX:?set it with --build-arg}\": XXX: set it with --build-arg"
    );
}

#[test]
fn bad_substitutions() {
    for raw in ["${}", "${}aaa", "he${}xx", "${{aaa}", "${{aaa}}", "${:x}"] {
        assert!(
            err(raw).ends_with("syntax error: bad substitution"),
            "{raw}"
        );
    }
    for raw in ["he${PWD", "${aaa", "${XXX:-abc", "${", "${XXX:"] {
        assert!(err(raw).ends_with("syntax error: missing '}'"), "{raw}");
    }
    assert!(err("he${.}").contains("unsupported modifier (.) in substitution"));
    assert!(err("he${XXX:YYY}").contains("unsupported modifier (:Y) in substitution"));
    assert!(err("he${PWD:=000}xx").contains("unsupported modifier (:=) in substitution"));
    assert!(err("${FILE:#x}").contains("unsupported modifier (:#) in substitution"));
    assert!(err("${FILE:%x}").contains("unsupported modifier (:%) in substitution"));
}

#[test]
fn prefix_and_suffix_removal() {
    assert_eq!(w("${FILE#*/}"), "usr/local/lib/libfoo.so.1.2");
    assert_eq!(w("${FILE##*/}"), "libfoo.so.1.2");
    assert_eq!(w("${FILE%.*}"), "/usr/local/lib/libfoo.so.1");
    assert_eq!(w("${FILE%%.*}"), "/usr/local/lib/libfoo");
    assert_eq!(w("${FILE#/usr}"), "/local/lib/libfoo.so.1.2");
    assert_eq!(w("${FILE#nomatch}"), "/usr/local/lib/libfoo.so.1.2");
    assert_eq!(w("${FILE%?}"), "/usr/local/lib/libfoo.so.1.");
    assert_eq!(w("${FILE#*}"), "/usr/local/lib/libfoo.so.1.2");
    assert_eq!(w("${FILE##*}"), "");
    assert_eq!(w("${XXX#a}"), "");
    // A variable inside the pattern is expanded first.
    assert_eq!(w("${PWD#$PWD}"), "");
    // Escaped wildcards are literal.
    assert_eq!(w("${STARS#a\\*}"), "b*c");
    assert_eq!(w("${STARS%\\*c}"), "a*b");
    assert_eq!(w("${STARS##*\\*}"), "c");
    assert!(
        err("${STARS#\\x}").contains("invalid pattern (\\x) in substitution: invalid escape '\\x'")
    );
}

#[test]
fn replacement() {
    assert_eq!(w("${PATHS/b/X}"), "a/X/a/b");
    assert_eq!(w("${PATHS//b/X}"), "a/X/a/X");
    assert_eq!(w("${PATHS//a\\/b/c}"), "c/c");
    assert_eq!(w("${PATHS/*\\//}"), "b");
    assert_eq!(w("${PATHS//?/-}"), "-------");
    assert_eq!(w("${PATHS/nope/X}"), "a/b/a/b");
    assert_eq!(w("${PATHS//b/$SHELL}"), "a/bash/a/bash");
    assert_eq!(w("${PATHS/b/}"), "a//a/b");
    assert_eq!(w("${XXX/a/b}"), "");
    assert!(err("${PATHS/b").ends_with("syntax error: missing '/' in ${}"));
    assert!(err("${PATHS/b/c").ends_with("syntax error: missing '}'"));
}

#[test]
fn backtick_escape_keeps_backslashes() {
    assert_eq!(tick("C:\\Program Files\\app"), "C:\\Program Files\\app");
    assert_eq!(tick("C:\\dir\\$PWD"), "C:\\dir\\/home");
    assert_eq!(tick("`$PWD"), "$PWD");
    assert_eq!(tick("a` b"), "a b");
    assert_eq!(tick("\"C:\\x `\"y`\"\""), "C:\\x \"y\"");
    assert_eq!(tick("\"``\""), "`");
}

#[test]
fn words_split_outside_quotes() {
    assert_eq!(ws("hello"), ["hello"]);
    assert_eq!(ws("hello world"), ["hello", "world"]);
    assert_eq!(ws("  hello   world  "), ["hello", "world"]);
    assert_eq!(ws("hello\\ world"), ["hello world"]);
    assert_eq!(ws("\"hello  world\""), ["hello  world"]);
    assert_eq!(ws("\"hello\"world"), ["helloworld"]);
    assert_eq!(ws("'hello world' x"), ["hello world", "x"]);
    assert_eq!(ws("\"$PWD\" ${PWD}x"), ["/home", "/homex"]);
    assert_eq!(ws("80 443/udp"), ["80", "443/udp"]);
    assert!(ws("").is_empty());
    assert!(ws("\"\" ''").is_empty());
}

#[test]
fn words_split_variable_values_unless_quoted() {
    assert_eq!(ws("$WORDS"), ["hello", "world"]);
    assert_eq!(ws("\"$WORDS\""), ["hello   world"]);
    assert_eq!(ws("a$WORDS"), ["ahello", "world"]);
    assert_eq!(ws("${XXX:-\"a b\"}"), ["a", "b"]);
    assert_eq!(ws("$XXX"), Vec::<String>::new());
}

#[test]
fn heredoc_bodies_expand_variables_but_keep_quotes() {
    let body = "echo \"$PWD\" '$SHELL'\nprintf '%s' \\$HOME ${XXX:-x}\n";
    assert_eq!(
        heredoc_body(body, &env).unwrap(),
        "echo \"/home\" 'bash'\nprintf '%s' $HOME x\n"
    );
    // Quotes being plain text, a backslash inside them still escapes:
    // BuildKit eats it too (a quoted delimiter, `<<'EOF'`, avoids this).
    assert_eq!(
        heredoc_body("printf '%s\\n'\n", &env).unwrap(),
        "printf '%sn'\n"
    );
    assert_eq!(heredoc_body("a\\b \\\\ c\n", &env).unwrap(), "ab \\ c\n");
    assert_eq!(heredoc_body("it's\n", &env).unwrap(), "it's\n");
    let e = heredoc_body("${NULL:?}\n", &env).unwrap_err();
    assert_eq!(
        format!("{e:#}"),
        "failed to process \"${NULL:?}\\n\": NULL: is not allowed to be empty"
    );
}

#[test]
fn options_for_heredoc_detection_keep_what_they_are_asked_to() {
    let unset = |_: &str| None;
    let keep = Options {
        raw_quotes: true,
        raw_escapes: true,
        skip_unset: true,
        skip_quotes: false,
    };
    let (_, words) = process("cat <<\"EOF\" $X ${Y:-z} a\\ b", '\\', keep, &unset).unwrap();
    assert_eq!(words, ["cat", "<<\"EOF\"", "$X", "${Y:-z}", "a\\ b"]);
}
