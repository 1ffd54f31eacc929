//! The pure core of deconflict: geometry, the domain model and conflict detection.
//!
//! Architecture invariant: this crate performs no I/O, spawns no tasks, reads no clock and
//! knows no serialization format. Every function takes its data and its time as arguments
//! and returns data, so every result can be replayed exactly.

pub mod geometry;
pub mod strategic;
pub mod tactical;
