//! The ASTM F3548-21 Volume4D JSON shape of the contract, its conversion into validated
//! core volumes (errors name the JSON path) and back.
//!
//! ```json
//! {"volume": {"outline_polygon": {"vertices": [{"lat": 35.1, "lng": 38.2}, …]},
//!             "altitude_lower": {"value": 3000, "reference": "W84", "units": "M"},
//!             "altitude_upper": {"value": 6000, "reference": "W84", "units": "M"}},
//!  "time_start": {"value": "2015-10-20T10:00:00Z", "format": "RFC3339"},
//!  "time_end":   {"value": "2015-10-20T11:00:00Z", "format": "RFC3339"}}
//! ```
//! `outline_circle` (`{"center": {"lat", "lng"}, "radius": {"value", "units": "M"}}`) may
//! stand instead of `outline_polygon`; exactly one of them must be present. Altitudes are
//! metres above the WGS84 ellipsoid (`"W84"`, `"M"`, the only reference and unit
//! accepted); times are RFC 3339 with any offset, read to the microsecond (finer
//! fractions are rounded) and written back in UTC (`Z`).

use std::fmt;

use deconflict_core::geometry::{
    AltitudeBand, Circle, Footprint, GeometryError, LatLng, Polygon, TimeWindow, Timestamp,
    Volume4D,
};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use utoipa::ToSchema;

/// The only altitude reference accepted: the WGS84 ellipsoid.
pub const ALTITUDE_REFERENCE: &str = "W84";
/// The only length unit accepted: metres.
pub const LENGTH_UNITS: &str = "M";
/// The only time format accepted.
pub const TIME_FORMAT: &str = "RFC3339";

/// Unusable input: where in it (a JSON path such as `intents[3].volumes[0].volume`, and
/// for malformed JSON a line and column) and what is wrong there.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct WireError {
    /// The JSON path of the offending value; empty for the document itself.
    pub path: String,
    /// The line and column (from 1) of a syntax or type error, when known.
    pub position: Option<(usize, usize)>,
    pub message: String,
}

impl WireError {
    pub fn at(path: impl Into<String>, message: impl Into<String>) -> Self {
        WireError {
            path: path.into(),
            position: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.path.is_empty(), self.position) {
            (true, Some((line, column))) => {
                write!(f, "line {line} column {column}: {}", self.message)
            }
            (true, None) => write!(f, "{}", self.message),
            (false, Some((line, column))) => write!(
                f,
                "{}: {} (line {line} column {column})",
                self.path, self.message
            ),
            (false, None) => write!(f, "{}: {}", self.path, self.message),
        }
    }
}

/// Parses a JSON document into `T`, naming the path and position of the first problem.
pub fn from_json_str<'de, T: Deserialize<'de>>(text: &'de str) -> Result<T, WireError> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        let path = if path == "." { String::new() } else { path };
        WireError {
            path,
            position: (inner.line() > 0).then(|| (inner.line(), inner.column())),
            message: strip_position(&inner.to_string()),
        }
    })?;
    deserializer.end().map_err(|inner| WireError {
        path: String::new(),
        position: Some((inner.line(), inner.column())),
        message: strip_position(&inner.to_string()),
    })?;
    Ok(value)
}

/// Converts an already parsed JSON value into `T`, naming the path of the first problem
/// (for request bodies read as [`serde_json::Value`] first).
pub fn from_json_value<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
) -> Result<T, WireError> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        WireError {
            path: if path == "." { String::new() } else { path },
            position: None,
            message: error.into_inner().to_string(),
        }
    })
}

/// serde_json appends " at line L column C" to its messages; the position is reported
/// separately.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message.to_string(),
    }
}

/// A position: WGS84 degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = LatLng)]
pub struct LatLngJson {
    #[schema(minimum = -90, maximum = 90)]
    pub lat: f64,
    #[schema(minimum = -180, maximum = 180)]
    pub lng: f64,
}

/// A polygon outline: its vertices, first not repeated at the end (a repeated closing
/// vertex is accepted). Besides its length: no vertex repeats the one before it, the
/// edges do not cross and the outline spans less than 90 degrees.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = Polygon)]
pub struct PolygonJson {
    #[schema(min_items = 3, max_items = 10000)]
    pub vertices: Vec<LatLngJson>,
}

/// A length with its units (`"M"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = Radius)]
pub struct RadiusJson {
    #[schema(pattern = "^M$")]
    pub units: String,
    #[schema(exclusive_minimum = 0, maximum = 5000000)]
    pub value: f64,
}

