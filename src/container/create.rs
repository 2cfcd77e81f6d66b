//! Making a container: the image found (or pulled), the record and
//! directories, volumes and bind sources, /etc files, the user resolved
//! against the image, and the OCI spec written as `config.json`. Shared by
//! `create`, `run` and `run -d`; nothing here starts a process.

use crate::config::Config;
use crate::error::{kind_err, ErrorKind};
use crate::image::config::ImageConfig;
use crate::image::lookup::find;
use crate::image::progress::Progress;
use crate::image::pull::{pull, PullOptions};
use crate::image::remote::RegistryFlags;
use crate::registry::Reference;
use crate::runtime::create::{
    copy_up, image_file, to_annotation, write_etc_files, EtcOptions, OVERLAY_ANNOTATION,
};
use crate::runtime::opts::mounts::image_volumes;
use crate::runtime::opts::userns::UsernsMode;
use crate::runtime::opts::{MountKind, MountRequest, PullPolicy, RunOpts};
use crate::runtime::spec::{
    build_spec, container_config, HostFiles, ResolvedDevice, ResolvedMount, SpecInput,
};
use crate::store::{ContainerRecord, ContainerState, ImageRecord, Store};
use anyhow::{Context, Result};
use std::path::PathBuf;

/// How to pull an image `run`/`create` does not have.
#[derive(Debug, Clone, Default)]
pub struct PullSettings {
    pub quiet: bool,
    pub registry: RegistryFlags,
}

/// A container just made: recorded as `created`, its spec on disk.
pub struct Created<'a> {
    pub id: String,
    pub dir: PathBuf,
    pub spec: oci_spec::runtime::Spec,
    /// Removes the container again unless disarmed (a failure before it
    /// runs, or the end of a `--rm` run).
    pub cleanup: Cleanup<'a>,
    /// Held until the container is whole (a dead holder makes it a
    /// half-made one); `run -d` hands it to the monitor.
    pub maker: crate::store::containers::Maker,
}

/// What `--network` and its companions come to, checked against the
/// store before anything is made.
struct Networking {
    /// Docker's `HostConfig.NetworkMode`.
    mode: String,
    /// Bridge networks by their names, with their endpoints' settings.
    endpoints: Vec<(String, crate::store::containers::EndpointConfig)>,
    /// The joined container's ID and hostname (`container:NAME`).
    joined: Option<(String, String)>,
    netns_file: bool,
    /// The default bridge's gateway, for `--add-host X:host-gateway`.
    host_gateway: Option<std::net::Ipv4Addr>,
    /// Where the container's user-space stack takes DNS queries to the
    /// host's resolvers, if it has one; or its user network's gateway,
    /// forwarded to the host's loopback resolver (`dns_forward`).
    dns_forwarder: Option<std::net::Ipv4Addr>,
    dns_forward: Option<crate::store::containers::DnsForward>,
}

