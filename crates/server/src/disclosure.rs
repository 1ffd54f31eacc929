//! What each viewer sees of a conflict: the stored details computed at detection, cut down
//! to what the agreement's disclosure policy and the viewer's role allow.
//!
//! | viewer      | sees                                                                   |
//! |-------------|------------------------------------------------------------------------|
//! | a party in it | its own intent id and volume indexes; of the counterpart its party, an opaque reference, and the overlaps (region where the buffered footprints meet, altitude band, time window); under `volume` also the counterpart's conflicting volumes, under `full` its whole intent (id, state, volumes) |
//! | an observer | the two parties, the overlaps, times and acknowledgements; never an intent id or volume, whatever the policy |
//! | anyone else | nothing (the conflict does not exist for them: 404)                    |
//!
//! Architecture invariant: every conflict a client receives (HTTP answer or event) is
//! built here, from [`ConflictDetails`]; nothing else serializes a conflict.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

use deconflict_core::geometry::{LatLng, Volume4D};
use deconflict_core::strategic::{disclosure_region_of_conflict, IntentsConflict, Separation};
use deconflict_store::{ConflictRecord, IntentRecord, JsonDocument, PartyRecord, Role};

use crate::clock::{rfc3339_ms, rfc3339_s};
use crate::limits::CONFLICT_OVERLAPS_MAX;
use crate::terms::DisclosurePolicy;

/// Where two conflicting volumes' buffered extents overlap, as disclosed. Members in key
/// order, as every object the service writes: the stored text is the one a `Value` of the
/// same members writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Overlap {
    pub altitude_lower_m: f64,
    pub altitude_upper_m: f64,
    pub region: MultiPolygonJson,
    pub time_end: String,
    pub time_start: String,
}

/// A GeoJSON `MultiPolygon` of outer rings (positions `[lng, lat]`, each ring closed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MultiPolygonJson {
    pub coordinates: Vec<[Vec<[f64; 2]>; 1]>,
    #[serde(rename = "type")]
    pub kind: MultiPolygonKind,
}

/// The GeoJSON type of [`MultiPolygonJson`]: always `MultiPolygon`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MultiPolygonKind {
    MultiPolygon,
}

/// The closest conflicting pair of volumes and its gaps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Closest {
    pub horizontal_distance_m: f64,
    pub time_gap_s: f64,
    pub vertical_gap_m: f64,
}

/// What the server stores about a conflict (`ConflictRecord::details`). Volume indexes
/// are `(index in a's intent, index in b's intent)`. Members in key order (see
/// [`Overlap`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConflictDetails {
    pub closest: Closest,
    pub overlaps: Vec<Overlap>,
    /// The opaque references each side sees for the other's intent.
    pub reference_a: String,
    pub reference_b: String,
    pub volume_pairs: Vec<(usize, usize)>,
}

impl ConflictDetails {
    /// The details of a conflict between `a_volumes` and `b_volumes`, as found by the
    /// index (pairs oriented (a, b)). Overlaps are computed for the closest pair first,
    /// then the others in order, at most [`CONFLICT_OVERLAPS_MAX`].
    pub fn compute(
        a_volumes: &[Volume4D],
        b_volumes: &[Volume4D],
        conflict: &IntentsConflict,
        separation: &Separation,
        reference_a: String,
        reference_b: String,
    ) -> ConflictDetails {
        let mut pairs = vec![conflict.closest_pair];
        pairs.extend(
            conflict
                .volume_pairs
                .iter()
                .copied()
                .filter(|pair| *pair != conflict.closest_pair),
        );
        let overlaps = pairs
            .into_iter()
            .take(CONFLICT_OVERLAPS_MAX)
            .filter_map(|(a, b)| {
                // The pairs are the conflict's: found conflicting under these minima.
                let region = disclosure_region_of_conflict(
                    a_volumes.get(a)?,
                    b_volumes.get(b)?,
                    separation,
                )?;
                Some(Overlap {
                    altitude_lower_m: region.altitude.lower_m(),
                    altitude_upper_m: region.altitude.upper_m(),
                    region: multipolygon(&region.outlines),
                    time_end: rfc3339_s(region.window.end().unix_s()),
                    time_start: rfc3339_s(region.window.start().unix_s()),
                })
            })
            .collect();
        ConflictDetails {
            volume_pairs: conflict.volume_pairs.clone(),
            closest: Closest {
                horizontal_distance_m: conflict.closest.horizontal_distance_m,
                time_gap_s: conflict.closest.time_gap_s,
                vertical_gap_m: conflict.closest.vertical_gap_m,
            },
            overlaps,
            reference_a,
            reference_b,
        }
    }

