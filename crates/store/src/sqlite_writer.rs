//! The embedded store's writer: one thread owning one SQLite connection that applies each
//! group commit as a whole, with cached prepared statements, and runs the statements that
//! prune old rows between two commits (so they never hold the write lock against it).
//!
//! Written by hand beside sqlx because a group commit through sqlx's SQLite driver costs
//! one hand-off between threads per statement (begin, one multi-row insert per table,
//! commit): on a loaded two-core machine each hand-off waits to be scheduled, and a
//! commit of about a hundred rows took 3 to 7 ms of which the database's own work was
//! under one. Here a batch crosses threads once each way. Reads stay on sqlx's pool; in
//! WAL mode they see each commit as soon as it returns.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags, TransactionBehavior};
use tokio::sync::oneshot;

use crate::backend::{
    json_text, ALERT_COLUMNS, CONFLICT_COLUMNS, HOTLINE_COLUMNS, INTENT_COLUMNS, PARTY_COLUMNS,
    RECHECK_CLEAR, RECHECK_SET,
};
use crate::model::Batch;
use crate::StoreError;

/// What the writer thread is asked to do, in the order asked.
enum Job {
    /// Write a group commit.
    Apply(Batch, oneshot::Sender<Result<(), StoreError>>),
    /// Run one deleting statement with its two parameters (a time and a row limit); answers
    /// the rows deleted.
    Delete {
        sql: &'static str,
        before_ms: i64,
        limit: i64,
        done: oneshot::Sender<Result<u64, StoreError>>,
    },
}

/// The handle to the writer thread; the thread ends when the last handle is dropped.
pub(crate) struct SqliteWriter {
    jobs: std::sync::Mutex<std_mpsc::Sender<Job>>,
    /// Set by the background checkpoint task about once a second: the writer then copies
    /// the rest of the log itself after its next commit (see
    /// [`SqliteWriter::request_checkpoint_finish`]).
    finish_checkpoint: Arc<AtomicBool>,
}

impl SqliteWriter {
    /// Opens a second connection to the store at `path` (already created and migrated)
    /// for writing, on a thread of its own.
    pub fn open(path: &Path, busy_timeout: Duration) -> Result<SqliteWriter, StoreError> {
        // Its log writes are gathered into a few large ones per commit (see `wal_buffer`);
        // every commit syncs the log (`synchronous = FULL`), which passes them on first.
        let vfs = crate::wal_buffer::register()?;
        let connection = Connection::open_with_flags_and_vfs(path, OpenFlags::default(), vfs)
            .map_err(open_error)?;
        connection.busy_timeout(busy_timeout).map_err(open_error)?;
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                 PRAGMA wal_autocheckpoint = 0; PRAGMA cache_size = -65536; \
                 PRAGMA foreign_keys = ON;",
            )
            .map_err(open_error)?;
        let (jobs, receiver) = std_mpsc::channel::<Job>();
        let finish_checkpoint = Arc::new(AtomicBool::new(false));
        let finish = finish_checkpoint.clone();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                let mut connection = connection;
                while let Ok(job) = receiver.recv() {
                    match job {
                        Job::Apply(batch, done) => {
                            let _ =
                                done.send(write(&mut connection, &batch).map_err(database_error));
                        }
                        Job::Delete {
                            sql,
                            before_ms,
                            limit,
                            done,
                        } => {
                            let deleted = connection
                                .prepare_cached(sql)
                                .and_then(|mut statement| {
                                    statement.execute(params![before_ms, limit])
                                })
                                .map(|rows| rows as u64)
                                .map_err(database_error);
                            let _ = done.send(deleted);
                        }
                    }
                    if finish.swap(false, Ordering::Relaxed) {
                        finish_log_checkpoint(&connection);
                    }
                }
            })
            .map_err(|error| StoreError::Open(format!("cannot start the writer: {error}")))?;
        Ok(SqliteWriter {
            jobs: std::sync::Mutex::new(jobs),
            finish_checkpoint,
        })
    }

    /// Asks the writer to checkpoint the log itself after its next commit.
    ///
    /// A checkpoint running beside the writer copies the log into the database file
    /// without blocking commits, but commits keep appending to the log meanwhile, so it
    /// never catches up with a busy writer; and SQLite starts the log again from the
    /// beginning only when a commit finds it wholly copied. Without this the log grew
    /// without bound under steady load (645 MB after 24,000 writes), and every frame
    /// written extended the file. Run on the writer between two commits, the checkpoint
    /// only has to copy what was committed since the last background pass began, and
    /// the next commit then reuses the log from its start.
    pub fn request_checkpoint_finish(&self) {
        self.finish_checkpoint.store(true, Ordering::Relaxed);
    }

    /// Writes `batch` in one transaction; durable (`synchronous = FULL`) when it returns.
    pub async fn apply(&self, batch: Batch) -> Result<(), StoreError> {
        let (done, result) = oneshot::channel();
        self.send(Job::Apply(batch, done))?;
        result.await.map_err(|_| stopped())?
    }

    /// Runs `sql`, a `DELETE` taking a time (`$1`) and a row limit (`$2`), on the writer
    /// thread between two commits; answers the rows deleted.
    pub async fn delete(
        &self,
        sql: &'static str,
        before_ms: i64,
        limit: i64,
    ) -> Result<u64, StoreError> {
        let (done, result) = oneshot::channel();
        self.send(Job::Delete {
            sql,
            before_ms,
            limit,
            done,
        })?;
        result.await.map_err(|_| stopped())?
    }

    fn send(&self, job: Job) -> Result<(), StoreError> {
        self.jobs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .send(job)
            .map_err(|_| stopped())
    }
}

