//! `ferry validate`: what the API server (the CRD schema and its CEL rules) and Ferry (the
//! provider rules) would say about each document, before anything is applied; and, across
//! every file given, what the operator would say of objects together (a ProviderConfig that
//! does not allow a namespace, two objects of one name).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::OnceLock;

use ferry_api::{API_VERSION, ProviderConfig, ServerlessJob, ServerlessService};
use ferry_core::backend::Catalog;
use ferry_core::job::validate_job;
use ferry_core::schema::{CrdSchema, SchemaError, Violation};
use ferry_core::{Finding, Severity};
use ferry_provider::backend::Registry;
use serde::Serialize;
use serde_json::Value;

use crate::manifest::{self, Document};

/// Who refuses a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Source {
    /// The API server, from the CRD's schema and CEL rules: `kubectl apply` fails.
    Schema,
    /// Ferry, from the provider's rules: the object is stored and reports `Ready=False`.
    Ferry,
}

/// One message about one field of one document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    /// Line in the file (0 when unknown).
    pub line: usize,
    /// The field.
    pub field: String,
    /// What is wrong.
    pub message: String,
    /// `error` or `warning`.
    pub severity: &'static str,
    /// Who refuses it.
    pub source: Source,
}

/// Where an item of a List document is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListItem {
    /// Its path in the List: `items[0]`.
    pub path: String,
    /// The line where the List starts.
    pub list_line: usize,
}

/// What validation says about one document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentReport {
    /// Position among the file's non-empty documents, from 1.
    pub document: usize,
    /// Which item of that document, when it is a List (kubectl applies each item as an
    /// object of its own).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<ListItem>,
    /// Line where the document (or item) starts.
    pub line: usize,
    /// `Kind namespace/name`, as far as the document says.
    pub object: String,
    /// `skipped` (not a Ferry resource), `valid` or `invalid`.
    pub outcome: &'static str,
    /// Errors and warnings.
    pub messages: Vec<Message>,
    /// What the checks across files need of it.
    #[serde(skip)]
    seen: Option<Seen>,
}

/// What validation says about one file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileReport {
    /// The file as given.
    pub file: String,
    /// A reason the file could not be read or parsed at all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// One report per non-empty document.
    pub documents: Vec<DocumentReport>,
}

impl FileReport {
    /// Whether the file has an error of any kind.
    pub fn has_errors(&self) -> bool {
        self.error.is_some() || self.documents.iter().any(|d| d.outcome == "invalid")
    }
}

/// The Ferry CRDs' schemas, compiled once, with each one's OpenAPI schema as JSON (what the
/// messages read a field's type and range from).
fn schemas() -> Result<&'static [(CrdSchema, Value)], &'static SchemaError> {
    static SCHEMAS: OnceLock<Result<Vec<(CrdSchema, Value)>, SchemaError>> = OnceLock::new();
    SCHEMAS
        .get_or_init(|| {
            ferry_api::crds()
                .iter()
                .map(|crd| {
                    let raw = ferry_core::schema::openapi_schema(crd, ferry_api::VERSION)
                        .unwrap_or(Value::Null);
                    CrdSchema::new(crd, ferry_api::VERSION).map(|s| (s, raw))
                })
                .collect()
        })
        .as_ref()
        .map(Vec::as_slice)
}

/// Validates every document of `text`, read from `file`, with the rules of the backends of
/// `catalog`. A List document's items are validated as the objects kubectl applies.
pub fn validate_text(file: &str, text: &str, catalog: &Catalog) -> FileReport {
    let documents = match manifest::parse(text) {
        Ok(documents) => documents,
        Err(e) => {
            return FileReport {
                file: file.to_owned(),
                error: Some(format!(
                    "{file}:{}:{}: not valid YAML: {}",
                    e.line, e.column, e.message
                )),
                documents: Vec::new(),
            };
        }
    };
    if documents.is_empty() {
        return FileReport {
            file: file.to_owned(),
            error: Some(format!("{file}: no YAML documents")),
            documents: Vec::new(),
        };
    }
    FileReport {
        file: file.to_owned(),
        error: None,
        documents: documents
            .iter()
            .map(|doc| validate_document(doc, catalog))
            .collect(),
    }
}

