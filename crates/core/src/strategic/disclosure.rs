//! The disclosure region of a conflict: what a party may learn of a counterpart's volume
//! under the minimal policy. Each footprint is buffered by half the horizontal minimum,
//! each altitude band by half the vertical minimum and each time window by half the time
//! minimum; the region is where the buffered volumes overlap. Buffered footprints meet
//! exactly when the footprints are less than the horizontal minimum apart, so a region
//! exists exactly when the volumes conflict.
//!
//! # Accuracy
//! The horizontal region is computed in the WGS84 azimuthal equidistant projection about
//! the centre of a circle of the pair, or else about the middle of the pair (exact
//! distances from its centre, a scale error under 0.2 % at 500 km from it). Circles become
//! regular polygons circumscribing their geodesic circle, with just the vertices that keep
//! them within [`EXCESS_FRACTION_MAX`] of the buffer distance outside it (at a 9,260 m
//! minimum: 32 for a point, 56 for a 10 km radius, 150 for 100 km): about its own centre, a
//! circle is the plane's circle of the same radius; another circle is drawn through
//! geodesic vertices.
//! Polygon edges are densified along their great circles before projection, into pieces
//! whose chords stray at most 5 cm from the projected arc (an edge of [`DENSIFY_STEP_M`] or
//! less is one piece; a 40 km edge near the projection's centre bends by centimetres and
//! becomes one or two, where 2 km pieces made it twenty; no edge is cut into more than
//! 256 pieces). Buffers are polygonal with round joins whose chords are pushed outwards to
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

/// Polygon edges no longer than this are drawn as one straight piece in the projection.
pub const DENSIFY_STEP_M: f64 = 2_000.0;
/// The longest piece of a longer edge.
const DENSIFY_STEP_LONG_M: f64 = 50_000.0;
/// How far a piece's chord may stray from the projected great-circle arc it stands for:
/// a twentieth of [`BUFFER_SLACK_M`].
const CHORD_DEVIATION_MAX_M: f64 = 0.05;
/// The most pieces one edge is cut into.
const DENSIFY_PIECES_MAX: usize = 256;
/// How far outside a buffered outline its polygon may reach, as a fraction of the buffer
/// distance (the distance with [`BUFFER_SLACK_M`]): the polygons circumscribe round
/// outlines with chords, and each chord's middle stands off the arc.
const EXCESS_FRACTION_MAX: f64 = 0.005;
/// The fewest vertices of a buffered circle. A fixed 72 drew a circle of 1 km finer
/// than it needed (35 keep it within the bound) and one of 100 km four times coarser: its
/// chords stood 100 m off the arc, where the bound is 23 m at a 9,260 m minimum.
const CIRCLE_VERTICES_MIN: usize = 8;
/// The most: a bound on the work for a circle of thousands of kilometres.
const CIRCLE_VERTICES_MAX: usize = 1_024;
/// The angle subtended by one chord of a round join, radians: its chord's middle is
/// `1 - cos(0.1)`, 0.5 %, of the radius inside the arc, [`EXCESS_FRACTION_MAX`].
const JOIN_ANGLE_RAD: f64 = 0.2;
/// Added to every buffer distance so that rounding never loses a touching region.
pub const BUFFER_SLACK_M: f64 = 1.0;
/// Output vertices closer than this to a raw footprint vertex are dropped.
const RAW_VERTEX_CLEARANCE_M: f64 = 1.0;

