//! The disclosure region's fast path for convex outlines: a buffer drawn directly and an
//! intersection by clipping, where the general path hands both to the polygon overlay.
//!
//! Circles, corridors and most operating areas are convex, and so are their buffers, so
//! the region of two of them is the intersection of two convex polygons: one clipped by
//! each side of the other in turn (Sutherland and Hodgman), in time proportional to the
//! product of their edges, which the cut to each other's bounding rectangle keeps small.
//! The buffer of a convex polygon is its Minkowski sum with a regular polygon about the
//! disc: the edges of both in the order of their directions, in time proportional to their
//! number. The overlay, which must allow for any outline (holes, several parts, edges that
//! cross), took most of a region's time for such pairs. Written by hand: `geo` offers the
//! convex hull used here, but neither the sum nor the convex clip.

use geo::{ConvexHull, Coord, LineString};

/// How far inside its convex hull a projected outline may reach and still be buffered as
/// that hull: as far as a densified edge's chord may stray from its arc. Projected great
/// circles bend, so the outline of a convex footprint can lie a few centimetres inside its
/// hull; a buffer of the hull then contains the footprint's and exceeds it by that much.
pub(super) const POCKET_DEPTH_MAX_M: f64 = super::CHORD_DEVIATION_MAX_M;

/// Edges of a clipping polygon shorter than this are skipped: their direction, from
/// coordinates of up to hundreds of kilometres, is not known well enough to clip by. The
/// polygon's other sides bound what such an edge cuts off to within its length.
const CLIP_EDGE_MIN_M: f64 = 1e-3;

/// The outline of `ring` (a closed ring of the plane, its last point repeating its first
/// or not, either orientation) as a convex polygon, counter-clockwise, its last point not
/// repeated: the ring itself when it is strictly convex, else its convex hull when no
/// point of the ring lies more than [`POCKET_DEPTH_MAX_M`] inside the hull. `None` when
/// the outline is not convex (or the ring is not a simple one).
pub(super) fn convex_outline(ring: &[Coord<f64>]) -> Option<Vec<Coord<f64>>> {
    let mut points: Vec<Coord<f64>> = ring.to_vec();
    points.dedup();
    if points.len() > 1 && points.first() == points.last() {
        points.pop();
    }
    if points.len() < 3 {
        return None;
    }
    if signed_area(&points) < 0.0 {
        points.reverse();
    }
    if strictly_convex(&points) {
        return Some(points);
    }
    let hull: Vec<Coord<f64>> = {
        let hull = LineString::new(points.clone()).convex_hull();
        let mut hull = hull.exterior().0.clone();
        hull.pop();
        hull
    };
    if hull.len() < 3 || pocket_depth_m(&points, &hull)? > POCKET_DEPTH_MAX_M {
        return None;
    }
    Some(hull)
}

/// Twice the signed area of an open ring: positive when it runs counter-clockwise.
fn signed_area(points: &[Coord<f64>]) -> f64 {
    let n = points.len();
    (0..n)
        .map(|i| {
            let (p, q) = (points[i], points[(i + 1) % n]);
            p.x * q.y - q.x * p.y
        })
        .sum()
}

fn cross(u: Coord<f64>, v: Coord<f64>) -> f64 {
    u.x * v.y - u.y * v.x
}

/// A number that rises with the direction of `d` from 0 (east) round to 4, without a
/// trigonometric call.
fn pseudo_angle(d: Coord<f64>) -> f64 {
    let p = d.x / (d.x.abs() + d.y.abs());
    if d.y < 0.0 {
        3.0 + p
    } else {
        1.0 - p
    }
}

/// Whether an open counter-clockwise ring turns left at every vertex and goes round once
/// (a ring that turns left everywhere but goes round twice is a star).
fn strictly_convex(points: &[Coord<f64>]) -> bool {
    let n = points.len();
    let edge = |i: usize| points[(i + 1) % n] - points[i % n];
    let mut wraps = 0;
    for i in 0..n {
        let (before, after) = (edge(i), edge(i + 1));
        if cross(before, after) <= 0.0 {
            return false;
        }
        if pseudo_angle(after) < pseudo_angle(before) {
            wraps += 1;
        }
    }
    wraps == 1
}

