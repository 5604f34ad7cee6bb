//! `diff` against what Cloud Run describes: nothing to do when Cloud Run holds exactly the
//! requests (with every output-only field and default filled in), and for each single
//! difference exactly the change that names it. Property tests cover random valid specs.

use ferry_core::status::Readiness;
use ferry_provider_cloudrun::build::{
    Change, FINGERPRINT_ANNOTATION, LABEL_UID, RESERVED_KEY_PREFIXES, diff, readiness,
};
use google_cloud_run_v2::model::{self, IngressTraffic, TrafficTargetAllocationType};
use proptest::prelude::*;

use crate::common::{desired, mirror, requests, requests_for, simple};

/// A named change to what Cloud Run describes.
type Edit = (&'static str, fn(&mut model::Service));
/// A named change made behind Ferry's back, and the field `diff` names for it.
type Drift = (&'static str, fn(&mut model::Service), &'static str);

fn template(s: &mut model::Service) -> &mut model::RevisionTemplate {
    s.template.as_mut().unwrap()
}

const RICH: &str = "ingress: internal, concurrency: 40, timeoutSeconds: 120, \
    scaling: {minInstances: 1, maxInstances: 8}, \
    traffic: [{latestRevision: true, percent: 90, tag: canary}, \
              {revisionName: shop-hello-cd5cea3a-00001-abc, percent: 10}], \
    cloudRun: {serviceAccount: hello@acme-prod.iam.gserviceaccount.com, \
               executionEnvironment: gen2, startupCpuBoost: true, \
               vpcAccess: {connector: projects/acme-prod/locations/europe-west1/connectors/shop}}";

#[test]
fn cloud_run_holding_exactly_the_requests_needs_no_change() {
    let specs = [
        simple("", ""),
        simple(
            "resources: {cpu: '2', memory: 2Gi}, probes: {liveness: {httpGet: {path: /h}}}, \
             env: [{name: DB, secret: {name: db}}]",
            RICH,
        ),
        simple("resources: {cpu: 500m, memory: 512Mi}", "concurrency: 1"),
        simple(
            "resources: {cpu: '4', memory: 16Gi, gpu: {count: 1, type: nvidia-l4}}, \
             probes: {readiness: {grpc: {}}}",
            "cloudRun: {allowUnauthenticated: true}",
        ),
    ];
    for spec in specs {
        let p = requests(&spec);
        assert_eq!(diff(&p, &mirror(&p)), [], "{spec}");
    }
}

#[test]
fn fields_cloud_run_sets_or_rewrites_are_no_change() {
    let p = requests(&simple(
        "resources: {cpu: '1'}",
        "scaling: {minInstances: 1}",
    ));
    let edits: &[Edit] = &[
        ("a newer generation", |s| {
            s.generation = 9;
            s.observed_generation = 9;
        }),
        ("another etag and times", |s| {
            s.etag = "\"other\"".into();
            s.update_time = None;
        }),
        ("reconciling", |s| s.reconciling = true),
        ("no conditions", |s| {
            s.conditions.clear();
            s.terminal_condition = None;
        }),
        ("another uri", |s| {
            s.uri = "https://x.a.run.app".into();
            s.urls.clear();
        }),
        ("another revision", |s| {
            s.latest_ready_revision = "x-00009-abc".into();
            template(s).revision = "x-00009-abc".into();
        }),
        ("another creator and modifier", |s| {
            s.creator = "someone@example.com".into();
            s.last_modifier = "someone@example.com".into();
        }),
        ("another client", |s| {
            s.client = "gcloud".into();
            s.client_version = "540.0.0".into();
        }),
        ("CPU in other units", |s| {
            template(s).containers[0]
                .resources
                .as_mut()
                .unwrap()
                .limits
                .insert("cpu".into(), "1".into());
        }),
        ("no ingress while no revision serves", |s| {
            s.ingress = IngressTraffic::Unspecified;
        }),
        ("a launch stage", |s| s.launch_stage = "BETA".into()),
        ("labels someone added", |s| {
            s.labels.insert("team".into(), "checkout".into());
        }),
        ("annotations someone added", |s| {
            s.annotations
                .insert("acme.com/owner".into(), "checkout".into());
        }),
        ("traffic in another order", |s| s.traffic.reverse()),
    ];
    for (case, edit) in edits {
        let mut observed = mirror(&p);
        edit(&mut observed);
        assert_eq!(diff(&p, &observed), [], "{case}");
    }
}

#[test]
fn fields_changed_behind_ferrys_back_are_put_back() {
    let p = requests(&simple("", RICH));
    let edits: &[Drift] = &[
        (
            "gcloud run deploy --image",
            |s| template(s).containers[0].image = "europe-docker.pkg.dev/x/y:hotfix".into(),
            "template.containers[].image",
        ),
        (
            "--ingress all",
            |s| s.ingress = IngressTraffic::All,
            "ingress",
        ),
        (
            "update-traffic --to-latest",
            |s| {
                s.traffic = vec![
                    model::TrafficTarget::new()
                        .set_type(TrafficTargetAllocationType::Latest)
                        .set_percent(100),
                ];
            },
            "traffic",
        ),
        ("a tag removed", |s| s.traffic[0].tag.clear(), "traffic"),
        (
            "--min-instances",
            |s| template(s).scaling.as_mut().unwrap().min_instance_count = 3,
            "template.scaling",
        ),
        (
            "--max-instances",
            |s| template(s).scaling.as_mut().unwrap().max_instance_count = 100,
            "template.scaling",
        ),
        (
            "--service-account",
            |s| template(s).service_account = "other@acme-prod.iam.gserviceaccount.com".into(),
            "template.serviceAccount",
        ),
    ];
    for (case, edit, field) in edits {
        let mut observed = mirror(&p);
        edit(&mut observed);
        assert_eq!(diff(&p, &observed), [Change::Drift(field)], "{case}");
    }
}

#[test]
fn a_maximum_left_to_cloud_run_is_not_compared() {
    let p = requests(&simple("", "scaling: {minInstances: 1}"));
    let mut observed = mirror(&p);
    template(&mut observed)
        .scaling
        .as_mut()
        .unwrap()
        .max_instance_count = 20;
    assert_eq!(diff(&p, &observed), []);
}

#[test]
fn a_new_spec_is_a_spec_change() {
    let before = requests(&simple("", ""));
    for after in [
        simple("env: [{name: MODE, value: debug}]", ""),
        simple("resources: {memory: 1Gi}", ""),
        simple("", "timeoutSeconds: 60"),
        simple("", "cloudRun: {startupCpuBoost: true}"),
        simple("probes: {liveness: {httpGet: {path: /live}}}", ""),
    ] {
        assert_eq!(
            diff(&requests(&after), &mirror(&before)),
            [Change::Spec],
            "{after}"
        );
    }
    assert_eq!(
        diff(
            &requests(&simple("", "").replace("hello:1.4.2", "hello:1.5.0")),
            &mirror(&before)
        ),
        [Change::Spec, Change::Drift("template.containers[].image")]
    );
}

#[test]
fn a_missing_or_foreign_fingerprint_is_a_spec_change() {
    let p = requests(&simple("", ""));
    let mut observed = mirror(&p);
    observed.annotations.clear();
    assert_eq!(diff(&p, &observed), [Change::Spec]);
    observed
        .annotations
        .insert(FINGERPRINT_ANNOTATION.into(), "0000000000000000".into());
    assert_eq!(diff(&p, &observed), [Change::Spec]);
}

#[test]
fn a_service_released_by_an_earlier_object_is_relabelled() {
    let p = requests(&simple("", ""));
    let mut observed = mirror(&p);
    observed.labels.remove(LABEL_UID);
    assert_eq!(diff(&p, &observed), [Change::Labels]);
    observed.labels.insert(
        LABEL_UID.into(),
        "11111111-2222-4333-8444-555555555555".into(),
    );
    assert_eq!(diff(&p, &observed), [Change::Labels]);
}

/// A random valid Cloud Run spec, as the fields that vary.
#[derive(Clone, Debug)]
#[allow(clippy::struct_excessive_bools)] // one switch per optional part of the spec
struct Spec {
    image: &'static str,
    size: Option<(&'static str, &'static str)>,
    sidecar: bool,
    env: usize,
    secret: bool,
    liveness: bool,
    readiness: bool,
    min: u32,
    extra: Option<u32>,
    concurrency: Option<u32>,
    timeout: Option<u32>,
    internal: bool,
    traffic: u8,
    cpu_idle: Option<bool>,
    boost: Option<bool>,
    environment: Option<&'static str>,
    public: bool,
}

const SIZES: [(&str, &str); 5] = [
    ("'1'", "512Mi"),
    ("'2'", "4Gi"),
    ("'4'", "8Gi"),
    ("1000m", "1536Mi"),
    ("500m", "512Mi"),
];

fn spec_strategy() -> impl Strategy<Value = Spec> {
    (
        (
            prop::sample::select(vec!["hello:1.4.2", "hello:1.5.0", "hello@sha256:0f1e"]),
            prop::option::of(prop::sample::select(SIZES.to_vec())),
            any::<bool>(),
            0usize..3,
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
        ),
        (
            0u32..3,
            prop::option::of(0u32..40),
            prop::option::of(1u32..=1000),
            prop::option::of(1u32..=3600),
            any::<bool>(),
            0u8..3,
        ),
        (
            prop::option::of(any::<bool>()),
            prop::option::of(any::<bool>()),
            prop::option::of(prop::sample::select(vec!["gen1", "gen2"])),
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                (image, size, sidecar, env, secret, liveness, readiness),
                (min, extra, concurrency, timeout, internal, traffic),
                (cpu_idle, boost, environment, public),
            )| {
                let mut spec = Spec {
                    image,
                    size,
                    sidecar,
                    env,
                    secret,
                    liveness,
                    readiness,
                    min,
                    extra,
                    concurrency,
                    timeout,
                    internal,
                    traffic,
                    cpu_idle,
                    boost,
                    environment,
                    public,
                };
                spec.make_valid();
                spec
            },
        )
}

impl Spec {
    fn fractional(&self) -> bool {
        self.size.is_some_and(|(cpu, _)| cpu == "500m")
    }

    /// Below 1 vCPU Cloud Run needs concurrency 1, idle CPU and gen1.
    fn make_valid(&mut self) {
        if self.fractional() {
            self.concurrency = self.concurrency.map(|_| 1);
            self.cpu_idle = self.cpu_idle.filter(|idle| *idle);
            self.environment = self.environment.filter(|e| *e == "gen1");
        }
    }

    fn yaml(&self) -> String {
        let mut container = vec![format!(
            "name: app, image: 'europe-docker.pkg.dev/acme-prod/apps/{}', port: 8080",
            self.image
        )];
        if let Some((cpu, memory)) = self.size {
            container.push(format!("resources: {{cpu: {cpu}, memory: {memory}}}"));
        }
        let mut env: Vec<String> = (0..self.env)
            .map(|i| format!("{{name: VAR_{i}, value: v{i}}}"))
            .collect();
        if self.secret {
            env.push("{name: TOKEN, secret: {name: token, key: '3'}}".into());
        }
        if !env.is_empty() {
            container.push(format!("env: [{}]", env.join(", ")));
        }
        let mut probes = Vec::new();
        if self.liveness {
            probes.push("liveness: {httpGet: {path: /live}, periodSeconds: 15}");
        }
        if self.readiness {
            probes.push("readiness: {grpc: {}, failureThreshold: 5}");
        }
        if !probes.is_empty() {
            container.push(format!("probes: {{{}}}", probes.join(", ")));
        }
        let mut containers = format!("{{{}}}", container.join(", "));
        if self.sidecar {
            containers.push_str(", {name: proxy, image: 'docker.io/envoyproxy/envoy:v1.31.0'}");
        }
        let mut fields = vec![format!("containers: [{containers}]")];
        let mut scaling = vec![format!("minInstances: {}", self.min)];
        if let Some(extra) = self.extra {
            scaling.push(format!("maxInstances: {}", (self.min + extra).max(1)));
        }
        fields.push(format!("scaling: {{{}}}", scaling.join(", ")));
        if let Some(c) = self.concurrency {
            fields.push(format!("concurrency: {c}"));
        }
        if let Some(t) = self.timeout {
            fields.push(format!("timeoutSeconds: {t}"));
        }
        if self.internal {
            fields.push("ingress: internal".into());
        }
        match self.traffic {
            1 => fields.push("traffic: [{latestRevision: true, percent: 100, tag: live}]".into()),
            2 => fields.push(
                "traffic: [{latestRevision: true, percent: 75}, \
                 {revisionName: shop-hello-cd5cea3a-00001-abc, percent: 25, tag: old}]"
                    .into(),
            ),
            _ => {}
        }
        // Validation refuses unauthenticated calls to an internal service.
        let mut cloud_run = vec![format!(
            "allowUnauthenticated: {}",
            self.public && !self.internal
        )];
        if let Some(idle) = self.cpu_idle {
            cloud_run.push(format!("cpuIdle: {idle}"));
        }
        if let Some(boost) = self.boost {
            cloud_run.push(format!("startupCpuBoost: {boost}"));
        }
        if let Some(environment) = self.environment {
            cloud_run.push(format!("executionEnvironment: {environment}"));
        }
        fields.push(format!("cloudRun: {{{}}}", cloud_run.join(", ")));
        format!("{{provider: cloudRun, {}}}", fields.join(", "))
    }

    /// `self` with each part taken from `other` where `take` says so.
    fn mixed(&self, other: &Spec, take: [bool; 6]) -> Spec {
        let mut out = self.clone();
        if take[0] {
            out.image = other.image;
        }
        if take[1] {
            (out.size, out.sidecar) = (other.size, other.sidecar);
        }
        if take[2] {
            (out.env, out.secret, out.liveness, out.readiness) =
                (other.env, other.secret, other.liveness, other.readiness);
        }
        if take[3] {
            (out.min, out.extra, out.concurrency, out.timeout) =
                (other.min, other.extra, other.concurrency, other.timeout);
        }
        if take[4] {
            (out.internal, out.traffic, out.public) = (other.internal, other.traffic, other.public);
        }
        if take[5] {
            (out.cpu_idle, out.boost, out.environment) =
                (other.cpu_idle, other.boost, other.environment);
        }
        out.make_valid();
        out
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn cloud_run_holding_any_requests_diffs_empty_and_requests_are_deterministic(
        spec in spec_strategy(),
    ) {
        let yaml = spec.yaml();
        let want = desired(&yaml);
        let p = requests_for(&want);
        prop_assert_eq!(&p, &requests_for(&desired(&yaml)), "{}", yaml);
        prop_assert_eq!(
            serde_json::to_string(&p.rendered()).unwrap(),
            serde_json::to_string(&requests_for(&desired(&yaml)).rendered()).unwrap()
        );
        prop_assert_eq!(diff(&p, &mirror(&p)), Vec::<Change>::new(), "{}", yaml);
        prop_assert_eq!(readiness(&mirror(&p)).0, Readiness::Ready, "{}", yaml);
        let template = p.service.template.clone().unwrap();
        for key in p.service.labels.keys().chain(p.service.annotations.keys())
            .chain(template.labels.keys()).chain(template.annotations.keys())
        {
            prop_assert!(!RESERVED_KEY_PREFIXES.iter().any(|r| key.starts_with(r)), "{}", key);
        }
    }

    #[test]
    fn diff_asks_for_an_update_exactly_when_the_requests_changed(
        a in spec_strategy(),
        b in spec_strategy(),
        take in any::<[bool; 6]>(),
    ) {
        let b = a.mixed(&b, take);
        let (yaml_a, yaml_b) = (a.yaml(), b.yaml());
        let (old, new) = (requests(&yaml_a), requests(&yaml_b));
        let changes = diff(&new, &mirror(&old));
        let context = format!("{yaml_a}\n-> {yaml_b}\n{changes:?}");
        prop_assert_eq!(
            changes.contains(&Change::Spec),
            old.fingerprint != new.fingerprint,
            "{}", context
        );
        prop_assert_eq!(changes.is_empty(), old.service == new.service, "{}", context);
        prop_assert!(!changes.contains(&Change::Labels), "{}", context);
    }
}
