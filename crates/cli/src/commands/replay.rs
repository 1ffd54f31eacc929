//! `deconflict replay SOURCE --out tracks.csv`: recorded real traffic (OpenSky-style JSON
//! records, SBS-1 BaseStation lines from a file or a `tcp://HOST:PORT` feed, or the
//! contract's tracks CSV) converted into the contract's tracks CSV, so that `deconflict
//! detect` runs on it; or, with `--url`, streamed through a running service as each party
//! (`deconflict_sim::drive`), at the times recorded.

use std::fs::File;
use std::io::{BufWriter, IsTerminal as _, Read, Write as _};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use clap::ValueEnum;
use deconflict_sim::drive::plan_recorded;
use deconflict_sim::replay::{
    decompressed, resampled, track_rows, write_tracks_csv, CsvReader, Format, Observation,
    OpenSkyReader, PartyMap, PartyRule, SbsReader, StateSource, VELOCITY_AGE_MAX_S,
};
use indicatif::{ProgressBar, ProgressStyle};

use super::drive::{check_span, connect, play, ServiceArgs};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PartyBy {
    /// By callsign prefix, with the map given by --party-map (longest prefix wins).
    CallsignPrefix,
    /// Each aircraft its own party, named by its ICAO 24-bit address.
    Icao24,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// JSON array of records: timestamp (ms), icao24, callsign, latitude, longitude,
    /// altitude (ft), groundspeed (kt), track (deg), vertical_rate (ft/min).
    Opensky,
    /// SBS-1 BaseStation lines (dump1090 port 30003).
    Sbs,
    /// The contract's tracks CSV.
    Csv,
}

