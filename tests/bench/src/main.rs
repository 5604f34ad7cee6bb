//! `ferry-bench`: how Ferry scales. Starts the Kubernetes API stand-in (or uses the cluster
//! `FERRY_E2E_KUBECONFIG` names), measures the API server's own write capacity W with a plain
//! concurrent client, then runs the real `ferry controller` against N ServerlessServices of
//! one provider (`--provider`: Knative, or Fargate against moto, or Cloud Run, Container Apps
//! or Container Instances against their fakes) and reports convergence against the 2N / W floor, API calls per object while
//! converging and while idle (and cloud calls, for the cloud providers), the operator's memory
//! and CPU, and the latency from a spec change to the backend call, idle and under load. A
//! table goes to standard output and everything, with the command line, to a JSON file.

mod cloud;
mod knative;
mod migrate;
mod restart;
mod stats;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use clap::Parser;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use e2e::{Cluster, Ferry};
use ferry_api::{Provider, ServerlessService};
use futures::{StreamExt as _, TryStreamExt as _};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt as _, watcher};
use kube::{Client, ResourceExt as _};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::migrate::MigrationReport;
use crate::stats::{Calls, calls_of, percentile, ratio};

/// Measure Ferry at scale.
///
/// `--provider fargate` runs against moto, `--provider cloudRun` against the fake Cloud Run
/// API, `--provider containerApps` and `containerInstances` against the fake Azure Resource
/// Manager: slow Python servers started here, so give them smaller counts (`--count 200`) and
/// a shorter `--idle`.
#[derive(Debug, Parser)]
#[command(name = "ferry-bench", about, long_about)]
struct Args {
    /// The provider of every object, spelt as in `spec.provider`: `knative` (the stand-in
    /// plays Knative), `fargate` (moto, with moto-standin's proxy counting the AWS calls),
    /// `cloudRun` (the fake Cloud Run Admin API, which counts its calls), `containerApps` or
    /// `containerInstances` (the fake Azure Resource Manager, which counts its calls).
    #[arg(long, default_value = "knative", value_parser = provider_parser())]
    provider: Provider,
    /// How many ServerlessServices (cloud providers: a few hundred at most).
    #[arg(long, default_value_t = 10_000)]
    count: usize,
    /// Requests in flight from the benchmark's own clients.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Objects written to measure the API server's write capacity (each created, then its
    /// status written).
    #[arg(long, default_value_t = 2_000)]
    capacity_objects: usize,
    /// How long to watch the converged operator do nothing.
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    idle: Duration,
    /// How long the stand-in's Knative takes to report a Service Ready (a real one takes
    /// seconds to get a revision up, long enough for the operator to look in between).
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    knative_delay: Duration,
    /// The operator's resync interval (its default is 10m).
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    resync_interval: Duration,
    /// How often the operator looks at an object whose provider is still working (its
    /// `--progress-interval`). Default: the operator's own (5s) for Knative, whose Services
    /// are watched; 1s for the cloud providers, whose rollouts are polled (moto finishes one
    /// on its second DescribeServices, the fake an operation on its second poll).
    #[arg(long, value_parser = parse_duration)]
    progress_interval: Option<Duration>,
    /// Spec changes timed one at a time on the idle operator.
    #[arg(long, default_value_t = 200)]
    idle_changes: usize,
    /// Spec changes per second for the latency under load.
    #[arg(long, default_value_t = 100)]
    load_rate: u32,
    /// How long the load lasts.
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    load_duration: Duration,
    /// Fail when the idle operator wrote to an object or a timed change never reached the
    /// backend (properties, not speeds: CI's smoke run uses it).
    #[arg(long)]
    strict: bool,
    /// After the timed changes, restart the operator (SIGTERM, then a new one at once) and
    /// report how long the new one took to reconcile every object and what it wrote (goal:
    /// nothing, to the API server or the cloud).
    #[arg(long)]
    restart: bool,
    /// After the other phases, move every object to this provider at once (spelt as in
    /// `spec.provider`) and report how long the move took and what it cost in calls.
    #[arg(long, value_parser = provider_parser())]
    migrate_to: Option<Provider>,
    /// The objects' `spec.migration.drainSeconds` for `--migrate-to`.
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    migrate_drain: Duration,
    /// One more argument to `ferry controller` (repeat for several), e.g.
    /// `--operator-arg=--max-concurrent-reconciles=8`.
    #[arg(long = "operator-arg", value_name = "ARG", allow_hyphen_values = true)]
    operator_arg: Vec<String>,
    /// Keep the API stand-in's audit log (one JSON line per request) in this directory
    /// instead of a temporary one, to study the calls afterwards.
    #[arg(long, value_name = "DIR")]
    audit_dir: Option<PathBuf>,
    /// Where to write the JSON report.
    #[arg(long, default_value = "target/bench/ferry-bench.json")]
    output: PathBuf,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let signed: jiff::SignedDuration = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 30s or 10m"))?;
    Duration::try_from(signed).map_err(|_| format!("{text:?} is negative"))
}

/// Exactly the spellings of `spec.provider`.
fn provider_parser() -> impl TypedValueParser<Value = Provider> {
    PossibleValuesParser::new(Provider::ALL.map(Provider::as_str)).try_map(|text| {
        Provider::ALL
            .into_iter()
            .find(|p| p.as_str() == text)
            .ok_or_else(|| format!("{text:?} is not a provider"))
    })
}

/// The operator's `--progress-interval`, if the benchmark sets one (see
/// [`Args::progress_interval`]).
fn progress_interval(args: &Args) -> Option<Duration> {
    let cloud = [Some(args.provider), args.migrate_to]
        .into_iter()
        .flatten()
        .any(|p| p != Provider::Knative);
    match args.progress_interval {
        Some(interval) => Some(interval),
        None => cloud.then_some(Duration::from_secs(1)),
    }
}