    /// The details as the document a conflict record stores, written straight to text.
    pub fn to_document(&self) -> JsonDocument {
        self.to_document_with_overlaps().0
    }

    /// [`ConflictDetails::to_document`], and the overlaps' text it holds. The overlaps
    /// (most of the details: the regions' GeoJSON, thousands of numbers) are written
    /// once and copied into the document, so that a new conflict's audit entry and views
    /// use that text too instead of writing every coordinate again.
    pub fn to_document_with_overlaps(&self) -> (JsonDocument, Box<RawValue>) {
        /// The members of [`ConflictDetails`] in the same order, the overlaps as text.
        #[derive(Serialize)]
        struct Written<'a> {
            closest: &'a Closest,
            overlaps: &'a RawValue,
            reference_a: &'a str,
            reference_b: &'a str,
            volume_pairs: &'a [(usize, usize)],
        }
        // Only strings, numbers and sequences: nothing here can fail to write.
        let overlaps =
            serde_json::value::to_raw_value(&self.overlaps).expect("overlaps write as JSON");
        let document = JsonDocument::of(&Written {
            closest: &self.closest,
            overlaps: &overlaps,
            reference_a: &self.reference_a,
            reference_b: &self.reference_b,
            volume_pairs: &self.volume_pairs,
        })
        .expect("conflict details write as JSON");
        (document, overlaps)
    }

    /// The references `(reference_a, reference_b)` of stored details, read without
    /// decoding the rest.
    pub fn references_of(stored: &JsonDocument) -> Option<(String, String)> {
        let head: DetailsHead = serde_json::from_str(stored.text()).ok()?;
        Some((head.reference_a.into_owned(), head.reference_b.into_owned()))
    }
}

/// Decimal places kept of a region's coordinates: 1e-7 degrees is at most 1.1 cm, far
/// inside the metre of slack the region is buffered with (`BUFFER_SLACK_M`), so the
/// rounded region still contains the exact one. The 17 significant digits of a full
/// `f64` would almost double the text of every region, which a conflict stores and sends
/// several times (RFC 7946 §11.2 makes the same point).
const REGION_DECIMALS_SCALE: f64 = 1e7;

fn round_degrees(degrees: f64) -> f64 {
    (degrees * REGION_DECIMALS_SCALE).round() / REGION_DECIMALS_SCALE
}

/// GeoJSON MultiPolygon of outer rings (each closed by repeating its first position),
/// positions rounded to [`REGION_DECIMALS_SCALE`].
fn multipolygon(outlines: &[Vec<LatLng>]) -> MultiPolygonJson {
    let position = |p: &LatLng| [round_degrees(p.lng_deg()), round_degrees(p.lat_deg())];
    let coordinates = outlines
        .iter()
        .filter(|ring| !ring.is_empty())
        .map(|ring| {
            let mut positions: Vec<[f64; 2]> = Vec::with_capacity(ring.len() + 1);
            positions.extend(ring.iter().map(position));
            positions.push(position(&ring[0]));
            [positions]
        })
        .collect();
    MultiPolygonJson {
        coordinates,
        kind: MultiPolygonKind::MultiPolygon,
    }
}

/// The parts of stored [`ConflictDetails`] a view needs, borrowed from the stored text:
/// the overlaps (most of it: the regions' GeoJSON) as their text, to be written into an
/// answer or event unchanged. Read once for all the views of one conflict
/// ([`conflict_view_from`]): reading it passes over the whole text.
#[derive(Deserialize)]
pub struct DetailsHead<'a> {
    #[serde(borrow)]
    overlaps: Option<&'a RawValue>,
    volume_pairs: Vec<(usize, usize)>,
    #[serde(borrow)]
    reference_a: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    reference_b: std::borrow::Cow<'a, str>,
}

