//! A fake Cloud Run Admin API v2 and Cloud Scheduler API v1, the Google Cloud stand-in of
//! Ferry's Cloud Run tests.
//!
//! No Cloud Run emulator exists, so [`CloudRunFake`] starts `fake.py` on a free port, with the
//! project's virtualenv (`ferry_testkit::python`): a small server that keeps services, jobs,
//! executions, Cloud Scheduler jobs, long-running operations and IAM policies in memory,
//! finishes operations and moves executions on after a few polls, and checks every request
//! against Google's own definitions (the protos of PyPI `google-cloud-run` and
//! `google-cloud-scheduler`), answering 400 `INVALID_ARGUMENT` naming the field for anything
//! Google would refuse to parse. Its admin API counts calls, injects faults ([`Fault`]) and
//! fires scheduler jobs ([`CloudRunFake::fire_schedule`]); see README.md for its behaviour.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use cloudrun_fake::{CloudRunFake, Fault};
//!
//! let fake = CloudRunFake::shared().await?;
//! let project = fake.project("example-project"); // this test's calls and faults
//! // The clients' reqwest has no TLS provider of its own: install ring once per process.
//! let _ = rustls::crypto::ring::default_provider().install_default();
//! let services = google_cloud_run_v2::client::Services::builder()
//!     .with_endpoint(fake.endpoint())
//!     .with_credentials(google_cloud_auth::credentials::anonymous::Builder::new().build())
//!     .build()
//!     .await?;
//!
//! project.fail("CreateService", Fault::Status(429), 1).await?;
//! let refused = services
//!     .create_service()
//!     .set_parent(project.parent("europe-west1"))
//!     .set_service_id("web")
//!     .send()
//!     .await;
//! assert!(refused.is_err());
//! assert_eq!(project.calls().await?.get("CreateService"), Some(&1));
//! # Ok(())
//! # }
//! ```

mod admin;
mod error;
mod fake;

pub use admin::{Fault, Project, Recorded, is_write};
pub use error::Error;
pub use fake::{Answer, CloudRunFake, INSTALL_HINT, Options};
