//! Re-checking every live intent when new terms come into force, in steps.
//!
//! New terms (new separation minima above all) can open, refresh or resolve conflicts
//! anywhere in the store. The re-check goes through the intents that were live when the
//! terms came into force, in `(party, id)` order, [`RECHECK_INTENTS_PER_STEP_MAX`] per
//! step. Each step is a batch of its own, committed like any other, and the writes that
//! arrive meanwhile are decided between the steps. Before, one pass over every intent
//! was one command and one transaction: at 100,000 intents every write waited behind it
//! for about 13 s, and the service held the whole pass's rows in memory at once.
//!
//! Writes are checked under the new terms from the moment they are in force, so an
//! intent written during the re-check is reconciled in full by its own write; the steps
//! only bring the others up to date. Each pair of intents is decided from its smaller key:
//! an intent's turn opens, refreshes or resolves its conflicts with greater keys, and keeps
//! those with smaller keys that still conflict, since they were decided at the smaller
//! key's turn or by a write since (a write reconciles its intent against every other).
//!
//! Until the last step, conflicts between intents not yet re-checked are those of the
//! old terms. The answer to the command that brought the terms into force (the last
//! acceptance, or a proposal of the only party) waits for the last step's commit, so when
//! it comes every conflict is as the new terms want.
//!
//! Each step's batch records how far the re-check has come ([`Mutation::SetRecheck`]) and
//! the last one's clears it, in the same transaction as the step's conflicts: a service
//! that stops part-way resumes after the last intent committed when it starts again.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use foldhash::{HashMap, HashMapExt as _};
use tokio::sync::oneshot;

use deconflict_store::{AgreementRecord, Mutation, PartyRecord, RecheckRecord, Store};

use super::{
    answer_once_committed, answer_when_committed, Engine, EngineError, IntentKey, Pending,
};
use crate::error::ApiError;
use crate::limits::RECHECK_INTENTS_PER_STEP_MAX;
use deconflict_core::strategic::StrategicIndex;

/// A re-check under way.
pub(super) struct Recheck {
    /// The agreement version whose terms it applies.
    version: i64,
    /// The intents still to re-check, ascending.
    remaining: VecDeque<IntentKey>,
    /// Intents re-checked so far since this service began it (for the log).
    done: usize,
    began: Instant,
}

impl Recheck {
    /// Every live intent of `index` after `after` (all of them for `None`), in order.
    fn over(
        version: i64,
        index: &StrategicIndex<String, String>,
        after: Option<&IntentKey>,
    ) -> Recheck {
        let mut remaining: Vec<IntentKey> = index
            .iter()
            .filter(|(party, intent, _)| {
                after.is_none_or(|(after_party, after_intent)| {
                    (*party, *intent) > (after_party, after_intent)
                })
            })
            .map(|(party, intent, _)| (party.clone(), intent.clone()))
            .collect();
        remaining.sort_unstable();
        Recheck {
            version,
            remaining: remaining.into(),
            done: 0,
            began: Instant::now(),
        }
    }

    /// The re-check a service stopped in the middle of, from where its last committed
    /// step left it.
    pub(super) async fn load(
        store: &dyn Store,
        index: &StrategicIndex<String, String>,
    ) -> Result<Option<Recheck>, EngineError> {
        let Some(stored) = store.recheck().await? else {
            return Ok(None);
        };
        let recheck = Recheck::over(stored.version, index, stored.after.as_ref());
        tracing::info!(
            version = stored.version,
            intents = recheck.remaining.len(),
            "resuming the re-check of the live intents under the terms in force"
        );
        Ok(Some(recheck))
    }

    /// How many intents are still to re-check.
    pub(super) fn remaining(&self) -> usize {
        self.remaining.len()
    }
}

impl Engine {
    /// Begins re-checking every live intent under the terms of `version`, which have just
    /// come into force. A re-check under earlier terms that is still running is replaced:
    /// this one covers every intent. With no live intent there is nothing to do.
    pub(super) fn start_recheck(&mut self, version: i64, pending: &mut Pending) {
        let recheck = Recheck::over(version, &self.state.index(), None);
        if recheck.remaining.is_empty() {
            if self.state.recheck.take().is_some() {
                pending.batch.push(Mutation::SetRecheck(None));
            }
            // Answers waiting for a re-check under earlier terms go out with this batch.
            pending.replies.append(&mut self.recheck_waiting);
            return;
        }
        tracing::info!(
            version,
            intents = recheck.remaining.len(),
            "re-checking every live intent under the new terms"
        );
        pending.batch.push(Mutation::SetRecheck(Some(RecheckRecord {
            version,
            after: None,
        })));
        self.state.recheck = Some(recheck);
    }

