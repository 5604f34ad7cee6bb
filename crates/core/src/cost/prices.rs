//! The price table as data. Each backend crate ships its provider's entries (its
//! `prices.yaml`, with sources and read dates), the registry gathers them into the table Ferry
//! embeds, and a user's file (`ferry cost --prices`) or ConfigMap (`ferry controller
//! --prices-configmap`) overlays it entry by entry. A table is checked when it is loaded, by
//! each provider's own rules, so an estimate never multiplies by a negative or missing price.
//!
//! The shape: one section per provider (`fargate:`, `cloudRun:`, `knative:` ...), each a list of
//! entries that name at least a `region`, an `option`, a `source` and the date it was `read`;
//! the figures are the provider's own ([`Rules::check_prices`] says which).
//!
//! [`Rules::check_prices`]: crate::backend::Rules::check_prices

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::backend::{Catalog, Rules};

/// Why a price table cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PriceError {
    /// Not YAML, or not shaped like a price table (sections of entries).
    #[error("{origin}: not a price table: {message}")]
    Syntax {
        /// Where the table came from (a file, a ConfigMap).
        origin: String,
        /// What the parser said.
        message: String,
    },
    /// Shaped like a table, but a section, field or figure is wrong.
    #[error("{origin}: {}", .problems.join("; "))]
    Invalid {
        /// Where the table came from.
        origin: String,
        /// `field: what is wrong`, one per problem.
        problems: Vec<String>,
    },
}

/// Every price Ferry knows, per provider section, region and option.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PriceTable {
    sections: BTreeMap<String, Vec<Value>>,
}

/// An entry chosen for an estimate, with whether it stands in for a region the table lacks.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Chosen<'a, T> {
    /// The entry.
    pub entry: &'a T,
    /// The region asked for, when the table had no prices for it and another region's were used.
    pub instead_of: Option<&'a str>,
}

impl PriceTable {
    /// Parses and checks a table; `origin` names it in errors (a file, a ConfigMap). Every
    /// section must belong to a provider of `catalog`, which checks its entries.
    pub fn parse(origin: &str, text: &str, catalog: &Catalog) -> Result<Self, PriceError> {
        let sections: Option<BTreeMap<String, Vec<Value>>> =
            serde_saphyr::from_str(text).map_err(|e| PriceError::Syntax {
                origin: origin.to_owned(),
                message: e.to_string().lines().next().unwrap_or_default().to_owned(),
            })?;
        let table = Self {
            sections: sections.unwrap_or_default(),
        };
        table.check(origin, catalog)?;
        Ok(table)
    }

    /// The table shipped with Ferry: each backend's own entries.
    pub fn embedded(catalog: &Catalog) -> Result<Self, PriceError> {
        let mut table = Self::default();
        for rules in catalog.iter() {
            let origin = format!("{}'s prices.yaml (embedded)", rules.provider().as_str());
            let entries: Option<Vec<Value>> = serde_saphyr::from_str(rules.embedded_prices())
                .map_err(|e| PriceError::Syntax {
                    origin: origin.clone(),
                    message: e.to_string().lines().next().unwrap_or_default().to_owned(),
                })?;
            let part = Self {
                sections: BTreeMap::from([(
                    rules.price_section().to_owned(),
                    entries.unwrap_or_default(),
                )]),
            };
            part.check(&origin, catalog)?;
            table = table.overlay(part);
        }
        Ok(table)
    }

    /// This table with `other`'s entries on top: an entry of `other` replaces the one with the
    /// same section, region and option, and the rest are added.
    #[must_use]
    pub fn overlay(mut self, other: PriceTable) -> Self {
        for (section, entries) in other.sections {
            let base = self.sections.entry(section).or_default();
            for entry in entries {
                match base.iter_mut().find(|e| key(e) == key(&entry)) {
                    Some(existing) => *existing = entry,
                    None => base.push(entry),
                }
            }
        }
        self
    }

