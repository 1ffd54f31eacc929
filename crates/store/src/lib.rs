//! Durable storage behind one trait, with two real backends: SQLite (embedded, the
//! default) and PostgreSQL (several instances: one active, the others standing by; see
//! [`ServiceClaim`]).
//!
//! The store knows rows, not rules: the server decides what to write (version checks,
//! conflict detection, disclosure) and hands the store one [`Batch`] of [`Mutation`]s per
//! group commit. [`Store::apply`] writes a whole batch in one transaction and returns only
//! once it is durable, so the server can acknowledge every write in the batch after it.
//!
//! Architecture invariant: both backends run the same SQL text (portable between SQLite
//! and PostgreSQL, `$n` placeholders) and pass the same test suite
//! (`tests/store_suite.rs`). Migrations are embedded, one set per backend, and only grow.

mod backend;
mod claim;
mod model;
mod sqlite_memory;
mod sqlite_writer;
mod wal_buffer;

pub use backend::{
    open_postgres, open_postgres_in_schema, open_sqlite, PostgresStore, SqliteStore,
    ROWS_PRUNED_PER_STATEMENT,
};
pub use claim::ServiceClaim;
pub use model::{
    AgreementAnswer, AgreementRecord, AgreementStatus, AlertRecord, AuditRecord, Batch,
    ConflictRecord, EventData, EventRecord, HotlineMessageRecord, IntentRecord, IntentState,
    JsonDocument, Mutation, PartyRecord, RecheckRecord, Role, TrackSampleRecord, UnknownName,
};

use async_trait::async_trait;

/// Milliseconds since the Unix epoch, UTC: the one time unit the store keeps.
pub type UnixMillis = i64;

/// Where a page of a list ordered by a time and then an id ends: the time (Unix ms) and
/// id of its last item. The next page starts after it.
pub type ListCursor<'a> = (UnixMillis, &'a str);

/// Why a store operation failed. Every variant is a problem of the environment (the
/// database), never of a client's input: the server maps them all to 503 and logs them.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("a stored row is unreadable ({what}): {detail}")]
    Corrupt { what: &'static str, detail: String },
    #[error("cannot open the store: {0}")]
    Open(String),
    #[error("database write failed: {0}")]
    Write(String),
}

