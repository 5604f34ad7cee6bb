//! Condition types and the one documented list of reasons Ferry writes into `status.conditions`.
//!
//! `Ready` is the kstatus-compatible summary that `kubectl wait`, Argo CD and Flux read; `Synced`
//! says whether the last attempt to write the desired state to the provider succeeded;
//! `Reconciling` and `Stalled` are kstatus's abnormal-true conditions. `docs/reasons.md` is
//! generated from [`REASONS`] (`ferry reasons --output markdown`).

/// Condition types.
pub mod types {
    /// The summary: True when the service serves traffic at its desired state.
    pub const READY: &str = "Ready";
    /// True when the last write of the desired state to the provider succeeded.
    pub const SYNCED: &str = "Synced";
    /// kstatus: True while Ferry or the provider is still working towards the desired state.
    pub const RECONCILING: &str = "Reconciling";
    /// kstatus: True when Ferry has given up until the spec (or a ProviderConfig) changes.
    pub const STALLED: &str = "Stalled";
    /// Present during a move between providers (True) and after one rolled back (False).
    pub const MIGRATING: &str = "Migrating";
    /// A ServerlessJob's: True when the run it reports on (for the current spec, or the newest
    /// scheduled one) succeeded, as a batch/v1 Job's `Complete`.
    pub const COMPLETE: &str = "Complete";
    /// A ServerlessJob's: True when that run failed.
    pub const FAILED: &str = "Failed";
}

/// Reasons: CamelCase words, each documented in [`REASONS`].
pub mod reasons {
    /// The service is serving traffic at its desired state.
    pub const AVAILABLE: &str = "Available";
    /// A rollout or a long-running provider operation is under way.
    pub const PROGRESSING: &str = "Progressing";
    /// The chosen provider cannot honour a field of the spec.
    pub const UNSUPPORTED: &str = "Unsupported";
    /// The spec is wrong whatever the provider.
    pub const INVALID_SPEC: &str = "InvalidSpec";
    /// The named ProviderConfig does not exist.
    pub const PROVIDER_CONFIG_NOT_FOUND: &str = "ProviderConfigNotFound";
    /// The named ProviderConfig does not allow this namespace.
    pub const PROVIDER_CONFIG_NOT_ALLOWED: &str = "ProviderConfigNotAllowed";
    /// The provider refused the credentials, or they could not be read.
    pub const CREDENTIALS_INVALID: &str = "CredentialsInvalid";
    /// The provider answered with an error that Ferry retries.
    pub const PROVIDER_ERROR: &str = "ProviderError";
    /// The provider rate-limited Ferry; it retries after the provider's hint.
    pub const THROTTLED: &str = "Throttled";
    /// Knative Serving is not installed in the cluster.
    pub const KNATIVE_NOT_INSTALLED: &str = "KnativeNotInstalled";
    /// `spec.kubernetes.verticalPodAutoscaler` is set but the VPA is not installed.
    pub const VPA_NOT_INSTALLED: &str = "VerticalPodAutoscalerNotInstalled";
    /// The resource is being deleted and Ferry waits for the provider to finish.
    pub const DELETING: &str = "Deleting";
    /// `spec.provider` changed; the new backend is coming up before the old one goes.
    pub const MIGRATING: &str = "Migrating";
    /// A move between providers failed; the new side was removed and the old one serves.
    pub const ROLLED_BACK: &str = "RolledBack";
    /// The last write of the desired state to the provider succeeded.
    pub const RECONCILE_SUCCESS: &str = "ReconcileSuccess";
    /// The image cannot be found or pulled.
    pub const IMAGE_NOT_FOUND: &str = "ImageNotFound";
    /// The container started and exited, or failed its probes.
    pub const CONTAINER_FAILED: &str = "ContainerFailed";
    /// The rollout did not finish in the provider's deadline.
    pub const ROLLOUT_TIMEOUT: &str = "RolloutTimeout";
    /// The new revision failed for another reason the message gives.
    pub const REVISION_FAILED: &str = "RevisionFailed";
    /// A resource of the name Ferry would use exists and is not Ferry's.
    pub const NAME_TAKEN: &str = "NameTaken";
    /// A ProviderConfig is being deleted while objects still use it.
    pub const IN_USE: &str = "InUse";
    /// A job's run is under way.
    pub const RUNNING: &str = "Running";
    /// A job's run ended with every task succeeded.
    pub const SUCCEEDED: &str = "Succeeded";
    /// A job runs on its schedule; the provider's scheduler starts the runs.
    pub const SCHEDULED: &str = "Scheduled";
    /// A job starts no new runs (`spec.suspend`).
    pub const SUSPENDED: &str = "Suspended";
    /// A job's run was stopped before it ended.
    pub const STOPPED: &str = "Stopped";
    /// A task of a job's run was stopped at `timeoutSeconds`, after its retries.
    pub const DEADLINE_EXCEEDED: &str = "DeadlineExceeded";
    /// A job's run could not start its tasks.
    pub const TASK_FAILED_TO_START: &str = "TaskFailedToStart";
}

