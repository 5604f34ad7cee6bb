//! Faults a real kube-apiserver shows, injected on demand so a test can make a client meet
//! them: 409 conflicts on writes, 429 throttling, 500 and 503 errors, watches dropped
//! mid-stream and watches expired with 410 `Expired`.
//!
//! A [`Rule`] says which fault, which requests ([`Matcher`]: verbs, resource, subresource,
//! namespace, name, user, user agent) and how often: the next `times` matching requests, or
//! each matching request with a probability drawn from a seeded generator, for a period or until
//! removed. Open watches can also be dropped or expired at once ([`Faults::drop_watches`],
//! [`Faults::expire_watches`]). Every fault injected is counted by kind ([`Faults::counts`]).
//!
//! Requests are told apart by the user their bearer token names (the stand-in authenticates no
//! one: the token *is* the user name, see [`crate::audit`]), so a rule for the operator's
//! service account leaves the test's own requests alone; a client without its own identity can
//! be matched by its `User-Agent` prefix instead. Only resource requests are faulted, never
//! discovery, `/version`, `/openapi` or this module's own endpoint.
//!
//! The same operations are served over HTTP under `/standin/faults` (see [`admin`]), for tests
//! whose stand-in runs as a process; [`crate::remote::Remote`] is a client for them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::audit::Attributes;
use crate::error::ApiError;

/// What a faulted request meets. Each is answered as the real API server answers it (the
/// `Status` bodies and headers are in [`Fault`]'s variants).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all_fields = "camelCase")]
pub enum Fault {
    /// 409 `Conflict`, the optimistic-lock failure of an update or patch whose
    /// `metadata.resourceVersion` is stale or whose JSON-patch `test` failed: `Operation cannot
    /// be fulfilled on serverlessservices.ferry.dev "NAME": the object has been modified; please
    /// apply your changes to the latest version and try again`, details `{name, group, kind}`.
    /// Only updates and patches of a named object get it (other requests pass the rule by).
    Conflict,
    /// 429 from API Priority and Fairness rejecting a request: a plain-text body `Too many
    /// requests, please try again later.` (Go's `http.Error`, so `Content-Type: text/plain;
    /// charset=utf-8` and a trailing newline) and a `Retry-After` header; no `Status` body.
    TooManyRequests {
        /// The `Retry-After` header, in seconds.
        retry_after_seconds: u32,
    },
    /// 429 `Status` with reason `TooManyRequests`, message `storage is (re)initializing`,
    /// `details.retryAfterSeconds` and a `Retry-After` header: what the watch cache answers
    /// while a resource's storage (re)starts, e.g. after a CRD changed.
    StorageInitializing {
        /// `details.retryAfterSeconds` and the `Retry-After` header, in seconds.
        retry_after_seconds: u32,
    },
    /// 500 `InternalError`: `Internal error occurred: resource quota evaluation timed out`, with
    /// that error as the one cause (apimachinery's `NewInternalError`).
    InternalError,
    /// 503 `ServiceUnavailable`: `the server is currently unable to handle the request`
    /// (apimachinery's `NewServiceUnavailable`).
    ServiceUnavailable,
    /// A watch request is served, then its connection is closed once its first events are
    /// sent, without ending the chunked response: the client must watch again from the last
    /// `resourceVersion` it saw. Only watches get it.
    DropWatch,
    /// A watch that resumes from a `resourceVersion` is answered as the watch cache answers one
    /// older than its history: `200`, then one `ERROR` event carrying a 410 `Expired` `Status`
    /// (`too old resource version: REQUESTED (CURRENT)`), then the end of the stream. The
    /// client must list again. Only watches that name a `resourceVersion` get it.
    ExpireWatch,
}

/// A fault's kind, for counting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum FaultKind {
    /// [`Fault::Conflict`].
    Conflict,
    /// [`Fault::TooManyRequests`].
    TooManyRequests,
    /// [`Fault::StorageInitializing`].
    StorageInitializing,
    /// [`Fault::InternalError`].
    InternalError,
    /// [`Fault::ServiceUnavailable`].
    ServiceUnavailable,
    /// [`Fault::DropWatch`] and [`Faults::drop_watches`].
    DropWatch,
    /// [`Fault::ExpireWatch`] and [`Faults::expire_watches`].
    ExpireWatch,
}

