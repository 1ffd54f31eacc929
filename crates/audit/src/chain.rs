//! The hash chain: sealing an entry onto the chain's head ([`seal`], [`AuditChain`]) and the
//! sealed form that is stored and exported ([`SealedEntry`]).
//!
//! | symbol         | meaning                                                          |
//! |----------------|------------------------------------------------------------------|
//! | `content_hash` | SHA-256 of the entry's canonical JSON ([`crate::canonical`])       |
//! | `prev_hash`    | the previous entry's `entry_hash`; [`AuditHash::GENESIS`] for seq 1 |
//! | `entry_hash`   | SHA-256(`ENTRY_HASH_DOMAIN` ‖ `prev_hash` ‖ seq as 8 bytes big-endian ‖ `content_hash`) |
//! | `signature`    | Ed25519 by the server's key over the 32 bytes of `entry_hash`; on the last entry of each commit |
//!
//! The entry hash covers the content only through `content_hash`, which is what lets an
//! export withhold an entry from a party while keeping the chain checkable: the withheld
//! line carries the hashes and the signature, never the content.
//!
//! A signature over an entry hash vouches for every entry before it too, since each entry
//! hash covers the previous one. So the service signs only the last entry of what it commits
//! at once ([`seal_all`]): one signature per commit instead of one per entry (signing was a
//! tenth of the service's CPU under load). The chain's head as stored is always signed, and
//! every export ends in a signed trailer over its last entry hash, so every line of an
//! export is vouched for by the next signed line or by the trailer.

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::canonical::to_canonical_bytes;
use crate::entry::{AuditEntry, EntryError, Visibility};
use crate::keys::{AuditHash, AuditPublicKey, AuditSignature, AuditSigner};

/// Domain separation for entry hashes, so that no other SHA-256 input of the system can be
/// mistaken for one. The fields that follow have fixed lengths, so the input is unambiguous.
pub const ENTRY_HASH_DOMAIN: &[u8] = b"deconflict.audit.entry.v1\n";

/// The last sealed entry of a chain: its seq and entry hash. The empty chain's head is
/// [`ChainHead::GENESIS`] (seq 0, 32 zero bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainHead {
    pub seq: u64,
    pub hash: AuditHash,
}

impl ChainHead {
    /// The head of the empty chain.
    pub const GENESIS: ChainHead = ChainHead {
        seq: 0,
        hash: AuditHash::GENESIS,
    };
}

/// An entry with its place in the chain and, when it ends a commit, the server's
/// signature. Serialized flat: the entry's fields next to `prev_hash`, `content_hash`,
/// `entry_hash` and `signature` (hex; absent on an unsigned entry); this is also the form
/// of a visible export line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SealedEntry {
    #[serde(flatten)]
    pub entry: AuditEntry,
    pub prev_hash: AuditHash,
    pub content_hash: AuditHash,
    pub entry_hash: AuditHash,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<AuditSignature>,
}

/// Why an entry could not be sealed, or why a stored sealed entry does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("entry seq {found} does not follow the chain's head seq {head_seq}")]
    SeqDoesNotFollowHead { head_seq: u64, found: u64 },
    #[error("the content hash does not match the entry")]
    ContentHashMismatch,
    #[error("the entry hash does not match prev_hash, seq and content_hash")]
    EntryHashMismatch,
    #[error("the signature does not verify with the given public key")]
    BadSignature,
    #[error("the entry is not signed (only the last entry of each commit is)")]
    Unsigned,
    #[error("entry: {0}")]
    Entry(#[from] EntryError),
}

/// SHA-256 of the entry's canonical JSON.
pub fn content_hash(entry: &AuditEntry) -> AuditHash {
    let mut canonical = Vec::with_capacity(512);
    entry.write_canonical_with(&[], &mut canonical);
    AuditHash(Sha256::digest(&canonical).into())
}

pub(crate) fn content_hash_of_value(entry_value: &serde_json::Value) -> AuditHash {
    AuditHash(Sha256::digest(to_canonical_bytes(entry_value)).into())
}

