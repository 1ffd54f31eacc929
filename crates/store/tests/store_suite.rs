//! The storage test suite, run against both backends: every test function takes a
//! `&dyn Store` and the `backend_suite!` macro stamps it out once for SQLite (a fresh file)
//! and once for PostgreSQL (a fresh schema in `DECONFLICT_TEST_POSTGRES_URL`, skipped with
//! a message when that is unset, except under `CI=true`, where a missing server fails).

use deconflict_store::{
    AgreementAnswer, AgreementRecord, AgreementStatus, AlertRecord, AuditRecord, Batch,
    ConflictRecord, EventRecord, HotlineMessageRecord, IntentRecord, IntentState, JsonDocument,
    Mutation, PartyRecord, RecheckRecord, Role, Store, TrackSampleRecord,
};
use serde_json::json;

fn party(id: &str, role: Role) -> PartyRecord {
    PartyRecord {
        id: id.into(),
        name: format!("{id} operations"),
        role,
        token_sha256: format!("{:0>64}", id),
        created_ms: 1_000,
    }
}

fn intent(party_id: &str, id: &str, version: i64) -> IntentRecord {
    IntentRecord {
        party_id: party_id.into(),
        id: id.into(),
        version,
        state: IntentState::Accepted,
        volumes: JsonDocument::shared(json!([{"marker": format!("{party_id}/{id}/{version}")}])),
        created_ms: 10,
        updated_ms: 10 + version,
    }
}

fn conflict(id: &str, a: &str, b: &str) -> ConflictRecord {
    ConflictRecord {
        id: id.into(),
        party_a: a.into(),
        intent_a: format!("{a}-intent"),
        party_b: b.into(),
        intent_b: format!("{b}-intent"),
        opened_ms: 100,
        updated_ms: 100,
        resolved_ms: None,
        acked_a_ms: None,
        acked_b_ms: None,
        details: JsonDocument::shared(json!({"overlaps": []})),
    }
}

fn message(
    id: &str,
    thread: &str,
    from: Option<&str>,
    to: &str,
    sent_ms: i64,
) -> HotlineMessageRecord {
    HotlineMessageRecord {
        id: id.into(),
        thread: thread.into(),
        from_party: from.map(str::to_owned),
        to_party: to.into(),
        text: format!("{id}: call on 243.0 MHz, «ёж» ✈"),
        about: Some(json!({"conflict": "cf_1"})),
        reply_to: None,
        sent_ms,
        answer_within_s: 300.5,
        answer_by_ms: sent_ms + 300_500,
        acked_ms: None,
        acked_by: None,
        escalated_ms: None,
    }
}

fn batch(mutations: Vec<Mutation>) -> Batch {
    Batch { mutations }
}

async fn parties_are_found_by_id_and_token_and_duplicates_are_refused(store: &dyn Store) {
    store
        .insert_party(&party("coalition", Role::Party))
        .await
        .unwrap();
    store
        .apply(batch(vec![Mutation::InsertParty(party(
            "russia",
            Role::Party,
        ))]))
        .await
        .unwrap();
    assert_eq!(
        store.party("coalition").await.unwrap(),
        Some(party("coalition", Role::Party))
    );
    let by_token = store
        .party_by_token_sha256(&party("russia", Role::Party).token_sha256)
        .await
        .unwrap();
    assert_eq!(by_token.map(|p| p.id), Some("russia".to_string()));
    assert_eq!(store.party("nobody").await.unwrap(), None);
    let ids: Vec<String> = store
        .parties()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(ids, ["coalition", "russia"]);
    let duplicate = store
        .insert_party(&party("coalition", Role::Admin))
        .await
        .unwrap_err();
    assert!(duplicate.is_unique_violation(), "{duplicate}");
}

async fn unaudited_ids(store: &dyn Store) -> Vec<String> {
    let parties = store.unaudited_parties().await.unwrap();
    parties.into_iter().map(|p| p.id).collect()
}

async fn parties_added_directly_wait_for_their_audit_entry(store: &dyn Store) {
    // Added by the service (in a batch, with its audit entry): audited already.
    store
        .apply(batch(vec![Mutation::InsertParty(party(
            "russia",
            Role::Party,
        ))]))
        .await
        .unwrap();
    // Added directly (`party add`): waiting, oldest first.
    let mut newer = party("wg", Role::Observer);
    newer.created_ms = 2_000;
    store.insert_party(&newer).await.unwrap();
    store
        .insert_party(&party("coalition", Role::Party))
        .await
        .unwrap();
    let waiting = unaudited_ids(store).await;
    assert_eq!(waiting, ["coalition", "wg"]);
    store
        .apply(batch(vec![Mutation::MarkPartyAudited("coalition".into())]))
        .await
        .unwrap();
    let waiting = unaudited_ids(store).await;
    assert_eq!(waiting, ["wg"]);
    assert_eq!(store.parties().await.unwrap().len(), 3);
}

