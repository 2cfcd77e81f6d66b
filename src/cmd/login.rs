//! `skiff login` / `skiff logout`: credentials in the auth.json file that
//! Docker and Podman share.

use crate::config::Config;
use crate::image::remote::{client_for_host, RegistryFlags};
use crate::registry::authfile;
use crate::registry::reference::Reference;
use crate::registry::Credentials;
use anyhow::{Context, Result};
use std::io::{BufRead, Read, Write};

#[derive(Debug, clap::Args)]
pub struct LoginArgs {
    /// Username
    #[arg(short, long)]
    pub username: Option<String>,
    /// Password (prefer --password-stdin: a flag is visible in `ps`)
    #[arg(short, long)]
    pub password: Option<String>,
    /// Take the password from stdin
    #[arg(long)]
    pub password_stdin: bool,
    #[command(flatten)]
    pub registry: RegistryFlags,
    /// The registry (default docker.io)
    pub server: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct LogoutArgs {
    /// The registry (default docker.io)
    pub server: Option<String>,
}

/// `https://host:5000/v2/` -> `host:5000`; Docker Hub's aliases -> `docker.io`.
pub fn normalize_server(s: Option<&str>) -> String {
    let s = s.unwrap_or("docker.io");
    let s = s
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let host = s.split('/').next().unwrap_or(s);
    match host {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            "docker.io".into()
        }
        h => h.to_string(),
    }
}

fn prompt(msg: &str) -> Result<String> {
    eprint!("{msg}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("read from stdin")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

pub fn login(args: LoginArgs, cfg: &Config) -> Result<i32> {
    let server = normalize_server(args.server.as_deref());
    let tty = crate::sys::isatty(&std::io::stdin());
    if args.password.is_some() && args.password_stdin {
        crate::bail_kind!(
            InvalidArgument,
            "--password and --password-stdin are mutually exclusive"
        );
    }
    let mut username = args.username.clone();
    let password = if args.password_stdin {
        if username.is_none() {
            crate::bail_kind!(
                InvalidArgument,
                "must provide --username with --password-stdin"
            );
        }
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("read password from stdin")?;
        s.trim_end_matches(['\r', '\n']).to_string()
    } else if let Some(p) = &args.password {
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
        p.clone()
    } else {
        if !tty {
            crate::bail_kind!(
                InvalidArgument,
                "cannot perform an interactive login from a non TTY device"
            );
        }
        if username.is_none() {
            username = Some(prompt("Username: ")?);
        }
        crate::sys::read_password("Password: ")?
    };
    let Some(username) = username.filter(|u| !u.is_empty()) else {
        crate::bail_kind!(InvalidArgument, "login {server}: username is required");
    };
    let creds = Credentials { username, password };
    let api_host = Reference::parse(&format!("{server}/x"))
        .map(|r| r.api_host())
        .unwrap_or_else(|_| server.clone());
    let mut flags = args.registry.clone();
    flags.creds = Some(format!("{}:{}", creds.username, creds.password));
    let client = client_for_host(cfg, &server, &api_host, &flags)?;
    client.login().with_context(|| format!("login {server}"))?;
    authfile::store(&server, &creds).with_context(|| format!("save credentials for {server}"))?;
    println!("Login Succeeded");
    Ok(0)
}

pub fn logout(args: LogoutArgs, _cfg: &Config) -> Result<i32> {
    let server = normalize_server(args.server.as_deref());
    if authfile::remove(&server).with_context(|| format!("logout {server}"))? {
        println!("Removed login credentials for {server}");
    } else {
        println!("Not logged in to {server}");
    }
    Ok(0)
}
