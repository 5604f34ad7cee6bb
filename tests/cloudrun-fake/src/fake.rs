//! `fake.py` as a child process on a free port.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::Full;
use serde_json::Value;
use tokio::sync::OnceCell;

use crate::error::Error;
use crate::http::send;

/// How to install what [`CloudRunFake`] needs: the official Cloud Run protos.
pub const INSTALL_HINT: &str = "python3 -m pip install 'google-cloud-run==0.16.1'";

const SERVER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fake.py");
const READY_WITHIN: Duration = Duration::from_secs(30);
const POLL_EVERY: Duration = Duration::from_millis(50);
/// How many of the fake's last stderr lines are kept for error messages.
const LOG_LINES: usize = 200;
/// Tries to start the fake when the free port found was taken before it could bind it.
const START_ATTEMPTS: usize = 3;

/// How to start a [`CloudRunFake`].
#[derive(Clone, Debug)]
pub struct Options {
    /// Observations of a pending operation before it is done: each GetOperation of it, and
    /// each GetService of the service it changes, is one. 0 answers operations done at once.
    pub operation_polls: usize,
    /// The Python interpreter with `google-cloud-run` installed:
    /// `FERRY_CLOUDRUN_FAKE_PYTHON`, else `python3`.
    pub python: String,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            operation_polls: 2,
            python: std::env::var("FERRY_CLOUDRUN_FAKE_PYTHON")
                .unwrap_or_else(|_| "python3".to_owned()),
        }
    }
}

/// A running fake Cloud Run Admin API v2 on 127.0.0.1.
///
/// Dropping it kills the server. A server whose owner never drops it (a `static`, or a test
/// binary that is killed) exits by itself within a second of the test process.
pub struct CloudRunFake {
    endpoint: String,
    authority: String,
    operation_polls: usize,
    child: Mutex<Child>,
    log: Log,
}

/// An answer of the fake to [`CloudRunFake::send_raw`].
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    /// The HTTP status.
    pub status: StatusCode,
    /// The JSON body (`Null` when empty, a string when it is not JSON).
    pub body: Value,
}

/// The last lines the fake wrote to stderr, kept by a thread that reads them.
struct Log {
    lines: Arc<Mutex<VecDeque<String>>>,
    reader: Mutex<Option<JoinHandle<()>>>,
}

static SHARED: OnceCell<CloudRunFake> = OnceCell::const_new();

impl CloudRunFake {
    /// Starts the fake with the default [`Options`] and waits until it answers.
    pub async fn start() -> Result<Self, Error> {
        Self::start_with(Options::default()).await
    }

    /// Starts the fake with `options` and waits until it answers.
    pub async fn start_with(options: Options) -> Result<Self, Error> {
        let mut attempt = 1;
        loop {
            match Self::start_once(&options).await {
                Err(Error::Exited { log, .. })
                    if attempt < START_ATTEMPTS && log.contains("Address already in use") =>
                {
                    attempt += 1;
                }
                started => return started,
            }
        }
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
        self.endpoint.clone()
    }

    /// The [`Options::operation_polls`] it was started with.
    pub fn operation_polls(&self) -> usize {
        self.operation_polls
    }

    /// The last lines the fake wrote to stderr: one line per request (`METHOD PATH -> STATUS`)
    /// and the traceback of any 500 that is a bug of the fake.
    pub fn log(&self) -> String {
        self.log.text()
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
        send(&self.authority, request)
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
        let request = Request::builder().method(method).uri(path_and_query);
        let body = body.map_or_else(Full::default, |body| {
            Full::new(Bytes::from(body.to_string()))
        });
        let response = self.exchange(what, request.body(body)).await?;
        let answer = json_or_text(response.body());
        if response.status().is_success() {
            Ok(answer)
        } else {
            Err(self.failed(what, format!("HTTP {}: {answer}", response.status())))
        }
    }

    pub(crate) fn failed(&self, what: &'static str, message: String) -> Error {
        Error::Request {
            what,
            endpoint: self.endpoint(),
            message,
        }
    }

