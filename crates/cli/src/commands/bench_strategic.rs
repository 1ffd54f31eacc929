//! `deconflict bench strategic`: N random intents loaded into the strategic index, then
//! checked writes timed (each: the conflict query for the candidate, then the
//! insert-or-update), in this process.
//!
//! The intents are those of eight parties over Europe, North Africa and the Middle East
//! (25–60° N, 15° W–60° E, about 20 million km²): one to three volumes each, footprints 2–40 km
//! across (star-shaped polygons of 4–8 vertices, long thin corridors and circles), bands
//! 300–3,000 m thick between 0 and 13,000 m, windows of 10 minutes to 3 hours starting within
//! the benchmark's days. The separation is the contract's default, 9,260 m, 300 m, 120 s.
//!
//! The windows spread over one day per 100,000 intents (`--days` to choose), so the density of
//! intents, and with it the conflicts a write finds, is the same at 1,000,000 stored intents as
//! at 100,000: a larger store costs the search, not a denser sky.
//!
//! Besides the wall-clock latencies of the contract's output, it reports each write's CPU
//! time (`check_cpu_p50_ms`, `check_cpu_p99_ms`), which a busy machine does not inflate.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use cpu_time::ThreadTime;
use deconflict_core::geometry::{
    AltitudeBand, Circle, Footprint, LatLng, Polygon, TimeWindow, Volume4D,
};
use deconflict_core::strategic::{Separation, StrategicIndex};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Benchmark the strategic index: N random intents loaded, then checked writes timed.
///
/// Prints {"intents": N, "writes_per_s": W, "check_p50_ms": a, "check_p99_ms": b, …}
/// with --json, a readable summary otherwise.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// How many intents to load before timing.
    #[arg(long)]
    pub intents: usize,
    /// How many checked writes to time (half updates of loaded intents, half new ones).
    #[arg(long, default_value_t = 20_000)]
    pub writes: usize,
    /// Seed of the random intents (the same seed gives the same intents).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Time checked writes over HTTP against the server at this URL (for example
    /// http://127.0.0.1:8080) instead of in this process.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// With --url: an admin's token, to add the benchmark's parties.
    #[arg(long, env = "DECONFLICT_ADMIN_TOKEN", requires = "url")]
    pub admin_token: Option<String>,
    /// With --url: concurrent HTTP clients of the timed writes.
    #[arg(long, default_value_t = 32)]
    pub clients: usize,
    /// With --url: concurrent HTTP clients of the preload (untimed), so that a one-client
    /// measurement over a large store does not wait for its preload one write at a time.
    #[arg(long, default_value_t = 32)]
    pub preload_clients: usize,
    /// Days the intents' windows start within. Default: one per 100,000 intents (at least
    /// one), which keeps the density of intents that of 100,000 in a day.
    #[arg(long, value_name = "DAYS")]
    pub days: Option<f64>,
}

impl Args {
    /// The days the windows spread over: `--days`, or one per `INTENTS_PER_DAY` intents.
    pub(crate) fn days(&self) -> anyhow::Result<f64> {
        let days = self
            .days
            .unwrap_or((self.intents as f64 / INTENTS_PER_DAY).max(1.0));
        anyhow::ensure!(
            days.is_finite() && (DAYS_MIN..=DAYS_MAX).contains(&days),
            "--days must be between {DAYS_MIN} and {DAYS_MAX}, not {days}"
        );
        Ok(days)
    }
}

