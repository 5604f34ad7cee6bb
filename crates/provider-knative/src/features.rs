//! The Knative feature flags that `spec.volumes` needs, and whether a cluster's
//! `config-features` ConfigMap (namespace `knative-serving`) has them on. Pure: the client reads
//! the ConfigMap when it applies a Service that needs a flag, since offline (`ferry validate`,
//! `ferry render`) nothing says how the cluster is set.
//!
//! Knative's webhook takes a volume kind only when its flag is `Enabled` (`Allowed` is not
//! enough); a flag the ConfigMap does not set, or sets to anything but `Enabled`, `Allowed` or
//! `Disabled` (in any case), keeps its default (`pkg/apis/config/features.go` and
//! `validateVolume` in `pkg/apis/serving/k8s_validation.go`, knative/serving).

use std::collections::BTreeMap;

use ferry_core::desired::{Desired, VolumeSource};

use ferry_provider::cluster_volumes::build::{Nfs, claim_read_only, needs_claim};

/// Where Knative keeps its feature flags.
pub const CONFIG_MAP: (&str, &str) = ("knative-serving", "config-features");

/// One of Knative's feature flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Flag {
    /// Its key in `config-features`.
    pub key: &'static str,
    /// Whether it is `Enabled` when the ConfigMap does not say.
    pub enabled_by_default: bool,
    /// What it lets a Service hold.
    pub allows: &'static str,
}

/// `emptyDir` volumes (on by default).
pub const EMPTY_DIR: Flag = Flag {
    key: "kubernetes.podspec-volumes-emptydir",
    enabled_by_default: true,
    allows: "emptyDir volumes",
};

/// `persistentVolumeClaim` volumes, which Ferry's nfs and efs volumes are (off by default).
pub const PERSISTENT_VOLUME_CLAIM: Flag = Flag {
    key: "kubernetes.podspec-persistent-volume-claim",
    enabled_by_default: false,
    allows: "persistentVolumeClaim volumes (Ferry's nfs and efs volumes)",
};

/// A claim mounted for writing (off by default: claims must be read-only).
pub const PERSISTENT_VOLUME_WRITE: Flag = Flag {
    key: "kubernetes.podspec-persistent-volume-write",
    enabled_by_default: false,
    allows: "claims mounted for writing (an nfs or efs volume some container mounts without \
             readOnly)",
};

/// The flags `desired`'s volumes need, in a stable order.
pub fn needed(desired: &Desired) -> Vec<Flag> {
    let mut out = Vec::new();
    for v in &desired.volumes {
        let flags: &[Flag] = match &v.source {
            VolumeSource::EmptyDir { .. } => &[EMPTY_DIR],
            source if needs_claim(source, Nfs::Claim) => {
                if claim_read_only(v, &desired.containers) {
                    &[PERSISTENT_VOLUME_CLAIM]
                } else {
                    &[PERSISTENT_VOLUME_CLAIM, PERSISTENT_VOLUME_WRITE]
                }
            }
            _ => &[],
        };
        out.extend_from_slice(flags);
    }
    out.sort();
    out.dedup();
    out
}

/// Which of `flags` are not `Enabled` in `data`, the ConfigMap's data (`None`: there is no
/// ConfigMap, and every flag has its default).
pub fn missing(flags: &[Flag], data: Option<&BTreeMap<String, String>>) -> Vec<Flag> {
    flags
        .iter()
        .filter(|flag| !enabled(flag, data))
        .copied()
        .collect()
}

fn enabled(flag: &Flag, data: Option<&BTreeMap<String, String>>) -> bool {
    let set = data.and_then(|d| d.get(flag.key)).map(|v| v.trim());
    match set {
        Some(v) if v.eq_ignore_ascii_case("enabled") => true,
        Some(v) if v.eq_ignore_ascii_case("disabled") || v.eq_ignore_ascii_case("allowed") => false,
        _ => flag.enabled_by_default,
    }
}

/// Why a Service that needs `missing` flags is not applied: the flags by name, what each
/// allows, and how to turn them on.
pub fn refusal(missing: &[Flag]) -> String {
    let listed: Vec<String> = missing
        .iter()
        .map(|f| format!("{} ({})", f.key, f.allows))
        .collect();
    let patch: Vec<String> = missing
        .iter()
        .map(|f| format!("\"{}\":\"enabled\"", f.key))
        .collect();
    let (namespace, name) = CONFIG_MAP;
    format!(
        "Knative refuses these volumes unless the cluster enables {}: set {} to \"enabled\" in \
         the ConfigMap {namespace}/{name} (kubectl patch configmap {name} -n {namespace} --type \
         merge -p '{{\"data\":{{{}}}}}'), or remove the volumes; Ferry looks again every minute",
        listed.join(" and "),
        if missing.len() == 1 { "it" } else { "them" },
        patch.join(",")
    )
}
