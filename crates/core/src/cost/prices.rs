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

/// The most a price may be, in USD per unit (per vCPU-hour, GB-second, million requests...):
/// far above any provider's price, and low enough that what a month of one spec costs stays
/// within what an estimate works out to the cent ([`super::MAX_LINE_USD`]) for any sensible size.
pub const MAX_PRICE: f64 = 1_000.0;

/// The most a free tier or monthly grant may give, in units a month (vCPU-seconds,
/// GiB-seconds, requests): about 400,000 times the largest any provider gives.
pub const MAX_FREE_AMOUNT: f64 = 1e12;

/// Why a price table cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PriceError {
    /// Not YAML, or not shaped like a price table (sections of entries).
    #[error("{}not a price table: {message}", at(.origin, *.line, *.column))]
    Syntax {
        /// Where the table came from (a file, a ConfigMap).
        origin: String,
        /// The line of the problem, from 1 (0 when unknown).
        line: usize,
        /// Its column, from 1 (0 when unknown).
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// Shaped like a table, but a section, field or figure is wrong.
    #[error("{}", each_at(.origin, .problems))]
    Invalid {
        /// Where the table came from.
        origin: String,
        /// Every problem, in the order of the table.
        problems: Vec<PriceProblem>,
    },
}

/// `origin:line:column: `, as much as is known.
fn at(origin: &str, line: usize, column: usize) -> String {
    match (line, column) {
        (0, _) => format!("{origin}: "),
        (line, 0) => format!("{origin}:{line}: "),
        (line, column) => format!("{origin}:{line}:{column}: "),
    }
}

/// Each problem on its own line, after where it is.
fn each_at(origin: &str, problems: &[PriceProblem]) -> String {
    let lines: Vec<String> = problems
        .iter()
        .map(|p| format!("{}{}", at(origin, p.line, 0), p.problem))
        .collect();
    lines.join("\n")
}

/// One problem of a price table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PriceProblem {
    /// The line of the entry or field (0 when unknown).
    pub line: usize,
    /// `section[i].field: what is wrong`.
    pub problem: String,
}

/// Every price Ferry knows, per provider section, region and option.
#[derive(Clone, Debug, Default)]
pub struct PriceTable {
    sections: BTreeMap<String, Vec<Value>>,
    /// Where a parsed table came from (empty for Ferry's own), for messages.
    origin: String,
    /// The line of each section, entry and field of a parsed table (`fargate[0].vcpuHour`).
    lines: BTreeMap<String, usize>,
}

/// Two tables are the same when their entries are: where they were read does not price.
impl PartialEq for PriceTable {
    fn eq(&self, other: &Self) -> bool {
        self.sections == other.sections
    }
}

