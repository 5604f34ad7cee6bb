//! Command-line parsing and the exit-code contract: 0 success, 1 the input is invalid or a
//! command failed, 2 a usage error (clap's).

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use ferry_api::Provider;
use ferry_core::backend::Catalog;
use ferry_core::cost::{self, PriceTable, Traffic};

use crate::Error;
use crate::render;
use crate::validate::{FileReport, render_text, validate_text};

/// Run serverless containers on Knative, AWS Fargate or Google Cloud Run from Kubernetes.
#[derive(Debug, Parser)]
#[command(name = "ferry", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the Ferry CustomResourceDefinitions (what `crds/` holds).
    Crd {
        /// Write one file per CRD into this directory instead of printing them.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Check ServerlessService and ProviderConfig manifests offline, as the API server and
    /// Ferry would; exit 1 when any is invalid.
    Validate {
        /// Files or directories of YAML manifests (`-` reads standard input).
        #[arg(short = 'f', long = "filename", value_name = "FILE", required = true)]
        files: Vec<PathBuf>,
        /// Output format.
        #[arg(short, long, value_enum, default_value_t = Format::Text)]
        output: Format,
    },
    /// Print what each portable field means on each provider.
    Capabilities {
        /// Only this provider.
        #[arg(long, value_parser = parse_provider)]
        provider: Option<Provider>,
        /// Which kind's table (Markdown prints both).
        #[arg(long, value_enum, default_value_t = render::TableKind::Service)]
        kind: render::TableKind,
        /// Output format.
        #[arg(short, long, value_enum, default_value_t = TableFormat::Text)]
        output: TableFormat,
    },
    /// Print the condition reasons Ferry writes into status.
    Reasons {
        /// Output format.
        #[arg(short, long, value_enum, default_value_t = TableFormat::Text)]
        output: TableFormat,
    },
    /// Print, offline, what Ferry would create for each ServerlessService (in-cluster objects
    /// as YAML, a cloud's requests as JSON, with the values of a ProviderConfig given in the
    /// files); exit 1 when one cannot be rendered.
    Render {
        /// Files or directories of YAML manifests (`-` reads standard input).
        #[arg(short = 'f', long = "filename", value_name = "FILE", required = true)]
        files: Vec<PathBuf>,
    },
    /// Estimate, offline, what each ServerlessService would cost per month on every provider,
    /// side by side, whatever its own; exit 1 when one cannot be read.
    Cost {
        /// Files or directories of YAML manifests (`-` reads standard input). ProviderConfigs
        /// among them give the regions to price in.
        #[arg(short = 'f', long = "filename", value_name = "FILE", required = true)]
        files: Vec<PathBuf>,
        /// Requests per month.
        #[arg(long, value_name = "N", default_value_t = cost::DEFAULT_REQUESTS_PER_MONTH)]
        requests_per_month: u64,
        /// Mean time to serve one request, milliseconds.
        #[arg(long, value_name = "MS", default_value_t = cost::DEFAULT_AVG_DURATION_MS,
              value_parser = clap::value_parser!(u32).range(1..))]
        avg_duration_ms: u32,
        /// Mean requests in flight on a busy instance (at most the service's concurrency).
        /// Default: the month's average load, at least 1.
        #[arg(long, value_name = "N", value_parser = parse_positive)]
        mean_concurrency: Option<f64>,
        /// How long each task of a ServerlessJob runs, seconds. Default: the job's
        /// `timeoutSeconds` (the most a run costs without retries).
        #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u32).range(1..=604_800))]
        task_seconds: Option<u32>,
        /// Do not take the providers' monthly free tiers off (they are per billing account,
        /// shared by everything in it).
        #[arg(long)]
        no_free_tier: bool,
        /// A price table (YAML, one section per provider: docs/cost.md) whose entries replace
        /// or add to Ferry's own; Knative needs one with your nodes' price.
        #[arg(long, value_name = "FILE")]
        prices: Option<PathBuf>,
        /// Output format.
        #[arg(short, long, value_enum, default_value_t = Format::Text)]
        output: Format,
    },
    /// Run the operator: reconcile ServerlessServices until SIGTERM.
    Controller(crate::controller::ControllerArgs),
}

