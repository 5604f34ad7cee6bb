//! What a ServerlessJob costs on Container Apps, worked by hand (the arithmetic in comments):
//! one run is its replicas at the Consumption plan's active rates for as long as each runs, and
//! a month of a schedule is every run's replicas priced at once. The rates are the embedded
//! table's eastus (and westeurope) entry: $0.000024 per vCPU-second and $0.000003 per
//! GiB-second, with a free grant of 180,000 vCPU-s and 360,000 GiB-s that a job estimate does
//! not take off.

use ferry_core::cost::Usd;
use ferry_provider_containerapps::ContainerApps;
use std::sync::Arc;

use ferry_testkit::builders::{JobCosts, says};

use crate::common::example;

/// Container Apps' job estimates under its embedded price table.
fn costs() -> JobCosts {
    JobCosts::embedded(Arc::new(ContainerApps))
}

fn job(container: &str, extra: &str) -> String {
    format!(
        "{{provider: containerApps, containers: [{{name: report, image: \
         'acmeprod.azurecr.io/report:1.2'{container}}}]{extra}}}"
    )
}

fn usd(cents: i64) -> Usd {
    Usd::from_cents(cents)
}

#[test]
fn a_job_run_is_its_replicas_for_as_long_as_they_run_at_the_active_rates() {
    let spec = job(
        ", resources: {cpu: '1', memory: 2Gi}",
        ", taskCount: 4, timeoutSeconds: 1800",
    );
    // 4 replicas x 1,800 s (the timeout) = 7,200 replica-s.
    let e = costs().estimate(&spec, None, None);
    let b = e.breakdown.as_ref().unwrap();
    // 7,200 x 1 vCPU x $0.000024 = $0.1728
    assert_eq!(b.compute, usd(17), "{e:#?}");
    // 7,200 x 2 GiB x $0.000003 = $0.0432
    assert_eq!(b.memory, usd(4));
    // Jobs have no idle rate and no requests, and the free grant is not taken off.
    assert_eq!(
        (b.idle_minimum, b.requests, b.free_tier),
        (usd(0), usd(0), usd(0))
    );
    // $0.17 + $0.04
    assert_eq!(e.per_run_usd, Some(usd(21)));
    assert_eq!(e.runs_per_month, None);
    assert_eq!(e.monthly_usd, None);
    assert_eq!(e.prices[0].region, "eastus");
    assert_eq!(
        e.note,
        "4 replicas x 1 vCPU, 2 GiB, 1800 s each at the active rates; eastus prices"
    );
    assert!(
        says(&e, "180,000 vCPU-s and 360,000 GiB-s"),
        "{:?}",
        e.assumptions
    );
    assert!(says(&e, "not taken off"), "{:?}", e.assumptions);
    assert!(says(&e, "retries are not counted"), "{:?}", e.assumptions);

    // --task-seconds 600: 4 x 600 = 2,400 replica-s: 2,400 x $0.000024 = $0.0576 ($0.06) and
    // 2,400 x 2 x $0.000003 = $0.0144 ($0.01).
    let e = costs().estimate(&spec, Some(600), None);
    let b = e.breakdown.as_ref().unwrap();
    assert_eq!((b.compute, b.memory), (usd(6), usd(1)), "{e:#?}");
    assert_eq!(e.per_run_usd, Some(usd(7)));
}

#[test]
fn a_scheduled_job_month_prices_every_runs_replicas_at_once() {
    // No size: Container Apps' default replica, 0.5 vCPU and 1 GiB; one replica of 600 s (the
    // default timeout).
    let e = costs().estimate(&job("", ", schedule: '0 3 * * *'"), None, None);
    // One run: 600 x 0.5 x $0.000024 = $0.0072 ($0.01); 600 x 1 x $0.000003 = $0.0018 ($0.00).
    assert_eq!(e.per_run_usd, Some(usd(1)), "{e:#?}");
    // Daily at 03:00 over the 730 h from 2027-01-01T00:00Z: 31 runs, 31 x 600 = 18,600
    // replica-s: 18,600 x 0.5 x $0.000024 = $0.2232 ($0.22); 18,600 x 1 x $0.000003 = $0.0558
    // ($0.06): $0.28, where 31 x the rounded run would say $0.31. The free grant would cover
    // all of it (9,300 vCPU-s, 18,600 GiB-s) and is not taken off.
    assert_eq!(e.runs_per_month, Some(31));
    assert_eq!(e.monthly_usd, Some(usd(28)));
    assert!(says(&e, "0.5 vCPU without either"), "{:?}", e.assumptions);
}

#[test]
fn a_job_is_priced_in_its_provider_configs_location() {
    let config = example().1.spec;
    // The example's location is westeurope, whose entry has eastus's rates: 1 replica of
    // 0.25 vCPU, 0.5 GiB for 3,600 s: 3,600 x 0.25 x $0.000024 = $0.0216 ($0.02) and 3,600 x
    // 0.5 x $0.000003 = $0.0054 ($0.01).
    let spec = job(", resources: {cpu: 250m, memory: 0.5Gi}", "");
    let e = costs().estimate(&spec, Some(3600), Some(&config));
    assert_eq!(e.prices[0].region, "westeurope");
    assert_eq!(e.per_run_usd, Some(usd(3)), "{e:#?}");
    assert!(!says(&e, "no prices for"), "{:?}", e.assumptions);

    let mut elsewhere = config.clone();
    elsewhere.azure.as_mut().unwrap().location = "japaneast".into();
    let e = costs().estimate(&spec, Some(3600), Some(&elsewhere));
    assert_eq!(e.prices[0].region, "eastus");
    assert!(says(&e, "no prices for japaneast"), "{:?}", e.assumptions);
}

#[test]
fn a_job_on_a_dedicated_profile_or_with_a_gpu_is_not_priced() {
    let e = costs().estimate(
        &job(
            ", resources: {cpu: '3', memory: 5Gi}",
            ", containerApps: {workloadProfile: D4}",
        ),
        None,
        None,
    );
    assert_eq!(e.per_run_usd, None);
    let why = e.unavailable.unwrap();
    assert!(
        why.contains("workload profile D4 is a Dedicated one"),
        "{why}"
    );

    // The Consumption profile named is the default one, priced as above.
    let e = costs().estimate(
        &job("", ", containerApps: {workloadProfile: Consumption}"),
        Some(600),
        None,
    );
    assert_eq!(e.per_run_usd, Some(usd(1)), "{e:#?}");

    let e = costs().estimate(&job(", resources: {gpu: {count: 1}}", ""), None, None);
    assert!(e.unavailable.unwrap().contains("GPUs"));
}
