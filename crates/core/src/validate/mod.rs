//! Validation: a `ServerlessService` becomes either the provider-neutral [`Desired`] model or a
//! list of field-level findings. Everything that can be known without calling a cloud is checked
//! here: the portable rules by core, the provider's own by its backend's [`Rules`]. The CRD
//! schema refuses the static subset earlier, at admission.

use std::collections::BTreeSet;

use ferry_api::{
    Container, EnvVar, Probe, RESERVED_ENV_VARS, ServerlessService, ServerlessServiceSpec,
};
use kube::ResourceExt;

use crate::backend::{Parts, Rules};
use crate::capabilities::{self, Feature, Level};
use crate::desired::{
    ContainerModel, Desired, EnvModel, EnvValue, GpuModel, ObjectRef, ProbeAction, ProbeModel,
    ProbesModel, ResourcesModel, ScalingModel, TrafficModel,
};
use crate::findings::{Finding, Findings, Invalid};
use crate::limits;
use crate::names::{is_dns_label, is_dns1035_label};
use crate::quantity::Amount;

mod volumes;
pub(crate) use volumes::{volumes, warn_unmounted};

/// A spec that can run, and what validation noticed on the way.
#[derive(Clone, Debug, PartialEq)]
pub struct Valid {
    /// The desired model.
    pub desired: Desired,
    /// Warnings: accepted, but worth a look.
    pub warnings: Vec<Finding>,
}

/// Validates a `ServerlessService` as its provider (whose `rules` these are) will see it.
pub fn validate(svc: &ServerlessService, rules: &dyn Rules) -> Result<Valid, Invalid> {
    let object = ObjectRef {
        namespace: svc.namespace().unwrap_or_default(),
        name: svc.name_any(),
        uid: svc.uid(),
        generation: svc.metadata.generation,
    };
    validate_spec(object, &svc.spec, rules)
}

/// Validates a spec for the object `object` with its provider's `rules`.
pub fn validate_spec(
    object: ObjectRef,
    spec: &ServerlessServiceSpec,
    rules: &dyn Rules,
) -> Result<Valid, Invalid> {
    let provider = spec.provider;
    if rules.provider() != provider {
        return Err(internal_inconsistency());
    }
    let mut f = Findings::default();
    check_name(&mut f, &object.name);
    refuse_unsupported(&mut f, spec, rules);
    check_sections(&mut f, spec);

    check_container_names(&mut f, &spec.containers);
    // Provider rules on resources and probes need every container parsed; when one is not,
    // its own errors come first and those rules wait for the next validation. Collecting into
    // a Vec first checks every container, where collecting straight into Option would stop at
    // the first failure.
    let containers: Option<Vec<ContainerModel>> = spec
        .containers
        .iter()
        .enumerate()
        .map(|(i, c)| container(&mut f, &format!("spec.containers[{i}]"), c, rules, spec))
        .collect::<Vec<_>>()
        .into_iter()
        .collect();
    let spec_volumes = spec.volumes.as_deref().unwrap_or_default();
    let volumes = volumes(&mut f, spec_volumes);
    warn_unmounted(&mut f, spec_volumes, &spec.containers);
    let serving = serving_container(&mut f, &spec.containers);
    let scaling = scaling(&mut f, spec, rules);
    let traffic = traffic(&mut f, spec);
    let concurrency = positive(&mut f, "spec.concurrency", spec.concurrency);
    let timeout_seconds = positive(&mut f, "spec.timeoutSeconds", spec.timeout_seconds);

    let parts = Parts {
        spec,
        containers: containers.as_deref(),
        scaling: scaling.as_ref(),
        concurrency,
    };
    let backend = rules.check(&mut f, &object, &parts);

    let (
        Some(containers),
        Some(volumes),
        Some(serving_container),
        Some(backend),
        Some(scaling),
        false,
    ) = (
        containers,
        volumes,
        serving,
        backend,
        scaling,
        f.has_errors(),
    )
    else {
        return f.finish(()).and_then(|_| Err(internal_inconsistency()));
    };
    let desired = Desired {
        object,
        provider,
        containers,
        volumes,
        serving_container,
        concurrency,
        timeout_seconds,
        scaling,
        ingress: spec.ingress.unwrap_or_default(),
        traffic,
        deletion_policy: spec.deletion_policy.unwrap_or_default(),
        backend,
    };
    f.finish(desired)
        .map(|(desired, warnings)| Valid { desired, warnings })
}

