//! Container Instances cost figures, worked by hand (the arithmetic in comments), and the
//! price table's `containerInstances` section checked.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use common::{serverless_service, simple};
use ferry_core::backend::{Catalog, EstimateInput, Rules};
use ferry_core::cost::{Breakdown, Figure, PriceTable, Priced, Shape, Traffic, Usd};
use ferry_provider_containerinstances::ContainerInstances;

fn catalog() -> Catalog {
    ferry_testkit::builders::catalog_of(&(Arc::new(ContainerInstances) as Arc<dyn Rules>))
}

fn estimate(spec: &str, region: Option<&str>) -> Priced {
    let svc = serverless_service(spec);
    let prices = PriceTable::embedded(&catalog()).unwrap();
    ContainerInstances.estimate(&EstimateInput {
        spec: &svc.spec,
        shape: &Shape::of(&svc.spec).unwrap(),
        traffic: &Traffic::default(),
        prices: &prices,
        region,
    })
}

fn breakdown(priced: &Priced) -> (Usd, Breakdown) {
    match &priced.figure {
        Figure::Priced {
            monthly_usd,
            breakdown,
        } => (*monthly_usd, breakdown.clone()),
        Figure::Unavailable { unavailable } => panic!("not priced: {unavailable}"),
    }
}

#[test]
fn a_default_linux_group_runs_all_month() {
    // 1 vCPU and 1.5 GB (the defaults), 730 h = 2,628,000 s, East US:
    // vCPU   2,628,000 x 1   x 0.0000113 = 29.6964 -> 29.70
    // memory 2,628,000 x 1.5 x 0.0000012 =  4.7304 ->  4.73
    let priced = estimate(&simple("", ""), Some("eastus"));
    let (total, lines) = breakdown(&priced);
    assert_eq!(lines.compute, Usd::from_cents(2970));
    assert_eq!(lines.memory, Usd::from_cents(473));
    assert_eq!(total, Usd::from_cents(3443));
    assert_eq!(
        priced.note,
        "1 container group x 1 vCPU, 1536Mi, 730 h, Linux, eastus prices"
    );
    assert!(
        priced
            .assumptions
            .iter()
            .any(|a| a.contains("Container Instances' defaults"))
    );
}

#[test]
fn windows_adds_its_software_charge_per_vcpu() {
    // 2 vCPU, 4 GiB, Windows, East US:
    // vCPU   2,628,000 x 2 x (0.0000113 + 0.000012) = 122.4648 -> 122.46
    // memory 2,628,000 x 4 x 0.0000012             =  12.6144 ->  12.61
    let priced = estimate(
        &simple(
            "resources: {cpu: '2', memory: 4Gi}",
            "containerInstances: {osType: Windows}",
        ),
        Some("eastus"),
    );
    let (total, lines) = breakdown(&priced);
    assert_eq!(lines.compute, Usd::from_cents(12246));
    assert_eq!(lines.memory, Usd::from_cents(1261));
    assert_eq!(total, Usd::from_cents(13507));
}

#[test]
fn spot_sums_the_containers_at_spot_rates_in_the_first_region_when_asked_for_another() {
    // Two containers: 1.5 + 0.5 vCPU, 3 + 1 GiB; Spot in East US (the table has no westeurope):
    // vCPU   2,628,000 x 2 x 0.00000339 = 17.81784 -> 17.82
    // memory 2,628,000 x 4 x 0.00000036 =  3.78432 ->  3.78
    let spec = simple(
        "resources: {cpu: 1500m, memory: 3Gi}",
        "containerInstances: {priority: Spot}",
    )
    .replace(
        "}],",
        "}, {name: side, image: 'busybox:1', resources: {cpu: 500m, memory: 1Gi}}],",
    );
    let priced = estimate(&spec, Some("westeurope"));
    let (total, lines) = breakdown(&priced);
    assert_eq!(lines.compute, Usd::from_cents(1782));
    assert_eq!(lines.memory, Usd::from_cents(378));
    assert_eq!(total, Usd::from_cents(2160));
    assert!(
        priced
            .assumptions
            .iter()
            .any(|a| a.starts_with("the price table has no prices for westeurope")),
        "{:?}",
        priced.assumptions
    );
}

#[test]
fn gpus_are_not_priced() {
    let priced = estimate(&simple("resources: {gpu: {count: 1}}", ""), None);
    assert!(matches!(priced.figure, Figure::Unavailable { .. }));
}

#[test]
fn the_shipped_prices_pass_their_checks_and_bad_ones_do_not() {
    PriceTable::embedded(&catalog()).unwrap();
    let bad = "containerInstances:\n\
               - {region: eastus, option: linux, vcpuSecond: 0.00001, source: x, read: 2026-11-24}\n\
               - {region: eastus, option: spot, vcpuSecond: 1, gbSecond: 1, softwareVcpuSecond: 1, source: x, read: 2026-11-24}\n";
    let error = PriceTable::parse("test", bad, &catalog())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("containerInstances[0].gbSecond: required for option linux"),
        "{error}"
    );
    assert!(
        error.contains(
            "containerInstances[1].softwareVcpuSecond: does not apply to option spot; it takes \
             vcpuSecond, gbSecond"
        ),
        "{error}"
    );
}
