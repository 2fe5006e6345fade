//! Rate limiting and brute-force protection: a pure, bounded core.
//!
//! [`RateLimiter`] applies GCRA (the generic cell rate algorithm, a token bucket kept as one
//! timestamp per subject) per route class ([`RouteClass`]) and per subject ([`LimitSubject`]: an
//! API key or a source address, IPv6 grouped by /64). [`BruteForceGuard`] counts failed
//! authentications per source address, asks the caller to slow down and then blocks.
//!
//! Nothing here reads the clock or does I/O: every call takes `now`, so tests drive time. Both
//! keep at most `rate_limits.max_tracked` subjects; when full they forget the stalest ones
//! (for the limiter, forgetting a subject whose bucket is full changes nothing).
//!
//! Configured by `[rate_limits]` ([`RateLimitConfig`], validated into [`RateLimitSettings`]).

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::config::ConfigError;
use crate::problem::Problem;

/// `RateLimit-Limit` (IETF draft "RateLimit header fields for HTTP").
pub const RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
/// `RateLimit-Remaining`.
pub const RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
/// `RateLimit-Reset`: seconds until the quota is whole again.
pub const RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");
/// `RateLimit-Policy`: `<burst>;w=<seconds>`.
pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");

/// First delay asked for after `failures_before_delay` failures; it doubles with every further
/// failure up to `max_delay`.
pub const BASE_DELAY: Duration = Duration::from_millis(100);

/// Fewest shards' worth of entries; the maps are split into at most this many locks.
const SHARDS: usize = 16;

// ---------------------------------------------------------------------------------------------
// Configuration

/// A rate and a burst: `rate` requests per second on average, up to `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateConfig {
    /// Sustained requests per second (at least 0.001).
    pub rate: f64,
    /// Requests allowed at once after a quiet period (at least 1).
    pub burst: u32,
}

impl RateConfig {
    const fn new(rate: f64, burst: u32) -> RateConfig {
        RateConfig { rate, burst }
    }
}

/// The limits of one route class. A missing entry takes the class's default.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClassLimits {
    /// Per API key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_key: Option<RateConfig>,
    /// Per source address (IPv6 per /64).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_ip: Option<RateConfig>,
}

/// `[rate_limits.brute_force]`: failed authentications per source address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BruteForceConfig {
    /// Failures answered without delay; after that each 401 waits, the delay doubling.
    pub failures_before_delay: u32,
    /// Longest delay before a 401.
    pub max_delay: String,
    /// Failures within `window` after which the source is blocked.
    pub failures_before_block: u32,
    /// The window failures are counted in, from the first failure.
    pub window: String,
    /// How long a blocked source stays blocked.
    pub block_for: String,
}

impl Default for BruteForceConfig {
    fn default() -> Self {
        BruteForceConfig {
            failures_before_delay: 5,
            max_delay: "5s".into(),
            failures_before_block: 20,
            window: "10m".into(),
            block_for: "15m".into(),
        }
    }
}

/// `[rate_limits]` of `ward.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Whether requests are limited at all (brute-force protection included).
    pub enabled: bool,
    /// Most subjects remembered, per map (limiter and brute-force guard each).
    pub max_tracked: usize,
    /// OTLP and JSON-lines ingest.
    pub ingest: ClassLimits,
    /// Query API and live tail.
    pub query: ClassLimits,
    /// Key administration.
    pub admin: ClassLimits,
    /// Failed authentication attempts.
    pub auth: ClassLimits,
    /// Delays and blocks after failed authentications.
    pub brute_force: BruteForceConfig,
}

/// The built-in limits, `[class][subject]` in [`RouteClass::ALL`] and [`SubjectKind`] order.
const DEFAULT_LIMITS: [[RateConfig; 2]; 4] = [
    // ingest: a heavy client sends thousands of small batches per second.
    [
        RateConfig::new(2000.0, 4000),
        RateConfig::new(5000.0, 10_000),
    ],
    // query
    [RateConfig::new(50.0, 100), RateConfig::new(200.0, 400)],
    // admin
    [RateConfig::new(10.0, 20), RateConfig::new(20.0, 40)],
    // auth: failed attempts
    [RateConfig::new(1.0, 10), RateConfig::new(2.0, 20)],
];

impl Default for RateLimitConfig {
    fn default() -> Self {
        let class = |c: RouteClass| ClassLimits {
            per_key: Some(DEFAULT_LIMITS[c as usize][0]),
            per_ip: Some(DEFAULT_LIMITS[c as usize][1]),
        };
        RateLimitConfig {
            enabled: true,
            max_tracked: 100_000,
            ingest: class(RouteClass::Ingest),
            query: class(RouteClass::Query),
            admin: class(RouteClass::Admin),
            auth: class(RouteClass::Auth),
            brute_force: BruteForceConfig::default(),
        }
    }
}

