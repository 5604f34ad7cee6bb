//! moto server, patched by `launcher.py`, as a child process on a free port.

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
use tokio::sync::OnceCell;

use crate::error::Error;
use crate::http::send;

/// How to install what [`Moto`] needs.
pub const INSTALL_HINT: &str = "python3 -m pip install 'moto[server]==5.2.5'";

const LAUNCHER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/launcher.py");
const READY_WITHIN: Duration = Duration::from_secs(30);
const POLL_EVERY: Duration = Duration::from_millis(100);
/// How many of moto's last stderr lines are kept for error messages.
const LOG_LINES: usize = 200;
/// Tries to start moto when the free port found was taken before moto could bind it.
const START_ATTEMPTS: usize = 3;

/// How to start a [`Moto`].
#[derive(Clone, Debug)]
pub struct Options {
    /// The DescribeServices call (counting those that include the service) that reports a
    /// rollout finished: the first `rollout_describes - 1` report `IN_PROGRESS`. 0 finishes
    /// rollouts at once, in the CreateService or UpdateService answer.
    pub rollout_describes: usize,
    /// The Python interpreter with moto installed: `FERRY_MOTO_PYTHON`, else `python3`.
    pub python: String,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            rollout_describes: 2,
            python: std::env::var("FERRY_MOTO_PYTHON").unwrap_or_else(|_| "python3".to_owned()),
        }
    }
}

/// A running moto server on 127.0.0.1.
///
/// Dropping it kills the server. A server whose owner never drops it (a `static`, or a test
/// binary that is killed) exits by itself within a second of the test process.
pub struct Moto {
    endpoint: String,
    authority: String,
    rollout_describes: usize,
    child: Mutex<Child>,
    log: Log,
}

/// The last lines moto wrote to stderr, kept by a thread that reads them.
struct Log {
    lines: Arc<Mutex<VecDeque<String>>>,
    reader: Mutex<Option<JoinHandle<()>>>,
}

static SHARED: OnceCell<Moto> = OnceCell::const_new();

impl Moto {
    /// Starts moto with the default [`Options`], waits until it answers and warms ECS up.
    pub async fn start() -> Result<Self, Error> {
        Self::start_with(Options::default()).await
    }

    /// Starts moto with `options`, waits until it answers and warms ECS up.
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

    /// One server for the whole test process, started by the first caller with the default
    /// [`Options`].
    ///
    /// It holds no task of any Tokio runtime, so every `#[tokio::test]` can use it. Tests that
    /// share it keep apart by using their own cluster names (they run in parallel, so
    /// [`Moto::reset`] would pull the state from under the others). It is never dropped: it
    /// exits when the test process does.
    pub async fn shared() -> Result<&'static Self, Error> {
        SHARED.get_or_try_init(Self::start).await
    }

    /// Where moto answers: `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    /// The [`Options::rollout_describes`] it was started with.
    pub fn rollout_describes(&self) -> usize {
        self.rollout_describes
    }

    /// Forgets every resource of every service (`POST /moto-api/reset`); the patches stay.
    pub async fn reset(&self) -> Result<(), Error> {
        let request = Request::post("/moto-api/reset").body(Full::default());
        self.expect_ok("POST /moto-api/reset", request).await
    }

    /// The last lines moto wrote to stderr (tracebacks of its 500 answers among them).
    pub fn log(&self) -> String {
        self.log.text()
    }

    async fn start_once(options: &Options) -> Result<Self, Error> {
        let port = free_port()?;
        let mut child = Command::new(&options.python)
            .arg(LAUNCHER)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args([
                "--rollout-describes",
                &options.rollout_describes.to_string(),
            ])
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
        // From here on, an early return drops `moto`, which kills the child.
        let moto = Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            authority: format!("127.0.0.1:{port}"),
            rollout_describes: options.rollout_describes,
            child: Mutex::new(child),
            log,
        };
        moto.wait_until_ready().await?;
        moto.warm_up().await?;
        Ok(moto)
    }

    async fn wait_until_ready(&self) -> Result<(), Error> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.exit_status() {
                let mut log = self.log.text_when_closed();
                if !log.contains(INSTALL_HINT) {
                    log = format!("{log}\nIf moto is missing: {INSTALL_HINT}");
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
        let Ok(request) = Request::get("/moto-api/").body(Full::default()) else {
            return false;
        };
        let response = send(&self.authority, request).await;
        response.is_ok_and(|response| response.status() == StatusCode::OK)
    }

    /// The first call to a service loads its backend (~1.7 s for ECS); pay it once here rather
    /// than in whichever test comes first, where it could exceed an SDK timeout.
    async fn warm_up(&self) -> Result<(), Error> {
        let calls = [
            (
                "ecs",
                "AmazonEC2ContainerServiceV20141113.ListClusters",
                "{}",
            ),
            (
                "application-autoscaling",
                "AnyScaleFrontendService.DescribeScalableTargets",
                r#"{"ServiceNamespace":"ecs"}"#,
            ),
        ];
        for (service, target, body) in calls {
            let request = Request::builder()
                .method(Method::POST)
                .uri("/")
                .header("content-type", "application/x-amz-json-1.1")
                .header("x-amz-target", target)
                // moto picks the service from the credential scope; it checks no signature.
                .header(
                    "authorization",
                    format!(
                        "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/{service}/aws4_request, \
                         SignedHeaders=host, Signature=0"
                    ),
                )
                .body(Full::new(Bytes::from_static(body.as_bytes())));
            self.expect_ok("warming up", request).await?;
        }
        Ok(())
    }

    async fn expect_ok(
        &self,
        what: &'static str,
        request: http::Result<Request<Full<Bytes>>>,
    ) -> Result<(), Error> {
        let failed = |message: String| Error::Request {
            what,
            endpoint: self.endpoint(),
            message,
        };
        let request = request.map_err(|error| failed(error.to_string()))?;
        let response = send(&self.authority, request)
            .await
            .map_err(|error| failed(error.to_string()))?;
        if response.status().is_success() {
            Ok(())
        } else {
            let body = String::from_utf8_lossy(response.body());
            Err(failed(format!("HTTP {}: {body}", response.status())))
        }
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

impl Drop for Moto {
    fn drop(&mut self) {
        let child = self.child.get_mut().unwrap_or_else(PoisonError::into_inner);
        // Already gone when these fail, which is all that is wanted.
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl std::fmt::Debug for Moto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Moto")
            .field("endpoint", &self.endpoint)
            .field("rollout_describes", &self.rollout_describes)
            .finish_non_exhaustive()
    }
}

impl Log {
    /// Keeps the last [`LOG_LINES`] lines of `stderr`. Reading them all the time also keeps
    /// moto from blocking on a full pipe.
    fn capture(stderr: Option<impl Read + Send + 'static>) -> Self {
        let lines = Arc::new(Mutex::new(VecDeque::new()));
        let reader = stderr.and_then(|stderr| {
            let lines = Arc::clone(&lines);
            std::thread::Builder::new()
                .name("moto-stderr".to_owned())
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

/// A port nobody listens on now. Another process could take it before moto binds it, which
/// [`Moto::start_with`] survives by trying again.
fn free_port() -> Result<u16, Error> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).map_err(Error::setup("find a free port"))?;
    let address = listener
        .local_addr()
        .map_err(Error::setup("find a free port"))?;
    Ok(address.port())
}
