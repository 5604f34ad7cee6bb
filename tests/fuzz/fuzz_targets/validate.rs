//! `ferry validate`, then `render` and `cost` on what it accepts: any text gets a report
//! without panicking, and a file that validation passes renders and prices, since validation is
//! the promise that the operator will not refuse it later.

#![no_main]

use std::sync::OnceLock;

use ferry::{backends, cost, render, validate};
use ferry_core::cost::{PriceTable, Traffic};
use libfuzzer_sys::fuzz_target;

const FILE: &str = "fuzz.yaml";

fn prices() -> &'static PriceTable {
    static PRICES: OnceLock<PriceTable> = OnceLock::new();
    PRICES.get_or_init(|| {
        let registry = backends::registry().expect("the registry builds");
        PriceTable::embedded(registry.catalog()).expect("the embedded prices load")
    })
}

fuzz_target!(|text: &str| {
    let registry = backends::registry().expect("the registry builds");
    let report = validate::validate_text(FILE, text, registry.catalog());
    let printed = validate::render_text(&report);
    assert!(!printed.is_empty(), "a report that says nothing");
    if report.has_errors() {
        return;
    }
    let configs = render::provider_configs(std::iter::once(text));
    if let Err(e) = render::provider_objects(FILE, text, &configs, registry) {
        panic!("validate accepted what render refuses:\n{e}");
    }
    let traffic = Traffic::default();
    match cost::service_costs(FILE, text, &configs, &traffic, prices(), registry.catalog()) {
        Ok(costs) => {
            let _ = cost::render_text(&costs);
        }
        Err(e) => panic!("validate accepted what cost refuses:\n{e}"),
    }
});