/// A conflict as one viewer may see it (the table above), serialized as the contract's
/// conflict object. It borrows the stored record: the overlaps (most of a conflict's text:
/// the regions' GeoJSON) are copied from the stored details' text into the answer or the
/// event as they are, never parsed into another document or printed again. Copying them
/// into a `Value` view for every viewer, then writing that out, was about 3 % of the
/// service's CPU under load.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum ConflictView<'a> {
    Observer(ObserverView<'a>),
    Party(PartyView<'a>),
}

/// What an observer sees. Fields in key order, as every object the service writes.
#[derive(Debug, Serialize)]
pub struct ObserverView<'a> {
    acknowledged_by: Vec<&'a str>,
    id: &'a str,
    opened_at: String,
    overlaps: &'a RawValue,
    parties: [&'a str; 2],
    resolved_at: Option<String>,
    status: &'static str,
    updated_at: String,
}

/// What a party in the conflict sees.
#[derive(Debug, Serialize)]
pub struct PartyView<'a> {
    acknowledged_at: Option<String>,
    counterpart: CounterpartView<'a>,
    counterpart_acknowledged: bool,
    disclosure: DisclosurePolicy,
    id: &'a str,
    intent: &'a str,
    opened_at: String,
    overlaps: &'a RawValue,
    resolved_at: Option<String>,
    status: &'static str,
    updated_at: String,
    volumes: Vec<usize>,
}

/// What a party sees of the other side: its party and an opaque reference, and more only
/// as the policy allows.
#[derive(Debug, Serialize)]
pub struct CounterpartView<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    intent: Option<String>,
    party: &'a str,
    reference: std::borrow::Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    volumes: Option<Value>,
}

/// The conflict as `viewer` may see it; `None` when the viewer may not see it at all.
/// `counterpart` is the counterpart's intent (needed only under the `volume` and `full`
/// policies; `None` when it is gone).
pub fn conflict_view<'a>(
    record: &'a ConflictRecord,
    viewer: &PartyRecord,
    policy: DisclosurePolicy,
    counterpart: Option<&IntentRecord>,
) -> Option<ConflictView<'a>> {
    conflict_view_from(
        &DetailsHead::of(record)?,
        record,
        viewer,
        policy,
        counterpart,
    )
}

impl<'a> DetailsHead<'a> {
    /// The head of the record's stored details; `None` when they are unreadable.
    pub fn of(record: &'a ConflictRecord) -> Option<DetailsHead<'a>> {
        // Only the pairs and references are read into Rust values; the overlaps are
        // borrowed.
        serde_json::from_str(record.details.text()).ok()
    }

    /// The head of `details` as just written, `overlaps` their text
    /// ([`ConflictDetails::to_document_with_overlaps`]): what [`DetailsHead::of`] reads
    /// back from the document, without reading it.
    pub fn written(details: &'a ConflictDetails, overlaps: &'a RawValue) -> DetailsHead<'a> {
        DetailsHead {
            overlaps: Some(overlaps),
            volume_pairs: details.volume_pairs.clone(),
            reference_a: std::borrow::Cow::Borrowed(&details.reference_a),
            reference_b: std::borrow::Cow::Borrowed(&details.reference_b),
        }
    }
}

