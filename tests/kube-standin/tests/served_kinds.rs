//! The kinds the e2e suite needs besides the operator's own: HorizontalPodAutoscalers,
//! Ingresses, IngressClasses and Pods (whose status a test writes as the kubelet would), each
//! checked against its Kubernetes schema, and the upstream VerticalPodAutoscaler CRD loaded
//! from `tests/fixtures/vpa`. Checked through a real `kube::Client` and k8s-openapi's types.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

use std::path::PathBuf;

use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec,
};
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressClass, IngressClassSpec,
    IngressRule, IngressServiceBackend, IngressSpec, ServiceBackendPort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::{DynamicObject, GroupVersionKind, Status};
use kube::discovery::{ApiResource, Discovery, Scope};
use kube::{Client, ResourceExt};
use kube_standin::{Config, StandIn};
use serde_json::{Value, json};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

async fn start(config: Config) -> (StandIn, Client) {
    let standin = StandIn::start(config).await.unwrap();
    let kubeconfig = Kubeconfig::from_yaml(&standin.kubeconfig()).unwrap();
    let client_config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .unwrap();
    (standin, Client::try_from(client_config).unwrap())
}

fn api_error(e: kube::Error) -> Status {
    match e {
        kube::Error::Api(status) => *status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn meta(name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        ..ObjectMeta::default()
    }
}

/// POSTs `body` with `fieldValidation=Strict`, as `kubectl create` does (kube's `PostParams`
/// cannot ask for it), and returns the refusal.
async fn create_strictly(client: &Client, collection: &str, body: &Value) -> Status {
    let request = http::Request::post(format!("{collection}?fieldValidation=Strict"))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(body).unwrap())
        .unwrap();
    api_error(client.request::<Value>(request).await.unwrap_err())
}

async fn get_json(client: &Client, path: &str) -> Value {
    let request = http::Request::get(path).body(Vec::new()).unwrap();
    serde_json::from_str(&client.request_text(request).await.unwrap()).unwrap()
}

fn hpa(name: &str) -> HorizontalPodAutoscaler {
    HorizontalPodAutoscaler {
        metadata: meta(name),
        spec: Some(HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".into()),
                kind: "Deployment".into(),
                name: name.into(),
            },
            min_replicas: Some(1),
            max_replicas: 5,
            ..HorizontalPodAutoscalerSpec::default()
        }),
        status: None,
    }
}

fn ingress(name: &str, service: &str) -> Ingress {
    Ingress {
        metadata: meta(name),
        spec: Some(IngressSpec {
            ingress_class_name: Some("standin".into()),
            rules: Some(vec![IngressRule {
                host: Some("hello.example.com".into()),
                http: Some(HTTPIngressRuleValue {
                    paths: vec![HTTPIngressPath {
                        path: Some("/".into()),
                        path_type: "Prefix".into(),
                        backend: IngressBackend {
                            service: Some(IngressServiceBackend {
                                name: service.into(),
                                port: Some(ServiceBackendPort {
                                    number: Some(80),
                                    ..ServiceBackendPort::default()
                                }),
                            }),
                            ..IngressBackend::default()
                        },
                    }],
                }),
            }]),
            ..IngressSpec::default()
        }),
        status: None,
    }
}

fn pod(name: &str) -> Pod {
    Pod {
        metadata: meta(name),
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "app".into(),
                image: Some("nginx".into()),
                ..Container::default()
            }],
            ..PodSpec::default()
        }),
        status: None,
    }
}

