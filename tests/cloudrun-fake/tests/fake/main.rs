//! The fake Cloud Run Admin API v2, driven by the real `google-cloud-run-v2` client.
//!
//! One fake serves the whole binary ([`CloudRunFake::shared`]); each test works in a project
//! named after it and looks only at that project's calls, so the tests can run in parallel.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

mod faults;
mod iam;
mod process;
mod services;
mod strictness;
mod support;
