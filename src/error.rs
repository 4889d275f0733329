//! The application error type. Library code returns DataFusion's errors; this
//! type adds what the binary needs to report them: the file and the position.

use std::path::PathBuf;

use datafusion::error::DataFusionError;

/// Errors of the `finsight` binary and its entry points.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A query or statement failed inside DataFusion.
    #[error("{}", .0.strip_backtrace())]
    DataFusion(#[from] DataFusionError),
    /// A file could not be read or written.
    #[error("cannot {action} {}: {source}", .path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// Invalid command-line use or configuration.
    #[error("{0}")]
    Usage(String),
    /// One or more statements or assertions of a script failed (already reported).
    #[error("{0}")]
    ScriptFailed(String),
}

impl Error {
    /// Wraps an I/O error with what was being done and to which path.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// Process exit code, following ripgrep: 1 for a failed query or
    /// assertion, 2 for usage and I/O errors.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::DataFusion(_) | Self::ScriptFailed(_) => 1,
            Self::Io { .. } | Self::Usage(_) => 2,
        }
    }
}

impl From<datafusion::arrow::error::ArrowError> for Error {
    fn from(e: datafusion::arrow::error::ArrowError) -> Self {
        Self::DataFusion(DataFusionError::ArrowError(Box::new(e), None))
    }
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
