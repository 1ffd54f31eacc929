//! The writer: one task that owns every piece of state a write depends on (intent
//! versions, the strategic index, open conflicts, the agreement, the audit chain's head,
//! the event sequence) and applies writes in group commits.
//!
//! Handlers validate a request, then send a [`Command`] through an [`EngineHandle`] and
//! wait. The engine takes up to [`GROUP_COMMIT_COMMANDS_MAX`] queued commands at once and
//! decides each in order against its in-memory state (a stale version is refused; an
//! accepted write is checked against other parties' intents, opens and resolves
//! conflicts, and appends audit entries and events; the costliest geometry arrives
//! computed by the handler, see [`precomputed`]). It chains the batch's audit entries
//! onto the log and hands the batch to the commit stage ([`commit`]), which signs the
//! last of them, writes the whole batch to the store in one transaction, and only then
//! answers each command (refusals too) and
//! publishes its events, while the engine already decides the next batch. A failed commit
//! answers 503 to its batch and to every batch decided on top of it, and the engine
//! reloads its state from the store, so nothing is acknowledged that is not durable.
//!
//! Architecture invariant: only this task writes intents, conflicts, agreements, hotline
//! messages, events and audit entries; everything it acknowledges is durable. New kinds
//! of writes (tracks, alerts) join as new [`Command`] variants or through
//! [`Command::Record`]. The hotline's decisions live in [`hotline`].

mod commit;
mod hotline;
mod precomputed;
mod recheck;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

// The state's maps are keyed by ids: foldhash rather than SipHash, as the strategic index
// (see `deconflict_core::strategic::index`).
use foldhash::{HashMap, HashMapExt as _, HashSet, HashSetExt as _};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc, oneshot};

use deconflict_audit::canonical::CanonicalJson;
use deconflict_audit::{
    AuditChain, AuditEntry, AuditSigner, ChainHead, EntryError, SealedEntry, Visibility,
};
use deconflict_core::geometry::Volume4D;
use deconflict_core::strategic::{IntentsConflict, Separation, StrategicIndex};
use deconflict_store::{
    AgreementAnswer, AgreementRecord, AgreementStatus, AuditRecord, Batch, ConflictRecord,
    EventData, EventRecord, HotlineMessageRecord, IntentRecord, IntentState, JsonDocument,
    Mutation, PartyRecord, Role, Store, StoreError,
};
use deconflict_wire::volume::Volume4DJson;

use crate::clock::{rfc3339_ms, Clock};
use crate::disclosure::{conflict_view_from, ConflictDetails, DetailsHead};
use crate::error::ApiError;
use crate::limits::{GROUP_COMMIT_COMMANDS_MAX, WRITE_QUEUE_MAX};
use crate::terms::{DisclosurePolicy, Terms};

pub use hotline::{can_see as hotline_can_see, About, HotlineSend};
pub use precomputed::{Precomputed, SharedIndex};

type IntentKey = (String, String);
/// A command and when it was queued (for `deconflict_write_queue_seconds`).
type Queued = (std::time::Instant, Command);
/// Sends a command's answer once its batch is committed (`true`) or refused (`false`).
/// `Sync` too, so that the engine, which holds the answers waiting for a re-check, can be
/// borrowed across an await.
type Reply = Box<dyn FnOnce(bool) + Send + Sync>;

/// Intents read per page when the state is loaded from the store.
const LOAD_PAGE_INTENTS_MAX: u32 = 10_000;

/// A validated intent write.
#[derive(Debug, Clone)]
pub struct IntentWrite {
    /// The volumes as the party sent them (kept and returned verbatim): their text for the
    /// store and the answer, and the same text as the audit entry's canonical member, both
    /// written once by the handler that received them (the engine, which seals every
    /// entry in turn, would otherwise write them out again from a `Value`).
    pub volumes_json: JsonDocument,
    pub volumes_canonical: CanonicalJson,
    pub volumes: Vec<Volume4D>,
    pub state: IntentState,
    /// `None` creates; `Some(n)` updates version `n`.
    pub version: Option<i64>,
}

/// The intent after a write and the open conflicts it is in, as records.
#[derive(Debug, Clone)]
pub struct IntentOutcome {
    pub intent: IntentRecord,
    pub conflicts: Vec<ConflictRecord>,
}

/// An event another part of the service records durably through the engine.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub party_id: String,
    pub kind: String,
    pub data: Value,
}

/// An audit entry another part of the service appends through the engine.
#[derive(Debug, Clone)]
pub struct NewAudit {
    pub kind: String,
    pub actor: Option<String>,
    pub visible_to: Visibility,
    pub body: Value,
}

/// One write for the engine. Each carries the channel its answer goes to.
pub enum Command {
    PutIntent {
        caller: Arc<PartyRecord>,
        id: String,
        write: IntentWrite,
        /// The details of its conflicts as the handler found them (see [`precomputed`]).
        precomputed: Precomputed,
        reply: oneshot::Sender<Result<IntentOutcome, ApiError>>,
    },
    DeleteIntent {
        caller: Arc<PartyRecord>,
        id: String,
        version: i64,
        reply: oneshot::Sender<Result<(), ApiError>>,
    },
    AckConflict {
        caller: Arc<PartyRecord>,
        conflict_id: String,
        reply: oneshot::Sender<Result<ConflictRecord, ApiError>>,
    },
    AddParty {
        caller: Arc<PartyRecord>,
        party: PartyRecord,
        reply: oneshot::Sender<Result<(), ApiError>>,
    },
    Propose {
        caller: Arc<PartyRecord>,
        terms: Terms,
        reply: oneshot::Sender<Result<AgreementRecord, ApiError>>,
    },
    Answer {
        caller: Arc<PartyRecord>,
        version: i64,
        accept: bool,
        reply: oneshot::Sender<Result<AgreementRecord, ApiError>>,
    },
    /// Sends a hotline message (a reply from the recipient of `reply_to` also
    /// acknowledges that message).
    SendHotline {
        caller: Arc<PartyRecord>,
        message: HotlineSend,
        reply: oneshot::Sender<Result<HotlineMessageRecord, ApiError>>,
    },
    /// The recipient acknowledges a hotline message (again: answered unchanged).
    AckHotline {
        caller: Arc<PartyRecord>,
        message_id: String,
        reply: oneshot::Sender<Result<HotlineMessageRecord, ApiError>>,
    },
    /// Escalates the unacknowledged, not yet escalated hotline messages whose deadline is
    /// at or before `now_ms`, earliest first and at most
    /// [`HOTLINE_ESCALATIONS_PER_STEP_MAX`](crate::limits::HOTLINE_ESCALATIONS_PER_STEP_MAX)
    /// of them; answers how many (that many: ask again).
    EscalateDue {
        now_ms: i64,
        reply: oneshot::Sender<Result<usize, ApiError>>,
    },
    /// Stores, audits and announces the alert changes of one detection cycle.
    Alerts {
        updates: Vec<crate::live::AlertUpdate>,
        reply: oneshot::Sender<Result<(), ApiError>>,
    },
    /// Durably records events and audit entries decided elsewhere (the seam for tracks,
    /// alerts and the hotline).
    Record {
        events: Vec<NewEvent>,
        audit: Vec<NewAudit>,
        reply: oneshot::Sender<Result<(), ApiError>>,
    },
}

impl Command {
    /// Whether deciding it reads the store (a party, a stored conflict or message), so
    /// that every batch before it must have landed first.
    fn reads_store(&self) -> bool {
        match self {
            Command::PutIntent { .. }
            | Command::DeleteIntent { .. }
            | Command::EscalateDue { .. }
            | Command::Record { .. }
            | Command::Alerts { .. } => false,
            Command::AckConflict { .. }
            | Command::AddParty { .. }
            | Command::Propose { .. }
            | Command::Answer { .. }
            | Command::SendHotline { .. }
            | Command::AckHotline { .. } => true,
        }
    }
}

/// The sending side of the engine's queue; cheap to clone.
#[derive(Clone)]
pub struct EngineHandle {
    sender: mpsc::Sender<Queued>,
}

/// An [`EngineHandle`] that does not keep the engine running (for background tickers).
#[derive(Clone)]
pub struct WeakEngineHandle {
    sender: mpsc::WeakSender<Queued>,
}

impl WeakEngineHandle {
    /// The handle, or `None` once every [`EngineHandle`] is gone and the engine stops.
    pub fn upgrade(&self) -> Option<EngineHandle> {
        self.sender.upgrade().map(|sender| EngineHandle { sender })
    }
}

