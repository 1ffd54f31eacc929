//! The `deconflict` command: the offline checks, the benchmarks, the service, the
//! simulator and the demo, each a subcommand in `commands/`.
//!
//! Every subcommand returns an [`ExitCode`] of its own choosing (for example `check` exits 1
//! when it finds conflicts); any error it returns is unusable input or an unusable
//! environment, printed as one message, and exits 2.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod allocator;
mod commands;

/// Air-safety deconfliction for operators who share an airspace but not their plans.
#[derive(Debug, Parser)]
#[command(name = "deconflict", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Each variant's arguments and behaviour live in the module of the same name in
/// `commands/`.
#[derive(Debug, Subcommand)]
enum Command {
    /// Run the seed scenario live through the service, with a console per party.
    Demo(commands::demo::Args),
    /// Offline strategic check: every conflict between the intents of a file.
    Check(commands::check::Args),
    /// Offline tactical check: every conflicting pair at every time step of a tracks file.
    Detect(commands::detect::Args),
    /// Benchmarks that print their figures.
    Bench(commands::bench::Args),
    /// Verify exports of the audit log offline.
    Audit(commands::audit::Args),
    /// Generate a scenario's intents and tracks into files, or drive a running service.
    Sim(commands::sim::Args),
    /// Run the deconfliction service over HTTP.
    Serve(commands::serve::Args),
    /// Add and list parties in the store.
    Party(commands::party::Args),
    /// Convert recorded real traffic (OpenSky JSON, SBS-1 lines, tracks CSV) to a tracks
    /// CSV, or stream it through a running service.
    Replay(commands::replay::Args),
}

/// Exit status for unusable input, as the contract requires of every subcommand.
const EXIT_UNUSABLE_INPUT: u8 = 2;

fn main() -> ExitCode {
    allocator::configure();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // clap already exits 2 for usage errors; help and version exit 0.
            error.exit();
        }
    };
    // The offline commands are made for pipelines (`deconflict check … | head`): with the
    // default SIGPIPE action a closed reader ends them quietly, as it does any Unix tool,
    // where Rust's ignored SIGPIPE would make the next `println!` panic. The service keeps
    // SIGPIPE ignored, so that no write to a closed peer can end it.
    if !matches!(cli.command, Command::Serve(_) | Command::Demo(_)) {
        sigpipe::reset();
    }
    let outcome: anyhow::Result<ExitCode> = match cli.command {
        Command::Demo(args) => commands::demo::run(args),
        Command::Check(args) => commands::check::run(args),
        Command::Detect(args) => commands::detect::run(args),
        Command::Bench(args) => commands::bench::run(args),
        Command::Audit(args) => commands::audit::run(args),
        Command::Sim(args) => commands::sim::run(args),
        Command::Serve(args) => commands::serve::run(args),
        Command::Party(args) => commands::party::run(args),
        Command::Replay(args) => commands::replay::run(args),
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("deconflict: {error:#}");
            ExitCode::from(EXIT_UNUSABLE_INPUT)
        }
    }
}
