//! The disclosure region of a conflict: what a party may learn of a counterpart's volume
//! under the minimal policy. Each footprint is buffered by half the horizontal minimum,
//! each altitude band by half the vertical minimum and each time window by half the time
//! minimum; the region is where the buffered volumes overlap. Buffered footprints meet
//! exactly when the footprints are less than the horizontal minimum apart, so a region
//! exists exactly when the volumes conflict.
//!
//! # Accuracy
//! The horizontal region is computed in the plane tangent to WGS84 at the centre of a
//! circle of the pair, or else at the middle of the pair, each point moved into it along the
//! centre's normal ([`TangentPlane`]). That projection never lengthens a distance, so
//! whatever lies within half the minimum of a footprint lies within it in the plane too,
//! and the region contains the exact one with no allowance for scale; it shortens
//! distances by a relative (s/R)²/2 at s from the centre, which the region gains (metres
//! on the buffer at 300 km). When a buffered footprint reaches further than
//! [`TANGENT_PLANE_REACH_M`] the WGS84 azimuthal equidistant projection is used instead
//! (exact distances from its centre, a scale error under 0.2 % at 500 km from it).
//! Circles become regular polygons circumscribing their circle in the plane, with just the
//! vertices that keep them within [`EXCESS_FRACTION_MAX`] of the buffer distance outside it
//! (at a 9,260 m minimum: 32 for a point, 56 for a 10 km radius, 150 for 100 km): about the
//! centre, the circle of the plane that contains the projected geodesic circle; another
//! circle is drawn so in its own tangent plane and carried over vertex by vertex (through
//! geodesic vertices in the azimuthal projection).
//! Polygon edges are densified along their great circles before projection, into pieces
//! whose chords stray at most 5 cm from the projected arc (an edge of [`DENSIFY_STEP_M`] or
//! less is one piece; a 40 km edge near the projection's centre bends by centimetres and
//! becomes one or two, where 2 km pieces made it twenty; no edge is cut into more than
//! 256 pieces). Buffers are polygonal with round joins whose chords are pushed outwards to
//! circumscribe the true arcs, plus [`BUFFER_SLACK_M`]: the region contains the exact one
//! and exceeds it by at most about 0.5 % of half the horizontal minimum plus a metre (and
//! what the projection shortens), so it is never empty for a conflicting pair. A convex
//! outline's buffer is drawn directly, with the same bounds (its Minkowski sum with a
//! regular polygon circumscribing the disc), and two convex buffers are intersected by
//! clipping one by the other ([`convex`]); other shapes go to `geo`'s overlay.
//!
//! The outline never holds a raw vertex of either footprint: vertices within a metre of
//! one are dropped.

use geo::algorithm::buffer::{BufferStyle, LineJoin};
use geo::{Area, BooleanOps, BoundingRect, Buffer, Coord, LineString, MultiPolygon, Rect};
use geographiclib_rs::{DirectGeodesic, InverseGeodesic};

use super::{volume_conflict, Separation};
use crate::geometry::{
    earth, AltitudeBand, Footprint, LatLng, TimeWindow, Timestamp, Vec3, Volume4D,
    SPHERE_RADIUS_LOWER_M, SPHERE_RADIUS_UPPER_M,
};

mod convex;

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
/// How far past the other shape's bounding rectangle a buffered shape is kept when cut
/// to it (plane metres): clear of the rounding of the overlay's integer grid, so that no
/// part of the meeting is lost at the rectangle's sides.
const CLIP_MARGIN_M: f64 = 1.0;
/// Output vertices closer than this to a raw footprint vertex are dropped.
const RAW_VERTEX_CLEARANCE_M: f64 = 1.0;
/// The region is worked out in the tangent plane at its centre while both buffered
/// footprints lie within this of it (the plane shortens distances there by at most 0.11 %,
/// about 5 m on half the default minimum), in the azimuthal equidistant projection beyond.
const TANGENT_PLANE_REACH_M: f64 = 300_000.0;

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
    disclosure_region_of_conflict(a, b, separation)
}

