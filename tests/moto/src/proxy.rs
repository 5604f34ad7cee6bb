//! An HTTP/1 proxy in front of moto that records every call and injects faults.
//!
//! It serves from a thread of its own with its own Tokio runtime, so it outlives the runtime of
//! the test that started it and can serve another process (the operator in the e2e suite).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use ferry_testkit::http::send;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST};
use http::request::Parts;
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::error::Error;

/// What the proxy does instead of relaying moto's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Not forwarded; answers HTTP 400 `ThrottlingException` "Rate exceeded" the way AWS's
    /// awsJson protocol does (`x-amzn-errortype` header and `__type` in the body), which the
    /// SDK classifies as throttling and retries.
    Throttle,
    /// Not forwarded; answers HTTP 500 with the service's modelled server error
    /// (`ServerException` for ECS, `InternalServiceException` for Application Auto Scaling,
    /// `InternalServerException` for EventBridge Scheduler), which the SDK retries as a
    /// transient error.
    ServerError,
    /// Forwarded, so it takes effect in moto, then answered HTTP 503 as if moto's answer had
    /// been lost on the way (what a load balancer says). The SDK retries 503 as a transient
    /// error, so the retry meets the result of the first attempt.
    LostResponse,
    /// Forwarded, and moto's answer held back this long before it is relayed.
    Timeout(Duration),
}

/// A request the proxy received.
#[derive(Clone, Debug, PartialEq)]
pub struct Recorded {
    /// The operation: for awsJson requests what follows the dot in `X-Amz-Target`
    /// (`DescribeServices`); for EventBridge Scheduler's restJson1 requests the operation their
    /// method and path name (`GetSchedule` for `GET /schedules/NAME`); else the method and path
    /// (`POST /moto-api/reset`).
    pub operation: String,
    /// The JSON body; `Null` when empty, a string when it is not JSON.
    pub body: Value,
    /// The fault injected into this call, if any.
    pub fault: Option<Fault>,
    /// The access key id the request was signed with (`Credential=` of its SigV4
    /// `Authorization` header), so tests can tell which credentials a client used.
    pub access_key: Option<String>,
    /// When the proxy had received it (its body read, before it was forwarded): benchmarks
    /// time a change to the AWS call it causes.
    pub at: SystemTime,
}

impl Recorded {
    /// Whether the operation may change something (see [`is_write`]).
    pub fn is_write(&self) -> bool {
        is_write(&self.operation)
    }
}

/// Whether an operation may change something: any whose name does not start with `Describe`,
/// `List` or `Get`.
pub fn is_write(operation: &str) -> bool {
    !["Describe", "List", "Get"]
        .iter()
        .any(|read| operation.starts_with(read))
}

/// A running proxy on 127.0.0.1; dropping it stops it.
pub struct Proxy {
    endpoint: String,
    state: Arc<Mutex<State>>,
    shutdown: Option<oneshot::Sender<()>>,
}

#[derive(Default)]
struct State {
    requests: Vec<Recorded>,
    planned: Vec<Planned>,
}

struct Planned {
    operation: String,
    fault: Fault,
    left: usize,
}

impl Proxy {
    /// Starts a proxy on a free port that forwards to `upstream` (`http://host:port`).
    pub fn start(upstream: &str) -> Result<Self, Error> {
        let upstream = upstream_authority(upstream)?;
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
            .and_then(|listener| listener.set_nonblocking(true).map(|()| listener))
            .map_err(Error::setup("listen on 127.0.0.1"))?;
        let endpoint = listener
            .local_addr()
            .map(|address| format!("http://{address}"))
            .map_err(Error::setup("listen on 127.0.0.1"))?;
        let state = Arc::new(Mutex::new(State::default()));
        let (shutdown, stopped) = oneshot::channel();
        let served = Arc::clone(&state);
        let (started, starting) = mpsc::channel();
        std::thread::Builder::new()
            .name("moto-proxy".to_owned())
            .spawn(move || run(listener, upstream, served, stopped, &started))
            .map_err(Error::setup("start the proxy's thread"))?;
        starting
            .recv()
            .unwrap_or_else(|_| Err(io::Error::other("its thread ended early")))
            .map_err(Error::setup("start the proxy's runtime"))?;
        Ok(Self {
            endpoint,
            state,
            shutdown: Some(shutdown),
        })
    }

    /// Where the proxy answers: `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    /// How many calls each operation received, faulted attempts included.
    pub fn calls(&self) -> BTreeMap<String, usize> {
        count(self.state().requests.iter())
    }

    /// [`Proxy::calls`] of the operations that may change something ([`is_write`]).
    pub fn writes(&self) -> BTreeMap<String, usize> {
        count(self.state().requests.iter().filter(|r| r.is_write()))
    }