fn resolve_networks(store: &Store, opts: &RunOpts, rootless: bool) -> Result<Networking> {
    use crate::runtime::opts::NetworkMode;
    let mut out = Networking {
        mode: opts.network.name().to_string(),
        endpoints: Vec::new(),
        joined: None,
        netns_file: false,
        host_gateway: None,
        dns_forwarder: None,
        dns_forward: None,
    };
    let user_nets = opts.networks.iter().any(|a| a.name != "bridge");
    if rootless && user_nets && opts.networks.iter().any(|a| a.name == "bridge") {
        crate::bail_kind!(
            InvalidArgument,
            "the default network rootless is a user-space stack (pasta or slirp4netns), which user networks come with: leave out --network bridge"
        );
    }
    // Rootless, the stack's DNS forwarder (the way out of user networks
    // too).
    let mut stack_dns = None;
    if rootless && !opts.networks.is_empty() {
        let stack = crate::network::userspace::pick()?;
        stack_dns = crate::network::userspace::dns_forwarder(stack, &[]);
        if !user_nets {
            // No bridge to join without privileges: a user-space stack
            // instead, as Podman's rootless default.
            out.mode = stack.name().to_string();
            out.netns_file = true;
            out.dns_forwarder = stack_dns;
            return Ok(out);
        }
        // User networks: the user's own bridges, in its rootless network
        // namespace (`network::setup`), and the stack for the way out.
    }
    // The first network when it is a user network: its gateway may stand
    // in for the host's loopback resolver (`host_dns_forward`).
    let mut first_user_net = None;
    for a in &opts.networks {
        // Docker's words for a network that is not there, before anything
        // is made; `host` and `none` by name are the modes of those names.
        let net = if a.name == "bridge" {
            store.default_network()?
        } else {
            store.find_network(&a.name)?
        };
        if net.driver != "bridge" {
            crate::bail_kind!(
                InvalidArgument,
                "network {} is the {} network: use --network {}",
                a.name,
                net.name,
                net.name
            );
        }
        let name = if a.name == "bridge" {
            "bridge".to_string()
        } else {
            net.name.clone()
        };
        if out.endpoints.is_empty() && a.name != "bridge" {
            first_user_net = Some(net.clone());
        }
        out.endpoints.push((
            name,
            crate::store::containers::EndpointConfig {
                aliases: a.aliases.clone(),
                ip: a.ip.map(|i| i.to_string()),
                mac: a.mac.map(crate::store::mac_text),
            },
        ));
    }
    if let Some(first) = out.endpoints.first() {
        out.mode = first.0.clone();
        out.netns_file = true;
    }
    if let NetworkMode::Container(c) = &opts.network {
        let target = crate::container::state::find(store, c)?;
        let hostname = std::fs::read_to_string(store.container_dir(&target.id).join("hostname"))
            .unwrap_or_default()
            .trim()
            .to_string();
        out.mode = format!("container:{}", target.id);
        out.joined = Some((target.id, hostname));
        out.netns_file = true;
    }
    if let NetworkMode::Userspace(m) = &opts.network {
        out.mode = m.clone();
        out.netns_file = true;
    }
    if opts.extra_hosts.iter().any(|h| h.ip.is_unspecified()) {
        out.host_gateway = store.default_network()?.gateway_ip();
    }
    use crate::network::userspace;
    out.dns_forwarder = match userspace::parse_mode(&out.mode) {
        Some((stack, o)) => userspace::dns_forwarder(stack, &o),
        None => stack_dns,
    };
    if !rootless && opts.dns.is_empty() {
        out.dns_forward = first_user_net.as_ref().and_then(host_dns_forward);
        if let Some(f) = &out.dns_forward {
            out.dns_forwarder = f.gateway.parse().ok();
        }
    }
    Ok(out)
}

/// On a user network (as root), a resolver on the host's loopback is
/// reached through the network's gateway, whose DNS port is forwarded to
/// it: what Docker's embedded DNS server and aardvark-dns do by asking
/// from the host. The default bridge keeps Docker's public fallback,
/// and an `--internal` network has no way out.
fn host_dns_forward(
    rec: &crate::store::NetworkRecord,
) -> Option<crate::store::containers::DnsForward> {
    if rec.internal || rec.gateway.is_empty() {
        return None;
    }
    let resolv = crate::runtime::create::host_resolv(false);
    crate::runtime::create::loopback_resolver(&resolv).map(|to| {
        crate::store::containers::DnsForward {
            gateway: rec.gateway.clone(),
            to,
        }
    })
}

/// Make the container `opts` describes.
pub fn create<'a>(
    store: &'a Store,
    cfg: &Config,
    opts: &RunOpts,
    pulling: &PullSettings,
) -> Result<Created<'a>> {
    make(store, cfg, opts, Base::Image(pulling))
}

/// Make a container on layers and a config that are not an image in
/// the store (a build step's state): `img` names its layers (an image
/// record not stored), `config` is its config. The record says `build`,
/// which keeps it out of `ps`.
pub fn create_on<'a>(
    store: &'a Store,
    cfg: &Config,
    opts: &RunOpts,
    img: ImageRecord,
    config: ImageConfig,
) -> Result<Created<'a>> {
    make(store, cfg, opts, Base::Given(Box::new((img, config))))
}