/// [`conflict_view`], with the head of the record's details already read.
pub fn conflict_view_from<'a>(
    details: &DetailsHead<'a>,
    record: &'a ConflictRecord,
    viewer: &PartyRecord,
    policy: DisclosurePolicy,
    counterpart: Option<&IntentRecord>,
) -> Option<ConflictView<'a>> {
    let overlaps = details
        .overlaps
        .filter(|overlaps| overlaps.get().starts_with('['))?;
    let status = if record.resolved_ms.is_some() {
        "resolved"
    } else {
        "open"
    };
    match viewer.role {
        Role::Observer => {
            let acknowledged_by = [
                (record.acked_a_ms, &record.party_a),
                (record.acked_b_ms, &record.party_b),
            ]
            .into_iter()
            .filter(|(acked, _)| acked.is_some())
            .map(|(_, party)| party.as_str())
            .collect();
            Some(ConflictView::Observer(ObserverView {
                acknowledged_by,
                id: &record.id,
                opened_at: rfc3339_ms(record.opened_ms),
                overlaps,
                parties: [&record.party_a, &record.party_b],
                resolved_at: record.resolved_ms.map(rfc3339_ms),
                status,
                updated_at: rfc3339_ms(record.updated_ms),
            }))
        }
        Role::Admin => None,
        Role::Party => {
            let viewer_is_a = if record.party_a == viewer.id {
                true
            } else if record.party_b == viewer.id {
                false
            } else {
                return None;
            };
            let DetailsHead {
                volume_pairs,
                reference_a,
                reference_b,
                ..
            } = details;
            let (reference_a, reference_b) = (reference_a.clone(), reference_b.clone());
            let (own_intent, counterpart_party, reference, own_ack, their_ack) = if viewer_is_a {
                (
                    &record.intent_a,
                    &record.party_b,
                    reference_b,
                    record.acked_a_ms,
                    record.acked_b_ms,
                )
            } else {
                (
                    &record.intent_b,
                    &record.party_a,
                    reference_a,
                    record.acked_b_ms,
                    record.acked_a_ms,
                )
            };
            let own_side = |pair: &(usize, usize)| if viewer_is_a { pair.0 } else { pair.1 };
            let their_side = |pair: &(usize, usize)| if viewer_is_a { pair.1 } else { pair.0 };
            let mut own_volumes: Vec<usize> = volume_pairs.iter().map(own_side).collect();
            own_volumes.sort_unstable();
            own_volumes.dedup();
            let mut counterpart_view = CounterpartView {
                intent: None,
                party: counterpart_party,
                reference,
                state: None,
                volumes: None,
            };
            if let Some(intent) = counterpart.filter(|intent| &intent.party_id == counterpart_party)
            {
                match policy {
                    DisclosurePolicy::Minimal => {}
                    DisclosurePolicy::Volume => {
                        let mut theirs: Vec<usize> = volume_pairs.iter().map(their_side).collect();
                        theirs.sort_unstable();
                        theirs.dedup();
                        let volumes: Vec<Value> = theirs
                            .iter()
                            .filter_map(|&index| intent.volumes.get(index).cloned())
                            .collect();
                        counterpart_view.volumes = Some(Value::Array(volumes));
                    }
                    DisclosurePolicy::Full => {
                        counterpart_view.intent = Some(intent.id.clone());
                        counterpart_view.state = Some(intent.state.as_str());
                        counterpart_view.volumes = Some(Value::clone(&intent.volumes));
                    }
                }
            }
            Some(ConflictView::Party(PartyView {
                acknowledged_at: own_ack.map(rfc3339_ms),
                counterpart: counterpart_view,
                counterpart_acknowledged: their_ack.is_some(),
                disclosure: policy,
                id: &record.id,
                intent: own_intent,
                opened_at: rfc3339_ms(record.opened_ms),
                overlaps,
                resolved_at: record.resolved_ms.map(rfc3339_ms),
                status,
                updated_at: rfc3339_ms(record.updated_ms),
                volumes: own_volumes,
            }))
        }
    }
}

