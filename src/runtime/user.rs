//! Resolving `-u name|uid[:group|gid]` against the image's `/etc/passwd`
//! and `/etc/group` contents, with the rules runc and Docker apply.

use crate::error::{kind_err, ErrorKind};
use anyhow::Result;

/// Who the container's process runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups: the user's memberships in `/etc/group` (when
    /// no group was named), then `--group-add`'s.
    pub additional_gids: Vec<u32>,
    /// From the passwd entry; `/` when there is none.
    pub home: String,
    /// The passwd entry's name, when one matched.
    pub name: Option<String>,
}

/// Ids above this are refused, as runc does (they do not survive the
/// kernel's signed conversions).
const MAX_ID: u64 = i32::MAX as u64;

fn range_err() -> anyhow::Error {
    kind_err(
        ErrorKind::InvalidArgument,
        format!("uids and gids must be in range 0-{MAX_ID}"),
    )
}

fn user_not_found(name: &str) -> anyhow::Error {
    kind_err(
        ErrorKind::InvalidArgument,
        format!("unable to find user {name}: no matching entries in passwd file"),
    )
}

fn group_not_found(name: &str) -> anyhow::Error {
    kind_err(
        ErrorKind::InvalidArgument,
        format!("unable to find group {name}: no matching entries in group file"),
    )
}

/// A number that names an id, or `None` when it is a name; a number out of
/// range is an error.
fn numeric_id(s: &str) -> Result<Option<u32>> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    match s.parse::<u64>() {
        Ok(n) if n <= MAX_ID => Ok(Some(n as u32)),
        _ => Err(range_err()),
    }
}

struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

struct GroupEntry<'a> {
    name: &'a str,
    gid: u32,
    members: Vec<&'a str>,
}

/// The entries of a passwd file (`name:pw:uid:gid:gecos:home:shell`);
/// comments and lines whose ids do not parse are skipped.
fn passwd_entries(contents: &str) -> impl Iterator<Item = PasswdEntry<'_>> {
    contents.lines().filter_map(|line| {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return None;
        }
        let f: Vec<&str> = line.split(':').collect();
        Some(PasswdEntry {
            name: f[0],
            uid: f.get(2)?.parse().ok()?,
            gid: f.get(3)?.parse().ok()?,
            home: f.get(5).copied().unwrap_or(""),
        })
    })
}

/// The entries of a group file (`name:pw:gid:member,member`).
fn group_entries(contents: &str) -> impl Iterator<Item = GroupEntry<'_>> {
    contents.lines().filter_map(|line| {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return None;
        }
        let f: Vec<&str> = line.split(':').collect();
        Some(GroupEntry {
            name: f[0],
            gid: f.get(2)?.parse().ok()?,
            members: f
                .get(3)
                .map(|m| m.split(',').filter(|m| !m.is_empty()).collect())
                .unwrap_or_default(),
        })
    })
}

/// Resolve a user spec (`""` for the default, root) the way runc's
/// `GetExecUser` does: a numeric uid needs no passwd entry (its gid is then
/// 0 unless given); a name must have one; `:group` picks the primary group
/// (numeric needs no entry) and then no supplementary groups are read;
/// without it the user's memberships in `/etc/group` become supplementary
/// groups. `passwd`/`group` are the image's files, `None` when absent.
pub fn resolve_user(spec: &str, passwd: Option<&str>, group: Option<&str>) -> Result<ResolvedUser> {
    let (user_arg, group_arg) = spec.split_once(':').unwrap_or((spec, ""));
    let uid_arg = numeric_id(user_arg)?;
    let gid_arg = numeric_id(group_arg)?;
    let mut out = ResolvedUser {
        uid: 0,
        gid: 0,
        additional_gids: Vec::new(),
        home: "/".into(),
        name: None,
    };

    let matched = passwd.and_then(|p| {
        passwd_entries(p).find(|u| match (user_arg, uid_arg) {
            ("", _) => u.uid == 0,
            (_, Some(uid)) => u.uid == uid,
            (name, None) => u.name == name,
        })
    });
    match (matched, uid_arg) {
        (Some(u), _) => {
            out.uid = u.uid;
            out.gid = u.gid;
            if !u.home.is_empty() {
                out.home = u.home.to_string();
            }
            out.name = Some(u.name.to_string());
        }
        (None, Some(uid)) => out.uid = uid,
        (None, None) if user_arg.is_empty() => {}
        (None, None) => return Err(user_not_found(user_arg)),
    }

    if !group_arg.is_empty() {
        let found = group.and_then(|g| {
            group_entries(g).find(|e| match gid_arg {
                Some(gid) => e.gid == gid,
                None => e.name == group_arg,
            })
        });
        out.gid = match (found, gid_arg) {
            (Some(e), _) => e.gid,
            (None, Some(gid)) => gid,
            (None, None) => return Err(group_not_found(group_arg)),
        };
    } else if let (Some(name), Some(g)) = (&out.name, group) {
        out.additional_gids = group_entries(g)
            .filter(|e| e.members.contains(&name.as_str()))
            .map(|e| e.gid)
            .collect();
    }
    Ok(out)
}

