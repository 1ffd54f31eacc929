//! The two backends. Their SQL text is identical (portable SQL with `$n` placeholders,
//! which SQLite accepts too), so one macro stamps out both implementations of
//! [`Store`](crate::Store) and they cannot drift apart; only how each opens its pool and
//! which embedded migrations it runs differ.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection, QueryBuilder, Row};

use crate::model::{
    AgreementAnswer, AgreementRecord, AlertRecord, AuditRecord, Batch, ConflictRecord, EventData,
    EventRecord, HotlineMessageRecord, IntentRecord, JsonDocument, PartyRecord, RecheckRecord,
    TrackSampleRecord,
};
use crate::{ListCursor, ServiceClaim, Store, StoreError, UnixMillis};

/// Rows per multi-row statement: well under SQLite's 32,766 and PostgreSQL's 65,535 bound
/// parameters with the widest row (hotline messages, 13 columns; alerts have 12).
const ROWS_PER_STATEMENT_MAX: usize = 500;
const _: () = assert!(ROWS_PER_STATEMENT_MAX * HOTLINE_COLUMN_COUNT < 32_766);
const _: () = assert!(ROWS_PER_STATEMENT_MAX * 12 < 32_766);

/// Most rows one statement of [`Store::prune_events`] or [`Store::prune_track_samples`]
/// deletes, so that commits are never held up behind a whole week of rows (millions under
/// load; 142,774 events took 0.6 s): the embedded store runs each statement on its writer
/// thread between two commits, PostgreSQL in a transaction of its own.
pub const ROWS_PRUNED_PER_STATEMENT: i64 = 5_000;

/// How long a SQLite connection waits for another process's write lock (the `party add`
/// command writing while the server runs) before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How often the embedded store copies its write-ahead log into the database file; after
/// every such copy the writer finishes it, so that the log starts again from its beginning.
///
/// Once a second rather than five times: a page that commits change again and again (an
/// index's last page, an intent's row) is copied once per pass, so fewer passes copy less,
/// and each pass, with its `fsync` of the database file, slows whatever commit runs beside
/// it. At 1,000,000 stored intents, 1 s against 200 ms (with the writer's finish every
/// fifth pass): a lone client's p99 2.8-3.5 against 3.2-4.6 ms (with conflicts 3.4-4.4
/// against 4.1-6.0 ms) over four alternated runs, and at 32 clients 2,965 / 2,577 against
/// 2,565 / 2,048 writes/s with 0.44 / 0.49 against 0.51 / 0.58 ms of server CPU per write.
/// 50 ms was worse again (p99 4.5-5.2 ms), and 2 s no better than 1 s.
const SQLITE_CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);

/// Before the writer finishes a checkpoint, the background runs up to this many more passes,
/// each copying what was committed during the one before…
const SQLITE_CATCH_UP_PASSES_MAX: usize = 4;

/// …until a pass saw no more than this many frames committed while it ran.
const SQLITE_FINISH_FRAMES: i64 = 256;

/// The embedded store: one SQLite file in WAL mode with `synchronous=FULL`, so a commit
/// is on disk before [`Store::apply`] returns.
///
/// Checkpoints (copying the log into the database file, and its `fsync`) run on a
/// background task every [`SQLITE_CHECKPOINT_INTERVAL`] in `PASSIVE` mode, never inside
/// a commit: SQLite's automatic checkpoint would run in whichever commit crosses 1,000
/// log pages, and that commit took several milliseconds longer than the others.
/// After each, the writer finishes it between two commits, so that the log starts again
/// from its beginning instead of growing.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// The database file, beside which the service's claim is taken.
    path: std::path::PathBuf,
    writer: std::sync::Arc<crate::sqlite_writer::SqliteWriter>,
    /// The checkpoint task stops once every clone of the store is dropped.
    _alive: std::sync::Arc<()>,
}

/// The shared store on PostgreSQL.
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// The epoch of this process's claim on the store (0 until it claims): the fencing
    /// token every commit checks.
    fence: std::sync::Arc<std::sync::atomic::AtomicI64>,
}

/// Opens (creating if needed) the SQLite store at `path` and runs its migrations.
pub async fn open_sqlite(path: &Path) -> Result<SqliteStore, StoreError> {
    open_sqlite_checkpointing(path, true).await
}

/// [`open_sqlite`], with the background checkpoint task only when `background_checkpoints`
/// (tests leave it out to drive the writer's own checkpoint alone).
async fn open_sqlite_checkpointing(
    path: &Path,
    background_checkpoints: bool,
) -> Result<SqliteStore, StoreError> {
    // The pool's connections open the file through the store's file layer too (see
    // `wal_buffer`): the background checkpoints run on them, and it gathers their writes
    // to the database file.
    let vfs = crate::wal_buffer::register()?;
    let options = SqliteConnectOptions::new()
        .filename(path)
        .vfs(vfs)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
        .pragma("wal_autocheckpoint", "0")
        // 64 MiB of page cache per connection (SQLite's default is 2 MiB): the indexes a
        // commit updates stay in memory instead of being read back for every write.
        .pragma("cache_size", "-65536")
        .disable_statement_logging();
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await?;
    sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
    let writer = crate::sqlite_writer::SqliteWriter::open(path, SQLITE_BUSY_TIMEOUT)?;
    let alive = std::sync::Arc::new(());
    let writer = std::sync::Arc::new(writer);
    if background_checkpoints {
        tokio::spawn(checkpoint_sqlite(
            pool.clone(),
            std::sync::Arc::downgrade(&writer),
            std::sync::Arc::downgrade(&alive),
        ));
    }
    Ok(SqliteStore {
        pool,
        path: path.to_owned(),
        writer,
        _alive: alive,
    })
}

