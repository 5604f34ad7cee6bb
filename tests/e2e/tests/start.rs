//! Starting the operator as a new user would, from a shell with a kubeconfig: a mistake in how
//! it is started is reported in one line that says what to do.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

use std::time::Duration;

use e2e::{Cluster, Ferry};

#[tokio::test(flavor = "multi_thread")]
async fn an_operator_namespace_that_does_not_exist_is_named_with_what_to_do() {
    let cluster = Cluster::shared().unwrap();
    cluster.install_crds().await.unwrap();
    let missing = format!(
        "e2e-missing-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..6]
    );
    // The old spelling of --operator-namespace, which the harness reads to run the operator as
    // the service account of that namespace.
    let args = [
        "controller",
        "--lease-namespace",
        &missing,
        "--metrics-address",
        "127.0.0.1:0",
    ];
    let mut operator = Ferry::spawn(cluster, &args).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while operator.is_running() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "still running:\n{}",
            operator.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let logs = operator.logs();
    let line = logs
        .lines()
        .find(|l| l.contains("does not exist"))
        .unwrap_or_else(|| panic!("no line names the namespace:\n{logs}"));
    assert!(
        line.contains(&format!("kubectl create namespace {missing}"))
            && line.contains("--operator-namespace"),
        "{line}"
    );
    assert!(
        !logs.contains("ErrorResponse"),
        "no raw API error dump:\n{logs}"
    );
}
