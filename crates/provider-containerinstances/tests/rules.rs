//! Container Instances' validation rules: specs it accepts (with the model the builders get)
//! and specs it refuses, with the field and the exact message.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{desired, serverless_service, simple};
use ferry_api::{AciPriority, OsType};
use ferry_provider_containerinstances::ContainerInstances;
use ferry_provider_containerinstances::model::{Address, ContainerInstancesModel, KeyVaultSecret};

fn model(spec: &str) -> ContainerInstancesModel {
    desired(spec)
        .backend
        .get::<ContainerInstancesModel>()
        .unwrap()
        .clone()
}

/// The errors of `spec`, as `(field, message)`.
fn refusals(spec: &str) -> Vec<(String, String)> {
    match ferry_core::validate(&serverless_service(spec), &ContainerInstances) {
        Ok(valid) => panic!("accepted: {spec}\n{:?}", valid.desired),
        Err(invalid) => invalid
            .errors
            .into_iter()
            .map(|f| (f.field, f.message))
            .collect(),
    }
}

/// The warnings of `spec` (which must be valid), as `(field, message)`.
fn warnings(spec: &str) -> Vec<(String, String)> {
    match ferry_core::validate(&serverless_service(spec), &ContainerInstances) {
        Ok(valid) => valid
            .warnings
            .into_iter()
            .map(|f| (f.field, f.message))
            .collect(),
        Err(invalid) => panic!("refused: {invalid}"),
    }
}

fn refused(spec: &str, expected: &[(&str, &str)]) {
    let got = refusals(spec);
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(f, m)| ((*f).to_owned(), (*m).to_owned()))
        .collect();
    assert_eq!(got, expected, "{spec}");
}

#[test]
fn a_plain_service_gets_the_defaults_and_a_public_address_named_after_the_group() {
    let m = model(&simple("", ""));
    assert_eq!(
        m,
        ContainerInstancesModel {
            resource_group: None,
            location: None,
            os_type: OsType::Linux,
            priority: AciPriority::Regular,
            address: Address::Public {
                dns_name_label: "shop-hello-cd5cea3a".into()
            },
            identity: None,
            key_vault: vec![],
            sizes: vec![(1000, 15)],
            secret_files: vec![],
        }
    );
}

#[test]
fn sizes_are_taken_in_tenths() {
    let m = model(&simple("resources: {cpu: 500m, memory: 1536Mi}", ""));
    assert_eq!(m.sizes, vec![(500, 15)]);
    let m = model(&simple("resources: {cpu: '2.5', memory: 3.5Gi}", ""));
    assert_eq!(m.sizes, vec![(2500, 35)]);
}

#[test]
fn internal_services_join_their_subnets_and_key_vault_secrets_need_the_identity() {
    let subnet = "/subscriptions/s/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/v/subnets/aci";
    let identity = "/subscriptions/s/resourceGroups/id/providers/Microsoft.ManagedIdentity/userAssignedIdentities/app";
    let m = model(&simple(
        "env: [{name: DB, secret: {name: db}}]",
        &format!(
            "ingress: internal, containerInstances: {{subnetIds: ['{subnet}'], identity: '{identity}', \
             secrets: [{{name: db, keyVaultUrl: 'https://acme.vault.azure.net/secrets/db'}}]}}"
        ),
    ));
    assert_eq!(
        m.address,
        Address::Private {
            subnet_ids: vec![subnet.into()]
        }
    );
    assert_eq!(
        m.key_vault,
        vec![KeyVaultSecret {
            name: "db".into(),
            url: "https://acme.vault.azure.net/secrets/db".into()
        }]
    );
}

#[test]
fn spot_groups_run_without_an_address_and_say_so() {
    let spec = simple("", "containerInstances: {priority: Spot}");
    assert_eq!(model(&spec).address, Address::None);
    assert_eq!(
        warnings(&spec),
        vec![(
            "spec.containerInstances.priority".to_owned(),
            "a Spot container group gets no IP address, neither public nor in a virtual \
             network: the service has no URL, and only work it pulls (a queue, a schedule) \
             reaches it"
                .to_owned()
        )]
    );
}

