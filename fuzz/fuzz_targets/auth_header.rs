#![no_main]
//! Credential and permission parsing on arbitrary text: the `Authorization` header's bearer
//! credential, the API key shape, and scope / permission names with resource globs. Nothing may
//! panic; what parses must print back to something that parses to the same grant; a glob
//! always matches itself read as a name.

use libfuzzer_sys::fuzz_target;
use ward_server::auth::{bearer, key_id, looks_like_key};
use ward_server::authz::{Grant, Grants, Permission};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(credential) = bearer(Some(text)) {
        assert!(!credential.is_empty());
        if looks_like_key(credential) {
            let id = key_id(credential).expect("a key-shaped credential has an id");
            assert!(credential.contains(id));
        }
    }
    if let Ok(grant) = Grant::parse(text) {
        let again = Grant::parse(&grant.to_string()).expect("a printed grant parses");
        assert_eq!(again, grant);
        if let Some(glob) = &grant.resources {
            let grants = Grants::new(vec![grant.clone()]);
            assert!(grants.allows_on(grant.permission, glob));
            assert!(grants.includes(&grants));
        }
    }
    let names: Vec<&str> = text.split(',').collect();
    if let Ok(grants) = Grants::parse(&names) {
        let admin = Grants::single(Permission::Admin);
        assert!(admin.includes(&grants));
    }
});
