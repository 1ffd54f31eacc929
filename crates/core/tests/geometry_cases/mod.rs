//! Seeded random footprints and volumes for the geometry and strategic tests: star-shaped
//! (often concave) polygons, long thin polygons and circles, placed over several
//! continents, across the antimeridian and around the poles.
#![allow(dead_code)]

use deconflict_core::geometry::{
    AltitudeBand, Circle, Footprint, LatLng, Polygon, TimeWindow, Volume4D,
};
use geographiclib_rs::{DirectGeodesic, Geodesic};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub type Rng = ChaCha8Rng;

pub fn rng(seed: u64) -> Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// A region to place cases in: name, latitude range, longitude range (degrees).
pub type Region = (&'static str, (f64, f64), (f64, f64));

pub const REGIONS: &[Region] = &[
    ("europe", (40.0, 60.0), (-5.0, 30.0)),
    ("levant", (30.0, 38.0), (34.0, 42.0)),
    ("north-america", (25.0, 50.0), (-125.0, -70.0)),
    ("south-america", (-40.0, -5.0), (-75.0, -40.0)),
    ("australia", (-38.0, -15.0), (115.0, 150.0)),
    ("africa", (-30.0, 30.0), (-10.0, 40.0)),
    ("antimeridian", (-60.0, 60.0), (175.0, 180.0)),
    ("antimeridian-west", (-60.0, 60.0), (-180.0, -175.0)),
    ("north-pole", (84.0, 90.0), (-180.0, 180.0)),
    ("south-pole", (-90.0, -84.0), (-180.0, 180.0)),
    ("equator", (-2.0, 2.0), (-180.0, 180.0)),
];

pub fn geodesic() -> Geodesic {
    Geodesic::wgs84()
}

/// The point `distance_m` from `from` along `azimuth_deg`, longitude kept in range.
pub fn destination(from: LatLng, azimuth_deg: f64, distance_m: f64) -> LatLng {
    let (lat, lng): (f64, f64) =
        geodesic().direct(from.lat_deg(), from.lng_deg(), azimuth_deg, distance_m);
    let lng = ((lng + 180.0).rem_euclid(360.0)) - 180.0;
    LatLng::new(lat.clamp(-90.0, 90.0), lng).expect("in range")
}

pub fn random_point(rng: &mut Rng, region: usize) -> LatLng {
    let (_, (lat_low, lat_high), (lng_low, lng_high)) = REGIONS[region];
    LatLng::new(
        rng.random_range(lat_low..=lat_high),
        rng.random_range(lng_low..=lng_high),
    )
    .expect("regions are in range")
}

/// A star-shaped polygon about `centre`: sorted azimuths, random radii in
/// [radius_m / 4, radius_m] (concave in general).
pub fn star_polygon(rng: &mut Rng, centre: LatLng, radius_m: f64) -> Option<Polygon> {
    let count = rng.random_range(3..=12usize);
    let mut azimuths: Vec<f64> = (0..count).map(|_| rng.random_range(0.0..360.0)).collect();
    azimuths.sort_by(f64::total_cmp);
    let vertices = azimuths
        .iter()
        .map(|&azimuth| destination(centre, azimuth, rng.random_range(radius_m / 4.0..=radius_m)))
        .collect();
    Polygon::new(vertices).ok()
}

/// A long thin quadrilateral: `length_m` long, `width_m` wide, random heading.
pub fn thin_polygon(rng: &mut Rng, centre: LatLng, length_m: f64, width_m: f64) -> Option<Polygon> {
    let heading = rng.random_range(0.0..360.0);
    let half_diagonal = (length_m / 2.0).hypot(width_m / 2.0);
    let spread = (width_m / length_m).atan().to_degrees();
    let vertices = [spread, 180.0 - spread, 180.0 + spread, 360.0 - spread]
        .iter()
        .map(|offset| destination(centre, heading + offset, half_diagonal))
        .collect();
    Polygon::new(vertices).ok()
}

/// A random footprint of the given size (metres across, roughly) about `centre`.
pub fn random_footprint(rng: &mut Rng, centre: LatLng, size_m: f64) -> Footprint {
    loop {
        let footprint = match rng.random_range(0..4u32) {
            0 => Some(Footprint::Circle(
                Circle::new(centre, rng.random_range(size_m / 20.0..=size_m / 2.0)).unwrap(),
            )),
            1 => {
                let width_m = size_m * rng.random_range(0.001..0.05);
                thin_polygon(rng, centre, size_m, width_m).map(Footprint::Polygon)
            }
            _ => star_polygon(rng, centre, size_m / 2.0).map(Footprint::Polygon),
        };
        if let Some(footprint) = footprint {
            return footprint;
        }
    }
}

/// A random volume about `centre`: altitudes within 0–12,000 m, a window within a day
/// from `day_start_s`.
pub fn random_volume(rng: &mut Rng, centre: LatLng, size_m: f64, day_start_s: f64) -> Volume4D {
    let footprint = random_footprint(rng, centre, size_m);
    let lower_m = rng.random_range(0.0..10_000.0);
    let altitude = AltitudeBand::new(lower_m, lower_m + rng.random_range(100.0..2_000.0)).unwrap();
    let start_s = day_start_s + rng.random_range(0.0..86_400.0);
    let window =
        TimeWindow::from_unix_s(start_s, start_s + rng.random_range(300.0..7_200.0)).unwrap();
    Volume4D::new(footprint, altitude, window)
}

/// A random intent: 1–3 volumes near `centre`, each a few to tens of km across.
pub fn random_intent(
    rng: &mut Rng,
    centre: LatLng,
    spread_m: f64,
    day_start_s: f64,
) -> Vec<Volume4D> {
    let count = rng.random_range(1..=3usize);
    (0..count)
        .map(|_| {
            let azimuth = rng.random_range(0.0..360.0);
            let offset_m = rng.random_range(0.0..spread_m);
            let size_m = rng.random_range(2_000.0..40_000.0);
            random_volume(
                rng,
                destination(centre, azimuth, offset_m),
                size_m,
                day_start_s,
            )
        })
        .collect()
}