/// What a container is made on.
enum Base<'p> {
    /// `opts.image`, found or pulled.
    Image(&'p PullSettings),
    /// Layers and a config given (`create_on`).
    Given(Box<(ImageRecord, ImageConfig)>),
}

fn make<'a>(store: &'a Store, cfg: &Config, opts: &RunOpts, base: Base) -> Result<Created<'a>> {
    let delegated = cfg
        .rootless
        .then(crate::cgroup::delegated_subtree)
        .flatten();
    if cfg.rootless && delegated.is_none() && opts.resources.limits_any() {
        // Never silently: the container runs, without them.
        eprintln!(
            "skiff: warning: resource limits cannot be applied rootless without a delegated cgroup; the container runs without them"
        );
    }
    // Before anything is made: a device that is not there is the
    // user's mistake, reported as Docker's daemon words it.
    let blkio_devices = if cfg.rootless {
        Default::default()
    } else {
        blkio_device_numbers(&opts.resources)?
    };
    let net = resolve_networks(store, opts, cfg.rootless)?;
    let shares = super::shares::resolve(store, &opts.shares)?;
    let build = matches!(base, Base::Given(_));
    let (img, config) = match base {
        Base::Image(pulling) => {
            let img = resolve_image(store, cfg, opts, pulling)?;
            let config = ImageConfig::parse(&store.read_blob(&img.id)?)?;
            (img, config)
        }
        Base::Given(given) => *given,
    };
    let run_cfg = config.config.clone().unwrap_or_default();

    let id = new_id();
    let name = match &opts.name {
        Some(n) => n.clone(),
        None => random_container_name(&id),
    };
    let args_vec = crate::runtime::spec::process_args(&run_cfg, opts)?;
    let stop_signal = opts.stop_signal.or_else(|| {
        run_cfg
            .stop_signal
            .as_deref()
            .and_then(|s| crate::runtime::opts::parse_signal(s).ok())
    });
    let container_cfg = container_config(&run_cfg, opts);
    let record = ContainerRecord {
        id: id.clone(),
        name,
        image: opts.image.clone(),
        image_id: img.id.clone(),
        layers: img.layers.clone(),
        created: crate::store::containers::now(),
        command: args_vec,
        // The image's labels, overridden by --label (Docker's
        // Config.Labels).
        labels: run_cfg
            .labels
            .clone()
            .unwrap_or_default()
            .into_iter()
            .chain(opts.labels.clone())
            .collect(),
        auto_remove: opts.rm,
        anonymous_volumes: Vec::new(),
        volumes: Vec::new(),
        tty: opts.tty,
        interactive: opts.interactive,
        stop_signal,
        stop_timeout: opts.stop_timeout,
        restart: opts.restart.clone(),
        log: opts.log.clone(),
        healthcheck: container_cfg.healthcheck.clone(),
        config: match serde_json::to_value(container_cfg)? {
            serde_json::Value::Object(m) => Some(m),
            _ => None,
        },
        network_aliases: Vec::new(),
        ip: None,
        port_bindings: opts.ports.clone(),
        publish_all: opts.publish_all,
        networks: net.endpoints.iter().map(|(n, _)| n.clone()).collect(),
        endpoint_config: net.endpoints.iter().cloned().collect(),
        network_mode: net.mode.clone(),
        netns_file: net.netns_file,
        pid_mode: shares.pid.mode(""),
        ipc_mode: match shares.ipc_mode().as_str() {
            "private" => String::new(),
            m => m.to_string(),
        },
        uts_mode: shares.uts.mode(""),
        build,
        dns_forward: net.dns_forward.clone(),
        state: ContainerState {
            status: "created".into(),
            creator_pid: Some(std::process::id()),
            ..Default::default()
        },
    };
    let mut record = record;
    let mut attempt = 0;
    let (dir, maker) = loop {
        match store.create_container(&record) {
            Ok(d) => break d,
            // A generated name that is taken: another one, as Docker
            // retries; after a few, with a number to make it unique.
            Err(e)
                if opts.name.is_none()
                    && attempt < 20
                    && crate::error::kind_of(&e) == Some(ErrorKind::AlreadyExists) =>
            {
                attempt += 1;
                let fresh = new_id();
                record.name = random_container_name(&fresh);
                if attempt > 5 {
                    record.name = format!("{}{}", record.name, &fresh[4..8]);
                }
            }
            Err(e) => return Err(e),
        }
    };
    store.container_event(&record, "create", &[]);
    let mut cleanup = Cleanup {
        store,
        id: id.clone(),
        anonymous: Vec::new(),
        armed: true,
    };

    let layers_top_first: Vec<PathBuf> = img
        .layers
        .iter()
        .rev()
        .map(|c| store.layer_dir(c))
        .collect();
    let own = super::userns::own_userns(store, cfg, opts, &id, &layers_top_first)?;
    let shift = own.as_ref().map(|o| o.shift.clone()).unwrap_or_default();
    let userns = own.map(|o| o.maps);
    let mut requests = opts.mounts.clone();
    requests.extend(super::volumes_from::requests(
        store,
        &opts.volumes_from,
        &opts.mounts,
    )?);
    let image_vols: Vec<&str> = run_cfg
        .volumes
        .as_ref()
        .map(|v| v.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let image_anon = image_volumes(image_vols, &requests);
    requests.extend(image_anon);
    let mut used = Vec::new();
    let mounts = resolve_mounts(
        store,
        &requests,
        &layers_top_first,
        &dir,
        &mut cleanup.anonymous,
        &mut used,
        &shift,
    )?;
    let devices = resolve_devices(opts)?;

    let host_name = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default();
    let hostname = match &net.joined {
        Some((_, h)) => h.clone(),
        None => crate::runtime::spec::container_hostname(opts, &id, &host_name),
    };
    let mut etc = write_etc_files(
        &dir,
        &EtcOptions {
            hostname: hostname.clone(),
            host_network: opts.network == crate::runtime::opts::NetworkMode::Host,
            dns: opts.dns.iter().map(|a| a.to_string()).collect(),
            dns_search: opts.dns_search.clone(),
            dns_options: opts.dns_options.clone(),
            stack_dns: net.dns_forwarder.map(|a| a.to_string()),
            extra_hosts: opts
                .extra_hosts
                .iter()
                .map(|h| {
                    let ip = match (h.ip.is_unspecified(), net.host_gateway) {
                        (true, Some(gw)) => gw.to_string(),
                        _ => h.ip.to_string(),
                    };
                    (h.name.clone(), ip)
                })
                .collect(),
        },
    )?;
    if let Some((target, _)) = &net.joined {
        // Its names are the joined container's: the same files.
        let theirs = store.container_dir(target);
        etc.hosts = theirs.join("hosts");
        etc.resolv_conf = theirs.join("resolv.conf");
    }
    let passwd = image_file(&layers_top_first, "etc/passwd");
    let group = image_file(&layers_top_first, "etc/group");
    // keep-id: the caller's own ids run the command unless -u says else.
    let keep_id = (opts.userns == UsernsMode::KeepId).then(|| {
        format!(
            "{}:{}",
            crate::util::ids::outer_uid(),
            crate::util::ids::outer_gid()
        )
    });
    let spec_user = crate::runtime::user::user_spec(
        opts.user.as_deref().or(keep_id.as_deref()),
        run_cfg.user.as_deref(),
    );
    let mut user =
        crate::runtime::user::resolve_user(spec_user, passwd.as_deref(), group.as_deref())?;
    crate::runtime::user::add_groups(&mut user, &opts.group_add, group.as_deref())?;
    let profile = match &opts.security.seccomp {
        crate::runtime::opts::SeccompChoice::Profile(p) => {
            let data = std::fs::read(p)
                .with_context(|| format!("open seccomp profile {}", p.display()))?;
            Some(
                crate::runtime::seccomp_profile::Profile::parse(&data)
                    .with_context(|| format!("seccomp profile {}", p.display()))?,
            )
        }
        _ => None,
    };
    let host = crate::runtime::seccomp_profile::Host::detect()?;
    let rootfs = dir.join("rootfs");
    let (etc_passwd, etc_group) = match opts.userns {
        UsernsMode::KeepId => {
            super::userns::keep_id_files(&dir, passwd.as_deref(), group.as_deref())?
        }
        _ => (None, None),
    };
    if net.joined.is_none() {
        super::userns::give_to_root(&[&etc.hosts, &etc.hostname, &etc.resolv_conf], &shift)?;
    }
    let files = HostFiles {
        hosts: Some(etc.hosts),
        hostname: Some(etc.hostname),
        resolv_conf: Some(etc.resolv_conf),
        passwd: etc_passwd,
        group: etc_group,
    };
    let mut spec = build_spec(&SpecInput {
        id: &id,
        hostname: &hostname,
        image: &run_cfg,
        opts,
        user: &user,
        rootfs: &rootfs,
        files: &files,
        mounts: &mounts,
        devices: &devices,
        blkio_devices: &blkio_devices,
        seccomp_profile: profile.as_ref(),
        host: &host,
        rootless: cfg.rootless,
        userns: userns.as_ref(),
        delegated: delegated.as_deref(),
        netns: record
            .netns_file
            .then(|| crate::network::netns::path(&dir))
            .as_deref(),
    })?;
    clamp_capabilities(&mut spec)?;
    let mut ann = spec.annotations().clone().unwrap_or_default();
    let mut lowers: Vec<PathBuf> = img.layers.iter().map(|c| store.layer_dir(c)).collect();
    if lowers.is_empty() {
        // An image of no layers (`FROM scratch`): overlayfs wants a lower
        // directory, an empty one serves.
        let empty = dir.join("empty");
        crate::util::fs::mkdir_all(&empty, 0o755)?;
        lowers.push(empty);
    }
    let overlay = super::rootfs::make(store, cfg, &lowers, &dir, &shift, userns.as_ref(), opts.rm)?;
    ann.insert(OVERLAY_ANNOTATION.to_string(), to_annotation(&overlay));
    spec.set_annotations(Some(ann));
    crate::util::fs::write_new(&dir.join("config.json"), &serde_json::to_vec(&spec)?)?;
    // The record was written with no volumes: rewritten only if there are.
    // (It is made whole, `ContainerState::made_whole`, by the first write
    // of whoever goes on with it: its start, or `create`'s end.)
    if !cleanup.anonymous.is_empty() || !used.is_empty() {
        let anonymous = cleanup.anonymous.clone();
        store.update_container(&id, |c| {
            c.anonymous_volumes = anonymous;
            c.volumes = used;
            Ok(())
        })?;
    }
    Ok(Created {
        id,
        dir,
        spec,
        cleanup,
        maker,
    })
}