/// Configuration keys of the rates, `[class][subject][rate, burst]`.
const RATE_KEYS: [[[&str; 2]; 2]; 4] = [
    [
        [
            "rate_limits.ingest.per_key.rate",
            "rate_limits.ingest.per_key.burst",
        ],
        [
            "rate_limits.ingest.per_ip.rate",
            "rate_limits.ingest.per_ip.burst",
        ],
    ],
    [
        [
            "rate_limits.query.per_key.rate",
            "rate_limits.query.per_key.burst",
        ],
        [
            "rate_limits.query.per_ip.rate",
            "rate_limits.query.per_ip.burst",
        ],
    ],
    [
        [
            "rate_limits.admin.per_key.rate",
            "rate_limits.admin.per_key.burst",
        ],
        [
            "rate_limits.admin.per_ip.rate",
            "rate_limits.admin.per_ip.burst",
        ],
    ],
    [
        [
            "rate_limits.auth.per_key.rate",
            "rate_limits.auth.per_key.burst",
        ],
        [
            "rate_limits.auth.per_ip.rate",
            "rate_limits.auth.per_ip.burst",
        ],
    ],
];

fn invalid(key: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        message: message.into(),
    }
}

fn duration(key: &'static str, text: &str) -> Result<Duration, ConfigError> {
    let nanos = ward_model::time::parse_duration(text).map_err(|m| invalid(key, m))?;
    if nanos <= 0 {
        return Err(invalid(key, "must be > 0"));
    }
    Ok(Duration::from_nanos(nanos as u64))
}

impl RateLimitConfig {
    fn class(&self, class: RouteClass) -> &ClassLimits {
        match class {
            RouteClass::Ingest => &self.ingest,
            RouteClass::Query => &self.query,
            RouteClass::Admin => &self.admin,
            RouteClass::Auth => &self.auth,
        }
    }

    /// Checks the values and converts them into [`RateLimitSettings`]; errors name the key
    /// (`rate_limits.query.per_key.rate: must be > 0`).
    pub fn validate(&self) -> Result<RateLimitSettings, ConfigError> {
        let mut limits = [[Limit::UNLIMITED; 2]; 4];
        for class in RouteClass::ALL {
            let given = self.class(class);
            for kind in [SubjectKind::Key, SubjectKind::Ip] {
                let c = class as usize;
                let k = kind as usize;
                let config = match kind {
                    SubjectKind::Key => given.per_key,
                    SubjectKind::Ip => given.per_ip,
                }
                .unwrap_or(DEFAULT_LIMITS[c][k]);
                let [rate_key, burst_key] = RATE_KEYS[c][k];
                limits[c][k] = Limit::new(config, rate_key, burst_key)?;
            }
        }
        if self.max_tracked == 0 {
            return Err(invalid("rate_limits.max_tracked", "must be > 0"));
        }
        let b = &self.brute_force;
        let max_delay = duration("rate_limits.brute_force.max_delay", &b.max_delay)?;
        if max_delay > Duration::from_secs(60) {
            return Err(invalid(
                "rate_limits.brute_force.max_delay",
                "must be at most 60s (the client waits this long for its 401)",
            ));
        }
        let window = duration("rate_limits.brute_force.window", &b.window)?;
        let block_for = duration("rate_limits.brute_force.block_for", &b.block_for)?;
        let year = Duration::from_secs(366 * 86_400);
        if window > year || block_for > year {
            return Err(invalid(
                "rate_limits.brute_force.block_for",
                "window and block_for must be at most a year",
            ));
        }
        if b.failures_before_block == 0 {
            return Err(invalid(
                "rate_limits.brute_force.failures_before_block",
                "must be > 0",
            ));
        }
        Ok(RateLimitSettings {
            enabled: self.enabled,
            max_tracked: self.max_tracked,
            limits,
            brute_force: BruteForceSettings {
                failures_before_delay: b.failures_before_delay,
                max_delay,
                failures_before_block: b.failures_before_block,
                window,
                block_for,
            },
        })
    }
}

/// One validated rate in the units GCRA uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Requests at once.
    pub burst: u32,
    /// Time one request "costs": 1 / rate.
    pub interval: Duration,
    /// `burst × interval`: how far ahead of now the bucket may run.
    pub tolerance: Duration,
}

impl Limit {
    const UNLIMITED: Limit = Limit {
        burst: u32::MAX,
        interval: Duration::ZERO,
        tolerance: Duration::MAX,
    };

    fn new(
        config: RateConfig,
        rate_key: &'static str,
        burst_key: &'static str,
    ) -> Result<Limit, ConfigError> {
        if !config.rate.is_finite() || config.rate <= 0.0 {
            return Err(invalid(rate_key, "must be > 0"));
        }
        if !(0.001..=1_000_000.0).contains(&config.rate) {
            return Err(invalid(
                rate_key,
                "use 0.001 to 1000000 requests per second",
            ));
        }
        if config.burst == 0 {
            return Err(invalid(burst_key, "must be > 0"));
        }
        if config.burst > 10_000_000 {
            return Err(invalid(burst_key, "must be at most 10000000"));
        }
        // 1e3 ..= 1e12 ns by the range check above.
        let interval = Duration::from_nanos((1e9 / config.rate).round() as u64);
        let tolerance = interval
            .checked_mul(config.burst)
            .ok_or_else(|| invalid(burst_key, "burst / rate is too long"))?;
        Ok(Limit {
            burst: config.burst,
            interval,
            tolerance,
        })
    }

    /// The window of the `RateLimit-Policy`: the time a full burst takes to refill, at least a
    /// second, in whole seconds.
    pub fn window(&self) -> Duration {
        Duration::from_secs(ceil_secs(self.tolerance).max(1))
    }
}

