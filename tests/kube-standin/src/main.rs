//! `kube-standin`: the test API server as a process, for manual use and benchmarks.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use kube_standin::{Config, StandIn};

/// Serve a Kubernetes API stand-in on 127.0.0.1 until interrupted.
#[derive(Debug, Parser)]
#[command(name = "kube-standin", version, about)]
struct Args {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Directories of CRD YAML files to serve from the start.
    #[arg(long = "crds", value_name = "DIR")]
    crds: Vec<PathBuf>,
    /// Write a kubeconfig for the server here.
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// Milliseconds between watch bookmarks.
    #[arg(long, default_value_t = 1000)]
    bookmark_interval_ms: u64,
    /// Append every request's authorization attributes (user, verb, resource...) to this file
    /// as JSON lines.
    #[arg(long, value_name = "FILE")]
    audit_log: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let mut config = Config {
        port: args.port,
        bookmark_interval: Duration::from_millis(args.bookmark_interval_ms),
        audit_log: args.audit_log.clone(),
        ..Config::default()
    };
    for dir in &args.crds {
        config = match config.with_crds_from(dir) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("kube-standin: {e}");
                return ExitCode::FAILURE;
            }
        };
    }
    let standin = match StandIn::start(config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kube-standin: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(path) = &args.kubeconfig
        && let Err(e) = standin.write_kubeconfig(path)
    {
        eprintln!("kube-standin: {}: {e}", path.display());
        return ExitCode::FAILURE;
    }
    println!("kube-standin listening on {}", standin.url());
    let _ = tokio::signal::ctrl_c().await;
    ExitCode::SUCCESS
}
