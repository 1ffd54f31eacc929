//! The disclosure region of a conflict: what a party may learn of a counterpart's volume
//! under the minimal policy. Each footprint is buffered by half the horizontal minimum,
//! each altitude band by half the vertical minimum and each time window by half the time
//! minimum; the region is where the buffered volumes overlap. Buffered footprints meet
//! exactly when the footprints are less than the horizontal minimum apart, so a region
//! exists exactly when the volumes conflict.
//!
//! # Accuracy
//! The horizontal region is computed in the WGS84 azimuthal equidistant projection about
//! the middle of the pair (exact distances from its centre, a scale error under 0.2 % at
//! 500 km from it). Polygon edges are densified along their great circles into pieces of
//! at most [`DENSIFY_STEP_M`] before projection; circles become 72-gons on their geodesic
//! circle. Buffers are polygonal with round joins whose chords are pushed outwards to
//! circumscribe the true arcs, plus [`BUFFER_SLACK_M`]: the region contains the exact one
//! up to the projection's scale error and exceeds it by at most about 0.5 % of half the
//! horizontal minimum plus a metre, so it is never empty for a conflicting pair.
//!
//! The outline never holds a raw vertex of either footprint: vertices within a metre of
//! one are dropped.

use geo::algorithm::buffer::{BufferStyle, LineJoin};
use geo::{Area, BooleanOps, Buffer, Coord, LineString, MultiPolygon};
use geographiclib_rs::{DirectGeodesic, InverseGeodesic};

use super::{volume_conflict, Separation};
use crate::geometry::{
    earth, AltitudeBand, Footprint, LatLng, TimeWindow, Timestamp, Vec3, Volume4D,
    SPHERE_RADIUS_LOWER_M,
};

/// The longest piece of a densified polygon edge.
pub const DENSIFY_STEP_M: f64 = 2_000.0;
/// The most pieces one edge is cut into.
const DENSIFY_PIECES_MAX: usize = 256;
/// Vertices of a buffered circle.
const CIRCLE_VERTICES: usize = 72;
/// The angle subtended by one chord of a round join, radians.
const JOIN_ANGLE_RAD: f64 = 0.2;
/// Added to every buffer distance so that rounding never loses a touching region.
pub const BUFFER_SLACK_M: f64 = 1.0;
/// Output vertices closer than this to a raw footprint vertex are dropped.
const RAW_VERTEX_CLEARANCE_M: f64 = 1.0;

const _: () = assert!(DENSIFY_PIECES_MAX >= 1 && CIRCLE_VERTICES >= 8);

/// Where two conflicting volumes' buffered extents overlap.
#[derive(Debug, Clone, PartialEq)]
pub struct DisclosureRegion {
    /// The outer ring of each separate part of the horizontal region, largest part first;
    /// each ring's vertices are not repeated at the end. Holes are not reported: the
    /// region is over-approximated by its outer rings.
    pub outlines: Vec<Vec<LatLng>>,
    /// The overlap of the buffered altitude bands.
    pub altitude: AltitudeBand,
    /// The overlap of the buffered time windows.
    pub window: TimeWindow,
}

/// The disclosure region of two volumes under a separation, `None` when they do not
/// conflict.
pub fn disclosure_region(
    a: &Volume4D,
    b: &Volume4D,
    separation: &Separation,
) -> Option<DisclosureRegion> {
    volume_conflict(a, b, separation)?;
    let half_vertical_m = separation.vertical_m() / 2.0;
    let altitude = AltitudeBand::new(
        a.altitude.lower_m().max(b.altitude.lower_m()) - half_vertical_m,
        a.altitude.upper_m().min(b.altitude.upper_m()) + half_vertical_m,
    )
    .ok()?;
    // Rounded outwards to the microsecond: the window never under-states the overlap.
    let half_time_us = (separation.time_s() * 1e6 / 2.0).ceil() as i64;
    let window = TimeWindow::new(
        Timestamp::from_unix_us(
            a.window
                .start()
                .unix_us()
                .max(b.window.start().unix_us())
                .saturating_sub(half_time_us),
        )
        .ok()?,
        Timestamp::from_unix_us(
            a.window
                .end()
                .unix_us()
                .min(b.window.end().unix_us())
                .saturating_add(half_time_us),
        )
        .ok()?,
    )
    .ok()?;

    let (centre_a, _) = a.footprint.bounding_cap();
    let (centre_b, _) = b.footprint.bounding_cap();
    let projection =
        AzimuthalEquidistant::about(LatLng::from_unit((centre_a + centre_b).normalized()));
    let half_horizontal_m = separation.horizontal_m() / 2.0;
    let buffered_a = buffered(&a.footprint, half_horizontal_m, &projection);
    let buffered_b = buffered(&b.footprint, half_horizontal_m, &projection);
    let meeting = buffered_a.intersection(&buffered_b);

    let raw_vertices: Vec<Vec3> = [&a.footprint, &b.footprint]
        .into_iter()
        .flat_map(|footprint| match footprint {
            Footprint::Polygon(polygon) => polygon.units().to_vec(),
            Footprint::Circle(circle) => vec![circle.centre().to_unit()],
        })
        .collect();
    let clearance_rad = RAW_VERTEX_CLEARANCE_M / SPHERE_RADIUS_LOWER_M;

    let mut parts: Vec<(f64, Vec<LatLng>)> = meeting
        .0
        .iter()
        .map(|part| {
            let ring = part.exterior();
            let mut outline: Vec<LatLng> = ring
                .0
                .iter()
                .take(ring.0.len().saturating_sub(1))
                .map(|&coord| projection.unproject(coord))
                .filter(|vertex| {
                    let unit = vertex.to_unit();
                    raw_vertices
                        .iter()
                        .all(|&raw| crate::geometry::angle_between_rad(raw, unit) > clearance_rad)
                })
                .collect();
            outline.dedup();
            (part.unsigned_area(), outline)
        })
        .filter(|(_, outline)| outline.len() >= 3)
        .collect();
    parts.sort_by(|x, y| y.0.total_cmp(&x.0));
    Some(DisclosureRegion {
        outlines: parts.into_iter().map(|(_, outline)| outline).collect(),
        altitude,
        window,
    })
}

