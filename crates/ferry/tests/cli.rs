//! The `ferry` binary as users run it: examples validate, every invalid fixture is refused with
//! a message naming its field, and the generated files in the repository are current.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn ferry(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("ferry runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn yaml_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

fn relative(path: &Path) -> String {
    path.strip_prefix(root()).unwrap().display().to_string()
}

#[test]
fn every_example_validates() {
    let examples = yaml_files("deploy/examples");
    assert!(
        examples.len() >= 5,
        "one ServerlessService per provider and a ProviderConfig per cloud"
    );
    for example in examples {
        let file = relative(&example);
        let out = ferry(&["validate", "-f", &file]);
        let text = stdout(&out);
        assert!(out.status.success(), "{file} is not valid:\n{text}");
        assert!(
            text.contains(": valid") && !text.contains("error:"),
            "{file}:\n{text}"
        );
    }
}

#[test]
fn examples_cover_every_provider_and_cloud() {
    let all: String = yaml_files("deploy/examples")
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    for needle in [
        "provider: knative",
        "provider: fargate",
        "provider: cloudRun",
        "kind: ProviderConfig\nmetadata:\n  name: aws-prod\nspec:\n  fargate:",
        "kind: ProviderConfig\nmetadata:\n  name: gcp-prod\nspec:\n  cloudRun:",
    ] {
        assert!(all.contains(needle), "no example has {needle:?}");
    }
}

/// Each fixture says, in its first lines, what must be reported and who refuses it:
/// `# expect: FIELD: MESSAGE` and `# refused-by: schema | ferry | yaml`.
#[test]
fn every_invalid_fixture_is_refused_naming_its_field() {
    let fixtures = yaml_files("tests/fixtures/invalid");
    assert!(
        fixtures.len() >= 25,
        "the issue asks for at least 25; found {}",
        fixtures.len()
    );
    for fixture in fixtures {
        let file = relative(&fixture);
        let text = std::fs::read_to_string(&fixture).unwrap();
        let header = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("# {key}: ")))
                .unwrap_or_else(|| panic!("{file} has no `# {key}:` line"))
                .to_owned()
        };
        let (expect, refused_by) = (header("expect"), header("refused-by"));
        let out = ferry(&["validate", "-f", &file]);
        let report = stdout(&out);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{file} should exit 1:\n{report}"
        );
        let line = report
            .lines()
            .find(|l| l.contains(&expect))
            .unwrap_or_else(|| panic!("{file}: no line contains {expect:?}:\n{report}"));
        let who = match refused_by.as_str() {
            "schema" => "(refused by the API server)",
            "ferry" => "(refused by Ferry)",
            "yaml" => "not valid YAML",
            other => panic!("{file}: unknown refused-by {other}"),
        };
        assert!(line.contains(who), "{file}: expected {who} in {line:?}");
        assert!(
            line.starts_with(&format!("{file}:"))
                && line[file.len() + 1..].starts_with(|c: char| c.is_ascii_digit() && c != '0'),
            "{file}: the message should start with FILE:LINE: {line:?}"
        );
    }
}

#[test]
fn committed_crds_are_exactly_what_ferry_crd_prints() {
    let dir = root().join("crds");
    let mut concatenated = String::new();
    let mut expected_files = Vec::new();
    for crd in ferry_api::crds() {
        let name = ferry::render::crd_file_name(&crd);
        let committed = std::fs::read_to_string(dir.join(&name))
            .unwrap_or_else(|e| panic!("crds/{name}: {e}; run `ferry crd --dir crds`"));
        let generated = ferry::render::crd_yaml(&crd).unwrap();
        assert!(
            committed == generated,
            "crds/{name} differs from `ferry crd`: do not edit it by hand; run `ferry crd --dir crds`"
        );
        expected_files.push(name);
    }
    expected_files.sort();
    let found: Vec<String> = yaml_files("crds")
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        found, expected_files,
        "crds/ holds exactly the generated files"
    );
    for name in &found {
        concatenated.push_str(&std::fs::read_to_string(dir.join(name)).unwrap());
    }
    let out = ferry(&["crd"]);
    assert!(out.status.success());
    assert!(
        stdout(&out) == concatenated,
        "`cat crds/*.yaml` differs from `ferry crd`"
    );
}