/// A positive, finite number.
fn parse_positive(text: &str) -> Result<f64, String> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite() && *n > 0.0)
        .ok_or_else(|| format!("{text:?} is not a positive number such as 1 or 2.5"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum TableFormat {
    Text,
    Markdown,
    Json,
}

/// A provider as `spec.provider` names it (any case).
fn parse_provider(text: &str) -> Result<Provider, String> {
    Provider::ALL
        .into_iter()
        .find(|p| p.as_str().eq_ignore_ascii_case(text.trim()))
        .ok_or_else(|| {
            let names: Vec<&str> = Provider::ALL.iter().map(|p| p.as_str()).collect();
            format!(
                "{text:?} is not a provider; the providers are {}",
                names.join(", ")
            )
        })
}

/// Parses the command line, runs the command and reports errors on stderr.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(code) => code,
        // A reader that stops early (`ferry crd | head`) is not an error.
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::BrokenPipe => {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ferry: {e}");
            ExitCode::FAILURE
        }
    }
}

fn print(text: &str) -> Result<(), Error> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|source| Error::Io {
            path: "stdout".into(),
            source,
        })
}

fn json(value: &impl serde::Serialize) -> Result<String, Error> {
    serde_json::to_string_pretty(value)
        .map(|s| s + "\n")
        .map_err(|e| Error::Render(e.to_string()))
}

fn run(command: Command) -> Result<ExitCode, Error> {
    match command {
        Command::Controller(args) => return Ok(crate::controller::main(args)),
        Command::Render { files } => return render_files(&files),
        Command::Cost {
            files,
            requests_per_month,
            avg_duration_ms,
            mean_concurrency,
            task_seconds,
            no_free_tier,
            prices,
            output,
        } => {
            let traffic = Traffic {
                requests_per_month,
                avg_duration_ms,
                mean_concurrency,
                free_tier: !no_free_tier,
            };
            return cost_files(&files, &traffic, task_seconds, prices.as_deref(), output);
        }
        Command::Crd { dir: None } => print(&render::all_crds_yaml()?)?,
        Command::Crd { dir: Some(dir) } => write_crds(&dir)?,
        Command::Validate { files, output } => return validate(&files, output),
        Command::Capabilities {
            provider,
            kind,
            output,
        } => {
            let catalog = crate::backends::registry()?.catalog();
            print(&match (output, kind) {
                (TableFormat::Text, kind) => render::capabilities_text(catalog, provider, kind),
                (TableFormat::Markdown, _) => render::capabilities_markdown(catalog),
                (TableFormat::Json, render::TableKind::Service) => {
                    json(&ferry_core::capabilities::table(catalog))?
                }
                (TableFormat::Json, render::TableKind::Job) => {
                    json(&ferry_core::capabilities::job_table(catalog))?
                }
            })?;
        }
        Command::Reasons { output } => print(&match output {
            TableFormat::Text => render::reasons_text(),
            TableFormat::Markdown => render::reasons_markdown(),
            TableFormat::Json => json(
                &ferry_api::conditions::REASONS
                    .iter()
                    .map(|r| {
                        serde_json::json!({
                            "reason": r.reason, "appearsAs": r.appears_as,
                            "meaning": r.meaning, "action": r.action,
                        })
                    })
                    .collect::<Vec<_>>(),
            )?,
        })?,
    }
    Ok(ExitCode::SUCCESS)
}

fn write_crds(dir: &Path) -> Result<(), Error> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| Error::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    for crd in ferry_api::crds() {
        let path = dir.join(render::crd_file_name(&crd));
        std::fs::write(&path, render::crd_yaml(&crd)?).map_err(io(&path))?;
    }
    Ok(())
}

/// YAML files named on the command line: files as given, directories' `*.yaml` / `*.yml`
/// (sorted, not recursive), `-` for standard input.
fn expand(files: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for f in files {
        let entries = f.is_dir().then(|| std::fs::read_dir(f).ok()).flatten();
        match entries {
            Some(entries) => {
                let mut found: Vec<PathBuf> = entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
                    .collect();
                found.sort();
                out.extend(found);
            }
            None => out.push(f.clone()),
        }
    }
    out
}

