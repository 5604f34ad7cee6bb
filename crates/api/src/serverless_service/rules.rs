//! The ServerlessService's schema rules: the CEL `x-kubernetes-validations` the API server
//! checks, and the schema transforms that attach them and the list types to the spec's types.

use schemars::Schema;

use crate::schema::{
    CelRule, add_rule, add_rules, cel_string_list, list_atomic, list_map, list_set,
};

pub(crate) fn list_map_by_name(schema: &mut Schema) {
    list_map(schema, &["name"]);
}

pub(crate) fn list_map_by_type(schema: &mut Schema) {
    list_map(schema, &["type"]);
}

pub(super) fn set_list(schema: &mut Schema) {
    list_set(schema);
}

pub(super) fn atomic_list(schema: &mut Schema) {
    list_atomic(schema);
}

/// Rules over the whole spec: sections that must match the provider, the one serving
/// container, and the fields a provider can never honour (the capability table in `ferry-core`
/// lists the same refusals, and a test there checks the two agree).
pub const SPEC_RULES: &[CelRule] = &[
    CelRule {
        rule: "!has(self.knative) || self.provider == 'knative'",
        message: "applies only to provider knative: remove it or set spec.provider to knative",
        field_path: Some(".knative"),
    },
    CelRule {
        rule: "!has(self.fargate) || self.provider == 'fargate'",
        message: "applies only to provider fargate: remove it or set spec.provider to fargate",
        field_path: Some(".fargate"),
    },
    CelRule {
        rule: "!has(self.cloudRun) || self.provider == 'cloudRun'",
        message: "applies only to provider cloudRun: remove it or set spec.provider to cloudRun",
        field_path: Some(".cloudRun"),
    },
    CelRule {
        rule: "!has(self.containerApps) || self.provider == 'containerApps'",
        message: "applies only to provider containerApps: remove it or set spec.provider to containerApps",
        field_path: Some(".containerApps"),
    },
    CelRule {
        rule: "!has(self.containerInstances) || self.provider == 'containerInstances'",
        message: "applies only to provider containerInstances: remove it or set spec.provider to containerInstances",
        field_path: Some(".containerInstances"),
    },
    CelRule {
        rule: "!has(self.kubernetes) || self.provider == 'kubernetes'",
        message: "applies only to provider kubernetes: remove it or set spec.provider to kubernetes",
        field_path: Some(".kubernetes"),
    },
    CelRule {
        rule: "!has(self.providerConfigRef) || self.provider != 'kubernetes'",
        message: "the kubernetes provider runs in this cluster and needs no ProviderConfig: remove spec.providerConfigRef",
        field_path: Some(".providerConfigRef"),
    },
    CelRule {
        rule: "self.provider != 'kubernetes' || !has(self.concurrency)",
        message: "Kubernetes does not support spec.concurrency: a Service does not limit requests per pod; remove it, or use provider knative",
        field_path: Some(".concurrency"),
    },
    CelRule {
        rule: "self.provider != 'kubernetes' || !has(self.timeoutSeconds)",
        message: "Kubernetes does not support spec.timeoutSeconds: a Service does not proxy requests (set the ingress controller's timeout with spec.kubernetes.ingressAnnotations); remove it",
        field_path: Some(".timeoutSeconds"),
    },
    CelRule {
        rule: "self.provider != 'kubernetes' || !has(self.traffic)",
        message: "Kubernetes does not support spec.traffic: a Deployment has no revisions to split between; remove it, or use provider knative",
        field_path: Some(".traffic"),
    },
    CelRule {
        rule: "self.provider != 'kubernetes' || !has(self.scaling) || ((!has(self.scaling.minInstances) || self.scaling.minInstances >= 1) && !has(self.scaling.initialInstances))",
        message: "Kubernetes does not support scaling to zero or initialInstances: the HorizontalPodAutoscaler keeps at least one pod and sets the replica count itself; set minInstances to 1 or more and remove initialInstances, or use provider knative",
        field_path: Some(".scaling"),
    },
    CelRule {
        rule: "self.provider != 'kubernetes' || !has(self.scaling) || !has(self.scaling.metric) || self.scaling.metric in ['cpu', 'memory']",
        message: "Kubernetes does not support scaling on concurrency or rps without an event-driven autoscaler: the HorizontalPodAutoscaler scales on cpu or memory",
        field_path: Some(".scaling.metric"),
    },
    CelRule {
        rule: "self.provider != 'kubernetes' || !self.containers.exists(c, has(c.resources) && has(c.resources.gpu) && has(c.resources.gpu.type))",
        message: "Kubernetes does not support resources.gpu.type: pods ask for GPUs by count (nvidia.com/gpu); remove the type and pick GPU nodes with spec.kubernetes.nodeSelector",
        field_path: Some(".containers"),
    },
    CelRule {
        rule: "!has(self.providerConfigRef) || self.provider != 'knative'",
        message: "Knative runs in this cluster and needs no ProviderConfig: remove spec.providerConfigRef",
        field_path: Some(".providerConfigRef"),
    },
    CelRule {
        rule: "self.containers.exists_one(c, has(c.port))",
        message: "exactly one container must set port: the one that receives the traffic",
        field_path: Some(".containers"),
    },
    CelRule {
        rule: "self.provider != 'fargate' || !has(self.concurrency)",
        message: "Fargate does not support spec.concurrency: ECS does not limit requests per task; remove it, or use provider knative or cloudRun",
        field_path: Some(".concurrency"),
    },
    CelRule {
        rule: "self.provider != 'fargate' || !has(self.timeoutSeconds)",
        message: "Fargate does not support spec.timeoutSeconds: ECS does not proxy requests (set the load balancer's idle timeout instead); remove it",
        field_path: Some(".timeoutSeconds"),
    },
    CelRule {
        rule: "self.provider != 'fargate' || !self.containers.exists(c, has(c.resources) && has(c.resources.gpu))",
        message: "Fargate does not support resources.gpu: Fargate has no GPUs; remove it, or use provider cloudRun or knative",
        field_path: Some(".containers"),
    },
    CelRule {
        rule: "self.provider != 'fargate' || !self.containers.exists(c, has(c.probes) && has(c.probes.readiness))",
        message: "Fargate does not support probes.readiness: ECS routes by the load balancer's target-group health check; remove it (probes.liveness becomes the ECS container health check)",
        field_path: Some(".containers"),
    },
    CelRule {
        rule: "self.provider != 'fargate' || !self.containers.exists(c, has(c.probes) && has(c.probes.startup))",
        message: "Fargate does not support probes.startup: remove it and give probes.liveness an initialDelaySeconds (the ECS health check's startPeriod)",
        field_path: Some(".containers"),
    },
    CelRule {
        rule: "self.provider != 'fargate' || !has(self.traffic) || self.traffic.all(t, has(t.latestRevision) && t.latestRevision && !has(t.tag))",
        message: "Fargate does not support revision traffic splits or tags: every request goes to the latest task definition; spec.traffic may only send all traffic to latestRevision",
        field_path: Some(".traffic"),
    },
    CelRule {
        rule: "self.provider != 'fargate' || !has(self.scaling) || !has(self.scaling.minInstances) || self.scaling.minInstances >= 1",
        message: "Fargate does not support scaling to zero: nothing starts a task when a request arrives; set spec.scaling.minInstances to 1 or more",
        field_path: Some(".scaling.minInstances"),
    },
    CelRule {
        rule: "self.provider != 'fargate' || !has(self.scaling) || !has(self.scaling.metric) || self.scaling.metric != 'concurrency'",
        message: "Fargate does not support scaling on concurrency: ECS scales on cpu, memory or rps (load balancer requests per target)",
        field_path: Some(".scaling.metric"),
    },
    CelRule {
        rule: "self.provider != 'cloudRun' || !self.containers.exists(c, has(c.resources) && has(c.resources.ephemeralStorage))",
        message: "Cloud Run does not support resources.ephemeralStorage: its writable filesystem is in memory and counts against resources.memory; remove it",
        field_path: Some(".containers"),
    },
    CelRule {
        rule: "self.provider != 'cloudRun' || !has(self.scaling) || !has(self.scaling.initialInstances)",
        message: "Cloud Run does not support spec.scaling.initialInstances; remove it (minInstances keeps instances warm)",
        field_path: Some(".scaling.initialInstances"),
    },
    CelRule {
        rule: "self.provider != 'cloudRun' || !has(self.scaling) || !has(self.scaling.target)",
        message: "Cloud Run does not support spec.scaling.target: it scales by itself to keep each instance within spec.concurrency; remove it and set spec.concurrency",
        field_path: Some(".scaling.target"),
    },
    CelRule {
        rule: "self.provider != 'cloudRun' || !has(self.scaling) || !has(self.scaling.metric) || self.scaling.metric == 'concurrency'",
        message: "Cloud Run scales on concurrency only: remove spec.scaling.metric or set it to concurrency",
        field_path: Some(".scaling.metric"),
    },
    CelRule {
        rule: "self.provider != 'cloudRun' || !has(self.scaling) || !has(self.scaling.scaleDownDelaySeconds)",
        message: "Cloud Run does not support spec.scaling.scaleDownDelaySeconds; remove it",
        field_path: Some(".scaling.scaleDownDelaySeconds"),
    },
    CelRule {
        rule: "self.provider != 'containerApps' || !has(self.timeoutSeconds)",
        message: "Container Apps does not support spec.timeoutSeconds: its ingress ends a request after 240 seconds and has no setting; remove it",
        field_path: Some(".timeoutSeconds"),
    },
    CelRule {
        rule: "self.provider != 'containerApps' || !has(self.scaling) || !has(self.scaling.initialInstances)",
        message: "Container Apps does not support spec.scaling.initialInstances; remove it (minInstances keeps replicas warm)",
        field_path: Some(".scaling.initialInstances"),
    },
    CelRule {
        rule: "self.provider != 'containerApps' || !has(self.scaling) || !has(self.scaling.metric) || self.scaling.metric != 'rps'",
        message: "Container Apps does not support scaling on rps: it scales on concurrency (concurrent HTTP requests), cpu or memory",
        field_path: Some(".scaling.metric"),
    },
    CelRule {
        rule: "self.provider != 'containerApps' || !self.containers.exists(c, has(c.resources) && has(c.resources.ephemeralStorage))",
        message: "Container Apps does not support resources.ephemeralStorage: the platform sizes it from the CPU (2 GiB per 0.5 vCPU on Consumption); remove it",
        field_path: Some(".containers"),
    },
    CelRule {
        rule: "self.provider != 'containerApps' || !self.containers.exists(c, has(c.probes) && ((has(c.probes.startup) && has(c.probes.startup.grpc)) || (has(c.probes.readiness) && has(c.probes.readiness.grpc)) || (has(c.probes.liveness) && has(c.probes.liveness.grpc))))",
        message: "Container Apps does not support grpc probes: use httpGet or tcpSocket",
        field_path: Some(".containers"),
    },
    CelRule {
        rule: "self.provider != 'containerApps' || !self.containers.exists(c, has(c.resources) && has(c.resources.gpu))",
        message: "Container Apps does not support resources.gpu yet: its GPUs come with GPU workload profiles (Consumption-GPU-NC8as-T4, NC24-A100 ...), which Ferry does not manage; remove it, or use provider cloudRun or knative",
        field_path: Some(".containers"),
    },
    CelRule {
        rule: "self.provider != 'containerInstances' || !has(self.concurrency)",
        message: "Container Instances does not support spec.concurrency: a container group takes every request sent to it; remove it, or use provider containerApps",
        field_path: Some(".concurrency"),
    },
    CelRule {
        rule: "self.provider != 'containerInstances' || !has(self.timeoutSeconds)",
        message: "Container Instances does not support spec.timeoutSeconds: nothing proxies the requests; remove it",
        field_path: Some(".timeoutSeconds"),
    },
    CelRule {
        rule: "self.provider != 'containerInstances' || !has(self.traffic)",
        message: "Container Instances does not support spec.traffic: a container group has no revisions; remove it, or use provider containerApps",
        field_path: Some(".traffic"),
    },
    CelRule {
        rule: "self.provider != 'containerInstances' || !has(self.scaling) || ((!has(self.scaling.minInstances) || self.scaling.minInstances == 1) && (!has(self.scaling.maxInstances) || self.scaling.maxInstances == 1))",
        message: "Container Instances runs exactly one container group: no autoscaling and no scale to zero; set minInstances and maxInstances to 1 or remove them, or use provider containerApps",
        field_path: Some(".scaling"),
    },
    CelRule {
        rule: "self.provider != 'containerInstances' || !has(self.scaling) || (!has(self.scaling.metric) && !has(self.scaling.target) && !has(self.scaling.initialInstances) && !has(self.scaling.scaleDownDelaySeconds))",
        message: "Container Instances has no autoscaling: remove spec.scaling.metric, target, initialInstances and scaleDownDelaySeconds",
        field_path: Some(".scaling"),
    },
    CelRule {
        rule: "self.provider != 'containerInstances' || !self.containers.exists(c, has(c.resources) && has(c.resources.ephemeralStorage))",
        message: "Container Instances does not support resources.ephemeralStorage: mount a volume instead; remove it",
        field_path: Some(".containers"),
    },
    CelRule {
        rule: "self.provider != 'containerInstances' || !self.containers.exists(c, has(c.probes) && has(c.probes.startup))",
        message: "Container Instances does not support probes.startup: give probes.liveness an initialDelaySeconds instead",
        field_path: Some(".containers"),
    },
    CelRule {
        rule: "self.provider != 'containerInstances' || !self.containers.exists(c, has(c.probes) && ((has(c.probes.readiness) && !has(c.probes.readiness.httpGet)) || (has(c.probes.liveness) && !has(c.probes.liveness.httpGet))))",
        message: "Container Instances probes are httpGet only (no tcpSocket or grpc)",
        field_path: Some(".containers"),
    },
    CelRule {
        rule: "self.provider != 'knative' || !self.containers.exists(c, has(c.resources) && has(c.resources.gpu) && has(c.resources.gpu.type))",
        message: "Knative does not support resources.gpu.type: it schedules GPUs by count (nvidia.com/gpu); remove the type and pick GPU nodes with spec.knative.nodeSelector",
        field_path: Some(".containers"),
    },
];

