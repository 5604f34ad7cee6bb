//! `ferry`: run serverless containers on Knative, AWS Fargate or Google Cloud Run from
//! Kubernetes.

use std::process::ExitCode;

fn main() -> ExitCode {
    ferry::cli::main()
}
