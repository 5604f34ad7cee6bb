//! What `ferry render` prints for the example (under its ProviderConfig) and a few richer specs,
//! compared with the committed JSON in `tests/snapshots/` (`FERRY_BLESS=1` rewrites them), each
//! body checked against the definitions; and the render without a ProviderConfig.

use ferry_provider::backend::Backend;
use ferry_provider_containerapps::ContainerApps;
use ferry_testkit::Snapshots;
use ferry_testkit::builders::{desired_of, named_service};
use serde_json::Value;

use crate::common::{assert_valid_body, crate_dir, example};

fn cases() -> Vec<(String, ferry_api::ServerlessService)> {
    let (hello, _) = example();
    vec![
        ("containerapps-hello".into(), hello),
        (
            "sidecar-cpu-internal".into(),
            named_service(
                Some("payments"),
                "checkout",
                Some("3f0e8a4c-5b6d-4e7f-8a9b-0c1d2e3f4a5b"),
                "{provider: containerApps, \
                  containers: [\
                   {name: app, image: 'ghcr.io/acme/checkout:3.2.0', port: 8080, \
                    command: [/checkout], args: [serve], \
                    env: [{name: LOG_LEVEL, value: info}], \
                    resources: {cpu: '1.5', memory: 3Gi}, \
                    probes: {startup: {httpGet: {path: /started}, periodSeconds: 2, failureThreshold: 10}, \
                             liveness: {tcpSocket: {}, periodSeconds: 30}}}, \
                   {name: collector, image: 'otel/opentelemetry-collector-contrib:0.110.0', \
                    resources: {cpu: '0.5', memory: 1Gi}}], \
                  concurrency: 100, ingress: internal, \
                  scaling: {minInstances: 2, maxInstances: 40, metric: cpu, target: 60}, \
                  containerApps: {resourceGroup: payments-rg, transport: http2}}",
            ),
        ),
    ]
}

fn rendered(svc: &ferry_api::ServerlessService) -> (String, Value) {
    let (_, config) = example();
    let want = desired_of(svc, &ContainerApps);
    let r = ContainerApps
        .render(&want, "azure-prod", Some(&config.spec))
        .unwrap();
    let json: Value = serde_json::from_str(&r.body).unwrap();
    (format!("{}\n", r.body), json)
}

#[tokio::test]
async fn rendered_requests_match_the_snapshots_and_the_definitions() {
    let mut snapshots = Vec::new();
    for (name, svc) in cases() {
        let (text, json) = rendered(&svc);
        assert_eq!(json["method"], "PUT");
        assert!(
            json["path"]
                .as_str()
                .unwrap()
                .ends_with("?api-version=2026-01-01"),
            "{}",
            json["path"]
        );
        assert_valid_body(&json["body"]).await;
        snapshots.push((name, text));
    }
    Snapshots {
        dir: crate_dir().join("tests/snapshots"),
        extension: "json",
        bless_command: "FERRY_BLESS=1 cargo test -p ferry-provider-containerapps --test build",
    }
    .compare(snapshots);
}

#[test]
fn without_the_provider_config_the_render_says_what_stands_in() {
    let (svc, _) = example();
    let want = desired_of(&svc, &ContainerApps);
    let r = ContainerApps.render(&want, "azure-prod", None).unwrap();
    assert!(
        r.comment
            .contains("ProviderConfig azure-prod is not in the files given"),
        "{}",
        r.comment
    );
    let json: Value = serde_json::from_str(&r.body).unwrap();
    assert!(
        json["path"]
            .as_str()
            .unwrap()
            .starts_with("/subscriptions/<subscriptionId of ProviderConfig azure-prod>/"),
        "{}",
        json["path"]
    );
    // The copied secret's value is never read by render.
    assert_eq!(
        json["body"]["properties"]["configuration"]["secrets"][1]["value"],
        "<key key of Secret shop/hello-api, copied when Ferry sends it>"
    );
}
