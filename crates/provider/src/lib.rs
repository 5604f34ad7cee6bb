//! The contract every Ferry backend implements (Crossplane's external-client contract in Rust):
//! a `Connector` that resolves a backend and its credentials per object, and an
//! `ExternalClient` whose `observe` never mutates, `create` runs only after `Absent`, `update`
//! only when not up to date, and `delete` is idempotent.
//!
//! The contract and its in-memory fake backend arrive with the controller (issue 5); this crate
//! holds the place in the dependency order `api <- core <- provider <- provider-* <- controller`.
