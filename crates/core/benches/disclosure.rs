//! The disclosure region of a conflicting pair of volumes: the costliest part of a checked
//! write that finds a conflict (about a tenth of the service's CPU at 100,000 intents and
//! 128 clients, a fifth before regions moved to the tangent plane), timed alone so that a
//! change to its geometry can be measured apart from the service's noise.
//! `cargo bench -p deconflict-core --bench disclosure`.
//!
//! The pairs are seeded and fixed: footprints 2–40 km across (circles, long thin polygons
//! and star-shaped, often concave polygons) up to 30 km apart over the Levant, bands and
//! windows lined up so that every pair conflicts under the contract's default minima. Each
//! group times one region at a time, going round its pairs.

#[path = "../tests/geometry_cases/mod.rs"]
mod geometry_cases;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use deconflict_core::geometry::{Footprint, Volume4D};
use deconflict_core::strategic::{disclosure_region, volume_conflict, Separation};
use geometry_cases::{destination, random_point, random_volume, rng, REGIONS};
use rand::RngExt;

const PAIRS: usize = 256;
const DAY_START_S: f64 = 1_445_299_200.0;

/// Conflicting pairs, both footprints of the kinds `keep` accepts.
fn pairs(
    separation: &Separation,
    keep: impl Fn(&Footprint, &Footprint) -> bool,
) -> Vec<(Volume4D, Volume4D)> {
    let levant = REGIONS
        .iter()
        .position(|region| region.0 == "levant")
        .expect("the cases have the Levant");
    let mut found = Vec::with_capacity(PAIRS);
    let mut seed = 0;
    while found.len() < PAIRS {
        seed += 1;
        let mut rng = rng(seed);
        let centre = random_point(&mut rng, levant);
        let size_m = rng.random_range(2_000.0..40_000.0);
        let a = random_volume(&mut rng, centre, size_m, DAY_START_S);
        let azimuth_deg = rng.random_range(0.0..360.0);
        let offset_m = rng.random_range(0.0..30_000.0);
        let size_m = rng.random_range(2_000.0..40_000.0);
        let b = random_volume(
            &mut rng,
            destination(centre, azimuth_deg, offset_m),
            size_m,
            DAY_START_S,
        );
        let b = Volume4D::new(b.footprint, a.altitude, a.window);
        if keep(&a.footprint, &b.footprint) && volume_conflict(&a, &b, separation).is_some() {
            found.push((a, b));
        }
    }
    found
}

fn bench(c: &mut Criterion) {
    let separation = Separation::new(9_260.0, 300.0, 120.0).expect("the contract's minima");
    let circle = |f: &Footprint| matches!(f, Footprint::Circle(_));
    let groups: [(&str, Vec<(Volume4D, Volume4D)>); 3] = [
        ("disclosure_region/mixed", pairs(&separation, |_, _| true)),
        (
            "disclosure_region/circle_circle",
            pairs(&separation, |a, b| circle(a) && circle(b)),
        ),
        (
            "disclosure_region/polygon_polygon",
            pairs(&separation, |a, b| !circle(a) && !circle(b)),
        ),
    ];
    for (name, pairs) in &groups {
        let mut next = pairs.iter().cycle();
        c.bench_function(name, |b| {
            b.iter(|| {
                let (a, other) = next.next().expect("a cycle never ends");
                black_box(disclosure_region(
                    black_box(a),
                    black_box(other),
                    &separation,
                ))
            })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