impl EngineHandle {
    pub fn downgrade(&self) -> WeakEngineHandle {
        WeakEngineHandle {
            sender: self.sender.downgrade(),
        }
    }

    /// Sends a command built around a fresh reply channel and waits for its answer.
    pub async fn call<T>(
        &self,
        build: impl FnOnce(oneshot::Sender<Result<T, ApiError>>) -> Command,
    ) -> Result<T, ApiError> {
        let (reply, answer) = oneshot::channel();
        self.sender
            .send((std::time::Instant::now(), build(reply)))
            .await
            .map_err(|_| ApiError::Unavailable)?;
        answer.await.map_err(|_| ApiError::Unavailable)?
    }
}

/// What handlers read of the agreement without going through the engine.
#[derive(Debug, Clone)]
pub struct AgreementSnapshot {
    pub version: i64,
    pub terms: Arc<Terms>,
}

/// Shared between the engine (writer) and handlers (readers).
pub struct Published {
    pub agreement: RwLock<AgreementSnapshot>,
    pub events: broadcast::Sender<Arc<EventRecord>>,
    /// The seq of the last event sent on `events`. A stream that subscribes and then
    /// starts after this seq misses nothing: an event committed but not yet sent has a
    /// higher seq and still arrives on its subscription (the store's last seq would skip
    /// it).
    pub last_sent_event_seq: std::sync::atomic::AtomicI64,
    /// The writer's strategic index, for handlers to precompute conflict details with.
    pub index: SharedIndex,
}

impl Published {
    pub fn agreement(&self) -> AgreementSnapshot {
        self.agreement
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

#[derive(Debug, Clone, Copy)]
struct IntentMeta {
    version: i64,
    state: IntentState,
    created_ms: i64,
}

/// Everything a write depends on, loaded from the store at start (and after a failed
/// commit).
struct State {
    terms: Terms,
    separation: Separation,
    agreements: Vec<AgreementRecord>,
    intents: HashMap<IntentKey, IntentMeta>,
    /// Shared with handlers ([`Published::index`]); only the writer changes it.
    index: SharedIndex,
    open: HashMap<String, ConflictRecord>,
    open_by_intent: HashMap<IntentKey, BTreeSet<String>>,
    /// The seq of the next audit entry.
    next_audit_seq: u64,
    /// The audit chain's head after the last entry handed to the commit stage: each
    /// batch's entries are chained onto it as they are handed over, and the commit stage
    /// only signs the last of a commit.
    chain_head: ChainHead,
    next_event_seq: i64,
    /// The deadlines of hotline messages not yet acknowledged or escalated.
    hotline: hotline::HotlineDeadlines,
    /// The re-check of every live intent under new terms, while it runs.
    recheck: Option<recheck::Recheck>,
}

/// The batch being assembled: mutations, audit entries to seal, answers to send after
/// the commit, events to publish after it, conflicts resolved in it (still visible to
/// later commands) and the hotline messages written in it, as they stand.
#[derive(Default)]
pub(crate) struct Pending {
    batch: Batch,
    audit: Vec<AuditEntry>,
    replies: Vec<Reply>,
    events: Vec<EventRecord>,
    resolved: HashMap<String, ConflictRecord>,
    hotline: HashMap<String, Arc<HotlineMessageRecord>>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.batch.is_empty() && self.audit.is_empty() && self.replies.is_empty()
    }
}

pub struct Engine {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    signer: AuditSigner,
    published: Arc<Published>,
    rng: StdRng,
    state: State,
    receiver: mpsc::Receiver<Queued>,
    /// Set by the commit stage when a commit fails.
    commit_failed: Arc<AtomicBool>,
    /// Numbers the batches decided since the last reload (see [`commit`]).
    epoch: u64,
    /// Whether batches were handed to the commit stage since it last drained.
    in_flight: bool,
    /// The agreement version last handed to the commit stage to publish.
    published_version: i64,
    /// Parties added in the store whose `party.added` entry is in a batch already.
    parties_auditing: HashSet<String>,
    /// Answers sent when the running re-check is committed whole (see [`recheck`]).
    recheck_waiting: Vec<Reply>,
}

/// Why the engine could not start.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("stored data is unusable: {0}")]
    Corrupt(String),
}

impl Engine {
    /// Loads the state from the store, storing `initial_terms` as agreement version 1 when
    /// the store has no agreement yet. `rng_seed` seeds the random conflict ids and
    /// references (`None`: from the operating system).
    pub async fn start(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        signer: AuditSigner,
        initial_terms: Terms,
        rng_seed: Option<u64>,
    ) -> Result<(EngineHandle, Arc<Published>, Engine), EngineError> {
        let first_agreement = store.agreements().await?.is_empty();
        let unaudited = store.unaudited_parties().await?;
        if first_agreement || !unaudited.is_empty() {
            let now = clock.now_ms();
            let chain_head = load_chain_head(store.as_ref(), &signer).await?;
            let mut chain = AuditChain::new(signer.clone(), chain_head);
            let mut batch = Batch::default();
            let corrupt =
                |error: deconflict_audit::SealError| EngineError::Corrupt(error.to_string());
            if first_agreement {
                let record = AgreementRecord {
                    version: 1,
                    terms: initial_terms.to_value(),
                    proposed_by: None,
                    proposed_ms: now,
                    status: AgreementStatus::InForce,
                    decided_ms: Some(now),
                    answers: Vec::new(),
                };
                let sealed = chain
                    .append(
                        rfc3339_ms(now),
                        "agreement.in_force",
                        None,
                        Visibility::All,
                        json!({"version": 1, "terms": record.terms, "initial": true}),
                    )
                    .map_err(corrupt)?;
                batch.push(Mutation::PutAgreement(record));
                batch.push(Mutation::AppendAudit(audit_record(&sealed)));
            }
            for party in &unaudited {
                let sealed = chain
                    .append(
                        rfc3339_ms(now),
                        "party.added",
                        None,
                        Visibility::parties([party.id.clone()]),
                        party_added_in_store(party),
                    )
                    .map_err(corrupt)?;
                batch.push(Mutation::AppendAudit(audit_record(&sealed)));
                batch.push(Mutation::MarkPartyAudited(party.id.clone()));
            }
            store.apply(batch).await?;
        }
        let index = SharedIndex::default();
        let state = State::load(store.as_ref(), &signer, &index).await?;
        let (events, _) = broadcast::channel(crate::limits::EVENT_BROADCAST_MAX);
        let published = Arc::new(Published {
            agreement: RwLock::new(AgreementSnapshot {
                version: state.in_force_version(),
                terms: Arc::new(state.terms.clone()),
            }),
            events,
            last_sent_event_seq: std::sync::atomic::AtomicI64::new(state.next_event_seq - 1),
            index,
        });
        let (sender, receiver) = mpsc::channel(WRITE_QUEUE_MAX);
        let rng = match rng_seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_os_rng(),
        };
        let published_version = state.in_force_version();
        let engine = Engine {
            store,
            clock,
            signer,
            published: published.clone(),
            rng,
            state,
            receiver,
            commit_failed: Arc::new(AtomicBool::new(false)),
            epoch: 0,
            in_flight: false,
            published_version,
            parties_auditing: HashSet::new(),
            recheck_waiting: Vec::new(),
        };
        metrics::gauge!("deconflict_intents").set(engine.state.intents.len() as f64);
        metrics::gauge!("deconflict_open_conflicts").set(engine.state.open.len() as f64);
        metrics::gauge!("deconflict_hotline_unanswered").set(engine.state.hotline.len() as f64);
        Ok((EngineHandle { sender }, published, engine))
    }
}

fn audit_record(sealed: &SealedEntry) -> AuditRecord {
    AuditRecord {
        seq: sealed.head().seq as i64,
        sealed_json: sealed.to_canonical_json(),
    }
}

async fn load_chain_head(
    store: &dyn Store,
    signer: &AuditSigner,
) -> Result<ChainHead, EngineError> {
    match store.last_audit().await? {
        None => Ok(ChainHead::GENESIS),
        Some(record) => {
            let sealed: SealedEntry =
                serde_json::from_str(&record.sealed_json).map_err(|error| {
                    EngineError::Corrupt(format!("audit entry {}: {error}", record.seq))
                })?;
            sealed.check(&signer.public_key()).map_err(|error| {
                EngineError::Corrupt(format!("audit entry {}: {error}", record.seq))
            })?;
            Ok(sealed.head())
        }
    }
}

