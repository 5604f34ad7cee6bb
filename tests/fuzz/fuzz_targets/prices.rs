//! The price table (`ferry cost --prices`, the operator's `--prices-configmap`): any text is
//! read or refused without panicking, and a table that is accepted never makes a figure
//! negative, whatever the traffic.

#![no_main]

use std::sync::OnceLock;

use ferry::{backends, manifest};
use ferry_api::ServerlessServiceSpec;
use ferry_core::cost::{self, Figure, PriceTable, Traffic, Usd};
use libfuzzer_sys::fuzz_target;

/// The traffic comes first, in a fixed-size header, and the table is the rest, so a seed is a
/// real price file behind `HEADER` bytes (`tests/fuzz/run` writes them).
const HEADER: usize = 15;

fn traffic(header: &[u8; HEADER]) -> Traffic {
    let [r0, r1, r2, r3, r4, r5, r6, r7, d0, d1, d2, d3, c0, c1, free] = *header;
    let concurrency = u16::from_le_bytes([c0, c1]);
    Traffic {
        requests_per_month: u64::from_le_bytes([r0, r1, r2, r3, r4, r5, r6, r7]),
        avg_duration_ms: u32::from_le_bytes([d0, d1, d2, d3]),
        // What `ferry cost --mean-concurrency` lets through: positive numbers, or none.
        mean_concurrency: (concurrency > 0).then(|| f64::from(concurrency) / 100.0),
        free_tier: free & 1 == 1,
    }
}

/// The examples the README starts with, one per provider.
fn specs() -> &'static [ServerlessServiceSpec] {
    static SPECS: OnceLock<Vec<ServerlessServiceSpec>> = OnceLock::new();
    SPECS.get_or_init(|| {
        [
            include_str!("../../../deploy/examples/knative-hello.yaml"),
            include_str!("../../../deploy/examples/fargate-hello.yaml"),
            include_str!("../../../deploy/examples/cloudrun-hello.yaml"),
            include_str!("../../../deploy/examples/cloudrun-gpu.yaml"),
        ]
        .into_iter()
        .flat_map(|text| manifest::parse(text).expect("the examples are YAML"))
        .filter(|d| d.value["kind"] == "ServerlessService")
        .map(|d| serde_json::from_value(d.value["spec"].clone()).expect("the examples are valid"))
        .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((header, rest)) = data.split_first_chunk::<HEADER>() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let registry = backends::registry().expect("the registry builds");
    let catalog = registry.catalog();
    let Ok(table) = PriceTable::parse("fuzz.yaml", text, catalog) else {
        return;
    };
    let prices = PriceTable::embedded(catalog)
        .expect("the embedded prices load")
        .overlay(table);
    let traffic = traffic(header);
    for spec in specs() {
        let comparison = cost::compare(spec, &traffic, &prices, None, catalog);
        for estimate in &comparison.estimates {
            if let Figure::Priced {
                monthly_usd,
                breakdown,
            } = &estimate.figure
            {
                let charges = [
                    breakdown.compute,
                    breakdown.memory,
                    breakdown.storage,
                    breakdown.requests,
                    breakdown.idle_minimum,
                ];
                assert!(
                    charges.iter().all(|c| *c >= Usd::ZERO) && breakdown.free_tier <= Usd::ZERO,
                    "{}: a negative charge or a positive free tier: {breakdown:?}",
                    estimate.provider
                );
                assert!(
                    *monthly_usd >= Usd::ZERO,
                    "{}: a negative month: {breakdown:?}",
                    estimate.provider
                );
            }
        }
        serde_json::to_string(&comparison).expect("a comparison serialises");
    }
});