pub(super) fn spec_rules(schema: &mut Schema) {
    add_rules(schema, SPEC_RULES);
    add_rules(schema, VOLUME_SPEC_RULES);
}

/// Environment variable names every provider reserves.
pub const RESERVED_ENV_VARS: [&str; 4] = ["PORT", "K_SERVICE", "K_CONFIGURATION", "K_REVISION"];

pub(super) fn env_var_rules(schema: &mut Schema) {
    add_rule(
        schema,
        "has(self.value) != has(self.secret)",
        "set exactly one of value or secret",
        None,
    );
    add_rule(
        schema,
        &format!("!(self.name in {})", cel_string_list(&RESERVED_ENV_VARS)),
        "PORT, K_SERVICE, K_CONFIGURATION and K_REVISION are set by the platform; choose another name",
        Some(".name"),
    );
}

pub(super) fn azure_secret_rules(schema: &mut Schema) {
    add_rule(
        schema,
        "has(self.keyVaultUrl) != has(self.fromSecret)",
        "set exactly one of keyVaultUrl or fromSecret",
        None,
    );
}

pub(super) fn probe_rules(schema: &mut Schema) {
    add_rules(
        schema,
        &[CelRule {
            rule: "(has(self.httpGet) ? 1 : 0) + (has(self.tcpSocket) ? 1 : 0) + (has(self.grpc) ? 1 : 0) == 1",
            message: "set exactly one of httpGet, tcpSocket or grpc",
            field_path: None,
        }],
    );
}

