//! `deconflict sim SCENARIO`: generate a scenario's traffic into files, or drive a running
//! service with it.
//!
//! With `--url`, acts as each party (`--token PARTY=TOKEN`): files each sortie's intent
//! `--intent-lead-s` before its planned take-off, activates it at take-off, ends it after
//! landing and streams each party's tracks, paced to the service's clock
//! (`deconflict_sim::drive`). With `--out`, writes, into the directory, `intents.json` (the input format of `deconflict check`),
//! `tracks.csv` (the contract's track CSV, `time` in Unix seconds), `scenario.geojson`
//! (bases, areas, volumes and tracks to look at) and `manifest.json` (parties, agreement
//! and one line per sortie). The same scenario and seed give byte-identical files.

use std::fs::File;
use std::io::{BufWriter, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use clap::Args as ClapArgs;
use deconflict_sim::drive::{plan_scenario, ScenarioPlanOptions};
use deconflict_sim::output::{write_geojson, write_intents_json, write_manifest, write_tracks_csv};
use deconflict_sim::scenario::parse_time;
use deconflict_sim::{builtin, generate, GenerateOptions, Progress, Scenario, BUILTIN_SCENARIOS};
use indicatif::{ProgressBar, ProgressStyle};

use super::drive::{check_span, connect, play, ServiceArgs};

/// Generate a scenario's intents and tracks into files.
#[derive(Debug, ClapArgs)]
pub struct Args {
    /// A scenario file (TOML, see scenarios/README.md) or the name of a built-in scenario
    /// (`syria-2015`).
    scenario: String,
    /// The seed of every random choice; the same seed gives the same files.
    #[arg(long, default_value_t = 2015)]
    seed: u64,
    /// Length of the span in seconds (default: the scenario's `duration_s`).
    #[arg(long, value_name = "S")]
    duration: Option<u64>,
    /// Seconds between track states (default: the scenario's `track_step_s`).
    #[arg(long, value_name = "S")]
    step: Option<u64>,
    /// Multiply every pattern's sorties per hour, for more or less traffic.
    #[arg(long, default_value_t = 1.0, value_name = "X")]
    rate_scale: f64,
    /// Move the whole scenario in time to start at this RFC 3339 time (fixed on-station
    /// times move with it), for instance to replay it live.
    #[arg(long, value_name = "TIME")]
    start: Option<String>,
    /// The directory to write into (created if missing).
    #[arg(long, value_name = "DIR", required_unless_present = "url")]
    out: Option<PathBuf>,
    #[command(flatten)]
    service: ServiceArgs,
    /// With --url: file each sortie's intent this long (scenario seconds) before its
    /// planned take-off.
    #[arg(long, default_value_t = ScenarioPlanOptions::default().intent_lead_s, value_name = "S", requires = "url")]
    intent_lead_s: i64,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (text, source) = read_scenario(&args.scenario)?;
    let scenario = Scenario::from_toml(&text).with_context(|| format!("scenario {source}"))?;
    let start_unix_s = args
        .start
        .as_deref()
        .map(|text| parse_time("--start", text))
        .transpose()?;
    let options = GenerateOptions {
        seed: args.seed,
        duration_s: args.duration,
        track_step_s: args.step,
        rate_scale: args.rate_scale,
        start_unix_s,
    };

    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} sorties")
                .expect("the template is valid")
                .progress_chars("=> "),
        );
        bar.set_message(format!("flying {}", scenario.name));
        Some(bar)
    } else {
        None
    };
    let report = |progress: Progress| {
        if let Some(bar) = &bar {
            bar.set_length(progress.sorties_total as u64);
            // Sorties finish on several threads; never move the bar backwards.
            if progress.sorties_done as u64 > bar.position() {
                bar.set_position(progress.sorties_done as u64);
            }
        }
    };
    let generated = generate(&scenario, &options, &report)?;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }

    if let Some(dir) = &args.out {
        write_files(&scenario, &generated, dir)?;
    }
    let states: usize = generated.flights.iter().map(|f| f.track.len()).sum();
    let volumes: usize = generated.intents.iter().map(|i| i.volumes.len()).sum();
    println!(
        "{}: seed {}, {} s from {}: {} sorties, {} intents ({} volumes), {} track states \
         written to {}",
        scenario.name,
        generated.seed,
        generated.duration_s,
        deconflict_sim::output::rfc3339(generated.start_unix_s),
        generated.flights.len(),
        generated.intents.len(),
        volumes,
        states,
        args.out
            .as_ref()
            .map_or("the service".to_string(), |dir| dir.display().to_string())
    );
    match &args.service.url {
        Some(url) => drive(&args, url, &generated),
        None => Ok(ExitCode::SUCCESS),
    }
}

fn write_files(
    scenario: &Scenario,
    generated: &deconflict_sim::Generated,
    dir: &Path,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the output directory {}", dir.display()))?;
    write_file(&dir.join("intents.json"), |out| {
        write_intents_json(scenario, generated, out)
    })?;
    write_file(&dir.join("tracks.csv"), |out| {
        write_tracks_csv(generated, out)
    })?;
    write_file(&dir.join("scenario.geojson"), |out| {
        write_geojson(scenario, generated, out)
    })?;
    write_file(&dir.join("manifest.json"), |out| {
        write_manifest(scenario, generated, out)
    })
}

/// Plays the generated scenario against the service as each party.
fn drive(
    args: &Args,
    url: &str,
    generated: &deconflict_sim::Generated,
) -> anyhow::Result<ExitCode> {
    if args.intent_lead_s < 0 {
        bail!(
            "--intent-lead-s {} must be zero or more",
            args.intent_lead_s
        );
    }
    let connected = connect(&args.service, url)?;
    let tokens = connected.driver.parties();
    let missing: std::collections::BTreeSet<&str> = generated
        .flights
        .iter()
        .map(|flight| flight.party.as_str())
        .filter(|party| !tokens.contains(*party))
        .collect();
    if !missing.is_empty() {
        bail!(
            "no --token for {}: give --token PARTY=TOKEN for every party that flies",
            missing.into_iter().collect::<Vec<_>>().join(", ")
        );
    }
    let start_ms = generated.start_unix_s * 1000;
    let end_ms = start_ms + generated.duration_s as i64 * 1000;
    check_span(
        &connected.pace,
        start_ms,
        end_ms,
        "the scenario",
        &format!(
            "start the service with --clock-start {} --clock-speed {}, or move the scenario \
             with --start",
            deconflict_sim::output::rfc3339(generated.start_unix_s),
            args.service.speed
        ),
    )?;
    let actions = plan_scenario(
        generated,
        &ScenarioPlanOptions {
            intent_lead_s: args.intent_lead_s,
        },
    );
    Ok(play(&connected, url, &actions))
}

/// The scenario's text and how to name it in messages: a file when the argument names
/// one, otherwise a built-in scenario.
fn read_scenario(argument: &str) -> anyhow::Result<(String, String)> {
    let path = Path::new(argument);
    if path.is_file() {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the scenario file {argument}"))?;
        return Ok((text, argument.to_string()));
    }
    if let Some(text) = builtin(argument) {
        return Ok((text.to_string(), format!("{argument} (built in)")));
    }
    let names: Vec<&str> = BUILTIN_SCENARIOS.iter().map(|(name, _)| *name).collect();
    bail!(
        "{argument:?} is neither a scenario file nor a built-in scenario ({})",
        names.join(", ")
    )
}

fn write_file(
    path: &Path,
    write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut out = BufWriter::new(file);
    write(&mut out)
        .and_then(|()| out.flush())
        .with_context(|| format!("cannot write {}", path.display()))
}
