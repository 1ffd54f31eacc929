//! The hotline inside the writer: sending a message, acknowledging one, escalating those
//! whose deadline passed, and the threads the service opens by itself.
//!
//! Every message neither acknowledged nor escalated keeps its deadline in the engine's
//! state ([`HotlineDeadlines`], loaded from the store at start), so escalation is a look
//! at the front of an ordered set, not a query.
//!
//! Architecture invariant: a message is escalated at most once, and only while it is
//! unacknowledged; acknowledging it (or a reply from its recipient) stops its deadline.
//! Messages, acknowledgements and escalations are decided here, like every other write:
//! the audit entry, the events and the mutation go into the same group commit.

use std::collections::BTreeSet;
use std::sync::Arc;

use foldhash::HashMap;
use serde_json::{json, Value};

use deconflict_audit::canonical::CanonicalJson;
use deconflict_audit::{AuditEntry, Visibility};
use deconflict_store::{
    EventData, HotlineMessageRecord, Mutation, PartyRecord, Role, Store, StoreError,
};

use super::{Engine, Pending};
use crate::error::ApiError;
use crate::hotline::HotlineMessageJson;
use crate::limits::HOTLINE_ESCALATIONS_PER_STEP_MAX;

/// What a hotline message is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum About {
    /// A strategic conflict; it must be one the sender can see.
    Conflict(String),
    /// A tactical alert, taken as given.
    Alert(String),
}

impl About {
    /// The wire shape: `{"conflict": id}` or `{"alert": id}`.
    pub fn to_value(&self) -> Value {
        match self {
            About::Conflict(id) => json!({"conflict": id}),
            About::Alert(id) => json!({"alert": id}),
        }
    }
}

/// A validated request to send a hotline message (the handler checked its shape; the
/// engine checks it against parties, conflicts and messages).
#[derive(Debug, Clone)]
pub struct HotlineSend {
    pub to: String,
    pub text: String,
    pub about: Option<About>,
    /// `None`: the agreement's `hotline.answer_within_s`.
    pub answer_within_s: Option<f64>,
    pub reply_to: Option<String>,
}

/// The deadlines of the messages still waiting for an answer.
#[derive(Debug, Default)]
pub(super) struct HotlineDeadlines {
    /// Behind an `Arc`, shared with the batch that wrote the message (`Pending::hotline`):
    /// the map holds every unanswered message (tens of thousands at 100,000 intents, two
    /// per conflict), growing a table of whole records copied them all, and each new
    /// message was copied whole for each of the two.
    unanswered: HashMap<String, Arc<HotlineMessageRecord>>,
    by_deadline: BTreeSet<(i64, String)>,
}

impl HotlineDeadlines {
    pub(super) async fn load(store: &dyn Store) -> Result<HotlineDeadlines, StoreError> {
        let mut deadlines = HotlineDeadlines::default();
        for record in store.unanswered_hotline_messages().await? {
            deadlines.track(Arc::new(record));
        }
        Ok(deadlines)
    }

    pub(super) fn len(&self) -> usize {
        self.unanswered.len()
    }

    /// Keeps the message's deadline when it is unanswered, drops it otherwise.
    fn track(&mut self, record: Arc<HotlineMessageRecord>) {
        if let Some(old) = self.unanswered.remove(&record.id) {
            self.by_deadline.remove(&(old.answer_by_ms, old.id.clone()));
        }
        if record.is_unanswered() {
            self.by_deadline
                .insert((record.answer_by_ms, record.id.clone()));
            self.unanswered.insert(record.id.clone(), record);
        }
        assert_eq!(self.unanswered.len(), self.by_deadline.len());
    }

    fn get(&self, id: &str) -> Option<&HotlineMessageRecord> {
        self.unanswered.get(id).map(|record| &**record)
    }

    /// The ids of the first `most` messages whose deadline is at or before `due_ms`,
    /// earliest first.
    fn due(&self, due_ms: i64, most: usize) -> Vec<String> {
        self.by_deadline
            .iter()
            .take_while(|(answer_by_ms, _)| *answer_by_ms <= due_ms)
            .take(most)
            .map(|(_, id)| id.clone())
            .collect()
    }
}

/// Whether `viewer` may read the message: its sender, its recipient, or an observer.
pub fn can_see(viewer: &PartyRecord, record: &HotlineMessageRecord) -> bool {
    viewer.role == Role::Observer || record.involves(&viewer.id)
}

