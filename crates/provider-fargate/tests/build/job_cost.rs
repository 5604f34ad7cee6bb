//! What a ServerlessJob costs on Fargate, worked by hand (the arithmetic in comments): one run
//! is its tasks at the task size its task definition gets, each billed per second for as long
//! as it runs and at least a minute (aws.amazon.com/fargate/pricing), and a month of a schedule
//! is every run's tasks priced at once. The rates are the embedded table's us-east-1 entries:
//! Linux/x86 $0.04048 per vCPU-hour and $0.004445 per GB-hour, Linux/ARM64 $0.03238 and
//! $0.00356, ephemeral storage above 20 GB $0.000111 per GB-hour, Fargate Spot 70 % off vCPU
//! and memory.

use std::sync::Arc;

use ferry_api::ProviderConfigSpec;
use ferry_core::cost::{PriceTable, Usd};
use ferry_provider_fargate::Fargate;
use ferry_provider_fargate::job::build as job;
use ferry_testkit::builders::{self, JobCosts, desired_job, says};

use crate::common::{AWS_PROD, example_provider_config};

/// Fargate's job estimates under its embedded price table.
fn costs() -> JobCosts {
    JobCosts::embedded(Arc::new(Fargate))
}

/// A job of one container `report` with the container fields `container` and the spec fields
/// `extra`.
fn job_spec(container: &str, extra: &str) -> String {
    format!(
        "{{provider: fargate, containers: [{{name: report, image: \
         'ghcr.io/acme/report:1.2'{container}}}]{extra}}}"
    )
}

/// The spec of the example ProviderConfig `aws-prod` (deploy/examples/providerconfig-aws.yaml).
fn aws_prod() -> ProviderConfigSpec {
    builders::example_provider_config("providerconfig-aws.yaml", AWS_PROD, Some)
}

fn usd(cents: i64) -> Usd {
    Usd::from_cents(cents)
}

#[test]
fn a_run_is_its_tasks_at_the_task_definitions_size_for_as_long_as_they_run() {
    // Two containers of 1 vCPU and 2 GiB: a task of 2 vCPU and 4 GiB, the size the job's task
    // definition gets.
    let spec = "{provider: fargate, containers: [\
        {name: report, image: 'ghcr.io/acme/report:1.2', resources: {cpu: '1', memory: 2Gi}}, \
        {name: log, image: 'ghcr.io/acme/log:1', resources: {cpu: '1', memory: 2Gi}}], \
        taskCount: 4, timeoutSeconds: 3600}";
    let want = desired_job(spec, &Fargate);
    let td = job::requests(&want, &example_provider_config(), AWS_PROD)
        .unwrap()
        .task_definition;
    assert_eq!((td.cpu.as_str(), td.memory.as_str()), ("2048", "4096"));
    // 4 tasks x 3,600 s (the timeout) = 4 task-hours.
    let e = costs().estimate(spec, None, None);
    let b = e.breakdown.as_ref().unwrap();
    // 4 x 2 vCPU x $0.04048 = $0.32384 ($0.32)
    assert_eq!(b.compute, usd(32), "{e:#?}");
    // 4 x 4 GB x $0.004445 = $0.07112 ($0.07)
    assert_eq!(b.memory, usd(7));
    assert_eq!(
        (b.storage, b.idle_minimum, b.requests, b.free_tier),
        (usd(0), usd(0), usd(0), usd(0))
    );
    assert_eq!(e.per_run_usd, Some(usd(39)));
    assert_eq!((e.runs_per_month, e.monthly_usd), (None, None));
    assert_eq!(e.prices[0].region, "us-east-1");
    assert_eq!(e.prices[0].option, "linux-x86");
    assert_eq!(
        e.note,
        "4 tasks x 2 vCPU, 4Gi, 3600 s each, Linux/x86, us-east-1 prices"
    );
    assert!(
        says(&e, "from the start of its image pull until it stops"),
        "{:?}",
        e.assumptions
    );
    assert!(
        says(&e, "aws.amazon.com/fargate/pricing"),
        "{:?}",
        e.assumptions
    );
    assert!(says(&e, "retries are not counted"), "{:?}", e.assumptions);
    assert!(!says(&e, "at least 60 s"), "{:?}", e.assumptions);

    // --task-seconds 600: 4 x 600 s = 2/3 task-hour: 2/3 x 2 x $0.04048 = $0.053973 ($0.05) and
    // 2/3 x 4 x $0.004445 = $0.011853 ($0.01).
    let e = costs().estimate(spec, Some(600), None);
    let b = e.breakdown.as_ref().unwrap();
    assert_eq!((b.compute, b.memory), (usd(5), usd(1)), "{e:#?}");
    assert_eq!(e.per_run_usd, Some(usd(6)));
}

