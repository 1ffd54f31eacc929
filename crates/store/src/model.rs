//! The rows the store keeps and the mutations a group commit is made of.
//!
//! JSON columns (intent volumes, conflict details, sealed audit entries, agreement terms)
//! are held as `serde_json::Value`: the server owns their shape and validates it before it
//! writes; the store only keeps it. Intent volumes and conflict details are shared
//! [`JsonDocument`]s (`Arc`): one record is held in the server's memory, in a group commit
//! and in the answer at once, and copies share the document, which is its text, parsed
//! only when asked for. Event data is held as its JSON text ([`EventData`]).

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};

use serde_json::value::RawValue;
use serde_json::Value;

use crate::UnixMillis;

/// A name read from the database or from a client that no variant carries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {name:?}; expected one of {expected}")]
pub struct UnknownName {
    pub what: &'static str,
    pub name: String,
    pub expected: &'static str,
}

macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownName;
            fn from_str(text: &str) -> Result<Self, UnknownName> {
                match text {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownName {
                        what: $what,
                        name: text.to_owned(),
                        expected: concat!($("`", $text, "` "),+),
                    }),
                }
            }
        }
    };
}

named_enum!(
    /// What a party may do: `party` files intents and answers proposals; `observer` (the
    /// working group) reads what is disclosed to observers; `admin` manages parties.
    Role, "role", { Party => "party", Observer => "observer", Admin => "admin" }
);

named_enum!(
    /// The lifecycle of an operational intent (ASTM F3548 states the contract keeps).
    IntentState, "intent state", { Accepted => "accepted", Activated => "activated", Ended => "ended" }
);