/// How far the ring's points lie inside their convex hull (both open and
/// counter-clockwise): each point between two consecutive hull vertices, walking the ring,
/// is measured from the hull's edge between them. `None` when the ring does not pass the
/// hull's vertices in order, as a simple ring does.
fn pocket_depth_m(ring: &[Coord<f64>], hull: &[Coord<f64>]) -> Option<f64> {
    let start = ring.iter().position(|&p| p == hull[0])?;
    let (n, h) = (ring.len(), hull.len());
    let mut next_vertex = 1;
    let mut deepest: f64 = 0.0;
    for step in 1..=n {
        let point = ring[(start + step) % n];
        let (from, to) = (hull[next_vertex - 1], hull[next_vertex % h]);
        if point == to {
            next_vertex += 1;
            continue;
        }
        let edge = to - from;
        let length = edge.x.hypot(edge.y);
        deepest = deepest.max(cross(edge, point - from) / length);
    }
    (next_vertex == h + 1).then_some(deepest)
}

/// The Minkowski sum of the convex polygon `outline` (open, counter-clockwise) and a
/// regular polygon of `vertices` about the origin whose edges' middles lie `distance_m`
/// from it: the outline buffered by at least `distance_m` everywhere and by at most
/// `distance_m / cos(π / vertices)`, counter-clockwise, open.
pub(super) fn buffered_convex(
    outline: &[Coord<f64>],
    distance_m: f64,
    vertices: usize,
) -> Vec<Coord<f64>> {
    let radius_m = distance_m / (std::f64::consts::PI / vertices as f64).cos();
    let disc: Vec<Coord<f64>> = (0..vertices)
        .map(|k| {
            let (sin, cos) = (std::f64::consts::TAU * k as f64 / vertices as f64).sin_cos();
            Coord {
                x: radius_m * cos,
                y: radius_m * sin,
            }
        })
        .collect();
    let (start_a, edges_a) = edges_from_lowest(outline);
    let (start_b, edges_b) = edges_from_lowest(&disc);
    let mut sum = Vec::with_capacity(edges_a.len() + edges_b.len());
    let mut point = start_a + start_b;
    let (mut i, mut j) = (0, 0);
    while i < edges_a.len() || j < edges_b.len() {
        sum.push(point);
        let take_a = j == edges_b.len()
            || (i < edges_a.len() && pseudo_angle(edges_a[i]) <= pseudo_angle(edges_b[j]));
        if take_a {
            point = point + edges_a[i];
            i += 1;
        } else {
            point = point + edges_b[j];
            j += 1;
        }
    }
    sum
}

/// The lowest (then leftmost) vertex of a convex counter-clockwise polygon and its edges
/// from there, in rising order of direction.
fn edges_from_lowest(polygon: &[Coord<f64>]) -> (Coord<f64>, Vec<Coord<f64>>) {
    let n = polygon.len();
    let lowest = (0..n)
        .min_by(|&i, &j| {
            let (p, q) = (polygon[i], polygon[j]);
            p.y.total_cmp(&q.y).then(p.x.total_cmp(&q.x))
        })
        .expect("a polygon has vertices");
    let edges = (0..n)
        .map(|k| polygon[(lowest + k + 1) % n] - polygon[(lowest + k) % n])
        .collect();
    (polygon[lowest], edges)
}

