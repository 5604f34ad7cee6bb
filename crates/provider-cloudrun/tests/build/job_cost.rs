//! What a ServerlessJob costs on Cloud Run, worked by hand (the arithmetic in comments): one run
//! is its tasks at the instance-based rates for as long as each runs (every Cloud Run job is
//! billed instance-based), and a month of a schedule is every run's tasks priced at once. The
//! rates are the embedded table's us-central1 (and europe-west1) instance-based entry: $0.000018
//! per vCPU-second and $0.000002 per GiB-second, with a free tier of 240,000 vCPU-s and 450,000
//! GiB-s that a job estimate does not take off.

use std::sync::Arc;

use ferry_api::ProviderConfigSpec;
use ferry_core::cost::{PriceTable, Usd};
use ferry_provider_cloudrun::CloudRun;
use ferry_testkit::builders::{self, JobCosts, says};

use crate::common::{GCP_PROD, example_provider_config};

/// Cloud Run's job estimates under its embedded price table.
fn costs() -> JobCosts {
    JobCosts::embedded(Arc::new(CloudRun))
}

fn job(container: &str, extra: &str) -> String {
    format!(
        "{{provider: cloudRun, containers: [{{name: report, image: \
         'europe-docker.pkg.dev/acme-prod/jobs/report:1.2'{container}}}]{extra}}}"
    )
}

/// The spec of the example ProviderConfig `gcp-prod` (deploy/examples/providerconfig-gcp.yaml).
fn gcp_prod() -> ProviderConfigSpec {
    builders::example_provider_config("providerconfig-gcp.yaml", GCP_PROD, Some)
}

fn usd(cents: i64) -> Usd {
    Usd::from_cents(cents)
}

#[test]
fn a_job_run_is_its_tasks_for_as_long_as_they_run_at_the_instance_based_rates() {
    let spec = job(
        ", resources: {cpu: '1', memory: 2Gi}",
        ", taskCount: 4, timeoutSeconds: 1800",
    );
    // 4 tasks x 1,800 s (the timeout) = 7,200 instance-s.
    let e = costs().estimate(&spec, None, None);
    let b = e.breakdown.as_ref().unwrap();
    // 7,200 x 1 vCPU x $0.000018 = $0.1296 ($0.13); the request-based rate ($0.000024) would
    // say $0.1728 ($0.17).
    assert_eq!(b.compute, usd(13), "{e:#?}");
    // 7,200 x 2 GiB x $0.000002 = $0.0288 ($0.03)
    assert_eq!(b.memory, usd(3));
    // A job has no idle rate and no requests, and the free tier is not taken off.
    assert_eq!(
        (b.idle_minimum, b.requests, b.free_tier),
        (usd(0), usd(0), usd(0))
    );
    // $0.13 + $0.03
    assert_eq!(e.per_run_usd, Some(usd(16)));
    assert_eq!(e.runs_per_month, None);
    assert_eq!(e.monthly_usd, None);
    assert_eq!(e.prices[0].region, "us-central1");
    assert_eq!(e.prices[0].option, "instance-based");
    assert_eq!(
        e.note,
        "4 tasks x 1 vCPU, 2Gi, 1800 s each at the instance-based rates; us-central1 prices"
    );
    assert!(
        says(&e, "always billed instance-based"),
        "{:?}",
        e.assumptions
    );
    assert!(
        says(&e, "cloud.google.com/run/pricing"),
        "{:?}",
        e.assumptions
    );
    assert!(
        says(&e, "240,000 vCPU-s and 450,000 GiB-s"),
        "{:?}",
        e.assumptions
    );
    assert!(says(&e, "not taken off"), "{:?}", e.assumptions);
    assert!(says(&e, "retries are not counted"), "{:?}", e.assumptions);

    // --task-seconds 600: 4 x 600 = 2,400 instance-s: 2,400 x $0.000018 = $0.0432 ($0.04) and
    // 2,400 x 2 x $0.000002 = $0.0096 ($0.01).
    let e = costs().estimate(&spec, Some(600), None);
    let b = e.breakdown.as_ref().unwrap();
    assert_eq!((b.compute, b.memory), (usd(4), usd(1)), "{e:#?}");
    assert_eq!(e.per_run_usd, Some(usd(5)));
}

