//! `deconflict bench …`: benchmarks that print their figures, one subcommand each.

use std::process::ExitCode;

use clap::Subcommand;

/// Benchmarks that print their figures.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: BenchCommand,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// One full tactical detection cycle over random traffic.
    Tactical(super::bench_tactical::Args),
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        BenchCommand::Tactical(args) => super::bench_tactical::run(args),
    }
}
