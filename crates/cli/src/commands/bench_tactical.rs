//! `deconflict bench tactical`: one full tactical detection cycle over seeded random
//! traffic, timed, optionally checked against the exhaustive detector.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::ensure;
use deconflict_core::tactical::{
    detect_exhaustive_with_progress, AircraftState, DetectionParams, PartyIndex, TacticalDetector,
};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Mean Earth radius, for the area of the cap the traffic is spread over.
const EARTH_MEAN_RADIUS_M: f64 = 6_371_008.8;
const CAP_CENTRE_LAT_DEG: f64 = 45.0;
const CAP_CENTRE_LON_DEG: f64 = 10.0;
const SQUARE_METRES_PER_10000_KM2: f64 = 1e10;

/// Time one full tactical detection cycle (default cylinder: 9260 m, 304.8 m, 300 s) over
/// N random aircraft.
///
/// Aircraft are spread uniformly over a spherical cap centred at 45 N 10 E whose area gives
/// --density aircraft per 10,000 km² (the whole sphere when N needs more room than that);
/// altitudes 0-13,000 m, ground speeds 50-300 m/s, random headings, a tenth climbing or
/// descending at up to 20 m/s, each aircraft its own party. The cycle is run twice on one
/// detector: `cycle_ms` is the second, steady-state cycle (buffers reused, as the service
/// runs it every second); the first is shown in the readable output.
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Number of aircraft.
    #[arg(long)]
    pub aircraft: usize,
    /// Aircraft per 10,000 km².
    #[arg(long, default_value_t = 20.0)]
    pub density: f64,
    /// Seed of the traffic generator.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Also run the exhaustive O(N²) check and compare the pairs (exit 1 if they differ).
    #[arg(long)]
    pub verify: bool,
    /// Print one JSON line instead of the readable report.
    #[arg(long)]
    pub json: bool,
}

/// Where the traffic was spread.
struct Spread {
    /// Angular radius of the cap (π for the whole sphere).
    cap_radius_rad: f64,
}

fn spread(aircraft: usize, density: f64) -> Spread {
    let area_m2 = aircraft as f64 / density * SQUARE_METRES_PER_10000_KM2;
    let sphere_m2 = 4.0 * std::f64::consts::PI * EARTH_MEAN_RADIUS_M * EARTH_MEAN_RADIUS_M;
    let cap_radius_rad = if area_m2 >= sphere_m2 {
        std::f64::consts::PI
    } else {
        // Cap area 2πR²(1 - cos θ).
        (1.0 - area_m2 / (2.0 * std::f64::consts::PI * EARTH_MEAN_RADIUS_M * EARTH_MEAN_RADIUS_M))
            .acos()
    };
    Spread { cap_radius_rad }
}

