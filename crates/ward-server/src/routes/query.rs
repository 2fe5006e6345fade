//! The query API: logs, one trace, trace search and services. Handlers only translate HTTP
//! parameters into store queries and store results into views.

use axum::Extension;
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use ward_model::filter::{CmpOp, Condition, Filter, Signal};
use ward_model::time::{NANOS_PER_SEC, now_unix_nanos, parse_duration, parse_instant};
use ward_model::{Severity, StatusCode, TraceId};
use ward_store::{LogQuery, ServiceSummary, TraceQuery, TraceSummary};

use crate::AppState;
use crate::auth::Principal;
use crate::problem::{Path, Problem, Query};
use crate::routes::views::{LogView, TraceView, build_trace};

/// Page size when none is asked for.
pub const DEFAULT_LIMIT: usize = 100;
/// Largest page.
pub const MAX_LIMIT: usize = 1000;
/// Range searched when `from` is not given.
pub const DEFAULT_LOOKBACK_NANOS: i64 = 24 * 3600 * NANOS_PER_SEC;

/// Parameters of `GET /api/v1/logs` (and, for `q`, `service` and `level`, the live tail).
#[derive(Debug, Default, Deserialize)]
pub struct LogParams {
    /// Filter text, e.g. `service:planner level>=warn "timeout"`.
    pub q: Option<String>,
    /// Start of the range (RFC 3339, Unix time, or a duration ago such as `1h`); default 24h ago.
    pub from: Option<String>,
    /// End of the range (exclusive); default now plus the accepted clock skew.
    pub to: Option<String>,
    /// Page size, 1–1000, default 100.
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Only this service.
    pub service: Option<String>,
    /// Minimum level.
    pub level: Option<String>,
    /// Only this trace.
    pub trace_id: Option<String>,
}