/// [`disclosure_region`] of two volumes the caller has already found in conflict under
/// `separation` (a pair of an [`super::IntentsConflict`]'s `volume_pairs`), without
/// testing them again: the test is a geodesic distance between the footprints, a tenth
/// of the region's cost. Of a pair that does not conflict it gives `None` or a region
/// without outlines.
pub fn disclosure_region_of_conflict(
    a: &Volume4D,
    b: &Volume4D,
    separation: &Separation,
) -> Option<DisclosureRegion> {
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
    let half_horizontal_m = separation.horizontal_m() / 2.0;
    let projection = Projection::about(
        centre,
        [&a.footprint, &b.footprint],
        half_horizontal_m + BUFFER_SLACK_M,
    );
    let projected_a = Projected::of(&a.footprint, half_horizontal_m, &projection);
    let projected_b = Projected::of(&b.footprint, half_horizontal_m, &projection);
    let (reach_a, reach_b) = (
        projected_a.buffer_rect(half_horizontal_m),
        projected_b.buffer_rect(half_horizontal_m),
    );
    let meeting = meeting(
        projected_a.buffered(half_horizontal_m, reach_b),
        projected_b.buffered(half_horizontal_m, reach_a),
    );

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
                .filter(|(_, unit)| {
                    raw_vertices.iter().all(|&raw| {
                        crate::geometry::chord_squared(raw, *unit) > clearance_chord_squared
                    })
                })
                .map(|(vertex, _)| vertex)
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

/// A buffered footprint in the plane of the projection.
enum Buffered {
    /// A convex outline: open, counter-clockwise.
    Convex(Vec<Coord<f64>>),
    /// Any other shape, as the buffer of the overlay gives it.
    General(MultiPolygon<f64>),
}

impl Buffered {
    fn into_shape(self) -> MultiPolygon<f64> {
        match self {
            Buffered::Convex(outline) => one_part(outline),
            Buffered::General(shape) => shape,
        }
    }
}

/// Where two buffered footprints meet. Each is first cut to the other's bounding
/// rectangle: where they meet lies inside both, and the work that follows grows with the
/// edges it is given (often a fraction of them: two shapes in conflict mostly overlap at
/// their edges). Two convex outlines are then clipped one by the other
/// ([`convex::clipped_by_convex`]); anything else goes to the overlay.
fn meeting(a: Buffered, b: Buffered) -> MultiPolygon<f64> {
    match (a, b) {
        (Buffered::Convex(a), Buffered::Convex(b)) => {
            let (Some(rect_a), Some(rect_b)) = (outline_rect(&a), outline_rect(&b)) else {
                return MultiPolygon::new(Vec::new());
            };
            let (Some(a), Some(b)) = (clipped_outline(&a, rect_b), clipped_outline(&b, rect_a))
            else {
                return MultiPolygon::new(Vec::new());
            };
            let part = convex::clipped_by_convex(&a, &b);
            if part.is_empty() {
                return MultiPolygon::new(Vec::new());
            }
            one_part(part)
        }
        (a, b) => {
            let (a, b) = (a.into_shape(), b.into_shape());
            match (a.bounding_rect(), b.bounding_rect()) {
                (Some(rect_a), Some(rect_b)) => {
                    clipped_to(&a, rect_b).intersection(&clipped_to(&b, rect_a))
                }
                _ => MultiPolygon::new(Vec::new()),
            }
        }
    }
}

/// A shape of one part without holes, its outline `ring`.
fn one_part(ring: Vec<Coord<f64>>) -> MultiPolygon<f64> {
    MultiPolygon::new(vec![geo::Polygon::new(LineString::new(ring), vec![])])
}

/// The bounding rectangle of an open outline.
fn outline_rect(outline: &[Coord<f64>]) -> Option<Rect<f64>> {
    let first = *outline.first()?;
    let (min, max) = outline.iter().fold((first, first), |(min, max), c| {
        (
            Coord {
                x: min.x.min(c.x),
                y: min.y.min(c.y),
            },
            Coord {
                x: max.x.max(c.x),
                y: max.y.max(c.y),
            },
        )
    });
    Some(Rect::new(min, max))
}

/// An open convex outline cut to `rect` (widened by [`CLIP_MARGIN_M`]): still convex and
/// counter-clockwise, open. `None` when fewer than three points are left.
fn clipped_outline(outline: &[Coord<f64>], rect: Rect<f64>) -> Option<Vec<Coord<f64>>> {
    let rect = widened(rect, CLIP_MARGIN_M);
    let (min, max) = (rect.min(), rect.max());
    let mut ring = outline.to_vec();
    ring.push(outline[0]);
    let mut clipped = clipped_ring(&LineString::new(ring), min, max)?.0;
    clipped.pop();
    Some(clipped)
}

/// `rect` widened by `margin_m` on every side.
fn widened(rect: Rect<f64>, margin_m: f64) -> Rect<f64> {
    Rect::new(
        Coord {
            x: rect.min().x - margin_m,
            y: rect.min().y - margin_m,
        },
        Coord {
            x: rect.max().x + margin_m,
            y: rect.max().y + margin_m,
        },
    )
}

/// A footprint in the plane of the projection, before its buffer: a circle is drawn
/// already buffered (a geodesic disc buffered by d is the disc with radius r + d, exactly),
/// a polygon as its densified ring.
enum Projected {
    BufferedCircle(Vec<Coord<f64>>),
    Polygon(Vec<Coord<f64>>),
}

/// How far out a polygon's buffer by `distance_m` may reach: the overlay's round joins
/// circumscribe the arc with chords of [`JOIN_ANGLE_RAD`], the direct buffer with finer ones.
fn buffer_reach_m(distance_m: f64) -> f64 {
    (distance_m + BUFFER_SLACK_M) / (JOIN_ANGLE_RAD / 2.0).cos()
}

impl Projected {
    fn of(footprint: &Footprint, distance_m: f64, projection: &Projection) -> Projected {
        match footprint {
            Footprint::Circle(circle) => {
                let radius_m = circle.radius_m() + distance_m + BUFFER_SLACK_M;
                let vertices = circle_vertices(radius_m, distance_m + BUFFER_SLACK_M);
                Projected::BufferedCircle(projection.circle(circle.centre(), radius_m, vertices))
            }
            Footprint::Polygon(polygon) => {
                let units = polygon.units();
                let count = units.len();
                let projected: Vec<Coord<f64>> = units
                    .iter()
                    .map(|&unit| projection.project_unit(unit))
                    .collect();
                let mut ring: Vec<Coord<f64>> = Vec::with_capacity(count * 2);
                for index in 0..count {
                    let (start, end) = (units[index], units[(index + 1) % count]);
                    let angle = crate::geometry::angle_between_rad(start, end);
                    let pieces = edge_pieces(
                        angle,
                        projected[index],
                        projected[(index + 1) % count],
                        || projection.project_unit(slerp(start, end, angle, 0.5)),
                    );
                    ring.push(projected[index]);
                    for piece in 1..pieces {
                        let fraction = piece as f64 / pieces as f64;
                        let point = slerp(start, end, angle, fraction);
                        ring.push(projection.project_unit(point));
                    }
                }
                Projected::Polygon(ring)
            }
        }
    }

    /// A rectangle that holds the footprint's buffer by `distance_m`.
    fn buffer_rect(&self, distance_m: f64) -> Option<Rect<f64>> {
        match self {
            Projected::BufferedCircle(ring) => outline_rect(ring),
            Projected::Polygon(ring) => {
                Some(widened(outline_rect(ring)?, buffer_reach_m(distance_m)))
            }
        }
    }

    /// The footprint buffered by `distance_m`, as a planar shape: a convex outline when
    /// the footprint's is convex (a circle, a corridor, most areas), drawn directly
    /// ([`convex::buffered_convex`]), else the overlay's buffer.
    ///
    /// `other` is a rectangle holding the other buffered footprint, so where the two
    /// meet. Whatever lies there within the buffer distance of the polygon lies within it
    /// of the polygon's part inside that rectangle widened by the buffer's reach, so when
    /// that part is convex (a concave polygon whose dents are away from the other), its
    /// buffer stands for the whole one's in the meeting.
    fn buffered(self, distance_m: f64, other: Option<Rect<f64>>) -> Buffered {
        let ring = match self {
            Projected::BufferedCircle(ring) => {
                return match convex::convex_outline(&ring) {
                    Some(outline) => Buffered::Convex(outline),
                    None => Buffered::General(one_part(ring)),
                };
            }
            Projected::Polygon(ring) => ring,
        };
        let convex = convex::convex_outline(&ring).or_else(|| {
            let near = widened(other?, buffer_reach_m(distance_m));
            // Cut to `near` widened by the clip's margin.
            let part = clipped_outline(&ring, near)?;
            convex::convex_outline(&part)
        });
        if let Some(outline) = convex {
            // The regular polygon's edges turn by at most the join angle, as the
            // overlay's round joins do, and its edges' middles lie at the distance.
            let vertices = (std::f64::consts::TAU / JOIN_ANGLE_RAD).ceil() as usize;
            return Buffered::Convex(convex::buffered_convex(
                &outline,
                distance_m + BUFFER_SLACK_M,
                vertices,
            ));
        }
        let outline = geo::Polygon::new(LineString::new(ring), vec![]);
        // Round joins are drawn as chords inside the true arc; pushing the distance out
        // by 1/cos(half the join angle) makes them circumscribe it.
        Buffered::General(outline.buffer_with_style(
            BufferStyle::new(buffer_reach_m(distance_m)).line_join(LineJoin::Round(JOIN_ANGLE_RAD)),
        ))
    }
}

/// The part of `shape` inside `rect` (widened by [`CLIP_MARGIN_M`]), each ring cut to it
/// by Sutherland and Hodgman's method: a ring that reaches outside is followed along the
/// rectangle's sides instead. For a ring that is not convex that can leave edges doubling
/// back along a side, enclosing nothing, which the overlay's fill rule counts as no area;
/// a ring left with no area (wholly outside) is dropped, and with it its polygon when it is
/// the exterior.
fn clipped_to(shape: &MultiPolygon<f64>, rect: Rect<f64>) -> MultiPolygon<f64> {
    let rect = widened(rect, CLIP_MARGIN_M);
    let (min, max) = (rect.min(), rect.max());
    let polygons = shape
        .0
        .iter()
        .filter_map(|polygon| {
            let exterior = clipped_ring(polygon.exterior(), min, max)?;
            let interiors = polygon
                .interiors()
                .iter()
                .filter_map(|ring| clipped_ring(ring, min, max))
                .collect();
            Some(geo::Polygon::new(exterior, interiors))
        })
        .collect();
    MultiPolygon::new(polygons)
}

/// A closed ring cut to the rectangle from `min` to `max`; `None` when fewer than three
/// points are left.
fn clipped_ring(
    ring: &LineString<f64>,
    min: Coord<f64>,
    max: Coord<f64>,
) -> Option<LineString<f64>> {
    // The ring's own last point repeats its first.
    let open = &ring.0[..ring.0.len().saturating_sub(1)];
    let inside_already = open
        .iter()
        .all(|c| c.x >= min.x && c.x <= max.x && c.y >= min.y && c.y <= max.y);
    if inside_already {
        return (open.len() >= 3).then(|| ring.clone());
    }
    let sides = [
        RectSide::Left(min.x),
        RectSide::Bottom(min.y),
        RectSide::Right(max.x),
        RectSide::Top(max.y),
    ];
    let mut points: Vec<Coord<f64>> = open.to_vec();
    let mut next: Vec<Coord<f64>> = Vec::with_capacity(points.len() + 8);
    for side in sides {
        next.clear();
        for (position, &current) in points.iter().enumerate() {
            let previous = points[(position + points.len() - 1) % points.len()];
            match (side.keeps(previous), side.keeps(current)) {
                (true, true) => next.push(current),
                (true, false) => next.push(side.crossing(previous, current)),
                (false, true) => {
                    next.push(side.crossing(previous, current));
                    next.push(current);
                }
                (false, false) => {}
            }
        }
        std::mem::swap(&mut points, &mut next);
        if points.is_empty() {
            return None;
        }
    }
    points.dedup();
    if points.len() < 3 {
        return None;
    }
    points.push(points[0]);
    Some(LineString::new(points))
}

/// One side of a rectangle, at its x or y, keeping what lies towards the rectangle.
#[derive(Clone, Copy)]
enum RectSide {
    Left(f64),
    Bottom(f64),
    Right(f64),
    Top(f64),
}

impl RectSide {
    /// Whether `point` is on the rectangle's side of this one (or on it).
    fn keeps(self, point: Coord<f64>) -> bool {
        match self {
            RectSide::Left(x) => point.x >= x,
            RectSide::Bottom(y) => point.y >= y,
            RectSide::Right(x) => point.x <= x,
            RectSide::Top(y) => point.y <= y,
        }
    }

    /// Where the segment from `p` to `q`, one kept and the other not, crosses this side.
    fn crossing(self, p: Coord<f64>, q: Coord<f64>) -> Coord<f64> {
        match self {
            RectSide::Left(x) | RectSide::Right(x) => Coord {
                x,
                y: p.y + (x - p.x) / (q.x - p.x) * (q.y - p.y),
            },
            RectSide::Bottom(y) | RectSide::Top(y) => Coord {
                x: p.x + (y - p.y) / (q.y - p.y) * (q.x - p.x),
                y,
            },
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

/// The plane the horizontal region is worked out in (x east, y north, metres).
enum Projection {
    /// Near its centre (the usual case).
    Tangent(TangentPlane),
    /// When a buffered footprint reaches further than [`TANGENT_PLANE_REACH_M`].
    Azimuthal(AzimuthalEquidistant),
}

impl Projection {
    /// The projection about `centre` for the footprints buffered by `distance_m`.
    fn about<'a>(
        centre: LatLng,
        footprints: impl IntoIterator<Item = &'a Footprint>,
        distance_m: f64,
    ) -> Projection {
        let centre_unit = centre.to_unit();
        let reach_m = footprints
            .into_iter()
            .map(|footprint| {
                let (cap_centre, cap_angle_rad) = footprint.bounding_cap();
                (crate::geometry::angle_between_rad(centre_unit, cap_centre) + cap_angle_rad)
                    * SPHERE_RADIUS_UPPER_M
                    + distance_m
            })
            .fold(0.0, f64::max);
        if reach_m <= TANGENT_PLANE_REACH_M {
            Projection::Tangent(TangentPlane::about(centre))
        } else {
            Projection::Azimuthal(AzimuthalEquidistant::about(centre))
        }
    }

    /// A point of the auxiliary sphere, projected.
    fn project_unit(&self, unit: Vec3) -> Coord<f64> {
        match self {
            Projection::Tangent(plane) => plane.project_unit(unit),
            Projection::Azimuthal(azimuthal) => azimuthal.project(LatLng::from_unit(unit)),
        }
    }

    /// The position at a point of the plane, and its point of the auxiliary sphere.
    fn unproject(&self, coord: Coord<f64>) -> (LatLng, Vec3) {
        match self {
            Projection::Tangent(plane) => {
                let unit = plane.unproject_unit(coord);
                (LatLng::from_unit(unit), unit)
            }
            Projection::Azimuthal(azimuthal) => {
                let position = azimuthal.unproject(coord);
                (position, position.to_unit())
            }
        }
    }

    /// A regular polygon of `vertices` that contains the projected geodesic disc of
    /// `radius_m` about `centre`.
    fn circle(&self, centre: LatLng, radius_m: f64, vertices: usize) -> Vec<Coord<f64>> {
        // Circumscribed: the polygon's edges' middles lie on the circle.
        let circumscribed = 1.0 / (std::f64::consts::PI / vertices as f64).cos();
        let azimuth_rad = |k: usize| std::f64::consts::TAU * k as f64 / vertices as f64;
        let ring = |radius_m: f64| {
            let radius_m = radius_m * circumscribed;
            (0..vertices).map(move |k| {
                let (sin, cos) = azimuth_rad(k).sin_cos();
                Coord {
                    x: radius_m * sin,
                    y: radius_m * cos,
                }
            })
        };
        match self {
            Projection::Tangent(plane) => {
                let radius_m = TangentPlane::disc_radius_m(radius_m);
                if centre == plane.centre {
                    return ring(radius_m).collect();
                }
                // Drawn in the circle's own tangent plane, where it is round, and carried
                // over vertex by vertex: between two vertices the carried edge bends from
                // the straight one by millimetres (BUFFER_SLACK_M covers it).
                let own = TangentPlane::about(centre);
                ring(radius_m)
                    .map(|coord| plane.project_unit(own.unproject_unit(coord)))
                    .collect()
            }
            Projection::Azimuthal(azimuthal) => {
                if centre == azimuthal.centre {
                    // Distances from the projection's centre are exact: the geodesic
                    // circle is the plane's circle of the same radius.
                    return ring(radius_m).collect();
                }
                (0..vertices)
                    .map(|k| {
                        let (lat, lng): (f64, f64) = earth::wgs84().direct(
                            centre.lat_deg(),
                            centre.lng_deg(),
                            azimuth_rad(k).to_degrees(),
                            radius_m * circumscribed,
                        );
                        azimuthal.project_deg(lat, lng)
                    })
                    .collect()
            }
        }
    }
}

/// The WGS84 semi-major axis, metres.
const WGS84_A_M: f64 = 6_378_137.0;
/// The WGS84 semi-minor axis, metres.
const WGS84_B_M: f64 = WGS84_A_M * (1.0 - 1.0 / 298.257_223_563);
/// The largest radius of curvature of WGS84 (at the poles), a²/b: every normal section of
/// the ellipsoid bends at least as fast as a circle of this radius.
const CURVATURE_RADIUS_MAX_M: f64 = WGS84_A_M * WGS84_A_M / WGS84_B_M;

/// The orthographic projection of the WGS84 ellipsoid onto its tangent plane at a centre:
/// each point moved along the centre's normal into the plane.
///
/// It never lengthens a distance: moving points into a plane along one direction shortens
/// or keeps every straight line between them, and a straight line is never longer than the
/// geodesic between its ends. So whatever lies within d of a footprint on the ellipsoid lies
/// within d of its projection in the plane, and the buffered shapes drawn there contain the
/// exact region with no allowance for scale. What it adds is how much it shortens: the slope
/// of the surface, a relative (s/R)²/2 at s from the centre (3·10⁻⁵ at 50 km, 0.11 % at
/// 300 km, a few metres on half the default minimum). Both ways are closed forms (a
/// quadratic for the way back) where the azimuthal projection costs two geodesic problems
/// a vertex: a region of mixed footprints took 0.65 of the time, of two circles 0.31, of two
/// polygons 0.67 (`cargo bench -p deconflict-core --bench disclosure`: 32.4, 16.9 and
/// 35.1 µs against 49.5, 54.2 and 52.4).
struct TangentPlane {
    centre: LatLng,
    /// The centre, earth-centred (metres).
    origin: Vec3,
    east: Vec3,
    north: Vec3,
    /// The ellipsoid's outward normal at the centre.
    up: Vec3,
}

impl TangentPlane {
    fn about(centre: LatLng) -> TangentPlane {
        let (sin_lat, cos_lat) = centre.lat_deg().to_radians().sin_cos();
        let (sin_lng, cos_lng) = centre.lng_deg().to_radians().sin_cos();
        TangentPlane {
            centre,
            origin: earth_centred(centre.to_unit()),
            east: Vec3::new(-sin_lng, cos_lng, 0.0),
            north: Vec3::new(-sin_lat * cos_lng, -sin_lat * sin_lng, cos_lat),
            up: Vec3::new(cos_lat * cos_lng, cos_lat * sin_lng, sin_lat),
        }
    }

    fn project_unit(&self, unit: Vec3) -> Coord<f64> {
        let offset = earth_centred(unit) - self.origin;
        Coord {
            x: offset.dot(self.east),
            y: offset.dot(self.north),
        }
    }

    /// The point of the auxiliary sphere whose projection is `coord`: the near one of the
    /// two where the normal through it meets the ellipsoid.
    fn unproject_unit(&self, coord: Coord<f64>) -> Vec3 {
        let in_plane = self.origin + self.east * coord.x + self.north * coord.y;
        // Scaled by the semi-axes the ellipsoid is the unit sphere (and its points are the
        // auxiliary sphere's): solve |q + t u|² = 1 for the root nearest the plane.
        let q = Vec3::new(
            in_plane.x / WGS84_A_M,
            in_plane.y / WGS84_A_M,
            in_plane.z / WGS84_B_M,
        );
        let u = Vec3::new(
            self.up.x / WGS84_A_M,
            self.up.y / WGS84_A_M,
            self.up.z / WGS84_B_M,
        );
        let (uu, qu, qq) = (u.dot(u), q.dot(u), q.dot(q) - 1.0);
        let discriminant = (qu * qu - uu * qq).max(0.0);
        let t = -qq / (qu + discriminant.sqrt());
        (q + u * t).normalized()
    }

    /// The radius of a circle of the plane, about the centre, that contains the projected
    /// geodesic disc of `radius_m` about it: a geodesic leaving the centre bends out of the
    /// plane at least as fast as a circle of [`CURVATURE_RADIUS_MAX_M`], so it reaches no
    /// further out than such a circle's arc of the same length.
    fn disc_radius_m(radius_m: f64) -> f64 {
        let angle_rad = radius_m / CURVATURE_RADIUS_MAX_M;
        if angle_rad >= std::f64::consts::FRAC_PI_2 {
            return radius_m;
        }
        CURVATURE_RADIUS_MAX_M * angle_rad.sin()
    }
}

/// A point of the auxiliary sphere as the earth-centred point of the ellipsoid (metres).
fn earth_centred(unit: Vec3) -> Vec3 {
    Vec3::new(unit.x * WGS84_A_M, unit.y * WGS84_A_M, unit.z * WGS84_B_M)
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
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;

    /// Where `distance_m` along `azimuth_deg` from `from` leads on WGS84 (Karney).
    fn destination(from: LatLng, azimuth_deg: f64, distance_m: f64) -> LatLng {
        let (lat, lng): (f64, f64) =
            earth::wgs84().direct(from.lat_deg(), from.lng_deg(), azimuth_deg, distance_m);
        let lng = ((lng + 180.0).rem_euclid(360.0)) - 180.0;
        LatLng::new(lat.clamp(-90.0, 90.0), lng).unwrap()
    }

    fn plane_distance_m(p: Coord<f64>, q: Coord<f64>) -> f64 {
        (p.x - q.x).hypot(p.y - q.y)
    }

    /// A star-shaped ring about `centre` (not convex, most of the time), buffered as the
    /// region's polygons are, so that some come out with holes.
    fn random_buffered_star(rng: &mut ChaCha8Rng, centre: Coord<f64>) -> MultiPolygon<f64> {
        let count = rng.random_range(3..=12usize);
        let ring: Vec<Coord<f64>> = (0..count)
            .map(|k| {
                let azimuth =
                    (k as f64 + rng.random_range(0.0..0.9)) * std::f64::consts::TAU / count as f64;
                let reach = rng.random_range(500.0..20_000.0);
                Coord {
                    x: centre.x + reach * azimuth.sin(),
                    y: centre.y + reach * azimuth.cos(),
                }
            })
            .collect();
        geo::Polygon::new(LineString::new(ring), vec![]).buffer_with_style(
            BufferStyle::new(rng.random_range(10.0..3_000.0))
                .line_join(LineJoin::Round(JOIN_ANGLE_RAD)),
        )
    }

    /// A concave polygon whose dent is away from the other footprint is buffered as its
    /// convex part near the other, and meets the other where its whole buffer (the
    /// overlay's) does: the same area, to the buffers' chords.
    #[test]
    fn a_dent_away_from_the_other_footprint_leaves_the_meeting_as_it_was() {
        let centre = LatLng::new(10.0, 20.0).unwrap();
        // A U open to the west, 20 km across; a circle of 2 km 6 km off its closed east side.
        let u = Footprint::Polygon(
            crate::geometry::Polygon::new(
                [
                    (0.0, 10.0),
                    (-10.0, 10.0),
                    (-10.0, -10.0),
                    (0.0, -10.0),
                    (0.0, -5.0),
                    (-8.0, -5.0),
                    (-8.0, 5.0),
                    (0.0, 5.0),
                ]
                .iter()
                .map(|&(north_km, east_km): &(f64, f64)| {
                    destination(
                        destination(centre, 0.0, north_km * 1_000.0),
                        90.0,
                        east_km * 1_000.0,
                    )
                })
                .collect(),
            )
            .unwrap(),
        );
        let circle = Footprint::Circle(
            crate::geometry::Circle::new(destination(centre, 90.0, 18_000.0), 2_000.0).unwrap(),
        );
        let half_m = 4_630.0;
        let projection = Projection::about(centre, [&u, &circle], half_m + BUFFER_SLACK_M);
        let other = Projected::of(&circle, half_m, &projection);
        let reach = other.buffer_rect(half_m);
        let near_part = Projected::of(&u, half_m, &projection).buffered(half_m, reach);
        assert!(
            matches!(near_part, Buffered::Convex(_)),
            "the part near the circle is convex"
        );
        let whole = Projected::of(&u, half_m, &projection).buffered(half_m, None);
        assert!(matches!(whole, Buffered::General(_)), "the U is not convex");
        let fast = meeting(near_part, other.buffered(half_m, None)).unsigned_area();
        let other = Projected::of(&circle, half_m, &projection);
        let slow = meeting(whole, other.buffered(half_m, None)).unsigned_area();
        assert!(slow > 1e6, "they meet ({slow} m²)");
        assert!(
            (fast - slow).abs() <= 0.01 * slow,
            "{fast} m² met through the near part, {slow} m² through the whole U"
        );
    }

    /// Cutting each shape to the other's bounding rectangle leaves where they meet as it
    /// was: shapes that are not convex, with holes, one inside the other, far apart, in
    /// every placement.
    #[test]
    fn cutting_shapes_to_each_others_rectangle_keeps_where_they_meet() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut met = 0;
        for case in 0..400 {
            let a = random_buffered_star(&mut rng, Coord { x: 0.0, y: 0.0 });
            let offset = rng.random_range(0.0..40_000.0);
            let bearing = rng.random_range(0.0..std::f64::consts::TAU);
            let b = random_buffered_star(
                &mut rng,
                Coord {
                    x: offset * bearing.sin(),
                    y: offset * bearing.cos(),
                },
            );
            let whole = a.intersection(&b);
            let (rect_a, rect_b) = (a.bounding_rect().unwrap(), b.bounding_rect().unwrap());
            let cut = clipped_to(&a, rect_b).intersection(&clipped_to(&b, rect_a));
            let (whole_area, cut_area) = (whole.unsigned_area(), cut.unsigned_area());
            // The overlay rounds to an integer grid scaled to its input's extent (about
            // 0.1 mm here), which moves with the cut: areas agree to a few m² in 10⁸.
            assert!(
                (whole_area - cut_area).abs() <= 1e-7 * whole_area + 1.0,
                "case {case}: {whole_area} m² met, {cut_area} m² once cut"
            );
            // Every part found whole is found once cut, with its outline.
            assert_eq!(whole.0.len(), cut.0.len(), "case {case}");
            met += usize::from(whole_area > 0.0);
        }
        assert!(met > 100, "only {met} of the pairs met");
    }

    /// A ring wholly inside the rectangle is kept as it is, one wholly outside is dropped,
    /// and one around the rectangle becomes the rectangle.
    #[test]
    fn a_ring_is_kept_dropped_or_cut_to_the_rectangle() {
        let square = |half: f64, x: f64| {
            LineString::new(vec![
                Coord {
                    x: x - half,
                    y: -half,
                },
                Coord {
                    x: x + half,
                    y: -half,
                },
                Coord {
                    x: x + half,
                    y: half,
                },
                Coord {
                    x: x - half,
                    y: half,
                },
                Coord {
                    x: x - half,
                    y: -half,
                },
            ])
        };
        let (min, max) = (Coord { x: -10.0, y: -10.0 }, Coord { x: 10.0, y: 10.0 });
        assert_eq!(
            clipped_ring(&square(5.0, 0.0), min, max),
            Some(square(5.0, 0.0))
        );
        assert_eq!(clipped_ring(&square(5.0, 100.0), min, max), None);
        let around = clipped_ring(&square(50.0, 0.0), min, max).unwrap();
        assert_eq!(
            geo::Polygon::new(around, vec![]).unsigned_area(),
            400.0,
            "the rectangle itself"
        );
    }

    /// Random centres from the equator to near the poles, on both sides of the
    /// antimeridian.
    fn random_centre(rng: &mut ChaCha8Rng) -> LatLng {
        LatLng::new(
            rng.random_range(-89.0..89.0),
            rng.random_range(-180.0..180.0),
        )
        .unwrap()
    }

    /// The plane shortens distances and never lengthens one, by at most the slope it
    /// allows for, and brings every point back to where it came from.
    #[test]
    fn the_tangent_plane_never_lengthens_a_distance_and_gives_points_back() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for _ in 0..2_000 {
            let centre = random_centre(&mut rng);
            let plane = TangentPlane::about(centre);
            let mut point = || {
                let reach_m = rng.random_range(0.0..TANGENT_PLANE_REACH_M);
                destination(centre, rng.random_range(0.0..360.0), reach_m)
            };
            let (p, q) = (point(), point());
            let (pp, pq) = (
                plane.project_unit(p.to_unit()),
                plane.project_unit(q.to_unit()),
            );
            let geodesic_m = earth::geodesic_distance_m(p, q);
            let plane_m = plane_distance_m(pp, pq);
            assert!(
                plane_m <= geodesic_m + 1e-6,
                "{p:?} {q:?}: {plane_m} > {geodesic_m}"
            );
            // At most (s/R)²/2 shorter, s up to the reach on either side of the centre.
            let slope = (2.0 * TANGENT_PLANE_REACH_M / SPHERE_RADIUS_LOWER_M).powi(2) / 2.0;
            assert!(plane_m >= geodesic_m * (1.0 - slope) - 1e-6, "{p:?} {q:?}");
            for (position, coord) in [(p, pp), (q, pq)] {
                let back = LatLng::from_unit(plane.unproject_unit(coord));
                let off_m = earth::geodesic_distance_m(position, back);
                assert!(off_m < 1e-6, "{position:?} comes back {off_m} m off");
            }
        }
    }

    /// A geodesic circle about the centre lies inside the plane's circle of
    /// `disc_radius_m`, and only just: by millimetres at 300 km.
    #[test]
    fn a_geodesic_circle_lies_just_inside_its_circle_of_the_tangent_plane() {
        for lat_deg in [0.0, 20.0, 34.0, 45.0, 60.0, 75.0, 89.5, -52.0] {
            let centre = LatLng::new(lat_deg, 38.0).unwrap();
            let plane = TangentPlane::about(centre);
            for radius_m in [10.0, 1_000.0, 9_260.0, 50_000.0, 150_000.0, 300_000.0] {
                let bound_m = TangentPlane::disc_radius_m(radius_m);
                for step in 0..96 {
                    let azimuth_deg = step as f64 * 3.75;
                    let coord =
                        plane.project_unit(destination(centre, azimuth_deg, radius_m).to_unit());
                    let reach_m = coord.x.hypot(coord.y);
                    assert!(
                        reach_m <= bound_m + 1e-6,
                        "{lat_deg}° {radius_m} m at {azimuth_deg}°: {reach_m} > {bound_m}"
                    );
                    // Loose by how much less than that radius the flattest normal section
                    // curves (at the equator, north to south): centimetres at 150 km.
                    assert!(
                        bound_m - reach_m < 0.01 + radius_m.powi(3) * 1e-16,
                        "{lat_deg}° {radius_m} m at {azimuth_deg}°: {reach_m} of {bound_m}"
                    );
                }
            }
        }
    }

    /// A circle away from the plane's centre, drawn in its own plane and carried over,
    /// contains its geodesic circle's points as the plane sees them, but for the bending
    /// of the carried edges: a centimetre more radius covers it (the region adds a metre).
    #[test]
    fn a_circle_carried_over_from_its_own_plane_contains_its_geodesic_circle() {
        use geo::Contains;
        let mut rng = ChaCha8Rng::seed_from_u64(12);
        for _ in 0..200 {
            let centre = random_centre(&mut rng);
            let radius_m = rng.random_range(10.0..100_000.0);
            let circle_centre = destination(
                centre,
                rng.random_range(0.0..360.0),
                rng.random_range(1.0..TANGENT_PLANE_REACH_M - radius_m),
            );
            let projection = Projection::Tangent(TangentPlane::about(centre));
            let vertices = circle_vertices(radius_m, 4_631.0);
            let ring = projection.circle(circle_centre, radius_m + 0.01, vertices);
            let polygon = geo::Polygon::new(LineString::new(ring), vec![]);
            for step in 0..240 {
                let on_circle = destination(circle_centre, step as f64 * 1.5, radius_m);
                let coord = projection.project_unit(on_circle.to_unit());
                assert!(
                    polygon.contains(&coord),
                    "{circle_centre:?} {radius_m} m from {centre:?}: {on_circle:?} outside"
                );
            }
        }
    }

    /// Footprints reaching further than the plane's reach are projected azimuthally.
    #[test]
    fn a_region_beyond_the_tangent_planes_reach_is_projected_azimuthally() {
        let centre = LatLng::new(34.0, 38.0).unwrap();
        let near = Footprint::Circle(crate::geometry::Circle::new(centre, 100_000.0).unwrap());
        let far = Footprint::Circle(crate::geometry::Circle::new(centre, 400_000.0).unwrap());
        assert!(matches!(
            Projection::about(centre, [&near, &near], 4_632.0),
            Projection::Tangent(_)
        ));
        assert!(matches!(
            Projection::about(centre, [&near, &far], 4_632.0),
            Projection::Azimuthal(_)
        ));
    }

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