pub(crate) const PARTIES: u32 = 8;
const REGION_LAT_DEG: (f64, f64) = (25.0, 60.0);
const REGION_LNG_DEG: (f64, f64) = (-15.0, 60.0);
const DAY_START_S: f64 = 1_445_299_200.0; // 2015-10-20T00:00:00Z
const WRITES_MAX: usize = 10_000_000;
/// The density the default `--days` keeps: this many intents a day.
const INTENTS_PER_DAY: f64 = 100_000.0;
const DAYS_MIN: f64 = 0.01;
const DAYS_MAX: f64 = 3_650.0;

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.intents > 0, "--intents must be at least 1");
    if let Some(url) = &args.url {
        return super::bench_strategic_http::run(&args, url);
    }
    anyhow::ensure!(
        (1..=WRITES_MAX).contains(&args.writes),
        "--writes must be between 1 and {WRITES_MAX}"
    );
    let days = args.days()?;
    let separation = Separation::new(9_260.0, 300.0, 120.0)?;
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
    let memory_before_kb = resident_memory_kb();

    let progress = progress_bar(args.intents as u64, args.json);
    progress.set_message("generating intents");
    let loaded_started = Instant::now();
    let parties: Vec<u32> = (0..args.intents)
        .map(|_| rng.random_range(0..PARTIES))
        .collect();
    let intents: Vec<(u32, u64, Vec<Volume4D>)> = (0..args.intents as u64)
        .map(|id| {
            progress.inc(1);
            (parties[id as usize], id, random_intent(&mut rng, days))
        })
        .collect();
    // Building is one call: the bar becomes a spinner while it runs.
    progress.set_style(ProgressStyle::default_spinner());
    progress.set_message("building the index");
    progress.enable_steady_tick(Duration::from_millis(120));
    let mut index = StrategicIndex::bulk_load(intents);
    progress.finish_and_clear();
    let load_s = loaded_started.elapsed().as_secs_f64();
    let index_memory_mb = match (memory_before_kb, resident_memory_kb()) {
        (Some(before), Some(after)) => Some(after.saturating_sub(before) as f64 / 1024.0),
        _ => None,
    };

    // The writes are drawn before timing so that only the index work is timed.
    let writes: Vec<(u32, u64, Vec<Volume4D>)> = (0..args.writes)
        .map(|k| {
            if k % 2 == 0 {
                let id = rng.random_range(0..args.intents as u64);
                (parties[id as usize], id, random_intent(&mut rng, days))
            } else {
                let id = args.intents as u64 + k as u64;
                (
                    rng.random_range(0..PARTIES),
                    id,
                    random_intent(&mut rng, days),
                )
            }
        })
        .collect();
    let mut latencies = Vec::with_capacity(writes.len());
    // The thread's CPU time per write too: on a shared machine the wall-clock tail holds
    // the time other processes held the core, the CPU time only this write's own work.
    let mut cpu_times = Vec::with_capacity(writes.len());
    let mut conflicts_found = 0usize;
    let timed_started = Instant::now();
    for (party, id, volumes) in writes {
        let cpu_started = ThreadTime::try_now().ok();
        let started = Instant::now();
        let conflicts = index.conflicts(&party, &volumes, &separation);
        index.upsert(party, id, volumes);
        latencies.push(started.elapsed());
        if let Some(cpu_started) = cpu_started {
            cpu_times.push(cpu_started.elapsed());
        }
        conflicts_found += conflicts.len();
    }
    let timed_s = timed_started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    cpu_times.sort_unstable();
    let cpu_complete = cpu_times.len() == latencies.len();
    let report = Report {
        intents: args.intents,
        days,
        writes_per_s: latencies.len() as f64 / timed_s,
        check_p50_ms: percentile_ms(&latencies, 0.50),
        check_p99_ms: percentile_ms(&latencies, 0.99),
        check_max_ms: percentile_ms(&latencies, 1.0),
        check_cpu_p50_ms: cpu_complete.then(|| percentile_ms(&cpu_times, 0.50)),
        check_cpu_p99_ms: cpu_complete.then(|| percentile_ms(&cpu_times, 0.99)),
        writes: latencies.len(),
        conflicts_per_write: conflicts_found as f64 / latencies.len() as f64,
        volumes: index.volume_count(),
        load_s,
        index_memory_mb,
    };
    if args.json {
        println!("{}", report.to_json());
    } else {
        report.print();
    }
    Ok(ExitCode::SUCCESS)
}

struct Report {
    intents: usize,
    days: f64,
    writes_per_s: f64,
    check_p50_ms: f64,
    check_p99_ms: f64,
    check_max_ms: f64,
    check_cpu_p50_ms: Option<f64>,
    check_cpu_p99_ms: Option<f64>,
    writes: usize,
    conflicts_per_write: f64,
    volumes: usize,
    load_s: f64,
    index_memory_mb: Option<f64>,
}

