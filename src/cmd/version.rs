//! `skiff version`: Docker's client/server layout. There is no server, so
//! the "server" is skiff itself; the API version is the one Podman reports
//! (CI runners refuse engines older than 1.35).

use super::format::render;
use crate::config::Config;
use anyhow::Result;
use serde_json::json;

pub const API_VERSION: &str = "1.41";
pub const MIN_API_VERSION: &str = "1.24";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Format the output using the given Go template
    #[arg(short = 'f', long)]
    pub format: Option<String>,
}

pub fn info_json() -> serde_json::Value {
    let version = env!("CARGO_PKG_VERSION");
    let os = std::env::consts::OS;
    let arch = crate::registry::platform::Platform::host().architecture;
    let kernel = kernel_version();
    json!({
        "Client": {
            "Version": version,
            "APIVersion": API_VERSION,
            "DefaultAPIVersion": API_VERSION,
            "GitCommit": option_env!("SKIFF_GIT_COMMIT").unwrap_or(""),
            "GoVersion": "",
            "Os": os,
            "Arch": arch,
            "BuildTime": "",
            "Platform": {"Name": "skiff"},
        },
        "Server": {
            "Version": version,
            "APIVersion": API_VERSION,
            "MinAPIVersion": MIN_API_VERSION,
            "Os": os,
            "Arch": arch,
            "KernelVersion": kernel,
            "Platform": {"Name": "skiff"},
            "Components": [{"Name": "Engine", "Version": version}],
        },
    })
}

pub fn kernel_version() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default()
}

pub fn run(args: Args, _cfg: &Config) -> Result<i32> {
    let v = info_json();
    if let Some(f) = args.format {
        let f = f.replace("\\n", "\n").replace("\\t", "\t");
        if f == "json" || f == "{{json .}}" {
            println!("{}", serde_json::to_string(&v)?);
        } else {
            println!("{}", render(&f, &v)?);
        }
        return Ok(0);
    }
    let c = &v["Client"];
    let s = &v["Server"];
    println!("Client:");
    println!(
        " Version:           {}",
        c["Version"].as_str().unwrap_or("")
    );
    println!(" API version:       {}", API_VERSION);
    println!(
        " OS/Arch:           {}/{}",
        c["Os"].as_str().unwrap_or(""),
        c["Arch"].as_str().unwrap_or("")
    );
    println!();
    println!("Server: skiff (no daemon)");
    println!(" Engine:");
    println!(
        "  Version:          {}",
        s["Version"].as_str().unwrap_or("")
    );
    println!(
        "  API version:      {} (minimum version {})",
        API_VERSION, MIN_API_VERSION
    );
    println!(
        "  OS/Arch:          {}/{}",
        s["Os"].as_str().unwrap_or(""),
        s["Arch"].as_str().unwrap_or("")
    );
    println!(
        "  Kernel:           {}",
        s["KernelVersion"].as_str().unwrap_or("")
    );
    Ok(0)
}
