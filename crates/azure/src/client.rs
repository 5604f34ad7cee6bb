//! [`Arm`]: requests to Azure Resource Manager through azure_core's pipeline, with Ferry's own
//! retry loop around it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::TokenCredential;
use azure_core::error::ErrorKind;
use azure_core::http::policies::Policy;
use azure_core::http::policies::auth::BearerTokenAuthorizationPolicy;
use azure_core::http::{
    ClientOptions, Context, ExponentialRetryOptions, Method, Pipeline, PipelineSendOptions,
    Request, RetryOptions, Transport, Url, UserAgentOptions,
};
use ferry_api::conditions::reasons;
use ferry_api::{AzureProviderConfig, CredentialsSource};
use ferry_provider::ProviderError;
use serde_json::Value;
use tracing::debug;

use crate::credentials::{Renewable, ServicePrincipal, injected};
use crate::errors::{ACCOUNT_RECHECK, ArmError, chain, classify};
use crate::operation::{Operation, OperationKind, OperationStatus, Recorded};
use crate::transport::{PlainHttp, Wire};

/// Azure Resource Manager in Azure's public cloud.
pub const PUBLIC_ENDPOINT: &str = "https://management.azure.com";
/// The token scope for Resource Manager (also what the fake issues tokens for).
pub const ARM_SCOPE: &str = "https://management.azure.com/.default";
/// Microsoft Entra ID in Azure's public cloud.
const PUBLIC_AUTHORITY: &str = "https://login.microsoftonline.com";
/// The api-version of the resource group read [`Arm::check`] makes.
pub const RESOURCE_GROUPS_API: &str = "2021-04-01";
/// Pages [`Arm::list`] follows at most.
const MAX_PAGES: usize = 1000;

/// Tunables of the ARM client.
#[derive(Clone, Debug)]
pub struct ArmSettings {
    /// Attempts per call, the first included (every ARM call Ferry makes is idempotent: GET,
    /// PUT of a whole resource, DELETE).
    pub attempts: u32,
    /// How long the attempts of one call may take together, waits included.
    pub call_timeout: Duration,
    /// How long one attempt may wait for its answer.
    pub attempt_timeout: Duration,
    /// The wait before the first retry; doubled for each further one (a `Retry-After` longer
    /// than it wins).
    pub backoff: Duration,
    /// How long a connection may take to open.
    pub connect_timeout: Duration,
}

