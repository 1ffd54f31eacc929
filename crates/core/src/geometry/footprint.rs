//! Footprints (polygons with geodesic edges, geodesic circles) and the least horizontal
//! distance between two of them.
//!
//! A polygon edge is the WGS84 geodesic between its vertices. Internally an edge longer
//! than [`EDGE_PIECE_MAX_M`] is cut at points of that geodesic (Karney) into pieces, and
//! each piece is the great-circle arc between its ends on Bessel's auxiliary sphere
//! (reduced latitude, longitude), which follows the geodesic to within 0.2 m for 50 km
//! pieces (0.01 m for 10 km): the polygon is the geodesic polygon to well within the
//! accuracy of the distance.
//!
//! The distance is found in two steps. On the auxiliary sphere, exact great-circle tests decide whether the footprints meet (an edge crossing, or one
//! containing a point of the other: distance 0) and otherwise find, for every vertex of one
//! polygon and every edge of the other, the closest point of that edge. The WGS84
//! geodesic distance (Karney) is then measured between every candidate pair whose angle on
//! the sphere is close enough to the least one that it might be the least on the ellipsoid
//! (within the ratio a/b that bounds the sphere's distortion, see `earth`), and the
//! least of those is the answer. A circle is handled exactly on the ellipsoid: the distance
//! from a set to a geodesic disc is the distance to its centre less the radius.

use geographiclib_rs::{DirectGeodesic, InverseGeodesic};

use super::earth::{geodesic_distance_m, wgs84, SPHERE_RADIUS_LOWER_M, SPHERE_RADIUS_UPPER_M};
use super::sphere::{angle_rad, angle_to_chord_squared, chord_squared_to_angle_rad, Arc};
use super::{require_finite, GeometryError, LatLng, Vec3};

/// The fewest vertices of a polygon.
pub const POLYGON_VERTICES_MIN: usize = 3;
/// The most vertices of a polygon. Distance and validation are quadratic in the vertex
/// count, so the bound keeps the worst case near a millisecond.
pub const POLYGON_VERTICES_MAX: usize = 1000;
/// Every vertex of a polygon must lie within this many degrees of the polygon's centre (the
/// normalized mean of its vertices' unit vectors), about 8,900 km. This keeps the polygon
/// inside one hemisphere, where "the smaller region" is unambiguous and the gnomonic
/// projection about the centre maps every edge to a straight segment.
pub const POLYGON_SPAN_MAX_DEG: f64 = 80.0;
/// Edges longer than this are cut into pieces at points of their geodesic.
pub const EDGE_PIECE_MAX_M: f64 = 50_000.0;
/// The most pieces a polygon's outline is cut into beyond its vertices; very long
/// outlines get longer pieces (keeping validation and distance costs bounded).
const RING_PIECES_MAX: usize = 4_000;
/// The largest circle radius, 5,000 km.
pub const CIRCLE_RADIUS_MAX_M: f64 = 5_000_000.0;

const _: () = assert!(POLYGON_VERTICES_MIN >= 3 && POLYGON_VERTICES_MIN <= POLYGON_VERTICES_MAX);
const _: () = assert!(POLYGON_SPAN_MAX_DEG < 90.0);
// A circle's bounding cap (radius / SPHERE_RADIUS_LOWER_M radians) must stay well inside a
// hemisphere too.
const _: () = assert!(CIRCLE_RADIUS_MAX_M / SPHERE_RADIUS_LOWER_M < 1.2);

/// Two vertices closer than this angle (about 6 micrometres) are the same vertex.
const VERTEX_SEPARATION_MIN_RAD: f64 = 1e-12;

/// Candidate closest pairs whose angle on the sphere is within this factor of the least
/// angle may be the closest on the ellipsoid; farther ones cannot be.
const CANDIDATE_ANGLE_RATIO: f64 = SPHERE_RADIUS_UPPER_M / SPHERE_RADIUS_LOWER_M;