/// How an estimate picks a provider's price entries by region ([`Rules::price_regions`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PriceRegions {
    /// No object names a region for the provider: every estimate takes the section's first
    /// entry (of the option it needs).
    FirstEntry,
    /// Objects name a region (a ProviderConfig's, or the spec's own), and an estimate takes the
    /// entry of that name, or the section's first region's when none has it.
    Named {
        /// What every region name Ferry accepts matches (the CRD's pattern).
        pattern: &'static str,
        /// A region, as written.
        example: &'static str,
        /// Where a region is written.
        field: &'static str,
    },
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
        let syntax = |line, column, message| PriceError::Syntax {
            origin: origin.to_owned(),
            line,
            column,
            message,
        };
        let (value, lines) =
            super::yaml::parse(text).map_err(|e| syntax(e.line, e.column, e.message))?;
        let shape = "a price table is a mapping of provider sections (fargate:, cloudRun:, \
                     knative: ...), each a list of entries";
        let mut sections = BTreeMap::new();
        let mut problems = Vec::new();
        match value {
            Value::Null => {}
            Value::Object(map) => {
                for (section, entries) in map {
                    match entries {
                        Value::Array(entries) => {
                            sections.insert(section, entries);
                        }
                        Value::Null => {
                            sections.insert(section, Vec::new());
                        }
                        other => problems.push(PriceProblem {
                            line: lines.get(&section).copied().unwrap_or(0),
                            problem: format!(
                                "{section}: a section is a list of entries (- region: ...); got \
                                 {}",
                                kind(&other)
                            ),
                        }),
                    }
                }
            }
            other => {
                let line = lines.get("").copied().unwrap_or(0);
                return Err(syntax(line, 0, format!("{shape}; got {}", kind(&other))));
            }
        }
        let table = Self {
            sections,
            origin: origin.to_owned(),
            lines,
        };
        problems.extend(table.problems(catalog));
        // In the order of the text (a stable sort: one line's problems keep theirs).
        problems.sort_by_key(|p| p.line);
        if problems.is_empty() {
            Ok(table)
        } else {
            Err(PriceError::Invalid {
                origin: origin.to_owned(),
                problems,
            })
        }
    }

    /// The table shipped with Ferry: each backend's own entries.
    pub fn embedded(catalog: &Catalog) -> Result<Self, PriceError> {
        let mut table = Self::default();
        for rules in catalog.iter() {
            let origin = format!("{}'s prices.yaml (embedded)", rules.provider().as_str());
            let entries: Option<Vec<Value>> = serde_saphyr::from_str(rules.embedded_prices())
                .map_err(|e| PriceError::Syntax {
                    origin: origin.clone(),
                    line: 0,
                    column: 0,
                    message: e.to_string().lines().next().unwrap_or_default().to_owned(),
                })?;
            let part = Self {
                sections: BTreeMap::from([(
                    rules.price_section().to_owned(),
                    entries.unwrap_or_default(),
                )]),
                ..Self::default()
            };
            let problems = part.problems(catalog);
            if !problems.is_empty() {
                return Err(PriceError::Invalid { origin, problems });
            }
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

    /// Every problem of the table, each at the line of what it names.
    fn problems(&self, catalog: &Catalog) -> Vec<PriceProblem> {
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
                let at = format!("{section}[{i}]");
                if !entry.is_object() {
                    problems.push(format!(
                        "{at}: an entry is a mapping of region, option, its prices, source and \
                         read; got {}",
                        kind(entry)
                    ));
                    continue;
                }
                let text = |field: &str| entry[field].as_str().unwrap_or_default();
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
        problems
            .into_iter()
            .map(|problem| PriceProblem {
                line: self.line_of(problem.split_once(": ").map_or("", |(path, _)| path)),
                problem,
            })
            .collect()
    }

    /// The line of `path` (`fargate[0].vcpuHour`), or of its nearest ancestor in the text (a
    /// missing field is reported where its entry is); 0 for a table that was not parsed.
    pub fn line_of(&self, path: &str) -> usize {
        let mut path = path.to_owned();
        loop {
            if let Some(&line) = self.lines.get(&path) {
                return line;
            }
            match path.rfind(['.', '[']) {
                Some(cut) => path.truncate(cut),
                None => return 0,
            }
        }
    }
}

/// `a string "cheap"`, `a list`: what a value is, for messages.
fn kind(value: &Value) -> String {
    match value {
        Value::Null => "nothing".to_owned(),
        Value::Bool(b) => format!("{b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {s:?}"),
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "a mapping".to_owned(),
    }
}

/// `(region, option)` of an entry, which an overlay replaces by.
fn key(entry: &Value) -> (Option<&str>, Option<&str>) {
    (entry["region"].as_str(), entry["option"].as_str())
}

/// The entries of `section` as `T`, with a `section[i]: ...` problem for each that is not one
/// (an unknown field, a word for a number). An entry that is not a mapping at all is left to
/// the table's own check, which says so.
pub fn typed<T: DeserializeOwned>(
    section: &str,
    entries: &[Value],
    problems: &mut Vec<String>,
) -> Vec<(String, T)> {
    let mut out = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let at = format!("{section}[{i}]");
        let Some(fields) = entry.as_object() else {
            continue;
        };
        let mut fields = fields.clone();
        let mut clean = true;
        // Each field that does not read is named, not only the first serde stops at: the
        // entry is read again without it.
        for _ in 0..=fields.len() {
            match serde_json::from_value(Value::Object(fields.clone())) {
                Ok(typed) => {
                    if clean {
                        out.push((at.clone(), typed));
                    }
                    break;
                }
                Err(e) => {
                    clean = false;
                    let (problem, culprit) = unreadable::<T>(&at, &fields, &e.to_string());
                    problems.push(problem);
                    match culprit {
                        Some(name) => fields.remove(&name),
                        None => break,
                    };
                }
            }
        }
    }
    out
}

