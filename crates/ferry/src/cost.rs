//! `ferry cost`: what each ServerlessService in the files would cost per month on every
//! provider, side by side, offline. The figures come from `ferry_core::cost` and each backend's
//! model; this module reads the inputs and lays the answer out.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use ferry_api::{Provider, ProviderConfig, ServerlessJob, ServerlessJobSpec, ServerlessService};
use ferry_core::backend::Catalog;
use ferry_core::cost::bounds::{
    MAX_AVG_DURATION_MS, MAX_MEAN_CONCURRENCY, MAX_REQUESTS_PER_MONTH, MAX_TASK_SECONDS,
    MIN_MEAN_CONCURRENCY,
};
use ferry_core::cost::{
    self, Comparison, DEFAULT_AVG_DURATION_MS, DEFAULT_REQUESTS_PER_MONTH, Estimate, Figure,
    PriceTable, PriceUsed, Traffic, Usd,
};
use ferry_core::job::cost::{JobEstimate, compare_job};
use serde::Serialize;

/// The estimates for one ServerlessService.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceCost {
    /// The file it was read from.
    pub file: String,
    /// `namespace/name`.
    pub object: String,
    /// Its own provider.
    pub provider: Provider,
    /// The traffic assumed and every provider's estimate.
    #[serde(flatten)]
    pub comparison: Comparison,
}

/// `--requests-per-month`: a whole number of requests, at most
/// [`MAX_REQUESTS_PER_MONTH`].
pub fn requests_per_month(text: &str) -> Result<u64, String> {
    let most = MAX_REQUESTS_PER_MONTH;
    let n = text.trim().replace('_', "").parse::<u64>().map_err(|_| {
        format!("not a whole number of requests; write one such as 10000000 (at most {most})")
    })?;
    if n > most {
        return Err(format!(
            "{n} is more than {}, the most requests a month Ferry prices exactly (about 380 \
             million a second)",
            thousands_exact(most)
        ));
    }
    Ok(n)
}

/// `--avg-duration-ms`: a whole number of milliseconds, 1 to [`MAX_AVG_DURATION_MS`].
pub fn avg_duration_ms(text: &str) -> Result<u32, String> {
    let most = MAX_AVG_DURATION_MS;
    let n = text.trim().replace('_', "").parse::<u64>().map_err(|_| {
        format!("not a whole number of milliseconds; write one such as 100 (1 to {most})")
    })?;
    match u32::try_from(n) {
        Ok(0) => Err("a request takes at least 1 ms".to_owned()),
        Ok(n) if n <= most => Ok(n),
        _ => Err(format!(
            "{n} is more than {most} ms (an hour), the longest request any provider serves; \
             price work that runs longer as a ServerlessJob (--task-seconds)"
        )),
    }
}

/// `--task-seconds`: a whole number of seconds, 1 to [`MAX_TASK_SECONDS`].
pub fn task_seconds(text: &str) -> Result<u32, String> {
    let most = MAX_TASK_SECONDS;
    let n = text.trim().replace('_', "").parse::<u64>().map_err(|_| {
        format!("not a whole number of seconds; write one such as 300 (1 to {most})")
    })?;
    match u32::try_from(n) {
        Ok(0) => Err("a task runs at least 1 s".to_owned()),
        Ok(n) if n <= most => Ok(n),
        _ => Err(format!(
            "{n} is more than {most} s (a week), the longest timeoutSeconds a ServerlessJob \
             takes"
        )),
    }
}

/// `--mean-concurrency`: a number from [`MIN_MEAN_CONCURRENCY`] to [`MAX_MEAN_CONCURRENCY`].
pub fn mean_concurrency(text: &str) -> Result<f64, String> {
    let (least, most) = (MIN_MEAN_CONCURRENCY, MAX_MEAN_CONCURRENCY);
    let range = format!("{least} to {most}");
    let n = text
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite())
        .ok_or_else(|| format!("not a number; write one such as 1 or 2.5 ({range})"))?;
    if (least..=most).contains(&n) {
        Ok(n)
    } else {
        Err(format!(
            "{text} is outside {range}: requests in flight on a busy instance"
        ))
    }
}

