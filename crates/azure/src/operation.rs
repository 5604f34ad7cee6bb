//! ARM long-running operations: the URL a PUT or DELETE answers with, kept in
//! `status.operation` as a string, and what a poll of it says.
//!
//! A PUT or DELETE that ARM does not finish at once answers 201 or 202 with
//! `Azure-AsyncOperation` (a status URL answering `{"status": "InProgress" | "Succeeded" |
//! "Failed" | "Canceled", "error"}`) and/or `Location` (a URL answering 202 while running, then
//! 200 or 204), and `Retry-After`. Ferry prefers `Azure-AsyncOperation`: it reports failures with
//! their error, and cancellations.

/// The prefix of an encoded operation, so that a Cloud Run operation name (`projects/...`) or
/// anything else in `status.operation` is never mistaken for one.
const PREFIX: &str = "azure-arm:";

/// Which header an operation's URL came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OperationKind {
    /// `Azure-AsyncOperation`: a status resource.
    AsyncOperation,
    /// `Location`: 202 while running, then the result.
    Location,
}

/// An ARM long-running operation: the Azure-AsyncOperation (or Location) URL. `encode` gives
/// the string kept in status.operation, `decode` reads it back (None for a foreign string).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation {
    kind: OperationKind,
    delete: bool,
    url: String,
}

impl Operation {
    /// An operation of a PUT (`delete: false`) or a DELETE at `url`.
    pub fn new(kind: OperationKind, delete: bool, url: impl Into<String>) -> Operation {
        Operation {
            kind,
            delete,
            url: url.into(),
        }
    }

    /// Which header the URL came from.
    pub fn kind(&self) -> OperationKind {
        self.kind
    }

    /// Whether the operation deletes (a `Location` answering 404 then means done).
    pub fn is_delete(&self) -> bool {
        self.delete
    }

    /// The URL polled.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The string kept in `status.operation`: `azure-arm:{put|delete}:{async|location}:{url}`.
    pub fn encode(&self) -> String {
        let verb = if self.delete { "delete" } else { "put" };
        let kind = match self.kind {
            OperationKind::AsyncOperation => "async",
            OperationKind::Location => "location",
        };
        format!("{PREFIX}{verb}:{kind}:{}", self.url)
    }

    /// Reads back what [`encode`](Self::encode) wrote; `None` for anything else.
    pub fn decode(encoded: &str) -> Option<Operation> {
        let rest = encoded.strip_prefix(PREFIX)?;
        let (verb, rest) = rest.split_once(':')?;
        let (kind, url) = rest.split_once(':')?;
        let delete = match verb {
            "put" => false,
            "delete" => true,
            _ => return None,
        };
        let kind = match kind {
            "async" => OperationKind::AsyncOperation,
            "location" => OperationKind::Location,
            _ => return None,
        };
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return None;
        }
        Some(Operation::new(kind, delete, url))
    }
}

/// Where an operation stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OperationStatus {
    /// Still running: poll again later.
    InProgress,
    /// Done.
    Succeeded,
    /// Done, and it failed: ARM's error code and message (`OperationNotFound` when ARM no
    /// longer knows the operation: read the resource instead).
    Failed {
        /// ARM's error code.
        code: String,
        /// ARM's message.
        message: String,
    },
    /// Canceled, typically by a later write to the same resource.
    Canceled,
}

impl OperationStatus {
    /// Reads an `Azure-AsyncOperation` status body. Any status that is not terminal is
    /// `InProgress` (ARM allows services their own: `Accepted`, `Running`, `Deleting`...).
    pub fn from_status_body(body: &serde_json::Value) -> OperationStatus {
        let status = body
            .get("status")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default();
        match status.to_ascii_lowercase().as_str() {
            "succeeded" => OperationStatus::Succeeded,
            "canceled" | "cancelled" => OperationStatus::Canceled,
            "failed" => {
                let error = body.get("error");
                let text = |name: &str| {
                    error
                        .and_then(|e| e.get(name))
                        .and_then(serde_json::Value::as_str)
                        .map(str::to_owned)
                };
                OperationStatus::Failed {
                    code: text("code").unwrap_or_else(|| "Failed".into()),
                    message: text("message")
                        .unwrap_or_else(|| "the operation failed without an error".into()),
                }
            }
            _ => OperationStatus::InProgress,
        }
    }
}

