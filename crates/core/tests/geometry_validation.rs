//! Constructors reject every invalid value with a specific error.

use deconflict_core::geometry::{
    AltitudeBand, Circle, GeometryError, LatLng, Polygon, TimeWindow, Timestamp,
    POLYGON_VERTICES_MAX,
};
use deconflict_core::strategic::Separation;

fn p(lat: f64, lng: f64) -> LatLng {
    LatLng::new(lat, lng).unwrap()
}

#[test]
fn positions_outside_the_globe_or_not_finite_are_rejected() {
    assert_eq!(
        LatLng::new(95.0, 0.0),
        Err(GeometryError::LatitudeOutOfRange { lat_deg: 95.0 })
    );
    assert_eq!(
        LatLng::new(0.0, 180.5),
        Err(GeometryError::LongitudeOutOfRange { lng_deg: 180.5 })
    );
    assert!(matches!(
        LatLng::new(f64::NAN, 0.0),
        Err(GeometryError::NotFinite { .. })
    ));
    assert!(matches!(
        LatLng::new(0.0, f64::INFINITY),
        Err(GeometryError::NotFinite { .. })
    ));
    assert_eq!(
        LatLng::new(95.0, 0.0).unwrap_err().to_string(),
        "latitude 95 is outside [-90, 90]"
    );
    assert!(LatLng::new(-90.0, -180.0).is_ok());
}

#[test]
fn empty_bands_and_windows_are_rejected() {
    assert!(AltitudeBand::new(100.0, 100.0).is_err());
    assert!(AltitudeBand::new(200.0, 100.0).is_err());
    assert!(AltitudeBand::new(-50.0, 100.0).is_ok());
    assert!(TimeWindow::from_unix_s(10.0, 10.0).is_err());
    assert!(TimeWindow::from_unix_s(10.0, 11.0).is_ok());
    assert!(Timestamp::from_unix_s(f64::NAN).is_err());
}

#[test]
fn polygons_with_too_few_or_too_many_vertices_are_rejected() {
    assert_eq!(
        Polygon::new(vec![p(0.0, 0.0), p(0.0, 1.0)]),
        Err(GeometryError::TooFewVertices { count: 2, min: 3 })
    );
    let many: Vec<LatLng> = (0..=POLYGON_VERTICES_MAX)
        .map(|k| {
            let angle = k as f64 / (POLYGON_VERTICES_MAX + 1) as f64 * std::f64::consts::TAU;
            p(angle.sin(), angle.cos())
        })
        .collect();
    assert!(matches!(
        Polygon::new(many.clone()),
        Err(GeometryError::TooManyVertices { .. })
    ));
    assert!(Polygon::new(many[..POLYGON_VERTICES_MAX].to_vec()).is_ok());
}

#[test]
fn a_closed_ring_is_the_same_polygon_as_the_open_one() {
    let open = vec![p(0.0, 0.0), p(0.0, 1.0), p(1.0, 1.0)];
    let mut closed = open.clone();
    closed.push(open[0]);
    assert_eq!(Polygon::new(open), Polygon::new(closed));
}

#[test]
fn self_intersecting_polygons_are_rejected() {
    // A bow tie.
    let bow_tie = vec![p(0.0, 0.0), p(1.0, 1.0), p(1.0, 0.0), p(0.0, 1.0)];
    assert!(matches!(
        Polygon::new(bow_tie),
        Err(GeometryError::SelfIntersecting { .. })
    ));
    // A vertex touching a non-adjacent edge.
    let touching = vec![
        p(0.0, 0.0),
        p(0.0, 2.0),
        p(2.0, 2.0),
        p(0.0, 1.0),
        p(1.0, 0.5),
    ];
    assert!(Polygon::new(touching).is_err());
}

#[test]
fn degenerate_polygons_are_rejected() {
    assert_eq!(
        Polygon::new(vec![p(0.0, 0.0), p(0.0, 0.0), p(1.0, 1.0)]),
        Err(GeometryError::RepeatedVertex { index: 1 })
    );
    // All on one meridian (a great circle): no area.
    let collinear = Polygon::new(vec![p(0.0, 10.0), p(1.0, 10.0), p(2.0, 10.0)]);
    assert!(
        matches!(
            collinear,
            Err(GeometryError::Spike { .. }) | Err(GeometryError::ZeroArea)
        ),
        "{collinear:?}"
    );
    // Two vertices at the pole are one point whatever their longitudes.
    assert!(Polygon::new(vec![p(90.0, 0.0), p(90.0, 50.0), p(80.0, 0.0)]).is_err());
}

#[test]
fn a_polygon_spanning_more_than_a_hemisphere_is_rejected() {
    let huge = vec![p(0.0, 0.0), p(0.0, 120.0), p(0.0, -120.0)];
    assert!(matches!(
        Polygon::new(huge),
        Err(GeometryError::PolygonTooLarge { .. })
    ));
}

#[test]
fn circles_need_a_positive_finite_radius() {
    assert!(Circle::new(p(0.0, 0.0), 0.0).is_err());
    assert!(Circle::new(p(0.0, 0.0), -1.0).is_err());
    assert!(Circle::new(p(0.0, 0.0), f64::NAN).is_err());
    assert!(Circle::new(p(0.0, 0.0), 1e9).is_err());
    assert!(Circle::new(p(0.0, 0.0), 1.0).is_ok());
}

#[test]
fn separation_minima_must_be_positive() {
    assert!(Separation::new(0.0, 300.0, 120.0).is_err());
    assert!(Separation::new(9260.0, -1.0, 120.0).is_err());
    assert!(Separation::new(9260.0, 300.0, f64::NAN).is_err());
    assert!(Separation::new(9260.0, 300.0, 120.0).is_ok());
}
