//! The contract's data formats (Volume4D JSON, the `check` input, the tracks CSV) as serde
//! types, and their validated conversion into core types. Errors name the place in the
//! input (a JSON path, or a line and column) and what is wrong there.

pub mod check;
pub mod daa;
pub mod tracks;
pub mod volume;

pub use volume::WireError;