pub(super) fn scaling_rules(schema: &mut Schema) {
    add_rules(
        schema,
        &[
            CelRule {
                rule: "!has(self.minInstances) || !has(self.maxInstances) || self.minInstances <= self.maxInstances",
                message: "minInstances must not be greater than maxInstances",
                field_path: Some(".minInstances"),
            },
            CelRule {
                rule: "!has(self.initialInstances) || !has(self.maxInstances) || self.initialInstances <= self.maxInstances",
                message: "initialInstances must not be greater than maxInstances",
                field_path: Some(".initialInstances"),
            },
            CelRule {
                rule: "!has(self.target) || !has(self.metric) || !(self.metric in ['cpu', 'memory']) || self.target <= 100",
                message: "a cpu or memory target is a utilization percentage: 1 to 100",
                field_path: Some(".target"),
            },
        ],
    );
}

pub(super) fn traffic_rules(schema: &mut Schema) {
    list_atomic(schema);
    add_rules(
        schema,
        &[
            CelRule {
                rule: "self.map(t, has(t.percent) ? t.percent : 0).sum() == 100",
                message: "traffic percentages must add up to 100",
                field_path: None,
            },
            CelRule {
                rule: "self.all(t, !has(t.tag) || self.exists_one(u, has(u.tag) && u.tag == t.tag))",
                message: "traffic tags must be unique",
                field_path: None,
            },
        ],
    );
}