/// Parses stored volumes back into core volumes (they were validated when written).
pub fn core_volumes(volumes: &Value) -> Result<Vec<Volume4D>, String> {
    let parsed: Vec<Volume4DJson> =
        serde_json::from_value(volumes.clone()).map_err(|error| error.to_string())?;
    parsed
        .iter()
        .enumerate()
        .map(|(index, volume)| {
            volume
                .to_core(&format!("volumes[{index}]"))
                .map_err(|error| error.to_string())
        })
        .collect()
}

impl State {
    /// Loads the state, putting the intents into `index` (which handlers share) once the
    /// rest has loaded.
    async fn load(
        store: &dyn Store,
        signer: &AuditSigner,
        index: &SharedIndex,
    ) -> Result<State, EngineError> {
        let agreements = store.agreements().await?;
        let in_force = agreements
            .iter()
            .rev()
            .find(|a| a.status == AgreementStatus::InForce)
            .ok_or_else(|| EngineError::Corrupt("no agreement version is in force".into()))?;
        let terms: Terms = serde_json::from_value(in_force.terms.clone()).map_err(|error| {
            EngineError::Corrupt(format!("agreement {} terms: {error}", in_force.version))
        })?;
        let separation = terms.strategic_separation().map_err(EngineError::Corrupt)?;

        let mut intents = HashMap::new();
        let mut live = Vec::new();
        let mut after: Option<(String, String)> = None;
        loop {
            let page = store
                .intents_page(
                    after.as_ref().map(|(p, i)| (p.as_str(), i.as_str())),
                    LOAD_PAGE_INTENTS_MAX,
                )
                .await?;
            let Some(last) = page.last() else { break };
            after = Some((last.party_id.clone(), last.id.clone()));
            for record in page {
                let key = (record.party_id.clone(), record.id.clone());
                if record.state != IntentState::Ended {
                    let volumes = core_volumes(&record.volumes).map_err(|error| {
                        EngineError::Corrupt(format!(
                            "intent {}/{}: {error}",
                            record.party_id, record.id
                        ))
                    })?;
                    live.push((key.0.clone(), key.1.clone(), volumes));
                }
                intents.insert(
                    key,
                    IntentMeta {
                        version: record.version,
                        state: record.state,
                        created_ms: record.created_ms,
                    },
                );
            }
        }
        let loaded = StrategicIndex::bulk_load(live);

        let mut open = HashMap::new();
        let mut open_by_intent: HashMap<IntentKey, BTreeSet<String>> = HashMap::new();
        for conflict in store.open_conflicts().await? {
            for key in [
                (conflict.party_a.clone(), conflict.intent_a.clone()),
                (conflict.party_b.clone(), conflict.intent_b.clone()),
            ] {
                open_by_intent
                    .entry(key)
                    .or_default()
                    .insert(conflict.id.clone());
            }
            open.insert(conflict.id.clone(), conflict);
        }
        let chain_head = load_chain_head(store, signer).await?;
        let next_audit_seq = chain_head.seq + 1;
        let next_event_seq = store.last_event_seq().await? + 1;
        let hotline = hotline::HotlineDeadlines::load(store).await?;
        let recheck = recheck::Recheck::load(store, &loaded).await?;
        // Answers handlers took from the index before cannot be brought up to date.
        index
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .replace_with(loaded);
        Ok(State {
            terms,
            separation,
            agreements,
            intents,
            index: index.clone(),
            open,
            open_by_intent,
            next_audit_seq,
            chain_head,
            next_event_seq,
            hotline,
            recheck,
        })
    }

    /// The strategic index, to read. The writer never asks for it to write while it holds
    /// this (std's lock would deadlock), and handlers only read.
    fn index(&self) -> RwLockReadGuard<'_, StrategicIndex<String, String>> {
        self.index
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The strategic index, to change.
    fn index_mut(&self) -> RwLockWriteGuard<'_, StrategicIndex<String, String>> {
        self.index
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn in_force_version(&self) -> i64 {
        self.agreements
            .iter()
            .rev()
            .find(|a| a.status == AgreementStatus::InForce)
            .map(|a| a.version)
            .unwrap_or(0)
    }
}

/// How often the writer retries reloading its state from a failing store while a
/// re-check waits (otherwise it waits for the next command).
const RECOVERY_RETRY_INTERVAL: std::time::Duration = std::time::Duration::from_millis(200);

/// How long the writer uses its list of observers before reading it again: the store is
/// read at once after the service adds a party, and within this long after `party add`
/// adds one behind its back.
const OBSERVERS_REREAD: std::time::Duration = std::time::Duration::from_secs(1);

/// Who receives an event about the conflict besides its two parties: every observer.
async fn list_observers(store: &dyn Store) -> Vec<Arc<PartyRecord>> {
    match store.parties().await {
        Ok(parties) => parties
            .into_iter()
            .filter(|p| p.role == Role::Observer)
            .map(Arc::new)
            .collect(),
        Err(error) => {
            tracing::warn!(%error, "cannot list observers; conflict events go to the parties only");
            Vec::new()
        }
    }
}

impl Engine {
    /// Runs until every [`EngineHandle`] is dropped, the queue is drained and the last
    /// batch is committed.
    pub async fn run(mut self) {
        let (to_commit, receiver) = mpsc::channel(commit::BATCHES_WAITING_MAX);
        let stage = tokio::spawn(
            commit::CommitStage {
                store: self.store.clone(),
                published: self.published.clone(),
                signer: self.signer.clone(),
                failed: self.commit_failed.clone(),
                receiver,
            }
            .run(),
        );
        let mut commands = Vec::with_capacity(GROUP_COMMIT_COMMANDS_MAX);
        let mut observers = Vec::new();
        let mut observers_read: Option<std::time::Instant> = None;
        loop {
            commands.clear();
            let stepping = self.state.recheck.is_some();
            let received = if stepping && !self.commit_failed.load(Ordering::SeqCst) {
                // A re-check is under way: decide what is queued, without waiting for
                // more, then its next step.
                take_queued(&mut self.receiver, &mut commands)
            } else if stepping {
                // The store is failing: try the reload again now and then, not in a loop.
                tokio::time::timeout(
                    RECOVERY_RETRY_INTERVAL,
                    self.receiver
                        .recv_many(&mut commands, GROUP_COMMIT_COMMANDS_MAX),
                )
                .await
                .unwrap_or(0)
            } else {
                self.receiver
                    .recv_many(&mut commands, GROUP_COMMIT_COMMANDS_MAX)
                    .await
            };
            if received == 0 && (self.state.recheck.is_none() || self.receiver.is_closed()) {
                if let Some(recheck) = &self.state.recheck {
                    // Every step so far is committed: the next start resumes after it.
                    tracing::info!(
                        intents = recheck.remaining(),
                        "stopping with the re-check unfinished; it resumes at the next start"
                    );
                }
                break;
            }
            if self.commit_failed.load(Ordering::SeqCst) {
                self.recover(&to_commit).await;
            }
            let now_ms = self.clock.now_ms();
            let deciding = std::time::Instant::now();
            let mut pending = Pending::default();
            if observers_read
                .is_none_or(|read: std::time::Instant| read.elapsed() >= OBSERVERS_REREAD)
            {
                observers = list_observers(self.store.as_ref()).await;
                self.audit_parties_added_in_store(now_ms, &mut pending)
                    .await;
                observers_read = Some(std::time::Instant::now());
            }
            let mut reads_store = false;
            for (queued, command) in commands.drain(..) {
                // Time in the queue: long when the writer, not the commit, holds writes up.
                metrics::histogram!("deconflict_write_queue_seconds")
                    .record(deciding.saturating_duration_since(queued).as_secs_f64());
                if command.reads_store() {
                    // It reads what earlier batches wrote: let them land first.
                    self.drain(&to_commit).await;
                    reads_store = true;
                }
                self.decide(command, now_ms, &observers, &mut pending).await;
            }
            if received > 0 || !pending.is_empty() {
                metrics::histogram!("deconflict_decide_seconds")
                    .record(deciding.elapsed().as_secs_f64());
                let handing_over = std::time::Instant::now();
                self.hand_over(pending, &to_commit).await;
                // Time the writer waits for the commit stage to take the batch: when it
                // is as long as deciding, the commit stage is the bottleneck.
                metrics::histogram!("deconflict_commit_wait_seconds")
                    .record(handing_over.elapsed().as_secs_f64());
            }
            if reads_store {
                // The next batch may read what this one wrote (a party just added).
                self.drain(&to_commit).await;
                observers_read = None;
            }
            if self.state.recheck.is_some() && !self.commit_failed.load(Ordering::SeqCst) {
                // Its own batch, so that the writes just decided commit without waiting
                // for it.
                let mut step = Pending::default();
                self.recheck_step(now_ms, &observers, &mut step);
                self.hand_over(step, &to_commit).await;
                // Let the handlers queue what arrived meanwhile.
                tokio::task::yield_now().await;
            }
        }
        drop(to_commit);
        if stage.await.is_err() {
            tracing::error!("the commit stage stopped abnormally");
        }
        tracing::info!("writer stopped: every queued write is committed");
    }