async fn an_applied_batch_is_read_back_whole(store: &dyn Store) {
    store
        .apply(batch(vec![
            Mutation::PutIntent(intent("a", "i1", 1)),
            Mutation::PutIntent(intent("a", "i2", 1)),
            Mutation::PutIntent(intent("b", "i1", 1)),
            Mutation::PutConflict(conflict("c1", "a", "b")),
            Mutation::AppendEvent(EventRecord {
                seq: 1,
                party_id: "a".into(),
                kind: "conflict.opened".into(),
                data: json!({"id": "c1"}).into(),
                time_ms: 100,
            }),
            Mutation::AppendEvent(EventRecord {
                seq: 2,
                party_id: "b".into(),
                kind: "conflict.opened".into(),
                data: json!({"id": "c1"}).into(),
                time_ms: 100,
            }),
            Mutation::AppendAudit(AuditRecord {
                seq: 1,
                sealed_json: r#"{"seq":1}"#.into(),
            }),
        ]))
        .await
        .unwrap();
    assert_eq!(
        store.intent("a", "i1").await.unwrap(),
        Some(intent("a", "i1", 1))
    );
    assert_eq!(
        store.intent("b", "i1").await.unwrap(),
        Some(intent("b", "i1", 1))
    );
    assert_eq!(
        store.intent("b", "i2").await.unwrap(),
        None,
        "intent ids are per party"
    );
    assert_eq!(store.intent_count().await.unwrap(), 3);
    assert_eq!(
        store.conflict("c1").await.unwrap(),
        Some(conflict("c1", "a", "b"))
    );
    assert_eq!(store.events_after("a", 0, 10).await.unwrap().len(), 1);
    assert_eq!(store.last_event_seq().await.unwrap(), 2);
    assert_eq!(store.last_audit().await.unwrap().map(|r| r.seq), Some(1));
}

async fn the_last_write_of_a_row_in_a_batch_wins(store: &dyn Store) {
    store
        .apply(batch(vec![
            Mutation::PutIntent(intent("a", "kept", 1)),
            Mutation::PutIntent(intent("a", "kept", 2)),
            Mutation::PutIntent(intent("a", "gone", 1)),
            Mutation::DeleteIntent {
                party_id: "a".into(),
                id: "gone".into(),
            },
            Mutation::DeleteIntent {
                party_id: "a".into(),
                id: "back".into(),
            },
            Mutation::PutIntent(intent("a", "back", 1)),
        ]))
        .await
        .unwrap();
    assert_eq!(
        store.intent("a", "kept").await.unwrap().map(|i| i.version),
        Some(2)
    );
    assert_eq!(store.intent("a", "gone").await.unwrap(), None);
    assert_eq!(
        store.intent("a", "back").await.unwrap().map(|i| i.version),
        Some(1)
    );

    let mut resolved = conflict("c", "a", "b");
    resolved.resolved_ms = Some(500);
    resolved.acked_b_ms = Some(400);
    store
        .apply(batch(vec![
            Mutation::PutConflict(conflict("c", "a", "b")),
            Mutation::PutConflict(resolved.clone()),
        ]))
        .await
        .unwrap();
    assert_eq!(store.conflict("c").await.unwrap(), Some(resolved));
    assert!(store.open_conflicts().await.unwrap().is_empty());
}

async fn an_update_replaces_the_stored_intent(store: &dyn Store) {
    store
        .apply(batch(vec![Mutation::PutIntent(intent("a", "i", 1))]))
        .await
        .unwrap();
    let mut updated = intent("a", "i", 2);
    updated.state = IntentState::Ended;
    store
        .apply(batch(vec![Mutation::PutIntent(updated.clone())]))
        .await
        .unwrap();
    let stored = store.intent("a", "i").await.unwrap().unwrap();
    assert_eq!(stored.version, 2);
    assert_eq!(stored.state, IntentState::Ended);
    assert_eq!(stored.volumes, updated.volumes);
    assert_eq!(stored.created_ms, 10, "creation time survives updates");
}

