//! `rbac-check`: the least-privilege check of Ferry's RBAC. Reads the audit logs the e2e suite
//! left (`FERRY_E2E_AUDIT_DIR`) and the RBAC objects of the install manifests, then fails when
//! the operator made a call the manifests do not allow, or when the manifests grant something
//! no call needed.
//!
//! Each e2e operator runs as `system:serviceaccount:NAMESPACE:ferry` with its own namespace;
//! its calls are checked against the manifests as installed into that namespace.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use kube_standin::audit;
use kube_standin::rbac::{Coverage, Policy};

/// Check recorded API calls against RBAC manifests.
#[derive(Debug, Parser)]
#[command(name = "rbac-check", about)]
struct Args {
    /// Manifests holding the RBAC objects (e.g. deploy/ferry.yaml).
    #[arg(long, value_name = "FILE")]
    manifests: PathBuf,
    /// An audit log, or a directory of `.jsonl` audit logs.
    #[arg(long, value_name = "PATH")]
    audit: PathBuf,
    /// The service account the manifests bind, as NAMESPACE/NAME.
    #[arg(long, default_value = "ferry-system/ferry")]
    service_account: String,
}

fn main() -> ExitCode {
    match run(&Args::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("rbac-check: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> Result<bool, String> {
    let (home, account) = args.service_account.split_once('/').ok_or_else(|| {
        format!(
            "--service-account {}: expected NAMESPACE/NAME",
            args.service_account
        )
    })?;
    let text = std::fs::read_to_string(&args.manifests)
        .map_err(|e| format!("{}: {e}", args.manifests.display()))?;
    let documents: Vec<serde_json::Value> = serde_saphyr::from_multiple(&text)
        .map_err(|e| format!("{}: {e}", args.manifests.display()))?;
    let policy = Policy::from_manifests(&documents).map_err(|e| e.to_string())?;
    let records = audit::read(&args.audit).map_err(|e| format!("{}: {e}", args.audit.display()))?;

    let mut coverage = Coverage::of(&policy);
    let mut namespaces = BTreeSet::new();
    for record in &records {
        let Some((namespace, name)) = record
            .attributes
            .user
            .strip_prefix("system:serviceaccount:")
            .and_then(|rest| rest.split_once(':'))
        else {
            continue;
        };
        if name != account {
            continue;
        }
        namespaces.insert(namespace.to_owned());
        let placed = policy.moved(home, namespace);
        let from = format!("Role {namespace}/");
        let to = format!("Role {home}/");
        coverage.check(&placed, &record.attributes, &|role| {
            role.replacen(&from, &to, 1)
        });
    }
    if coverage.calls == 0 {
        return Err(format!(
            "no calls by service account {account} in {}: did the e2e suite run with FERRY_E2E_AUDIT_DIR set?",
            args.audit.display()
        ));
    }

    println!(
        "{} calls by {} operator instances (service account {account}), against {}:",
        coverage.calls,
        namespaces.len(),
        args.manifests.display()
    );
    for (grant, n) in &coverage.used {
        println!("  {n:>6}  {grant}");
    }
    let unused = coverage.unused();
    for grant in &unused {
        eprintln!("granted but never used: {grant}");
    }
    for (call, n) in &coverage.forbidden {
        eprintln!("not allowed ({n} calls): {call}");
    }
    Ok(unused.is_empty() && coverage.forbidden.is_empty())
}
