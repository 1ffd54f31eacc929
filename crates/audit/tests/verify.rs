//! Exports verified as a party would verify them offline: honest exports hold, and every
//! kind of alteration is reported at the line where it was made.

use deconflict_audit::{
    export_view, seal, seal_all, verify, AuditChain, AuditEntry, AuditSigner, ChainHead,
    SealedEntry, VerifyFailure, Visibility,
};
use serde_json::{json, Value};

const EXPORTED_AT: &str = "2015-11-03T12:00:00Z";

fn signer() -> AuditSigner {
    AuditSigner::from_seed([42; 32])
}

/// A log of eight entries, some visible to the coalition and some not.
fn mixed_log() -> Vec<SealedEntry> {
    let mut chain = AuditChain::new(signer(), ChainHead::GENESIS);
    let coalition_and_russia = Visibility::parties(["coalition", "russia"]);
    let rows: Vec<(&str, Option<&str>, Visibility, Value)> = vec![
        (
            "agreement.proposed",
            Some("coalition"),
            Visibility::All,
            json!({"version": 1}),
        ),
        (
            "agreement.in_force",
            None,
            Visibility::All,
            json!({"version": 1, "horizontal_m": 9260}),
        ),
        (
            "intent.written",
            Some("russia"),
            Visibility::parties(["russia"]),
            json!({"intent": "r-7", "volumes": 3}),
        ),
        (
            "intent.written",
            Some("coalition"),
            Visibility::parties(["coalition"]),
            json!({"intent": "c-1"}),
        ),
        (
            "conflict.opened",
            None,
            coalition_and_russia.clone(),
            json!({"conflict": "k-1", "time_gap_s": 0.0}),
        ),
        (
            "hotline.message",
            Some("coalition"),
            coalition_and_russia.clone(),
            json!({"text": "Say intentions, \"Hmeimim\" ✈"}),
        ),
        (
            "alert.raised",
            None,
            Visibility::parties(["russia", "observers"]),
            json!({"level": "warning", "dcpa_m": 7400.25}),
        ),
        (
            "hotline.ack",
            Some("russia"),
            coalition_and_russia,
            json!({"message": 6}),
        ),
    ];
    rows.into_iter()
        .enumerate()
        .map(|(index, (kind, actor, visible_to, body))| {
            let time = format!("2015-11-03T09:{:02}:00Z", index);
            chain
                .append(time, kind, actor.map(String::from), visible_to, body)
                .unwrap()
        })
        .collect()
}

fn export_for(viewer: &str, log: &[SealedEntry]) -> String {
    export_view(
        log,
        ChainHead::GENESIS,
        viewer,
        |entry: &AuditEntry| entry.visible_to().allows(viewer),
        EXPORTED_AT,
        &signer(),
    )
    .unwrap()
}

fn lines_of(export: &str) -> Vec<String> {
    export.lines().map(String::from).collect()
}

fn join(lines: &[String]) -> String {
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

fn failing_line(text: &str) -> (usize, VerifyFailure) {
    let error = verify(text.as_bytes(), &signer().public_key())
        .expect_err("the altered export must not verify");
    (error.line, error.reason)
}

#[test]
fn an_honest_export_of_a_mixed_log_verifies() {
    let log = mixed_log();
    let export = export_for("coalition", &log);
    let summary = verify(export.as_bytes(), &signer().public_key()).unwrap();
    assert_eq!(summary.viewer, "coalition");
    assert_eq!(summary.exported_at, EXPORTED_AT);
    assert!(summary.from_genesis());
    assert_eq!(summary.head, log.last().unwrap().head());
    assert_eq!(
        (summary.entries, summary.visible, summary.withheld),
        (8, 6, 2)
    );
}

#[test]
fn windows_line_ends_and_a_missing_final_newline_are_accepted() {
    let export = export_for("coalition", &mixed_log());
    let crlf = export.replace('\n', "\r\n");
    assert!(verify(crlf.as_bytes(), &signer().public_key()).is_ok());
    let unterminated = export.trim_end_matches('\n');
    assert!(verify(unterminated.as_bytes(), &signer().public_key()).is_ok());
}

#[test]
fn every_party_gets_its_own_view_of_the_same_chain() {
    let log = mixed_log();
    let coalition = export_for("coalition", &log);
    let russia = export_for("russia", &log);
    assert_ne!(coalition, russia);
    let russian_summary = verify(russia.as_bytes(), &signer().public_key()).unwrap();
    assert_eq!((russian_summary.visible, russian_summary.withheld), (7, 1));
    // The coalition's withheld line about the Russian intent shows nothing of it.
    let third = &lines_of(&coalition)[2];
    assert!(third.contains("\"withheld\":true"));
    assert!(!third.contains("r-7") && !third.contains("intent.written"));
}

#[test]
fn a_withheld_line_carries_only_the_hashes_the_chain_needs() {
    let line: Value =
        serde_json::from_str(&lines_of(&export_for("coalition", &mixed_log()))[2]).unwrap();
    let keys: Vec<&str> = line
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut keys = keys;
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "content_hash",
            "entry_hash",
            "prev_hash",
            "seq",
            "signature",
            "withheld"
        ]
    );
}

