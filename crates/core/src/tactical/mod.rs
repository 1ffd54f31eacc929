//! Tactical conflict detection: every conflicting pair among live aircraft, each cycle, and
//! the lifecycle of the alerts those pairs raise.
//!
//! A cycle takes one state vector per aircraft (all at the same instant), predicts every
//! pair of aircraft of different parties along straight lines at constant velocity over the
//! lookahead, and reports each pair that loses separation under the chosen criterion, with
//! its time to loss of separation, closest point of approach and alert level. The
//! [`AlertTracker`] turns the pairs of successive cycles into raised, updated and cleared
//! alerts.
//!
//! # One cycle, as a live service runs it
//!
//! ```
//! use deconflict_core::tactical::{
//!     AircraftKey, AircraftState, AlertChange, AlertSettings, AlertTracker, DetectionParams,
//!     PairKey, PartyIndex, SequentialAlertIds, TacticalDetector,
//! };
//!
//! // Kept for the life of the service: buffers and alerts carry over between cycles.
//! let mut detector = TacticalDetector::new(DetectionParams::default());
//! let mut tracker = AlertTracker::new(AlertSettings::default(), SequentialAlertIds::default());
//!
//! // Each cycle: the latest report of every aircraft, brought to the cycle time.
//! let now_s = 1000.0;
//! let reports = [
//!     (AircraftKey::new("red", "r1"), 998.5, (45.0, 9.9, 9000.0, 0.0, 200.0, 0.0)),
//!     (AircraftKey::new("blue", "b7"), 999.0, (45.0, 10.1, 9100.0, 0.0, -200.0, 0.0)),
//! ];
//! let parties = ["red", "blue"];
//! let mut keys = Vec::new();
//! let mut states = Vec::new();
//! for (key, time_s, (lat, lon, alt, vn, ve, vu)) in reports {
//!     let party = PartyIndex(parties.iter().position(|p| *p == key.party).unwrap() as u32);
//!     let state = AircraftState::new(party, lat, lon, alt, vn, ve, vu).unwrap();
//!     states.push(state.extrapolated(now_s - time_s).unwrap());
//!     keys.push(key);
//! }
//! let pairs = detector.detect(&states);
//! let changes = tracker
//!     .cycle(
//!         now_s,
//!         pairs.iter().map(|pair| {
//!             let key = PairKey::new(keys[pair.first as usize].clone(), keys[pair.second as usize].clone());
//!             (key, pair.assessment)
//!         }),
//!     )
//!     .unwrap();
//! assert!(matches!(&changes[..], [AlertChange::Raised(alert)] if alert.id.0 == 1));
//! ```
//!
//! # Symbols
//!
//! | symbol | meaning | unit | source |
//! |---|---|---|---|
//! | `T` (`lookahead_s`) | prediction horizon; a pair is judged over t in [0, T] | s | contract |
//! | `H` (`horizontal_m`) | cylinder: horizontal separation minimum | m | contract (default 9260 m, 5 NM) |
//! | `V` (`vertical_m`) | cylinder: vertical separation minimum | m | contract (default 304.8 m, 1,000 ft) |
//! | `DTHR` (`dthr_m`) | well clear: horizontal distance threshold | m | RTCA DO-365 (Phase I: 0.66 NM) |
//! | `ZTHR` (`zthr_m`) | well clear: vertical distance threshold | m | RTCA DO-365 (Phase I: 450 ft) |
//! | `TTHR` (`tthr_s`) | well clear: modified tau threshold | s | RTCA DO-365 (Phase I: 35 s) |
//! | `TCOA` (`tcoa_s`) | well clear: time to co-altitude threshold | s | RTCA DO-365 (Phase I: 0 s) |
//! | `s`, `v` | horizontal relative position and velocity of the second aircraft with respect to the first, in the pair's common local plane | m, m/s | this module |
//! | `sz`, `vz` | relative altitude and vertical speed | m, m/s | this module |
//! | `tcpa` | time of closest horizontal approach, `-s·v/|v|²`, clamped to [0, T] (0 when `v` = 0) | s | this module |
//! | `dcpa` | horizontal distance at `tcpa` | m | this module |
//! | `tau_mod` | modified tau, `(DTHR² - |s|²) / (s·v)` when closing (`s·v < 0`) | s | Muñoz et al., DAIDALUS `WCV_TAUMOD` |
//! | `t_coa` | time to co-altitude, `-sz/vz` | s | DO-365, DAIDALUS `WCV_TCOA` |
//! | time to LoS | first t in [0, T] at which the criterion is violated (its infimum; 0 when already violated) | s | contract |
//!
//! # Criteria and inequalities
//!
//! * `cylinder`: violated at t when `|s(t)| < H` and `|sz(t)| < V`. Strict, as the contract
//!   says: separation holds while a distance is at least its minimum.
//! * `wellclear` (DO-365 `WCV_TAUMOD` with `WCV_TCOA`): violated at t when the horizontal
//!   test and the vertical test both hold for the relative state at t:
//!   - horizontal: `|s| < DTHR`, or closing (`s·v < 0`) with `dcpa < DTHR` and
//!     `0 <= tau_mod <= TTHR` (`dcpa` here is the unclamped miss distance of the relative
//!     line, as DO-365's HMD);
//!   - vertical: `|sz| < ZTHR`, or `vz != 0`, `sz·vz <= 0` and `t_coa <= TCOA`.
//!
//!   The distance thresholds are strict, like the cylinder's, so that one convention holds
//!   for every distance minimum in the contract; the time thresholds are inclusive, as in
//!   DO-365 and DAIDALUS. DAIDALUS is inclusive on the distances too: the two differ only on
//!   the boundary itself (a pair exactly at `DTHR`), a set of measure zero.
//!
//! Both criteria give, over t, one interval of violation per axis (see [`assess`]); the
//! pair conflicts when the intersection of the two with [0, T] is not empty.
//!
//! # The common local frame
//!
//! Each pair is predicted in the plane tangent to the WGS84 ellipsoid at the normal halfway
//! between the two aircraft's normals (an orthographic azimuthal projection centred between
//! them). Positions are taken on the ellipsoid surface (so altitude does not inflate
//! horizontal distances) and projected onto that plane; each aircraft's horizontal velocity
//! is rotated, by the rotation that carries its own vertical onto the pair's, into the
//! plane. Nothing depends on latitude or longitude once the state is prepared, so the poles
//! and the antimeridian need no special case. See [`frame`].
//!
//! # Broad phase
//!
//! See [`broad`]: a hashed grid over Earth-centred coordinates bounds each aircraft's reach
//! over the lookahead, and a sweep over altitude bands inside each pair of neighbouring
//! cells leaves only plausible candidates for the exact test. [`detect_exhaustive`] checks
//! every pair and is the reference the grid is tested against.

pub mod alerts;
pub mod assess;
pub mod broad;
pub mod frame;
pub mod params;
pub mod state;

pub use alerts::{
    AircraftKey, Alert, AlertChange, AlertId, AlertIdSource, AlertSettings, AlertTracker,
    AlertTrackerError, PairKey, SequentialAlertIds,
};
pub use assess::{assess_pair, AlertLevel, PairAssessment};
pub use broad::{
    detect_exhaustive, detect_exhaustive_with_progress, ConflictingPair, TacticalDetector,
    AIRCRAFT_PER_CYCLE_MAX,
};
pub use params::{
    AlertThresholds, CylinderMinima, DetectionParams, InvalidParameter, TacticalCriterion,
    WellClearThresholds,
};
pub use state::{AircraftState, InvalidState, PartyIndex};
