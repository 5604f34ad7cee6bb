//! The `ferry` command: `crd`, `validate`, `render`, `cost`, `capabilities` and `reasons`. The
//! command-line parsing lives in [`cli`]; everything it prints is built by pure functions in
//! [`render`], [`validate`] and [`cost`], so tests call them directly.

pub mod backends;
pub mod cli;
pub mod controller;
pub mod cost;
pub mod input;
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
    /// A file named with `-f` or `--prices` (or standard input) could not be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A file holds more than ferry reads from one file ([`input::MAX_FILE_BYTES`]).
    #[error(
        "{path}: not read: it holds more than {limit}, the most ferry reads from one file; a \
         manifest is far smaller (the API server takes at most 3 MiB in one request)"
    )]
    FileTooLarge {
        /// The file.
        path: String,
        /// The limit, in words.
        limit: String,
    },
    /// The files given hold more than ferry reads in one run ([`input::MAX_TOTAL_BYTES`]).
    #[error(
        "{path}: not read, nor any file after it: the files given hold more than {limit} in \
         all, the most ferry reads in one run; check them a few directories at a time"
    )]
    TotalTooLarge {
        /// The first file not read.
        path: String,
        /// The limit, in words.
        limit: String,
    },
    /// A file is not text: neither UTF-8 nor UTF-16 with a byte-order mark.
    #[error(
        "{path}:{line}:{column}: not UTF-8 text: {why}, at byte offset {offset}; save the file \
         as UTF-8"
    )]
    NotText {
        /// The file.
        path: String,
        /// Line of the first byte that is not text, from 1.
        line: usize,
        /// Its column, in characters, from 1.
        column: usize,
        /// Its offset in the file, in bytes, from 0.
        offset: usize,
        /// What is wrong with it.
        why: String,
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