/// A simple polygon whose edges are WGS84 geodesics, its interior the smaller region its
/// outline bounds. Either winding order is accepted; a last vertex equal to the first (a
/// closed ring, as GeoJSON writes it) is accepted and stands for the same polygon.
#[derive(Debug, Clone, PartialEq)]
pub struct Polygon {
    vertices: Box<[LatLng]>,
    /// The outline on the auxiliary sphere: the vertices, with the points cutting long
    /// edges into pieces between them.
    units: Box<[Vec3]>,
    /// The normalized mean of the vertices' unit vectors.
    centre: Vec3,
    /// The polygon lies within this angle of `centre` (caps under 90° are convex, so the
    /// edges stay within the cap of the vertices).
    cap_angle_rad: f64,
    /// The unit-vector box of the outline ([`Polygon::outline_bounds`]), worked out once:
    /// the strategic index asks for it on every query, insertion and removal of a volume.
    bounds: UnitBounds,
}

impl Polygon {
    /// Validates a polygon: 3..=[`POLYGON_VERTICES_MAX`] vertices, no repeated consecutive
    /// vertex, within [`POLYGON_SPAN_MAX_DEG`] of its centre, no edge meeting another
    /// except its neighbours at their shared vertex, no spike, non-zero area.
    pub fn new(vertices: Vec<LatLng>) -> Result<Self, GeometryError> {
        let mut vertices = vertices;
        if vertices.len() > POLYGON_VERTICES_MIN && vertices.first() == vertices.last() {
            vertices.pop();
        }
        let count = vertices.len();
        if count < POLYGON_VERTICES_MIN {
            return Err(GeometryError::TooFewVertices {
                count,
                min: POLYGON_VERTICES_MIN,
            });
        }
        if count > POLYGON_VERTICES_MAX {
            return Err(GeometryError::TooManyVertices {
                count,
                max: POLYGON_VERTICES_MAX,
            });
        }
        let units: Vec<Vec3> = vertices.iter().map(|v| v.to_unit()).collect();
        for index in 0..count {
            let next = (index + 1) % count;
            if angle_rad(units[index], units[next]) < VERTEX_SEPARATION_MIN_RAD {
                return Err(GeometryError::RepeatedVertex { index: next });
            }
        }
        let sum = units.iter().fold(Vec3::default(), |sum, &u| sum + u);
        let centre = sum.normalized();
        let span_max_rad = POLYGON_SPAN_MAX_DEG.to_radians();
        let mut cap_angle_rad: f64 = 0.0;
        for (index, &unit) in units.iter().enumerate() {
            let angle = angle_rad(centre, unit);
            if sum.norm() < 1e-9 || angle > span_max_rad {
                return Err(GeometryError::PolygonTooLarge {
                    index,
                    max_deg: POLYGON_SPAN_MAX_DEG,
                });
            }
            cap_angle_rad = cap_angle_rad.max(angle);
        }
        let (ring, edge_of_piece) = cut_long_edges(&vertices, &units);
        for &unit in &ring {
            cap_angle_rad = cap_angle_rad.max(angle_rad(centre, unit));
        }
        let mut polygon = Polygon {
            vertices: vertices.into_boxed_slice(),
            units: ring.into_boxed_slice(),
            centre,
            cap_angle_rad,
            bounds: UnitBounds::empty(),
        };
        polygon.check_simple(&edge_of_piece)?;
        polygon.bounds = polygon.outline_bounds();
        Ok(polygon)
    }

    pub fn vertices(&self) -> &[LatLng] {
        &self.vertices
    }

    /// The outline on the auxiliary sphere (vertices and the points cutting long edges).
    pub(crate) fn units(&self) -> &[Vec3] {
        &self.units
    }