/// The benchmark's traffic: uniform over the cap (uniform in the cosine of the angle from
/// the centre, uniform in bearing), every aircraft its own party.
pub fn traffic(aircraft: usize, density: f64, seed: u64) -> Vec<AircraftState> {
    let Spread { cap_radius_rad } = spread(aircraft, density);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (sin_lat0, cos_lat0) = CAP_CENTRE_LAT_DEG.to_radians().sin_cos();
    let (sin_lon0, cos_lon0) = CAP_CENTRE_LON_DEG.to_radians().sin_cos();
    let centre = [cos_lat0 * cos_lon0, cos_lat0 * sin_lon0, sin_lat0];
    let north = [-sin_lat0 * cos_lon0, -sin_lat0 * sin_lon0, cos_lat0];
    let east = [-sin_lon0, cos_lon0, 0.0];
    let cos_cap = cap_radius_rad.cos();
    (0..aircraft)
        .map(|i| {
            let cos_angle: f64 = rng.random_range(cos_cap..=1.0);
            let sin_angle = (1.0 - cos_angle * cos_angle).max(0.0).sqrt();
            let (sin_bearing, cos_bearing) = rng.random_range(0.0..std::f64::consts::TAU).sin_cos();
            let p: Vec<f64> = (0..3)
                .map(|k| {
                    cos_angle * centre[k]
                        + sin_angle * (cos_bearing * north[k] + sin_bearing * east[k])
                })
                .collect();
            let lat_deg = p[2].clamp(-1.0, 1.0).asin().to_degrees();
            let lon_deg = p[1].atan2(p[0]).to_degrees();
            let alt_m = rng.random_range(0.0..=13_000.0);
            let speed_mps = rng.random_range(50.0..=300.0);
            let (sin_heading, cos_heading) = rng.random_range(0.0..std::f64::consts::TAU).sin_cos();
            let vu_mps = if rng.random_bool(0.1) {
                let rate: f64 = rng.random_range(0.0..=20.0);
                if rng.random_bool(0.5) {
                    rate
                } else {
                    -rate
                }
            } else {
                0.0
            };
            AircraftState::new(
                PartyIndex(i as u32),
                lat_deg.clamp(-90.0, 90.0),
                lon_deg.clamp(-180.0, 180.0),
                alt_m,
                speed_mps * cos_heading,
                speed_mps * sin_heading,
                vu_mps,
            )
            .expect("generated states are within range")
        })
        .collect()
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    ensure!(args.aircraft >= 2, "--aircraft must be at least 2");
    ensure!(
        args.aircraft <= deconflict_core::tactical::AIRCRAFT_PER_CYCLE_MAX,
        "--aircraft is above the per-cycle limit"
    );
    ensure!(
        args.density.is_finite() && args.density > 0.0,
        "--density must be a number above 0"
    );
    let terminal = std::io::stderr().is_terminal() && !args.json;
    let say = |text: &str| {
        if terminal {
            eprintln!("{text}");
        }
    };

    say(&format!(
        "generating {} aircraft (seed {}) ...",
        args.aircraft, args.seed
    ));
    let states = traffic(args.aircraft, args.density, args.seed);
    let params = DetectionParams::default();
    let mut detector = TacticalDetector::new(params);

    say("detecting ...");
    let started = Instant::now();
    let first = detector.detect(&states);
    let first_ms = started.elapsed().as_secs_f64() * 1000.0;
    let started = Instant::now();
    let pairs = detector.detect(&states);
    let cycle_ms = started.elapsed().as_secs_f64() * 1000.0;
    ensure!(first == pairs, "two cycles over the same traffic disagree");
    let threads = rayon::current_num_threads();
    let detector_bytes = detector.bytes_per_aircraft();
    let state_bytes = std::mem::size_of::<AircraftState>() as f64;

    let verification = if args.verify {
        let bar = if terminal {
            let bar = indicatif::ProgressBar::new(states.len() as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "exhaustive check {bar:40} {percent}%, {eta} left",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        } else {
            indicatif::ProgressBar::hidden()
        };
        let started = Instant::now();
        let reference =
            detect_exhaustive_with_progress(&states, &params, &|done| bar.inc(done as u64));
        let brute_force_ms = started.elapsed().as_secs_f64() * 1000.0;
        bar.finish_and_clear();
        Some((brute_force_ms, reference == pairs, reference))
    } else {
        None
    };

    if args.json {
        let mut line = format!(
            "{{\"aircraft\": {}, \"pairs\": {}, \"cycle_ms\": {:.3}, \"threads\": {}",
            args.aircraft,
            pairs.len(),
            cycle_ms,
            threads
        );
        if let Some((brute_force_ms, verified, _)) = &verification {
            line += &format!(", \"brute_force_ms\": {brute_force_ms:.3}, \"verified\": {verified}");
        }
        line += "}";
        println!("{line}");
    } else {
        let Spread { cap_radius_rad } = spread(args.aircraft, args.density);
        let region = if cap_radius_rad >= std::f64::consts::PI {
            "the whole sphere".to_string()
        } else {
            format!(
                "a cap of radius {:.0} km around 45 N 10 E",
                cap_radius_rad * EARTH_MEAN_RADIUS_M / 1000.0
            )
        };
        println!(
            "traffic:     {} aircraft over {region}, {} per 10,000 km², seed {}",
            args.aircraft, args.density, args.seed
        );
        println!("criterion:   cylinder 9260 m / 304.8 m, lookahead 300 s");
        println!("pairs:       {}", pairs.len());
        println!("cycle:       {cycle_ms:.3} ms (first cycle {first_ms:.3} ms), {threads} threads");
        println!(
            "memory:      {:.0} bytes per aircraft ({detector_bytes:.0} detector buffers + {state_bytes:.0} state vector)",
            detector_bytes + state_bytes
        );
        if let Some((brute_force_ms, verified, _)) = &verification {
            println!(
                "exhaustive:  {brute_force_ms:.3} ms, {}",
                if *verified {
                    "same pairs"
                } else {
                    "DIFFERENT pairs"
                }
            );
        }
    }
    if let Some((_, false, reference)) = &verification {
        let key = |p: &deconflict_core::tactical::ConflictingPair| (p.first, p.second);
        let fast: std::collections::BTreeSet<_> = pairs.iter().map(key).collect();
        let slow: std::collections::BTreeSet<_> = reference.iter().map(key).collect();
        eprintln!(
            "deconflict: the grid and the exhaustive check disagree: {} pairs only in the grid, {} only in the exhaustive check, {} with different figures",
            fast.difference(&slow).count(),
            slow.difference(&fast).count(),
            pairs.iter().filter(|p| reference.binary_search_by_key(&key(p), key).is_ok_and(|i| reference[i] != **p)).count()
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