impl Engine {
    /// The message as it stands in this batch, in memory, or in the store.
    async fn find_message(
        &self,
        id: &str,
        pending: &mut Pending,
    ) -> Result<Option<HotlineMessageRecord>, ApiError> {
        // Taken `&mut`: the batch is `Send` but not `Sync` (its replies are boxed
        // closures), so a shared reference to it cannot live in a future.
        let known = pending
            .hotline
            .get(id)
            .map(|record| &**record)
            .or_else(|| self.state.hotline.get(id))
            .cloned();
        match known {
            Some(record) => Ok(Some(record)),
            None => Ok(self.store.hotline_message(id).await?),
        }
    }

    /// Writes the message into the batch and keeps the deadlines in step with it: one
    /// copy for the store's write, the message itself shared by the deadlines, the
    /// batch's lookups and the caller.
    fn put_message(
        &mut self,
        record: HotlineMessageRecord,
        pending: &mut Pending,
    ) -> Arc<HotlineMessageRecord> {
        pending
            .batch
            .push(Mutation::PutHotlineMessage(record.clone()));
        let shared = Arc::new(record);
        self.state.hotline.track(shared.clone());
        pending.hotline.insert(shared.id.clone(), shared.clone());
        shared
    }

    /// Sends `kind` with the message to its sender (unless the service), its recipient
    /// and every observer, each once, and seals the audit entry both ends can read.
    fn notify_message(
        &mut self,
        kind: &str,
        actor: Option<&str>,
        record: &HotlineMessageRecord,
        now_ms: i64,
        observers: &[Arc<PartyRecord>],
        pending: &mut Pending,
    ) -> Result<(), ApiError> {
        // Written once, in canonical form: the data of every recipient's event and the
        // body of the audit entry, each a copy of that text.
        let raw = serde_json::value::to_raw_value(&HotlineMessageJson::from(record))
            .map_err(|_| ApiError::Internal)?;
        let data = CanonicalJson::of_sorted(&*raw).map_err(|_| ApiError::Internal)?;
        let mut recipients: Vec<&str> = Vec::new();
        let ends = record
            .from_party
            .as_deref()
            .into_iter()
            .chain([record.to_party.as_str()]);
        for party in ends.chain(observers.iter().map(|o| o.id.as_str())) {
            if !recipients.contains(&party) {
                recipients.push(party);
            }
        }
        let recipients: Vec<String> = recipients.into_iter().map(str::to_owned).collect();
        let event_data = EventData::of_raw(&raw);
        for party in &recipients {
            self.event(pending, now_ms, party, kind, event_data.clone());
        }
        let ends: Vec<String> = record
            .from_party
            .iter()
            .cloned()
            .chain([record.to_party.clone()])
            .collect();
        let entry = self.next_audit_entry(now_ms, kind, |seq, time| {
            let actor = actor.map(str::to_owned);
            AuditEntry::new_canonical(seq, time, kind, actor, Visibility::parties(ends), data)
        })?;
        self.push_audit(pending, entry);
        Ok(())
    }

    /// Marks the message acknowledged by its recipient (unless it is already).
    fn acknowledge(
        &mut self,
        mut record: HotlineMessageRecord,
        now_ms: i64,
        observers: &[Arc<PartyRecord>],
        pending: &mut Pending,
    ) -> Result<HotlineMessageRecord, ApiError> {
        if record.acked_ms.is_some() {
            return Ok(record);
        }
        record.acked_ms = Some(now_ms);
        record.acked_by = Some(record.to_party.clone());
        let record = self.put_message(record, pending);
        let by = record.to_party.clone();
        self.notify_message(
            "hotline.ack",
            Some(&by),
            &record,
            now_ms,
            observers,
            pending,
        )?;
        metrics::counter!("deconflict_hotline_acks_total").increment(1);
        Ok(Arc::unwrap_or_clone(record))
    }

