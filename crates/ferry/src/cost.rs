//! `ferry cost`: what each ServerlessService in the files would cost per month on every
//! provider, side by side, offline. The figures come from `ferry_core::cost` and each backend's
//! model; this module reads the inputs and lays the answer out.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use ferry_api::{Provider, ProviderConfig, ServerlessService};
use ferry_core::backend::Catalog;
use ferry_core::cost::{
    self, Comparison, DEFAULT_AVG_DURATION_MS, DEFAULT_REQUESTS_PER_MONTH, Estimate, Figure,
    PriceTable, Traffic, Usd,
};
use serde::Serialize;

/// The estimates for one ServerlessService.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceCost {
    /// The file it was read from.
    pub file: String,
    /// `namespace/name`.
    pub object: String,
    /// Its own provider.
    pub provider: Provider,
    /// The traffic assumed and every provider's estimate.
    #[serde(flatten)]
    pub comparison: Comparison,
}

/// What is never in an estimate; docs/cost.md says more.
pub const NOT_INCLUDED: &str = "load balancers, data transfer, NAT gateways, public IPv4 \
                                addresses, logs and monitoring, image storage, taxes";

/// The estimates for every ServerlessService in `text` (read from `file`), or every problem
/// that prevents them, worded as `ferry validate` words them. `configs` are the ProviderConfigs
/// given, whose regions pick the prices.
pub fn service_costs(
    file: &str,
    text: &str,
    configs: &BTreeMap<String, ProviderConfig>,
    traffic: &Traffic,
    prices: &PriceTable,
    catalog: &Catalog,
) -> Result<Vec<ServiceCost>, String> {
    let report = crate::validate::validate_text(file, text, catalog);
    if report.has_errors() {
        return Err(crate::validate::render_text(&report));
    }
    let documents = crate::manifest::parse(text).map_err(|e| format!("{file}: {e}\n"))?;
    let mut out = Vec::new();
    for doc in documents
        .iter()
        .filter(|d| d.value["kind"] == "ServerlessService")
    {
        let svc: ServerlessService =
            serde_json::from_value(doc.value.clone()).map_err(|e| format!("{file}: {e}\n"))?;
        let config = configs.get(ferry_provider::provider_config::name_for(&svc));
        out.push(ServiceCost {
            file: file.to_owned(),
            object: format!(
                "{}/{}",
                svc.metadata.namespace.as_deref().unwrap_or("default"),
                svc.metadata.name.as_deref().unwrap_or_default()
            ),
            provider: svc.spec.provider,
            comparison: cost::compare(&svc.spec, traffic, prices, config.map(|c| &c.spec), catalog),
        });
    }
    Ok(out)
}

const COLUMNS: [&str; 8] = [
    "PROVIDER",
    "MONTHLY",
    "COMPUTE",
    "MEMORY",
    "STORAGE",
    "REQUESTS",
    "IDLE MIN",
    "FREE TIER",
];

