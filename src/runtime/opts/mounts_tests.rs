use super::*;
use crate::error::{kind_of, ErrorKind};

fn cwd() -> &'static Path {
    Path::new("/home/u/proj")
}

fn err(r: Result<MountRequest>) -> String {
    let e = r.unwrap_err();
    assert_eq!(kind_of(&e), Some(ErrorKind::InvalidArgument));
    e.to_string()
}

#[test]
fn volume_flag_bind() {
    let m = parse_volume("/srv/data/:/data:ro,rshared", cwd()).unwrap();
    assert_eq!(m.kind, MountKind::Bind);
    assert_eq!(m.source.as_deref(), Some("/srv/data"));
    assert_eq!(m.target, "/data");
    assert!(m.readonly);
    assert_eq!(m.propagation, Propagation::RShared);
    assert!(m.create_source);
    assert!(m.recursive);
    assert_eq!(m.origin, MountOrigin::VolumeFlag);

    let m = parse_volume("./src:/src", cwd()).unwrap();
    assert_eq!(m.source.as_deref(), Some("/home/u/proj/src"));
    let m = parse_volume(".:/src:z", cwd()).unwrap();
    assert_eq!(m.source.as_deref(), Some("/home/u/proj"));
    assert!(!m.readonly);
}

#[test]
fn volume_flag_named_and_anonymous() {
    let m = parse_volume("cache:/var/cache:nocopy", cwd()).unwrap();
    assert_eq!(m.kind, MountKind::Volume);
    assert_eq!(m.source.as_deref(), Some("cache"));
    assert!(m.nocopy);
    assert!(!m.create_source);

    let m = parse_volume("/data", cwd()).unwrap();
    assert_eq!(m.kind, MountKind::Volume);
    assert_eq!(m.source, None);
    assert_eq!(m.target, "/data");
}

#[test]
fn volume_flag_errors_in_dockers_words() {
    assert_eq!(
        err(parse_volume("", cwd())),
        "invalid volume specification: ''"
    );
    assert_eq!(
        err(parse_volume(":/x", cwd())),
        "invalid volume specification: ':/x'"
    );
    assert_eq!(
        err(parse_volume("/foo:rw", cwd())),
        "invalid volume specification: '/foo:rw'"
    );
    assert_eq!(
        err(parse_volume("a:b:c:d", cwd())),
        "invalid volume specification: 'a:b:c:d'"
    );
    assert_eq!(err(parse_volume("/a:/b:rx", cwd())), "invalid mode: rx");
    assert_eq!(
        err(parse_volume("/a:/b:ro,rw", cwd())),
        "invalid mode: ro,rw"
    );
    assert_eq!(
        err(parse_volume("/a:b", cwd())),
        "invalid volume specification: '/a:b': invalid mount config for type \"bind\": \
         invalid mount path: 'b' mount path must be absolute"
    );
    assert_eq!(
        err(parse_volume("/a:/", cwd())),
        "invalid volume specification: '/a:/': invalid mount config for type \"bind\": \
         invalid specification: destination can't be '/'"
    );
    assert_eq!(
        err(parse_volume("/a:/b:nocopy", cwd())),
        "invalid volume specification: '/a:/b:nocopy': invalid mount config for type \"bind\": \
         field VolumeOptions must not be specified"
    );
    assert_eq!(
        err(parse_volume("vol:/b:shared", cwd())),
        "invalid volume specification: 'vol:/b:shared': invalid mount config for type \"volume\": \
         field BindOptions must not be specified"
    );
    assert!(err(parse_volume("bad name!:/b", cwd()))
        .contains("includes invalid characters for a local volume name"));
    assert!(err(parse_volume("data", cwd())).contains("mount path must be absolute"));
}

#[test]
fn mount_flag_bind_with_aliases() {
    let m = parse_mount(
        "type=bind,src=/host,dst=/ctr,ro,bind-propagation=rslave,bind-nonrecursive",
        cwd(),
    )
    .unwrap();
    assert_eq!(m.kind, MountKind::Bind);
    assert_eq!(m.source.as_deref(), Some("/host"));
    assert_eq!(m.target, "/ctr");
    assert!(m.readonly);
    assert!(!m.recursive);
    assert!(!m.create_source);
    assert_eq!(m.propagation, Propagation::RSlave);
    assert_eq!(m.origin, MountOrigin::MountFlag);

    let m = parse_mount("type=bind,source=.,destination=/w,readonly=false", cwd()).unwrap();
    assert_eq!(m.source.as_deref(), Some("/home/u/proj"));
    assert!(!m.readonly);
    let m = parse_mount("\"type=bind\",\"source=/a,b\",target=/c", cwd()).unwrap();
    assert_eq!(m.source.as_deref(), Some("/a,b"));
}

