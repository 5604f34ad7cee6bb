//! Pure logic shared by every Ferry backend: validation with field-level findings, the
//! provider-neutral desired model, the capability table, deterministic external names, the
//! CRD schema check `ferry validate` runs offline, and monthly cost estimates. No I/O.

pub mod backend;
pub mod capabilities;
pub mod cost;
pub mod desired;
mod findings;
pub mod job;
pub mod kube_object;
pub mod limits;
pub mod names;
pub mod quantity;
pub mod schema;
pub mod status;
mod validate;
pub mod yaml;

pub use findings::{Finding, Findings, Invalid, Severity};
pub use validate::{Valid, validate, validate_spec};