    /// The edges, each from a vertex to the next (the last to the first).
    pub(crate) fn arcs(&self) -> impl Iterator<Item = Arc> + '_ {
        let count = self.units.len();
        (0..count).map(move |i| Arc::new(self.units[i], self.units[(i + 1) % count]))
    }

    /// The gnomonic projection about the centre: great-circle arcs become straight
    /// segments, so planar tests on projected vertices are exact tests of the spherical
    /// polygon. Only valid for points within 90° of the centre.
    fn gnomonic(&self) -> Gnomonic {
        Gnomonic::about(self.centre)
    }

    fn projected(&self) -> Vec<[f64; 2]> {
        let gnomonic = self.gnomonic();
        self.units.iter().map(|&u| gnomonic.project(u)).collect()
    }

    /// `edge_of_piece[k]` is the edge (of the vertices as given) that outline piece `k`
    /// belongs to, so that errors name the caller's edges and vertices.
    fn check_simple(&self, edge_of_piece: &[usize]) -> Result<(), GeometryError> {
        let points = self.projected();
        let count = points.len();
        for index in 0..count {
            let before = points[(index + count - 1) % count];
            let here = points[index];
            let after = points[(index + 1) % count];
            let turn = orient(before, here, after);
            let backwards = (here[0] - before[0]) * (after[0] - here[0])
                + (here[1] - before[1]) * (after[1] - here[1])
                < 0.0;
            if turn == 0.0 && backwards {
                return Err(GeometryError::Spike {
                    index: edge_of_piece[index],
                });
            }
        }
        // Every pair of non-adjacent edges must be disjoint (touching counts as meeting).
        let boxes: Vec<[f64; 4]> = (0..count)
            .map(|i| {
                let (a, b) = (points[i], points[(i + 1) % count]);
                [
                    a[0].min(b[0]),
                    a[1].min(b[1]),
                    a[0].max(b[0]),
                    a[1].max(b[1]),
                ]
            })
            .collect();
        for edge_a in 0..count {
            for edge_b in edge_a + 2..count {
                if edge_a == 0 && edge_b == count - 1 {
                    continue;
                }
                let (box_a, box_b) = (boxes[edge_a], boxes[edge_b]);
                if box_a[2] < box_b[0]
                    || box_b[2] < box_a[0]
                    || box_a[3] < box_b[1]
                    || box_b[3] < box_a[1]
                {
                    continue;
                }
                let segment_a = (points[edge_a], points[(edge_a + 1) % count]);
                let segment_b = (points[edge_b], points[(edge_b + 1) % count]);
                if segments_meet(segment_a, segment_b) {
                    return Err(GeometryError::SelfIntersecting {
                        edge_a: edge_of_piece[edge_a],
                        edge_b: edge_of_piece[edge_b],
                    });
                }
            }
        }
        let twice_area: f64 = (0..count)
            .map(|i| {
                let (a, b) = (points[i], points[(i + 1) % count]);
                a[0] * b[1] - a[1] * b[0]
            })
            .sum();
        let extent = boxes.iter().fold(0.0_f64, |extent, b| {
            extent
                .max(b[2].abs())
                .max(b[3].abs())
                .max(b[0].abs())
                .max(b[1].abs())
        });
        if twice_area.abs() <= 1e-14 * extent * extent {
            return Err(GeometryError::ZeroArea);
        }
        Ok(())
    }

    /// Whether the point (a unit vector) is inside the polygon or on its outline.
    pub(crate) fn contains(&self, point: Vec3) -> bool {
        if angle_rad(self.centre, point) > self.cap_angle_rad + 1e-12 {
            return false;
        }
        let gnomonic = self.gnomonic();
        let [px, py] = gnomonic.project(point);
        let count = self.units.len();
        let mut inside = false;
        let mut previous = gnomonic.project(self.units[count - 1]);
        for &unit in self.units.iter() {
            let current = gnomonic.project(unit);
            if (current[1] > py) != (previous[1] > py) {
                let x_cross = current[0]
                    + (py - current[1]) * (previous[0] - current[0]) / (previous[1] - current[1]);
                if px < x_cross {
                    inside = !inside;
                }
            }
            previous = current;
        }
        inside
    }

    /// The WGS84 distance in metres from a point outside the polygon to the polygon's
    /// outline, or 0 when the point is inside.
    fn distance_to_point_m(&self, point: LatLng) -> f64 {
        let unit = point.to_unit();
        if self.contains(unit) {
            return 0.0;
        }
        let feet: Vec<(Vec3, f64)> = self.arcs().map(|arc| arc.closest_point(unit)).collect();
        let limit = candidate_limit(feet.iter().map(|&(_, chord)| chord));
        feet.iter()
            .filter(|&&(_, chord)| chord <= limit)
            .map(|&(foot, _)| geodesic_distance_m(point, LatLng::from_unit(foot)))
            .fold(f64::INFINITY, f64::min)
    }

    /// Whether the two polygons meet: an edge crossing or touching another, or one
    /// containing the other.
    fn meets(&self, other: &Polygon) -> bool {
        if angle_rad(self.centre, other.centre) > self.cap_angle_rad + other.cap_angle_rad + 1e-12 {
            return false;
        }
        let other_arcs: Vec<Arc> = other.arcs().collect();
        let arcs: Vec<Arc> = self.arcs().collect();
        for arc in arcs {
            if other_arcs.iter().any(|other_arc| arc.meets(other_arc)) {
                return true;
            }
        }
        self.contains(other.units[0]) || other.contains(self.units[0])
    }

    fn distance_to_polygon_m(&self, other: &Polygon) -> f64 {
        if self.meets(other) {
            return 0.0;
        }
        // Without a crossing, the closest points are a vertex of one polygon and a point
        // of an edge of the other.
        let (arcs, other_arcs): (Vec<Arc>, Vec<Arc>) =
            (self.arcs().collect(), other.arcs().collect());
        let mut candidates = closest_candidates(self, &other_arcs);
        candidates.extend(closest_candidates(other, &arcs));
        let limit = candidate_limit(candidates.iter().map(|&(_, _, chord)| chord));
        candidates
            .iter()
            .filter(|&&(_, _, chord)| chord <= limit)
            .map(|&(vertex, foot, _)| {
                geodesic_distance_m(LatLng::from_unit(vertex), LatLng::from_unit(foot))
            })
            .fold(f64::INFINITY, f64::min)
    }

    /// The unit-vector bounding box of the polygon: the range of each coordinate over its
    /// edges, widened to ±1 where the polygon contains that axis' pole.
    fn outline_bounds(&self) -> UnitBounds {
        let mut bounds = UnitBounds::empty();
        for arc in self.arcs() {
            for axis in 0..3 {
                let (low, high) = arc.coordinate_range(axis);
                bounds.low[axis] = bounds.low[axis].min(low);
                bounds.high[axis] = bounds.high[axis].max(high);
            }
        }
        for axis in 0..3 {
            if self.contains(Vec3::axis(axis)) {
                bounds.high[axis] = 1.0;
            }
            if self.contains(-Vec3::axis(axis)) {
                bounds.low[axis] = -1.0;
            }
        }
        bounds
    }
}

