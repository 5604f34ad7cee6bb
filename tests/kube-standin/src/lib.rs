//! A Kubernetes API server stand-in for Ferry's tests.
//!
//! No kube-apiserver can be installed where Ferry is built, so its tests talk to this: an HTTP
//! server on 127.0.0.1 that keeps objects in memory and follows the real API server wherever
//! kube-rs and the operator depend on it. What it does, and what it leaves out, is in its
//! README. Start one with [`StandIn::start`] (on the current Tokio runtime) or
//! [`StandIn::start_in_background`] (on a thread of its own, for tests that share it), point a
//! `kube::Client` at [`StandIn::kubeconfig`], and drop it to stop it. [`StandIn::faults`] makes
//! chosen requests meet the faults a real API server shows (conflicts, throttling, server
//! errors, dropped and expired watches); [`Remote`] does the same over HTTP.

pub mod apply;
pub mod audit;
pub mod builtin;
pub mod error;
pub mod faults;
pub mod rbac;
pub mod registry;
pub mod remote;
pub mod selectors;
pub mod server;
pub mod store;
pub mod watch;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub use faults::{Counts, Fault, FaultKind, Faults, Matcher, Rule};
pub use remote::Remote;
pub use store::Limits;

/// Why a stand-in could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A CRD file could not be read or parsed.
    #[error("{path}: {message}")]
    Crd {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// The API refused a CRD given at start.
    #[error("a CRD given at start was refused: {0}")]
    Refused(#[from] error::ApiError),
    /// The audit log could not be opened.
    #[error("audit log {0}: {1}")]
    Audit(String, std::io::Error),
    /// The socket could not be opened.
    #[error("cannot listen on 127.0.0.1: {0}")]
    Listen(#[from] std::io::Error),
}

/// How to start a stand-in.
#[derive(Clone, Debug)]
pub struct Config {
    /// CRDs served from the start.
    pub crds: Vec<CustomResourceDefinition>,
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// How often watches that allow bookmarks get one.
    pub bookmark_interval: Duration,
    /// History and other limits.
    pub limits: Limits,
    /// Appends each request's authorization attributes to this file (see [`audit`]).
    pub audit_log: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            crds: Vec::new(),
            port: 0,
            bookmark_interval: Duration::from_secs(1),
            limits: Limits::default(),
            audit_log: None,
        }
    }
}

impl Config {
    /// Adds every CRD in the YAML files (one or more documents each) of `dir`.
    pub fn with_crds_from(mut self, dir: &Path) -> Result<Self, Error> {
        let error = |path: &Path, message: String| Error::Crd {
            path: path.display().to_string(),
            message,
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| error(dir, e.to_string()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
            .collect();
        files.sort();
        for file in files {
            let text = std::fs::read_to_string(&file).map_err(|e| error(&file, e.to_string()))?;
            let documents: Vec<serde_json::Value> =
                serde_saphyr::from_multiple(&text).map_err(|e| error(&file, e.to_string()))?;
            for document in documents.into_iter().filter(|d| !d.is_null()) {
                let crd =
                    serde_json::from_value(document).map_err(|e| error(&file, e.to_string()))?;
                self.crds.push(crd);
            }
        }
        Ok(self)
    }
}

/// A running stand-in; dropping it stops it.
pub struct StandIn {
    addr: SocketAddr,
    store: Arc<store::Store>,
    faults: Faults,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for StandIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StandIn")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl StandIn {
    /// Starts serving on the current Tokio runtime.
    pub async fn start(config: Config) -> Result<Self, Error> {
        let store = Arc::new(store::Store::new(&config.crds, config.limits.clone())?);
        let listener = TcpListener::bind(("127.0.0.1", config.port)).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel();
        let faults = Faults::default();
        let server = Arc::new(server::Server {
            store: store.clone(),
            bookmark_interval: config.bookmark_interval,
            audit: config
                .audit_log
                .as_deref()
                .map(|path| {
                    audit::Log::open(path).map_err(|e| Error::Audit(path.display().to_string(), e))
                })
                .transpose()?,
            faults: faults.clone(),
        });
        tokio::spawn(serve(listener, server, stopped));
        tokio::spawn(collect_garbage(Arc::downgrade(&store)));
        Ok(Self {
            addr,
            store,
            faults,
            stop: Some(stop),
            thread: None,
        })
    }

    /// Starts serving on a thread with its own runtime, so tests on other runtimes can share it.
    pub fn start_in_background(config: Config) -> Result<Self, Error> {
        let (ready, started) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    let _ = ready.send(Err(Error::Listen(e)));
                    return;
                }
            };
            runtime.block_on(async move {
                match StandIn::start(config).await {
                    Ok(mut standin) => {
                        let stopped = standin.stop.take();
                        let (stop, wait) = oneshot::channel::<()>();
                        let _ = ready.send(Ok((standin, stop)));
                        let _ = wait.await;
                        drop(stopped);
                    }
                    Err(e) => {
                        let _ = ready.send(Err(e));
                    }
                }
            });
        });
        let (mut standin, stop) = started
            .recv()
            .map_err(|_| Error::Listen(std::io::Error::other("the stand-in thread ended")))??;
        standin.stop = Some(stop);
        standin.thread = Some(thread);
        Ok(standin)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The objects, for tests that look behind the API.
    pub fn store(&self) -> &store::Store {
        &self.store
    }

    /// The faults injected into its requests: rules, open watches, counts (see [`faults`]).
    /// The same are served over HTTP at `URL/standin/faults`, which [`Remote`] calls.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// A client for its fault endpoint over HTTP, as a test that has only its URL makes one.
    pub fn remote(&self) -> Remote {
        Remote::at(self.addr)
    }

    /// A kubeconfig for this server (no TLS, no credentials).
    pub fn kubeconfig(&self) -> String {
        self.kubeconfig_as(None)
    }

    /// A kubeconfig that sends `user` as its bearer token: the stand-in authenticates no one,
    /// but records the user in its audit log.
    pub fn kubeconfig_as(&self, user: Option<&str>) -> String {
        let user = user.map_or_else(
            || "{}".to_owned(),
            |u| format!("\n    token: {}", serde_json::Value::from(u)),
        );
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: kube-standin\n  cluster:\n    server: {}\nusers:\n- name: kube-standin\n  user: {user}\ncontexts:\n- name: kube-standin\n  context:\n    cluster: kube-standin\n    user: kube-standin\n    namespace: default\ncurrent-context: kube-standin\n",
            self.url()
        )
    }

    /// Writes [`StandIn::kubeconfig`] to `path`.
    pub fn write_kubeconfig(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, self.kubeconfig())
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(
    listener: TcpListener,
    server: Arc<server::Server>,
    mut stopped: oneshot::Receiver<()>,
) {
    loop {
        let accepted = tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, _)) = accepted else { continue };
        // As kube-apiserver's (Go sets TCP_NODELAY on every connection): with Nagle's
        // algorithm a watch event written right after another waits for the client's delayed
        // ACK, up to 200 ms.
        let _ = stream.set_nodelay(true);
        let server = server.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| server.clone().handle(request));
            // A client that hangs up mid-request is not the server's problem.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// The garbage collector and namespace finalizer, as background controllers: woken by
/// deletions, and every 200 ms for what a deletion leaves to do later.
async fn collect_garbage(store: std::sync::Weak<store::Store>) {
    loop {
        let Some(s) = store.upgrade() else { return };
        {
            let notified = s.collector.notified();
            tokio::select! {
                () = notified => {}
                () = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
        }
        while s.collect_garbage() {}
    }
}