/// Answer of `GET /api/v1/logs`.
#[derive(Debug, Serialize)]
pub struct LogsPage {
    /// Newest first.
    pub logs: Vec<LogView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

pub(crate) fn parse_filter(q: Option<&str>, signal: Signal) -> Result<Filter, Problem> {
    let filter =
        Filter::parse(q.unwrap_or("")).map_err(|e| Problem::bad_request(format!("q: {e}")))?;
    filter
        .check_for(signal)
        .map_err(|e| Problem::bad_request(format!("q: {e}")))?;
    Ok(filter)
}

/// Adds the convenience parameters shared by the logs query and the tail to a filter.
pub(crate) fn log_filter(params: &LogParams) -> Result<Filter, Problem> {
    let mut filter = parse_filter(params.q.as_deref(), Signal::Logs)?;
    if let Some(service) = &params.service {
        filter = filter.and(Condition::Service {
            op: CmpOp::Eq,
            name: service.clone(),
        });
    }
    if let Some(level) = &params.level {
        let level: Severity = level
            .parse()
            .map_err(|e: String| Problem::bad_request(format!("level: {e}")))?;
        filter = filter.and(Condition::Level {
            op: CmpOp::Ge,
            level,
        });
    }
    if let Some(id) = &params.trace_id {
        let id: TraceId = id
            .parse()
            .map_err(|e| Problem::bad_request(format!("trace_id: {e}")))?;
        filter = filter.and(Condition::TraceId(id));
    }
    Ok(filter)
}

fn time_range(
    state: &AppState,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<(i64, i64), Problem> {
    let now = now_unix_nanos();
    period(
        from,
        to,
        now,
        now - DEFAULT_LOOKBACK_NANOS,
        now.saturating_add(state.settings.max_future_nanos)
            .saturating_add(1),
    )
}

/// `[from, to)` from a request's `from` and `to` parameters (each an instant as
/// [`parse_instant`] reads it, relative to `now`), with the given defaults when absent.
pub(crate) fn period(
    from: Option<&str>,
    to: Option<&str>,
    now: i64,
    default_from: i64,
    default_to: i64,
) -> Result<(i64, i64), Problem> {
    let parse = |name: &str, s: &str| {
        parse_instant(s, now).map_err(|e| Problem::bad_request(format!("{name}: {e}")))
    };
    let from = from
        .map(|s| parse("from", s))
        .transpose()?
        .unwrap_or(default_from);
    let to = to
        .map(|s| parse("to", s))
        .transpose()?
        .unwrap_or(default_to);
    if from >= to {
        return Err(Problem::bad_request("from must be before to"));
    }
    Ok((from, to))
}

pub(crate) fn limit(requested: Option<usize>) -> Result<usize, Problem> {
    match requested {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(n) => Err(Problem::bad_request(format!(
            "limit {n} is out of range: use 1 to {MAX_LIMIT}"
        ))),
    }
}

/// `GET /api/v1/logs`.
pub async fn logs(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(params): Query<LogParams>,
) -> Result<Json<LogsPage>, Problem> {
    let filter = log_filter(&params)?;
    let (from, to) = time_range(&state, params.from.as_deref(), params.to.as_deref())?;
    let page = state
        .store
        .query_logs(LogQuery {
            tenant: principal.tenant,
            filter,
            from_unix_nano: from,
            to_unix_nano: to,
            limit: limit(params.limit)?,
            cursor: params.cursor,
        })
        .await?;
    Ok(Json(LogsPage {
        logs: page.items.into_iter().map(LogView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// `GET /api/v1/traces/{trace_id}`.
pub async fn trace(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(trace_id): Path<String>,
) -> Result<Json<TraceView>, Problem> {
    let id: TraceId = trace_id
        .parse()
        .map_err(|e| Problem::bad_request(format!("trace id: {e}")))?;
    let spans = state.store.get_trace(&principal.tenant, id).await?;
    if spans.is_empty() {
        return Err(Problem::not_found(format!("no trace {id}")));
    }
    Ok(Json(build_trace(id, spans)))
}

/// Parameters of `GET /api/v1/traces`.
#[derive(Debug, Default, Deserialize)]
pub struct TraceParams {
    /// Filter text over spans, e.g. `service:api name:"POST /chat" duration>2s status:error`.
    pub q: Option<String>,
    /// Only traces with a span of this service.
    pub service: Option<String>,
    /// Only traces with a span of this name.
    pub operation: Option<String>,
    /// Only traces with a span at least this long (`500ms`, `2s`).
    pub min_duration: Option<String>,
    /// `ok`, `error` or `unset`.
    pub status: Option<String>,
    /// Start of the range; default 24h ago.
    pub from: Option<String>,
    /// End of the range (exclusive).
    pub to: Option<String>,
    /// Page size, 1–1000, default 100.
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Answer of `GET /api/v1/traces`.
#[derive(Debug, Serialize)]
pub struct TracesPage {
    /// Newest first.
    pub traces: Vec<TraceSummary>,
    /// Pass as `cursor` for the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `GET /api/v1/traces`.
pub async fn search_traces(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(params): Query<TraceParams>,
) -> Result<Json<TracesPage>, Problem> {
    let mut filter = parse_filter(params.q.as_deref(), Signal::Traces)?;
    if let Some(service) = params.service {
        filter = filter.and(Condition::Service {
            op: CmpOp::Eq,
            name: service,
        });
    }
    if let Some(name) = params.operation {
        filter = filter.and(Condition::Name {
            op: CmpOp::Eq,
            name,
        });
    }
    if let Some(d) = params.min_duration {
        let nanos =
            parse_duration(&d).map_err(|e| Problem::bad_request(format!("min_duration: {e}")))?;
        filter = filter.and(Condition::Duration {
            op: CmpOp::Ge,
            nanos,
        });
    }
    if let Some(status) = params.status {
        let code = match status.to_ascii_lowercase().as_str() {
            "ok" => StatusCode::Ok,
            "error" => StatusCode::Error,
            "unset" => StatusCode::Unset,
            _ => {
                return Err(Problem::bad_request(format!(
                    "status {status:?}: use ok, error or unset"
                )));
            }
        };
        filter = filter.and(Condition::Status(code));
    }
    let (from, to) = time_range(&state, params.from.as_deref(), params.to.as_deref())?;
    let page = state
        .store
        .search_traces(TraceQuery {
            tenant: principal.tenant,
            filter,
            from_unix_nano: from,
            to_unix_nano: to,
            limit: limit(params.limit)?,
            cursor: params.cursor,
        })
        .await?;
    Ok(Json(TracesPage {
        traces: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// Parameters of `GET /api/v1/services`.
#[derive(Debug, Default, Deserialize)]
pub struct RangeParams {
    /// Start of the range; default 24h ago.
    pub from: Option<String>,
    /// End of the range.
    pub to: Option<String>,
}

/// Answer of `GET /api/v1/services`.
#[derive(Debug, Serialize)]
pub struct ServicesReply {
    /// Sorted by name.
    pub services: Vec<ServiceSummary>,
}

/// `GET /api/v1/services`.
pub async fn services(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(params): Query<RangeParams>,
) -> Result<Json<ServicesReply>, Problem> {
    let (from, to) = time_range(&state, params.from.as_deref(), params.to.as_deref())?;
    let services = state.store.services(&principal.tenant, from, to).await?;
    Ok(Json(ServicesReply { services }))
}

/// Parameters of `GET /api/v1/security/events`.
#[derive(Debug, Default, Deserialize)]
pub struct SecurityParams {
    /// Only this kind, e.g. `credential_in_telemetry`.
    pub kind: Option<String>,
    /// Only events at least this severe: `low`, `medium`, `high`, `critical`.
    pub min_severity: Option<String>,
    /// Start of the range; default 24h ago.
    pub from: Option<String>,
    /// End of the range (exclusive).
    pub to: Option<String>,
    /// Page size, 1–1000, default 100.
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Answer of `GET /api/v1/security/events`.
#[derive(Debug, Serialize)]
pub struct SecurityEventsPage {
    /// Newest first.
    pub events: Vec<SecurityEventView>,
    /// Pass as `cursor` for the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// One security event as the API shows it.
#[derive(Debug, Serialize)]
pub struct SecurityEventView {
    /// RFC 3339 time.
    pub time: String,
    /// Unix nanoseconds.
    pub time_unix_nano: i64,
    /// What happened.
    pub kind: String,
    /// `low` … `critical`.
    pub severity: ward_model::SecuritySeverity,
    /// Service involved, if any.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service: String,
    /// One sentence.
    pub message: String,
    /// Structured facts.
    pub details: ward_model::Attributes,
}

/// `GET /api/v1/security/events`.
pub async fn security_events(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(params): Query<SecurityParams>,
) -> Result<Json<SecurityEventsPage>, Problem> {
    let min_severity = params
        .min_severity
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|e: String| Problem::bad_request(format!("min_severity: {e}")))?;
    let (from, to) = time_range(&state, params.from.as_deref(), params.to.as_deref())?;
    let page = state
        .store
        .security_events(ward_store::SecurityEventQuery {
            tenant: principal.tenant,
            from_unix_nano: from,
            to_unix_nano: to,
            kind: params.kind,
            min_severity,
            limit: limit(params.limit)?,
            cursor: params.cursor,
        })
        .await?;
    Ok(Json(SecurityEventsPage {
        events: page
            .items
            .into_iter()
            .map(|e| SecurityEventView {
                time: ward_model::time::format_rfc3339(e.time_unix_nano),
                time_unix_nano: e.time_unix_nano,
                kind: e.kind,
                severity: e.severity,
                service: e.service,
                message: e.message,
                details: e.details,
            })
            .collect(),
        next_cursor: page.next_cursor,
    }))
}