/// For each outline point of `from` and the nearest point of each outline piece of `to`:
/// the two points and the squared chord between them.
fn closest_candidates(from: &Polygon, to: &[Arc]) -> Vec<(Vec3, Vec3, f64)> {
    let mut candidates = Vec::with_capacity(from.units.len() * to.len());
    for &unit in from.units.iter() {
        for arc in to {
            let (foot, chord) = arc.closest_point(unit);
            candidates.push((unit, foot, chord));
        }
    }
    candidates
}

/// The outline on the auxiliary sphere with every edge longer than [`EDGE_PIECE_MAX_M`]
/// cut at points of its WGS84 geodesic, and for each piece the edge it belongs to.
fn cut_long_edges(vertices: &[LatLng], units: &[Vec3]) -> (Vec<Vec3>, Vec<usize>) {
    let count = vertices.len();
    let edges: Vec<(f64, f64)> = (0..count)
        .map(|index| {
            let next = (index + 1) % count;
            // An edge certainly shorter than a piece needs no geodesic: the sphere's angle
            // times a bounds its length from above.
            if angle_rad(units[index], units[next]) * SPHERE_RADIUS_UPPER_M <= EDGE_PIECE_MAX_M {
                return (0.0, 0.0);
            }
            let (from, to) = (vertices[index], vertices[next]);
            let (length_m, azimuth_deg, _, _): (f64, f64, f64, f64) =
                wgs84().inverse(from.lat_deg(), from.lng_deg(), to.lat_deg(), to.lng_deg());
            (length_m, azimuth_deg)
        })
        .collect();
    // Short edges count as 0 here; they only lower the piece length of huge outlines.
    let perimeter_m: f64 = edges.iter().map(|&(length_m, _)| length_m).sum();
    let piece_m = EDGE_PIECE_MAX_M.max(perimeter_m / RING_PIECES_MAX as f64);
    let mut ring = Vec::with_capacity(count);
    let mut edge_of_piece = Vec::with_capacity(count);
    for (index, &(length_m, azimuth_deg)) in edges.iter().enumerate() {
        ring.push(units[index]);
        edge_of_piece.push(index);
        let pieces = (length_m / piece_m).ceil().max(1.0) as usize;
        let from = vertices[index];
        for piece in 1..pieces {
            let along_m = length_m * piece as f64 / pieces as f64;
            let (lat_deg, lng_deg): (f64, f64) =
                wgs84().direct(from.lat_deg(), from.lng_deg(), azimuth_deg, along_m);
            let lng_deg = (lng_deg + 180.0).rem_euclid(360.0) - 180.0;
            let point = LatLng::new(lat_deg.clamp(-90.0, 90.0), lng_deg.clamp(-180.0, 180.0))
                .expect("clamped into range");
            ring.push(point.to_unit());
            edge_of_piece.push(index);
        }
    }
    (ring, edge_of_piece)
}