fn object_name(value: &Value) -> String {
    let kind = value["kind"].as_str().unwrap_or("(no kind)");
    let name = value
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        // A name written as a number is shown as written (and refused as not a string).
        .or_else(|| {
            value
                .pointer("/metadata/name")
                .filter(|n| n.is_number() || n.is_boolean())
                .map(Value::to_string)
        })
        .or_else(|| {
            value
                .pointer("/metadata/generateName")
                .and_then(Value::as_str)
                .map(|prefix| format!("{prefix}(generated)"))
        })
        .unwrap_or_else(|| "(no name)".to_owned());
    match namespace(value) {
        Some(ns) => format!("{kind} {ns}/{name}"),
        None => format!("{kind} {name}"),
    }
}

/// The namespace an object names; `null` and `""` name none (kubectl then uses its context's).
fn namespace(value: &Value) -> Option<&str> {
    value
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .filter(|ns| !ns.is_empty())
}

/// What a JSON value is, in YAML's words.
fn shape(value: &Value) -> &'static str {
    match value {
        Value::Null => "empty",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn validate_document(doc: &Document, catalog: &Catalog) -> DocumentReport {
    let mut report = DocumentReport {
        document: doc.index,
        item: doc.item.as_ref().map(|i| ListItem {
            path: i.path.clone(),
            list_line: i.list_line,
        }),
        line: doc.line,
        object: object_name(&doc.value),
        outcome: "valid",
        messages: Vec::new(),
        seen: None,
    };
    if !doc.value.is_object() {
        report.messages.push(message(
            doc,
            "",
            &format!(
                "a manifest is a mapping with apiVersion, kind and metadata; this document is {}",
                shape(&doc.value)
            ),
            "error",
            Source::Schema,
        ));
        report.outcome = "invalid";
        return report;
    }
    if manifest::is_list(&doc.value) {
        list_left_whole(doc, &mut report);
        return report;
    }
    report.seen = Seen::of(doc);
    let api_version = doc.value["apiVersion"].as_str().unwrap_or_default();
    let kind = doc.value["kind"].as_str().unwrap_or_default();
    let found = match schemas() {
        Ok(schemas) => schemas.iter().find(|(s, _)| s.kind == kind),
        Err(e) => {
            report
                .messages
                .push(message(doc, "", &e.to_string(), "error", Source::Schema));
            report.outcome = "invalid";
            return report;
        }
    };
    let Some((schema, raw)) = found else {
        if api_version.starts_with("ferry.dev/") || kind.is_empty() {
            report.messages.push(message(
                doc,
                "kind",
                &format!(
                    "not a Ferry kind: {kind:?}; Ferry serves ServerlessService, \
                     ServerlessJob and ProviderConfig ({API_VERSION})"
                ),
                "error",
                Source::Schema,
            ));
            report.outcome = "invalid";
        } else {
            report.outcome = "skipped";
        }
        return report;
    };
    if api_version != schema.api_version {
        report.messages.push(message(
            doc,
            "apiVersion",
            &format!(
                "{kind} is served as {}; got {api_version:?}",
                schema.api_version
            ),
            "error",
            Source::Schema,
        ));
        report.outcome = "invalid";
        return report;
    }

    let violations = schema.check(&doc.value);
    for v in &violations {
        let text = in_users_words(doc, raw, &v.field, &v.message);
        report
            .messages
            .push(message(doc, &v.field, &text, "error", Source::Schema));
    }
    let ranges = out_of_range(doc, raw, &violations);
    for (field, text) in &ranges {
        report
            .messages
            .push(message(doc, field, text, "error", Source::Ferry));
    }
    for finding in ferry_findings(kind, &doc.value, &violations, &ranges, catalog) {
        let severity = if finding.severity == Severity::Warning {
            "warning"
        } else {
            "error"
        };
        report.messages.push(message(
            doc,
            &finding.field,
            &finding.message,
            severity,
            Source::Ferry,
        ));
    }
    // Checked above as created (the API server names it first: `as_created`); kubectl apply
    // refuses it outright (`RunApply` in k8s.io/kubectl `pkg/cmd/apply/apply.go`).
    if let Some(prefix) = generated(&doc.value) {
        report.messages.push(message(
            doc,
            "metadata.generateName",
            &format!(
                "the API server names the object when it is created: {prefix:?} and 5 random \
                 characters (checked here as {:?}); kubectl apply refuses generateName (\"cannot \
                 use generate name with apply\"): create it with kubectl create, or set \
                 metadata.name",
                ferry_core::schema::generated_name(prefix)
            ),
            "warning",
            Source::Schema,
        ));
    }
    if report.messages.iter().any(|m| m.severity == "error") {
        report.outcome = "invalid";
    }
    report
}

/// A List kubectl would read but that [`manifest::parse`] left whole: its items are empty
/// (nothing is applied) or not a list of objects (kubectl cannot decode it).
fn list_left_whole(doc: &Document, report: &mut DocumentReport) {
    let kind = doc.value["kind"].as_str().unwrap_or_default();
    let why = if kind.ends_with("List") {
        String::new()
    } else {
        format!(
            " (kubectl reads any document with items as a List, so none of this {kind} is applied)"
        )
    };
    match &doc.value["items"] {
        Value::Array(_) | Value::Null => {
            report.outcome = "skipped";
            report.messages.push(message(
                doc,
                "items",
                &format!("the List has no items: nothing in it is applied{why}"),
                "warning",
                Source::Schema,
            ));
        }
        other => {
            report.outcome = "invalid";
            report.messages.push(message(
                doc,
                "items",
                &format!(
                    "Invalid value: {}: a List's items are a list of objects{why}",
                    shape(other)
                ),
                "error",
                Source::Schema,
            ));
        }
    }
}

/// The name prefix of an object that has `generateName` and no name.
fn generated(value: &Value) -> Option<&str> {
    let named = value
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    value
        .pointer("/metadata/generateName")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty() && !named)
}

