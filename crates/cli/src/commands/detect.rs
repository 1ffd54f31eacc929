//! `deconflict detect FILE`: the offline tactical check of a tracks CSV or a DAIDALUS
//! `.daa` file, one CSV row per time step per conflicting pair.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufReader, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::ValueEnum;
use deconflict_core::tactical::{
    AlertThresholds, CylinderMinima, DetectionParams, TacticalCriterion, TacticalDetector,
    WellClearThresholds,
};
use deconflict_wire::daa::read_daa;
use deconflict_wire::tracks::{
    party_indexes, read_tracks_csv, write_conflicts_csv, ConflictRow, TrackRow,
};

/// What `deconflict detect --help` says after the options.
const AFTER_HELP: &str = "\
Each time step is judged on its own states alone: every pair of aircraft of different
parties is predicted in straight lines over the lookahead (an empty party in the CSV, and
every aircraft of a .daa file, is its own party).

Output (CSV on standard output):
  time,a,b,level,time_to_los_s,tcpa_s,dcpa_m,distance_m,vertical_m
one row per step per conflicting pair, a < b, sorted by time, then a, then b. level is
warning (time to loss of separation at or below --warning-s, or already lost), caution (at
or below --caution-s) or advisory (within the lookahead). tcpa_s is the time of closest
horizontal approach within [0, lookahead], dcpa_m the distance then; distance_m and
vertical_m are the distances now. Separation is lost strictly below a distance minimum;
the well-clear time thresholds (TTHR, TCOA) are inclusive. Thresholds of the criterion not
chosen are ignored.

Exit status: 0 whether or not pairs conflict; 2 for unusable input (the message names the
line and column).";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Criterion {
    /// Horizontal distance below --horizontal-m and vertical below --vertical-m at once.
    Cylinder,
    /// RTCA DO-365 well clear (modified tau): --dthr-m, --zthr-m, --tthr-s, --tcoa-s.
    Wellclear,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InputFormat {
    /// time,id,party,lat,lon,alt_m,vn_mps,ve_mps,vu_mps
    Csv,
    /// DAIDALUS encounter file (header line, units line).
    Daa,
}

/// Find every conflicting pair of aircraft at every time step of a tracks file.
#[derive(Debug, clap::Args)]
#[command(allow_negative_numbers = true, after_help = AFTER_HELP)]
pub struct Args {
    /// Tracks CSV, or DAIDALUS `.daa` (chosen by the `.daa` extension unless --format).
    pub file: PathBuf,
    /// The input format, when the extension does not tell.
    #[arg(long, value_enum)]
    pub format: Option<InputFormat>,
    #[arg(long, value_enum, default_value_t = Criterion::Cylinder)]
    pub criterion: Criterion,
    /// Cylinder: horizontal separation minimum (m).
    #[arg(long, default_value_t = 9260.0)]
    pub horizontal_m: f64,
    /// Cylinder: vertical separation minimum (m).
    #[arg(long, default_value_t = 304.8)]
    pub vertical_m: f64,
    /// Prediction horizon (s).
    #[arg(long, default_value_t = 300.0)]
    pub lookahead_s: f64,
    /// Well clear: horizontal distance threshold DTHR (m; DO-365 Phase I 0.66 NM).
    #[arg(long, default_value_t = 1222.32)]
    pub dthr_m: f64,
    /// Well clear: vertical distance threshold ZTHR (m; DO-365 Phase I 450 ft).
    #[arg(long, default_value_t = 137.16)]
    pub zthr_m: f64,
    /// Well clear: modified tau threshold TTHR (s).
    #[arg(long, default_value_t = 35.0)]
    pub tthr_s: f64,
    /// Well clear: time to co-altitude threshold TCOA (s).
    #[arg(long, default_value_t = 0.0)]
    pub tcoa_s: f64,
    /// Warning at or below this time to loss of separation, or when already lost (s).
    #[arg(long, default_value_t = 60.0)]
    pub warning_s: f64,
    /// Caution at or below this time to loss of separation (s).
    #[arg(long, default_value_t = 120.0)]
    pub caution_s: f64,
}

