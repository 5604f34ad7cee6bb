//! `fake.py` as a child process on a free port (started by the testkit's launcher with a plain
//! `python3`: the fake needs nothing beyond Python's standard library).

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use ferry_testkit::http::{json_or_text, send, send_json};
use ferry_testkit::launch::{Launch, Process};
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::Full;
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::OnceCell;

use crate::error::Error;

/// What [`AzureFake`] needs: a Python 3 (standard library only), as `python3` on `PATH` or
/// named by `FERRY_AZURE_FAKE_PYTHON`.
pub const INSTALL_HINT: &str =
    "Python 3 (standard library only): apt-get install python3, or set FERRY_AZURE_FAKE_PYTHON";

/// The api-version of Microsoft.App (container apps and Container Apps jobs) the fake serves, and
/// the only one it accepts.
pub const CONTAINER_APPS_API_VERSION: &str = "2026-01-01";

/// The api-version of Microsoft.ContainerInstance the fake serves, and the only one it accepts.
pub const CONTAINER_INSTANCES_API_VERSION: &str = "2026-05-01";

const SERVER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fake.py");

/// The Azure definitions (`azure-specs`, a copy of Azure/azure-rest-api-specs' `specification/`
/// folder): `FERRY_SHARED_DIR/data/azure-specs`, by default `../shared` beside the repository.
pub fn specs_dir() -> PathBuf {
    std::env::var_os("FERRY_SHARED_DIR")
        .map_or_else(
            || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
            PathBuf::from,
        )
        .join("data/azure-specs")
}

/// How to start an [`AzureFake`].
#[derive(Clone, Debug)]
pub struct Options {
    /// Observations of a pending long-running operation until it is done: each GET of its
    /// `Azure-AsyncOperation` or `Location` URL, and each GET of the resource it changes, is
    /// one; the N-th finds it done. 0 finishes operations at once.
    pub operation_polls: usize,
    /// The `Retry-After` (seconds) the fake sends with pending operations. Real ARM sends more;
    /// 0 keeps polling clients from sleeping.
    pub retry_after: u32,
    /// How long a [`crate::Fault::Timeout`] keeps a call without an answer before closing it.
    pub hang: Duration,
    /// The Python interpreter: `FERRY_AZURE_FAKE_PYTHON`, else `python3`.
    pub python: String,
    /// The azure-specs folder; `None` is [`specs_dir`].
    pub specs: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            operation_polls: 2,
            retry_after: 0,
            hang: Duration::from_secs(30),
            python: std::env::var("FERRY_AZURE_FAKE_PYTHON")
                .unwrap_or_else(|_| "python3".to_owned()),
            specs: None,
        }
    }
}

/// A running fake Azure Resource Manager on 127.0.0.1.
///
/// Dropping it kills the server. A server whose owner never drops it (a `static`, or a test
/// binary that is killed) exits by itself within a second of the test process.
pub struct AzureFake {
    process: Process,
    options: Options,
}

/// An answer of the fake to [`AzureFake::send_raw`].
#[derive(Clone, Debug)]
pub struct Answer {
    /// The HTTP status.
    pub status: StatusCode,
    /// The headers (`Azure-AsyncOperation`, `Location`, `Retry-After`, ...).
    pub headers: HeaderMap,
    /// The JSON body (`Null` when empty, a string when it is not JSON).
    pub body: Value,
}

impl Answer {
    /// A header's value, when present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// The error of an answer in ARM's shape (`{"error": {"code", "message", "target"?}}`).
    pub fn arm_error(&self) -> Option<ArmError> {
        serde_json::from_value(self.body.get("error")?.clone()).ok()
    }
}

/// An error as Azure Resource Manager writes it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct ArmError {
    /// The code (`InvalidRequestContent`, `ResourceNotFound`, ...).
    pub code: String,
    /// The message.
    pub message: String,
    /// The path of the property at fault, like `properties.template.containers[0].image`.
    #[serde(default)]
    pub target: Option<String>,
}

static SHARED: OnceCell<AzureFake> = OnceCell::const_new();

impl AzureFake {
    /// Starts the fake with the default [`Options`] and waits until it answers.
    pub async fn start() -> Result<Self, Error> {
        Self::start_with(Options::default()).await
    }