#[tokio::test]
async fn hpas_ingresses_and_pods_are_served_with_their_schemas_and_status_subresources() {
    let (_standin, client) = start(Config::default()).await;
    let hpas: Api<HorizontalPodAutoscaler> = Api::namespaced(client.clone(), "default");
    let ingresses: Api<Ingress> = Api::namespaced(client.clone(), "default");
    let classes: Api<IngressClass> = Api::all(client.clone());
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let create = PostParams::default();

    // Created through typed APIs; status is the status subresource's alone, so a create drops
    // it. A 1.33 server counts generations for Ingresses, IngressClasses and Pods, not HPAs.
    let mut with_status = hpa("web");
    with_status.status = Some(serde_json::from_value(json!({"desiredReplicas": 3})).unwrap());
    let created = hpas.create(&create, &with_status).await.unwrap();
    assert!(created.status.is_none(), "{created:?}");
    assert_eq!(created.metadata.generation, None);
    assert_eq!(created.spec.unwrap().max_replicas, 5);
    let class = IngressClass {
        metadata: meta("standin"),
        spec: Some(IngressClassSpec {
            controller: Some("ferry.dev/standin".into()),
            ..IngressClassSpec::default()
        }),
    };
    let class = classes.create(&create, &class).await.unwrap();
    assert_eq!(class.metadata.generation, Some(1));
    assert_eq!(class.namespace(), None, "IngressClasses are cluster-scoped");
    let created = ingresses
        .create(&create, &ingress("web", "web"))
        .await
        .unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    let created = pods.create(&create, &pod("web-1")).await.unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    assert_eq!(
        created.spec.unwrap().containers[0].image.as_deref(),
        Some("nginx")
    );

    // Misspelt and mistyped fields are refused as the real server refuses them.
    let refusal = create_strictly(
        &client,
        "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers",
        &json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "typo"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "maxReplica": 5}}),
    )
    .await;
    assert_eq!(
        (
            refusal.code,
            refusal.reason.as_str(),
            refusal.message.as_str()
        ),
        (
            400,
            "BadRequest",
            "strict decoding error: unknown field \"spec.maxReplica\""
        ),
        "{refusal:?}"
    );
    let refusal = create_strictly(
        &client,
        "/apis/networking.k8s.io/v1/namespaces/default/ingresses",
        &json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "typo"}, "spec": {"ingressClass": "standin"}}),
    )
    .await;
    assert_eq!(
        (refusal.code, refusal.message.as_str()),
        (
            400,
            "strict decoding error: unknown field \"spec.ingressClass\""
        ),
        "{refusal:?}"
    );
    let refusal = create_strictly(
        &client,
        "/api/v1/namespaces/default/pods",
        &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "typo"},
            "spec": {"containers": [{"name": "app", "image": "nginx"}], "restartPolicyy": "Never"}}),
    )
    .await;
    assert_eq!(
        (refusal.code, refusal.message.as_str()),
        (
            400,
            "strict decoding error: unknown field \"spec.restartPolicyy\""
        ),
        "{refusal:?}"
    );
    let untyped: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), "default", &ApiResource::erase::<Pod>(&()));
    let mistyped: DynamicObject = serde_json::from_value(json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "mistyped"}, "spec": {"containers": "nginx"}}))
    .unwrap();
    let refusal = api_error(untyped.create(&create, &mistyped).await.unwrap_err());
    assert_eq!(refusal.code, 422, "{refusal:?}");
    assert!(refusal.message.contains("spec.containers"), "{refusal:?}");

    // Writing /status as an ingress controller and a kubelet would: status changes, the
    // generation does not; the spec sent along is ignored.
    let before = ingresses.get("web").await.unwrap();
    let mut written = ingress("web", "elsewhere");
    written.metadata.resource_version = before.resource_version();
    written.status = Some(
        serde_json::from_value(json!({"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}]}}))
            .unwrap(),
    );
    let after = ingresses
        .replace_status("web", &PostParams::default(), &written)
        .await
        .unwrap();
    assert_eq!(after.metadata.generation, Some(1));
    assert_ne!(after.resource_version(), before.resource_version());
    assert_eq!(
        serde_json::to_value(&after.status).unwrap()["loadBalancer"]["ingress"][0]["ip"],
        "192.0.2.10"
    );
    assert_eq!(
        after.spec, before.spec,
        "a status write leaves the spec alone"
    );
    // A spec change does move it, so the check above means something.
    let changed = ingresses
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"ingressClassName": "other"}})),
        )
        .await
        .unwrap();
    assert_eq!(changed.metadata.generation, Some(2));

    let running = json!({"status": {
        "phase": "Running", "podIP": "10.0.0.7", "podIPs": [{"ip": "10.0.0.7"}],
        "startTime": "2025-01-01T00:00:00Z",
        "conditions": [{"type": "Ready", "status": "True",
            "lastTransitionTime": "2025-01-01T00:00:01Z"}],
        "containerStatuses": [{"name": "app", "image": "nginx", "imageID": "", "ready": true,
            "restartCount": 0, "started": true,
            "state": {"running": {"startedAt": "2025-01-01T00:00:01Z"}}}],
    }});
    let kubelet = PatchParams::default();
    let after = pods
        .patch_status("web-1", &kubelet, &Patch::Merge(&running))
        .await
        .unwrap();
    assert_eq!(after.metadata.generation, Some(1));
    let status = after.status.unwrap();
    assert_eq!(status.phase.as_deref(), Some("Running"));
    assert_eq!(status.pod_ip.as_deref(), Some("10.0.0.7"));
    assert!(status.container_statuses.unwrap()[0].ready);
    // A main-resource write cannot change the status the kubelet wrote.
    let after = pods
        .patch(
            "web-1",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"labels": {"app": "web"}}, "status": {"phase": "Failed"}}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(after.status.unwrap().phase.as_deref(), Some("Running"));
    assert_eq!(
        after.metadata.generation,
        Some(1),
        "labels are not the spec"
    );

    let after = hpas
        .patch_status(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"currentReplicas": 2, "desiredReplicas": 3}})),
        )
        .await
        .unwrap();
    let status = after.status.unwrap();
    assert_eq!(
        (status.current_replicas, status.desired_replicas),
        (Some(2), 3)
    );
}