/// A fresh 64-hex container ID.
pub fn new_id() -> String {
    crate::cmd::volume::random_name()
}

/// Docker-style `adjective_name` for containers run without `--name`.
pub fn random_container_name(id: &str) -> String {
    const ADJ: [&str; 16] = [
        "brave", "calm", "eager", "fancy", "gentle", "happy", "jolly", "keen", "lucid", "merry",
        "nifty", "quirky", "sharp", "tender", "vivid", "witty",
    ];
    const NOUN: [&str; 16] = [
        "babbage", "curie", "darwin", "euler", "fermat", "galois", "hopper", "kepler", "lovelace",
        "noether", "pascal", "ritchie", "shannon", "turing", "volta", "wozniak",
    ];
    let b = hex::decode(&id[..4]).unwrap_or_else(|_| vec![0, 0]);
    format!("{}_{}", ADJ[b[0] as usize % 16], NOUN[b[1] as usize % 16])
}

/// The image `opts.image` names, found locally or pulled as `opts.pull`
/// and `opts.platform` say.
pub fn resolve_image(
    store: &Store,
    cfg: &Config,
    opts: &RunOpts,
    pulling: &PullSettings,
) -> Result<ImageRecord> {
    let local = store
        .images()
        .ok()
        .and_then(|imgs| find(&imgs, cfg, &opts.image).ok().cloned());
    // An image of another platform than `--platform` asks for does not count.
    let mismatch = |img: &ImageRecord| {
        opts.platform
            .as_ref()
            .filter(|p| p.os != img.os || p.architecture != img.architecture)
            .map(|p| (p.to_string(), format!("{}/{}", img.os, img.architecture)))
    };
    let need_pull = match opts.pull {
        PullPolicy::Always => true,
        PullPolicy::Missing => local.as_ref().is_none_or(|i| mismatch(i).is_some()),
        PullPolicy::Never => false,
    };
    if !need_pull {
        let img = local.ok_or_else(|| {
            kind_err(
                ErrorKind::NotFound,
                format!("No such image: {}", opts.image),
            )
        })?;
        if let Some((want, have)) = mismatch(&img) {
            return Err(kind_err(
                ErrorKind::NotFound,
                format!(
                    "image with reference {} was found but does not match the specified platform: wanted {want}, actual: {have}",
                    opts.image
                ),
            ));
        }
        return Ok(img);
    }
    let refs = crate::image::lookup::candidates(cfg, &opts.image);
    let r = match refs.first() {
        Some(r) => r.clone(),
        None => Reference::parse(&opts.image).with_context(|| format!("run {}", opts.image))?,
    };
    if local.is_none() {
        eprintln!("Unable to find image '{}' locally", r.familiar());
    }
    let progress = Progress::for_stderr(pulling.quiet);
    let popts = PullOptions {
        platform: opts.platform.clone(),
        max_concurrent: 3,
        registry: pulling.registry.clone(),
    };
    let pulled = pull(store, cfg, &r, &popts, &progress)?;
    if !pulling.quiet {
        // Docker prints these on stderr in `run`: stdout is the container's.
        eprintln!("Digest: {}", pulled.digest);
        if pulled.up_to_date {
            eprintln!("Status: Image is up to date for {}", r.familiar());
        } else {
            eprintln!("Status: Downloaded newer image for {}", r.familiar());
        }
    }
    let imgs = store.images()?;
    imgs.into_iter().find(|i| i.id == pulled.id).ok_or_else(|| {
        kind_err(
            ErrorKind::NotFound,
            format!("No such image: {}", opts.image),
        )
    })
}

