//! Offline verification of an export ([`verify`]): the chain links, every hash, every
//! signature and the trailer, reporting the first line that does not hold.
//!
//! What is checked, line by line (numbered from 1):
//! 1. the line is UTF-8, one JSON object, in canonical form (so nothing can be changed
//!    without changing the parsed value), with exactly the fields of its kind of line;
//! 2. seqs are consecutive; the first entry line follows the trailer's `from` (seq 1 after
//!    genesis for a whole-log export, which is the only case the chain alone can anchor);
//! 3. each `prev_hash` is the previous line's `entry_hash` (the trailer's `from` hash for
//!    the first line);
//! 4. for a visible entry, `content_hash` is recomputed from the entry;
//! 5. `entry_hash` is recomputed from `prev_hash`, seq and `content_hash`;
//! 6. where the line is signed (the service signs the last entry of each commit), the
//!    signature over `entry_hash` verifies with the server's public key;
//! 7. the last line is the trailer, its signature verifies, and its `from` and `head`
//!    match the first and last entry lines, so lines cut off at either end are noticed.
//!
//! Each entry hash covers the one before it, so a signature vouches for every line before
//! it: every line is vouched for by the next signed line or by the trailer. An altered line
//! is reported where its own hashes stop matching; one whose hashes were recomputed too
//! (with every line after it up to a signature) is reported at that next signed line, or
//! at the trailer.
//!
//! Lines end in `\n` (or `\r\n`); the last may end without one.
//!
//! Exports may cover only part of the chain (they start after the trailer's `from`);
//! [`VerifiedSummary::from_genesis`] says whether this one starts at the beginning.

use serde_json::{Map, Value};

use crate::canonical::to_canonical_string;
use crate::chain::{content_hash_of_value, entry_hash, ChainHead};
use crate::entry::{is_rfc3339_utc, AuditEntry, EntryError};
use crate::export::trailer_message;
use crate::keys::{AuditHash, AuditPublicKey, AuditSignature};

/// What a valid export holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSummary {
    /// The party the export was made for.
    pub viewer: String,
    /// When the service made it (RFC 3339 UTC).
    pub exported_at: String,
    /// The chain's head just before the first entry line.
    pub from: ChainHead,
    /// The chain's head at the last entry line (the head of the log when exported).
    pub head: ChainHead,
    /// Entry lines, visible and withheld.
    pub entries: u64,
    pub visible: u64,
    pub withheld: u64,
}

impl VerifiedSummary {
    /// Whether the export starts at the chain's first entry.
    pub fn from_genesis(&self) -> bool {
        self.from == ChainHead::GENESIS
    }
}

/// The first line of an export that does not hold, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct VerifyError {
    /// 1-based; one past the last line when the file ends where its trailer should be.
    pub line: usize,
    pub reason: VerifyFailure,
}

/// Why a line does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyFailure {
    #[error("the line is not UTF-8")]
    NotUtf8,
    #[error("the line is empty")]
    EmptyLine,
    #[error("the line is not JSON: {0}")]
    NotJson(String),
    #[error("the line is not a JSON object")]
    NotAnObject,
    #[error(
        "the line is not in canonical form (sorted keys, no spaces, serde_json's \
         spelling of numbers and strings): it was altered after export"
    )]
    NotCanonical,
    #[error("field {0} is missing")]
    MissingField(&'static str),
    #[error("unexpected field {0:?}")]
    UnknownField(String),
    #[error("field {field}: {problem}")]
    BadField {
        field: &'static str,
        problem: String,
    },
    #[error("the entry does not hold: {0}")]
    BadEntry(EntryError),
    #[error("seq {found} where {expected} was expected: a line is missing, repeated or moved")]
    SeqNotConsecutive { expected: u64, found: u64 },
    #[error("prev_hash is not the entry_hash of the entry before it: the chain is broken here")]
    PrevHashMismatch,
    #[error("content_hash does not match the entry's content: the entry was altered")]
    ContentHashMismatch,
    #[error("entry_hash does not match prev_hash, seq and content_hash")]
    EntryHashMismatch,
    #[error("the signature does not verify with the server's public key")]
    BadSignature,
    #[error(
        "no signature of the export verifies with this public key (neither this line's nor \
         the trailer's): it is probably not the key of the server that made the export"
    )]
    KeyMatchesNothing,
    #[error("the trailer's signature does not verify with the server's public key")]
    BadTrailerSignature,
    #[error(
        "the trailer says the export covers seq {trailer_first}..={trailer_last}, \
         but its entry lines are {lines}: lines were cut off or added"
    )]
    TrailerMismatch {
        trailer_first: u64,
        trailer_last: u64,
        lines: String,
    },
    #[error("a trailer line before the end: the export goes on after it")]
    TrailerNotLast,
    #[error("the export ends without its signed trailer line: it may have been cut short")]
    MissingTrailer,
}