/// Each check that returns `None` also records an error, so a missing part with no error would
/// be a bug in this module; report it rather than panic.
pub(crate) fn internal_inconsistency() -> Invalid {
    Invalid {
        errors: vec![Finding {
            field: "spec".into(),
            severity: crate::findings::Severity::Invalid,
            message: "Ferry could not build the desired state from this spec (a bug: please \
                      report it with the spec)"
                .into(),
        }],
        warnings: Vec::new(),
    }
}

fn check_name(f: &mut Findings, name: &str) {
    if !is_dns1035_label(name) {
        f.invalid(
            "metadata.name",
            format!(
                "must be a DNS-1035 label of at most 63 characters (lower-case letters, digits \
                 and '-', starting with a letter): every provider names its service after it; \
                 got {name:?}"
            ),
        );
    }
}

/// Refuses, with the provider's note in the capability table, every field it does not support.
pub(crate) fn refuse_unsupported(
    f: &mut Findings,
    spec: &ServerlessServiceSpec,
    rules: &dyn Rules,
) {
    for feature in Feature::ALL {
        let support = rules.support(feature);
        if support.level != Level::No {
            continue;
        }
        for field in capabilities::occurrences(feature, spec) {
            f.unsupported(
                field,
                format!(
                    "{} does not support {}: {}",
                    spec.provider.display_name(),
                    feature.field(),
                    support.note
                ),
            );
        }
    }
}

pub(crate) fn check_sections(f: &mut Findings, spec: &ServerlessServiceSpec) {
    for (owner, field) in spec.provider_sections() {
        if spec.provider != owner {
            f.invalid(
                field,
                format!(
                    "applies only to provider {owner}: remove it or set spec.provider to {owner}"
                ),
            );
        }
    }
}

pub(crate) fn check_container_names(f: &mut Findings, containers: &[Container]) {
    if containers.is_empty() || containers.len() > limits::MAX_CONTAINERS {
        f.invalid(
            "spec.containers",
            format!(
                "needs 1 to {} containers; got {}",
                limits::MAX_CONTAINERS,
                containers.len()
            ),
        );
    }
    let mut seen = BTreeSet::new();
    for (i, c) in containers.iter().enumerate() {
        if !is_dns_label(&c.name) {
            f.invalid(
                format!("spec.containers[{i}].name"),
                format!(
                    "must be a DNS label (lower-case letters, digits and '-', at most 63); got {:?}",
                    c.name
                ),
            );
        }
        if !seen.insert(c.name.as_str()) {
            f.invalid(
                format!("spec.containers[{i}].name"),
                format!("container name {:?} is used twice", c.name),
            );
        }
    }
}

fn serving_container(f: &mut Findings, containers: &[Container]) -> Option<usize> {
    let with_port: Vec<usize> = containers
        .iter()
        .enumerate()
        .filter(|(_, c)| c.port.is_some())
        .map(|(i, _)| i)
        .collect();
    match with_port.as_slice() {
        [one] => Some(*one),
        [] => {
            f.invalid(
                "spec.containers",
                "exactly one container must set port: the one that receives the traffic; none does",
            );
            None
        }
        many => {
            let names: Vec<&str> = many
                .iter()
                .filter_map(|&i| containers.get(i))
                .map(|c| c.name.as_str())
                .collect();
            f.invalid(
                "spec.containers",
                format!(
                    "exactly one container must set port: the one that receives the traffic; \
                     {} do ({})",
                    names.len(),
                    names.join(", ")
                ),
            );
            None
        }
    }
}