/// The part of `subject` (an open ring) inside the convex polygon `clip` (open,
/// counter-clockwise): the subject clipped by each of its sides in turn. Empty when they
/// do not meet.
pub(super) fn clipped_by_convex(subject: &[Coord<f64>], clip: &[Coord<f64>]) -> Vec<Coord<f64>> {
    let mut points = subject.to_vec();
    let mut next = Vec::with_capacity(points.len() + clip.len());
    let m = clip.len();
    for k in 0..m {
        let from = clip[k];
        let edge = clip[(k + 1) % m] - from;
        if edge.x.hypot(edge.y) < CLIP_EDGE_MIN_M {
            continue;
        }
        // Positive on the polygon's side of the edge (its left).
        let side = |p: Coord<f64>| cross(edge, p - from);
        next.clear();
        for (position, &current) in points.iter().enumerate() {
            let previous = points[(position + points.len() - 1) % points.len()];
            let (s_previous, s_current) = (side(previous), side(current));
            let crossing =
                || previous + (current - previous) * (s_previous / (s_previous - s_current));
            match (s_previous >= 0.0, s_current >= 0.0) {
                (true, true) => next.push(current),
                (true, false) => next.push(crossing()),
                (false, true) => {
                    next.push(crossing());
                    next.push(current);
                }
                (false, false) => {}
            }
        }
        std::mem::swap(&mut points, &mut next);
        if points.is_empty() {
            break;
        }
    }
    points.dedup();
    if points.len() > 1 && points.first() == points.last() {
        points.pop();
    }
    if points.len() < 3 {
        points.clear();
    }
    points
}

#[cfg(test)]
mod tests {
    use geo::{Area, BooleanOps, Contains, Distance, Euclidean, MultiPolygon, Point, Polygon};
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;

    fn polygon(ring: &[Coord<f64>]) -> Polygon<f64> {
        Polygon::new(LineString::new(ring.to_vec()), vec![])
    }

    /// A ring of `count` points round a circle-ish outline: convex when `wobble` is 0.
    fn random_ring(rng: &mut ChaCha8Rng, count: usize, wobble: f64) -> Vec<Coord<f64>> {
        let radius = rng.random_range(500.0..20_000.0);
        let stretch = rng.random_range(0.05..1.0);
        let turn = rng.random_range(0.0..std::f64::consts::TAU);
        let centre = Coord {
            x: rng.random_range(-8_000.0..8_000.0),
            y: rng.random_range(-8_000.0..8_000.0),
        };
        (0..count)
            .map(|k| {
                let angle =
                    (k as f64 + rng.random_range(0.0..0.9)) * std::f64::consts::TAU / count as f64;
                let reach = radius * (1.0 - wobble * rng.random_range(0.0..1.0));
                let (x, y) = (reach * angle.cos(), stretch * reach * angle.sin());
                let (sin, cos) = turn.sin_cos();
                centre
                    + Coord {
                        x: x * cos - y * sin,
                        y: x * sin + y * cos,
                    }
            })
            .collect()
    }

    #[test]
    fn convex_rings_are_kept_and_others_refused() {
        let square = [
            Coord { x: 0.0, y: 0.0 },
            Coord { x: 0.0, y: 10.0 },
            Coord { x: 10.0, y: 10.0 },
            Coord { x: 10.0, y: 0.0 },
            Coord { x: 0.0, y: 0.0 },
        ];
        // Clockwise and closed in, counter-clockwise and open out.
        let outline = convex_outline(&square).unwrap();
        assert_eq!(outline.len(), 4);
        assert!(signed_area(&outline) > 0.0);
        // A point on an edge, or a dent of a centimetre, is the hull.
        let mut dented = square.to_vec();
        dented.insert(1, Coord { x: 0.01, y: 5.0 });
        assert_eq!(convex_outline(&dented).unwrap().len(), 4);
        dented[1] = Coord { x: 0.0, y: 5.0 };
        assert_eq!(convex_outline(&dented).unwrap().len(), 4);
        // A dent of 10 cm is not.
        dented[1] = Coord { x: 0.1, y: 5.0 };
        assert!(convex_outline(&dented).is_none());
        // A star that turns left everywhere goes round twice.
        let pentagram: Vec<Coord<f64>> = (0..5)
            .map(|k| {
                let angle = k as f64 * 2.0 * std::f64::consts::TAU / 5.0;
                Coord {
                    x: angle.cos(),
                    y: angle.sin(),
                }
            })
            .collect();
        assert!(!strictly_convex(&pentagram));
        assert!(convex_outline(&pentagram).is_none());
        // Too few points.
        assert!(convex_outline(&square[..2]).is_none());
    }