/// Verifies an export (the bytes of a JSON-lines file) against the server's public key.
pub fn verify(input: &[u8], public_key: &AuditPublicKey) -> Result<VerifiedSummary, VerifyError> {
    // Lines end in `\n`; a `\r` before it (the file passed through a tool that writes
    // Windows line ends) is not part of the line. No `\r` can be part of a canonical line.
    let mut lines: Vec<&[u8]> = input
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .collect();
    // A final newline ends the last line rather than starting an empty one.
    if lines.last().is_some_and(|last| last.is_empty()) {
        lines.pop();
    }
    // Reading the trailer first lets a missing first line be reported at line 1, where
    // it is missing, rather than at the trailer.
    let trailer = lines
        .last()
        .and_then(|last| parse_line(last).ok())
        .and_then(|line| match line {
            Line::Trailer(trailer) if trailer.signature_holds(public_key) => Some(trailer),
            _ => None,
        });

    let mut previous: Option<ChainHead> = trailer.as_ref().map(|t| t.from);
    let mut first_entry: Option<ChainHead> = None;
    let mut a_signature_verified = false;
    let (mut visible, mut withheld) = (0u64, 0u64);
    for (index, bytes) in lines.iter().enumerate() {
        let number = index + 1;
        let fail = |reason| VerifyError {
            line: number,
            reason,
        };
        let line = parse_line(bytes).map_err(fail)?;
        let entry = match line {
            Line::Trailer(found) => {
                if number != lines.len() {
                    return Err(fail(VerifyFailure::TrailerNotLast));
                }
                if !found.signature_holds(public_key) {
                    return Err(fail(VerifyFailure::BadTrailerSignature));
                }
                let last = previous.unwrap_or(found.from);
                let first_seq = first_entry.map_or(found.from.seq.saturating_add(1), |f| f.seq);
                if found.head != last {
                    return Err(fail(VerifyFailure::TrailerMismatch {
                        trailer_first: found.from.seq.saturating_add(1),
                        trailer_last: found.head.seq,
                        lines: if first_entry.is_some() {
                            format!("{first_seq}..={}", last.seq)
                        } else {
                            "none".into()
                        },
                    }));
                }
                let entries = found.head.seq - found.from.seq;
                return Ok(VerifiedSummary {
                    viewer: found.viewer,
                    exported_at: found.exported_at,
                    from: found.from,
                    head: found.head,
                    entries,
                    visible,
                    withheld,
                });
            }
            Line::Entry(entry) => entry,
        };

        let seq = entry.seq;
        match previous {
            Some(previous) => {
                let expected = previous.seq.saturating_add(1);
                if seq != expected {
                    return Err(fail(VerifyFailure::SeqNotConsecutive {
                        expected,
                        found: seq,
                    }));
                }
                if entry.prev_hash != previous.hash {
                    return Err(fail(VerifyFailure::PrevHashMismatch));
                }
            }
            // Without a trustworthy trailer only the genesis link can be checked here.
            None if seq == 1 && entry.prev_hash != AuditHash::GENESIS => {
                return Err(fail(VerifyFailure::PrevHashMismatch));
            }
            None => {}
        }
        if let Some(content) = &entry.content {
            if content_hash_of_value(content) != entry.content_hash {
                return Err(fail(VerifyFailure::ContentHashMismatch));
            }
            visible += 1;
        } else {
            withheld += 1;
        }
        let entry_hash_recomputed = entry_hash(&entry.prev_hash, seq, &entry.content_hash);
        if entry_hash_recomputed != entry.entry_hash {
            return Err(fail(VerifyFailure::EntryHashMismatch));
        }
        if let Some(signature) = &entry.signature {
            if !public_key.verifies(&entry.entry_hash.0, signature) {
                // When no signature before this line verified and the trailer's does not
                // either, the likelier explanation is a wrong key rather than a forged line.
                let nothing_verified = !a_signature_verified && trailer.is_none();
                return Err(fail(if nothing_verified {
                    VerifyFailure::KeyMatchesNothing
                } else {
                    VerifyFailure::BadSignature
                }));
            }
            a_signature_verified = true;
        }
        let head = ChainHead {
            seq,
            hash: entry.entry_hash,
        };
        first_entry.get_or_insert(head);
        previous = Some(head);
    }
    Err(VerifyError {
        line: lines.len() + 1,
        reason: VerifyFailure::MissingTrailer,
    })
}

