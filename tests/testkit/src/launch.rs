//! A Python stand-in (moto's launcher, the fake Cloud Run API) as a child process on a free
//! port of 127.0.0.1, run by the project's virtualenv ([`crate::python`]) unless told which
//! interpreter to use.
//!
//! [`Launch::start`] picks a free port (and tries again when another process took it before the
//! script bound it), waits until the script answers its health path, and keeps the last lines
//! it wrote to stderr for error messages. The script is given `--parent-pid`, so it exits by
//! itself within a second of the test process, even one that is killed; [`Process`] kills it
//! when dropped.

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;

use crate::http::send;
use crate::python;

const READY_WITHIN: Duration = Duration::from_secs(30);
const POLL_EVERY: Duration = Duration::from_millis(50);
/// How many of the script's last stderr lines are kept for error messages.
const LOG_LINES: usize = 200;
/// Tries to start the script when the free port found was taken before it could bind it.
const START_ATTEMPTS: usize = 3;

/// How to start a Python stand-in.
#[derive(Clone, Debug)]
pub struct Launch {
    /// What it is, for messages: `moto`, `the Cloud Run fake`.
    pub name: &'static str,
    /// The script. It takes `--host`, `--port` and `--parent-pid`, which the launcher gives.
    pub script: &'static str,
    /// Its other arguments.
    pub args: Vec<String>,
    /// The interpreter, used as it is; `None` runs the project's virtualenv.
    pub python: Option<String>,
    /// The variable that names another interpreter, for messages.
    pub python_var: &'static str,
    /// How to install what the script needs into such an interpreter, for messages.
    pub install: &'static str,
    /// A path that answers 200 once the script serves.
    pub health: &'static str,
}

/// Why a stand-in could not start.
#[derive(thiserror::Error)]
pub enum Error {
    /// The project's virtualenv could not be made.
    #[error(transparent)]
    Python(#[from] python::Error),
    /// The interpreter could not be started.
    #[error(
        "cannot start {python} ({python_var} chooses another interpreter): {source}; {name} \
         needs: {install}"
    )]
    Spawn {
        /// What was started.
        name: &'static str,
        /// The interpreter.
        python: String,
        /// The variable that chooses another.
        python_var: &'static str,
        /// How to install what it needs.
        install: &'static str,
        /// Why.
        source: io::Error,
    },
    /// The script exited before it answered.
    #[error("{name} exited before it answered ({status}); its last output:\n{log}")]
    Exited {
        /// What was started.
        name: &'static str,
        /// How it exited.
        status: String,
        /// The end of what it wrote to stderr, and how to install what it needs unless that
        /// says it.
        log: String,
    },
    /// The script did not answer in time.
    #[error("{name} did not answer on {endpoint} within {waited:?}; its last output:\n{log}")]
    NotReady {
        /// What was started.
        name: &'static str,
        /// Where it was asked.
        endpoint: String,
        /// How long.
        waited: Duration,
        /// The end of what it wrote to stderr.
        log: String,
    },
    /// A socket or thread could not be set up.
    #[error("cannot {what}: {source}")]
    Setup {
        /// What was being set up.
        what: &'static str,
        /// Why.
        source: io::Error,
    },
}

/// The message: tests `unwrap()` these, which prints `Debug`, and what to do is in the message.
impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// A running stand-in on 127.0.0.1, killed when dropped.
pub struct Process {
    endpoint: String,
    authority: String,
    child: Mutex<Child>,
    log: Log,
}

/// The last lines the script wrote to stderr, kept by a thread that reads them.
struct Log {
    lines: Arc<Mutex<VecDeque<String>>>,
    reader: Mutex<Option<JoinHandle<()>>>,
}

impl Launch {
    /// Starts the script on a free port and waits until it answers; the first start of a
    /// process may make the virtualenv first (see [`crate::python`]).
    pub async fn start(&self) -> Result<Process, Error> {
        let python = match &self.python {
            Some(python) => PathBuf::from(python),
            // Making it blocks for a minute on first use: not on a runtime's worker thread.
            None => tokio::task::spawn_blocking(python::venv_python)
                .await
                .map_err(|error| Error::Setup {
                    what: "make the virtualenv",
                    source: io::Error::other(error),
                })??,
        };
        let mut attempt = 1;
        loop {
            match self.start_once(&python).await {
                Err(Error::Exited { log, .. })
                    if attempt < START_ATTEMPTS && log.contains("Address already in use") =>
                {
                    attempt += 1;
                }
                started => return started,
            }
        }
    }

    async fn start_once(&self, python: &Path) -> Result<Process, Error> {
        let port = free_port()?;
        let mut child = Command::new(python)
            .arg(self.script)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(&self.args)
            // Named, because a parent that died while Python started would go unnoticed.
            .args(["--parent-pid", &std::process::id().to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| Error::Spawn {
                name: self.name,
                python: python.display().to_string(),
                python_var: self.python_var,
                install: self.install,
                source,
            })?;
        let log = Log::capture(child.stderr.take());
        // From here on, an early return drops `process`, which kills the child.
        let process = Process {
            endpoint: format!("http://127.0.0.1:{port}"),
            authority: format!("127.0.0.1:{port}"),
            child: Mutex::new(child),
            log,
        };
        self.wait_until_ready(&process).await?;
        Ok(process)
    }

    async fn wait_until_ready(&self, process: &Process) -> Result<(), Error> {
        let started = Instant::now();
        loop {
            if let Some(status) = process.exit_status() {
                let mut log = process.log.text_when_closed();
                if !log.contains(self.install) {
                    log = format!("{log}\n{} needs: {}", self.name, self.install);
                }
                return Err(Error::Exited {
                    name: self.name,
                    status,
                    log,
                });
            }
            if self.answers(process).await {
                return Ok(());
            }
            if started.elapsed() > READY_WITHIN {
                return Err(Error::NotReady {
                    name: self.name,
                    endpoint: process.endpoint(),
                    waited: READY_WITHIN,
                    log: process.log(),
                });
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
    }

    async fn answers(&self, process: &Process) -> bool {
        let Ok(request) = Request::get(self.health).body(Full::<Bytes>::default()) else {
            return false;
        };
        let response = send(process.authority(), request).await;
        response.is_ok_and(|response| response.status() == StatusCode::OK)
    }
}

impl Process {
    /// Where it answers: `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    /// `127.0.0.1:PORT`, for [`crate::http::send`].
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// The last lines it wrote to stderr.
    pub fn log(&self) -> String {
        self.log.text()
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

impl Drop for Process {
    fn drop(&mut self) {
        let child = self.child.get_mut().unwrap_or_else(PoisonError::into_inner);
        // Already gone when these fail, which is all that is wanted.
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl std::fmt::Debug for Process {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Process")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl Log {
    /// Keeps the last [`LOG_LINES`] lines of `stderr`. Reading them all the time also keeps
    /// the script from blocking on a full pipe.
    fn capture(stderr: Option<impl Read + Send + 'static>) -> Self {
        let lines = Arc::new(Mutex::new(VecDeque::new()));
        let reader = stderr.and_then(|stderr| {
            let lines = Arc::clone(&lines);
            std::thread::Builder::new()
                .name("stand-in-stderr".to_owned())
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

/// A port nobody listens on now. Another process could take it before the script binds it,
/// which [`Launch::start`] survives by trying again.
fn free_port() -> Result<u16, Error> {
    let setup = |source| Error::Setup {
        what: "find a free port",
        source,
    };
    let listener = TcpListener::bind(("127.0.0.1", 0)).map_err(setup)?;
    let address = listener.local_addr().map_err(setup)?;
    Ok(address.port())
}