pub(super) fn traffic_target_rules(schema: &mut Schema) {
    add_rules(
        schema,
        &[CelRule {
            rule: "has(self.revisionName) != (has(self.latestRevision) && self.latestRevision)",
            message: "set exactly one of revisionName or latestRevision: true",
            field_path: None,
        }],
    );
}

/// Revision-template annotations Ferry derives from `spec.scaling`, refused in
/// `spec.knative.annotations`.
pub const KNATIVE_MANAGED_ANNOTATIONS: [&str; 9] = [
    "autoscaling.knative.dev/class",
    "autoscaling.knative.dev/metric",
    "autoscaling.knative.dev/target",
    "autoscaling.knative.dev/min-scale",
    "autoscaling.knative.dev/max-scale",
    "autoscaling.knative.dev/initial-scale",
    "autoscaling.knative.dev/scale-down-delay",
    "autoscaling.knative.dev/minScale",
    "autoscaling.knative.dev/maxScale",
];

pub(super) fn knative_rules(schema: &mut Schema) {
    // Iterate the constant list and look keys up in the map: iterating the map's keys instead
    // would cost (number of keys x key length) in the API server's CEL cost estimate.
    add_rule(
        schema,
        &format!(
            "!has(self.annotations) || !{}.exists(k, k in self.annotations)",
            cel_string_list(&KNATIVE_MANAGED_ANNOTATIONS)
        ),
        "spec.knative.annotations may not set the autoscaling class, metric, target, \
         min/max/initial scale or scale-down delay: set them through spec.scaling",
        Some(".annotations"),
    );
}