/// Every way of changing one JSON value: a different value of the same type.
fn altered(value: &Value) -> Value {
    match value {
        Value::Null => json!("someone"),
        Value::Bool(flag) => Value::Bool(!flag),
        Value::Number(number) => match number.as_u64() {
            Some(n) => json!(n + 1),
            None => json!(number.as_f64().unwrap() + 0.5),
        },
        Value::String(text) => {
            // Keep hex hex, so that the change reaches the hash and signature checks
            // rather than the field format check.
            let mut chars: Vec<char> = text.chars().collect();
            let last = chars.last_mut().expect("no empty strings in the log");
            *last = match *last {
                '0' => '1',
                'Z' => 'Z',
                c if c.is_ascii_hexdigit() => '0',
                _ => 'x',
            };
            let changed: String = chars.into_iter().collect();
            if changed == *text {
                // Times end in Z; change the seconds instead.
                Value::String(text.replacen(":00Z", ":01Z", 1))
            } else {
                Value::String(changed)
            }
        }
        Value::Array(items) => {
            let mut items = items.clone();
            items.push(json!("extra"));
            Value::Array(items)
        }
        Value::Object(map) => {
            let mut map = map.clone();
            map.insert("extra".into(), json!(1));
            Value::Object(map)
        }
    }
}

#[test]
fn changing_any_field_of_any_line_is_reported_at_that_line() {
    let lines = lines_of(&export_for("coalition", &mixed_log()));
    for (index, line) in lines.iter().enumerate() {
        let value: Value = serde_json::from_str(line).unwrap();
        for field in value.as_object().unwrap().keys() {
            let mut changed = value.clone();
            let new_value = altered(&changed[field]);
            assert_ne!(
                new_value,
                changed[field],
                "line {} field {field}",
                index + 1
            );
            changed[field] = new_value;
            let mut tampered = lines.clone();
            tampered[index] = deconflict_audit::canonical::to_canonical_string(&changed);
            let (line_number, reason) = failing_line(&join(&tampered));
            assert_eq!(
                line_number,
                index + 1,
                "changing {field} on line {} was reported as {reason}",
                index + 1
            );
        }
    }
}

#[test]
fn changing_a_nested_body_value_is_a_content_hash_mismatch() {
    let mut lines = lines_of(&export_for("coalition", &mixed_log()));
    lines[1] = lines[1].replace("\"horizontal_m\":9260", "\"horizontal_m\":926");
    assert_eq!(
        failing_line(&join(&lines)),
        (2, VerifyFailure::ContentHashMismatch)
    );
}

#[test]
fn deleting_any_line_is_reported_where_it_is_missing() {
    let lines = lines_of(&export_for("coalition", &mixed_log()));
    let trailer_index = lines.len() - 1;
    for deleted in 0..lines.len() {
        let mut remaining = lines.clone();
        remaining.remove(deleted);
        let (line_number, reason) = failing_line(&join(&remaining));
        if deleted == trailer_index {
            assert_eq!(
                (line_number, reason),
                (lines.len(), VerifyFailure::MissingTrailer)
            );
        } else if deleted == trailer_index - 1 {
            // The last entry line: only the trailer can tell.
            assert_eq!(line_number, deleted + 1);
            assert!(
                matches!(reason, VerifyFailure::TrailerMismatch { .. }),
                "{reason}"
            );
        } else {
            assert_eq!(
                line_number,
                deleted + 1,
                "deleting line {}: {reason}",
                deleted + 1
            );
            assert!(
                matches!(reason, VerifyFailure::SeqNotConsecutive { .. }),
                "{reason}"
            );
        }
    }
}

