//! Sealed personal fields: readable with the key, unreadable without, chain unaffected.
mod common;
use common::*;
use ward_audit::*;

#[test]
fn seal_open_round_trip_and_wrong_key() {
    let k = SubjectKey::from_bytes([3; 32]);
    let s = seal("user:123", &k, "Alice Example").expect("seal");
    assert_eq!(open(&s, &k).expect("open"), "Alice Example");
    assert_ne!(
        s,
        seal("user:123", &k, "Alice Example").expect("seal"),
        "random nonces"
    );
    assert_eq!(
        open(&s, &SubjectKey::from_bytes([4; 32])),
        Err(SealError::Open)
    );
    // Moving the ciphertext to another subject fails: the subject is bound.
    let moved = Sealed {
        subject: "user:999".into(),
        ..s.clone()
    };
    assert_eq!(open(&moved, &k), Err(SealError::Open));
    assert_eq!(
        open(
            &Sealed {
                nonce: "!".into(),
                ..s.clone()
            },
            &k
        ),
        Err(SealError::Malformed)
    );
    assert_eq!(
        open(
            &Sealed {
                ciphertext: "AA".into(),
                ..s
            },
            &k
        ),
        Err(SealError::Open)
    );
}

#[test]
fn shredding_the_key_keeps_the_chain_verifiable() {
    let lines = export(6);
    // "Destroying the key" means no one can open it; the hashes never saw the plaintext.
    let ExportLine::Entry(e) = &lines[2] else {
        panic!("entry")
    };
    let Some(Field::Sealed { sealed }) = &e.actor.on_behalf_of else {
        panic!("sealed")
    };
    assert_eq!(
        open(sealed, &SubjectKey::from_bytes([9; 32])).expect("open"),
        "alice@example.com"
    );
    assert!(!e.canonical_bytes().windows(5).any(|w| w == b"alice"));
    assert!(matches!(verify(&lines), Verdict::Intact { .. }));
}

#[test]
fn sealed_values_inside_details_are_canonical() {
    let k = SubjectKey::from_bytes([3; 32]);
    let s = seal_with_nonce("user:1", &k, [0; 12], "x");
    let mut m = serde_json::Map::new();
    m.insert("email".into(), s.to_json());
    m.insert("b".into(), serde_json::json!(1));
    let d = Details::from_map(&m);
    assert!(
        d.as_str()
            .starts_with("{\"b\":1,\"email\":{\"sealed\":{\"ciphertext\":"),
        "{}",
        d.as_str()
    );
    assert_eq!(Details::parse(d.as_str()).expect("parse"), d);
    assert!(Details::parse("[1]").is_err());
}

#[test]
fn checkpoint_keys_and_policy() {
    let doc = CheckpointSigner::generate_pkcs8().expect("generate");
    let s = CheckpointSigner::from_pkcs8(&doc).expect("pkcs8");
    assert_eq!(s.public_key().key_id().len(), 16);
    assert!(CheckpointSigner::from_pkcs8(b"nope").is_err());
    assert!(PublicKey::from_hex("abcd").is_err());
    let cp = s.sign(&tenant(), 3, &[1; 32], 5);
    cp.verify(s.public_key()).expect("verify");
    assert!(matches!(
        cp.verify(signer().public_key()),
        Err(CheckpointError::UnknownKey(_))
    ));
    let p = CheckpointPolicy {
        every_entries: 100,
        every_nanos: 1_000,
    };
    assert!(!p.due(10, 0, 10, 5_000), "nothing new");
    assert!(p.due(10, 0, 110, 10));
    assert!(p.due(10, 0, 11, 1_000));
    assert!(!p.due(10, 0, 11, 999));
}
