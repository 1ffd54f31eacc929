//! What the audit log records: one [`AuditEntry`] per event, and who may read it
//! ([`Visibility`]).

use std::borrow::Cow;
use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::canonical::{write_canonical, write_object_of_members, CanonicalJson, Member};

/// Who may read an entry in full. Everyone else sees the entry only as its hashes (a
/// withheld line), so that their export still verifies as one chain.
///
/// Serialized as `"all"` or `{"parties": ["coalition", "russia"]}` (sorted, no duplicates).
/// Observers and admins are not listed here: the service decides what they see and passes
/// its decision to the export as a predicate.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Every party.
    All,
    /// Only these parties (possibly none).
    Parties(BTreeSet<String>),
}

impl Visibility {
    /// Visible only to the given parties.
    pub fn parties<I, S>(parties: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Visibility::Parties(parties.into_iter().map(Into::into).collect())
    }

    /// Appends the canonical JSON of this visibility (what `serde_json::to_value` of it
    /// gives, written in canonical form) without building a `Value`.
    pub(crate) fn write_canonical(&self, out: &mut Vec<u8>) {
        match self {
            Visibility::All => out.extend_from_slice(b"\"all\""),
            Visibility::Parties(parties) => {
                // A `BTreeSet<String>` iterates in the byte order of its strings, the
                // canonical order of an array's elements here.
                out.extend_from_slice(b"{\"parties\":[");
                for (index, party) in parties.iter().enumerate() {
                    if index > 0 {
                        out.push(b',');
                    }
                    crate::canonical::write_string(party, out);
                }
                out.extend_from_slice(b"]}");
            }
        }
    }

    /// Whether `party` may read an entry with this visibility.
    pub fn allows(&self, party: &str) -> bool {
        match self {
            Visibility::All => true,
            Visibility::Parties(parties) => parties.contains(party),
        }
    }
}