/// The counterpart's (party, intent id) of a conflict seen by `viewer_id`.
pub fn counterpart_of<'r>(
    record: &'r ConflictRecord,
    viewer_id: &str,
) -> Option<(&'r str, &'r str)> {
    if record.party_a == viewer_id {
        Some((&record.party_b, &record.intent_b))
    } else if record.party_b == viewer_id {
        Some((&record.party_a, &record.intent_a))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn region_positions_are_rounded_to_a_centimetre_and_rings_closed() {
        let ring = vec![
            LatLng::new(35.123_456_789_01, 38.987_654_321_09).unwrap(),
            LatLng::new(35.2, 38.3).unwrap(),
            LatLng::new(-0.000_000_049, 179.999_999_96).unwrap(),
        ];
        let region = serde_json::to_value(multipolygon(std::slice::from_ref(&ring))).unwrap();
        assert_eq!(region["type"], "MultiPolygon");
        let positions = region["coordinates"][0][0].as_array().unwrap();
        assert_eq!(positions.len(), 4, "closed by repeating the first position");
        assert_eq!(positions[0], json!([38.987_654_3, 35.123_456_8]));
        assert_eq!(positions[3], positions[0]);
        assert_eq!(positions[2], json!([180.0, -0.0]));
        for (position, vertex) in positions.iter().zip(&ring) {
            let (lng, lat) = (position[0].as_f64().unwrap(), position[1].as_f64().unwrap());
            // Within 0.5e-7 degrees (under 6 mm) of the exact vertex.
            assert!((lng - vertex.lng_deg()).abs() <= 0.5e-7 + 1e-12);
            assert!((lat - vertex.lat_deg()).abs() <= 0.5e-7 + 1e-12);
        }
    }

    /// Details written straight to text read exactly as the same members written through
    /// a `Value` (sorted keys), which is how the details stored before were written: a
    /// recomputed conflict whose details did not change compares equal to its stored text.
    #[test]
    fn details_are_written_as_a_value_of_the_same_members_writes_them() {
        let details = ConflictDetails {
            closest: Closest {
                horizontal_distance_m: 1234.5,
                time_gap_s: 0.0,
                vertical_gap_m: 12.25,
            },
            overlaps: vec![Overlap {
                altitude_lower_m: 100.0,
                altitude_upper_m: 350.5,
                region: multipolygon(&[vec![
                    LatLng::new(35.1, 38.2).unwrap(),
                    LatLng::new(35.2, 38.3).unwrap(),
                    LatLng::new(35.15, 38.1).unwrap(),
                ]]),
                time_end: "2026-12-05T10:00:00Z".into(),
                time_start: "2026-12-05T09:00:00Z".into(),
            }],
            reference_a: "ref_a".into(),
            reference_b: "ref_b".into(),
            volume_pairs: vec![(0, 1), (2, 0)],
        };
        let document = details.to_document();
        let through_value = serde_json::to_string(&serde_json::to_value(&details).unwrap());
        assert_eq!(document.text(), through_value.unwrap());
        let read_back: ConflictDetails = serde_json::from_str(document.text()).unwrap();
        assert_eq!(read_back, details);
        assert_eq!(
            ConflictDetails::references_of(&document),
            Some(("ref_a".to_owned(), "ref_b".to_owned()))
        );

        // Written with the overlaps' text apart: the same document, and the overlaps'
        // text is their canonical form.
        let (written, overlaps) = details.to_document_with_overlaps();
        assert_eq!(written.text(), document.text());
        assert_eq!(
            overlaps.get(),
            deconflict_audit::canonical::CanonicalJson::of(
                &serde_json::to_value(&details.overlaps).unwrap()
            )
            .as_str()
        );

        // The head made from them gives every viewer the view read back from the stored
        // document gives.
        let record = ConflictRecord {
            id: "cf_1".into(),
            party_a: "coalition".into(),
            intent_a: "c-1".into(),
            party_b: "russia".into(),
            intent_b: "r-1".into(),
            opened_ms: 1_700_000_000_000,
            updated_ms: 1_700_000_000_000,
            resolved_ms: None,
            acked_a_ms: None,
            acked_b_ms: None,
            details: std::sync::Arc::new(written),
        };
        let written_head = DetailsHead::written(&details, &overlaps);
        let stored_head = DetailsHead::of(&record).unwrap();
        for (viewer, role) in [
            ("coalition", Role::Party),
            ("russia", Role::Party),
            ("wg", Role::Observer),
        ] {
            let viewer = PartyRecord {
                id: viewer.into(),
                name: viewer.into(),
                role,
                token_sha256: String::new(),
                created_ms: 0,
            };
            let view = |head: &DetailsHead| {
                let view =
                    conflict_view_from(head, &record, &viewer, DisclosurePolicy::Minimal, None);
                serde_json::to_string(&view.unwrap()).unwrap()
            };
            assert_eq!(view(&written_head), view(&stored_head), "{}", viewer.id);
        }
    }

    fn keys(value: &Value) -> Vec<&str> {
        value
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect()
    }

    #[test]
    fn each_viewer_sees_exactly_the_members_its_role_and_the_policy_allow() {
        let record = ConflictRecord {
            id: "cf_1".into(),
            party_a: "coalition".into(),
            intent_a: "c-secret".into(),
            party_b: "russia".into(),
            intent_b: "r-secret".into(),
            opened_ms: 1_700_000_000_000,
            updated_ms: 1_700_000_000_000,
            resolved_ms: None,
            acked_a_ms: Some(1_700_000_001_000),
            acked_b_ms: None,
            details: JsonDocument::shared(json!({
                "volume_pairs": [[2, 0]],
                "closest": {"horizontal_distance_m": 1.0, "vertical_gap_m": 0.0, "time_gap_s": 0.0},
                "overlaps": [{"region": {"type": "MultiPolygon", "coordinates": []}}],
                "reference_a": "ref_a",
                "reference_b": "ref_b",
            })),
        };
        let party = |id: &str, role| PartyRecord {
            id: id.into(),
            name: id.into(),
            role,
            token_sha256: String::new(),
            created_ms: 0,
        };
        let counterpart = IntentRecord {
            party_id: "coalition".into(),
            id: "c-secret".into(),
            version: 3,
            state: deconflict_store::IntentState::Activated,
            volumes: JsonDocument::shared(json!([{"v": 0}, {"v": 1}, {"v": 2}])),
            created_ms: 0,
            updated_ms: 0,
        };
        let view = |viewer: &PartyRecord, policy| {
            conflict_view(&record, viewer, policy, Some(&counterpart))
                .map(|view| serde_json::to_value(view).unwrap())
        };
        let russia = party("russia", Role::Party);
        let party_members = [
            "acknowledged_at",
            "counterpart",
            "counterpart_acknowledged",
            "disclosure",
            "id",
            "intent",
            "opened_at",
            "overlaps",
            "resolved_at",
            "status",
            "updated_at",
            "volumes",
        ];

        let minimal = view(&russia, DisclosurePolicy::Minimal).unwrap();
        assert_eq!(keys(&minimal), party_members);
        assert_eq!(minimal["intent"], "r-secret");
        assert_eq!(minimal["volumes"], json!([0]));
        assert_eq!(
            minimal["counterpart"],
            json!({"party": "coalition", "reference": "ref_a"})
        );
        assert_eq!(minimal["counterpart_acknowledged"], true);
        assert_eq!(minimal["acknowledged_at"], Value::Null);
        assert_eq!(minimal["resolved_at"], Value::Null);
        assert_eq!(minimal["overlaps"], record.details["overlaps"]);

        let volume = view(&russia, DisclosurePolicy::Volume).unwrap();
        assert_eq!(
            volume["counterpart"],
            json!({"party": "coalition", "reference": "ref_a", "volumes": [{"v": 2}]})
        );
        let full = view(&russia, DisclosurePolicy::Full).unwrap();
        assert_eq!(
            full["counterpart"],
            json!({"intent": "c-secret", "party": "coalition", "reference": "ref_a",
                   "state": "activated", "volumes": [{"v": 0}, {"v": 1}, {"v": 2}]})
        );

        let observer = view(&party("wg", Role::Observer), DisclosurePolicy::Full).unwrap();
        assert_eq!(
            keys(&observer),
            [
                "acknowledged_by",
                "id",
                "opened_at",
                "overlaps",
                "parties",
                "resolved_at",
                "status",
                "updated_at"
            ]
        );
        assert_eq!(observer["acknowledged_by"], json!(["coalition"]));
        assert_eq!(observer["parties"], json!(["coalition", "russia"]));

        assert!(view(&party("root", Role::Admin), DisclosurePolicy::Full).is_none());
        assert!(view(&party("third", Role::Party), DisclosurePolicy::Full).is_none());
    }
}
