//! The portable rules of `spec.volumes[]` and `containers[].volumeMounts[]`: what the CRD's CEL
//! rules refuse at admission, checked again for `ferry validate` and for clusters whose API
//! server does not evaluate CEL. Which kinds a provider mounts is its backend's (the capability
//! table); how it mounts them is its builder's.

use std::collections::BTreeMap;

use ferry_api::{Container, EfsVolume, MAX_VOLUME_MOUNTS, MAX_VOLUMES, VOLUME_KINDS, Volume};

use crate::desired::{MountModel, VolumeModel, VolumeSource};
use crate::findings::Findings;
use crate::names::is_dns_label;
use crate::quantity::Amount;

/// The volumes of a spec, checked; `None` after recording an error.
pub(crate) fn volumes(f: &mut Findings, volumes: &[Volume]) -> Option<Vec<VolumeModel>> {
    let errors_before = f.error_count();
    if volumes.len() > MAX_VOLUMES {
        f.invalid(
            "spec.volumes",
            format!("at most {MAX_VOLUMES} volumes; got {}", volumes.len()),
        );
    }
    let mut first: BTreeMap<&str, usize> = BTreeMap::new();
    let mut out = Vec::with_capacity(volumes.len());
    for (i, v) in volumes.iter().enumerate() {
        let path = format!("spec.volumes[{i}]");
        if !is_dns_label(&v.name) {
            f.invalid(
                format!("{path}.name"),
                format!(
                    "must be a DNS label (lower-case letters, digits and '-', at most 63); got {:?}",
                    v.name
                ),
            );
        }
        if let Some(j) = first.insert(v.name.as_str(), i) {
            f.invalid(
                format!("{path}.name"),
                format!(
                    "volume {:?} is declared twice (first at spec.volumes[{j}])",
                    v.name
                ),
            );
        }
        if let Some(source) = source(f, &path, v) {
            out.push(VolumeModel {
                name: v.name.clone(),
                source,
            });
        }
    }
    (f.error_count() == errors_before).then_some(out)
}

fn source(f: &mut Findings, path: &str, v: &Volume) -> Option<VolumeSource> {
    if v.kind().is_none() {
        f.invalid(
            path,
            format!(
                "set exactly one source: {}",
                crate::capabilities::list(VOLUME_KINDS)
            ),
        );
        return None;
    }
    if let Some(s) = &v.secret {
        return Some(VolumeSource::Secret(s.clone()));
    }
    if let Some(e) = &v.empty_dir {
        let field = format!("{path}.emptyDir.sizeLimit");
        let size_limit_bytes = match e.size_limit.as_ref().map(|q| Amount::parse(q.as_str())) {
            None => None,
            Some(Ok(a)) if !a.is_zero() => {
                let Some(bytes) = a.units_ceil() else {
                    f.invalid(field, "is too large");
                    return None;
                };
                Some(bytes)
            }
            Some(Ok(_)) => {
                f.invalid(field, "must be more than zero, e.g. 512Mi");
                return None;
            }
            Some(Err(err)) => {
                f.invalid(field, err.to_string());
                return None;
            }
        };
        return Some(VolumeSource::EmptyDir {
            medium: e.medium,
            size_limit_bytes,
        });
    }
    if let Some(n) = &v.nfs {
        if !n.path.starts_with('/') {
            f.invalid(
                format!("{path}.nfs.path"),
                format!(
                    "must be an absolute path, e.g. /exports/shared; got {:?}",
                    n.path
                ),
            );
            return None;
        }
        return Some(VolumeSource::Nfs(n.clone()));
    }
    if let Some(e) = &v.efs {
        return efs(f, &format!("{path}.efs"), e).then(|| VolumeSource::Efs(e.clone()));
    }
    if let Some(g) = &v.gcs {
        return Some(VolumeSource::Gcs(g.clone()));
    }
    v.azure_file
        .as_ref()
        .map(|a| VolumeSource::AzureFile(a.clone()))
}

/// EFS's own rules: an access point and IAM authorization need TLS, and an access point sets
/// the directory itself.
fn efs(f: &mut Findings, path: &str, e: &EfsVolume) -> bool {
    let errors_before = f.error_count();
    let tls = e.transit_encryption == Some(true);
    if e.access_point_id.is_some() && !tls {
        f.invalid(
            format!("{path}.transitEncryption"),
            "an EFS access point needs transitEncryption: true",
        );
    }
    if e.iam == Some(true) && !tls {
        f.invalid(
            format!("{path}.transitEncryption"),
            "EFS IAM authorization needs transitEncryption: true",
        );
    }
    if e.access_point_id.is_some() && e.root_directory.is_some() {
        f.invalid(
            format!("{path}.rootDirectory"),
            "set accessPointId or rootDirectory, not both: the access point sets the directory",
        );
    }
    f.error_count() == errors_before
}