/// Where the operation a backend recorded in `status.operation` stands, as
/// [`Arm::poll_recorded`](crate::Arm::poll_recorded) tells it: what a reconcile needs before it
/// reads the resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// Nothing to wait for: no operation was recorded, the string is another backend's (the
    /// provider changed), or the operation succeeded, was canceled, or is no longer known to
    /// ARM (the resource tells the rest).
    Done,
    /// Still running: report the recorded operation again and look later.
    Running,
    /// It failed: ARM's error code and message.
    Failed {
        /// ARM's error code.
        code: String,
        /// ARM's message.
        message: String,
    },
}

impl Recorded {
    /// What a poll's `status` means for a reconcile.
    pub fn of(status: OperationStatus) -> Recorded {
        match status {
            OperationStatus::InProgress => Recorded::Running,
            OperationStatus::Succeeded | OperationStatus::Canceled => Recorded::Done,
            // Expired: the resource tells the rest.
            OperationStatus::Failed { code, .. } if code == "OperationNotFound" => Recorded::Done,
            OperationStatus::Failed { code, message } => Recorded::Failed { code, message },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn operations_read_back_what_they_wrote() {
        let operation = Operation::new(
            OperationKind::AsyncOperation,
            false,
            "https://management.azure.com/subscriptions/s/providers/Microsoft.App/locations/\
             westeurope/containerappOperationStatuses/abc?api-version=2026-01-01",
        );
        let encoded = operation.encode();
        assert!(encoded.starts_with("azure-arm:put:async:https://"));
        assert_eq!(Operation::decode(&encoded), Some(operation));
    }

    #[test]
    fn foreign_strings_are_not_operations() {
        for foreign in [
            "projects/p/locations/us-central1/operations/123",
            "",
            "azure-arm:",
            "azure-arm:get:async:https://x",
            "azure-arm:put:poll:https://x",
            "azure-arm:put:async:ftp://x",
            "azure-arm:put:async",
        ] {
            assert_eq!(Operation::decode(foreign), None, "{foreign}");
        }
    }

    #[test]
    fn status_bodies_say_where_the_operation_stands() {
        let read = |body| OperationStatus::from_status_body(&body);
        assert_eq!(
            read(json!({"status": "InProgress"})),
            OperationStatus::InProgress
        );
        assert_eq!(
            read(json!({"status": "Accepted"})),
            OperationStatus::InProgress
        );
        assert_eq!(read(json!({})), OperationStatus::InProgress);
        assert_eq!(
            read(json!({"status": "Succeeded"})),
            OperationStatus::Succeeded
        );
        assert_eq!(
            read(json!({"status": "Canceled"})),
            OperationStatus::Canceled
        );
        assert_eq!(
            read(
                json!({"status": "Failed", "error": {"code": "ContainerAppOperationError", "message": "bad image"}})
            ),
            OperationStatus::Failed {
                code: "ContainerAppOperationError".into(),
                message: "bad image".into()
            }
        );
        assert!(matches!(
            read(json!({"status": "Failed"})),
            OperationStatus::Failed { code, .. } if code == "Failed"
        ));
    }

    #[test]
    fn a_recorded_operation_is_done_unless_running_or_failed() {
        assert_eq!(Recorded::of(OperationStatus::InProgress), Recorded::Running);
        assert_eq!(Recorded::of(OperationStatus::Succeeded), Recorded::Done);
        assert_eq!(Recorded::of(OperationStatus::Canceled), Recorded::Done);
        let failed = |code: &str| OperationStatus::Failed {
            code: code.into(),
            message: "m".into(),
        };
        assert_eq!(Recorded::of(failed("OperationNotFound")), Recorded::Done);
        assert_eq!(
            Recorded::of(failed("InaccessibleImage")),
            Recorded::Failed {
                code: "InaccessibleImage".into(),
                message: "m".into()
            }
        );
    }

    proptest! {
        #[test]
        fn any_operation_survives_encoding(
            delete in any::<bool>(),
            location in any::<bool>(),
            https in any::<bool>(),
            rest in "[ -~]{0,200}",
        ) {
            let kind = if location { OperationKind::Location } else { OperationKind::AsyncOperation };
            let scheme = if https { "https" } else { "http" };
            let operation = Operation::new(kind, delete, format!("{scheme}://{rest}"));
            prop_assert_eq!(Operation::decode(&operation.encode()), Some(operation));
        }

        #[test]
        fn strings_without_the_prefix_never_decode(s in "[ -~]{0,100}") {
            prop_assume!(!s.starts_with(PREFIX));
            prop_assert_eq!(Operation::decode(&s), None);
        }
    }
}
