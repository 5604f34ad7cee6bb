//! The contract every Ferry backend implements: Crossplane's external-client contract in Rust.
//!
//! A [`Connector`] resolves the backend and its credentials for one object; the
//! [`ExternalClient`] it returns observes without mutating, creates only after
//! [`Observation::Absent`], updates only when not up to date, and deletes idempotently. Long
//! operations are started, never awaited: observe reports them as
//! [`Readiness::Progressing`] and the controller polls. Errors are classified so the controller
//! knows whether to retry soon, back off, or wait for a change.
//!
//! [`backend`] is the descriptor each backend crate implements and the [`backend::Registry`]
//! the binary lists them in; [`fake`] is an in-memory backend for controller tests.

pub mod backend;
pub mod cluster_volumes;
pub mod fake;
pub mod in_cluster;
pub mod job;
pub mod provider_config;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ferry_api::conditions::reasons;
use ferry_api::{ProviderConfig, ServerlessJob, ServerlessService};
use ferry_core::desired::{Desired, ObjectRef};
pub use ferry_core::status::{Outputs, Readiness};

/// What exists at the provider for one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observation {
    /// Nothing: create it.
    Absent,
    /// It exists.
    Present {
        /// Whether it matches the desired state; update it when not.
        up_to_date: bool,
        /// How the provider reports it.
        readiness: Readiness,
        /// What the provider reports, for status.
        outputs: Outputs,
    },
}

/// What a create or update left running at the provider.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Started {
    /// A long-running operation to poll (Cloud Run): recorded in `status.operation`, and
    /// handed back to the backend by the next reconcile, which polls it instead of waiting.
    pub operation: Option<String>,
    /// How the resource stands by the write's own answer, when the provider answers a write
    /// with the resource (as the API server does): the status written after the write is then
    /// what the next observation will find, where otherwise the next reconcile would write it
    /// again only to add the resource's identifier and the provider's own progress message.
    pub state: Option<(Readiness, Outputs)>,
}

/// Where a deletion stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deletion {
    /// Nothing is left at the provider.
    Gone,
    /// The provider is still removing it; ask again later.
    InProgress,
}

/// A classified backend failure.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// Worth retrying with backoff (timeouts, 5xx, connection resets).
    #[error("{operation}: {message}")]
    Transient {
        /// What Ferry was doing (`observe`, `create`, `CreateService`...).
        operation: &'static str,
        /// What happened.
        message: String,
    },
    /// The spec, the account or the cluster must change first; retrying sooner is pointless.
    #[error("{message}")]
    Terminal {
        /// A documented reason (`Unsupported`, `KnativeNotInstalled`, `NameTaken`...).
        reason: &'static str,
        /// What happened and what to do.
        message: String,
        /// When to look again without a change (for conditions no watch reports, such as
        /// Knative being installed later); `None` waits for a change.
        recheck: Option<Duration>,
    },
    /// The credentials were refused or could not be read.
    #[error("credentials: {0}")]
    Auth(String),
    /// Rate-limited; retry after the provider's hint when it gives one.
    #[error("throttled: {message}")]
    Throttled {
        /// The provider's hint.
        retry_after: Option<Duration>,
        /// What happened.
        message: String,
    },
}

impl ProviderError {
    /// The condition reason this error reports.
    pub fn reason(&self) -> &'static str {
        match self {
            ProviderError::Transient { .. } => reasons::PROVIDER_ERROR,
            ProviderError::Terminal { reason, .. } => reason,
            ProviderError::Auth(_) => reasons::CREDENTIALS_INVALID,
            ProviderError::Throttled { .. } => reasons::THROTTLED,
        }
    }

    /// A fixed label for metrics, never built from the message.
    pub fn category(&self) -> &'static str {
        match self {
            ProviderError::Transient { .. } => "transient",
            ProviderError::Terminal { .. } => "terminal",
            ProviderError::Auth(_) => "auth",
            ProviderError::Throttled { .. } => "throttled",
        }
    }

    /// Whether Ferry waits for a change (or the recheck) instead of backing off and retrying.
    pub fn is_terminal(&self) -> bool {
        matches!(self, ProviderError::Terminal { .. })
    }
}

/// Resolves the backend and its credentials for one object.
#[async_trait]
pub trait Connector: Send + Sync {
    /// A client for `svc`'s provider, account and region. Fails with `Terminal` when the
    /// configuration it needs is missing or refuses the object, and with `Auth` when the
    /// credentials cannot be loaded.
    async fn connect(
        &self,
        svc: &ServerlessService,
    ) -> Result<Arc<dyn ExternalClient>, ProviderError>;

    /// A client for `job`'s runs on this provider. Fails as [`Connector::connect`] does, and
    /// with `Terminal` (`Unsupported`) where the backend runs no jobs (the default).
    async fn connect_job(&self, job: &ServerlessJob) -> Result<job::Jobs, ProviderError> {
        Err(job::no_jobs(job))
    }

    /// Whether `config` reaches this provider: its credentials load and the provider's API
    /// answers a cheap read with them. `Ok` says what answered, for the ProviderConfig's
    /// `Ready` condition; `None` when `config` has nothing for this provider.
    async fn check(&self, _config: &ProviderConfig) -> Option<Result<String, ProviderError>> {
        None
    }
}

/// One backend, for one object.
#[async_trait]
pub trait ExternalClient: Send + Sync {
    /// What exists for `want`. Never changes anything at the provider.
    async fn observe(&self, want: &Desired) -> Result<Observation, ProviderError>;

    /// Creates what `want` describes. Called only after `observe` returned `Absent`; must not
    /// create a duplicate when an earlier, interrupted call already created it.
    async fn create(&self, want: &Desired) -> Result<Started, ProviderError>;

    /// Makes what exists match `want`. Called only when `observe` said it was not up to date.
    async fn update(&self, want: &Desired) -> Result<Started, ProviderError>;

    /// Deletes what Ferry created for `object`. Idempotent: what is already gone is `Gone`.
    /// Takes the object's identity, not its desired state, so an object whose spec no longer
    /// validates can still be deleted (external names derive from the identity alone).
    async fn delete(&self, object: &ObjectRef) -> Result<Deletion, ProviderError>;

    /// Lets what Ferry created for `object` live on without it (`deletionPolicy: Orphan`):
    /// removes the links that would delete it with the object (owner references). Idempotent.
    async fn release(&self, object: &ObjectRef) -> Result<(), ProviderError>;
}