/// A circle outline: centre and radius.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = Circle)]
pub struct CircleJson {
    pub center: LatLngJson,
    pub radius: RadiusJson,
}

/// An altitude with its reference (`"W84"`) and units (`"M"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = Altitude)]
pub struct AltitudeJson {
    #[schema(pattern = "^W84$")]
    pub reference: String,
    #[schema(pattern = "^M$")]
    pub units: String,
    pub value: f64,
}

/// A time with its format (`"RFC3339"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = Time)]
pub struct TimeJson {
    #[schema(pattern = "^RFC3339$")]
    pub format: String,
    #[schema(format = DateTime)]
    pub value: String,
}

/// The spatial part of a volume: exactly one outline (polygon or circle) and an altitude
/// band whose lower bound is not above its upper one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = Volume)]
pub struct VolumeJson {
    pub altitude_lower: AltitudeJson,
    pub altitude_upper: AltitudeJson,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outline_circle: Option<CircleJson>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outline_polygon: Option<PolygonJson>,
}

/// The contract's Volume4D; `time_start` is not after `time_end`.
///
/// The fields of this type and of every type inside it are declared in the byte order of
/// their names, so that serde_json writes them in canonical form (keys sorted), the form
/// the service stores and the audit log hashes, without building a `Value` to sort them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = Volume4D)]
pub struct Volume4DJson {
    pub time_end: TimeJson,
    pub time_start: TimeJson,
    pub volume: VolumeJson,
}

/// Where a value sits in the document, written out only when an error names it: a valid
/// volume (a write's every vertex, time and altitude) costs no string.
#[derive(Clone, Copy)]
enum At<'a> {
    /// A path given by the caller (empty for the document itself).
    Root(&'a str),
    /// A member of an object.
    Field(&'a At<'a>, &'static str),
    /// An element of an array.
    Index(&'a At<'a>, usize),
}

impl<'a> At<'a> {
    fn field(&'a self, name: &'static str) -> At<'a> {
        At::Field(self, name)
    }

    fn is_empty(&self) -> bool {
        matches!(self, At::Root(""))
    }
}

impl fmt::Display for At<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            At::Root(path) => f.write_str(path),
            At::Field(parent, name) if parent.is_empty() => f.write_str(name),
            At::Field(parent, name) => write!(f, "{parent}.{name}"),
            At::Index(parent, index) => write!(f, "{parent}[{index}]"),
        }
    }
}

impl LatLngJson {
    /// The validated position; `path` is where this object sits in the document.
    pub fn to_core(&self, path: &str) -> Result<LatLng, WireError> {
        self.to_core_at(&At::Root(path))
    }

    fn to_core_at(self, at: &At) -> Result<LatLng, WireError> {
        LatLng::new(self.lat, self.lng).map_err(|error| {
            let field = match error {
                GeometryError::LatitudeOutOfRange { .. } => "lat",
                GeometryError::NotFinite {
                    what: "latitude", ..
                } => "lat",
                _ => "lng",
            };
            WireError::at(at.field(field).to_string(), error.to_string())
        })
    }

    pub fn from_core(position: LatLng) -> Self {
        LatLngJson {
            lat: position.lat_deg(),
            lng: position.lng_deg(),
        }
    }
}

fn require_units(at: &At, units: &str) -> Result<(), WireError> {
    if units == LENGTH_UNITS {
        Ok(())
    } else {
        Err(WireError::at(
            at.field("units").to_string(),
            format!("unknown units {units:?} (expected {LENGTH_UNITS:?})"),
        ))
    }
}

impl AltitudeJson {
    /// The altitude in metres above the WGS84 ellipsoid.
    pub fn to_metres(&self, path: &str) -> Result<f64, WireError> {
        self.to_metres_at(&At::Root(path))
    }

    fn to_metres_at(&self, at: &At) -> Result<f64, WireError> {
        if self.reference != ALTITUDE_REFERENCE {
            return Err(WireError::at(
                at.field("reference").to_string(),
                format!(
                    "unknown altitude reference {:?} (expected {ALTITUDE_REFERENCE:?})",
                    self.reference
                ),
            ));
        }
        require_units(at, &self.units)?;
        if !self.value.is_finite() {
            return Err(WireError::at(
                at.field("value").to_string(),
                format!("altitude must be a finite number, not {}", self.value),
            ));
        }
        Ok(self.value)
    }