/// Why an entry does not read as `T`, naming the field, and that field (to read the entry again
/// without it): serde names none for a wrong type, so the field is the one without which the
/// entry reads (or fails otherwise). Rust's own words for types (`f64`) become the user's.
fn unreadable<T: DeserializeOwned>(
    at: &str,
    fields: &serde_json::Map<String, Value>,
    message: &str,
) -> (String, Option<String>) {
    let culprit = fields.iter().find(|(name, _)| {
        let mut without = fields.clone();
        without.remove(*name);
        serde_json::from_value::<T>(Value::Object(without))
            .map_err(|e| e.to_string())
            .err()
            .as_deref()
            != Some(message)
    });
    let name = culprit.map(|(name, _)| name.clone());
    let problem = match culprit {
        Some((name, value)) if message.starts_with("invalid type") => {
            let hint = value
                .as_str()
                .and_then(|s| s.trim().parse::<f64>().ok())
                .filter(|_| message.contains("expected f64"))
                .map(|_| {
                    format!(
                        ": write {} without quotes",
                        value.as_str().unwrap_or_default()
                    )
                })
                .unwrap_or_default();
            format!(
                "{at}.{name}: {} expected; got {}{hint}",
                expected(message),
                kind(value)
            )
        }
        Some((name, _)) => format!("{at}.{name}: {}", words(message)),
        None => format!("{at}: {}", words(message)),
    };
    (problem, name)
}

/// What an `invalid type` message expected, in a user's words.
fn expected(message: &str) -> &'static str {
    let wanted = message.rsplit("expected ").next().unwrap_or_default();
    match wanted {
        "f64" | "f32" => "a number",
        w if w.starts_with('u') || w.starts_with('i') => "a whole number",
        "a string" => "text",
        w if w.starts_with("struct") || w.starts_with("map") => "a mapping",
        w if w.starts_with("a sequence") => "a list",
        _ => "another value",
    }
}