#[test]
fn cutting_off_the_end_with_its_trailer_is_reported() {
    let lines = lines_of(&export_for("coalition", &mixed_log()));
    let (line_number, reason) = failing_line(&join(&lines[..5]));
    assert_eq!((line_number, reason), (6, VerifyFailure::MissingTrailer));
}

#[test]
fn swapping_two_neighbouring_lines_is_reported_at_the_first_of_them() {
    let lines = lines_of(&export_for("coalition", &mixed_log()));
    for first in 0..lines.len() - 1 {
        let mut swapped = lines.clone();
        swapped.swap(first, first + 1);
        let (line_number, _) = failing_line(&join(&swapped));
        assert_eq!(
            line_number,
            first + 1,
            "swapping lines {} and {}",
            first + 1,
            first + 2
        );
    }
}

#[test]
fn inserting_a_repeated_or_forged_line_is_reported_at_the_inserted_line() {
    let lines = lines_of(&export_for("coalition", &mixed_log()));
    for position in 1..lines.len() {
        let mut repeated = lines.clone();
        repeated.insert(position, lines[position - 1].clone());
        let (line_number, _) = failing_line(&join(&repeated));
        assert_eq!(line_number, position + 1);
    }

    // A line sealed with another key in the right place of the chain.
    let log = mixed_log();
    let forger = AuditSigner::from_seed([7; 32]);
    let mut forged_chain = AuditChain::new(forger, log[3].head());
    let forged = forged_chain
        .append(
            "2015-11-03T09:04:30Z",
            "conflict.resolved",
            None,
            Visibility::All,
            json!({}),
        )
        .unwrap();
    let mut inserted = lines.clone();
    inserted.insert(
        4,
        deconflict_audit::canonical::to_canonical_string(&serde_json::to_value(&forged).unwrap()),
    );
    assert_eq!(
        failing_line(&join(&inserted)),
        (5, VerifyFailure::BadSignature)
    );
}

#[test]
fn a_wrong_public_key_fails_at_the_first_signed_line() {
    // Every entry signed (line 1), or only the last of each commit (line 3).
    for (log, first_signed_line) in [(mixed_log(), 1), (log_signed_per_commit(&signer()), 3)] {
        let export = export_for("coalition", &log);
        let error = verify(
            export.as_bytes(),
            &AuditSigner::from_seed([1; 32]).public_key(),
        )
        .unwrap_err();
        assert_eq!(
            (error.line, error.reason),
            (first_signed_line, VerifyFailure::KeyMatchesNothing)
        );
    }
}

/// A first entry that [`mixed_log`] does not hold: what a forger would put in its place.
fn forged_first_entry() -> AuditEntry {
    AuditEntry::new(
        1,
        "2015-11-03T09:00:00Z",
        "agreement.proposed",
        Some("coalition".into()),
        Visibility::All,
        json!({"version": 99}),
    )
    .unwrap()
}

#[test]
fn a_first_line_forged_with_another_key_is_a_bad_signature_not_a_wrong_key() {
    let log = mixed_log();
    let forged = seal(
        &ChainHead::GENESIS,
        forged_first_entry(),
        &AuditSigner::from_seed([7; 32]),
    )
    .unwrap();
    let mut lines = lines_of(&export_for("coalition", &log));
    lines[0] =
        deconflict_audit::canonical::to_canonical_string(&serde_json::to_value(&forged).unwrap());
    // The trailer still verifies with the right key, so line 1 is a forgery.
    assert_eq!(
        failing_line(&join(&lines)),
        (1, VerifyFailure::BadSignature)
    );
}

