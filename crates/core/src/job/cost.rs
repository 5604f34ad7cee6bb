//! What a `ServerlessJob` costs: one run on each provider that runs jobs, and a month of runs
//! for a schedule (the runs its cron brings in 730 hours). Each backend prices one run of its
//! own provider ([`Rules::estimate_run`]); this module compares them.
//!
//! A run is `taskCount` tasks of the job's size, each running `task_seconds`: by default the
//! job's `timeoutSeconds`, the most one attempt may run, so the default figure is what a run
//! costs at most without retries (`ferry cost --task-seconds` sets a typical duration instead).
//!
//! [`Rules::estimate_run`]: crate::backend::Rules::estimate_run

use ferry_api::{Provider, ProviderConfigSpec, ServerlessJobSpec};
use serde::Serialize;

use crate::backend::{Catalog, Rules};
use crate::cost::sold::{self, Refused};
use crate::cost::{Breakdown, Figure, PriceTable, PriceUsed, Shape, Usd, out_of_range};
use crate::job::Schedule;

/// What one run's estimate reads.
pub struct RunInput<'a> {
    /// The job spec.
    pub spec: &'a ServerlessJobSpec,
    /// Its task's sizes, parsed.
    pub shape: &'a Shape,
    /// Tasks per run.
    pub tasks: u32,
    /// Seconds each task runs.
    pub task_seconds: u32,
    /// The prices.
    pub prices: &'a PriceTable,
    /// The region to price in; `None`: the table's first for the provider.
    pub region: Option<&'a str>,
}

/// One provider's estimate for a job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobEstimate {
    /// The provider.
    pub provider: Provider,
    /// One run, when priced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_run_usd: Option<Usd>,
    /// One run's lines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub breakdown: Option<Breakdown>,
    /// Runs a month on the schedule (none without one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runs_per_month: Option<usize>,
    /// A month of runs on the schedule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monthly_usd: Option<Usd>,
    /// Why there is no figure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
    /// Whether no provider of the comparison runs it cheaper.
    pub cheapest: bool,
    /// One line: what drives the figure.
    pub note: String,
    /// What the figure assumes.
    pub assumptions: Vec<String>,
    /// The price-table entries it used.
    pub prices: Vec<PriceUsed>,
    /// When the provider does not sell what the job asks for: each refusal of its rules, as
    /// `ferry validate` words it ([`sold`]); there is no figure.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<Refused>,
    /// Whether a figure could not be worked out exactly (beyond what Ferry works out to the
    /// cent): an error, not an answer; there is no figure and `unavailable` says why.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub error: bool,
}

/// Every job provider's estimate for `spec`, with the cheapest run marked. `task_seconds`:
/// how long each task runs (default: the spec's `timeoutSeconds`).
pub fn compare_job(
    spec: &ServerlessJobSpec,
    task_seconds: Option<u32>,
    prices: &PriceTable,
    config: Option<&ProviderConfigSpec>,
    catalog: &Catalog,
) -> Vec<JobEstimate> {
    let mut estimates: Vec<JobEstimate> = catalog
        .iter()
        .filter(|rules| ServerlessJobSpec::PROVIDERS.contains(&rules.provider()))
        .map(|rules| estimate_job(rules, spec, task_seconds, prices, config))
        .collect();
    let cheapest = estimates.iter().filter_map(|e| e.per_run_usd).min();
    for e in &mut estimates {
        e.cheapest = cheapest.is_some() && e.per_run_usd == cheapest;
    }
    estimates
}

/// What `spec` costs a run (and a month of runs on its schedule) on the provider of `rules`.
pub fn estimate_job(
    rules: &dyn Rules,
    spec: &ServerlessJobSpec,
    task_seconds: Option<u32>,
    prices: &PriceTable,
    config: Option<&ProviderConfigSpec>,
) -> JobEstimate {
    let provider = rules.provider();
    let mut out = JobEstimate {
        provider,
        per_run_usd: None,
        breakdown: None,
        runs_per_month: None,
        monthly_usd: None,
        unavailable: None,
        cheapest: false,
        note: String::new(),
        assumptions: Vec::new(),
        prices: Vec::new(),
        refused: Vec::new(),
        error: false,
    };
    let refused = sold::job_refusals(spec, rules);
    if !refused.is_empty() {
        out.unavailable = Some(sold::not_sold(rules, &refused));
        out.refused = refused;
        return out;
    }
    let workload = spec.workload();
    let shape = match Shape::of(&workload) {
        Ok(shape) => shape,
        Err(problem) => {
            out.unavailable = Some(problem);
            return out;
        }
    };
    let tasks = spec
        .task_count
        .unwrap_or(ServerlessJobSpec::DEFAULT_TASK_COUNT)
        .max(1)
        .unsigned_abs();
    let timeout = spec
        .timeout_seconds
        .unwrap_or(ServerlessJobSpec::DEFAULT_TIMEOUT_SECONDS)
        .max(1)
        .unsigned_abs();
    let region = rules.region(&workload, config);
    let input = RunInput {
        spec,
        shape: &shape,
        tasks,
        task_seconds: task_seconds.unwrap_or(timeout),
        prices,
        region: region.as_deref(),
    };
    let run = rules.estimate_run(&input);
    out.note = run.note;
    out.assumptions = run.assumptions;
    out.assumptions
        .extend(crate::cost::volume_assumptions(&workload, rules));
    out.prices = run.prices;
    let who = provider.display_name();
    if let Figure::Priced { breakdown, .. } = &run.figure
        && let Some(why) = out_of_range(breakdown, who, "one run")
    {
        out.unavailable = Some(why);
        out.error = true;
        return out;
    }
    match run.figure {
        Figure::Priced {
            monthly_usd,
            breakdown,
        } => {
            out.per_run_usd = Some(monthly_usd);
            out.breakdown = Some(breakdown);
            if provider != spec.provider {
                out.assumptions.insert(
                    0,
                    format!(
                        "the spec is for {}: {} gets its own defaults for what the spec leaves out",
                        spec.provider.display_name(),
                        provider.display_name()
                    ),
                );
            }
        }
        Figure::Unavailable { unavailable } => {
            out.unavailable = Some(unavailable);
            return out;
        }
    }
    let schedule = spec
        .schedule
        .as_deref()
        .and_then(|cron| Schedule::parse(cron, spec.time_zone.as_deref()).ok());
    if let Some(schedule) = schedule {
        // Priced as one run of every task the month brings, so rounding to cents happens once
        // (every model is linear in the tasks).
        let runs = schedule.runs_per_month();
        out.runs_per_month = Some(runs);
        let all = u32::try_from(runs)
            .ok()
            .and_then(|runs| tasks.checked_mul(runs));
        let Some(all) = all else {
            // More tasks a month than a count holds: far beyond what one line may come to.
            out.per_run_usd = None;
            out.breakdown = None;
            out.error = true;
            out.unavailable = Some(format!(
                "not priced: {who}: {runs} runs of {tasks} tasks a month are more than Ferry \
                 counts; lower spec.taskCount or run the schedule less often"
            ));
            return out;
        };
        let month = rules.estimate_run(&RunInput {
            tasks: all,
            ..input
        });
        if let Figure::Priced { breakdown, .. } = &month.figure
            && let Some(why) = out_of_range(breakdown, who, "a month of runs")
        {
            out.per_run_usd = None;
            out.breakdown = None;
            out.error = true;
            out.unavailable = Some(why);
            return out;
        }
        out.monthly_usd = month.figure.monthly();
    }
    out
}