/// Validated `[rate_limits]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitSettings {
    /// `rate_limits.enabled`.
    pub enabled: bool,
    /// `rate_limits.max_tracked`.
    pub max_tracked: usize,
    /// `[class][subject kind]`.
    pub limits: [[Limit; 2]; 4],
    /// `[rate_limits.brute_force]`.
    pub brute_force: BruteForceSettings,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        match RateLimitConfig::default().validate() {
            Ok(settings) => settings,
            // The defaults are valid (tested); this arm only keeps the code free of panics.
            Err(_) => RateLimitSettings {
                enabled: false,
                max_tracked: 1,
                limits: [[Limit::UNLIMITED; 2]; 4],
                brute_force: BruteForceSettings {
                    failures_before_delay: u32::MAX,
                    max_delay: Duration::ZERO,
                    failures_before_block: u32::MAX,
                    window: Duration::from_secs(1),
                    block_for: Duration::from_secs(1),
                },
            },
        }
    }
}

impl RateLimitSettings {
    /// The limit of `class` for subjects of `kind`.
    pub fn limit(&self, class: RouteClass, kind: SubjectKind) -> Limit {
        self.limits[class as usize][kind as usize]
    }
}

/// Validated `[rate_limits.brute_force]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BruteForceSettings {
    /// Failures answered without delay.
    pub failures_before_delay: u32,
    /// Longest delay.
    pub max_delay: Duration,
    /// Failures within `window` that block the source.
    pub failures_before_block: u32,
    /// Counting window, from the first failure.
    pub window: Duration,
    /// Block duration.
    pub block_for: Duration,
}

// ---------------------------------------------------------------------------------------------
// Subjects

/// Which limits apply to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteClass {
    /// OTLP/HTTP, OTLP/gRPC and JSON-lines ingest.
    Ingest = 0,
    /// Query API and live tail.
    Query = 1,
    /// Key administration.
    Admin = 2,
    /// Failed authentication attempts.
    Auth = 3,
}

impl RouteClass {
    /// Every class.
    pub const ALL: [RouteClass; 4] = [
        RouteClass::Ingest,
        RouteClass::Query,
        RouteClass::Admin,
        RouteClass::Auth,
    ];

    /// The name used in configuration and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            RouteClass::Ingest => "ingest",
            RouteClass::Query => "query",
            RouteClass::Admin => "admin",
            RouteClass::Auth => "auth",
        }
    }
}

/// Whether a subject is a key or an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubjectKind {
    /// [`LimitSubject::Key`].
    Key = 0,
    /// [`LimitSubject::Ip`].
    Ip = 1,
}

impl SubjectKind {
    /// `key` or `ip`, the metrics label.
    pub fn as_str(self) -> &'static str {
        match self {
            SubjectKind::Key => "key",
            SubjectKind::Ip => "ip",
        }
    }
}

/// Who a limit is counted for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LimitSubject {
    /// An API key, by its public id (never the secret).
    Key(String),
    /// A source address. IPv6 addresses count per /64 (one host usually owns the whole
    /// prefix); IPv4-mapped IPv6 addresses count as the IPv4 address.
    Ip(IpAddr),
}

impl LimitSubject {
    /// Key or address.
    pub fn kind(&self) -> SubjectKind {
        match self {
            LimitSubject::Key(_) => SubjectKind::Key,
            LimitSubject::Ip(_) => SubjectKind::Ip,
        }
    }
}

/// The address an IP is counted as: itself for IPv4, its /64 for IPv6.
fn ip_group(ip: IpAddr) -> (u8, u128) {
    match ip {
        IpAddr::V4(v4) => (4, u32::from(v4) as u128),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => (4, u32::from(v4) as u128),
            None => (6, u128::from(v6) & !((1u128 << 64) - 1)),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Sharded, bounded maps

/// The maps are keyed by a 64-bit keyed hash of the subject (random keys per process, so
/// collisions cannot be aimed at); this hasher passes it through.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Map<V> = HashMap<u64, V, BuildHasherDefault<Prehashed>>;

/// A map split into locks, each holding at most `capacity` entries.
struct Sharded<V> {
    shards: Box<[Mutex<Map<V>>]>,
    capacity: usize,
    hasher: std::collections::hash_map::RandomState,
}

impl<V> Sharded<V> {
    fn new(max_tracked: usize) -> Sharded<V> {
        let max_tracked = max_tracked.max(1);
        let shards = SHARDS.min(max_tracked);
        let capacity = max_tracked / shards;
        Sharded {
            shards: (0..shards)
                .map(|_| Mutex::new(Map::with_capacity_and_hasher(0, Default::default())))
                .collect(),
            capacity,
            hasher: Default::default(),
        }
    }

    fn hash(&self, value: impl Hash) -> u64 {
        self.hasher.hash_one(value)
    }

    fn shard(&self, hash: u64) -> MutexGuard<'_, Map<V>> {
        // The high bits pick the shard; the map uses all of them.
        let index = ((hash >> 32) as usize) % self.shards.len();
        // A poisoned lock only means another thread panicked mid-update of plain data.
        self.shards[index]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn len(&self) -> usize {
        (0..self.shards.len())
            .map(|i| {
                self.shards[i]
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .len()
            })
            .sum()
    }
}

/// Makes room in a full shard: drops entries `expires` says are worthless at `now`; if that
/// frees less than an eighth, also drops the eighth that expires soonest. Amortised O(1) per
/// insertion.
fn make_room<V>(map: &mut Map<V>, capacity: usize, now: Instant, expires: impl Fn(&V) -> Instant) {
    map.retain(|_, v| expires(v) > now);
    let target = capacity - capacity / 8 - 1;
    if map.len() > target {
        let mut times: Vec<Instant> = map.values().map(&expires).collect();
        let excess = map.len() - target;
        let (_, cutoff, _) = times.select_nth_unstable(excess - 1);
        let cutoff = *cutoff;
        let mut removed = 0;
        map.retain(|_, v| {
            if removed < excess && expires(v) <= cutoff {
                removed += 1;
                false
            } else {
                true
            }
        });
    }
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0))
}

