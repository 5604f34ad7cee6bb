//! `fake.py` as a child process on a free port (started by the testkit's launcher, with the
//! project's virtualenv).

use bytes::Bytes;
use ferry_testkit::http::{json_or_text, send, send_json};
use ferry_testkit::launch::{Launch, Process};
use http::{Method, Request, StatusCode};
use http_body_util::Full;
use serde_json::Value;
use tokio::sync::OnceCell;

use crate::error::Error;

/// How to install what [`CloudRunFake`] needs, the official Cloud Run and Cloud Scheduler
/// protos, into an interpreter `FERRY_CLOUDRUN_FAKE_PYTHON` names (the project's virtualenv has
/// them).
pub const INSTALL_HINT: &str =
    "python3 -m pip install 'google-cloud-run==0.16.1' 'google-cloud-scheduler==2.21.0'";

const SERVER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fake.py");

/// How to start a [`CloudRunFake`].
#[derive(Clone, Debug)]
pub struct Options {
    /// Observations of a pending operation before it is done: each GetOperation of it, and
    /// each GetService (GetJob) of the service (job) it changes, is one. An execution moves on
    /// the same way: its tasks start after this many observations (GetExecution, GetOperation
    /// of its RunJob or CancelExecution operation, GetJob of its job), and finish after as many
    /// more. 0 answers operations done at once and runs executions to their end at creation.
    pub operation_polls: usize,
    /// The Python interpreter with `google-cloud-run` and `google-cloud-scheduler` installed:
    /// `FERRY_CLOUDRUN_FAKE_PYTHON`; `None` runs the project's virtualenv (see
    /// `ferry_testkit::python`).
    pub python: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            operation_polls: 2,
            python: std::env::var("FERRY_CLOUDRUN_FAKE_PYTHON").ok(),
        }
    }
}

/// A running fake Cloud Run Admin API v2 on 127.0.0.1.
///
/// Dropping it kills the server. A server whose owner never drops it (a `static`, or a test
/// binary that is killed) exits by itself within a second of the test process.
pub struct CloudRunFake {
    process: Process,
    operation_polls: usize,
}

/// An answer of the fake to [`CloudRunFake::send_raw`].
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    /// The HTTP status.
    pub status: StatusCode,
    /// The JSON body (`Null` when empty, a string when it is not JSON).
    pub body: Value,
}

static SHARED: OnceCell<CloudRunFake> = OnceCell::const_new();

impl CloudRunFake {
    /// Starts the fake with the default [`Options`] and waits until it answers.
    pub async fn start() -> Result<Self, Error> {
        Self::start_with(Options::default()).await
    }

    /// Starts the fake with `options` and waits until it answers.
    pub async fn start_with(options: Options) -> Result<Self, Error> {
        let launch = Launch {
            name: "the Cloud Run fake",
            script: SERVER,
            args: vec![
                "--operation-polls".to_owned(),
                options.operation_polls.to_string(),
            ],
            python: options.python,
            python_var: "FERRY_CLOUDRUN_FAKE_PYTHON",
            install: INSTALL_HINT,
            health: "/fake/health",
        };
        Ok(Self {
            process: launch.start().await?,
            operation_polls: options.operation_polls,
        })
    }

    /// One fake for the whole test process, started by the first caller with the default
    /// [`Options`].
    ///
    /// It holds no task of any Tokio runtime, so every `#[tokio::test]` can use it. Tests that
    /// share it keep apart by using their own project ids, and look at their own calls and
    /// inject their own faults through [`CloudRunFake::project`] (they run in parallel, so
    /// [`CloudRunFake::reset`] would pull the state from under the others). It is never
    /// dropped: it exits when the test process does.
    pub async fn shared() -> Result<&'static Self, Error> {
        SHARED.get_or_try_init(Self::start).await
    }

    /// Where the fake answers: `http://127.0.0.1:PORT`. Give it to the Cloud Run client with
    /// `with_endpoint`.
    pub fn endpoint(&self) -> String {
        self.process.endpoint()
    }

    /// The [`Options::operation_polls`] it was started with.
    pub fn operation_polls(&self) -> usize {
        self.operation_polls
    }

    /// The last lines the fake wrote to stderr: one line per request (`METHOD PATH -> STATUS`)
    /// and the traceback of any 500 that is a bug of the fake.
    pub fn log(&self) -> String {
        self.process.log()
    }

    /// Sends one request to the fake as it is, bypassing any client: `path_and_query` like
    /// `/v2/projects/p/locations/l/services?serviceId=s`, `body` as JSON.
    ///
    /// For tests of what the fake refuses (an unknown field, a misplaced one) that a typed
    /// client cannot send. The call is recorded like any other.
    pub async fn send_raw(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> Result<Answer, Error> {
        let request = Request::builder()
            .method(method)
            .uri(path_and_query)
            .header("content-type", "application/json");
        let body = match body {
            Some(body) => Full::new(Bytes::from(body.to_string())),
            None => Full::default(),
        };
        let response = self.exchange("a raw request", request.body(body)).await?;
        Ok(Answer {
            status: response.status(),
            body: json_or_text(response.body()),
        })
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

impl std::fmt::Debug for CloudRunFake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudRunFake")
            .field("endpoint", &self.process.endpoint())
            .field("operation_polls", &self.operation_polls)
            .finish_non_exhaustive()
    }
}