    async fn start_once(options: &Options) -> Result<Self, Error> {
        let port = free_port()?;
        let mut child = Command::new(&options.python)
            .arg(SERVER)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--operation-polls", &options.operation_polls.to_string()])
            // Named, because a parent that died while Python started would go unnoticed.
            .args(["--parent-pid", &std::process::id().to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| Error::Spawn {
                python: options.python.clone(),
                source,
            })?;
        let log = Log::capture(child.stderr.take());
        // From here on, an early return drops `fake`, which kills the child.
        let fake = Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            authority: format!("127.0.0.1:{port}"),
            operation_polls: options.operation_polls,
            child: Mutex::new(child),
            log,
        };
        fake.wait_until_ready().await?;
        Ok(fake)
    }

    async fn wait_until_ready(&self) -> Result<(), Error> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.exit_status() {
                let mut log = self.log.text_when_closed();
                if !log.contains(INSTALL_HINT) {
                    log = format!("{log}\nIf google-cloud-run is missing: {INSTALL_HINT}");
                }
                return Err(Error::Exited { status, log });
            }
            if self.answers().await {
                return Ok(());
            }
            if started.elapsed() > READY_WITHIN {
                return Err(Error::NotReady {
                    endpoint: self.endpoint(),
                    waited: READY_WITHIN,
                    log: self.log.text(),
                });
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
    }

    async fn answers(&self) -> bool {
        let request = Request::get("/fake/health").body(Full::default());
        let response = self.exchange("GET /fake/health", request).await;
        response.is_ok_and(|response| response.status() == StatusCode::OK)
    }

    fn exit_status(&self) -> Option<String> {
        let mut child = self.child.lock().unwrap_or_else(PoisonError::into_inner);
        match child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            Ok(None) => None,
            Err(error) => Some(error.to_string()),
        }
    }
}

impl Drop for CloudRunFake {
    fn drop(&mut self) {
        let child = self.child.get_mut().unwrap_or_else(PoisonError::into_inner);
        // Already gone when these fail, which is all that is wanted.
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl std::fmt::Debug for CloudRunFake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudRunFake")
            .field("endpoint", &self.endpoint)
            .field("operation_polls", &self.operation_polls)
            .finish_non_exhaustive()
    }
}

fn json_or_text(body: &Bytes) -> Value {
    if body.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

impl Log {
    /// Keeps the last [`LOG_LINES`] lines of `stderr`. Reading them all the time also keeps
    /// the fake from blocking on a full pipe.
    fn capture(stderr: Option<impl Read + Send + 'static>) -> Self {
        let lines = Arc::new(Mutex::new(VecDeque::new()));
        let reader = stderr.and_then(|stderr| {
            let lines = Arc::clone(&lines);
            std::thread::Builder::new()
                .name("cloudrun-fake-stderr".to_owned())
                .spawn(move || {
                    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                        let mut lines = lines.lock().unwrap_or_else(PoisonError::into_inner);
                        if lines.len() == LOG_LINES {
                            lines.pop_front();
                        }
                        lines.push_back(line);
                    }
                })
                .ok()
        });
        Self {
            lines,
            reader: Mutex::new(reader),
        }
    }

    fn text(&self) -> String {
        let lines = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        lines
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The whole log of a process that has exited: its pipe is closed, so the reader ends
    /// once it has read what is left.
    fn text_when_closed(&self) -> String {
        let reader = self
            .reader
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(reader) = reader {
            let _ = reader.join();
        }
        self.text()
    }
}

/// A port nobody listens on now. Another process could take it before the fake binds it,
/// which [`CloudRunFake::start_with`] survives by trying again.
fn free_port() -> Result<u16, Error> {
    let setup = |source| Error::Setup {
        what: "find a free port",
        source,
    };
    let listener = TcpListener::bind(("127.0.0.1", 0)).map_err(setup)?;
    let address = listener.local_addr().map_err(setup)?;
    Ok(address.port())
}
