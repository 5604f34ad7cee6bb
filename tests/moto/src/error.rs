//! Why a stand-in could not start or answer.

/// Why moto or the proxy could not start, or moto could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// moto could not be started, or did not answer (see `ferry_testkit::launch`).
    #[error(transparent)]
    Launch(#[from] ferry_testkit::launch::Error),
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