    pub fn from_metres(value_m: f64) -> Self {
        AltitudeJson {
            value: value_m,
            reference: ALTITUDE_REFERENCE.to_string(),
            units: LENGTH_UNITS.to_string(),
        }
    }
}

impl TimeJson {
    pub fn to_core(&self, path: &str) -> Result<Timestamp, WireError> {
        self.to_core_at(&At::Root(path))
    }

    fn to_core_at(&self, at: &At) -> Result<Timestamp, WireError> {
        if self.format != TIME_FORMAT {
            return Err(WireError::at(
                at.field("format").to_string(),
                format!(
                    "unknown time format {:?} (expected {TIME_FORMAT:?})",
                    self.format
                ),
            ));
        }
        let parsed = OffsetDateTime::parse(&self.value, &Rfc3339).map_err(|error| {
            WireError::at(
                at.field("value").to_string(),
                format!("{:?} is not an RFC 3339 time: {error}", self.value),
            )
        })?;
        // To the microsecond, the core's resolution (finer fractions are rounded).
        let unix_us = (parsed.unix_timestamp_nanos() + 500).div_euclid(1000);
        i64::try_from(unix_us)
            .ok()
            .and_then(|unix_us| Timestamp::from_unix_us(unix_us).ok())
            .ok_or_else(|| {
                WireError::at(
                    at.field("value").to_string(),
                    format!("{:?} is out of range", self.value),
                )
            })
    }

    /// The time in RFC 3339 UTC, to the microsecond.
    pub fn from_core(time: Timestamp) -> Self {
        TimeJson {
            value: format_rfc3339(time),
            format: TIME_FORMAT.to_string(),
        }
    }
}

/// A time as RFC 3339 UTC (`Z`), to the microsecond; whole seconds have no fraction.
pub fn format_rfc3339(time: Timestamp) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(time.unix_us()) * 1000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        // Beyond the years 1..9999, which no RFC 3339 string can hold: say so in words.
        .unwrap_or_else(|| format!("unrepresentable time {} s", time.unix_s()))
}

impl PolygonJson {
    pub fn to_core(&self, path: &str) -> Result<Polygon, WireError> {
        self.to_core_at(&At::Root(path))
    }

    fn to_core_at(&self, at: &At) -> Result<Polygon, WireError> {
        let vertices_at = at.field("vertices");
        let mut vertices = Vec::with_capacity(self.vertices.len());
        for (index, vertex) in self.vertices.iter().enumerate() {
            vertices.push(vertex.to_core_at(&At::Index(&vertices_at, index))?);
        }
        Polygon::new(vertices).map_err(|error| {
            let at = match (&error, error.vertex_index()) {
                (_, Some(index)) => At::Index(&vertices_at, index).to_string(),
                (GeometryError::TooFewVertices { .. }, _)
                | (GeometryError::TooManyVertices { .. }, _) => vertices_at.to_string(),
                _ => at.to_string(),
            };
            WireError::at(at, error.to_string())
        })
    }
}

impl CircleJson {
    pub fn to_core(&self, path: &str) -> Result<Circle, WireError> {
        self.to_core_at(&At::Root(path))
    }

    fn to_core_at(&self, at: &At) -> Result<Circle, WireError> {
        let centre = self.center.to_core_at(&at.field("center"))?;
        let radius_at = at.field("radius");
        require_units(&radius_at, &self.radius.units)?;
        Circle::new(centre, self.radius.value)
            .map_err(|error| WireError::at(radius_at.field("value").to_string(), error.to_string()))
    }
}