// ---------------------------------------------------------------------------------------------
// Rate limiter

/// The answer of [`RateLimiter::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request may proceed.
    pub allowed: bool,
    /// The burst: requests allowed at once.
    pub limit: u32,
    /// Requests still allowed right now after this one.
    pub remaining: u32,
    /// Time until the quota is whole again.
    pub reset: Duration,
    /// When refused: time until one request is allowed again.
    pub retry_after: Option<Duration>,
    /// The policy window (`w=` of `RateLimit-Policy`): time to refill a whole burst.
    pub window: Duration,
}

impl Decision {
    /// Writes `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (seconds, rounded
    /// up), `RateLimit-Policy` (`<limit>;w=<seconds>`) and, when refused, `Retry-After`
    /// (seconds, at least 1).
    pub fn apply_headers(&self, headers: &mut HeaderMap) {
        headers.insert(RATELIMIT_LIMIT, HeaderValue::from(self.limit));
        headers.insert(RATELIMIT_REMAINING, HeaderValue::from(self.remaining));
        headers.insert(RATELIMIT_RESET, HeaderValue::from(ceil_secs(self.reset)));
        let policy = format!("{};w={}", self.limit, self.window.as_secs());
        if let Ok(value) = HeaderValue::from_str(&policy) {
            headers.insert(RATELIMIT_POLICY, value);
        }
        if let Some(wait) = self.retry_after {
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from(self.retry_after_secs(wait)),
            );
        }
    }

    fn retry_after_secs(&self, wait: Duration) -> u32 {
        u32::try_from(ceil_secs(wait).max(1)).unwrap_or(u32::MAX)
    }

    /// The 429 `application/problem+json` answer to a refused request, with the rate-limit
    /// headers and `Retry-After`.
    pub fn too_many_requests(&self) -> Response {
        let seconds = self.retry_after_secs(self.retry_after.unwrap_or(Duration::from_secs(1)));
        let mut response = Problem::retry_later(
            StatusCode::TOO_MANY_REQUESTS,
            format!("rate limit exceeded; retry in {seconds} s"),
            seconds,
        )
        .into_response();
        self.apply_headers(response.headers_mut());
        response
    }
}

struct LimiterInner {
    settings: RateLimitSettings,
    /// Theoretical arrival time (GCRA) per subject: the bucket is full once it is past.
    buckets: Sharded<Instant>,
}

/// Per-class, per-subject request rate limits. Cheap to clone; shared between threads.
#[derive(Clone)]
pub struct RateLimiter {
    inner: Arc<LimiterInner>,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

impl RateLimiter {
    /// A limiter with nothing counted yet.
    pub fn new(settings: &RateLimitSettings) -> RateLimiter {
        RateLimiter {
            inner: Arc::new(LimiterInner {
                settings: settings.clone(),
                buckets: Sharded::new(settings.max_tracked),
            }),
        }
    }

    /// Counts one request of `subject` on `class` at `now` and says whether it may proceed.
    /// A refused request is not counted. With `rate_limits.enabled = false` every request is
    /// allowed (the headers still describe the configured limit).
    pub fn check(&self, class: RouteClass, subject: &LimitSubject, now: Instant) -> Decision {
        let limit = self.inner.settings.limit(class, subject.kind());
        let window = limit.window();
        if !self.inner.settings.enabled {
            return Decision {
                allowed: true,
                limit: limit.burst,
                remaining: limit.burst,
                reset: Duration::ZERO,
                retry_after: None,
                window,
            };
        }
        let buckets = &self.inner.buckets;
        let hash = match subject {
            LimitSubject::Key(key) => buckets.hash((class, 0u8, key.as_str())),
            LimitSubject::Ip(ip) => buckets.hash((class, ip_group(*ip))),
        };
        let mut map = buckets.shard(hash);
        let tat = map.get(&hash).copied();
        let start = match tat {
            Some(t) if t > now => t,
            _ => now,
        };
        let Some(next) = start.checked_add(limit.interval) else {
            return Decision {
                allowed: false,
                limit: limit.burst,
                remaining: 0,
                reset: limit.tolerance,
                retry_after: Some(limit.interval),
                window,
            };
        };
        let ahead = next.saturating_duration_since(now);
        if ahead > limit.tolerance {
            return Decision {
                allowed: false,
                limit: limit.burst,
                remaining: 0,
                reset: start.saturating_duration_since(now),
                retry_after: Some(ahead - limit.tolerance),
                window,
            };
        }
        if tat.is_none() && map.len() >= buckets.capacity {
            make_room(&mut map, buckets.capacity, now, |t| *t);
        }
        map.insert(hash, next);
        drop(map);
        let spare = limit.tolerance - ahead;
        let remaining = if limit.interval.is_zero() {
            limit.burst
        } else {
            (spare.as_nanos() / limit.interval.as_nanos()).min(u128::from(limit.burst)) as u32
        };
        Decision {
            allowed: true,
            limit: limit.burst,
            remaining,
            reset: ahead,
            retry_after: None,
            window,
        }
    }