/// Copies whatever the log holds into the database file, from the writer's connection
/// between two commits (so no commit appends meanwhile). A reader still holding an older
/// snapshot can keep part of the log from being copied; the next round finishes it.
fn finish_log_checkpoint(connection: &Connection) {
    let started = std::time::Instant::now();
    match connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        Ok((row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
    }) {
        Ok((log_frames, copied_frames)) => tracing::debug!(
            log_frames,
            copied_frames,
            took_ms = started.elapsed().as_secs_f64() * 1e3,
            "writer finished the log's checkpoint"
        ),
        Err(error) => {
            tracing::warn!(%error, "checkpoint of the embedded store's log failed; retrying")
        }
    }
}

fn stopped() -> StoreError {
    StoreError::Open("the store's writer has stopped".into())
}

fn open_error(error: rusqlite::Error) -> StoreError {
    StoreError::Open(format!("cannot open the store for writing: {error}"))
}

fn database_error(error: rusqlite::Error) -> StoreError {
    StoreError::Write(error.to_string())
}

/// `INSERT INTO table (columns) VALUES (?1, …, ?n)` for `columns`.
fn insert(table: &str, columns: &str) -> String {
    let count = columns.split(',').count();
    let placeholders: Vec<String> = (1..=count).map(|n| format!("?{n}")).collect();
    format!(
        "INSERT INTO {table} ({columns}) VALUES ({})",
        placeholders.join(", ")
    )
}

