//! The footprint distance against an independent reference: dense sampling of both
//! outlines (polygon edges as WGS84 geodesics and circles as geodesic circles, both by
//! Karney's direct problem), refined around the best samples, with WGS84 geodesic
//! distances (Karney) between samples and a winding-number containment test.

mod geometry_cases;

use deconflict_core::geometry::{Footprint, LatLng};
use geographiclib_rs::InverseGeodesic;
use geometry_cases::*;
use proptest::prelude::*;

type V = [f64; 3];

fn unit(p: LatLng) -> V {
    let (lat, lng) = (p.lat_deg().to_radians(), p.lng_deg().to_radians());
    [lat.cos() * lng.cos(), lat.cos() * lng.sin(), lat.sin()]
}

fn dot(a: V, b: V) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn cross(a: V, b: V) -> V {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn distance_m(a: LatLng, b: LatLng) -> f64 {
    geodesic().inverse(a.lat_deg(), a.lng_deg(), b.lat_deg(), b.lng_deg())
}

/// The outline as a parametrised closed curve: `point(s)` for s in [0, pieces).
struct Outline {
    pieces: usize,
    point: Box<dyn Fn(f64) -> LatLng>,
}

fn outline(footprint: &Footprint) -> Outline {
    match footprint {
        Footprint::Polygon(polygon) => {
            let vertices = polygon.vertices().to_vec();
            let count = vertices.len();
            let edges: Vec<(f64, f64)> = (0..count)
                .map(|i| {
                    let (a, b) = (vertices[i], vertices[(i + 1) % count]);
                    let (length_m, azimuth_deg, _, _): (f64, f64, f64, f64) =
                        geodesic().inverse(a.lat_deg(), a.lng_deg(), b.lat_deg(), b.lng_deg());
                    (length_m, azimuth_deg)
                })
                .collect();
            Outline {
                pieces: count,
                point: Box::new(move |s: f64| {
                    let edge = (s.floor() as usize).min(count - 1);
                    let t = s - edge as f64;
                    let (length_m, azimuth_deg) = edges[edge];
                    destination(vertices[edge], azimuth_deg, length_m * t)
                }),
            }
        }
        Footprint::Circle(circle) => {
            let (centre, radius_m) = (circle.centre(), circle.radius_m());
            Outline {
                pieces: 36,
                point: Box::new(move |s: f64| destination(centre, s * 10.0, radius_m)),
            }
        }
    }
}

/// Winding-number containment on the sphere, independent of the crate's gnomonic test.
fn reference_contains(footprint: &Footprint, point: LatLng) -> bool {
    match footprint {
        Footprint::Circle(circle) => distance_m(circle.centre(), point) <= circle.radius_m(),
        Footprint::Polygon(polygon) => {
            let p = unit(point);
            let units: Vec<V> = polygon.vertices().iter().map(|&v| unit(v)).collect();
            let total: f64 = (0..units.len())
                .map(|i| {
                    let (a, b) = (units[i], units[(i + 1) % units.len()]);
                    dot(p, cross(a, b)).atan2(dot(a, b) - dot(p, a) * dot(p, b))
                })
                .sum();
            // Around the point the winding is ±2π when inside; the polygon is the smaller
            // region, and a point outside it sees a total of 0.
            total.abs() > std::f64::consts::PI
        }
    }
}

fn reference_distance_m(a: &Footprint, b: &Footprint) -> f64 {
    let (outline_a, outline_b) = (outline(a), outline(b));
    // Containment of one outline point in the other footprint means 0 only if the whole
    // of one is inside or they cross; a crossing shows as sampled distance near 0, so test
    // containment of a point of each.
    if reference_contains(b, (outline_a.point)(0.0))
        || reference_contains(a, (outline_b.point)(0.0))
    {
        return 0.0;
    }
    let samples = 24;
    let params = |o: &Outline| -> Vec<f64> {
        (0..o.pieces * samples)
            .map(|k| k as f64 / samples as f64)
            .collect()
    };
    let (sa, sb) = (params(&outline_a), params(&outline_b));
    // Crossing outlines put samples of each inside the other (unless the overlap is
    // thinner than the sampling, where the search below finds a distance near 0).
    if sa
        .iter()
        .any(|&s| reference_contains(b, (outline_a.point)(s)))
        || sb
            .iter()
            .any(|&s| reference_contains(a, (outline_b.point)(s)))
    {
        return 0.0;
    }
    let ua: Vec<V> = sa.iter().map(|&s| unit((outline_a.point)(s))).collect();
    let ub: Vec<V> = sb.iter().map(|&s| unit((outline_b.point)(s))).collect();
    let mut pairs: Vec<(f64, usize, usize)> = Vec::new();
    for (i, &pa) in ua.iter().enumerate() {
        for (j, &pb) in ub.iter().enumerate() {
            pairs.push((-dot(pa, pb), i, j));
        }
    }
    pairs.sort_by(|x, y| x.0.total_cmp(&y.0));
    // Pattern search from the best coarse pairs: move while a neighbour is closer, halve
    // the step when none is, so that the search walks as far as it needs to.
    let wrap = |s: f64, o: &Outline| s.rem_euclid(o.pieces as f64);
    let measure = |s_a: f64, s_b: f64| distance_m((outline_a.point)(s_a), (outline_b.point)(s_b));
    let mut best = f64::INFINITY;
    for &(_, i, j) in pairs.iter().take(8) {
        let (mut at_a, mut at_b) = (sa[i], sb[j]);
        let mut here = measure(at_a, at_b);
        let mut step = 1.0 / samples as f64;
        let mut moves = 0;
        while step > 1e-9 && moves < 5_000 {
            moves += 1;
            let mut improved = false;
            for (da, db) in [
                (1.0, 0.0),
                (-1.0, 0.0),
                (0.0, 1.0),
                (0.0, -1.0),
                (1.0, 1.0),
                (-1.0, -1.0),
                (1.0, -1.0),
                (-1.0, 1.0),
            ] {
                let (s_a, s_b) = (
                    wrap(at_a + da * step, &outline_a),
                    wrap(at_b + db * step, &outline_b),
                );
                let d = measure(s_a, s_b);
                if d < here {
                    (at_a, at_b, here) = (s_a, s_b, d);
                    improved = true;
                    break;
                }
            }
            if !improved {
                step /= 2.0;
            }
        }
        best = best.min(here);
    }
    best
}

fn tolerance_m(reference_m: f64) -> f64 {
    // The contract asks for 0.5 % or 10 m; the design achieves far better, and a
    // regression should show long before it breaks the contract.
    (reference_m * 0.001).max(2.0)
}

/// Checks one random pair and reports its seed on failure.
fn check_pair(seed: u64) {
    let mut rng = rng(seed);
    let region = rng.random_range(0..REGIONS.len());
    let centre_a = random_point(&mut rng, region);
    let size_a = 10f64.powf(rng.random_range(3.0..6.0)); // 1 km to 1,000 km across
    let a = random_footprint(&mut rng, centre_a, size_a);
    let centre_b = destination(
        centre_a,
        rng.random_range(0.0..360.0),
        rng.random_range(0.0..1_000_000.0),
    );
    let size_b = 10f64.powf(rng.random_range(3.0..6.0));
    let b = random_footprint(&mut rng, centre_b, size_b);
    let found = a.geodesic_distance_m(&b);
    let reference = reference_distance_m(&a, &b);
    assert!(
        (found - reference).abs() <= tolerance_m(reference),
        "seed {seed} ({}): distance {found} m, reference {reference} m\n{a:?}\n{b:?}",
        REGIONS[region].0
    );
    assert_eq!(
        found,
        b.geodesic_distance_m(&a),
        "seed {seed}: the distance is not symmetric"
    );
}

use rand::RngExt;

#[test]
fn the_distance_agrees_with_dense_geodesic_sampling_on_random_cases_everywhere() {
    // DECONFLICT_DISTANCE_CASES=3000 (in release) runs a longer campaign; every failure
    // names its seed.
    let cases: u64 = std::env::var("DECONFLICT_DISTANCE_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(200);
    for seed in 0..cases {
        check_pair(seed);
    }
}

#[test]
fn a_footprint_inside_another_is_at_distance_zero() {
    let mut rng = rng(7);
    for (region, (name, _, _)) in REGIONS.iter().enumerate() {
        let centre = random_point(&mut rng, region);
        // A rectangle centred on the centre contains it (a random star might not).
        let outer =
            Footprint::Polygon(thin_polygon(&mut rng, centre, 400_000.0, 300_000.0).unwrap());
        let inner =
            Footprint::Circle(deconflict_core::geometry::Circle::new(centre, 1_000.0).unwrap());
        assert_eq!(outer.geodesic_distance_m(&inner), 0.0, "{name}");
        assert_eq!(inner.geodesic_distance_m(&outer), 0.0, "{name}");
    }
}

#[test]
fn a_polygon_around_the_north_pole_contains_the_pole() {
    let vertices = [0.0, 90.0, 180.0, -90.0]
        .iter()
        .map(|&lng| LatLng::new(85.0, lng).unwrap())
        .collect();
    let polygon = Footprint::Polygon(deconflict_core::geometry::Polygon::new(vertices).unwrap());
    let pole = Footprint::Circle(
        deconflict_core::geometry::Circle::new(LatLng::new(90.0, 0.0).unwrap(), 1.0).unwrap(),
    );
    assert_eq!(polygon.geodesic_distance_m(&pole), 0.0);
    let outside = Footprint::Circle(
        deconflict_core::geometry::Circle::new(LatLng::new(80.0, 45.0).unwrap(), 1.0).unwrap(),
    );
    // The edge from (85, 0) to (85, 90) is a geodesic, which bulges poleward of the
    // parallel; the reference measures the same curve.
    let found = polygon.geodesic_distance_m(&outside);
    let reference = reference_distance_m(&polygon, &outside);
    assert!(
        (found - reference).abs() <= tolerance_m(reference),
        "{found} vs {reference}"
    );
}

#[test]
fn footprints_across_the_antimeridian_are_measured_the_short_way() {
    let square = |lng0: f64| {
        Footprint::Polygon(
            deconflict_core::geometry::Polygon::new(vec![
                LatLng::new(10.0, lng0).unwrap(),
                LatLng::new(10.0, lng0 + 0.1).unwrap(),
                LatLng::new(10.1, lng0 + 0.1).unwrap(),
                LatLng::new(10.1, lng0).unwrap(),
            ])
            .unwrap(),
        )
    };
    let east = square(179.85); // up to 179.95
    let west = square(-179.95); // up to -179.85
    let found = east.geodesic_distance_m(&west);
    // The nearest vertices face each other across the antimeridian on the northern edge,
    // where meridians are closest.
    let expected = distance_m(
        LatLng::new(10.1, 179.95).unwrap(),
        LatLng::new(10.1, -179.95).unwrap(),
    );
    assert!((found - expected).abs() < 1.0, "{found} vs {expected}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn the_distance_is_symmetric_and_does_not_depend_on_vertex_order(seed in any::<u64>()) {
        let mut rng = rng(seed);
        let region = rng.random_range(0..REGIONS.len());
        let centre = random_point(&mut rng, region);
        let a = random_footprint(&mut rng, centre, 50_000.0);
        let azimuth = rng.random_range(0.0..360.0);
        let offset_m = rng.random_range(0.0..200_000.0);
        let b = random_footprint(&mut rng, destination(centre, azimuth, offset_m), 50_000.0);
        let d = a.geodesic_distance_m(&b);
        prop_assert_eq!(d, b.geodesic_distance_m(&a));
        if let Footprint::Polygon(polygon) = &a {
            let mut reversed = polygon.vertices().to_vec();
            reversed.reverse();
            let rotated: Vec<LatLng> = polygon.vertices().iter().cycle().skip(1).take(polygon.vertices().len()).copied().collect();
            for vertices in [reversed, rotated] {
                let other = Footprint::Polygon(deconflict_core::geometry::Polygon::new(vertices).unwrap());
                let d2 = other.geodesic_distance_m(&b);
                prop_assert!((d - d2).abs() <= 1e-6 * d.max(1.0), "seed {}: {} vs {}", seed, d, d2);
            }
        }
    }
}