/// The benchmark's callers, as the stand-in's audit log names them.
const OPERATOR: &str = "system:serviceaccount:ferry-bench:ferry";
const USER: &str = "ferry-bench:user";
const CAPACITY: &str = "ferry-bench:capacity";
const KNATIVE: &str = "ferry-bench:knative";
const NAMESPACE: &str = "ferry-bench";
const CAPACITY_NAMESPACE: &str = "ferry-bench-capacity";

/// The environment variable that marks a change.
const MARK: &str = "FERRY_BENCH_MARK";
const IMAGE: &str = "ghcr.io/knative/helloworld-go:latest";

/// Changes sent and not yet seen at the backend: object name → (mark, when sent).
type Pending = Arc<Mutex<HashMap<String, (String, SystemTime)>>>;

#[derive(Debug, thiserror::Error)]
enum Error {
    #[error(transparent)]
    E2e(#[from] e2e::Error),
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("moto: {0}")]
    Moto(#[from] moto_standin::Error),
    #[error("Cloud Run fake: {0}")]
    CloudRun(#[from] cloudrun_fake::Error),
    #[error("Azure fake: {0}")]
    Azure(#[from] azure_fake::Error),
    #[error("{0}")]
    Other(String),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    match run(&args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ferry-bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Everything the run measured.
#[derive(Debug, Serialize)]
struct Report {
    command: String,
    provider: Provider,
    cluster: &'static str,
    machine: Machine,
    count: usize,
    /// Writes per second the API server took from a plain concurrent client.
    write_capacity_per_second: f64,
    /// Seconds from the first create until every object was Ready.
    convergence_seconds: f64,
    /// 2N / W.
    floor_seconds: f64,
    /// convergence / floor.
    ratio_to_floor: f64,
    /// Seconds the benchmark took to create the objects.
    create_seconds: f64,
    /// Seconds after all were Ready until the operator stopped writing (its Ready Events).
    settle_seconds: f64,
    converging: PhaseCalls,
    idle: PhaseCalls,
    idle_seconds: f64,
    memory: Memory,
    cpu_seconds: CpuSeconds,
    latency_idle_ms: Latency,
    /// Where the idle changes' time went, by the API server's audit records (Knative, whose
    /// backend is the API server).
    latency_idle_split_ms: Option<LatencySplit>,
    latency_load_ms: Latency,
    load_rate_per_second: u32,
    /// The operator's calls to the cloud (Fargate, Cloud Run, Container Apps, Container
    /// Instances).
    cloud: Option<cloud::CloudReport>,
    /// `--migrate-to`: the move of every object to another provider.
    migration: Option<MigrationReport>,
    restart: Option<restart::RestartReport>,
}

#[derive(Debug, Serialize)]
struct Machine {
    cpus: usize,
    memory_gib: f64,
}

#[derive(Debug, Serialize)]
struct PhaseCalls {
    operator: Calls,
    writes_per_object: f64,
    /// Writes of `serverlessservices/status`: two per object suffice to reach Ready.
    status_writes_per_object: f64,
    object_writes_per_object: f64,
    reads_per_object: f64,
}

#[derive(Debug, Serialize)]
#[allow(clippy::struct_field_names)] // the unit belongs in the JSON keys
struct Memory {
    peak_rss_mib: f64,
    steady_rss_mib: f64,
    budget_mib: f64,
}

#[derive(Debug, Serialize)]
struct CpuSeconds {
    converging: f64,
    idle: f64,
    total: f64,
}

#[derive(Debug, Serialize)]
struct Latency {
    samples: usize,
    lost: usize,
    p50: Option<f64>,
    p99: Option<f64>,
    max: Option<f64>,
}

/// p50 / p99 of each part of the idle changes' latency (see [`stats::Split`]).
#[derive(Debug, Serialize)]
struct LatencySplit {
    samples: usize,
    /// From the change stored to the Knative write stored, both by the server's clock: the
    /// operator's whole part (`to_write + write`).
    stored_to_backend: [Option<f64>; 2],
    send: [Option<f64>; 2],
    to_write: [Option<f64>; 2],
    write: [Option<f64>; 2],
    delivery: [Option<f64>; 2],
    /// Changes for which the operator read the Knative Service from the server before writing
    /// it (its watch cache answers the others).
    read_from_server: usize,
}

#[allow(clippy::cast_precision_loss)]
fn latency_split(splits: &[stats::Split]) -> LatencySplit {
    let part = |get: fn(&stats::Split) -> Duration| {
        let samples: Vec<Duration> = splits.iter().map(get).collect();
        [50.0, 99.0].map(|p| percentile(&samples, p).map(|d| d.as_secs_f64() * 1000.0))
    };
    LatencySplit {
        samples: splits.len(),
        stored_to_backend: part(|s| s.to_write + s.write),
        send: part(|s| s.send),
        to_write: part(|s| s.to_write),
        write: part(|s| s.write),
        delivery: part(|s| s.delivery),
        read_from_server: splits.iter().filter(|s| s.read.is_some()).count(),
    }
}

async fn run(args: &Args) -> Result<(), Error> {
    let temporary = tempfile::tempdir().map_err(|e| Error::Other(e.to_string()))?;
    let audit = args.audit_dir.as_deref().unwrap_or(temporary.path());
    std::fs::create_dir_all(audit)
        .map_err(|e| Error::Other(format!("{}: {e}", audit.display())))?;
    let cluster = &Cluster::recording(audit)?;
    cluster.install_crds().await?;
    let admin = cluster.client().await?;
    create_namespace(&admin, NAMESPACE).await?;

    eprintln!(
        "measuring the API server's write capacity ({} objects)...",
        args.capacity_objects
    );
    let capacity = write_capacity(cluster, args).await?;
    eprintln!("W = {capacity:.0} writes/s");

    let pending: Pending = Arc::default();
    let (latency_tx, mut latency_rx) = mpsc::unbounded_channel();
    eprintln!("starting the {} backend...", args.provider.display_name());
    let backend = Backend::start(
        args.provider,
        args,
        cluster,
        &admin,
        pending.clone(),
        latency_tx.clone(),
    )
    .await?;
    let mut operator = start_operator(cluster, args)?;
    let pid = operator.pid();
    let sampler = Sampler::start(pid);

    // Convergence: create N, wait until all are Ready.
    let user = cluster.client_as(Some(USER)).await?;
    let ssvs: Api<ServerlessService> = Api::namespaced(user.clone(), NAMESPACE);
    let ready = tokio::spawn(count_ready(ssvs.clone(), args.count));
    let cpu_start = sampler.cpu();
    let start = Instant::now();
    let mark_converging = (audit_mark(audit), SystemTime::now());
    eprintln!("creating {} ServerlessServices...", args.count);
    futures::stream::iter(0..args.count)
        .map(|i| {
            let ssvs = ssvs.clone();
            async move { create_ssv(&ssvs, i, args.provider).await }
        })
        .buffer_unordered(args.concurrency)
        .try_collect::<Vec<()>>()
        .await?;
    let created = start.elapsed();
    eprintln!(
        "created in {:.1}s; waiting for Ready...",
        created.as_secs_f64()
    );
    ready.await.map_err(|e| Error::Other(e.to_string()))??;
    let converged = start.elapsed();
    let cpu_converged = sampler.cpu();
    eprintln!("all Ready after {:.1}s", converged.as_secs_f64());
    // The Events announcing Ready follow the status writes the benchmark saw: idle starts once
    // the operator has written nothing for a while.
    let (quiet, limit) = (Duration::from_secs(2), Duration::from_secs(120));
    let settled = settle(audit, backend.cloud(), quiet, limit).await;
    eprintln!("settled {:.1}s later", settled.as_secs_f64());
    let mark_idle = (audit_mark(audit), SystemTime::now());

    eprintln!("idle for {}s...", args.idle.as_secs());
    tokio::time::sleep(args.idle).await;
    let mark_idle_end = (audit_mark(audit), SystemTime::now());
    let cpu_idle_end = sampler.cpu();
    let steady = sampler.rss_kib();

    eprintln!("timing {} spec changes one at a time...", args.idle_changes);
    let idle_changes = one_at_a_time(&ssvs, &pending, &mut latency_rx, args).await?;

    eprintln!(
        "timing {} changes/s for {}s...",
        args.load_rate,
        args.load_duration.as_secs()
    );
    while latency_rx.try_recv().is_ok() {}
    let (load_latencies, lost_load) = load(&ssvs, &pending, &mut latency_rx, args).await?;

    let restarted = if args.restart {
        eprintln!("restarting the operator...");
        let start = || start_operator(cluster, args);
        let restarted =
            restart::run(&mut operator, start, audit, backend.cloud(), args.count).await?;
        eprintln!(
            "every object reconciled again {:.1}s after the restart",
            restarted.steady_seconds
        );
        Some(restarted)
    } else {
        None
    };

    let moved = match args.migrate_to.filter(|to| *to != args.provider) {
        Some(to) => {
            eprintln!("moving all {} to {}...", args.count, to.display_name());
            let clients = (&admin, &ssvs);
            let moved =
                migrate::run(args, to, cluster, clients, audit, pending, latency_tx).await?;
            eprintln!("moved in {:.1}s", moved.seconds);
            Some(moved)
        }
        None => None,
    };

    let records =
        kube_standin::audit::read(audit).map_err(|e| Error::Other(format!("audit log: {e}")))?;
    let converging = calls_of(slice(&records, mark_converging.0, mark_idle.0), OPERATOR);
    let idle = calls_of(slice(&records, mark_idle.0, mark_idle_end.0), OPERATOR);
    // Only Knative's backend object is on the API server, where the audit log can split the
    // time.
    let idle_splits = (args.provider == Provider::Knative).then(|| {
        stats::splits(
            &records[mark_idle_end.0.min(records.len())..],
            &idle_changes.changed,
            USER,
            OPERATOR,
            ("serving.knative.dev", "services"),
        )
    });
    let n = u64::try_from(args.count).unwrap_or(u64::MAX);
    let floor = 2.0 * ratio(n, 1) / capacity;
    #[allow(clippy::cast_precision_loss)]
    let report = Report {
        command: std::env::args().collect::<Vec<_>>().join(" "),
        provider: args.provider,
        cluster: if cluster.is_standin() {
            "kube-standin"
        } else {
            "FERRY_E2E_KUBECONFIG"
        },
        machine: machine(),
        count: args.count,
        write_capacity_per_second: capacity,
        convergence_seconds: converged.as_secs_f64(),
        floor_seconds: floor,
        ratio_to_floor: converged.as_secs_f64() / floor,
        create_seconds: created.as_secs_f64(),
        settle_seconds: settled.as_secs_f64(),
        converging: phase(converging, n),
        idle: phase(idle, n),
        idle_seconds: args.idle.as_secs_f64(),
        memory: Memory {
            peak_rss_mib: sampler.peak_kib() as f64 / 1024.0,
            steady_rss_mib: steady as f64 / 1024.0,
            budget_mib: 30.0 + 10.0 * args.count as f64 / 1000.0,
        },
        cpu_seconds: CpuSeconds {
            converging: cpu_converged.saturating_sub(cpu_start).as_secs_f64(),
            idle: cpu_idle_end.saturating_sub(cpu_converged).as_secs_f64(),
            total: sampler.cpu().as_secs_f64(),
        },
        latency_idle_ms: latency(&idle_changes.latencies, idle_changes.lost),
        latency_idle_split_ms: idle_splits.as_deref().map(latency_split),
        latency_load_ms: latency(&load_latencies, lost_load),
        load_rate_per_second: args.load_rate,
        cloud: backend.cloud().map(|cloud| {
            cloud.report(
                (mark_converging.1, mark_idle.1),
                (mark_idle.1, mark_idle_end.1),
                n,
            )
        }),
        migration: moved.as_ref().map(|moved| {
            let from_cloud = backend.cloud().map(|c| c.phase(moved.window, n));
            MigrationReport {
                from: args.provider,
                to: moved.to,
                drain_seconds: args.migrate_drain.as_secs(),
                seconds: moved.seconds,
                operator: phase(
                    calls_of(slice(&records, moved.audit.0, moved.audit.1), OPERATOR),
                    n,
                ),
                to_cloud: moved.backend.cloud().map(|c| c.phase(moved.window, n)),
                left_behind: migrate::left_behind(moved, args.provider, from_cloud.as_ref(), n),
                from_cloud,
            }
        }),
        restart: restarted,
    };
    drop(moved);
    sampler.stop();
    let _ = operator.terminate(Duration::from_secs(10)).await;
    drop(backend);
    print_table(&report);
    if let Some(dir) = args.output.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::Other(e.to_string()))?;
    }
    let json = serde_json::to_string_pretty(&report).map_err(|e| Error::Other(e.to_string()))?;
    std::fs::write(&args.output, json + "\n")
        .map_err(|e| Error::Other(format!("{}: {e}", args.output.display())))?;
    println!("report: {}", args.output.display());
    if args.strict {
        strict(&report)?;
    }
    Ok(())
}

/// `--strict`: the idle operator wrote to no object (nor to the cloud), every timed change
/// reached the backend, a move left no old side behind, and a restart wrote nothing.
fn strict(report: &Report) -> Result<(), Error> {
    let lost = report.latency_idle_ms.lost + report.latency_load_ms.lost;
    let idle_writes = report.idle.operator.object_writes();
    let cloud_writes = report.cloud.as_ref().map_or(0, |c| c.idle.calls.writes);
    let left_behind = report.migration.as_ref().map_or(0, |m| m.left_behind);
    let restart_writes = report
        .restart
        .as_ref()
        .map_or(0, restart::RestartReport::writes);
    if lost > 0 || idle_writes > 0 || cloud_writes > 0 || left_behind > 0 || restart_writes > 0 {
        return Err(Error::Other(format!(
            "--strict: {idle_writes} object writes and {cloud_writes} cloud writes while idle, \
             {lost} changes never reached the backend, {left_behind} old sides left after \
             the move, {restart_writes} writes after a restart"
        )));
    }
    Ok(())
}

/// What plays the provider's part behind the operator, and sees its backend writes.
enum Backend {
    /// The watch that plays Knative on the stand-in (see [`knative::run`]).
    Knative(tokio::task::JoinHandle<()>),
    /// The cloud's stand-in (see [`cloud::Cloud`]).
    Cloud(cloud::Cloud),
}

impl Backend {
    /// Starts `provider`'s; the latency of each change in `pending` that reaches the backend
    /// goes to `latencies`.
    async fn start(
        provider: Provider,
        args: &Args,
        cluster: &Cluster,
        admin: &Client,
        pending: Pending,
        latencies: mpsc::UnboundedSender<Duration>,
    ) -> Result<Self, Error> {
        if provider != Provider::Knative {
            let cloud = cloud::Cloud::start(provider, admin, pending, latencies).await?;
            return Ok(Self::Cloud(cloud));
        }
        let api = Api::namespaced_with(
            cluster.client_as(Some(KNATIVE)).await?,
            NAMESPACE,
            &knative::services(),
        );
        let play = cluster.is_standin().then_some(args.knative_delay);
        let watch = knative::run(api, play, pending, latencies);
        Ok(Self::Knative(tokio::spawn(watch)))
    }

    fn cloud(&self) -> Option<&cloud::Cloud> {
        match self {
            Self::Knative(_) => None,
            Self::Cloud(cloud) => Some(cloud),
        }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        if let Self::Knative(watch) = self {
            watch.abort();
        }
    }
}

/// Starts `ferry controller` (leader election on, logging warnings only) with the
/// benchmark's intervals and `--operator-arg`s.
fn start_operator(cluster: &Cluster, args: &Args) -> Result<e2e::Operator, Error> {
    let resync = format!("{}s", args.resync_interval.as_secs().max(1));
    let mut operator_args: Vec<String> = [
        "controller",
        "--lease-namespace",
        NAMESPACE,
        "--metrics-address",
        "127.0.0.1:0",
        "--resync-interval",
        &resync,
    ]
    .map(str::to_owned)
    .to_vec();
    if let Some(interval) = progress_interval(args) {
        let millis = interval.as_millis().max(1);
        operator_args.extend(["--progress-interval".to_owned(), format!("{millis}ms")]);
    }
    operator_args.extend(args.operator_arg.iter().cloned());
    let operator_args: Vec<&str> = operator_args.iter().map(String::as_str).collect();
    // `ferry::controller` says where it serves metrics, which `--restart` reads.
    Ok(Ferry::spawn_logging(
        cluster,
        &operator_args,
        "warn,ferry::controller=info",
    )?)
}

/// The changes timed one at a time on the idle operator.
struct IdleChanges {
    latencies: Vec<Duration>,
    lost: usize,
    /// Each change, in order.
    changed: Vec<stats::Timed>,
}

/// `idle_changes` changes, each waited for at the backend (at most 10 s) before the next.
async fn one_at_a_time(
    api: &Api<ServerlessService>,
    pending: &Pending,
    latencies: &mut mpsc::UnboundedReceiver<Duration>,
    args: &Args,
) -> Result<IdleChanges, Error> {
    let mut out = IdleChanges {
        latencies: Vec::new(),
        lost: 0,
        changed: Vec::new(),
    };
    for i in 0..args.idle_changes {
        let name = ssv_name(i % args.count);
        let sent = SystemTime::now();
        change(api, pending, &name, &format!("idle-{i}"), args.provider).await?;
        let seen = tokio::time::timeout(Duration::from_secs(10), latencies.recv()).await;
        let seen = if let Ok(Some(latency)) = seen {
            out.latencies.push(latency);
            Some(kube_standin::audit::micros_since_epoch(sent + latency))
        } else {
            out.lost += 1;
            None
        };
        out.changed.push(stats::Timed {
            name,
            sent_us: kube_standin::audit::micros_since_epoch(sent),
            seen_us: seen,
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(out)
}

fn phase(operator: Calls, n: u64) -> PhaseCalls {
    PhaseCalls {
        writes_per_object: ratio(operator.writes, n),
        status_writes_per_object: ratio(
            operator
                .writes_by_resource
                .get("serverlessservices/status")
                .copied()
                .unwrap_or(0),
            n,
        ),
        object_writes_per_object: ratio(operator.object_writes(), n),
        reads_per_object: ratio(operator.reads, n),
        operator,
    }
}

#[allow(clippy::cast_precision_loss)]
fn latency(samples: &[Duration], lost: usize) -> Latency {
    let ms = |d: Option<Duration>| d.map(|d| d.as_secs_f64() * 1000.0);
    Latency {
        samples: samples.len(),
        lost,
        p50: ms(percentile(samples, 50.0)),
        p99: ms(percentile(samples, 99.0)),
        max: ms(samples.iter().max().copied()),
    }
}

fn machine() -> Machine {
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let total_kib: u64 = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|r| r.split_whitespace().next())
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0);
    #[allow(clippy::cast_precision_loss)]
    let memory_gib = total_kib as f64 / 1024.0 / 1024.0;
    Machine { cpus, memory_gib }
}

/// Waits until the operator has made no object write (and no write to `cloud`) for `quiet`
/// (at most `limit`); how long that took.
async fn settle(
    audit: &std::path::Path,
    cloud: Option<&cloud::Cloud>,
    quiet: Duration,
    limit: Duration,
) -> Duration {
    let cloud_writes = || cloud.map_or(0, cloud::Cloud::writes);
    let start = Instant::now();
    let mut seen = audit_mark(audit);
    let mut seen_in_cloud = cloud_writes();
    let mut last_write = Instant::now();
    while last_write.elapsed() < quiet && start.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let fresh = records_after(audit, seen);
        seen += fresh.len();
        let in_cloud = cloud_writes();
        if calls_of(&fresh, OPERATOR).object_writes() > 0 || in_cloud != seen_in_cloud {
            last_write = Instant::now();
            seen_in_cloud = in_cloud;
        }
    }
    start
        .elapsed()
        .saturating_sub(quiet.min(last_write.elapsed()))
}

/// The complete audit records after the first `skip` (the stand-in may be writing the next
/// line; an incomplete one is left for the next call).
fn records_after(dir: &std::path::Path, skip: usize) -> Vec<kube_standin::audit::Record> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
    {
        if entry.path().extension().is_none_or(|x| x != "jsonl") {
            continue;
        }
        let Ok(bytes) = std::fs::read(entry.path()) else {
            continue;
        };
        let complete = bytes
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(&bytes[..0], |end| &bytes[..end]);
        out.extend(
            complete
                .split(|b| *b == b'\n')
                .skip(skip)
                .filter_map(|line| serde_json::from_slice(line).ok()),
        );
    }
    out
}

/// How many audit records are complete now (a phase boundary): the stand-in may be writing
/// the next line, so complete lines are counted, not parsed.
fn audit_mark(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "jsonl"))
        .filter_map(|e| std::fs::read(e.path()).ok())
        .map(|bytes| bytecount(&bytes))
        .sum()
}