/// Add `--group-add` groups (names looked up in the image's `/etc/group`,
/// numbers taken as they are), skipping ones already there.
pub fn add_groups(
    user: &mut ResolvedUser,
    group_add: &[String],
    group: Option<&str>,
) -> Result<()> {
    for g in group_add {
        let gid = match group
            .and_then(|c| group_entries(c).find(|e| e.name == g || e.gid.to_string() == *g))
        {
            Some(e) => e.gid,
            None => numeric_id(g)?.ok_or_else(|| group_not_found(g))?,
        };
        if !user.additional_gids.contains(&gid) {
            user.additional_gids.push(gid);
        }
    }
    Ok(())
}

/// The image's passwd file with an entry for `name` (`uid`, `gid`, home
/// `/`) added when none has that uid: `--userns=keep-id` runs the command
/// as the caller's ids, which then have a name inside too. `None` when an
/// entry already has the uid.
pub fn passwd_with(passwd: Option<&str>, name: &str, uid: u32, gid: u32) -> Option<String> {
    let text = passwd.unwrap_or("");
    if passwd_entries(text).any(|e| e.uid == uid) {
        return None;
    }
    Some(appended(
        text,
        &format!("{name}:*:{uid}:{gid}:{name}:/:/bin/sh"),
    ))
}

/// The image's group file with group `name` (`gid`) added when none has
/// that gid; `None` when one already does.
pub fn group_with(group: Option<&str>, name: &str, gid: u32) -> Option<String> {
    let text = group.unwrap_or("");
    if group_entries(text).any(|e| e.gid == gid) {
        return None;
    }
    Some(appended(text, &format!("{name}:x:{gid}:")))
}

fn appended(text: &str, line: &str) -> String {
    let mut out = text.to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(line);
    out.push('\n');
    out
}