fn read(path: &Path) -> Result<String, std::io::Error> {
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        Ok(text)
    } else {
        std::fs::read_to_string(path)
    }
}

/// The text of every file given (directories expanded), named; whether one could not be read
/// (reported on standard error).
fn read_files(files: &[PathBuf]) -> (Vec<(String, String)>, bool) {
    let mut failed = false;
    let mut texts = Vec::new();
    for path in expand(files) {
        let name = path.display().to_string();
        match read(&path) {
            Ok(text) => texts.push((name, text)),
            Err(e) => {
                eprintln!("{name}: cannot read: {e}");
                failed = true;
            }
        }
    }
    (texts, failed)
}

fn render_files(files: &[PathBuf]) -> Result<ExitCode, Error> {
    let registry = crate::backends::registry()?;
    let (texts, mut failed) = read_files(files);
    // A service may name a ProviderConfig from another of the files given.
    let configs = render::provider_configs(texts.iter().map(|(_, text)| text.as_str()));
    for (name, text) in &texts {
        match render::provider_objects(name, text, &configs, registry) {
            Ok(yaml) => print(&yaml)?,
            Err(problems) => {
                eprint!("{problems}");
                failed = true;
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Ferry's price table, with the entries of `file` on top.
fn price_table(file: Option<&Path>, catalog: &Catalog) -> Result<PriceTable, Error> {
    let table = PriceTable::embedded(catalog)?;
    let Some(path) = file else {
        return Ok(table);
    };
    let name = path.display().to_string();
    let text = read(path).map_err(|source| Error::Io {
        path: name.clone(),
        source,
    })?;
    Ok(table.overlay(PriceTable::parse(&name, &text, catalog)?))
}

fn cost_files(
    files: &[PathBuf],
    traffic: &Traffic,
    task_seconds: Option<u32>,
    prices: Option<&Path>,
    output: Format,
) -> Result<ExitCode, Error> {
    let catalog = crate::backends::registry()?.catalog();
    let prices = price_table(prices, catalog)?;
    let (texts, mut failed) = read_files(files);
    let configs = render::provider_configs(texts.iter().map(|(_, text)| text.as_str()));
    let mut costs = Vec::new();
    let mut job_costs = Vec::new();
    for (name, text) in &texts {
        let services = crate::cost::service_costs(name, text, &configs, traffic, &prices, catalog);
        let jobs = crate::cost::job_costs(name, text, &configs, task_seconds, &prices, catalog);
        match (services, jobs) {
            (Ok(services), Ok(jobs)) => {
                costs.extend(services);
                job_costs.extend(jobs);
            }
            // Both read the same file: its problems once.
            (Err(problems), _) | (_, Err(problems)) => {
                eprint!("{problems}");
                failed = true;
            }
        }
    }
    if costs.is_empty() && job_costs.is_empty() && !failed {
        eprintln!("ferry: no ServerlessService or ServerlessJob in the files given");
        return Ok(ExitCode::FAILURE);
    }
    match output {
        Format::Text => {
            let mut text = crate::cost::render_text(&costs);
            if !costs.is_empty() && !job_costs.is_empty() {
                text.push('\n');
            }
            text.push_str(&crate::cost::render_jobs_text(&job_costs));
            print(&text)?;
        }
        // Services as before (a list); jobs, when the files hold any, beside them.
        Format::Json if job_costs.is_empty() => print(&json(&costs)?)?,
        Format::Json => print(&json(
            &serde_json::json!({"services": costs, "jobs": job_costs}),
        )?)?,
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn validate(files: &[PathBuf], output: Format) -> Result<ExitCode, Error> {
    let catalog = crate::backends::registry()?.catalog();
    let reports: Vec<FileReport> = expand(files)
        .iter()
        .map(|path| {
            let name = path.display().to_string();
            match read(path) {
                Ok(text) => validate_text(&name, &text, catalog),
                Err(e) => FileReport {
                    file: name.clone(),
                    error: Some(format!("{name}: cannot read: {e}")),
                    documents: Vec::new(),
                },
            }
        })
        .collect();
    match output {
        Format::Text => print(&reports.iter().map(render_text).collect::<String>())?,
        Format::Json => print(&json(&reports)?)?,
    }
    Ok(if reports.iter().any(FileReport::has_errors) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