/// The API server's message for `field`, with the value as the user wrote it (`1e20`, not
/// `1e+20`), a whole-number field's accepted range when the value is not one, and the quoted
/// form to write when a string is wanted.
fn in_users_words(doc: &Document, raw: &Value, field: &str, text: &str) -> String {
    let Some(value) = value_at(&doc.value, field) else {
        return text.to_owned();
    };
    let written = doc
        .written(field)
        .map_or_else(|| Cow::Owned(value.to_string()), Cow::Borrowed);
    if value.is_number()
        && text.contains("must be of type integer")
        && !text.contains(" or string")
        && let Some((lo, hi)) = schema_at(raw, field).and_then(integer_range)
    {
        return format!("Invalid value: {written}: must be a whole number from {lo} to {hi}");
    }
    if (value.is_number() || value.is_boolean())
        && text.contains("must be of type")
        && text.contains("string")
    {
        return format!("{text}; write it in quotes: \"{written}\"");
    }
    if let Value::Number(n) = value {
        let json = format!("Invalid value: {n}:");
        if let Some(rest) = text.strip_prefix(&json) {
            return format!("Invalid value: {written}:{rest}");
        }
    }
    text.to_owned()
}

/// The value at `field` (`spec.containers[0].port`, `spec.labels[a.b/c]`) of `value`.
fn value_at<'a>(value: &'a Value, field: &str) -> Option<&'a Value> {
    let mut at = value;
    for step in steps(field) {
        at = match step {
            Step::Key(k) => at.get(k)?,
            Step::Index(i) => at.get(i)?,
        };
    }
    Some(at)
}

/// The schema of `field`, through `properties`, `additionalProperties` and `items`.
fn schema_at<'a>(schema: &'a Value, field: &str) -> Option<&'a Value> {
    let mut at = schema;
    for step in steps(field) {
        at = match step {
            Step::Key(k) => at
                .get("properties")
                .and_then(|p| p.get(k))
                .or_else(|| at.get("additionalProperties").filter(|a| a.is_object()))?,
            Step::Index(_) => at.get("items")?,
        };
    }
    Some(at)
}

enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// A field path's steps: `a.b[0][key]` is `a`, `b`, 0, `key`.
fn steps(field: &str) -> Vec<Step<'_>> {
    let mut out = Vec::new();
    let mut rest = field;
    while !rest.is_empty() {
        if let Some(inner) = rest.strip_prefix('[') {
            let Some(close) = inner.find(']') else {
                out.push(Step::Key(inner));
                break;
            };
            let key = &inner[..close];
            out.push(match key.parse() {
                Ok(i) => Step::Index(i),
                Err(_) => Step::Key(key),
            });
            rest = &inner[close + 1..];
        } else {
            let rest_ = rest.strip_prefix('.').unwrap_or(rest);
            let end = rest_.find(['.', '[']).unwrap_or(rest_.len());
            out.push(Step::Key(&rest_[..end]));
            rest = &rest_[end..];
        }
    }
    out
}