    pub(super) async fn send_hotline(
        &mut self,
        caller: &PartyRecord,
        send: HotlineSend,
        now_ms: i64,
        observers: &[Arc<PartyRecord>],
        pending: &mut Pending,
    ) -> Result<HotlineMessageRecord, ApiError> {
        if caller.role == Role::Admin {
            return Err(ApiError::Forbidden(
                "admins manage parties; hotline messages are for parties and observers".into(),
            ));
        }
        if send.to == caller.id {
            return Err(ApiError::Unprocessable(
                "to: a message goes to another party, not to yourself".into(),
            ));
        }
        match self.store.party(&send.to).await? {
            None => {
                return Err(ApiError::Unprocessable(format!(
                    "to: there is no party {:?}",
                    send.to
                )))
            }
            Some(party) if party.role == Role::Admin => {
                return Err(ApiError::Unprocessable(format!(
                    "to: {:?} is an admin; write to a party or an observer",
                    send.to
                )))
            }
            Some(_) => {}
        }
        if let Some(About::Conflict(conflict_id)) = &send.about {
            let record = match self
                .state
                .open
                .get(conflict_id)
                .or_else(|| pending.resolved.get(conflict_id))
            {
                Some(record) => Some(record.clone()),
                None => self.store.conflict(conflict_id).await?,
            };
            let visible = record
                .is_some_and(|record| caller.role == Role::Observer || record.involves(&caller.id));
            if !visible {
                return Err(ApiError::Unprocessable(format!(
                    "about.conflict: no conflict {conflict_id:?} visible to you"
                )));
            }
        }
        let answered = match &send.reply_to {
            None => None,
            Some(reply_to) => match self.find_message(reply_to, pending).await? {
                Some(original) if can_see(caller, &original) => Some(original),
                _ => {
                    return Err(ApiError::Unprocessable(format!(
                        "reply_to: no hotline message {reply_to:?} visible to you"
                    )))
                }
            },
        };
        let answer_within_s = send
            .answer_within_s
            .unwrap_or(self.state.terms.hotline.answer_within_s);
        let thread = match &answered {
            Some(original) => original.thread.clone(),
            None => self.time_ordered_id("thr-", now_ms),
        };
        let record = HotlineMessageRecord {
            id: self.time_ordered_id("msg-", now_ms),
            thread,
            from_party: Some(caller.id.clone()),
            to_party: send.to,
            text: send.text,
            about: send.about.as_ref().map(About::to_value),
            reply_to: send.reply_to,
            sent_ms: now_ms,
            answer_within_s,
            answer_by_ms: answer_by_ms(now_ms, answer_within_s),
            acked_ms: None,
            acked_by: None,
            escalated_ms: None,
        };
        let record = self.put_message(record, pending);
        self.notify_message(
            "hotline.message",
            Some(&caller.id),
            &record,
            now_ms,
            observers,
            pending,
        )?;
        metrics::counter!("deconflict_hotline_messages_total").increment(1);
        if let Some(original) = answered {
            // A reply from the recipient answers the message it replies to.
            if original.to_party == caller.id {
                self.acknowledge(original, now_ms, observers, pending)?;
            }
        }
        Ok(Arc::unwrap_or_clone(record))
    }

    pub(super) async fn ack_hotline(
        &mut self,
        caller: &PartyRecord,
        message_id: &str,
        now_ms: i64,
        observers: &[Arc<PartyRecord>],
        pending: &mut Pending,
    ) -> Result<HotlineMessageRecord, ApiError> {
        let record = match self.find_message(message_id, pending).await? {
            Some(record) if can_see(caller, &record) => record,
            _ => return Err(ApiError::not_found("hotline message", message_id)),
        };
        if record.to_party != caller.id {
            return Err(ApiError::Forbidden(format!(
                "only the recipient, {:?}, acknowledges message {message_id:?}",
                record.to_party
            )));
        }
        self.acknowledge(record, now_ms, observers, pending)
    }

    /// Escalates every unanswered message whose deadline is at or before `due_ms`;
    /// returns how many.
    pub(super) fn escalate_due(
        &mut self,
        due_ms: i64,
        now_ms: i64,
        observers: &[Arc<PartyRecord>],
        pending: &mut Pending,
    ) -> Result<usize, ApiError> {
        let due = self
            .state
            .hotline
            .due(due_ms, HOTLINE_ESCALATIONS_PER_STEP_MAX);
        for id in &due {
            let Some(mut record) = self.state.hotline.get(id).cloned() else {
                continue;
            };
            assert!(record.is_unanswered());
            assert!(record.answer_by_ms <= due_ms);
            record.escalated_ms = Some(now_ms);
            let record = self.put_message(record, pending);
            self.notify_message(
                "hotline.escalated",
                None,
                &record,
                now_ms,
                observers,
                pending,
            )?;
            metrics::counter!("deconflict_hotline_escalations_total").increment(1);
        }
        Ok(due.len())
    }

