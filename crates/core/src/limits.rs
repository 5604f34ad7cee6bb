//! Limits the portable API sets on every provider. Each provider's own published limits live in
//! its backend crate (`limits.rs`).

/// Containers per instance on every provider: ECS allows 10 per task definition and Cloud Run
/// 10 per instance, and the portable API keeps Knative to the same.
pub const MAX_CONTAINERS: usize = 10;