/// One entry of the documented reason list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReasonDoc {
    /// The reason as written into a condition.
    pub reason: &'static str,
    /// Where it appears, e.g. `Ready=False`.
    pub appears_as: &'static str,
    /// What it means.
    pub meaning: &'static str,
    /// What a person should do about it.
    pub action: &'static str,
}

/// Every reason Ferry writes, in the order the documentation lists them.
pub const REASONS: &[ReasonDoc] = &[
    ReasonDoc {
        reason: reasons::AVAILABLE,
        appears_as: "Ready=True",
        meaning: "The provider serves the latest spec and reports it healthy.",
        action: "Nothing.",
    },
    ReasonDoc {
        reason: reasons::PROGRESSING,
        appears_as: "Ready=Unknown, Reconciling=True",
        meaning: "A rollout or a long-running provider operation is under way.",
        action: "Wait; the message says what the provider is doing.",
    },
    ReasonDoc {
        reason: reasons::UNSUPPORTED,
        appears_as: "Ready=False, Stalled=True",
        meaning: "The chosen provider cannot honour a field. The message names the field, the \
                  provider and what would be accepted (see the capability table); for a volume \
                  on Knative, the feature flags of `config-features` that are off.",
        action: "Change the field, or choose a provider that supports it. Ferry retries when \
                 the spec changes (and, for Knative's feature flags, every minute: turn them \
                 on with the `kubectl patch` the message gives).",
    },
    ReasonDoc {
        reason: reasons::INVALID_SPEC,
        appears_as: "Ready=False, Stalled=True",
        meaning: "The spec is wrong whatever the provider, e.g. a quantity that cannot be \
                  parsed; or it names something at the provider that does not match it (a \
                  Container Apps environment storage that is missing or holds another share).",
        action: "Fix the field named in the message; `ferry validate -f FILE` shows every \
                 problem before you apply. What Ferry reads at the provider is read again \
                 every minute.",
    },
    ReasonDoc {
        reason: reasons::PROVIDER_CONFIG_NOT_FOUND,
        appears_as: "Ready=False, Stalled=True",
        meaning: "`spec.providerConfigRef` names a ProviderConfig that does not exist (the \
                  default is the one named `default`).",
        action: "Create the ProviderConfig or fix the name; Ferry retries when it appears.",
    },
    ReasonDoc {
        reason: reasons::PROVIDER_CONFIG_NOT_ALLOWED,
        appears_as: "Ready=False, Stalled=True",
        meaning: "The ProviderConfig's `allowedNamespaces` / `namespaceSelector` does not \
                  include this namespace.",
        action: "Ask the platform team to allow the namespace, or use another ProviderConfig.",
    },
    ReasonDoc {
        reason: reasons::CREDENTIALS_INVALID,
        appears_as: "Ready=False, Synced=False",
        meaning: "The credentials could not be read, or the provider refused them.",
        action: "Check the ProviderConfig's `credentials` and the Secret or workload identity \
                 it names; changes take effect without a restart.",
    },
    ReasonDoc {
        reason: reasons::PROVIDER_ERROR,
        appears_as: "Synced=False, Reconciling=True (retried) or Stalled=True (the account must change)",
        meaning: "The provider answered with an error; Ferry retries with backoff.",
        action: "Read the message; act if it persists.",
    },
    ReasonDoc {
        reason: reasons::THROTTLED,
        appears_as: "Synced=False, Reconciling=True",
        meaning: "The provider rate-limited Ferry; it retries after the provider's hint.",
        action: "Nothing, unless it persists (then raise the provider's quota).",
    },
    ReasonDoc {
        reason: reasons::KNATIVE_NOT_INSTALLED,
        appears_as: "Ready=False, Stalled=True",
        meaning: "`provider: knative` but the Knative Serving CRDs are not installed.",
        action: "Install Knative Serving (https://knative.dev/docs/install/); Ferry retries \
                 when its CRDs appear.",
    },
    ReasonDoc {
        reason: reasons::VPA_NOT_INSTALLED,
        appears_as: "Ready=False, Stalled=True",
        meaning: "`spec.kubernetes.verticalPodAutoscaler` is set but the cluster does not serve \
                  `autoscaling.k8s.io/v1` VerticalPodAutoscalers.",
        action: "Install the Vertical Pod Autoscaler \
                 (https://github.com/kubernetes/autoscaler/tree/master/vertical-pod-autoscaler), \
                 or remove the section; Ferry looks again every minute.",
    },
    ReasonDoc {
        reason: reasons::DELETING,
        appears_as: "Ready=False, Reconciling=True",
        meaning: "The resource is being deleted; Ferry waits for the provider to remove what it \
                  created (or orphans it with `deletionPolicy: Orphan`).",
        action: "Wait.",
    },
    ReasonDoc {
        reason: reasons::MIGRATING,
        appears_as: "Migrating=True, Reconciling=True (Ready stays as the serving side reports)",
        meaning: "`spec.provider` (or `spec.providerConfigRef`, to another account or region) \
                  changed: the new side is created beside the old one, `status.url` moves to it \
                  once it is Ready, and the old one goes `spec.migration.drainSeconds` later. \
                  `status.migration` shows the phase and the old side.",
        action: "Wait; point DNS or clients at the new `status.url` within the drain.",
    },
    ReasonDoc {
        reason: reasons::ROLLED_BACK,
        appears_as: "Migrating=False, Synced=False, Stalled=True (Ready stays as the old side reports)",
        meaning: "The new side of a move failed (the message says why): it was removed, and the \
                  old side keeps serving.",
        action: "Fix what the message names (or change `spec.provider` back); the next change \
                 of the spec tries again.",
    },
    ReasonDoc {
        reason: reasons::RECONCILE_SUCCESS,
        appears_as: "Synced=True",
        meaning: "The last write of the desired state to the provider succeeded.",
        action: "Nothing.",
    },
    ReasonDoc {
        reason: reasons::IMAGE_NOT_FOUND,
        appears_as: "Ready=False, Stalled=True",
        meaning: "The provider cannot find or pull the image (Knative `ContainerMissing`). The \
                  message is the provider's.",
        action: "Check the image name and tag, and that the provider may pull it.",
    },
    ReasonDoc {
        reason: reasons::CONTAINER_FAILED,
        appears_as: "Ready=False, Stalled=True",
        meaning: "A container started and exited or failed its probes (Knative `ExitCode*`); for \
                  a ServerlessJob, a task's container exited non-zero on its last attempt \
                  (Failed=True).",
        action: "Read the container's logs on the provider.",
    },
    ReasonDoc {
        reason: reasons::ROLLOUT_TIMEOUT,
        appears_as: "Ready=False, Stalled=True",
        meaning: "The new revision did not become ready within the provider's deadline \
                  (Knative `ProgressDeadlineExceeded`).",
        action: "Check capacity and the container's startup; Ferry retries on the next change.",
    },
    ReasonDoc {
        reason: reasons::REVISION_FAILED,
        appears_as: "Ready=False, Stalled=True",
        meaning: "The provider refused or failed the new revision for another reason (Knative \
                  `RevisionMissing`, `RevisionFailed`...); the message is the provider's.",
        action: "Read the message; fix the spec.",
    },
    ReasonDoc {
        reason: reasons::NAME_TAKEN,
        appears_as: "Ready=False, Stalled=True",
        meaning: "A resource with the name Ferry would use exists and was not created by Ferry, \
                  so Ferry leaves it alone.",
        action: "Rename the ServerlessService, or delete or rename the other resource.",
    },
    ReasonDoc {
        reason: reasons::IN_USE,
        appears_as: "a ProviderConfig's Ready=False",
        meaning: "The ProviderConfig is being deleted, but ServerlessServices or \
                  ServerlessJobs still use it: it keeps its finalizer `ferry.dev/in-use` until \
                  the last of them is gone, so their cloud resources are deleted through it \
                  rather than orphaned. \
                  `status.users` counts them. (Its Ready is otherwise `Available`, \
                  `CredentialsInvalid`, `ProviderError` or `Throttled`, from a check of each \
                  cloud it configures.)",
        action: "Wait, or delete or move the objects that use it (`kubectl get ssvc,sjob -A`; \
                 its message names them).",
    },
    ReasonDoc {
        reason: reasons::RUNNING,
        appears_as: "a ServerlessJob's Ready=Unknown, Reconciling=True",
        meaning: "The run for the current spec is under way (or waits for an earlier run to end, \
                  with `concurrencyPolicy: Forbid`); `status.lastRun` counts its tasks.",
        action: "Wait; `kubectl wait --for=condition=Complete sjob/NAME` returns when it succeeds.",
    },
    ReasonDoc {
        reason: reasons::SUCCEEDED,
        appears_as: "a ServerlessJob's Ready=True, Complete=True",
        meaning: "The run it reports on ended with every task succeeded.",
        action: "Nothing. Changing the spec runs the job again.",
    },
    ReasonDoc {
        reason: reasons::SCHEDULED,
        appears_as: "a ServerlessJob's Ready=True",
        meaning: "The job and its schedule are in place at the provider, whose scheduler starts \
                  the runs; `Complete`/`Failed` tell how the newest run ended.",
        action: "Nothing.",
    },
    ReasonDoc {
        reason: reasons::SUSPENDED,
        appears_as: "a ServerlessJob's Ready=True",
        meaning: "`spec.suspend` is true: no new run starts (a schedule is paused); runs under way \
                  go on.",
        action: "Set `spec.suspend` to false to run again.",
    },
    ReasonDoc {
        reason: reasons::STOPPED,
        appears_as: "a ServerlessJob's Ready=False, Stalled=True; or a run's reason",
        meaning: "A run was stopped before it ended: replaced by a newer one \
                  (`concurrencyPolicy: Replace`), stopped at the provider, or its record there \
                  is gone.",
        action: "Change the spec to run the job again.",
    },
    ReasonDoc {
        reason: reasons::DEADLINE_EXCEEDED,
        appears_as: "a ServerlessJob's Ready=False, Failed=True, Stalled=True",
        meaning: "A task was stopped at `timeoutSeconds` on its last attempt.",
        action: "Raise `timeoutSeconds`, or make the task faster; changing the spec runs it again.",
    },
    ReasonDoc {
        reason: reasons::TASK_FAILED_TO_START,
        appears_as: "a ServerlessJob's Ready=False, Failed=True, Stalled=True",
        meaning: "The provider could not start a task (no capacity, a network or IAM problem); \
                  the message is the provider's.",
        action: "Read the message; fix the account or the spec and change the spec to run again.",
    },
];

/// Whether `reason` is in the documented list.
pub fn is_documented(reason: &str) -> bool {
    REASONS.iter().any(|doc| doc.reason == reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_unique_camel_case_words() {
        let mut seen = std::collections::BTreeSet::new();
        for doc in REASONS {
            assert!(seen.insert(doc.reason), "{} listed twice", doc.reason);
            assert!(
                doc.reason
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_uppercase())
            );
            assert!(doc.reason.chars().all(|c| c.is_ascii_alphanumeric()));
        }
    }
}
