//! Helpers: Cloud Run specs from inline YAML (validated by the testkit's `builders`, as the
//! controller validates them), their requests, and the Service Cloud Run would describe once it
//! holds exactly those.

use std::path::PathBuf;

use ferry_api::CloudRunProviderConfig;
use ferry_core::desired::Desired;
use ferry_provider_cloudrun::build::{self, Requests};
use ferry_testkit::builders::{self, simple_spec};
// What every builder test shares, from the testkit, under the names the tests use.
pub(crate) use ferry_testkit::builders::{UID, json, serverless_service};

/// The desired model of `svc`, validated by this backend's rules.
pub(crate) fn desired_of(svc: &ferry_api::ServerlessService) -> ferry_core::desired::Desired {
    ferry_testkit::builders::desired_of(svc, &ferry_provider_cloudrun::CloudRun)
}

/// The desired model for `spec` (YAML), validated by this backend's rules.
pub(crate) fn desired(spec: &str) -> ferry_core::desired::Desired {
    ferry_testkit::builders::desired(spec, &ferry_provider_cloudrun::CloudRun)
}
use google_cloud_run_v2::model::{self, Condition, condition};
use google_cloud_wkt::{Duration, Timestamp};
use serde_json::Value;

/// The ProviderConfig of deploy/examples/providerconfig-gcp.yaml.
pub(crate) const GCP_PROD: &str = "gcp-prod";
/// The project's default compute service account, which Cloud Run runs revisions as unless
/// told otherwise.
pub(crate) const DEFAULT_SERVICE_ACCOUNT: &str =
    "123456789012-compute@developer.gserviceaccount.com";

pub(crate) fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A single-container Cloud Run spec with `extra` spec fields (YAML, no braces) and the
/// container fields `container` added to `name: app, image: ..., port: 8080`.
pub(crate) fn simple(container: &str, extra: &str) -> String {
    simple_spec(
        "cloudRun",
        "europe-docker.pkg.dev/acme-prod/apps/hello:1.4.2",
        container,
        extra,
    )
}

/// `spec.cloudRun` of the ProviderConfig `gcp-prod` in deploy/examples/providerconfig-gcp.yaml.
pub(crate) fn example_provider_config() -> CloudRunProviderConfig {
    builders::example_provider_config("providerconfig-gcp.yaml", GCP_PROD, |spec| spec.cloud_run)
}

/// The requests for `desired` under the example ProviderConfig.
pub(crate) fn requests_for(desired: &Desired) -> Requests {
    build::requests(desired, &example_provider_config())
        .unwrap_or_else(|e| panic!("no requests: {e}"))
}

/// The requests for `spec` under the example ProviderConfig.
pub(crate) fn requests(spec: &str) -> Requests {
    requests_for(&desired(spec))
}

/// The Service as sent, as JSON.
pub(crate) fn sent(requests: &Requests) -> Value {
    json(&requests.service)
}

fn timestamp(seconds: i64) -> Timestamp {
    Timestamp::clamp(seconds, 0)
}

fn succeeded(type_: &str) -> Condition {
    Condition::new()
        .set_type(type_)
        .set_state(condition::State::ConditionSucceeded)
        .set_last_transition_time(timestamp(1_760_000_300))
}

/// The revision Cloud Run made from the template in `requests`.
pub(crate) fn revision_id(requests: &Requests) -> String {
    format!("{}-00003-xk2", requests.service_id)
}

/// What Cloud Run describes once it holds exactly `requests` and has finished rolling out its
/// third generation: every output-only field filled in, and Cloud Run's defaults written into
/// what Ferry left out (CPU in millicores, 512Mi, a TCP startup probe, 100 instances at most,
/// a 300 s timeout, concurrency 80, the default service account, launch stage GA).
pub(crate) fn mirror(requests: &Requests) -> model::Service {
    let mut s = requests.service.clone();
    let revision = revision_id(requests);
    s.uid = "0d3c5b4e-8a1f-4f7e-9c2b-6a5d4e3f2a1b".into();
    s.generation = 3;
    s.observed_generation = 3;
    s.etag = "\"CLXH0MkGEJCBr5kD/cHJvamVjdHMvYWNtZS1wcm9k\"".into();
    s.create_time = Some(timestamp(1_760_000_000));
    s.update_time = Some(timestamp(1_760_000_200));
    s.creator = "ferry@acme-prod.iam.gserviceaccount.com".into();
    s.last_modifier = s.creator.clone();
    s.uri = format!("https://{}-4xkq2mzvda-ew.a.run.app", requests.service_id);
    s.urls = vec![
        s.uri.clone(),
        format!(
            "https://{}-123456789012.europe-west1.run.app",
            requests.service_id
        ),
    ];
    s.latest_ready_revision = format!("{}/revisions/{revision}", requests.name);
    s.latest_created_revision = s.latest_ready_revision.clone();
    s.reconciling = false;
    s.terminal_condition = Some(succeeded("Ready"));
    s.conditions = vec![succeeded("RoutesReady"), succeeded("ConfigurationsReady")];
    s.traffic_statuses = s
        .traffic
        .iter()
        .map(|t| {
            model::TrafficTargetStatus::new()
                .set_type(t.r#type.clone())
                .set_revision(t.revision.clone())
                .set_percent(t.percent)
                .set_tag(t.tag.clone())
        })
        .collect();
    if s.launch_stage == google_cloud_run_v2::model::Service::new().launch_stage {
        s.launch_stage = "GA".into();
    }
    let template = s.template.as_mut().unwrap();
    template.revision = revision;
    if template.service_account.is_empty() {
        template.service_account = DEFAULT_SERVICE_ACCOUNT.into();
    }
    template.timeout.get_or_insert(Duration::clamp(300, 0));
    if template.max_instance_request_concurrency == 0 {
        template.max_instance_request_concurrency = 80;
    }
    let scaling = template.scaling.get_or_insert_default();
    if scaling.max_instance_count == 0 {
        scaling.max_instance_count = 100;
    }
    for container in &mut template.containers {
        defaults(container);
    }
    s
}

/// Cloud Run's defaults in one container.
fn defaults(c: &mut model::Container) {
    let limits = &mut c.resources.get_or_insert_default().limits;
    let cpu = limits.entry("cpu".into()).or_insert_with(|| "1".into());
    if !cpu.ends_with('m') {
        *cpu = format!("{}m", cpu.parse::<u64>().unwrap() * 1000);
    }
    limits
        .entry("memory".into())
        .or_insert_with(|| "512Mi".into());
    if let Some(port) = c.ports.first().map(|p| p.container_port)
        && c.startup_probe.is_none()
    {
        c.startup_probe = Some(
            model::Probe::new()
                .set_tcp_socket(model::TCPSocketAction::new().set_port(port))
                .set_timeout_seconds(240)
                .set_period_seconds(240)
                .set_failure_threshold(1),
        );
    }
    for probe in [
        &mut c.startup_probe,
        &mut c.liveness_probe,
        &mut c.readiness_probe,
    ]
    .into_iter()
    .flatten()
    {
        for (field, default) in [
            (&mut probe.timeout_seconds, 1),
            (&mut probe.period_seconds, 10),
            (&mut probe.failure_threshold, 3),
        ] {
            if *field == 0 {
                *field = default;
            }
        }
    }
}
