//! One module per subcommand, each with its clap `Args` and a `run` function.

pub mod party;
pub mod serve;
