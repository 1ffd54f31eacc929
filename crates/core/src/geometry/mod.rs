//! Validated geometric types of the strategic model and the horizontal distance between
//! footprints.
//!
//! Everything here is validated once, in its constructor: a [`LatLng`], an
//! [`AltitudeBand`], a [`TimeWindow`], a [`Footprint`] or a [`Volume4D`] cannot hold an
//! invalid value afterwards.
//!
//! # Earth models
//! - Positions are WGS84 geodetic latitude and longitude in degrees.
//! - A polygon edge is the WGS84 geodesic between its two vertices (the shorter one). The
//!   interior of a polygon is the smaller of the two regions its outline bounds, so a
//!   polygon may enclose a pole, and vertex order (clockwise or not) does not matter.
//! - A circle is the set of points within its radius of its centre, measured geodesically
//!   on the WGS84 ellipsoid.
//! - The horizontal distance between two footprints is located on Bessel's auxiliary
//!   sphere (reduced latitude, longitude; exact great-circle closest-point tests) and
//!   measured as the WGS84 geodesic distance between the closest points found (Karney,
//!   `geographiclib-rs`); see [`Footprint::geodesic_distance_m`].
//! - Conservative bounds (the index filter, early rejections) use that sphere scaled by
//!   the semi-minor axis b, which never overstates a WGS84 distance.
//! - Altitudes are metres above the WGS84 ellipsoid; times are whole microseconds since
//!   the Unix epoch.

pub(crate) mod earth;
mod footprint;
mod position;
mod sphere;
mod time;
mod volume;

pub use earth::{geodesic_distance_m, SPHERE_RADIUS_LOWER_M, SPHERE_RADIUS_UPPER_M};
pub use footprint::{
    Circle, Footprint, Polygon, CIRCLE_RADIUS_MAX_M, POLYGON_SPAN_MAX_DEG, POLYGON_VERTICES_MAX,
    POLYGON_VERTICES_MIN,
};
pub use position::LatLng;
pub(crate) use sphere::{angle_rad as angle_between_rad, chord_squared, Vec3};
pub use time::{TimeWindow, Timestamp, TIME_MAGNITUDE_MAX_S};
pub use volume::{AltitudeBand, Volume4D};

/// Why a geometric value is invalid. Each message says what is wrong with the value; the
/// caller adds where the value came from.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GeometryError {
    #[error("{what} must be a finite number, not {value}")]
    NotFinite { what: &'static str, value: f64 },
    #[error("latitude {lat_deg} is outside [-90, 90]")]
    LatitudeOutOfRange { lat_deg: f64 },
    #[error("longitude {lng_deg} is outside [-180, 180]")]
    LongitudeOutOfRange { lng_deg: f64 },
    #[error("altitude lower {lower_m} m is not below upper {upper_m} m")]
    AltitudeBandEmpty { lower_m: f64, upper_m: f64 },
    #[error("time {unix_s} s from the Unix epoch is out of range")]
    TimeOutOfRange { unix_s: f64 },
    #[error("time end {end_s} s is not after start {start_s} s")]
    TimeWindowEmpty { start_s: f64, end_s: f64 },
    #[error("a polygon needs at least {min} vertices, this one has {count}")]
    TooFewVertices { count: usize, min: usize },
    #[error("a polygon may have at most {max} vertices, this one has {count}")]
    TooManyVertices { count: usize, max: usize },
    #[error("vertex {index} repeats the vertex before it")]
    RepeatedVertex { index: usize },
    #[error("the polygon intersects itself: edge {edge_a} meets edge {edge_b}")]
    SelfIntersecting { edge_a: usize, edge_b: usize },
    #[error("the polygon turns back on itself at vertex {index}")]
    Spike { index: usize },
    #[error("the polygon has zero area")]
    ZeroArea,
    #[error("vertex {index} is more than {max_deg} degrees from the polygon's centre")]
    PolygonTooLarge { index: usize, max_deg: f64 },
    #[error("circle radius {radius_m} m is not positive")]
    RadiusNotPositive { radius_m: f64 },
    #[error("circle radius {radius_m} m exceeds the maximum of {max_m} m")]
    RadiusTooLarge { radius_m: f64, max_m: f64 },
}

impl GeometryError {
    /// The index of the polygon vertex the error is about, when it is about one, so that a
    /// caller can point at it in its input.
    pub fn vertex_index(&self) -> Option<usize> {
        match self {
            GeometryError::RepeatedVertex { index }
            | GeometryError::Spike { index }
            | GeometryError::PolygonTooLarge { index, .. } => Some(*index),
            _ => None,
        }
    }
}

/// Rejects NaN and infinities, naming the quantity.
pub(crate) fn require_finite(what: &'static str, value: f64) -> Result<f64, GeometryError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(GeometryError::NotFinite { what, value })
    }
}
