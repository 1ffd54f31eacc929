//! Traffic generation and replay: seeded scenarios that produce intents and tracks, and
//! readers for recorded real traffic.
