//! The fake's admin API (`/fake/...`): the calls it received, faults to inject, image
//! behaviours, credentials, schema checks, scheduled job runs and resets.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use http::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::Error;
use crate::fake::{
    ArmError, AzureFake, CONTAINER_APPS_API_VERSION, CONTAINER_INSTANCES_API_VERSION,
};

/// What the fake does to a call instead of answering it normally.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The call is not carried out; it is answered with this HTTP status and ARM's error body:
    /// 500 `InternalServerError`, 502 `BadGateway`, 503 `ServiceUnavailable`, 504
    /// `GatewayTimeout`, 409 `Conflict`, 404 `ResourceNotFound`, 403 `AuthorizationFailed`, ...;
    /// 429 is [`Fault::Throttled`] with a `Retry-After` of 1 second.
    Status(u16),
    /// The call is not carried out; it is answered 429 `SubscriptionRequestsThrottled` with
    /// `Retry-After` set to this many seconds.
    Throttled {
        /// The `Retry-After` header, in seconds.
        retry_after: u32,
    },
    /// The call is not carried out and gets no answer: the fake holds the connection for
    /// [`crate::Options::hang`], longer than a client's timeout should be, then closes it.
    Timeout,
    /// The call is carried out (a write takes effect), then the connection is closed with no
    /// answer, as if the answer had been lost on the way.
    Lost,
}

/// How the containers of an image behave when a revision, job execution or container group runs
/// it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageBehaviour {
    /// It pulls and runs (the default for every image); in a job execution, its command decides.
    Runs,
    /// It cannot be pulled: a Container Apps revision fails to provision, a container group's
    /// deployment fails (`InaccessibleImage`), a job execution's replicas fail (as `exit 1`).
    Missing,
    /// It is pulled, starts and exits with code 1, over and over: a Container Apps revision is
    /// provisioned but `Degraded` and `Unhealthy`; a container group runs with its container
    /// `Waiting` in `CrashLoopBackOff` and a `restartCount` that grows with every look; a job
    /// execution's replicas fail (as `exit 1`).
    Crashing,
}

impl ImageBehaviour {
    fn wire(self) -> &'static str {
        match self {
            Self::Runs => "ok",
            Self::Missing => "missing",
            Self::Crashing => "crashing",
        }
    }
}

/// A call the fake received.
#[derive(Clone, Debug, PartialEq)]
pub struct Recorded {
    /// The Swagger operationId it maps to (`ContainerApps_CreateOrUpdate`,
    /// `ContainerGroups_Get`, ...), `OperationStatus_Get` for a poll of an
    /// `Azure-AsyncOperation` URL, `OperationResult_Get` for one of a `Location` URL, `Token`
    /// for the Microsoft Entra token endpoint, `Unknown` for what the fake does not serve.
    pub operation: String,
    /// The HTTP method.
    pub http_method: String,
    /// The URL path, percent-decoded.
    pub path: String,
    /// The query parameters in order, decoded.
    pub query: Vec<(String, String)>,
    /// The JSON body; `Null` when empty, a string when it is not JSON. A token request's form,
    /// without its `client_secret`.
    pub body: Value,
    /// The subscription id in its path.
    pub subscription: Option<String>,
    /// The client id of the bearer token it carried (or, for `Token`, that asked for one).
    pub client_id: Option<String>,
    /// The HTTP status it was answered with; `None` when it got no answer (a lost or timed-out
    /// call).
    pub status: Option<u16>,
    /// The fault injected into it, if any.
    pub fault: Option<Fault>,
    /// When it arrived (the fake's clock, the same machine's).
    pub at: SystemTime,
}

impl Recorded {
    /// The first value of a query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Whether the call may change something: a PUT, PATCH, DELETE or POST to Resource
    /// Manager (not a token request, nor `Jobs_ListSecrets`, a POST that only reads).
    pub fn is_write(&self) -> bool {
        !matches!(self.operation.as_str(), "Token" | "Jobs_ListSecrets")
            && matches!(
                self.http_method.as_str(),
                "PUT" | "PATCH" | "DELETE" | "POST"
            )
    }
}