#[tokio::test]
async fn discovery_and_openapi_list_the_new_built_in_kinds() {
    let (_standin, client) = start(Config::default()).await;
    let discovery = Discovery::new(client.clone()).run().await.unwrap();
    let kinds = [
        (
            "autoscaling",
            "v2",
            "HorizontalPodAutoscaler",
            "horizontalpodautoscalers",
            Scope::Namespaced,
        ),
        (
            "networking.k8s.io",
            "v1",
            "Ingress",
            "ingresses",
            Scope::Namespaced,
        ),
        (
            "networking.k8s.io",
            "v1",
            "IngressClass",
            "ingressclasses",
            Scope::Cluster,
        ),
        ("", "v1", "Pod", "pods", Scope::Namespaced),
    ];
    for (group, version, kind, plural, scope) in kinds {
        let (resource, caps) = discovery
            .resolve_gvk(&GroupVersionKind::gvk(group, version, kind))
            .unwrap_or_else(|| panic!("{kind} is not discovered"));
        assert_eq!(resource.plural, plural);
        assert_eq!(caps.scope, scope, "{kind}");
    }

    let resources = |list: &Value| -> Vec<(String, Vec<String>)> {
        list["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let short: Vec<String> = r["shortNames"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|s| s.as_str().unwrap().to_owned())
                    .collect();
                (r["name"].as_str().unwrap().to_owned(), short)
            })
            .collect()
    };
    let networking = resources(&get_json(&client, "/apis/networking.k8s.io/v1").await);
    assert!(networking.contains(&("ingresses".into(), vec!["ing".into()])));
    assert!(networking.contains(&("ingresses/status".into(), vec![])));
    assert!(networking.contains(&("ingressclasses".into(), vec![])));
    assert!(
        !networking
            .iter()
            .any(|(name, _)| name == "ingressclasses/status")
    );
    let autoscaling = resources(&get_json(&client, "/apis/autoscaling/v2").await);
    assert!(autoscaling.contains(&("horizontalpodautoscalers".into(), vec!["hpa".into()])));
    assert!(autoscaling.contains(&("horizontalpodautoscalers/status".into(), vec![])));
    let core = resources(&get_json(&client, "/api/v1").await);
    assert!(core.contains(&("pods".into(), vec!["po".into()])));
    assert!(core.contains(&("pods/status".into(), vec![])));
    let group = get_json(&client, "/apis/autoscaling").await;
    assert_eq!(group["preferredVersion"]["groupVersion"], "autoscaling/v2");

    let root = get_json(&client, "/openapi/v3").await;
    for (prefix, path) in [
        (
            "apis/autoscaling/v2",
            "/apis/autoscaling/v2/namespaces/{namespace}/horizontalpodautoscalers/{name}",
        ),
        (
            "apis/networking.k8s.io/v1",
            "/apis/networking.k8s.io/v1/namespaces/{namespace}/ingresses/{name}",
        ),
        (
            "apis/networking.k8s.io/v1",
            "/apis/networking.k8s.io/v1/ingressclasses/{name}",
        ),
        ("api/v1", "/api/v1/namespaces/{namespace}/pods/{name}"),
    ] {
        let url = root["paths"][prefix]["serverRelativeURL"]
            .as_str()
            .unwrap_or_else(|| panic!("{prefix} is not in /openapi/v3"));
        let doc = get_json(&client, url).await;
        assert!(
            doc["paths"][path]["patch"]["parameters"]
                .as_array()
                .is_some_and(|p| p.iter().any(|p| p["name"] == "fieldValidation")),
            "{path} in {doc}"
        );
    }
}