#[allow(clippy::naive_bytecount)] // once per phase: not worth a dependency
fn bytecount(bytes: &[u8]) -> usize {
    bytes.iter().filter(|b| **b == b'\n').count()
}

fn slice(
    records: &[kube_standin::audit::Record],
    from: usize,
    to: usize,
) -> &[kube_standin::audit::Record] {
    &records[from.min(records.len())..to.min(records.len())]
}

fn ssv_name(i: usize) -> String {
    format!("svc-{i:05}")
}

fn ssv(name: &str, provider: Provider) -> Value {
    let mut spec = json!({
        "provider": provider.as_str(),
        "containers": [container(provider, None)],
        "scaling": scaling(provider),
    });
    if let Some(config) = cloud::provider_config(provider) {
        spec["providerConfigRef"] = json!({"name": config});
    }
    json!({
        "apiVersion": "ferry.dev/v1alpha1",
        "kind": "ServerlessService",
        "metadata": {"name": name},
        "spec": spec,
    })
}

/// The one container of every object, with `mark` as [`MARK`] in its environment.
fn container(provider: Provider, mark: Option<&str>) -> Value {
    let (cpu, memory) = match provider {
        Provider::Knative | Provider::CloudRun | Provider::Kubernetes => ("250m", "256Mi"),
        // Fargate pairs 0.25 vCPU with 512Mi at least; Container Apps (Consumption) sells
        // 0.25 vCPU with exactly 0.5 GiB.
        Provider::Fargate | Provider::ContainerApps => ("250m", "512Mi"),
        // A container group gets 1 vCPU and 1 GB at least.
        Provider::ContainerInstances => ("1", "1Gi"),
    };
    let mut container = json!({
        "name": "app",
        "image": IMAGE,
        "port": 8080,
        "resources": {"cpu": cpu, "memory": memory},
    });
    if let Some(mark) = mark {
        container["env"] = json!([{"name": MARK, "value": mark}]);
    }
    container
}

