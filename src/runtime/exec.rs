//! Finding the container's command and wording why it could not run, in
//! Docker's exit-code classes: 127 when it is not there, 126 when it is
//! there but cannot be run.

use crate::error::{kind_err, ErrorKind};
use anyhow::Error;
use std::path::{Path, PathBuf};

/// The search path when the container's environment has no PATH (Docker's
/// and runc's default).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The value of PATH in an environment list (`K=V` entries).
pub fn path_of_env(env: &[String]) -> Option<&str> {
    env.iter().find_map(|e| e.strip_prefix("PATH="))
}

/// Search `path` for `name`, as a shell does: the first directory whose
/// entry `is_executable` approves. An empty entry means the current
/// directory.
pub fn lookup(name: &str, path: &str, is_executable: impl Fn(&Path) -> bool) -> Option<PathBuf> {
    path.split(':')
        .map(|dir| {
            if dir.is_empty() {
                Path::new(".").join(name)
            } else {
                Path::new(dir).join(name)
            }
        })
        .find(|p| is_executable(p))
}

/// The path to execute for `arg0`: itself when it holds a slash, else the
/// first executable regular file of that name along `path`.
pub fn resolve(arg0: &str, path: Option<&str>) -> Result<PathBuf, Error> {
    if arg0.is_empty() {
        return Err(kind_err(
            ErrorKind::CommandNotFound,
            "exec: empty command name",
        ));
    }
    if arg0.contains('/') {
        return Ok(PathBuf::from(arg0));
    }
    lookup(arg0, path.unwrap_or(DEFAULT_PATH), is_executable_file).ok_or_else(|| {
        kind_err(
            ErrorKind::CommandNotFound,
            format!("exec {arg0}: executable file not found in $PATH"),
        )
    })
}

fn is_executable_file(p: &Path) -> bool {
    std::fs::metadata(p).map(|m| m.is_file()).unwrap_or(false)
        && nix::unistd::access(p, nix::unistd::AccessFlags::X_OK).is_ok()
}

/// The error for an `execve` of `path` that failed with `errno`;
/// `is_dir` says whether `path` is a directory (execve says only EACCES).
pub fn exec_failure(path: &Path, errno: i32, is_dir: bool) -> Error {
    let p = path.display();
    let text = super::errno_text(errno);
    match errno {
        libc::ENOENT | libc::ENOTDIR | libc::ELOOP => {
            kind_err(ErrorKind::CommandNotFound, format!("exec {p}: {text}"))
        }
        libc::EACCES if is_dir => {
            kind_err(ErrorKind::CannotInvoke, format!("exec {p}: is a directory"))
        }
        libc::EACCES | libc::ENOEXEC | libc::EISDIR | libc::ETXTBSY | libc::EPERM => {
            kind_err(ErrorKind::CannotInvoke, format!("exec {p}: {text}"))
        }
        _ => anyhow::anyhow!("exec {p}: {text}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::kind_of;

    #[test]
    fn finds_the_first_match_along_path() {
        let have = |p: &Path| p == Path::new("/usr/bin/ls") || p == Path::new("/bin/ls");
        assert_eq!(
            lookup("ls", "/usr/local/bin:/usr/bin:/bin", have),
            Some(PathBuf::from("/usr/bin/ls"))
        );
        assert_eq!(lookup("cat", "/usr/bin:/bin", have), None);
        let here = |p: &Path| p == Path::new("./tool");
        assert_eq!(
            lookup("tool", "/bin::", here),
            Some(PathBuf::from("./tool"))
        );
    }

    #[test]
    fn path_comes_from_the_containers_env() {
        let env = vec!["A=1".to_string(), "PATH=/x:/y".to_string()];
        assert_eq!(path_of_env(&env), Some("/x:/y"));
        assert_eq!(path_of_env(&[]), None);
    }

    #[test]
    fn slash_names_are_taken_as_they_are() {
        assert_eq!(
            resolve("/bin/foo", None).unwrap(),
            PathBuf::from("/bin/foo")
        );
        assert_eq!(resolve("./foo", None).unwrap(), PathBuf::from("./foo"));
        let e = resolve("surely-not-a-command-here", Some("/nonexistent")).unwrap_err();
        assert_eq!(kind_of(&e), Some(ErrorKind::CommandNotFound));
        assert_eq!(
            e.to_string(),
            "exec surely-not-a-command-here: executable file not found in $PATH"
        );
    }

    #[test]
    fn failures_map_to_docker_exit_classes() {
        let e = exec_failure(Path::new("/bin/foo"), libc::ENOENT, false);
        assert_eq!(e.to_string(), "exec /bin/foo: no such file or directory");
        assert_eq!(kind_of(&e), Some(ErrorKind::CommandNotFound));
        let e = exec_failure(Path::new("/etc"), libc::EACCES, true);
        assert_eq!(e.to_string(), "exec /etc: is a directory");
        assert_eq!(kind_of(&e), Some(ErrorKind::CannotInvoke));
        let e = exec_failure(Path::new("/etc/passwd"), libc::EACCES, false);
        assert_eq!(e.to_string(), "exec /etc/passwd: permission denied");
        assert_eq!(kind_of(&e), Some(ErrorKind::CannotInvoke));
        let e = exec_failure(Path::new("/x"), libc::ENOEXEC, false);
        assert_eq!(kind_of(&e), Some(ErrorKind::CannotInvoke));
        let e = exec_failure(Path::new("/x"), libc::ENOMEM, false);
        assert_eq!(kind_of(&e), None);
    }
}