/// Convert recorded traffic into the contract's tracks CSV.
///
/// Reads OpenSky-style JSON records, SBS-1 BaseStation lines (a file, or a live feed at
/// tcp://HOST:PORT read until it closes or --max-states is reached) or a tracks CSV; gzip
/// is recognised by its magic bytes. Aircraft ids are callsigns, or ICAO addresses for
/// aircraft without one. States are brought onto a grid of --step-s seconds (a report
/// extrapolated at constant velocity for at most --age-max-s), because `detect` judges
/// each time step on the states of that exact time; --step-s 0 keeps the recorded times.
/// Rows are sorted by time then id. Bad records are skipped and counted, never fatal; a
/// summary (records read, states produced, skips by reason, the first few by line or
/// record) goes to standard error. Exits 0, or 2 when the input is unusable or gives no
/// state at all.
///
/// With --url instead of --out, the states are streamed through a running service as each
/// party (--token PARTY=TOKEN; states of parties without a token are counted and skipped),
/// one batch per party per --step-s (1 s when 0), each sent when the service's clock
/// reaches the time of its latest report. Times are kept as recorded, so the service must
/// run in recorded time: start it with
///   deconflict serve --clock-start FIRST_TIME --clock-speed X
/// (FIRST_TIME at or a little before the recording's first report, whole seconds; the
/// replay prints it when the service's clock is past the recording) and replay with the
/// same --speed X. Exits 1 when the service answered any request with an error (each
/// counted and summarised), 0 otherwise.
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// A recording (optionally gzipped) or tcp://HOST:PORT for a live SBS feed.
    pub source: String,
    /// The recording's format (default: from the extension: .json, .sbs/.basestation,
    /// .csv, after any .gz; tcp:// is SBS).
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// How aircraft get parties (default: the file's party column for a tracks CSV, each
    /// aircraft its own otherwise; callsign-prefix when --party-map is given).
    #[arg(long, value_enum)]
    pub party_by: Option<PartyBy>,
    /// Callsign prefixes to parties, TOML or JSON: `default = "…"` (optional) and a
    /// `[prefixes]` table, e.g. `RYR = "ryanair"`.
    #[arg(long, value_name = "FILE")]
    pub party_map: Option<PathBuf>,
    /// The time grid (s); 0 keeps the recorded times.
    #[arg(long, default_value_t = 1.0, value_name = "S")]
    pub step_s: f64,
    /// The oldest report extrapolated to a grid time (s).
    #[arg(long, default_value_t = VELOCITY_AGE_MAX_S, value_name = "S")]
    pub age_max_s: f64,
    /// Stop after this many states have been read (for a live feed that never closes).
    #[arg(long, value_name = "N")]
    pub max_states: Option<u64>,
    /// The tracks CSV to write.
    #[arg(long, value_name = "FILE", required_unless_present = "url")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub service: ServiceArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if !(args.step_s >= 0.0 && args.step_s.is_finite()) {
        bail!(
            "--step-s {} must be 0 or a positive number of seconds",
            args.step_s
        );
    }
    if !(args.age_max_s >= 0.0 && args.age_max_s.is_finite()) {
        bail!(
            "--age-max-s {} must be 0 or a positive number of seconds",
            args.age_max_s
        );
    }
    let format = match args.format {
        Some(FormatArg::Opensky) => Format::OpenSky,
        Some(FormatArg::Sbs) => Format::Sbs,
        Some(FormatArg::Csv) => Format::Csv,
        None => Format::from_name(&args.source).with_context(|| {
            format!(
                "cannot tell the format of {} from its name; give --format opensky, sbs or csv",
                args.source
            )
        })?,
    };
    let rule = party_rule(&args, format)?;

    let terminal = std::io::stderr().is_terminal();
    let (input, bar): (Box<dyn Read>, Option<ProgressBar>) =
        if let Some(address) = args.source.strip_prefix("tcp://") {
            if format != Format::Sbs {
                bail!("a tcp:// source is an SBS feed; --format must be sbs");
            }
            let stream = TcpStream::connect(address)
                .with_context(|| format!("cannot connect to {address}"))?;
            let bar = terminal.then(|| {
                let bar = ProgressBar::new_spinner();
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {msg} {pos} states")
                        .expect("the template is valid"),
                );
                bar.set_message(format!("reading {address}"));
                bar
            });
            (Box::new(stream), bar)
        } else {
            let file =
                File::open(&args.source).with_context(|| format!("cannot open {}", args.source))?;
            let length = file.metadata().map(|m| m.len()).unwrap_or(0);
            if terminal {
                // Progress counts the bytes of the file as stored (compressed or not).
                let bar = ProgressBar::new(length);
                bar.set_style(
                    ProgressStyle::with_template("{msg} [{bar:40}] {bytes}/{total_bytes}")
                        .expect("the template is valid")
                        .progress_chars("=> "),
                );
                bar.set_message(format!("reading {}", args.source));
                (Box::new(bar.wrap_read(file)), Some(bar))
            } else {
                (Box::new(file), None)
            }
        };
    let input = decompressed(input).with_context(|| format!("cannot read {}", args.source))?;
    let mut source: Box<dyn StateSource> = match format {
        Format::OpenSky => Box::new(OpenSkyReader::new(input).context(args.source.clone())?),
        Format::Sbs => Box::new(SbsReader::new(input)),
        Format::Csv => Box::new(CsvReader::new(input).context(args.source.clone())?),
    };

    let mut observations: Vec<Observation> = Vec::new();
    for observation in source.by_ref() {
        observations.push(observation);
        if args.source.starts_with("tcp://") {
            if let Some(bar) = &bar {
                bar.set_position(observations.len() as u64);
            }
        }
        if args
            .max_states
            .is_some_and(|max| observations.len() as u64 >= max)
        {
            break;
        }
    }
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let summary = source.summary().clone();
    eprintln!("{}: {summary}", args.source);
    if let Some(error) = source.io_error() {
        eprintln!("{}: reading stopped early: {error}", args.source);
    }
    if observations.is_empty() {
        bail!("{} gave no state (see the summary above)", args.source);
    }
    let recorded = observations.len();
    let observations = if args.step_s > 0.0 {
        resampled(observations, args.step_s, args.age_max_s)
    } else {
        observations
    };
    let rows = track_rows(observations, &rule);
    let aircraft: std::collections::BTreeSet<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let aircraft_count = aircraft.len();
    let Some(out_path) = &args.out else {
        let url = args
            .service
            .url
            .as_deref()
            .context("give --out FILE or --url URL")?;
        return drive(&args, url, rows);
    };

    let file =
        File::create(out_path).with_context(|| format!("cannot create {}", out_path.display()))?;
    let mut out = BufWriter::new(file);
    write_tracks_csv(&mut out, &rows)
        .and_then(|()| out.flush())
        .with_context(|| format!("cannot write {}", out_path.display()))?;
    let grid = if args.step_s > 0.0 {
        format!(" on a {} s grid", args.step_s)
    } else {
        String::new()
    };
    eprintln!(
        "{} recorded states of {} aircraft: {} rows{grid} written to {}",
        recorded,
        aircraft_count,
        rows.len(),
        out_path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Streams the rows through the service as their parties, at the recorded times.
fn drive(
    args: &Args,
    url: &str,
    rows: Vec<deconflict_wire::tracks::TrackRow>,
) -> anyhow::Result<ExitCode> {
    let connected = connect(&args.service, url)?;
    let first_s = rows.first().map_or(0.0, |row| row.time_s);
    let last_s = rows.last().map_or(0.0, |row| row.time_s);
    let batch_ms = if args.step_s > 0.0 {
        (args.step_s * 1000.0).round() as i64
    } else {
        1000
    };
    let (actions, without_party) = plan_recorded(rows, batch_ms);
    if without_party > 0 {
        eprintln!(
            "{}: {without_party} states have no party and are skipped",
            args.source
        );
    }
    let parties = connected.driver.parties();
    let untokened: std::collections::BTreeSet<&str> = actions
        .iter()
        .map(|action| action.party.as_str())
        .filter(|party| !parties.contains(*party))
        .collect();
    if !untokened.is_empty() {
        let names: Vec<&str> = untokened.iter().copied().take(10).collect();
        eprintln!(
            "{}: no --token for {} parties ({}{}); their states are skipped",
            args.source,
            untokened.len(),
            names.join(", "),
            if untokened.len() > names.len() {
                ", …"
            } else {
                ""
            }
        );
    }
    let first_ms = (first_s * 1000.0).floor() as i64;
    check_span(
        &connected.pace,
        first_ms,
        (last_s * 1000.0).ceil() as i64,
        "the recording",
        &format!(
            "start the service with --clock-start {} --clock-speed {}",
            deconflict_sim::output::rfc3339(first_ms.div_euclid(1000)),
            args.service.speed
        ),
    )?;
    Ok(play(&connected, url, &actions))
}

fn party_rule(args: &Args, format: Format) -> anyhow::Result<PartyRule> {
    let map = match &args.party_map {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the party map {}", path.display()))?;
            Some(PartyMap::parse(&text).with_context(|| path.display().to_string())?)
        }
        None => None,
    };
    Ok(match (args.party_by, map) {
        (Some(PartyBy::CallsignPrefix) | None, Some(map)) => PartyRule::CallsignPrefix(map),
        (Some(PartyBy::CallsignPrefix), None) => {
            bail!("--party-by callsign-prefix needs --party-map FILE")
        }
        (Some(PartyBy::Icao24), Some(_)) => {
            bail!("--party-map is for --party-by callsign-prefix, not icao24")
        }
        (Some(PartyBy::Icao24), None) => PartyRule::Icao24,
        (None, None) if format == Format::Csv => PartyRule::Recorded,
        (None, None) => PartyRule::Icao24,
    })
}
