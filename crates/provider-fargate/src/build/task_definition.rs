//! `RegisterTaskDefinition`: the task (size, platform, roles, volumes) and one container
//! definition per container of the desired model, with its environment, secrets, mount points,
//! logs and health check.

use std::collections::BTreeMap;

use super::account::Account;
use super::tags::Tag;
use super::volumes::{MountPoint, Volume, volumes_and_mounts};
use super::{enum_text, to_i32};
use crate::model::FargateModel;
use ferry_core::desired::{
    ContainerModel, Desired, EnvValue, ProbeAction, ProbeModel, SecretSource,
};
use serde::Serialize;

/// The port name Ferry gives the serving container's port mapping.
const PORT_NAME: &str = "http";

/// `RegisterTaskDefinition`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskDefinition {
    /// `NAMESPACE_NAME`, the service's name.
    pub family: String,
    /// Role the containers run as.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_role_arn: Option<String>,
    /// Role ECS acts as.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_role_arn: Option<String>,
    /// Always `awsvpc` on Fargate.
    pub network_mode: String,
    /// Always `["FARGATE"]`.
    pub requires_compatibilities: Vec<String>,
    /// Task CPU units, as the string ECS takes.
    pub cpu: String,
    /// Task memory in MiB, as the string ECS takes.
    pub memory: String,
    /// CPU architecture and operating system.
    pub runtime_platform: RuntimePlatform,
    /// Extra scratch space.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ephemeral_storage: Option<EphemeralStorage>,
    /// EFS file systems and bind mounts the containers mount. Left out when empty, so a spec
    /// without volumes keeps the fingerprint it had before Ferry mounted volumes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Volume>,
    /// The containers.
    pub container_definitions: Vec<ContainerDefinition>,
    /// Tags, the fingerprint included.
    pub tags: Vec<Tag>,
}

/// `runtimePlatform`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuntimePlatform {
    /// `X86_64` or `ARM64`.
    pub cpu_architecture: String,
    /// `LINUX`, `WINDOWS_SERVER_2022_CORE`...
    pub operating_system_family: String,
}

/// `ephemeralStorage`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EphemeralStorage {
    /// GiB, 21-200.
    pub size_in_gi_b: i32,
}

/// One `containerDefinitions` entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerDefinition {
    /// Name.
    pub name: String,
    /// Image.
    pub image: String,
    /// Every container is essential: like a pod, the task stops when one exits.
    pub essential: bool,
    /// CPU units reserved for the container, when it sets resources.cpu.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<i32>,
    /// Hard memory limit in MiB, when it sets resources.memory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<i32>,
    /// The image's ENTRYPOINT override (`command` in Kubernetes terms).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub entry_point: Vec<String>,
    /// The image's CMD override (`args` in Kubernetes terms).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// The serving port.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub port_mappings: Vec<PortMapping>,
    /// Literal environment.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub environment: Vec<KeyValue>,
    /// Environment from Secrets Manager or SSM.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<SecretEnv>,
    /// The task volumes it mounts.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mount_points: Vec<MountPoint>,
    /// `awslogs`, when the account has a log group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_configuration: Option<LogConfiguration>,
    /// From the liveness probe.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check: Option<HealthCheck>,
}

/// A port mapping.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PortMapping {
    /// The container port (the host port is the same under awsvpc).
    pub container_port: i32,
    /// `tcp`.
    pub protocol: String,
    /// A name, for Service Connect and readability.
    pub name: String,
}

/// An environment variable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KeyValue {
    /// Name.
    pub name: String,
    /// Value.
    pub value: String,
}

/// A secret environment variable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretEnv {
    /// Name.
    pub name: String,
    /// The ARN (with an optional JSON key) ECS reads.
    pub value_from: String,
}

/// `logConfiguration`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogConfiguration {
    /// `awslogs`.
    pub log_driver: String,
    /// Group, region and stream prefix.
    pub options: BTreeMap<String, String>,
}

/// `healthCheck`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheck {
    /// `["CMD-SHELL", "curl ..."]`.
    pub command: Vec<String>,
    /// Seconds between checks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<i32>,
    /// Seconds before a check fails.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<i32>,
    /// Failures before the container is unhealthy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<i32>,
    /// Grace period after start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_period: Option<i32>,
}