    /// Every request received, oldest first.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state().requests.clone()
    }

    /// The requests received after the first `skip`, oldest first: what a caller that follows
    /// the calls as they come has not seen yet (cheaper than [`Proxy::requests`] each time).
    pub fn requests_after(&self, skip: usize) -> Vec<Recorded> {
        let state = self.state();
        state
            .requests
            .get(skip..)
            .map_or_else(Vec::new, <[Recorded]>::to_vec)
    }

    /// The bodies of the requests of one operation, oldest first.
    pub fn bodies(&self, operation: &str) -> Vec<Value> {
        let state = self.state();
        let of_operation = state.requests.iter().filter(|r| r.operation == operation);
        of_operation.map(|r| r.body.clone()).collect()
    }

    /// Forgets the requests received and the faults not injected yet.
    pub fn clear(&self) {
        let mut state = self.state();
        state.requests.clear();
        state.planned.clear();
    }

    /// Injects `fault` into the next `times` calls of `operation` (`"*"`: of any operation).
    /// Faults planned earlier for the same calls come first.
    pub fn fail(&self, operation: &str, fault: Fault, times: usize) {
        self.state().planned.push(Planned {
            operation: operation.to_owned(),
            fault,
            left: times,
        });
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            // An error means the server has stopped already.
            let _ = shutdown.send(());
        }
    }
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl State {
    /// Records a request and takes the fault planned for it.
    fn record(
        &mut self,
        operation: String,
        body: Value,
        access_key: Option<String>,
    ) -> Option<Fault> {
        let planned = self
            .planned
            .iter_mut()
            .find(|p| p.left > 0 && (p.operation == operation || p.operation == "*"));
        let fault = planned.map(|planned| {
            planned.left -= 1;
            planned.fault
        });
        self.planned.retain(|p| p.left > 0);
        self.requests.push(Recorded {
            operation,
            body,
            fault,
            access_key,
            at: SystemTime::now(),
        });
        fault
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // A test that panicked while holding the lock left whole data behind: keep using it.
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

fn count<'a>(requests: impl Iterator<Item = &'a Recorded>) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for request in requests {
        *counts.entry(request.operation.clone()).or_default() += 1;
    }
    counts
}

fn upstream_authority(upstream: &str) -> Result<String, Error> {
    let invalid = || Error::Upstream(upstream.to_owned());
    let uri: Uri = upstream.parse().map_err(|_| invalid())?;
    if uri.scheme_str() != Some("http") {
        return Err(invalid());
    }
    let authority = uri.authority().ok_or_else(invalid)?;
    if authority.port().is_none() {
        return Err(invalid());
    }
    Ok(authority.to_string())
}

/// The proxy's thread: a runtime of its own, built and dropped here (dropping a runtime in the
/// caller's async context would panic), that serves until `stopped`.
fn run(
    listener: std::net::TcpListener,
    upstream: String,
    state: Arc<Mutex<State>>,
    stopped: oneshot::Receiver<()>,
    started: &mpsc::Sender<io::Result<()>>,
) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let ready = runtime.and_then(|runtime| {
        let listener = runtime.block_on(async { TcpListener::from_std(listener) })?;
        Ok((runtime, listener))
    });
    match ready {
        Ok((runtime, listener)) => {
            // The caller waits for this message, so it cannot be gone.
            let _ = started.send(Ok(()));
            runtime.block_on(serve(listener, upstream, state, stopped));
        }
        Err(error) => {
            let _ = started.send(Err(error));
        }
    }
}

async fn serve(
    listener: TcpListener,
    upstream: String,
    state: Arc<Mutex<State>>,
    mut stopped: oneshot::Receiver<()>,
) {
    let upstream = Arc::new(upstream);
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    // Out of file descriptors, say: let some close before trying again.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let upstream = Arc::clone(&upstream);
                let state = Arc::clone(&state);
                let service = service_fn(move |request| {
                    handle(Arc::clone(&upstream), Arc::clone(&state), request)
                });
                tokio::spawn(async move {
                    // A client that goes away mid-exchange is no concern of the proxy.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    }
}

async fn handle(
    upstream: Arc<String>,
    state: Arc<Mutex<State>>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) => return Ok(proxy_error(&error.to_string())),
    };
    let operation = operation(&parts);
    let fault = lock(&state).record(operation, json_body(&body), access_key(&parts.headers));
    let response = match fault {
        None => forward(&upstream, parts, body).await,
        Some(Fault::Throttle) => aws_error(
            StatusCode::BAD_REQUEST,
            "ThrottlingException",
            "Rate exceeded",
        ),
        Some(Fault::ServerError) => aws_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            server_error_type(&parts),
            "injected by the moto stand-in's proxy (Fault::ServerError)",
        ),
        Some(Fault::LostResponse) => {
            forward(&upstream, parts, body).await;
            aws_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailableException",
                "moto's answer was dropped by the stand-in's proxy (Fault::LostResponse)",
            )
        }
        Some(Fault::Timeout(delay)) => {
            let response = forward(&upstream, parts, body).await;
            tokio::time::sleep(delay).await;
            response
        }
    };
    Ok(response)
}

