//! Knative Serving's published limits, as data. The capability table's text and the validation
//! rules both read these, so a limit is written once.

/// Ports the queue-proxy sidecar uses; the user container may not listen on them.
pub const RESERVED_PORTS: [u16; 6] = [8008, 8012, 8013, 8022, 9090, 9091];
/// The container name Knative reserves for its sidecar.
pub const RESERVED_CONTAINER_NAME: &str = "queue-proxy";
/// `max-revision-timeout-seconds` of a stock installation.
pub const MAX_TIMEOUT_SECONDS: u32 = 600;
/// `container-concurrency-max-limit` of a stock installation.
pub const MAX_CONCURRENCY: u32 = 1000;
/// Longest `scale-down-delay`, seconds.
pub const MAX_SCALE_DOWN_DELAY_SECONDS: u32 = 3600;
/// A Knative tag route is `TAG-SERVICE`, one DNS label.
pub const MAX_TAG_ROUTE_LENGTH: usize = 63;