#[test]
fn crd_dir_writes_the_committed_files() {
    let tmp = std::env::temp_dir().join(format!("ferry-crd-{}", std::process::id()));
    let out = ferry(&["crd", "--dir", tmp.to_str().unwrap()]);
    assert!(out.status.success());
    for crd in ferry_api::crds() {
        let name = ferry::render::crd_file_name(&crd);
        let written = std::fs::read_to_string(tmp.join(&name)).unwrap();
        let committed = std::fs::read_to_string(root().join("crds").join(&name)).unwrap();
        assert!(
            written == committed,
            "`ferry crd --dir` wrote a different {name}"
        );
    }
    std::fs::remove_dir_all(tmp).unwrap();
}

#[test]
fn generated_docs_are_current() {
    for (file, generated, command) in [
        (
            "docs/capabilities.md",
            ferry::render::capabilities_markdown(ferry::backends::registry().unwrap().catalog()),
            "ferry capabilities --output markdown",
        ),
        (
            "docs/reasons.md",
            ferry::render::reasons_markdown(),
            "ferry reasons --output markdown",
        ),
    ] {
        let committed = std::fs::read_to_string(root().join(file)).unwrap_or_default();
        assert!(
            committed == generated,
            "{file} is stale: run `{command} > {file}`"
        );
    }
}

#[test]
fn validate_reads_directories_and_standard_input() {
    let out = ferry(&["validate", "-f", "deploy/examples"]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert_eq!(
        stdout(&out).matches(": valid").count(),
        yaml_files("deploy/examples").len()
    );

    let mut child = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["validate", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let text =
        std::fs::read(root().join("tests/fixtures/invalid/fargate-three-vcpu.yaml")).unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), &text).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).starts_with("-:14: error:"), "{}", stdout(&out));
}