/// The footprint buffered by `distance_m`, as a planar polygon in the projection.
fn buffered(
    footprint: &Footprint,
    distance_m: f64,
    projection: &AzimuthalEquidistant,
) -> MultiPolygon<f64> {
    match footprint {
        Footprint::Circle(circle) => {
            // A geodesic disc buffered by d is the disc with radius r + d, exactly.
            let radius_m = circle.radius_m() + distance_m + BUFFER_SLACK_M;
            // Circumscribe the circle so that the polygon contains it.
            let radius_m = radius_m / (std::f64::consts::PI / CIRCLE_VERTICES as f64).cos();
            let centre = circle.centre();
            let ring: Vec<Coord<f64>> = (0..CIRCLE_VERTICES)
                .map(|k| {
                    let azimuth_deg = 360.0 * k as f64 / CIRCLE_VERTICES as f64;
                    let (lat, lng): (f64, f64) = earth::wgs84().direct(
                        centre.lat_deg(),
                        centre.lng_deg(),
                        azimuth_deg,
                        radius_m,
                    );
                    projection.project_deg(lat, lng)
                })
                .collect();
            MultiPolygon::new(vec![geo::Polygon::new(LineString::new(ring), vec![])])
        }
        Footprint::Polygon(polygon) => {
            let units = polygon.units();
            let count = units.len();
            let mut ring: Vec<Coord<f64>> = Vec::new();
            for index in 0..count {
                let (start, end) = (units[index], units[(index + 1) % count]);
                let angle = crate::geometry::angle_between_rad(start, end);
                let pieces = ((angle * SPHERE_RADIUS_LOWER_M / DENSIFY_STEP_M).ceil() as usize)
                    .clamp(1, DENSIFY_PIECES_MAX);
                for piece in 0..pieces {
                    let fraction = piece as f64 / pieces as f64;
                    let point = slerp(start, end, angle, fraction);
                    ring.push(projection.project(LatLng::from_unit(point)));
                }
            }
            let outline = geo::Polygon::new(LineString::new(ring), vec![]);
            // Round joins are drawn as chords inside the true arc; pushing the distance out
            // by 1/cos(half the join angle) makes them circumscribe it.
            let distance = (distance_m + BUFFER_SLACK_M) / (JOIN_ANGLE_RAD / 2.0).cos();
            outline.buffer_with_style(
                BufferStyle::new(distance).line_join(LineJoin::Round(JOIN_ANGLE_RAD)),
            )
        }
    }
}

/// The point a fraction of the way along the great-circle arc from `start` to `end`
/// (whose angle is `angle`).
fn slerp(start: Vec3, end: Vec3, angle: f64, fraction: f64) -> Vec3 {
    if angle < 1e-12 {
        return start;
    }
    let sin_angle = angle.sin();
    let weight_start = ((1.0 - fraction) * angle).sin() / sin_angle;
    let weight_end = (fraction * angle).sin() / sin_angle;
    (start * weight_start + end * weight_end).normalized()
}

/// The WGS84 azimuthal equidistant projection about a centre (x east, y north, metres),
/// through Karney's geodesics.
struct AzimuthalEquidistant {
    centre: LatLng,
}

impl AzimuthalEquidistant {
    fn about(centre: LatLng) -> Self {
        AzimuthalEquidistant { centre }
    }

    fn project(&self, position: LatLng) -> Coord<f64> {
        self.project_deg(position.lat_deg(), position.lng_deg())
    }

    fn project_deg(&self, lat_deg: f64, lng_deg: f64) -> Coord<f64> {
        let (distance_m, azimuth_deg, _, _): (f64, f64, f64, f64) = earth::wgs84().inverse(
            self.centre.lat_deg(),
            self.centre.lng_deg(),
            lat_deg,
            lng_deg,
        );
        let (sin_azimuth, cos_azimuth) = azimuth_deg.to_radians().sin_cos();
        Coord {
            x: distance_m * sin_azimuth,
            y: distance_m * cos_azimuth,
        }
    }

    fn unproject(&self, coord: Coord<f64>) -> LatLng {
        let distance_m = coord.x.hypot(coord.y);
        let azimuth_deg = coord.x.atan2(coord.y).to_degrees();
        let (lat_deg, lng_deg): (f64, f64) = earth::wgs84().direct(
            self.centre.lat_deg(),
            self.centre.lng_deg(),
            azimuth_deg,
            distance_m,
        );
        let lng_deg = if lng_deg > 180.0 {
            lng_deg - 360.0
        } else if lng_deg < -180.0 {
            lng_deg + 360.0
        } else {
            lng_deg
        };
        LatLng::new(lat_deg.clamp(-90.0, 90.0), lng_deg.clamp(-180.0, 180.0))
            .expect("geodesic results are finite and in range")
    }
}
