//! The disclosure region: it exists exactly for conflicting volumes, lies within half the
//! horizontal minimum of both footprints, and never holds a raw vertex.

mod geometry_cases;

use deconflict_core::geometry::{Circle, Footprint, LatLng, Volume4D};
use deconflict_core::strategic::{
    disclosure_region, disclosure_region_of_conflict, volume_conflict, Separation,
};
use geometry_cases::*;
use rand::RngExt;

const DAY_START_S: f64 = 1_445_299_200.0;

fn point_distance_m(footprint: &Footprint, point: LatLng) -> f64 {
    Footprint::Circle(Circle::new(point, 1e-3).unwrap()).geodesic_distance_m(footprint)
}

/// Two random intents' first volumes about one random point: the region index and the two.
fn random_pair(rng: &mut Rng, spread_m: f64) -> (usize, Volume4D, Volume4D) {
    let region = rng.random_range(0..REGIONS.len());
    let centre = random_point(rng, region);
    let a = random_intent(rng, centre, spread_m, DAY_START_S).swap_remove(0);
    let b = random_intent(rng, centre, spread_m, DAY_START_S).swap_remove(0);
    (region, a, b)
}

#[test]
fn the_region_exists_exactly_for_conflicts_and_stays_near_both_footprints() {
    let separation = Separation::new(9_260.0, 300.0, 120.0).unwrap();
    let half_m = separation.horizontal_m() / 2.0;
    let mut regions = 0;
    for seed in 0..300 {
        let (region, a, b) = random_pair(&mut rng(seed), 40_000.0);
        // Line the bands and windows up often, so that many pairs conflict.
        let b = if seed % 2 == 0 {
            Volume4D::new(b.footprint, a.altitude, a.window)
        } else {
            b
        };
        let conflict = volume_conflict(&a, &b, &separation);
        let disclosed = disclosure_region(&a, &b, &separation);
        assert_eq!(conflict.is_some(), disclosed.is_some(), "seed {seed}");
        if conflict.is_some() {
            // Told the pair conflicts, the region is the same without the test.
            assert_eq!(
                disclosure_region_of_conflict(&a, &b, &separation),
                disclosed,
                "seed {seed}"
            );
        }
        let Some(disclosed) = disclosed else { continue };
        regions += 1;
        assert!(!disclosed.outlines.is_empty(), "seed {seed}: empty region");
        let raw: Vec<LatLng> = [&a.footprint, &b.footprint]
            .into_iter()
            .flat_map(|f| match f {
                Footprint::Polygon(polygon) => polygon.vertices().to_vec(),
                Footprint::Circle(circle) => vec![circle.centre()],
            })
            .collect();
        for outline in &disclosed.outlines {
            assert!(outline.len() >= 3);
            for &vertex in outline {
                assert!(
                    !raw.contains(&vertex),
                    "seed {seed}: a raw vertex is disclosed"
                );
                for footprint in [&a.footprint, &b.footprint] {
                    let d = point_distance_m(footprint, vertex);
                    assert!(
                        d <= half_m * 1.01 + 10.0,
                        "seed {seed} ({}): a region vertex is {d} m from a footprint",
                        REGIONS[region].0
                    );
                }
            }
        }
        let gap_v = a.altitude.gap_m(&b.altitude);
        let expected_height = separation.vertical_m() - gap_v
            + (a.altitude.upper_m().min(b.altitude.upper_m())
                - a.altitude.lower_m().max(b.altitude.lower_m()))
            .max(0.0);
        let height = disclosed.altitude.upper_m() - disclosed.altitude.lower_m();
        assert!((height - expected_height).abs() < 1e-6, "seed {seed}");
        assert!(
            disclosed.window.start().unix_s()
                >= a.window.start().unix_s().max(b.window.start().unix_s()) - 60.0
        );
    }
    assert!(regions > 50, "only {regions} conflicting pairs");
}