/// The entry hash that links `content_hash` at `seq` to `prev_hash`.
pub fn entry_hash(prev_hash: &AuditHash, seq: u64, content_hash: &AuditHash) -> AuditHash {
    let mut hasher = Sha256::new();
    hasher.update(ENTRY_HASH_DOMAIN);
    hasher.update(prev_hash.0);
    hasher.update(seq.to_be_bytes());
    hasher.update(content_hash.0);
    AuditHash(hasher.finalize().into())
}

/// Seals `entry` onto the chain whose head is `prev` and signs it: the entry's seq must be
/// `prev.seq + 1`. Pure apart from the signature; the caller stores the result and makes
/// its [`SealedEntry::head`] the new head, atomically with whatever the entry records.
pub fn seal(
    prev: &ChainHead,
    entry: AuditEntry,
    signer: &AuditSigner,
) -> Result<SealedEntry, SealError> {
    let mut sealed = link(prev, entry)?;
    sealed.signature = Some(signer.sign(&sealed.entry_hash.0));
    Ok(sealed)
}

/// Seals `entries` in order onto the chain whose head is `prev` (their seqs must follow
/// on from it) and signs only the last, whose signature vouches for all of them: for a
/// writer that stores them in one transaction. Empty in, empty out.
pub fn seal_all(
    prev: &ChainHead,
    entries: impl IntoIterator<Item = AuditEntry>,
    signer: &AuditSigner,
) -> Result<Vec<SealedEntry>, SealError> {
    let mut head = *prev;
    let mut sealed = Vec::new();
    for entry in entries {
        let linked = link(&head, entry)?;
        head = linked.head();
        sealed.push(linked);
    }
    if let Some(last) = sealed.last_mut() {
        last.signature = Some(signer.sign(&last.entry_hash.0));
    }
    Ok(sealed)
}

/// A sealed entry as a store keeps it: the chain's head once it is appended, and its
/// line, the text [`SealedEntry::to_canonical_json`] gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedLine {
    pub head: ChainHead,
    pub line: String,
}

/// An entry chained onto the log but not yet signed: the chain's head once it is
/// appended, and its line without a `signature` member (where one would go is kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainedLine {
    pub head: ChainHead,
    line: Vec<u8>,
    /// Where the line's `"time"` member starts: a signature goes just before it, since
    /// keys sort "seq" < "signature" < "time".
    signature_at: usize,
}

/// Chains `entries` onto `prev`: each one's hashes and line, as [`seal_all_lines`] gives
/// them, but none signed yet. The hashes depend only on the entries and the chain before
/// them, so they can be worked out as entries are made, and the one signature per commit
/// added by [`sign_lines`] when the commit's last entry is known.
pub fn chain_lines(
    prev: &ChainHead,
    entries: impl IntoIterator<Item = AuditEntry>,
) -> Result<Vec<ChainedLine>, SealError> {
    let mut head = *prev;
    let mut lines = Vec::new();
    for entry in entries {
        follows(&head, entry.seq())?;
        let pieces = CanonicalPieces::of(&entry);
        let content_hash = pieces.content_hash();
        let entry_hash = entry_hash(&head.hash, entry.seq(), &content_hash);
        let (line, signature_at) = pieces.line(&head.hash, &content_hash, &entry_hash);
        head = ChainHead {
            seq: entry.seq(),
            hash: entry_hash,
        };
        lines.push(ChainedLine {
            head,
            line,
            signature_at,
        });
    }
    Ok(lines)
}

/// Signs the last of `lines` (consecutive entries of one chain: since each entry hash
/// covers the one before, that signature vouches for them all) and gives the lines a
/// store keeps.
pub fn sign_lines(mut lines: Vec<ChainedLine>, signer: &AuditSigner) -> Vec<SealedLine> {
    if let Some(last) = lines.last_mut() {
        let signature = signer.sign(&last.head.hash.0);
        let member = format!("\"signature\":\"{}\",", signature.to_hex());
        last.line
            .splice(last.signature_at..last.signature_at, member.into_bytes());
    }
    lines
        .into_iter()
        .map(|chained| SealedLine {
            head: chained.head,
            // Canonical JSON is built from ASCII punctuation and serde_json's UTF-8 output.
            line: String::from_utf8(chained.line).expect("canonical JSON is UTF-8"),
        })
        .collect()
}