/// The host side of every mount: bind sources checked (or created, for
/// `-v`), named volumes found or created (and seeded from the image the
/// first time), anonymous volumes made for this container.
fn resolve_mounts(
    store: &Store,
    requests: &[MountRequest],
    layers_top_first: &[PathBuf],
    container_dir: &std::path::Path,
    anonymous: &mut Vec<String>,
    used: &mut Vec<String>,
    shift: &crate::util::idshift::IdShift,
) -> Result<Vec<ResolvedMount>> {
    let mut out = Vec::new();
    for (i, m) in requests.iter().enumerate() {
        let host_path = match m.kind {
            MountKind::Tmpfs => None,
            MountKind::Bind => {
                let src = PathBuf::from(m.source.as_deref().unwrap_or_default());
                if !src.exists() {
                    if !m.create_source {
                        return Err(m.missing_source_error());
                    }
                    crate::util::fs::mkdir_all(&src, 0o755).with_context(|| {
                        format!("create bind source {} for {}", src.display(), m.target)
                    })?;
                }
                Some(src)
            }
            MountKind::Volume => {
                let (name, anon) = match &m.source {
                    Some(n) => (n.clone(), false),
                    None => (crate::cmd::volume::random_name(), true),
                };
                let (rec, created) =
                    store.create_volume(&name, Default::default(), Default::default(), anon)?;
                if anon {
                    anonymous.push(rec.name.clone());
                }
                used.push(rec.name.clone());
                let data = store.volume_data(&rec.name);
                if created {
                    // A new volume is the container's root's to write.
                    super::userns::give_to_root(&[&data], shift)?;
                }
                if created && !m.nocopy {
                    copy_up(
                        layers_top_first,
                        &m.target,
                        &data,
                        &container_dir.join(format!("seed-{i}")),
                        shift,
                    )?;
                }
                Some(data)
            }
        };
        out.push(ResolvedMount {
            request: m.clone(),
            host_path,
        });
    }
    Ok(out)
}