pub(super) fn fargate_rules(schema: &mut Schema) {
    add_rules(
        schema,
        &[
            CelRule {
                rule: "!has(self.capacityProvider) || self.capacityProvider != 'FARGATE_SPOT' || !has(self.operatingSystemFamily) || self.operatingSystemFamily == 'LINUX'",
                message: "Fargate Spot runs Linux tasks only: use capacityProvider FARGATE for Windows",
                field_path: Some(".capacityProvider"),
            },
            CelRule {
                rule: "!has(self.cpuArchitecture) || self.cpuArchitecture != 'ARM64' || !has(self.operatingSystemFamily) || self.operatingSystemFamily == 'LINUX'",
                message: "Fargate runs ARM64 tasks on Linux only: use cpuArchitecture X86_64 for Windows",
                field_path: Some(".cpuArchitecture"),
            },
        ],
    );
}

pub(super) fn vpc_access_rules(schema: &mut Schema) {
    add_rules(
        schema,
        &[CelRule {
            rule: "!(has(self.connector) && has(self.networkInterfaces))",
            message: "use either a connector or networkInterfaces (Direct VPC egress), not both",
            field_path: None,
        }],
    );
}

/// One provider's refusal of one volume kind, as a rule over the whole spec.
macro_rules! refuse_volume {
    ($provider:literal, $kind:literal, $message:literal) => {
        CelRule {
            rule: concat!(
                "self.provider != '",
                $provider,
                "' || !has(self.volumes) || !self.volumes.exists(v, has(v.",
                $kind,
                "))"
            ),
            message: $message,
            field_path: Some(".volumes"),
        }
    };
}