impl Default for ArmSettings {
    fn default() -> Self {
        Self {
            attempts: 3,
            call_timeout: Duration::from_secs(30),
            attempt_timeout: Duration::from_secs(15),
            backoff: Duration::from_millis(250),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// What ARM answered to a PUT or DELETE.
#[derive(Clone, Debug, PartialEq)]
pub struct Accepted {
    /// The HTTP status: 200 or 201 (PUT), 202 (accepted, running), 204 (DELETE of nothing).
    pub status: u16,
    /// The resource, when the answer carried one.
    pub body: Option<Value>,
    /// The long-running operation to poll, when ARM started one.
    pub operation: Option<Operation>,
    /// ARM's hint for when to poll.
    pub retry_after: Option<Duration>,
    /// A DELETE found nothing left (204, 404, or 200 without an operation).
    pub gone: bool,
}

/// `/subscriptions/{sub}/resourceGroups/{rg}/providers/{namespace}/{type}/{name}`.
pub fn resource_id(
    subscription: &str,
    resource_group: &str,
    namespace_type: &str,
    name: &str,
) -> String {
    format!(
        "/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/{}/{name}",
        namespace_type.trim_matches('/')
    )
}

/// One client per ProviderConfig `azure` section and credentials. Cheap to clone.
#[derive(Clone)]
pub struct Arm {
    inner: Arc<Inner>,
}

struct Inner {
    pipeline: Pipeline,
    /// The endpoint as the pipeline addresses it (`https://`).
    base: Url,
    plain: Option<PlainHttp>,
    /// `None` for anonymous clients.
    credential: Option<Arc<Renewable>>,
    subscription_id: String,
    resource_group: String,
    settings: ArmSettings,
}

impl std::fmt::Debug for Arm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Arm")
            .field("endpoint", &self.inner.base.as_str())
            .field("subscription_id", &self.inner.subscription_id)
            .finish_non_exhaustive()
    }
}

/// A refusal of the ProviderConfig itself.
fn config_error(message: String) -> ProviderError {
    ProviderError::Terminal {
        reason: reasons::INVALID_SPEC,
        message,
        recheck: None,
    }
}

impl Arm {
    /// `secret`: the bytes of the credentials Secret's key when credentials.source is Secret
    /// (JSON with tenantId, clientId, clientSecret or clientCertificate[+Password]).
    pub fn new(
        config: &AzureProviderConfig,
        secret: Option<&[u8]>,
        settings: &ArmSettings,
    ) -> Result<Arm, ProviderError> {
        let source = config
            .credentials
            .as_ref()
            .map_or(CredentialsSource::InjectedIdentity, |c| c.source);
        let endpoint_text = config.endpoint.as_deref().unwrap_or(PUBLIC_ENDPOINT);
        let endpoint = Url::parse(endpoint_text).map_err(|e| {
            config_error(format!(
                "spec.azure.endpoint {endpoint_text:?} is not a URL: {e}"
            ))
        })?;
        let (base, plain) = match PlainHttp::for_endpoint(&endpoint) {
            Some((seen, plain)) => (seen, Some(plain)),
            None => (endpoint, None),
        };
        let wire = Wire::new(plain.clone(), settings.connect_timeout).map_err(|message| {
            ProviderError::Transient {
                operation: "ARM client",
                message,
            }
        })?;
        let transport = Transport::new(Arc::new(wire));

        let credential: Option<Arc<Renewable>> = match source {
            CredentialsSource::Anonymous => {
                if config.endpoint.is_none() {
                    return Err(config_error(
                        "spec.azure.credentials.source Anonymous needs spec.azure.endpoint".into(),
                    ));
                }
                None
            }
            CredentialsSource::Secret => {
                let bytes = secret.ok_or_else(|| {
                    ProviderError::Auth(
                        "spec.azure.credentials.source is Secret but the Secret's key was not \
                         read"
                            .into(),
                    )
                })?;
                let principal = ServicePrincipal::parse(bytes).map_err(ProviderError::Auth)?;
                let mut options = identity_options(&transport, settings);
                let authority = if config.endpoint.is_some() {
                    let authority = base.as_str().trim_end_matches('/').to_owned();
                    let mut custom = CustomConfiguration::default();
                    custom.authority_host.clone_from(&authority);
                    options.cloud = Some(Arc::new(CloudConfiguration::Custom(custom)));
                    authority
                } else {
                    std::env::var("AZURE_AUTHORITY_HOST")
                        .ok()
                        .filter(|a| !a.is_empty())
                        .unwrap_or_else(|| PUBLIC_AUTHORITY.into())
                };
                let renewable = Renewable::new(Box::new(move || {
                    principal.credential(&authority, options.clone())
                }))
                .map_err(ProviderError::Auth)?;
                Some(Arc::new(renewable))
            }
            CredentialsSource::InjectedIdentity => {
                let options = identity_options(&transport, settings);
                let renewable = Renewable::new(Box::new(move || injected(options.clone())))
                    .map_err(ProviderError::Auth)?;
                Some(Arc::new(renewable))
            }
        };

        let mut per_try: Vec<Arc<dyn Policy>> = Vec::new();
        if let Some(credential) = &credential {
            let credential: Arc<dyn TokenCredential> = credential.clone();
            per_try.push(Arc::new(BearerTokenAuthorizationPolicy::new(
                credential,
                [ARM_SCOPE],
            )));
        }
        let options = ClientOptions {
            transport: Some(transport),
            // Ferry retries itself (see `send`): azure_core's policy would honour Retry-After
            // only on 429 and 503 and sleep however long it says, inside a reconcile.
            retry: RetryOptions::none(),
            user_agent: UserAgentOptions {
                application_id: Some("ferry".into()),
            },
            ..ClientOptions::default()
        };
        let pipeline = Pipeline::new(
            Some(env!("CARGO_PKG_NAME")),
            Some(env!("CARGO_PKG_VERSION")),
            options,
            Vec::new(),
            per_try,
            None,
        );
        Ok(Arm {
            inner: Arc::new(Inner {
                pipeline,
                base,
                plain,
                credential,
                subscription_id: config.subscription_id.clone(),
                resource_group: config.resource_group.clone(),
                settings: settings.clone(),
            }),
        })
    }