impl Volume4DJson {
    /// The validated volume; `path` is where this object sits in the document (empty for
    /// the document itself).
    pub fn to_core(&self, path: &str) -> Result<Volume4D, WireError> {
        let at = At::Root(path);
        let volume_at = at.field("volume");
        let footprint = match (&self.volume.outline_polygon, &self.volume.outline_circle) {
            (Some(polygon), None) => {
                Footprint::Polygon(polygon.to_core_at(&volume_at.field("outline_polygon"))?)
            }
            (None, Some(circle)) => {
                Footprint::Circle(circle.to_core_at(&volume_at.field("outline_circle"))?)
            }
            (Some(_), Some(_)) => {
                return Err(WireError::at(
                    volume_at.to_string(),
                    "give either outline_polygon or outline_circle, not both",
                ))
            }
            (None, None) => {
                return Err(WireError::at(
                    volume_at.to_string(),
                    "an outline is required: outline_polygon or outline_circle",
                ))
            }
        };
        let lower_at = volume_at.field("altitude_lower");
        let lower_m = self.volume.altitude_lower.to_metres_at(&lower_at)?;
        let upper_m = self
            .volume
            .altitude_upper
            .to_metres_at(&volume_at.field("altitude_upper"))?;
        let altitude = AltitudeBand::new(lower_m, upper_m).map_err(|_| {
            WireError::at(
                lower_at.to_string(),
                format!("altitude_lower {lower_m} m is not below altitude_upper {upper_m} m"),
            )
        })?;
        let start = self.time_start.to_core_at(&at.field("time_start"))?;
        let end = self.time_end.to_core_at(&at.field("time_end"))?;
        let window = TimeWindow::new(start, end).map_err(|_| {
            WireError::at(
                at.field("time_end").to_string(),
                format!(
                    "time_end {} is not after time_start {}",
                    self.time_end.value, self.time_start.value
                ),
            )
        })?;
        Ok(Volume4D::new(footprint, altitude, window))
    }

    /// The contract's JSON for a core volume.
    pub fn from_core(volume: &Volume4D) -> Self {
        let (outline_polygon, outline_circle) = match &volume.footprint {
            Footprint::Polygon(polygon) => (
                Some(PolygonJson {
                    vertices: polygon
                        .vertices()
                        .iter()
                        .map(|&v| LatLngJson::from_core(v))
                        .collect(),
                }),
                None,
            ),
            Footprint::Circle(circle) => (
                None,
                Some(CircleJson {
                    center: LatLngJson::from_core(circle.centre()),
                    radius: RadiusJson {
                        value: circle.radius_m(),
                        units: LENGTH_UNITS.to_string(),
                    },
                }),
            ),
        };
        Volume4DJson {
            volume: VolumeJson {
                outline_polygon,
                outline_circle,
                altitude_lower: AltitudeJson::from_metres(volume.altitude.lower_m()),
                altitude_upper: AltitudeJson::from_metres(volume.altitude.upper_m()),
            },
            time_start: TimeJson::from_core(volume.window.start()),
            time_end: TimeJson::from_core(volume.window.end()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLYGON_VOLUME: &str = r#"{
      "volume": {
        "outline_polygon": {"vertices": [{"lat": 35.10, "lng": 38.20}, {"lat": 35.30, "lng": 38.20}, {"lat": 35.30, "lng": 38.50}]},
        "altitude_lower": {"value": 3000, "reference": "W84", "units": "M"},
        "altitude_upper": {"value": 6000, "reference": "W84", "units": "M"}
      },
      "time_start": {"value": "2015-10-20T10:00:00Z", "format": "RFC3339"},
      "time_end":   {"value": "2015-10-20T11:00:00.25Z", "format": "RFC3339"}
    }"#;

    #[test]
    fn the_contract_example_round_trips_through_core_types() {
        let json: Volume4DJson = from_json_str(POLYGON_VOLUME).unwrap();
        let volume = json.to_core("").unwrap();
        assert_eq!(volume.window.start().unix_s(), 1_445_335_200.0);
        assert_eq!(volume.window.end().unix_s(), 1_445_338_800.25);
        let written = Volume4DJson::from_core(&volume);
        assert_eq!(written.time_end.value, "2015-10-20T11:00:00.25Z");
        assert_eq!(written.volume.altitude_lower, json.volume.altitude_lower);
        assert_eq!(written.volume.outline_polygon, json.volume.outline_polygon);
        assert_eq!(written.to_core("").unwrap(), volume);
        let text = serde_json::to_string(&written).unwrap();
        assert!(!text.contains("outline_circle"), "{text}");
    }

    #[test]
    fn a_circle_round_trips_and_times_with_offsets_become_utc() {
        let text = r#"{"volume": {"outline_circle": {"center": {"lat": 35.4, "lng": 35.9}, "radius": {"value": 5000, "units": "M"}},
          "altitude_lower": {"value": 0, "reference": "W84", "units": "M"}, "altitude_upper": {"value": 100, "reference": "W84", "units": "M"}},
          "time_start": {"value": "2015-10-20T12:00:00+02:00", "format": "RFC3339"}, "time_end": {"value": "2015-10-20T11:00:00Z", "format": "RFC3339"}}"#;
        let volume = from_json_str::<Volume4DJson>(text)
            .unwrap()
            .to_core("")
            .unwrap();
        let written = Volume4DJson::from_core(&volume);
        assert_eq!(written.time_start.value, "2015-10-20T10:00:00Z");
        assert_eq!(
            written.volume.outline_circle.as_ref().unwrap().radius.value,
            5000.0
        );
        assert_eq!(written.to_core("").unwrap(), volume);
    }

