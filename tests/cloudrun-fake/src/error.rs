//! Why the fake could not start or answer.

use std::time::Duration;

use crate::fake::INSTALL_HINT;

/// Why the fake could not start, or could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Python interpreter could not be started.
    #[error(
        "cannot start {python} (FERRY_CLOUDRUN_FAKE_PYTHON chooses another interpreter): \
         {source}; the fake needs: {INSTALL_HINT}"
    )]
    Spawn {
        /// The interpreter.
        python: String,
        /// Why.
        source: std::io::Error,
    },
    /// The fake exited before it answered.
    #[error("the Cloud Run fake exited before it answered ({status}); its last output:\n{log}")]
    Exited {
        /// How it exited.
        status: String,
        /// The end of what it wrote to stderr, and how to install its protos unless that says it.
        log: String,
    },
    /// The fake did not answer in time.
    #[error(
        "the Cloud Run fake did not answer on {endpoint} within {waited:?}; its last output:\n{log}"
    )]
    NotReady {
        /// Where it was asked.
        endpoint: String,
        /// How long.
        waited: Duration,
        /// The end of what it wrote to stderr.
        log: String,
    },
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
    /// A socket could not be set up.
    #[error("cannot {what}: {source}")]
    Setup {
        /// What was being set up.
        what: &'static str,
        /// Why.
        source: std::io::Error,
    },
}