    /// The subscription the ProviderConfig names.
    pub fn subscription_id(&self) -> &str {
        &self.inner.subscription_id
    }

    /// Reads a resource. 404 -> Ok(None).
    pub async fn get(&self, id: &str, api_version: &str) -> Result<Option<Value>, ProviderError> {
        const OPERATION: &str = "ARM GET";
        let answer = self
            .send(OPERATION, Method::Get, self.url(id, api_version)?, None)
            .await?;
        match answer.status {
            200..=299 => Ok(Some(answer.json(OPERATION, id)?.unwrap_or(Value::Null))),
            404 => Ok(None),
            _ => Err(answer.refusal(OPERATION, id)),
        }
    }

    /// Creates or replaces a resource with `body`; a long-running PUT comes back with its
    /// operation.
    pub async fn put(
        &self,
        id: &str,
        api_version: &str,
        body: &Value,
    ) -> Result<Accepted, ProviderError> {
        const OPERATION: &str = "ARM PUT";
        let answer = self
            .send(
                OPERATION,
                Method::Put,
                self.url(id, api_version)?,
                Some(body),
            )
            .await?;
        match answer.status {
            200..=299 => Ok(Accepted {
                status: answer.status,
                body: answer.json(OPERATION, id)?,
                operation: answer.operation(false),
                retry_after: answer.retry_after,
                gone: false,
            }),
            _ => Err(answer.refusal(OPERATION, id)),
        }
    }

    /// Deletes a resource. 204 or 404 -> Ok(Accepted { gone: true, .. }).
    pub async fn delete(&self, id: &str, api_version: &str) -> Result<Accepted, ProviderError> {
        const OPERATION: &str = "ARM DELETE";
        let answer = self
            .send(OPERATION, Method::Delete, self.url(id, api_version)?, None)
            .await?;
        match answer.status {
            200..=299 | 404 => {
                let operation = answer.operation(true);
                let gone = matches!(answer.status, 204 | 404)
                    || (answer.status == 200 && operation.is_none());
                Ok(Accepted {
                    status: answer.status,
                    body: if answer.status == 404 {
                        None
                    } else {
                        answer.json(OPERATION, id).ok().flatten()
                    },
                    operation: if gone { None } else { operation },
                    retry_after: answer.retry_after,
                    gone,
                })
            }
            _ => Err(answer.refusal(OPERATION, id)),
        }
    }

    /// Sends an action to a resource: `POST {id}` (the action's own path, such as
    /// `.../jobs/NAME/start` or `.../executions/NAME/stop`) with `body` when given. An action
    /// that ARM runs as a long-running operation comes back with it.
    ///
    /// `retry: false` sends it once, whatever happens: an action that is not idempotent (a
    /// job's start makes a new execution each time) must not be sent again when its answer is
    /// lost, because it may have taken effect; the caller looks for its effect instead.
    /// `retry: true` retries as every other call does (for an idempotent action: a stop).
    pub async fn post(
        &self,
        id: &str,
        api_version: &str,
        body: Option<&Value>,
        retry: bool,
    ) -> Result<Accepted, ProviderError> {
        const OPERATION: &str = "ARM POST";
        let attempts = if retry {
            self.inner.settings.attempts
        } else {
            1
        };
        let answer = self
            .send_attempts(
                OPERATION,
                Method::Post,
                self.url(id, api_version)?,
                body,
                attempts,
            )
            .await?;
        match answer.status {
            200..=299 => Ok(Accepted {
                status: answer.status,
                body: answer.json(OPERATION, id)?,
                operation: answer.operation(false),
                retry_after: answer.retry_after,
                gone: false,
            }),
            _ => Err(answer.refusal(OPERATION, id)),
        }
    }