/// Checkpoints the store's log every [`SQLITE_CHECKPOINT_INTERVAL`] while `alive` can be
/// upgraded. `PASSIVE` copies what it can without waiting for readers or blocking the
/// writer; the writer then copies what was committed during the last pass, so that its
/// next commit starts the log again from the beginning and the log stays small (see
/// [`SqliteWriter::request_checkpoint_finish`](crate::sqlite_writer::SqliteWriter::request_checkpoint_finish)).
async fn checkpoint_sqlite(
    pool: SqlitePool,
    writer: std::sync::Weak<crate::sqlite_writer::SqliteWriter>,
    alive: std::sync::Weak<()>,
) {
    let mut ticker = tokio::time::interval(SQLITE_CHECKPOINT_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if alive.upgrade().is_none() {
            break;
        }
        let mut log_frames = checkpoint_pass(&pool).await;
        // Before the writer finishes, catch up with what was committed during the pass
        // (under load a pass takes tens of milliseconds, and the writer's own copy, with its
        // fsync, holds up every commit behind it).
        for _ in 0..SQLITE_CATCH_UP_PASSES_MAX {
            let next = checkpoint_pass(&pool).await;
            let appended = match (log_frames, next) {
                (Some(before), Some(after)) if after >= before => after - before,
                (_, Some(after)) => after,
                (_, None) => break,
            };
            log_frames = next;
            if appended <= SQLITE_FINISH_FRAMES {
                break;
            }
        }
        if let Some(writer) = writer.upgrade() {
            writer.request_checkpoint_finish();
        }
    }
    pool.close().await;
}

/// One `PASSIVE` checkpoint from the pool; the frames the log holds, `None` when it failed.
async fn checkpoint_pass(pool: &SqlitePool) -> Option<i64> {
    let started = std::time::Instant::now();
    match sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(pool)
        .await
    {
        Ok((_, log_frames, copied_frames)) => {
            tracing::debug!(
                log_frames,
                copied_frames,
                took_ms = started.elapsed().as_secs_f64() * 1e3,
                "checkpoint of the embedded store's log"
            );
            Some(log_frames)
        }
        Err(error) => {
            tracing::warn!(%error, "checkpoint of the embedded store's log failed; retrying");
            None
        }
    }
}

/// Opens the PostgreSQL store at `url` (its default schema) and runs its migrations.
pub async fn open_postgres(url: &str) -> Result<PostgresStore, StoreError> {
    let options = PgConnectOptions::from_str(url)
        .map_err(|error| StoreError::Open(format!("bad PostgreSQL URL: {error}")))?
        .disable_statement_logging();
    let pool = PgPoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await?;
    sqlx::migrate!("./migrations/postgres").run(&pool).await?;
    Ok(PostgresStore {
        pool,
        fence: Default::default(),
    })
}

/// Opens the PostgreSQL store at `url` inside `schema` (created when absent; every
/// connection's `search_path` is set to it), so tests and several deployments can share
/// one database without seeing each other's tables.
pub async fn open_postgres_in_schema(url: &str, schema: &str) -> Result<PostgresStore, StoreError> {
    if schema.is_empty()
        || !schema
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(StoreError::Open(format!(
            "schema name {schema:?} must be non-empty ASCII letters, digits and underscores"
        )));
    }
    let base = PgConnectOptions::from_str(url)
        .map_err(|error| StoreError::Open(format!("bad PostgreSQL URL: {error}")))?
        .disable_statement_logging();
    let mut connection = base.connect().await?;
    sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
        .execute(&mut connection)
        .await?;
    connection.close().await?;
    let options = base.options([("search_path", schema)]);
    let pool = PgPoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await?;
    sqlx::migrate!("./migrations/postgres").run(&pool).await?;
    Ok(PostgresStore {
        pool,
        fence: Default::default(),
    })
}

/// One statement of [`Store::prune_events`], as both backends run it: of the oldest events
/// in sequence order (at most `$2`), those before the first one not older than `$1`.
/// Events are numbered in the order of their times (the engine stamps each batch with its
/// clock), so no index of their times is needed to find the expired ones (every event
/// stored had to add an entry to one; see `0009_events_pruned_by_sequence`). An event
/// stamped out of order only keeps those after it a little longer; no event within
/// retention is ever pruned. `$1` comes first in the text: SQLite numbers `$N` parameters
/// in the order they appear.
const PRUNE_EVENTS_STEP: &str = "WITH cutoff (before_ms) AS (SELECT CAST($1 AS BIGINT)), \
     oldest AS (SELECT seq, time_ms FROM events ORDER BY seq LIMIT $2) \
     DELETE FROM events WHERE seq IN (SELECT seq FROM oldest WHERE seq < COALESCE(\
     (SELECT MIN(seq) FROM oldest, cutoff WHERE time_ms >= before_ms), 9223372036854775807))";

/// Runs `step` (one pruning statement, answering the rows it deleted) until a statement
/// deletes fewer than [`ROWS_PRUNED_PER_STATEMENT`]; answers the rows deleted in all.
async fn prune_in_steps<F, Fut>(mut step: F) -> Result<u64, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<u64, StoreError>>,
{
    let mut pruned = 0;
    loop {
        let deleted = step().await?;
        pruned += deleted;
        if deleted < ROWS_PRUNED_PER_STATEMENT as u64 {
            return Ok(pruned);
        }
    }
}

impl SqliteStore {
    /// One statement of [`Store::prune_track_samples`], by the table's rowid.
    const PRUNE_TRACK_SAMPLES_STEP: &str = "DELETE FROM track_samples WHERE rowid IN \
         (SELECT rowid FROM track_samples WHERE time_ms < $1 LIMIT $2)";

    /// The embedded store writes through its own writer thread (see `sqlite_writer`).
    async fn apply_batch(&self, batch: Batch) -> Result<(), StoreError> {
        self.writer.apply(batch).await
    }

    /// On the writer thread, between two commits: from the pool, the statement would hold
    /// the write lock while the writer's commits sleep in SQLite's busy handler, which
    /// backs off up to 100 ms a try and found the lock taken again by the next statement
    /// (a write waited 650 ms while 142,774 events were pruned that way).
    async fn prune_step(
        &self,
        sql: &'static str,
        before_ms: UnixMillis,
    ) -> Result<u64, StoreError> {
        self.writer
            .delete(sql, before_ms, ROWS_PRUNED_PER_STATEMENT)
            .await
    }

    async fn try_claim(&self) -> Result<Option<ServiceClaim>, StoreError> {
        crate::claim::try_claim_sqlite(&self.path)
    }

    /// No fencing token: the file lock is held until the process holding it has ended.
    async fn check_fence(
        &self,
        _tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    ) -> Result<(), StoreError> {
        Ok(())
    }
}

impl PostgresStore {
    /// One statement of [`Store::prune_track_samples`], by the row's `ctid`.
    const PRUNE_TRACK_SAMPLES_STEP: &str = "DELETE FROM track_samples WHERE ctid IN \
         (SELECT ctid FROM track_samples WHERE time_ms < $1 LIMIT $2)";

    async fn apply_batch(&self, batch: Batch) -> Result<(), StoreError> {
        self.apply_through_sqlx(&batch).await
    }