/// [`seal_all`] straight to the lines a store keeps: the same hashes, signature and text,
/// but each entry's body is written in canonical form once, for both its content hash
/// and its line (the hash is taken over the pieces of the content as they are written).
/// Sealing first and writing lines after wrote every body twice.
pub fn seal_all_lines(
    prev: &ChainHead,
    entries: impl IntoIterator<Item = AuditEntry>,
    signer: &AuditSigner,
) -> Result<Vec<SealedLine>, SealError> {
    Ok(sign_lines(chain_lines(prev, entries)?, signer))
}

/// An entry's members in canonical form, each written once: `{"actor":…,"body":…`, then
/// `"kind":…`, `"seq":…` and `"time":…,"visible_to":…}`. Its content is these joined by
/// commas; its sealed line puts the seal's members between them in key order (`actor`,
/// `body`, `content_hash`, `entry_hash`, `kind`, `prev_hash`, `seq`, `signature`, `time`,
/// `visible_to`), as [`SealedEntry::to_canonical_json`] does by sorting.
struct CanonicalPieces {
    actor_body: Vec<u8>,
    kind: Vec<u8>,
    seq: Vec<u8>,
    time_visible_to: Vec<u8>,
}

impl CanonicalPieces {
    fn of(entry: &AuditEntry) -> CanonicalPieces {
        use crate::canonical::write_string;
        let mut actor_body = Vec::with_capacity(1024);
        actor_body.extend_from_slice(b"{\"actor\":");
        match entry.actor() {
            Some(actor) => write_string(actor, &mut actor_body),
            None => actor_body.extend_from_slice(b"null"),
        }
        actor_body.extend_from_slice(b",\"body\":");
        entry.write_canonical_body(&mut actor_body);
        let mut kind = b"\"kind\":".to_vec();
        write_string(entry.kind(), &mut kind);
        let seq = format!("\"seq\":{}", entry.seq()).into_bytes();
        let mut time_visible_to = b"\"time\":".to_vec();
        write_string(entry.time(), &mut time_visible_to);
        time_visible_to.extend_from_slice(b",\"visible_to\":");
        entry.visible_to().write_canonical(&mut time_visible_to);
        time_visible_to.push(b'}');
        CanonicalPieces {
            actor_body,
            kind,
            seq,
            time_visible_to,
        }
    }

    /// SHA-256 of the entry's canonical JSON, the same as [`content_hash`].
    fn content_hash(&self) -> AuditHash {
        let mut hasher = Sha256::new();
        hasher.update(&self.actor_body);
        for piece in [&self.kind, &self.seq, &self.time_visible_to] {
            hasher.update(b",");
            hasher.update(piece);
        }
        AuditHash(hasher.finalize().into())
    }

    /// The unsigned sealed line, and where its `"time"` member starts.
    fn line(
        &self,
        prev_hash: &AuditHash,
        content_hash: &AuditHash,
        entry_hash: &AuditHash,
    ) -> (Vec<u8>, usize) {
        let mut line = Vec::with_capacity(self.actor_body.len() + 512);
        line.extend_from_slice(&self.actor_body);
        for (key, hash) in [
            (&b",\"content_hash\":\""[..], content_hash),
            (b",\"entry_hash\":\"", entry_hash),
        ] {
            line.extend_from_slice(key);
            hash.write_hex(&mut line);
            line.push(b'"');
        }
        line.push(b',');
        line.extend_from_slice(&self.kind);
        line.extend_from_slice(b",\"prev_hash\":\"");
        prev_hash.write_hex(&mut line);
        line.extend_from_slice(b"\",");
        line.extend_from_slice(&self.seq);
        line.push(b',');
        let time_at = line.len();
        line.extend_from_slice(&self.time_visible_to);
        (line, time_at)
    }
}

/// Whether an entry numbered `seq` may be appended to the chain whose head is `prev`.
fn follows(prev: &ChainHead, seq: u64) -> Result<(), SealError> {
    if Some(seq) == prev.seq.checked_add(1) {
        Ok(())
    } else {
        Err(SealError::SeqDoesNotFollowHead {
            head_seq: prev.seq,
            found: seq,
        })
    }
}