impl Report {
    fn to_json(&self) -> serde_json::Value {
        let round = |value: f64, places: i32| {
            let scale = 10f64.powi(places);
            (value * scale).round() / scale
        };
        let mut json = serde_json::json!({
            "intents": self.intents,
            "days": self.days,
            "writes_per_s": round(self.writes_per_s, 1),
            "check_p50_ms": round(self.check_p50_ms, 4),
            "check_p99_ms": round(self.check_p99_ms, 4),
            "check_max_ms": round(self.check_max_ms, 4),
            "writes": self.writes,
            "conflicts_per_write": round(self.conflicts_per_write, 3),
            "volumes": self.volumes,
            "load_s": round(self.load_s, 2),
        });
        if let (Some(p50), Some(p99)) = (self.check_cpu_p50_ms, self.check_cpu_p99_ms) {
            json["check_cpu_p50_ms"] = serde_json::json!(round(p50, 4));
            json["check_cpu_p99_ms"] = serde_json::json!(round(p99, 4));
        }
        if let Some(memory_mb) = self.index_memory_mb {
            json["index_memory_mb"] = serde_json::json!(round(memory_mb, 1));
        }
        json
    }

    fn print(&self) {
        println!(
            "{} intents ({} volumes, over {} days) loaded in {:.1} s{}",
            self.intents,
            self.volumes,
            self.days,
            self.load_s,
            self.index_memory_mb
                .map(|mb| format!(", index about {mb:.0} MB resident"))
                .unwrap_or_default()
        );
        println!(
            "{} checked writes: {:.0} writes/s, check p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms, {:.2} conflicts per write",
            self.writes,
            self.writes_per_s,
            self.check_p50_ms,
            self.check_p99_ms,
            self.check_max_ms,
            self.conflicts_per_write
        );
        if let (Some(p50), Some(p99)) = (self.check_cpu_p50_ms, self.check_cpu_p99_ms) {
            println!("CPU time per checked write: p50 {p50:.3} ms, p99 {p99:.3} ms");
        }
    }
}

/// The latency below which the given fraction of writes fall (nearest rank).
pub(crate) fn percentile_ms(sorted: &[Duration], fraction: f64) -> f64 {
    let rank = ((fraction * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1e3
}

pub(crate) fn progress_bar(length: u64, quiet: bool) -> ProgressBar {
    let target = if !quiet && std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(length), target);
    if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({eta})") {
        bar.set_style(style);
    }
    bar
}

/// The resident memory of this process in kB (Linux), for the index's footprint.
fn resident_memory_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// One intent of the benchmark's region, its windows starting within `days` days.
pub(crate) fn random_intent(rng: &mut ChaCha8Rng, days: f64) -> Vec<Volume4D> {
    let centre = LatLng::new(
        rng.random_range(REGION_LAT_DEG.0..REGION_LAT_DEG.1),
        rng.random_range(REGION_LNG_DEG.0..REGION_LNG_DEG.1),
    )
    .expect("the region is on the globe");
    let count = rng.random_range(1..=3usize);
    (0..count)
        .map(|_| {
            // Later volumes of an intent follow on from the first, nearby.
            let near = offset(
                centre,
                rng.random_range(0.0..360.0),
                rng.random_range(0.0..30_000.0),
            );
            random_volume(rng, near, days)
        })
        .collect()
}

