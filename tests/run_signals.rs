//! Signals sent to the `skiff run` process reach the container's process
//! (Docker's default `--sig-proxy`): a shell traps each, says so and exits
//! with a code of its own, and that code is skiff's.

mod common;

use common::run::Ctx;
use nix::sys::signal::Signal;
use std::time::Duration;

/// `sh -c` that traps `name`, prints `got-<name>` and exits `code` when it
/// arrives; prints `ready` once the trap is set, and gives up with exit
/// 99 after 30 s so a lost signal fails the test instead of hanging it.
fn trapper(name: &str, code: i32) -> String {
    format!(
        "trap 'echo got-{name}; exit {code}' {name}; echo ready; \
         i=0; while [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; exit 99"
    )
}

fn forwarded(c: &Ctx, flags: &[&str], sig: Signal, name: &str, code: i32) {
    let bb = c.bb();
    let script = trapper(name, code);
    let mut a = vec!["--rm"];
    a.extend_from_slice(flags);
    a.extend([bb.as_str(), "sh", "-c", &script]);
    let mut bg = c.spawn_run(&a);
    bg.wait_for("ready", Duration::from_secs(60));
    // The container's output can overtake skiff's own setup on a loaded
    // machine; a user's signal does not come within a tenth of a second.
    std::thread::sleep(Duration::from_millis(100));
    bg.signal(sig);
    let out = bg.finish();
    out.assert_code(code);
    out.assert_stdout_has(&format!("got-{name}"));
}

#[test]
fn term_int_hup_usr1_reach_the_container() {
    let c = Ctx::new("run_signals");
    forwarded(&c, &[], Signal::SIGTERM, "TERM", 41);
    forwarded(&c, &[], Signal::SIGINT, "INT", 42);
    forwarded(&c, &[], Signal::SIGHUP, "HUP", 43);
    forwarded(&c, &[], Signal::SIGUSR1, "USR1", 44);
    forwarded(&c, &[], Signal::SIGUSR2, "USR2", 45);
    assert!(c.container_dirs().is_empty(), "--rm after each");
}

#[test]
fn signals_pass_through_init_too() {
    let c = Ctx::new("run_signals_init");
    forwarded(&c, &["--init"], Signal::SIGTERM, "TERM", 51);
    forwarded(&c, &["--init"], Signal::SIGUSR1, "USR1", 52);
}

#[test]
fn term_to_a_process_that_ignores_it_leaves_it_running() {
    // Docker's pid 1 without a handler ignores TERM; skiff must neither
    // die of it itself nor kill the container in its place.
    let c = Ctx::new("run_signals_ignored");
    let mut bg = c.spawn_run(&[
        "--rm",
        &c.bb(),
        "sh",
        "-c",
        "echo ready; sleep 2; echo still-here",
    ]);
    bg.wait_for("ready", Duration::from_secs(60));
    bg.signal(Signal::SIGTERM);
    let out = bg.finish();
    out.assert_ok();
    out.assert_stdout_has("still-here");
}