const _: () = assert!(DENSIFY_PIECES_MAX >= 1 && CIRCLE_VERTICES_MIN >= 8);

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

    // About a circle's centre when the pair has a circle: its buffered outline is then a
    // circle in the plane, drawn without a geodesic calculation per vertex.
    let centre = match (&a.footprint, &b.footprint) {
        (Footprint::Circle(circle), _) | (_, Footprint::Circle(circle)) => circle.centre(),
        _ => {
            let (centre_a, _) = a.footprint.bounding_cap();
            let (centre_b, _) = b.footprint.bounding_cap();
            LatLng::from_unit((centre_a + centre_b).normalized())
        }
    };
    let projection = AzimuthalEquidistant::about(centre);
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
    // Compared as the squared chord between unit vectors (2 sin(angle / 2), rising with the
    // angle): the same test as the angle, without an atan2 per vertex pair.
    let clearance_chord_squared =
        (2.0 * (RAW_VERTEX_CLEARANCE_M / SPHERE_RADIUS_LOWER_M / 2.0).sin()).powi(2);

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
                    raw_vertices.iter().all(|&raw| {
                        crate::geometry::chord_squared(raw, unit) > clearance_chord_squared
                    })
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
            let vertices = circle_vertices(radius_m, distance_m + BUFFER_SLACK_M);
            // Circumscribe the circle so that the polygon contains it.
            let radius_m = radius_m / (std::f64::consts::PI / vertices as f64).cos();
            let centre = circle.centre();
            if centre == projection.centre {
                // Distances from the projection's centre are exact: the geodesic circle is
                // the plane's circle of the same radius.
                let ring: Vec<Coord<f64>> = (0..vertices)
                    .map(|k| {
                        let (sin, cos) =
                            (std::f64::consts::TAU * k as f64 / vertices as f64).sin_cos();
                        Coord {
                            x: radius_m * sin,
                            y: radius_m * cos,
                        }
                    })
                    .collect();
                return MultiPolygon::new(vec![geo::Polygon::new(LineString::new(ring), vec![])]);
            }
            let ring: Vec<Coord<f64>> = (0..vertices)
                .map(|k| {
                    let azimuth_deg = 360.0 * k as f64 / vertices as f64;
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
            let projected: Vec<Coord<f64>> = units
                .iter()
                .map(|&unit| projection.project(LatLng::from_unit(unit)))
                .collect();
            let mut ring: Vec<Coord<f64>> = Vec::with_capacity(count * 2);
            for index in 0..count {
                let (start, end) = (units[index], units[(index + 1) % count]);
                let angle = crate::geometry::angle_between_rad(start, end);
                let pieces = edge_pieces(
                    angle,
                    projected[index],
                    projected[(index + 1) % count],
                    || projection.project(LatLng::from_unit(slerp(start, end, angle, 0.5))),
                );
                ring.push(projected[index]);
                for piece in 1..pieces {
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

/// The vertices of a regular polygon circumscribing a circle of `radius_m` whose
/// chords' middles stand at most [`EXCESS_FRACTION_MAX`] of `distance_m` (the buffer
/// distance) inside its vertices: the polygon's radius is `radius_m / cos(π / n)`.
fn circle_vertices(radius_m: f64, distance_m: f64) -> usize {
    let excess_m = EXCESS_FRACTION_MAX * distance_m;
    let half_angle_rad = (radius_m / (radius_m + excess_m)).acos();
    if half_angle_rad.is_nan() || half_angle_rad <= 0.0 {
        return CIRCLE_VERTICES_MAX;
    }
    ((std::f64::consts::PI / half_angle_rad).ceil() as usize)
        .clamp(CIRCLE_VERTICES_MIN, CIRCLE_VERTICES_MAX)
}

/// How many straight pieces the projected great-circle edge from `start` to `end`
/// (`angle` apart) is drawn with, given its projected ends and a way to project its
/// midpoint. An edge no longer than [`DENSIFY_STEP_M`] is one piece. A longer one is cut
/// so that each piece's chord strays at most [`CHORD_DEVIATION_MAX_M`] from the projected
/// arc: over a short stretch the arc bends evenly, so a piece of 1/n of it strays 1/n² as
/// far as the whole edge's chord, which is measured at the edge's midpoint (conservatively,
/// against the chord's midpoint). Pieces are at most [`DENSIFY_STEP_LONG_M`] so that the
/// bend is even over each.
fn edge_pieces(
    angle: f64,
    start: Coord<f64>,
    end: Coord<f64>,
    project_midpoint: impl FnOnce() -> Coord<f64>,
) -> usize {
    let length_m = angle * SPHERE_RADIUS_LOWER_M;
    if length_m <= DENSIFY_STEP_M {
        return 1;
    }
    let midpoint = project_midpoint();
    let chord_midpoint = Coord {
        x: (start.x + end.x) / 2.0,
        y: (start.y + end.y) / 2.0,
    };
    let deviation_m = (midpoint.x - chord_midpoint.x).hypot(midpoint.y - chord_midpoint.y);
    let for_deviation = (deviation_m / CHORD_DEVIATION_MAX_M).sqrt().ceil();
    let for_evenness = (length_m / DENSIFY_STEP_LONG_M).ceil();
    (for_deviation.max(for_evenness) as usize).clamp(1, DENSIFY_PIECES_MAX)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A buffered circle's polygon reaches no further outside it than the bound allows,
    /// whatever its radius, with few more vertices than that needs.
    #[test]
    fn a_circle_polygon_keeps_within_the_excess_allowed() {
        for distance_m in [50.0, 926.0, 4_631.0, 20_000.0] {
            for radius_m in [0.0, 10.0, 1_000.0, 10_000.0, 100_000.0, 1_000_000.0] {
                let radius_m = radius_m + distance_m;
                let n = circle_vertices(radius_m, distance_m);
                let excess_m =
                    |n: usize| radius_m / (std::f64::consts::PI / n as f64).cos() - radius_m;
                let allowed_m = EXCESS_FRACTION_MAX * distance_m;
                if n < CIRCLE_VERTICES_MAX {
                    assert!(
                        excess_m(n) <= allowed_m * (1.0 + 1e-9),
                        "{radius_m} m: {n} vertices"
                    );
                }
                if n > CIRCLE_VERTICES_MIN {
                    assert!(
                        excess_m(n - 1) > allowed_m,
                        "{radius_m} m: {n} vertices, one too many"
                    );
                }
            }
        }
        assert_eq!(circle_vertices(4_631.0, 4_631.0), 32);
        assert_eq!(circle_vertices(104_631.0, 4_631.0), 150);
    }

    /// Every piece an edge is cut into strays at most `CHORD_DEVIATION_MAX_M` (and a
    /// millimetre of slack for the measure itself) from the projected arc, wherever the
    /// edge lies from the projection's centre.
    #[test]
    fn each_piece_of_a_projected_edge_keeps_within_the_deviation_allowed() {
        let projection = AzimuthalEquidistant::about(LatLng::new(35.0, 38.0).unwrap());
        let edges = [
            // Short, near the centre: one piece.
            ((35.01, 38.0), (35.01, 38.015), Some(1)),
            // 40 km near the centre: it bends by centimetres, so a piece or two (it was
            // twenty when pieces were at most 2 km).
            ((35.05, 37.8), (35.05, 38.24), Some(2)),
            // 600 km away from the centre and 400 km long: several.
            ((40.0, 36.0), (40.5, 40.6), None),
            // 500 km long, 700 km from the centre.
            ((30.0, 30.0), (32.0, 35.0), None),
        ];
        for ((lat0, lng0), (lat1, lng1), expected) in edges {
            let start = LatLng::new(lat0, lng0).unwrap().to_unit();
            let end = LatLng::new(lat1, lng1).unwrap().to_unit();
            let angle = crate::geometry::angle_between_rad(start, end);
            let at = |fraction: f64| {
                projection.project(LatLng::from_unit(slerp(start, end, angle, fraction)))
            };
            let pieces = edge_pieces(angle, at(0.0), at(1.0), || at(0.5));
            if let Some(most) = expected {
                assert!(
                    pieces <= most,
                    "edge {lat0},{lng0} to {lat1},{lng1}: {pieces} pieces"
                );
            }
            let length_m = angle * SPHERE_RADIUS_LOWER_M;
            assert!(length_m / pieces as f64 <= DENSIFY_STEP_LONG_M.max(DENSIFY_STEP_M));
            for piece in 0..pieces {
                let (from, to) = (piece as f64, piece as f64 + 1.0);
                let (p, q) = (at(from / pieces as f64), at(to / pieces as f64));
                // The arc between the piece's ends, sampled, against the chord.
                for step in 1..16 {
                    let fraction = (from + step as f64 / 16.0) / pieces as f64;
                    let point = at(fraction);
                    let (dx, dy) = (q.x - p.x, q.y - p.y);
                    let off_chord =
                        ((point.x - p.x) * dy - (point.y - p.y) * dx).abs() / dx.hypot(dy);
                    assert!(
                        off_chord <= CHORD_DEVIATION_MAX_M + 1e-3,
                        "edge {lat0},{lng0} to {lat1},{lng1}: piece {piece} of {pieces} \
                         strays {off_chord} m"
                    );
                }
            }
        }
    }
}