pub(crate) fn task_definition(
    want: &Desired,
    model: &FargateModel,
    account: &Account,
    family: &str,
) -> TaskDefinition {
    let (volumes, mount_points) = volumes_and_mounts(&want.volumes, &want.containers);
    TaskDefinition {
        family: family.to_owned(),
        task_role_arn: account.task_role_arn.clone(),
        execution_role_arn: account.execution_role_arn.clone(),
        network_mode: "awsvpc".into(),
        requires_compatibilities: vec!["FARGATE".into()],
        cpu: model.task_cpu_units.to_string(),
        memory: model.task_memory_mib.to_string(),
        runtime_platform: RuntimePlatform {
            cpu_architecture: enum_text(&model.cpu_architecture),
            operating_system_family: enum_text(&model.operating_system_family),
        },
        ephemeral_storage: model.ephemeral_storage_gib.map(|gib| EphemeralStorage {
            size_in_gi_b: to_i32(gib),
        }),
        volumes,
        container_definitions: want
            .containers
            .iter()
            .zip(mount_points)
            .map(|(c, mounts)| {
                container_definition(
                    c,
                    account,
                    model.operating_system_family.is_windows(),
                    mounts,
                )
            })
            .collect(),
        tags: Vec::new(),
    }
}

const MIB: u64 = 1 << 20;

fn container_definition(
    c: &ContainerModel,
    account: &Account,
    windows: bool,
    mount_points: Vec<MountPoint>,
) -> ContainerDefinition {
    let mut environment: Vec<KeyValue> = Vec::new();
    let mut secrets = Vec::new();
    for env in &c.env {
        match &env.value {
            EnvValue::Literal(value) => environment.push(KeyValue {
                name: env.name.clone(),
                value: value.clone(),
            }),
            EnvValue::Secret(SecretSource::Store { name, .. }) => secrets.push(SecretEnv {
                name: env.name.clone(),
                value_from: name.clone(),
            }),
            // Validation resolves every secret of a Fargate service to an ARN.
            EnvValue::Secret(_) => {}
        }
    }
    if let Some(port) = c.port
        && !c.env.iter().any(|e| e.name == "PORT")
    {
        // Knative and Cloud Run tell the container its port in PORT; so does Ferry on ECS, so
        // one image runs on all three.
        environment.push(KeyValue {
            name: "PORT".into(),
            value: port.to_string(),
        });
    }
    ContainerDefinition {
        name: c.name.clone(),
        image: c.image.clone(),
        essential: true,
        cpu: c
            .resources
            .cpu_millis
            .map(|m| i32::try_from(m * 1024 / 1000).unwrap_or(i32::MAX)),
        memory: c
            .resources
            .memory_bytes
            .map(|b| i32::try_from(b.div_ceil(MIB)).unwrap_or(i32::MAX)),
        entry_point: c.command.clone(),
        command: c.args.clone(),
        port_mappings: c
            .port
            .map(|port| PortMapping {
                container_port: i32::from(port),
                protocol: "tcp".into(),
                name: PORT_NAME.into(),
            })
            .into_iter()
            .collect(),
        environment,
        secrets,
        mount_points,
        log_configuration: account.log_group.as_ref().map(|group| LogConfiguration {
            log_driver: "awslogs".into(),
            options: BTreeMap::from([
                ("awslogs-group".to_owned(), group.clone()),
                ("awslogs-region".to_owned(), account.region.clone()),
                ("awslogs-stream-prefix".to_owned(), c.name.clone()),
            ]),
        }),
        health_check: c
            .probes
            .liveness
            .as_ref()
            .and_then(|p| health_check(p, windows)),
    }
}

/// The ECS health check for a liveness probe: an httpGet run as curl inside the container
/// (validation refuses other probe kinds on Fargate). ECS runs `CMD-SHELL` with `sh` on Linux
/// and `cmd.exe` on Windows, which quote differently and have no common null device.
fn health_check(probe: &ProbeModel, windows: bool) -> Option<HealthCheck> {
    let ProbeAction::HttpGet {
        path,
        port,
        headers,
    } = &probe.action
    else {
        return None;
    };
    let (curl, null, quote): (&str, &str, fn(&str) -> String) = if windows {
        ("curl.exe", "NUL", cmd_quote)
    } else {
        ("curl", "/dev/null", shell_quote)
    };
    let mut words = vec![curl.to_owned(), "-fsS".into(), "-o".into(), null.into()];
    for (name, value) in headers {
        words.push("-H".into());
        words.push(quote(&format!("{name}: {value}")));
    }
    words.push(quote(&format!("http://localhost:{port}{path}")));
    // Docker reads exit status 1 as unhealthy and reserves 2; curl exits with other codes.
    let command = format!("{} || exit 1", words.join(" "));
    let seconds = |v: Option<u32>| v.map(to_i32);
    Some(HealthCheck {
        command: vec!["CMD-SHELL".into(), command],
        interval: seconds(probe.period_seconds),
        timeout: seconds(probe.timeout_seconds),
        retries: seconds(probe.failure_threshold),
        start_period: seconds(probe.initial_delay_seconds),
    })
}

/// `text` as one single-quoted `sh` word.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// `text` as one double-quoted `cmd.exe` word (curl.exe reads `\"` as a quote).
fn cmd_quote(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\\\""))
}
