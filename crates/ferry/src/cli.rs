//! Command-line parsing and the exit-code contract: 0 success, 1 the input is invalid or a
//! command failed, 2 a usage error (clap's).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use ferry_api::{Provider, ProviderConfig};
use ferry_core::backend::Catalog;
use ferry_core::cost::{self, PriceTable, Traffic};

use crate::Error;
use crate::input::{self, Entry, Input, Reader};
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
    /// Ferry would; exit 1 when any is invalid or none is found.
    Validate {
        /// Files or directories of YAML or JSON manifests (`-` reads standard input). A
        /// directory's files ending .json, .yaml or .yml are read, not its subdirectories, as
        /// by kubectl -f. At most 8 MiB a file and 64 MiB in all.
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
    /// files); exit 1 when one cannot be rendered or none is found.
    Render {
        /// Files or directories of YAML or JSON manifests (`-` reads standard input). A
        /// directory's files ending .json, .yaml or .yml are read, not its subdirectories, as
        /// by kubectl -f. At most 8 MiB a file and 64 MiB in all.
        #[arg(short = 'f', long = "filename", value_name = "FILE", required = true)]
        files: Vec<PathBuf>,
    },
    /// Estimate, offline, what each ServerlessService would cost per month on every provider,
    /// side by side, whatever its own; exit 1 when one cannot be read.
    Cost {
        /// Files or directories of YAML or JSON manifests (`-` reads standard input). A
        /// directory's files ending .json, .yaml or .yml are read, not its subdirectories, as
        /// by kubectl -f. At most 8 MiB a file and 64 MiB in all.
        /// ProviderConfigs among them give the regions to price in.
        #[arg(short = 'f', long = "filename", value_name = "FILE", required = true)]
        files: Vec<PathBuf>,
        /// Requests per month (at most 10^15).
        #[arg(long, value_name = "N", default_value_t = cost::DEFAULT_REQUESTS_PER_MONTH,
              value_parser = crate::cost::requests_per_month)]
        requests_per_month: u64,
        /// Mean time to serve one request, milliseconds (1 to 3600000, an hour).
        #[arg(long, value_name = "MS", default_value_t = cost::DEFAULT_AVG_DURATION_MS,
              value_parser = crate::cost::avg_duration_ms)]
        avg_duration_ms: u32,
        /// Mean requests in flight on a busy instance (0.01 to 1000000; at most the service's
        /// concurrency). Default: the month's average load, at least 1.
        #[arg(long, value_name = "N", value_parser = crate::cost::mean_concurrency)]
        mean_concurrency: Option<f64>,
        /// How long each task of a ServerlessJob runs, seconds (1 to 604800, a week). Default:
        /// the job's `timeoutSeconds` (the most a run costs without retries).
        #[arg(long, value_name = "SECONDS", value_parser = crate::cost::task_seconds)]
        task_seconds: Option<u32>,
        /// Do not take the providers' monthly free tiers off (they are per billing account,
        /// shared by everything in it).
        #[arg(long)]
        no_free_tier: bool,
        /// A price table (YAML, one section per provider: docs/cost.md) whose entries replace
        /// or add to Ferry's own; Knative needs one with your nodes' price. At most 8 MiB.
        #[arg(long, value_name = "FILE")]
        prices: Option<PathBuf>,
        /// Output format.
        #[arg(short, long, value_enum, default_value_t = Format::Text)]
        output: Format,
    },
    /// Run the operator: reconcile ServerlessServices until SIGTERM.
    Controller(crate::controller::ControllerArgs),
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
        .map(|s| crate::validate::json_printable(&s).into_owned() + "\n")
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

// ---- Reading the files named with -f, one at a time (crate::input reads them) ----------------

/// Refuses standard input named more than once (among `-f` and `--prices`): it can be read only
/// once. A usage error, exit 2, as clap's.
fn stdin_once(files: &[PathBuf], prices: Option<&Path>) -> Option<ExitCode> {
    input::stdin_twice(files, prices).then(|| {
        eprintln!("ferry: standard input (-) is named more than once; it can be read only once");
        ExitCode::from(2)
    })
}

