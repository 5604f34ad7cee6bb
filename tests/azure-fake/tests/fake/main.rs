//! The fake Azure Resource Manager at the HTTP level: what it accepts and refuses, how its
//! long-running operations, revisions, failures, faults and tokens behave.
//!
//! One fake serves the whole binary ([`azure_fake::AzureFake::shared`]); each test works in a
//! subscription named after it and looks only at that subscription's calls, so the tests can
//! run in parallel.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

mod auth;
mod container_apps;
mod container_groups;
mod faults;
mod jobs;
mod process;
mod storages;
mod strictness;
mod support;
