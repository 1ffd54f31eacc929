//! The recorded-traffic readers on real sources: a gzipped recording recognised by its
//! magic bytes, and a live SBS feed over TCP on loopback written by a listener in the test.

use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};

use deconflict_sim::replay::{
    decompressed, track_rows, OpenSkyReader, PartyMap, PartyRule, SbsReader, SkipReason,
    StateSource,
};

const OPENSKY: &str = r#"[
  {"timestamp": 1700000000000, "icao24": "4ca7b5", "callsign": "RYR123",
   "latitude": 48.0, "longitude": 10.0, "altitude": 35000, "groundspeed": 450,
   "track": 90, "vertical_rate": 0},
  {"timestamp": 1700000000000, "icao24": "400a1b", "callsign": "EZY45",
   "latitude": 48.0, "longitude": 10.5, "altitude": null, "groundspeed": 450,
   "track": 270, "vertical_rate": 0},
  {"timestamp": 1700000001000, "icao24": "400a1b", "callsign": "EZY45",
   "latitude": 48.0, "longitude": 10.5, "altitude": 35000, "groundspeed": 450,
   "track": 270, "vertical_rate": 0}
]"#;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn a_gzipped_opensky_recording_reads_like_the_plain_one() {
    let plain: Vec<_> = OpenSkyReader::new(decompressed(OPENSKY.as_bytes()).unwrap())
        .unwrap()
        .collect();
    let compressed = gzip(OPENSKY.as_bytes());
    let reader = OpenSkyReader::new(decompressed(&compressed[..]).unwrap()).unwrap();
    assert_eq!(reader.summary().skipped_for(SkipReason::MissingPosition), 1);
    let unpacked: Vec<_> = reader.collect();
    assert_eq!(plain.len(), 2);
    assert_eq!(plain, unpacked);

    let map = PartyMap::parse("[prefixes]\nRYR = \"ryanair\"\nEZY = \"easyjet\"\n").unwrap();
    let rows = track_rows(unpacked, &PartyRule::CallsignPrefix(map));
    let parties: Vec<(&str, Option<&str>)> = rows
        .iter()
        .map(|r| (r.id.as_str(), r.party.as_deref()))
        .collect();
    assert_eq!(
        parties,
        [("RYR123", Some("ryanair")), ("EZY45", Some("easyjet"))]
    );
}

fn sbs(kind: u8, hex: &str, time: &str, rest: [&str; 7]) -> String {
    let [callsign, alt, gs, track, lat, lon, vr] = rest;
    format!(
        "MSG,{kind},1,1,{hex},1,2023/11/14,{time},2023/11/14,{time},{callsign},{alt},{gs},{track},{lat},{lon},{vr},,,,,0\r\n"
    )
}

#[test]
fn an_sbs_feed_over_tcp_merges_identification_velocity_and_position_per_aircraft() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let feeder = std::thread::spawn(move || {
        let (mut socket, _) = listener.accept().unwrap();
        // Two aircraft interleaved, as a receiver hears them, in small writes.
        let lines = [
            sbs(
                1,
                "4CA7B5",
                "22:13:20.000",
                ["RYR123", "", "", "", "", "", ""],
            ),
            sbs(
                4,
                "4CA7B5",
                "22:13:20.100",
                ["", "", "450", "90", "", "", "0"],
            ),
            sbs(
                4,
                "400A1B",
                "22:13:20.150",
                ["", "", "300", "180", "", "", "1000"],
            ),
            sbs(
                3,
                "400A1B",
                "22:13:20.300",
                ["", "12000", "", "", "48.1", "10.2", ""],
            ),
            "garbage\r\n".to_string(),
            sbs(
                3,
                "4CA7B5",
                "22:13:20.400",
                ["", "35000", "", "", "48.0", "10.0", ""],
            ),
            sbs(
                1,
                "400A1B",
                "22:13:20.500",
                ["EZY45", "", "", "", "", "", ""],
            ),
            sbs(
                3,
                "400A1B",
                "22:13:20.800",
                ["", "12100", "", "", "48.09", "10.2", ""],
            ),
        ];
        for line in lines {
            socket.write_all(line.as_bytes()).unwrap();
            socket.flush().unwrap();
        }
    });
    let stream = TcpStream::connect(address).unwrap();
    let mut reader = SbsReader::new(decompressed(BufReader::new(stream)).unwrap());
    let states: Vec<_> = reader.by_ref().collect();
    feeder.join().unwrap();

    let seen: Vec<(&str, Option<&str>, u64)> = states
        .iter()
        .map(|s| (s.id.as_str(), s.icao24.as_deref(), s.place))
        .collect();
    assert_eq!(
        seen,
        [
            ("400a1b", Some("400a1b"), 4),
            ("RYR123", Some("4ca7b5"), 6),
            ("EZY45", Some("400a1b"), 8),
        ],
        "the address names an aircraft until its identification arrives"
    );
    let southbound = &states[0].state;
    assert!((southbound.vn_mps() + 300.0 * 1852.0 / 3600.0).abs() < 1e-9);
    assert!((southbound.vu_mps() - 5.08).abs() < 1e-12);
    assert!((southbound.alt_m() - 3657.6).abs() < 1e-9);
    let summary = reader.summary();
    assert_eq!((summary.records_read, summary.states_produced), (8, 3));
    assert_eq!(summary.records_merged, 4);
    assert_eq!(summary.skipped_for(SkipReason::Malformed), 1);
    assert!(reader.io_error().is_none());
}