/// The largest squared chord a candidate may have and still be the closest pair on the
/// ellipsoid, given every candidate's squared chord: the least angle times
/// [`CANDIDATE_ANGLE_RATIO`], as a squared chord.
fn candidate_limit(chords_squared: impl Iterator<Item = f64>) -> f64 {
    let least = chords_squared.fold(f64::INFINITY, f64::min);
    let limit_rad = chord_squared_to_angle_rad(least) * CANDIDATE_ANGLE_RATIO + 1e-12;
    angle_to_chord_squared(limit_rad) * (1.0 + 1e-12)
}

/// The gnomonic (central) projection onto the plane tangent at a centre.
struct Gnomonic {
    centre: Vec3,
    east: Vec3,
    north: Vec3,
}

impl Gnomonic {
    fn about(centre: Vec3) -> Gnomonic {
        // Any axis not parallel to the centre gives a valid basis; pick the one least
        // aligned with it for precision.
        let seed = if centre.z.abs() < 0.9 {
            Vec3::axis(2)
        } else {
            Vec3::axis(0)
        };
        let east = seed.cross(centre).normalized();
        let north = centre.cross(east);
        Gnomonic {
            centre,
            east,
            north,
        }
    }

    fn project(&self, unit: Vec3) -> [f64; 2] {
        let depth = unit.dot(self.centre);
        [unit.dot(self.east) / depth, unit.dot(self.north) / depth]
    }
}

/// Twice the signed area of the triangle (a, b, c), computed exactly (robust predicate):
/// positive when counter-clockwise, exactly 0 when collinear.
fn orient(a: [f64; 2], b: [f64; 2], c: [f64; 2]) -> f64 {
    robust::orient2d(
        robust::Coord { x: a[0], y: a[1] },
        robust::Coord { x: b[0], y: b[1] },
        robust::Coord { x: c[0], y: c[1] },
    )
}

/// Whether two closed segments share a point.
fn segments_meet(a: ([f64; 2], [f64; 2]), b: ([f64; 2], [f64; 2])) -> bool {
    let o1 = orient(a.0, a.1, b.0);
    let o2 = orient(a.0, a.1, b.1);
    let o3 = orient(b.0, b.1, a.0);
    let o4 = orient(b.0, b.1, a.1);
    if o1 * o2 < 0.0 && o3 * o4 < 0.0 {
        return true;
    }
    let within = |p: [f64; 2], s: ([f64; 2], [f64; 2])| {
        p[0] >= s.0[0].min(s.1[0])
            && p[0] <= s.0[0].max(s.1[0])
            && p[1] >= s.0[1].min(s.1[1])
            && p[1] <= s.0[1].max(s.1[1])
    };
    (o1 == 0.0 && within(b.0, a))
        || (o2 == 0.0 && within(b.1, a))
        || (o3 == 0.0 && within(a.0, b))
        || (o4 == 0.0 && within(a.1, b))
}

/// A circle: every point within `radius_m` of the centre, measured geodesically on WGS84.
#[derive(Debug, Clone, PartialEq)]
pub struct Circle {
    centre: LatLng,
    centre_unit: Vec3,
    radius_m: f64,
    /// The unit-vector box of its cap ([`cap_bounds`]), worked out once, as a polygon's
    /// is.
    bounds: UnitBounds,
}