#[test]
fn a_small_group_is_accepted_with_a_warning() {
    assert_eq!(
        warnings(&simple("resources: {cpu: 500m, memory: 512Mi}", "")),
        vec![(
            "spec.containers".to_owned(),
            "Container Instances allocates at least 1 vCPU and 1 GiB to a container group; its \
             containers ask for 0.5 vCPU and 0.5 GiB together"
                .to_owned()
        )]
    );
}

#[test]
fn cpu_and_memory_outside_aci_steps_are_refused() {
    refused(
        &simple("resources: {cpu: 250m, memory: 1G}", ""),
        &[
            (
                "spec.containers[0].resources.cpu",
                "Container Instances sells CPU in steps of 0.1 vCPU; got 0.25",
            ),
            (
                "spec.containers[0].resources.memory",
                "Container Instances sells memory in steps of 0.1 GiB (e.g. 1536Mi is 1.5); got \
                 1000000000 bytes",
            ),
        ],
    );
}

#[test]
fn a_group_larger_than_aci_sells_is_refused_with_its_limits() {
    refused(
        &simple("resources: {cpu: '4', memory: 16Gi}", "")
            .replace("}]", "}, {name: sidecar, image: 'busybox:1.36'}]"),
        &[
            (
                "spec.containers",
                "a container group has at most 4 vCPU across its containers; they ask for 5 (1 \
                 each unless set)",
            ),
            (
                "spec.containers",
                "a container group has at most 16 GiB of memory across its containers; they ask \
                 for 17.5 GiB (1.5 GiB each unless set)",
            ),
        ],
    );
}

#[test]
fn windows_groups_take_one_container() {
    refused(
        &simple("", "containerInstances: {osType: Windows}")
            .replace("}],", "}, {name: sidecar, image: 'busybox:1.36'}],"),
        &[(
            "spec.containers",
            "a Windows container group has 1 container (multi-container groups are Linux only); \
             got 2",
        )],
    );
}

#[test]
fn args_without_a_command_are_refused_with_the_reason() {
    refused(
        &simple("args: [--verbose]", ""),
        &[(
            "spec.containers[0].args",
            "Container Instances has one command list, which replaces the image's entrypoint \
             and arguments together: it cannot keep the entrypoint and change only the \
             arguments; set command too (the image's entrypoint), and Ferry sends command \
             followed by args",
        )],
    );
}

#[test]
fn internal_ingress_needs_subnets() {
    refused(
        &simple("", "ingress: internal"),
        &[(
            "spec.containerInstances.subnetIds",
            "required with ingress internal: the subnets (ARM ids of a virtual network's subnets \
             delegated to Microsoft.ContainerInstance/containerGroups) the group gets its \
             private IP address in",
        )],
    );
}

#[test]
fn subnets_with_public_ingress_and_a_dns_label_with_internal_are_refused() {
    let subnet = "/subscriptions/s/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/v/subnets/aci";
    refused(
        &simple(
            "",
            &format!("containerInstances: {{subnetIds: ['{subnet}']}}"),
        ),
        &[(
            "spec.containerInstances.subnetIds",
            "a container group in subnets has a private IP address only: set spec.ingress to \
             internal, or remove subnetIds",
        )],
    );
    refused(
        &simple(
            "",
            &format!(
                "ingress: internal, containerInstances: {{subnetIds: ['{subnet}'], dnsNameLabel: hello}}"
            ),
        ),
        &[(
            "spec.containerInstances.dnsNameLabel",
            "a DNS label names a public IP address: remove dnsNameLabel, or set spec.ingress to \
             public",
        )],
    );
}

#[test]
fn spot_is_refused_on_windows_and_with_an_address() {
    refused(
        &simple(
            "",
            "ingress: public, containerInstances: {priority: Spot, osType: Windows}",
        ),
        &[
            (
                "spec.containerInstances.priority",
                "Container Instances runs Spot container groups on Linux only: use priority \
                 Regular for Windows",
            ),
            (
                "spec.ingress",
                "a Spot container group gets no IP address, neither public nor in a virtual \
                 network: remove spec.ingress (public) to run the group without an address, or \
                 use priority Regular",
            ),
        ],
    );
}