/// A serde message without Rust's type names.
fn words(message: &str) -> String {
    message
        .replace("expected f64", "expected a number")
        .replace("expected struct ", "expected ")
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

/// Each listed price present, finite, not negative and at most [`MAX_PRICE`]; `required` ones
/// present; none outside `allowed`.
pub fn amounts(
    problems: &mut Vec<String>,
    at: &str,
    option: &str,
    fields: &[(&str, Option<f64>)],
    required: &[&str],
    allowed: &[&str],
) {
    let most = Most {
        value: MAX_PRICE,
        words: "USD per unit, far above any provider's price",
    };
    amounts_up_to(problems, at, option, fields, required, allowed, most);
}

/// The most an amount may be, and what it is counted in.
#[derive(Clone, Copy, Debug)]
pub struct Most {
    /// The largest value accepted.
    pub value: f64,
    /// What it counts, for the message.
    pub words: &'static str,
}

/// The most a free tier or grant gives ([`MAX_FREE_AMOUNT`]).
pub const FREE_AMOUNT: Most = Most {
    value: MAX_FREE_AMOUNT,
    words: "units a month, far above any provider's free tier",
};

/// Each listed amount present, finite, not negative and at most `most`; `required` ones
/// present; none outside `allowed`.
pub fn amounts_up_to(
    problems: &mut Vec<String>,
    at: &str,
    option: &str,
    fields: &[(&str, Option<f64>)],
    required: &[&str],
    allowed: &[&str],
    most: Most,
) {
    for (name, value) in fields {
        let problem = match value {
            None if required.contains(name) => format!("{at}.{name}: required for option {option}"),
            Some(_) if !allowed.contains(name) => format!(
                "{at}.{name}: does not apply to option {option}; it takes {}",
                allowed.join(", ")
            ),
            Some(v) if !v.is_finite() || *v < 0.0 => {
                format!(
                    "{at}.{name}: must be a number of 0 or more; got {}",
                    short(*v)
                )
            }
            Some(v) if *v > most.value => format!(
                "{at}.{name}: must be at most {} ({}); got {}",
                short(most.value),
                most.words,
                short(*v)
            ),
            _ => continue,
        };
        problems.push(problem);
    }
}

/// `v` as written in a table: `0.04`, `1000`, but `1e307` rather than 308 digits.
fn short(v: f64) -> String {
    if v != 0.0 && !(1e-6..1e16).contains(&v.abs()) {
        format!("{v:e}")
    } else {
        format!("{v}")
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

/// The entries of `user` (a table read from a file or ConfigMap, to be overlaid on `base`)
/// that no estimate can ever use, one warning each: `origin:line: section[i] (region R, option
/// O): never used: why`. ferry cost and the operator both load such a table and price with its
/// other entries; this entry is skipped for good, so it is worth saying. An entry can never be
/// used when its provider picks entries by a region name it cannot match
/// ([`PriceRegions::Named`]), or picks none and another entry comes first
/// ([`PriceRegions::FirstEntry`]).
pub fn unused(user: &PriceTable, base: &PriceTable, catalog: &Catalog) -> Vec<String> {
    let merged = base.clone().overlay(user.clone());
    let mut warnings = Vec::new();
    for (section, entries) in &user.sections {
        let Some(rules) = catalog.iter().find(|r| r.price_section() == section) else {
            continue;
        };
        let all = merged.section(section);
        let Some(first) = all.first() else {
            continue;
        };
        let first_region = first["region"].as_str().unwrap_or_default();
        for (i, entry) in entries.iter().enumerate() {
            let (Some(region), Some(option)) = (entry["region"].as_str(), entry["option"].as_str())
            else {
                continue;
            };
            if region == first_region {
                // The section's first region: every estimate that finds no entry for its own
                // region falls back to it.
                continue;
            }
            let who = rules.provider().display_name();
            let why = match rules.price_regions() {
                PriceRegions::Named {
                    pattern,
                    example,
                    field,
                } => {
                    let matches = regex::Regex::new(pattern).is_ok_and(|re| re.is_match(region));
                    if matches {
                        continue;
                    }
                    format!(
                        "{region:?} is not a region name Ferry accepts for {who} (written like \
                         {example}, matching {pattern}, in {field}), so no object is ever priced \
                         in it"
                    )
                }
                PriceRegions::FirstEntry => {
                    let first_at = user
                        .sections
                        .get(section)
                        .and_then(|mine| mine.iter().position(|e| key(e) == key(first)))
                        .map_or_else(
                            || "Ferry's own first entry".to_owned(),
                            |j| format!("{section}[{j}]"),
                        );
                    format!(
                        "no {who} object names a region to pick an entry by, so every {who} \
                         estimate uses the section's first region, {first_region:?} \
                         ({first_at}): remove this entry, or put it first"
                    )
                }
            };
            let path = format!("{section}[{i}]");
            let line = user.line_of(&path);
            warnings.push((
                line,
                format!(
                    "{}{path} (region {region}, option {option}): never used: {why}; ferry cost \
                     and the operator load the table and price with its other entries only",
                    at(&user.origin, line, 0)
                ),
            ));
        }
    }
    // In the order of the file, as its problems are.
    warnings.sort_by_key(|(line, _)| *line);
    warnings.into_iter().map(|(_, warning)| warning).collect()
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
