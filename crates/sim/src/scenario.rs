//! The scenario file format (TOML) and its validation into a [`Scenario`] the generator can
//! trust.
//!
//! A scenario names the parties and the agreement between them, the aircraft types, the
//! bases, the operating areas and the sortie patterns that fly between them, with their
//! rates. The format is documented field by field in `scenarios/README.md`; the seed
//! scenario `syria-2015` ([`builtin`]) is a complete example.
//!
//! Errors name their place: TOML syntax and type errors carry the line and column (from the
//! `toml` crate), and the checks made here name the table and entry, such as
//! `patterns[3] ("ru-idlib-strike").activity.area`.

use std::collections::BTreeSet;

use serde::Deserialize;

use crate::geo::LatLon;

/// The scenarios shipped inside the binary, by name.
pub const BUILTIN_SCENARIOS: &[(&str, &str)] = &[(
    "syria-2015",
    include_str!("../../../scenarios/syria-2015.toml"),
)];

/// The text of a built-in scenario.
pub fn builtin(name: &str) -> Option<&'static str> {
    BUILTIN_SCENARIOS
        .iter()
        .find(|(builtin_name, _)| *builtin_name == name)
        .map(|(_, text)| *text)
}

/// Why a scenario cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScenarioError {
    /// Not TOML, or a value of the wrong type (the message names line and column).
    #[error("{0}")]
    Syntax(String),
    /// A value that is well-typed but unusable, at `place`.
    #[error("{place}: {problem}")]
    Invalid { place: String, problem: String },
}

fn invalid(place: impl Into<String>, problem: impl Into<String>) -> ScenarioError {
    ScenarioError::Invalid {
        place: place.into(),
        problem: problem.into(),
    }
}

// ---------------------------------------------------------------------------------------
// The file as written. Every table refuses unknown keys so that a misspelt key is an error
// rather than a silently ignored default.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    name: String,
    #[serde(default)]
    description: String,
    start: String,
    duration_s: u64,
    #[serde(default = "default_track_step_s")]
    track_step_s: u64,
    #[serde(default)]
    planning: PlanningFile,
    agreement: AgreementFile,
    parties: Vec<PartyFile>,
    aircraft: Vec<AircraftFile>,
    bases: Vec<BaseFile>,
    areas: Vec<AreaFile>,
    patterns: Vec<PatternFile>,
}