    /// Lists a collection (`.../providers/Microsoft.App/containerApps`). Follows nextLink.
    pub async fn list(
        &self,
        collection_id: &str,
        api_version: &str,
    ) -> Result<Vec<Value>, ProviderError> {
        const OPERATION: &str = "ARM list";
        let mut url = self.url(collection_id, api_version)?;
        let mut items = Vec::new();
        for _ in 0..MAX_PAGES {
            let answer = self.send(OPERATION, Method::Get, url, None).await?;
            if !(200..=299).contains(&answer.status) {
                return Err(answer.refusal(OPERATION, collection_id));
            }
            let page = answer
                .json(OPERATION, collection_id)?
                .unwrap_or(Value::Null);
            if let Some(values) = page.get("value").and_then(Value::as_array) {
                items.extend(values.iter().cloned());
            }
            match page.get("nextLink").and_then(Value::as_str) {
                Some(next) if !next.is_empty() => url = self.same_origin(OPERATION, next)?,
                _ => return Ok(items),
            }
        }
        Err(ProviderError::Transient {
            operation: OPERATION,
            message: format!("{collection_id}: more than {MAX_PAGES} pages"),
        })
    }

    /// Where a long-running operation stands: one GET of its status (or Location) URL.
    pub async fn poll(&self, operation: &Operation) -> Result<OperationStatus, ProviderError> {
        const OPERATION: &str = "ARM operation";
        let url = self.same_origin(OPERATION, operation.url())?;
        let what = url.path().to_owned();
        let answer = self.send(OPERATION, Method::Get, url, None).await?;
        match (operation.kind(), answer.status) {
            (OperationKind::AsyncOperation, 200..=299) => Ok(OperationStatus::from_status_body(
                &answer.json(OPERATION, &what)?.unwrap_or(Value::Null),
            )),
            (OperationKind::Location, 202) => Ok(OperationStatus::InProgress),
            (OperationKind::Location, 200..=299) => Ok(OperationStatus::Succeeded),
            (OperationKind::Location, 404) if operation.is_delete() => {
                Ok(OperationStatus::Succeeded)
            }
            (OperationKind::AsyncOperation, 404) => Ok(OperationStatus::Failed {
                code: "OperationNotFound".into(),
                message: "Azure no longer knows the operation; read the resource instead".into(),
            }),
            // The operation's own failure, answered by its Location URL.
            (OperationKind::Location, 400 | 404 | 409 | 422) => {
                let error = ArmError::from_body(answer.status, &answer.body);
                Ok(OperationStatus::Failed {
                    code: error.code,
                    message: error.message,
                })
            }
            _ => Err(answer.refusal(OPERATION, &what)),
        }
    }

    /// Where the operation a backend recorded in `status.operation` stands: one poll of it,
    /// or [`Recorded::Done`] without a request when nothing was recorded or the string is not
    /// an ARM operation (another backend's).
    pub async fn poll_recorded(&self, recorded: Option<&str>) -> Result<Recorded, ProviderError> {
        let Some(operation) = recorded.and_then(Operation::decode) else {
            return Ok(Recorded::Done);
        };
        Ok(Recorded::of(self.poll(&operation).await?))
    }

    /// A cheap read proving the credentials and endpoint work (for ProviderConfig Ready): the
    /// ProviderConfig's resource group.
    pub async fn check(&self) -> Result<String, ProviderError> {
        let id = format!(
            "/subscriptions/{}/resourcegroups/{}",
            self.inner.subscription_id, self.inner.resource_group
        );
        match self.get(&id, RESOURCE_GROUPS_API).await? {
            Some(group) => {
                let location = group
                    .get("location")
                    .and_then(Value::as_str)
                    .unwrap_or("an unknown location");
                Ok(format!(
                    "Azure Resource Manager answered: resource group {} ({location}) in \
                     subscription {}",
                    self.inner.resource_group, self.inner.subscription_id
                ))
            }
            None => Err(ProviderError::Terminal {
                reason: reasons::PROVIDER_ERROR,
                message: format!(
                    "the resource group {} does not exist in subscription {} (or the \
                     credentials may not read it): create it, or fix spec.azure.resourceGroup",
                    self.inner.resource_group, self.inner.subscription_id
                ),
                recheck: Some(ACCOUNT_RECHECK),
            }),
        }
    }

    /// `{endpoint}{id}?api-version={api_version}`.
    fn url(&self, id: &str, api_version: &str) -> Result<Url, ProviderError> {
        let base = self.inner.base.as_str().trim_end_matches('/');
        let path = if id.starts_with('/') {
            id.to_owned()
        } else {
            format!("/{id}")
        };
        Url::parse(&format!("{base}{path}?api-version={api_version}"))
            .map_err(|e| config_error(format!("{path} does not make a URL: {e}")))
    }