impl Fault {
    /// Its kind.
    pub fn kind(&self) -> FaultKind {
        match self {
            Self::Conflict => FaultKind::Conflict,
            Self::TooManyRequests { .. } => FaultKind::TooManyRequests,
            Self::StorageInitializing { .. } => FaultKind::StorageInitializing,
            Self::InternalError => FaultKind::InternalError,
            Self::ServiceUnavailable => FaultKind::ServiceUnavailable,
            Self::DropWatch => FaultKind::DropWatch,
            Self::ExpireWatch => FaultKind::ExpireWatch,
        }
    }

    /// Whether a request can meet this fault on the real server.
    fn applies_to(&self, request: &RequestInfo) -> bool {
        let a = &request.attributes;
        match self {
            Self::Conflict => matches!(a.verb.as_str(), "update" | "patch") && !a.name.is_empty(),
            Self::DropWatch => a.verb == "watch",
            Self::ExpireWatch => a.verb == "watch" && request.resume_from.is_some(),
            _ => true,
        }
    }

    /// The error a request meets, for the faults answered with a `Status`.
    pub fn status(&self, request: &RequestInfo) -> Option<ApiError> {
        let a = &request.attributes;
        match self {
            Self::Conflict => Some(ApiError::stale_on(&a.api_group, &a.resource, &a.name)),
            Self::StorageInitializing {
                retry_after_seconds,
            } => Some(ApiError::too_many_requests(
                "storage is (re)initializing",
                *retry_after_seconds,
            )),
            Self::InternalError => Some(ApiError::internal("resource quota evaluation timed out")),
            Self::ServiceUnavailable => Some(ApiError::service_unavailable(
                "the server is currently unable to handle the request",
            )),
            Self::TooManyRequests { .. } | Self::DropWatch | Self::ExpireWatch => None,
        }
    }
}

/// The plain-text body API Priority and Fairness rejects a request with
/// (`tooManyRequests` in the apiserver's `server/filters`, written by Go's `http.Error`).
pub const TOO_MANY_REQUESTS: &str = "Too many requests, please try again later.\n";

/// How many faults of each kind were injected.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Counts(pub BTreeMap<FaultKind, u64>);

impl Counts {
    /// How many of `kind`.
    pub fn get(&self, kind: FaultKind) -> u64 {
        self.0.get(&kind).copied().unwrap_or(0)
    }

    /// How many in all.
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }
}

/// Which requests a rule applies to: every field given must match; a field left out matches
/// anything. Only resource requests ever match.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Matcher {
    /// The authorizer's verbs: `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`,
    /// `deletecollection`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub verbs: Vec<String>,
    /// The API group (empty for the core group).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The resource, e.g. `serverlessservices`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// The subresource, e.g. `status`; empty for the main resource only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subresource: Option<String>,
    /// The namespace (requests across namespaces have none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The object's name (a list or watch has one when its field selector names one object).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The user, as the bearer token names it (`system:anonymous` without one), e.g.
    /// `system:serviceaccount:NAMESPACE:ferry`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// A prefix of the `User-Agent` header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

impl Matcher {
    /// Every resource request.
    pub fn any() -> Self {
        Self::default()
    }

    /// Requests with one of `verbs` on `resource`.
    pub fn verbs(verbs: &[&str], resource: &str) -> Self {
        Self {
            verbs: verbs.iter().map(|v| (*v).to_owned()).collect(),
            resource: Some(resource.to_owned()),
            ..Self::default()
        }
    }

    /// Writes to `resource`: `create`, `update`, `patch`, `delete`, `deletecollection`.
    pub fn writes(resource: &str) -> Self {
        Self::verbs(
            &["create", "update", "patch", "delete", "deletecollection"],
            resource,
        )
    }

    /// Reads of `resource`: `get`, `list`.
    pub fn reads(resource: &str) -> Self {
        Self::verbs(&["get", "list"], resource)
    }

