//! Shared data types of Ward.
//!
//! Every other crate speaks in these types: a [`Batch`] of [`LogRecord`]s, [`Span`]s and
//! [`MetricPoint`]s that belongs to one [`TenantId`]. The [`filter`] module holds the small query
//! language people type (`service:planner level>=warn "timeout" user.id=u-42`): its parser and an
//! in-memory matcher used by the live tail. Nothing here does I/O.

pub mod filter;
mod ids;
mod record;
mod security;
mod severity;
pub mod time;

pub use ids::{IdError, SpanId, TenantId, TraceId};
pub use record::{
    Attributes, Batch, LogRecord, MetricKind, MetricPoint, MetricValue, Resource, Scope, Span,
    SpanEvent, SpanKind, SpanLink, SpanStatus, StatusCode, Temporality,
};
pub use security::{SecurityEvent, SecuritySeverity};
pub use severity::Severity;