fn scaling(provider: Provider) -> Value {
    match provider {
        Provider::Knative => json!({"minInstances": 0, "maxInstances": 3, "target": 50}),
        // Neither Fargate nor a HorizontalPodAutoscaler scales to zero (nothing starts a task or
        // pod on a request); both scale on CPU.
        Provider::Fargate | Provider::Kubernetes => {
            json!({"minInstances": 1, "maxInstances": 3, "metric": "cpu"})
        }
        // Cloud Run and Container Apps scale on their own to keep instances within their
        // concurrency: no target.
        Provider::CloudRun | Provider::ContainerApps => {
            json!({"minInstances": 0, "maxInstances": 3})
        }
        // Container Instances runs one container group, always.
        Provider::ContainerInstances => json!({"minInstances": 1, "maxInstances": 1}),
    }
}

async fn create_ssv(
    api: &Api<ServerlessService>,
    i: usize,
    provider: Provider,
) -> Result<(), Error> {
    let object: ServerlessService = serde_json::from_value(ssv(&ssv_name(i), provider))
        .map_err(|e| Error::Other(e.to_string()))?;
    api.create(&PostParams::default(), &object).await?;
    Ok(())
}

/// Marks `name`'s container with `mark` (the provider must write its backend) and records
/// when it was sent.
async fn change(
    api: &Api<ServerlessService>,
    pending: &Pending,
    name: &str,
    mark: &str,
    provider: Provider,
) -> Result<(), Error> {
    let patch = json!({"spec": {"containers": [container(provider, Some(mark))]}});
    pending
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(name.to_owned(), (mark.to_owned(), SystemTime::now()));
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}