    /// Watches of `resource`.
    pub fn watches(resource: &str) -> Self {
        Self::verbs(&["watch"], resource)
    }

    /// Only in API group `group`.
    #[must_use]
    pub fn group(mut self, group: &str) -> Self {
        self.group = Some(group.to_owned());
        self
    }

    /// Only the subresource `subresource` (`""`: the main resource only).
    #[must_use]
    pub fn subresource(mut self, subresource: &str) -> Self {
        self.subresource = Some(subresource.to_owned());
        self
    }

    /// Only in `namespace`.
    #[must_use]
    pub fn namespace(mut self, namespace: &str) -> Self {
        self.namespace = Some(namespace.to_owned());
        self
    }

    /// Only the object `name`.
    #[must_use]
    pub fn name(mut self, name: &str) -> Self {
        self.name = Some(name.to_owned());
        self
    }

    /// Only requests of `user`.
    #[must_use]
    pub fn user(mut self, user: &str) -> Self {
        self.user = Some(user.to_owned());
        self
    }

    /// Only requests whose `User-Agent` starts with `prefix`.
    #[must_use]
    pub fn user_agent(mut self, prefix: &str) -> Self {
        self.user_agent = Some(prefix.to_owned());
        self
    }

    /// Whether `request` is one of the requests this matcher names.
    pub fn matches(&self, request: &RequestInfo) -> bool {
        let a = &request.attributes;
        let is = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        a.resource_request
            && (self.verbs.is_empty() || self.verbs.contains(&a.verb))
            && is(&self.group, &a.api_group)
            && is(&self.resource, &a.resource)
            && is(&self.subresource, &a.subresource)
            && is(&self.namespace, &a.namespace)
            && is(&self.name, &a.name)
            && is(&self.user, &a.user)
            && self
                .user_agent
                .as_deref()
                .is_none_or(|p| request.user_agent.starts_with(p))
    }
}

/// What is known of a request when faults are chosen.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestInfo {
    /// The authorizer's attributes (user, verb, group, resource, subresource, namespace, name).
    #[serde(flatten)]
    pub attributes: Attributes,
    /// The `User-Agent` header.
    #[serde(default)]
    pub user_agent: String,
    /// For a watch that resumes from a `resourceVersion` (not `0`, not a streaming list),
    /// that version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_from: Option<u64>,
}

/// A fault, the requests it applies to, and how often.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    /// The fault.
    pub fault: Fault,
    /// The requests.
    #[serde(default)]
    pub matcher: Matcher,
    /// How many requests get it, after which the rule is gone; none: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u64>,
    /// The chance that a matching request gets it, from 0 to 1.
    #[serde(default = "certain")]
    pub probability: f64,
    /// Seeds the draws for `probability`: the same seed and requests give the same faults.
    #[serde(default)]
    pub seed: u64,
    /// How long the rule lasts once added; none: until removed or used up.
    #[serde(
        default,
        rename = "periodMillis",
        with = "millis",
        skip_serializing_if = "Option::is_none"
    )]
    pub period: Option<Duration>,
}

fn certain() -> f64 {
    1.0
}

impl Rule {
    /// `fault` for the next `times` requests `matcher` names.
    pub fn times(fault: Fault, matcher: Matcher, times: u64) -> Self {
        Self {
            fault,
            matcher,
            times: Some(times),
            probability: 1.0,
            seed: 0,
            period: None,
        }
    }

    /// `fault` for each request `matcher` names with chance `probability`, drawn from `seed`,
    /// until removed (or for [`Rule::for_period`]).
    pub fn randomly(fault: Fault, matcher: Matcher, probability: f64, seed: u64) -> Self {
        Self {
            fault,
            matcher,
            times: None,
            probability,
            seed,
            period: None,
        }
    }

    /// The rule lasts `period` from when it is added.
    #[must_use]
    pub fn for_period(mut self, period: Duration) -> Self {
        self.period = Some(period);
        self
    }
}

/// `Option<Duration>` as whole milliseconds.
mod millis {
    use std::time::Duration;

    use serde::{Deserialize as _, Deserializer, Serializer};

