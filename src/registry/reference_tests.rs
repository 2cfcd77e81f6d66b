//! The tables follow distribution/reference's own tests, adjusted where
//! they exercise its un-normalised `Parse` (skiff always normalises, as
//! `docker pull` does) and where they use sha512 (skiff speaks sha256 only).

use super::*;

const D: &str = "sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";

fn err(s: &str) -> String {
    let e = Reference::parse(s).expect_err(s);
    assert_eq!(
        crate::error::kind_of(&e),
        Some(ErrorKind::InvalidArgument),
        "{s}"
    );
    e.to_string()
}

#[test]
fn valid_names() {
    for s in [
        "docker/docker",
        "library/debian",
        "debian",
        "localhost/library/debian",
        "localhost/debian",
        "LOCALDOMAIN/library/debian",
        "LOCALDOMAIN/debian",
        "docker.io/docker/docker",
        "docker.io/library/debian",
        "docker.io/debian",
        "index.docker.io/docker/docker",
        "index.docker.io/library/debian",
        "index.docker.io/debian",
        "127.0.0.1:5000/docker/docker",
        "127.0.0.1:5000/library/debian",
        "127.0.0.1:5000/debian",
        "192.168.0.1",
        "192.168.0.1:80",
        "192.168.0.1:8/debian",
        "192.168.0.2:25000/debian",
        "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
        "[fc00::1]:5000/docker",
        "[fc00::1]:5000/docker/docker",
        "[fc00:1:2:3:4:5:6:7]:5000/library/debian",
        "docker.io/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
        "Docker/docker",
        "DOCKER/docker",
        // remote names
        "docker-rules/docker",
        "docker---rules/docker",
        "doc/docker",
        "d/docker",
        "jess/t",
        "dock__er/docker",
        "sub-dom1.foo.com/bar/baz/quux:some-long-tag",
        "b.gcr.io/test.example.com/my-app:test.example.com",
        "xn--n3h.com/myimage:xn--n3h.com",
        "foo/foo_bar.com:8080",
        "lowercase:Uppercase",
    ] {
        Reference::parse(s).unwrap_or_else(|e| panic!("{s}: {e:#}"));
    }
}

#[test]
fn invalid_names() {
    for s in [
        "https://github.com/docker/docker",
        "docker/Docker",
        "-docker",
        "-docker/docker",
        "-docker.io/docker/docker",
        "docker///docker",
        "docker.io/docker/Docker",
        "docker.io/docker///docker",
        "[fc00::1]",
        "[fc00::1]:5000",
        "fc00::1:5000/debian",
        "[fe80::1%eth0]:5000/debian",
        "[2001:db8:3:4::192.0.2.33]:5000/debian",
        "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
        "docker-/docker",
        "-docker-/docker",
        "____/____",
        "_docker/_docker",
        "dock..er/docker",
        "dock_.er/docker",
        "dock-.er/docker",
        "docker/",
        "this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255/docker",
        "",
        ":justtag",
        "@sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        "repo@sha256:ffffffffffffffffffffffffffffffffff",
        "validname@invaliddigest:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        "Uppercase:tag",
        "test:5000/Uppercase/lowercase:tag",
        "aa/asdf$$^/aa",
        "[2001:db8::1]",
        "[2001:db8::1]:5000",
        "[2001:db8::1]:tag",
        "[fe80::1%eth0]:5000/repo",
        "[fe80::1%@invalidzone]:5000/repo",
        "a:",
        "a:-tag",
        "a:.tag",
        "a:t$g",
        "a b",
        "a/b c",
        "xn--7o8h.com/myimage:xn--7o8h.com@sha512:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    ] {
        assert!(Reference::parse(s).is_err(), "{s:?} should be invalid");
    }
}