    /// Re-checks the next step of intents into `pending`. The last step clears the stored
    /// progress and takes the answers waiting for the re-check, so they go out when it
    /// commits.
    pub(super) fn recheck_step(
        &mut self,
        now_ms: i64,
        observers: &[Arc<PartyRecord>],
        pending: &mut Pending,
    ) {
        let Some(recheck) = self.state.recheck.as_mut() else {
            return;
        };
        let count = recheck.remaining.len().min(RECHECK_INTENTS_PER_STEP_MAX);
        let step: Vec<IntentKey> = recheck.remaining.drain(..count).collect();
        recheck.done += step.len();
        let version = recheck.version;
        let last_step = recheck.remaining.is_empty();
        for key in &step {
            self.recheck_intent(key, now_ms, observers, pending);
        }
        if last_step {
            // Still this re-check: reconciling intents never starts another.
            if let Some(finished) = self.state.recheck.take() {
                tracing::info!(
                    version,
                    intents = finished.done,
                    elapsed_ms = finished.began.elapsed().as_millis() as u64,
                    "re-checked every live intent under the new terms"
                );
            }
            pending.batch.push(Mutation::SetRecheck(None));
            pending.replies.append(&mut self.recheck_waiting);
        } else {
            pending.batch.push(Mutation::SetRecheck(Some(RecheckRecord {
                version,
                after: step.last().cloned(),
            })));
        }
    }

    /// Brings the conflicts of one intent under the terms in force: its conflicts with
    /// greater keys as the terms want them, those with smaller keys kept while they still
    /// conflict (see the module's documentation). An intent ended or deleted since the
    /// re-check began is skipped: its own write resolved its conflicts.
    fn recheck_intent(
        &mut self,
        key: &IntentKey,
        now_ms: i64,
        observers: &[Arc<PartyRecord>],
        pending: &mut Pending,
    ) {
        let separation = self.state.separation;
        let index = self.state.index();
        let Some(volumes) = index.get(&key.0, &key.1) else {
            return;
        };
        let mut wanted = HashMap::new();
        for found in index.conflicts(&key.0, volumes, &separation) {
            let other = (found.party, found.intent);
            if *key < other {
                wanted.insert(other, found.conflict);
            }
        }
        if let Some(open) = self.state.open_by_intent.get(key) {
            for conflict_id in open {
                let Some(record) = self.state.open.get(conflict_id) else {
                    continue;
                };
                let other = if record.party_a == key.0 && record.intent_a == key.1 {
                    (record.party_b.clone(), record.intent_b.clone())
                } else {
                    (record.party_a.clone(), record.intent_a.clone())
                };
                if other >= *key {
                    continue;
                }
                let Some(theirs) = index.get(&other.0, &other.1) else {
                    continue;
                };
                if let Some(conflict) =
                    deconflict_core::strategic::intents_conflict(volumes, theirs, &separation)
                {
                    wanted.insert(other, conflict);
                }
            }
        }
        drop(index);
        self.reconcile(
            key,
            wanted,
            &mut super::Precomputed::default(),
            "terms changed",
            now_ms,
            observers,
            pending,
        );
    }

    /// Answers an agreement command: once the re-check it started is committed whole when
    /// it brought terms into force over live intents, else with its batch like any other.
    pub(super) fn answer_when_rechecked(
        &mut self,
        pending: &mut Pending,
        reply: oneshot::Sender<Result<AgreementRecord, ApiError>>,
        outcome: Result<AgreementRecord, ApiError>,
    ) {
        let started = match (&outcome, &self.state.recheck) {
            (Ok(record), Some(recheck)) => recheck.version == record.version,
            _ => false,
        };
        if !started {
            answer_when_committed(pending, reply, outcome);
            return;
        }
        self.recheck_waiting
            .push(answer_once_committed(reply, outcome));
    }

    /// After the state is reloaded from the store: the answers that wait for a re-check
    /// the store does not hold are refused (503), since the batch that began it failed.
    pub(super) fn refuse_answers_without_recheck(&mut self) {
        if self.state.recheck.is_none() {
            for answer in self.recheck_waiting.drain(..) {
                answer(false);
            }
        }
    }
}