/// The mounts of container `c` (at `path`), checked against the spec's `volumes`; `None` after
/// recording an error.
pub(crate) fn mounts(
    f: &mut Findings,
    path: &str,
    c: &Container,
    volumes: &[Volume],
) -> Option<Vec<MountModel>> {
    let errors_before = f.error_count();
    let list = c.volume_mounts.as_deref().unwrap_or_default();
    if list.len() > MAX_VOLUME_MOUNTS {
        f.invalid(
            format!("{path}.volumeMounts"),
            format!("at most {MAX_VOLUME_MOUNTS} mounts; got {}", list.len()),
        );
    }
    let mut paths: BTreeMap<&str, usize> = BTreeMap::new();
    let mut out = Vec::with_capacity(list.len());
    for (k, m) in list.iter().enumerate() {
        let at = format!("{path}.volumeMounts[{k}]");
        let volume = volumes.iter().find(|v| v.name == m.name);
        if volume.is_none() {
            let declared: Vec<&str> = volumes.iter().map(|v| v.name.as_str()).collect();
            f.invalid(
                format!("{at}.name"),
                if declared.is_empty() {
                    format!(
                        "names volume {:?}, but spec.volumes declares none; add it there",
                        m.name
                    )
                } else {
                    format!(
                        "names volume {:?}, which spec.volumes does not declare; declared: {}",
                        m.name,
                        declared.join(", ")
                    )
                },
            );
        }
        mount_path(f, &format!("{at}.mountPath"), &m.mount_path);
        if let Some(j) = paths.insert(m.mount_path.as_str(), k) {
            f.invalid(
                format!("{at}.mountPath"),
                format!(
                    "{} is already mounted by {path}.volumeMounts[{j}]: one mount per path",
                    m.mount_path
                ),
            );
        }
        if let Some(sub) = &m.sub_path {
            sub_path(f, &format!("{at}.subPath"), sub);
        }
        let source_read_only = volume.is_some_and(|v| {
            v.secret.is_some()
                || v.nfs.as_ref().and_then(|n| n.read_only) == Some(true)
                || v.gcs.as_ref().and_then(|g| g.read_only) == Some(true)
                || v.azure_file.as_ref().and_then(|a| a.read_only) == Some(true)
        });
        if volume.is_some_and(|v| v.secret.is_some()) && m.read_only == Some(false) {
            f.invalid(
                format!("{at}.readOnly"),
                "a secret volume is always read-only; remove readOnly: false",
            );
        }
        out.push(MountModel {
            volume: m.name.clone(),
            mount_path: m.mount_path.clone(),
            read_only: m.read_only == Some(true) || source_read_only,
            sub_path: m.sub_path.clone(),
        });
    }
    (f.error_count() == errors_before).then_some(out)
}

fn mount_path(f: &mut Findings, field: &str, p: &str) {
    if !p.starts_with('/') || p == "/" || p.contains(':') || p.split('/').any(|e| e == "..") {
        f.invalid(
            field,
            format!(
                "must be an absolute path other than /, without ':' or '..', e.g. /etc/app; got {p:?}"
            ),
        );
    }
}

fn sub_path(f: &mut Findings, field: &str, p: &str) {
    if p.is_empty() || p.starts_with('/') || p.split('/').any(|e| e == "..") {
        f.invalid(
            field,
            format!(
                "must be a relative path within the volume, without '..', e.g. logs; got {p:?}"
            ),
        );
    }
}

/// Volumes no container mounts: accepted, but likely a mistake.
pub(crate) fn warn_unmounted(f: &mut Findings, volumes: &[Volume], containers: &[Container]) {
    for (i, v) in volumes.iter().enumerate() {
        let mounted = containers
            .iter()
            .flat_map(|c| c.volume_mounts.iter().flatten())
            .any(|m| m.name == v.name);
        if !mounted {
            f.warn(
                format!("spec.volumes[{i}]"),
                format!(
                    "volume {:?} is mounted by no container; add a volumeMounts entry or remove it",
                    v.name
                ),
            );
        }
    }
}
