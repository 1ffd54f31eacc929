//! The audit log: a hash-chained, Ed25519-signed sequence of entries that each party can
//! export and verify offline.
