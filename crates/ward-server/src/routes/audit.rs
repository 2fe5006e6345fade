//! `/api/v1/audit`: append, query, export, verify, erase, report, and the public key.
//! Handlers translate HTTP to calls on [`crate::audit::AuditTrail`] and its store.

use axum::Json;
use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use ward_audit::{Field, Kind, Outcome, Verdict};
use ward_model::time::{format_rfc3339, now_unix_nanos, parse_instant};
use ward_store::audit::{
    Appended, AuditDraft, AuditQuery, AuditRecord, AuditReport, Erasure, SeqRange, integrity_line,
};

use crate::AppState;
use crate::auth::Principal;
use crate::problem::{JsonBody, Problem, Query};

/// Longest agent, action, user or trace id, in bytes.
const MAX_NAME: usize = 256;
/// Longest resource, in bytes.
const MAX_RESOURCE: usize = 2048;
/// Export lines sent per chunk of the streamed body.
const EXPORT_CHUNK_LINES: usize = 512;

/// One entry of `POST /api/v1/audit`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewEntry {
    agent: String,
    action: String,
    resource: String,
    outcome: String,
    #[serde(default)]
    on_behalf_of: Option<String>,
    #[serde(default)]
    trace_id: Option<String>,
    #[serde(default)]
    details: Option<Value>,
    #[serde(default)]
    time: Option<String>,
}

/// The answer to `POST /api/v1/audit`.
#[derive(Debug, Serialize)]
pub struct AppendedEntries {
    entries: Vec<Appended>,
}

fn text(field: &str, value: String, max: usize) -> Result<String, String> {
    if value.is_empty() {
        return Err(format!("{field} must not be empty"));
    }
    if value.len() > max {
        return Err(format!("{field} is longer than {max} bytes"));
    }
    if value.chars().any(char::is_control) {
        return Err(format!("{field} contains control characters"));
    }
    Ok(value)
}

impl NewEntry {
    fn into_draft(self, now: i64) -> Result<AuditDraft, String> {
        let outcome = Outcome::parse(&self.outcome).map_err(|e| format!("outcome: {e}"))?;
        let mut details = match self.details {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m,
            Some(_) => return Err("details must be a JSON object".into()),
        };
        if let Some(time) = self.time {
            let t = parse_instant(&time, now).map_err(|e| format!("time: {e}"))?;
            if details
                .insert("occurred_at".into(), Value::String(format_rfc3339(t)))
                .is_some()
            {
                return Err("details.occurred_at is set by `time`; pass only one".into());
            }
        }
        let trace_id = match self.trace_id {
            None => None,
            Some(t) if t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Some(t.to_ascii_lowercase())
            }
            Some(_) => return Err("trace_id must be 32 hex digits".into()),
        };
        Ok(AuditDraft {
            system: false,
            agent: text("agent", self.agent, MAX_NAME)?,
            on_behalf_of: self
                .on_behalf_of
                .map(|u| text("on_behalf_of", u, MAX_NAME))
                .transpose()?,
            action: text("action", self.action, MAX_NAME)?,
            resource: text("resource", self.resource, MAX_RESOURCE)?,
            outcome,
            trace_id,
            details,
        })
    }
}

/// `POST /api/v1/audit`: one entry (an object) or several (an array), appended in order and
/// answered once durable.
pub async fn append(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    JsonBody(body): JsonBody<Value>,
) -> Result<(StatusCode, Json<AppendedEntries>), Problem> {
    let (items, batch) = match body {
        Value::Array(items) => (items, true),
        object @ Value::Object(_) => (vec![object], false),
        _ => {
            return Err(Problem::bad_request(
                "send one entry (a JSON object) or several (an array of objects)",
            ));
        }
    };
    let max = state.audit.settings().max_batch;
    if items.is_empty() {
        return Err(Problem::bad_request("the array holds no entries"));
    }
    if items.len() > max {
        return Err(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "{} entries in one request; at most {max} (audit.max_batch)",
                items.len()
            ),
        ));
    }
    let now = now_unix_nanos();
    let mut drafts = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let at = |e: String| {
            Problem::bad_request(if batch {
                format!("entries[{i}]: {e}")
            } else {
                e
            })
        };
        let entry: NewEntry = serde_json::from_value(item).map_err(|e| at(e.to_string()))?;
        drafts.push(entry.into_draft(now).map_err(at)?);
    }
    let entries = state.audit.append(principal.tenant, drafts).await?;
    Ok((StatusCode::CREATED, Json(AppendedEntries { entries })))
}

/// Query parameters of `GET /api/v1/audit`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    agent: Option<String>,
    user: Option<String>,
    action: Option<String>,
    resource: Option<String>,
    outcome: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