    #[allow(clippy::ref_option)] // serde's `with` passes the field itself
    pub(super) fn serialize<S: Serializer>(
        value: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(d) => serializer.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            None => serializer.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(deserializer)?.map(Duration::from_millis))
    }
}

/// A rule's number, to remove it.
pub type RuleId = u64;

/// A rule as it stands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleState {
    /// Its number.
    pub id: RuleId,
    /// The rule.
    pub rule: Rule,
    /// How many faults it injected so far.
    pub injected: u64,
}

/// What happens to an open watch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchAction {
    /// Its connection is closed without ending the response.
    Drop,
    /// It gets an `ERROR` event with a 410 `Expired` status (`The resourceVersion for the
    /// provided watch is too old.`, as etcd's compaction under an open watch), then ends.
    Expire,
}

struct Active {
    state: RuleState,
    added: Instant,
    /// SplitMix64 state for the probability draws.
    draws: u64,
}

impl Active {
    fn live(&self, now: Instant) -> bool {
        let rule = &self.state.rule;
        rule.times.is_none_or(|t| self.state.injected < t)
            && rule
                .period
                .is_none_or(|p| now.duration_since(self.added) < p)
    }
}

struct OpenWatch {
    request: RequestInfo,
    action: oneshot::Sender<WatchAction>,
}

#[derive(Default)]
struct State {
    rules: Vec<Active>,
    next_rule: RuleId,
    counts: Counts,
    watches: BTreeMap<u64, OpenWatch>,
    next_watch: u64,
}

/// The faults of one stand-in: its rules, its open watches and its counts. Clones share them.
#[derive(Clone, Default)]
pub struct Faults {
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for Faults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("Faults")
            .field("rules", &state.rules.len())
            .field("watches", &state.watches.len())
            .field("counts", &state.counts)
            .finish()
    }
}

impl Faults {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a rule; faults are chosen from the rules in the order they were added, one per
    /// request at most.
    pub fn add(&self, rule: Rule) -> RuleId {
        let mut state = self.lock();
        state.next_rule += 1;
        let id = state.next_rule;
        let draws = rule.seed;
        state.rules.push(Active {
            state: RuleState {
                id,
                rule,
                injected: 0,
            },
            added: Instant::now(),
            draws,
        });
        id
    }

    /// `fault` for the next `times` requests `matcher` names, e.g.
    /// `faults.inject(Fault::Conflict, Matcher::writes("serverlessservices"), 3)`.
    pub fn inject(&self, fault: Fault, matcher: Matcher, times: u64) -> RuleId {
        self.add(Rule::times(fault, matcher, times))
    }

    /// `fault` for each request `matcher` names with chance `probability` (drawn from `seed`),
    /// for `period` or until removed.
    pub fn inject_randomly(
        &self,
        fault: Fault,
        matcher: Matcher,
        probability: f64,
        seed: u64,
        period: Option<Duration>,
    ) -> RuleId {
        let mut rule = Rule::randomly(fault, matcher, probability, seed);
        rule.period = period;
        self.add(rule)
    }

    /// Removes a rule; false when there is none by that number (any more).
    pub fn remove(&self, id: RuleId) -> bool {
        let mut state = self.lock();
        let before = state.rules.len();
        state.rules.retain(|r| r.state.id != id);
        state.rules.len() < before
    }

    /// Removes every rule (the counts stay); returns how many there were.
    pub fn clear(&self) -> usize {
        let mut state = self.lock();
        let n = state.rules.len();
        state.rules.clear();
        n
    }

    /// The rules still in force.
    pub fn rules(&self) -> Vec<RuleState> {
        let now = Instant::now();
        let mut state = self.lock();
        state.rules.retain(|r| r.live(now));
        state.rules.iter().map(|r| r.state.clone()).collect()
    }

    /// How many faults of each kind were injected since the stand-in started.
    pub fn counts(&self) -> Counts {
        self.lock().counts.clone()
    }

    /// Closes every open watch `matcher` names without ending its response, as a connection
    /// lost mid-stream; returns how many.
    pub fn drop_watches(&self, matcher: &Matcher) -> usize {
        self.act_on_watches(matcher, WatchAction::Drop)
    }