    /// An absolute URL ARM handed out (an operation, a next page), checked to be on the
    /// endpoint: the token goes nowhere else.
    fn same_origin(&self, operation: &'static str, url: &str) -> Result<Url, ProviderError> {
        let parsed = Url::parse(url).map_err(|e| ProviderError::Terminal {
            reason: reasons::PROVIDER_ERROR,
            message: format!("{operation}: {url:?} is not a URL: {e}"),
            recheck: None,
        })?;
        let seen = match &self.inner.plain {
            Some(plain) => plain.to_pipeline(&parsed),
            None => parsed,
        };
        if seen.origin() != self.inner.base.origin() {
            return Err(ProviderError::Terminal {
                reason: reasons::PROVIDER_ERROR,
                message: format!(
                    "{operation}: {url} is not on the Resource Manager endpoint {}; Ferry does \
                     not send its token there",
                    self.inner.base
                ),
                recheck: None,
            });
        }
        Ok(seen)
    }

    /// One call: attempts until an answer that is not worth retrying, the attempts or the
    /// call's time run out. Retried: no answer (connection errors, timeouts), 408, 429 and
    /// 5xx, after `max(backoff, Retry-After)`; a wait that would not fit in the call's time is
    /// not waited, and the error (with its Retry-After) goes back to the reconcile. A 401 is
    /// retried once, at once, with a new token.
    async fn send(
        &self,
        operation: &'static str,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<Answer, ProviderError> {
        self.send_attempts(operation, method, url, body, self.inner.settings.attempts)
            .await
    }

