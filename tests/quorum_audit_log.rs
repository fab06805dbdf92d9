//! Provisioning leaves an audit trail: every quorum step, hash-chained and fsynced like a
//! ceremony log, beside the provisioning record, holding no secret.
mod ceremony;

use byok_ceremony::audit::log::{stream_of, verify_chain};
use byok_ceremony::quorum::events::QuorumEvent;
use byok_ceremony::quorum::provision::AUDIT_LOG_NAME;
use ceremony::Room;

#[test]
fn provisioning_writes_a_verifiable_log_of_every_quorum_step() {
    let room = Room::new("prov log");
    let log = room.path("provisioning").join(AUDIT_LOG_NAME);
    let (entries, _head) = verify_chain::<QuorumEvent>(&log).expect("the chain verifies");
    assert!(entries > 5);
    let mut issued = Vec::new();
    let mut kinds = Vec::new();
    stream_of::<QuorumEvent>(&log, |_, e| {
        if let QuorumEvent::ShareIssued {
            custodian, group, ..
        } = &e.event
        {
            issued.push(format!("{custodian}/{group:?}"));
            assert_eq!(e.actor.as_deref(), Some(custodian.as_str()));
        }
        kinds.push(
            serde_json::to_value(&e.event).expect("json")["event"]
                .as_str()
                .expect("tag")
                .to_owned(),
        );
        Ok(())
    })
    .expect("stream");
    // One share per custodian per PIN group (user and SO), each recorded.
    assert_eq!(issued.len(), 6, "{issued:?}");
    for k in [
        "token_initialised",
        "audit_key_generated",
        "split_made",
        "split_verified",
        "pin_set",
    ] {
        assert!(kinds.iter().any(|x| x == k), "{k} missing from {kinds:?}");
    }
    // No share text in the log: take each custodian's share and look for it.
    let text = std::fs::read_to_string(&log).expect("log");
    for c in ["carol", "dave", "erin"] {
        let share_file = std::fs::read_to_string(room.path(&format!("provisioning/{c}.share.txt")))
            .expect("share");
        let share_line = share_file
            .lines()
            .find(|l| l.trim_start().starts_with("byok1"))
            .expect("a share line")
            .split_whitespace()
            .collect::<String>();
        assert!(
            !text.replace(' ', "").contains(&share_line[..20]),
            "a share leaked into the log"
        );
    }
    // Tampering is caught.
    let edited = text.replacen("carol", "mallory", 1);
    let bad = room.path("edited.jsonl");
    std::fs::write(&bad, edited).expect("write");
    assert!(verify_chain::<QuorumEvent>(&bad).is_err());
}
