//! The skiff entry point: parse the command line, run the command, and turn
//! its error, if any, into Docker's exit code. This is the only place where
//! an error becomes an exit code.

use skiff::cmd::{self, Cli};
use skiff::error::kind_of;

fn main() {
    let code = match Cli::parse_args() {
        Ok(cli) => match cmd::dispatch(cli) {
            Ok(code) => code,
            Err(err) => {
                eprintln!("skiff: {err:#}");
                kind_of(&err).map(|k| k.exit_code()).unwrap_or(125)
            }
        },
        Err(err) => usage_error(err),
    };
    std::process::exit(code);
}

/// Help and version go to stdout with exit 0; a bad command line is a
/// usage error: one line naming the problem, a pointer to `--help`, and
/// Docker's exit code 125.
fn usage_error(err: clap::Error) -> i32 {
    use clap::error::ErrorKind as K;
    match err.kind() {
        K::DisplayHelp | K::DisplayVersion | K::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = err.print();
            if err.kind() == K::DisplayHelpOnMissingArgumentOrSubcommand {
                125
            } else {
                0
            }
        }
        _ => {
            let text = err.render().to_string();
            let first = text
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("invalid command line")
                .trim_start_matches("error: ");
            eprintln!("skiff: {first}");
            let usage = text
                .lines()
                .find_map(|l| l.trim().strip_prefix("Usage: "))
                .and_then(|u| {
                    let words: Vec<&str> = u
                        .split_whitespace()
                        .take_while(|w| !w.starts_with('[') && !w.starts_with('<'))
                        .collect();
                    (!words.is_empty()).then(|| words.join(" "))
                });
            eprintln!("See '{} --help'.", usage.as_deref().unwrap_or("skiff"));
            125
        }
    }
}
