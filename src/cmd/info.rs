//! `skiff info`: where the store is, what the machine offers.

use super::format::render;
use crate::config::Config;
use anyhow::Result;
use serde_json::json;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Format the output using the given Go template
    #[arg(short = 'f', long)]
    pub format: Option<String>,
}

fn os_name() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_string())
        })
        .unwrap_or_else(|| "Linux".into())
}

fn mem_total() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

pub fn info_json(cfg: &Config) -> serde_json::Value {
    let layout = crate::cgroup::detect();
    let images = crate::store::Store::open_existing(&cfg.root)
        .ok()
        .flatten()
        .and_then(|s| s.images().ok())
        .map(|i| i.len())
        .unwrap_or(0);
    let mut security = vec!["name=seccomp,profile=builtin".to_string()];
    if cfg.rootless {
        security.push("name=rootless".into());
    }
    if layout == crate::cgroup::Layout::Unified {
        security.push("name=cgroupns".into());
    }
    // The driver new containers get: the forced one, the store's, or
    // the one its probe would choose.
    let store = crate::store::Store::open_existing(&cfg.root).ok().flatten();
    let driver = cfg
        .storage_driver
        .or_else(|| {
            store
                .as_ref()
                .and_then(|s| s.remembered_driver().ok().flatten())
        })
        .unwrap_or_else(|| crate::runtime::storage::probe_quietly(&cfg.root).0);
    let backing = match driver {
        crate::store::driver::Driver::Vfs => "a copy of the image's layers per container",
        _ => "overlayfs lowerdirs",
    };
    json!({
        "Name": nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_default(),
        "ServerVersion": env!("CARGO_PKG_VERSION"),
        "Images": images,
        "Driver": driver.name(),
        "DriverStatus": [["Backing Filesystem", backing]],
        "DockerRootDir": cfg.root.display().to_string(),
        "RunRoot": cfg.runroot.display().to_string(),
        "Rootless": cfg.rootless,
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": layout.version(),
        "CgroupLayout": layout.name(),
        "KernelVersion": super::version::kernel_version(),
        "OperatingSystem": os_name(),
        "OSType": "linux",
        "Architecture": std::env::consts::ARCH,
        "NCPU": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "MemTotal": mem_total(),
        "SecurityOptions": security,
        "RegistryConfig": {
            "SearchRegistries": cfg.search_registries,
            "InsecureRegistries": cfg.insecure_registries,
        },
        "ConfigFile": cfg.config_file.as_ref().map(|p| p.display().to_string()),
    })
}

pub fn run(args: Args, cfg: &Config) -> Result<i32> {
    let v = info_json(cfg);
    if let Some(f) = args.format {
        if f == "json" || f == "{{json .}}" {
            println!("{}", serde_json::to_string(&v)?);
        } else {
            println!("{}", render(&f.replace("\\n", "\n"), &v)?);
        }
        return Ok(0);
    }
    let s = |k: &str| match &v[k] {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    println!("Server:");
    println!(" Images: {}", s("Images"));
    println!(" Server Version: {}", s("ServerVersion"));
    println!(" Storage Driver: {}", s("Driver"));
    println!(" Root Dir: {}", s("DockerRootDir"));
    println!(" Run Root: {}", s("RunRoot"));
    println!(" Rootless: {}", s("Rootless"));
    println!(" Cgroup Driver: {}", s("CgroupDriver"));
    println!(" Cgroup Version: {}", s("CgroupVersion"));
    println!(" Cgroup Layout: {}", s("CgroupLayout"));
    println!(" Security Options:");
    for o in v["SecurityOptions"].as_array().into_iter().flatten() {
        println!("  {}", o.as_str().unwrap_or(""));
    }
    println!(" Kernel Version: {}", s("KernelVersion"));
    println!(" Operating System: {}", s("OperatingSystem"));
    println!(" OSType: {}", s("OSType"));
    println!(" Architecture: {}", s("Architecture"));
    println!(" CPUs: {}", s("NCPU"));
    println!(
        " Total Memory: {}",
        crate::util::human::bytes_binary(v["MemTotal"].as_u64().unwrap_or(0))
    );
    println!(" Name: {}", s("Name"));
    println!(" Registries:");
    println!("  Search: {}", cfg.search_registries.join(", "));
    if !cfg.insecure_registries.is_empty() {
        println!("  Insecure: {}", cfg.insecure_registries.join(", "));
    }
    Ok(0)
}