/// The side-by-side table for a terminal, with one line per provider on what drives its
/// figure, the traffic and assumptions behind it, and the prices used.
pub fn render_text(costs: &[ServiceCost]) -> String {
    let mut out = String::new();
    for (i, service) in costs.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "ServerlessService {} ({}, provider {}): USD per month\n",
            service.object, service.file, service.provider
        );
        table(&mut out, &service.comparison.estimates);
        out.push('\n');
        let width = service
            .comparison
            .estimates
            .iter()
            .map(|e| e.provider.display_name().len())
            .max()
            .unwrap_or(0)
            + 1;
        for e in &service.comparison.estimates {
            let name = format!("{}:", e.provider.display_name());
            let _ = writeln!(out, "{name:width$} {}", e.note);
        }
        let _ = writeln!(out, "\n{}", traffic_line(&service.comparison));
        let assumptions: Vec<(&Estimate, &String)> = service
            .comparison
            .estimates
            .iter()
            .flat_map(|e| e.assumptions.iter().map(move |a| (e, a)))
            .collect();
        if !assumptions.is_empty() {
            out.push_str("Assumptions:\n");
            for (e, a) in assumptions {
                let _ = writeln!(out, "  {}: {a}", e.provider.display_name());
            }
        }
        let prices: Vec<String> = service
            .comparison
            .estimates
            .iter()
            .flat_map(|e| {
                e.prices.iter().map(|p| {
                    format!(
                        "  {} {} {}: {} (read {})",
                        e.provider.display_name(),
                        p.region,
                        p.option,
                        p.source,
                        p.read
                    )
                })
            })
            .collect();
        if !prices.is_empty() {
            let _ = writeln!(out, "Prices (re-check them; override with --prices FILE):");
            for p in prices {
                let _ = writeln!(out, "{p}");
            }
        }
        let _ = writeln!(out, "Not included: {NOT_INCLUDED} (docs/cost.md).");
    }
    out
}

fn table(out: &mut String, estimates: &[Estimate]) {
    let rows: Vec<[String; 8]> = estimates
        .iter()
        .map(|e| {
            let name = if e.cheapest {
                format!("{} *", e.provider.display_name())
            } else {
                e.provider.display_name().to_owned()
            };
            match &e.figure {
                Figure::Priced {
                    monthly_usd,
                    breakdown: b,
                } => {
                    let cells: [Usd; 7] = [
                        *monthly_usd,
                        b.compute,
                        b.memory,
                        b.storage,
                        b.requests,
                        b.idle_minimum,
                        b.free_tier,
                    ];
                    let mut row: [String; 8] = Default::default();
                    row[0] = name;
                    for (cell, value) in row[1..].iter_mut().zip(cells) {
                        *cell = value.to_string();
                    }
                    row
                }
                Figure::Unavailable { .. } => {
                    let mut row: [String; 8] = std::array::from_fn(|_| "-".to_owned());
                    row[0] = name;
                    row
                }
            }
        })
        .collect();
    let widths: Vec<usize> = (0..COLUMNS.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].len())
                .chain([COLUMNS[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[&str]| {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i == 0 {
                let _ = write!(text, "{cell:<w$}", w = widths[i]);
            } else {
                let _ = write!(text, "  {cell:>w$}", w = widths[i]);
            }
        }
        text.trim_end().to_owned() + "\n"
    };
    out.push_str(&line(&COLUMNS));
    for row in &rows {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        out.push_str(&line(&cells));
    }
    if estimates.iter().any(|e| e.cheapest) {
        out.push_str("* cheapest\n");
    }
}

#[allow(clippy::cast_precision_loss)] // requests a month: far below 2^52
fn traffic_line(c: &Comparison) -> String {
    let t = &c.traffic;
    let flag = |is_default: bool, flag: &str| {
        if is_default {
            format!("(default; {flag})")
        } else {
            format!("({flag})")
        }
    };
    let concurrency = match t.mean_concurrency {
        Some(m) => format!("{m} requests in flight per busy instance"),
        None => format!(
            "requests in flight per busy instance from the load: {} on average over the month, \
             at least 1 (default; --mean-concurrency)",
            t.average_in_flight
        ),
    };
    let free = if t.free_tier {
        "free tiers taken off (--no-free-tier: not)"
    } else {
        "no free tier"
    };
    format!(
        "Traffic: {} requests a month {}, {} ms each {}, {concurrency}; {free}; {} h a month.",
        ferry_core::cost::thousands(t.requests_per_month as f64),
        flag(
            t.requests_per_month == DEFAULT_REQUESTS_PER_MONTH,
            "--requests-per-month"
        ),
        t.avg_duration_ms,
        flag(
            t.avg_duration_ms == DEFAULT_AVG_DURATION_MS,
            "--avg-duration-ms"
        ),
        t.hours_per_month
    )
}
