//! Why the fake could not start or answer.

use std::path::PathBuf;

/// Why the fake could not start, or could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Azure definitions the fake checks requests against are not where they were looked for.
    #[error(
        "the Azure definitions are not at {path}: set FERRY_SHARED_DIR to the folder holding \
         data/azure-specs, or Options::specs to the azure-specs folder"
    )]
    Specs {
        /// Where they were looked for.
        path: PathBuf,
    },
    /// The fake could not be started, or did not answer (see `ferry_testkit::launch`).
    #[error(transparent)]
    Launch(#[from] ferry_testkit::launch::Error),
    /// A request to the fake failed, was refused, or was answered with something unexpected.
    #[error("{what} on {endpoint} failed: {message}")]
    Request {
        /// The request.
        what: &'static str,
        /// Where.
        endpoint: String,
        /// Why: the I/O error, or the status and body of the answer.
        message: String,
    },
}