    #[test]
    fn both_or_neither_outline_is_an_error_at_the_volume() {
        let mut json: Volume4DJson = from_json_str(POLYGON_VOLUME).unwrap();
        json.volume.outline_circle = Some(CircleJson {
            center: LatLngJson { lat: 0.0, lng: 0.0 },
            radius: RadiusJson {
                value: 1.0,
                units: "M".into(),
            },
        });
        assert_eq!(json.to_core("v").unwrap_err().path, "v.volume");
        json.volume.outline_circle = None;
        json.volume.outline_polygon = None;
        assert_eq!(json.to_core("v").unwrap_err().path, "v.volume");
    }

    #[test]
    fn every_invalid_member_is_named_by_its_whole_path() {
        let circle = |edit: &dyn Fn(&mut Volume4DJson)| {
            let mut json: Volume4DJson = from_json_str(POLYGON_VOLUME).unwrap();
            json.volume.outline_polygon = None;
            json.volume.outline_circle = Some(CircleJson {
                center: LatLngJson { lat: 1.0, lng: 2.0 },
                radius: RadiusJson {
                    value: 100.0,
                    units: "M".into(),
                },
            });
            edit(&mut json);
            json
        };
        let cases: Vec<(Volume4DJson, &str, &str)> = vec![
            (
                circle(&|v| v.volume.outline_circle.as_mut().unwrap().center.lat = 91.0),
                "volumes[2]",
                "volumes[2].volume.outline_circle.center.lat",
            ),
            (
                circle(&|v| v.volume.outline_circle.as_mut().unwrap().radius.units = "FT".into()),
                "",
                "volume.outline_circle.radius.units",
            ),
            (
                circle(&|v| v.volume.outline_circle.as_mut().unwrap().radius.value = -1.0),
                "v",
                "v.volume.outline_circle.radius.value",
            ),
            (
                circle(&|v| v.volume.altitude_upper.reference = "AGL".into()),
                "v",
                "v.volume.altitude_upper.reference",
            ),
            (
                circle(&|v| v.volume.altitude_upper.value = 1.0),
                "v",
                "v.volume.altitude_lower",
            ),
            (
                circle(&|v| v.time_start.format = "unix".into()),
                "",
                "time_start.format",
            ),
            (
                circle(&|v| v.time_end.value = "yesterday".into()),
                "v",
                "v.time_end.value",
            ),
        ];
        for (json, path, expected) in cases {
            assert_eq!(json.to_core(path).unwrap_err().path, expected);
        }
        let mut json: Volume4DJson = from_json_str(POLYGON_VOLUME).unwrap();
        let polygon = json.volume.outline_polygon.as_mut().unwrap();
        polygon.vertices[2].lat = -100.0;
        assert_eq!(
            json.to_core("volumes[0]").unwrap_err().path,
            "volumes[0].volume.outline_polygon.vertices[2].lat"
        );
        json.volume
            .outline_polygon
            .as_mut()
            .unwrap()
            .vertices
            .truncate(2);
        assert_eq!(
            json.to_core("").unwrap_err().path,
            "volume.outline_polygon.vertices"
        );
    }

    #[test]
    fn a_parsed_value_converts_naming_the_path() {
        let mut value: serde_json::Value = serde_json::from_str(POLYGON_VOLUME).unwrap();
        value["volume"]["outline_polygon"]["vertices"][1]["lng"] = serde_json::json!("east");
        let error = from_json_value::<Volume4DJson>(value).unwrap_err();
        assert_eq!(error.path, "volume.outline_polygon.vertices[1].lng");
    }

    #[test]
    fn malformed_json_reports_line_and_column() {
        let error = from_json_str::<Volume4DJson>("{\n  \"volume\": [}").unwrap_err();
        assert_eq!(error.position.map(|(line, _)| line), Some(2));
        assert!(error.to_string().contains("line 2 column"), "{error}");
        let error =
            from_json_str::<Volume4DJson>(POLYGON_VOLUME.replace("3000", "\"high\"").as_str())
                .unwrap_err();
        assert_eq!(error.path, "volume.altitude_lower.value");
    }
}
