//! An in-memory backend for controller tests: scriptable readiness, injected errors, and a
//! log of every call.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use ferry_api::ServerlessService;
use ferry_core::desired::{Desired, ObjectRef};

use crate::{
    Connector, Deletion, ExternalClient, Observation, Outputs, ProviderError, Readiness, Started,
};

/// One call the fake received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    /// `connect` for `namespace/name`.
    Connect(String),
    /// `observe`.
    Observe,
    /// `create`.
    Create,
    /// `update`.
    Update,
    /// `delete`.
    Delete,
    /// `release`.
    Release,
}

/// Which call an injected error replaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// `connect`.
    Connect,
    /// `observe`.
    Observe,
    /// `create`.
    Create,
    /// `update`.
    Update,
    /// `delete`.
    Delete,
    /// `release`.
    Release,
}

#[derive(Debug, Default)]
struct State {
    /// What the provider holds: the desired state last written, if any.
    resource: Option<Desired>,
    readiness: Option<Readiness>,
    outputs: Outputs,
    /// Deletes that report `InProgress` before the resource goes.
    slow_deletes: usize,
    /// What creates and updates report having started.
    started: Started,
    errors: VecDeque<(Operation, ProviderError)>,
    calls: Vec<Call>,
}

/// The fake: one shared provider for every object (tests use one object at a time).
#[derive(Clone, Debug, Default)]
pub struct FakeBackend {
    state: Arc<Mutex<State>>,
}

impl FakeBackend {
    /// An empty provider: every object is `Absent` until created.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How the provider reports what it holds from now on (default: `Progressing` after a
    /// write).
    pub fn set_readiness(&self, readiness: Readiness, outputs: Outputs) {
        let mut s = self.lock();
        s.readiness = Some(readiness);
        s.outputs = outputs;
    }

    /// Pretends the provider already holds `desired`, as if an earlier run created it.
    pub fn set_existing(&self, desired: Desired) {
        self.lock().resource = Some(desired);
    }

    /// The next call of `operation` fails with `error`.
    pub fn fail_next(&self, operation: Operation, error: ProviderError) {
        self.lock().errors.push_back((operation, error));
    }

    /// Creates and updates from now on report `started` (a long-running operation).
    pub fn set_started(&self, started: Started) {
        self.lock().started = started;
    }

    /// The next `n` deletes report `InProgress`.
    pub fn delete_slowly(&self, n: usize) {
        self.lock().slow_deletes = n;
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// Forgets the calls so far.
    pub fn clear_calls(&self) {
        self.lock().calls.clear();
    }

    /// What the provider holds.
    pub fn resource(&self) -> Option<Desired> {
        self.lock().resource.clone()
    }

    fn record(&self, call: Call, operation: Operation) -> Result<(), ProviderError> {
        let mut s = self.lock();
        s.calls.push(call);
        let injected = s.errors.iter().position(|(op, _)| *op == operation);
        match injected.and_then(|i| s.errors.remove(i)) {
            Some((_, error)) => Err(error),
            None => Ok(()),
        }
    }
}

#[async_trait]
impl Connector for FakeBackend {
    async fn connect(
        &self,
        svc: &ServerlessService,
    ) -> Result<Arc<dyn ExternalClient>, ProviderError> {
        let key = format!(
            "{}/{}",
            svc.metadata.namespace.as_deref().unwrap_or_default(),
            svc.metadata.name.as_deref().unwrap_or_default()
        );
        self.record(Call::Connect(key), Operation::Connect)?;
        Ok(Arc::new(self.clone()))
    }
}

#[async_trait]
impl ExternalClient for FakeBackend {
    async fn observe(&self, want: &Desired) -> Result<Observation, ProviderError> {
        self.record(Call::Observe, Operation::Observe)?;
        let s = self.lock();
        Ok(match &s.resource {
            None => Observation::Absent,
            Some(held) => Observation::Present {
                up_to_date: held == want,
                readiness: s
                    .readiness
                    .clone()
                    .unwrap_or_else(|| Readiness::Progressing("the fake is deploying".into())),
                outputs: s.outputs.clone(),
            },
        })
    }

    async fn create(&self, want: &Desired) -> Result<Started, ProviderError> {
        self.record(Call::Create, Operation::Create)?;
        let mut s = self.lock();
        s.resource = Some(want.clone());
        Ok(s.started.clone())
    }

    async fn update(&self, want: &Desired) -> Result<Started, ProviderError> {
        self.record(Call::Update, Operation::Update)?;
        let mut s = self.lock();
        s.resource = Some(want.clone());
        Ok(s.started.clone())
    }

    async fn delete(&self, _object: &ObjectRef) -> Result<Deletion, ProviderError> {
        self.record(Call::Delete, Operation::Delete)?;
        let mut s = self.lock();
        if s.slow_deletes > 0 {
            s.slow_deletes -= 1;
            return Ok(Deletion::InProgress);
        }
        s.resource = None;
        Ok(Deletion::Gone)
    }

    async fn release(&self, _object: &ObjectRef) -> Result<(), ProviderError> {
        self.record(Call::Release, Operation::Release)
    }
}
