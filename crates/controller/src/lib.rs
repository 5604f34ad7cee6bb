//! The Ferry reconciler: a kube-runtime `Controller` over `ServerlessService`, the finalizer,
//! the error policy, Events, metrics, leader election and the server-side-apply status write.
//!
//! It arrives with issue 5; this crate holds its place in the dependency order
//! `api <- core <- provider <- provider-* <- controller <- ferry`.