fn random_volume(rng: &mut ChaCha8Rng, centre: LatLng, days: f64) -> Volume4D {
    let size_m = 10f64.powf(rng.random_range(2_000f64.log10()..40_000f64.log10()));
    let footprint = loop {
        let candidate = match rng.random_range(0..10u32) {
            0..=2 => Circle::new(centre, size_m / 2.0)
                .ok()
                .map(Footprint::Circle),
            3..=4 => {
                // A corridor: long and thin.
                let heading = rng.random_range(0.0..180.0);
                let width_m = size_m * rng.random_range(0.05..0.2);
                let spread = (width_m / size_m).atan().to_degrees();
                let half_diagonal = (size_m / 2.0).hypot(width_m / 2.0);
                Polygon::new(
                    [spread, 180.0 - spread, 180.0 + spread, 360.0 - spread]
                        .iter()
                        .map(|a| offset(centre, heading + a, half_diagonal))
                        .collect(),
                )
                .ok()
                .map(Footprint::Polygon)
            }
            _ => {
                let count = rng.random_range(4..=8usize);
                let vertices = (0..count)
                    .map(|k| {
                        let azimuth =
                            (k as f64 + rng.random_range(0.0..0.8)) * 360.0 / count as f64;
                        offset(centre, azimuth, size_m / 2.0 * rng.random_range(0.4..1.0))
                    })
                    .collect();
                Polygon::new(vertices).ok().map(Footprint::Polygon)
            }
        };
        if let Some(footprint) = candidate {
            break footprint;
        }
    };
    let lower_m = rng.random_range(0.0..12_000.0f64).round();
    let altitude = AltitudeBand::new(
        lower_m,
        lower_m + rng.random_range(300.0..3_000.0f64).round(),
    )
    .expect("upper is above lower");
    let start_s = (DAY_START_S + rng.random_range(0.0..86_400.0 * days)).round();
    let window = TimeWindow::from_unix_s(
        start_s,
        start_s + rng.random_range(600.0..10_800.0f64).round(),
    )
    .expect("end is after start");
    Volume4D::new(footprint, altitude, window)
}

/// The point `distance_m` from `from` along `azimuth_deg` on a sphere of mean radius:
/// generating test data needs no geodesic precision.
fn offset(from: LatLng, azimuth_deg: f64, distance_m: f64) -> LatLng {
    let angle = distance_m / 6_371_000.0;
    let (lat, lng) = (from.lat_deg().to_radians(), from.lng_deg().to_radians());
    let azimuth = azimuth_deg.to_radians();
    let lat2 = (lat.sin() * angle.cos() + lat.cos() * angle.sin() * azimuth.cos()).asin();
    let lng2 =
        lng + (azimuth.sin() * angle.sin() * lat.cos()).atan2(angle.cos() - lat.sin() * lat2.sin());
    let lng2 = (lng2.to_degrees() + 540.0).rem_euclid(360.0) - 180.0;
    LatLng::new(
        lat2.to_degrees().clamp(-90.0, 90.0),
        lng2.clamp(-180.0, 180.0),
    )
    .expect("clamped into range")
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn args(line: &[&str]) -> Args {
        Cli::try_parse_from(std::iter::once("bench").chain(line.iter().copied()))
            .unwrap()
            .args
    }

    #[test]
    fn the_windows_spread_over_a_day_per_hundred_thousand_intents() {
        assert_eq!(args(&["--intents", "1000"]).days().unwrap(), 1.0);
        assert_eq!(args(&["--intents", "100000"]).days().unwrap(), 1.0);
        assert_eq!(args(&["--intents", "1000000"]).days().unwrap(), 10.0);
        assert_eq!(
            args(&["--intents", "1000000", "--days", "2.5"])
                .days()
                .unwrap(),
            2.5
        );
        for wrong in ["0", "-1", "NaN", "inf", "4000"] {
            let days = format!("--days={wrong}");
            let error = args(&["--intents", "10", &days]).days().unwrap_err();
            assert!(error.to_string().contains("--days"), "{error}");
        }
    }

    #[test]
    fn later_days_hold_later_windows_and_one_day_is_the_old_workload() {
        let starts = |days: f64| -> Vec<f64> {
            let mut rng = ChaCha8Rng::seed_from_u64(7);
            (0..300)
                .flat_map(|_| random_intent(&mut rng, days))
                .map(|volume| volume.window.start().unix_s() - DAY_START_S)
                .collect()
        };
        let one_day = starts(1.0);
        assert!(one_day.iter().all(|s| (0.0..=86_400.0).contains(s)));
        let ten_days = starts(10.0);
        assert!(ten_days.iter().all(|s| (0.0..=864_000.0).contains(s)));
        assert!(
            ten_days.iter().filter(|s| **s > 86_400.0).count() > ten_days.len() / 2,
            "most windows start after the first day"
        );
    }
}
