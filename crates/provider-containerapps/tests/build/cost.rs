//! Container Apps cost figures, worked by hand (the arithmetic in comments), and the price
//! table's `containerApps` section checked.

use std::sync::Arc;

use ferry_core::backend::{Catalog, EstimateInput, Rules};
use ferry_core::cost::{Breakdown, Figure, PriceTable, Priced, Shape, Traffic, Usd};
use ferry_provider_containerapps::ContainerApps;

use crate::common::{serverless_service, simple};

pub(crate) fn catalog() -> Catalog {
    ferry_testkit::builders::catalog_of(&(Arc::new(ContainerApps) as Arc<dyn Rules>))
}

fn estimate(spec: &str, traffic: &Traffic, region: Option<&str>) -> Priced {
    let svc = serverless_service(spec);
    let prices = PriceTable::embedded(&catalog()).unwrap();
    let shape = Shape::of(&svc.spec).unwrap();
    ContainerApps.estimate(&EstimateInput {
        spec: &svc.spec,
        shape: &shape,
        traffic,
        prices: &prices,
        region,
    })
}

fn breakdown(priced: &Priced) -> &Breakdown {
    match &priced.figure {
        Figure::Priced { breakdown, .. } => breakdown,
        Figure::Unavailable { unavailable } => panic!("{unavailable}"),
    }
}

fn usd(cents: i64) -> Usd {
    Usd::from_cents(cents)
}

#[test]
fn the_embedded_prices_are_a_valid_section() {
    PriceTable::embedded(&catalog()).unwrap();
    let bad = "containerApps:\n- {region: eastus, option: consumption, vcpuSecond: -1, \
               source: x, read: 2026-12-07}\n";
    let error = PriceTable::parse("test", bad, &catalog())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("containerApps[0].vcpuSecond: must be a number of 0 or more"),
        "{error}"
    );
    assert!(
        error.contains("containerApps[0].gibSecond: required for option consumption"),
        "{error}"
    );
}

#[test]
fn requests_scale_from_zero_at_active_rates_with_the_free_grant_off() {
    // 10,000,000 requests x 100 ms = 1,000,000 request-s; about 0.38 in flight on average,
    // so one request per busy replica: 1,000,000 busy replica-s of 0.5 vCPU and 1 GiB.
    let priced = estimate(&simple("", ""), &Traffic::default(), None);
    let b = breakdown(&priced);
    // 1,000,000 x 0.5 vCPU x $0.000024 = $12.00
    assert_eq!(b.compute, usd(1200));
    // 1,000,000 x 1 GiB x $0.000003 = $3.00
    assert_eq!(b.memory, usd(300));
    // 10 million x $0.40 = $4.00
    assert_eq!(b.requests, usd(400));
    assert_eq!(b.idle_minimum, usd(0));
    // 180,000 vCPU-s x $0.000024 = $4.32; 360,000 GiB-s x $0.000003 = $1.08;
    // 2,000,000 requests x $0.40 / million = $0.80: $6.20 off.
    assert_eq!(b.free_tier, usd(-620));
    assert_eq!(priced.figure.monthly(), Some(usd(1280)));
    assert_eq!(priced.prices[0].region, "eastus");
    assert!(
        priced
            .note
            .starts_with("consumption: 1,000,000 busy replica-s"),
        "{}",
        priced.note
    );
}

#[test]
fn a_minimum_replica_at_rest_is_billed_at_idle_rates() {
    let spec = simple(
        "resources: {cpu: '1', memory: 2Gi}",
        "scaling: {minInstances: 1, maxInstances: 3}",
    );
    // 730 h = 2,628,000 s x (1 vCPU x $0.000003 + 2 GiB x $0.000003) = $23.652
    let at_rest = estimate(&spec, &Traffic::none(), Some("westeurope"));
    assert_eq!(breakdown(&at_rest).idle_minimum, usd(2365));
    assert_eq!(at_rest.figure.monthly(), Some(usd(2365)));
    assert_eq!(at_rest.prices[0].region, "westeurope");
    // With the free grant and no request: 180,000 vCPU-s x $0.000003 = $0.54 and 360,000
    // GiB-s x $0.000003 = $1.08 of the idle usage are free: $23.65 - $1.62 = $22.03.
    let free = Traffic {
        requests_per_month: 0,
        ..Traffic::default()
    };
    let priced = estimate(&spec, &free, None);
    assert_eq!(breakdown(&priced).free_tier, usd(-162));
    assert_eq!(priced.figure.monthly(), Some(usd(2203)));
}

#[test]
fn a_dedicated_profile_is_not_priced() {
    let priced = estimate(
        &simple(
            "resources: {cpu: '3', memory: 5Gi}",
            "containerApps: {workloadProfile: D4}",
        ),
        &Traffic::default(),
        None,
    );
    assert_eq!(priced.figure.monthly(), None);
    assert!(
        priced.note.contains("workload profile D4"),
        "{}",
        priced.note
    );
}

#[test]
fn a_region_the_table_lacks_uses_the_first_and_says_so() {
    let priced = estimate(&simple("", ""), &Traffic::default(), Some("japaneast"));
    assert_eq!(priced.prices[0].region, "eastus");
    assert!(
        priced
            .assumptions
            .iter()
            .any(|a| a.contains("no prices for japaneast")),
        "{:?}",
        priced.assumptions
    );
}