#[test]
fn reasons() {
    assert_eq!(
        err("Busybox"),
        "invalid reference format: repository name must be lowercase"
    );
    assert_eq!(
        err("localhost:5000/Foo"),
        "invalid reference format: repository name must be lowercase"
    );
    assert_eq!(
        err(""),
        "invalid reference format: repository name must have at least one component"
    );
    assert_eq!(
        err(&format!("a:{}", "t".repeat(129))),
        "invalid reference format: tag must not be more than 128 characters"
    );
    assert!(Reference::parse(&format!("a:{}", "t".repeat(128))).is_ok());
    assert!(err("a:b$").contains("invalid tag"));
    assert!(err("a//b").contains("empty component"));
    assert!(err("a@sha256:123").contains("invalid digest"));
    assert!(err("a@md5:123").contains("unsupported algorithm"));
    assert!(err("-a.b:5000/x").contains("invalid registry host"));
    assert!(err(&"a".repeat(64).replace('a', "b")).contains("64-byte hexadecimal"));
    assert!(err(&format!("example.com/{}:tag", "a/".repeat(127) + "a"))
        .contains("must not be more than 255 characters"));
}

#[test]
fn name_length_limit() {
    // 255 characters in all, domain included, is the most allowed.
    let path = "a/".repeat(121) + "a";
    let r = Reference::parse(&format!("example.com/{path}:tag")).unwrap();
    assert_eq!(r.name().len(), 255);
    let path = "a/".repeat(122);
    assert!(Reference::parse(&format!("example.com/{path}a:tag")).is_err());
}

/// (input, domain, path, tag, digest)
type Case<'a> = (&'a str, &'a str, &'a str, Option<&'a str>, Option<&'a str>);

#[test]
fn parts() {
    let d = Some(D);
    let cases: &[Case] = &[
        (
            "busybox",
            "docker.io",
            "library/busybox",
            Some("latest"),
            None,
        ),
        (
            "test_com",
            "docker.io",
            "library/test_com",
            Some("latest"),
            None,
        ),
        (
            "test.com:tag",
            "docker.io",
            "library/test.com",
            Some("tag"),
            None,
        ),
        (
            "test.com:5000",
            "docker.io",
            "library/test.com",
            Some("5000"),
            None,
        ),
        ("test.com/repo:tag", "test.com", "repo", Some("tag"), None),
        ("test:5000/repo", "test:5000", "repo", Some("latest"), None),
        ("test:5000/repo:tag", "test:5000", "repo", Some("tag"), None),
        (&format!("test:5000/repo@{D}"), "test:5000", "repo", None, d),
        (
            &format!("test:5000/repo:tag@{D}"),
            "test:5000",
            "repo",
            Some("tag"),
            d,
        ),
        (
            "lowercase:Uppercase",
            "docker.io",
            "library/lowercase",
            Some("Uppercase"),
            None,
        ),
        (
            "sub-dom1.foo.com/bar/baz/quux",
            "sub-dom1.foo.com",
            "bar/baz/quux",
            Some("latest"),
            None,
        ),
        (
            "b.gcr.io/test.example.com/my-app:test.example.com",
            "b.gcr.io",
            "test.example.com/my-app",
            Some("test.example.com"),
            None,
        ),
        (
            "xn--n3h.com/myimage:xn--n3h.com",
            "xn--n3h.com",
            "myimage",
            Some("xn--n3h.com"),
            None,
        ),
        (
            "foo_bar.com:8080",
            "docker.io",
            "library/foo_bar.com",
            Some("8080"),
            None,
        ),
        (
            "foo/foo_bar.com:8080",
            "docker.io",
            "foo/foo_bar.com",
            Some("8080"),
            None,
        ),
        (
            "192.168.1.1",
            "docker.io",
            "library/192.168.1.1",
            Some("latest"),
            None,
        ),
        (
            "192.168.1.1:tag",
            "docker.io",
            "library/192.168.1.1",
            Some("tag"),
            None,
        ),
        (
            "192.168.1.1/repo",
            "192.168.1.1",
            "repo",
            Some("latest"),
            None,
        ),
        (
            "192.168.1.1:5000/repo:5050",
            "192.168.1.1:5000",
            "repo",
            Some("5050"),
            None,
        ),
        (
            "[2001:db8::1]/repo",
            "[2001:db8::1]",
            "repo",
            Some("latest"),
            None,
        ),
        (
            "[2001:db8:1:2:3:4:5:6]/repo:tag",
            "[2001:db8:1:2:3:4:5:6]",
            "repo",
            Some("tag"),
            None,
        ),
        (
            "[2001:db8::1]:5000/repo",
            "[2001:db8::1]:5000",
            "repo",
            Some("latest"),
            None,
        ),
        (
            &format!("[2001:db8::1]:5000/repo:tag@{D}"),
            "[2001:db8::1]:5000",
            "repo",
            Some("tag"),
            d,
        ),
        (
            "[2001:db8::]:5000/repo",
            "[2001:db8::]:5000",
            "repo",
            Some("latest"),
            None,
        ),
        (
            "[::1]:5000/repo",
            "[::1]:5000",
            "repo",
            Some("latest"),
            None,
        ),
        (
            "test-com:8080/foo",
            "test-com:8080",
            "foo",
            Some("latest"),
            None,
        ),
        (
            "docker/migrator",
            "docker.io",
            "docker/migrator",
            Some("latest"),
            None,
        ),
        (
            "docker.io/foo",
            "docker.io",
            "library/foo",
            Some("latest"),
            None,
        ),
        (
            "docker.io/library/foo/bar",
            "docker.io",
            "library/foo/bar",
            Some("latest"),
            None,
        ),
        (
            "index.docker.io/foo",
            "docker.io",
            "library/foo",
            Some("latest"),
            None,
        ),
        ("localhost/foo", "localhost", "foo", Some("latest"), None),
        (
            "localhost:5000/a/b:t",
            "localhost:5000",
            "a/b",
            Some("t"),
            None,
        ),
        ("Foo/bar", "Foo", "bar", Some("latest"), None),
        (
            "docker.io/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
            "docker.io",
            "library/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
            Some("latest"),
            None,
        ),
    ];
    for (input, domain, path, tag, digest) in cases {
        let r = Reference::parse(input).unwrap_or_else(|e| panic!("{input}: {e:#}"));
        assert_eq!(r.domain, *domain, "{input}");
        assert_eq!(r.path, *path, "{input}");
        assert_eq!(r.tag.as_deref(), *tag, "{input}");
        assert_eq!(r.digest.as_ref().map(|d| d.as_str()), *digest, "{input}");
        // The full form parses back to the same reference.
        assert_eq!(Reference::parse(&r.to_string()).unwrap(), r, "{input}");
        assert_eq!(Reference::parse(&r.familiar()).unwrap(), r, "{input}");
    }
}

