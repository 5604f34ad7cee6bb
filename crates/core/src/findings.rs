//! Field-level findings: what validation reports about one field of a spec.

use std::fmt;

use ferry_api::conditions::reasons;
use serde::Serialize;

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Severity {
    /// The spec is wrong whatever the provider (reason `InvalidSpec`).
    Invalid,
    /// The chosen provider cannot honour the field (reason `Unsupported`).
    Unsupported,
    /// Accepted, but likely not what was meant, or it depends on how the provider is set up.
    Warning,
}

/// One problem with one field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The field, as `kubectl explain` spells it: `spec.containers[0].resources.cpu`.
    pub field: String,
    /// How bad it is.
    pub severity: Severity,
    /// What is wrong and what would be accepted.
    pub message: String,
}

impl Finding {
    /// The condition reason a controller reports for this finding.
    pub fn reason(&self) -> &'static str {
        match self.severity {
            Severity::Unsupported => reasons::UNSUPPORTED,
            Severity::Invalid | Severity::Warning => reasons::INVALID_SPEC,
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// A spec that cannot be run: at least one error, plus any warnings.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", summary(.errors))]
pub struct Invalid {
    /// The errors; never empty.
    pub errors: Vec<Finding>,
    /// Warnings found on the way.
    pub warnings: Vec<Finding>,
}

impl Invalid {
    /// The condition reason for the whole spec: `Unsupported` when every error is a provider
    /// limit, `InvalidSpec` otherwise.
    pub fn reason(&self) -> &'static str {
        if self
            .errors
            .iter()
            .all(|e| e.severity == Severity::Unsupported)
        {
            reasons::UNSUPPORTED
        } else {
            reasons::INVALID_SPEC
        }
    }
}

fn summary(errors: &[Finding]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Collects findings while validation walks a spec (the portable rules in core, then the
/// provider's own through [`Rules`](crate::backend::Rules)).
#[derive(Debug, Default)]
pub struct Findings {
    errors: Vec<Finding>,
    warnings: Vec<Finding>,
}

impl Findings {
    /// `field` is wrong whatever the provider.
    pub fn invalid(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(Finding {
            field: field.into(),
            severity: Severity::Invalid,
            message: message.into(),
        });
    }

    /// `field` asks for what the provider does not offer.
    pub fn unsupported(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(Finding {
            field: field.into(),
            severity: Severity::Unsupported,
            message: message.into(),
        });
    }

    /// `field` is accepted but worth a look.
    pub fn warn(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.warnings.push(Finding {
            field: field.into(),
            severity: Severity::Warning,
            message: message.into(),
        });
    }

    /// Whether any error was recorded.
    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// How many errors were recorded (a check compares counts to see whether it added one).
    pub fn error_count(&self) -> usize {
        self.errors.len()
    }

    /// `Ok(value)` with the warnings when nothing is wrong, `Err` otherwise.
    pub(crate) fn finish<T>(self, value: T) -> Result<(T, Vec<Finding>), Invalid> {
        if self.errors.is_empty() {
            Ok((value, self.warnings))
        } else {
            Err(Invalid {
                errors: self.errors,
                warnings: self.warnings,
            })
        }
    }
}