/// The whole numbers an integer field takes: its schema's bounds within its format's (Ferry
/// reads `int32` fields as 32-bit integers). `None` when it is not an integer field.
fn integer_range(schema: &Value) -> Option<(i64, i64)> {
    if schema.get("type").and_then(Value::as_str) != Some("integer") {
        return None;
    }
    let (mut lo, mut hi) = match schema.get("format").and_then(Value::as_str) {
        Some("int32") => (i64::from(i32::MIN), i64::from(i32::MAX)),
        _ => (i64::MIN, i64::MAX),
    };
    #[allow(clippy::cast_possible_truncation)] // schema bounds are small whole numbers
    {
        if let Some(min) = schema.get("minimum").and_then(Value::as_f64) {
            lo = lo.max(min.ceil() as i64);
        }
        if let Some(max) = schema.get("maximum").and_then(Value::as_f64) {
            hi = hi.min(max.floor() as i64);
        }
    }
    Some((lo, hi))
}

/// Whole numbers the API server stores but that do not fit the field as Ferry reads it
/// (`minInstances: 3000000000` in a 32-bit field), on fields the schema does not already
/// refuse: `(field, message)`.
fn out_of_range(doc: &Document, raw: &Value, violations: &[Violation]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    walk_numbers(&doc.value, raw, "", &mut |field, n, schema| {
        let Some((lo, hi)) = integer_range(schema) else {
            return;
        };
        let fits = n.as_i64().is_some_and(|i| (lo..=hi).contains(&i));
        if fits || violations.iter().any(|v| v.field == field) {
            return;
        }
        let written = doc
            .written(field)
            .map_or_else(|| n.to_string(), str::to_owned);
        out.push((
            field.to_owned(),
            format!("Invalid value: {written}: must be a whole number from {lo} to {hi}"),
        ));
    });
    out
}

/// Calls `each` with every number in `value` that `schema` describes, its field and schema.
fn walk_numbers(
    value: &Value,
    schema: &Value,
    path: &str,
    each: &mut dyn FnMut(&str, &serde_json::Number, &Value),
) {
    match value {
        Value::Number(n) => each(path, n, schema),
        Value::Object(fields) => {
            for (name, child) in fields {
                let (sub, child_path) = match schema.get("properties").and_then(|p| p.get(name)) {
                    Some(sub) if path.is_empty() => (sub, name.clone()),
                    Some(sub) => (sub, format!("{path}.{name}")),
                    None => match schema.get("additionalProperties").filter(|a| a.is_object()) {
                        Some(sub) => (sub, format!("{path}[{name}]")),
                        None => continue,
                    },
                };
                walk_numbers(child, sub, &child_path, each);
            }
        }
        Value::Array(items) => {
            if let Some(sub) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    walk_numbers(item, sub, &format!("{path}[{i}]"), each);
                }
            }
        }
        _ => {}
    }
}

/// `value` as the API server would store it on create, for Ferry's rules: a generated name
/// for `generateName` ([`ferry_core::schema::as_created`]), and no namespace for a `null` or
/// empty one.
pub(crate) fn as_applied(value: &Value) -> Value {
    let mut applied = ferry_core::schema::as_created(value).into_owned();
    if namespace(&applied).is_none()
        && let Some(metadata) = applied.get_mut("metadata").and_then(Value::as_object_mut)
    {
        metadata.remove("namespace");
    }
    applied
}