/// (input, full name, familiar name) from distribution's repository-info table
#[test]
fn familiar_and_full() {
    for (input, full, familiar) in [
        ("fooo/bar", "docker.io/fooo/bar", "fooo/bar"),
        ("index.docker.io/fooo/bar", "docker.io/fooo/bar", "fooo/bar"),
        ("library/ubuntu", "docker.io/library/ubuntu", "ubuntu"),
        ("ubuntu", "docker.io/library/ubuntu", "ubuntu"),
        (
            "nonlibrary/ubuntu",
            "docker.io/nonlibrary/ubuntu",
            "nonlibrary/ubuntu",
        ),
        ("other/library", "docker.io/other/library", "other/library"),
        (
            "127.0.0.1:8000/private/moonbase",
            "127.0.0.1:8000/private/moonbase",
            "127.0.0.1:8000/private/moonbase",
        ),
        (
            "127.0.0.1:8000/privatebase",
            "127.0.0.1:8000/privatebase",
            "127.0.0.1:8000/privatebase",
        ),
        (
            "example.com/private/moonbase",
            "example.com/private/moonbase",
            "example.com/private/moonbase",
        ),
        (
            "example.com:8000/privatebasee",
            "example.com:8000/privatebasee",
            "example.com:8000/privatebasee",
        ),
        (
            "docker.io/library/ubuntu-12.04-base",
            "docker.io/library/ubuntu-12.04-base",
            "ubuntu-12.04-base",
        ),
        ("docker.io/foo", "docker.io/library/foo", "foo"),
        (
            "library/foo/bar",
            "docker.io/library/foo/bar",
            "library/foo/bar",
        ),
        ("store/foo/bar", "docker.io/store/foo/bar", "store/foo/bar"),
        ("Foo/bar", "Foo/bar", "Foo/bar"),
        ("FOO/bar", "FOO/bar", "FOO/bar"),
    ] {
        let r = Reference::parse(input).unwrap();
        assert_eq!(r.name(), full, "{input}");
        assert_eq!(r.familiar_name(), familiar, "{input}");
    }
}

