//! Test support shared by Ferry's tests:
//!
//! - [`python`]: the project's own virtualenv (`target/python/venv`) with the pinned Python
//!   packages of `requirements.txt`, made on first use, which every Python stand-in and checker
//!   runs;
//! - [`launch`]: a Python stand-in (moto, the fake Cloud Run API) started on a free port;
//! - [`http`]: one HTTP/1 exchange with such a stand-in;
//! - [`Snapshots`]: committed snapshot files that `FERRY_BLESS=1` rewrites;
//! - [`Checker`]: request checkers written in Python against a provider's own definitions
//!   (botocore's service models, Google's protos);
//! - `builders` (feature `builders`): what the backends' builder tests share.
//!
//! Everything here fails with a message saying what to do; nothing skips.

#[cfg(feature = "builders")]
pub mod builders;
mod checker;
pub mod http;
pub mod launch;
pub mod python;
mod snapshots;

pub use checker::{Checker, Verdict};
pub use snapshots::{Snapshots, blessing, yaml_documents};
