//! Properties of verification over random logs: every honest export verifies for every
//! viewer, and any single changed byte is reported at the line that holds it.

use deconflict_audit::{
    export_view, verify, AuditChain, AuditEntry, AuditSigner, ChainHead, Visibility,
};
use proptest::prelude::*;
use serde_json::{json, Value};

const PARTIES: [&str; 3] = ["coalition", "russia", "observers"];

fn body_strategy() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (-1.0e6f64..1.0e6).prop_map(|x| json!(x)),
        "[a-zA-Z0-9 é✈\"\\\\\n]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,6}", inner, 0..4)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

fn visibility_strategy() -> impl Strategy<Value = Visibility> {
    prop_oneof![
        Just(Visibility::All),
        prop::sample::subsequence(PARTIES.to_vec(), 0..=3).prop_map(Visibility::parties),
    ]
}

#[derive(Debug, Clone)]
struct Row {
    kind: &'static str,
    actor: Option<&'static str>,
    visible_to: Visibility,
    body: Value,
}

fn rows_strategy() -> impl Strategy<Value = Vec<Row>> {
    let row = (
        prop::sample::select(vec![
            "intent.written",
            "conflict.opened",
            "alert.raised",
            "hotline.message",
        ]),
        prop::option::of(prop::sample::select(PARTIES.to_vec())),
        visibility_strategy(),
        body_strategy(),
    )
        .prop_map(|(kind, actor, visible_to, body)| Row {
            kind,
            actor,
            visible_to,
            body,
        });
    prop::collection::vec(row, 0..12)
}

fn export(rows: &[Row], viewer: &str, signer: &AuditSigner) -> String {
    let mut chain = AuditChain::new(signer.clone(), ChainHead::GENESIS);
    let log: Vec<_> = rows
        .iter()
        .enumerate()
        .map(|(index, row)| {
            chain
                .append(
                    format!("2015-11-03T10:{:02}:00Z", index % 60),
                    row.kind,
                    row.actor.map(String::from),
                    row.visible_to.clone(),
                    row.body.clone(),
                )
                .unwrap()
        })
        .collect();
    export_view(
        &log,
        ChainHead::GENESIS,
        viewer,
        |entry: &AuditEntry| entry.visible_to().allows(viewer),
        "2015-11-03T11:00:00Z",
        signer,
    )
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn an_honest_export_verifies_for_every_viewer(
        rows in rows_strategy(),
        viewer in prop::sample::select(PARTIES.to_vec()),
        seed in any::<[u8; 32]>(),
    ) {
        let signer = AuditSigner::from_seed(seed);
        let text = export(&rows, viewer, &signer);
        let summary = verify(text.as_bytes(), &signer.public_key()).unwrap();
        prop_assert_eq!(summary.entries, rows.len() as u64);
        let visible = rows.iter().filter(|row| row.visible_to.allows(viewer)).count() as u64;
        prop_assert_eq!(summary.visible, visible);
    }

    #[test]
    fn any_single_changed_byte_is_reported_at_its_line(
        rows in rows_strategy(),
        viewer in prop::sample::select(PARTIES.to_vec()),
        position in any::<prop::sample::Index>(),
        replacement in any::<u8>(),
    ) {
        let signer = AuditSigner::from_seed([5; 32]);
        let text = export(&rows, viewer, &signer);
        // Any byte but the final newline (removing that one changes nothing).
        let index = position.index(text.len() - 1);
        let original = text.as_bytes()[index];
        prop_assume!(original != replacement);
        let mut tampered = text.clone().into_bytes();
        tampered[index] = replacement;
        let line = text.as_bytes()[..index].iter().filter(|&&b| b == b'\n').count() + 1;
        let error = verify(&tampered, &signer.public_key())
            .expect_err("a changed byte must not verify");
        prop_assert_eq!(error.line, line, "{}", error);
    }

    #[test]
    fn arbitrary_input_is_refused_without_panicking(
        input in prop::collection::vec(any::<u8>(), 0..2000),
    ) {
        let signer = AuditSigner::from_seed([6; 32]);
        let outcome = verify(&input, &signer.public_key());
        prop_assert!(outcome.is_err());
    }

    #[test]
    fn the_withheld_and_visible_forms_of_an_entry_are_interchangeable_links(
        rows in rows_strategy(),
    ) {
        // Two views of the same log differ only where an entry is visible to one party and
        // withheld from the other; either form links the same chain.
        let signer = AuditSigner::from_seed([8; 32]);
        let coalition = export(&rows, "coalition", &signer);
        let russia = export(&rows, "russia", &signer);
        let coalition_lines: Vec<&str> = coalition.lines().collect();
        let russia_lines: Vec<&str> = russia.lines().collect();
        let differing = (0..coalition_lines.len() - 1).find(|&i| coalition_lines[i] != russia_lines[i]);
        prop_assume!(differing.is_some());
        let index = differing.unwrap();
        let mut mixed: Vec<&str> = coalition_lines.clone();
        mixed[index] = russia_lines[index];
        let text = mixed.join("\n") + "\n";
        let outcome = verify(text.as_bytes(), &signer.public_key());
        prop_assert!(outcome.is_ok(), "{:?}", outcome);
    }
}