fn vpa_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("autoscaling.k8s.io", "v1", "VerticalPodAutoscaler"),
        "verticalpodautoscalers",
    )
}

fn vpa(name: &str, spec: &Value) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler",
        "metadata": {"name": name, "namespace": "default"}, "spec": spec,
    }))
    .unwrap()
}

#[tokio::test]
async fn the_upstream_vertical_pod_autoscaler_crd_is_served_and_enforced() {
    let config = Config::default()
        .with_crds_from(&repo().join("tests/fixtures/vpa"))
        .unwrap();
    let (_standin, client) = start(config).await;

    let discovery = Discovery::new(client.clone()).run().await.unwrap();
    let (resource, caps) = discovery
        .resolve_gvk(&GroupVersionKind::gvk(
            "autoscaling.k8s.io",
            "v1",
            "VerticalPodAutoscaler",
        ))
        .expect("VerticalPodAutoscaler is discovered");
    assert_eq!(resource.plural, "verticalpodautoscalers");
    assert_eq!(caps.scope, Scope::Namespaced);
    let group = get_json(&client, "/apis/autoscaling.k8s.io").await;
    assert_eq!(
        group["versions"],
        json!([{"groupVersion": "autoscaling.k8s.io/v1", "version": "v1"}]),
        "v1beta2 is not served"
    );
    let resources = get_json(&client, "/apis/autoscaling.k8s.io/v1").await;
    let vpa_entry = resources["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "verticalpodautoscalers")
        .unwrap();
    assert_eq!(vpa_entry["shortNames"], json!(["vpa"]));

    let vpas: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &vpa_resource());
    let target = json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "hello"});
    let created = vpas
        .create(
            &PostParams::default(),
            &vpa(
                "hello",
                &json!({"targetRef": target, "updatePolicy": {"updateMode": "Off"}}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(created.data["spec"]["updatePolicy"]["updateMode"], "Off");
    assert_eq!(created.data["spec"]["targetRef"], target);
    assert_eq!(created.metadata.generation, Some(1));

    // The CRD's own rules: an enum, a required field and a CEL rule.
    let refusals = [
        json!({"targetRef": target, "updatePolicy": {"updateMode": "Sometimes"}}),
        json!({"updatePolicy": {"updateMode": "Off"}}),
        json!({"targetRef": target, "startupBoost": {"cpu": {"type": "Factor"}}}),
    ];
    let mut messages = Vec::new();
    for spec in refusals {
        let refusal = api_error(
            vpas.create(&PostParams::default(), &vpa("refused", &spec))
                .await
                .unwrap_err(),
        );
        assert_eq!(refusal.code, 422, "{refusal:?}");
        messages.push(refusal.message);
    }
    assert!(
        messages[0].contains("spec.updatePolicy.updateMode"),
        "{messages:?}"
    );
    assert!(messages[1].contains("spec.targetRef"), "{messages:?}");
    assert!(
        messages[2].contains("factor is required when type is Factor and forbidden otherwise"),
        "{messages:?}"
    );

    // The recommender's status write: quantities as strings or integers (int-or-string).
    let recommendation = json!({"status": {"recommendation": {"containerRecommendations": [
        {"containerName": "app", "target": {"cpu": "100m", "memory": 134_217_728}}]}}});
    let written = vpas
        .patch_status(
            "hello",
            &PatchParams::default(),
            &Patch::Merge(&recommendation),
        )
        .await
        .unwrap();
    assert_eq!(
        written.data["status"]["recommendation"]["containerRecommendations"][0]["target"],
        json!({"cpu": "100m", "memory": 134_217_728})
    );
    assert_eq!(written.metadata.generation, Some(1));
}