/// Ferry's own findings, minus those on fields the schema (or a range check) already refuses.
fn ferry_findings(
    kind: &str,
    value: &Value,
    violations: &[Violation],
    ranges: &[(String, String)],
    catalog: &Catalog,
) -> Vec<Finding> {
    let covers = |refused: &str, field: &str| {
        refused.is_empty()
            || field == refused
            || field.starts_with(&format!("{refused}."))
            || field.starts_with(&format!("{refused}["))
    };
    let refused = |field: &str| {
        violations.iter().any(|v| covers(&v.field, field))
            || ranges.iter().any(|(r, _)| covers(r, field))
    };
    // What the schema admits, the types read; when the schema already refuses the document, a
    // read error only repeats it. A read error on an admitted document is a bug that a test
    // guards, reported (without the reader's type names) rather than hidden.
    let unreadable = |e: serde_json::Error| {
        if violations.is_empty() && ranges.is_empty() {
            vec![Finding {
                field: String::new(),
                severity: Severity::Invalid,
                message: format!("cannot be read: {}", plain_words(&e.to_string())),
            }]
        } else {
            Vec::new()
        }
    };
    let value = as_applied(value);
    let findings = match kind {
        "ServerlessService" => match serde_json::from_value::<ServerlessService>(value) {
            Ok(svc) => match ferry_core::validate(&svc, catalog.get(svc.spec.provider)) {
                Ok(valid) => valid.warnings,
                Err(invalid) => invalid.errors.into_iter().chain(invalid.warnings).collect(),
            },
            Err(e) => unreadable(e),
        },
        "ServerlessJob" => match serde_json::from_value::<ServerlessJob>(value) {
            Ok(job) => match validate_job(&job, catalog.get(job.spec.provider)) {
                Ok(valid) => valid.warnings,
                Err(invalid) => invalid.errors.into_iter().chain(invalid.warnings).collect(),
            },
            Err(e) => unreadable(e),
        },
        "ProviderConfig" => match serde_json::from_value::<ProviderConfig>(value) {
            Ok(_) => Vec::new(),
            Err(e) => unreadable(e),
        },
        _ => Vec::new(),
    };
    findings
        .into_iter()
        .filter(|f| !refused(&f.field))
        .collect()
}

/// A reader's error without its Rust type names: `expected i32` says which whole numbers.
fn plain_words(text: &str) -> String {
    const WORDS: [(&str, &str); 12] = [
        (
            "expected i32",
            "expected a whole number from -2147483648 to 2147483647",
        ),
        ("expected i64", "expected a whole number"),
        (
            "expected u32",
            "expected a whole number from 0 to 4294967295",
        ),
        ("expected u64", "expected a whole number of at least 0"),
        ("expected u16", "expected a whole number from 0 to 65535"),
        ("expected u8", "expected a whole number from 0 to 255"),
        ("expected usize", "expected a whole number of at least 0"),
        ("expected f64", "expected a number"),
        ("expected f32", "expected a number"),
        ("floating point", "the number"),
        ("expected struct ", "expected a mapping: "),
        ("expected a sequence", "expected a list"),
    ];
    let mut out = text.to_owned();
    for (from, to) in WORDS {
        out = out.replace(from, to);
    }
    out.replace('`', "")
}

fn message(
    doc: &Document,
    field: &str,
    text: &str,
    severity: &'static str,
    source: Source,
) -> Message {
    // A rule on the whole object that names a field first (`metadata.name must be ...`) is
    // about that field: point at its line (or its nearest ancestor's in the file).
    let at = if field.is_empty() {
        text.split_once(' ')
            .map(|(first, _)| first)
            .filter(|f| f.starts_with("metadata.") || f.starts_with("spec."))
            .unwrap_or_default()
    } else {
        field
    };
    Message {
        line: doc.line_of(at),
        field: field.to_owned(),
        message: text.to_owned(),
        severity,
        source,
    }
}