    /// The sum reaches at least the distance from the outline everywhere and at most the
    /// regular polygon's radius: its vertices lie between the two.
    #[test]
    fn a_convex_buffer_keeps_between_its_two_distances() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for case in 0..300 {
            let count = rng.random_range(3..=40usize);
            let ring = random_ring(&mut rng, count, 0.0);
            let outline = convex_outline(&ring).unwrap();
            let distance = rng.random_range(10.0..5_000.0);
            let vertices = rng.random_range(8..=64usize);
            let buffer = buffered_convex(&outline, distance, vertices);
            let radius = distance / (std::f64::consts::PI / vertices as f64).cos();
            let (outline_polygon, buffer_polygon) = (polygon(&outline), polygon(&buffer));
            assert!(strictly_convex(&buffer) || convex_outline(&buffer).is_some());
            for &vertex in &buffer {
                let d = Euclidean.distance(&Point::from(vertex), &outline_polygon);
                assert!(
                    d >= distance * (1.0 - 1e-9) && d <= radius * (1.0 + 1e-9),
                    "case {case}: a vertex {d} m out, between {distance} and {radius} m"
                );
            }
            // Points on a circle of the distance about each vertex and along each edge's
            // normal are inside.
            for (k, &p) in outline.iter().enumerate() {
                let q = outline[(k + 1) % outline.len()];
                let edge = q - p;
                let normal = Coord {
                    x: edge.y,
                    y: -edge.x,
                } / edge.x.hypot(edge.y);
                let angle = rng.random_range(0.0..std::f64::consts::TAU);
                let fraction = rng.random_range(0.0..1.0);
                for point in [
                    p + Coord {
                        x: angle.cos(),
                        y: angle.sin(),
                    } * (distance * 0.999_999),
                    p + edge * fraction + normal * (distance * 0.999_999),
                ] {
                    assert!(
                        buffer_polygon.contains(&Point::from(point)),
                        "case {case}: a point {distance} m from the outline is outside"
                    );
                }
            }
        }
    }

    /// Clipping by a convex polygon meets the overlay's intersection: the same area, in
    /// one part, for convex and concave subjects, apart, overlapping or nested.
    #[test]
    fn clipping_by_a_convex_polygon_meets_the_overlay() {
        let mut rng = ChaCha8Rng::seed_from_u64(12);
        let mut met = 0;
        for case in 0..400 {
            let count = rng.random_range(3..=40usize);
            let clip = convex_outline(&random_ring(&mut rng, count, 0.0)).unwrap();
            let count = rng.random_range(3..=40usize);
            let wobble = if case % 2 == 0 { 0.0 } else { 0.6 };
            let subject = random_ring(&mut rng, count, wobble);
            let clipped = clipped_by_convex(&subject, &clip);
            let overlay = MultiPolygon::new(vec![polygon(&subject)])
                .intersection(&MultiPolygon::new(vec![polygon(&clip)]));
            let (expected, got) = (overlay.unsigned_area(), polygon(&clipped).unsigned_area());
            // The overlay rounds to an integer grid scaled to its input's extent (tens of
            // micrometres here).
            assert!(
                (expected - got).abs() <= 1e-7 * expected.max(got) + 0.05,
                "case {case}: the overlay met in {expected} m², the clip in {got} m²"
            );
            if wobble == 0.0 {
                assert!(overlay.0.len() <= 1, "case {case}");
            }
            met += usize::from(expected > 0.0);
        }
        assert!(met > 100, "only {met} of the pairs met");
    }
}
