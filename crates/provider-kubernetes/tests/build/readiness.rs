//! `readiness` and `pod_troubles` on hand-written Deployment, Ingress and Pod statuses, as the
//! Deployment controller, an ingress controller and the kubelet write them.

use ferry_core::desired::Desired;
use ferry_core::status::{Outputs, Readiness};
use ferry_provider_kubernetes::build::{PodTrouble, pod_troubles, readiness};
use serde_json::{Value, json};

use crate::common::{desired, simple};

const INTERNAL_URL: &str = "http://hello.shop.svc.cluster.local";
const LB_HOSTNAME: &str = "k8s-shop-hello-0123456789-1234567890.eu-west-1.elb.amazonaws.com";

fn internal() -> Desired {
    desired(&simple("", "ingress: internal"))
}

fn public() -> Desired {
    desired(&simple(
        "",
        "ingress: public, kubernetes: {ingressClassName: alb}",
    ))
}

/// A live Deployment at `generation` with `spec.replicas` and `status` (`Null`: none yet).
fn deployment(generation: i64, replicas: i64, status: Value) -> Value {
    let mut out = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "hello", "namespace": "shop", "generation": generation,
                     "uid": "9a9a9a9a-2222-4d4d-8e8e-7f7f7f7f7f7f"},
        "spec": {"replicas": replicas, "progressDeadlineSeconds": 600},
    });
    if !status.is_null() {
        out["status"] = status;
    }
    out
}

fn condition(type_: &str, status: &str, reason: &str, message: &str) -> Value {
    json!({"type": type_, "status": status, "reason": reason, "message": message,
           "lastUpdateTime": "2025-01-01T00:00:00Z", "lastTransitionTime": "2025-01-01T00:00:00Z"})
}

fn available() -> Value {
    condition(
        "Available",
        "True",
        "MinimumReplicasAvailable",
        "Deployment has minimum availability.",
    )
}

fn unavailable() -> Value {
    condition(
        "Available",
        "False",
        "MinimumReplicasUnavailable",
        "Deployment does not have minimum availability.",
    )
}

fn rolled_out() -> Value {
    condition(
        "Progressing",
        "True",
        "NewReplicaSetAvailable",
        "ReplicaSet \"hello-7d9c8b6f5\" has successfully progressed.",
    )
}

fn rolling() -> Value {
    condition(
        "Progressing",
        "True",
        "ReplicaSetUpdated",
        "ReplicaSet \"hello-5f6d7c8b9\" is progressing.",
    )
}

fn timed_out() -> Value {
    condition(
        "Progressing",
        "False",
        "ProgressDeadlineExceeded",
        "ReplicaSet \"hello-5f6d7c8b9\" has timed out progressing.",
    )
}

/// A Deployment's replica counts: `(replicas, updated, ready, available)`.
type Counts = (i64, i64, i64, i64);

/// A status the Deployment controller writes.
fn status(observed: i64, counts: Counts, conditions: &[Value]) -> Value {
    let (replicas, updated, ready, available) = counts;
    let mut status = json!({
        "observedGeneration": observed,
        "replicas": replicas,
        "updatedReplicas": updated,
        "readyReplicas": ready,
        "availableReplicas": available,
        "conditions": conditions,
    });
    if available < replicas {
        status["unavailableReplicas"] = json!(replicas - available);
    }
    // The controller leaves zero counts out.
    for field in [
        "replicas",
        "updatedReplicas",
        "readyReplicas",
        "availableReplicas",
    ] {
        if status[field] == 0 {
            status.as_object_mut().unwrap().remove(field);
        }
    }
    status
}

/// A waiting container of a pod, as the kubelet reports it.
fn waiting(container: &str, reason: &str, message: &str) -> Value {
    let mut state = json!({"reason": reason});
    if !message.is_empty() {
        state["message"] = json!(message);
    }
    json!({"name": container, "ready": false, "restartCount": 0, "image": "ghcr.io/acme/hello:1",
           "imageID": "", "started": false, "state": {"waiting": state}})
}

fn running(container: &str) -> Value {
    json!({"name": container, "ready": true, "restartCount": 0, "image": "ghcr.io/acme/hello:1",
           "imageID": "ghcr.io/acme/hello@sha256:0123", "started": true,
           "state": {"running": {"startedAt": "2025-01-01T00:00:00Z"}}})
}

fn pod(statuses: &[Value]) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "hello-5f6d7c8b9-abcde", "namespace": "shop",
                     "labels": {"ferry.dev/service": "hello"}},
        "spec": {"containers": []},
        "status": {"phase": "Pending", "containerStatuses": statuses},
    })
}