/// `1,234,567` for a whole number, every digit exact.
fn thousands_exact(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Each figure that could not be worked out (an error, not an answer: `ferry cost` exits 1),
/// one line each: `FILE: Kind namespace/name: why`.
pub fn errors(services: &[ServiceCost], jobs: &[JobCost]) -> Vec<String> {
    let services = services.iter().flat_map(|s| {
        s.comparison
            .estimates
            .iter()
            .filter(|e| e.error)
            .map(move |e| format!("{}: ServerlessService {}: {}", s.file, s.object, e.note))
    });
    let jobs = jobs.iter().flat_map(|j| {
        j.estimates.iter().filter(|e| e.error).map(move |e| {
            format!(
                "{}: ServerlessJob {}: {}",
                j.file,
                j.object,
                e.unavailable.as_deref().unwrap_or_default()
            )
        })
    });
    services.chain(jobs).collect()
}

/// What is never in an estimate; docs/cost.md says more.
pub const NOT_INCLUDED: &str = "load balancers, data transfer, NAT gateways, public IPv4 \
                                addresses, logs and monitoring, image storage, taxes";

/// The estimates for every ServerlessService in `text` (read from `file`), or every problem
/// that prevents them, worded as `ferry validate` words them. `configs` are the ProviderConfigs
/// given, whose regions pick the prices.
pub fn service_costs(
    file: &str,
    text: &str,
    configs: &BTreeMap<String, ProviderConfig>,
    traffic: &Traffic,
    prices: &PriceTable,
    catalog: &Catalog,
) -> Result<Vec<ServiceCost>, String> {
    let mut out = Vec::new();
    for svc in valid_objects::<ServerlessService>(file, text, catalog, "ServerlessService")? {
        let config = configs.get(ferry_provider::provider_config::name_for(&svc));
        out.push(ServiceCost {
            file: file.to_owned(),
            object: format!(
                "{}/{}",
                svc.metadata.namespace.as_deref().unwrap_or("default"),
                svc.metadata.name.as_deref().unwrap_or_default()
            ),
            provider: svc.spec.provider,
            comparison: cost::compare(&svc.spec, traffic, prices, config.map(|c| &c.spec), catalog),
        });
    }
    Ok(out)
}

/// The objects of `kind` in `text` (read from `file`), once every document of it validates;
/// otherwise every problem, as `ferry validate` words them.
fn valid_objects<K: serde::de::DeserializeOwned>(
    file: &str,
    text: &str,
    catalog: &Catalog,
    kind: &str,
) -> Result<Vec<K>, String> {
    let report = crate::validate::validate_text(file, text, catalog);
    if report.has_errors() {
        return Err(crate::validate::render_text(&report));
    }
    let documents = crate::manifest::parse(text).map_err(|e| format!("{file}: {e}\n"))?;
    documents
        .iter()
        .filter(|d| d.value["kind"] == kind)
        .map(|d| serde_json::from_value(d.value.clone()).map_err(|e| format!("{file}: {e}\n")))
        .collect()
}

/// The estimates for one ServerlessJob.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobCost {
    /// The file it was read from.
    pub file: String,
    /// `namespace/name`.
    pub object: String,
    /// Its own provider.
    pub provider: Provider,
    /// Tasks per run.
    pub tasks: u32,
    /// Seconds each task is taken to run.
    pub task_seconds: u32,
    /// Whether that is the job's `timeoutSeconds` (no `--task-seconds`).
    pub task_seconds_is_timeout: bool,
    /// Every job provider's estimate.
    pub estimates: Vec<JobEstimate>,
}

/// The estimates for every ServerlessJob in `text` (read from `file`); `task_seconds`: how long
/// each task runs (default: each job's `timeoutSeconds`). Problems as [`service_costs`] words
/// them.
pub fn job_costs(
    file: &str,
    text: &str,
    configs: &BTreeMap<String, ProviderConfig>,
    task_seconds: Option<u32>,
    prices: &PriceTable,
    catalog: &Catalog,
) -> Result<Vec<JobCost>, String> {
    let mut out = Vec::new();
    for job in valid_objects::<ServerlessJob>(file, text, catalog, "ServerlessJob")? {
        let config = configs.get(ferry_provider::provider_config::name_for(
            &ferry_provider::job::workload_of(&job),
        ));
        let spec = &job.spec;
        out.push(JobCost {
            file: file.to_owned(),
            object: format!(
                "{}/{}",
                job.metadata.namespace.as_deref().unwrap_or("default"),
                job.metadata.name.as_deref().unwrap_or_default()
            ),
            provider: spec.provider,
            tasks: spec
                .task_count
                .unwrap_or(ServerlessJobSpec::DEFAULT_TASK_COUNT)
                .unsigned_abs(),
            task_seconds_is_timeout: task_seconds.is_none(),
            task_seconds: task_seconds.unwrap_or_else(|| {
                spec.timeout_seconds
                    .unwrap_or(ServerlessJobSpec::DEFAULT_TIMEOUT_SECONDS)
                    .unsigned_abs()
            }),
            estimates: compare_job(spec, task_seconds, prices, config.map(|c| &c.spec), catalog),
        });
    }
    Ok(out)
}

