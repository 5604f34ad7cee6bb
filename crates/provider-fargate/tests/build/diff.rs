//! `diff` against what AWS describes: nothing to do when AWS holds exactly the requests, and for
//! each single difference exactly the change that fixes it. A rolled-back deployment of the
//! requested revision is not retried. A property test covers random valid specs.

use ferry_core::status::Readiness;
use ferry_provider_fargate::build::{
    Change, Observed, ObservedPolicy, ObservedService, Requests, Rollout, diff, readiness,
};
use ferry_provider_fargate::limits::TASK_SIZES;
use proptest::prelude::*;

use crate::common::{
    LOAD_BALANCER, TARGET_GROUP, desired, mirror, registered, requests, requests_for, simple,
};

const AUTOSCALED: &str = "scaling: {minInstances: 2, maxInstances: 10}";

/// A named change to part of what AWS describes.
type Edit<T> = (&'static str, fn(&mut T));

#[test]
fn aws_holding_exactly_the_requests_needs_no_change() {
    let specs = [
        simple("", ""),
        simple("", AUTOSCALED),
        simple(
            "",
            &format!(
                "ingress: internal, scaling: {{minInstances: 1, maxInstances: 4, metric: rps, \
                 target: 50}}, fargate: {{capacityProvider: FARGATE_SPOT, \
                 loadBalancer: {{targetGroupArn: '{TARGET_GROUP}', \
                 loadBalancerArn: '{LOAD_BALANCER}'}}}}"
            ),
        ),
    ];
    for spec in specs {
        let p = requests(&spec);
        assert_eq!(diff(&p, &mirror(&p)), [], "{spec}");
    }
}

#[test]
fn ecs_describing_lists_in_another_order_or_without_optional_facts_is_no_change() {
    let p = requests(&simple(
        "",
        "fargate: {subnets: [subnet-0aaa, subnet-0bbb, subnet-0ccc], \
                   securityGroups: [sg-0aaa, sg-0bbb]}",
    ));
    let mut observed = mirror(&p);
    observed.service.subnets = vec![
        "subnet-0bbb".into(),
        "subnet-0ccc".into(),
        "subnet-0aaa".into(),
    ];
    observed.service.assign_public_ip = None;
    observed.service.platform_version = None;
    assert_eq!(diff(&p, &observed), []);

    let mut observed = mirror(&requests(&simple("", AUTOSCALED)));
    observed
        .scaling
        .as_mut()
        .unwrap()
        .policy
        .as_mut()
        .unwrap()
        .scale_in_cooldown = None;
    assert_eq!(
        diff(&requests(&simple("", AUTOSCALED)), &observed),
        [],
        "a policy described without a cooldown"
    );
}

#[test]
fn a_new_image_registers_a_task_definition_only() {
    let before = requests(&simple("", AUTOSCALED));
    let after = requests(&simple("", AUTOSCALED).replace("hello:1.4.2", "hello:1.5.0"));
    assert_eq!(diff(&after, &mirror(&before)), [Change::TaskDefinition]);
}

#[test]
fn a_task_definition_ferry_did_not_tag_is_replaced() {
    let p = requests(&simple("", ""));
    let mut observed = mirror(&p);
    observed.task_definition.as_mut().unwrap().tags.clear();
    assert_eq!(diff(&p, &observed), [Change::TaskDefinition]);

    let mut observed = mirror(&p);
    observed.task_definition = None;
    assert_eq!(diff(&p, &observed), [Change::TaskDefinition]);

    let mut observed = mirror(&p);
    observed.task_definition.as_mut().unwrap().family = "shop_other".into();
    assert_eq!(
        diff(&p, &observed),
        [Change::TaskDefinition],
        "the right fingerprint in another family"
    );
}

#[test]
fn service_settings_changed_behind_ferrys_back_are_put_back() {
    let p = requests(&simple(
        "",
        &format!("fargate: {{loadBalancer: {{targetGroupArn: '{TARGET_GROUP}'}}}}"),
    ));
    let edits: &[Edit<ObservedService>] = &[
        ("subnets", |s| s.subnets = vec!["subnet-0bad".into()]),
        ("one subnet fewer", |s| {
            s.subnets.pop();
        }),
        ("security groups", |s| {
            s.security_groups.push("sg-0bad".into());
        }),
        ("public IP", |s| s.assign_public_ip = Some(false)),
        ("target group removed", |s| s.target_group_arns.clear()),
        ("another target group", |s| {
            s.target_group_arns
                .push(TARGET_GROUP.replace("hello", "other"));
        }),
        ("capacity", |s| {
            s.launch_type = None;
            s.capacity_providers = vec!["FARGATE_SPOT".into()];
        }),
        ("the fingerprint tag", |s| {
            s.tags.insert("ferry.dev/fingerprint".into(), "0".into());
        }),
        ("tags removed", |s| s.tags.clear()),
    ];
    for (case, edit) in edits {
        let mut observed = mirror(&p);
        edit(&mut observed.service);
        assert_eq!(diff(&p, &observed), [Change::Service], "{case}");
    }
}

#[test]
fn spot_wanted_while_ecs_runs_on_demand_updates_the_service() {
    let spot = requests(&simple("", "fargate: {capacityProvider: FARGATE_SPOT}"));
    let mut observed = mirror(&spot);
    observed.service.capacity_providers.clear();
    observed.service.launch_type = Some("FARGATE".into());
    assert_eq!(
        diff(&spot, &observed),
        [Change::Service],
        "even with the fingerprint tag matching"
    );

    let on_demand = requests(&simple("", ""));
    assert_eq!(diff(&spot, &mirror(&on_demand)), [Change::Service]);
    assert_eq!(diff(&on_demand, &mirror(&spot)), [Change::Service]);
}

#[test]
fn on_demand_as_a_fargate_strategy_is_on_demand() {
    // After a Spot service went back to on-demand, ECS keeps a strategy: [FARGATE].
    let p = requests(&simple("", ""));
    let mut observed = mirror(&p);
    observed.service.launch_type = None;
    observed.service.capacity_providers = vec!["FARGATE".into()];
    assert_eq!(diff(&p, &observed), []);
}

#[test]
fn new_bounds_register_the_scalable_target_again() {
    let before = requests(&simple("", AUTOSCALED));
    let after = requests(&simple("", "scaling: {minInstances: 2, maxInstances: 20}"));
    assert_eq!(diff(&after, &mirror(&before)), [Change::ScalableTarget]);

    let fixed = requests(&simple("", "scaling: {minInstances: 2}"));
    assert_eq!(
        diff(&before, &mirror(&fixed)),
        [Change::ScalableTarget, Change::ScalingPolicy],
        "room to scale: the policy appears"
    );

    let mut unregistered = mirror(&before);
    unregistered.scaling = None;
    assert_eq!(
        diff(&before, &unregistered),
        [Change::ScalableTarget, Change::ScalingPolicy]
    );
}

#[test]
fn a_changed_policy_is_put_again() {
    let p = requests(&simple("", AUTOSCALED));
    let edits: &[Edit<ObservedPolicy>] = &[
        ("target", |p| p.target_value = 50.0),
        ("metric", |p| {
            p.metric = "ECSServiceAverageMemoryUtilization".into();
        }),
        ("cooldown", |p| p.scale_in_cooldown = Some(30)),
        ("resource label", |p| {
            p.resource_label = Some("app/x/1/targetgroup/y/2".into());
        }),
    ];
    for (case, edit) in edits {
        let mut observed = mirror(&p);
        edit(observed.scaling.as_mut().unwrap().policy.as_mut().unwrap());
        assert_eq!(diff(&p, &observed), [Change::ScalingPolicy], "{case}");
    }

    let target_60 = requests(&simple(
        "",
        "scaling: {minInstances: 2, maxInstances: 10, target: 60}",
    ));
    assert_eq!(diff(&target_60, &mirror(&p)), [Change::ScalingPolicy]);

    let mut missing = mirror(&p);
    missing.scaling.as_mut().unwrap().policy = None;
    assert_eq!(diff(&p, &missing), [Change::ScalingPolicy]);
}

#[test]
fn a_fixed_count_removes_ferrys_policy() {
    let fixed = requests(&simple("", "scaling: {minInstances: 2}"));
    let autoscaled = requests(&simple("", AUTOSCALED));
    let mut observed = mirror(&fixed);
    observed.scaling.as_mut().unwrap().policy = mirror(&autoscaled).scaling.unwrap().policy;
    assert_eq!(diff(&fixed, &observed), [Change::RemoveScalingPolicy]);

    assert_eq!(
        diff(&fixed, &mirror(&autoscaled)),
        [Change::ScalableTarget, Change::RemoveScalingPolicy]
    );
}

/// AWS after ECS tried to deploy `bad` over `good` and the circuit breaker rolled it back.
fn rolled_back(good: &Requests, bad: &Requests) -> Observed {
    let mut observed = mirror(good);
    let failed = registered(bad, 4);
    observed.service.failed_rollout = Some(Rollout {
        state: "FAILED".into(),
        reason: Some(
            "ECS deployment circuit breaker: tasks failed to start. Rolling back to \
             deployment ecs-svc/5503471093434367811."
                .into(),
        ),
        task_definition: failed.arn.clone(),
    });
    observed.service.events = vec![
        "(service shop_hello) has reached a steady state.".into(),
        "(service shop_hello) (deployment ecs-svc/8861) deployment failed: tasks failed to \
         start."
            .into(),
    ];
    observed.failed_task_definition = Some(failed);
    observed
}

#[test]
fn a_rolled_back_revision_is_not_deployed_again_until_the_spec_changes() {
    let good = requests(&simple("", AUTOSCALED));
    let bad = requests(&simple("", AUTOSCALED).replace("hello:1.4.2", "hello:broken"));
    let observed = rolled_back(&good, &bad);
    assert_eq!(diff(&bad, &observed), [], "no redeploy loop");
    let (state, outputs) = readiness(&bad, &observed);
    assert!(
        matches!(
            state,
            Readiness::Failed {
                reason: "ContainerFailed",
                ..
            }
        ),
        "{state:?}"
    );
    assert_eq!(
        outputs.latest_ready_revision.as_deref(),
        Some("shop_hello:3"),
        "the good revision still serves"
    );

    let fixed = requests(&simple("", AUTOSCALED).replace("hello:1.4.2", "hello:fixed"));
    assert_eq!(diff(&fixed, &observed), [Change::TaskDefinition]);
    assert_eq!(
        readiness(&fixed, &observed).0,
        Readiness::Ready,
        "the failure was another revision's"
    );
    assert_eq!(
        diff(&good, &observed),
        [],
        "going back to the revision that serves"
    );
}

// --- property ---

/// One random valid spec, as the choices that make it.
#[derive(Clone, Debug)]
struct Spec {
    image: String,
    size: (usize, prop::sample::Index),
    sidecar: bool,
    min: u32,
    /// Added to `min` for `maxInstances`; `None` leaves it out.
    extra: Option<u32>,
    initial: Option<u32>,
    metric: Option<&'static str>,
    target: Option<u32>,
    delay: Option<u32>,
    capacity: Option<&'static str>,
    ingress: Option<&'static str>,
    /// 0: no load balancer, 1: a target group, 2: and its load balancer.
    load_balancer: u8,
    subnets: Vec<&'static str>,
}

fn spec_strategy() -> impl Strategy<Value = Spec> {
    (
        ("[a-z][a-z0-9]{0,8}", 0u32..30),
        (0..TASK_SIZES.len(), any::<prop::sample::Index>()),
        any::<bool>(),
        (
            1u32..5,
            prop::option::of(0u32..12),
            prop::option::of(0u32..3),
        ),
        prop::option::of(prop::sample::select(vec!["cpu", "memory", "rps"])),
        (prop::option::of(1u32..=100), prop::option::of(0u32..900)),
        prop::option::of(prop::sample::select(vec!["FARGATE", "FARGATE_SPOT"])),
        prop::option::of(prop::sample::select(vec!["public", "internal"])),
        0u8..3,
        prop::sample::subsequence(vec!["subnet-0aaa", "subnet-0bbb", "subnet-0ccc"], 0..=3),
    )
        .prop_map(
            |(
                (name, tag),
                size,
                sidecar,
                (min, extra, initial),
                metric,
                (target, delay),
                capacity,
                ingress,
                load_balancer,
                subnets,
            )| {
                let mut spec = Spec {
                    image: format!("ghcr.io/acme/{name}:{tag}"),
                    size,
                    sidecar,
                    min,
                    extra,
                    initial: initial.map(|i| min + i),
                    metric,
                    target,
                    delay,
                    capacity,
                    ingress,
                    load_balancer,
                    subnets,
                };
                if spec.metric == Some("rps") {
                    // rps needs the load balancer, and a target when it autoscales.
                    spec.load_balancer = 2;
                    spec.target.get_or_insert(20);
                }
                if let Some(initial) = spec.initial {
                    // initialInstances at most maxInstances.
                    spec.extra = Some(spec.extra.unwrap_or(0).max(initial - spec.min));
                }
                spec
            },
        )
}

impl Spec {
    fn yaml(&self) -> String {
        let size = &TASK_SIZES[self.size.0];
        let memory = *self.size.1.get(&size.memory_options());
        let millis = size.cpu_units * 1000 / 1024;
        let mut containers = format!(
            "{{name: app, image: '{}', port: 8080, resources: {{cpu: {millis}m, \
             memory: {memory}Mi}}}}",
            self.image
        );
        if self.sidecar {
            containers.push_str(", {name: envoy, image: 'docker.io/envoyproxy/envoy:v1.31.0'}");
        }
        let mut scaling = vec![format!("minInstances: {}", self.min)];
        if let Some(extra) = self.extra {
            scaling.push(format!("maxInstances: {}", self.min + extra));
        }
        if let Some(initial) = self.initial {
            scaling.push(format!("initialInstances: {initial}"));
        }
        if let Some(metric) = self.metric {
            scaling.push(format!("metric: {metric}"));
        }
        if let Some(target) = self.target {
            scaling.push(format!("target: {target}"));
        }
        if let Some(delay) = self.delay {
            scaling.push(format!("scaleDownDelaySeconds: {delay}"));
        }
        let mut fargate = Vec::new();
        if let Some(capacity) = self.capacity {
            fargate.push(format!("capacityProvider: {capacity}"));
        }
        match self.load_balancer {
            1 => fargate.push(format!(
                "loadBalancer: {{targetGroupArn: '{TARGET_GROUP}'}}"
            )),
            2 => fargate.push(format!(
                "loadBalancer: {{targetGroupArn: '{TARGET_GROUP}', \
                 loadBalancerArn: '{LOAD_BALANCER}'}}"
            )),
            _ => {}
        }
        if !self.subnets.is_empty() {
            fargate.push(format!("subnets: [{}]", self.subnets.join(", ")));
        }
        let ingress = self
            .ingress
            .map(|i| format!(", ingress: {i}"))
            .unwrap_or_default();
        format!(
            "{{provider: fargate, containers: [{containers}], scaling: {{{}}}, \
             fargate: {{{}}}{ingress}}}",
            scaling.join(", "),
            fargate.join(", ")
        )
    }

    /// `self` with each field taken from `other` where `take` says so.
    fn mixed(&self, other: &Spec, take: [bool; 8]) -> Spec {
        let mut out = self.clone();
        if take[0] {
            out.image.clone_from(&other.image);
        }
        if take[1] {
            out.size = other.size;
            out.sidecar = other.sidecar;
        }
        if take[2] {
            (out.min, out.extra, out.initial) = (other.min, other.extra, other.initial);
        }
        if take[3] {
            (out.metric, out.target, out.load_balancer) =
                (other.metric, other.target, other.load_balancer);
        }
        if take[4] {
            out.delay = other.delay;
        }
        if take[5] {
            out.capacity = other.capacity;
        }
        if take[6] {
            out.ingress = other.ingress;
        }
        if take[7] {
            out.subnets.clone_from(&other.subnets);
        }
        if out.metric == Some("rps") {
            out.load_balancer = 2;
            out.target.get_or_insert(20);
        }
        out
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn aws_holding_any_requests_diffs_empty_and_requests_are_deterministic(
        spec in spec_strategy(),
    ) {
        let yaml = spec.yaml();
        let want = desired(&yaml);
        let p = requests_for(&want);
        prop_assert_eq!(&p, &requests_for(&want), "{}", yaml);
        prop_assert_eq!(
            serde_json::to_string(&p.rendered()).unwrap(),
            serde_json::to_string(&requests_for(&desired(&yaml)).rendered()).unwrap()
        );
        prop_assert_eq!(diff(&p, &mirror(&p)), Vec::<Change>::new(), "{}", yaml);
        prop_assert_eq!(readiness(&p, &mirror(&p)).0, Readiness::Ready, "{}", yaml);
    }

    #[test]
    fn diff_asks_for_exactly_the_changed_requests(
        a in spec_strategy(),
        b in spec_strategy(),
        take in any::<[bool; 8]>(),
    ) {
        let b = a.mixed(&b, take);
        let (yaml_a, yaml_b) = (a.yaml(), b.yaml());
        let (old, new) = (requests(&yaml_a), requests(&yaml_b));
        let changes = diff(&new, &mirror(&old));
        let context = format!("{yaml_a}\n-> {yaml_b}\n{changes:?}");
        prop_assert_eq!(
            changes.contains(&Change::TaskDefinition),
            old.task_definition_fingerprint != new.task_definition_fingerprint,
            "{}", context
        );
        prop_assert_eq!(
            changes.contains(&Change::Service),
            old.service_fingerprint != new.service_fingerprint,
            "{}", context
        );
        prop_assert_eq!(
            changes.contains(&Change::ScalableTarget),
            old.scalable_target != new.scalable_target,
            "{}", context
        );
        prop_assert_eq!(
            changes.contains(&Change::ScalingPolicy),
            new.scaling_policy.is_some() && old.scaling_policy != new.scaling_policy,
            "{}", context
        );
        prop_assert_eq!(
            changes.contains(&Change::RemoveScalingPolicy),
            new.scaling_policy.is_none() && old.scaling_policy.is_some(),
            "{}", context
        );
    }
}

#[test]
fn a_released_service_is_adopted_by_tagging_it_only() {
    let p = requests(&simple("", ""));
    let mut observed = mirror(&p);
    // Released by an earlier object of the same name: Ferry's tags, no UID.
    observed.service.tags.remove("ferry.dev/uid");
    assert_eq!(diff(&p, &observed), [Change::Tags]);
    // Another object's UID is not adopted here: the client reports NameTaken before diffing.
    observed
        .service
        .tags
        .insert("ferry.dev/uid".into(), "someone-else".into());
    assert_eq!(diff(&p, &observed), [Change::Tags]);
}