/// The same rows, statements and upserts as the sqlx path of the PostgreSQL backend, one
/// row per statement execution.
fn write(connection: &mut Connection, batch: &Batch) -> Result<(), rusqlite::Error> {
    if batch.is_empty() {
        return Ok(());
    }
    let net = batch.coalesce();
    // IMMEDIATE takes the write lock at once (waiting out `party add` in another process
    // for up to the busy timeout) instead of failing if another writer got in between.
    let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if !net.parties.is_empty() {
        let mut statement = tx.prepare_cached(&insert("parties", PARTY_COLUMNS))?;
        for p in &net.parties {
            statement.execute(params![
                p.id,
                p.name,
                p.role.as_str(),
                p.token_sha256,
                p.created_ms
            ])?;
        }
    }
    if !net.parties_audited.is_empty() {
        let mut statement = tx.prepare_cached("UPDATE parties SET audited = TRUE WHERE id = ?1")?;
        for id in &net.parties_audited {
            statement.execute(params![id])?;
        }
    }
    if !net.intent_deletes.is_empty() {
        let mut statement =
            tx.prepare_cached("DELETE FROM intents WHERE party_id = ?1 AND id = ?2")?;
        for (party_id, id) in &net.intent_deletes {
            statement.execute(params![party_id, id])?;
        }
    }
    if !net.intent_puts.is_empty() {
        let sql = format!(
            "{} ON CONFLICT (party_id, id) DO UPDATE SET version = excluded.version, \
             state = excluded.state, volumes = excluded.volumes, updated_ms = excluded.updated_ms",
            insert("intents", INTENT_COLUMNS)
        );
        let mut statement = tx.prepare_cached(&sql)?;
        for i in &net.intent_puts {
            statement.execute(params![
                i.party_id,
                i.id,
                i.version,
                i.state.as_str(),
                i.volumes.text(),
                i.created_ms,
                i.updated_ms
            ])?;
        }
    }
    if !net.conflicts.is_empty() {
        let sql = format!(
            "{} ON CONFLICT (id) DO UPDATE SET updated_ms = excluded.updated_ms, \
             resolved_ms = excluded.resolved_ms, acked_a_ms = excluded.acked_a_ms, \
             acked_b_ms = excluded.acked_b_ms, details = excluded.details",
            insert("conflicts", CONFLICT_COLUMNS)
        );
        let mut statement = tx.prepare_cached(&sql)?;
        for c in &net.conflicts {
            statement.execute(params![
                c.id,
                c.party_a,
                c.intent_a,
                c.party_b,
                c.intent_b,
                c.opened_ms,
                c.updated_ms,
                c.resolved_ms,
                c.acked_a_ms,
                c.acked_b_ms,
                c.details.text()
            ])?;
        }
    }
    if !net.alerts.is_empty() {
        let sql = format!(
            "{} ON CONFLICT (id) DO UPDATE SET level = excluded.level, \
             updated_ms = excluded.updated_ms, cleared_ms = excluded.cleared_ms, \
             details = excluded.details",
            insert("alerts", ALERT_COLUMNS)
        );
        let mut statement = tx.prepare_cached(&sql)?;
        for a in &net.alerts {
            statement.execute(params![
                a.id,
                a.party_a,
                a.aircraft_a,
                a.ref_a,
                a.party_b,
                a.aircraft_b,
                a.ref_b,
                a.level,
                a.raised_ms,
                a.updated_ms,
                a.cleared_ms,
                json_text(&a.details)
            ])?;
        }
    }
    if !net.events.is_empty() {
        let mut statement = tx.prepare_cached(
            "INSERT INTO events (seq, party_id, kind, data, time_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for e in &net.events {
            statement.execute(params![
                e.seq,
                e.party_id,
                e.kind,
                e.data.as_str(),
                e.time_ms
            ])?;
        }
    }
    if !net.audit.is_empty() {
        let mut statement = tx.prepare_cached("INSERT INTO audit (seq, sealed) VALUES (?1, ?2)")?;
        for a in &net.audit {
            statement.execute(params![a.seq, a.sealed_json])?;
        }
    }
    if !net.agreements.is_empty() {
        let mut statement = tx.prepare_cached(
            "INSERT INTO agreements (version, terms, proposed_by, proposed_ms, status, decided_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (version) DO UPDATE SET \
             status = excluded.status, decided_ms = excluded.decided_ms",
        )?;
        for agreement in &net.agreements {
            statement.execute(params![
                agreement.version,
                json_text(&agreement.terms),
                agreement.proposed_by,
                agreement.proposed_ms,
                agreement.status.as_str(),
                agreement.decided_ms
            ])?;
        }
    }
    if !net.answers.is_empty() {
        let mut statement = tx.prepare_cached(
            "INSERT INTO agreement_answers (version, party_id, accepted, answered_ms) \
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT (version, party_id) DO UPDATE SET \
             accepted = excluded.accepted, answered_ms = excluded.answered_ms",
        )?;
        for (version, answer) in &net.answers {
            statement.execute(params![
                version,
                answer.party_id,
                i64::from(answer.accepted),
                answer.answered_ms
            ])?;
        }
    }
    if !net.hotline_messages.is_empty() {
        // A message's words, parties and deadline never change; only its acknowledgement
        // and escalation do.
        let sql = format!(
            "{} ON CONFLICT (id) DO UPDATE SET acked_ms = excluded.acked_ms, \
             acked_by = excluded.acked_by, escalated_ms = excluded.escalated_ms",
            insert("hotline_messages", HOTLINE_COLUMNS)
        );
        let mut statement = tx.prepare_cached(&sql)?;
        for m in &net.hotline_messages {
            statement.execute(params![
                m.id,
                m.thread,
                m.from_party,
                m.to_party,
                m.text,
                m.about.as_ref().map(json_text),
                m.reply_to,
                m.sent_ms,
                m.answer_within_s,
                m.answer_by_ms,
                m.acked_ms,
                m.acked_by,
                m.escalated_ms
            ])?;
        }
    }
    match net.recheck {
        None => {}
        Some(None) => {
            tx.prepare_cached(RECHECK_CLEAR)?.execute([])?;
        }
        Some(Some(recheck)) => {
            let (party_id, id) = recheck.after.clone().unzip();
            tx.prepare_cached(RECHECK_SET)?
                .execute(params![recheck.version, party_id, id])?;
        }
    }
    tx.commit()
}
