//! The ServerlessJob's CEL rules: which providers run jobs, the sections that must match the
//! provider, what only a service has, and the fields that go together.

use schemars::Schema;

use crate::schema::{CelRule, add_rules};

/// Rules over the whole job spec.
pub const JOB_SPEC_RULES: &[CelRule] = &[
    CelRule {
        rule: "self.provider in ['kubernetes', 'fargate', 'cloudRun', 'containerApps']",
        message: "jobs run on kubernetes, fargate, cloudRun or containerApps: Knative Serving and Container Instances have no run-to-completion primitive",
        field_path: Some(".provider"),
    },
    // Transition rules (evaluated on updates only): a job's definition and runs live where it
    // was made, and Ferry moves services, not jobs. A change would strand them there.
    CelRule {
        rule: "self.provider == oldSelf.provider",
        message: "cannot change on a ServerlessJob: its job definition and runs stay on the provider they were made on. Set it back, or delete the ServerlessJob (Ferry deletes them there) and create it again with the new provider",
        field_path: Some(".provider"),
    },
    CelRule {
        rule: "(has(self.providerConfigRef) ? self.providerConfigRef.name : '') == (has(oldSelf.providerConfigRef) ? oldSelf.providerConfigRef.name : '')",
        message: "cannot change on a ServerlessJob: its job definition and runs stay in the account or project they were made in. Set it back, or delete the ServerlessJob (Ferry deletes them there) and create it again",
        field_path: Some(".providerConfigRef"),
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
        rule: "!self.containers.exists(c, has(c.port))",
        message: "a job's containers take no port: a task serves no traffic; remove port",
        field_path: Some(".containers"),
    },
    CelRule {
        rule: "!self.containers.exists(c, has(c.probes))",
        message: "a job's containers take no probes: a task ends when its containers exit; remove probes",
        field_path: Some(".containers"),
    },
    CelRule {
        rule: "!has(self.parallelism) || self.parallelism <= (has(self.taskCount) ? self.taskCount : 1)",
        message: "parallelism must not be greater than taskCount (default 1)",
        field_path: Some(".parallelism"),
    },
    CelRule {
        rule: "!has(self.timeZone) || has(self.schedule)",
        message: "timeZone applies to a schedule: set spec.schedule or remove timeZone",
        field_path: Some(".timeZone"),
    },
    CelRule {
        rule: "!has(self.schedule) || self.schedule.matches('^(@(yearly|annually|monthly|weekly|daily|hourly)|[^ \\\\t]+([ \\\\t]+[^ \\\\t]+){4})$')",
        message: "schedule is a cron expression of five fields (minute hour day-of-month month day-of-week, e.g. '0 3 * * *') or @hourly, @daily, @weekly, @monthly, @yearly",
        field_path: Some(".schedule"),
    },
    CelRule {
        rule: "!has(self.kubernetes) || (!has(self.kubernetes.ingressClassName) && !has(self.kubernetes.host) && !has(self.kubernetes.ingressAnnotations) && !has(self.kubernetes.verticalPodAutoscaler))",
        message: "a job has no Ingress and no VerticalPodAutoscaler: remove spec.kubernetes.ingressClassName, host, ingressAnnotations and verticalPodAutoscaler",
        field_path: Some(".kubernetes"),
    },
    CelRule {
        rule: "!has(self.fargate) || !has(self.fargate.loadBalancer)",
        message: "a job's tasks take no traffic: remove spec.fargate.loadBalancer",
        field_path: Some(".fargate.loadBalancer"),
    },
    CelRule {
        rule: "!has(self.cloudRun) || (!has(self.cloudRun.cpuIdle) && !has(self.cloudRun.startupCpuBoost) && !has(self.cloudRun.allowUnauthenticated))",
        message: "a Cloud Run job serves no requests: remove spec.cloudRun.cpuIdle, startupCpuBoost and allowUnauthenticated",
        field_path: Some(".cloudRun"),
    },
    CelRule {
        rule: "!has(self.containerApps) || !has(self.containerApps.transport)",
        message: "a Container Apps job has no ingress: remove spec.containerApps.transport",
        field_path: Some(".containerApps.transport"),
    },
    CelRule {
        rule: "self.provider != 'fargate' || !self.containers.exists(c, has(c.resources) && has(c.resources.gpu))",
        message: "Fargate does not support resources.gpu: Fargate has no GPUs; remove it, or use provider cloudRun or kubernetes",
        field_path: Some(".containers"),
    },
    CelRule {
        rule: "self.provider != 'cloudRun' || !self.containers.exists(c, has(c.resources) && has(c.resources.ephemeralStorage))",
        message: "Cloud Run does not support resources.ephemeralStorage: its writable filesystem is in memory and counts against resources.memory; remove it",
        field_path: Some(".containers"),
    },
    CelRule {
        rule: "self.provider != 'containerApps' || !self.containers.exists(c, has(c.resources) && (has(c.resources.ephemeralStorage) || has(c.resources.gpu)))",
        message: "Container Apps jobs do not support resources.ephemeralStorage or resources.gpu: remove them",
        field_path: Some(".containers"),
    },
    CelRule {
        rule: "self.provider != 'kubernetes' || !self.containers.exists(c, has(c.resources) && has(c.resources.gpu) && has(c.resources.gpu.type))",
        message: "Kubernetes does not support resources.gpu.type: pods ask for GPUs by count (nvidia.com/gpu); remove the type and pick GPU nodes with spec.kubernetes.nodeSelector",
        field_path: Some(".containers"),
    },
];

pub(super) fn job_spec_rules(schema: &mut Schema) {
    add_rules(schema, JOB_SPEC_RULES);
    add_rules(schema, crate::VOLUME_SPEC_RULES);
}