/// The user spec a container runs with: `-u` if given, else the image's
/// `User`, else root.
pub fn user_spec<'a>(flag: Option<&'a str>, image_user: Option<&'a str>) -> &'a str {
    flag.filter(|s| !s.is_empty()).or(image_user).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::kind_of;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
        # a comment\n\
        daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
        app:x:1000:1000:App:/home/app:/bin/sh\n\
        nohome:x:1001:1001::::\n";
    const GROUP: &str = "root:x:0:root\n\
        wheel:x:10:root,app\n\
        app:x:1000:\n\
        staff:x:50:app\n\
        audio:x:29:\n";

    #[test]
    fn default_is_root_with_its_groups_and_home() {
        let u = resolve_user("", Some(PASSWD), Some(GROUP)).unwrap();
        assert_eq!((u.uid, u.gid), (0, 0));
        assert_eq!(u.home, "/root");
        assert_eq!(u.additional_gids, vec![0, 10]);
        assert_eq!(u.name.as_deref(), Some("root"));
        // No passwd file at all: still root, home `/`.
        let u = resolve_user("", None, None).unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (0, 0, "/"));
    }

    #[test]
    fn names_need_entries_numbers_do_not() {
        let u = resolve_user("app", Some(PASSWD), Some(GROUP)).unwrap();
        assert_eq!((u.uid, u.gid), (1000, 1000));
        assert_eq!(u.home, "/home/app");
        assert_eq!(u.additional_gids, vec![10, 50]);

        let u = resolve_user("1000", Some(PASSWD), Some(GROUP)).unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (1000, 1000, "/home/app"));

        let u = resolve_user("4242", Some(PASSWD), Some(GROUP)).unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (4242, 0, "/"));
        assert!(u.additional_gids.is_empty());
        assert_eq!(u.name, None);

        let u = resolve_user("nohome", Some(PASSWD), None).unwrap();
        assert_eq!(u.home, "/");

        let e = resolve_user("ghost", Some(PASSWD), Some(GROUP)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "unable to find user ghost: no matching entries in passwd file"
        );
        assert_eq!(kind_of(&e), Some(ErrorKind::InvalidArgument));
        // An image without /etc/passwd cannot resolve a name either.
        assert!(resolve_user("app", None, None).is_err());
        assert!(resolve_user("77", None, None).is_ok());
    }

    #[test]
    fn explicit_groups_replace_memberships() {
        let u = resolve_user("app:staff", Some(PASSWD), Some(GROUP)).unwrap();
        assert_eq!((u.uid, u.gid), (1000, 50));
        assert!(u.additional_gids.is_empty());

        let u = resolve_user("app:777", Some(PASSWD), Some(GROUP)).unwrap();
        assert_eq!(u.gid, 777);
        let u = resolve_user("5:6", None, None).unwrap();
        assert_eq!((u.uid, u.gid), (5, 6));

        let e = resolve_user("app:ghosts", Some(PASSWD), Some(GROUP)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "unable to find group ghosts: no matching entries in group file"
        );
        let e = resolve_user("3000000000", None, None).unwrap_err();
        assert_eq!(e.to_string(), "uids and gids must be in range 0-2147483647");
    }

    #[test]
    fn group_add_by_name_or_id() {
        let mut u = resolve_user("app", Some(PASSWD), Some(GROUP)).unwrap();
        add_groups(
            &mut u,
            &["audio".into(), "50".into(), "9999".into(), "wheel".into()],
            Some(GROUP),
        )
        .unwrap();
        assert_eq!(u.additional_gids, vec![10, 50, 29, 9999]);
        let e = add_groups(&mut u, &["video".into()], Some(GROUP)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "unable to find group video: no matching entries in group file"
        );
        add_groups(&mut u, &["44".into()], None).unwrap();
        assert!(u.additional_gids.contains(&44));
    }

    #[test]
    fn keep_id_names_the_callers_ids_once() {
        let p = passwd_with(Some(PASSWD), "ci", 2001, 2001).unwrap();
        assert!(p.starts_with(PASSWD));
        assert!(p.ends_with("ci:*:2001:2001:ci:/:/bin/sh\n"));
        let u = resolve_user("2001", Some(&p), None).unwrap();
        assert_eq!(u.name.as_deref(), Some("ci"));
        // Already there: left as it is.
        assert_eq!(passwd_with(Some(PASSWD), "ci", 1000, 1000), None);
        assert_eq!(
            passwd_with(None, "ci", 7, 7).unwrap(),
            "ci:*:7:7:ci:/:/bin/sh\n"
        );
        let g = group_with(Some("root:x:0:"), "ci", 1001).unwrap();
        assert_eq!(g, "root:x:0:\nci:x:1001:\n");
        assert_eq!(group_with(Some(GROUP), "ci", 1000), None);
    }

    #[test]
    fn spec_precedence() {
        assert_eq!(user_spec(Some("app"), Some("1000")), "app");
        assert_eq!(user_spec(None, Some("1000")), "1000");
        assert_eq!(user_spec(Some(""), Some("1000")), "1000");
        assert_eq!(user_spec(None, None), "");
    }
}