/// Durable state of the service. Every method is one round trip (or one transaction) to
/// the database; no method caches.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Which backend this is, for logs and metrics (`"sqlite"` or `"postgres"`).
    fn backend(&self) -> &'static str;

    /// Writes every mutation of `batch` in one transaction, durable when this returns
    /// `Ok`. Later mutations of the same row win over earlier ones in the same batch.
    async fn apply(&self, batch: Batch) -> Result<(), StoreError>;

    /// Claims the store for this process's service, or `None` when another process's
    /// service holds it. Only one service may write a store at a time (see
    /// [`ServiceClaim`]); the claim lasts until it is dropped or the process ends.
    async fn try_claim_service(&self) -> Result<Option<ServiceClaim>, StoreError>;

    async fn party(&self, id: &str) -> Result<Option<PartyRecord>, StoreError>;
    async fn party_by_token_sha256(
        &self,
        token_sha256_hex: &str,
    ) -> Result<Option<PartyRecord>, StoreError>;
    /// All parties, ordered by id.
    async fn parties(&self) -> Result<Vec<PartyRecord>, StoreError>;
    /// Adds one party outside any group commit (the `party add` command); fails when the
    /// id or the token hash is taken. The party is not audited yet: the service appends
    /// its `party.added` entry (and [`Mutation::MarkPartyAudited`]) when it next reads
    /// [`Store::unaudited_parties`].
    async fn insert_party(&self, party: &PartyRecord) -> Result<(), StoreError>;
    /// Parties added by [`Store::insert_party`] whose `party.added` entry is not in the
    /// audit log yet, oldest first.
    async fn unaudited_parties(&self) -> Result<Vec<PartyRecord>, StoreError>;

    async fn intent(&self, party_id: &str, id: &str) -> Result<Option<IntentRecord>, StoreError>;
    /// The party's intents, ordered by id, at most `limit` of them after `after_id`.
    async fn intents_of(
        &self,
        party_id: &str,
        after_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<IntentRecord>, StoreError>;
    /// Every intent of every party, ordered by (party, id), one page after `after`; used
    /// to rebuild the in-memory index at start.
    async fn intents_page(
        &self,
        after: Option<(&str, &str)>,
        limit: u32,
    ) -> Result<Vec<IntentRecord>, StoreError>;
    async fn intent_count(&self) -> Result<u64, StoreError>;

    async fn conflict(&self, id: &str) -> Result<Option<ConflictRecord>, StoreError>;
    /// Conflicts involving `party_id` (either side; every party's when `None`, which is
    /// what observers read), newest first (by opening time, then id): at most `limit` of
    /// them, after `after` (the opening time and id of the last conflict of the previous
    /// page) when given.
    async fn conflicts(
        &self,
        party_id: Option<&str>,
        include_resolved: bool,
        after: Option<ListCursor<'_>>,
        limit: u32,
    ) -> Result<Vec<ConflictRecord>, StoreError>;
    /// Every conflict not yet resolved (to rebuild the in-memory state at start).
    async fn open_conflicts(&self) -> Result<Vec<ConflictRecord>, StoreError>;

    /// Alerts not yet cleared (to settle them at start).
    async fn active_alerts(&self) -> Result<Vec<AlertRecord>, StoreError>;
    /// Alerts involving the party (either side), newest first, cleared ones included.
    async fn alerts_of(&self, party_id: &str, limit: u32) -> Result<Vec<AlertRecord>, StoreError>;

    /// Appends sampled track points in one transaction (a point already stored for the
    /// same aircraft and time is kept as it is).
    async fn append_track_samples(&self, samples: &[TrackSampleRecord]) -> Result<(), StoreError>;
    /// One aircraft's sampled points at or after `since_ms`, oldest first.
    async fn track_history(
        &self,
        party_id: &str,
        aircraft_id: &str,
        since_ms: UnixMillis,
        limit: u32,
    ) -> Result<Vec<TrackSampleRecord>, StoreError>;
    /// Deletes sampled points older than `before_ms`, at most
    /// [`ROWS_PRUNED_PER_STATEMENT`] per statement; returns how many went.
    async fn prune_track_samples(&self, before_ms: UnixMillis) -> Result<u64, StoreError>;

    /// The party's events with a sequence number above `after_seq`, ascending.
    async fn events_after(
        &self,
        party_id: &str,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<EventRecord>, StoreError>;
    /// The highest event sequence number ever stored (0 when none).
    async fn last_event_seq(&self) -> Result<i64, StoreError>;
    /// Deletes events older than `before_ms` from the oldest in sequence order, up to the
    /// first one that is not (so an event stamped out of time order keeps those after it
    /// a little longer), at most [`ROWS_PRUNED_PER_STATEMENT`] per statement; returns how
    /// many went.
    async fn prune_events(&self, before_ms: UnixMillis) -> Result<u64, StoreError>;

    /// Audit records with a sequence number above `after_seq`, ascending.
    async fn audit_after(&self, after_seq: i64, limit: u32)
        -> Result<Vec<AuditRecord>, StoreError>;
    async fn last_audit(&self) -> Result<Option<AuditRecord>, StoreError>;

    /// Every agreement version with its answers, ascending by version.
    async fn agreements(&self) -> Result<Vec<AgreementRecord>, StoreError>;

    /// How far the re-check under new terms has come, while one runs (see
    /// [`Mutation::SetRecheck`]).
    async fn recheck(&self) -> Result<Option<RecheckRecord>, StoreError>;

    /// One hotline message by id, whoever it is from or to.
    async fn hotline_message(&self, id: &str) -> Result<Option<HotlineMessageRecord>, StoreError>;
    /// The hotline messages from or to `party_id` (every message when `None`, which is
    /// what observers read; only of `thread` when given), oldest first (by sending time,
    /// then id): at most `limit` of them, after `after` (the sending time and id of the
    /// last message of the previous page) when given.
    async fn hotline_messages(
        &self,
        party_id: Option<&str>,
        thread: Option<&str>,
        after: Option<ListCursor<'_>>,
        limit: u32,
    ) -> Result<Vec<HotlineMessageRecord>, StoreError>;
    /// Every message neither acknowledged nor escalated, by deadline (to rebuild the
    /// engine's deadlines at start).
    async fn unanswered_hotline_messages(&self) -> Result<Vec<HotlineMessageRecord>, StoreError>;

    /// Stores `seed` as the server's signing key seed unless one is stored already, and
    /// returns the one stored (so concurrent first starts agree on one key).
    async fn server_key_seed_or_insert(&self, seed_hex: &str) -> Result<String, StoreError>;
}

impl StoreError {
    /// Whether the write failed because a unique key (a party id or token) was taken.
    pub fn is_unique_violation(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::Database(error)) => error.is_unique_violation(),
            _ => false,
        }
    }
}
