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

/// What `deconflict bench tactical --help` says after the options.
const AFTER_HELP: &str = "\
Aircraft are spread uniformly over a spherical cap centred at 45 N 10 E whose area gives
--density aircraft per 10,000 km² (the whole sphere when N needs more room than that);
altitudes 0-13,000 m, ground speeds 50-300 m/s, random headings, a tenth climbing or
descending at up to 20 m/s, each aircraft its own party. One cycle with the default
cylinder (9260 m, 304.8 m, 300 s) warms the detector's buffers; cycle_ms is the next,
steady-state cycle (as a service runs one every second), or the median of --cycles of
them. The readable report also gives the first cycle, the CPU time per cycle over all
threads (what the cycle would take on idle cores) and the bytes held per aircraft.

--json prints one line:
  {\"aircraft\": N, \"pairs\": P, \"cycle_ms\": T, \"threads\": K}
with --verify adding \"brute_force_ms\" and \"verified\"; exit 1 when the pairs differ.";

/// Mean Earth radius, for the area of the cap the traffic is spread over.
const EARTH_MEAN_RADIUS_M: f64 = 6_371_008.8;
const CAP_CENTRE_LAT_DEG: f64 = 45.0;
const CAP_CENTRE_LON_DEG: f64 = 10.0;
const SQUARE_METRES_PER_10000_KM2: f64 = 1e10;

/// Time one full tactical detection cycle over N random aircraft.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
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
    /// Time this many steady-state cycles and report the median (useful on a busy
    /// machine).
    #[arg(long, default_value_t = 1)]
    pub cycles: usize,
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
    ensure!(args.cycles >= 1, "--cycles must be at least 1");
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
    let mut cycle_times_ms = Vec::with_capacity(args.cycles);
    let mut pairs = Vec::new();
    let cpu_before_ns = process_cpu_ns();
    for _ in 0..args.cycles {
        let started = Instant::now();
        pairs = detector.detect(&states);
        cycle_times_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        ensure!(first == pairs, "two cycles over the same traffic disagree");
    }
    let cpu_ms = cpu_before_ns
        .zip(process_cpu_ns())
        .map(|(before, after)| after.saturating_sub(before) as f64 / 1e6 / args.cycles as f64);
    cycle_times_ms.sort_by(f64::total_cmp);
    let cycle_ms = cycle_times_ms[cycle_times_ms.len() / 2];
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
        let median = if args.cycles > 1 {
            format!(" median of {}", args.cycles)
        } else {
            String::new()
        };
        println!("cycle:       {cycle_ms:.3} ms{median} (first cycle {first_ms:.3} ms), {threads} threads");
        if let Some(cpu_ms) = cpu_ms {
            // Wall time depends on what else the machine runs; CPU time much less so.
            println!(
                "cpu:         {cpu_ms:.3} ms per cycle over all threads, {:.3} ms of wall time on {threads} idle cores",
                cpu_ms / threads as f64
            );
        }
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

/// CPU time used so far by every thread of this process, in nanoseconds, from Linux's
/// per-thread scheduler statistics; `None` where they are not available.
fn process_cpu_ns() -> Option<u64> {
    let mut total = 0u64;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        total += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn angle_from_centre_rad(state: &AircraftState) -> f64 {
        let (lat0, lon0) = (
            CAP_CENTRE_LAT_DEG.to_radians(),
            CAP_CENTRE_LON_DEG.to_radians(),
        );
        let (lat, lon) = (state.lat_deg().to_radians(), state.lon_deg().to_radians());
        let cos = lat0.sin() * lat.sin() + lat0.cos() * lat.cos() * (lon - lon0).cos();
        cos.clamp(-1.0, 1.0).acos()
    }

    #[test]
    fn the_traffic_fills_the_cap_of_the_requested_density_uniformly() {
        let (aircraft, density) = (20_000, 20.0);
        let states = traffic(aircraft, density, 7);
        let cap = spread(aircraft, density).cap_radius_rad;
        // 20,000 aircraft at 20 per 10,000 km² cover 1e7 km²: a cap of about 1,790 km.
        assert!(
            (cap * EARTH_MEAN_RADIUS_M / 1000.0 - 1790.0).abs() < 5.0,
            "{cap}"
        );
        assert!(states
            .iter()
            .all(|s| angle_from_centre_rad(s) <= cap + 1e-9));
        // Uniform over the area: the inner cap with half the area holds half the traffic.
        let half_area_angle = (1.0 - (1.0 - cap.cos()) / 2.0).acos();
        let inner = states
            .iter()
            .filter(|s| angle_from_centre_rad(s) <= half_area_angle)
            .count();
        assert!(
            (inner as f64 / aircraft as f64 - 0.5).abs() < 0.02,
            "{inner}"
        );

        let climbing = states.iter().filter(|s| s.vu_mps() != 0.0).count();
        assert!(
            (climbing as f64 / aircraft as f64 - 0.1).abs() < 0.01,
            "{climbing}"
        );
        for s in &states {
            assert!((0.0..=13_000.0).contains(&s.alt_m()));
            assert!((50.0 - 1e-9..=300.0 + 1e-9).contains(&s.ground_speed_mps()));
            assert!(s.vu_mps().abs() <= 20.0);
        }
        let parties: std::collections::HashSet<_> = states.iter().map(|s| s.party()).collect();
        assert_eq!(parties.len(), aircraft, "every aircraft is its own party");
    }

    #[test]
    fn too_many_aircraft_for_any_cap_spread_over_the_whole_sphere() {
        assert_eq!(spread(2_000_000, 20.0).cap_radius_rad, std::f64::consts::PI);
        let states = traffic(5000, 0.0001, 3);
        let south = states.iter().filter(|s| s.lat_deg() < 0.0).count();
        assert!((south as f64 / 5000.0 - 0.5).abs() < 0.05, "{south}");
    }
}