#[test]
fn mount_flag_volume_and_tmpfs() {
    let m = parse_mount("source=v1,target=/data,volume-nocopy", cwd()).unwrap();
    assert_eq!(m.kind, MountKind::Volume);
    assert_eq!(m.source.as_deref(), Some("v1"));
    assert!(m.nocopy);
    let m = parse_mount("type=volume,target=/anon", cwd()).unwrap();
    assert_eq!(m.source, None);

    let m = parse_mount(
        "type=tmpfs,target=/run,tmpfs-size=64m,tmpfs-mode=1770",
        cwd(),
    )
    .unwrap();
    assert_eq!(m.kind, MountKind::Tmpfs);
    assert_eq!(
        m.tmpfs_options,
        vec![
            "noexec",
            "nosuid",
            "nodev",
            "rprivate",
            "mode=1770",
            "size=64m"
        ]
    );
    let m = parse_mount("type=tmpfs,dst=/t,ro,tmpfs-size=1536k", cwd()).unwrap();
    assert!(m.readonly);
    assert!(m.tmpfs_options.contains(&"ro".to_string()));
    assert!(m.tmpfs_options.contains(&"size=1536k".to_string()));
}

#[test]
fn mount_flag_errors_in_dockers_words() {
    assert_eq!(
        err(parse_mount("type=bind,source=/a", cwd())),
        "target is required"
    );
    assert_eq!(
        err(parse_mount("type=,target=/a", cwd())),
        "type is required"
    );
    assert_eq!(
        err(parse_mount("type=bind,target=/a,bogus", cwd())),
        "invalid field 'bogus' must be a key=value pair"
    );
    assert_eq!(
        err(parse_mount("type=bind,target=/a,color=red", cwd())),
        "unexpected key 'color' in 'color=red'"
    );
    assert_eq!(
        err(parse_mount("type=bind,target=/a,ro=maybe", cwd())),
        "invalid value for ro: maybe"
    );
    assert_eq!(
        err(parse_mount(
            "type=volume,target=/a,bind-propagation=shared",
            cwd()
        )),
        "cannot mix 'bind-*' options with mount type 'volume'"
    );
    assert_eq!(
        err(parse_mount(
            "type=bind,source=/a,target=/b,tmpfs-size=1m",
            cwd()
        )),
        "cannot mix 'tmpfs-*' options with mount type 'bind'"
    );
    assert_eq!(
        err(parse_mount("type=nfs,target=/a", cwd())),
        "invalid mount config for type \"nfs\": mount type unknown"
    );
    assert_eq!(
        err(parse_mount("type=bind,target=/a", cwd())),
        "invalid mount config for type \"bind\": field Source must not be empty"
    );
    assert_eq!(
        err(parse_mount("type=bind,source=rel,target=/a", cwd())),
        "invalid mount config for type \"bind\": invalid mount path: 'rel' mount path must be absolute"
    );
    assert_eq!(
        err(parse_mount("type=tmpfs,source=x,target=/a", cwd())),
        "invalid mount config for type \"tmpfs\": field Source must not be specified"
    );
    assert_eq!(
        err(parse_mount("type=volume,target=/a,ro", cwd())),
        "invalid mount config for type \"volume\": must not set ReadOnly mode when using anonymous volumes"
    );
    assert_eq!(
        err(parse_mount(
            "type=bind,source=/a,target=/b,bind-propagation=sideways",
            cwd()
        )),
        "invalid mount config for type \"bind\": invalid propagation mode: sideways"
    );
    assert_eq!(
        err(parse_mount("type=tmpfs,target=/b,tmpfs-mode=999", cwd())),
        "invalid value for tmpfs-mode: 999"
    );
    assert!(err(parse_mount("type=bind,sou\"rce=/a", cwd())).contains("bare \""));
    let m = parse_mount("type=bind,source=/nope,target=/b", cwd()).unwrap();
    assert_eq!(
        m.missing_source_error().to_string(),
        "invalid mount config for type \"bind\": bind source path does not exist: /nope"
    );
}

#[test]
fn tmpfs_flag_merges_options() {
    let m = parse_tmpfs("/run").unwrap();
    assert_eq!(m.target, "/run");
    assert_eq!(
        m.tmpfs_options,
        vec!["noexec", "nosuid", "nodev", "rprivate"]
    );
    let m = parse_tmpfs("/run:exec,size=1m,size=2m,mode=1777,ro").unwrap();
    assert_eq!(
        m.tmpfs_options,
        vec![
            "nosuid",
            "nodev",
            "rprivate",
            "exec",
            "size=2m",
            "mode=1777",
            "ro"
        ]
    );
    assert!(m.readonly);
    assert_eq!(m.origin, MountOrigin::TmpfsFlag);
    assert!(err(parse_tmpfs("run")).contains("mount path must be absolute"));
    assert!(err(parse_tmpfs("/")).contains("destination can't be '/'"));
    assert_eq!(
        err(parse_tmpfs("/r:bogus")),
        "invalid tmpfs option \"bogus\""
    );
    assert_eq!(
        err(parse_tmpfs("/r:color=red")),
        "invalid tmpfs option \"color=red\""
    );
}

#[test]
fn image_volumes_fill_uncovered_paths() {
    let user = vec![parse_volume("/h:/data", cwd()).unwrap()];
    let extra = image_volumes(["/data", "/logs/", "/logs", "relative", "/"], &user);
    assert_eq!(extra.len(), 1);
    assert_eq!(extra[0].target, "/logs");
    assert_eq!(extra[0].kind, MountKind::Volume);
    assert_eq!(extra[0].source, None);
    assert_eq!(extra[0].origin, MountOrigin::ImageVolume);
}
