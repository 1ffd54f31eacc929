//! The second stage of the writer: signs the last of a commit's audit entries (the engine
//! chained them all as it decided them), writes the batch to the store in one transaction
//! and, only once it is durable, answers its commands and publishes its events.
//!
//! It runs as its own task so that the engine decides batch N+1 while batch N is signed
//! and committed. Batches arrive in the order they were decided and are committed in that
//! order. A batch is decided on top of every batch sent before it, so when one fails,
//! every batch of the same `epoch` after it is refused too (503, nothing written) until
//! the engine, warned through `failed`, waits for the stage to drain, reloads its state
//! from the store and starts a new epoch.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use deconflict_audit::{sign_lines, AuditSigner, ChainedLine};
use deconflict_store::{AuditRecord, Batch, EventRecord, Mutation, Store};

use super::{AgreementSnapshot, Published, Reply};

/// Batches decided but not yet taken by the commit stage; the engine waits when the
/// stage is this far behind. The stage takes every waiting batch at once and commits them
/// as one transaction, so this bounds a commit's size, not the rate.
pub(super) const BATCHES_WAITING_MAX: usize = 64;

/// A decided batch: its store writes, its audit entries chained but not signed (following
/// the previous batch's), the answers to send and the events to publish once it is
/// durable, and the agreement to publish if it changed the one in force.
pub(super) struct Decided {
    /// When the engine handed it over (for `deconflict_commit_queue_seconds`).
    pub handed_over: std::time::Instant,
    pub batch: Batch,
    pub audit: Vec<ChainedLine>,
    pub replies: Vec<Reply>,
    pub events: Vec<EventRecord>,
    pub agreement: Option<AgreementSnapshot>,
}

pub(super) enum ToCommit {
    Batch {
        epoch: u64,
        decided: Decided,
    },
    /// Answered once every batch sent before it is committed or refused.
    Drained(oneshot::Sender<()>),
}

pub(super) struct CommitStage {
    pub store: Arc<dyn Store>,
    pub published: Arc<Published>,
    pub signer: AuditSigner,
    /// Set when a commit fails; the engine clears it when it has reloaded.
    pub failed: Arc<AtomicBool>,
    pub receiver: mpsc::Receiver<ToCommit>,
}

impl Decided {
    /// Appends `later`, decided after this batch, so that both commit as one.
    fn merge(&mut self, later: Decided) {
        self.batch.mutations.extend(later.batch.mutations);
        self.audit.extend(later.audit);
        self.replies.extend(later.replies);
        self.events.extend(later.events);
        if later.agreement.is_some() {
            self.agreement = later.agreement;
        }
    }
}

impl CommitStage {
    pub async fn run(mut self) {
        // The epoch of the last failed batch: later batches of that epoch were decided
        // on top of it and are refused.
        let mut failed_epoch: Option<u64> = None;
        let mut waiting = Vec::new();
        let mut idle = std::time::Instant::now();
        while self
            .receiver
            .recv_many(&mut waiting, BATCHES_WAITING_MAX)
            .await
            > 0
        {
            // Time with nothing to commit: near zero when this stage is the bottleneck.
            metrics::histogram!("deconflict_commit_idle_seconds")
                .record(idle.elapsed().as_secs_f64());
            // Consecutive batches of one epoch commit together: under load the engine
            // decides small batches faster than each could be made durable on its own.
            let mut merged: Vec<(u64, Decided)> = Vec::new();
            let mut drained = Vec::new();
            for message in waiting.drain(..) {
                match message {
                    ToCommit::Drained(done) => drained.push((merged.len(), done)),
                    // A marker is answered once every group before it has committed (a
                    // batch merged into the last of them after it only delays it).
                    ToCommit::Batch { epoch, decided } => match merged.last_mut() {
                        Some((last_epoch, last)) if *last_epoch == epoch => last.merge(decided),
                        _ => merged.push((epoch, decided)),
                    },
                }
            }
            let mut drained = drained.into_iter().peekable();
            for (index, (epoch, decided)) in merged.into_iter().enumerate() {
                while let Some((_, done)) = drained.next_if(|(at, _)| *at <= index) {
                    let _ = done.send(());
                }
                if failed_epoch.is_some_and(|failed| epoch <= failed) {
                    refuse(decided.replies);
                    continue;
                }
                if !self.commit(decided).await {
                    failed_epoch = Some(epoch);
                    self.failed.store(true, Ordering::SeqCst);
                }
            }
            for (_, done) in drained {
                let _ = done.send(());
            }
            idle = std::time::Instant::now();
        }
    }

    /// Signs, writes and answers one batch; false when it could not be made durable
    /// (its commands are then answered 503).
    async fn commit(&mut self, decided: Decided) -> bool {
        // Time waiting for the stage: the commits before it, when the stage is the bottleneck.
        metrics::histogram!("deconflict_commit_queue_seconds")
            .record(decided.handed_over.elapsed().as_secs_f64());
        let Decided {
            handed_over: _,
            mut batch,
            audit,
            replies,
            events,
            agreement,
        } = decided;
        // One signature, on the last entry, vouches for the whole commit's entries.
        let signing = std::time::Instant::now();
        for entry in sign_lines(audit, &self.signer) {
            batch.push(Mutation::AppendAudit(AuditRecord {
                seq: entry.head.seq as i64,
                sealed_json: entry.line,
            }));
        }
        metrics::histogram!("deconflict_commit_sign_seconds")
            .record(signing.elapsed().as_secs_f64());
        let started = std::time::Instant::now();
        let mutations = batch.len();
        let result = if batch.is_empty() {
            Ok(())
        } else {
            self.store.apply(batch).await
        };
        metrics::histogram!("deconflict_commit_seconds").record(started.elapsed().as_secs_f64());
        metrics::histogram!("deconflict_commit_mutations").record(mutations as f64);
        if let Err(error) = result {
            tracing::error!(%error, "group commit failed; answering 503 and reloading state");
            metrics::counter!("deconflict_commit_failures_total").increment(1);
            refuse(replies);
            return false;
        }
        let answering = std::time::Instant::now();
        if let Some(snapshot) = agreement {
            *self
                .published
                .agreement
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = snapshot;
        }
        for reply in replies {
            reply(true);
        }
        for event in events {
            // No subscriber is not an error: the event is stored for later.
            let seq = event.seq;
            let _ = self.published.events.send(Arc::new(event));
            self.published
                .last_sent_event_seq
                .store(seq, Ordering::SeqCst);
        }
        metrics::histogram!("deconflict_commit_answer_seconds")
            .record(answering.elapsed().as_secs_f64());
        true
    }
}

fn refuse(replies: Vec<Reply>) {
    for reply in replies {
        reply(false);
    }
}
