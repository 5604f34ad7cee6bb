//! Why the fake could not start or answer.

/// Why the fake could not start, or could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum Error {
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
