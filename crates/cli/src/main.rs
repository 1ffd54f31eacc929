//! The `deconflict` command: the offline checks, the benchmarks, the service, the
//! simulator and the demo, each a subcommand in `commands/`.
//!
//! Every subcommand returns an [`ExitCode`] of its own choosing (for example `check` exits 1
//! when it finds conflicts); any error it returns is unusable input or an unusable
//! environment, printed as one message, and exits 2.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The service allocates many small, short-lived objects per write (JSON values, records,
/// events) on several threads; glibc's allocator spent about a quarter of the server's
/// time in `perf` under write load, mimalloc a small fraction of that.
///
/// Built without transparent huge pages (`no_thp`: it never asks the kernel for them). With
/// them, the page faults of the memory mimalloc hands out each zeroed a whole 2 MiB page:
/// 18% of the service's CPU under write load went to that zeroing (`perf`: `clear_page`
/// under `do_huge_pmd_anonymous_page`, from mimalloc's page allocation), 0.4% without.
/// Without them, 4,053-4,379 checked writes/s at 100,000 intents and 32 clients against
/// 3,413-4,023, p99 20-26 ms against 31-46 ms (`bench strategic --url`, four runs each,
/// alternated); the tactical and live benchmarks no slower. (On a kernel whose huge pages
/// are `always` rather than `madvise`, `MIMALLOC_ALLOW_THP=0` does the same.)
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