/// `--device`: the host node's type and numbers.
fn resolve_devices(opts: &RunOpts) -> Result<Vec<ResolvedDevice>> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let mut out = Vec::new();
    for d in &opts.devices {
        let meta = std::fs::metadata(&d.host).with_context(|| {
            format!(
                "error gathering device information while adding custom device {:?}",
                d.host
            )
        })?;
        let ft = meta.file_type();
        let typ = if ft.is_char_device() {
            oci_spec::runtime::LinuxDeviceType::C
        } else if ft.is_block_device() {
            oci_spec::runtime::LinuxDeviceType::B
        } else {
            return Err(kind_err(
                ErrorKind::InvalidArgument,
                format!("{} is not a device node", d.host),
            ));
        };
        let rdev = meta.rdev();
        let dev = oci_spec::runtime::LinuxDeviceBuilder::default()
            .path(PathBuf::from(&d.container))
            .typ(typ)
            .major(nix::sys::stat::major(rdev) as i64)
            .minor(nix::sys::stat::minor(rdev) as i64)
            .file_mode(meta.mode() & 0o777)
            .uid(meta.uid())
            .gid(meta.gid())
            .build()
            .context("device")?;
        out.push(ResolvedDevice {
            device: dev,
            host_path: PathBuf::from(&d.host),
            permissions: d.permissions.clone(),
        });
    }
    Ok(out)
}

