//! A party's view of the log as JSON lines ([`ExportWriter`], [`export_view`]).
//!
//! An export is, in seq order, one line per entry of a contiguous stretch of the chain,
//! then one signed trailer line. Every line is canonical JSON ([`crate::canonical`]):
//!
//! - a **visible** entry is the [`SealedEntry`] flat:
//!   `{"actor", "body", "content_hash", "entry_hash", "kind", "prev_hash", "seq",
//!   "signature", "time", "visible_to"}`;
//! - a **withheld** entry (one the viewer may not read) keeps only what the chain needs:
//!   `{"content_hash", "entry_hash", "prev_hash", "seq", "signature", "withheld": true}`;
//! - `signature` is there only on the entries that end a commit (see [`crate::chain`]);
//! - the **trailer** states what the export covers and is signed by the server:
//!   `{"export": {"exported_at", "from": {"hash", "seq"}, "head": {"hash", "seq"},
//!   "viewer"}, "signature"}`. `from` is the chain's head just before the first line
//!   ([`ChainHead::GENESIS`] for a whole-log export), `head` the last line's. The signature
//!   is Ed25519 over [`EXPORT_SIGNATURE_DOMAIN`] followed by the canonical bytes of the
//!   `export` object. The trailer is what lets a verifier notice lines cut off at either
//!   end, which the chain alone cannot show.
//!
//! Hashes and signatures are lower-case hex.

use serde_json::{json, Map, Value};

use crate::canonical::{to_canonical_bytes, to_canonical_string};
use crate::chain::{ChainHead, SealedEntry};
use crate::entry::{is_rfc3339_utc, AuditEntry};
use crate::keys::AuditSigner;

/// Domain separation for trailer signatures (entry signatures sign a bare entry hash,
/// which is 32 bytes and can never start with this text).
pub const EXPORT_SIGNATURE_DOMAIN: &[u8] = b"deconflict.audit.export.v1\n";

/// Why an export could not be written: the entries handed over do not form a contiguous
/// stretch of the chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExportError {
    #[error("entry seq {found} does not follow seq {expected_after}")]
    SeqNotConsecutive { expected_after: u64, found: u64 },
    #[error("entry seq {seq} does not link to the entry before it (prev_hash differs)")]
    PrevHashMismatch { seq: u64 },
    #[error("exported_at {0:?} is not an RFC 3339 UTC time")]
    ExportedAtNotRfc3339Utc(String),
    #[error("the viewer's party id is empty")]
    EmptyViewer,
}

/// Writes an export line by line, checking as it goes that the entries form one contiguous
/// stretch of the chain starting after `from`. Lines come back without their newline.
#[derive(Debug)]
pub struct ExportWriter<'a> {
    viewer: String,
    signer: &'a AuditSigner,
    from: ChainHead,
    head: ChainHead,
}

impl<'a> ExportWriter<'a> {
    /// An export for `viewer` of the entries after `from` ([`ChainHead::GENESIS`] for the
    /// whole log; otherwise the head of the chain just before the first exported entry).
    pub fn new(
        viewer: impl Into<String>,
        from: ChainHead,
        signer: &'a AuditSigner,
    ) -> Result<Self, ExportError> {
        let viewer = viewer.into();
        if viewer.is_empty() {
            return Err(ExportError::EmptyViewer);
        }
        Ok(ExportWriter {
            viewer,
            signer,
            from,
            head: from,
        })
    }

    /// The line for the next entry: in full when `visible`, reduced to its hashes when not.
    pub fn line(&mut self, sealed: &SealedEntry, visible: bool) -> Result<String, ExportError> {
        let seq = sealed.entry.seq();
        if Some(seq) != self.head.seq.checked_add(1) {
            return Err(ExportError::SeqNotConsecutive {
                expected_after: self.head.seq,
                found: seq,
            });
        }
        if sealed.prev_hash != self.head.hash {
            return Err(ExportError::PrevHashMismatch { seq });
        }
        self.head = sealed.head();
        let value = if visible {
            serde_json::to_value(sealed).expect("a sealed entry serializes")
        } else {
            withheld_value(sealed)
        };
        Ok(to_canonical_string(&value))
    }

    /// The signed trailer line; `exported_at` is the service's clock reading, RFC 3339 UTC.
    pub fn finish(self, exported_at: &str) -> Result<String, ExportError> {
        if !is_rfc3339_utc(exported_at) {
            return Err(ExportError::ExportedAtNotRfc3339Utc(exported_at.into()));
        }
        let export = json!({
            "exported_at": exported_at,
            "from": self.from,
            "head": self.head,
            "viewer": self.viewer,
        });
        let signature = self.signer.sign(&trailer_message(&export));
        let mut trailer = Map::new();
        trailer.insert("export".into(), export);
        trailer.insert("signature".into(), Value::String(signature.to_hex()));
        Ok(to_canonical_string(&Value::Object(trailer)))
    }
}

pub(crate) fn trailer_message(export: &Value) -> Vec<u8> {
    let mut message = EXPORT_SIGNATURE_DOMAIN.to_vec();
    message.extend_from_slice(&to_canonical_bytes(export));
    message
}

fn withheld_value(sealed: &SealedEntry) -> Value {
    let mut value = json!({
        "content_hash": sealed.content_hash,
        "entry_hash": sealed.entry_hash,
        "prev_hash": sealed.prev_hash,
        "seq": sealed.entry.seq(),
        "withheld": true,
    });
    if let Some(signature) = &sealed.signature {
        value["signature"] = Value::String(signature.to_hex());
    }
    value
}

/// The whole export for `viewer`, each line ending in `\n`: the entries after `from` in
/// order (each shown in full when `is_visible` says so), then the signed trailer.
pub fn export_view<'e>(
    entries: impl IntoIterator<Item = &'e SealedEntry>,
    from: ChainHead,
    viewer: &str,
    is_visible: impl Fn(&AuditEntry) -> bool,
    exported_at: &str,
    signer: &AuditSigner,
) -> Result<String, ExportError> {
    let mut writer = ExportWriter::new(viewer, from, signer)?;
    let mut out = String::new();
    for sealed in entries {
        out.push_str(&writer.line(sealed, is_visible(&sealed.entry))?);
        out.push('\n');
    }
    out.push_str(&writer.finish(exported_at)?);
    out.push('\n');
    Ok(out)
}