enum Line {
    Entry(EntryLine),
    Trailer(TrailerLine),
}

struct EntryLine {
    seq: u64,
    prev_hash: AuditHash,
    content_hash: AuditHash,
    entry_hash: AuditHash,
    /// Only on the entries that end a commit.
    signature: Option<AuditSignature>,
    /// The entry's own fields when visible; `None` when withheld.
    content: Option<Value>,
}

struct TrailerLine {
    export: Value,
    signature: AuditSignature,
    exported_at: String,
    viewer: String,
    from: ChainHead,
    head: ChainHead,
}

impl TrailerLine {
    fn signature_holds(&self, public_key: &AuditPublicKey) -> bool {
        public_key.verifies(&trailer_message(&self.export), &self.signature)
    }
}

const CHAIN_FIELDS: [&str; 4] = ["content_hash", "entry_hash", "prev_hash", "signature"];

fn parse_line(bytes: &[u8]) -> Result<Line, VerifyFailure> {
    if bytes.is_empty() {
        return Err(VerifyFailure::EmptyLine);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| VerifyFailure::NotUtf8)?;
    let value: Value =
        serde_json::from_str(text).map_err(|error| VerifyFailure::NotJson(error.to_string()))?;
    if !value.is_object() {
        return Err(VerifyFailure::NotAnObject);
    }
    if to_canonical_string(&value) != text {
        return Err(VerifyFailure::NotCanonical);
    }
    let Value::Object(mut map) = value else {
        unreachable!("checked to be an object above")
    };
    if map.contains_key("export") {
        return parse_trailer(map).map(Line::Trailer);
    }
    let withheld = match map.remove("withheld") {
        None => false,
        Some(Value::Bool(true)) => true,
        Some(_) => {
            return Err(VerifyFailure::BadField {
                field: "withheld",
                problem: "must be true when present".into(),
            })
        }
    };
    let prev_hash = take_hash(&mut map, "prev_hash")?;
    let content_hash = take_hash(&mut map, "content_hash")?;
    let entry_hash = take_hash(&mut map, "entry_hash")?;
    let signature = if map.contains_key("signature") {
        Some(take_signature(&mut map, "signature")?)
    } else {
        None
    };
    debug_assert!(CHAIN_FIELDS.iter().all(|field| !map.contains_key(*field)));
    let (seq, content) = if withheld {
        let seq = take_seq(&mut map, "seq")?;
        if let Some(unknown) = map.keys().next() {
            return Err(VerifyFailure::UnknownField(unknown.clone()));
        }
        (seq, None)
    } else {
        // What remains is the entry itself; it must be a well-formed entry.
        let content = Value::Object(map);
        let entry = AuditEntry::from_value(content.clone()).map_err(|error| match error {
            EntryError::MissingField { field } => VerifyFailure::MissingField(field),
            EntryError::UnknownField { field } => VerifyFailure::UnknownField(field),
            other => VerifyFailure::BadEntry(other),
        })?;
        (entry.seq(), Some(content))
    };
    Ok(Line::Entry(EntryLine {
        seq,
        prev_hash,
        content_hash,
        entry_hash,
        signature,
        content,
    }))
}

