//! The HTTP service: authentication, the agreement, intents, conflicts, tracks, alerts, the
//! hotline, events, the audit export and the console.
