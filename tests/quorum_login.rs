//! Quorum login's share checks, without a token: each presented share is checked at once and
//! each kind of wrong share has its own error and audit event; the events carry no secret.
use byok_ceremony::hsm_types::token::TokenIdentity;
use byok_ceremony::quorum::events::{EventSink, PresentOutcome, QuorumEvent, RejectReason};
use byok_ceremony::quorum::issue::{IssuedSplit, issue};
use byok_ceremony::quorum::record::{
    AuditKeyRecord, ProvisioningRecord, RECORD_FORMAT, RECORD_VERSION,
};
use byok_ceremony::quorum::script::CustodianGroup;
use byok_ceremony::quorum::share::{PinGroup, Share};
use byok_ceremony::quorum::split::SplitPolicy;
use byok_ceremony::quorum::{LoginError, PinSecret, QuorumLogin};
use zeroize::Zeroizing;

fn group(m: u8, names: &[&str]) -> CustodianGroup {
    CustodianGroup {
        threshold: m,
        custodians: names.iter().map(|s| s.to_string()).collect(),
    }
}

fn pin(b: u8) -> PinSecret {
    PinSecret::from_bytes(Zeroizing::new(vec![b; 20])).expect("pin")
}

fn record(user: &IssuedSplit, so: &IssuedSplit) -> ProvisioningRecord {
    ProvisioningRecord {
        format: RECORD_FORMAT.into(),
        version: RECORD_VERSION,
        tool: "test".into(),
        rehearsal: false,
        token: TokenIdentity {
            label: "t".into(),
            manufacturer: "m".into(),
            model: "x".into(),
            serial: "1".into(),
            firmware: "1.0".into(),
            hardware: "1.0".into(),
            protected_authentication_path: false,
        },
        user_pin: user.record.clone(),
        so_pin: Some(so.record.clone()),
        audit_key: AuditKeyRecord {
            label: "a".into(),
            id_hex: "00".into(),
            algorithm: "ECDSA P-256".into(),
            public_key_pem: String::new(),
            public_key_sha256: String::new(),
        },
        supersedes: None,
        trusted_kek: None,
    }
}

fn text(s: &Share) -> String {
    s.to_text().expect("text").grouped().to_string()
}

#[test]
fn every_wrong_share_is_named_and_the_right_ones_name_their_custodian() {
    let mut events = EventSink::memory();
    let names = ["alice", "bob", "carol", "dave", "erin"];
    let user = issue(
        &pin(1),
        PinGroup::UserPin,
        &group(3, &names),
        SplitPolicy::Production,
        &mut events,
    )
    .expect("user split");
    let so = issue(
        &pin(2),
        PinGroup::SoPin,
        &group(2, &["frank", "grace"]),
        SplitPolicy::Production,
        &mut events,
    )
    .expect("so split");
    let older = issue(
        &pin(1),
        PinGroup::UserPin,
        &group(3, &names),
        SplitPolicy::Production,
        &mut events,
    )
    .expect("an older split");
    let rec = record(&user, &so);
    let mut q = QuorumLogin::new(&rec, PinGroup::UserPin).expect("login");
    let share = |i: usize| text(&user.split.shares[i]);

    let a = q.offer(&share(1)).expect("bob's share");
    assert_eq!(
        (a.custodian.as_str(), a.share_index, a.present, a.needed),
        ("bob", 2, 1, 3)
    );

    // Mistyped (one character).
    let mut typo = share(3).into_bytes();
    let last = typo.len() - 1;
    typo[last] = if typo[last] == b'q' { b'p' } else { b'q' };
    let e = q
        .offer(&String::from_utf8(typo).expect("ascii"))
        .expect_err("typo");
    assert!(matches!(e, LoginError::Share(_)), "{e}");
    assert!(e.to_string().contains("mistyped"), "{e}");

    // The same custodian again.
    let e = q.offer(&share(1)).expect_err("duplicate");
    assert!(
        matches!(e, LoginError::Duplicate { index: 2, ref custodian } if custodian == "bob"),
        "{e}"
    );

    // Another split (the share dave had before a re-split).
    let e = q
        .offer(&text(&older.split.shares[3]))
        .expect_err("older split");
    assert!(matches!(e, LoginError::WrongSplit { .. }), "{e}");
    assert!(e.to_string().contains(&user.split.split_id.to_hex()), "{e}");

    // A share of the SO PIN.
    let e = q.offer(&text(&so.split.shares[0])).expect_err("SO share");
    assert!(matches!(e, LoginError::WrongGroup { .. }), "{e}");

    // Right split and index, valid checksum, wrong value: only the commitment catches it.
    let real = &user.split.shares[3];
    let mut value = real.value().to_vec();
    value[0] ^= 1;
    let forged = Share::from_parts(
        real.group,
        real.split_id,
        real.threshold,
        real.shares,
        real.index,
        Zeroizing::new(value),
    )
    .expect("forged");
    let e = q.offer(&text(&forged)).expect_err("forged");
    assert!(
        matches!(e, LoginError::CommitmentMismatch { index: 4, ref custodian } if custodian == "dave"),
        "{e}"
    );

    // Not enough yet: nothing is rebuilt.
    q.offer(&share(3)).expect("dave's share");
    assert!(!q.ready());
    q.offer(&share(4)).expect("erin's share");
    assert!(q.ready());
    assert_eq!(q.presented_by(), ["bob", "dave", "erin"]);
    let e = q.offer(&share(0)).expect_err("complete");
    assert!(matches!(e, LoginError::AlreadyComplete(3)), "{e}");
    assert_eq!(q.rebuild().expect("rebuild"), pin(1));
    assert_eq!(q.present(), 0, "the shares were wiped");

    let events = q.take_events();
    let reasons: Vec<PresentOutcome> = events
        .iter()
        .filter_map(|e| match e {
            QuorumEvent::SharePresented { outcome, .. } => Some(outcome.clone()),
            _ => None,
        })
        .collect();
    use PresentOutcome::{Accepted, Rejected};
    assert_eq!(
        reasons,
        [
            Accepted,
            Rejected(RejectReason::Mistyped),
            Rejected(RejectReason::Duplicate),
            Rejected(RejectReason::WrongSplit),
            Rejected(RejectReason::WrongPin),
            Rejected(RejectReason::CommitmentMismatch),
            Accepted,
            Accepted,
            Rejected(RejectReason::AlreadyComplete),
        ]
    );
    assert!(matches!(
        events.last(),
        Some(QuorumEvent::SecretsWiped { shares: 3, .. })
    ));

    // The events are for the audit log: nothing secret in them.
    let json = serde_json::to_string(&events).expect("events serialise");
    for s in user.split.shares.iter().chain(&so.split.shares) {
        let t = s.to_text().expect("text");
        assert!(!json.contains(t.canonical()));
        assert!(!json.contains(&hex::encode(s.value())));
    }
    assert!(!json.contains(pin(1).text().as_str()));
    assert!(json.contains("\"custodian\":\"bob\""));
}