#[test]
fn validate_skips_documents_that_are_not_ferry_resources() {
    let tmp = std::env::temp_dir().join(format!("ferry-mixed-{}.yaml", std::process::id()));
    let example =
        std::fs::read_to_string(root().join("deploy/examples/knative-hello.yaml")).unwrap();
    std::fs::write(
        &tmp,
        format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: shop}}\n---\n{example}"),
    )
    .unwrap();
    let out = ferry(&["validate", "-f", tmp.to_str().unwrap()]);
    std::fs::remove_file(&tmp).unwrap();
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("Namespace shop: skipped"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn validate_json_output_has_every_message_with_its_line() {
    let out = ferry(&[
        "validate",
        "-f",
        "tests/fixtures/invalid/fargate-sidecars-add-up.yaml",
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let reports: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let message = &reports[0]["documents"][0]["messages"][0];
    assert_eq!(message["field"], "spec.containers");
    assert_eq!(message["source"], "ferry");
    assert_eq!(message["severity"], "error");
    assert!(message["line"].as_u64().unwrap() > 1);
}

#[test]
fn missing_files_are_errors_not_panics() {
    let out = ferry(&["validate", "-f", "no/such/file.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("cannot read"), "{}", stdout(&out));
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(ferry(&["validate"]).status.code(), Some(2));
    assert_eq!(ferry(&["render"]).status.code(), Some(2));
    let out = ferry(&["controller", "--resync-interval", "soon"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--resync-interval"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn capabilities_prints_the_table() {
    let out = ferry(&["capabilities"]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.starts_with("FIELD"));
    assert!(text.contains("spec.concurrency"));
    let fargate = stdout(&ferry(&["capabilities", "--provider", "fargate"]));
    assert!(fargate.contains("Fargate (fargate):") && !fargate.contains("Knative (knative):"));
    let json: serde_json::Value =
        serde_json::from_slice(&ferry(&["capabilities", "-o", "json"]).stdout).unwrap();
    assert_eq!(
        json.as_array().unwrap().len(),
        ferry_core::capabilities::table(ferry::backends::registry().unwrap().catalog()).len()
    );
}

#[test]
fn render_prints_the_knative_service_ferry_would_apply() {
    let out = ferry(&["render", "-f", "deploy/examples/knative-hello.yaml"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rendered: serde_json::Value = serde_saphyr::from_str(&stdout(&out)).unwrap();
    // The builder's own snapshot of the same example.
    let snapshot = std::fs::read_to_string(
        root().join("crates/provider-knative/tests/snapshots/knative-hello.yaml"),
    )
    .unwrap();
    let snapshot: serde_json::Value = serde_saphyr::from_str(&snapshot).unwrap();
    assert_eq!(rendered, snapshot);
}

#[test]
fn render_prints_the_job_of_a_run_or_the_cron_job_of_a_schedule() {
    let out = ferry(&["render", "-f", "deploy/examples/kubernetes-job.yaml"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    assert!(
        text.contains("the Job of its run for generation 1"),
        "{text}"
    );
    let job: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    assert_eq!(job["kind"], "Job");
    assert_eq!(job["metadata"]["name"], "report-1");
    assert_eq!(job["spec"]["completions"], 4);
    assert_eq!(job["spec"]["parallelism"], 2);

    let out = ferry(&["render", "-f", "deploy/examples/kubernetes-cronjob.yaml"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cron_job: serde_json::Value = serde_saphyr::from_str(&stdout(&out)).unwrap();
    assert_eq!(cron_job["kind"], "CronJob");
    assert_eq!(cron_job["spec"]["schedule"], "0 3 * * *");
    assert_eq!(cron_job["spec"]["timeZone"], "Europe/Berlin");
}

#[test]
fn render_refuses_invalid_specs() {
    let out = ferry(&[
        "render",
        "-f",
        "tests/fixtures/invalid/knative-gpu-type.yaml",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("spec.containers: Knative does not support resources.gpu.type"),
        "{stderr}"
    );
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
}

/// The JSON document of `ferry render` output that holds one provider's requests.
fn rendered_json(text: &str) -> serde_json::Value {
    let json = text
        .lines()
        .filter(|l| !l.starts_with('#') && *l != "---")
        .collect::<Vec<_>>()
        .join("\n");
    serde_json::from_str(&json).unwrap()
}

#[test]
fn render_prints_the_cloud_run_service_as_json() {
    let out = ferry(&[
        "render",
        "-f",
        "deploy/examples/cloudrun-hello.yaml",
        "-f",
        "deploy/examples/providerconfig-gcp.yaml",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rendered = rendered_json(&stdout(&out));
    let create = &rendered["createService"];
    let image = &create["service"]["template"]["containers"][0]["image"];
    assert!(image.is_string(), "{rendered}");
    assert!(
        create["parent"].as_str().unwrap().starts_with("projects/"),
        "{rendered}"
    );
}

#[test]
fn render_prints_the_fargate_requests_as_json_with_the_provider_config_given() {
    let out = ferry(&[
        "render",
        "-f",
        "deploy/examples/fargate-hello.yaml",
        "-f",
        "deploy/examples/providerconfig-aws.yaml",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rendered = rendered_json(&stdout(&out));
    assert_eq!(rendered["registerTaskDefinition"]["family"], "shop_hello");
    assert_eq!(rendered["createService"]["cluster"], "prod");
    assert_eq!(
        rendered["createService"]["networkConfiguration"]["awsvpcConfiguration"]["subnets"][0],
        "subnet-0a1b2c3d4e5f60718"
    );
    assert_eq!(
        rendered["registerScalableTarget"]["ResourceId"],
        "service/prod/shop_hello"
    );
    assert_eq!(
        rendered["putScalingPolicy"]["TargetTrackingScalingPolicyConfiguration"]["TargetValue"],
        60.0
    );

    // Without the ProviderConfig the account's values are placeholders, and the output says so.
    let out = ferry(&["render", "-f", "deploy/examples/fargate-hello.yaml"]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(
        text.contains("ProviderConfig aws-prod is not in the files given"),
        "{text}"
    );
    assert!(
        text.contains("<cluster of ProviderConfig aws-prod>"),
        "{text}"
    );
}

#[test]
fn the_controller_without_a_cluster_exits_1_saying_why() {
    let out = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["controller", "--no-leader-election"])
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .env("HOME", "/nonexistent")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("KUBERNETES_SERVICE_PORT")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("kube"), "{stderr}");
}

/// Removes its file when dropped.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A file of this test process in the temporary directory, removed when the guard goes.
fn temp_file(name: &str, text: &str) -> (TempFile, String) {
    let path = std::env::temp_dir().join(format!("ferry-{}-{name}", std::process::id()));
    std::fs::write(&path, text).unwrap();
    let shown = path.display().to_string();
    (TempFile(path), shown)
}

#[test]
fn cost_compares_every_provider_side_by_side_and_marks_the_cheapest() {
    let out = ferry(&[
        "cost",
        "-f",
        "deploy/examples/fargate-hello.yaml",
        "-f",
        "deploy/examples/providerconfig-aws.yaml",
    ]);
    let text = stdout(&out);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table: Vec<&str> = text.lines().skip(2).take(8).collect();
    assert_eq!(
        table[0],
        "PROVIDER             MONTHLY  COMPUTE  MEMORY  STORAGE  REQUESTS  IDLE MIN  FREE TIER"
    );
    assert!(
        table[1].starts_with("Knative                    -"),
        "{text}"
    );
    // 2 ARM64 Spot tasks of 1 vCPU, 2 GiB: 2 x (0.03238 + 2 x 0.00356) x 730 x 0.3 = $17.30.
    assert!(
        table[2].starts_with("Fargate *              17.30"),
        "{text}"
    );
    assert!(table[3].starts_with("Cloud Run "), "{text}");
    assert!(table[4].starts_with("Container Apps "), "{text}");
    assert!(table[5].starts_with("Container Instances "), "{text}");
    assert!(table[6].starts_with("Kubernetes "), "{text}");
    assert_eq!(table[7], "* cheapest");
    for line in [
        "Knative:             no node price given: pass --prices FILE with knative prices",
        "Fargate:             2 tasks x 1 vCPU, 2Gi, 730 h (minInstances 2), Linux/ARM64, Spot 70% off",
        "Cloud Run:           request-based: 1,000,000 busy instance-s (10,000,000 requests x 100 ms",
        "Container Apps:      consumption: 1,000,000 busy replica-s",
        "Container Instances: 1 container group x 1 vCPU, 2Gi, 730 h, Linux",
        "Kubernetes:          no node price given: pass --prices FILE with kubernetes prices",
        "Traffic: 10,000,000 requests a month (default; --requests-per-month), 100 ms each \
         (default; --avg-duration-ms)",
        "  Fargate us-east-1 linux-arm: https://aws.amazon.com/fargate/pricing/ (read ",
        "Not included: load balancers, data transfer, NAT gateways",
    ] {
        assert!(text.contains(line), "no {line:?} in\n{text}");
    }
}

/// The seed's scenario through the command line (its exact inputs are not known; these are
/// chosen as in ferry-core's `the_seeds_comparison_with_correct_prices`): Cloud Run at
/// 1,000,000 busy instance-s x ($0.000024 + 2 x $0.0000025) + 5 x $0.40 = $31.00, Fargate one
/// task, 730 h x ($0.04048 + 2 x $0.004445) = $36.04.
#[test]
fn cost_takes_the_traffic_from_flags_and_prints_json() {
    let (_guard, file) = temp_file(
        "seed.yaml",
        "apiVersion: ferry.dev/v1alpha1\nkind: ServerlessService\nmetadata: {name: seed, namespace: shop}\n\
         spec:\n  provider: cloudRun\n  containers:\n  - {name: app, image: ghcr.io/acme/seed:1, port: 8080, \
         resources: {cpu: \"1\", memory: 2Gi}}\n",
    );
    let out = ferry(&[
        "cost",
        "-f",
        &file,
        "--requests-per-month",
        "5000000",
        "--avg-duration-ms",
        "200",
        "--mean-concurrency",
        "1",
        "--no-free-tier",
        "-o",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let service = &json[0];
    assert_eq!(service["object"], "shop/seed");
    assert_eq!(service["provider"], "cloudRun");
    assert_eq!(service["traffic"]["requestsPerMonth"], 5_000_000);
    assert_eq!(service["traffic"]["avgDurationMs"], 200);
    assert_eq!(service["traffic"]["meanConcurrency"], 1.0);
    assert_eq!(service["traffic"]["freeTier"], false);
    let by = |p: &str| {
        service["estimates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["provider"] == p)
            .unwrap()
            .clone()
    };
    let run = by("cloudRun");
    assert_eq!(run["monthlyUsd"], "31.00");
    assert_eq!(run["breakdown"]["compute"], "24.00");
    assert_eq!(run["cheapest"], true);
    assert_eq!(by("fargate")["monthlyUsd"], "36.04");
    assert!(by("knative")["unavailable"].is_string());
}

/// Mounted storage is billed by its storage service, which the estimate says rather than
/// prices; a column whose provider cannot mount a volume says so instead of pricing it silently.
#[test]
fn cost_says_mounted_storage_is_billed_by_its_service() {
    let (_guard, file) = temp_file(
        "efs.yaml",
        "apiVersion: ferry.dev/v1alpha1\nkind: ServerlessService\nmetadata: {name: files, namespace: shop}\n\
         spec:\n  provider: fargate\n  volumes:\n  - {name: data, efs: {fileSystemId: fs-0123456789abcdef0}}\n\
         \x20 - {name: scratch, emptyDir: {}}\n  containers:\n  - name: app\n    image: ghcr.io/acme/files:1\n\
         \x20   port: 8080\n    resources: {cpu: \"1\", memory: 2Gi}\n\
         \x20   volumeMounts: [{name: data, mountPath: /data}, {name: scratch, mountPath: /tmp/work}]\n",
    );
    let out = ferry(&["cost", "-f", &file, "-o", "json"]);
    assert!(
        out.status.success(),
        "{}{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let by = |p: &str| {
        json[0]["estimates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["provider"] == p)
            .unwrap()["assumptions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let fargate = by("fargate");
    assert!(
        fargate.contains(
            &"mounted storage is billed by its own service and is not in this estimate: Amazon EFS"
                .to_owned()
        ),
        "{fargate:?}"
    );
    let cloud_run = by("cloudRun");
    assert!(
        cloud_run.iter().any(|a| a
            .starts_with("spec.volumes[0] (efs): Cloud Run cannot mount it (")
            && a.ends_with("); not priced")),
        "{cloud_run:?}"
    );
    assert!(
        !cloud_run.iter().any(|a| a.contains("spec.volumes[1]")),
        "an emptyDir is part of the instance: {cloud_run:?}"
    );
}

#[test]
fn cost_prices_knative_with_the_users_node_price() {
    let (_guard, prices) = temp_file(
        "knative-prices.yaml",
        "knative:\n- {region: prod, option: nodes, vcpuHour: 0.03, gbHour: 0.004, source: our invoice, \
         read: 2026-11-01}\n",
    );
    // The example scales to zero: 1,000,000 busy pod-s x 0.5 vCPU x $0.03 / 3600 = $4.17, and
    // x 0.25 GB x $0.004 / 3600 = $0.28: $4.45.
    let out = ferry(&[
        "cost",
        "-f",
        "deploy/examples/knative-hello.yaml",
        "--prices",
        &prices,
        "-o",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let knative = &json[0]["estimates"][0];
    assert_eq!(knative["provider"], "knative");
    assert_eq!(knative["monthlyUsd"], "4.45");
    assert_eq!(knative["prices"][0]["source"], "our invoice");
}

#[test]
fn cost_refuses_invalid_specs_bad_price_tables_and_files_without_a_service() {
    let out = ferry(&[
        "cost",
        "-f",
        "tests/fixtures/invalid/fargate-three-vcpu.yaml",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("spec.containers[0].resources.cpu"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout(&out).is_empty());

    let (_guard, prices) = temp_file(
        "bad-prices.yaml",
        "fargate:\n- {region: us-east-1, option: linux-x86, vcpuHour: -1, gbHour: 0.004, read: 2026-11-01}\n",
    );
    let out = ferry(&[
        "cost",
        "-f",
        "deploy/examples/knative-hello.yaml",
        "--prices",
        &prices,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("fargate[0].vcpuHour: must be a number of 0 or more; got -1")
            && stderr.contains("fargate[0].source: required"),
        "{stderr}"
    );

    let out = ferry(&["cost", "-f", "deploy/examples/providerconfig-aws.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("no ServerlessService or ServerlessJob in the files given")
    );

    assert_eq!(ferry(&["cost"]).status.code(), Some(2));
    let out = ferry(&[
        "cost",
        "-f",
        "deploy/examples/knative-hello.yaml",
        "--avg-duration-ms",
        "0",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_readmes_cost_example_is_what_ferry_cost_prints() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let block = readme
        .split("```sh\nferry cost ")
        .nth(1)
        .and_then(|rest| rest.split("\n```").next())
        .expect("README has a `ferry cost` example");
    let mut lines = block.lines();
    let args: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    let out = ferry(&[&["cost"], args.as_slice()].concat());
    assert!(out.status.success());
    let text = stdout(&out);
    for line in lines.filter_map(|l| l.strip_prefix("# ")) {
        if line.starts_with("...") {
            continue;
        }
        let shown = line.trim_end_matches("...").trim_end_matches(", ");
        assert!(
            text.lines().any(|l| l.starts_with(shown)),
            "README shows {shown:?}; ferry cost prints:\n{text}"
        );
    }
}