pub(crate) fn container(
    f: &mut Findings,
    path: &str,
    c: &Container,
    rules: &dyn Rules,
    spec: &ServerlessServiceSpec,
) -> Option<ContainerModel> {
    if c.image.trim().is_empty() {
        f.invalid(
            format!("{path}.image"),
            "must name an image, e.g. ghcr.io/acme/hello:1.4.2",
        );
    }
    let port = c
        .port
        .and_then(|p| port_number(f, &format!("{path}.port"), p));
    let env = env(f, path, c.env.as_deref().unwrap_or_default(), rules, spec);
    let resources = resources(f, path, c);
    let probes = probes(f, path, c, port);
    let mounts = volumes::mounts(f, path, c, spec.volumes.as_deref().unwrap_or_default());
    let (env, resources, probes, mounts) = (env?, resources?, probes?, mounts?);
    Some(ContainerModel {
        name: c.name.clone(),
        image: c.image.clone(),
        command: c.command.clone().unwrap_or_default(),
        args: c.args.clone().unwrap_or_default(),
        port,
        env,
        resources,
        probes,
        mounts,
    })
}

fn port_number(f: &mut Findings, path: &str, port: i32) -> Option<u16> {
    match u16::try_from(port) {
        Ok(p) if p > 0 => Some(p),
        _ => {
            f.invalid(path, format!("a port is 1 to 65535; got {port}"));
            None
        }
    }
}

fn env(
    f: &mut Findings,
    path: &str,
    vars: &[EnvVar],
    rules: &dyn Rules,
    spec: &ServerlessServiceSpec,
) -> Option<Vec<EnvModel>> {
    let errors_before = f.error_count();
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(vars.len());
    for (i, var) in vars.iter().enumerate() {
        let var_path = format!("{path}.env[{i}]");
        if !is_env_name(&var.name) {
            f.invalid(
                format!("{var_path}.name"),
                format!(
                    "must be letters, digits, '_', '-' or '.', not starting with a digit; got {:?}",
                    var.name
                ),
            );
        }
        if RESERVED_ENV_VARS.contains(&var.name.as_str()) {
            f.invalid(
                format!("{var_path}.name"),
                format!(
                    "{} is set by the platform on every provider; choose another name",
                    var.name
                ),
            );
        }
        if !seen.insert(var.name.as_str()) {
            f.invalid(
                format!("{var_path}.name"),
                format!("{} is set twice in this container", var.name),
            );
        }
        let value = match (&var.value, &var.secret) {
            (Some(v), None) => Some(EnvValue::Literal(v.clone())),
            (None, Some(secret)) => rules
                .secret(f, &format!("{var_path}.secret"), secret, spec)
                .map(EnvValue::Secret),
            _ => {
                f.invalid(var_path.clone(), "set exactly one of value or secret");
                None
            }
        };
        if let Some(value) = value {
            out.push(EnvModel {
                name: var.name.clone(),
                value,
            });
        }
    }
    (f.error_count() == errors_before).then_some(out)
}