#[test]
fn rebuilding_with_fewer_than_m_is_refused() {
    let mut events = EventSink::memory();
    let user = issue(
        &pin(3),
        PinGroup::UserPin,
        &group(3, &["a", "b", "c"]),
        SplitPolicy::Production,
        &mut events,
    )
    .expect("split");
    let so = issue(
        &pin(4),
        PinGroup::SoPin,
        &group(2, &["d", "e"]),
        SplitPolicy::Production,
        &mut events,
    )
    .expect("split");
    let rec = record(&user, &so);
    let mut q = QuorumLogin::new(&rec, PinGroup::UserPin).expect("login");
    q.offer(&text(&user.split.shares[0])).expect("a");
    q.offer(&text(&user.split.shares[2])).expect("c");
    let e = q.rebuild().expect_err("2 of 3");
    assert!(
        matches!(e, LoginError::NotEnough { have: 2, need: 3 }),
        "{e}"
    );
    assert!(e.to_string().contains("1 more custodian"), "{e}");
}

/// A valid share presented by someone else than its owner is refused, named, and not kept;
/// the shares already accepted stay, and the PIN rebuilds from them and the owner's own.
#[test]
fn a_share_presented_by_another_custodian_is_refused_and_costs_nothing() {
    let mut events = EventSink::memory();
    let user = issue(
        &pin(5),
        PinGroup::UserPin,
        &group(2, &["carol", "dave", "erin"]),
        SplitPolicy::Production,
        &mut events,
    )
    .expect("split");
    let so = issue(
        &pin(6),
        PinGroup::SoPin,
        &group(2, &["frank", "grace"]),
        SplitPolicy::Production,
        &mut events,
    )
    .expect("split");
    let rec = record(&user, &so);
    let mut q = QuorumLogin::new(&rec, PinGroup::UserPin).expect("login");
    let share = |i: usize| text(&user.split.shares[i]);
    q.offer_as(Some("carol"), &share(0)).expect("carol's own");
    let e = q
        .offer_as(Some("dave"), &share(2))
        .expect_err("erin's share, presented by dave");
    assert!(
        matches!(&e, LoginError::WrongOwner { owner, presenter } if owner == "erin" && presenter == "dave"),
        "{e}"
    );
    assert!(e.to_string().contains("already accepted are kept"), "{e}");
    assert_eq!(q.present(), 1, "carol's share is kept, erin's is not");
    assert!(!q.ready());
    q.offer_as(Some("dave"), &share(1)).expect("dave's own");
    assert_eq!(q.presented_by(), ["carol", "dave"]);
    assert_eq!(q.rebuild().expect("rebuild"), pin(5));
    let reasons: Vec<PresentOutcome> = q
        .take_events()
        .into_iter()
        .filter_map(|e| match e {
            QuorumEvent::SharePresented { outcome, .. } => Some(outcome),
            _ => None,
        })
        .collect();
    use PresentOutcome::{Accepted, Rejected};
    assert_eq!(
        reasons,
        [Accepted, Rejected(RejectReason::WrongOwner), Accepted]
    );
}
