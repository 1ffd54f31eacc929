//! One module per subcommand, each with its clap `Args` and a `run` function.

pub mod audit;
pub mod bench;
pub mod bench_live;
pub mod bench_strategic;
pub mod bench_strategic_http;
pub mod bench_tactical;
pub mod check;
pub mod demo;
pub mod detect;
pub mod drive;
pub mod party;
pub mod replay;
pub mod serve;
pub mod sim;