fn trouble(container: &str, reason: &str, message: &str) -> PodTrouble {
    PodTrouble {
        reason: reason.into(),
        message: message.into(),
        container: container.into(),
    }
}

fn failed(reason: &'static str, message: &str) -> Readiness {
    Readiness::Failed {
        reason,
        message: message.to_owned(),
    }
}

#[test]
fn deployment_statuses_in_ferrys_terms() {
    let image_pull = [trouble(
        "app",
        "ImagePullBackOff",
        "Back-off pulling image \"ghcr.io/acme/nope:1\"",
    )];
    let crash = [trouble(
        "app",
        "CrashLoopBackOff",
        "back-off 5m0s restarting failed container=app pod=hello-5f6d7c8b9-abcde",
    )];
    let config_error = [trouble("proxy", "CreateContainerConfigError", "")];
    // (what, the Deployment, the pods' troubles, the readiness)
    let cases: Vec<(&str, Value, &[PodTrouble], Readiness)> = vec![
        (
            "just created: no status yet",
            deployment(1, 3, Value::Null),
            &[],
            Readiness::Progressing(
                "the Deployment controller has not yet processed generation 1".into(),
            ),
        ),
        (
            "observedGeneration behind, though the old generation was available",
            deployment(4, 3, status(3, (3, 3, 3, 3), &[available(), rolled_out()])),
            &[],
            Readiness::Progressing(
                "the Deployment controller has not yet processed generation 4".into(),
            ),
        ),
        (
            "a timeout of the previous generation is not this one's",
            deployment(5, 3, status(4, (3, 3, 3, 3), &[available(), timed_out()])),
            &[],
            Readiness::Progressing(
                "the Deployment controller has not yet processed generation 5".into(),
            ),
        ),
        (
            "rolled out: available, every pod updated",
            deployment(2, 3, status(2, (3, 3, 3, 3), &[available(), rolled_out()])),
            &[],
            Readiness::Ready,
        ),
        (
            "rolled out with one pod",
            deployment(7, 1, status(7, (1, 1, 1, 1), &[available(), rolled_out()])),
            &[],
            Readiness::Ready,
        ),
        (
            "a pod of the previous generation's troubles do not matter once rolled out",
            deployment(2, 3, status(2, (3, 3, 3, 3), &[available(), rolled_out()])),
            &crash,
            Readiness::Ready,
        ),
        (
            "half rolled out: a surge pod beside the old ones",
            deployment(3, 4, status(3, (5, 2, 4, 4), &[available(), rolling()])),
            &[],
            Readiness::Progressing("rolling out: 2 of 4 pods updated, 4 available".into()),
        ),
        (
            "every pod updated, an old one still terminating",
            deployment(3, 4, status(3, (5, 4, 4, 4), &[available(), rolling()])),
            &[],
            Readiness::Progressing("rolling out: 4 of 4 pods updated, 4 available".into()),
        ),
        (
            "the first rollout, no pod available yet",
            deployment(1, 2, status(1, (2, 2, 0, 0), &[unavailable(), rolling()])),
            &[],
            Readiness::Progressing("rolling out: 2 of 2 pods updated, 0 available".into()),
        ),
        (
            "the first rollout, the pods cannot pull their image",
            deployment(1, 2, status(1, (2, 2, 0, 0), &[unavailable(), rolling()])),
            &image_pull,
            failed(
                "ImageNotFound",
                "container app is waiting (ImagePullBackOff): Back-off pulling image \
                 \"ghcr.io/acme/nope:1\"",
            ),
        ),
        (
            "a rollout whose new pods crash",
            deployment(3, 2, status(3, (3, 1, 2, 2), &[available(), rolling()])),
            &crash,
            failed(
                "ContainerFailed",
                "container app is waiting (CrashLoopBackOff): back-off 5m0s restarting failed \
                 container=app pod=hello-5f6d7c8b9-abcde",
            ),
        ),
        (
            "a trouble without a message names the reason",
            deployment(1, 1, status(1, (1, 1, 0, 0), &[unavailable(), rolling()])),
            &config_error,
            failed(
                "ContainerFailed",
                "container proxy is waiting: CreateContainerConfigError",
            ),
        ),
        (
            "the progress deadline passed",
            deployment(3, 2, status(3, (3, 1, 2, 2), &[available(), timed_out()])),
            &[],
            failed(
                "RolloutTimeout",
                "ReplicaSet \"hello-5f6d7c8b9\" has timed out progressing.",
            ),
        ),
        (
            "the progress deadline passed and the pods say why",
            deployment(3, 2, status(3, (3, 1, 2, 2), &[available(), timed_out()])),
            &image_pull,
            failed(
                "ImageNotFound",
                "container app is waiting (ImagePullBackOff): Back-off pulling image \
                 \"ghcr.io/acme/nope:1\"",
            ),
        ),
        (
            "Progressing=False for another reason is not a timeout",
            deployment(
                3,
                2,
                status(
                    3,
                    (2, 2, 0, 0),
                    &[
                        unavailable(),
                        condition("Progressing", "False", "SomethingElse", "m"),
                    ],
                ),
            ),
            &[],
            Readiness::Progressing("rolling out: 2 of 2 pods updated, 0 available".into()),
        ),
    ];
    for (what, live, troubles, expected) in cases {
        assert_eq!(
            readiness(&internal(), &live, None, troubles).0,
            expected,
            "{what}"
        );
    }
}