    /// The entries of `section` as the provider's own type. The table was checked when it was
    /// loaded; an entry that still does not read as `T` is left out.
    pub fn entries<T: DeserializeOwned>(&self, section: &str) -> Vec<T> {
        self.sections
            .get(section)
            .into_iter()
            .flatten()
            .filter_map(|e| serde_json::from_value(e.clone()).ok())
            .collect()
    }

    /// The raw entries of `section`, as written.
    pub fn section(&self, section: &str) -> &[Value] {
        self.sections.get(section).map_or(&[], Vec::as_slice)
    }

    fn check(&self, origin: &str, catalog: &Catalog) -> Result<(), PriceError> {
        let mut problems = Vec::new();
        for (section, entries) in &self.sections {
            let Some(rules) = catalog.iter().find(|r| r.price_section() == section) else {
                let known: Vec<&str> = catalog.iter().map(Rules::price_section).collect();
                problems.push(format!(
                    "{section}: no provider has this section; the sections are {}",
                    crate::capabilities::list(known)
                ));
                continue;
            };
            for (i, entry) in entries.iter().enumerate() {
                let text = |field: &str| entry[field].as_str().unwrap_or_default();
                let at = format!("{section}[{i}]");
                common(
                    &mut problems,
                    &at,
                    text("region"),
                    text("source"),
                    text("read"),
                );
            }
            problems.extend(rules.check_prices(entries));
            duplicates(&mut problems, section, entries);
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(PriceError::Invalid {
                origin: origin.to_owned(),
                problems,
            })
        }
    }
}

/// `(region, option)` of an entry, which an overlay replaces by.
fn key(entry: &Value) -> (Option<&str>, Option<&str>) {
    (entry["region"].as_str(), entry["option"].as_str())
}

/// The entries of `section` as `T`, with a `section[i]: ...` problem for each that is not one
/// (an unknown field, a word for a number).
pub fn typed<T: DeserializeOwned>(
    section: &str,
    entries: &[Value],
    problems: &mut Vec<String>,
) -> Vec<(String, T)> {
    let mut out = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let at = format!("{section}[{i}]");
        match serde_json::from_value(entry.clone()) {
            Ok(typed) => out.push((at, typed)),
            Err(e) => problems.push(format!("{at}: {e}")),
        }
    }
    out
}

/// The entry `matches` accepts in `region` when the table has any entry for that region,
/// otherwise in the first region listed. `matches` gives an entry's region and whether it is
/// of the option wanted.
pub fn choose<'a, T>(
    entries: &'a [T],
    region: Option<&'a str>,
    matches: impl Fn(&T) -> (&String, bool),
) -> Option<Chosen<'a, T>> {
    let known = region.filter(|r| entries.iter().any(|e| matches(e).0 == r));
    let (use_region, instead_of) = match (known, region) {
        (Some(r), _) => (r, None),
        (None, asked) => (entries.first().map(|e| matches(e).0.as_str())?, asked),
    };
    entries
        .iter()
        .find(|e| {
            let (r, ok) = matches(e);
            ok && r == use_region
        })
        .map(|entry| Chosen { entry, instead_of })
}

/// The fields every entry has: a region (for Knative, a label for the cluster), where the
/// figures come from and the date they were read.
fn common(problems: &mut Vec<String>, at: &str, region: &str, source: &str, read: &str) {
    if region.trim().is_empty() {
        problems.push(format!(
            "{at}.region: required (e.g. us-east-1; for knative, a label for the cluster)"
        ));
    }
    if source.trim().is_empty() {
        problems.push(format!(
            "{at}.source: required: where the prices come from (the price page's URL)"
        ));
    }
    if !is_date(read) {
        problems.push(format!(
            "{at}.read: required: the date the prices were read, YYYY-MM-DD; got {read:?}"
        ));
    }
}