    async fn prune_step(
        &self,
        sql: &'static str,
        before_ms: UnixMillis,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(sql)
            .bind(before_ms)
            .bind(ROWS_PRUNED_PER_STATEMENT)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// On a session of its own (taken out of the pool, with the pool's `search_path`).
    /// A claim taken also sets the fencing token every later commit checks.
    async fn try_claim(&self) -> Result<Option<ServiceClaim>, StoreError> {
        let session = self.pool.acquire().await?.detach();
        let Some((claim, epoch)) = crate::claim::try_claim_postgres(session).await? else {
            return Ok(None);
        };
        self.fence.store(epoch, std::sync::atomic::Ordering::SeqCst);
        Ok(Some(claim))
    }

    /// Inside a commit, once this store's service has claimed it: the commit goes ahead only
    /// while the claim's epoch is still the newest. The row lock this takes orders it with
    /// a later claim's bump, so a service taking over either sees this commit in what it
    /// loads, or this commit is refused.
    async fn check_fence(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    ) -> Result<(), StoreError> {
        let epoch = self.fence.load(std::sync::atomic::Ordering::SeqCst);
        if epoch == 0 {
            return Ok(());
        }
        let held =
            sqlx::query("UPDATE service_epoch SET epoch = epoch WHERE id = 1 AND epoch = $1")
                .bind(epoch)
                .execute(&mut **tx)
                .await?
                .rows_affected();
        if held == 1 {
            Ok(())
        } else {
            Err(StoreError::Write(format!(
                "another instance has claimed the store since this one did (epoch {epoch}); \
                 this instance must stop"
            )))
        }
    }

    /// Drops `schema` and everything in it (test clean-up).
    pub async fn drop_schema(&self, schema: &str) -> Result<(), StoreError> {
        sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

fn corrupt(what: &'static str, detail: impl ToString) -> StoreError {
    StoreError::Corrupt {
        what,
        detail: detail.to_string(),
    }
}

/// The JSON text of `value`: `serde_json::to_string` writes straight into a byte buffer,
/// where `Value`'s `Display` (`value.to_string()`) passes every token through a formatter.
pub(crate) fn json_text(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| value.to_string())
}

fn parse_json(what: &'static str, text: &str) -> Result<Value, StoreError> {
    serde_json::from_str(text).map_err(|error| corrupt(what, error))
}

/// A stored JSON column as the shared document records hold: its text as stored, checked.
fn parse_document(
    what: &'static str,
    text: String,
) -> Result<std::sync::Arc<JsonDocument>, StoreError> {
    let document = JsonDocument::from_text(text).map_err(|error| corrupt(what, error))?;
    Ok(std::sync::Arc::new(document))
}

macro_rules! row_readers {
    ($Row:ty) => {
        fn party_from(row: &$Row) -> Result<PartyRecord, StoreError> {
            let role: String = row.try_get("role")?;
            Ok(PartyRecord {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                role: role.parse().map_err(|error| corrupt("party role", error))?,
                token_sha256: row.try_get("token_sha256")?,
                created_ms: row.try_get("created_ms")?,
            })
        }

        fn intent_from(row: &$Row) -> Result<IntentRecord, StoreError> {
            let state: String = row.try_get("state")?;
            let volumes: String = row.try_get("volumes")?;
            Ok(IntentRecord {
                party_id: row.try_get("party_id")?,
                id: row.try_get("id")?,
                version: row.try_get("version")?,
                state: state
                    .parse()
                    .map_err(|error| corrupt("intent state", error))?,
                volumes: parse_document("intent volumes", volumes)?,
                created_ms: row.try_get("created_ms")?,
                updated_ms: row.try_get("updated_ms")?,
            })
        }

        fn conflict_from(row: &$Row) -> Result<ConflictRecord, StoreError> {
            let details: String = row.try_get("details")?;
            Ok(ConflictRecord {
                id: row.try_get("id")?,
                party_a: row.try_get("party_a")?,
                intent_a: row.try_get("intent_a")?,
                party_b: row.try_get("party_b")?,
                intent_b: row.try_get("intent_b")?,
                opened_ms: row.try_get("opened_ms")?,
                updated_ms: row.try_get("updated_ms")?,
                resolved_ms: row.try_get("resolved_ms")?,
                acked_a_ms: row.try_get("acked_a_ms")?,
                acked_b_ms: row.try_get("acked_b_ms")?,
                details: parse_document("conflict details", details)?,
            })
        }

        fn alert_from(row: &$Row) -> Result<AlertRecord, StoreError> {
            let details: String = row.try_get("details")?;
            Ok(AlertRecord {
                id: row.try_get("id")?,
                party_a: row.try_get("party_a")?,
                aircraft_a: row.try_get("aircraft_a")?,
                ref_a: row.try_get("ref_a")?,
                party_b: row.try_get("party_b")?,
                aircraft_b: row.try_get("aircraft_b")?,
                ref_b: row.try_get("ref_b")?,
                level: row.try_get("level")?,
                raised_ms: row.try_get("raised_ms")?,
                updated_ms: row.try_get("updated_ms")?,
                cleared_ms: row.try_get("cleared_ms")?,
                details: parse_json("alert details", &details)?,
            })
        }

        fn track_sample_from(row: &$Row) -> Result<TrackSampleRecord, StoreError> {
            Ok(TrackSampleRecord {
                party_id: row.try_get("party_id")?,
                aircraft_id: row.try_get("aircraft_id")?,
                time_ms: row.try_get("time_ms")?,
                lat: row.try_get("lat")?,
                lon: row.try_get("lon")?,
                alt_m: row.try_get("alt_m")?,
                vn_mps: row.try_get("vn_mps")?,
                ve_mps: row.try_get("ve_mps")?,
                vu_mps: row.try_get("vu_mps")?,
            })
        }

        fn event_from(row: &$Row) -> Result<EventRecord, StoreError> {
            let data: String = row.try_get("data")?;
            Ok(EventRecord {
                seq: row.try_get("seq")?,
                party_id: row.try_get("party_id")?,
                kind: row.try_get("kind")?,
                data: EventData::from_stored(data),
                time_ms: row.try_get("time_ms")?,
            })
        }

        fn hotline_message_from(row: &$Row) -> Result<HotlineMessageRecord, StoreError> {
            let about: Option<String> = row.try_get("about")?;
            Ok(HotlineMessageRecord {
                id: row.try_get("id")?,
                thread: row.try_get("thread")?,
                from_party: row.try_get("from_party")?,
                to_party: row.try_get("to_party")?,
                text: row.try_get("message_text")?,
                about: about
                    .as_deref()
                    .map(|text| parse_json("hotline message about", text))
                    .transpose()?,
                reply_to: row.try_get("reply_to")?,
                sent_ms: row.try_get("sent_ms")?,
                answer_within_s: row.try_get("answer_within_s")?,
                answer_by_ms: row.try_get("answer_by_ms")?,
                acked_ms: row.try_get("acked_ms")?,
                acked_by: row.try_get("acked_by")?,
                escalated_ms: row.try_get("escalated_ms")?,
            })
        }

        fn audit_from(row: &$Row) -> Result<AuditRecord, StoreError> {
            Ok(AuditRecord {
                seq: row.try_get("seq")?,
                sealed_json: row.try_get("sealed")?,
            })
        }
    };
}

pub(crate) const PARTY_COLUMNS: &str = "id, name, role, token_sha256, created_ms";
pub(crate) const INTENT_COLUMNS: &str =
    "party_id, id, version, state, volumes, created_ms, updated_ms";
pub(crate) const ALERT_COLUMNS: &str = "id, party_a, aircraft_a, ref_a, party_b, aircraft_b, ref_b, level, raised_ms, updated_ms, cleared_ms, details";
const TRACK_SAMPLE_COLUMNS: &str =
    "party_id, aircraft_id, time_ms, lat, lon, alt_m, vn_mps, ve_mps, vu_mps";
pub(crate) const CONFLICT_COLUMNS: &str = "id, party_a, intent_a, party_b, intent_b, opened_ms, updated_ms, resolved_ms, acked_a_ms, acked_b_ms, details";
pub(crate) const HOTLINE_COLUMNS: &str =
    "id, thread, from_party, to_party, message_text, about, reply_to, sent_ms, \
     answer_within_s, answer_by_ms, acked_ms, acked_by, escalated_ms";
const HOTLINE_COLUMN_COUNT: usize = 13;
/// Records how far the re-check has come: its version, then the last intent's party and id.
pub(crate) const RECHECK_SET: &str =
    "INSERT INTO recheck (id, version, after_party_id, after_intent_id) VALUES (1, $1, $2, $3) \
     ON CONFLICT (id) DO UPDATE SET version = excluded.version, \
     after_party_id = excluded.after_party_id, after_intent_id = excluded.after_intent_id";
/// Records that the re-check is finished.
pub(crate) const RECHECK_CLEAR: &str = "DELETE FROM recheck";

macro_rules! store_impl {
    ($Store:ident, $Db:ty, $Row:ty, $name:literal) => {
        row_readers!($Row);

        impl $Store {
            /// [`Store::apply`] through sqlx: one multi-row statement per table. (The
            /// embedded store writes through its own thread instead; see `sqlite_writer`.)
            #[allow(dead_code)]
            pub(crate) async fn apply_through_sqlx(&self, batch: &Batch) -> Result<(), StoreError> {
                if batch.is_empty() {
                    return Ok(());
                }
                let net = batch.coalesce();
                let mut tx = self.pool.begin().await?;
                self.check_fence(&mut tx).await?;
                for chunk in net.parties.chunks(ROWS_PER_STATEMENT_MAX) {
                    let mut q = QueryBuilder::<$Db>::new(format!("INSERT INTO parties ({PARTY_COLUMNS}) "));
                    q.push_values(chunk, |mut b, p| {
                        b.push_bind(p.id.clone())
                            .push_bind(p.name.clone())
                            .push_bind(p.role.as_str())
                            .push_bind(p.token_sha256.clone())
                            .push_bind(p.created_ms);
                    });
                    q.build().execute(&mut *tx).await?;
                }
                for id in &net.parties_audited {
                    sqlx::query("UPDATE parties SET audited = TRUE WHERE id = $1")
                        .bind(*id)
                        .execute(&mut *tx)
                        .await?;
                }
                for chunk in net.intent_deletes.chunks(ROWS_PER_STATEMENT_MAX) {
                    let mut q = QueryBuilder::<$Db>::new("DELETE FROM intents WHERE ");
                    for (index, (party_id, id)) in chunk.iter().enumerate() {
                        if index > 0 {
                            q.push(" OR ");
                        }
                        q.push("(party_id = ").push_bind(party_id.to_string());
                        q.push(" AND id = ").push_bind(id.to_string()).push(")");
                    }
                    q.build().execute(&mut *tx).await?;
                }
                for chunk in net.intent_puts.chunks(ROWS_PER_STATEMENT_MAX) {
                    let mut q = QueryBuilder::<$Db>::new(format!("INSERT INTO intents ({INTENT_COLUMNS}) "));
                    q.push_values(chunk, |mut b, i| {
                        b.push_bind(i.party_id.clone())
                            .push_bind(i.id.clone())
                            .push_bind(i.version)
                            .push_bind(i.state.as_str())
                            .push_bind(i.volumes.text())
                            .push_bind(i.created_ms)
                            .push_bind(i.updated_ms);
                    });
                    q.push(
                        " ON CONFLICT (party_id, id) DO UPDATE SET version = excluded.version, \
                         state = excluded.state, volumes = excluded.volumes, updated_ms = excluded.updated_ms",
                    );
                    q.build().execute(&mut *tx).await?;
                }
                for chunk in net.conflicts.chunks(ROWS_PER_STATEMENT_MAX) {
                    let mut q = QueryBuilder::<$Db>::new(format!("INSERT INTO conflicts ({CONFLICT_COLUMNS}) "));
                    q.push_values(chunk, |mut b, c| {
                        b.push_bind(c.id.clone())
                            .push_bind(c.party_a.clone())
                            .push_bind(c.intent_a.clone())
                            .push_bind(c.party_b.clone())
                            .push_bind(c.intent_b.clone())
                            .push_bind(c.opened_ms)
                            .push_bind(c.updated_ms)
                            .push_bind(c.resolved_ms)
                            .push_bind(c.acked_a_ms)
                            .push_bind(c.acked_b_ms)
                            .push_bind(c.details.text());
                    });
                    q.push(
                        " ON CONFLICT (id) DO UPDATE SET updated_ms = excluded.updated_ms, \
                         resolved_ms = excluded.resolved_ms, acked_a_ms = excluded.acked_a_ms, \
                         acked_b_ms = excluded.acked_b_ms, details = excluded.details",
                    );
                    q.build().execute(&mut *tx).await?;
                }
                for chunk in net.alerts.chunks(ROWS_PER_STATEMENT_MAX) {
                    let mut q = QueryBuilder::<$Db>::new(format!("INSERT INTO alerts ({ALERT_COLUMNS}) "));
                    q.push_values(chunk, |mut b, a| {
                        b.push_bind(a.id.clone())
                            .push_bind(a.party_a.clone())
                            .push_bind(a.aircraft_a.clone())
                            .push_bind(a.ref_a.clone())
                            .push_bind(a.party_b.clone())
                            .push_bind(a.aircraft_b.clone())
                            .push_bind(a.ref_b.clone())
                            .push_bind(a.level.clone())
                            .push_bind(a.raised_ms)
                            .push_bind(a.updated_ms)
                            .push_bind(a.cleared_ms)
                            .push_bind(json_text(&a.details));
                    });
                    q.push(
                        " ON CONFLICT (id) DO UPDATE SET level = excluded.level, \
                         updated_ms = excluded.updated_ms, cleared_ms = excluded.cleared_ms, \
                         details = excluded.details",
                    );
                    q.build().execute(&mut *tx).await?;
                }
                for chunk in net.events.chunks(ROWS_PER_STATEMENT_MAX) {
                    let mut q = QueryBuilder::<$Db>::new("INSERT INTO events (seq, party_id, kind, data, time_ms) ");
                    q.push_values(chunk, |mut b, e| {
                        b.push_bind(e.seq)
                            .push_bind(e.party_id.clone())
                            .push_bind(e.kind.clone())
                            .push_bind(e.data.as_str().to_owned())
                            .push_bind(e.time_ms);
                    });
                    q.build().execute(&mut *tx).await?;
                }
                for chunk in net.audit.chunks(ROWS_PER_STATEMENT_MAX) {
                    let mut q = QueryBuilder::<$Db>::new("INSERT INTO audit (seq, sealed) ");
                    q.push_values(chunk, |mut b, a| {
                        b.push_bind(a.seq).push_bind(a.sealed_json.clone());
                    });
                    q.build().execute(&mut *tx).await?;
                }
                for agreement in &net.agreements {
                    sqlx::query(
                        "INSERT INTO agreements (version, terms, proposed_by, proposed_ms, status, decided_ms) \
                         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (version) DO UPDATE SET \
                         status = excluded.status, decided_ms = excluded.decided_ms",
                    )
                    .bind(agreement.version)
                    .bind(json_text(&agreement.terms))
                    .bind(agreement.proposed_by.clone())
                    .bind(agreement.proposed_ms)
                    .bind(agreement.status.as_str())
                    .bind(agreement.decided_ms)
                    .execute(&mut *tx)
                    .await?;
                }
                for (version, answer) in &net.answers {
                    sqlx::query(
                        "INSERT INTO agreement_answers (version, party_id, accepted, answered_ms) \
                         VALUES ($1, $2, $3, $4) ON CONFLICT (version, party_id) DO UPDATE SET \
                         accepted = excluded.accepted, answered_ms = excluded.answered_ms",
                    )
                    .bind(*version)
                    .bind(answer.party_id.clone())
                    .bind(i64::from(answer.accepted))
                    .bind(answer.answered_ms)
                    .execute(&mut *tx)
                    .await?;
                }
                for chunk in net.hotline_messages.chunks(ROWS_PER_STATEMENT_MAX) {
                    let mut q = QueryBuilder::<$Db>::new(format!("INSERT INTO hotline_messages ({HOTLINE_COLUMNS}) "));
                    q.push_values(chunk, |mut b, m| {
                        b.push_bind(m.id.clone())
                            .push_bind(m.thread.clone())
                            .push_bind(m.from_party.clone())
                            .push_bind(m.to_party.clone())
                            .push_bind(m.text.clone())
                            .push_bind(m.about.as_ref().map(json_text))
                            .push_bind(m.reply_to.clone())
                            .push_bind(m.sent_ms)
                            .push_bind(m.answer_within_s)
                            .push_bind(m.answer_by_ms)
                            .push_bind(m.acked_ms)
                            .push_bind(m.acked_by.clone())
                            .push_bind(m.escalated_ms);
                    });
                    // A message's words, parties and deadline never change; only its
                    // acknowledgement and escalation do.
                    q.push(
                        " ON CONFLICT (id) DO UPDATE SET acked_ms = excluded.acked_ms, \
                         acked_by = excluded.acked_by, escalated_ms = excluded.escalated_ms",
                    );
                    q.build().execute(&mut *tx).await?;
                }
                match net.recheck {
                    None => {}
                    Some(None) => {
                        sqlx::query(RECHECK_CLEAR).execute(&mut *tx).await?;
                    }
                    Some(Some(recheck)) => {
                        let (party_id, id) = recheck.after.clone().unzip();
                        sqlx::query(RECHECK_SET)
                            .bind(recheck.version)
                            .bind(party_id)
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                tx.commit().await?;
                Ok(())
            }
        }

        #[async_trait]
        impl Store for $Store {
            fn backend(&self) -> &'static str {
                $name
            }

            async fn apply(&self, batch: Batch) -> Result<(), StoreError> {
                self.apply_batch(batch).await
            }

            async fn try_claim_service(&self) -> Result<Option<ServiceClaim>, StoreError> {
                self.try_claim().await
            }

            async fn party(&self, id: &str) -> Result<Option<PartyRecord>, StoreError> {
                let row = sqlx::query(&format!("SELECT {PARTY_COLUMNS} FROM parties WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(party_from).transpose()
            }

            async fn party_by_token_sha256(&self, token_sha256_hex: &str) -> Result<Option<PartyRecord>, StoreError> {
                let row = sqlx::query(&format!("SELECT {PARTY_COLUMNS} FROM parties WHERE token_sha256 = $1"))
                    .bind(token_sha256_hex)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(party_from).transpose()
            }

            async fn parties(&self) -> Result<Vec<PartyRecord>, StoreError> {
                let rows = sqlx::query(&format!("SELECT {PARTY_COLUMNS} FROM parties ORDER BY id"))
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(party_from).collect()
            }

            async fn unaudited_parties(&self) -> Result<Vec<PartyRecord>, StoreError> {
                let rows = sqlx::query(&format!(
                    "SELECT {PARTY_COLUMNS} FROM parties WHERE NOT audited ORDER BY created_ms, id"
                ))
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(party_from).collect()
            }

            async fn insert_party(&self, party: &PartyRecord) -> Result<(), StoreError> {
                sqlx::query(&format!(
                    "INSERT INTO parties ({PARTY_COLUMNS}, audited) VALUES ($1, $2, $3, $4, $5, FALSE)"
                ))
                    .bind(&party.id)
                    .bind(&party.name)
                    .bind(party.role.as_str())
                    .bind(&party.token_sha256)
                    .bind(party.created_ms)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn intent(&self, party_id: &str, id: &str) -> Result<Option<IntentRecord>, StoreError> {
                let row = sqlx::query(&format!(
                    "SELECT {INTENT_COLUMNS} FROM intents WHERE party_id = $1 AND id = $2"
                ))
                .bind(party_id)
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(intent_from).transpose()
            }

            async fn intents_of(
                &self,
                party_id: &str,
                after_id: Option<&str>,
                limit: u32,
            ) -> Result<Vec<IntentRecord>, StoreError> {
                let rows = sqlx::query(&format!(
                    "SELECT {INTENT_COLUMNS} FROM intents WHERE party_id = $1 AND id > $2 ORDER BY id LIMIT $3"
                ))
                .bind(party_id)
                .bind(after_id.unwrap_or(""))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(intent_from).collect()
            }

            async fn intents_page(
                &self,
                after: Option<(&str, &str)>,
                limit: u32,
            ) -> Result<Vec<IntentRecord>, StoreError> {
                let rows = match after {
                    None => {
                        sqlx::query(&format!(
                            "SELECT {INTENT_COLUMNS} FROM intents ORDER BY party_id, id LIMIT $1"
                        ))
                        .bind(i64::from(limit))
                        .fetch_all(&self.pool)
                        .await?
                    }
                    Some((party_id, id)) => {
                        sqlx::query(&format!(
                            "SELECT {INTENT_COLUMNS} FROM intents WHERE party_id > $1 OR (party_id = $1 AND id > $2) \
                             ORDER BY party_id, id LIMIT $3"
                        ))
                        .bind(party_id)
                        .bind(id)
                        .bind(i64::from(limit))
                        .fetch_all(&self.pool)
                        .await?
                    }
                };
                rows.iter().map(intent_from).collect()
            }

            async fn intent_count(&self) -> Result<u64, StoreError> {
                let count: i64 = sqlx::query("SELECT COUNT(*) AS n FROM intents").fetch_one(&self.pool).await?.try_get("n")?;
                Ok(u64::try_from(count).unwrap_or(0))
            }

            async fn conflict(&self, id: &str) -> Result<Option<ConflictRecord>, StoreError> {
                let row = sqlx::query(&format!("SELECT {CONFLICT_COLUMNS} FROM conflicts WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(conflict_from).transpose()
            }

            async fn conflicts(
                &self,
                party_id: Option<&str>,
                include_resolved: bool,
                after: Option<ListCursor<'_>>,
                limit: u32,
            ) -> Result<Vec<ConflictRecord>, StoreError> {
                let mut q = QueryBuilder::<$Db>::new(format!("SELECT {CONFLICT_COLUMNS} FROM conflicts WHERE TRUE"));
                if let Some(party_id) = party_id {
                    q.push(" AND (party_a = ").push_bind(party_id.to_owned());
                    q.push(" OR party_b = ").push_bind(party_id.to_owned()).push(")");
                }
                if !include_resolved {
                    q.push(" AND resolved_ms IS NULL");
                }
                if let Some((opened_ms, id)) = after {
                    q.push(" AND (opened_ms < ").push_bind(opened_ms);
                    q.push(" OR (opened_ms = ").push_bind(opened_ms);
                    q.push(" AND id > ").push_bind(id.to_owned()).push("))");
                    // Implied by the condition before, but a bound the index by time can
                    // start from, where a disjunction is tested row by row.
                    q.push(" AND opened_ms <= ").push_bind(opened_ms);
                }
                q.push(" ORDER BY opened_ms DESC, id LIMIT ").push_bind(i64::from(limit));
                let rows = q.build().fetch_all(&self.pool).await?;
                rows.iter().map(conflict_from).collect()
            }

            async fn open_conflicts(&self) -> Result<Vec<ConflictRecord>, StoreError> {
                let rows = sqlx::query(&format!(
                    "SELECT {CONFLICT_COLUMNS} FROM conflicts WHERE resolved_ms IS NULL ORDER BY id"
                ))
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(conflict_from).collect()
            }

            async fn active_alerts(&self) -> Result<Vec<AlertRecord>, StoreError> {
                let rows = sqlx::query(&format!(
                    "SELECT {ALERT_COLUMNS} FROM alerts WHERE cleared_ms IS NULL ORDER BY id"
                ))
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(alert_from).collect()
            }

            async fn alerts_of(&self, party_id: &str, limit: u32) -> Result<Vec<AlertRecord>, StoreError> {
                let rows = sqlx::query(&format!(
                    "SELECT {ALERT_COLUMNS} FROM alerts WHERE party_a = $1 OR party_b = $1 \
                     ORDER BY raised_ms DESC, id LIMIT $2"
                ))
                .bind(party_id)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(alert_from).collect()
            }

            async fn append_track_samples(&self, samples: &[TrackSampleRecord]) -> Result<(), StoreError> {
                if samples.is_empty() {
                    return Ok(());
                }
                let mut tx = self.pool.begin().await?;
                for chunk in samples.chunks(ROWS_PER_STATEMENT_MAX) {
                    let mut q = QueryBuilder::<$Db>::new(format!(
                        "INSERT INTO track_samples ({TRACK_SAMPLE_COLUMNS}) "
                    ));
                    q.push_values(chunk, |mut b, t| {
                        b.push_bind(t.party_id.clone())
                            .push_bind(t.aircraft_id.clone())
                            .push_bind(t.time_ms)
                            .push_bind(t.lat)
                            .push_bind(t.lon)
                            .push_bind(t.alt_m)
                            .push_bind(t.vn_mps)
                            .push_bind(t.ve_mps)
                            .push_bind(t.vu_mps);
                    });
                    q.push(" ON CONFLICT (party_id, aircraft_id, time_ms) DO NOTHING");
                    q.build().execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn track_history(
                &self,
                party_id: &str,
                aircraft_id: &str,
                since_ms: UnixMillis,
                limit: u32,
            ) -> Result<Vec<TrackSampleRecord>, StoreError> {
                let rows = sqlx::query(&format!(
                    "SELECT {TRACK_SAMPLE_COLUMNS} FROM track_samples \
                     WHERE party_id = $1 AND aircraft_id = $2 AND time_ms >= $3 ORDER BY time_ms LIMIT $4"
                ))
                .bind(party_id)
                .bind(aircraft_id)
                .bind(since_ms)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(track_sample_from).collect()
            }

            async fn prune_track_samples(&self, before_ms: UnixMillis) -> Result<u64, StoreError> {
                prune_in_steps(|| self.prune_step(Self::PRUNE_TRACK_SAMPLES_STEP, before_ms)).await
            }

            async fn events_after(&self, party_id: &str, after_seq: i64, limit: u32) -> Result<Vec<EventRecord>, StoreError> {
                let rows = sqlx::query(
                    "SELECT seq, party_id, kind, data, time_ms FROM events WHERE party_id = $1 AND seq > $2 \
                     ORDER BY seq LIMIT $3",
                )
                .bind(party_id)
                .bind(after_seq)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(event_from).collect()
            }

            async fn last_event_seq(&self) -> Result<i64, StoreError> {
                let row = sqlx::query("SELECT MAX(seq) AS m FROM events").fetch_one(&self.pool).await?;
                let max: Option<i64> = row.try_get("m")?;
                Ok(max.unwrap_or(0))
            }

            async fn prune_events(&self, before_ms: UnixMillis) -> Result<u64, StoreError> {
                prune_in_steps(|| self.prune_step(PRUNE_EVENTS_STEP, before_ms)).await
            }

            async fn audit_after(&self, after_seq: i64, limit: u32) -> Result<Vec<AuditRecord>, StoreError> {
                let rows = sqlx::query("SELECT seq, sealed FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2")
                    .bind(after_seq)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(audit_from).collect()
            }

            async fn last_audit(&self) -> Result<Option<AuditRecord>, StoreError> {
                let row = sqlx::query("SELECT seq, sealed FROM audit ORDER BY seq DESC LIMIT 1")
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(audit_from).transpose()
            }

            async fn agreements(&self) -> Result<Vec<AgreementRecord>, StoreError> {
                let rows = sqlx::query(
                    "SELECT version, terms, proposed_by, proposed_ms, status, decided_ms FROM agreements ORDER BY version",
                )
                .fetch_all(&self.pool)
                .await?;
                let answers = sqlx::query(
                    "SELECT version, party_id, accepted, answered_ms FROM agreement_answers ORDER BY version, party_id",
                )
                .fetch_all(&self.pool)
                .await?;
                let mut out = Vec::with_capacity(rows.len());
                for row in &rows {
                    let terms: String = row.try_get("terms")?;
                    let status: String = row.try_get("status")?;
                    out.push(AgreementRecord {
                        version: row.try_get("version")?,
                        terms: parse_json("agreement terms", &terms)?,
                        proposed_by: row.try_get("proposed_by")?,
                        proposed_ms: row.try_get("proposed_ms")?,
                        status: status.parse().map_err(|error| corrupt("agreement status", error))?,
                        decided_ms: row.try_get("decided_ms")?,
                        answers: Vec::new(),
                    });
                }
                for row in &answers {
                    let version: i64 = row.try_get("version")?;
                    let accepted: i64 = row.try_get("accepted")?;
                    let answer = AgreementAnswer {
                        party_id: row.try_get("party_id")?,
                        accepted: accepted != 0,
                        answered_ms: row.try_get("answered_ms")?,
                    };
                    match out.iter_mut().find(|a| a.version == version) {
                        Some(agreement) => agreement.answers.push(answer),
                        None => return Err(corrupt("agreement answer", format!("answer to unknown version {version}"))),
                    }
                }
                Ok(out)
            }

            async fn recheck(&self) -> Result<Option<RecheckRecord>, StoreError> {
                let row = sqlx::query("SELECT version, after_party_id, after_intent_id FROM recheck WHERE id = 1")
                    .fetch_optional(&self.pool)
                    .await?;
                let Some(row) = row else { return Ok(None) };
                let party_id: Option<String> = row.try_get("after_party_id")?;
                let id: Option<String> = row.try_get("after_intent_id")?;
                Ok(Some(RecheckRecord {
                    version: row.try_get("version")?,
                    after: party_id.zip(id),
                }))
            }

            async fn hotline_message(&self, id: &str) -> Result<Option<HotlineMessageRecord>, StoreError> {
                let row = sqlx::query(&format!("SELECT {HOTLINE_COLUMNS} FROM hotline_messages WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(hotline_message_from).transpose()
            }

            async fn hotline_messages(
                &self,
                party_id: Option<&str>,
                thread: Option<&str>,
                after: Option<ListCursor<'_>>,
                limit: u32,
            ) -> Result<Vec<HotlineMessageRecord>, StoreError> {
                let mut q = QueryBuilder::<$Db>::new(format!("SELECT {HOTLINE_COLUMNS} FROM hotline_messages WHERE TRUE"));
                if let Some(party_id) = party_id {
                    q.push(" AND (from_party = ").push_bind(party_id.to_owned());
                    q.push(" OR to_party = ").push_bind(party_id.to_owned()).push(")");
                }
                if let Some(thread) = thread {
                    q.push(" AND thread = ").push_bind(thread.to_owned());
                }
                if let Some((sent_ms, id)) = after {
                    q.push(" AND (sent_ms > ").push_bind(sent_ms);
                    q.push(" OR (sent_ms = ").push_bind(sent_ms);
                    q.push(" AND id > ").push_bind(id.to_owned()).push("))");
                    // Implied, as for conflicts: where the index by time starts.
                    q.push(" AND sent_ms >= ").push_bind(sent_ms);
                }
                q.push(" ORDER BY sent_ms, id LIMIT ").push_bind(i64::from(limit));
                let rows = q.build().fetch_all(&self.pool).await?;
                rows.iter().map(hotline_message_from).collect()
            }

            async fn unanswered_hotline_messages(&self) -> Result<Vec<HotlineMessageRecord>, StoreError> {
                let rows = sqlx::query(&format!(
                    "SELECT {HOTLINE_COLUMNS} FROM hotline_messages WHERE acked_ms IS NULL AND escalated_ms IS NULL \
                     ORDER BY answer_by_ms, id"
                ))
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(hotline_message_from).collect()
            }

            async fn server_key_seed_or_insert(&self, seed_hex: &str) -> Result<String, StoreError> {
                sqlx::query("INSERT INTO server_key (id, seed) VALUES (1, $1) ON CONFLICT (id) DO NOTHING")
                    .bind(seed_hex)
                    .execute(&self.pool)
                    .await?;
                let row = sqlx::query("SELECT seed FROM server_key WHERE id = 1").fetch_one(&self.pool).await?;
                Ok(row.try_get("seed")?)
            }
        }
    };
}

mod sqlite_impl {
    use super::*;
    store_impl!(SqliteStore, sqlx::Sqlite, sqlx::sqlite::SqliteRow, "sqlite");
}

mod postgres_impl {
    use super::*;
    store_impl!(
        PostgresStore,
        sqlx::Postgres,
        sqlx::postgres::PgRow,
        "postgres"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{IntentState, Mutation};

    fn one_intent(n: usize) -> Batch {
        Batch {
            mutations: vec![Mutation::PutIntent(IntentRecord {
                party_id: "alpha".into(),
                id: format!("intent-{n}"),
                version: 1,
                state: IntentState::Accepted,
                volumes: JsonDocument::shared(
                    serde_json::json!([{ "padding": "x".repeat(2_000) }]),
                ),
                created_ms: 10,
                updated_ms: 10,
            })],
        }
    }

    fn log_file_bytes(dir: &Path) -> u64 {
        std::fs::metadata(dir.join("deconflict.db-wal"))
            .unwrap()
            .len()
    }

    #[tokio::test]
    async fn the_writer_starts_the_log_again_once_it_finishes_a_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        // No background checkpoints: only the writer's own can let the log start again.
        let store = open_sqlite_checkpointing(&dir.path().join("deconflict.db"), false)
            .await
            .unwrap();
        for n in 0..100 {
            store.apply(one_intent(n)).await.unwrap();
        }
        let first_hundred = log_file_bytes(dir.path());

        store.writer.request_checkpoint_finish();
        // The writer finishes the checkpoint after this commit…
        store.apply(one_intent(100)).await.unwrap();
        // …so the next ones write the log again from its beginning, over the old frames.
        for n in 101..201 {
            store.apply(one_intent(n)).await.unwrap();
        }
        let after_two_hundred = log_file_bytes(dir.path());
        assert!(
            after_two_hundred < first_hundred + first_hundred / 10,
            "the log file grew from {first_hundred} to {after_two_hundred} bytes"
        );
        assert_eq!(store.intent_count().await.unwrap(), 201);
    }
    #[tokio::test]
    async fn the_seq_migration_keeps_every_audit_entry_and_event() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deconflict.db");
        // A store as the migrations before `0005_seq_is_rowid` left it, with rows.
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .unwrap();
        let mut before = sqlx::migrate!("./migrations/sqlite");
        before.migrations = before
            .migrations
            .iter()
            .filter(|migration| migration.version < 5)
            .cloned()
            .collect::<Vec<_>>()
            .into();
        before.run(&pool).await.unwrap();
        for seq in 1..=3i64 {
            sqlx::query("INSERT INTO audit (seq, sealed) VALUES ($1, $2)")
                .bind(seq)
                .bind(format!("{{\"seq\":{seq}}}"))
                .execute(&pool)
                .await
                .unwrap();
            sqlx::query(
                "INSERT INTO events (seq, party_id, kind, data, time_ms) VALUES ($1, 'alpha', 'k', '{}', $2)",
            )
            .bind(seq)
            .bind(seq * 10)
            .execute(&pool)
            .await
            .unwrap();
        }
        pool.close().await;

        let store = open_sqlite_checkpointing(&path, false).await.unwrap();
        let audit = store.audit_after(0, 10).await.unwrap();
        assert_eq!(
            audit
                .iter()
                .map(|a| (a.seq, a.sealed_json.as_str()))
                .collect::<Vec<_>>(),
            [(1, "{\"seq\":1}"), (2, "{\"seq\":2}"), (3, "{\"seq\":3}")]
        );
        let events = store.events_after("alpha", 1, 10).await.unwrap();
        assert_eq!(
            events
                .iter()
                .map(|e| (e.seq, e.time_ms))
                .collect::<Vec<_>>(),
            [(2, 20), (3, 30)]
        );
        assert_eq!(store.last_event_seq().await.unwrap(), 3);
        // `seq` is each row's own key now: no second b-tree beside the table (and since
        // `0008_time_first_party_lists`, none by party either; since
        // `0009_events_pruned_by_sequence`, none by time).
        let indexes: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('audit', 'events') ORDER BY name",
        )
        .fetch_all(&store.pool)
        .await
        .unwrap();
        assert!(indexes.is_empty(), "{indexes:?}");
    }

    /// A commit adds conflicts, alerts, hotline messages and events for every party it
    /// touches; an index keyed by party first has a tail per party, whose page each commit
    /// rewrites (see `0008_time_first_party_lists`). Those tables are indexed by time,
    /// sequence or id first. (Intents stay keyed by party and id, their address: a write
    /// adds or changes only its own.)
    #[tokio::test]
    async fn no_index_of_the_tables_a_write_adds_to_is_keyed_by_party_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_sqlite_checkpointing(&dir.path().join("deconflict.db"), false)
            .await
            .unwrap();
        let mut first_columns: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT m.tbl_name, m.name, i.name FROM sqlite_master AS m, pragma_index_info(m.name) AS i \
             WHERE m.type = 'index' AND i.seqno = 0 \
             AND m.tbl_name IN ('conflicts', 'alerts', 'hotline_messages', 'events')",
        )
        .fetch_all(&store.pool)
        .await
        .unwrap();
        first_columns.sort();
        let keyed_by_party: Vec<_> = first_columns
            .iter()
            .filter(|(_, _, column)| column.contains("party"))
            .collect();
        assert!(keyed_by_party.is_empty(), "{keyed_by_party:?}");
        // The lists by party are read in order from these, oldest or newest first.
        for (table, index, column) in [
            ("alerts", "alerts_by_raised", "raised_ms"),
            ("conflicts", "conflicts_by_opened", "opened_ms"),
            ("conflicts", "conflicts_open_by_opened", "opened_ms"),
            ("hotline_messages", "hotline_messages_by_sent", "sent_ms"),
        ] {
            assert!(
                first_columns
                    .iter()
                    .any(|row| row == &(table.into(), index.into(), column.into())),
                "{first_columns:?}"
            );
        }
    }
}