fn default_track_step_s() -> u64 {
    5
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct PlanningFile {
    lateral_margin_m: f64,
    vertical_margin_m: f64,
    time_margin_s: f64,
    departure_delay_max_s: u64,
    volume_duration_s: u64,
}

impl Default for PlanningFile {
    fn default() -> Self {
        PlanningFile {
            lateral_margin_m: 2_000.0,
            vertical_margin_m: 150.0,
            time_margin_s: 60.0,
            departure_delay_max_s: 180,
            volume_duration_s: 300,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AgreementFile {
    title: String,
    #[serde(default)]
    signed: Option<String>,
    horizontal_m: f64,
    vertical_m: f64,
    time_s: f64,
    #[serde(default)]
    frequencies: Vec<String>,
    #[serde(default)]
    ground_line: Option<GroundLineFile>,
    #[serde(default)]
    working_group: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroundLineFile {
    from: String,
    to: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PartyFile {
    id: String,
    name: String,
    role: Role,
}

/// What a party may do, as in `deconflict party add --role`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Party,
    Observer,
    Admin,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AircraftFile {
    id: String,
    name: String,
    cruise_speed_mps: f64,
    speed_min_mps: f64,
    speed_max_mps: f64,
    climb_rate_mps: f64,
    descent_rate_mps: f64,
    turn_rate_deg_s: f64,
    #[serde(default = "default_acceleration_mps2")]
    acceleration_mps2: f64,
}

fn default_acceleration_mps2() -> f64 {
    2.0
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BaseFile {
    id: String,
    name: String,
    lat: f64,
    lon: f64,
    elevation_m: f64,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
struct PointFile {
    lat: f64,
    lon: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CircleFile {
    lat: f64,
    lon: f64,
    radius_m: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AreaFile {
    id: String,
    name: String,
    #[serde(default)]
    circle: Option<CircleFile>,
    #[serde(default)]
    polygon: Option<Vec<PointFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PatternFile {
    id: String,
    party: String,
    aircraft: String,
    base: String,
    callsign: String,
    #[serde(default)]
    sorties_per_hour: Option<f64>,
    #[serde(default)]
    on_station: Option<Vec<String>>,
    cruise_altitude_m: [f64; 2],
    activity: ActivityFile,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum ActivityFile {
    Transit {
        area: String,
        altitude_m: [f64; 2],
    },
    Orbit {
        area: String,
        radius_m: f64,
        duration_s: f64,
        altitude_m: [f64; 2],
    },
    Racetrack {
        #[serde(default)]
        area: Option<String>,
        #[serde(default)]
        from: Option<PointFile>,
        #[serde(default)]
        to: Option<PointFile>,
        #[serde(default)]
        leg_m: Option<f64>,
        duration_s: f64,
        altitude_m: [f64; 2],
        #[serde(default = "default_side")]
        side: Side,
    },
    Strike {
        area: String,
        altitude_m: [f64; 2],
        loiter_radius_m: f64,
        loiter_s: f64,
    },
    Pass {
        from: PointFile,
        to: PointFile,
        altitude_m: [f64; 2],
        #[serde(default)]
        speed_mps: Option<f64>,
    },
}

fn default_side() -> Side {
    Side::Right
}

/// Which way a racetrack turns at its ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Left,
    Right,
}

// ---------------------------------------------------------------------------------------
// The validated model.

/// A validated scenario: every reference resolves, every number is in its range.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    /// The span's first second, Unix time.
    pub start_unix_s: i64,
    pub duration_s: u64,
    pub track_step_s: u64,
    pub planning: Planning,
    pub agreement: Agreement,
    pub parties: Vec<Party>,
    pub aircraft_types: Vec<AircraftType>,
    pub bases: Vec<Base>,
    pub areas: Vec<Area>,
    pub patterns: Vec<Pattern>,
}

/// How intents are drawn around the flights they plan.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Planning {
    /// Added on every side of the flown path.
    pub lateral_margin_m: f64,
    /// Added above and below the flown altitudes.
    pub vertical_margin_m: f64,
    /// Added before and after each volume's time window.
    pub time_margin_s: f64,
    /// A sortie leaves up to this much later than planned; windows allow for it.
    pub departure_delay_max_s: u64,
    /// The longest stretch of route one volume covers.
    pub volume_duration_s: u64,
}

/// The terms of the agreement between the parties.
#[derive(Debug, Clone, PartialEq)]
pub struct Agreement {
    pub title: String,
    pub signed: Option<String>,
    pub horizontal_m: f64,
    pub vertical_m: f64,
    pub time_s: f64,
    pub frequencies: Vec<String>,
    pub ground_line: Option<(String, String)>,
    pub working_group: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Party {
    pub id: String,
    pub name: String,
    pub role: Role,
}

/// An aircraft type's limits, SI inside.
#[derive(Debug, Clone, PartialEq)]
pub struct AircraftType {
    pub id: String,
    pub name: String,
    pub cruise_speed_mps: f64,
    pub speed_min_mps: f64,
    pub speed_max_mps: f64,
    pub climb_rate_mps: f64,
    pub descent_rate_mps: f64,
    pub turn_rate_rad_s: f64,
    pub acceleration_mps2: f64,
}

impl AircraftType {
    /// The radius of a turn at `speed_mps` and the type's turn rate.
    pub fn turn_radius_m(&self, speed_mps: f64) -> f64 {
        speed_mps / self.turn_rate_rad_s
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Base {
    pub id: String,
    pub name: String,
    pub position: LatLon,
    pub elevation_m: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AreaShape {
    Circle { center: LatLon, radius_m: f64 },
    Polygon(Vec<LatLon>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Area {
    pub id: String,
    pub name: String,
    pub shape: AreaShape,
}

/// How often a pattern's sorties are on station.
#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    /// A Poisson process of on-station times.
    Rate { sorties_per_hour: f64 },
    /// Exactly these on-station times (Unix seconds).
    At(Vec<i64>),
}

/// An altitude band a sortie's altitude is drawn from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AltitudeBand {
    pub lower_m: f64,
    pub upper_m: f64,
}

/// Where a racetrack lies.
#[derive(Debug, Clone, PartialEq)]
pub enum RacetrackPlacement {
    /// A fixed track from one point to another.
    Fixed { from: LatLon, to: LatLon },
    /// A track of this length at a random place and orientation inside an area.
    InArea { area: usize, leg_m: f64 },
}

/// What a sortie does once it reaches its area.
#[derive(Debug, Clone, PartialEq)]
pub enum Activity {
    /// Fly to a random point of the area and straight back.
    Transit { area: usize, altitude: AltitudeBand },
    /// Circle a random point of the area.
    Orbit {
        area: usize,
        radius_m: f64,
        duration_s: f64,
        altitude: AltitudeBand,
    },
    /// Fly a racetrack (two legs joined by turns), as tankers and surveillance do.
    Racetrack {
        placement: RacetrackPlacement,
        duration_s: f64,
        altitude: AltitudeBand,
        side: Side,
    },
    /// Ingress to a random target point of the area, loiter over it, egress.
    Strike {
        area: usize,
        altitude: AltitudeBand,
        loiter_radius_m: f64,
        loiter_s: f64,
    },
    /// Fly one straight line from `from` to `to` (at `speed_mps` when given, so that two
    /// parties can fly a line together), then home.
    Pass {
        from: LatLon,
        to: LatLon,
        altitude: AltitudeBand,
        speed_mps: Option<f64>,
    },
}

/// A kind of sortie a party flies, and how often.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    pub id: String,
    pub party: String,
    pub aircraft: usize,
    pub base: usize,
    pub callsign: String,
    pub schedule: Schedule,
    pub cruise_altitude: AltitudeBand,
    pub activity: Activity,
}

const DURATION_S_MAX: u64 = 7 * 24 * 3600;
const TRACK_STEP_S_MAX: u64 = 3600;
const SORTIES_PER_HOUR_MAX: f64 = 10_000.0;
const ALTITUDE_M_MAX: f64 = 25_000.0;
const AREA_RADIUS_M_MAX: f64 = 1_000_000.0;
const ACTIVITY_DURATION_S_MAX: f64 = 24.0 * 3600.0;

impl Scenario {
    /// Parses and validates a scenario.
    pub fn from_toml(text: &str) -> Result<Scenario, ScenarioError> {
        let file: ScenarioFile =
            toml::from_str(text).map_err(|error| ScenarioError::Syntax(error.to_string()))?;
        validate(file)
    }

    pub fn party(&self, id: &str) -> Option<&Party> {
        self.parties.iter().find(|party| party.id == id)
    }
}

fn validate(file: ScenarioFile) -> Result<Scenario, ScenarioError> {
    if file.name.trim().is_empty() {
        return Err(invalid("name", "must not be empty"));
    }
    let start_unix_s = parse_time("start", &file.start)?;
    if file.duration_s == 0 || file.duration_s > DURATION_S_MAX {
        return Err(invalid(
            "duration_s",
            format!("must be 1 to {DURATION_S_MAX} seconds"),
        ));
    }
    if file.track_step_s == 0 || file.track_step_s > TRACK_STEP_S_MAX {
        return Err(invalid(
            "track_step_s",
            format!("must be 1 to {TRACK_STEP_S_MAX} seconds"),
        ));
    }
    let planning = validate_planning(&file.planning)?;

    let mut parties = Vec::new();
    let mut party_ids = BTreeSet::new();
    for (index, party) in file.parties.into_iter().enumerate() {
        let place = format!("parties[{index}]");
        check_id(&place, &party.id, &mut party_ids)?;
        parties.push(Party {
            id: party.id,
            name: party.name,
            role: party.role,
        });
    }
    let agreement = validate_agreement(file.agreement, &parties)?;

    let mut aircraft_types = Vec::new();
    let mut type_ids = BTreeSet::new();
    for (index, aircraft) in file.aircraft.into_iter().enumerate() {
        let place = format!("aircraft[{index}] ({:?})", aircraft.id);
        check_id(&place, &aircraft.id, &mut type_ids)?;
        aircraft_types.push(validate_aircraft(&place, aircraft)?);
    }

    let mut bases = Vec::new();
    let mut base_ids = BTreeSet::new();
    for (index, base) in file.bases.into_iter().enumerate() {
        let place = format!("bases[{index}] ({:?})", base.id);
        check_id(&place, &base.id, &mut base_ids)?;
        let position = point(&place, base.lat, base.lon)?;
        if !base.elevation_m.is_finite() || !(-500.0..=9_000.0).contains(&base.elevation_m) {
            return Err(invalid(
                format!("{place}.elevation_m"),
                "must be -500 to 9000 metres",
            ));
        }
        bases.push(Base {
            id: base.id,
            name: base.name,
            position,
            elevation_m: base.elevation_m,
        });
    }

    let mut areas = Vec::new();
    let mut area_ids = BTreeSet::new();
    for (index, area) in file.areas.into_iter().enumerate() {
        let place = format!("areas[{index}] ({:?})", area.id);
        check_id(&place, &area.id, &mut area_ids)?;
        let shape = match (area.circle, area.polygon) {
            (Some(circle), None) => {
                let center = point(&format!("{place}.circle"), circle.lat, circle.lon)?;
                positive(&format!("{place}.circle.radius_m"), circle.radius_m)?;
                if circle.radius_m > AREA_RADIUS_M_MAX {
                    return Err(invalid(
                        format!("{place}.circle.radius_m"),
                        format!("must be at most {AREA_RADIUS_M_MAX} metres"),
                    ));
                }
                AreaShape::Circle {
                    center,
                    radius_m: circle.radius_m,
                }
            }
            (None, Some(vertices)) => {
                if vertices.len() < 3 {
                    return Err(invalid(
                        format!("{place}.polygon"),
                        "needs at least 3 vertices",
                    ));
                }
                let vertices = vertices
                    .iter()
                    .enumerate()
                    .map(|(vertex, p)| point(&format!("{place}.polygon[{vertex}]"), p.lat, p.lon))
                    .collect::<Result<Vec<_>, _>>()?;
                AreaShape::Polygon(vertices)
            }
            _ => return Err(invalid(place, "needs exactly one of `circle` or `polygon`")),
        };
        areas.push(Area {
            id: area.id,
            name: area.name,
            shape,
        });
    }

    let mut patterns = Vec::new();
    let mut pattern_ids = BTreeSet::new();
    let mut callsigns = BTreeSet::new();
    for (index, pattern) in file.patterns.into_iter().enumerate() {
        let place = format!("patterns[{index}] ({:?})", pattern.id);
        check_id(&place, &pattern.id, &mut pattern_ids)?;
        let context = Context {
            parties: &parties,
            aircraft_types: &aircraft_types,
            bases: &bases,
            areas: &areas,
        };
        let pattern = validate_pattern(&place, pattern, &context)?;
        if !callsigns.insert(pattern.callsign.clone()) {
            return Err(invalid(
                format!("{place}.callsign"),
                format!(
                    "{:?} is already another pattern's callsign",
                    pattern.callsign
                ),
            ));
        }
        patterns.push(pattern);
    }

    Ok(Scenario {
        name: file.name,
        description: file.description,
        start_unix_s,
        duration_s: file.duration_s,
        track_step_s: file.track_step_s,
        planning,
        agreement,
        parties,
        aircraft_types,
        bases,
        areas,
        patterns,
    })
}

struct Context<'a> {
    parties: &'a [Party],
    aircraft_types: &'a [AircraftType],
    bases: &'a [Base],
    areas: &'a [Area],
}

fn validate_planning(planning: &PlanningFile) -> Result<Planning, ScenarioError> {
    for (place, value, max) in [
        (
            "planning.lateral_margin_m",
            planning.lateral_margin_m,
            100_000.0,
        ),
        (
            "planning.vertical_margin_m",
            planning.vertical_margin_m,
            10_000.0,
        ),
        ("planning.time_margin_s", planning.time_margin_s, 86_400.0),
    ] {
        non_negative(place, value)?;
        if value > max {
            return Err(invalid(place, format!("must be at most {max}")));
        }
    }
    if planning.departure_delay_max_s > 86_400 {
        return Err(invalid(
            "planning.departure_delay_max_s",
            "must be at most 86400 seconds",
        ));
    }
    if !(10..=86_400).contains(&planning.volume_duration_s) {
        return Err(invalid(
            "planning.volume_duration_s",
            "must be 10 to 86400 seconds",
        ));
    }
    Ok(Planning {
        lateral_margin_m: planning.lateral_margin_m,
        vertical_margin_m: planning.vertical_margin_m,
        time_margin_s: planning.time_margin_s,
        departure_delay_max_s: planning.departure_delay_max_s,
        volume_duration_s: planning.volume_duration_s,
    })
}

fn validate_agreement(
    agreement: AgreementFile,
    parties: &[Party],
) -> Result<Agreement, ScenarioError> {
    positive("agreement.horizontal_m", agreement.horizontal_m)?;
    positive("agreement.vertical_m", agreement.vertical_m)?;
    non_negative("agreement.time_s", agreement.time_s)?;
    for (index, member) in agreement.working_group.iter().enumerate() {
        if !parties.iter().any(|party| &party.id == member) {
            return Err(invalid(
                format!("agreement.working_group[{index}]"),
                format!("{member:?} is not among [[parties]]"),
            ));
        }
    }
    Ok(Agreement {
        title: agreement.title,
        signed: agreement.signed,
        horizontal_m: agreement.horizontal_m,
        vertical_m: agreement.vertical_m,
        time_s: agreement.time_s,
        frequencies: agreement.frequencies,
        ground_line: agreement.ground_line.map(|line| (line.from, line.to)),
        working_group: agreement.working_group,
    })
}

fn validate_aircraft(place: &str, aircraft: AircraftFile) -> Result<AircraftType, ScenarioError> {
    for (field, value) in [
        ("cruise_speed_mps", aircraft.cruise_speed_mps),
        ("speed_min_mps", aircraft.speed_min_mps),
        ("speed_max_mps", aircraft.speed_max_mps),
        ("climb_rate_mps", aircraft.climb_rate_mps),
        ("descent_rate_mps", aircraft.descent_rate_mps),
        ("turn_rate_deg_s", aircraft.turn_rate_deg_s),
        ("acceleration_mps2", aircraft.acceleration_mps2),
    ] {
        positive(&format!("{place}.{field}"), value)?;
    }
    if !(aircraft.speed_min_mps <= aircraft.cruise_speed_mps
        && aircraft.cruise_speed_mps <= aircraft.speed_max_mps)
    {
        return Err(invalid(
            place,
            "speeds must satisfy speed_min_mps <= cruise_speed_mps <= speed_max_mps",
        ));
    }
    // The vertical speed is a component of the speed through the air, so it cannot
    // reach the slowest speed the type flies.
    for (field, rate) in [
        ("climb_rate_mps", aircraft.climb_rate_mps),
        ("descent_rate_mps", aircraft.descent_rate_mps),
    ] {
        if rate >= aircraft.speed_min_mps {
            return Err(invalid(
                format!("{place}.{field}"),
                format!(
                    "{rate} m/s must be below speed_min_mps ({} m/s): a vertical speed cannot \
                     reach the airspeed",
                    aircraft.speed_min_mps
                ),
            ));
        }
    }
    if aircraft.speed_max_mps > 1_000.0 {
        return Err(invalid(
            format!("{place}.speed_max_mps"),
            "must be at most 1000 m/s",
        ));
    }
    if aircraft.turn_rate_deg_s > 30.0 {
        return Err(invalid(
            format!("{place}.turn_rate_deg_s"),
            "must be at most 30 degrees per second",
        ));
    }
    Ok(AircraftType {
        id: aircraft.id,
        name: aircraft.name,
        cruise_speed_mps: aircraft.cruise_speed_mps,
        speed_min_mps: aircraft.speed_min_mps,
        speed_max_mps: aircraft.speed_max_mps,
        climb_rate_mps: aircraft.climb_rate_mps,
        descent_rate_mps: aircraft.descent_rate_mps,
        turn_rate_rad_s: aircraft.turn_rate_deg_s.to_radians(),
        acceleration_mps2: aircraft.acceleration_mps2,
    })
}

fn validate_pattern(
    place: &str,
    pattern: PatternFile,
    context: &Context<'_>,
) -> Result<Pattern, ScenarioError> {
    match context
        .parties
        .iter()
        .find(|party| party.id == pattern.party)
    {
        None => {
            return Err(invalid(
                format!("{place}.party"),
                format!("{:?} is not among [[parties]]", pattern.party),
            ))
        }
        Some(party) if party.role != Role::Party => {
            return Err(invalid(
                format!("{place}.party"),
                format!(
                    "{:?} is an observer or admin, which flies nothing",
                    party.id
                ),
            ))
        }
        Some(_) => {}
    }
    let aircraft = lookup(
        &format!("{place}.aircraft"),
        &pattern.aircraft,
        "[[aircraft]]",
        context.aircraft_types.iter().map(|a| a.id.as_str()),
    )?;
    let base = lookup(
        &format!("{place}.base"),
        &pattern.base,
        "[[bases]]",
        context.bases.iter().map(|b| b.id.as_str()),
    )?;
    let callsign_is_well_formed = !pattern.callsign.is_empty()
        && pattern.callsign.len() <= 16
        && pattern
            .callsign
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !callsign_is_well_formed {
        return Err(invalid(
            format!("{place}.callsign"),
            "must be 1 to 16 letters, digits or '-'",
        ));
    }
    let schedule = match (pattern.sorties_per_hour, pattern.on_station) {
        (Some(rate), None) => {
            if !rate.is_finite() || !(0.0..=SORTIES_PER_HOUR_MAX).contains(&rate) {
                return Err(invalid(
                    format!("{place}.sorties_per_hour"),
                    format!("must be 0 to {SORTIES_PER_HOUR_MAX}"),
                ));
            }
            Schedule::Rate {
                sorties_per_hour: rate,
            }
        }
        (None, Some(times)) => {
            let times = times
                .iter()
                .enumerate()
                .map(|(index, time)| parse_time(&format!("{place}.on_station[{index}]"), time))
                .collect::<Result<Vec<_>, _>>()?;
            Schedule::At(times)
        }
        _ => {
            return Err(invalid(
                place,
                "needs exactly one of `sorties_per_hour` or `on_station`",
            ))
        }
    };
    let base_elevation_m = context.bases[base].elevation_m;
    let cruise_altitude = band(
        &format!("{place}.cruise_altitude_m"),
        pattern.cruise_altitude_m,
        base_elevation_m,
    )?;
    let aircraft_type = &context.aircraft_types[aircraft];
    let turn_radius_m = aircraft_type.turn_radius_m(aircraft_type.speed_max_mps);
    let area = |field: &str, id: &str| {
        lookup(
            &format!("{place}.activity.{field}"),
            id,
            "[[areas]]",
            context.areas.iter().map(|a| a.id.as_str()),
        )
    };
    let activity_place = format!("{place}.activity");
    let circle_radius = |field: &str, radius_m: f64| -> Result<f64, ScenarioError> {
        let field_place = format!("{activity_place}.{field}");
        positive(&field_place, radius_m)?;
        // A circle tighter than the type can turn would be flown as a wider one, and the
        // intent drawn around it would not describe the flight.
        if radius_m < 1.2 * turn_radius_m {
            return Err(invalid(
                field_place,
                format!(
                    "{radius_m} m is tighter than a {} can fly: at least {:.0} m \
                     (1.2 times its turn radius at top speed)",
                    aircraft_type.id,
                    (1.2 * turn_radius_m).ceil()
                ),
            ));
        }
        Ok(radius_m)
    };
    let duration = |field: &str, duration_s: f64| -> Result<f64, ScenarioError> {
        let field_place = format!("{activity_place}.{field}");
        positive(&field_place, duration_s)?;
        if duration_s > ACTIVITY_DURATION_S_MAX {
            return Err(invalid(
                field_place,
                format!("must be at most {ACTIVITY_DURATION_S_MAX} seconds"),
            ));
        }
        Ok(duration_s)
    };
    let altitude = |field: &str, values: [f64; 2]| {
        band(
            &format!("{activity_place}.{field}"),
            values,
            base_elevation_m,
        )
    };
    let activity = match pattern.activity {
        ActivityFile::Transit {
            area: id,
            altitude_m,
        } => Activity::Transit {
            area: area("area", &id)?,
            altitude: altitude("altitude_m", altitude_m)?,
        },
        ActivityFile::Orbit {
            area: id,
            radius_m,
            duration_s,
            altitude_m,
        } => Activity::Orbit {
            area: area("area", &id)?,
            radius_m: circle_radius("radius_m", radius_m)?,
            duration_s: duration("duration_s", duration_s)?,
            altitude: altitude("altitude_m", altitude_m)?,
        },
        ActivityFile::Racetrack {
            area: area_id,
            from,
            to,
            leg_m,
            duration_s,
            altitude_m,
            side,
        } => {
            let placement = match (area_id, from, to, leg_m) {
                (None, Some(from), Some(to), None) => {
                    let from = point(&format!("{activity_place}.from"), from.lat, from.lon)?;
                    let to = point(&format!("{activity_place}.to"), to.lat, to.lon)?;
                    if crate::geo::haversine_distance_m(from, to) < 2.0 * turn_radius_m {
                        return Err(invalid(
                            activity_place,
                            "from and to must be at least two turn radii apart",
                        ));
                    }
                    RacetrackPlacement::Fixed { from, to }
                }
                (Some(id), None, None, Some(leg_m)) => {
                    positive(&format!("{activity_place}.leg_m"), leg_m)?;
                    if leg_m < 2.0 * turn_radius_m {
                        return Err(invalid(
                            format!("{activity_place}.leg_m"),
                            "must be at least two turn radii",
                        ));
                    }
                    RacetrackPlacement::InArea {
                        area: area("area", &id)?,
                        leg_m,
                    }
                }
                _ => {
                    return Err(invalid(
                        activity_place,
                        "a racetrack needs either `from` and `to`, or `area` and `leg_m`",
                    ))
                }
            };
            Activity::Racetrack {
                placement,
                duration_s: duration("duration_s", duration_s)?,
                altitude: altitude("altitude_m", altitude_m)?,
                side,
            }
        }
        ActivityFile::Strike {
            area: id,
            altitude_m,
            loiter_radius_m,
            loiter_s,
        } => Activity::Strike {
            area: area("area", &id)?,
            altitude: altitude("altitude_m", altitude_m)?,
            loiter_radius_m: circle_radius("loiter_radius_m", loiter_radius_m)?,
            loiter_s: duration("loiter_s", loiter_s)?,
        },
        ActivityFile::Pass {
            from,
            to,
            altitude_m,
            speed_mps,
        } => {
            if let Some(speed_mps) = speed_mps {
                let in_range = speed_mps.is_finite()
                    && (aircraft_type.speed_min_mps..=aircraft_type.speed_max_mps)
                        .contains(&speed_mps);
                if !in_range {
                    return Err(invalid(
                        format!("{activity_place}.speed_mps"),
                        format!(
                            "must be within the {}'s speeds, {} to {} m/s",
                            aircraft_type.id,
                            aircraft_type.speed_min_mps,
                            aircraft_type.speed_max_mps
                        ),
                    ));
                }
            }
            let from = point(&format!("{activity_place}.from"), from.lat, from.lon)?;
            let to = point(&format!("{activity_place}.to"), to.lat, to.lon)?;
            if crate::geo::haversine_distance_m(from, to) < 2.0 * turn_radius_m {
                return Err(invalid(
                    activity_place,
                    "from and to must be at least two turn radii apart",
                ));
            }
            Activity::Pass {
                from,
                to,
                altitude: altitude("altitude_m", altitude_m)?,
                speed_mps,
            }
        }
    };
    Ok(Pattern {
        id: pattern.id,
        party: pattern.party,
        aircraft,
        base,
        callsign: pattern.callsign,
        schedule,
        cruise_altitude,
        activity,
    })
}

fn check_id(place: &str, id: &str, seen: &mut BTreeSet<String>) -> Result<(), ScenarioError> {
    let well_formed = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if !well_formed {
        return Err(invalid(
            format!("{place}.id"),
            "must be 1 to 64 letters, digits, '-', '_' or '.'",
        ));
    }
    if !seen.insert(id.to_string()) {
        return Err(invalid(
            format!("{place}.id"),
            format!("{id:?} is used twice"),
        ));
    }
    Ok(())
}

fn lookup<'a>(
    place: &str,
    id: &str,
    table: &str,
    ids: impl Iterator<Item = &'a str>,
) -> Result<usize, ScenarioError> {
    let ids: Vec<&str> = ids.collect();
    ids.iter()
        .position(|candidate| *candidate == id)
        .ok_or_else(|| {
            invalid(
                place,
                format!("{id:?} is not among {table} (known: {})", ids.join(", ")),
            )
        })
}

fn point(place: &str, lat: f64, lon: f64) -> Result<LatLon, ScenarioError> {
    if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
        return Err(invalid(
            format!("{place}.lat"),
            format!("{lat} is not a latitude (-90 to 90 degrees)"),
        ));
    }
    if !lon.is_finite() || !(-180.0..=180.0).contains(&lon) {
        return Err(invalid(
            format!("{place}.lon"),
            format!("{lon} is not a longitude (-180 to 180 degrees)"),
        ));
    }
    Ok(LatLon::from_degrees(lat, lon))
}

fn band(
    place: &str,
    [lower_m, upper_m]: [f64; 2],
    floor_m: f64,
) -> Result<AltitudeBand, ScenarioError> {
    let in_range = |value: f64| value.is_finite() && value > floor_m && value <= ALTITUDE_M_MAX;
    if !(in_range(lower_m) && in_range(upper_m) && lower_m <= upper_m) {
        return Err(invalid(
            place,
            format!(
                "must be [lower, upper] metres with {floor_m} (the base's elevation) < lower \
                 <= upper <= {ALTITUDE_M_MAX}"
            ),
        ));
    }
    Ok(AltitudeBand { lower_m, upper_m })
}

fn positive(place: &str, value: f64) -> Result<(), ScenarioError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(invalid(place, format!("{value} must be a positive number")))
    }
}

fn non_negative(place: &str, value: f64) -> Result<(), ScenarioError> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(invalid(place, format!("{value} must be zero or more")))
    }
}

/// An RFC 3339 time of whole seconds as Unix seconds; errors name `place`.
pub fn parse_time(place: &str, text: &str) -> Result<i64, ScenarioError> {
    let parsed = chrono::DateTime::parse_from_rfc3339(text).map_err(|error| {
        invalid(
            place,
            format!("{text:?} is not an RFC 3339 time such as 2015-11-03T09:00:00Z ({error})"),
        )
    })?;
    if parsed.timestamp_subsec_nanos() != 0 {
        return Err(invalid(place, format!("{text:?} must be whole seconds")));
    }
    Ok(parsed.timestamp())
}