named_enum!(
    /// Where a version of the agreement stands.
    AgreementStatus, "agreement status", {
        Pending => "pending",
        InForce => "in_force",
        Superseded => "superseded",
        Rejected => "rejected",
    }
);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyRecord {
    pub id: String,
    pub name: String,
    pub role: Role,
    /// Hex SHA-256 of the bearer token; the token itself is never stored.
    pub token_sha256: String,
    pub created_ms: UnixMillis,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IntentRecord {
    pub party_id: String,
    /// Chosen by the party; unique within the party only.
    pub id: String,
    pub version: i64,
    pub state: IntentState,
    /// The contract's Volume4D array as the party sent it (validated).
    pub volumes: Arc<JsonDocument>,
    pub created_ms: UnixMillis,
    pub updated_ms: UnixMillis,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConflictRecord {
    /// Opaque and random; the only reference either side gets to the other's intent.
    pub id: String,
    pub party_a: String,
    pub intent_a: String,
    pub party_b: String,
    pub intent_b: String,
    pub opened_ms: UnixMillis,
    pub updated_ms: UnixMillis,
    pub resolved_ms: Option<UnixMillis>,
    pub acked_a_ms: Option<UnixMillis>,
    pub acked_b_ms: Option<UnixMillis>,
    /// What the server computed about the conflict (regions, bands, windows, and the
    /// volume indexes of each side); the server decides what each viewer sees of it.
    pub details: Arc<JsonDocument>,
}

impl ConflictRecord {
    pub fn involves(&self, party_id: &str) -> bool {
        self.party_a == party_id || self.party_b == party_id
    }
}

/// A JSON document held as its compact text, written once when the document is made, and
/// parsed into a [`Value`] only when something asks for one.
///
/// The store's single writer binds the text as it is: an intent's volumes are written out
/// by the HTTP handler that received them, beside other requests, and a conflict's details
/// by whoever computed them, instead of by the writer inside every commit (where writing
/// them out was an eighth of the writer thread's time). A document serializes as its text,
/// unchanged, so answers and events embed a conflict's regions without copying them into
/// a `Value` or printing their numbers again for every viewer; and the conflicts the
/// server keeps in memory hold only their text (at 100,000 stored intents the server's
/// resident memory after start fell from 1.15-1.29 GB to 0.83-0.96 GB).
/// Dereferences to the [`Value`], parsed on first use and kept.
#[derive(Debug, Clone)]
pub struct JsonDocument {
    raw: Box<RawValue>,
    value: OnceLock<Value>,
}

impl JsonDocument {
    /// `value` with its text written now.
    pub fn new(value: Value) -> JsonDocument {
        // Writing a `Value` cannot fail: its maps' keys are strings.
        let raw = serde_json::value::to_raw_value(&value).expect("a Value writes as JSON");
        JsonDocument {
            raw,
            value: OnceLock::from(value),
        }
    }

    /// [`JsonDocument::new`], shared.
    pub fn shared(value: Value) -> Arc<JsonDocument> {
        Arc::new(JsonDocument::new(value))
    }

    /// The document of anything serializable, written straight to text without building
    /// a `Value` (an error when it cannot be written as JSON: a map with non-string keys).
    pub fn of<T: serde::Serialize + ?Sized>(data: &T) -> serde_json::Result<JsonDocument> {
        Ok(JsonDocument {
            raw: serde_json::value::to_raw_value(data)?,
            value: OnceLock::new(),
        })
    }

    /// A document of JSON text written elsewhere (read back from the store, or written in
    /// a canonical form by the caller): checked to be JSON (an error names what is wrong)
    /// but not parsed into a `Value` until one is needed.
    pub fn from_text(text: String) -> serde_json::Result<JsonDocument> {
        Ok(JsonDocument {
            raw: RawValue::from_string(text)?,
            value: OnceLock::new(),
        })
    }

    /// A document of JSON text serde_json has already written or checked: taken as it is.
    pub fn from_raw(raw: Box<RawValue>) -> JsonDocument {
        JsonDocument {
            raw,
            value: OnceLock::new(),
        }
    }

    /// The document as a `Value`, parsed from its text the first time it is asked for.
    pub fn value(&self) -> &Value {
        // The text is valid JSON (checked when the document was made), so parsing it fails
        // only for numbers or nesting serde_json will not read back; such a document reads
        // as null rather than failing the service.
        self.value
            .get_or_init(|| serde_json::from_str(self.raw.get()).unwrap_or(Value::Null))
    }

    /// The compact JSON text the store keeps.
    pub fn text(&self) -> &str {
        self.raw.get()
    }
}

impl std::ops::Deref for JsonDocument {
    type Target = Value;

    fn deref(&self) -> &Value {
        self.value()
    }
}

/// Equal when the values are: the text is the value written out.
impl PartialEq for JsonDocument {
    fn eq(&self, other: &JsonDocument) -> bool {
        self.text() == other.text() || self.value() == other.value()
    }
}

/// Written as its text, unchanged.
impl serde::Serialize for JsonDocument {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.raw.serialize(serializer)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    /// Global and increasing; the SSE event id.
    pub seq: i64,
    pub party_id: String,
    pub kind: String,
    pub data: EventData,
    pub time_ms: UnixMillis,
}

/// An event's data as JSON text, written once when the event is made: the store keeps
/// the text and subscribers receive it as it is, and copies share it. (Held as a
/// `Value`, each event was copied whole to be both stored and published, then written
/// out twice, once for the store and once per stream.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventData(Arc<str>);

impl EventData {
    /// The JSON text of `value`.
    pub fn new(value: &Value) -> EventData {
        EventData(crate::backend::json_text(value).into())
    }

    /// The JSON text of anything serializable, written without building a `Value`
    /// first (`None` when it cannot be written as JSON: a map with non-string keys).
    pub fn of<T: serde::Serialize + ?Sized>(data: &T) -> Option<EventData> {
        serde_json::to_string(data)
            .ok()
            .map(|text| EventData(text.into()))
    }

    /// JSON text already written (the text of the audit log's canonical form of the same
    /// data): a `RawValue` is one JSON value, so it is not read again to check it.
    pub fn of_raw(raw: &RawValue) -> EventData {
        EventData(raw.get().into())
    }

    /// Text read back from the store, which only ever holds what [`EventData::new`] wrote.
    pub(crate) fn from_stored(text: String) -> EventData {
        EventData(text.into())
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The data parsed again (for tests and tools; the service passes the text on).
    pub fn to_value(&self) -> Value {
        serde_json::from_str(&self.0).unwrap_or(Value::Null)
    }
}

impl From<Value> for EventData {
    fn from(value: Value) -> EventData {
        EventData::new(&value)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub seq: i64,
    /// One sealed audit entry as its canonical JSON text, kept byte for byte (re-spelling
    /// its numbers would change nothing it hashes, but the text is what was signed).
    pub sealed_json: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AgreementAnswer {
    pub party_id: String,
    pub accepted: bool,
    pub answered_ms: UnixMillis,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AgreementRecord {
    pub version: i64,
    pub terms: Value,
    /// `None` for the initial terms the server started with.
    pub proposed_by: Option<String>,
    pub proposed_ms: UnixMillis,
    pub status: AgreementStatus,
    pub decided_ms: Option<UnixMillis>,
    /// Read back by [`crate::Store::agreements`]; ignored by [`Mutation::PutAgreement`]
    /// (answers are written with [`Mutation::PutAgreementAnswer`]).
    pub answers: Vec<AgreementAnswer>,
}

/// Where a re-check of every live intent under new terms stands while it runs in steps:
/// the agreement version whose terms it applies and the last intent it re-checked, as
/// `(party_id, id)` (`None` before the first step). Intents are re-checked in that order.
#[derive(Debug, Clone, PartialEq)]
pub struct RecheckRecord {
    pub version: i64,
    pub after: Option<(String, String)>,
}

/// One hotline message: from a party (or from the service itself, for the threads it
/// opens automatically) to one party, with an answer deadline.
#[derive(Debug, Clone, PartialEq)]
pub struct HotlineMessageRecord {
    pub id: String,
    /// Every message of a conversation shares its first message's thread id.
    pub thread: String,
    /// `None` when the service itself wrote the message.
    pub from_party: Option<String>,
    pub to_party: String,
    pub text: String,
    /// `{"conflict": id}`, `{"alert": id}` or `None`.
    pub about: Option<Value>,
    /// The message this one answers (in the same thread).
    pub reply_to: Option<String>,
    pub sent_ms: UnixMillis,
    pub answer_within_s: f64,
    pub answer_by_ms: UnixMillis,
    pub acked_ms: Option<UnixMillis>,
    pub acked_by: Option<String>,
    /// When the deadline passed unacknowledged and the message escalated.
    pub escalated_ms: Option<UnixMillis>,
}

impl HotlineMessageRecord {
    /// Whether the message is from or to the party.
    pub fn involves(&self, party_id: &str) -> bool {
        self.from_party.as_deref() == Some(party_id) || self.to_party == party_id
    }

    /// Neither acknowledged nor escalated yet: its deadline still runs.
    pub fn is_unanswered(&self) -> bool {
        self.acked_ms.is_none() && self.escalated_ms.is_none()
    }
}

/// One sampled point of an aircraft's track (see the live tracks in the server).
#[derive(Debug, Clone, PartialEq)]
pub struct TrackSampleRecord {
    pub party_id: String,
    pub aircraft_id: String,
    pub time_ms: UnixMillis,
    pub lat: f64,
    pub lon: f64,
    pub alt_m: f64,
    pub vn_mps: f64,
    pub ve_mps: f64,
    pub vu_mps: f64,
}

/// A tactical alert between two aircraft of different parties. `ref_a` and `ref_b` are
/// the opaque references under which aircraft a and b are shown to the other side.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRecord {
    pub id: String,
    pub party_a: String,
    pub aircraft_a: String,
    pub ref_a: String,
    pub party_b: String,
    pub aircraft_b: String,
    pub ref_b: String,
    /// `advisory`, `caution` or `warning` (the last level while cleared).
    pub level: String,
    pub raised_ms: UnixMillis,
    pub updated_ms: UnixMillis,
    pub cleared_ms: Option<UnixMillis>,
    /// The assessment and both aircraft's states at the last change (server JSON).
    pub details: Value,
}

impl AlertRecord {
    pub fn involves(&self, party_id: &str) -> bool {
        self.party_a == party_id || self.party_b == party_id
    }
}

/// One change to durable state.
#[derive(Debug, Clone, PartialEq)]
pub enum Mutation {
    InsertParty(PartyRecord),
    /// Records that the `party.added` entry of a party added directly in the store (see
    /// [`crate::Store::unaudited_parties`]) is in the audit log now.
    MarkPartyAudited(String),
    PutIntent(IntentRecord),
    DeleteIntent {
        party_id: String,
        id: String,
    },
    PutConflict(ConflictRecord),
    PutAlert(AlertRecord),
    AppendEvent(EventRecord),
    AppendAudit(AuditRecord),
    PutAgreement(AgreementRecord),
    PutAgreementAnswer {
        version: i64,
        answer: AgreementAnswer,
    },
    /// Inserts a hotline message or updates its acknowledgement and escalation.
    PutHotlineMessage(HotlineMessageRecord),
    /// Records how far the re-check under new terms has come (`Some`), or that it is
    /// finished (`None`); read back by [`crate::Store::recheck`].
    SetRecheck(Option<RecheckRecord>),
}

/// The mutations of one group commit, in the order they were decided.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    pub mutations: Vec<Mutation>,
}

impl Batch {
    pub fn push(&mut self, mutation: Mutation) {
        self.mutations.push(mutation);
    }

    pub fn is_empty(&self) -> bool {
        self.mutations.is_empty()
    }

    pub fn len(&self) -> usize {
        self.mutations.len()
    }

    /// The batch reduced to its net effect, so each row is written by one multi-row
    /// statement: the last write of each key wins, a delete after a put removes the row.
    pub(crate) fn coalesce(&self) -> Coalesced<'_> {
        let mut out = Coalesced::default();
        let mut intents: HashMap<(&str, &str), Option<&IntentRecord>> = HashMap::new();
        let mut intent_order: Vec<(&str, &str)> = Vec::new();
        let mut conflicts: HashMap<&str, &ConflictRecord> = HashMap::new();
        let mut conflict_order: Vec<&str> = Vec::new();
        let mut alerts: HashMap<&str, &AlertRecord> = HashMap::new();
        let mut alert_order: Vec<&str> = Vec::new();
        let mut agreements: HashMap<i64, &AgreementRecord> = HashMap::new();
        let mut agreement_order: Vec<i64> = Vec::new();
        let mut answers: HashMap<(i64, &str), &AgreementAnswer> = HashMap::new();
        let mut answer_order: Vec<(i64, &str)> = Vec::new();
        let mut messages: HashMap<&str, &HotlineMessageRecord> = HashMap::new();
        let mut message_order: Vec<&str> = Vec::new();
        for mutation in &self.mutations {
            match mutation {
                Mutation::InsertParty(party) => out.parties.push(party),
                Mutation::MarkPartyAudited(id) => out.parties_audited.push(id.as_str()),
                Mutation::PutIntent(intent) => {
                    let key = (intent.party_id.as_str(), intent.id.as_str());
                    if intents.insert(key, Some(intent)).is_none() {
                        intent_order.push(key);
                    }
                }
                Mutation::DeleteIntent { party_id, id } => {
                    let key = (party_id.as_str(), id.as_str());
                    if intents.insert(key, None).is_none() {
                        intent_order.push(key);
                    }
                }
                Mutation::PutConflict(conflict) => {
                    if conflicts.insert(conflict.id.as_str(), conflict).is_none() {
                        conflict_order.push(conflict.id.as_str());
                    }
                }
                Mutation::PutAlert(alert) => {
                    if alerts.insert(alert.id.as_str(), alert).is_none() {
                        alert_order.push(alert.id.as_str());
                    }
                }
                Mutation::AppendEvent(event) => out.events.push(event),
                Mutation::AppendAudit(record) => out.audit.push(record),
                Mutation::PutAgreement(agreement) => {
                    if agreements.insert(agreement.version, agreement).is_none() {
                        agreement_order.push(agreement.version);
                    }
                }
                Mutation::PutAgreementAnswer { version, answer } => {
                    let key = (*version, answer.party_id.as_str());
                    if answers.insert(key, answer).is_none() {
                        answer_order.push(key);
                    }
                }
                Mutation::PutHotlineMessage(message) => {
                    if messages.insert(message.id.as_str(), message).is_none() {
                        message_order.push(message.id.as_str());
                    }
                }
                Mutation::SetRecheck(recheck) => out.recheck = Some(recheck.as_ref()),
            }
        }
        for key in intent_order {
            match intents[&key] {
                Some(intent) => out.intent_puts.push(intent),
                None => out.intent_deletes.push(key),
            }
        }
        out.conflicts = conflict_order.into_iter().map(|id| conflicts[id]).collect();
        out.alerts = alert_order.into_iter().map(|id| alerts[id]).collect();
        out.agreements = agreement_order
            .into_iter()
            .map(|v| agreements[&v])
            .collect();
        out.answers = answer_order
            .into_iter()
            .map(|key| (key.0, answers[&key]))
            .collect();
        out.hotline_messages = message_order.into_iter().map(|id| messages[id]).collect();
        out
    }
}

#[derive(Default)]
pub(crate) struct Coalesced<'a> {
    pub parties: Vec<&'a PartyRecord>,
    pub parties_audited: Vec<&'a str>,
    pub intent_puts: Vec<&'a IntentRecord>,
    pub intent_deletes: Vec<(&'a str, &'a str)>,
    pub conflicts: Vec<&'a ConflictRecord>,
    pub alerts: Vec<&'a AlertRecord>,
    pub events: Vec<&'a EventRecord>,
    pub audit: Vec<&'a AuditRecord>,
    pub agreements: Vec<&'a AgreementRecord>,
    pub answers: Vec<(i64, &'a AgreementAnswer)>,
    pub hotline_messages: Vec<&'a HotlineMessageRecord>,
    /// The last [`Mutation::SetRecheck`] of the batch, if any.
    pub recheck: Option<Option<&'a RecheckRecord>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_document_keeps_its_text_and_parses_it_only_when_asked() {
        #[derive(serde::Serialize)]
        struct Region {
            coordinates: Vec<[f64; 2]>,
            name: &'static str,
        }
        let document = JsonDocument::of(&Region {
            coordinates: vec![[38.25, 35.5], [38.5, 35.0]],
            name: "north",
        })
        .unwrap();
        assert_eq!(
            document.text(),
            r#"{"coordinates":[[38.25,35.5],[38.5,35.0]],"name":"north"}"#
        );
        assert!(document.value.get().is_none(), "not parsed until asked");
        assert_eq!(document["name"], "north");
        assert_eq!(document["coordinates"][1][0], 38.5);

        // Embedded in another document as its text, unchanged.
        #[derive(serde::Serialize)]
        struct Answer<'a> {
            region: &'a JsonDocument,
        }
        let answer = serde_json::to_string(&Answer { region: &document }).unwrap();
        assert_eq!(answer, format!(r#"{{"region":{}}}"#, document.text()));

        // Equal to the same value built another way.
        assert_eq!(
            document,
            JsonDocument::new(
                json!({"name": "north", "coordinates": [[38.25, 35.5], [38.5, 35.0]]})
            )
        );
    }

    #[test]
    fn stored_text_that_is_not_json_is_refused() {
        assert!(JsonDocument::from_text(r#"{"overlaps": [1, 2]}"#.into()).is_ok());
        for text in ["", "{", r#"{"a": 1} trailing"#, "[1,]"] {
            assert!(
                JsonDocument::from_text(text.into()).is_err(),
                "{text:?} accepted"
            );
        }
    }
}
