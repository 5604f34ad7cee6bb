//! Azure Resource Manager for Ferry's two Azure backends (Container Apps and Container
//! Instances): credentials from a ProviderConfig's `azure` section, requests to ARM, its
//! long-running operations, and its errors classified as Ferry's.
//!
//! There is no maintained Rust management crate for either service, so the backends build small
//! JSON bodies of their own and send them with [`Arm`]: `get`, `put`, `delete`, `list` of ARM
//! resource ids with an `api-version`, `post` of an action (a job's start, an execution's
//! stop), `poll` of a long-running [`Operation`], and `check` for a ProviderConfig's `Ready`
//! condition.
//!
//! # Design
//!
//! - **azure_core's pipeline, Ferry's retries.** Every request goes through azure_core 1.x's
//!   [`Pipeline`](azure_core::http::Pipeline): its `User-Agent` (`ferry azsdk-rust-ferry-azure/…`),
//!   its `x-ms-client-request-id` (one per call, kept across the call's attempts) and its
//!   `BearerTokenAuthorizationPolicy`, which takes tokens from azure_identity's credential and
//!   drops a cached token on a 401. The pipeline's own retry policy is off: it honours
//!   `Retry-After` only on 429 and 503 and sleeps as long as the header says, inside a reconcile.
//!   Ferry's loop retries connection failures, timeouts, 408, 429 and 5xx (every call it
//!   retries is idempotent: GET, PUT of a whole resource, DELETE, a stop; a job's start, which
//!   is not, is sent once) up to [`ArmSettings::attempts`], waits `max(backoff, Retry-After)`,
//!   and gives up early, with the hint, when the wait would not fit in
//!   [`ArmSettings::call_timeout`]: the controller requeues after it instead.
//! - **Credentials** ([`AzureProviderConfig::credentials`](ferry_api::AzureProviderConfig)):
//!   `InjectedIdentity` (the default) is AKS Workload Identity when its webhook set
//!   `AZURE_CLIENT_ID`, `AZURE_TENANT_ID` and `AZURE_FEDERATED_TOKEN_FILE`, else the managed
//!   identity; `Secret` is a service principal's JSON (`tenantId`, `clientId`, and
//!   `clientSecret` or `clientCertificate` PEM with an optional `clientCertificatePassword`);
//!   `Anonymous` (only with an `endpoint`) sends no `Authorization` header. Tokens are for
//!   `https://management.azure.com/.default` and cached by azure_identity until five minutes
//!   before they expire. With an `endpoint`, a Secret's tokens are asked from the same host
//!   (`POST /{tenant}/oauth2/v2.0/token`). azure_identity's certificate credential needs openssl
//!   and PKCS#12, so Ferry signs the certificate's client assertion itself (RS256 with ring).
//! - **TLS**: reqwest on rustls with ring, as kube and the Google crates use; no aws-lc, no
//!   openssl. azure_core and azure_identity insist on `https://` for tokens; for an `http://`
//!   test endpoint the pipeline is given the `https://` form of it and the transport sends
//!   exactly that origin over plain HTTP (see `transport`).
//! - **Long-running operations** are never awaited: `put` and `delete` return [`Accepted`] with
//!   the [`Operation`] ARM started (`Azure-AsyncOperation`, else `Location`). Its
//!   [`encode`](Operation::encode)d form goes into `status.operation`; the next reconcile
//!   [`decode`](Operation::decode)s it and [`poll`](Arm::poll)s once. URLs ARM hands out
//!   (operations, next pages) are followed only on the endpoint's own origin, so the token goes
//!   nowhere else.
//! - **Errors** come back as [`ProviderError`](ferry_provider::ProviderError), classified by
//!   [`classify`]: 401/403 and token failures are `Auth`; 429 `Throttled` with `Retry-After`;
//!   no answer, 408 and 5xx `Transient`; 409 for an operation in progress `Transient`; 400
//!   (`InvalidRequestContent`...) `Terminal` `InvalidSpec`; quotas, a missing resource group or
//!   environment, an unregistered provider, a policy `Terminal` `ProviderError` looked at again
//!   after [`ACCOUNT_RECHECK`]. Messages carry `[ARM status code]`, which [`arm_error_of`] reads
//!   back for a backend's own mapping. No message carries a token or a secret.
//!
//! # What both backends share
//!
//! - [`resource`]: the deterministic resource name (`NAMESPACE-NAME-HASH`), Ferry's tags
//!   (`managed-by: ferry`, `ferry-uid`, `ferry-object`, `ferry-fingerprint`), who a resource
//!   belongs to by them ([`resource::Ownership`]: ours, released and adoptable, or foreign and
//!   so `NameTaken`), and the fingerprint of a body.
//! - [`connect`]: a ProviderConfig's `azure` section and credentials Secret to an [`Arm`],
//!   one per ProviderConfig version ([`connect::Connections`]), and the section `ferry render`
//!   uses.
//! - [`secrets`]: the text of a key of a Secret `fromSecret` copies, and the error for one
//!   that is missing.
//! - [`Arm::poll_recorded`]: where the operation recorded in `status.operation` stands
//!   ([`Recorded`]).

mod client;
pub mod connect;
mod credentials;
mod errors;
mod operation;
pub mod resource;
pub mod secrets;
mod transport;

pub use client::{
    ARM_SCOPE, Accepted, Arm, ArmSettings, PUBLIC_ENDPOINT, RESOURCE_GROUPS_API, resource_id,
};
pub use errors::{ACCOUNT_RECHECK, ArmError, arm_error_of, classify};
pub use operation::{Operation, OperationKind, OperationStatus, Recorded};