    /// Appends the `party.added` entry of each party that `party add` wrote to the store
    /// since the service last looked (it writes behind the service's back, so it cannot
    /// seal onto the chain itself), and marks the party audited in the same batch.
    async fn audit_parties_added_in_store(&mut self, now_ms: i64, pending: &mut Pending) {
        let parties = match self.store.unaudited_parties().await {
            Ok(parties) => parties,
            Err(error) => {
                tracing::warn!(%error, "cannot read the parties added in the store; their audit entries wait");
                return;
            }
        };
        for party in parties {
            // Already in a batch on its way to the store.
            if !self.parties_auditing.insert(party.id.clone()) {
                continue;
            }
            let audited = self.audit(
                pending,
                now_ms,
                "party.added",
                None,
                Visibility::parties([party.id.clone()]),
                party_added_in_store(&party),
            );
            if audited.is_ok() {
                pending.batch.push(Mutation::MarkPartyAudited(party.id));
            }
        }
    }

    /// Hands a decided batch to the commit stage.
    async fn hand_over(&mut self, pending: Pending, to_commit: &mpsc::Sender<commit::ToCommit>) {
        let version = self.state.in_force_version();
        let agreement = (version != self.published_version).then(|| {
            self.published_version = version;
            AgreementSnapshot {
                version,
                terms: Arc::new(self.state.terms.clone()),
            }
        });
        // Hashed here, on top of every batch handed over before, so that the commit stage,
        // which every write waits for in turn, only signs.
        let audit = match deconflict_audit::chain_lines(&self.state.chain_head, pending.audit) {
            Ok(lines) => lines,
            Err(error) => {
                // Only a bug gets here. The batch is refused like one that failed to
                // commit: the state it was decided on is reloaded before the next.
                tracing::error!(%error, "cannot chain an audit entry; refusing its batch");
                for reply in pending.replies {
                    reply(false);
                }
                self.commit_failed.store(true, Ordering::SeqCst);
                return;
            }
        };
        if let Some(last) = audit.last() {
            self.state.chain_head = last.head;
        }
        let decided = commit::Decided {
            handed_over: std::time::Instant::now(),
            batch: pending.batch,
            audit,
            replies: pending.replies,
            events: pending.events,
            agreement,
        };
        if to_commit
            .send(commit::ToCommit::Batch {
                epoch: self.epoch,
                decided,
            })
            .await
            .is_err()
        {
            tracing::error!("the commit stage is gone; the batch is not written");
        }
        self.in_flight = true;
        metrics::gauge!("deconflict_intents").set(self.state.intents.len() as f64);
        metrics::gauge!("deconflict_open_conflicts").set(self.state.open.len() as f64);
        metrics::gauge!("deconflict_hotline_unanswered").set(self.state.hotline.len() as f64);
        metrics::gauge!("deconflict_recheck_intents_remaining").set(
            self.state
                .recheck
                .as_ref()
                .map_or(0, recheck::Recheck::remaining) as f64,
        );
    }

    /// Waits until every batch handed over is committed (or refused).
    async fn drain(&mut self, to_commit: &mpsc::Sender<commit::ToCommit>) {
        if !self.in_flight {
            return;
        }
        let (done, drained) = oneshot::channel();
        if to_commit
            .send(commit::ToCommit::Drained(done))
            .await
            .is_ok()
        {
            let _ = drained.await;
        }
        self.in_flight = false;
    }

    /// After a failed commit: waits for the batches decided on top of it to be refused,
    /// then reloads the state from the store and starts a new epoch.
    async fn recover(&mut self, to_commit: &mpsc::Sender<commit::ToCommit>) {
        self.drain(to_commit).await;
        match State::load(self.store.as_ref(), &self.signer, &self.published.index).await {
            Ok(state) => {
                self.state = state;
                self.published_version = self.published.agreement().version;
                self.epoch += 1;
                // A failed batch may have held some: they are read again as unaudited.
                self.parties_auditing.clear();
                self.commit_failed.store(false, Ordering::SeqCst);
                self.refuse_answers_without_recheck();
            }
            Err(error) => {
                // Still failed: the next batch tries again, and is refused meanwhile.
                tracing::error!(%error, "reloading state after a failed commit failed");
            }
        }
    }

    async fn decide(
        &mut self,
        command: Command,
        now_ms: i64,
        observers: &[Arc<PartyRecord>],
        pending: &mut Pending,
    ) {
        match command {
            Command::PutIntent {
                caller,
                id,
                write,
                precomputed,
                reply,
            } => {
                let outcome =
                    self.put_intent(&caller, id, write, precomputed, now_ms, observers, pending);
                answer_when_committed(pending, reply, outcome)
            }
            Command::DeleteIntent {
                caller,
                id,
                version,
                reply,
            } => {
                let outcome = self.delete_intent(&caller, id, version, now_ms, observers, pending);
                answer_when_committed(pending, reply, outcome)
            }
            Command::AckConflict {
                caller,
                conflict_id,
                reply,
            } => {
                let outcome = self
                    .ack_conflict(&caller, &conflict_id, now_ms, pending)
                    .await;
                answer_when_committed(pending, reply, outcome)
            }
            Command::AddParty {
                caller,
                party,
                reply,
            } => {
                let outcome = self.add_party(&caller, party, now_ms, pending).await;
                answer_when_committed(pending, reply, outcome)
            }
            Command::Propose {
                caller,
                terms,
                reply,
            } => {
                let outcome = self.propose(&caller, terms, now_ms, pending).await;
                self.answer_when_rechecked(pending, reply, outcome)
            }
            Command::Answer {
                caller,
                version,
                accept,
                reply,
            } => {
                let outcome = self.answer(&caller, version, accept, now_ms, pending).await;
                self.answer_when_rechecked(pending, reply, outcome)
            }
            Command::SendHotline {
                caller,
                message,
                reply,
            } => {
                let outcome = self
                    .send_hotline(&caller, message, now_ms, observers, pending)
                    .await;
                answer_when_committed(pending, reply, outcome)
            }
            Command::AckHotline {
                caller,
                message_id,
                reply,
            } => {
                let outcome = self
                    .ack_hotline(&caller, &message_id, now_ms, observers, pending)
                    .await;
                answer_when_committed(pending, reply, outcome)
            }
            Command::EscalateDue {
                now_ms: due_ms,
                reply,
            } => {
                let outcome = self.escalate_due(due_ms, now_ms, observers, pending);
                answer_when_committed(pending, reply, outcome)
            }
            Command::Record {
                events,
                audit,
                reply,
            } => {
                let outcome = self.record(events, audit, now_ms, pending);
                answer_when_committed(pending, reply, outcome)
            }
            Command::Alerts { updates, reply } => {
                let outcome = self.record_alerts(updates, now_ms, observers, pending);
                answer_when_committed(pending, reply, outcome)
            }
        }
    }

    fn audit(
        &mut self,
        pending: &mut Pending,
        now_ms: i64,
        kind: &str,
        actor: Option<&str>,
        visible_to: Visibility,
        body: Value,
    ) -> Result<(), ApiError> {
        let entry = self.next_audit_entry(now_ms, kind, |seq, time| {
            AuditEntry::new(seq, time, kind, actor.map(str::to_owned), visible_to, body)
        })?;
        self.push_audit(pending, entry);
        Ok(())
    }

    /// The next audit entry as `make` builds it from its seq and time, not yet appended.
    pub(super) fn next_audit_entry(
        &self,
        now_ms: i64,
        kind: &str,
        make: impl FnOnce(u64, String) -> Result<AuditEntry, EntryError>,
    ) -> Result<AuditEntry, ApiError> {
        make(self.state.next_audit_seq, rfc3339_ms(now_ms)).map_err(|error| {
            tracing::error!(%error, kind, "cannot make an audit entry");
            ApiError::Internal
        })
    }

    /// Appends `entry`, made by [`Engine::next_audit_entry`] since the last entry appended.
    pub(super) fn push_audit(&mut self, pending: &mut Pending, entry: AuditEntry) {
        self.state.next_audit_seq += 1;
        pending.audit.push(entry);
    }