const JOB_COLUMNS: [&str; 7] = [
    "PROVIDER",
    "PER RUN",
    "COMPUTE",
    "MEMORY",
    "STORAGE",
    "RUNS/MONTH",
    "MONTHLY",
];

/// Each job's table for a terminal: one run on every provider that runs jobs, and a month of
/// runs on its schedule; what drives each figure, the assumptions and the prices used.
pub fn render_jobs_text(costs: &[JobCost]) -> String {
    let mut out = String::new();
    for (i, job) in costs.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "ServerlessJob {} ({}, provider {}): USD per run of {} x {} s\n",
            job.object,
            job.file,
            job.provider,
            plural_tasks(job.tasks),
            job.task_seconds
        );
        let rows: Vec<Vec<String>> = job
            .estimates
            .iter()
            .map(|e| {
                let name = if e.cheapest {
                    format!("{} *", e.provider.display_name())
                } else {
                    e.provider.display_name().to_owned()
                };
                match (e.per_run_usd, &e.breakdown) {
                    (Some(per_run), Some(b)) => vec![
                        name,
                        per_run.to_string(),
                        b.compute.to_string(),
                        b.memory.to_string(),
                        b.storage.to_string(),
                        e.runs_per_month
                            .map_or_else(|| "-".to_owned(), |n| n.to_string()),
                        e.monthly_usd
                            .map_or_else(|| "-".to_owned(), |m| m.to_string()),
                    ],
                    _ => unpriced(name, JOB_COLUMNS.len()),
                }
            })
            .collect();
        grid(&mut out, &JOB_COLUMNS, &rows);
        if job.estimates.iter().any(|e| e.cheapest) {
            out.push_str("* cheapest run\n");
        }
        out.push('\n');
        notes(
            &mut out,
            job.estimates
                .iter()
                .map(|e| (e.provider, e.unavailable.as_deref().unwrap_or(&e.note))),
        );
        let seconds = if job.task_seconds_is_timeout {
            ": the job's timeoutSeconds, the most a run costs without retries (default; \
             --task-seconds)"
        } else {
            " (--task-seconds)"
        };
        let _ = writeln!(
            out,
            "\nRuns: each task runs {} s{seconds}. Retries are not counted; a month of a \
             schedule is the runs its cron brings in 730 h.",
            job.task_seconds
        );
        details(
            &mut out,
            job.estimates
                .iter()
                .map(|e| (e.provider, e.assumptions.as_slice(), e.prices.as_slice())),
        );
        let _ = writeln!(out, "Not included: {NOT_INCLUDED} (docs/cost.md).");
    }
    out
}

fn plural_tasks(n: u32) -> String {
    if n == 1 {
        "1 task".to_owned()
    } else {
        format!("{n} tasks")
    }
}

const COLUMNS: [&str; 8] = [
    "PROVIDER",
    "MONTHLY",
    "COMPUTE",
    "MEMORY",
    "STORAGE",
    "REQUESTS",
    "IDLE MIN",
    "FREE TIER",
];

/// The side-by-side table for a terminal, with one line per provider on what drives its
/// figure, the traffic and assumptions behind it, and the prices used.
pub fn render_text(costs: &[ServiceCost]) -> String {
    let mut out = String::new();
    for (i, service) in costs.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "ServerlessService {} ({}, provider {}): USD per month\n",
            service.object, service.file, service.provider
        );
        table(&mut out, &service.comparison.estimates);
        out.push('\n');
        notes(
            &mut out,
            service
                .comparison
                .estimates
                .iter()
                .map(|e| (e.provider, e.note.as_str())),
        );
        let _ = writeln!(out, "\n{}", traffic_line(&service.comparison));
        details(
            &mut out,
            service
                .comparison
                .estimates
                .iter()
                .map(|e| (e.provider, e.assumptions.as_slice(), e.prices.as_slice())),
        );
        let _ = writeln!(out, "Not included: {NOT_INCLUDED} (docs/cost.md).");
    }
    out
}

