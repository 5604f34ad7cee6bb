//! The limits of a plain Deployment and of EKS on Fargate, as data. The capability table's
//! text and the validation rules both read these, so a limit is written once.

/// Fewest pods: the HorizontalPodAutoscaler cannot scale to zero without an event-driven
/// autoscaler.
pub const MIN_INSTANCES: u32 = 1;
/// The CPU utilization the HorizontalPodAutoscaler keeps when `scaling.target` is not set,
/// percent of what each pod asks for.
pub const DEFAULT_UTILIZATION: u32 = 80;
/// Longest scale-down stabilization window the HorizontalPodAutoscaler takes, seconds.
pub const MAX_STABILIZATION_SECONDS: u32 = 3600;
/// The port the Service listens on; it forwards to the serving container's port.
pub const SERVICE_PORT: u16 = 80;
/// How long a rollout may go without progress before the Deployment reports
/// `ProgressDeadlineExceeded` (Kubernetes' default), seconds.
pub const PROGRESS_DEADLINE_SECONDS: u32 = 600;

/// EKS on Fargate: the memory EKS adds to every pod for Kubernetes' own components
/// (kubelet, kube-proxy, containerd), MiB.
pub const FARGATE_OVERHEAD_MIB: u64 = 256;
/// EKS on Fargate: the largest pod, vCPU.
pub const FARGATE_MAX_VCPU: u64 = 16;
/// EKS on Fargate: the largest pod, GiB of memory.
pub const FARGATE_MAX_MEMORY_GIB: u64 = 120;
/// EKS on Fargate: the size a pod that asks for nothing gets, millicores and MiB.
pub const FARGATE_DEFAULT_SIZE: (u64, u64) = (250, 512);
/// EKS on Fargate: the ephemeral storage every pod gets, GiB (more is billed, up to 175).
pub const FARGATE_INCLUDED_EPHEMERAL_GIB: u64 = 20;
/// EKS on Fargate: the most ephemeral storage a pod can have, GiB.
pub const FARGATE_MAX_EPHEMERAL_GIB: u64 = 175;
/// The ingress class of the AWS Load Balancer Controller, which can reach Fargate pods only
/// with IP targets.
pub const ALB_INGRESS_CLASS: &str = "alb";
/// The annotation that makes the AWS Load Balancer Controller target pod IPs, which is the only
/// way it reaches Fargate pods (they have no node port).
pub const ALB_TARGET_TYPE: (&str, &str) = ("alb.ingress.kubernetes.io/target-type", "ip");
