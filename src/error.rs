//! The error kinds that decide skiff's exit code.
//!
//! An error is an `anyhow::Error`; where the kind matters, a [`KindError`]
//! rides somewhere in its chain and `main.rs` maps it to an exit code
//! (Docker's table: 125 for skiff's own failures, 126 when the command
//! cannot be invoked, 127 when it is not found).

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// An image, container, volume, ... that does not exist.
    NotFound,
    /// A name or tag that is taken.
    AlreadyExists,
    /// The object exists but is in the wrong state for the operation.
    InvalidState,
    /// A flag or argument the user gave is wrong.
    InvalidArgument,
    /// Credentials refused by a registry (401/403).
    Unauthorized,
    /// Data that failed verification (digest, size, format).
    Corrupt,
    /// The container command exists but cannot be run (Docker's 126).
    CannotInvoke,
    /// The container command does not exist (Docker's 127).
    CommandNotFound,
}

impl ErrorKind {
    /// The process exit code for an error of this kind.
    pub fn exit_code(self) -> i32 {
        match self {
            ErrorKind::CannotInvoke => 126,
            ErrorKind::CommandNotFound => 127,
            _ => 125,
        }
    }
}

/// An error that carries its [`ErrorKind`].
#[derive(Debug)]
pub struct KindError {
    pub kind: ErrorKind,
    pub msg: String,
}

impl fmt::Display for KindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for KindError {}

/// Build an `anyhow::Error` of a kind: `kind_err(ErrorKind::NotFound, format!(..))`.
pub fn kind_err(kind: ErrorKind, msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(KindError {
        kind,
        msg: msg.into(),
    })
}

/// The kind of an error: the first [`KindError`] found in its chain.
pub fn kind_of(err: &anyhow::Error) -> Option<ErrorKind> {
    err.chain()
        .find_map(|e| e.downcast_ref::<KindError>())
        .map(|k| k.kind)
}

/// Return early with an error of a kind.
#[macro_export]
macro_rules! bail_kind {
    ($kind:ident, $($arg:tt)*) => {
        return Err($crate::error::kind_err($crate::error::ErrorKind::$kind, format!($($arg)*)))
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn exit_codes_follow_docker() {
        assert_eq!(ErrorKind::NotFound.exit_code(), 125);
        assert_eq!(ErrorKind::InvalidArgument.exit_code(), 125);
        assert_eq!(ErrorKind::CannotInvoke.exit_code(), 126);
        assert_eq!(ErrorKind::CommandNotFound.exit_code(), 127);
    }

    #[test]
    fn kind_survives_context() {
        let e: anyhow::Result<()> =
            Err(kind_err(ErrorKind::NotFound, "no such image: x")).context("pull x");
        let e = e.unwrap_err();
        assert_eq!(kind_of(&e), Some(ErrorKind::NotFound));
        assert_eq!(format!("{e:#}"), "pull x: no such image: x");
    }
}