    /// Sends every open watch `matcher` names an `ERROR` event with a 410 `Expired` status and
    /// ends it; returns how many.
    pub fn expire_watches(&self, matcher: &Matcher) -> usize {
        self.act_on_watches(matcher, WatchAction::Expire)
    }

    /// The open watches `matcher` names.
    pub fn open_watches(&self, matcher: &Matcher) -> Vec<RequestInfo> {
        self.lock()
            .watches
            .values()
            .filter(|w| !w.action.is_closed() && matcher.matches(&w.request))
            .map(|w| w.request.clone())
            .collect()
    }

    fn act_on_watches(&self, matcher: &Matcher, action: WatchAction) -> usize {
        let mut state = self.lock();
        let chosen: Vec<u64> = state
            .watches
            .iter()
            .filter(|(_, w)| !w.action.is_closed() && matcher.matches(&w.request))
            .map(|(id, _)| *id)
            .collect();
        let mut n = 0;
        for id in chosen {
            if let Some(watch) = state.watches.remove(&id)
                && watch.action.send(action).is_ok()
            {
                n += 1;
            }
        }
        let kind = match action {
            WatchAction::Drop => FaultKind::DropWatch,
            WatchAction::Expire => FaultKind::ExpireWatch,
        };
        if n > 0 {
            *state.counts.0.entry(kind).or_default() += u64::try_from(n).unwrap_or(u64::MAX);
        }
        n
    }

    /// The fault `request` meets, if any: the first rule in force that names it and whose
    /// fault it can meet, if its draw says so. The fault is counted.
    pub fn choose(&self, request: &RequestInfo, now: Instant) -> Option<Fault> {
        let mut state = self.lock();
        state.rules.retain(|r| r.live(now));
        let mut chosen = None;
        for active in &mut state.rules {
            let rule = &active.state.rule;
            if !(rule.matcher.matches(request) && rule.fault.applies_to(request)) {
                continue;
            }
            if rule.probability < 1.0
                && unit_interval(splitmix64(&mut active.draws)) >= rule.probability
            {
                continue;
            }
            active.state.injected += 1;
            chosen = Some(rule.fault.clone());
            break;
        }
        let fault = chosen?;
        *state.counts.0.entry(fault.kind()).or_default() += 1;
        Some(fault)
    }

    /// Registers an open watch so [`Faults::drop_watches`] and [`Faults::expire_watches`]
    /// reach it; `armed` is an action it meets at once (a [`Fault::DropWatch`] chosen for the
    /// request), in which case it is not registered.
    pub fn watch_opened(&self, request: RequestInfo, armed: Option<WatchAction>) -> WatchGuard {
        let (tx, rx) = oneshot::channel();
        if let Some(action) = armed {
            let _ = tx.send(action);
            return WatchGuard {
                id: None,
                faults: self.clone(),
                action: rx,
            };
        }
        let mut state = self.lock();
        state.next_watch += 1;
        let id = state.next_watch;
        state.watches.insert(
            id,
            OpenWatch {
                request,
                action: tx,
            },
        );
        WatchGuard {
            id: Some(id),
            faults: self.clone(),
            action: rx,
        }
    }
}

/// An open watch's hold on its registration: the watch learns its fate on `action`, and is
/// forgotten when the guard goes.
pub struct WatchGuard {
    id: Option<u64>,
    faults: Faults,
    /// Resolves when the watch is to be dropped or expired.
    pub action: oneshot::Receiver<WatchAction>,
}

impl std::fmt::Debug for WatchGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchGuard")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Drop for WatchGuard {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            self.faults.lock().watches.remove(&id);
        }
    }
}

/// SplitMix64: a small, seedable generator, enough to spread faults.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A draw in [0, 1).
fn unit_interval(draw: u64) -> f64 {
    f64::from(u32::try_from(draw >> 32).unwrap_or(u32::MAX)) / 4_294_967_296.0
}

