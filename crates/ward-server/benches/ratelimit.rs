//! Cost of one rate-limit check and one brute-force lookup, in nanoseconds per call (median of
//! several runs). No harness: `cargo bench -p ward-server --bench ratelimit`.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use ward_server::ratelimit::{
    BruteForceGuard, LimitSubject, RateLimitSettings, RateLimiter, RouteClass,
};

const RUNS: usize = 7;
const CALLS: u64 = 500_000;

fn median_ns_per_call(mut run: impl FnMut(u64)) -> f64 {
    let mut samples: Vec<f64> = (0..RUNS)
        .map(|_| {
            let started = Instant::now();
            for i in 0..CALLS {
                run(i);
            }
            started.elapsed().as_nanos() as f64 / CALLS as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[RUNS / 2]
}

fn main() {
    let settings = RateLimitSettings::default();
    let limiter = RateLimiter::new(&settings);
    let guard = BruteForceGuard::new(&settings);
    let t0 = Instant::now();
    let keys: Vec<LimitSubject> = (0..10_000)
        .map(|i| LimitSubject::Key(format!("k{i:012x}")))
        .collect();
    let v4: Vec<LimitSubject> = (0..10_000u32)
        .map(|i| LimitSubject::Ip(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i))))
        .collect();
    let v6: Vec<LimitSubject> = (0..10_000u128)
        .map(|i| {
            LimitSubject::Ip(IpAddr::V6(Ipv6Addr::from(
                (0x2001_0db8u128 << 96) + (i << 64),
            )))
        })
        .collect();
    // Time advances 1 µs per call: 1 request per subject per 10 ms, well within the limits.
    let at = |i: u64| t0 + Duration::from_micros(i);

    let key = median_ns_per_call(|i| {
        let d = limiter.check(RouteClass::Ingest, &keys[(i % 10_000) as usize], at(i));
        black_box(d);
    });
    let ipv4 = median_ns_per_call(|i| {
        let d = limiter.check(RouteClass::Query, &v4[(i % 10_000) as usize], at(i));
        black_box(d);
    });
    let ipv6 = median_ns_per_call(|i| {
        let d = limiter.check(RouteClass::Query, &v6[(i % 10_000) as usize], at(i));
        black_box(d);
    });
    let blocked = median_ns_per_call(|i| {
        let ip = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + (i % 10_000) as u32));
        black_box(guard.blocked(ip, at(i)));
    });
    let mut headers = axum::http::HeaderMap::new();
    let decision = limiter.check(RouteClass::Query, &keys[0], at(0));
    let apply = median_ns_per_call(|_| {
        decision.apply_headers(&mut headers);
        black_box(&headers);
    });
    println!("ratelimit check, key subject:      {key:7.1} ns/call");
    println!("ratelimit check, IPv4 subject:     {ipv4:7.1} ns/call");
    println!("ratelimit check, IPv6 /64 subject: {ipv6:7.1} ns/call");
    println!("brute-force blocked() lookup:      {blocked:7.1} ns/call");
    println!("Decision::apply_headers:           {apply:7.1} ns/call");
    println!(
        "(median of {RUNS} runs of {CALLS} calls; tracked subjects: {})",
        limiter.tracked()
    );
}