#[test]
fn each_task_is_billed_a_minute_at_least() {
    // 100 tasks of 16 vCPU and 120 GiB that run 10 s each are billed 60 s each: 100 x 60 s =
    // 6,000 s = 5/3 task-hour.
    let spec = job_spec(
        ", resources: {cpu: '16', memory: 120Gi}",
        ", taskCount: 100",
    );
    let e = costs().estimate(&spec, Some(10), None);
    let b = e.breakdown.as_ref().unwrap();
    // 5/3 x 16 x $0.04048 = $1.079467 ($1.08); 5/3 x 120 x $0.004445 = $0.889 ($0.89). Billed
    // for the 10 s alone it would be 1,000 s: $0.18 and $0.15.
    assert_eq!((b.compute, b.memory), (usd(108), usd(89)), "{e:#?}");
    assert_eq!(e.per_run_usd, Some(usd(197)));
    assert_eq!(
        e.note,
        "100 tasks x 16 vCPU, 120Gi, 60 s each, Linux/x86, us-east-1 prices"
    );
    assert!(
        says(&e, "at least 60 s: 10 s counts as 60"),
        "{:?}",
        e.assumptions
    );
    // A minute exactly is billed as it is, without the assumption: the same figure.
    let e = costs().estimate(&spec, Some(60), None);
    assert_eq!(e.per_run_usd, Some(usd(197)), "{e:#?}");
    assert!(!says(&e, "at least 60 s"), "{:?}", e.assumptions);
}

#[test]
fn a_scheduled_month_prices_every_runs_tasks_at_once() {
    // No size: Fargate's smallest task, 0.25 vCPU and 512 MiB; one task of 600 s (the default
    // timeout) a run. One run is 1/6 task-hour: 1/6 x 0.25 x $0.04048 = $0.0016867 ($0.00);
    // 1/6 x 0.5 x $0.004445 = $0.00037 ($0.00).
    let e = costs().estimate(&job_spec("", ", schedule: '0 3 * * *'"), None, None);
    assert_eq!(e.per_run_usd, Some(usd(0)), "{e:#?}");
    assert!(
        says(&e, "Fargate's smallest task, 0.25 vCPU, 512Mi"),
        "{:?}",
        e.assumptions
    );
    // Daily at 03:00 over the 730 h from 2027-01-01T00:00Z: 31 runs, 31 x 600 s = 18,600 s =
    // 31/6 task-hours: 31/6 x 0.25 x $0.04048 = $0.052287 ($0.05); 31/6 x 0.5 x $0.004445 =
    // $0.011483 ($0.01): $0.06, where 31 x the rounded run would say $0.00.
    assert_eq!(e.runs_per_month, Some(31));
    assert_eq!(e.monthly_usd, Some(usd(6)));
}

#[test]
fn arm_and_spot_take_their_prices_and_storage_above_20_gb_is_billed_undiscounted() {
    // 10 tasks of 1 vCPU and 2 GiB for 3,600 s: 10 task-hours.
    let size = ", resources: {cpu: '1', memory: 2Gi}";
    // x86: 10 x 1 x $0.04048 = $0.4048 ($0.40); 10 x 2 x $0.004445 = $0.0889 ($0.09).
    let x86 = costs().estimate(&job_spec(size, ", taskCount: 10"), Some(3600), None);
    assert_eq!(x86.per_run_usd, Some(usd(49)), "{x86:#?}");
    // ARM64: 10 x 1 x $0.03238 = $0.3238 ($0.32); 10 x 2 x $0.00356 = $0.0712 ($0.07).
    let arm = costs().estimate(
        &job_spec(size, ", taskCount: 10, fargate: {cpuArchitecture: ARM64}"),
        Some(3600),
        None,
    );
    let b = arm.breakdown.as_ref().unwrap();
    assert_eq!((b.compute, b.memory), (usd(32), usd(7)), "{arm:#?}");
    assert_eq!(arm.per_run_usd, Some(usd(39)));
    assert_eq!(arm.prices[0].option, "linux-arm");
    assert!(arm.note.contains("Linux/ARM64"), "{}", arm.note);

    // Spot, with 30 GiB of ephemeral storage (10 GB above the included 20): vCPU and memory at
    // 30 % of x86's: 10 x 1 x $0.04048 x 0.3 = $0.12144 ($0.12); 10 x 2 x $0.004445 x 0.3 =
    // $0.02667 ($0.03); storage undiscounted: 10 h x 10 GB x $0.000111 = $0.0111 ($0.01).
    let spot = costs().estimate(
        &job_spec(
            ", resources: {cpu: '1', memory: 2Gi, ephemeralStorage: 30Gi}",
            ", taskCount: 10, fargate: {capacityProvider: FARGATE_SPOT}",
        ),
        Some(3600),
        None,
    );
    let b = spot.breakdown.as_ref().unwrap();
    assert_eq!(
        (b.compute, b.memory, b.storage),
        (usd(12), usd(3), usd(1)),
        "{spot:#?}"
    );
    assert_eq!(spot.per_run_usd, Some(usd(16)));
    assert_eq!(
        spot.prices
            .iter()
            .map(|p| p.option.as_str())
            .collect::<Vec<_>>(),
        ["linux-x86", "spot"]
    );
    assert_eq!(
        spot.note,
        "10 tasks x 1 vCPU, 2Gi + 10 GB storage, 3600 s each, Linux/x86, Spot 70% off \
         (varies), us-east-1 prices"
    );
    assert!(says(&spot, "not storage"), "{:?}", spot.assumptions);
}