    /// Starts the fake with `options` and waits until it answers.
    pub async fn start_with(options: Options) -> Result<Self, Error> {
        let specs = options.specs.clone().unwrap_or_else(specs_dir);
        if !specs.join("common-types").is_dir() {
            return Err(Error::Specs { path: specs });
        }
        let launch = Launch {
            name: "the Azure fake",
            script: SERVER,
            args: vec![
                "--specs".to_owned(),
                specs.display().to_string(),
                "--operation-polls".to_owned(),
                options.operation_polls.to_string(),
                "--retry-after".to_owned(),
                options.retry_after.to_string(),
                "--hang-seconds".to_owned(),
                options.hang.as_secs_f64().to_string(),
            ],
            python: Some(options.python.clone()),
            python_var: "FERRY_AZURE_FAKE_PYTHON",
            install: INSTALL_HINT,
            health: "/fake/health",
        };
        Ok(Self {
            process: launch.start().await?,
            options,
        })
    }

    /// One fake for the whole test process, started by the first caller with the default
    /// [`Options`].
    ///
    /// It holds no task of any Tokio runtime, so every `#[tokio::test]` can use it. Tests that
    /// share it keep apart by using subscriptions of their own ([`AzureFake::subscription`]),
    /// whose calls, faults, image behaviours and token settings no other test sees. It is never
    /// dropped: it exits when the test process does.
    pub async fn shared() -> Result<&'static Self, Error> {
        SHARED.get_or_try_init(Self::start).await
    }

    /// Where the fake answers: `http://127.0.0.1:PORT`, the Resource Manager endpoint (in place
    /// of `https://management.azure.com`) and the Microsoft Entra authority host (in place of
    /// `https://login.microsoftonline.com`).
    pub fn endpoint(&self) -> String {
        self.process.endpoint()
    }

    /// The [`Options`] it was started with.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The last lines the fake wrote to stderr: one line per request (`METHOD PATH -> STATUS`)
    /// and the traceback of any 500 that is a bug of the fake.
    pub fn log(&self) -> String {
        self.process.log()
    }

    /// Sends one request to the fake as it is, bypassing any client: `path_and_query` like
    /// `/subscriptions/S/resourceGroups/R/providers/Microsoft.App/containerApps/web?api-version=2026-01-01`,
    /// `body` as JSON. The call is recorded like any other.
    ///
    /// An answer that never comes ([`crate::Fault::Lost`], [`crate::Fault::Timeout`]) is an
    /// [`Error::Request`].
    pub async fn send_raw(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> Result<Answer, Error> {
        let body = body.map(|body| body.to_string().into_bytes());
        self.send_raw_with(
            method,
            path_and_query,
            &[("content-type", "application/json")],
            body,
        )
        .await
    }

    /// [`AzureFake::send_raw`] with headers of one's own (`authorization`) and any body (a form).
    pub async fn send_raw_with(
        &self,
        method: Method,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Result<Answer, Error> {
        let mut request = Request::builder().method(method).uri(path_and_query);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let body = body.map_or_else(Full::default, |body| Full::new(Bytes::from(body)));
        let response = self.exchange("a raw request", request.body(body)).await?;
        let (parts, body) = response.into_parts();
        Ok(Answer {
            status: parts.status,
            headers: parts.headers,
            body: json_or_text(&body),
        })
    }

    /// GETs an absolute URL the fake handed out (an `Azure-AsyncOperation` or `Location`
    /// header), as a polling client does.
    pub async fn follow(&self, url: &str) -> Result<Answer, Error> {
        let endpoint = self.endpoint();
        let path = url.strip_prefix(&endpoint).ok_or_else(|| {
            self.failed(
                "following a URL",
                format!("{url} is not on the fake ({endpoint})"),
            )
        })?;
        self.send_raw(Method::GET, path, None).await
    }

    /// Sends a request to the fake and reads its answer, whatever its status.
    pub(crate) async fn exchange(
        &self,
        what: &'static str,
        request: http::Result<Request<Full<Bytes>>>,
    ) -> Result<http::Response<Bytes>, Error> {
        let request = request.map_err(|error| self.failed(what, error.to_string()))?;
        send(self.process.authority(), request)
            .await
            .map_err(|error| self.failed(what, error.to_string()))
    }

    /// Sends an admin request and reads its JSON answer, which must be a success.
    pub(crate) async fn admin(
        &self,
        what: &'static str,
        method: Method,
        path_and_query: &str,
        body: Option<Value>,
    ) -> Result<Value, Error> {
        let (status, answer) = send_json(
            self.process.authority(),
            method,
            path_and_query,
            body.as_ref(),
        )
        .await
        .map_err(|error| self.failed(what, error.to_string()))?;
        if status.is_success() {
            Ok(answer)
        } else {
            Err(self.failed(what, format!("HTTP {status}: {answer}")))
        }
    }

    pub(crate) fn failed(&self, what: &'static str, message: String) -> Error {
        Error::Request {
            what,
            endpoint: self.endpoint(),
            message,
        }
    }
}

impl std::fmt::Debug for AzureFake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureFake")
            .field("endpoint", &self.process.endpoint())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}