#[test]
fn every_reason_readiness_reports_is_documented() {
    let live = deployment(1, 1, status(1, (1, 1, 0, 0), &[unavailable(), rolling()]));
    let mut reasons = Vec::new();
    for reason in [
        "ImagePullBackOff",
        "ErrImagePull",
        "InvalidImageName",
        "ErrImageNeverPull",
        "CrashLoopBackOff",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
    ] {
        let (r, _) = readiness(&internal(), &live, None, &[trouble("app", reason, "m")]);
        let Readiness::Failed { reason: got, .. } = r else {
            panic!("{reason}: expected a failure, got {r:?}")
        };
        reasons.push(got);
    }
    let timed_out = deployment(1, 1, status(1, (1, 1, 0, 0), &[unavailable(), timed_out()]));
    let (r, _) = readiness(&internal(), &timed_out, None, &[]);
    let Readiness::Failed { reason, .. } = r else {
        panic!("expected a failure, got {r:?}")
    };
    reasons.push(reason);
    for reason in reasons {
        assert!(ferry_api::conditions::is_documented(reason), "{reason}");
    }
}

#[test]
fn pod_troubles_are_the_waiting_containers_that_will_not_recover_alone() {
    let pods = [
        pod(&[running("app"), waiting("proxy", "ContainerCreating", "")]),
        pod(&[
            waiting(
                "app",
                "ImagePullBackOff",
                "Back-off pulling image \"ghcr.io/acme/nope:1\"",
            ),
            waiting("proxy", "PodInitializing", ""),
        ]),
        pod(&[waiting(
            "app",
            "CrashLoopBackOff",
            "back-off 10s restarting failed container=app",
        )]),
        pod(&[json!({"name": "app", "ready": false, "restartCount": 3,
                     "state": {"terminated": {"exitCode": 1, "reason": "Error"}}})]),
        pod(&[waiting(
            "app",
            "CreateContainerConfigError",
            "secret \"db\" not found",
        )]),
        // Scheduled nowhere yet: no container statuses.
        json!({"metadata": {"name": "hello-5f6d7c8b9-zzzzz"},
               "status": {"phase": "Pending", "conditions": [
                   {"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]}}),
        json!({"metadata": {"name": "bare"}}),
    ];
    assert_eq!(
        pod_troubles(&pods),
        [
            trouble(
                "app",
                "ImagePullBackOff",
                "Back-off pulling image \"ghcr.io/acme/nope:1\""
            ),
            trouble(
                "app",
                "CrashLoopBackOff",
                "back-off 10s restarting failed container=app"
            ),
            trouble(
                "app",
                "CreateContainerConfigError",
                "secret \"db\" not found"
            ),
        ]
    );
    assert_eq!(pod_troubles(&[]), []);
    assert_eq!(
        pod_troubles(&[pod(&[waiting("app", "ErrImagePull", "")])]),
        [trouble("app", "ErrImagePull", "")],
        "a missing message is empty"
    );
}

#[test]
fn an_internal_service_answers_at_its_cluster_dns_name() {
    let live = deployment(2, 3, status(2, (3, 3, 2, 2), &[available(), rolled_out()]));
    let (_, outputs) = readiness(&internal(), &live, None, &[]);
    assert_eq!(
        outputs,
        Outputs {
            url: Some(INTERNAL_URL.into()),
            address_url: Some(INTERNAL_URL.into()),
            latest_ready_revision: None,
            resource_id: Some("deployments.apps/shop/hello".into()),
            instances: Some((3, 2)),
            operation: None,
        }
    );
}

#[test]
fn instances_are_the_deployments_replicas_and_its_ready_pods() {
    // (spec.replicas, status (None: no status yet), instances)
    let cases: &[(i64, Option<Counts>, (i32, i32))] = &[
        (3, None, (3, 0)),
        (3, Some((3, 3, 0, 0)), (3, 0)),
        (4, Some((5, 2, 4, 4)), (4, 4)),
        (1, Some((1, 1, 1, 1)), (1, 1)),
        (10, Some((10, 10, 7, 7)), (10, 7)),
    ];
    for (replicas, counts, expected) in cases {
        let status = counts.map_or(Value::Null, |c| status(1, c, &[available()]));
        let live = deployment(1, *replicas, status);
        let (_, outputs) = readiness(&internal(), &live, None, &[]);
        assert_eq!(outputs.instances, Some(*expected), "{replicas} {counts:?}");
    }
}

#[test]
fn a_public_service_answers_at_its_ingress() {
    let ready = deployment(2, 2, status(2, (2, 2, 2, 2), &[available(), rolled_out()]));
    let ingress = |host: Option<&str>, lb: Value| {
        let mut rule = json!({"http": {"paths": [{"path": "/", "pathType": "Prefix",
            "backend": {"service": {"name": "hello", "port": {"number": 80}}}}]}});
        if let Some(host) = host {
            rule["host"] = json!(host);
        }
        json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": "hello", "namespace": "shop"},
            "spec": {"ingressClassName": "alb", "rules": [rule]},
            "status": {"loadBalancer": lb},
        })
    };
    let waiting_for_address = Readiness::Progressing(
        "the pods are available; waiting for the ingress controller to give the Ingress an \
         address"
            .into(),
    );
    // (what, the live Ingress, the readiness, the URL)
    let cases: Vec<(&str, Option<Value>, Readiness, Option<String>)> = vec![
        (
            "the Ingress is not made yet",
            None,
            waiting_for_address.clone(),
            None,
        ),
        (
            "a host: its URL at once",
            Some(ingress(Some("hello.shop.example.com"), json!({}))),
            Readiness::Ready,
            Some("http://hello.shop.example.com".into()),
        ),
        (
            "a host wins over the load balancer's name",
            Some(ingress(
                Some("hello.shop.example.com"),
                json!({"ingress": [{"hostname": LB_HOSTNAME}]}),
            )),
            Readiness::Ready,
            Some("http://hello.shop.example.com".into()),
        ),
        (
            "no host, no address yet",
            Some(ingress(None, json!({}))),
            waiting_for_address.clone(),
            None,
        ),
        (
            "no host, an empty list of addresses",
            Some(ingress(None, json!({"ingress": []}))),
            waiting_for_address.clone(),
            None,
        ),
        (
            "no host: the load balancer's name once it has one",
            Some(ingress(
                None,
                json!({"ingress": [{"hostname": LB_HOSTNAME}]}),
            )),
            Readiness::Ready,
            Some(format!("http://{LB_HOSTNAME}")),
        ),
        (
            "no host: the load balancer's address when it has no name",
            Some(ingress(None, json!({"ingress": [{"ip": "203.0.113.7"}]}))),
            Readiness::Ready,
            Some("http://203.0.113.7".into()),
        ),
    ];
    for (what, live_ingress, expected, url) in cases {
        let (readiness, outputs) = readiness(&public(), &ready, live_ingress.as_ref(), &[]);
        assert_eq!(readiness, expected, "{what}");
        assert_eq!(outputs.url, url, "{what}");
        assert_eq!(
            outputs.address_url.as_deref(),
            Some(INTERNAL_URL),
            "{what}: the in-cluster address is the Service's"
        );
    }

    // The Deployment's own state comes first: a rollout or a failure is reported as such.
    let with_address = ingress(None, json!({"ingress": [{"hostname": LB_HOSTNAME}]}));
    let rolling_out = deployment(3, 2, status(3, (3, 1, 2, 2), &[available(), rolling()]));
    assert_eq!(
        readiness(&public(), &rolling_out, None, &[]).0,
        Readiness::Progressing("rolling out: 1 of 2 pods updated, 2 available".into())
    );
    let failing = deployment(3, 2, status(3, (3, 1, 2, 2), &[available(), timed_out()]));
    assert_eq!(
        readiness(&public(), &failing, Some(&with_address), &[]).0,
        failed(
            "RolloutTimeout",
            "ReplicaSet \"hello-5f6d7c8b9\" has timed out progressing."
        )
    );
}

#[test]
fn an_internal_service_ignores_any_ingress() {
    let ready = deployment(2, 2, status(2, (2, 2, 2, 2), &[available(), rolled_out()]));
    let stale = json!({"spec": {"rules": [{"host": "old.example.com"}]}});
    let (readiness, outputs) = readiness(&internal(), &ready, Some(&stale), &[]);
    assert_eq!(readiness, Readiness::Ready);
    assert_eq!(outputs.url.as_deref(), Some(INTERNAL_URL));
}
