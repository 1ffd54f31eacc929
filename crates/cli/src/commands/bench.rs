//! `deconflict bench …`: benchmarks that print their figures, one subcommand each.

use std::process::ExitCode;

/// Benchmarks that print their figures.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: BenchCommand,
}

/// One variant per benchmark; each one's help comes from its `Args` type.
#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    Strategic(super::bench_strategic::Args),
    /// One full tactical detection cycle over random traffic.
    Tactical(super::bench_tactical::Args),
    /// Live traffic streamed to a running server: ingest rate and report-to-alert latency.
    Live(super::bench_live::Args),
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        BenchCommand::Strategic(args) => super::bench_strategic::run(args),
        BenchCommand::Tactical(args) => super::bench_tactical::run(args),
        BenchCommand::Live(args) => super::bench_live::run(args),
    }
}