    fn event(
        &mut self,
        pending: &mut Pending,
        now_ms: i64,
        party_id: &str,
        kind: &str,
        data: impl Into<EventData>,
    ) {
        let record = EventRecord {
            seq: self.state.next_event_seq,
            party_id: party_id.to_owned(),
            kind: kind.to_owned(),
            data: data.into(),
            time_ms: now_ms,
        };
        self.state.next_event_seq += 1;
        pending.batch.push(Mutation::AppendEvent(record.clone()));
        pending.events.push(record);
    }

    fn random_id(&mut self, prefix: &str) -> String {
        let bytes: [u8; 16] = self.rng.random();
        prefixed_hex(prefix, &bytes)
    }

    /// An id for a row the store indexes by id (a conflict, a hotline message or thread):
    /// 12 hex digits of `now_ms`, then 20 random ones, as long as [`Self::random_id`]'s.
    /// Ids made later sort later, so a group commit appends its new rows at the end of the
    /// id indexes (a few pages) instead of on one random page per row. The time it shows
    /// is already in the row (`opened_ms`, `sent_ms`); the random part keeps ids unguessable.
    fn time_ordered_id(&mut self, prefix: &str, now_ms: i64) -> String {
        let random: [u8; 10] = self.rng.random();
        time_ordered_id(prefix, now_ms, random)
    }

    #[allow(clippy::too_many_arguments)]
    fn put_intent(
        &mut self,
        caller: &PartyRecord,
        id: String,
        write: IntentWrite,
        mut precomputed: Precomputed,
        now_ms: i64,
        observers: &[Arc<PartyRecord>],
        pending: &mut Pending,
    ) -> Result<IntentOutcome, ApiError> {
        let key = (caller.id.clone(), id.clone());
        let existing = self.state.intents.get(&key).copied();
        let (version, created_ms) = match (existing, write.version) {
            (None, None) => (1, now_ms),
            (Some(meta), None) => {
                return Err(ApiError::Conflict(format!(
                    "intent {id:?} already exists at version {}; quote \"version\": {} to update it",
                    meta.version, meta.version
                )))
            }
            (None, Some(_)) => return Err(ApiError::not_found("intent", &id)),
            (Some(meta), Some(quoted)) if quoted != meta.version => {
                return Err(ApiError::Conflict(format!(
                    "stale version {quoted} of intent {id:?}: the current version is {}; read it again and retry",
                    meta.version
                )))
            }
            (Some(meta), Some(_)) if meta.state == IntentState::Ended => {
                return Err(ApiError::Conflict(format!(
                    "intent {id:?} has ended and cannot change; file a new intent (or delete this one)"
                )))
            }
            (Some(meta), Some(_)) => (meta.version + 1, meta.created_ms),
        };
        metrics::counter!("deconflict_checked_writes_total").increment(1);

        let found = if write.state == IntentState::Ended {
            self.state.index_mut().remove(&key.0, &key.1);
            Vec::new()
        } else {
            // From the handler's answer when it can be brought up to date (see
            // `StrategicIndex::conflicts_since`): what a query now would find.
            let found = {
                let index = self.state.index();
                let separation = &self.state.separation;
                precomputed
                    .answer(separation)
                    .and_then(|(generation, earlier)| {
                        index.conflicts_since(
                            &key.0,
                            &write.volumes,
                            separation,
                            generation,
                            earlier,
                        )
                    })
                    .unwrap_or_else(|| index.conflicts(&key.0, &write.volumes, separation))
            };
            self.state
                .index_mut()
                .upsert(key.0.clone(), key.1.clone(), write.volumes);
            found
        };
        self.state.intents.insert(
            key.clone(),
            IntentMeta {
                version,
                state: write.state,
                created_ms,
            },
        );

        let record = IntentRecord {
            party_id: caller.id.clone(),
            id: id.clone(),
            version,
            state: write.state,
            volumes: Arc::new(write.volumes_json),
            created_ms,
            updated_ms: now_ms,
        };
        pending.batch.push(Mutation::PutIntent(record.clone()));

        let wanted: HashMap<IntentKey, IntentsConflict> = found
            .into_iter()
            .map(|c| ((c.party, c.intent), c.conflict))
            .collect();
        let reason = if write.state == IntentState::Ended {
            "intent ended"
        } else {
            "intent updated"
        };
        let conflicts = self.reconcile(
            &key,
            wanted,
            &mut precomputed,
            reason,
            now_ms,
            observers,
            pending,
        );
        let conflict_ids: Vec<&str> = conflicts.iter().map(|c| c.id.as_str()).collect();
        let body = json!({
            "intent": id,
            "version": version,
            "state": write.state.as_str(),
            "conflicts": conflict_ids,
        });
        let entry = self.next_audit_entry(now_ms, "intent.put", |seq, time| {
            let visible_to = Visibility::parties([caller.id.clone()]);
            AuditEntry::new(
                seq,
                time,
                "intent.put",
                Some(caller.id.clone()),
                visible_to,
                body,
            )?
            // Moved from the write, its text copied into the entry's line as it is.
            .with_canonical_member("volumes", write.volumes_canonical)
        })?;
        self.push_audit(pending, entry);
        Ok(IntentOutcome {
            intent: record,
            conflicts,
        })
    }

    /// The disclosed details (without references) of the conflicts `key`'s intent has
    /// with each counterpart in `wanted`. Each is oriented as its stored conflict is (this
    /// intent as `a` for a new one). Those in `precomputed` that still hold are taken from
    /// it; the others are computed on this thread (handing them to rayon made its idle
    /// workers spin, which on two cores took more time from the commit stage than the
    /// parallel regions saved: 1,010 against 1,214 writes/s at 100,000 intents).
    fn conflict_details(
        &self,
        key: &IntentKey,
        existing: &[String],
        wanted: &HashMap<IntentKey, IntentsConflict>,
        precomputed: &mut Precomputed,
    ) -> HashMap<IntentKey, ConflictDetails> {
        let index = self.state.index();
        // An intent with conflicts wanted is live, so in the index.
        let volumes = index.get(&key.0, &key.1).unwrap_or_default();
        let mut key_is_a: HashMap<IntentKey, bool> = HashMap::new();
        for conflict_id in existing {
            if let Some(record) = self.state.open.get(conflict_id) {
                let is_a = record.party_a == key.0 && record.intent_a == key.1;
                let counterpart = if is_a {
                    (record.party_b.clone(), record.intent_b.clone())
                } else {
                    (record.party_a.clone(), record.intent_a.clone())
                };
                key_is_a.insert(counterpart, is_a);
            }
        }
        let jobs: Vec<(&IntentKey, bool, &IntentsConflict, &[Volume4D])> = wanted
            .iter()
            .filter_map(|(counterpart, conflict)| {
                let theirs = index.get(&counterpart.0, &counterpart.1)?;
                let is_a = key_is_a.get(counterpart).copied().unwrap_or(true);
                Some((counterpart, is_a, conflict, theirs))
            })
            .collect();
        let separation = self.state.separation;
        let mut details = HashMap::with_capacity(jobs.len());
        for (counterpart, is_a, conflict, theirs) in jobs {
            let computed = if is_a {
                match precomputed.take(counterpart, theirs, conflict, &separation) {
                    Some(computed) => {
                        metrics::counter!("deconflict_conflict_details_total", "by" => "handler")
                            .increment(1);
                        computed
                    }
                    None => {
                        metrics::counter!("deconflict_conflict_details_total", "by" => "writer")
                            .increment(1);
                        ConflictDetails::compute(
                            volumes,
                            theirs,
                            conflict,
                            &separation,
                            String::new(),
                            String::new(),
                        )
                    }
                }
            } else {
                metrics::counter!("deconflict_conflict_details_total", "by" => "writer")
                    .increment(1);
                ConflictDetails::compute(
                    theirs,
                    volumes,
                    &conflict.swapped(),
                    &separation,
                    String::new(),
                    String::new(),
                )
            };
            details.insert(counterpart.clone(), computed);
        }
        details
    }