    /// Opens a thread from the service itself about `about` (`{"conflict": id}` or
    /// `{"alert": id}`): one message with `text` to each of the two parties, answerable
    /// within the agreement's `hotline.answer_within_s`.
    pub(crate) fn open_thread(
        &mut self,
        about: Value,
        parties: [&str; 2],
        text: &str,
        now_ms: i64,
        observers: &[Arc<PartyRecord>],
        pending: &mut Pending,
    ) {
        let thread = self.time_ordered_id("thr-", now_ms);
        let answer_within_s = self.state.terms.hotline.answer_within_s;
        for party in parties {
            let record = HotlineMessageRecord {
                id: self.time_ordered_id("msg-", now_ms),
                thread: thread.clone(),
                from_party: None,
                to_party: party.to_owned(),
                text: text.to_owned(),
                about: Some(about.clone()),
                reply_to: None,
                sent_ms: now_ms,
                answer_within_s,
                answer_by_ms: answer_by_ms(now_ms, answer_within_s),
                acked_ms: None,
                acked_by: None,
                escalated_ms: None,
            };
            let record = self.put_message(record, pending);
            if let Err(error) =
                self.notify_message("hotline.message", None, &record, now_ms, observers, pending)
            {
                tracing::error!(%error, "hotline audit entry not sealed");
            }
            metrics::counter!("deconflict_hotline_messages_total").increment(1);
        }
    }

    /// The text of the thread opened for a new strategic conflict. It names no intent:
    /// observers read every message and never see an intent id.
    pub(super) fn conflict_thread_text(&self, conflict_id: &str) -> String {
        let mut text = format!(
            "Strategic conflict {conflict_id} opened between one of your planned flights and \
             another party's plan (see GET /v1/conflicts). Acknowledge this message, or call \
             the other party's duty officer"
        );
        let frequencies = &self.state.terms.frequencies;
        if frequencies.is_empty() {
            text.push_str(" on the agreed frequency.");
        } else {
            let named: Vec<String> = frequencies
                .iter()
                .map(|f| format!("{} {:.3} MHz", f.name, f.mhz))
                .collect();
            text.push_str(&format!(" on the agreed frequency ({}).", named.join(", ")));
        }
        text
    }
}

/// The deadline of a message sent at `sent_ms`, to the millisecond.
fn answer_by_ms(sent_ms: i64, answer_within_s: f64) -> i64 {
    sent_ms.saturating_add((answer_within_s * 1000.0).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: &str, answer_by_ms: i64) -> HotlineMessageRecord {
        HotlineMessageRecord {
            id: id.to_owned(),
            thread: format!("thr-{id}"),
            from_party: Some("coalition".into()),
            to_party: "russia".into(),
            text: "Please confirm.".into(),
            about: None,
            reply_to: None,
            sent_ms: 0,
            answer_within_s: answer_by_ms as f64 / 1000.0,
            answer_by_ms,
            acked_ms: None,
            acked_by: None,
            escalated_ms: None,
        }
    }

    /// One escalation step takes the earliest deadlines first, at most as many as it is
    /// allowed, and never a deadline still ahead; what it leaves is the next step's.
    #[test]
    fn a_step_takes_at_most_its_share_of_the_due_messages_earliest_first() {
        let mut deadlines = HotlineDeadlines::default();
        for (id, answer_by_ms) in [("d", 4_000), ("a", 1_000), ("c", 3_000), ("b", 2_000)] {
            deadlines.track(Arc::new(message(id, answer_by_ms)));
        }
        deadlines.track(Arc::new(HotlineMessageRecord {
            acked_ms: Some(500),
            ..message("acked", 500)
        }));
        assert_eq!(deadlines.due(3_000, 2), ["a", "b"]);
        assert_eq!(deadlines.due(3_000, 10), ["a", "b", "c"]);
        assert!(deadlines.due(999, 10).is_empty());
        deadlines.track(Arc::new(HotlineMessageRecord {
            escalated_ms: Some(3_000),
            ..message("a", 1_000)
        }));
        assert_eq!(deadlines.due(3_000, 2), ["b", "c"]);
    }
}