/// The entry linked onto `prev`, unsigned.
fn link(prev: &ChainHead, entry: AuditEntry) -> Result<SealedEntry, SealError> {
    follows(prev, entry.seq())?;
    let content_hash = content_hash(&entry);
    let entry_hash = entry_hash(&prev.hash, entry.seq(), &content_hash);
    Ok(SealedEntry {
        entry,
        prev_hash: prev.hash,
        content_hash,
        entry_hash,
        signature: None,
    })
}

impl SealedEntry {
    /// The chain's head once this entry is appended.
    pub fn head(&self) -> ChainHead {
        ChainHead {
            seq: self.entry.seq(),
            hash: self.entry_hash,
        }
    }

    /// The sealed entry as one canonical JSON line (the form of a visible export line).
    /// Stores should keep this text as it is (a `TEXT` column, not PostgreSQL `JSONB`,
    /// which respells numbers) and check it with [`SealedEntry::check`] after loading.
    pub fn to_canonical_json(&self) -> String {
        use serde_json::Value;
        let mut extra = vec![
            ("prev_hash", Value::String(self.prev_hash.to_hex())),
            ("content_hash", Value::String(self.content_hash.to_hex())),
            ("entry_hash", Value::String(self.entry_hash.to_hex())),
        ];
        if let Some(signature) = &self.signature {
            extra.push(("signature", Value::String(signature.to_hex())));
        }
        let mut line = Vec::with_capacity(1024);
        self.entry.write_canonical_with(&extra, &mut line);
        // Canonical JSON is built from ASCII punctuation and serde_json's UTF-8 output.
        String::from_utf8(line).expect("canonical JSON is UTF-8")
    }

    /// Checks that the hashes match the entry and that it is signed, with a signature that
    /// verifies; for a store to assert after loading what it asserted before storing (the
    /// chain's head, which always ends a commit).
    pub fn check(&self, public_key: &AuditPublicKey) -> Result<(), SealError> {
        if content_hash(&self.entry) != self.content_hash {
            return Err(SealError::ContentHashMismatch);
        }
        if entry_hash(&self.prev_hash, self.entry.seq(), &self.content_hash) != self.entry_hash {
            return Err(SealError::EntryHashMismatch);
        }
        match &self.signature {
            None => Err(SealError::Unsigned),
            Some(signature) if !public_key.verifies(&self.entry_hash.0, signature) => {
                Err(SealError::BadSignature)
            }
            Some(_) => Ok(()),
        }
    }
}

/// A chain being appended to by one writer: the signer and the current head. A service
/// with several writers instead reads the head inside its transaction and calls [`seal`].
#[derive(Debug, Clone)]
pub struct AuditChain {
    signer: AuditSigner,
    head: ChainHead,
}

impl AuditChain {
    /// A chain continuing from `head` ([`ChainHead::GENESIS`] for a new log).
    pub fn new(signer: AuditSigner, head: ChainHead) -> Self {
        AuditChain { signer, head }
    }

    /// The last sealed entry's seq and hash.
    pub fn head(&self) -> ChainHead {
        self.head
    }

    /// The signer, for its public key.
    pub fn signer(&self) -> &AuditSigner {
        &self.signer
    }