/// The calls, faults, image behaviours and token settings of one subscription: what tests
/// sharing a fake look at and change, each in a subscription of its own. Made by
/// [`AzureFake::subscription`].
#[derive(Clone, Debug)]
pub struct Subscription<'a> {
    fake: &'a AzureFake,
    id: String,
}

impl Subscription<'_> {
    /// The subscription id, a GUID as Resource Manager requires.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// `/subscriptions/ID/resourceGroups/GROUP/providers/Microsoft.App/containerApps/NAME`.
    pub fn container_app(&self, group: &str, name: &str) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{group}/providers/Microsoft.App/containerApps/{name}",
            self.id
        )
    }

    /// [`Subscription::container_app`] with `?api-version=` of Microsoft.App: a path to send.
    pub fn container_app_url(&self, group: &str, name: &str) -> String {
        format!(
            "{}?api-version={CONTAINER_APPS_API_VERSION}",
            self.container_app(group, name)
        )
    }

    /// `/subscriptions/ID/resourceGroups/GROUP/providers/Microsoft.ContainerInstance/containerGroups/NAME`.
    pub fn container_group(&self, group: &str, name: &str) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{group}/providers/Microsoft.ContainerInstance/\
             containerGroups/{name}",
            self.id
        )
    }

    /// [`Subscription::container_group`] with `?api-version=` of Microsoft.ContainerInstance.
    pub fn container_group_url(&self, group: &str, name: &str) -> String {
        format!(
            "{}?api-version={CONTAINER_INSTANCES_API_VERSION}",
            self.container_group(group, name)
        )
    }

    /// `/subscriptions/ID/resourceGroups/GROUP/providers/Microsoft.App/jobs/NAME`, a Container
    /// Apps job (its executions are under `.../executions/EXECUTION`).
    pub fn job(&self, group: &str, name: &str) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{group}/providers/Microsoft.App/jobs/{name}",
            self.id
        )
    }

    /// [`Subscription::job`] with `?api-version=` of Microsoft.App: a path to send.
    pub fn job_url(&self, group: &str, name: &str) -> String {
        format!(
            "{}?api-version={CONTAINER_APPS_API_VERSION}",
            self.job(group, name)
        )
    }

    /// `.../Microsoft.App/managedEnvironments/ENVIRONMENT/storages/NAME?api-version=...`: a
    /// storage of a managed environment (the environment itself is not modelled: every name
    /// has one), what an environment's owner PUTs and an azureFile volume names.
    pub fn environment_storage_url(&self, group: &str, environment: &str, name: &str) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{group}/providers/Microsoft.App/managedEnvironments/\
             {environment}/storages/{name}?api-version={CONTAINER_APPS_API_VERSION}",
            self.id
        )
    }

    /// Runs the Schedule job `GROUP/NAME` now, as the platform does when its cron expression
    /// comes due: see [`AzureFake::fire_job`].
    pub async fn fire_job(&self, group: &str, name: &str) -> Result<FiredExecution, Error> {
        self.fake.fire_job(&self.job(group, name)).await
    }

    /// How many calls of each operation it received, faulted ones included.
    pub async fn calls(&self) -> Result<BTreeMap<String, usize>, Error> {
        Ok(count(self.requests().await?, |_| true))
    }

    /// [`Subscription::calls`] of the calls that may change something ([`Recorded::is_write`]).
    pub async fn writes(&self) -> Result<BTreeMap<String, usize>, Error> {
        Ok(count(self.requests().await?, Recorded::is_write))
    }

    /// The calls it received, oldest first.
    pub async fn requests(&self) -> Result<Vec<Recorded>, Error> {
        self.fake.requests_of(Some(&self.id), 0).await
    }

    /// The calls it received after the first `skip`, oldest first.
    pub async fn requests_after(&self, skip: usize) -> Result<Vec<Recorded>, Error> {
        self.fake.requests_of(Some(&self.id), skip).await
    }

    /// Forgets its calls and its faults still pending; its resources stay.
    pub async fn clear(&self) -> Result<(), Error> {
        self.fake.clear_of(Some(&self.id)).await
    }

    /// Injects `fault` into its next `times` calls of `operation` (an operationId like
    /// `ContainerApps_CreateOrUpdate`, `OperationStatus_Get`, or `"*"` for any).
    pub async fn fail(&self, operation: &str, fault: Fault, times: usize) -> Result<(), Error> {
        self.fake
            .fail_of(Some(&self.id), operation, fault, times)
            .await
    }

    /// How `image` behaves in its revisions and container groups from now on (each later
    /// deployment; one that finished already keeps its outcome).
    pub async fn set_image(&self, image: &str, behaviour: ImageBehaviour) -> Result<(), Error> {
        self.fake
            .set_image_of(Some(&self.id), image, behaviour)
            .await
    }

    /// Whether its Resource Manager calls must carry a bearer token the fake issued and has not
    /// expired (401 otherwise). By default they need none.
    pub async fn require_tokens(&self, required: bool) -> Result<(), Error> {
        self.fake.require_tokens_of(Some(&self.id), required).await
    }
}

