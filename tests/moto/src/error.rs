//! Why a stand-in could not start or answer.

use std::time::Duration;

use crate::moto::INSTALL_HINT;

/// Why moto or the proxy could not start, or moto could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Python interpreter could not be started.
    #[error(
        "cannot start {python} (FERRY_MOTO_PYTHON chooses another interpreter): {source}; \
         moto is installed with: {INSTALL_HINT}"
    )]
    Spawn {
        /// The interpreter.
        python: String,
        /// Why.
        source: std::io::Error,
    },
    /// moto exited before it answered.
    #[error("moto exited before it answered ({status}); its last output:\n{log}")]
    Exited {
        /// How it exited.
        status: String,
        /// The end of what it wrote to stderr, and how to install moto unless that says it.
        log: String,
    },
    /// moto did not answer in time.
    #[error("moto did not answer on {endpoint} within {waited:?}; its last output:\n{log}")]
    NotReady {
        /// Where it was asked.
        endpoint: String,
        /// How long.
        waited: Duration,
        /// The end of what it wrote to stderr.
        log: String,
    },
    /// A request to moto failed or was refused.
    #[error("{what} on {endpoint} failed: {message}")]
    Request {
        /// The request.
        what: &'static str,
        /// Where.
        endpoint: String,
        /// Why: the I/O error, or the status and body of the answer.
        message: String,
    },
    /// The upstream given to the proxy is not an `http://host:port` address.
    #[error("the proxy needs an upstream like http://127.0.0.1:5000, not {0:?}")]
    Upstream(String),
    /// A socket, thread or runtime could not be set up.
    #[error("cannot {what}: {source}")]
    Setup {
        /// What was being set up.
        what: &'static str,
        /// Why.
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn setup(what: &'static str) -> impl FnOnce(std::io::Error) -> Self {
        move |source| Self::Setup { what, source }
    }
}
