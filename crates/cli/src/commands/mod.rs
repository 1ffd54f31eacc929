//! One module per subcommand, each with its clap `Args` and a `run` function.
pub mod bench;
pub mod bench_strategic;
pub mod check;
pub mod bench_tactical;
pub mod detect;
