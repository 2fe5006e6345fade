//! What the gate (authentication, rate limits, authorization) adds to a request, in
//! microseconds: the same trivial route served open and behind the gate, through the same
//! axum router, alternated in rounds; the overhead is the difference of the medians. No
//! harness: `cargo bench -p ward-server --bench gate`.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::middleware::from_fn_with_state;
use axum::routing::get;
use tower::ServiceExt;
use ward_model::TenantId;
use ward_server::auth::{KeyVerifier, mint};
use ward_server::authz::{Grants, Permission};
use ward_server::config::Config;
use ward_server::gate::{AccessPolicy, Gate, Guard, RouteClass, guard};
use ward_server::metrics::Metrics;
use ward_server::security::SecurityEvents;

const ROUNDS: usize = 15;
const REQUESTS: usize = 20_000;

fn request(key: Option<&str>, peer: u32) -> Request<Body> {
    let mut builder = Request::builder().uri("/x");
    if let Some(key) = key {
        builder = builder.header("authorization", format!("Bearer {key}"));
    }
    let mut request = builder.body(Body::empty()).unwrap();
    // Many sources, as behind a busy load balancer: the per-IP limiter sees a full map.
    let addr = SocketAddr::from((Ipv4Addr::from(0x0a00_0000 + peer % 50_000), 4000));
    request.extensions_mut().insert(ConnectInfo(addr));
    request
}

/// Microseconds per request of `REQUESTS` requests through `app`.
async fn round(app: &Router, key: Option<&str>) -> f64 {
    let started = Instant::now();
    for i in 0..REQUESTS {
        let response = app.clone().oneshot(request(key, i as u32)).await.unwrap();
        assert!(response.status().is_success(), "{}", response.status());
    }
    started.elapsed().as_secs_f64() * 1e6 / REQUESTS as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let store = ward_store::Store::open(ward_store::StoreConfig {
            data_dir: dir.path().to_path_buf(),
            ..Default::default()
        })
        .unwrap();
        // Limits high enough never to refuse: the checks run, the answers stay 200.
        let config = Config::from_toml(
            "[rate_limits.query]\nper_key = { rate = 1000000, burst = 10000000 }\n\
             per_ip = { rate = 1000000, burst = 10000000 }\n",
            |_| None,
        )
        .unwrap();
        let settings = config.settings().unwrap();
        let metrics = Arc::new(Metrics::new());
        let security = SecurityEvents::start(store.clone(), metrics.clone());
        let gate = Gate::new(
            KeyVerifier::new(store.clone()),
            security,
            metrics,
            AccessPolicy::from_settings(&settings),
        );
        let key = mint(
            TenantId::default_tenant(),
            "bench",
            &Grants::single(Permission::Read),
            None,
        );
        store.keys().insert_key(&key.record).unwrap();

        let open: Router = Router::new().route("/x", get(|| async { "ok" }));
        let guarded: Router = Router::new().route(
            "/x",
            get(|| async { "ok" }).route_layer(from_fn_with_state(
                Guard {
                    gate,
                    need: Permission::Read,
                    class: RouteClass::Query,
                    route: "GET /x".into(),
                },
                guard,
            )),
        );
        // Warm up: the key's record enters the verifier's cache.
        round(&guarded, Some(&key.text)).await;
        round(&open, None).await;
        let (mut plain, mut gated, mut added) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            let p = round(&open, None).await;
            let g = round(&guarded, Some(&key.text)).await;
            plain.push(p);
            gated.push(g);
            added.push(g - p);
        }
        println!(
            "open route: median {:.2} µs/request; behind the gate (API key, rate limits per IP \
             and per key, permission): median {:.2} µs/request; added by the gate: median \
             {:.2} µs (min {:.2}, max {:.2}) over {ROUNDS} rounds of {REQUESTS} requests",
            median(plain),
            median(gated.clone()),
            median(added.clone()),
            added.iter().copied().fold(f64::INFINITY, f64::min),
            added.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        );
        store.shutdown().await.unwrap();
    });
}