#[test]
fn a_scheduled_job_month_prices_every_runs_tasks_at_once() {
    // No size: Cloud Run's default instance, 1 vCPU and 512 MiB; one task of 600 s (the default
    // timeout).
    let e = costs().estimate(&job("", ", schedule: '0 3 * * *'"), None, None);
    // One run: 600 x 1 x $0.000018 = $0.0108 ($0.01); 600 x 0.5 x $0.000002 = $0.0006 ($0.00).
    assert_eq!(e.per_run_usd, Some(usd(1)), "{e:#?}");
    // Daily at 03:00 over the 730 h from 2027-01-01T00:00Z: 31 runs, 31 x 600 = 18,600
    // instance-s: 18,600 x $0.000018 = $0.3348 ($0.33); 18,600 x 0.5 x $0.000002 = $0.0186
    // ($0.02): $0.35, where 31 x the rounded run would say $0.31. The free tier would cover all
    // of it (18,600 vCPU-s, 9,300 GiB-s) and is not taken off.
    assert_eq!(e.runs_per_month, Some(31));
    assert_eq!(e.monthly_usd, Some(usd(35)));
    assert!(says(&e, "1 vCPU and 512Mi"), "{:?}", e.assumptions);

    // 3 tasks of 2 vCPU and 1 GiB a run. One run: 3 x 600 = 1,800 instance-s: 1,800 x 2 x
    // $0.000018 = $0.0648 ($0.06); 1,800 x 1 x $0.000002 = $0.0036 ($0.00).
    let e = costs().estimate(
        &job(
            ", resources: {cpu: '2', memory: 1Gi}",
            ", taskCount: 3, schedule: '0 3 * * *'",
        ),
        None,
        None,
    );
    assert_eq!(e.per_run_usd, Some(usd(6)), "{e:#?}");
    // A month: 31 runs x 3 tasks = 93 tasks x 600 = 55,800 instance-s: 55,800 x 2 x $0.000018
    // = $2.0088 ($2.01); 55,800 x 1 x $0.000002 = $0.1116 ($0.11): $2.12 (31 x $0.06 = $1.86).
    assert_eq!(e.runs_per_month, Some(31));
    assert_eq!(e.monthly_usd, Some(usd(212)));
}

#[test]
fn a_job_is_priced_in_its_provider_configs_region_or_its_own() {
    let config = gcp_prod();
    assert_eq!(config.cloud_run.as_ref().unwrap().region, "europe-west1");
    assert_eq!(config.cloud_run, Some(example_provider_config()));
    // europe-west1's entry has us-central1's rates: 1 task of 1 vCPU (a job's least), 1 GiB
    // for 3,600 s: 3,600 x 1 x $0.000018 = $0.0648 ($0.06) and 3,600 x 1 x $0.000002 =
    // $0.0072 ($0.01).
    let spec = job(", resources: {cpu: '1', memory: 1Gi}", "");
    let e = costs().estimate(&spec, Some(3600), Some(&config));
    assert_eq!(e.prices[0].region, "europe-west1");
    assert_eq!(e.per_run_usd, Some(usd(7)), "{e:#?}");
    assert!(!says(&e, "no prices for"), "{:?}", e.assumptions);

    // A table whose europe-west1 instance-based rates differ ($0.00003 and $0.00001, made up
    // for the test): 3,600 x 1 x $0.00003 = $0.108 ($0.11) and 3,600 x 1 x $0.00001 = $0.036
    // ($0.04). us-central1 keeps the embedded rates ($0.07 above).
    let user = PriceTable::parse(
        "user.yaml",
        "cloudRun:\n- {region: europe-west1, option: instance-based, vcpuSecond: 0.00003, \
         gibSecond: 0.00001, source: our invoice, read: 2026-01-02}\n",
        costs().catalog(),
    )
    .unwrap();
    let prices = costs().prices().clone().overlay(user);
    let e = costs().estimate_in(&prices, &spec, Some(3600), Some(&config));
    assert_eq!(e.per_run_usd, Some(usd(15)), "{e:#?}");
    assert_eq!(e.prices[0].source, "our invoice");
    let e = costs().estimate_in(&prices, &spec, Some(3600), None);
    assert_eq!(e.per_run_usd, Some(usd(7)), "{e:#?}");
    // The spec's own cloudRun.region wins over the ProviderConfig's.
    let own = job(
        ", resources: {cpu: '1', memory: 1Gi}",
        ", cloudRun: {region: us-central1}",
    );
    let e = costs().estimate_in(&prices, &own, Some(3600), Some(&config));
    assert_eq!(e.prices[0].region, "us-central1");
    assert_eq!(e.per_run_usd, Some(usd(7)), "{e:#?}");

    // A region the table lacks: its first region's rates, saying so.
    let mut elsewhere = config.clone();
    elsewhere.cloud_run.as_mut().unwrap().region = "asia-northeast1".into();
    let e = costs().estimate(&spec, Some(3600), Some(&elsewhere));
    assert_eq!(e.prices[0].region, "us-central1");
    assert_eq!(e.per_run_usd, Some(usd(7)), "{e:#?}");
    assert!(
        says(&e, "no prices for asia-northeast1: us-central1's are used"),
        "{:?}",
        e.assumptions
    );
}