/// `load_rate` changes per second to distinct objects for `load_duration`; the latencies seen.
async fn load(
    api: &Api<ServerlessService>,
    pending: &Pending,
    latencies: &mut mpsc::UnboundedReceiver<Duration>,
    args: &Args,
) -> Result<(Vec<Duration>, usize), Error> {
    let total = (args.load_duration.as_secs_f64() * f64::from(args.load_rate)).round();
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let total = total as usize;
    let mut tick = tokio::time::interval(Duration::from_secs(1) / args.load_rate.max(1));
    let mut sends = Vec::new();
    for i in 0..total {
        tick.tick().await;
        let (api, pending, provider) = (api.clone(), pending.clone(), args.provider);
        let name = ssv_name(i % args.count);
        sends.push(tokio::spawn(async move {
            change(&api, &pending, &name, &format!("load-{i}"), provider).await
        }));
    }
    for send in sends {
        send.await.map_err(|e| Error::Other(e.to_string()))??;
    }
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.len() < total && Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(1), latencies.recv()).await {
            Ok(Some(l)) => seen.push(l),
            Ok(None) => break,
            Err(_) => {}
        }
    }
    let lost = total - seen.len();
    Ok((seen, lost))
}

async fn create_namespace(client: &Client, name: &str) -> Result<(), Error> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}}))
        .map_err(|e| Error::Other(e.to_string()))?;
    namespaces
        .patch(name, &PatchParams::apply("ferry-bench"), &Patch::Apply(&ns))
        .await?;
    Ok(())
}