impl AzureFake {
    /// The calls, faults and settings of the subscription `name` names, kept apart from other
    /// tests sharing the fake. `name` is a GUID, used as it is, or a word (like the test's
    /// name), which always gives the same GUID.
    pub fn subscription(&self, name: &str) -> Subscription<'_> {
        Subscription {
            fake: self,
            id: subscription_id(name),
        }
    }

    /// How many calls of each operation the fake received, faulted ones included, from every
    /// subscription.
    pub async fn calls(&self) -> Result<BTreeMap<String, usize>, Error> {
        Ok(count(self.requests().await?, |_| true))
    }

    /// [`AzureFake::calls`] of the calls that may change something ([`Recorded::is_write`]).
    pub async fn writes(&self) -> Result<BTreeMap<String, usize>, Error> {
        Ok(count(self.requests().await?, Recorded::is_write))
    }

    /// Every call the fake received (token requests included), oldest first.
    pub async fn requests(&self) -> Result<Vec<Recorded>, Error> {
        self.requests_of(None, 0).await
    }

    /// Forgets every call received and every fault still pending; resources stay.
    pub async fn clear(&self) -> Result<(), Error> {
        self.clear_of(None).await
    }

    /// Injects `fault` into the next `times` calls of `operation` (or `"*"`), whatever their
    /// subscription.
    pub async fn fail(&self, operation: &str, fault: Fault, times: usize) -> Result<(), Error> {
        self.fail_of(None, operation, fault, times).await
    }

    /// How `image` behaves in every subscription that does not say otherwise.
    pub async fn set_image(&self, image: &str, behaviour: ImageBehaviour) -> Result<(), Error> {
        self.set_image_of(None, image, behaviour).await
    }

    /// Whether calls of subscriptions that do not say otherwise need a bearer token.
    pub async fn require_tokens(&self, required: bool) -> Result<(), Error> {
        self.require_tokens_of(None, required).await
    }

    /// Registers an application in Microsoft Entra tenant `tenant`, or replaces its secrets:
    /// the token endpoint (`POST /{tenant}/oauth2/v2.0/token`) issues tokens to `client_id`
    /// for any of `secrets`, and refuses the others (`invalid_client`, AADSTS7000215). Tokens
    /// issued before stay valid, as Entra's do, until [`AzureFake::expire_tokens`].
    pub async fn set_client_secrets(
        &self,
        tenant: &str,
        client_id: &str,
        secrets: &[&str],
    ) -> Result<(), Error> {
        let body = json!({ "tenant": tenant, "clientId": client_id, "secrets": secrets });
        self.admin(
            "POST /fake/clients",
            Method::POST,
            "/fake/clients",
            Some(body),
        )
        .await
        .map(drop)
    }

    /// Expires every token issued to `client_id` so far: calls carrying one are answered 401
    /// `ExpiredAuthenticationToken` where tokens are required. Returns how many it expired.
    pub async fn expire_tokens(&self, client_id: &str) -> Result<usize, Error> {
        const WHAT: &str = "POST /fake/tokens/expire";
        let body = json!({ "clientId": client_id });
        let answer = self
            .admin(WHAT, Method::POST, "/fake/tokens/expire", Some(body))
            .await?;
        answer
            .get("expired")
            .and_then(Value::as_u64)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| self.failed(WHAT, format!("unexpected answer: {answer}")))
    }

    /// Checks `body` as the request body of `operation` (like `ContainerApps_CreateOrUpdate`,
    /// `ContainerGroups_CreateOrUpdate`) against Microsoft's definitions, the way the fake
    /// checks what it is sent: `None` when it fits, else the error the fake would answer.
    pub async fn check_request(
        &self,
        operation: &str,
        body: &Value,
    ) -> Result<Option<ArmError>, Error> {
        self.check(json!({ "operation": operation, "body": body }))
            .await
    }

    /// Checks `body` as the answer of `operation` with HTTP `status` against the definitions:
    /// read-only properties are allowed, unknown ones and missing required ones are not.
    pub async fn check_response(
        &self,
        operation: &str,
        status: u16,
        body: &Value,
    ) -> Result<Option<ArmError>, Error> {
        self.check(json!({ "operation": operation, "status": status.to_string(), "body": body }))
            .await
    }

    /// Runs the Schedule job whose ARM id is `job_id` now, as the platform does when its cron
    /// expression comes due: a new execution with the job's template, named
    /// `JOB-MINUTES` (minutes since 1970, like the platform's), which progresses as any other.
    /// Nothing is recorded as a call (the platform, not a client, starts it).
    ///
    /// A job that does not exist, is not triggered by a schedule (`Manual`, `Event`) or is
    /// still being provisioned or deleted is an [`Error::Request`] naming why.
    pub async fn fire_job(&self, job_id: &str) -> Result<FiredExecution, Error> {
        const WHAT: &str = "POST /fake/jobs/fire";
        let answer = self
            .admin(
                WHAT,
                Method::POST,
                "/fake/jobs/fire",
                Some(json!({ "id": job_id })),
            )
            .await?;
        serde_json::from_value(answer.clone())
            .map_err(|error| self.failed(WHAT, format!("unexpected answer {answer}: {error}")))
    }

    /// Forgets everything: resources, operations, calls, faults, image behaviours and
    /// credentials. Not for a [`AzureFake::shared`] fake, whose other users would lose their
    /// state.
    pub async fn reset(&self) -> Result<(), Error> {
        self.admin("POST /fake/reset", Method::POST, "/fake/reset", None)
            .await
            .map(drop)
    }

    async fn check(&self, request: Value) -> Result<Option<ArmError>, Error> {
        const WHAT: &str = "POST /fake/check";
        let answer = self
            .admin(WHAT, Method::POST, "/fake/check", Some(request))
            .await?;
        match answer.get("violation") {
            Some(Value::Null) => Ok(None),
            Some(violation) => serde_json::from_value(violation.clone())
                .map(Some)
                .map_err(|error| self.failed(WHAT, format!("unexpected answer: {error}"))),
            None => Err(self.failed(WHAT, format!("unexpected answer: {answer}"))),
        }
    }

    async fn requests_of(
        &self,
        subscription: Option<&str>,
        skip: usize,
    ) -> Result<Vec<Recorded>, Error> {
        const WHAT: &str = "GET /fake/requests";
        let path = match subscription {
            // Subscription ids are GUIDs: nothing to escape.
            Some(id) => format!("/fake/requests?since={skip}&subscription={id}"),
            None => format!("/fake/requests?since={skip}"),
        };
        let answer = self.admin(WHAT, Method::GET, &path, None).await?;
        let listed: Listed = serde_json::from_value(answer)
            .map_err(|error| self.failed(WHAT, format!("unexpected answer: {error}")))?;
        listed
            .requests
            .into_iter()
            .map(Wire::into_recorded)
            .collect::<Result<_, String>>()
            .map_err(|message| self.failed(WHAT, message))
    }

    async fn clear_of(&self, subscription: Option<&str>) -> Result<(), Error> {
        let path = subscription.map_or_else(
            || "/fake/clear".to_owned(),
            |id| format!("/fake/clear?subscription={id}"),
        );
        self.admin("POST /fake/clear", Method::POST, &path, None)
            .await
            .map(drop)
    }

    async fn fail_of(
        &self,
        subscription: Option<&str>,
        operation: &str,
        fault: Fault,
        times: usize,
    ) -> Result<(), Error> {
        let fault = match fault {
            Fault::Status(status) => json!({ "status": status }),
            Fault::Throttled { retry_after } => json!({ "throttled": retry_after }),
            Fault::Timeout => json!("timeout"),
            Fault::Lost => json!("lost"),
        };
        let body = json!({
            "operation": operation, "fault": fault, "times": times, "subscription": subscription,
        });
        self.admin(
            "POST /fake/faults",
            Method::POST,
            "/fake/faults",
            Some(body),
        )
        .await
        .map(drop)
    }

    async fn set_image_of(
        &self,
        subscription: Option<&str>,
        image: &str,
        behaviour: ImageBehaviour,
    ) -> Result<(), Error> {
        let body = json!({
            "subscription": subscription, "image": image, "behaviour": behaviour.wire(),
        });
        self.admin(
            "POST /fake/images",
            Method::POST,
            "/fake/images",
            Some(body),
        )
        .await
        .map(drop)
    }

    async fn require_tokens_of(
        &self,
        subscription: Option<&str>,
        required: bool,
    ) -> Result<(), Error> {
        let body = json!({ "subscription": subscription, "required": required });
        self.admin("POST /fake/auth", Method::POST, "/fake/auth", Some(body))
            .await
            .map(drop)
    }
}