    /// Seals the next entry (its seq is the head's plus one) and advances the head.
    pub fn append(
        &mut self,
        time: impl Into<String>,
        kind: impl Into<String>,
        actor: Option<String>,
        visible_to: Visibility,
        body: serde_json::Value,
    ) -> Result<SealedEntry, SealError> {
        let seq = self
            .head
            .seq
            .checked_add(1)
            .ok_or(SealError::SeqDoesNotFollowHead {
                head_seq: self.head.seq,
                found: self.head.seq,
            })?;
        let entry = AuditEntry::new(seq, time, kind, actor, visible_to, body)?;
        let sealed = seal(&self.head, entry, &self.signer)?;
        self.head = sealed.head();
        Ok(sealed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::CanonicalJson;
    use serde_json::{json, Value};

    fn signer() -> AuditSigner {
        AuditSigner::from_seed([3; 32])
    }

    #[test]
    fn the_first_entry_links_to_genesis_and_each_next_to_its_predecessor() {
        let mut chain = AuditChain::new(signer(), ChainHead::GENESIS);
        let first = chain
            .append("2015-10-20T10:00:00Z", "a", None, Visibility::All, json!(1))
            .unwrap();
        let second = chain
            .append("2015-10-20T10:00:01Z", "b", None, Visibility::All, json!(2))
            .unwrap();
        assert_eq!(first.prev_hash, AuditHash::GENESIS);
        assert_eq!(second.prev_hash, first.entry_hash);
        assert_eq!(chain.head(), second.head());
        assert_eq!(chain.head().seq, 2);
        first.check(&signer().public_key()).unwrap();
        second.check(&signer().public_key()).unwrap();
    }

    #[test]
    fn sealing_an_entry_whose_seq_does_not_follow_the_head_fails() {
        let entry = AuditEntry::new(
            5,
            "2015-10-20T10:00:00Z",
            "a",
            None,
            Visibility::All,
            json!(1),
        )
        .unwrap();
        assert_eq!(
            seal(&ChainHead::GENESIS, entry, &signer()),
            Err(SealError::SeqDoesNotFollowHead {
                head_seq: 0,
                found: 5
            })
        );
    }

    #[test]
    fn a_sealed_entry_round_trips_through_its_flat_json_and_still_checks() {
        let mut chain = AuditChain::new(signer(), ChainHead::GENESIS);
        let sealed = chain
            .append(
                "2015-10-20T10:00:00Z",
                "intent.written",
                Some("russia".into()),
                Visibility::parties(["russia"]),
                json!({"intent": "r-7", "version": 2}),
            )
            .unwrap();
        let text = serde_json::to_string(&sealed).unwrap();
        assert!(text.contains("\"kind\":\"intent.written\""));
        let back: SealedEntry = serde_json::from_str(&text).unwrap();
        assert_eq!(back, sealed);
        back.check(&signer().public_key()).unwrap();
    }

    #[test]
    fn the_sealed_line_is_the_canonical_json_of_its_serialization() {
        let mut chain = AuditChain::new(signer(), ChainHead::GENESIS);
        for body in [
            json!({}),
            json!({"z": [1, 2.5, {"b": null, "a": "é\n\u{1}"}], "a": true}),
            json!({"volumes": [{"polygon": [[35.1, 38.2], [35.2, 38.3]]}], "conflicts": []}),
        ] {
            let sealed = chain
                .append(
                    "2015-10-20T10:00:00.000Z",
                    "intent.put",
                    Some("coalition".into()),
                    Visibility::parties(["coalition", "russia"]),
                    body,
                )
                .unwrap();
            let expected =
                crate::canonical::to_canonical_string(&serde_json::to_value(&sealed).unwrap());
            assert_eq!(sealed.to_canonical_json(), expected);
            let entry_only = crate::canonical::to_canonical_bytes(&sealed.entry.to_value());
            assert_eq!(
                content_hash(&sealed.entry),
                AuditHash(Sha256::digest(entry_only).into())
            );
        }
    }

    /// A body member given in canonical form seals exactly as it would inside the body's
    /// `Value`: same hashes, same line, same signature, at any place among the keys.
    #[test]
    fn a_member_given_in_canonical_form_seals_as_the_same_member_in_the_body() {
        let volumes = json!([{"volume": {"outline_circle": {"center": {"lat": 35.5, "lng": 38.25},
            "radius": {"units": "M", "value": 1500.0}}}, "time_end": {"format": "RFC3339",
            "value": "2015-10-20T11:00:00Z"}}, "é\n\u{1}"]);
        for (others, key) in [
            (
                json!({"intent": "c-1", "version": 2, "conflicts": ["cf_1"]}),
                "volumes",
            ),
            (json!({"z": 1}), "a"),
            (json!({"a": 1}), "z"),
            (json!({}), "only"),
        ] {
            let entry = |body: Value| {
                AuditEntry::new(
                    7,
                    "2015-10-20T10:00:00.000Z",
                    "intent.put",
                    Some("coalition".into()),
                    Visibility::parties(["coalition"]),
                    body,
                )
                .unwrap()
            };
            let mut whole = others.clone();
            whole[key] = volumes.clone();
            let plain = entry(whole);
            let spliced = entry(others)
                .with_canonical_member(key, CanonicalJson::of(&volumes))
                .unwrap();
            assert_eq!(spliced, plain);
            assert_eq!(spliced.body(), plain.body());
            assert_eq!(content_hash(&spliced), content_hash(&plain));
            let head = ChainHead {
                seq: 6,
                hash: AuditHash([9; 32]),
            };
            let lines = |entry: AuditEntry| seal_all_lines(&head, [entry], &signer()).unwrap();
            assert_eq!(lines(spliced.clone()), lines(plain.clone()));
            let sealed = |entry: AuditEntry| {
                seal_all(&head, [entry], &signer()).unwrap()[0].to_canonical_json()
            };
            assert_eq!(sealed(spliced), sealed(plain));
        }
    }

    /// A body given whole in canonical form seals as the same body given as a value.
    #[test]
    fn a_body_given_in_canonical_form_seals_as_the_same_value() {
        let head = ChainHead {
            seq: 2,
            hash: AuditHash([4; 32]),
        };
        for body in [
            json!({"id": "msg-1", "about": {"conflict": "cf_1"}, "answer_within_s": 600.0,
                "from": null, "text": "Call \"Ops\"\n"}),
            json!([1, "two", null]),
            json!("text"),
        ] {
            let entry = |canonical: bool| {
                let (seq, time, kind) = (3, "2015-10-20T10:00:00.000Z", "hotline.message");
                let visible_to = Visibility::parties(["coalition", "russia"]);
                if canonical {
                    AuditEntry::new_canonical(
                        seq,
                        time,
                        kind,
                        None,
                        visible_to,
                        CanonicalJson::of(&body),
                    )
                } else {
                    AuditEntry::new(seq, time, kind, None, visible_to, body.clone())
                }
                .unwrap()
            };
            let (given, plain) = (entry(true), entry(false));
            assert_eq!(given, plain);
            assert_eq!(*given.body(), body);
            assert_eq!(content_hash(&given), content_hash(&plain));
            let lines = |entry: AuditEntry| seal_all_lines(&head, [entry], &signer()).unwrap();
            assert_eq!(lines(given.clone()), lines(plain));
            assert!(given
                .with_canonical_member("more", CanonicalJson::of(&json!(1)))
                .is_err());
        }
    }

    /// A canonical member may not replace a member of the body, nor go into a body that is
    /// not an object.
    #[test]
    fn a_canonical_member_needs_an_object_body_without_that_key() {
        let entry = |body: Value| {
            AuditEntry::new(1, "2015-10-20T10:00:00Z", "a", None, Visibility::All, body).unwrap()
        };
        let member = || CanonicalJson::of(&json!([1, 2]));
        assert!(entry(json!({"a": 1}))
            .with_canonical_member("a", member())
            .is_err());
        assert!(entry(json!({}))
            .with_canonical_member("a", member())
            .unwrap()
            .with_canonical_member("a", member())
            .is_err());
        assert!(entry(json!([1]))
            .with_canonical_member("a", member())
            .is_err());
    }

    #[test]
    fn sealing_several_signs_only_the_last_whose_signature_vouches_for_the_chain() {
        let entries = (1..=3).map(|seq| {
            AuditEntry::new(
                seq,
                "2015-10-20T10:00:00Z",
                "a",
                None,
                Visibility::All,
                json!(seq),
            )
            .unwrap()
        });
        let sealed = seal_all(&ChainHead::GENESIS, entries, &signer()).unwrap();
        assert_eq!(
            sealed
                .iter()
                .map(|s| s.signature.is_some())
                .collect::<Vec<_>>(),
            [false, false, true]
        );
        assert_eq!(sealed[1].prev_hash, sealed[0].entry_hash);
        assert_eq!(sealed[2].prev_hash, sealed[1].entry_hash);
        // The same chain as sealing one at a time, signatures aside.
        let mut chain = AuditChain::new(signer(), ChainHead::GENESIS);
        for (seq, one) in (1..=3).zip(&sealed) {
            let alone = chain
                .append(
                    "2015-10-20T10:00:00Z",
                    "a",
                    None,
                    Visibility::All,
                    json!(seq),
                )
                .unwrap();
            assert_eq!(alone.entry_hash, one.entry_hash);
        }
        sealed[2].check(&signer().public_key()).unwrap();
        assert_eq!(
            sealed[0].check(&signer().public_key()),
            Err(SealError::Unsigned)
        );
        let text = sealed[0].to_canonical_json();
        assert!(!text.contains("signature"), "{text}");
        let back: SealedEntry = serde_json::from_str(&text).unwrap();
        assert_eq!(back, sealed[0]);
        assert!(seal_all(&ChainHead::GENESIS, [], &signer())
            .unwrap()
            .is_empty());
    }

    #[test]
    fn sealing_to_lines_gives_the_lines_and_heads_of_sealing_then_writing() {
        let bodies = [
            json!({}),
            json!({"z": [1, 2.5, {"b": null, "a": "é\n\u{1}\"\\"}], "a": true, "é": -0.0}),
            json!({"volumes": [{"polygon": [[35.1, 38.2], [35.2, 38.3]]}], "conflicts": []}),
            json!([1e300, u64::MAX, i64::MIN, "x"]),
        ];
        let entries: Vec<AuditEntry> = bodies
            .into_iter()
            .enumerate()
            .map(|(index, body)| {
                let (actor, visible_to) = if index % 2 == 0 {
                    (
                        Some("coalition\u{7f}".to_owned()),
                        Visibility::parties(["russia", "coalition"]),
                    )
                } else {
                    (None, Visibility::All)
                };
                AuditEntry::new(
                    41 + index as u64,
                    "2015-10-20T10:00:00.000Z",
                    "intent.put",
                    actor,
                    visible_to,
                    body,
                )
                .unwrap()
            })
            .collect();
        let prev = ChainHead {
            seq: 40,
            hash: AuditHash([9; 32]),
        };
        let sealed = seal_all(&prev, entries.clone(), &signer()).unwrap();
        let lines = seal_all_lines(&prev, entries.clone(), &signer()).unwrap();
        assert_eq!(lines.len(), sealed.len());
        for (line, sealed) in lines.iter().zip(&sealed) {
            assert_eq!(line.line, sealed.to_canonical_json());
            assert_eq!(line.head, sealed.head());
        }
        assert!(lines[3].line.contains("\"signature\""));
        let back: SealedEntry = serde_json::from_str(&lines[3].line).unwrap();
        back.check(&signer().public_key()).unwrap();
        assert!(seal_all_lines(&prev, [], &signer()).unwrap().is_empty());
        // Chained in two parts (as two decided batches), signed once (as their commit):
        // the same lines, one signature, on the last.
        let mut parts = chain_lines(&prev, entries[..2].to_vec()).unwrap();
        let middle = parts.last().unwrap().head;
        parts.extend(chain_lines(&middle, entries[2..].to_vec()).unwrap());
        assert_eq!(sign_lines(parts, &signer()), lines);
        assert_eq!(
            lines
                .iter()
                .filter(|line| line.line.contains("\"signature\""))
                .count(),
            1
        );
        assert_eq!(
            seal_all_lines(&ChainHead::GENESIS, entries, &signer()),
            Err(SealError::SeqDoesNotFollowHead {
                head_seq: 0,
                found: 41
            })
        );
    }

    #[test]
    fn check_notices_a_changed_body_and_a_foreign_key() {
        let mut chain = AuditChain::new(signer(), ChainHead::GENESIS);
        let sealed = chain
            .append("2015-10-20T10:00:00Z", "a", None, Visibility::All, json!(1))
            .unwrap();
        let mut changed = sealed.clone();
        changed.entry = AuditEntry::new(
            1,
            "2015-10-20T10:00:00Z",
            "a",
            None,
            Visibility::All,
            json!(2),
        )
        .unwrap();
        assert_eq!(
            changed.check(&signer().public_key()),
            Err(SealError::ContentHashMismatch)
        );
        assert_eq!(
            sealed.check(&AuditSigner::from_seed([4; 32]).public_key()),
            Err(SealError::BadSignature)
        );
    }
}
