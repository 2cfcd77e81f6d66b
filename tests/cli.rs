//! The command line itself: usage errors, `version`, `info`, exit codes.

mod common;

use common::Skiff;

#[test]
fn unknown_flag_is_a_usage_error() {
    let env = Skiff::new("cli_bogus_flag");
    let out = env.run(&["--bogus"]);
    out.assert_code(125);
    out.assert_error_line();
    out.assert_stderr_has("--bogus");
    out.assert_stderr_any(&["--help", "usage"]);
    assert!(out.stdout.is_empty(), "errors go to stderr:\n{out}");
}

#[test]
fn an_unknown_flag_before_the_image_is_named_as_one() {
    let env = Skiff::new("cli_run_bogus_flag");
    for cmd in ["run", "create"] {
        let out = env.run(&[cmd, "--rm", "--frobnicate=x", "img", "true"]);
        out.assert_code(125).assert_error_line();
        out.assert_stderr_has("unknown flag: --frobnicate");
        assert!(!out.stderr.contains("reference"), "{out}");
    }
    assert!(env
        .root
        .join("containers")
        .read_dir()
        .map_or(true, |mut d| d.next().is_none()));
}

#[test]
fn unknown_command_is_a_usage_error() {
    let env = Skiff::new("cli_bogus_command");
    let out = env.run(&["frobnicate"]);
    out.assert_code(125);
    out.assert_stderr_has("frobnicate");
}

#[test]
fn missing_argument_is_a_usage_error() {
    let env = Skiff::new("cli_missing_arg");
    let out = env.run(&["pull"]);
    out.assert_code(125);
    out.assert_stderr_any(&["--help", "usage", "requires"]);
}

#[test]
fn help_goes_to_stdout_with_exit_0() {
    let env = Skiff::new("cli_help");
    let out = env.ok(&["--help"]);
    out.assert_stdout_has("pull");
    out.assert_stdout_has("images");
    let out = env.ok(&["pull", "--help"]);
    out.assert_stdout_has("--platform");
}

#[test]
fn version_formats() {
    let env = Skiff::new("cli_version");
    let out = env.ok(&["version", "--format", "{{.Client.Version}}"]);
    assert_eq!(out.stdout.trim(), env!("CARGO_PKG_VERSION"));
    let out = env.ok(&["version", "--format", "{{.Server.APIVersion}}"]);
    assert_eq!(out.stdout.trim(), "1.41");
    let out = env.ok(&["version", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["Client"]["APIVersion"], "1.41");
    let out = env.ok(&["version"]);
    out.assert_stdout_has("Client:");
    out.assert_stdout_has("Server:");
    let out = env.ok(&["--version"]);
    out.assert_stdout_has(env!("CARGO_PKG_VERSION"));
}

#[test]
fn info_shows_the_root() {
    let env = Skiff::new("cli_info");
    let out = env.ok(&["info"]);
    out.assert_stdout_has(&env.root.display().to_string());
    let out = env.ok(&["info", "--format", "{{.DockerRootDir}}"]);
    assert_eq!(out.stdout.trim(), env.root.display().to_string());
    let root = env.path("elsewhere");
    let out = env.ok(&[
        "--root",
        root.to_str().unwrap(),
        "info",
        "--format",
        "{{.DockerRootDir}}",
    ]);
    assert_eq!(
        out.stdout.trim(),
        root.display().to_string(),
        "--root beats SKIFF_ROOT"
    );
}

#[test]
fn empty_store_lists_no_images_and_checks_clean() {
    let env = Skiff::new("cli_empty_store");
    let out = env.ok(&["images"]);
    assert_eq!(out.lines().len(), 1, "only the header:\n{out}");
    assert!(env.image_ids().is_empty());
    env.assert_store_clean();
}