#[test]
fn display_and_familiar() {
    let r = Reference::parse("busybox").unwrap();
    assert_eq!(r.to_string(), "docker.io/library/busybox:latest");
    assert_eq!(r.familiar(), "busybox:latest");
    assert_eq!(r.familiar_name(), "busybox");
    assert_eq!(r.name(), "docker.io/library/busybox");
    assert_eq!(r.reference(), "latest");
    assert_eq!(r.api_host(), "registry-1.docker.io");

    let r = Reference::parse(&format!("busybox:latest@{D}")).unwrap();
    assert_eq!(
        r.to_string(),
        format!("docker.io/library/busybox:latest@{D}")
    );
    assert_eq!(r.familiar(), format!("busybox:latest@{D}"));
    assert_eq!(r.reference(), D);

    let r = Reference::parse(&format!("host:5000/a/b@{D}")).unwrap();
    assert_eq!(r.tag, None);
    assert_eq!(r.to_string(), format!("host:5000/a/b@{D}"));
    assert_eq!(r.familiar(), format!("host:5000/a/b@{D}"));
    assert_eq!(r.api_host(), "host:5000");

    let r: Reference = "myreg:5000/a/b:t".parse().unwrap();
    assert_eq!(r.familiar(), "myreg:5000/a/b:t");
}

#[test]
fn with_tag_and_digest() {
    let d = Digest::parse(D).unwrap();
    let r = Reference::parse("test.com:8000/foo").unwrap();
    assert_eq!(r.with_tag("TAG5").to_string(), "test.com:8000/foo:TAG5");
    let pinned = r.with_digest(&d);
    assert_eq!(pinned.to_string(), format!("test.com:8000/foo:latest@{D}"));
    assert_eq!(
        pinned.with_tag("t").to_string(),
        format!("test.com:8000/foo:t@{D}")
    );
    assert_eq!(
        pinned.without_digest().to_string(),
        "test.com:8000/foo:latest"
    );
    assert!(validate_tag("-foo").is_err());
    assert!(validate_tag("v1.0_rc-2").is_ok());
}

#[test]
fn other_default_domain() {
    let r = Reference::parse_with_domain("foo", "quay.io").unwrap();
    assert_eq!(r.to_string(), "quay.io/foo:latest");
    let r = Reference::parse_with_domain("docker.io/foo", "quay.io").unwrap();
    assert_eq!(r.to_string(), "docker.io/library/foo:latest");
    let r = Reference::parse_with_domain("a/b", "quay.io").unwrap();
    assert_eq!(r.to_string(), "quay.io/a/b:latest");
}

#[test]
fn has_domain() {
    assert!(Reference::has_domain("localhost/a"));
    assert!(Reference::has_domain("host:5000/a"));
    assert!(Reference::has_domain("example.com/a"));
    assert!(Reference::has_domain("Foo/a"));
    assert!(!Reference::has_domain("localhost"));
    assert!(!Reference::has_domain("example.com"));
    assert!(!Reference::has_domain("user/app"));
    assert!(!Reference::has_domain("busybox:1.36"));
}

#[test]
fn serde_as_string() {
    let r = Reference::parse("busybox").unwrap();
    let j = serde_json::to_string(&r).unwrap();
    assert_eq!(j, "\"docker.io/library/busybox:latest\"");
    assert_eq!(serde_json::from_str::<Reference>(&j).unwrap(), r);
    assert!(serde_json::from_str::<Reference>("\"Bad\"").is_err());
}