    /// Brings the open conflicts of intent `key` (its volumes as the index holds them) to
    /// exactly `wanted` (counterpart key → how they conflict, pairs oriented (key,
    /// counterpart)): resolves the others, opens the new ones, refreshes the kept ones.
    /// Returns the open conflicts of the intent afterwards.
    #[allow(clippy::too_many_arguments)]
    fn reconcile(
        &mut self,
        key: &IntentKey,
        mut wanted: HashMap<IntentKey, IntentsConflict>,
        precomputed: &mut Precomputed,
        reason: &str,
        now_ms: i64,
        observers: &[Arc<PartyRecord>],
        pending: &mut Pending,
    ) -> Vec<ConflictRecord> {
        let existing: Vec<String> = self
            .state
            .open_by_intent
            .get(key)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        let mut computed = self.conflict_details(key, &existing, &wanted, precomputed);
        let mut result = Vec::new();
        for conflict_id in existing {
            let Some(record) = self.state.open.get(&conflict_id).cloned() else {
                continue;
            };
            let key_is_a = record.party_a == key.0 && record.intent_a == key.1;
            let counterpart = if key_is_a {
                (record.party_b.clone(), record.intent_b.clone())
            } else {
                (record.party_a.clone(), record.intent_a.clone())
            };
            match wanted.remove(&counterpart) {
                Some(_) => {
                    // Computed for every counterpart still in the index.
                    let Some(mut details) = computed.remove(&counterpart) else {
                        continue;
                    };
                    let (reference_a, reference_b) =
                        match ConflictDetails::references_of(&record.details) {
                            Some(references) => references,
                            None => (self.random_id("ref_"), self.random_id("ref_")),
                        };
                    details.reference_a = reference_a;
                    details.reference_b = reference_b;
                    // Compared as text, as stored (both written by serde_json from the
                    // same members): decoding the stored details (their regions most of
                    // all) to compare them as Rust values cost more.
                    let details = details.to_document();
                    let mut updated = record;
                    if updated.details.text() != details.text() {
                        updated.details = Arc::new(details);
                        updated.updated_ms = now_ms;
                        self.state.open.insert(conflict_id.clone(), updated.clone());
                        pending.batch.push(Mutation::PutConflict(updated.clone()));
                        self.notify_conflict(
                            &updated,
                            "conflict.updated",
                            now_ms,
                            observers,
                            pending,
                        );
                    }
                    result.push(updated);
                }
                None => self.resolve(&conflict_id, reason, now_ms, observers, pending),
            }
        }
        let mut new: Vec<(IntentKey, IntentsConflict)> = wanted.into_iter().collect();
        new.sort_by(|a, b| a.0.cmp(&b.0));
        for (counterpart, _) in new {
            // Computed for every counterpart still in the index.
            let Some(mut details) = computed.remove(&counterpart) else {
                continue;
            };
            details.reference_a = self.random_id("ref_");
            details.reference_b = self.random_id("ref_");
            // The overlaps are written once: for the stored details, the audit entry and
            // the views.
            let (document, overlaps) = details.to_document_with_overlaps();
            let record = ConflictRecord {
                id: self.time_ordered_id("cf_", now_ms),
                party_a: key.0.clone(),
                intent_a: key.1.clone(),
                party_b: counterpart.0.clone(),
                intent_b: counterpart.1.clone(),
                opened_ms: now_ms,
                updated_ms: now_ms,
                resolved_ms: None,
                acked_a_ms: None,
                acked_b_ms: None,
                details: Arc::new(document),
            };
            self.state
                .open_by_intent
                .entry(key.clone())
                .or_default()
                .insert(record.id.clone());
            self.state
                .open_by_intent
                .entry(counterpart)
                .or_default()
                .insert(record.id.clone());
            self.state.open.insert(record.id.clone(), record.clone());
            pending.batch.push(Mutation::PutConflict(record.clone()));
            metrics::counter!("deconflict_conflicts_opened_total").increment(1);
            // Their text is canonical (the overlaps' members are in key order), which
            // sealing copies as it is.
            let opened = CanonicalJson::of_sorted(&*overlaps)
                .map_err(|_| ApiError::Internal)
                .and_then(|overlaps| {
                    let body =
                        json!({"conflict": record.id, "parties": [record.party_a, record.party_b]});
                    let visible_to =
                        Visibility::parties([record.party_a.clone(), record.party_b.clone()]);
                    self.next_audit_entry(now_ms, "conflict.opened", |seq, time| {
                        AuditEntry::new(seq, time, "conflict.opened", None, visible_to, body)?
                            .with_canonical_member("overlaps", overlaps)
                    })
                });
            match opened {
                Ok(entry) => self.push_audit(pending, entry),
                Err(error) => tracing::error!(%error, "conflict audit entry not sealed"),
            }
            let head = DetailsHead::written(&details, &overlaps);
            self.notify_conflict_with(
                &record,
                &head,
                "conflict.opened",
                now_ms,
                observers,
                pending,
            );
            let text = self.conflict_thread_text(&record.id);
            self.open_thread(
                json!({"conflict": record.id}),
                [&record.party_a, &record.party_b],
                &text,
                now_ms,
                observers,
                pending,
            );
            result.push(record);
        }
        result.sort_by(|a, b| a.id.cmp(&b.id));
        result
    }

    fn resolve(
        &mut self,
        conflict_id: &str,
        reason: &str,
        now_ms: i64,
        observers: &[Arc<PartyRecord>],
        pending: &mut Pending,
    ) {
        let Some(mut record) = self.state.open.remove(conflict_id) else {
            return;
        };
        for key in [
            (record.party_a.clone(), record.intent_a.clone()),
            (record.party_b.clone(), record.intent_b.clone()),
        ] {
            if let Some(set) = self.state.open_by_intent.get_mut(&key) {
                set.remove(conflict_id);
                if set.is_empty() {
                    self.state.open_by_intent.remove(&key);
                }
            }
        }
        record.resolved_ms = Some(now_ms);
        record.updated_ms = now_ms;
        pending.batch.push(Mutation::PutConflict(record.clone()));
        metrics::counter!("deconflict_conflicts_resolved_total").increment(1);
        let data = EventData::new(
            &json!({"id": record.id, "resolved_at": rfc3339_ms(now_ms), "reason": reason}),
        );
        for party in [record.party_a.clone(), record.party_b.clone()] {
            self.event(pending, now_ms, &party, "conflict.resolved", data.clone());
        }
        for observer in observers {
            self.event(
                pending,
                now_ms,
                &observer.id,
                "conflict.resolved",
                data.clone(),
            );
        }
        if let Err(error) = self.audit(
            pending,
            now_ms,
            "conflict.resolved",
            None,
            Visibility::parties([record.party_a.clone(), record.party_b.clone()]),
            json!({"conflict": record.id, "reason": reason}),
        ) {
            tracing::error!(%error, "conflict audit entry not sealed");
        }
        pending.resolved.insert(record.id.clone(), record);
    }

    /// Sends each party of the conflict, and every observer, its view of it.
    fn notify_conflict(
        &mut self,
        record: &ConflictRecord,
        kind: &str,
        now_ms: i64,
        observers: &[Arc<PartyRecord>],
        pending: &mut Pending,
    ) {
        // Unreadable details give no view (and no event), as for any viewer.
        let Some(details) = DetailsHead::of(record) else {
            return;
        };
        self.notify_conflict_with(record, &details, kind, now_ms, observers, pending);
    }

    /// [`Engine::notify_conflict`], with the head of the record's details already read.
    fn notify_conflict_with(
        &mut self,
        record: &ConflictRecord,
        details: &DetailsHead<'_>,
        kind: &str,
        now_ms: i64,
        observers: &[Arc<PartyRecord>],
        pending: &mut Pending,
    ) {
        let policy = self.state.terms.disclosure;
        for (viewer_id, counterpart) in [
            (&record.party_a, (&record.party_b, &record.intent_b)),
            (&record.party_b, (&record.party_a, &record.intent_a)),
        ] {
            let viewer = party_viewer(viewer_id);
            let counterpart_intent = self.counterpart_intent(policy, counterpart.0, counterpart.1);
            let view = conflict_view_from(
                details,
                record,
                &viewer,
                policy,
                counterpart_intent.as_ref(),
            );
            if let Some(data) = view.as_ref().and_then(EventData::of) {
                self.event(pending, now_ms, viewer_id, kind, data);
            }
        }
        for observer in observers {
            let view = conflict_view_from(details, record, observer, policy, None);
            if let Some(data) = view.as_ref().and_then(EventData::of) {
                self.event(pending, now_ms, &observer.id, kind, data);
            }
        }
    }

    /// The counterpart's intent rebuilt from memory, only when the policy discloses it.
    fn counterpart_intent(
        &self,
        policy: DisclosurePolicy,
        party_id: &str,
        intent_id: &str,
    ) -> Option<IntentRecord> {
        if policy == DisclosurePolicy::Minimal {
            return None;
        }
        let key = (party_id.to_owned(), intent_id.to_owned());
        let meta = self.state.intents.get(&key)?;
        let index = self.state.index();
        let volumes = index.get(&key.0, &key.1)?;
        let volumes_json: Vec<Value> = volumes
            .iter()
            .map(|volume| {
                serde_json::to_value(Volume4DJson::from_core(volume)).unwrap_or(Value::Null)
            })
            .collect();
        Some(IntentRecord {
            party_id: key.0,
            id: key.1,
            version: meta.version,
            state: meta.state,
            volumes: JsonDocument::shared(Value::Array(volumes_json)),
            created_ms: meta.created_ms,
            updated_ms: meta.created_ms,
        })
    }