    /// [`Arm::send`] with at most `attempts` attempts.
    async fn send_attempts(
        &self,
        operation: &'static str,
        method: Method,
        url: Url,
        body: Option<&Value>,
        attempts: u32,
    ) -> Result<Answer, ProviderError> {
        let settings = &self.inner.settings;
        let what = url.path().to_owned();
        let mut request = Request::new(url, method);
        // One id for the call, kept across its attempts.
        request.insert_header("x-ms-client-request-id", uuid::Uuid::new_v4().to_string());
        request.insert_header("accept", "application/json");
        if let Some(body) = body {
            request.insert_header("content-type", "application/json");
            let bytes = serde_json::to_vec(body).map_err(|e| ProviderError::Terminal {
                reason: reasons::INVALID_SPEC,
                message: format!("{operation} {what}: the body is not JSON: {e}"),
                recheck: None,
            })?;
            request.set_body(bytes);
        }
        let deadline = Instant::now() + settings.call_timeout;
        let mut attempt = 0;
        let mut renewed = false;
        loop {
            attempt += 1;
            let budget = deadline
                .saturating_duration_since(Instant::now())
                .min(settings.attempt_timeout);
            let options = PipelineSendOptions {
                skip_checks: true,
                ..PipelineSendOptions::default()
            };
            let sent = tokio::time::timeout(
                budget,
                self.inner
                    .pipeline
                    .send(&Context::new(), &mut request, Some(options)),
            )
            .await;
            let (failure, retry_after) = match sent {
                Err(_) => (
                    ProviderError::Transient {
                        operation,
                        message: format!("{what}: no answer within {budget:?}"),
                    },
                    None,
                ),
                Ok(Err(error)) => {
                    let text = chain(&error);
                    if is_transport(&error) {
                        (
                            ProviderError::Transient {
                                operation,
                                message: format!("{what}: no answer: {text}"),
                            },
                            None,
                        )
                    } else if matches!(error.kind(), ErrorKind::Credential) {
                        return Err(ProviderError::Auth(format!(
                            "{operation} {what}: no token for Azure Resource Manager: {text}"
                        )));
                    } else {
                        return Err(ProviderError::Transient {
                            operation,
                            message: format!("{what}: {text}"),
                        });
                    }
                }
                Ok(Ok(response)) => {
                    let (status, headers, body) = response.deconstruct();
                    let answer = Answer {
                        status: u16::from(status),
                        retry_after: retry_after(&headers),
                        async_operation: header(&headers, "azure-asyncoperation"),
                        location: header(&headers, "location"),
                        body: body.as_ref().to_vec(),
                    };
                    let renew = answer.status == 401
                        && !renewed
                        && attempt < attempts
                        && self.inner.credential.is_some();
                    if renew && let Some(credential) = &self.inner.credential {
                        // A token ARM refuses (expired, revoked): ask Microsoft Entra ID for a
                        // new one, once per call, at once.
                        credential.renew();
                        renewed = true;
                        debug!(
                            attempt,
                            "Resource Manager refused the token; asking for a new one"
                        );
                        continue;
                    }
                    if answer.status == 401
                        && let Some(credential) = &self.inner.credential
                    {
                        // The next call starts with a new token.
                        credential.renew();
                    }
                    if !matches!(answer.status, 408 | 429 | 500 | 502 | 503 | 504) {
                        return Ok(answer);
                    }
                    (answer.refusal(operation, &what), answer.retry_after)
                }
            };
            if attempt >= attempts.max(1) {
                return Err(failure);
            }
            let backoff = settings
                .backoff
                .saturating_mul(1 << (attempt - 1).min(16))
                .max(retry_after.unwrap_or_default());
            if Instant::now() + backoff >= deadline {
                return Err(failure);
            }
            debug!(%failure, attempt, wait = ?backoff, "retrying an Azure Resource Manager call");
            tokio::time::sleep(backoff).await;
        }
    }
}

/// Options for azure_identity's credentials: the same transport, and a retry budget within
/// one call's.
fn identity_options(transport: &Transport, settings: &ArmSettings) -> ClientOptions {
    let defaults = ExponentialRetryOptions::default();
    let retry = ExponentialRetryOptions {
        max_retries: settings.attempts.saturating_sub(1),
        max_total_elapsed: azure_core::time::Duration::try_from(settings.call_timeout)
            .unwrap_or(defaults.max_total_elapsed),
        ..defaults
    };
    ClientOptions {
        transport: Some(transport.clone()),
        retry: RetryOptions::exponential(retry),
        ..ClientOptions::default()
    }
}

/// Whether an error (or one it wraps) is a failure to get an answer at all.
fn is_transport(error: &azure_core::Error) -> bool {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = next {
        if let Some(azure) = current.downcast_ref::<azure_core::Error>()
            && matches!(azure.kind(), ErrorKind::Io | ErrorKind::Connection)
        {
            return true;
        }
        next = current.source();
    }
    false
}

fn header(headers: &azure_core::http::headers::Headers, name: &'static str) -> Option<String> {
    headers
        .get_optional_str(&azure_core::http::headers::HeaderName::from_static(name))
        .map(str::to_owned)
}

/// `Retry-After` in seconds (what ARM sends), or `retry-after-ms` / `x-ms-retry-after-ms`.
fn retry_after(headers: &azure_core::http::headers::Headers) -> Option<Duration> {
    let millis = |name| header(headers, name)?.trim().parse::<u64>().ok();
    millis("retry-after-ms")
        .or_else(|| millis("x-ms-retry-after-ms"))
        .map(Duration::from_millis)
        .or_else(|| {
            header(headers, "retry-after")?
                .trim()
                .parse::<u64>()
                .ok()
                .map(Duration::from_secs)
        })
}

/// An answer, read whole.
struct Answer {
    status: u16,
    retry_after: Option<Duration>,
    async_operation: Option<String>,
    location: Option<String>,
    body: Vec<u8>,
}

impl Answer {
    /// The body as JSON; `None` when empty.
    fn json(&self, operation: &'static str, what: &str) -> Result<Option<Value>, ProviderError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        serde_json::from_slice(&self.body)
            .map(Some)
            .map_err(|e| ProviderError::Transient {
                operation,
                message: format!("{what}: the answer ({}) is not JSON: {e}", self.status),
            })
    }

    /// The operation a PUT or DELETE started: `Azure-AsyncOperation`, else (on 201/202)
    /// `Location`.
    fn operation(&self, delete: bool) -> Option<Operation> {
        if let Some(url) = &self.async_operation {
            return Some(Operation::new(OperationKind::AsyncOperation, delete, url));
        }
        match (&self.location, self.status) {
            (Some(url), 201 | 202) => Some(Operation::new(OperationKind::Location, delete, url)),
            _ => None,
        }
    }

    fn refusal(&self, operation: &'static str, what: &str) -> ProviderError {
        classify(
            operation,
            what,
            &ArmError::from_body(self.status, &self.body),
            self.retry_after,
        )
    }
}
