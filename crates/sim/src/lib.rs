//! Traffic generation and replay: seeded scenarios that produce intents and tracks, and
//! readers for recorded real traffic.
//!
//! A [`Scenario`] (TOML, see `scenarios/README.md`) names parties, bases, areas, aircraft
//! types and sortie patterns with their rates; [`generate`] flies every sortie of a span
//! with a point-mass flight model and draws each sortie's intent around its flight; the
//! `output` writers turn the result into the contract's files. Nothing here reads the clock
//! or an unseeded generator: the same scenario and seed give the same bytes.

pub mod drive;
pub mod flight;
pub mod generate;
pub mod geo;
pub mod intents;
pub mod kinematics;
pub mod output;
pub mod replay;
pub mod scenario;

pub use generate::{
    generate, Flight, GenerateError, GenerateOptions, Generated, Intent, Progress, TrackState,
};
pub use scenario::{builtin, Scenario, ScenarioError, BUILTIN_SCENARIOS};