    fn delete_intent(
        &mut self,
        caller: &PartyRecord,
        id: String,
        version: i64,
        now_ms: i64,
        observers: &[Arc<PartyRecord>],
        pending: &mut Pending,
    ) -> Result<(), ApiError> {
        let key = (caller.id.clone(), id.clone());
        let Some(meta) = self.state.intents.get(&key).copied() else {
            return Err(ApiError::not_found("intent", &id));
        };
        if meta.version != version {
            return Err(ApiError::Conflict(format!(
                "stale version {version} of intent {id:?}: the current version is {}; read it again and retry",
                meta.version
            )));
        }
        self.state.intents.remove(&key);
        self.state.index_mut().remove(&key.0, &key.1);
        let open: Vec<String> = self
            .state
            .open_by_intent
            .get(&key)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        for conflict_id in open {
            self.resolve(&conflict_id, "intent deleted", now_ms, observers, pending);
        }
        pending.batch.push(Mutation::DeleteIntent {
            party_id: key.0.clone(),
            id: key.1.clone(),
        });
        metrics::counter!("deconflict_checked_writes_total").increment(1);
        self.audit(
            pending,
            now_ms,
            "intent.deleted",
            Some(&caller.id),
            Visibility::parties([caller.id.clone()]),
            json!({"intent": id, "version": version}),
        )
    }

    async fn ack_conflict(
        &mut self,
        caller: &PartyRecord,
        conflict_id: &str,
        now_ms: i64,
        pending: &mut Pending,
    ) -> Result<ConflictRecord, ApiError> {
        let record = match self
            .state
            .open
            .get(conflict_id)
            .or_else(|| pending.resolved.get(conflict_id))
        {
            Some(record) => record.clone(),
            None => self
                .store
                .conflict(conflict_id)
                .await?
                .ok_or_else(|| ApiError::not_found("conflict", conflict_id))?,
        };
        if caller.role != Role::Party || !record.involves(&caller.id) {
            return Err(ApiError::not_found("conflict", conflict_id));
        }
        let mut updated = record;
        let slot = if updated.party_a == caller.id {
            &mut updated.acked_a_ms
        } else {
            &mut updated.acked_b_ms
        };
        if slot.is_some() {
            // Acknowledging twice changes nothing and records nothing.
            return Ok(updated);
        }
        *slot = Some(now_ms);
        updated.updated_ms = now_ms;
        if updated.resolved_ms.is_none() {
            self.state.open.insert(updated.id.clone(), updated.clone());
        } else if pending.resolved.contains_key(&updated.id) {
            pending.resolved.insert(updated.id.clone(), updated.clone());
        }
        pending.batch.push(Mutation::PutConflict(updated.clone()));
        let counterpart = if updated.party_a == caller.id {
            updated.party_b.clone()
        } else {
            updated.party_a.clone()
        };
        self.event(
            pending,
            now_ms,
            &counterpart,
            "conflict.acknowledged",
            json!({"id": updated.id, "acknowledged_at": rfc3339_ms(now_ms)}),
        );
        self.audit(
            pending,
            now_ms,
            "conflict.acknowledged",
            Some(&caller.id),
            Visibility::parties([updated.party_a.clone(), updated.party_b.clone()]),
            json!({"conflict": updated.id, "by": caller.id}),
        )?;
        Ok(updated)
    }

    async fn add_party(
        &mut self,
        caller: &PartyRecord,
        party: PartyRecord,
        now_ms: i64,
        pending: &mut Pending,
    ) -> Result<(), ApiError> {
        let taken_in_batch = pending
            .batch
            .mutations
            .iter()
            .any(|m| matches!(m, Mutation::InsertParty(p) if p.id == party.id));
        if taken_in_batch || self.store.party(&party.id).await?.is_some() {
            return Err(ApiError::Conflict(format!(
                "party {:?} already exists; choose another id",
                party.id
            )));
        }
        self.audit(
            pending,
            now_ms,
            "party.added",
            Some(&caller.id),
            Visibility::parties([party.id.clone()]),
            json!({"party": party.id, "name": party.name, "role": party.role.as_str()}),
        )?;
        pending.batch.push(Mutation::InsertParty(party));
        Ok(())
    }

    fn agreement_event(
        &mut self,
        pending: &mut Pending,
        now_ms: i64,
        kind: &str,
        record: &AgreementRecord,
        recipients: &[PartyRecord],
    ) {
        let data = agreement_json(record);
        for party in recipients {
            self.event(pending, now_ms, &party.id, kind, data.clone());
        }
    }

    async fn propose(
        &mut self,
        caller: &PartyRecord,
        terms: Terms,
        now_ms: i64,
        pending: &mut Pending,
    ) -> Result<AgreementRecord, ApiError> {
        if caller.role != Role::Party {
            return Err(ApiError::Forbidden(
                "only parties propose terms; observers and admins read them".into(),
            ));
        }
        let version = self
            .state
            .agreements
            .iter()
            .map(|a| a.version)
            .max()
            .unwrap_or(0)
            + 1;
        let record = AgreementRecord {
            version,
            terms: terms.to_value(),
            proposed_by: Some(caller.id.clone()),
            proposed_ms: now_ms,
            status: AgreementStatus::Pending,
            decided_ms: None,
            answers: vec![AgreementAnswer {
                party_id: caller.id.clone(),
                accepted: true,
                answered_ms: now_ms,
            }],
        };
        pending.batch.push(Mutation::PutAgreement(record.clone()));
        pending.batch.push(Mutation::PutAgreementAnswer {
            version,
            answer: record.answers[0].clone(),
        });
        self.state.agreements.push(record.clone());
        let everyone = self.store.parties().await?;
        self.agreement_event(pending, now_ms, "agreement.proposed", &record, &everyone);
        self.audit(
            pending,
            now_ms,
            "agreement.proposed",
            Some(&caller.id),
            Visibility::All,
            json!({"version": version, "terms": record.terms}),
        )?;
        self.settle(version, now_ms, &everyone, pending)
    }

    async fn answer(
        &mut self,
        caller: &PartyRecord,
        version: i64,
        accept: bool,
        now_ms: i64,
        pending: &mut Pending,
    ) -> Result<AgreementRecord, ApiError> {
        if caller.role != Role::Party {
            return Err(ApiError::Forbidden("only parties answer proposals".into()));
        }
        let Some(position) = self
            .state
            .agreements
            .iter()
            .position(|a| a.version == version)
        else {
            return Err(ApiError::not_found("proposal", &version.to_string()));
        };
        let record = &mut self.state.agreements[position];
        if record.status != AgreementStatus::Pending {
            return Err(ApiError::Conflict(format!(
                "proposal {version} is {} and can no longer be answered",
                record.status
            )));
        }
        let answer = AgreementAnswer {
            party_id: caller.id.clone(),
            accepted: accept,
            answered_ms: now_ms,
        };
        record.answers.retain(|a| a.party_id != caller.id);
        record.answers.push(answer.clone());
        pending
            .batch
            .push(Mutation::PutAgreementAnswer { version, answer });
        self.audit(
            pending,
            now_ms,
            if accept {
                "agreement.accepted"
            } else {
                "agreement.rejected"
            },
            Some(&caller.id),
            Visibility::All,
            json!({"version": version}),
        )?;
        let everyone = self.store.parties().await?;
        self.settle(version, now_ms, &everyone, pending)
    }

