//! What pods say about why their containers do not run, shared by both halves of the backend:
//! a service's stuck rollout ([`build::readiness`](crate::build::readiness)) and a job's stuck
//! run ([`job::build::run_with_pods`](crate::job::build::run_with_pods)). The kubelet's
//! waiting reasons are classified here once; each half maps a [`Stuck`] to its own documented
//! reason. No I/O.

use serde_json::Value;

/// What one of the pods says: a waiting container's reason and message, when the reason is one
/// that does not pass by itself ([`Stuck::of`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodTrouble {
    /// The container's state reason (`ImagePullBackOff`, `CrashLoopBackOff` ...).
    pub reason: String,
    /// Its message.
    pub message: String,
    /// Which container.
    pub container: String,
}

impl PodTrouble {
    /// One line for people: the container, the kubelet's reason and its message.
    pub fn describe(&self) -> String {
        if self.message.is_empty() {
            format!("container {} is waiting: {}", self.container, self.reason)
        } else {
            format!(
                "container {} is waiting ({}): {}",
                self.container, self.reason, self.message
            )
        }
    }

    /// What kind of trouble it is (always one: [`pod_troubles`] keeps no other).
    pub fn stuck(&self) -> Option<Stuck> {
        Stuck::of(&self.reason)
    }
}

/// Why a waiting container will not start by itself, by the kubelet's waiting reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stuck {
    /// The image cannot be pulled: `ImagePullBackOff`, `ErrImagePull`, `InvalidImageName`,
    /// `ErrImageNeverPull`.
    Image,
    /// The container cannot be made from its spec (a Secret or ConfigMap key it names is
    /// missing, the runtime refused it): `CreateContainerConfigError`, `CreateContainerError`,
    /// `RunContainerError`.
    Start,
    /// It started and keeps exiting: `CrashLoopBackOff` (never for a job's pods, which do not
    /// restart).
    Crash,
}

impl Stuck {
    /// The class of the waiting reason `reason`, when it means the container is stuck.
    pub fn of(reason: &str) -> Option<Self> {
        match reason {
            "ImagePullBackOff" | "ErrImagePull" | "InvalidImageName" | "ErrImageNeverPull" => {
                Some(Self::Image)
            }
            "CreateContainerConfigError" | "CreateContainerError" | "RunContainerError" => {
                Some(Self::Start)
            }
            "CrashLoopBackOff" => Some(Self::Crash),
            _ => None,
        }
    }
}

/// Whether the waiting reason `reason` can never clear while the pod exists: a malformed image
/// reference (`InvalidImageName`), or an image that is absent and may not be pulled
/// (`ErrImageNeverPull`, `imagePullPolicy: Never`). The others are retried by the kubelet and
/// may clear (a registry that answers again, a Secret created a moment later).
pub fn is_final(reason: &str) -> bool {
    matches!(reason, "InvalidImageName" | "ErrImageNeverPull")
}

/// The troubles of pods, from a pod list's items: the containers waiting for a reason that
/// will not pass by itself ([`Stuck::of`]), in the pods' and containers' order.
pub fn pod_troubles(pods: &[Value]) -> Vec<PodTrouble> {
    let mut out = Vec::new();
    for pod in pods {
        let statuses = pod
            .pointer("/status/containerStatuses")
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        for status in statuses {
            let Some(waiting) = status.pointer("/state/waiting") else {
                continue;
            };
            let text = |v: &Value, f: &str| {
                v.get(f)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            let reason = text(waiting, "reason");
            if Stuck::of(&reason).is_some() {
                out.push(PodTrouble {
                    message: text(waiting, "message"),
                    container: text(status, "name"),
                    reason,
                });
            }
        }
    }
    out
}