fn is_env_name(name: &str) -> bool {
    name.starts_with(|c: char| !c.is_ascii_digit())
        && !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// A quantity that must be a positive amount, in the unit `to_unit` picks.
fn amount(
    f: &mut Findings,
    path: &str,
    q: Option<&ferry_api::Quantity>,
    to_unit: fn(Amount) -> Option<u64>,
) -> Result<Option<u64>, ()> {
    let Some(q) = q else { return Ok(None) };
    match Amount::parse(q.as_str()) {
        Ok(a) if a.is_zero() => {
            f.invalid(path, format!("must be more than zero; got {q}"));
            Err(())
        }
        Ok(a) => to_unit(a).map(Some).ok_or_else(|| {
            f.invalid(path, format!("{q} is too large"));
        }),
        Err(e) => {
            f.invalid(path, e.to_string());
            Err(())
        }
    }
}

fn resources(f: &mut Findings, path: &str, c: &Container) -> Option<ResourcesModel> {
    let Some(r) = &c.resources else {
        return Some(ResourcesModel::default());
    };
    let path = format!("{path}.resources");
    let cpu = amount(
        f,
        &format!("{path}.cpu"),
        r.cpu.as_ref(),
        Amount::millis_ceil,
    );
    let memory = amount(
        f,
        &format!("{path}.memory"),
        r.memory.as_ref(),
        Amount::units_ceil,
    );
    let storage = amount(
        f,
        &format!("{path}.ephemeralStorage"),
        r.ephemeral_storage.as_ref(),
        Amount::units_ceil,
    );
    let gpu = match &r.gpu {
        None => Ok(None),
        Some(g) => match u32::try_from(g.count) {
            Ok(count) if count > 0 => Ok(Some(GpuModel {
                count,
                gpu_type: g.type_.clone(),
            })),
            _ => {
                f.invalid(
                    format!("{path}.gpu.count"),
                    format!("must be 1 or more; got {}", g.count),
                );
                Err(())
            }
        },
    };
    Some(ResourcesModel {
        cpu_millis: cpu.ok()?,
        memory_bytes: memory.ok()?,
        ephemeral_storage_bytes: storage.ok()?,
        gpu: gpu.ok()?,
    })
}

fn probes(f: &mut Findings, path: &str, c: &Container, port: Option<u16>) -> Option<ProbesModel> {
    let Some(p) = &c.probes else {
        return Some(ProbesModel::default());
    };
    let path = format!("{path}.probes");
    let startup = optional_probe(f, &format!("{path}.startup"), p.startup.as_ref(), port);
    let readiness = optional_probe(f, &format!("{path}.readiness"), p.readiness.as_ref(), port);
    let liveness = optional_probe(f, &format!("{path}.liveness"), p.liveness.as_ref(), port);
    Some(ProbesModel {
        startup: startup.ok()?,
        readiness: readiness.ok()?,
        liveness: liveness.ok()?,
    })
}

fn optional_probe(
    f: &mut Findings,
    path: &str,
    probe: Option<&Probe>,
    port: Option<u16>,
) -> Result<Option<ProbeModel>, ()> {
    probe.map_or(Ok(None), |p| {
        self::probe(f, path, p, port).map(Some).ok_or(())
    })
}

fn probe(
    f: &mut Findings,
    path: &str,
    p: &Probe,
    container_port: Option<u16>,
) -> Option<ProbeModel> {
    let errors_before = f.error_count();
    let mut resolve_port = |action: &str, port: Option<i32>| -> Option<u16> {
        let field = format!("{path}.{action}.port");
        if let Some(p) = port {
            return port_number(f, &field, p);
        }
        if container_port.is_none() {
            f.invalid(
                field,
                "required: this container sets no port for the probe to default to",
            );
        }
        container_port
    };
    let action = match (&p.http_get, &p.tcp_socket, &p.grpc) {
        (Some(h), None, None) => resolve_port("httpGet", h.port).map(|port| ProbeAction::HttpGet {
            path: h.path.clone().unwrap_or_else(|| "/".into()),
            port,
            headers: h
                .http_headers
                .iter()
                .flatten()
                .map(|h| (h.name.clone(), h.value.clone()))
                .collect(),
        }),
        (None, Some(t), None) => {
            resolve_port("tcpSocket", t.port).map(|port| ProbeAction::TcpSocket { port })
        }
        (None, None, Some(g)) => resolve_port("grpc", g.port).map(|port| ProbeAction::Grpc {
            port,
            service: g.service.clone().unwrap_or_default(),
        }),
        _ => {
            f.invalid(path, "set exactly one of httpGet, tcpSocket or grpc");
            None
        }
    };
    let number = |f: &mut Findings, field: &str, value: Option<i32>, min: u32| {
        let value = value?;
        match u32::try_from(value) {
            Ok(v) if v >= min => Some(v),
            _ => {
                f.invalid(
                    format!("{path}.{field}"),
                    format!("must be {min} or more; got {value}"),
                );
                None
            }
        }
    };
    let model = ProbeModel {
        action: action?,
        initial_delay_seconds: number(f, "initialDelaySeconds", p.initial_delay_seconds, 0),
        period_seconds: number(f, "periodSeconds", p.period_seconds, 1),
        timeout_seconds: number(f, "timeoutSeconds", p.timeout_seconds, 1),
        failure_threshold: number(f, "failureThreshold", p.failure_threshold, 1),
    };
    (f.error_count() == errors_before).then_some(model)
}

fn non_negative(f: &mut Findings, field: &str, value: Option<i32>) -> Result<Option<u32>, ()> {
    value.map(u32::try_from).transpose().map_err(|_| {
        f.invalid(field, "must not be negative");
    })
}

fn positive(f: &mut Findings, field: &str, value: Option<i32>) -> Option<u32> {
    match value.map(u32::try_from) {
        Some(Ok(0) | Err(_)) => {
            f.invalid(field, "must be 1 or more");
            None
        }
        Some(Ok(v)) => Some(v),
        None => None,
    }
}

fn scaling(
    f: &mut Findings,
    spec: &ServerlessServiceSpec,
    rules: &dyn Rules,
) -> Option<ScalingModel> {
    let defaults = rules.scaling_defaults();
    let s = spec.scaling.clone().unwrap_or_default();
    let min = non_negative(f, "spec.scaling.minInstances", s.min_instances);
    let max = non_negative(f, "spec.scaling.maxInstances", s.max_instances);
    let initial = non_negative(f, "spec.scaling.initialInstances", s.initial_instances);
    let delay = non_negative(
        f,
        "spec.scaling.scaleDownDelaySeconds",
        s.scale_down_delay_seconds,
    );
    let target = positive(f, "spec.scaling.target", s.target);
    let (Ok(min), Ok(max), Ok(initial), Ok(delay)) = (min, max, initial, delay) else {
        return None;
    };
    if max == Some(0) {
        f.invalid("spec.scaling.maxInstances", "must be 1 or more");
    }
    let min_instances = min.unwrap_or(defaults.min_instances);
    if let (Some(min), Some(max)) = (min, max)
        && min > max
    {
        f.invalid(
            "spec.scaling.minInstances",
            format!("must not be greater than maxInstances ({min} > {max})"),
        );
    }
    if let (Some(initial), Some(max)) = (initial, max)
        && initial > max
    {
        f.invalid(
            "spec.scaling.initialInstances",
            format!("must not be greater than maxInstances ({initial} > {max})"),
        );
    }
    let metric = s.metric.unwrap_or(defaults.metric);
    if let Some(t) = target
        && matches!(
            metric,
            ferry_api::ScalingMetric::Cpu | ferry_api::ScalingMetric::Memory
        )
        && t > 100
    {
        f.invalid(
            "spec.scaling.target",
            format!(
                "a {} target is a utilization percentage, 1 to 100; got {t}",
                metric.as_str()
            ),
        );
    }
    let max_instances = if defaults.max_is_min {
        Some(max.unwrap_or(min_instances))
    } else {
        max
    };
    Some(ScalingModel {
        min_instances,
        max_instances,
        initial_instances: initial,
        metric,
        target,
        scale_down_delay_seconds: delay,
    })
}

fn traffic(f: &mut Findings, spec: &ServerlessServiceSpec) -> Vec<TrafficModel> {
    let Some(targets) = &spec.traffic else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(targets.len());
    let mut total: i64 = 0;
    let mut tags = BTreeSet::new();
    for (i, t) in targets.iter().enumerate() {
        let path = format!("spec.traffic[{i}]");
        let latest = t.latest_revision == Some(true);
        if t.revision_name.is_some() == latest {
            f.invalid(
                path.clone(),
                "set exactly one of revisionName or latestRevision: true",
            );
        }
        let percent = t.percent.unwrap_or(0);
        total += i64::from(percent);
        let Ok(percent) = u32::try_from(percent) else {
            f.invalid(format!("{path}.percent"), "must be 0 to 100");
            continue;
        };
        if let Some(tag) = &t.tag {
            if !is_dns_label(tag) {
                f.invalid(
                    format!("{path}.tag"),
                    format!("must be a DNS label; got {tag:?}"),
                );
            }
            if !tags.insert(tag.as_str()) {
                f.invalid(format!("{path}.tag"), format!("tag {tag:?} is used twice"));
            }
        }
        out.push(TrafficModel {
            revision_name: if latest {
                None
            } else {
                t.revision_name.clone()
            },
            percent,
            tag: t.tag.clone(),
        });
    }
    if total != 100 {
        f.invalid(
            "spec.traffic",
            format!("traffic percentages must add up to 100; they add up to {total}"),
        );
    }
    out
}
