-- Live tracks and tactical alerts.

-- Each aircraft's reports, sampled (by default one point per 5 s), for replay and
-- investigation.
CREATE TABLE track_samples (
    party_id     TEXT NOT NULL,
    aircraft_id  TEXT NOT NULL,
    time_ms      BIGINT NOT NULL,
    lat          DOUBLE PRECISION NOT NULL,
    lon          DOUBLE PRECISION NOT NULL,
    alt_m        DOUBLE PRECISION NOT NULL,
    vn_mps       DOUBLE PRECISION NOT NULL,
    ve_mps       DOUBLE PRECISION NOT NULL,
    vu_mps       DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (party_id, aircraft_id, time_ms)
);
CREATE INDEX track_samples_time ON track_samples (time_ms);

-- Tactical alerts between two aircraft of different parties; `ref_a` and `ref_b` are the
-- opaque references under which each aircraft is shown to the other party.
CREATE TABLE alerts (
    id           TEXT PRIMARY KEY NOT NULL,
    party_a      TEXT NOT NULL,
    aircraft_a   TEXT NOT NULL,
    ref_a        TEXT NOT NULL,
    party_b      TEXT NOT NULL,
    aircraft_b   TEXT NOT NULL,
    ref_b        TEXT NOT NULL,
    level        TEXT NOT NULL,
    raised_ms    BIGINT NOT NULL,
    updated_ms   BIGINT NOT NULL,
    cleared_ms   BIGINT,
    details      TEXT NOT NULL
);
CREATE INDEX alerts_open ON alerts (cleared_ms);
CREATE INDEX alerts_party_a ON alerts (party_a, raised_ms);
CREATE INDEX alerts_party_b ON alerts (party_b, raised_ms);