#[test]
fn key_vault_secrets_without_an_identity_are_refused() {
    refused(
        &simple(
            "env: [{name: DB, secret: {name: db}}]",
            "containerInstances: {secrets: [{name: db, keyVaultUrl: 'https://acme.vault.azure.net/secrets/db'}]}",
        ),
        &[(
            "spec.containerInstances.secrets[0].keyVaultUrl",
            "Container Instances reads a Key Vault secret with the group's managed identity: set \
             spec.containerInstances.identity (a user-assigned identity allowed to get the \
             vault's secrets), or copy the value from a Secret with fromSecret",
        )],
    );
}

#[test]
fn env_secrets_must_name_an_entry_of_the_section_without_a_key() {
    refused(
        &simple("env: [{name: DB, secret: {name: db, key: password}}]", ""),
        &[(
            "spec.containers[0].env[0].secret.name",
            "on Container Instances, secret.name names an entry of \
             spec.containerInstances.secrets (a Key Vault secret, or a key of a Secret in the \
             service's namespace); there is none named \"db\": add it there",
        )],
    );
    refused(
        &simple(
            "env: [{name: DB, secret: {name: db, key: password}}]",
            "containerInstances: {secrets: [{name: db, fromSecret: {name: db, key: password}}]}",
        ),
        &[(
            "spec.containers[0].env[0].secret.key",
            "on Container Instances the key comes from spec.containerInstances.secrets \
             (fromSecret.key, or the Key Vault URL): remove secret.key",
        )],
    );
}

#[test]
fn gpus_are_v100_on_linux_with_a_public_address() {
    let m = desired(&simple(
        "resources: {cpu: '6', memory: 112Gi, gpu: {count: 1}}",
        "",
    ));
    assert_eq!(m.containers[0].resources.gpu.as_ref().unwrap().count, 1);
    refused(
        &simple("resources: {gpu: {count: 3, type: k80}}", ""),
        &[
            (
                "spec.containers[0].resources.gpu.type",
                "Azure retired k80 GPUs in Container Instances on 2023-08-31: use v100",
            ),
            (
                "spec.containers",
                "a container group has 1, 2 or 4 V100 GPUs in all; the containers ask for 3",
            ),
        ],
    );
    refused(
        &simple(
            "resources: {gpu: {count: 1, type: nvidia-l4}}",
            "containerInstances: {osType: Windows}",
        ),
        &[
            (
                "spec.containers[0].resources.gpu.type",
                "Container Instances offers v100 GPUs only; got nvidia-l4",
            ),
            (
                "spec.containers[0].resources.gpu",
                "Container Instances: GPUs are for Linux container groups only",
            ),
        ],
    );
    refused(
        &simple("resources: {cpu: '7', gpu: {count: 1}}", ""),
        &[(
            "spec.containers",
            "a container group with 1 V100 GPU has at most 6 vCPU across its containers; they \
             ask for 7 (1 each unless set)",
        )],
    );
}

#[test]
fn what_aci_cannot_do_at_all_is_refused_with_the_capability_note() {
    refused(
        &simple("", "concurrency: 10"),
        &[(
            "spec.concurrency",
            "Container Instances does not support spec.concurrency: a container group takes \
             every request sent to it; use provider containerApps to limit requests per replica",
        )],
    );
    refused(
        &simple("", "scaling: {minInstances: 0}"),
        &[
            (
                "spec.scaling.minInstances",
                "Container Instances does not support spec.scaling.minInstances: a container \
                 group runs, and is billed, all the time",
            ),
            (
                "spec.scaling",
                "Container Instances runs exactly one container group: no autoscaling and no \
                 scale to zero; set minInstances and maxInstances to 1 or remove them, or use \
                 provider containerApps",
            ),
        ],
    );
    refused(
        &simple("", "scaling: {maxInstances: 3}"),
        &[(
            "spec.scaling",
            "Container Instances runs exactly one container group: no autoscaling and no scale \
             to zero; set minInstances and maxInstances to 1 or remove them, or use provider \
             containerApps",
        )],
    );
    refused(
        &simple("", "traffic: [{latestRevision: true, percent: 100}]"),
        &[(
            "spec.traffic",
            "Container Instances does not support spec.traffic: a container group has no \
             revisions; remove it, or use provider containerApps",
        )],
    );
}