async fn pages_of_intents_walk_every_intent_once_in_order(store: &dyn Store) {
    let mut mutations = Vec::new();
    for party_id in ["p1", "p2", "p3"] {
        for n in 0..7 {
            mutations.push(Mutation::PutIntent(intent(
                party_id,
                &format!("i{n:02}"),
                1,
            )));
        }
    }
    store.apply(batch(mutations)).await.unwrap();
    let mut seen = Vec::new();
    let mut after: Option<(String, String)> = None;
    loop {
        let page = store
            .intents_page(after.as_ref().map(|(p, i)| (p.as_str(), i.as_str())), 4)
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        for record in &page {
            seen.push(format!("{}/{}", record.party_id, record.id));
        }
        let last = page.last().unwrap();
        after = Some((last.party_id.clone(), last.id.clone()));
    }
    assert_eq!(seen.len(), 21);
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted);
    let own = store.intents_of("p2", Some("i03"), 2).await.unwrap();
    assert_eq!(
        own.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(),
        ["i04", "i05"]
    );
}

async fn conflicts_are_listed_for_either_side_and_observers(store: &dyn Store) {
    let mut old = conflict("c-old", "a", "b");
    old.resolved_ms = Some(150);
    let mut newer = conflict("c-new", "c", "a");
    newer.opened_ms = 200;
    store
        .apply(batch(vec![
            Mutation::PutConflict(old),
            Mutation::PutConflict(newer),
            Mutation::PutConflict(conflict("c-other", "b", "c")),
        ]))
        .await
        .unwrap();
    let open_of_a: Vec<String> = store
        .conflicts(Some("a"), false, None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(open_of_a, ["c-new"]);
    let all_of_a: Vec<String> = store
        .conflicts(Some("a"), true, None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(all_of_a, ["c-new", "c-old"]);
    assert_eq!(
        store.conflicts(None, true, None, 10).await.unwrap().len(),
        3
    );
    assert_eq!(store.open_conflicts().await.unwrap().len(), 2);
}

async fn pages_of_conflicts_walk_every_conflict_once_newest_first(store: &dyn Store) {
    // Three opened at the same time (ordered by id among them), one later, one earlier.
    let mut mutations = Vec::new();
    for (id, opened_ms) in [
        ("c3", 100),
        ("c1", 100),
        ("c9", 300),
        ("c2", 100),
        ("c0", 50),
    ] {
        let mut record = conflict(id, "a", "b");
        record.opened_ms = opened_ms;
        mutations.push(Mutation::PutConflict(record));
    }
    mutations.push(Mutation::PutConflict(conflict("c-theirs", "b", "c")));
    store.apply(batch(mutations)).await.unwrap();
    for observer in [false, true] {
        let mut seen = Vec::new();
        let mut after: Option<(i64, String)> = None;
        loop {
            let cursor = after.as_ref().map(|(ms, id)| (*ms, id.as_str()));
            let page = if observer {
                store.conflicts(None, false, cursor, 2).await.unwrap()
            } else {
                store.conflicts(Some("a"), false, cursor, 2).await.unwrap()
            };
            assert!(page.len() <= 2);
            let Some(last) = page.last() else { break };
            after = Some((last.opened_ms, last.id.clone()));
            seen.extend(page.into_iter().map(|c| c.id));
        }
        let expected: &[&str] = if observer {
            &["c9", "c-theirs", "c1", "c2", "c3", "c0"]
        } else {
            &["c9", "c1", "c2", "c3", "c0"]
        };
        assert_eq!(seen, expected, "observer: {observer}");
    }
}

async fn events_are_read_per_party_after_a_sequence_number_and_pruned_by_age(store: &dyn Store) {
    let mut mutations = Vec::new();
    for seq in 1..=10 {
        mutations.push(Mutation::AppendEvent(EventRecord {
            seq,
            party_id: if seq % 2 == 0 {
                "even".into()
            } else {
                "odd".into()
            },
            kind: "conflict.opened".into(),
            data: json!({"n": seq}).into(),
            time_ms: seq * 100,
        }));
    }
    store.apply(batch(mutations)).await.unwrap();
    let even: Vec<i64> = store
        .events_after("even", 4, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(even, [6, 8, 10]);
    assert_eq!(store.events_after("odd", 0, 2).await.unwrap().len(), 2);
    assert_eq!(store.prune_events(450).await.unwrap(), 4);
    assert_eq!(
        store
            .events_after("odd", 0, 100)
            .await
            .unwrap()
            .first()
            .map(|e| e.seq),
        Some(5)
    );
    assert_eq!(store.last_event_seq().await.unwrap(), 10);
}

/// An event for the party `coalition`, numbered `seq`, stamped `time_ms`.
fn coalition_event(seq: i64, time_ms: i64) -> Mutation {
    Mutation::AppendEvent(EventRecord {
        seq,
        party_id: "coalition".into(),
        kind: "conflict.opened".into(),
        data: json!({"n": seq}).into(),
        time_ms,
    })
}

/// Events are pruned from the oldest in sequence order, up to the first one within
/// retention: one stamped later than those after it (a clock set back) keeps them a little
/// longer, and no event within retention is ever pruned.
async fn pruning_events_stops_at_the_first_one_within_retention(store: &dyn Store) {
    let times = [100, 200, 900, 300, 400, 1_200];
    let mutations = times
        .iter()
        .zip(1..)
        .map(|(&time_ms, seq)| coalition_event(seq, time_ms))
        .collect();
    store.apply(batch(mutations)).await.unwrap();
    let left = || async {
        store
            .events_after("coalition", 0, 100)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.seq)
            .collect::<Vec<i64>>()
    };
    assert_eq!(store.prune_events(500).await.unwrap(), 2);
    assert_eq!(left().await, [3, 4, 5, 6]);
    assert_eq!(store.prune_events(1_000).await.unwrap(), 3);
    assert_eq!(left().await, [6]);
    assert_eq!(store.prune_events(1_000).await.unwrap(), 0);
}

/// More expired events than one pruning statement deletes: every one goes, in several
/// statements, and none of the events still within retention.
async fn pruning_more_events_than_one_statement_deletes_takes_them_all(store: &dyn Store) {
    let expired = 2 * deconflict_store::ROWS_PRUNED_PER_STATEMENT + 3;
    let kept = 7;
    let mutations = (1..=expired + kept)
        .map(|seq| coalition_event(seq, if seq <= expired { 1_000 } else { 9_000 }))
        .collect();
    store.apply(batch(mutations)).await.unwrap();
    assert_eq!(store.prune_events(5_000).await.unwrap(), expired as u64);
    let left: Vec<i64> = store
        .events_after("coalition", 0, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(left, ((expired + 1)..=(expired + kept)).collect::<Vec<_>>());
    assert_eq!(store.prune_events(5_000).await.unwrap(), 0);
}

async fn audit_records_come_back_in_sequence(store: &dyn Store) {
    assert_eq!(store.last_audit().await.unwrap(), None);
    let records: Vec<Mutation> = (1..=5)
        .map(|seq| {
            Mutation::AppendAudit(AuditRecord {
                seq,
                sealed_json: format!(r#"{{"hash":"h{seq}", "seq":{seq}}}"#),
            })
        })
        .collect();
    store.apply(batch(records)).await.unwrap();
    let after_two: Vec<i64> = store
        .audit_after(2, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.seq)
        .collect();
    assert_eq!(after_two, [3, 4, 5]);
    assert_eq!(
        store.last_audit().await.unwrap().unwrap().sealed_json,
        r#"{"hash":"h5", "seq":5}"#,
        "the sealed text is kept byte for byte"
    );
}

async fn agreements_keep_every_version_with_its_answers(store: &dyn Store) {
    let first = AgreementRecord {
        version: 1,
        terms: json!({"separation": {"horizontal_m": 9260}}),
        proposed_by: None,
        proposed_ms: 1,
        status: AgreementStatus::InForce,
        decided_ms: Some(1),
        answers: vec![],
    };
    let mut second = AgreementRecord {
        version: 2,
        terms: json!({"separation": {"horizontal_m": 5000}}),
        proposed_by: Some("a".into()),
        proposed_ms: 5,
        status: AgreementStatus::Pending,
        decided_ms: None,
        answers: vec![],
    };
    let yes = |party_id: &str, at| AgreementAnswer {
        party_id: party_id.into(),
        accepted: true,
        answered_ms: at,
    };
    store
        .apply(batch(vec![
            Mutation::PutAgreement(first.clone()),
            Mutation::PutAgreement(second.clone()),
            Mutation::PutAgreementAnswer {
                version: 2,
                answer: yes("a", 5),
            },
        ]))
        .await
        .unwrap();
    second.status = AgreementStatus::InForce;
    second.decided_ms = Some(9);
    let mut superseded = first.clone();
    superseded.status = AgreementStatus::Superseded;
    superseded.decided_ms = Some(9);
    store
        .apply(batch(vec![
            Mutation::PutAgreementAnswer {
                version: 2,
                answer: yes("b", 9),
            },
            Mutation::PutAgreement(second.clone()),
            Mutation::PutAgreement(superseded.clone()),
        ]))
        .await
        .unwrap();
    let stored = store.agreements().await.unwrap();
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0].status, AgreementStatus::Superseded);
    assert_eq!(stored[1].status, AgreementStatus::InForce);
    assert_eq!(stored[1].terms, second.terms);
    assert_eq!(stored[1].answers, vec![yes("a", 5), yes("b", 9)]);
}

async fn the_recheck_row_moves_on_and_is_cleared_when_finished(store: &dyn Store) {
    assert_eq!(store.recheck().await.unwrap(), None);
    let started = RecheckRecord {
        version: 2,
        after: None,
    };
    store
        .apply(batch(vec![Mutation::SetRecheck(Some(started.clone()))]))
        .await
        .unwrap();
    assert_eq!(store.recheck().await.unwrap(), Some(started));
    // The last of a batch's settings wins.
    let moved = RecheckRecord {
        version: 2,
        after: Some(("russia".into(), "r-«7»".into())),
    };
    store
        .apply(batch(vec![
            Mutation::SetRecheck(Some(RecheckRecord {
                version: 2,
                after: Some(("coalition".into(), "c-1".into())),
            })),
            Mutation::SetRecheck(Some(moved.clone())),
        ]))
        .await
        .unwrap();
    assert_eq!(store.recheck().await.unwrap(), Some(moved));
    store
        .apply(batch(vec![Mutation::SetRecheck(None)]))
        .await
        .unwrap();
    assert_eq!(store.recheck().await.unwrap(), None);
}

async fn the_server_key_seed_is_stored_once(store: &dyn Store) {
    let first = store.server_key_seed_or_insert("aa").await.unwrap();
    let second = store.server_key_seed_or_insert("bb").await.unwrap();
    assert_eq!(first, "aa");
    assert_eq!(second, "aa");
}

async fn an_empty_batch_writes_nothing(store: &dyn Store) {
    store.apply(Batch::default()).await.unwrap();
    assert_eq!(store.intent_count().await.unwrap(), 0);
}

fn ids(messages: &[HotlineMessageRecord]) -> Vec<&str> {
    messages.iter().map(|m| m.id.as_str()).collect()
}

async fn hotline_messages_are_listed_for_either_end_and_observers_oldest_first(store: &dyn Store) {
    let mut reply = message("m3", "t1", Some("b"), "a", 300);
    reply.reply_to = Some("m1".into());
    reply.about = None;
    store
        .apply(batch(vec![
            Mutation::PutHotlineMessage(reply.clone()),
            Mutation::PutHotlineMessage(message("m1", "t1", Some("a"), "b", 100)),
            Mutation::PutHotlineMessage(message("m2", "t2", None, "c", 200)),
            Mutation::PutHotlineMessage(message("m0", "t2", None, "a", 200)),
        ]))
        .await
        .unwrap();
    assert_eq!(store.hotline_message("m3").await.unwrap(), Some(reply));
    assert_eq!(
        store.hotline_message("m2").await.unwrap(),
        Some(message("m2", "t2", None, "c", 200)),
        "a message from the service keeps its null sender"
    );
    assert_eq!(store.hotline_message("nothing").await.unwrap(), None);
    let of_a = store
        .hotline_messages(Some("a"), None, None, 100)
        .await
        .unwrap();
    assert_eq!(ids(&of_a), ["m1", "m0", "m3"]);
    let of_a_in_t1 = store
        .hotline_messages(Some("a"), Some("t1"), None, 100)
        .await
        .unwrap();
    assert_eq!(ids(&of_a_in_t1), ["m1", "m3"]);
    assert_eq!(
        ids(&store
            .hotline_messages(Some("c"), None, None, 100)
            .await
            .unwrap()),
        ["m2"]
    );
    assert!(store
        .hotline_messages(Some("d"), None, None, 100)
        .await
        .unwrap()
        .is_empty());
    let all = store.hotline_messages(None, None, None, 100).await.unwrap();
    assert_eq!(ids(&all), ["m1", "m0", "m2", "m3"], "by time, then id");
    let t2 = store
        .hotline_messages(None, Some("t2"), None, 100)
        .await
        .unwrap();
    assert_eq!(ids(&t2), ["m0", "m2"]);
    // Pages continue after the last message of the previous one, ties at one time
    // included.
    let first = store
        .hotline_messages(Some("a"), None, None, 2)
        .await
        .unwrap();
    assert_eq!(ids(&first), ["m1", "m0"]);
    let next = store
        .hotline_messages(Some("a"), None, Some((200, "m0")), 2)
        .await
        .unwrap();
    assert_eq!(ids(&next), ["m3"]);
    let rest = store
        .hotline_messages(None, None, Some((200, "m0")), 10)
        .await
        .unwrap();
    assert_eq!(ids(&rest), ["m2", "m3"]);
    let in_t1 = store
        .hotline_messages(None, Some("t1"), Some((100, "m1")), 10)
        .await
        .unwrap();
    assert_eq!(ids(&in_t1), ["m3"]);
}

async fn acknowledgement_and_escalation_update_a_message_and_leave_the_unanswered(
    store: &dyn Store,
) {
    let first = message("m1", "t", Some("a"), "b", 100);
    let second = message("m2", "t", Some("b"), "a", 50);
    let third = message("m3", "t", None, "a", 70);
    let mut acked = first.clone();
    acked.acked_ms = Some(150);
    acked.acked_by = Some("b".into());
    store
        .apply(batch(vec![
            Mutation::PutHotlineMessage(first.clone()),
            Mutation::PutHotlineMessage(second.clone()),
            Mutation::PutHotlineMessage(third.clone()),
            Mutation::PutHotlineMessage(acked.clone()),
        ]))
        .await
        .unwrap();
    assert_eq!(store.hotline_message("m1").await.unwrap(), Some(acked));
    assert_eq!(
        ids(&store.unanswered_hotline_messages().await.unwrap()),
        ["m2", "m3"],
        "by deadline"
    );
    let mut escalated = second.clone();
    escalated.escalated_ms = Some(400_000);
    store
        .apply(batch(vec![Mutation::PutHotlineMessage(escalated.clone())]))
        .await
        .unwrap();
    assert_eq!(
        store.hotline_message("m2").await.unwrap(),
        Some(escalated.clone())
    );
    assert_eq!(
        ids(&store.unanswered_hotline_messages().await.unwrap()),
        ["m3"]
    );
    let mut changed_words = escalated.clone();
    changed_words.text = "rewritten".into();
    changed_words.acked_ms = Some(500_000);
    changed_words.acked_by = Some("a".into());
    store
        .apply(batch(vec![Mutation::PutHotlineMessage(changed_words)]))
        .await
        .unwrap();
    let stored = store.hotline_message("m2").await.unwrap().unwrap();
    assert_eq!(stored.text, second.text, "a message's words never change");
    assert_eq!(stored.acked_ms, Some(500_000));
    assert_eq!(stored.escalated_ms, Some(400_000));
}

fn alert(id: &str, a: &str, b: &str, raised_ms: i64) -> AlertRecord {
    AlertRecord {
        id: id.into(),
        party_a: a.into(),
        aircraft_a: format!("{a}-1"),
        ref_a: format!("ref-{id}-a"),
        party_b: b.into(),
        aircraft_b: format!("{b}-1"),
        ref_b: format!("ref-{id}-b"),
        level: "advisory".into(),
        raised_ms,
        updated_ms: raised_ms,
        cleared_ms: None,
        details: json!({"time_to_los_s": 200.0}),
    }
}

async fn alerts_are_upserted_listed_per_party_and_active_until_cleared(store: &dyn Store) {
    let mut first = alert("alr-1", "coalition", "russia", 1_000);
    let second = alert("alr-2", "russia", "observer-free", 2_000);
    store
        .apply(batch(vec![
            Mutation::PutAlert(first.clone()),
            Mutation::PutAlert(second.clone()),
        ]))
        .await
        .unwrap();
    first.level = "warning".into();
    first.updated_ms = 1_500;
    first.cleared_ms = Some(3_000);
    first.details = json!({"time_to_los_s": 0.0});
    store
        .apply(batch(vec![Mutation::PutAlert(first.clone())]))
        .await
        .unwrap();
    assert_eq!(store.active_alerts().await.unwrap(), vec![second.clone()]);
    assert_eq!(
        store.alerts_of("russia", 10).await.unwrap(),
        vec![second, first.clone()]
    );
    assert_eq!(store.alerts_of("coalition", 10).await.unwrap(), vec![first]);
    assert!(store.alerts_of("nobody", 10).await.unwrap().is_empty());
}

fn sample(aircraft: &str, time_ms: i64) -> TrackSampleRecord {
    TrackSampleRecord {
        party_id: "coalition".into(),
        aircraft_id: aircraft.into(),
        time_ms,
        lat: 35.25,
        lon: -0.125,
        alt_m: 8_000.5,
        vn_mps: 200.0,
        ve_mps: -12.5,
        vu_mps: 0.0,
    }
}

async fn track_samples_are_kept_once_per_time_read_in_order_and_pruned(store: &dyn Store) {
    store
        .append_track_samples(&[
            sample("F16-1", 5_000),
            sample("F16-1", 0),
            sample("F16-2", 0),
        ])
        .await
        .unwrap();
    let mut moved = sample("F16-1", 5_000);
    moved.lat = 36.0;
    store
        .append_track_samples(&[moved, sample("F16-1", 10_000)])
        .await
        .unwrap();
    store.append_track_samples(&[]).await.unwrap();
    let history = store
        .track_history("coalition", "F16-1", 0, 100)
        .await
        .unwrap();
    assert_eq!(
        history,
        vec![
            sample("F16-1", 0),
            sample("F16-1", 5_000),
            sample("F16-1", 10_000)
        ]
    );
    let later = store
        .track_history("coalition", "F16-1", 5_000, 1)
        .await
        .unwrap();
    assert_eq!(later, vec![sample("F16-1", 5_000)]);
    assert!(store
        .track_history("russia", "F16-1", 0, 100)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.prune_track_samples(5_000).await.unwrap(), 2);
    assert_eq!(
        store
            .track_history("coalition", "F16-1", 0, 100)
            .await
            .unwrap()
            .len(),
        2
    );
}

/// One service per store: a second claim is refused while the first is held, and granted
/// once it is dropped (a PostgreSQL session is closed by a task, so that may take a moment).
/// More expired points than one pruning statement deletes: every one goes, in several
/// statements, and none of the points still within retention.
async fn pruning_more_track_samples_than_one_statement_deletes_takes_them_all(store: &dyn Store) {
    let expired = 2 * deconflict_store::ROWS_PRUNED_PER_STATEMENT + 3;
    let old: Vec<TrackSampleRecord> = (0..expired)
        .map(|k| sample(&format!("F16-{k}"), 1_000))
        .collect();
    store.append_track_samples(&old).await.unwrap();
    let kept: Vec<TrackSampleRecord> = (0..7).map(|k| sample("F16-0", 9_000 + k)).collect();
    store.append_track_samples(&kept).await.unwrap();
    assert_eq!(
        store.prune_track_samples(5_000).await.unwrap(),
        expired as u64
    );
    assert_eq!(
        store
            .track_history("coalition", "F16-0", 0, 100)
            .await
            .unwrap(),
        kept
    );
    assert!(store
        .track_history("coalition", &format!("F16-{}", expired - 1), 0, 100)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.prune_track_samples(5_000).await.unwrap(), 0);
}

async fn only_one_service_claims_a_store_at_a_time(store: &dyn Store) {
    let first = store.try_claim_service().await.unwrap();
    assert!(first.is_some(), "a free store is claimed");
    assert!(
        store.try_claim_service().await.unwrap().is_none(),
        "a claimed store is refused to a second claim"
    );
    drop(first);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if store.try_claim_service().await.unwrap().is_some() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the store stayed claimed after its claim was dropped"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Runs each named test function against a fresh SQLite file and a fresh PostgreSQL
/// schema.
macro_rules! backend_suite {
    ($($test:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $test() {
                    let dir = tempfile::tempdir().unwrap();
                    let store = deconflict_store::open_sqlite(&dir.path().join("store.db")).await.unwrap();
                    super::$test(&store).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $test() {
                    let Some(url) = super::postgres_url(stringify!($test)) else { return };
                    let schema = format!("suite_{}_{}", stringify!($test), std::process::id());
                    let store = deconflict_store::open_postgres_in_schema(&url, &schema).await.unwrap();
                    store.drop_schema(&schema).await.unwrap();
                    let store = deconflict_store::open_postgres_in_schema(&url, &schema).await.unwrap();
                    super::$test(&store).await;
                    store.drop_schema(&schema).await.unwrap();
                }
            )+
        }
    };
}

/// The PostgreSQL URL to test against, or `None` (after saying so) when none is set
/// outside CI.
fn postgres_url(test: &str) -> Option<String> {
    match std::env::var("DECONFLICT_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("DECONFLICT_TEST_POSTGRES_URL is unset under CI=true; the PostgreSQL suite must run")
        }
        _ => {
            eprintln!("skipping postgres::{test}: DECONFLICT_TEST_POSTGRES_URL is unset");
            None
        }
    }
}

backend_suite!(
    parties_are_found_by_id_and_token_and_duplicates_are_refused,
    parties_added_directly_wait_for_their_audit_entry,
    an_applied_batch_is_read_back_whole,
    the_last_write_of_a_row_in_a_batch_wins,
    an_update_replaces_the_stored_intent,
    pages_of_intents_walk_every_intent_once_in_order,
    conflicts_are_listed_for_either_side_and_observers,
    pages_of_conflicts_walk_every_conflict_once_newest_first,
    events_are_read_per_party_after_a_sequence_number_and_pruned_by_age,
    pruning_events_stops_at_the_first_one_within_retention,
    pruning_more_events_than_one_statement_deletes_takes_them_all,
    audit_records_come_back_in_sequence,
    agreements_keep_every_version_with_its_answers,
    the_recheck_row_moves_on_and_is_cleared_when_finished,
    the_server_key_seed_is_stored_once,
    an_empty_batch_writes_nothing,
    hotline_messages_are_listed_for_either_end_and_observers_oldest_first,
    acknowledgement_and_escalation_update_a_message_and_leave_the_unanswered,
    alerts_are_upserted_listed_per_party_and_active_until_cleared,
    track_samples_are_kept_once_per_time_read_in_order_and_pruned,
    pruning_more_track_samples_than_one_statement_deletes_takes_them_all,
    only_one_service_claims_a_store_at_a_time,
);

/// A PostgreSQL claim lives in its session: when the session ends (here an administrator
/// terminates it), the claim reports its loss, so that the service stops instead of
/// writing while another instance may claim the store.
#[tokio::test]
async fn a_postgres_claim_reports_the_end_of_its_session() {
    let Some(url) = postgres_url("a_postgres_claim_reports_the_end_of_its_session") else {
        return;
    };
    let schema = format!("suite_claim_lost_{}", std::process::id());
    let store = deconflict_store::open_postgres_in_schema(&url, &schema)
        .await
        .unwrap();
    let mut claim = store
        .try_claim_service()
        .await
        .unwrap()
        .expect("a free store is claimed");
    let loss = claim.loss();
    let terminated = end_claim_sessions(&url, &schema).await;
    assert_eq!(terminated, 1, "one session held the claim");
    let why = tokio::time::timeout(std::time::Duration::from_secs(30), loss)
        .await
        .expect("the loss is reported within a few session checks");
    assert!(why.contains("claim"), "{why}");
    drop(claim);
    store.drop_schema(&schema).await.unwrap();
}

/// Ends (as an administrator would) every session holding the service claim of `schema`;
/// how many there were.
async fn end_claim_sessions(url: &str, schema: &str) -> usize {
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(url)
        .await
        .unwrap();
    // The claim's advisory lock: a 64-bit key, which pg_locks splits into two halves.
    let terminated: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' \
         AND ((classid::bigint << 32) | objid::bigint) = \
             hashtextextended('deconflict.service:' || $1, 0)",
    )
    .bind(schema)
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert!(terminated.iter().all(|ended| *ended));
    terminated.len()
}

/// The fencing token: once another instance has claimed a PostgreSQL store (here after an
/// administrator ended the first one's claim session, while the first one still runs), a
/// commit of the first one is refused, whatever its timing, and the new holder's commits go
/// ahead.
#[tokio::test]
async fn a_postgres_store_taken_over_refuses_the_commits_of_the_instance_it_was_taken_from() {
    let Some(url) = postgres_url(
        "a_postgres_store_taken_over_refuses_the_commits_of_the_instance_it_was_taken_from",
    ) else {
        return;
    };
    let schema = format!("suite_claim_fence_{}", std::process::id());
    let first = deconflict_store::open_postgres_in_schema(&url, &schema)
        .await
        .unwrap();
    let first_claim = first.try_claim_service().await.unwrap().expect("free");
    let write = |id: &str| batch(vec![Mutation::PutIntent(intent("coalition", id, 1))]);
    first.apply(write("before")).await.unwrap();

    assert_eq!(end_claim_sessions(&url, &schema).await, 1);
    let second = deconflict_store::open_postgres_in_schema(&url, &schema)
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let second_claim = loop {
        if let Some(claim) = second.try_claim_service().await.unwrap() {
            break claim;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the ended claim stayed held"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };

    let refused = first.apply(write("after")).await.unwrap_err();
    assert!(
        refused.to_string().contains("another instance"),
        "{refused}"
    );
    second.apply(write("by-the-second")).await.unwrap();
    let ids: Vec<String> = second
        .intents_of("coalition", None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|intent| intent.id)
        .collect();
    // Sorted by id: the refused write is absent.
    assert_eq!(ids, ["before", "by-the-second"]);
    drop((first_claim, second_claim));
    second.drop_schema(&schema).await.unwrap();
}
