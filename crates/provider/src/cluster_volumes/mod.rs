//! The volumes of a pod that Ferry applies in its own cluster, for the plain Kubernetes backend
//! and the Knative one: each of `spec.volumes` as a pod volume, each
//! `volumeMounts` entry as a container's, and the PersistentVolume and PersistentVolumeClaim of
//! each volume a pod cannot name inline (EFS, whose CSI driver takes no inline volumes; NFS for
//! Knative, whose Service admits no `nfs` volume). [`build`] is pure; [`client`] creates, checks
//! and deletes the claims; [`validate`] checks what the API server would refuse.
//!
//! Both in-cluster backends use this module, so it lives in the crate they share.

pub mod build;
pub mod client;
pub mod validate;