/// Reads each file `files` name, one at a time, within `reader`'s bounds, and hands it to
/// `each` (its text, or why it could not be read) before reading the next. Notes on what is
/// skipped go to standard error as they come; past the total bound nothing more is read.
/// Whether any file was named (when none was: the error saying where ferry looked, printed).
fn read_each(
    files: &[PathBuf],
    reader: &mut Reader,
    mut each: impl FnMut(&Input, Result<String, Error>),
) -> bool {
    let (mut named, mut empty) = (false, Vec::new());
    for entry in input::expand(files) {
        match entry {
            Entry::Note(note) => eprintln!("ferry: {note}"),
            Entry::Empty(dir) => empty.push(dir),
            Entry::Failed(input, e) => {
                named = true;
                each(&input, Err(e));
            }
            Entry::Read(input) => {
                named = true;
                let text = reader.read(&input);
                each(&input, text);
                if reader.spent() {
                    break;
                }
            }
        }
    }
    if !named {
        eprintln!(
            "ferry: no manifest files found in {} (a directory's files ending .json, .yaml \
             or .yml are read, as by kubectl -f)",
            input::places(files)
        );
    }
    for dir in empty.iter().filter(|_| named) {
        eprintln!("ferry: {dir}: no manifest files found in it");
    }
    named
}

/// What the first pass over the files keeps of each for the second.
enum Kept {
    /// Nothing: a regular file is read again.
    Again,
    /// The text of what cannot be read twice (standard input, a pipe, a device).
    Text(String),
    /// Why it could not be read.
    Failed(Error),
}

/// The first pass of `validate`, `render` and `cost`: every file read once, one at a time,
/// for the ProviderConfigs among them (a service may name one from another file, given before
/// or after its own). Only those are kept, not the texts, so memory holds one file at once;
/// but what cannot be read again (standard input, a pipe, a device) is kept whole, each within
/// the per-file bound and all within the total. `None` when no file was named (said).
#[allow(clippy::type_complexity)] // one pass's two results, named by their use
fn first_pass(
    files: &[PathBuf],
    reader: &mut Reader,
) -> Option<(Vec<(Input, Kept)>, BTreeMap<String, ProviderConfig>)> {
    let (mut kept, mut configs) = (Vec::new(), BTreeMap::new());
    let named = read_each(files, reader, |input, text| {
        let keep = match text {
            Ok(text) => {
                configs.extend(render::provider_configs(std::iter::once(text.as_str())));
                if input.regular {
                    Kept::Again
                } else {
                    Kept::Text(text)
                }
            }
            Err(e) => Kept::Failed(e),
        };
        kept.push((input.clone(), keep));
    });
    named.then_some((kept, configs))
}

/// The second pass: each file's text again, one at a time (read within the per-file bound;
/// the total was spent on the first), or why it could not be read.
fn second_pass(kept: Vec<(Input, Kept)>) -> impl Iterator<Item = (Input, Result<String, Error>)> {
    let mut reader = Reader::default();
    kept.into_iter().map(move |(input, keep)| {
        let text = match keep {
            Kept::Again => reader.read(&input),
            Kept::Text(text) => Ok(text),
            Kept::Failed(e) => Err(e),
        };
        (input, text)
    })
}

