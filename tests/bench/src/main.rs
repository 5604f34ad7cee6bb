//! `ferry-bench`: how Ferry scales. Starts the Kubernetes API stand-in (or uses the cluster
//! `FERRY_E2E_KUBECONFIG` names), measures the API server's own write capacity W with a plain
//! concurrent client, then runs the real `ferry controller` against N ServerlessServices
//! (Knative provider) and reports convergence against the 2N / W floor, API calls per object
//! while converging and while idle, the operator's memory and CPU, and the latency from a spec
//! change to the backend call, idle and under load. A table goes to standard output and
//! everything, with the command line, to a JSON file.

mod knative;
mod stats;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use e2e::{Cluster, Ferry};
use ferry_api::ServerlessService;
use futures::{StreamExt as _, TryStreamExt as _};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt as _, watcher};
use kube::{Client, ResourceExt as _};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::stats::{Calls, calls_of, percentile, ratio};

/// Measure Ferry at scale.
#[derive(Debug, Parser)]
#[command(name = "ferry-bench", about)]
struct Args {
    /// How many ServerlessServices.
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
    /// The operator's resync interval (its default is 10m).
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    resync_interval: Duration,
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

/// The benchmark's callers, as the stand-in's audit log names them.
const OPERATOR: &str = "system:serviceaccount:ferry-bench:ferry";
const USER: &str = "ferry-bench:user";
const CAPACITY: &str = "ferry-bench:capacity";
const KNATIVE: &str = "ferry-bench:knative";
const NAMESPACE: &str = "ferry-bench";
const CAPACITY_NAMESPACE: &str = "ferry-bench-capacity";

#[derive(Debug, thiserror::Error)]
enum Error {
    #[error(transparent)]
    E2e(#[from] e2e::Error),
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
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
    latency_load_ms: Latency,
    load_rate_per_second: u32,
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

    let pending: knative::Pending = Arc::default();
    let (latency_tx, mut latency_rx) = mpsc::unbounded_channel();
    let knative_api = Api::namespaced_with(
        cluster.client_as(Some(KNATIVE)).await?,
        NAMESPACE,
        &knative::services(),
    );
    let knative = tokio::spawn(knative::run(
        knative_api,
        cluster.is_standin(),
        pending.clone(),
        latency_tx,
    ));

    let resync = format!("{}s", args.resync_interval.as_secs().max(1));
    let mut operator_args = vec![
        "controller",
        "--lease-namespace",
        NAMESPACE,
        "--metrics-address",
        "127.0.0.1:0",
        "--resync-interval",
        &resync,
    ];
    operator_args.extend(args.operator_arg.iter().map(String::as_str));
    let mut operator = Ferry::spawn_logging(cluster, &operator_args, "warn")?;
    let pid = operator.pid();
    let sampler = Sampler::start(pid);

    // Convergence: create N, wait until all are Ready.
    let user = cluster.client_as(Some(USER)).await?;
    let ssvs: Api<ServerlessService> = Api::namespaced(user.clone(), NAMESPACE);
    let ready = tokio::spawn(count_ready(ssvs.clone(), args.count));
    let cpu_start = sampler.cpu();
    let start = Instant::now();
    let mark_converging = audit_mark(audit);
    eprintln!("creating {} ServerlessServices...", args.count);
    futures::stream::iter(0..args.count)
        .map(|i| {
            let ssvs = ssvs.clone();
            async move { create_ssv(&ssvs, i).await }
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
    let settled = settle(audit, Duration::from_secs(2), Duration::from_secs(120)).await;
    eprintln!("settled {:.1}s later", settled.as_secs_f64());
    let mark_idle = audit_mark(audit);

    eprintln!("idle for {}s...", args.idle.as_secs());
    tokio::time::sleep(args.idle).await;
    let mark_idle_end = audit_mark(audit);
    let cpu_idle_end = sampler.cpu();
    let steady = sampler.rss_kib();

    eprintln!("timing {} spec changes one at a time...", args.idle_changes);
    let mut idle_latencies = Vec::new();
    let mut lost_idle = 0;
    for i in 0..args.idle_changes {
        let name = ssv_name(i % args.count);
        change(&ssvs, &pending, &name, &format!("idle-{i}")).await?;
        match tokio::time::timeout(Duration::from_secs(10), latency_rx.recv()).await {
            Ok(Some(latency)) => idle_latencies.push(latency),
            _ => lost_idle += 1,
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    eprintln!(
        "timing {} changes/s for {}s...",
        args.load_rate,
        args.load_duration.as_secs()
    );
    while latency_rx.try_recv().is_ok() {}
    let (load_latencies, lost_load) = load(&ssvs, &pending, &mut latency_rx, args).await?;

    let records =
        kube_standin::audit::read(audit).map_err(|e| Error::Other(format!("audit log: {e}")))?;
    let converging = calls_of(slice(&records, mark_converging, mark_idle), OPERATOR);
    let idle = calls_of(slice(&records, mark_idle, mark_idle_end), OPERATOR);
    let n = u64::try_from(args.count).unwrap_or(u64::MAX);
    let floor = 2.0 * ratio(n, 1) / capacity;
    #[allow(clippy::cast_precision_loss)]
    let report = Report {
        command: std::env::args().collect::<Vec<_>>().join(" "),
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
        latency_idle_ms: latency(&idle_latencies, lost_idle),
        latency_load_ms: latency(&load_latencies, lost_load),
        load_rate_per_second: args.load_rate,
    };
    sampler.stop();
    knative.abort();
    let _ = operator.terminate(Duration::from_secs(10)).await;
    print_table(&report);
    if let Some(dir) = args.output.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::Other(e.to_string()))?;
    }
    let json = serde_json::to_string_pretty(&report).map_err(|e| Error::Other(e.to_string()))?;
    std::fs::write(&args.output, json + "\n")
        .map_err(|e| Error::Other(format!("{}: {e}", args.output.display())))?;
    println!("report: {}", args.output.display());
    let lost = report.latency_idle_ms.lost + report.latency_load_ms.lost;
    let idle_writes = report.idle.operator.object_writes();
    if args.strict && (lost > 0 || idle_writes > 0) {
        return Err(Error::Other(format!(
            "--strict: {idle_writes} object writes while idle, {lost} changes never reached the backend"
        )));
    }
    Ok(())
}

fn phase(operator: Calls, n: u64) -> PhaseCalls {
    PhaseCalls {
        writes_per_object: ratio(operator.writes, n),
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

/// Waits until the operator has made no object write for `quiet` (at most `limit`); how long
/// that took.
async fn settle(audit: &std::path::Path, quiet: Duration, limit: Duration) -> Duration {
    let start = Instant::now();
    let mut seen = audit_mark(audit);
    let mut last_write = Instant::now();
    while last_write.elapsed() < quiet && start.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let fresh = records_after(audit, seen);
        seen += fresh.len();
        if calls_of(&fresh, OPERATOR).object_writes() > 0 {
            last_write = Instant::now();
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

fn ssv(name: &str) -> Value {
    json!({
        "apiVersion": "ferry.dev/v1alpha1",
        "kind": "ServerlessService",
        "metadata": {"name": name},
        "spec": {
            "provider": "knative",
            "containers": [{
                "name": "app",
                "image": "ghcr.io/knative/helloworld-go:latest",
                "port": 8080,
                "resources": {"cpu": "250m", "memory": "256Mi"},
            }],
            "scaling": {"minInstances": 0, "maxInstances": 3, "target": 50},
        },
    })
}

async fn create_ssv(api: &Api<ServerlessService>, i: usize) -> Result<(), Error> {
    let object: ServerlessService =
        serde_json::from_value(ssv(&ssv_name(i))).map_err(|e| Error::Other(e.to_string()))?;
    api.create(&PostParams::default(), &object).await?;
    Ok(())
}

/// Marks `name`'s container with `mark` and records when it was sent.
async fn change(
    api: &Api<ServerlessService>,
    pending: &knative::Pending,
    name: &str,
    mark: &str,
) -> Result<(), Error> {
    let patch = json!({"spec": {"containers": [{
        "name": "app",
        "image": "ghcr.io/knative/helloworld-go:latest",
        "port": 8080,
        "resources": {"cpu": "250m", "memory": "256Mi"},
        "env": [{"name": knative::MARK, "value": mark}],
    }]}});
    pending
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(name.to_owned(), (mark.to_owned(), Instant::now()));
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}

/// `load_rate` changes per second to distinct objects for `load_duration`; the latencies seen.
async fn load(
    api: &Api<ServerlessService>,
    pending: &knative::Pending,
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
        let (api, pending) = (api.clone(), pending.clone());
        let name = ssv_name(i % args.count);
        sends.push(tokio::spawn(async move {
            change(&api, &pending, &name, &format!("load-{i}")).await
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
                create_ssv(&api, i).await?;
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
    Api::<Namespace>::all(client)
        .delete(CAPACITY_NAMESPACE, &DeleteParams::default())
        .await?;
    #[allow(clippy::cast_precision_loss)]
    let writes = (2 * args.capacity_objects) as f64;
    Ok(writes / elapsed.as_secs_f64())
}

/// Waits until `count` ServerlessServices are Ready for their current generation.
async fn count_ready(api: Api<ServerlessService>, count: usize) -> Result<(), Error> {
    let mut ready: HashMap<String, bool> = HashMap::new();
    let events = watcher(api, watcher::Config::default()).applied_objects();
    futures::pin_mut!(events);
    while let Some(svc) = events
        .try_next()
        .await
        .map_err(|e| Error::Other(e.to_string()))?
    {
        let is_ready = svc.status.as_ref().is_some_and(|s| {
            s.observed_generation == svc.metadata.generation
                && s.conditions
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True")
        });
        ready.insert(svc.name_any(), is_ready);
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
    let opt = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}"));
    println!(
        "ferry-bench: {} ServerlessServices (knative) on {} ({} CPUs, {:.0} GiB)",
        r.count, r.cluster, r.machine.cpus, r.machine.memory_gib
    );
    println!("command: {}", r.command);
    println!("{:<52} {:>14}", "figure", "value");
    let rows: Vec<(String, String)> = vec![
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
        (
            "change -> Knative write, idle p50 / p99 (ms)".into(),
            format!(
                "{} / {}",
                opt(r.latency_idle_ms.p50),
                opt(r.latency_idle_ms.p99)
            ),
        ),
        (
            format!(
                "change -> Knative write, {}/s p50 / p99 (ms)",
                r.load_rate_per_second
            ),
            format!(
                "{} / {}",
                opt(r.latency_load_ms.p50),
                opt(r.latency_load_ms.p99)
            ),
        ),
    ];
    for (k, v) in rows {
        println!("{k:<52} {v:>14}");
    }
    if r.latency_idle_ms.lost + r.latency_load_ms.lost > 0 {
        println!(
            "changes not seen within the wait: {} idle, {} under load",
            r.latency_idle_ms.lost, r.latency_load_ms.lost
        );
    }
}
