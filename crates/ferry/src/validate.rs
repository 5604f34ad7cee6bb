//! `ferry validate`: what the API server (the CRD schema and its CEL rules) and Ferry (the
//! provider rules) would say about each document, before anything is applied.

use std::fmt::Write as _;
use std::sync::OnceLock;

use ferry_api::{API_VERSION, ProviderConfig, ServerlessJob, ServerlessService};
use ferry_core::backend::Catalog;
use ferry_core::job::validate_job;
use ferry_core::schema::{CrdSchema, SchemaError, Violation};
use ferry_core::{Finding, Severity};
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

/// What validation says about one document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentReport {
    /// Position among the file's non-empty documents, from 1.
    pub document: usize,
    /// Line where the document starts.
    pub line: usize,
    /// `Kind namespace/name`, as far as the document says.
    pub object: String,
    /// `skipped` (not a Ferry resource), `valid` or `invalid`.
    pub outcome: &'static str,
    /// Errors and warnings.
    pub messages: Vec<Message>,
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

/// The Ferry CRDs' schemas, compiled once.
fn schemas() -> Result<&'static [CrdSchema], &'static SchemaError> {
    static SCHEMAS: OnceLock<Result<Vec<CrdSchema>, SchemaError>> = OnceLock::new();
    SCHEMAS
        .get_or_init(|| {
            ferry_api::crds()
                .iter()
                .map(|crd| CrdSchema::new(crd, ferry_api::VERSION))
                .collect()
        })
        .as_ref()
        .map(Vec::as_slice)
}

/// Validates every document of `text`, read from `file`, with the rules of the backends of
/// `catalog`.
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
        .unwrap_or("(no name)");
    match value.pointer("/metadata/namespace").and_then(Value::as_str) {
        Some(ns) => format!("{kind} {ns}/{name}"),
        None => format!("{kind} {name}"),
    }
}

fn validate_document(doc: &Document, catalog: &Catalog) -> DocumentReport {
    let object = object_name(&doc.value);
    let api_version = doc.value["apiVersion"].as_str().unwrap_or_default();
    let kind = doc.value["kind"].as_str().unwrap_or_default();
    let mut report = DocumentReport {
        document: doc.index,
        line: doc.line,
        object,
        outcome: "valid",
        messages: Vec::new(),
    };
    let schema = match schemas() {
        Ok(schemas) => schemas.iter().find(|s| s.kind == kind),
        Err(e) => {
            report
                .messages
                .push(message(doc, "", &e.to_string(), "error", Source::Schema));
            report.outcome = "invalid";
            return report;
        }
    };
    let Some(schema) = schema else {
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
        report
            .messages
            .push(message(doc, &v.field, &v.message, "error", Source::Schema));
    }
    for finding in ferry_findings(kind, &doc.value, &violations, catalog) {
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
    if report.messages.iter().any(|m| m.severity == "error") {
        report.outcome = "invalid";
    }
    report
}

/// Ferry's own findings, minus those on fields the schema already refuses.
fn ferry_findings(
    kind: &str,
    value: &Value,
    violations: &[Violation],
    catalog: &Catalog,
) -> Vec<Finding> {
    let refused = |field: &str| {
        violations.iter().any(|v| {
            v.field.is_empty()
                || field == v.field
                || field.starts_with(&format!("{}.", v.field))
                || field.starts_with(&format!("{}[", v.field))
        })
    };
    // What the schema admits, the types read; when the schema already refuses the document, a
    // read error only repeats it. A read error on an admitted document is a bug that a test
    // guards, reported rather than hidden.
    let unreadable = |e: serde_json::Error| {
        if violations.is_empty() {
            vec![Finding {
                field: String::new(),
                severity: Severity::Invalid,
                message: format!("cannot be read: {e}"),
            }]
        } else {
            Vec::new()
        }
    };
    let findings = match kind {
        "ServerlessService" => match serde_json::from_value::<ServerlessService>(value.clone()) {
            Ok(svc) => match ferry_core::validate(&svc, catalog.get(svc.spec.provider)) {
                Ok(valid) => valid.warnings,
                Err(invalid) => invalid.errors.into_iter().chain(invalid.warnings).collect(),
            },
            Err(e) => unreadable(e),
        },
        "ServerlessJob" => match serde_json::from_value::<ServerlessJob>(value.clone()) {
            Ok(job) => match validate_job(&job, catalog.get(job.spec.provider)) {
                Ok(valid) => valid.warnings,
                Err(invalid) => invalid.errors.into_iter().chain(invalid.warnings).collect(),
            },
            Err(e) => unreadable(e),
        },
        "ProviderConfig" => match serde_json::from_value::<ProviderConfig>(value.clone()) {
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

fn message(
    doc: &Document,
    field: &str,
    text: &str,
    severity: &'static str,
    source: Source,
) -> Message {
    Message {
        line: doc.line_of(field),
        field: field.to_owned(),
        message: text.to_owned(),
        severity,
        source,
    }
}

/// The report as compiler-style lines: `FILE:LINE: error: OBJECT: FIELD: MESSAGE`.
pub fn render_text(report: &FileReport) -> String {
    let mut out = String::new();
    if let Some(error) = &report.error {
        let _ = writeln!(out, "{error}");
    }
    for doc in &report.documents {
        let (file, object) = (&report.file, &doc.object);
        match doc.outcome {
            "skipped" => {
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
                format!("{}: ", m.field)
            };
            let _ = writeln!(
                out,
                "{file}:{}: {}: {object}: {field}{} ({who})",
                m.line, m.severity, m.message
            );
        }
    }
    out
}