/// The period `[from, to)`; unlike telemetry queries, the default is the whole trail.
fn period(from: Option<&str>, to: Option<&str>) -> Result<(i64, i64), Problem> {
    super::query::period(from, to, now_unix_nanos(), 0, i64::MAX)
}

/// An entry as the API shows it.
#[derive(Debug, Serialize)]
pub struct AuditEntryView {
    seq: u64,
    time: String,
    time_unix_nano: i64,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    through_seq: Option<u64>,
    agent: String,
    on_behalf_of: Option<String>,
    action: String,
    resource: Option<String>,
    outcome: &'static str,
    trace_id: Option<String>,
    details: Value,
    erased: bool,
    hash: String,
    prev_hash: String,
}

impl From<AuditRecord> for AuditEntryView {
    fn from(r: AuditRecord) -> Self {
        let e = r.entry;
        let (kind, through_seq) = match e.kind {
            Kind::Agent => ("agent", None),
            Kind::System => ("system", None),
            Kind::Prune { through_seq, .. } => ("prune", Some(through_seq)),
        };
        AuditEntryView {
            seq: e.seq,
            time: format_rfc3339(e.time_unix_nano),
            time_unix_nano: e.time_unix_nano,
            kind,
            through_seq,
            agent: e.actor.agent,
            on_behalf_of: r.on_behalf_of,
            action: e.action,
            resource: match e.resource {
                Field::Plain(text) => Some(text),
                Field::Sealed { .. } => None,
            },
            outcome: e.outcome.as_str(),
            trace_id: e.trace_id,
            details: r.details,
            erased: r.erased,
            hash: hex::encode(e.hash),
            prev_hash: hex::encode(e.prev_hash),
        }
    }
}

/// A page of `GET /api/v1/audit`.
#[derive(Debug, Serialize)]
pub struct AuditPage {
    entries: Vec<AuditEntryView>,
    next_cursor: Option<String>,
}