fn table(out: &mut String, estimates: &[Estimate]) {
    let rows: Vec<Vec<String>> = estimates
        .iter()
        .map(|e| {
            let name = if e.cheapest {
                format!("{} *", e.provider.display_name())
            } else {
                e.provider.display_name().to_owned()
            };
            match &e.figure {
                Figure::Priced {
                    monthly_usd,
                    breakdown: b,
                } => {
                    let cells: [Usd; 7] = [
                        *monthly_usd,
                        b.compute,
                        b.memory,
                        b.storage,
                        b.requests,
                        b.idle_minimum,
                        b.free_tier,
                    ];
                    std::iter::once(name)
                        .chain(cells.iter().map(ToString::to_string))
                        .collect()
                }
                Figure::Unavailable { .. } => unpriced(name, COLUMNS.len()),
            }
        })
        .collect();
    grid(out, &COLUMNS, &rows);
    if estimates.iter().any(|e| e.cheapest) {
        out.push_str("* cheapest\n");
    }
}

/// A row of `-` after `name`: a provider with no figure.
fn unpriced(name: String, columns: usize) -> Vec<String> {
    std::iter::once(name)
        .chain(std::iter::repeat_n("-".to_owned(), columns - 1))
        .collect()
}

/// `rows` under `columns`, the first left-aligned, the rest right-aligned, each as wide as its
/// widest cell.
fn grid(out: &mut String, columns: &[&str], rows: &[Vec<String>]) {
    let widths: Vec<usize> = (0..columns.len())
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i).map(String::len))
                .chain([columns[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[&str]| {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i == 0 {
                let _ = write!(text, "{cell:<w$}", w = widths[i]);
            } else {
                let _ = write!(text, "  {cell:>w$}", w = widths[i]);
            }
        }
        text.trim_end().to_owned() + "\n"
    };
    out.push_str(&line(columns));
    for row in rows {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        out.push_str(&line(&cells));
    }
}

/// One line per provider: what drives its figure, the names aligned.
fn notes<'a>(out: &mut String, notes: impl Iterator<Item = (Provider, &'a str)> + Clone) {
    let width = notes
        .clone()
        .map(|(p, _)| p.display_name().len())
        .max()
        .unwrap_or(0)
        + 1;
    for (provider, note) in notes {
        let name = format!("{}:", provider.display_name());
        let _ = writeln!(out, "{name:width$} {note}");
    }
}

/// Each provider's assumptions, then the prices it used.
fn details<'a>(
    out: &mut String,
    estimates: impl Iterator<Item = (Provider, &'a [String], &'a [PriceUsed])> + Clone,
) {
    let assumptions: Vec<(Provider, &String)> = estimates
        .clone()
        .flat_map(|(p, a, _)| a.iter().map(move |a| (p, a)))
        .collect();
    if !assumptions.is_empty() {
        out.push_str("Assumptions:\n");
        for (p, a) in assumptions {
            let _ = writeln!(out, "  {}: {a}", p.display_name());
        }
    }
    let prices: Vec<String> = estimates
        .flat_map(|(provider, _, prices)| {
            prices.iter().map(move |p| {
                format!(
                    "  {} {} {}: {} (read {})",
                    provider.display_name(),
                    p.region,
                    p.option,
                    p.source,
                    p.read
                )
            })
        })
        .collect();
    if !prices.is_empty() {
        let _ = writeln!(out, "Prices (re-check them; override with --prices FILE):");
        for p in prices {
            let _ = writeln!(out, "{p}");
        }
    }
}

fn traffic_line(c: &Comparison) -> String {
    let t = &c.traffic;
    let flag = |is_default: bool, flag: &str| {
        if is_default {
            format!("(default; {flag})")
        } else {
            format!("({flag})")
        }
    };
    let concurrency = match t.mean_concurrency {
        Some(m) => format!("{m} requests in flight per busy instance"),
        None => format!(
            "requests in flight per busy instance from the load: {} on average over the month, \
             at least 1 (default; --mean-concurrency)",
            t.average_in_flight
        ),
    };
    let free = if t.free_tier {
        "free tiers taken off (--no-free-tier: not)"
    } else {
        "no free tier"
    };
    format!(
        "Traffic: {} requests a month {}, {} ms each {}, {concurrency}; {free}; {} h a month.",
        thousands_exact(t.requests_per_month),
        flag(
            t.requests_per_month == DEFAULT_REQUESTS_PER_MONTH,
            "--requests-per-month"
        ),
        t.avg_duration_ms,
        flag(
            t.avg_duration_ms == DEFAULT_AVG_DURATION_MS,
            "--avg-duration-ms"
        ),
        t.hours_per_month
    )
}
