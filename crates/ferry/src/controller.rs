//! `ferry controller`: the operator process. Flags and environment, logging, the metrics and
//! probe server, signals, and leader election around the reconciler.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, ValueEnum};
use ferry_controller::http::{Health, bind};
use ferry_controller::metrics::Metrics;
use ferry_controller::shutdown::{self, unless_stopped};
use ferry_controller::{Context, Lease, Settings, Stop, operate};
use ferry_provider::backend::{Caches, Environment};
use kube::runtime::events::Reporter;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::watch;
use tracing::{error, info};

/// Flags of `ferry controller`; each also reads an environment variable.
#[derive(Debug, Args)]
pub struct ControllerArgs {
    /// Watch only this namespace (default: every namespace).
    #[arg(long, env = "FERRY_NAMESPACE")]
    namespace: Option<String>,
    /// How often an up-to-date object's provider resources are observed again.
    #[arg(long, env = "FERRY_RESYNC_INTERVAL", default_value = "10m", value_parser = parse_duration)]
    resync_interval: Duration,
    /// How often an object whose provider is still working is looked at.
    #[arg(long, env = "FERRY_PROGRESS_INTERVAL", default_value = "5s", value_parser = parse_duration)]
    progress_interval: Duration,
    /// How many objects are reconciled at once. Reconciles wait on the API server and the
    /// clouds, so a few dozen keep it busy; without a bound, 10,000 objects queued at start
    /// would each hold a connection and its buffers at once.
    #[arg(long, env = "FERRY_MAX_CONCURRENT_RECONCILES", default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..))]
    max_concurrent_reconciles: u16,
    /// Where `/metrics`, `/healthz` and `/readyz` are served.
    #[arg(long, env = "FERRY_METRICS_ADDRESS", default_value = "0.0.0.0:8080")]
    metrics_address: SocketAddr,
    /// Log format: `text` for people, `json` for log pipelines.
    #[arg(long, env = "FERRY_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Turn leader election off (only one replica may run then).
    #[arg(long, env = "FERRY_NO_LEADER_ELECTION")]
    no_leader_election: bool,
    /// Ferry's own namespace: where its leader Lease is, and the only namespace it reads
    /// credential Secrets (and the prices ConfigMap) from. Default: the namespace of the
    /// kubeconfig's context, or the pod's own in a cluster.
    #[arg(
        long,
        alias = "lease-namespace",
        env = "POD_NAMESPACE",
        value_name = "NAMESPACE"
    )]
    operator_namespace: Option<String>,
    /// Name of the leader Lease.
    #[arg(long, env = "FERRY_LEASE_NAME", default_value = "ferry-controller")]
    lease_name: String,
    /// Seconds a leader keeps the lease without renewing it.
    #[arg(long, env = "FERRY_LEASE_DURATION", default_value_t = 15)]
    lease_duration: u64,
    /// This replica's identity in the Lease and in Events (default: the host name).
    #[arg(long, env = "POD_NAME")]
    identity: Option<String>,
    /// On SIGTERM, how long reconciles in flight may finish before they are cancelled. The
    /// whole shutdown (this, releasing the Lease, the runtime) takes at most 5 s more; a
    /// second signal exits at once.
    #[arg(long, env = "FERRY_SHUTDOWN_GRACE", default_value = "10s", value_parser = parse_duration)]
    shutdown_grace: Duration,
    /// A ConfigMap in Ferry's own namespace whose key `prices.yaml` replaces or adds price
    /// table entries for `status.estimatedMonthlyCost` (e.g. your Knative nodes' price);
    /// watched, so a change applies at once.
    #[arg(long, env = "FERRY_PRICES_CONFIGMAP", value_name = "NAME")]
    prices_configmap: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// `30s`, `10m`, `1h`, `250ms`.
/// A positive duration as jiff's friendly format writes it: `300ms`, `30s`, `10m`, `1h30m`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let wrong = || format!("{text:?} is not a positive duration such as 30s, 10m or 1h");
    let signed: jiff::SignedDuration = text.trim().parse().map_err(|_| wrong())?;
    Duration::try_from(signed)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(wrong)
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("info,kube=warn,kube_lease_manager=warn")
    });
    // Colour codes only for a person at a terminal, not in files and log collectors.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| format!("ferry-{}", std::process::id()))
}

/// Runs the operator until SIGTERM or SIGINT; the exit code says whether it stopped cleanly.
pub fn main(args: ControllerArgs) -> std::process::ExitCode {
    init_logging(args.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            error!(error = %e, "cannot start the runtime");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(args));
    // Tasks still spawned (watches, the probe server) are dropped; a blocking one (a DNS
    // lookup) gets a second before the process exits without it.
    runtime.shutdown_timeout(Duration::from_secs(1));
    match result {
        Ok(()) => {
            info!("stopped");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            error!(error = %e, "stopped");
            std::process::ExitCode::FAILURE
        }
    }
}