/// A large circle's part of the region keeps as close to it as a small one's: within half
/// the horizontal minimum, 0.5 % of that and the metre of slack (a polygon of a fixed 72
/// vertices put a 100 km circle's region vertices 100 m further out).
#[test]
fn a_large_circle_is_drawn_as_closely_as_a_small_one() {
    use deconflict_core::geometry::{AltitudeBand, TimeWindow, Volume4D};
    let separation = Separation::new(9_260.0, 300.0, 120.0).unwrap();
    let half_m = separation.horizontal_m() / 2.0;
    let volume = |centre: LatLng, radius_m: f64| {
        Volume4D::new(
            Footprint::Circle(Circle::new(centre, radius_m).unwrap()),
            AltitudeBand::new(1_000.0, 2_000.0).unwrap(),
            TimeWindow::from_unix_s(DAY_START_S, DAY_START_S + 3_600.0).unwrap(),
        )
    };
    let large = volume(LatLng::new(34.0, 38.0).unwrap(), 100_000.0);
    for (lat, lng) in [(34.0, 39.18), (34.98, 38.0), (33.25, 37.25)] {
        // A small circle just across the large one's edge, centred beyond it.
        let small = volume(LatLng::new(lat, lng).unwrap(), 5_000.0);
        let gap_m = large.footprint.geodesic_distance_m(&small.footprint);
        assert!(
            gap_m > 0.0 && gap_m < separation.horizontal_m(),
            "{lat},{lng}: {gap_m} m apart"
        );
        for (a, b) in [(&large, &small), (&small, &large)] {
            let region = disclosure_region(a, b, &separation).expect("they conflict");
            for &vertex in region.outlines.iter().flatten() {
                let d = point_distance_m(&large.footprint, vertex);
                assert!(
                    d <= half_m * 1.005 + 1.0 + 1.0,
                    "{lat},{lng}: a region vertex is {d} m from the large circle"
                );
            }
        }
    }
}

/// Whether `point` lies inside `outline`, both on WGS84: the outline drawn in the
/// azimuthal equidistant projection about the point (each vertex at its geodesic azimuth
/// and distance), where the point is the origin. Right at the poles and across the
/// antimeridian, where latitude and longitude are no plane.
fn holds(outline: &[LatLng], point: LatLng) -> bool {
    use geo::{Contains, Coord, LineString, Point, Polygon};
    use geographiclib_rs::InverseGeodesic;
    let ring: Vec<Coord<f64>> = outline
        .iter()
        .map(|vertex| {
            let (distance_m, azimuth_deg, _, _): (f64, f64, f64, f64) = geodesic().inverse(
                point.lat_deg(),
                point.lng_deg(),
                vertex.lat_deg(),
                vertex.lng_deg(),
            );
            let (sin, cos) = azimuth_deg.to_radians().sin_cos();
            Coord {
                x: distance_m * sin,
                y: distance_m * cos,
            }
        })
        .collect();
    Polygon::new(LineString::new(ring), vec![]).contains(&Point::new(0.0, 0.0))
}

/// The region holds every point within half the horizontal minimum of both footprints (less
/// a few metres, for the straight edges between outline vertices): pairs of circles,
/// corridors and stars, so that the convex outlines' path (clipped and buffered directly)
/// and the overlay's path both answer. Points are drawn around the region, a third past
/// its extent on every side, so that a point near both footprints outside it would be
/// drawn too.
#[test]
fn the_region_holds_every_point_near_both_footprints() {
    let separation = Separation::new(9_260.0, 300.0, 120.0).unwrap();
    let half_m = separation.horizontal_m() / 2.0;
    let mut near_both = 0;
    for seed in 0..120 {
        let mut rng = rng(1_000 + seed);
        let (region, a, b) = random_pair(&mut rng, 20_000.0);
        let b = Volume4D::new(b.footprint, a.altitude, a.window);
        let Some(disclosed) = disclosure_region(&a, &b, &separation) else {
            continue;
        };
        // The region's reach from its first vertex, in metres.
        let first = disclosed.outlines[0][0];
        let reach_m = disclosed
            .outlines
            .iter()
            .flatten()
            .map(|&vertex| {
                point_distance_m(
                    &Footprint::Circle(Circle::new(first, 1e-3).unwrap()),
                    vertex,
                )
            })
            .fold(0.0, f64::max);
        for _ in 0..150 {
            let point = destination(
                first,
                rng.random_range(0.0..360.0),
                rng.random_range(0.0..=reach_m * 4.0 / 3.0 + 1_000.0),
            );
            let near = [&a.footprint, &b.footprint]
                .into_iter()
                .all(|footprint| point_distance_m(footprint, point) <= half_m - 5.0);
            if !near {
                continue;
            }
            near_both += 1;
            assert!(
                disclosed
                    .outlines
                    .iter()
                    .any(|outline| holds(outline, point)),
                "seed {seed} ({}): a point within {half_m} m of both footprints is outside \
                 the region",
                REGIONS[region].0
            );
        }
    }
    assert!(
        near_both > 1_000,
        "only {near_both} points fell near both footprints"
    );
}
