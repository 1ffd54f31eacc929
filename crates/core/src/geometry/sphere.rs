//! Unit-sphere vector arithmetic and exact great-circle arc tests.
//!
//! Hand-written rather than taken from a linear-algebra crate: it is a dozen lines of
//! arithmetic on the hot path of every distance computation, and keeping it here keeps the
//! core's dependencies few.

use std::ops::{Add, Mul, Neg, Sub};

/// A vector in 3-D space; as a position, a point of the unit sphere.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Vec3 {
    pub x: f64,
    pub y: f64,
    pub z: f64,
}

impl Vec3 {
    pub const fn new(x: f64, y: f64, z: f64) -> Vec3 {
        Vec3 { x, y, z }
    }

    pub fn from_lat_lng_deg(lat_deg: f64, lng_deg: f64) -> Vec3 {
        let (sin_lat, cos_lat) = lat_deg.to_radians().sin_cos();
        let (sin_lng, cos_lng) = lng_deg.to_radians().sin_cos();
        Vec3::new(cos_lat * cos_lng, cos_lat * sin_lng, sin_lat)
    }

    pub fn dot(self, other: Vec3) -> f64 {
        self.x * other.x + self.y * other.y + self.z * other.z
    }

    pub fn cross(self, other: Vec3) -> Vec3 {
        Vec3::new(
            self.y * other.z - self.z * other.y,
            self.z * other.x - self.x * other.z,
            self.x * other.y - self.y * other.x,
        )
    }

    pub fn norm(self) -> f64 {
        self.dot(self).sqrt()
    }

    /// This vector scaled to length 1; the zero vector stays zero.
    pub fn normalized(self) -> Vec3 {
        let norm = self.norm();
        if norm > 0.0 {
            self * (1.0 / norm)
        } else {
            self
        }
    }

    pub fn component(self, axis: usize) -> f64 {
        match axis {
            0 => self.x,
            1 => self.y,
            _ => self.z,
        }
    }

    pub fn axis(axis: usize) -> Vec3 {
        match axis {
            0 => Vec3::new(1.0, 0.0, 0.0),
            1 => Vec3::new(0.0, 1.0, 0.0),
            _ => Vec3::new(0.0, 0.0, 1.0),
        }
    }
}

impl Add for Vec3 {
    type Output = Vec3;
    fn add(self, other: Vec3) -> Vec3 {
        Vec3::new(self.x + other.x, self.y + other.y, self.z + other.z)
    }
}

impl Sub for Vec3 {
    type Output = Vec3;
    fn sub(self, other: Vec3) -> Vec3 {
        Vec3::new(self.x - other.x, self.y - other.y, self.z - other.z)
    }
}

impl Mul<f64> for Vec3 {
    type Output = Vec3;
    fn mul(self, factor: f64) -> Vec3 {
        Vec3::new(self.x * factor, self.y * factor, self.z * factor)
    }
}

impl Neg for Vec3 {
    type Output = Vec3;
    fn neg(self) -> Vec3 {
        Vec3::new(-self.x, -self.y, -self.z)
    }
}

/// The angle in radians between two unit vectors, accurate at every size (the atan2 form
/// keeps precision for tiny and for near-antipodal angles, where acos and asin lose it).
pub(crate) fn angle_rad(a: Vec3, b: Vec3) -> f64 {
    a.cross(b).norm().atan2(a.dot(b))
}

/// The squared straight-line distance between two unit vectors.
pub(crate) fn chord_squared(a: Vec3, b: Vec3) -> f64 {
    let d = a - b;
    d.dot(d)
}

/// The angle in radians subtended by a chord given as its square.
pub(crate) fn chord_squared_to_angle_rad(chord_squared: f64) -> f64 {
    2.0 * (chord_squared.sqrt() / 2.0).min(1.0).asin()
}

/// The squared chord of an angle in radians (up to a half circle).
pub(crate) fn angle_to_chord_squared(angle_rad: f64) -> f64 {
    let chord = 2.0 * (angle_rad.min(std::f64::consts::PI) / 2.0).sin();
    chord * chord
}

/// A great-circle arc shorter than a half circle, with the unit normal of its plane.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Arc {
    pub start: Vec3,
    pub end: Vec3,
    /// `start × end`, normalized: the arc runs counter-clockwise about it.
    pub normal: Vec3,
}

impl Arc {
    pub fn new(start: Vec3, end: Vec3) -> Arc {
        Arc {
            start,
            end,
            normal: start.cross(end).normalized(),
        }
    }

    /// Whether a point of the arc's great circle (or a direction in the arc's plane) lies
    /// between its ends.
    fn spans(&self, direction: Vec3) -> bool {
        self.start.cross(direction).dot(self.normal) >= 0.0
            && direction.cross(self.end).dot(self.normal) >= 0.0
    }

    /// The point of the arc closest to `point`, and the squared chord to it (a measure
    /// that grows with the angle and needs no trigonometry: see [`chord_to_angle_rad`]).
    pub fn closest_point(&self, point: Vec3) -> (Vec3, f64) {
        let in_plane = point - self.normal * point.dot(self.normal);
        if in_plane.norm() > 1e-300 && self.spans(in_plane) {
            let foot = in_plane.normalized();
            return (foot, chord_squared(point, foot));
        }
        let to_start = chord_squared(point, self.start);
        let to_end = chord_squared(point, self.end);
        if to_start <= to_end {
            (self.start, to_start)
        } else {
            (self.end, to_end)
        }
    }

    /// Whether this arc and `other` cross or touch. Collinear overlapping arcs are not
    /// reported here; callers find them as zero distances between an end and the other arc.
    pub fn meets(&self, other: &Arc) -> bool {
        let side_start = self.normal.dot(other.start);
        let side_end = self.normal.dot(other.end);
        if side_start * side_end > 0.0 {
            return false;
        }
        let other_side_start = other.normal.dot(self.start);
        let other_side_end = other.normal.dot(self.end);
        if other_side_start * other_side_end > 0.0 {
            return false;
        }
        // Both great circles are crossed; the crossing points are ±x. Each arc is shorter
        // than a half circle, so the point it holds lies within 90° of its midpoint.
        let x = self.normal.cross(other.normal);
        if x.norm() < 1e-15 {
            return false;
        }
        let here = x.dot(self.start + self.end);
        let there = x.dot(other.start + other.end);
        here * there > 0.0
    }

    /// The extreme values of coordinate `axis` over the arc: (min, max).
    pub fn coordinate_range(&self, axis: usize) -> (f64, f64) {
        let (a, b) = (self.start.component(axis), self.end.component(axis));
        let (mut low, mut high) = (a.min(b), a.max(b));
        // The coordinate's extremes on the great circle are at the projections of ±axis
        // onto its plane; they count when they lie on the arc.
        let e = Vec3::axis(axis);
        let toward = e - self.normal * e.dot(self.normal);
        if toward.norm() > 1e-12 {
            let toward = toward.normalized();
            if self.spans(toward) {
                high = high.max(toward.component(axis));
            }
            if self.spans(-toward) {
                low = low.min(-toward.component(axis));
            }
        }
        (low, high)
    }
}