/// `GET /api/v1/audit`: entries newest first, filtered.
pub async fn query(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(params): Query<AuditParams>,
) -> Result<Json<AuditPage>, Problem> {
    let (from, to) = period(params.from.as_deref(), params.to.as_deref())?;
    let outcome = params
        .outcome
        .as_deref()
        .map(Outcome::parse)
        .transpose()
        .map_err(|e| Problem::bad_request(format!("outcome: {e}")))?;
    let page = state
        .audit
        .store()
        .query(AuditQuery {
            tenant: principal.tenant,
            agent: params.agent,
            user: params.user,
            action: params.action,
            resource: params.resource,
            outcome,
            from_unix_nano: from,
            to_unix_nano: to,
            limit: super::query::limit(params.limit)?,
            cursor: params.cursor,
        })
        .await?;
    Ok(Json(AuditPage {
        entries: page.items.into_iter().map(AuditEntryView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Query parameters of `GET /api/v1/audit/export`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportParams {
    from: Option<String>,
    to: Option<String>,
    from_seq: Option<u64>,
    to_seq: Option<u64>,
}

/// `GET /api/v1/audit/export`: JSON lines (entries and their checkpoints), streamed.
pub async fn export(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(params): Query<ExportParams>,
) -> Result<Response, Problem> {
    let tenant = principal.tenant;
    let mut range = SeqRange {
        from: params.from_seq.unwrap_or(0),
        to: params.to_seq.unwrap_or(SeqRange::ALL.to),
    };
    if range.from > range.to {
        return Err(Problem::bad_request("from_seq must not be after to_seq"));
    }
    if params.from.is_some() || params.to.is_some() {
        let (from, to) = period(params.from.as_deref(), params.to.as_deref())?;
        let t = tenant.clone();
        let in_period = state
            .audit
            .store()
            .read(move |r| r.seq_range(&t, from, to))
            .await?;
        // Both bounds apply; an empty intersection exports nothing.
        range = match in_period {
            Some(r) => SeqRange {
                from: range.from.max(r.from),
                to: range.to.min(r.to),
            },
            None => SeqRange { from: 1, to: 0 },
        };
    }
    let reader = state.audit.store().reader()?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(8);
    tokio::task::spawn_blocking(move || {
        let mut chunk = String::new();
        let mut lines = 0;
        let result = reader.lines(
            &tenant,
            range,
            |line| -> Result<(), ward_store::StoreError> {
                chunk.push_str(&line.to_json());
                chunk.push('\n');
                lines += 1;
                if lines == EXPORT_CHUNK_LINES {
                    lines = 0;
                    let bytes = Bytes::from(std::mem::take(&mut chunk));
                    // A closed channel means the client went away: stop reading.
                    tx.blocking_send(Ok(bytes))
                        .map_err(|_| ward_store::StoreError::ShuttingDown)?;
                }
                Ok(())
            },
        );
        match result {
            Ok(()) => {
                let _ = tx.blocking_send(Ok(Bytes::from(chunk)));
            }
            Err(ward_store::StoreError::ShuttingDown) => {}
            Err(e) => {
                tracing::error!(error = %e, "audit export failed midway");
                let _ = tx.blocking_send(Err(std::io::Error::other("export failed")));
            }
        }
    });
    let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], body).into_response())
}

/// `GET /api/v1/audit/verify`: the verdict over the tenant's whole stored trail.
pub async fn verify(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<Value>, Problem> {
    let keys = state.audit.trusted_keys();
    let tenant = principal.tenant;
    let t = tenant.clone();
    let verdict = state
        .audit
        .store()
        .read(move |r| r.verify(&t, &keys, |_| {}))
        .await?;
    Ok(Json(verdict_json(tenant.as_str(), &verdict)))
}

/// The verdict as JSON with a one-line `summary` and the tenant.
pub fn verdict_json(tenant: &str, verdict: &Verdict) -> Value {
    let mut v = serde_json::to_value(verdict).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.insert("summary".into(), Value::String(integrity_line(verdict)));
        m.insert("tenant".into(), Value::String(tenant.to_owned()));
    }
    v
}

/// One published key.
#[derive(Debug, Serialize)]
pub struct PublishedKey {
    key_id: String,
    public_key: String,
}

/// `GET /api/v1/audit/public-key`.
#[derive(Debug, Serialize)]
pub struct PublicKeys {
    algorithm: &'static str,
    key_id: String,
    public_key: String,
    trusted: Vec<PublishedKey>,
}

/// `GET /api/v1/audit/public-key`: the checkpoint verification keys (public, no credential).
pub async fn public_key(State(state): State<AppState>) -> Json<PublicKeys> {
    let current = state.audit.signing_key();
    Json(PublicKeys {
        algorithm: "Ed25519",
        key_id: current.key_id(),
        public_key: current.to_hex(),
        trusted: state
            .audit
            .trusted_keys()
            .iter()
            .map(|k| PublishedKey {
                key_id: k.key_id(),
                public_key: k.to_hex(),
            })
            .collect(),
    })
}

/// Body of `POST /api/v1/audit/erasures`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EraseRequest {
    subject: String,
}

/// `POST /api/v1/audit/erasures`: destroys a subject's key; its sealed values become
/// unreadable, the chain still verifies, and the erasure is itself an entry.
pub async fn erase(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    JsonBody(body): JsonBody<EraseRequest>,
) -> Result<(StatusCode, Json<Erasure>), Problem> {
    let subject = text("subject", body.subject, MAX_NAME + 16).map_err(Problem::bad_request)?;
    if !subject.contains(':') {
        return Err(Problem::bad_request(
            "subject must name its kind, e.g. user:123 or email:a@example.com",
        ));
    }
    let erasure = state
        .audit
        .store()
        .erase(principal.tenant, subject, principal.identity.to_string())
        .await?;
    match erasure {
        Some(e) => Ok((StatusCode::CREATED, Json(e))),
        None => Err(Problem::not_found(
            "no such subject in this tenant's audit trail (never recorded, or already erased)",
        )),
    }
}

/// Query parameters of `GET /api/v1/audit/report`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportParams {
    from: Option<String>,
    to: Option<String>,
    format: Option<String>,
}

/// `GET /api/v1/audit/report`: the compliance summary, JSON or Markdown.
pub async fn report(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(params): Query<ReportParams>,
) -> Result<Response, Problem> {
    let markdown = match params.format.as_deref() {
        None | Some("json") => false,
        Some("markdown" | "md") => true,
        Some(other) => {
            return Err(Problem::bad_request(format!(
                "format {other:?}: use json or markdown"
            )));
        }
    };
    let (from, to) = period(params.from.as_deref(), params.to.as_deref())?;
    // An open end means "until now", which is what the report should say.
    let to = to.min(now_unix_nanos().saturating_add(1));
    let keys = state.audit.trusted_keys();
    let settings = state.audit.settings();
    let tenant = principal.tenant;
    let policy = ward_model::time::format_duration(settings.retention_of(&tenant));
    let archive = settings.archive_dir.display().to_string();
    let report = state
        .audit
        .store()
        .read(move |r| AuditReport::build(r, &tenant, from, to, &keys, policy, archive))
        .await?;
    Ok(if markdown {
        (
            [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
            report.to_markdown(),
        )
            .into_response()
    } else {
        Json(report).into_response()
    })
}