/// An execution the platform started on its own ([`AzureFake::fire_job`]).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct FiredExecution {
    /// Its ARM id, `/subscriptions/.../jobs/JOB/executions/NAME`.
    pub id: String,
    /// Its name, `JOB-MINUTES`.
    pub name: String,
}

/// The subscription id a test's word names: the word itself when it is a GUID, else a GUID made
/// from its hash (stable across runs, so a failing test's calls are easy to find in the log).
pub fn subscription_id(name: &str) -> String {
    if is_guid(name) {
        return name.to_owned();
    }
    // Two FNV-1a hashes with different offsets make the 128 bits.
    let fnv = |offset: u64| {
        name.bytes().fold(offset, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    let (high, low) = (fnv(0xcbf2_9ce4_8422_2325), fnv(0x6c62_272e_07bb_0142));
    let hex = format!("{high:016x}{low:016x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn is_guid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(group, len)| group.len() == len && group.chars().all(|c| c.is_ascii_hexdigit()))
}

fn count(requests: Vec<Recorded>, keep: impl Fn(&Recorded) -> bool) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for request in requests.into_iter().filter(|r| keep(r)) {
        *counts.entry(request.operation).or_default() += 1;
    }
    counts
}

#[derive(Deserialize)]
struct Listed {
    requests: Vec<Wire>,
}

/// A call as `/fake/requests` lists it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Wire {
    operation: String,
    http_method: String,
    path: String,
    query: Vec<(String, String)>,
    body: Value,
    subscription: Option<String>,
    client_id: Option<String>,
    status: Option<u16>,
    fault: Value,
    at_us: u64,
}

impl Wire {
    fn into_recorded(self) -> Result<Recorded, String> {
        let fault = match &self.fault {
            Value::Null => None,
            Value::String(kind) if kind == "lost" => Some(Fault::Lost),
            Value::String(kind) if kind == "timeout" => Some(Fault::Timeout),
            other => {
                let number = |key| {
                    other
                        .get(key)
                        .and_then(Value::as_u64)
                        .and_then(|n| u32::try_from(n).ok())
                };
                if let Some(retry_after) = number("throttled") {
                    Some(Fault::Throttled { retry_after })
                } else {
                    let status = number("status")
                        .and_then(|status| u16::try_from(status).ok())
                        .ok_or_else(|| format!("not a fault: {other}"))?;
                    Some(Fault::Status(status))
                }
            }
        };
        Ok(Recorded {
            operation: self.operation,
            http_method: self.http_method,
            path: self.path,
            query: self.query,
            body: self.body,
            subscription: self.subscription,
            client_id: self.client_id,
            status: self.status,
            fault,
            at: SystemTime::UNIX_EPOCH + Duration::from_micros(self.at_us),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscription_ids_are_guids_and_stable() {
        let id = subscription_id("lifecycle");
        assert!(is_guid(&id), "{id}");
        assert_eq!(id, subscription_id("lifecycle"));
        assert_ne!(id, subscription_id("lifecycles"));
        let guid = "34adfa4f-cedf-4dc0-ba29-b6d1a69ab345";
        assert_eq!(subscription_id(guid), guid);
    }
}
