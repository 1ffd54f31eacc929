//! `deconflict bench …`: benchmarks that print their figures, one subcommand each.

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use serde_json::{json, Value};

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

/// A name for one benchmark run (its start in milliseconds since the epoch, in hex), so
/// runs against the same server do not collide.
pub(crate) fn run_name() -> String {
    format!(
        "{:x}",
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis()
    )
}

/// Adds `count` parties `{prefix}-{run}-{k}` through the admin API of the server at
/// `base`; returns their tokens in order.
pub(crate) fn add_parties(
    base: &str,
    admin_token: &str,
    prefix: &str,
    run: &str,
    count: usize,
) -> anyhow::Result<Vec<String>> {
    let agent = ureq::agent();
    (0..count)
        .map(|k| {
            let answer: Value = agent
                .post(&format!("{base}/v1/parties"))
                .set("Authorization", &format!("Bearer {admin_token}"))
                .send_json(json!({"id": format!("{prefix}-{run}-{k}"), "name": format!("benchmark party {k}")}))
                .with_context(|| {
                    format!("cannot add a benchmark party at {base} (is the admin token right?)")
                })?
                .into_json()?;
            Ok(answer["token"]
                .as_str()
                .context("no token in the answer")?
                .to_owned())
        })
        .collect()
}