    /// Subjects currently remembered (at most `rate_limits.max_tracked`).
    pub fn tracked(&self) -> usize {
        self.inner.buckets.len()
    }

    /// The settings in force.
    pub fn settings(&self) -> &RateLimitSettings {
        &self.inner.settings
    }
}

// ---------------------------------------------------------------------------------------------
// Brute-force guard

/// What the caller of [`BruteForceGuard::record_failure`] does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureOutcome {
    /// How long to wait before answering 401 (zero for the first failures).
    pub delay: Duration,
    /// This failure blocked the source: raise a security event.
    pub newly_blocked: bool,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    window_start: Instant,
    blocked_until: Option<Instant>,
}

struct GuardInner {
    settings: BruteForceSettings,
    enabled: bool,
    sources: Sharded<Failures>,
}

/// Failed authentications per source address (IPv6 per /64): growing delays, then a block.
/// Cheap to clone; shared between threads.
#[derive(Clone)]
pub struct BruteForceGuard {
    inner: Arc<GuardInner>,
}

impl std::fmt::Debug for BruteForceGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BruteForceGuard")
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

impl BruteForceGuard {
    /// A guard with no failures recorded.
    pub fn new(settings: &RateLimitSettings) -> BruteForceGuard {
        BruteForceGuard {
            inner: Arc::new(GuardInner {
                settings: settings.brute_force.clone(),
                enabled: settings.enabled,
                sources: Sharded::new(settings.max_tracked),
            }),
        }
    }

    fn expires(&self, f: &Failures) -> Instant {
        let window_end = f
            .window_start
            .checked_add(self.inner.settings.window)
            .unwrap_or(f.window_start);
        match f.blocked_until {
            Some(until) if until > window_end => until,
            _ => window_end,
        }
    }

    fn key(&self, ip: IpAddr) -> u64 {
        self.inner.sources.hash(ip_group(ip))
    }

    /// The time left when `ip` is blocked; `None` when it may try.
    pub fn blocked(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        if !self.inner.enabled {
            return None;
        }
        let key = self.key(ip);
        let map = self.inner.sources.shard(key);
        match map.get(&key)?.blocked_until {
            Some(until) if until > now => Some(until - now),
            _ => None,
        }
    }

    /// Records a failed authentication from `ip`: the delay to apply before answering, and
    /// whether this failure blocked the source.
    pub fn record_failure(&self, ip: IpAddr, now: Instant) -> FailureOutcome {
        let settings = &self.inner.settings;
        if !self.inner.enabled {
            return FailureOutcome {
                delay: Duration::ZERO,
                newly_blocked: false,
            };
        }
        let key = self.key(ip);
        let sources = &self.inner.sources;
        let mut map = sources.shard(key);
        if !map.contains_key(&key) && map.len() >= sources.capacity {
            make_room(&mut map, sources.capacity, now, |f| self.expires(f));
        }
        let entry = map.entry(key).or_insert(Failures {
            count: 0,
            window_start: now,
            blocked_until: None,
        });
        if let Some(until) = entry.blocked_until {
            if until > now {
                entry.count = entry.count.saturating_add(1);
                return FailureOutcome {
                    delay: settings.max_delay,
                    newly_blocked: false,
                };
            }
            // The block is over: start afresh.
            *entry = Failures {
                count: 0,
                window_start: now,
                blocked_until: None,
            };
        }
        if self.expires(entry) <= now {
            entry.count = 0;
            entry.window_start = now;
        }
        entry.count = entry.count.saturating_add(1);
        let newly_blocked = entry.count >= settings.failures_before_block;
        if newly_blocked {
            entry.blocked_until = Some(now.checked_add(settings.block_for).unwrap_or(now));
        }
        FailureOutcome {
            delay: delay_after(entry.count, settings),
            newly_blocked,
        }
    }

    /// Records a successful authentication from `ip`: its failures are forgotten, so the next
    /// failure is not delayed; an active block stays.
    pub fn record_success(&self, ip: IpAddr) {
        let key = self.key(ip);
        let mut map = self.inner.sources.shard(key);
        if let Some(entry) = map.get_mut(&key) {
            if entry.blocked_until.is_some() {
                entry.count = 0;
            } else {
                map.remove(&key);
            }
        }
    }

    /// Sources blocked at `now` (for the `ward_auth_blocked_sources` gauge). Visits every
    /// entry: call it when a source is blocked or periodically, not per request.
    pub fn blocked_sources(&self, now: Instant) -> usize {
        let sources = &self.inner.sources;
        (0..sources.shards.len())
            .map(|i| {
                sources.shards[i]
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .values()
                    .filter(|f| f.blocked_until.is_some_and(|until| until > now))
                    .count()
            })
            .sum()
    }

    /// Sources currently remembered (at most `rate_limits.max_tracked`).
    pub fn tracked(&self) -> usize {
        self.inner.sources.len()
    }
}