/// Rules over the volumes of a whole spec (a ServerlessService's or a ServerlessJob's): every
/// mount names a declared volume, and the kinds a provider can never mount (the capability
/// table's `no` cells for the volume rows; a test in `crates/ferry` checks the two agree).
pub const VOLUME_SPEC_RULES: &[CelRule] = &[
    CelRule {
        rule: "self.containers.all(c, !has(c.volumeMounts) || c.volumeMounts.all(m, has(self.volumes) && self.volumes.exists(v, v.name == m.name)))",
        message: "every containers[].volumeMounts[].name must name a volume of spec.volumes",
        field_path: Some(".containers"),
    },
    refuse_volume!(
        "knative",
        "gcs",
        "Knative does not support gcs volumes: Ferry mounts no CSI volume on Knative (Knative admits one only behind its kubernetes.podspec-volumes-csi flag, off by default); use provider kubernetes (GKE's Cloud Storage FUSE CSI driver) or cloudRun"
    ),
    refuse_volume!(
        "knative",
        "azureFile",
        "Knative does not support azureFile volumes: Ferry mounts no CSI volume on Knative (Knative admits one only behind its kubernetes.podspec-volumes-csi flag, off by default); use provider kubernetes, containerApps or containerInstances"
    ),
    refuse_volume!(
        "fargate",
        "secret",
        "Fargate does not support secret volumes: ECS injects secrets as environment variables only; use env[].secret"
    ),
    refuse_volume!(
        "fargate",
        "nfs",
        "Fargate does not support nfs volumes: ECS on Fargate mounts only EFS; use an efs volume"
    ),
    refuse_volume!(
        "fargate",
        "gcs",
        "Fargate does not support gcs volumes: ECS on Fargate mounts only EFS; use an efs volume"
    ),
    refuse_volume!(
        "fargate",
        "azureFile",
        "Fargate does not support azureFile volumes: ECS on Fargate mounts only EFS; use an efs volume"
    ),
    refuse_volume!(
        "cloudRun",
        "efs",
        "Cloud Run does not support efs volumes: it mounts Cloud Storage (gcs) and NFS (Filestore); use a gcs or nfs volume"
    ),
    refuse_volume!(
        "cloudRun",
        "azureFile",
        "Cloud Run does not support azureFile volumes: it mounts Cloud Storage (gcs) and NFS (Filestore); use a gcs or nfs volume"
    ),
    refuse_volume!(
        "containerApps",
        "nfs",
        "Container Apps does not support nfs volumes from a server: it mounts Azure Files through the environment's storages; use an azureFile volume"
    ),
    refuse_volume!(
        "containerApps",
        "efs",
        "Container Apps does not support efs volumes: it mounts Azure Files; use an azureFile volume"
    ),
    refuse_volume!(
        "containerApps",
        "gcs",
        "Container Apps does not support gcs volumes: it mounts Azure Files; use an azureFile volume"
    ),
    refuse_volume!(
        "containerInstances",
        "nfs",
        "Container Instances does not support nfs volumes: a container group mounts Azure Files, emptyDir and secret volumes; use an azureFile volume"
    ),
    refuse_volume!(
        "containerInstances",
        "efs",
        "Container Instances does not support efs volumes: a container group mounts Azure Files; use an azureFile volume"
    ),
    refuse_volume!(
        "containerInstances",
        "gcs",
        "Container Instances does not support gcs volumes: a container group mounts Azure Files; use an azureFile volume"
    ),
    CelRule {
        rule: "self.provider != 'containerInstances' || !self.containers.exists(c, has(c.volumeMounts) && c.volumeMounts.exists(m, has(m.subPath)))",
        message: "Container Instances does not support volumeMounts[].subPath: a container group mounts a volume at its root only; remove subPath",
        field_path: Some(".containers"),
    },
];

pub(super) fn volume_rules(schema: &mut Schema) {
    add_rules(
        schema,
        &[
            CelRule {
                rule: "[has(self.secret), has(self.emptyDir), has(self.nfs), has(self.efs), has(self.gcs), has(self.azureFile)].filter(x, x).size() == 1",
                message: "set exactly one source: secret, emptyDir, nfs, efs, gcs or azureFile",
                field_path: None,
            },
            CelRule {
                rule: "!has(self.efs) || !has(self.efs.accessPointId) || (has(self.efs.transitEncryption) && self.efs.transitEncryption)",
                message: "an EFS access point needs transitEncryption: true",
                field_path: Some(".efs"),
            },
            CelRule {
                rule: "!has(self.efs) || !has(self.efs.iam) || !self.efs.iam || (has(self.efs.transitEncryption) && self.efs.transitEncryption)",
                message: "EFS IAM authorization needs transitEncryption: true",
                field_path: Some(".efs"),
            },
            CelRule {
                rule: "!has(self.efs) || !has(self.efs.accessPointId) || !has(self.efs.rootDirectory)",
                message: "set accessPointId or rootDirectory, not both: the access point sets the directory",
                field_path: Some(".efs"),
            },
        ],
    );
}

pub(super) fn volume_mount_rules(schema: &mut Schema) {
    add_rule(
        schema,
        "!has(self.subPath) || !self.subPath.matches('(^|/)[.][.](/|$)')",
        "subPath must stay within the volume: no '..' element",
        Some(".subPath"),
    );
}

pub(super) fn volume_mounts_rules(schema: &mut Schema) {
    add_rule(
        schema,
        "self.all(m, self.exists_one(n, n.mountPath == m.mountPath))",
        "no two mounts of a container may share a mountPath",
        None,
    );
}

pub(crate) fn volumes_list(schema: &mut Schema) {
    list_map_by_name(schema);
}
