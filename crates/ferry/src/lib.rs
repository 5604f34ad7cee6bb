//! The `ferry` command: `crd`, `validate`, `render`, `cost`, `capabilities` and `reasons`. The
//! command-line parsing lives in [`cli`]; everything it prints is built by pure functions in
//! [`render`], [`validate`] and [`cost`], so tests call them directly.

pub mod backends;
pub mod cli;
pub mod controller;
pub mod cost;
pub mod manifest;
pub mod render;
pub mod validate;

/// What can go wrong running a command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Output could not be rendered.
    #[error("could not render output: {0}")]
    Render(String),
    /// A price table given with `--prices` cannot be used.
    #[error("{0}")]
    Prices(#[from] ferry_core::cost::PriceError),
    /// This build's list of backends is broken (a test keeps it whole).
    #[error("{0}")]
    Registry(#[from] ferry_provider::backend::RegistryError),
}