impl Args {
    fn params(&self) -> anyhow::Result<DetectionParams> {
        let criterion = match self.criterion {
            Criterion::Cylinder => TacticalCriterion::Cylinder(CylinderMinima::new(
                self.horizontal_m,
                self.vertical_m,
            )?),
            Criterion::Wellclear => TacticalCriterion::WellClear(WellClearThresholds::new(
                self.dthr_m,
                self.zthr_m,
                self.tthr_s,
                self.tcoa_s,
            )?),
        };
        let alert = AlertThresholds::new(self.warning_s, self.caution_s)?;
        Ok(DetectionParams::new(criterion, self.lookahead_s, alert)?)
    }

    fn input_format(&self) -> InputFormat {
        self.format.unwrap_or_else(|| {
            let daa = self
                .file
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("daa"));
            if daa {
                InputFormat::Daa
            } else {
                InputFormat::Csv
            }
        })
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let params = args.params().context("unusable parameter")?;
    let shown = args.file.display();
    let file = File::open(&args.file).with_context(|| format!("cannot open {shown}"))?;
    let reader = BufReader::new(file);
    let rows = match args.input_format() {
        InputFormat::Csv => read_tracks_csv(reader),
        InputFormat::Daa => read_daa(reader),
    }
    .with_context(|| format!("{shown}"))?;

    let conflicts = detect_steps(&rows, params).with_context(|| format!("{shown}"))?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    write_conflicts_csv(&mut out, &conflicts).context("cannot write the output")?;
    out.flush().context("cannot write the output")?;
    Ok(ExitCode::SUCCESS)
}

/// Every conflicting pair of every time step, sorted by time, then a, then b.
pub fn detect_steps(
    rows: &[TrackRow],
    params: DetectionParams,
) -> anyhow::Result<Vec<ConflictRow>> {
    let parties = party_indexes(rows);
    // Steps in increasing time; rows keep their file order within a step.
    let mut steps: BTreeMap<TimeKey, Vec<usize>> = BTreeMap::new();
    for (index, row) in rows.iter().enumerate() {
        steps.entry(TimeKey(row.time_s)).or_default().push(index);
    }
    let progress = progress_bar(steps.len() as u64);
    let mut detector = TacticalDetector::new(params);
    let mut output = Vec::new();
    for (time, members) in &steps {
        let mut seen: HashMap<(u32, &str), u64> = HashMap::new();
        for &index in members {
            let row = &rows[index];
            if let Some(first) = seen.insert((parties[index].0, row.id.as_str()), row.line) {
                anyhow::bail!(
                    "line {}: aircraft {:?} appears twice at time {} (first on line {first})",
                    row.line,
                    row.id,
                    row.time_s
                );
            }
        }
        let states: Vec<_> = members
            .iter()
            .map(|&index| rows[index].state.with_party(parties[index]))
            .collect();
        let mut found: Vec<ConflictRow> = detector
            .detect(&states)
            .into_iter()
            .map(|pair| {
                let x = &rows[members[pair.first as usize]];
                let y = &rows[members[pair.second as usize]];
                let (a, b) = if (&x.id, &x.party) <= (&y.id, &y.party) {
                    (x, y)
                } else {
                    (y, x)
                };
                ConflictRow {
                    time_s: time.0,
                    a: a.id.clone(),
                    b: b.id.clone(),
                    assessment: pair.assessment,
                }
            })
            .collect();
        found.sort_by(|p, q| (&p.a, &p.b).cmp(&(&q.a, &q.b)));
        output.extend(found);
        progress.inc(1);
    }
    progress.finish_and_clear();
    Ok(output)
}

/// A step's time, ordered as a number (`-0` and `0` are one step).
#[derive(Debug, Clone, Copy)]
struct TimeKey(f64);

impl PartialEq for TimeKey {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}
impl Eq for TimeKey {}
impl PartialOrd for TimeKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for TimeKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // Times are finite (checked on reading), so this is a total order.
        self.0
            .partial_cmp(&other.0)
            .unwrap_or(std::cmp::Ordering::Equal)
    }
}

/// A progress bar on standard error for long files, when it is a terminal.
fn progress_bar(steps: u64) -> indicatif::ProgressBar {
    if steps < 100 || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(steps);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} time steps, {eta} left")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}