fn parse_trailer(mut map: Map<String, Value>) -> Result<TrailerLine, VerifyFailure> {
    let signature = take_signature(&mut map, "signature")?;
    let export = map
        .remove("export")
        .ok_or(VerifyFailure::MissingField("export"))?;
    if let Some(unknown) = map.keys().next() {
        return Err(VerifyFailure::UnknownField(unknown.clone()));
    }
    let Value::Object(mut fields) = export.clone() else {
        return Err(VerifyFailure::BadField {
            field: "export",
            problem: "must be an object".into(),
        });
    };
    let exported_at = take_string(&mut fields, "exported_at")?;
    if !is_rfc3339_utc(&exported_at) {
        return Err(VerifyFailure::BadField {
            field: "exported_at",
            problem: "must be an RFC 3339 UTC time".into(),
        });
    }
    let viewer = take_string(&mut fields, "viewer")?;
    let from = take_head(&mut fields, "from")?;
    let head = take_head(&mut fields, "head")?;
    if let Some(unknown) = fields.keys().next() {
        return Err(VerifyFailure::UnknownField(unknown.clone()));
    }
    if head.seq < from.seq {
        return Err(VerifyFailure::BadField {
            field: "head",
            problem: "its seq is below from's".into(),
        });
    }
    Ok(TrailerLine {
        export,
        signature,
        exported_at,
        viewer,
        from,
        head,
    })
}

fn take(map: &mut Map<String, Value>, field: &'static str) -> Result<Value, VerifyFailure> {
    map.remove(field).ok_or(VerifyFailure::MissingField(field))
}

fn take_string(map: &mut Map<String, Value>, field: &'static str) -> Result<String, VerifyFailure> {
    match take(map, field)? {
        Value::String(text) => Ok(text),
        _ => Err(VerifyFailure::BadField {
            field,
            problem: "must be a string".into(),
        }),
    }
}

fn take_seq(map: &mut Map<String, Value>, field: &'static str) -> Result<u64, VerifyFailure> {
    take(map, field)?.as_u64().ok_or(VerifyFailure::BadField {
        field,
        problem: "must be a non-negative integer".into(),
    })
}

fn take_hash(
    map: &mut Map<String, Value>,
    field: &'static str,
) -> Result<AuditHash, VerifyFailure> {
    let text = take_string(map, field)?;
    AuditHash::from_hex(&text).map_err(|error| VerifyFailure::BadField {
        field,
        problem: error.to_string(),
    })
}

fn take_signature(
    map: &mut Map<String, Value>,
    field: &'static str,
) -> Result<AuditSignature, VerifyFailure> {
    let text = take_string(map, field)?;
    AuditSignature::from_hex(&text).map_err(|error| VerifyFailure::BadField {
        field,
        problem: error.to_string(),
    })
}

fn take_head(
    map: &mut Map<String, Value>,
    field: &'static str,
) -> Result<ChainHead, VerifyFailure> {
    let Value::Object(mut head) = take(map, field)? else {
        return Err(VerifyFailure::BadField {
            field,
            problem: "must be {\"hash\", \"seq\"}".into(),
        });
    };
    let hash = take_hash(&mut head, "hash")?;
    let seq = take_seq(&mut head, "seq")?;
    if let Some(unknown) = head.keys().next() {
        return Err(VerifyFailure::UnknownField(unknown.clone()));
    }
    Ok(ChainHead { seq, hash })
}