/// No delay for the first `failures_before_delay` failures, then [`BASE_DELAY`] doubling per
/// failure, at most `max_delay`.
fn delay_after(count: u32, settings: &BruteForceSettings) -> Duration {
    if count <= settings.failures_before_delay {
        return Duration::ZERO;
    }
    let doublings = (count - settings.failures_before_delay - 1).min(30);
    BASE_DELAY
        .checked_mul(1u32 << doublings)
        .unwrap_or(settings.max_delay)
        .min(settings.max_delay)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn settings(toml_text: &str) -> RateLimitSettings {
        let config: RateLimitConfig = toml::from_str(toml_text).unwrap();
        config.validate().unwrap()
    }

    fn key(k: &str) -> LimitSubject {
        LimitSubject::Key(k.into())
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn defaults_are_valid_and_generous_for_ingest() {
        let s = RateLimitConfig::default().validate().unwrap();
        assert_eq!(s, RateLimitSettings::default());
        let ingest = s.limit(RouteClass::Ingest, SubjectKind::Key);
        assert_eq!(ingest.burst, 4000);
        assert_eq!(ingest.interval, Duration::from_micros(500));
        let query = s.limit(RouteClass::Query, SubjectKind::Key);
        assert_eq!((query.burst, query.window()), (100, Duration::from_secs(2)));
        assert_eq!(s.brute_force.max_delay, Duration::from_secs(5));
        assert_eq!(s.brute_force.block_for, Duration::from_secs(900));
    }

    #[test]
    fn the_defaults_survive_a_toml_round_trip() {
        let text = toml::to_string_pretty(&crate::config::Config::default()).unwrap();
        let back = crate::config::Config::from_toml(&text, |_| None).unwrap();
        assert_eq!(back.rate_limits, RateLimitConfig::default());
        assert_eq!(back.cors, crate::hardening::CorsConfig::default());
        assert_eq!(
            back.settings().unwrap().rate_limits,
            RateLimitSettings::default()
        );
    }

    #[test]
    fn a_partial_class_keeps_the_class_defaults() {
        let s = settings("[query]\nper_key = { rate = 5, burst = 7 }\n");
        assert_eq!(s.limit(RouteClass::Query, SubjectKind::Key).burst, 7);
        assert_eq!(s.limit(RouteClass::Query, SubjectKind::Ip).burst, 400);
        assert_eq!(s.limit(RouteClass::Ingest, SubjectKind::Key).burst, 4000);
    }

    #[test]
    fn invalid_values_name_the_key() {
        let err = |text: &str| {
            toml::from_str::<RateLimitConfig>(text)
                .unwrap()
                .validate()
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err("[query]\nper_key = { rate = 0, burst = 5 }\n"),
            "rate_limits.query.per_key.rate: must be > 0"
        );
        assert_eq!(
            err("[auth]\nper_ip = { rate = 1, burst = 0 }\n"),
            "rate_limits.auth.per_ip.burst: must be > 0"
        );
        assert!(
            err("[ingest]\nper_ip = { rate = nan, burst = 1 }\n")
                .starts_with("rate_limits.ingest.per_ip.rate")
        );
        assert!(err("max_tracked = 0\n").starts_with("rate_limits.max_tracked"));
        assert!(
            err("[brute_force]\nwindow = \"soon\"\n").starts_with("rate_limits.brute_force.window")
        );
        assert!(toml::from_str::<RateLimitConfig>("[query]\nper_key = { rate = 1 }\n").is_err());
        assert!(toml::from_str::<RateLimitConfig>("bogus = 1\n").is_err());
    }

    #[test]
    fn burst_then_refusal_then_refill() {
        let s = settings("[query]\nper_key = { rate = 10, burst = 5 }\n");
        let limiter = RateLimiter::new(&s);
        let t0 = Instant::now();
        let k = key("k1");
        for i in 0..5 {
            let d = limiter.check(RouteClass::Query, &k, t0);
            assert!(d.allowed, "request {i}");
            assert_eq!(d.remaining, 4 - i);
            assert_eq!(d.limit, 5);
        }
        let refused = limiter.check(RouteClass::Query, &k, t0);
        assert!(!refused.allowed);
        assert_eq!(refused.remaining, 0);
        assert_eq!(refused.retry_after, Some(ms(100)));
        assert_eq!(refused.reset, ms(500));
        // Another key and another class are counted apart.
        assert!(limiter.check(RouteClass::Query, &key("k2"), t0).allowed);
        assert!(limiter.check(RouteClass::Admin, &k, t0).allowed);
        // 99 ms later still nothing; at 100 ms exactly one more.
        assert!(!limiter.check(RouteClass::Query, &k, t0 + ms(99)).allowed);
        let d = limiter.check(RouteClass::Query, &k, t0 + ms(100));
        assert!(d.allowed);
        assert_eq!(d.remaining, 0);
        assert!(!limiter.check(RouteClass::Query, &k, t0 + ms(100)).allowed);
        // After a full refill period, the whole burst again.
        let later = t0 + ms(1000);
        for _ in 0..5 {
            assert!(limiter.check(RouteClass::Query, &k, later).allowed);
        }
        assert!(!limiter.check(RouteClass::Query, &k, later).allowed);
    }

    #[test]
    fn sustained_rate_is_the_configured_rate() {
        let s = settings("[ingest]\nper_key = { rate = 100, burst = 10 }\n");
        let limiter = RateLimiter::new(&s);
        let t0 = Instant::now();
        let k = key("busy");
        let mut allowed = 0;
        // One attempt per millisecond for 10 s: 10 (burst) + 100/s × 10 s.
        for i in 0..10_000u64 {
            if limiter.check(RouteClass::Ingest, &k, t0 + ms(i)).allowed {
                allowed += 1;
            }
        }
        assert!((1005..=1011).contains(&allowed), "{allowed}");
    }

    #[test]
    fn disabled_allows_everything() {
        let s = settings("enabled = false\n[query]\nper_key = { rate = 1, burst = 1 }\n");
        let limiter = RateLimiter::new(&s);
        let t0 = Instant::now();
        for _ in 0..10 {
            assert!(limiter.check(RouteClass::Query, &key("k"), t0).allowed);
        }
        let guard = BruteForceGuard::new(&s);
        for _ in 0..100 {
            assert!(
                !guard
                    .record_failure(Ipv4Addr::LOCALHOST.into(), t0)
                    .newly_blocked
            );
        }
        assert_eq!(guard.blocked(Ipv4Addr::LOCALHOST.into(), t0), None);
    }

    #[test]
    fn headers_follow_the_draft() {
        let s = settings("[query]\nper_key = { rate = 50, burst = 100 }\n");
        let limiter = RateLimiter::new(&s);
        let t0 = Instant::now();
        let k = key("k");
        let d = limiter.check(RouteClass::Query, &k, t0);
        let mut headers = HeaderMap::new();
        d.apply_headers(&mut headers);
        assert_eq!(headers["ratelimit-limit"], "100");
        assert_eq!(headers["ratelimit-remaining"], "99");
        assert_eq!(headers["ratelimit-reset"], "1"); // 20 ms, rounded up
        assert_eq!(headers["ratelimit-policy"], "100;w=2");
        assert!(!headers.contains_key("retry-after"));
        for _ in 0..99 {
            limiter.check(RouteClass::Query, &k, t0);
        }
        let refused = limiter.check(RouteClass::Query, &k, t0);
        assert!(!refused.allowed);
        let response = refused.too_many_requests();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        let h = response.headers();
        assert_eq!(h["content-type"], "application/problem+json");
        assert_eq!(h["retry-after"], "1");
        assert_eq!(h["ratelimit-remaining"], "0");
        assert_eq!(h["ratelimit-reset"], "2");
        assert_eq!(h["ratelimit-limit"], "100");
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let s = settings("[query]\nper_ip = { rate = 1, burst = 2 }\n");
        let limiter = RateLimiter::new(&s);
        let t0 = Instant::now();
        let ip = |s: &str| LimitSubject::Ip(s.parse().unwrap());
        assert!(
            limiter
                .check(RouteClass::Query, &ip("2001:db8:1:2::1"), t0)
                .allowed
        );
        assert!(
            limiter
                .check(RouteClass::Query, &ip("2001:db8:1:2:ffff::9"), t0)
                .allowed
        );
        assert!(
            !limiter
                .check(RouteClass::Query, &ip("2001:db8:1:2::77"), t0)
                .allowed
        );
        assert!(
            limiter
                .check(RouteClass::Query, &ip("2001:db8:1:3::1"), t0)
                .allowed
        );
        assert!(
            limiter
                .check(RouteClass::Query, &ip("192.0.2.1"), t0)
                .allowed
        );
        assert!(
            limiter
                .check(RouteClass::Query, &ip("::ffff:192.0.2.1"), t0)
                .allowed
        );
        assert!(
            !limiter
                .check(RouteClass::Query, &ip("192.0.2.1"), t0)
                .allowed
        );
        assert!(
            limiter
                .check(RouteClass::Query, &ip("192.0.2.2"), t0)
                .allowed
        );
        // A key that spells an address is not that address.
        assert!(
            limiter
                .check(RouteClass::Query, &key("192.0.2.1"), t0)
                .allowed
        );
    }

    #[test]
    fn maps_stay_bounded() {
        let s = settings("max_tracked = 1000\n[ingest]\nper_ip = { rate = 1, burst = 3 }\n");
        let limiter = RateLimiter::new(&s);
        let guard = BruteForceGuard::new(&s);
        let t0 = Instant::now();
        for i in 0..10_000u32 {
            let ip = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
            // Same instant: nothing has refilled, so eviction has to drop live entries. The
            // address comes last, so no later insertion can evict the last one checked below.
            limiter.check(RouteClass::Ingest, &key(&format!("key-{i}")), t0);
            limiter.check(RouteClass::Ingest, &LimitSubject::Ip(ip), t0);
            guard.record_failure(ip, t0);
            assert!(limiter.tracked() <= 1000);
            assert!(guard.tracked() <= 1000);
        }
        assert!(limiter.tracked() >= 500, "{}", limiter.tracked());
        assert!(guard.tracked() >= 500, "{}", guard.tracked());
        // The most recent subject is still counted.
        let last = LimitSubject::Ip(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + 9_999)));
        assert_eq!(limiter.check(RouteClass::Ingest, &last, t0).remaining, 1);
    }

    #[test]
    fn eviction_prefers_full_buckets() {
        let s = settings("max_tracked = 160\n[query]\nper_key = { rate = 1, burst = 2 }\n");
        let limiter = RateLimiter::new(&s);
        let t0 = Instant::now();
        let later = t0 + Duration::from_secs(100);
        for i in 0..2000 {
            limiter.check(RouteClass::Query, &key(&format!("old-{i}")), t0);
        }
        let hot = key("hot");
        assert!(limiter.check(RouteClass::Query, &hot, later).allowed);
        assert!(limiter.check(RouteClass::Query, &hot, later).allowed);
        for i in 0..2000 {
            limiter.check(RouteClass::Query, &key(&format!("new-{i}")), later);
            assert!(limiter.tracked() <= 160);
        }
        // The old buckets were full again and went first; then the ones refilling soonest.
        // "hot" is still empty.
        assert!(!limiter.check(RouteClass::Query, &hot, later).allowed);
    }

    fn guard(text: &str) -> BruteForceGuard {
        BruteForceGuard::new(&settings(text))
    }

    #[test]
    fn delays_grow_exponentially_up_to_the_maximum() {
        let g = guard("[brute_force]\nfailures_before_delay = 2\nmax_delay = \"1s\"\n");
        let ip: IpAddr = Ipv4Addr::new(198, 51, 100, 7).into();
        let t0 = Instant::now();
        let delays: Vec<Duration> = (0..9)
            .map(|i| g.record_failure(ip, t0 + ms(i)).delay)
            .collect();
        assert_eq!(
            delays,
            [0, 0, 100, 200, 400, 800, 1000, 1000, 1000]
                .map(ms)
                .to_vec()
        );
        // Another address is not slowed down.
        assert_eq!(
            g.record_failure(Ipv4Addr::new(198, 51, 100, 8).into(), t0)
                .delay,
            Duration::ZERO
        );
    }

    #[test]
    fn blocks_after_n_failures_until_expiry() {
        let g = guard(
            "[brute_force]\nfailures_before_block = 4\nwindow = \"1m\"\nblock_for = \"15m\"\n",
        );
        let ip: IpAddr = "2001:db8::1".parse().unwrap();
        let neighbour: IpAddr = "2001:db8::2".parse().unwrap();
        let t0 = Instant::now();
        for i in 0..3 {
            assert!(!g.record_failure(ip, t0 + ms(i)).newly_blocked);
            assert_eq!(g.blocked(ip, t0 + ms(i)), None);
        }
        let outcome = g.record_failure(neighbour, t0 + ms(10));
        assert!(outcome.newly_blocked, "the /64 is one source");
        assert_eq!(g.blocked(ip, t0 + ms(10)), Some(Duration::from_secs(900)));
        assert_eq!(g.blocked_sources(t0 + ms(10)), 1);
        // Further failures while blocked do not block "again".
        let again = g.record_failure(ip, t0 + ms(20));
        assert!(!again.newly_blocked);
        assert_eq!(again.delay, Duration::from_secs(5));
        // Success does not lift a block.
        g.record_success(ip);
        assert!(g.blocked(ip, t0 + ms(30)).is_some());
        // Expiry.
        let after = t0 + ms(10) + Duration::from_secs(900);
        assert_eq!(g.blocked(ip, after), None);
        assert_eq!(g.blocked_sources(after), 0);
        assert!(!g.record_failure(ip, after).newly_blocked);
        assert_eq!(g.record_failure(ip, after).delay, Duration::ZERO);
    }

    #[test]
    fn failures_outside_the_window_do_not_add_up() {
        let g = guard("[brute_force]\nfailures_before_block = 3\nwindow = \"10s\"\n");
        let ip: IpAddr = Ipv4Addr::new(203, 0, 113, 1).into();
        let t0 = Instant::now();
        g.record_failure(ip, t0);
        g.record_failure(ip, t0 + Duration::from_secs(5));
        // The window (from the first failure) is over: counting restarts.
        assert!(
            !g.record_failure(ip, t0 + Duration::from_secs(11))
                .newly_blocked
        );
        assert!(
            !g.record_failure(ip, t0 + Duration::from_secs(12))
                .newly_blocked
        );
        assert!(
            g.record_failure(ip, t0 + Duration::from_secs(13))
                .newly_blocked
        );
    }

    #[test]
    fn success_resets_the_delay() {
        let g = guard("[brute_force]\nfailures_before_delay = 1\n");
        let ip: IpAddr = Ipv6Addr::LOCALHOST.into();
        let t0 = Instant::now();
        g.record_failure(ip, t0);
        assert_eq!(g.record_failure(ip, t0).delay, ms(100));
        assert_eq!(g.record_failure(ip, t0).delay, ms(200));
        g.record_success(ip);
        assert_eq!(g.tracked(), 0);
        assert_eq!(g.record_failure(ip, t0).delay, Duration::ZERO);
        assert_eq!(g.record_failure(ip, t0).delay, ms(100));
    }

    #[test]
    fn limiter_and_guard_are_shared_between_threads() {
        fn assert_send_sync<T: Send + Sync + Clone>() {}
        assert_send_sync::<RateLimiter>();
        assert_send_sync::<BruteForceGuard>();
        let s = settings("[ingest]\nper_key = { rate = 1, burst = 1000 }\n");
        let limiter = RateLimiter::new(&s);
        let t0 = Instant::now();
        let allowed: usize = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    let limiter = limiter.clone();
                    scope.spawn(move || {
                        (0..500)
                            .filter(|_| {
                                limiter
                                    .check(RouteClass::Ingest, &key("shared"), t0)
                                    .allowed
                            })
                            .count()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
        });
        assert_eq!(allowed, 1000);
    }
}