/// Why an entry could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    #[error("seq must be at least 1 (the chain's first entry is 1)")]
    SeqZero,
    #[error("time {time:?} is not an RFC 3339 UTC time (for example 2015-10-20T10:00:00Z)")]
    TimeNotRfc3339Utc { time: String },
    #[error(
        "kind {kind:?} must be 1 to 100 characters of a-z, 0-9, '.', '_' or '-' \
         (for example \"conflict.opened\")"
    )]
    BadKind { kind: String },
    #[error("a party id in {field} is empty")]
    EmptyPartyId { field: &'static str },
    #[error("field {field} is missing")]
    MissingField { field: &'static str },
    #[error("field {field} {problem}")]
    BadField {
        field: &'static str,
        problem: String,
    },
    #[error("unexpected field {field:?}")]
    UnknownField { field: String },
}

const KIND_CHARS_MAX: usize = 100;

/// One event of the audit log. Constructed only through [`AuditEntry::new`] (or
/// deserialization, which runs the same checks), so every entry has a positive `seq`, an
/// RFC 3339 UTC `time`, a well-formed `kind` and non-empty party ids.
///
/// Its canonical JSON (see [`crate::canonical`]) is the object
/// `{"actor", "body", "kind", "seq", "time", "visible_to"}`; `actor` is `null` for the
/// service's own entries.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "Value", into = "Value")]
pub struct AuditEntry {
    seq: u64,
    time: String,
    kind: String,
    actor: Option<String>,
    visible_to: Visibility,
    body: Body,
}

/// An entry's body, as it was given: parts given in canonical form are kept apart so that
/// sealing copies their text instead of writing it out again.
#[derive(Debug, Clone)]
enum Body {
    /// A value ([`AuditEntry::new`]).
    Value(Value),
    /// An object's members given as values, and others in canonical form
    /// ([`AuditEntry::with_canonical_member`]); no key is in both.
    Members {
        values: Map<String, Value>,
        canonical: Vec<(String, CanonicalJson)>,
    },
    /// The whole body in canonical form ([`AuditEntry::new_canonical`]).
    Canonical(CanonicalJson),
}

/// Equal when every field is, the body compared as one value however it was given.
impl PartialEq for AuditEntry {
    fn eq(&self, other: &AuditEntry) -> bool {
        self.seq == other.seq
            && self.time == other.time
            && self.kind == other.kind
            && self.actor == other.actor
            && self.visible_to == other.visible_to
            && self.body() == other.body()
    }
}

impl AuditEntry {
    /// The field names of an entry, as they appear in its JSON object.
    pub const FIELDS: [&'static str; 6] = ["actor", "body", "kind", "seq", "time", "visible_to"];

    /// A validated entry. `time` must be RFC 3339 with a zero offset (`Z` or `+00:00`); it
    /// is kept exactly as given, since the hashes cover its text.
    pub fn new(
        seq: u64,
        time: impl Into<String>,
        kind: impl Into<String>,
        actor: Option<String>,
        visible_to: Visibility,
        body: Value,
    ) -> Result<Self, EntryError> {
        let time = time.into();
        let kind = kind.into();
        if seq == 0 {
            return Err(EntryError::SeqZero);
        }
        if !is_rfc3339_utc(&time) {
            return Err(EntryError::TimeNotRfc3339Utc { time });
        }
        let kind_is_well_formed = !kind.is_empty()
            && kind.len() <= KIND_CHARS_MAX
            && kind
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
        if !kind_is_well_formed {
            return Err(EntryError::BadKind { kind });
        }
        if actor.as_deref() == Some("") {
            return Err(EntryError::EmptyPartyId { field: "actor" });
        }
        if let Visibility::Parties(parties) = &visible_to {
            if parties.iter().any(String::is_empty) {
                return Err(EntryError::EmptyPartyId {
                    field: "visible_to",
                });
            }
        }
        Ok(AuditEntry {
            seq,
            time,
            kind,
            actor,
            visible_to,
            body: Body::Value(body),
        })
    }

    /// [`AuditEntry::new`] with a body already in canonical form, which sealing copies as
    /// it is (the caller wrote it once for another use as well: a hotline message's JSON is
    /// also the data of its events).
    pub fn new_canonical(
        seq: u64,
        time: impl Into<String>,
        kind: impl Into<String>,
        actor: Option<String>,
        visible_to: Visibility,
        body: CanonicalJson,
    ) -> Result<Self, EntryError> {
        let mut entry = AuditEntry::new(seq, time, kind, actor, visible_to, Value::Null)?;
        entry.body = Body::Canonical(body);
        Ok(entry)
    }

    /// The entry with `value`, already in canonical form, as member `key` of its body
    /// (which must be an object without that key). The member is hashed and written as
    /// the text it is: a large member the caller has written once anyway (an intent's
    /// volumes) is not written out again from a `Value` when the entry is sealed.
    pub fn with_canonical_member(
        mut self,
        key: impl Into<String>,
        value: CanonicalJson,
    ) -> Result<Self, EntryError> {
        let key = key.into();
        let (values, mut canonical) = match self.body {
            Body::Value(Value::Object(values)) => (values, Vec::new()),
            Body::Members { values, canonical } => (values, canonical),
            Body::Value(_) => return Err(bad("body", "must be an object to take members")),
            Body::Canonical(_) => return Err(bad("body", "is given whole in canonical form")),
        };
        if values.contains_key(&key) || canonical.iter().any(|(member, _)| *member == key) {
            return Err(EntryError::BadField {
                field: "body",
                problem: format!("already has a member {key:?}"),
            });
        }
        canonical.push((key, value));
        self.body = Body::Members { values, canonical };
        Ok(self)
    }

    /// The entry's position in the chain, from 1.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// When the service recorded it (RFC 3339 UTC, as given).
    pub fn time(&self) -> &str {
        &self.time
    }

    /// What happened, such as `intent.written` or `agreement.in_force`.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The party that caused it, or `None` for the service itself.
    pub fn actor(&self) -> Option<&str> {
        self.actor.as_deref()
    }

    /// Who may read it in full.
    pub fn visible_to(&self) -> &Visibility {
        &self.visible_to
    }

    /// The event's details, as the service chose to record them (members given in
    /// canonical form included: those are parsed back, so the body is then an owned copy).
    pub fn body(&self) -> Cow<'_, Value> {
        match &self.body {
            Body::Value(value) => Cow::Borrowed(value),
            Body::Members { values, canonical } => {
                let mut values = values.clone();
                for (key, member) in canonical {
                    values.insert(key.clone(), member.to_value());
                }
                Cow::Owned(Value::Object(values))
            }
            Body::Canonical(body) => Cow::Owned(body.to_value()),
        }
    }

    /// Writes the body in canonical form, parts given in canonical form copied as they are.
    pub(crate) fn write_canonical_body(&self, out: &mut Vec<u8>) {
        match &self.body {
            Body::Value(value) => write_canonical(value, out),
            Body::Members { values, canonical } => {
                let mut members: Vec<(&str, Member<'_>)> = values
                    .iter()
                    .map(|(key, value)| (key.as_str(), Member::Value(value)))
                    .collect();
                members.extend(
                    canonical
                        .iter()
                        .map(|(key, member)| (key.as_str(), Member::Canonical(member))),
                );
                write_object_of_members(&mut members, out);
            }
            Body::Canonical(body) => out.extend_from_slice(body.as_str().as_bytes()),
        }
    }

    /// The entry as a JSON object (the value whose canonical bytes are hashed).
    pub fn to_value(&self) -> Value {
        let mut map = Map::new();
        map.insert(
            "actor".into(),
            self.actor.clone().map_or(Value::Null, Value::String),
        );
        map.insert("body".into(), self.body().into_owned());
        map.insert("kind".into(), Value::String(self.kind.clone()));
        map.insert("seq".into(), Value::from(self.seq));
        map.insert("time".into(), Value::String(self.time.clone()));
        map.insert(
            "visible_to".into(),
            serde_json::to_value(&self.visible_to).expect("a visibility serializes"),
        );
        Value::Object(map)
    }

    /// Writes the canonical JSON of [`AuditEntry::to_value`] with the members `extra`
    /// added (none for the content hash; the seal's for a sealed line), borrowing the body
    /// rather than copying it.
    pub(crate) fn write_canonical_with(&self, extra: &[(&str, Value)], out: &mut Vec<u8>) {
        let actor = self.actor.clone().map_or(Value::Null, Value::String);
        let kind = Value::String(self.kind.clone());
        let seq = Value::from(self.seq);
        let time = Value::String(self.time.clone());
        let visible_to = serde_json::to_value(&self.visible_to).expect("a visibility serializes");
        let body = self.body();
        let mut members: Vec<(&str, &Value)> = vec![
            ("actor", &actor),
            ("body", &body),
            ("kind", &kind),
            ("seq", &seq),
            ("time", &time),
            ("visible_to", &visible_to),
        ];
        members.extend(extra.iter().map(|(key, value)| (*key, value)));
        crate::canonical::write_canonical_object(&mut members, out);
    }

    /// Builds an entry from a JSON object holding exactly [`AuditEntry::FIELDS`].
    pub fn from_value(value: Value) -> Result<Self, EntryError> {
        let Value::Object(mut map) = value else {
            return Err(EntryError::BadField {
                field: "entry",
                problem: "must be a JSON object".into(),
            });
        };
        if let Some(unknown) = map.keys().find(|k| !Self::FIELDS.contains(&k.as_str())) {
            return Err(EntryError::UnknownField {
                field: unknown.clone(),
            });
        }
        let mut take =
            |field: &'static str| map.remove(field).ok_or(EntryError::MissingField { field });
        let seq = take("seq")?
            .as_u64()
            .ok_or_else(|| bad("seq", "must be a non-negative integer"))?;
        let Value::String(time) = take("time")? else {
            return Err(bad("time", "must be a string"));
        };
        let Value::String(kind) = take("kind")? else {
            return Err(bad("kind", "must be a string"));
        };
        let actor = match take("actor")? {
            Value::Null => None,
            Value::String(actor) => Some(actor),
            _ => return Err(bad("actor", "must be a string or null")),
        };
        let visible_to: Visibility = serde_json::from_value(take("visible_to")?).map_err(|_| {
            bad(
                "visible_to",
                "must be \"all\" or {\"parties\": [party ids]}",
            )
        })?;
        let body = take("body")?;
        AuditEntry::new(seq, time, kind, actor, visible_to, body)
    }
}

fn bad(field: &'static str, problem: &str) -> EntryError {
    EntryError::BadField {
        field,
        problem: problem.into(),
    }
}

/// Whether `time` is RFC 3339 with a zero offset.
pub(crate) fn is_rfc3339_utc(time: &str) -> bool {
    chrono::DateTime::parse_from_rfc3339(time)
        .is_ok_and(|parsed| parsed.offset().local_minus_utc() == 0)
}

impl TryFrom<Value> for AuditEntry {
    type Error = EntryError;

    fn try_from(value: Value) -> Result<Self, Self::Error> {
        AuditEntry::from_value(value)
    }
}

impl From<AuditEntry> for Value {
    fn from(entry: AuditEntry) -> Value {
        entry.to_value()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(seq: u64, time: &str, kind: &str) -> Result<AuditEntry, EntryError> {
        AuditEntry::new(seq, time, kind, None, Visibility::All, json!({}))
    }

    /// The visibility's own canonical writer gives what writing its `Value` gives.
    #[test]
    fn a_visibility_writes_the_canonical_form_of_its_value() {
        for visibility in [
            Visibility::All,
            Visibility::parties(Vec::<String>::new()),
            Visibility::parties(["russia", "coalition", "Z\"quoted\\", "é"]),
        ] {
            let mut written = Vec::new();
            visibility.write_canonical(&mut written);
            let expected =
                crate::canonical::to_canonical_bytes(&serde_json::to_value(&visibility).unwrap());
            assert_eq!(
                String::from_utf8(written).unwrap(),
                String::from_utf8(expected).unwrap()
            );
        }
    }

    #[test]
    fn a_well_formed_entry_round_trips_through_json() {
        let original = AuditEntry::new(
            3,
            "2015-11-03T09:15:00Z",
            "alert.raised",
            Some("coalition".into()),
            Visibility::parties(["russia", "coalition"]),
            json!({"level": "warning", "dcpa_m": 7800.5}),
        )
        .unwrap();
        let text = serde_json::to_string(&original).unwrap();
        assert!(text.contains(r#""visible_to":{"parties":["coalition","russia"]}"#));
        let back: AuditEntry = serde_json::from_str(&text).unwrap();
        assert_eq!(back, original);
    }

    #[test]
    fn seq_zero_bad_times_and_bad_kinds_are_rejected() {
        assert_eq!(
            entry(0, "2015-10-20T10:00:00Z", "a"),
            Err(EntryError::SeqZero)
        );
        for time in [
            "2015-10-20 10:00:00",
            "2015-10-20T10:00:00+03:00",
            "yesterday",
        ] {
            assert!(matches!(
                entry(1, time, "a"),
                Err(EntryError::TimeNotRfc3339Utc { .. })
            ));
        }
        assert!(entry(1, "2015-10-20T10:00:00+00:00", "a").is_ok());
        for kind in ["", "Conflict.Opened", "a b", &"x".repeat(101)] {
            assert!(matches!(
                entry(1, "2015-10-20T10:00:00Z", kind),
                Err(EntryError::BadKind { .. })
            ));
        }
    }

    #[test]
    fn empty_party_ids_are_rejected() {
        let time = "2015-10-20T10:00:00Z";
        let actor = AuditEntry::new(1, time, "a", Some(String::new()), Visibility::All, json!(1));
        assert_eq!(actor, Err(EntryError::EmptyPartyId { field: "actor" }));
        let visible = AuditEntry::new(1, time, "a", None, Visibility::parties([""]), json!(1));
        assert_eq!(
            visible,
            Err(EntryError::EmptyPartyId {
                field: "visible_to"
            })
        );
    }

    #[test]
    fn deserializing_rejects_unknown_and_missing_fields() {
        let unknown = json!({"seq": 1, "time": "2015-10-20T10:00:00Z", "kind": "a", "actor": null,
                             "visible_to": "all", "body": {}, "note": "x"});
        assert_eq!(
            AuditEntry::from_value(unknown),
            Err(EntryError::UnknownField {
                field: "note".into()
            })
        );
        let missing = json!({"seq": 1, "time": "2015-10-20T10:00:00Z", "kind": "a",
                             "visible_to": "all", "body": {}});
        assert_eq!(
            AuditEntry::from_value(missing),
            Err(EntryError::MissingField { field: "actor" })
        );
    }

    #[test]
    fn visibility_allows_listed_parties_only() {
        let some = Visibility::parties(["coalition"]);
        assert!(some.allows("coalition"));
        assert!(!some.allows("russia"));
        assert!(Visibility::All.allows("russia"));
        assert!(!Visibility::parties(Vec::<String>::new()).allows("coalition"));
    }
}