fn render_files(files: &[PathBuf]) -> Result<ExitCode, Error> {
    if let Some(code) = stdin_once(files, None) {
        return Ok(code);
    }
    let registry = crate::backends::registry()?;
    let Some((kept, configs)) = first_pass(files, &mut Reader::default()) else {
        return Ok(ExitCode::FAILURE);
    };
    // Said: a file could not be read or rendered, which says why nothing was (an empty one
    // does not: where ferry looked follows).
    let (mut failed, mut rendered, mut said) = (false, false, false);
    for (input, text) in second_pass(kept) {
        let text = match text {
            Ok(text) => text,
            Err(e) => {
                eprintln!("{e}");
                (failed, said) = (true, true);
                continue;
            }
        };
        match render::provider_objects(&input.name, &text, &configs, registry) {
            Ok(yaml) => {
                rendered |= !yaml.is_empty();
                print(&yaml)?;
            }
            Err(problems) => {
                eprint!("{problems}");
                failed = true;
                said |= !text.trim().is_empty();
            }
        }
    }
    if !rendered && !said {
        eprintln!(
            "ferry: no ServerlessService or ServerlessJob found in {}: nothing to render",
            input::places(files)
        );
    }
    Ok(if failed || !rendered {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Ferry's price table, with the entries of `file` on top.
fn price_table(
    file: Option<&Path>,
    catalog: &Catalog,
    reader: &mut Reader,
) -> Result<PriceTable, Error> {
    let table = PriceTable::embedded(catalog)?;
    let Some(path) = file else {
        return Ok(table);
    };
    // Read as the manifests are: bounded, its size counted in the run's total.
    let input = Input::named(path);
    let text = reader.read(&input)?;
    let user = PriceTable::parse(&input.name, &text, catalog)?;
    // Entries no estimate can use are kept (as the operator keeps them), and said.
    for warning in cost::prices::unused(&user, &table, catalog) {
        eprintln!("ferry: warning: {warning}");
    }
    Ok(table.overlay(user))
}

fn cost_files(
    files: &[PathBuf],
    traffic: &Traffic,
    task_seconds: Option<u32>,
    prices: Option<&Path>,
    output: Format,
) -> Result<ExitCode, Error> {
    if let Some(code) = stdin_once(files, prices) {
        return Ok(code);
    }
    let catalog = crate::backends::registry()?.catalog();
    let mut reader = Reader::default();
    let prices = price_table(prices, catalog, &mut reader)?;
    let Some((kept, configs)) = first_pass(files, &mut reader) else {
        return Ok(ExitCode::FAILURE);
    };
    let mut failed = false;
    let mut costs = Vec::new();
    let mut job_costs = Vec::new();
    for (input, text) in second_pass(kept) {
        let text = match text {
            Ok(text) => text,
            Err(e) => {
                eprintln!("{e}");
                failed = true;
                continue;
            }
        };
        let (name, text) = (&input.name, &text);
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
    // A figure too large to work out exactly is an error, not an answer.
    for error in crate::cost::errors(&costs, &job_costs) {
        eprintln!("ferry: {error}");
        failed = true;
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
    if let Some(code) = stdin_once(files, None) {
        return Ok(code);
    }
    let registry = crate::backends::registry()?;
    let catalog = registry.catalog();
    let mut reports = Reports { output, count: 0 };
    // A service may name a ProviderConfig given after it: a first pass gathers them, and each
    // file is checked with them, and with the objects before it (crate::validate::Across).
    let Some((kept, configs)) = first_pass(files, &mut Reader::default()) else {
        reports.finish()?;
        return Ok(ExitCode::FAILURE);
    };
    let mut across = crate::validate::Across::default();
    // Failed: a file is invalid or unreadable. Checked: a Ferry object was among them. Said: a
    // file could not be read or parsed, which says why nothing was checked (an empty one
    // does not: "no YAML documents" is followed by where ferry looked).
    let (mut failed, mut checked, mut said) = (false, false, false);
    for (input, text) in second_pass(kept) {
        let mut report = match text {
            Ok(text) => {
                let report = validate_text(&input.name, &text, catalog);
                said |= report.error.is_some() && !text.trim().is_empty();
                report
            }
            Err(e) => {
                said = true;
                FileReport {
                    file: input.name.clone(),
                    error: Some(e.to_string()),
                    documents: Vec::new(),
                }
            }
        };
        across.check(&mut report, &configs, registry);
        failed |= report.has_errors();
        checked |= report.documents.iter().any(|d| d.outcome != "skipped");
        reports.push(&report)?;
    }
    reports.finish()?;
    if !checked && !said {
        eprintln!(
            "ferry: no ServerlessService, ServerlessJob or ProviderConfig found in {}: nothing \
             to check",
            input::places(files)
        );
    }
    Ok(if failed || !checked {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Prints validate's reports as each file is checked: text at once, JSON as one array (exactly
/// what `serde_json::to_string_pretty` prints of the whole), element by element.
struct Reports {
    output: Format,
    count: usize,
}

impl Reports {
    fn push(&mut self, report: &FileReport) -> Result<(), Error> {
        match self.output {
            Format::Text => print(&render_text(report)),
            Format::Json => {
                let body = serde_json::to_string_pretty(report)
                    .map_err(|e| Error::Render(e.to_string()))?;
                let body = crate::validate::json_printable(&body);
                let lead = if self.count == 0 { "[" } else { "," };
                self.count += 1;
                // JSON strings hold no raw newline: every line is the element's own.
                let indented: Vec<String> = body.lines().map(|l| format!("  {l}")).collect();
                print(&format!("{lead}\n{}", indented.join("\n")))
            }
        }
    }

    fn finish(self) -> Result<(), Error> {
        match (self.output, self.count) {
            (Format::Text, _) => Ok(()),
            (Format::Json, 0) => print("[]\n"),
            (Format::Json, _) => print("\n]\n"),
        }
    }
}