/// The numbers of the block devices the block I/O limits name, each
/// found by a `stat` of its path.
fn blkio_device_numbers(
    r: &crate::runtime::opts::resources::Resources,
) -> Result<crate::runtime::opts::blkio::DeviceNumbers> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let mut out = crate::runtime::opts::blkio::DeviceNumbers::new();
    for path in r.blkio_paths() {
        let meta = std::fs::metadata(path).map_err(|e| {
            kind_err(
                ErrorKind::InvalidArgument,
                format!("stat {path}: {}", crate::runtime::io_text(&e)),
            )
        })?;
        if !meta.file_type().is_block_device() {
            return Err(kind_err(
                ErrorKind::InvalidArgument,
                format!("stat {path}: not a block device"),
            ));
        }
        let rdev = meta.rdev();
        out.insert(
            path.to_string(),
            (
                nix::sys::stat::major(rdev) as i64,
                nix::sys::stat::minor(rdev) as i64,
            ),
        );
    }
    Ok(out)
}

/// Keep only the capabilities skiff itself may grant: `ALL` and
/// `--privileged` mean every capability this process holds in its bounding
/// set (as Docker's mean the daemon's), not ones the kernel would refuse.
fn clamp_capabilities(spec: &mut oci_spec::runtime::Spec) -> Result<()> {
    let have: std::collections::HashSet<String> = caps::read(None, caps::CapSet::Bounding)
        .context("read the bounding capability set")?
        .iter()
        .map(|c| c.to_string())
        .collect();
    let keep = |set: &Option<oci_spec::runtime::Capabilities>| {
        set.as_ref().map(|s| {
            s.iter()
                .filter(|c| {
                    serde_json::to_value(c)
                        .ok()
                        .and_then(|v| v.as_str().map(|n| have.contains(n)))
                        .unwrap_or(false)
                })
                .copied()
                .collect::<oci_spec::runtime::Capabilities>()
        })
    };
    let Some(process) = spec.process_mut().as_mut() else {
        return Ok(());
    };
    if let Some(c) = process.capabilities().clone() {
        let mut c2 = c.clone();
        c2.set_bounding(keep(c.bounding()));
        c2.set_effective(keep(c.effective()));
        c2.set_permitted(keep(c.permitted()));
        c2.set_inheritable(keep(c.inheritable()));
        c2.set_ambient(keep(c.ambient()));
        process.set_capabilities(Some(c2));
    }
    Ok(())
}

/// Removes a half-made or `--rm` container (and its anonymous volumes)
/// unless disarmed.
pub struct Cleanup<'a> {
    store: &'a Store,
    id: String,
    anonymous: Vec<String>,
    armed: bool,
}

impl Cleanup<'_> {
    /// Keep the container: it is made, and its record tells the rest.
    pub fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Err(e) = self
            .store
            .remove_container_and_volumes(&self.id, &self.anonymous)
        {
            eprintln!("skiff: remove container {}: {e:#}", self.id);
        }
    }
}