/// W: writes per second from a plain client with `concurrency` requests in flight, creating
/// ServerlessServices and writing their status (the two writes an object needs at least),
/// with no operator running. The objects and their namespace are deleted afterwards.
async fn write_capacity(cluster: &Cluster, args: &Args) -> Result<f64, Error> {
    let client = cluster.client_as(Some(CAPACITY)).await?;
    create_namespace(&client, CAPACITY_NAMESPACE).await?;
    let api: Api<ServerlessService> = Api::namespaced(client.clone(), CAPACITY_NAMESPACE);
    let start = Instant::now();
    futures::stream::iter(0..args.capacity_objects)
        .map(|i| {
            let api = api.clone();
            async move {
                // Knative objects whatever the provider: W is the API server's alone.
                create_ssv(&api, i, Provider::Knative).await?;
                let status = json!({"status": {"observedGeneration": 1, "conditions": []}});
                api.patch_status(
                    &ssv_name(i),
                    &PatchParams::default(),
                    &Patch::Merge(&status),
                )
                .await?;
                Ok::<(), Error>(())
            }
        })
        .buffer_unordered(args.concurrency)
        .try_collect::<Vec<()>>()
        .await?;
    let elapsed = start.elapsed();
    let namespaces = Api::<Namespace>::all(client);
    namespaces
        .delete(CAPACITY_NAMESPACE, &DeleteParams::default())
        .await?;
    // The operator starts next: objects still being deleted with the namespace would be
    // reconciled (and counted) with the benchmark's own.
    e2e::wait_gone(
        &namespaces,
        CAPACITY_NAMESPACE,
        Duration::from_secs(300),
        "the capacity namespace to be deleted",
    )
    .await?;
    #[allow(clippy::cast_precision_loss)]
    let writes = (2 * args.capacity_objects) as f64;
    Ok(writes / elapsed.as_secs_f64())
}

/// Waits until `count` ServerlessServices are Ready for their current generation.
async fn count_ready(api: Api<ServerlessService>, count: usize) -> Result<(), Error> {
    count_where(api, count, |svc| {
        svc.status.as_ref().is_some_and(|s| {
            s.observed_generation == svc.metadata.generation
                && s.conditions
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True")
        })
    })
    .await
}

/// Waits until `count` ServerlessServices are as `is_done` wants.
async fn count_where(
    api: Api<ServerlessService>,
    count: usize,
    is_done: impl Fn(&ServerlessService) -> bool,
) -> Result<(), Error> {
    let mut ready: HashMap<String, bool> = HashMap::new();
    let events = watcher(api, watcher::Config::default()).applied_objects();
    futures::pin_mut!(events);
    while let Some(svc) = events
        .try_next()
        .await
        .map_err(|e| Error::Other(e.to_string()))?
    {
        ready.insert(svc.name_any(), is_done(&svc));
        if ready.values().filter(|r| **r).count() >= count {
            return Ok(());
        }
    }
    Err(Error::Other("the watch of ServerlessServices ended".into()))
}

/// Samples the operator's memory twice a second.
struct Sampler {
    pid: u32,
    peak: Arc<Mutex<u64>>,
    stop: Arc<AtomicBool>,
}