/// `text` with every control character escaped (C0 such as `\r` and ESC, DEL, C1) the way
/// Rust writes them (`\r`, `\u{1b}`), so a value echoed to a terminal cannot move the cursor,
/// recolour or forge a line.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `json` (serde_json's output) with DEL and the C1 controls escaped as `\u007f`..`\u009f`
/// too: serde_json escapes only what JSON requires (C0), and a terminal showing the output may
/// act on the others. The escapes are valid JSON for the same strings.
pub fn json_printable(json: &str) -> Cow<'_, str> {
    if !json.chars().any(char::is_control) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 8);
    for c in json.chars() {
        if c.is_control() && !matches!(c, '\n' | '\t' | '\r' | ' ') {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// The report as compiler-style lines: `FILE:LINE: error: OBJECT: FIELD: MESSAGE`, every value
/// that came from the input with its control characters escaped ([`printable`]).
pub fn render_text(report: &FileReport) -> String {
    let mut out = String::new();
    if let Some(error) = &report.error {
        let _ = writeln!(out, "{}", printable(error));
    }
    let file = printable(&report.file);
    for doc in &report.documents {
        let object = match &doc.item {
            Some(item) => format!(
                "{} ({} of the List at line {})",
                printable(&doc.object),
                item.path,
                item.list_line
            ),
            None => printable(&doc.object).into_owned(),
        };
        match doc.outcome {
            "skipped" if doc.messages.is_empty() => {
                let _ = writeln!(
                    out,
                    "{file}:{}: {object}: skipped (not a Ferry resource)",
                    doc.line
                );
            }
            "valid" => {
                let _ = writeln!(out, "{file}:{}: {object}: valid", doc.line);
            }
            _ => {}
        }
        for m in &doc.messages {
            let who = match (m.severity, m.source) {
                ("warning", _) => "warning",
                (_, Source::Schema) => "refused by the API server",
                (_, Source::Ferry) => "refused by Ferry",
            };
            let field = if m.field.is_empty() {
                String::new()
            } else {
                format!("{}: ", printable(&m.field))
            };
            let _ = writeln!(
                out,
                "{file}:{}: {}: {object}: {field}{} ({who})",
                m.line,
                m.severity,
                printable(&m.message)
            );
        }
    }
    out
}

/// What the checks across files need of one object, kept while the next files are read.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Seen {
    /// The API group (`ferry.dev`; empty for the core group), so one kind's versions are one.
    group: String,
    kind: String,
    /// `None`: not set (kubectl's context namespace), or a cluster-scoped kind.
    namespace: Option<String>,
    name: String,
    /// The line of `metadata.name`.
    name_line: usize,
    /// A ServerlessService's or ServerlessJob's provider.
    provider: Option<ferry_api::Provider>,
    /// The ProviderConfig it names (`default` when it names none), and the line that says so.
    config: Option<(String, usize)>,
}

impl Seen {
    fn of(doc: &Document) -> Option<Seen> {
        let value = &doc.value;
        let kind = value["kind"].as_str().filter(|k| !k.is_empty())?;
        let name = value
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())?;
        let api_version = value["apiVersion"].as_str().unwrap_or_default();
        let group = api_version.rsplit_once('/').map_or("", |(group, _)| group);
        let ferry = group == ferry_api::GROUP;
        let cluster_scoped =
            (ferry && kind == "ProviderConfig") || (group.is_empty() && kind == "Namespace");
        let workload = ferry && matches!(kind, "ServerlessService" | "ServerlessJob");
        let config = workload.then(|| {
            match value
                .pointer("/spec/providerConfigRef/name")
                .and_then(Value::as_str)
            {
                Some(config) => (
                    config.to_owned(),
                    doc.line_of("spec.providerConfigRef.name"),
                ),
                None => (
                    ferry_provider::provider_config::DEFAULT_NAME.to_owned(),
                    doc.line_of("spec.provider"),
                ),
            }
        });
        Some(Seen {
            group: group.to_owned(),
            kind: kind.to_owned(),
            namespace: if cluster_scoped {
                None
            } else {
                namespace(value).map(str::to_owned)
            },
            name: name.to_owned(),
            name_line: doc.line_of("metadata.name"),
            provider: workload
                .then(|| value.pointer("/spec/provider"))
                .flatten()
                .and_then(|p| serde_json::from_value(p.clone()).ok()),
            config,
        })
    }

    fn shown(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.kind, self.name),
            None => format!("{} {}", self.kind, self.name),
        }
    }
}

/// Whether a namespace may use a ProviderConfig, as far as the files tell.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Admission {
    /// It may.
    Allowed,
    /// It may not: the operator's `ProviderConfigNotAllowed` message.
    Refused(String),
    /// Only the cluster knows (the namespace's labels, or which namespace kubectl picks).
    Unknown(String),
}

/// Whether `namespace` (`None`: not set) may use the ProviderConfig `name` with `spec`, as the
/// operator decides it ([`ferry_provider::provider_config::allows`]). A namespace's labels are
/// not in the files, so `namespaceSelector` is left to the cluster.
fn admission(
    name: &str,
    spec: &ferry_api::ProviderConfigSpec,
    namespace: Option<&str>,
) -> Admission {
    let limited = spec.allowed_namespaces.is_some() || spec.namespace_selector.is_some();
    let Some(namespace) = namespace else {
        return if limited {
            Admission::Unknown(format!(
                "metadata.namespace is not set, so kubectl puts the object in its context's \
                 namespace, and ProviderConfig {name} allows only some namespaces (its \
                 spec.allowedNamespaces and spec.namespaceSelector): set metadata.namespace to \
                 have it checked here"
            ))
        } else {
            Admission::Allowed
        };
    };
    match ferry_provider::provider_config::allows(spec, namespace, &BTreeMap::new()) {
        Ok(true) => Admission::Allowed,
        Ok(false) if spec.namespace_selector.is_some() => Admission::Unknown(format!(
            "ProviderConfig {name} does not list namespace {namespace} in \
             spec.allowedNamespaces and admits others by their labels \
             (spec.namespaceSelector); whether namespace {namespace} matches is known in the \
             cluster"
        )),
        Ok(false) => Admission::Refused(format!(
            "{} (reason ProviderConfigNotAllowed)",
            ferry_provider::provider_config::not_allowed(name, namespace)
        )),
        Err(why) => Admission::Refused(format!(
            "ProviderConfig {name}: {why} (reason ProviderConfigNotAllowed)"
        )),
    }
}