#[test]
fn a_withheld_line_with_a_changed_hash_is_reported_at_that_line() {
    let lines = lines_of(&export_for("coalition", &mixed_log()));
    let withheld: Value = serde_json::from_str(&lines[2]).unwrap();
    for (field, expected) in [
        ("content_hash", VerifyFailure::EntryHashMismatch),
        ("entry_hash", VerifyFailure::EntryHashMismatch),
        ("prev_hash", VerifyFailure::PrevHashMismatch),
    ] {
        let mut changed = withheld.clone();
        changed[field] = altered(&changed[field]);
        let mut tampered = lines.clone();
        tampered[2] = deconflict_audit::canonical::to_canonical_string(&changed);
        assert_eq!(failing_line(&join(&tampered)), (3, expected), "{field}");
    }
}

#[test]
fn revealing_a_withheld_line_as_a_made_up_entry_is_reported() {
    let lines = lines_of(&export_for("coalition", &mixed_log()));
    let mut withheld: Value = serde_json::from_str(&lines[2]).unwrap();
    let object = withheld.as_object_mut().unwrap();
    object.remove("withheld");
    for (key, value) in [
        ("actor", json!(null)),
        ("body", json!({"intent": "made-up"})),
        ("kind", json!("intent.written")),
        ("time", json!("2015-11-03T09:02:00Z")),
        ("visible_to", json!("all")),
    ] {
        object.insert(key.into(), value);
    }
    let mut tampered = lines.clone();
    tampered[2] = deconflict_audit::canonical::to_canonical_string(&withheld);
    assert_eq!(
        failing_line(&join(&tampered)),
        (3, VerifyFailure::ContentHashMismatch)
    );
}

#[test]
fn reformatted_lines_and_duplicate_keys_are_refused_as_not_canonical() {
    let lines = lines_of(&export_for("coalition", &mixed_log()));
    let mut spaced = lines.clone();
    spaced[0] = spaced[0].replacen(",", ", ", 1);
    assert_eq!(
        failing_line(&join(&spaced)),
        (1, VerifyFailure::NotCanonical)
    );

    let mut duplicated = lines.clone();
    duplicated[0] = duplicated[0].replacen("{", "{\"actor\":\"russia\",", 1);
    assert_eq!(
        failing_line(&join(&duplicated)),
        (1, VerifyFailure::NotCanonical)
    );

    let mut upper = lines.clone();
    let start = upper[0].find("\"entry_hash\":\"").unwrap() + 14;
    let upper_hash = upper[0][start..start + 64].to_uppercase();
    upper[0].replace_range(start..start + 64, &upper_hash);
    let (line_number, reason) = failing_line(&join(&upper));
    assert_eq!(line_number, 1);
    assert!(
        matches!(
            reason,
            VerifyFailure::BadField {
                field: "entry_hash",
                ..
            }
        ),
        "{reason}"
    );
}

#[test]
fn a_trailer_before_the_end_and_blank_lines_are_reported() {
    let lines = lines_of(&export_for("coalition", &mixed_log()));
    let mut after = lines.clone();
    after.push(lines[0].clone());
    assert_eq!(
        failing_line(&join(&after)),
        (lines.len(), VerifyFailure::TrailerNotLast)
    );
    let mut blank = lines.clone();
    blank.insert(3, String::new());
    assert_eq!(failing_line(&join(&blank)), (4, VerifyFailure::EmptyLine));
    assert_eq!(failing_line(""), (1, VerifyFailure::MissingTrailer));
}

#[test]
fn an_export_of_the_middle_of_the_chain_verifies_and_says_so() {
    let log = mixed_log();
    let export = export_view(
        &log[4..],
        log[3].head(),
        "russia",
        |entry: &AuditEntry| entry.visible_to().allows("russia"),
        EXPORTED_AT,
        &signer(),
    )
    .unwrap();
    let summary = verify(export.as_bytes(), &signer().public_key()).unwrap();
    assert!(!summary.from_genesis());
    assert_eq!(summary.from, log[3].head());
    assert_eq!(summary.entries, 4);
}

#[test]
fn an_export_of_an_empty_log_verifies() {
    let export = export_for("coalition", &[]);
    let summary = verify(export.as_bytes(), &signer().public_key()).unwrap();
    assert_eq!(summary.entries, 0);
    assert_eq!(summary.head, ChainHead::GENESIS);
}