/// The HTTP endpoint under `/standin/faults`: `rest` is the path after it, `body` the request
/// body. Returns the status code and the JSON answer.
///
/// | request | does | answers |
/// |---|---|---|
/// | `GET /standin/faults` | | `{"rules": [RuleState], "counts": {KIND: N}, "openWatches": [RequestInfo]}` |
/// | `POST /standin/faults` with a [`Rule`] | adds it | 201 `{"id": N}` |
/// | `DELETE /standin/faults` | removes every rule | `{"removed": N}` |
/// | `DELETE /standin/faults/ID` | removes one | `{"removed": 1}`, or 404 |
/// | `GET /standin/faults/counts` | | `{KIND: N}` |
/// | `POST /standin/faults/watches/drop` with a [`Matcher`] (empty: all) | drops open watches | `{"dropped": N}` |
/// | `POST /standin/faults/watches/expire` with a [`Matcher`] | expires open watches | `{"expired": N}` |
pub fn admin(faults: &Faults, method: &http::Method, rest: &str, body: &[u8]) -> (u16, Value) {
    match admin_answer(faults, method, rest, body) {
        Ok(answer) => answer,
        Err(e) => (e.code, e.to_status()),
    }
}

fn admin_answer(
    faults: &Faults,
    method: &http::Method,
    rest: &str,
    body: &[u8],
) -> Result<(u16, Value), ApiError> {
    use http::Method;
    let parse = |what: &str| -> Result<Value, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(json!({}));
        }
        serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("invalid {what} in the request body: {e}")))
    };
    let matcher = || -> Result<Matcher, ApiError> {
        serde_json::from_value(parse("matcher")?)
            .map_err(|e| ApiError::bad_request(format!("invalid matcher: {e}")))
    };
    let counts = |c: Counts| serde_json::to_value(c).unwrap_or_default();
    match (method, rest.trim_matches('/')) {
        (&Method::GET, "") => Ok((
            200,
            json!({
                "rules": faults.rules(),
                "counts": counts(faults.counts()),
                "openWatches": faults.open_watches(&Matcher::any()),
            }),
        )),
        (&Method::POST, "") => {
            let rule: Rule = serde_json::from_value(parse("rule")?)
                .map_err(|e| ApiError::bad_request(format!("invalid rule: {e}")))?;
            if !(0.0..=1.0).contains(&rule.probability) {
                return Err(ApiError::bad_request(format!(
                    "probability {} is not between 0 and 1",
                    rule.probability
                )));
            }
            Ok((201, json!({"id": faults.add(rule)})))
        }
        (&Method::DELETE, "") => Ok((200, json!({"removed": faults.clear()}))),
        (&Method::GET, "counts") => Ok((200, counts(faults.counts()))),
        (&Method::POST, "watches/drop") => {
            Ok((200, json!({"dropped": faults.drop_watches(&matcher()?)})))
        }
        (&Method::POST, "watches/expire") => {
            Ok((200, json!({"expired": faults.expire_watches(&matcher()?)})))
        }
        (&Method::DELETE, id) if id.parse::<RuleId>().is_ok() => {
            let id: RuleId = id.parse().unwrap_or_default();
            if faults.remove(id) {
                Ok((200, json!({"removed": 1})))
            } else {
                Err(ApiError::no_route(&format!("/standin/faults/{id}")))
            }
        }
        (method, rest) => Err(ApiError::method_not_allowed(format!(
            "the fault endpoint does not serve {method} /standin/faults/{rest}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(user: &str, method: &http::Method, path: &str, watch: bool) -> RequestInfo {
        RequestInfo {
            attributes: crate::audit::attributes(user.into(), method, path, watch),
            user_agent: "kube-rs/5".into(),
            resume_from: None,
        }
    }

    const SSV: &str = "/apis/ferry.dev/v1alpha1/namespaces/shop/serverlessservices";
    const OPERATOR: &str = "system:serviceaccount:ferry-system:ferry";

    #[test]
    fn a_matcher_names_requests_by_verb_resource_subresource_namespace_and_user() {
        let put = request(OPERATOR, &http::Method::PUT, &format!("{SSV}/web"), false);
        let status = request(
            OPERATOR,
            &http::Method::PATCH,
            &format!("{SSV}/web/status"),
            false,
        );
        let list = request(OPERATOR, &http::Method::GET, SSV, false);
        let test = request(
            "system:anonymous",
            &http::Method::PUT,
            &format!("{SSV}/web"),
            false,
        );
        let discovery = request(
            OPERATOR,
            &http::Method::GET,
            "/apis/ferry.dev/v1alpha1",
            false,
        );
        let writes = Matcher::writes("serverlessservices").user(OPERATOR);
        assert!(writes.matches(&put));
        assert!(writes.matches(&status));
        assert!(!writes.matches(&list));
        assert!(!writes.matches(&test));
        assert!(writes.clone().subresource("status").matches(&status));
        assert!(!writes.clone().subresource("").matches(&status));
        assert!(writes.clone().namespace("shop").name("web").matches(&put));
        assert!(!writes.clone().namespace("other").matches(&put));
        assert!(!writes.clone().group("").matches(&put));
        assert!(writes.clone().user_agent("kube-rs").matches(&put));
        assert!(!writes.user_agent("kubectl").matches(&put));
        assert!(Matcher::any().matches(&list));
        assert!(!Matcher::any().matches(&discovery));
    }

    #[test]
    fn a_rule_for_n_times_injects_n_faults_then_goes() {
        let faults = Faults::default();
        let now = Instant::now();
        faults.inject(Fault::Conflict, Matcher::writes("serverlessservices"), 2);
        let put = request(OPERATOR, &http::Method::PUT, &format!("{SSV}/web"), false);
        let create = request(OPERATOR, &http::Method::POST, SSV, false);
        // A create cannot meet an optimistic-lock conflict: the rule passes it by.
        assert_eq!(faults.choose(&create, now), None);
        assert_eq!(faults.choose(&put, now), Some(Fault::Conflict));
        assert_eq!(faults.choose(&put, now), Some(Fault::Conflict));
        assert_eq!(faults.choose(&put, now), None);
        assert!(faults.rules().is_empty());
        assert_eq!(faults.counts().get(FaultKind::Conflict), 2);
        assert_eq!(faults.counts().total(), 2);
    }

    #[test]
    fn random_rules_follow_their_seed_and_their_period() {
        let draws = |seed| {
            let faults = Faults::default();
            let now = Instant::now();
            faults.inject_randomly(Fault::InternalError, Matcher::any(), 0.3, seed, None);
            let get = request(OPERATOR, &http::Method::GET, &format!("{SSV}/web"), false);
            (0..1000)
                .map(|_| faults.choose(&get, now).is_some())
                .collect::<Vec<_>>()
        };
        let first = draws(7);
        assert_eq!(first, draws(7));
        assert_ne!(first, draws(8));
        let hits = first.iter().filter(|h| **h).count();
        assert!((230..370).contains(&hits), "{hits} of 1000 at p=0.3");

        let faults = Faults::default();
        faults.inject_randomly(
            Fault::ServiceUnavailable,
            Matcher::any(),
            1.0,
            1,
            Some(Duration::from_secs(10)),
        );
        let get = request(OPERATOR, &http::Method::GET, SSV, false);
        let now = Instant::now();
        assert!(faults.choose(&get, now).is_some());
        assert!(faults.choose(&get, now + Duration::from_secs(11)).is_none());
    }

    #[test]
    fn watch_faults_only_meet_watches_and_expiry_only_a_resumed_one() {
        let faults = Faults::default();
        let now = Instant::now();
        faults.inject(Fault::ExpireWatch, Matcher::any(), 1);
        faults.inject(Fault::DropWatch, Matcher::any(), 1);
        let get = request(OPERATOR, &http::Method::GET, &format!("{SSV}/web"), false);
        let fresh = request(OPERATOR, &http::Method::GET, SSV, true);
        let resumed = RequestInfo {
            resume_from: Some(5),
            ..fresh.clone()
        };
        assert_eq!(faults.choose(&get, now), None);
        assert_eq!(faults.choose(&fresh, now), Some(Fault::DropWatch));
        assert_eq!(faults.choose(&resumed, now), Some(Fault::ExpireWatch));
    }

    #[test]
    fn open_watches_are_dropped_or_expired_by_matcher_and_counted() {
        let faults = Faults::default();
        let ours = request(OPERATOR, &http::Method::GET, SSV, true);
        let theirs = request("system:anonymous", &http::Method::GET, SSV, true);
        let mut a = faults.watch_opened(ours.clone(), None);
        let mut b = faults.watch_opened(theirs, None);
        let operator = Matcher::watches("serverlessservices").user(OPERATOR);
        assert_eq!(faults.open_watches(&operator), vec![ours]);
        assert_eq!(faults.drop_watches(&operator), 1);
        assert_eq!(a.action.try_recv(), Ok(WatchAction::Drop));
        assert!(b.action.try_recv().is_err());
        assert_eq!(faults.expire_watches(&Matcher::any()), 1);
        assert_eq!(b.action.try_recv(), Ok(WatchAction::Expire));
        assert_eq!(faults.counts().get(FaultKind::DropWatch), 1);
        assert_eq!(faults.counts().get(FaultKind::ExpireWatch), 1);
        drop(a);
        let c = faults.watch_opened(request(OPERATOR, &http::Method::GET, SSV, true), None);
        assert_eq!(faults.open_watches(&Matcher::any()).len(), 1);
        drop(c);
        assert!(faults.open_watches(&Matcher::any()).is_empty());
    }

    #[test]
    fn rules_round_trip_through_json_as_the_endpoint_takes_them() {
        let rule = Rule::randomly(
            Fault::TooManyRequests {
                retry_after_seconds: 2,
            },
            Matcher::writes("serverlessservices").user(OPERATOR),
            0.25,
            42,
        )
        .for_period(Duration::from_millis(1500));
        let value = serde_json::to_value(&rule).unwrap();
        assert_eq!(
            value,
            json!({
                "fault": {"type": "TooManyRequests", "retryAfterSeconds": 2},
                "matcher": {
                    "verbs": ["create", "update", "patch", "delete", "deletecollection"],
                    "resource": "serverlessservices",
                    "user": OPERATOR,
                },
                "probability": 0.25,
                "seed": 42,
                "periodMillis": 1500,
            })
        );
        assert_eq!(serde_json::from_value::<Rule>(value).unwrap(), rule);
        let short: Rule =
            serde_json::from_value(json!({"fault": {"type": "Conflict"}, "times": 3})).unwrap();
        assert_eq!(short, Rule::times(Fault::Conflict, Matcher::any(), 3));
    }

    #[test]
    fn the_endpoint_adds_lists_counts_and_removes_rules() {
        let faults = Faults::default();
        let (code, added) = admin(
            &faults,
            &http::Method::POST,
            "",
            br#"{"fault": {"type": "InternalError"}, "times": 1}"#,
        );
        assert_eq!(code, 201, "{added}");
        let (_, state) = admin(&faults, &http::Method::GET, "", b"");
        assert_eq!(state["rules"][0]["id"], added["id"]);
        assert_eq!(state["rules"][0]["rule"]["fault"]["type"], "InternalError");
        let get = request(OPERATOR, &http::Method::GET, SSV, false);
        assert_eq!(
            faults.choose(&get, Instant::now()),
            Some(Fault::InternalError)
        );
        assert_eq!(
            admin(&faults, &http::Method::GET, "counts", b""),
            (200, json!({"InternalError": 1}))
        );
        let id = faults.inject(Fault::Conflict, Matcher::any(), 1);
        assert_eq!(
            admin(&faults, &http::Method::DELETE, &id.to_string(), b""),
            (200, json!({"removed": 1}))
        );
        assert_eq!(
            admin(&faults, &http::Method::DELETE, &id.to_string(), b"").0,
            404
        );
        let (code, e) = admin(
            &faults,
            &http::Method::POST,
            "",
            br#"{"fault": {"type": "Nope"}}"#,
        );
        assert_eq!((code, e["reason"].as_str()), (400, Some("BadRequest")));
        assert_eq!(
            admin(&faults, &http::Method::POST, "watches/drop", b""),
            (200, json!({"dropped": 0}))
        );
    }
}