/// The identity of an object: group, kind, namespace, name.
type Key = (String, String, Option<String>, String);

/// The checks across the files given, made as each file's report is: a ServerlessService or
/// ServerlessJob whose ProviderConfig (among the files) does not allow its namespace is
/// refused as the operator refuses it (`ProviderConfigNotAllowed`); an object defined again
/// (kind, namespace and name) is reported where it is, naming where it was first. It keeps one
/// small entry per object, never a file's text.
#[derive(Debug, Default)]
pub struct Across {
    first: HashMap<Key, (String, usize)>,
}

impl Across {
    /// Adds to `report` (of one file; call it for each in the order given) what the operator
    /// would say of its objects together with the others'. `configs`: every ProviderConfig
    /// among the files, by name (a first pass gathers them: a service may name one given after
    /// it); `registry` says which providers use one.
    pub fn check(
        &mut self,
        report: &mut FileReport,
        configs: &BTreeMap<String, ProviderConfig>,
        registry: &Registry,
    ) {
        for doc in &mut report.documents {
            let Some(seen) = doc.seen.clone() else {
                continue;
            };
            let key = (
                seen.group.clone(),
                seen.kind.clone(),
                seen.namespace.clone(),
                seen.name.clone(),
            );
            match self.first.get(&key) {
                // The same file named twice is the same object, not a second one.
                Some((file, line)) if (file, *line) != (&report.file, seen.name_line) => {
                    doc.messages.push(Message {
                        line: seen.name_line,
                        field: "metadata.name".to_owned(),
                        message: format!(
                            "{} is also defined at {}:{line}: applied together, the one \
                             applied last replaces the other (kubectl apply updates the \
                             object; kubectl create refuses the second as AlreadyExists)",
                            seen.shown(),
                            printable(file)
                        ),
                        severity: "warning",
                        source: Source::Schema,
                    });
                }
                Some(_) => {}
                None => {
                    self.first
                        .insert(key, (report.file.clone(), seen.name_line));
                }
            }
            if let Some(message) = config_message(&seen, configs, registry) {
                if message.severity == "error" {
                    doc.outcome = "invalid";
                }
                doc.messages.push(message);
            }
        }
    }
}

/// What the operator would say of the ProviderConfig `seen` names, when it is among `configs`
/// and does not (or may not) allow its namespace.
fn config_message(
    seen: &Seen,
    configs: &BTreeMap<String, ProviderConfig>,
    registry: &Registry,
) -> Option<Message> {
    let (provider, (config, line)) = (seen.provider?, seen.config.as_ref()?);
    let found = configs.get(config.as_str())?;
    if !registry.get(provider).uses_provider_config() {
        return None;
    }
    let (severity, text) = match admission(config, &found.spec, seen.namespace.as_deref()) {
        Admission::Allowed => return None,
        Admission::Refused(why) => ("error", why),
        Admission::Unknown(why) => ("warning", why),
    };
    Some(Message {
        line: *line,
        field: "spec.providerConfigRef".to_owned(),
        message: text,
        severity,
        source: Source::Ferry,
    })
}

/// Adds to `report` what the operator would say of the ProviderConfigs its objects name, when
/// they are among `configs` (what `render` checks before it renders; [`Across`] does this and
/// more for `validate`).
pub fn check_configs(
    report: &mut FileReport,
    configs: &BTreeMap<String, ProviderConfig>,
    registry: &Registry,
) {
    for doc in &mut report.documents {
        let Some(message) = doc
            .seen
            .as_ref()
            .and_then(|seen| config_message(seen, configs, registry))
        else {
            continue;
        };
        if message.severity == "error" {
            doc.outcome = "invalid";
        }
        doc.messages.push(message);
    }
}
