//! Starting, resetting and stopping moto.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use ferry_testkit::launch;
use moto_standin::{Error, INSTALL_HINT, Moto, Options};

use crate::support::{Aws, rollout};

#[tokio::test]
async fn zero_rollout_describes_finish_rollouts_at_once_and_reset_forgets_everything() {
    let moto = Moto::start_with(Options {
        rollout_describes: 0,
        ..Options::default()
    })
    .await
    .unwrap();
    let aws = Aws::of(&moto, RetryConfig::disabled(), TimeoutConfig::disabled()).await;
    let task_definition = aws.cluster_and_task_definition("instant", "nginx:1").await;
    let created = aws
        .create_service("instant", "web", &task_definition, 2)
        .await;
    assert_eq!(rollout(&created), ("COMPLETED", 2));

    moto.reset().await.unwrap();
    let clusters = aws.ecs.list_clusters().send().await.unwrap();
    assert_eq!(clusters.cluster_arns(), [] as [String; 0]);
}

#[tokio::test]
async fn missing_python_says_how_to_install_moto() {
    let error = Moto::start_with(Options {
        python: Some("/nonexistent/python3".to_owned()),
        ..Options::default()
    })
    .await
    .unwrap_err();
    assert!(
        matches!(error, Error::Launch(launch::Error::Spawn { .. })),
        "{error:?}"
    );
    assert!(error.to_string().contains(INSTALL_HINT), "{error}");
}

#[test]
fn launcher_exits_when_its_parent_dies() {
    let launcher = concat!(env!("CARGO_MANIFEST_DIR"), "/launcher.py");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // The interpreter that has moto, so the launcher gets as far as serving.
    let python = ferry_testkit::python::interpreter("FERRY_MOTO_PYTHON").unwrap();
    // The shell starts the launcher, says its pid, and dies a little later. The launcher's
    // output goes elsewhere, or reading the shell's would wait for the launcher to end.
    let script = r#""$0" "$1" --port "$2" >/dev/null 2>&1 & echo $!; sleep 1.5"#;
    let output = Command::new("sh")
        .args(["-c", script])
        .arg(&python)
        .arg(launcher)
        .arg(port.to_string())
        .stderr(Stdio::null())
        .output()
        .unwrap();
    let pid: u32 = String::from_utf8(output.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap();

    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(pid) {
        assert!(
            Instant::now() < deadline,
            "launcher {pid} outlived its parent"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Whether the process runs (a zombie waiting for a reaper has finished).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z'))
    })
}