/// Each listed amount present, finite and not negative; `required` ones present; none outside
/// `allowed`.
pub fn amounts(
    problems: &mut Vec<String>,
    at: &str,
    option: &str,
    fields: &[(&str, Option<f64>)],
    required: &[&str],
    allowed: &[&str],
) {
    for (name, value) in fields {
        let problem = match value {
            None if required.contains(name) => format!("{at}.{name}: required for option {option}"),
            Some(_) if !allowed.contains(name) => format!(
                "{at}.{name}: does not apply to option {option}; it takes {}",
                allowed.join(", ")
            ),
            Some(v) if !v.is_finite() || *v < 0.0 => {
                format!("{at}.{name}: must be a number of 0 or more; got {v}")
            }
            _ => continue,
        };
        problems.push(problem);
    }
}

fn duplicates(problems: &mut Vec<String>, section: &str, entries: &[Value]) {
    let keys: Vec<_> = entries.iter().map(key).collect();
    for (i, k) in keys.iter().enumerate() {
        if let (Some(first), (Some(region), Some(option))) =
            (keys[..i].iter().position(|other| other == k), k)
        {
            problems.push(format!(
                "{section}[{i}]: region {region} option {option} is already priced by \
                 {section}[{first}]"
            ));
        }
    }
}

/// `YYYY-MM-DD` with a plausible month and day.
fn is_date(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    let [year, month, day] = parts.as_slice() else {
        return false;
    };
    let number = |s: &str, len: usize| {
        (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u32>().ok())
            .flatten()
    };
    matches!(
        (number(year, 4), number(month, 2), number(day, 2)),
        (Some(_), Some(1..=12), Some(1..=31))
    )
}

/// The price option of a cluster's own nodes (the `knative` and `kubernetes` sections).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeOption {
    /// The cluster's nodes, priced per vCPU-hour and GB-hour of what pods request.
    Nodes,
}

/// One entry of a section that prices pods on the user's own nodes: only the user knows what
/// their nodes cost, so Ferry ships none.
#[derive(Clone, Debug, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodePrice {
    /// A label for the cluster, e.g. `prod-eks`.
    #[serde(default)]
    pub region: String,
    /// Always `nodes`.
    pub option: NodeOption,
    /// USD per vCPU-hour a pod requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vcpu_hour: Option<f64>,
    /// USD per GB-hour (GiB) of memory a pod requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gb_hour: Option<f64>,
    /// The page (or invoice, or reasoning) the figures come from.
    #[serde(default)]
    pub source: String,
    /// When they were read from it, `YYYY-MM-DD`.
    #[serde(default)]
    pub read: String,
    /// Anything a reader of an estimate should know about these figures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// What is wrong with the figures of `entries`, the node prices of `section`.
pub fn check_node_prices(section: &str, entries: &[Value]) -> Vec<String> {
    let mut problems = Vec::new();
    for (at, e) in typed::<NodePrice>(section, entries, &mut problems) {
        let fields = [("vcpuHour", e.vcpu_hour), ("gbHour", e.gb_hour)];
        let listed: &[&str] = &["vcpuHour", "gbHour"];
        amounts(&mut problems, &at, "nodes", &fields, listed, listed);
    }
    problems
}

/// The node price of `section` for `region` (the table's first when it has none for it), with
/// its vCPU-hour and GB-hour rates; the reason to give instead of a figure when there is none.
/// `who` names the section in that reason (`Knative`).
pub fn node_price(
    table: &PriceTable,
    section: &str,
    region: Option<&str>,
    who: &str,
    assumptions: &mut Vec<String>,
) -> Result<(NodePrice, f64, f64), String> {
    let entries: Vec<NodePrice> = table.entries(section);
    let Some(chosen) = choose(&entries, region, |e| (&e.region, true)) else {
        return Err(format!(
            "no node price given: pass --prices FILE with {section} prices"
        ));
    };
    let p = chosen.entry;
    super::model::region_assumption(&chosen, &p.region, assumptions);
    let (Some(vcpu_hour), Some(gb_hour)) = (p.vcpu_hour, p.gb_hour) else {
        return Err(format!(
            "the price table's {who} entry has no vCPU or GB price"
        ));
    };
    Ok((p.clone(), vcpu_hour, gb_hour))
}