#[test]
fn the_writer_refuses_entries_that_do_not_form_one_stretch_of_the_chain() {
    let log = mixed_log();
    let gap = export_view(
        [&log[0], &log[2]],
        ChainHead::GENESIS,
        "coalition",
        |_: &AuditEntry| true,
        EXPORTED_AT,
        &signer(),
    );
    assert!(gap.is_err());
    let wrong_start = export_view(
        &log[1..],
        ChainHead::GENESIS,
        "coalition",
        |_: &AuditEntry| true,
        EXPORTED_AT,
        &signer(),
    );
    assert!(wrong_start.is_err());
}

/// The entries of [`mixed_log`] as the service seals them: in commits of three, three and
/// two, each signed only on its last entry (lines 3, 6 and 8).
fn log_signed_per_commit(signer: &AuditSigner) -> Vec<SealedEntry> {
    let entries: Vec<AuditEntry> = mixed_log().into_iter().map(|sealed| sealed.entry).collect();
    let mut head = ChainHead::GENESIS;
    let mut log = Vec::new();
    for commit in entries.chunks(3) {
        let sealed = seal_all(&head, commit.to_vec(), signer).unwrap();
        head = sealed.last().unwrap().head();
        log.extend(sealed);
    }
    log
}

#[test]
fn an_export_signed_once_per_commit_verifies_and_any_change_is_reported_at_its_line() {
    let log = log_signed_per_commit(&signer());
    assert_eq!(
        log.iter()
            .map(|sealed| sealed.signature.is_some())
            .collect::<Vec<_>>(),
        [false, false, true, false, false, true, false, true]
    );
    // The same chain as entries signed one by one: only the signatures differ.
    assert_eq!(
        log.last().unwrap().head(),
        mixed_log().last().unwrap().head()
    );
    let export = export_for("coalition", &log);
    let summary = verify(export.as_bytes(), &signer().public_key()).unwrap();
    assert_eq!(
        (summary.entries, summary.visible, summary.withheld),
        (8, 6, 2)
    );
    let lines = lines_of(&export);
    assert!(!lines[0].contains("signature") && lines[2].contains("signature"));
    for (index, line) in lines.iter().enumerate() {
        let value: Value = serde_json::from_str(line).unwrap();
        for field in value.as_object().unwrap().keys() {
            let mut changed = value.clone();
            changed[field] = altered(&changed[field]);
            let mut tampered = lines.clone();
            tampered[index] = deconflict_audit::canonical::to_canonical_string(&changed);
            assert_eq!(
                failing_line(&join(&tampered)).0,
                index + 1,
                "changing {field} on line {}",
                index + 1
            );
        }
    }
}

#[test]
fn unsigned_lines_rewritten_with_their_hashes_are_caught_at_the_next_signature() {
    let honest = lines_of(&export_for("coalition", &log_signed_per_commit(&signer())));
    // A forger rewrites the first commit's lines, hashes and all, but cannot sign them
    // with the server's key: its last line carries another key's signature.
    let mut entries: Vec<AuditEntry> = mixed_log().into_iter().map(|s| s.entry).collect();
    entries[0] = forged_first_entry();
    let forged = seal_all(
        &ChainHead::GENESIS,
        entries[..3].to_vec(),
        &AuditSigner::from_seed([7; 32]),
    )
    .unwrap();
    // The forged commit exported as the coalition would see it, in place of the honest one.
    let forged_export = lines_of(&export_for("coalition", &forged));
    let mut lines = honest.clone();
    lines[..3].clone_from_slice(&forged_export[..3]);
    assert_eq!(
        failing_line(&join(&lines)),
        (3, VerifyFailure::BadSignature)
    );
    // Keeping the server's signature on line 3 does not help: it signs the old hash.
    let mut kept = lines.clone();
    kept[2] = {
        let mut value: Value = serde_json::from_str(&lines[2]).unwrap();
        let honest_third: Value = serde_json::from_str(&honest[2]).unwrap();
        value["signature"] = honest_third["signature"].clone();
        deconflict_audit::canonical::to_canonical_string(&value)
    };
    assert_eq!(failing_line(&join(&kept)), (3, VerifyFailure::BadSignature));
}