/// SIGTERM and SIGINT, caught from the moment this is made: a signal that arrives while the
/// operator connects or starts is not lost, and does not kill it before it can let go of its
/// Lease.
struct Signals {
    terminate: Signal,
    interrupt: Signal,
}

impl Signals {
    fn install() -> std::io::Result<Self> {
        Ok(Self {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
        })
    }

    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.interrupt.recv() => "SIGINT",
        }
    }

    /// Turns `stop` true at the first signal. The shutdown it starts is bounded by `bound`; a
    /// second signal, or the bound passing, exits the process at once (without releasing the
    /// Lease, which then expires).
    async fn forward(mut self, stop: watch::Sender<bool>, bound: Duration) {
        let first = self.next().await;
        info!(?bound, "{first}: shutting down");
        stop.send_replace(true);
        tokio::select! {
            second = self.next() => error!("{second} while shutting down: exiting at once"),
            () = tokio::time::sleep(bound) => error!(?bound, "shutdown took longer than its bound: exiting"),
        }
        std::process::exit(1);
    }
}

async fn run(args: ControllerArgs) -> Result<(), String> {
    let signals =
        Signals::install().map_err(|e| format!("cannot catch SIGTERM and SIGINT: {e}"))?;
    let (stop_tx, stop) = watch::channel(false);
    tokio::spawn(signals.forward(stop_tx, shutdown::bound(args.shutdown_grace)));
    let Some(client) = unless_stopped(&stop, connect()).await else {
        return Ok(());
    };
    let (client, version) = client?;
    let identity = args.identity.clone().unwrap_or_else(host_name);
    let operator_namespace = args
        .operator_namespace
        .clone()
        .unwrap_or_else(|| client.default_namespace().to_owned());
    info!(kubernetes = %version.git_version, %identity, %operator_namespace, "starting");

    let metrics = Arc::new(Metrics::default());
    let health = Arc::new(Health::default());
    let (address, serve) = bind(args.metrics_address, metrics.clone(), health.clone())
        .await
        .map_err(|e| format!("cannot serve metrics on {}: {e}", args.metrics_address))?;
    info!(%address, "serving /metrics, /healthz and /readyz");
    tokio::spawn(serve);
    let backends = crate::backends::registry().map_err(|e| e.to_string())?;
    let connectors = backends.connectors(&Environment {
        client: client.clone(),
        operator_namespace: operator_namespace.clone(),
        resync: args.resync_interval,
        caches: Caches::default(),
    });
    let reporter = Reporter {
        controller: "ferry".into(),
        instance: Some(identity.clone()),
    };
    let settings = Settings {
        resync: args.resync_interval,
        progress_poll: args.progress_interval,
        concurrency: args.max_concurrent_reconciles,
        namespace: args.namespace.clone(),
        operator_namespace: operator_namespace.clone(),
        prices_config_map: args.prices_configmap.clone(),
        shutdown_grace: args.shutdown_grace,
        ..Settings::default()
    };
    let ctx = Arc::new(Context::new(
        client,
        backends.clone(),
        connectors,
        reporter,
        metrics,
        settings,
    ));
    let lease = (!args.no_leader_election).then(|| Lease {
        namespace: operator_namespace.clone(),
        name: args.lease_name.clone(),
        identity,
        duration: args.lease_duration,
        grace: (args.lease_duration / 3).max(1),
    });

    health.set_ready(true);
    match operate(ctx, lease, stop).await {
        Ok(()) => Ok(()),
        Err(Stop::LostLease) => Err("another replica took the leader lease".into()),
        Err(Stop::NoNamespace(namespace)) => Err(format!(
            "the operator's namespace {namespace:?} does not exist: create it (kubectl create \
             namespace {namespace}) or name another with --operator-namespace"
        )),
        Err(e) => Err(e.to_string()),
    }
}

async fn connect() -> Result<(kube::Client, k8s_openapi::apimachinery::pkg::version::Info), String>
{
    let client = kube::Client::try_default()
        .await
        .map_err(|e| format!("cannot reach the Kubernetes API: {e}"))?;
    let version = client
        .apiserver_version()
        .await
        .map_err(|e| format!("cannot reach the Kubernetes API: {e}"))?;
    Ok((client, version))
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations_read_like_kubernetes_flags() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        for wrong in ["soon", "0s", "-5s", "5", ""] {
            let error = parse_duration(wrong).unwrap_err();
            assert!(error.contains("such as 30s"), "{error}");
        }
    }
}