#[test]
fn a_job_with_a_gpu_or_without_instance_based_prices_is_not_priced() {
    let e = costs().estimate(
        &job(
            ", resources: {cpu: '4', memory: 16Gi, gpu: {count: 1, type: nvidia-l4}}",
            "",
        ),
        None,
        None,
    );
    assert_eq!((e.per_run_usd, e.monthly_usd), (None, None));
    let why = e.unavailable.unwrap();
    assert!(why.contains("no Cloud Run GPU prices"), "{why}");
    assert!(why.contains("whole life"), "{why}");

    // A table with request-based prices only: a job is never billed at them.
    let only_request_based = PriceTable::parse(
        "user.yaml",
        "cloudRun:\n- {region: us-central1, option: request-based, vcpuSecond: 0.000024, \
         gibSecond: 0.0000025, perMillionRequests: 0.4, idleVcpuSecond: 0.0000025, \
         idleGibSecond: 0.0000025, source: https://cloud.google.com/run/pricing, \
         read: 2026-11-24}\n",
        costs().catalog(),
    )
    .unwrap();
    let e = costs().estimate_in(&only_request_based, &job("", ""), None, None);
    assert_eq!(e.per_run_usd, None, "{e:#?}");
    let why = e.unavailable.unwrap();
    assert!(why.contains("no Cloud Run instance-based prices"), "{why}");
    assert!(why.contains("bills every job at them"), "{why}");
}

/// Issue 22: a job's size Cloud Run does not sell (a job's instance below 1 vCPU, 3 vCPU) is not
/// priced; the estimate says what `ferry validate` says, field and message.
#[test]
fn a_job_size_cloud_run_does_not_sell_is_not_priced_with_validates_reason() {
    for (resources, says) in [
        (
            ", resources: {cpu: 500m, memory: 1Gi}",
            "a Cloud Run job's instance has at least 1 vCPU",
        ),
        (
            ", resources: {cpu: '3', memory: 2Gi}",
            "Cloud Run sells 0.08 to 1 vCPU in steps of 0.001, or 1, 2, 4, 6 or 8 vCPU; got 3",
        ),
    ] {
        let e = costs().estimate(&job(resources, ""), Some(3600), None);
        assert_eq!((e.per_run_usd, e.monthly_usd), (None, None), "{e:#?}");
        assert_eq!(e.refused.len(), 1, "{e:#?}");
        assert_eq!(e.refused[0].field, "spec.containers[0].resources.cpu");
        assert!(e.refused[0].message.contains(says), "{e:#?}");
        let why = e.unavailable.unwrap();
        assert!(
            why.starts_with("not sold on Cloud Run: spec.containers[0].resources.cpu: "),
            "{why}"
        );
    }
}