/// The operation a request calls (see [`Recorded::operation`]).
fn operation(parts: &Parts) -> String {
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|t| t.to_str().ok());
    match target.and_then(|target| target.rsplit_once('.')) {
        Some((_, operation)) => operation.to_owned(),
        None => scheduler_operation(&parts.method, parts.uri.path()).map_or_else(
            || format!("{} {}", parts.method, parts.uri.path()),
            str::to_owned,
        ),
    }
}

/// The EventBridge Scheduler operation of a restJson1 request (its model's `http` traits).
fn scheduler_operation(method: &http::Method, path: &str) -> Option<&'static str> {
    let mut segments = path.trim_start_matches('/').split('/');
    let collection = segments.next()?;
    let named = segments.next().is_some_and(|name| !name.is_empty());
    let operation = match (collection, named, method.as_str()) {
        ("schedules", false, "GET") => "ListSchedules",
        ("schedules", true, "POST") => "CreateSchedule",
        ("schedules", true, "GET") => "GetSchedule",
        ("schedules", true, "PUT") => "UpdateSchedule",
        ("schedules", true, "DELETE") => "DeleteSchedule",
        ("schedule-groups", false, "GET") => "ListScheduleGroups",
        ("schedule-groups", true, "POST") => "CreateScheduleGroup",
        ("schedule-groups", true, "GET") => "GetScheduleGroup",
        ("schedule-groups", true, "DELETE") => "DeleteScheduleGroup",
        ("tags", true, "GET") => "ListTagsForResource",
        ("tags", true, "POST") => "TagResource",
        ("tags", true, "DELETE") => "UntagResource",
        _ => return None,
    };
    Some(operation)
}

/// `AKID` of `AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request, ...`.
fn access_key(headers: &HeaderMap) -> Option<String> {
    let authorization = headers.get("authorization")?.to_str().ok()?;
    let (_, credential) = authorization.split_once("Credential=")?;
    let (key, _) = credential.split_once('/')?;
    Some(key.to_owned())
}

fn json_body(body: &Bytes) -> Value {
    if body.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

/// The server error that the service's model declares.
fn server_error_type(parts: &Parts) -> &'static str {
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|t| t.to_str().ok());
    match target.and_then(|target| target.split_once('.')) {
        Some(("AnyScaleFrontendService", _)) => "InternalServiceException",
        Some(("AmazonEC2ContainerServiceV20141113", _)) => "ServerException",
        None if scheduler_operation(&parts.method, parts.uri.path()).is_some() => {
            "InternalServerException"
        }
        _ => "InternalFailure",
    }
}

async fn forward(upstream: &str, parts: Parts, body: Bytes) -> Response<Full<Bytes>> {
    let mut request = Request::new(Full::new(body));
    *request.method_mut() = parts.method;
    *request.uri_mut() = parts.uri;
    *request.headers_mut() = end_to_end(parts.headers);
    request.headers_mut().remove(HOST);
    match send(upstream, request).await {
        Ok(response) => {
            let (mut parts, body) = response.into_parts();
            parts.headers = end_to_end(parts.headers);
            Response::from_parts(parts, Full::new(body))
        }
        Err(error) => proxy_error(&format!("moto at {upstream} did not answer: {error}")),
    }
}

/// The headers meant for the other end, not for the connection (RFC 9110 §7.6.1); the length
/// is set again from the body relayed.
fn end_to_end(mut headers: HeaderMap) -> HeaderMap {
    const HOP_BY_HOP: [&str; 8] = [
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "proxy-authorization",
    ];
    for name in HOP_BY_HOP {
        headers.remove(HeaderName::from_static(name));
    }
    headers.remove(CONTENT_LENGTH);
    headers
}

/// An error answered the way AWS's awsJson 1.1 protocol answers errors.
fn aws_error(status: StatusCode, code: &str, message: &str) -> Response<Full<Bytes>> {
    static REQUEST_IDS: AtomicU64 = AtomicU64::new(1);
    let request_id = REQUEST_IDS.fetch_add(1, Ordering::Relaxed);
    let body = json!({ "__type": code, "message": message }).to_string();
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    headers.insert("x-amzn-requestid", HeaderValue::from(request_id));
    if let Ok(code) = HeaderValue::from_str(code) {
        headers.insert("x-amzn-errortype", code);
    }
    response
}

fn proxy_error(message: &str) -> Response<Full<Bytes>> {
    aws_error(StatusCode::BAD_GATEWAY, "BadGateway", message)
}