impl Circle {
    /// A circle with a positive, finite radius of at most [`CIRCLE_RADIUS_MAX_M`].
    pub fn new(centre: LatLng, radius_m: f64) -> Result<Self, GeometryError> {
        require_finite("radius", radius_m)?;
        if radius_m <= 0.0 {
            return Err(GeometryError::RadiusNotPositive { radius_m });
        }
        if radius_m > CIRCLE_RADIUS_MAX_M {
            return Err(GeometryError::RadiusTooLarge {
                radius_m,
                max_m: CIRCLE_RADIUS_MAX_M,
            });
        }
        let centre_unit = centre.to_unit();
        Ok(Circle {
            centre,
            centre_unit,
            radius_m,
            bounds: cap_bounds(centre_unit, cap_angle_rad(radius_m)),
        })
    }

    pub fn centre(&self) -> LatLng {
        self.centre
    }

    pub fn radius_m(&self) -> f64 {
        self.radius_m
    }

    /// The angle on the unit sphere within which the circle certainly lies.
    fn cap_angle_rad(&self) -> f64 {
        cap_angle_rad(self.radius_m)
    }
}

/// The angle on the unit sphere within which a circle of `radius_m` certainly lies.
fn cap_angle_rad(radius_m: f64) -> f64 {
    radius_m / SPHERE_RADIUS_LOWER_M
}

/// The unit-vector box of the cap of `angle` radians about `centre`.
fn cap_bounds(centre: Vec3, angle: f64) -> UnitBounds {
    let mut bounds = UnitBounds::empty();
    for axis in 0..3 {
        let from_axis = centre.component(axis).clamp(-1.0, 1.0).acos();
        bounds.low[axis] = (from_axis + angle).min(std::f64::consts::PI).cos();
        bounds.high[axis] = (from_axis - angle).max(0.0).cos();
    }
    bounds
}

/// The horizontal extent of a volume.
#[derive(Debug, Clone, PartialEq)]
pub enum Footprint {
    Polygon(Polygon),
    Circle(Circle),
}

impl Footprint {
    /// The least WGS84 geodesic distance in metres between the two footprints: 0 when they
    /// touch, overlap or one contains the other. See the module documentation for how it
    /// is found; it is within 0.5 % or 10 m (whichever is larger) of the exact value for
    /// footprints within 1,000 km of each other and up to 1,000 km across.
    pub fn geodesic_distance_m(&self, other: &Footprint) -> f64 {
        match (self, other) {
            (Footprint::Circle(a), Footprint::Circle(b)) => {
                (geodesic_distance_m(a.centre, b.centre) - (a.radius_m + b.radius_m)).max(0.0)
            }
            (Footprint::Polygon(polygon), Footprint::Circle(circle))
            | (Footprint::Circle(circle), Footprint::Polygon(polygon)) => {
                (polygon.distance_to_point_m(circle.centre) - circle.radius_m).max(0.0)
            }
            (Footprint::Polygon(a), Footprint::Polygon(b)) => a.distance_to_polygon_m(b),
        }
    }

    /// A lower bound in metres on [`Footprint::geodesic_distance_m`], from the bounding
    /// caps alone: cheap, for rejecting far pairs early.
    pub fn distance_lower_bound_m(&self, other: &Footprint) -> f64 {
        let (centre_a, angle_a) = self.bounding_cap();
        let (centre_b, angle_b) = other.bounding_cap();
        (angle_rad(centre_a, centre_b) - angle_a - angle_b).max(0.0) * SPHERE_RADIUS_LOWER_M
    }

    /// A cap of the unit sphere containing the footprint: centre and angle in radians.
    pub(crate) fn bounding_cap(&self) -> (Vec3, f64) {
        match self {
            Footprint::Polygon(polygon) => (polygon.centre, polygon.cap_angle_rad),
            Footprint::Circle(circle) => (circle.centre_unit, circle.cap_angle_rad()),
        }
    }

    /// A box of unit-vector coordinates containing the footprint on the auxiliary
    /// sphere. It has no trouble at the antimeridian or the poles.
    /// Worked out when the footprint was made, so this only reads it.
    pub(crate) fn unit_bounds(&self) -> UnitBounds {
        match self {
            Footprint::Polygon(polygon) => polygon.bounds,
            Footprint::Circle(circle) => circle.bounds,
        }
    }
}

/// An axis-aligned box of unit-vector coordinates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct UnitBounds {
    pub low: [f64; 3],
    pub high: [f64; 3],
}

impl UnitBounds {
    fn empty() -> UnitBounds {
        UnitBounds {
            low: [f64::INFINITY; 3],
            high: [f64::NEG_INFINITY; 3],
        }
    }
}
