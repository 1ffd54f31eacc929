//! The audit log: a hash-chained, Ed25519-signed sequence of entries that each party can
//! export and verify offline.
//!
//! The service appends every submission, conflict, alert, message, acknowledgement and
//! agreement change as an [`AuditEntry`], sealed onto the chain with [`seal`] (or an
//! [`AuditChain`]) into a [`SealedEntry`] that the store keeps. A party's export
//! ([`export_view`], [`ExportWriter`]) shows the entries it may read in full and the others
//! as their hashes only, then a signed trailer; [`verify`] checks such a file with nothing
//! but the server's public key. The crate does no I/O and reads no clock: times are
//! arguments.

pub mod canonical;
mod chain;
mod entry;
mod export;
mod keys;
mod verify;

pub use chain::{
    chain_lines, content_hash, entry_hash, seal, seal_all, seal_all_lines, sign_lines, AuditChain,
    ChainHead, ChainedLine, SealError, SealedEntry, SealedLine, ENTRY_HASH_DOMAIN,
};
pub use entry::{AuditEntry, EntryError, Visibility};
pub use export::{export_view, ExportError, ExportWriter, EXPORT_SIGNATURE_DOMAIN};
pub use keys::{AuditHash, AuditPublicKey, AuditSignature, AuditSigner, KeyError};
pub use verify::{verify, VerifiedSummary, VerifyError, VerifyFailure};