#[test]
fn a_run_is_priced_in_its_provider_configs_region() {
    // 10 tasks of 1 vCPU and 2 GiB for 3,600 s: 10 task-hours.
    let spec = job_spec(", resources: {cpu: '1', memory: 2Gi}", ", taskCount: 10");
    let mut config = aws_prod();
    assert_eq!(config.fargate.as_ref().unwrap().region, "us-east-1");
    config.fargate.as_mut().unwrap().region = "eu-west-1".into();
    // The embedded table has no eu-west-1: us-east-1's rates, saying so ($0.49 as above).
    let e = costs().estimate(&spec, Some(3600), Some(&config));
    assert_eq!(e.prices[0].region, "us-east-1");
    assert_eq!(e.per_run_usd, Some(usd(49)), "{e:#?}");
    assert!(
        says(&e, "no prices for eu-west-1: us-east-1's are used"),
        "{:?}",
        e.assumptions
    );

    // A table with eu-west-1 rates of its own ($0.05 per vCPU-hour and $0.005 per GB-hour,
    // made up for the test): 10 x 1 x $0.05 = $0.50 and 10 x 2 x $0.005 = $0.10.
    let user = PriceTable::parse(
        "user.yaml",
        "fargate:\n- {region: eu-west-1, option: linux-x86, vcpuHour: 0.05, gbHour: 0.005, \
         source: our invoice, read: 2026-01-02}\n",
        costs().catalog(),
    )
    .unwrap();
    let prices = costs().prices().clone().overlay(user);
    let e = costs().estimate_in(&prices, &spec, Some(3600), Some(&config));
    assert_eq!(e.prices[0].region, "eu-west-1");
    assert_eq!(e.prices[0].source, "our invoice");
    assert_eq!(e.per_run_usd, Some(usd(60)), "{e:#?}");
    assert!(e.note.ends_with("eu-west-1 prices"), "{}", e.note);
    assert!(!says(&e, "no prices for"), "{:?}", e.assumptions);
    // Without a ProviderConfig, the table's first region, us-east-1.
    let e = costs().estimate_in(&prices, &spec, Some(3600), None);
    assert_eq!(e.prices[0].region, "us-east-1");
    assert_eq!(e.per_run_usd, Some(usd(49)), "{e:#?}");
}

#[test]
fn a_run_fargate_cannot_price_says_why() {
    let gpu = costs().estimate(
        &job_spec(", resources: {cpu: '4', memory: 16Gi, gpu: {count: 1}}", ""),
        None,
        None,
    );
    assert_eq!((gpu.per_run_usd, gpu.monthly_usd), (None, None));
    assert_eq!(gpu.unavailable.as_deref(), Some("Fargate has no GPUs"));
    // Windows: the embedded table has no Windows prices.
    let windows = costs().estimate(
        &job_spec(
            ", resources: {cpu: '1', memory: 2Gi}",
            ", fargate: {operatingSystemFamily: WINDOWS_SERVER_2022_CORE}",
        ),
        None,
        None,
    );
    let why = windows.unavailable.unwrap();
    assert!(why.contains("no Fargate windows-x86 prices"), "{why}");
}