impl Sampler {
    fn start(pid: u32) -> Self {
        let sampler = Self {
            pid,
            peak: Arc::default(),
            stop: Arc::default(),
        };
        let (peak, stop) = (sampler.peak.clone(), sampler.stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if let Some((_, hwm)) = read_memory(pid) {
                    let mut p = peak
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    *p = (*p).max(hwm);
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
        sampler
    }

    fn rss_kib(&self) -> u64 {
        read_memory(self.pid).map_or(0, |(rss, _)| rss)
    }

    fn peak_kib(&self) -> u64 {
        let sampled = *self
            .peak
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        sampled.max(read_memory(self.pid).map_or(0, |(_, hwm)| hwm))
    }

    fn cpu(&self) -> Duration {
        std::fs::read_to_string(format!("/proc/{}/stat", self.pid))
            .ok()
            .and_then(|s| stats::cpu_time(&s))
            .unwrap_or_default()
    }

    fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn read_memory(pid: u32) -> Option<(u64, u64)> {
    stats::memory_kib(&std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?)
}

fn print_table(r: &Report) {
    println!(
        "ferry-bench: {} ServerlessServices ({}) on {} ({} CPUs, {:.0} GiB)",
        r.count, r.provider, r.cluster, r.machine.cpus, r.machine.memory_gib
    );
    if let Some(cloud) = &r.cloud {
        println!("cloud: {}", cloud.stand_in);
    }
    println!("command: {}", r.command);
    println!("{:<52} {:>14}", "figure", "value");
    let rows = [
        api_rows(r),
        r.cloud
            .as_ref()
            .map(|c| cloud_rows(c, r))
            .unwrap_or_default(),
        process_rows(r),
        latency_rows(r),
        r.restart.as_ref().map(restart_rows).unwrap_or_default(),
        r.migration
            .as_ref()
            .map(|m| migration_rows(m, r.count))
            .unwrap_or_default(),
    ];
    for (k, v) in rows.iter().flatten() {
        println!("{k:<52} {v:>14}");
    }
    if r.latency_idle_ms.lost + r.latency_load_ms.lost > 0 {
        println!(
            "changes not seen within the wait: {} idle, {} under load",
            r.latency_idle_ms.lost, r.latency_load_ms.lost
        );
    }
}

type Rows = Vec<(String, String)>;

fn api_rows(r: &Report) -> Rows {
    vec![
        (
            "API write capacity W (writes/s)".into(),
            format!("{:.0}", r.write_capacity_per_second),
        ),
        (
            "time to all Ready (s)".into(),
            format!("{:.1}", r.convergence_seconds),
        ),
        ("floor 2N/W (s)".into(), format!("{:.1}", r.floor_seconds)),
        (
            "ratio to floor (target <= 1.25)".into(),
            format!("{:.2}", r.ratio_to_floor),
        ),
        (
            "converging: operator writes per object".into(),
            format!("{:.2}", r.converging.writes_per_object),
        ),
        (
            "converging: operator status writes per object (2 suffice)".into(),
            format!("{:.2}", r.converging.status_writes_per_object),
        ),
        (
            "converging: operator reads per object".into(),
            format!("{:.2}", r.converging.reads_per_object),
        ),
        (
            format!(
                "idle {:.0}s: operator object writes (target 0)",
                r.idle_seconds
            ),
            r.idle.operator.object_writes().to_string(),
        ),
        (
            format!("idle {:.0}s: operator Lease writes", r.idle_seconds),
            r.idle
                .operator
                .writes_by_resource
                .get("leases")
                .copied()
                .unwrap_or(0)
                .to_string(),
        ),
        (
            format!("idle {:.0}s: operator reads per object", r.idle_seconds),
            format!("{:.3}", r.idle.reads_per_object),
        ),
    ]
}

/// The move of every object (`--migrate-to`): how long, and the calls per object.
fn restart_rows(r: &restart::RestartReport) -> Rows {
    let mut rows = vec![
        (
            "restart: old operator stopped (s)".into(),
            format!("{:.1}", r.stop_seconds),
        ),
        (
            "restart: new one reconciled every object (s)".into(),
            format!("{:.1}", r.steady_seconds),
        ),
        (
            "restart: operator object writes (target 0)".into(),
            r.operator.operator.object_writes().to_string(),
        ),
        (
            "restart: operator reads per object".into(),
            format!("{:.2}", r.operator.reads_per_object),
        ),
    ];
    if let Some(cloud) = &r.cloud {
        rows.push((
            "restart: cloud writes (target 0)".into(),
            cloud.calls.writes.to_string(),
        ));
        rows.push((
            "restart: cloud reads per object".into(),
            format!("{:.2}", cloud.reads_per_object),
        ));
    }
    rows
}

fn migration_rows(m: &MigrationReport, count: usize) -> Rows {
    let n = u64::try_from(count).unwrap_or(u64::MAX);
    let mut rows = vec![
        (
            format!(
                "move {} -> {}, drain {}s: time (s)",
                m.from, m.to, m.drain_seconds
            ),
            format!("{:.1}", m.seconds),
        ),
        (
            "move: operator writes per object".into(),
            format!("{:.2}", m.operator.writes_per_object),
        ),
        (
            "move: operator status writes per object".into(),
            format!("{:.2}", m.operator.status_writes_per_object),
        ),
        (
            "move: operator reads per object".into(),
            format!("{:.2}", m.operator.reads_per_object),
        ),
    ];
    for (side, cloud) in [("old", &m.from_cloud), ("new", &m.to_cloud)] {
        let Some(cloud) = cloud else { continue };
        for (kind, counts) in [
            ("writes", &cloud.calls.writes_by_operation),
            ("reads", &cloud.calls.reads_by_operation),
        ] {
            rows.push((
                format!("move: {side} cloud's {kind} per object"),
                format!("{:.2}", ratio(counts.values().sum(), n)),
            ));
            rows.extend(counts.iter().map(|(operation, calls)| {
                (format!("  {operation}"), format!("{:.3}", ratio(*calls, n)))
            }));
        }
    }
    rows.push((
        "move: old sides left behind (target 0)".into(),
        m.left_behind.to_string(),
    ));
    rows
}

/// The cloud calls per object of each phase, and under each total its operations.
fn cloud_rows(c: &cloud::CloudReport, r: &Report) -> Rows {
    let n = u64::try_from(r.count).unwrap_or(u64::MAX);
    let by_operation = |counts: &std::collections::BTreeMap<String, u64>| -> Rows {
        counts
            .iter()
            .map(|(operation, count)| {
                (format!("  {operation}"), format!("{:.3}", ratio(*count, n)))
            })
            .collect()
    };
    let idle = format!("idle {:.0}s", r.idle_seconds);
    let mut rows = vec![(
        "converging: cloud writes per object".into(),
        format!("{:.2}", c.converging.writes_per_object),
    )];
    rows.extend(by_operation(&c.converging.calls.writes_by_operation));
    rows.push((
        "converging: cloud reads per object".into(),
        format!("{:.2}", c.converging.reads_per_object),
    ));
    rows.extend(by_operation(&c.converging.calls.reads_by_operation));
    rows.push((
        format!("{idle}: cloud writes (target 0)"),
        c.idle.calls.writes.to_string(),
    ));
    rows.extend(by_operation(&c.idle.calls.writes_by_operation));
    rows.push((
        format!("{idle}: cloud reads per object"),
        format!("{:.3}", c.idle.reads_per_object),
    ));
    rows.extend(by_operation(&c.idle.calls.reads_by_operation));
    rows
}

fn process_rows(r: &Report) -> Rows {
    vec![
        (
            "RSS peak (MiB)".into(),
            format!("{:.1}", r.memory.peak_rss_mib),
        ),
        (
            format!("RSS steady (MiB, budget {:.0})", r.memory.budget_mib),
            format!("{:.1}", r.memory.steady_rss_mib),
        ),
        (
            "CPU converging / idle (s)".into(),
            format!(
                "{:.1} / {:.1}",
                r.cpu_seconds.converging, r.cpu_seconds.idle
            ),
        ),
    ]
}

fn latency_rows(r: &Report) -> Rows {
    let opt = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}"));
    let pair = |[p50, p99]: [Option<f64>; 2]| format!("{} / {}", opt(p50), opt(p99));
    // The first backend write carrying the change.
    let write = match r.provider {
        Provider::Knative => "Knative write",
        Provider::Fargate => "ECS write",
        Provider::CloudRun => "Cloud Run write",
        Provider::ContainerApps => "Container Apps write",
        Provider::ContainerInstances => "container group write",
        Provider::Kubernetes => "Deployment write",
    };
    let mut rows = vec![(
        format!("change -> {write}, idle p50 / p99 (ms)"),
        pair([r.latency_idle_ms.p50, r.latency_idle_ms.p99]),
    )];
    if let Some(split) = &r.latency_idle_split_ms {
        rows.extend([
            (
                "  Ferry: change stored -> Knative write (target p99 <= 50)".into(),
                pair(split.stored_to_backend),
            ),
            (
                "  of which: the change, sent and stored".into(),
                pair(split.send),
            ),
            (
                "  of which: to the operator's write (watch, queue, reconcile)".into(),
                pair(split.to_write),
            ),
            (
                "  of which: the write at the server".into(),
                pair(split.write),
            ),
            (
                "  of which: the write's way to the watcher".into(),
                pair(split.delivery),
            ),
            (
                "  changes whose Service the operator read from the server".into(),
                format!("{} of {}", split.read_from_server, split.samples),
            ),
        ]);
    }
    rows.push((
        format!(
            "change -> {write}, {}/s p50 / p99 (ms)",
            r.load_rate_per_second
        ),
        pair([r.latency_load_ms.p50, r.latency_load_ms.p99]),
    ));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(flags: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("ferry-bench").chain(flags.iter().copied()))
    }

    #[test]
    fn providers_are_spelt_exactly_as_in_the_api() {
        assert_eq!(parse(&[]).unwrap().provider, Provider::Knative);
        for provider in Provider::ALL {
            let args = parse(&["--provider", provider.as_str()]).unwrap();
            assert_eq!(args.provider, provider);
        }
        for wrong in ["cloudrun", "CloudRun", "cloud-run", "Fargate", "aws"] {
            assert!(parse(&["--provider", wrong]).is_err(), "{wrong}");
        }
    }

    #[test]
    fn cloud_providers_poll_progress_every_second_unless_told_otherwise() {
        let interval = |flags: &[&str]| progress_interval(&parse(flags).unwrap());
        assert_eq!(interval(&[]), None, "Knative keeps the operator's default");
        assert_eq!(
            interval(&["--provider", "fargate"]),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            interval(&["--provider", "cloudRun", "--progress-interval", "250ms"]),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            interval(&["--progress-interval", "2s"]),
            Some(Duration::from_secs(2))
        );
    }

    #[test]
    fn a_change_marks_the_container_the_provider_accepts() {
        let fargate = ssv("svc-00001", Provider::Fargate);
        assert_eq!(fargate["spec"]["provider"], "fargate");
        assert_eq!(
            fargate["spec"]["providerConfigRef"]["name"],
            "ferry-bench-aws"
        );
        assert_eq!(fargate["spec"]["scaling"]["minInstances"], 1);
        let apps = ssv("svc-00001", Provider::ContainerApps);
        assert_eq!(apps["spec"]["providerConfigRef"]["name"], "ferry-bench-aca");
        assert_eq!(
            apps["spec"]["containers"][0]["resources"],
            json!({"cpu": "250m", "memory": "512Mi"}),
            "a pair Consumption sells"
        );
        let group = ssv("svc-00001", Provider::ContainerInstances);
        assert_eq!(
            group["spec"]["providerConfigRef"]["name"],
            "ferry-bench-aci"
        );
        assert_eq!(group["spec"]["scaling"]["maxInstances"], 1);
        let knative = ssv("svc-00001", Provider::Knative);
        assert_eq!(knative["spec"].get("providerConfigRef"), None);
        let marked = container(Provider::CloudRun, Some("idle-1"));
        assert_eq!(
            cloud::mark_in(&json!({"template": {"containers": [marked]}})).as_deref(),
            Some("idle-1")
        );
    }
}