    /// Decides a pending proposal once its answers allow: rejected when any party
    /// rejected it, in force when every party (role `party`) accepted it.
    fn settle(
        &mut self,
        version: i64,
        now_ms: i64,
        everyone: &[PartyRecord],
        pending: &mut Pending,
    ) -> Result<AgreementRecord, ApiError> {
        let position = self
            .state
            .agreements
            .iter()
            .position(|a| a.version == version)
            .ok_or(ApiError::Internal)?;
        let record = self.state.agreements[position].clone();
        let rejected = record.answers.iter().any(|a| !a.accepted);
        let all_accepted = everyone.iter().filter(|p| p.role == Role::Party).all(|p| {
            record
                .answers
                .iter()
                .any(|a| a.party_id == p.id && a.accepted)
        });
        if rejected {
            let record = &mut self.state.agreements[position];
            record.status = AgreementStatus::Rejected;
            record.decided_ms = Some(now_ms);
            let record = record.clone();
            pending.batch.push(Mutation::PutAgreement(record.clone()));
            self.agreement_event(pending, now_ms, "agreement.rejected", &record, everyone);
            return Ok(record);
        }
        if !all_accepted {
            return Ok(record);
        }
        let terms: Terms = serde_json::from_value(record.terms.clone()).map_err(|error| {
            tracing::error!(%error, version, "stored proposal terms unreadable");
            ApiError::Internal
        })?;
        let separation = terms
            .strategic_separation()
            .map_err(ApiError::Unprocessable)?;
        for other in &mut self.state.agreements {
            if other.status == AgreementStatus::InForce {
                other.status = AgreementStatus::Superseded;
                other.decided_ms = Some(now_ms);
                pending.batch.push(Mutation::PutAgreement(other.clone()));
            }
        }
        let record = &mut self.state.agreements[position];
        record.status = AgreementStatus::InForce;
        record.decided_ms = Some(now_ms);
        let record = record.clone();
        pending.batch.push(Mutation::PutAgreement(record.clone()));
        self.state.terms = terms;
        self.state.separation = separation;
        self.agreement_event(pending, now_ms, "agreement.in_force", &record, everyone);
        self.audit(
            pending,
            now_ms,
            "agreement.in_force",
            None,
            Visibility::All,
            json!({"version": version, "terms": record.terms}),
        )?;
        self.start_recheck(version, pending);
        Ok(record)
    }

    /// Each alert change: the row, an audit entry both parties read, and its event to
    /// both parties (each with its own view) and to every observer.
    fn record_alerts(
        &mut self,
        updates: Vec<crate::live::AlertUpdate>,
        now_ms: i64,
        observers: &[Arc<PartyRecord>],
        pending: &mut Pending,
    ) -> Result<(), ApiError> {
        for update in updates {
            let record = update.record;
            self.audit(
                pending,
                now_ms,
                update.kind,
                None,
                Visibility::parties([record.party_a.clone(), record.party_b.clone()]),
                crate::live::alert_audit_body(&record),
            )?;
            for party_id in [&record.party_a, &record.party_b] {
                let viewer = party_viewer(party_id);
                if let Some(view) = crate::live::alert_view(&record, &viewer) {
                    self.event(pending, now_ms, party_id, update.kind, view);
                }
            }
            for observer in observers {
                if let Some(view) = crate::live::alert_view(&record, observer) {
                    self.event(pending, now_ms, &observer.id, update.kind, view);
                }
            }
            if update.reaches_warning {
                // Both parties and the observers read the thread: it names no aircraft.
                let text = format!(
                    "Tactical alert {} reached warning: one of your aircraft and another party's \
                     are predicted to lose separation within {:.0} s. Acknowledge, and call on \
                     the agreed frequency.",
                    record.id, self.state.terms.tactical.warning_s
                );
                self.open_thread(
                    json!({"alert": record.id}),
                    [&record.party_a, &record.party_b],
                    &text,
                    now_ms,
                    observers,
                    pending,
                );
            }
            pending.batch.push(Mutation::PutAlert(record));
        }
        Ok(())
    }

    fn record(
        &mut self,
        events: Vec<NewEvent>,
        audit: Vec<NewAudit>,
        now_ms: i64,
        pending: &mut Pending,
    ) -> Result<(), ApiError> {
        for entry in audit {
            self.audit(
                pending,
                now_ms,
                &entry.kind,
                entry.actor.as_deref(),
                entry.visible_to,
                entry.body,
            )?;
        }
        for event in events {
            self.event(pending, now_ms, &event.party_id, &event.kind, event.data);
        }
        Ok(())
    }
}

/// `prefix` and then `bytes` in lower-case hex, written into one string (ids are made
/// several times for every write that opens a conflict).
fn prefixed_hex(prefix: &str, bytes: &[u8; 16]) -> String {
    let mut digits = [0u8; 32];
    // The buffer is exactly twice the bytes, so encoding cannot fail.
    let digits = match hex::encode_to_slice(bytes, &mut digits) {
        Ok(()) => std::str::from_utf8(&digits).unwrap_or_default(),
        Err(_) => "",
    };
    let mut id = String::with_capacity(prefix.len() + digits.len());
    id.push_str(prefix);
    id.push_str(digits);
    id
}

/// An id that sorts by time: `prefix`, the time's milliseconds (48 bits) in 12 hex
/// digits, then `random` in hex.
fn time_ordered_id(prefix: &str, now_ms: i64, random: [u8; 10]) -> String {
    let millis = u64::try_from(now_ms).unwrap_or(0) & 0xffff_ffff_ffff;
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    bytes[6..].copy_from_slice(&random);
    prefixed_hex(prefix, &bytes)
}

/// The body of the `party.added` entry of a party added directly in the store (by
/// `party add`), which the service appends when it first reads the party. Its actor is
/// none: whoever ran the command is not known to the service.
fn party_added_in_store(party: &PartyRecord) -> Value {
    json!({
        "party": party.id,
        "name": party.name,
        "role": party.role.as_str(),
        "added_at": rfc3339_ms(party.created_ms),
        "added_through": "store",
    })
}

/// A party as a viewer of what is disclosed to it (only its id and role matter).
fn party_viewer(id: &str) -> PartyRecord {
    PartyRecord {
        id: id.to_owned(),
        name: String::new(),
        role: Role::Party,
        token_sha256: String::new(),
        created_ms: 0,
    }
}

/// Moves the commands queued now (at most a group commit's) into `commands` without
/// waiting; returns how many there are.
fn take_queued(receiver: &mut mpsc::Receiver<Queued>, commands: &mut Vec<Queued>) -> usize {
    while commands.len() < GROUP_COMMIT_COMMANDS_MAX {
        match receiver.try_recv() {
            Ok(command) => commands.push(command),
            Err(_) => break,
        }
    }
    commands.len()
}

/// Answers a command once the batch holding it has committed: a refusal too, since it
/// was judged against writes of earlier batches that might still fail (then it is
/// answered 503 like the rest).
fn answer_when_committed<T: Send + Sync + 'static>(
    pending: &mut Pending,
    reply: oneshot::Sender<Result<T, ApiError>>,
    outcome: Result<T, ApiError>,
) {
    pending.replies.push(answer_once_committed(reply, outcome));
}

/// The [`Reply`] that sends `outcome` if its batch commits, 503 if it is refused.
fn answer_once_committed<T: Send + Sync + 'static>(
    reply: oneshot::Sender<Result<T, ApiError>>,
    outcome: Result<T, ApiError>,
) -> Reply {
    Box::new(move |committed| {
        let _ = reply.send(if committed {
            outcome
        } else {
            Err(ApiError::Unavailable)
        });
    })
}

/// The JSON of an agreement version, as `GET /v1/agreement` and its events show it.
pub fn agreement_json(record: &AgreementRecord) -> Value {
    json!({
        "version": record.version,
        "status": record.status.as_str(),
        "terms": record.terms,
        "proposed_by": record.proposed_by,
        "proposed_at": rfc3339_ms(record.proposed_ms),
        "decided_at": record.decided_ms.map(rfc3339_ms),
        "answers": record.answers.iter().map(|a| json!({
            "party": a.party_id,
            "accepted": a.accepted,
            "answered_at": rfc3339_ms(a.answered_ms),
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ids are the prefix and the hex of their bytes, the time's first so that they sort
    /// by time (as they were written with `format!`).
    #[test]
    fn ids_are_the_prefix_then_lower_case_hex_with_the_time_first() {
        let random = [0x00, 0x01, 0x7f, 0x80, 0xab, 0xcd, 0xef, 0xff, 0x10, 0x9a];
        for now_ms in [
            0,
            1,
            1_445_299_200_123,
            0xffff_ffff_ffff,
            0x1_0000_0000_0001,
            -5,
        ] {
            let millis = u64::try_from(now_ms).unwrap_or(0) & 0xffff_ffff_ffff;
            assert_eq!(
                time_ordered_id("cf_", now_ms, random),
                format!("cf_{millis:012x}{}", hex::encode(random))
            );
        }
        let mut bytes = [0u8; 16];
        bytes[..4].copy_from_slice(&[0xde, 0xad, 0x00, 0x0f]);
        assert_eq!(
            prefixed_hex("ref_", &bytes),
            "ref_dead000f000000000000000000000000"
        );
        let earlier = time_ordered_id("msg-", 1_445_299_200_999, [0xff; 10]);
        let later = time_ordered_id("msg-", 1_445_299_201_000, [0x00; 10]);
        assert!(earlier < later);
    }
}
