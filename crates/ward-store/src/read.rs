//! Queries. Each runs on one pooled read connection inside one read transaction, so it sees a
//! single consistent snapshot even while the writer commits.

use std::collections::{BTreeSet, HashMap, HashSet};

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};
use ward_model::filter::{Condition, Filter, contains_phrase};
use ward_model::{
    Attributes, LogRecord, Resource, Scope, Span, SpanEvent, SpanId, SpanKind, SpanLink,
    SpanStatus, StatusCode, TenantId, TraceId,
};

use crate::admin::find_tenant;
use crate::block;
use crate::block::MAX_BLOCK_SPAN_NS;
use crate::cursor::{Cursor, LogPosition};
use crate::error::{Result, StoreError};
use crate::filter_sql::{CompiledFilter, Target, compile, compile_log_blocks};
use crate::schema::{self, Day, Kind, PartitionInfo, SEQ_BITS, key_range};
use crate::types::{LogQuery, MAX_PAGE_LIMIT, Page, ServiceSummary, TraceQuery, TraceSummary};

const SPAN_COLUMNS: &str = "s.id, s.start_ns, s.end_ns, s.kind, s.status_code, s.resource_id, s.scope_id, \
     s.trace_id, s.span_id, s.parent_span_id, s.name, s.trace_state, s.status_message, s.attributes, s.events, s.links";

/// A time window as the partitions to visit, newest first, each with its key window (already
/// narrowed by the cursor).
struct Window {
    parts: Vec<(PartitionInfo, i64, i64)>,
}

impl Window {
    fn new(
        conn: &Connection,
        kind: Kind,
        from: i64,
        to: i64,
        cursor: Option<Cursor>,
    ) -> Result<Window> {
        if from >= to {
            return Ok(Window { parts: Vec::new() });
        }
        let mut parts = Vec::new();
        for part in schema::partitions(conn, kind, Day::of(from), Day::of(to - 1))? {
            let Some((lo, mut hi)) = key_range(part.day, from, to, part.spill_ns) else {
                continue;
            };
            if let Some(c) = cursor {
                if part.ymd > c.ymd {
                    continue;
                }
                if part.ymd == c.ymd {
                    hi = hi.min(c.key);
                }
            }
            if lo < hi {
                parts.push((part, lo, hi));
            }
        }
        Ok(Window { parts })
    }
}

/// `AND <time column> in [from, to)` for partitions whose key window had to be widened (rows
/// spilled past their nanosecond); elsewhere the key window alone is exact.
fn time_filter(
    part: &PartitionInfo,
    column: &str,
    from: i64,
    to: i64,
    params: &mut Vec<Value>,
) -> String {
    if part.spill_ns > 0 {
        params.push(Value::Integer(from));
        params.push(Value::Integer(to));
        format!(" AND {column} >= ? AND {column} < ?")
    } else {
        String::new()
    }
}

pub(crate) fn query_logs(conn: &mut Connection, q: &LogQuery) -> Result<Page<LogRecord>> {
    let limit = q.limit.clamp(1, MAX_PAGE_LIMIT);
    let cursor = LogPosition::parse(q.cursor.as_deref())?;
    let blocks = compile_log_blocks(&q.filter)?;
    let tx = conn.transaction()?;
    let Some(tenant) = find_tenant(&tx, &q.tenant)? else {
        return Ok(Page::empty());
    };
    let from = q.from_unix_nano;
    // Nothing after the cursor's nanosecond can come next.
    let to = match cursor {
        Some(c) => q.to_unix_nano.min(c.time.saturating_add(1)),
        None => q.to_unix_nano,
    };
    let mut page = LogPage {
        limit,
        cursor,
        from,
        to,
        filter: &q.filter,
        found: Vec::new(),
        lookup: Lookup::default(),
    };
    if from >= to {
        return Ok(page.finish());
    }
    // Newest partition first; a day's partition only holds that day's records, so once a page
    // (plus one) is found, older partitions cannot change it.
    for part in schema::partitions(&tx, Kind::Logs, Day::of(from), Day::of(to - 1))? {
        if page.is_full() {
            break;
        }
        // Blocks with a record in [from, to): newest record at or after `from` (key at or
        // above `from`'s), oldest before `to`, hence newest before `to + MAX_BLOCK_SPAN_NS`.
        let Some((lo, hi)) = key_range(
            part.day,
            from,
            to.saturating_add(MAX_BLOCK_SPAN_NS),
            part.spill_ns,
        ) else {
            continue;
        };
        let (sql, params) = log_block_sql(&blocks, &part, tenant, lo, hi, from, to);
        let data_sql = format!(
            "SELECT data FROM {} WHERE id = ?1",
            schema::log_data_table(part.ymd)
        );
        let mut stmt = tx.prepare_cached(&sql)?;
        let mut rows = stmt.query(params_from_iter(params))?;
        while let Some(row) = rows.next()? {
            let key: i64 = row.get(0)?;
            // Blocks come by descending key, and no record of a block is newer than its key's
            // nanosecond: once that is older than the page's last record, nothing later can
            // enter the page.
            if page.is_full() && part.day.start() + i128::from(key >> SEQ_BITS) < page.floor_time()
            {
                break;
            }
            let blob = |i: usize| -> Result<&[u8]> {
                row.get_ref(i)?
                    .as_blob()
                    .map_err(|_| StoreError::Corrupt(format!("log block {key}")))
            };
            let bloom = blob(3)?;
            if !blocks
                .bloom_keys
                .iter()
                .all(|&k| block::may_contain(bloom, k))
            {
                continue;
            }
            let source = (row.get(1)?, row.get(2)?);
            let data: Vec<u8> = tx
                .prepare_cached(&data_sql)?
                .query_row([key], |r| r.get(0))?;
            page.add_block(&tx, key, source, &data)?;
        }
    }
    Ok(page.finish())
}

/// SQL of one partition's part of a log search: the candidate blocks, newest first.
fn log_block_sql(
    filter: &CompiledFilter,
    part: &PartitionInfo,
    tenant: i64,
    lo: i64,
    hi: i64,
    from: i64,
    to: i64,
) -> (String, Vec<Value>) {
    let table = schema::table(Kind::Logs, part.ymd);
    let mut params = vec![
        Value::Integer(tenant),
        Value::Integer(lo),
        Value::Integer(hi),
        Value::Integer(to),
        Value::Integer(from),
    ];
    params.extend(filter.params.iter().cloned());
    let sql = format!(
        "SELECT l.id, l.resource_id, l.scope_id, l.bloom FROM {table} AS l INDEXED BY {table}_{}
         WHERE l.tenant_id = ? AND l.id >= ? AND l.id < ?
           AND l.min_time_ns < ? AND l.max_time_ns >= ?{}
         ORDER BY l.id DESC",
        filter.driving_index(Target::Logs),
        filter.sql
    );
    (sql, params)
}

/// The records of a log search collected so far: at most a page plus one after each block.
struct LogPage<'q> {
    limit: usize,
    cursor: Option<LogPosition>,
    from: i64,
    to: i64,
    filter: &'q Filter,
    /// Newest first after each block.
    found: Vec<(LogPosition, LogRecord)>,
    lookup: Lookup,
}

impl LogPage<'_> {
    /// A page plus one is found (one more than the page, to know whether a next page exists).
    fn is_full(&self) -> bool {
        self.found.len() > self.limit
    }

    /// Time of the oldest record kept (meaningful once full).
    fn floor_time(&self) -> i128 {
        self.found
            .last()
            .map_or(i128::MIN, |(p, _)| i128::from(p.time))
    }

    /// Adds the matching records of block `key`, whose records share `source` (resource id,
    /// scope id).
    fn add_block(
        &mut self,
        conn: &Connection,
        key: i64,
        source: (i64, Option<i64>),
        data: &[u8],
    ) -> Result<()> {
        let decoded = block::Decoded::new(data)?;
        let resource = self.lookup.resource(conn, source.0)?;
        let scope = self.lookup.scope(conn, source.1)?;
        let floor = self
            .is_full()
            .then(|| self.found.last().map(|(p, _)| *p))
            .flatten();
        for (index, entry) in decoded.entries()?.iter().enumerate() {
            let position = LogPosition {
                time: entry.time,
                block: key,
                index: u32::try_from(index).unwrap_or(u32::MAX),
            };
            if entry.time < self.from
                || entry.time >= self.to
                || self.cursor.is_some_and(|c| position >= c)
                || floor.is_some_and(|f| position <= f)
                || !quick_match(self.filter, entry)
            {
                continue;
            }
            let record = LogRecord {
                time_unix_nano: entry.time,
                observed_time_unix_nano: entry.observed,
                severity_number: entry.severity_number,
                severity_text: entry.severity_text.to_owned(),
                body: entry.body.to_owned(),
                attributes: attributes(entry.attributes)?,
                resource: resource.clone(),
                scope: scope.clone(),
                trace_id: entry.trace_id.map(TraceId),
                span_id: entry.span_id.map(SpanId),
            };
            if self.filter.matches_log(&record) {
                self.found.push((position, record));
            }
        }
        self.found
            .sort_unstable_by_key(|(p, _)| std::cmp::Reverse(*p));
        self.found.truncate(self.limit + 1);
        Ok(())
    }

    fn finish(mut self) -> Page<LogRecord> {
        let next_cursor = if self.found.len() > self.limit {
            self.found.truncate(self.limit);
            self.found.last().map(|(p, _)| p.encode())
        } else {
            None
        };
        Page {
            items: self.found.into_iter().map(|(_, r)| r).collect(),
            next_cursor,
        }
    }
}

/// The positive trace-id and full-text terms of `filter`, checked on a stored record before it
/// is decoded in full: these are the selective ones, and a record failing one cannot match.
fn quick_match(filter: &Filter, entry: &block::Entry<'_>) -> bool {
    filter
        .terms
        .iter()
        .filter(|t| !t.negated)
        .all(|t| match &t.condition {
            Condition::TraceId(id) => entry.trace_id == Some(id.0),
            Condition::Text(text) => contains_phrase(entry.body, text),
            _ => true,
        })
}

fn finish_page<T>(mut found: Vec<(Cursor, T)>, limit: usize) -> Page<T> {
    let next_cursor = if found.len() > limit {
        found.truncate(limit);
        found.last().map(|(c, _)| c.encode())
    } else {
        None
    };
    Page {
        items: found.into_iter().map(|(_, item)| item).collect(),
        next_cursor,
    }
}

pub(crate) fn search_traces(conn: &mut Connection, q: &TraceQuery) -> Result<Page<TraceSummary>> {
    let limit = q.limit.clamp(1, MAX_PAGE_LIMIT);
    let cursor = Cursor::parse(q.cursor.as_deref())?;
    let filter = compile(&q.filter, Target::Spans)?;
    let tx = conn.transaction()?;
    let Some(tenant) = find_tenant(&tx, &q.tenant)? else {
        return Ok(Page::empty());
    };
    let (from, to) = (q.from_unix_nano, q.to_unix_nano);
    let window = Window::new(&tx, Kind::Spans, from, to, cursor)?;
    // A trace is listed once, at its newest matching span. On later pages a trace met for the
    // first time may still have a newer match at or above the cursor — then an earlier page
    // listed it. `above` is the part of the window at or above the cursor, to check that.
    let above = match cursor {
        None => Vec::new(),
        Some(c) => Window::new(&tx, Kind::Spans, from, to, None)?
            .parts
            .into_iter()
            .filter(|(p, _, _)| p.ymd >= c.ymd)
            .filter_map(|(p, lo, hi)| {
                let lo = if p.ymd == c.ymd { lo.max(c.key) } else { lo };
                (lo < hi).then_some((p, lo, hi))
            })
            .collect(),
    };
    let mut seen = HashSet::new();
    let mut found: Vec<(Cursor, TraceId)> = Vec::new();
    'parts: for (part, lo, hi) in &window.parts {
        let (sql, params) = span_scan_sql(&filter, part, tenant, *lo, *hi, from, to);
        let mut stmt = tx.prepare_cached(&sql)?;
        let mut rows = stmt.query(params_from_iter(params))?;
        while let Some(row) = rows.next()? {
            let key: i64 = row.get(0)?;
            let trace_id = trace_id(row.get_ref(1)?.as_blob().ok())?;
            if !seen.insert(trace_id) {
                continue;
            }
            if !above.is_empty() && has_match(&tx, &filter, tenant, trace_id, &above, from, to)? {
                continue;
            }
            found.push((Cursor { ymd: part.ymd, key }, trace_id));
            if found.len() > limit {
                break 'parts;
            }
        }
    }
    let page = finish_page(found, limit);
    let all = schema::all_partitions(&tx, Kind::Spans)?;
    let mut lookup = Lookup::default();
    let mut items = Vec::with_capacity(page.items.len());
    for trace_id in page.items {
        items.push(summarize(&tx, &mut lookup, tenant, trace_id, &all)?);
    }
    Ok(Page {
        items,
        next_cursor: page.next_cursor,
    })
}

/// SQL of one partition's part of a trace search: matching spans, newest first.
fn span_scan_sql(
    filter: &CompiledFilter,
    part: &PartitionInfo,
    tenant: i64,
    lo: i64,
    hi: i64,
    from: i64,
    to: i64,
) -> (String, Vec<Value>) {
    let table = schema::table(Kind::Spans, part.ymd);
    let mut params = vec![
        Value::Integer(tenant),
        Value::Integer(lo),
        Value::Integer(hi),
    ];
    let time = time_filter(part, "s.start_ns", from, to, &mut params);
    params.extend(filter.params.iter().cloned());
    let sql = format!(
        "SELECT s.id, s.trace_id FROM {table} AS s INDEXED BY {table}_{}
         WHERE s.tenant_id = ? AND s.id >= ? AND s.id < ?{time}{}
         ORDER BY s.id DESC",
        filter.driving_index(Target::Spans),
        filter.sql
    );
    (sql, params)
}

/// Whether a span of `trace_id` matching `filter` exists in the given key windows.
fn has_match(
    conn: &Connection,
    filter: &CompiledFilter,
    tenant: i64,
    trace_id: TraceId,
    windows: &[(PartitionInfo, i64, i64)],
    from: i64,
    to: i64,
) -> Result<bool> {
    for (part, lo, hi) in windows {
        let table = schema::table(Kind::Spans, part.ymd);
        let mut params = vec![
            Value::Integer(tenant),
            Value::Blob(trace_id.0.to_vec()),
            Value::Integer(*lo),
            Value::Integer(*hi),
        ];
        let time = time_filter(part, "s.start_ns", from, to, &mut params);
        params.extend(filter.params.iter().cloned());
        let sql = format!(
            "SELECT 1 FROM {table} AS s INDEXED BY {table}_trace
             WHERE s.tenant_id = ? AND s.trace_id = ? AND s.id >= ? AND s.id < ?{time}{} LIMIT 1",
            filter.sql
        );
        let hit = query_opt(conn, &sql, params)?;
        if hit.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

fn query_opt(conn: &Connection, sql: &str, params: Vec<Value>) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached(sql)?
        .query_row(params_from_iter(params), |r| r.get(0))
        .optional()?)
}

/// Summary of a trace over all of its spans, in every span partition.
fn summarize(
    conn: &Connection,
    lookup: &mut Lookup,
    tenant: i64,
    trace_id: TraceId,
    partitions: &[PartitionInfo],
) -> Result<TraceSummary> {
    let mut span_count = 0u64;
    let mut error_count = 0u64;
    let mut start = i64::MAX;
    let mut end = i64::MIN;
    let mut service_ids = BTreeSet::new();
    // (start, service id, name) of the earliest span without a parent.
    let mut root: Option<(i64, i64, String)> = None;
    for part in partitions {
        let table = schema::table(Kind::Spans, part.ymd);
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT s.parent_span_id IS NULL, s.service_id, s.name, s.start_ns, s.end_ns, s.status_code
             FROM {table} AS s INDEXED BY {table}_trace WHERE s.tenant_id = ?1 AND s.trace_id = ?2"
        ))?;
        let mut rows = stmt.query(params![tenant, trace_id.0.as_slice()])?;
        while let Some(row) = rows.next()? {
            let is_root: bool = row.get(0)?;
            let service: i64 = row.get(1)?;
            let span_start: i64 = row.get(3)?;
            let span_end: i64 = row.get(4)?;
            span_count += 1;
            if row.get::<_, i64>(5)? == i64::from(StatusCode::Error.number()) {
                error_count += 1;
            }
            start = start.min(span_start);
            end = end.max(span_end);
            service_ids.insert(service);
            if is_root && root.as_ref().is_none_or(|(s, _, _)| span_start < *s) {
                root = Some((span_start, service, row.get(2)?));
            }
        }
    }
    let mut services = BTreeSet::new();
    for id in service_ids {
        services.insert(lookup.service_name(conn, id)?);
    }
    let (root_service, root_name) = match root {
        Some((_, service, name)) => (Some(lookup.service_name(conn, service)?), Some(name)),
        None => (None, None),
    };
    if span_count == 0 {
        // The trace matched inside this very snapshot, so it has spans; guard anyway.
        start = 0;
        end = 0;
    }
    Ok(TraceSummary {
        trace_id,
        root_service,
        root_name,
        start_time_unix_nano: start,
        duration_nanos: end.saturating_sub(start).max(0),
        span_count,
        error_count,
        services: services.into_iter().collect(),
    })
}

pub(crate) fn get_trace(
    conn: &mut Connection,
    tenant: &TenantId,
    trace_id: TraceId,
) -> Result<Vec<Span>> {
    let tx = conn.transaction()?;
    let Some(tenant) = find_tenant(&tx, tenant)? else {
        return Ok(Vec::new());
    };
    let mut lookup = Lookup::default();
    let mut spans = Vec::new();
    for part in schema::all_partitions(&tx, Kind::Spans)? {
        let table = schema::table(Kind::Spans, part.ymd);
        let mut stmt = tx.prepare_cached(&format!(
            "SELECT {SPAN_COLUMNS} FROM {table} AS s INDEXED BY {table}_trace WHERE s.tenant_id = ?1 AND s.trace_id = ?2"
        ))?;
        let mut rows = stmt.query(params![tenant, trace_id.0.as_slice()])?;
        while let Some(row) = rows.next()? {
            let key: i64 = row.get(0)?;
            let span = decode_span(&tx, &mut lookup, row)?;
            spans.push((span.start_time_unix_nano, part.ymd, key, span));
        }
    }
    spans.sort_by_key(|(start, ymd, key, _)| (*start, *ymd, *key));
    Ok(spans.into_iter().map(|(_, _, _, span)| span).collect())
}

pub(crate) fn services(
    conn: &mut Connection,
    tenant: &TenantId,
    from: i64,
    to: i64,
) -> Result<Vec<ServiceSummary>> {
    if from >= to {
        return Ok(Vec::new());
    }
    let tx = conn.transaction()?;
    let Some(tenant) = find_tenant(&tx, tenant)? else {
        return Ok(Vec::new());
    };
    let mut stmt = tx.prepare_cached(
        "SELECT n.name, s.signal, SUM(s.count), MIN(s.first_seen), MAX(s.last_seen)
         FROM services_summary s JOIN service_names n ON n.id = s.service_id
         WHERE s.tenant_id = ?1 AND s.day BETWEEN ?2 AND ?3
         GROUP BY n.name, s.signal ORDER BY n.name, s.signal",
    )?;
    let mut rows = stmt.query(params![tenant, Day::of(from).ymd(), Day::of(to - 1).ymd()])?;
    let mut out: Vec<ServiceSummary> = Vec::new();
    while let Some(row) = rows.next()? {
        let name: String = row.get(0)?;
        let signal: i64 = row.get(1)?;
        let count = u64::try_from(row.get::<_, i64>(2)?).unwrap_or(0);
        let first: i64 = row.get(3)?;
        let last: i64 = row.get(4)?;
        if out.last().is_none_or(|s| s.name != name) {
            out.push(ServiceSummary {
                name,
                log_count: 0,
                span_count: 0,
                metric_count: 0,
                first_seen_unix_nano: first,
                last_seen_unix_nano: last,
            });
        }
        if let Some(s) = out.last_mut() {
            match signal {
                0 => s.log_count += count,
                1 => s.span_count += count,
                _ => s.metric_count += count,
            }
            s.first_seen_unix_nano = s.first_seen_unix_nano.min(first);
            s.last_seen_unix_nano = s.last_seen_unix_nano.max(last);
        }
    }
    Ok(out)
}

/// Interned rows (resources, scopes, service names) resolved once per query.
#[derive(Default)]
struct Lookup {
    resources: HashMap<i64, Resource>,
    scopes: HashMap<i64, Scope>,
    services: HashMap<i64, String>,
}

impl Lookup {
    fn resource(&mut self, conn: &Connection, id: i64) -> Result<Resource> {
        if let Some(r) = self.resources.get(&id) {
            return Ok(r.clone());
        }
        let (attrs, service_name): (Option<String>, String) = conn
            .prepare_cached(
                "SELECT r.attributes, n.name FROM resources r JOIN service_names n ON n.id = r.service_id WHERE r.id = ?1",
            )?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?
            .ok_or_else(|| StoreError::Corrupt(format!("missing resource {id}")))?;
        let resource = Resource {
            service_name,
            attributes: attributes(attrs.as_deref())?,
        };
        self.resources.insert(id, resource.clone());
        Ok(resource)
    }

    fn scope(&mut self, conn: &Connection, id: Option<i64>) -> Result<Scope> {
        let Some(id) = id else {
            return Ok(Scope::default());
        };
        if let Some(s) = self.scopes.get(&id) {
            return Ok(s.clone());
        }
        let (name, version) = conn
            .prepare_cached("SELECT name, version FROM scopes WHERE id = ?1")?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?
            .ok_or_else(|| StoreError::Corrupt(format!("missing scope {id}")))?;
        let scope = Scope { name, version };
        self.scopes.insert(id, scope.clone());
        Ok(scope)
    }

    fn service_name(&mut self, conn: &Connection, id: i64) -> Result<String> {
        if let Some(s) = self.services.get(&id) {
            return Ok(s.clone());
        }
        let name: String = conn
            .prepare_cached("SELECT name FROM service_names WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?
            .ok_or_else(|| StoreError::Corrupt(format!("missing service {id}")))?;
        self.services.insert(id, name.clone());
        Ok(name)
    }
}

fn attributes(json: Option<&str>) -> Result<Attributes> {
    match json {
        None => Ok(Attributes::new()),
        Some(text) => {
            serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("attributes: {e}")))
        }
    }
}

fn json_list<T: serde::de::DeserializeOwned>(json: Option<String>, what: &str) -> Result<Vec<T>> {
    match json {
        None => Ok(Vec::new()),
        Some(text) => {
            serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
        }
    }
}

fn trace_id(bytes: Option<&[u8]>) -> Result<TraceId> {
    bytes
        .and_then(TraceId::from_bytes)
        .ok_or_else(|| StoreError::Corrupt("trace id".into()))
}

fn opt_span_id(bytes: Option<Vec<u8>>) -> Result<Option<SpanId>> {
    bytes
        .map(|b| SpanId::from_bytes(&b).ok_or_else(|| StoreError::Corrupt("span id".into())))
        .transpose()
}

fn small(n: i64, what: &str) -> Result<u8> {
    u8::try_from(n).map_err(|_| StoreError::Corrupt(format!("{what} {n}")))
}

fn decode_span(conn: &Connection, lookup: &mut Lookup, row: &Row<'_>) -> Result<Span> {
    let trace: Vec<u8> = row.get(7)?;
    let span: Vec<u8> = row.get(8)?;
    Ok(Span {
        trace_id: trace_id(Some(&trace))?,
        span_id: SpanId::from_bytes(&span).ok_or_else(|| StoreError::Corrupt("span id".into()))?,
        parent_span_id: opt_span_id(row.get(9)?)?,
        trace_state: row.get::<_, Option<String>>(11)?.unwrap_or_default(),
        name: row.get(10)?,
        kind: SpanKind::from_number(i32::from(small(row.get(3)?, "span kind")?)),
        start_time_unix_nano: row.get(1)?,
        end_time_unix_nano: row.get(2)?,
        status: SpanStatus {
            code: StatusCode::from_number(i32::from(small(row.get(4)?, "status")?)),
            message: row.get::<_, Option<String>>(12)?.unwrap_or_default(),
        },
        attributes: attributes(row.get::<_, Option<String>>(13)?.as_deref())?,
        events: json_list::<SpanEvent>(row.get(14)?, "span events")?,
        links: json_list::<SpanLink>(row.get(15)?, "span links")?,
        resource: lookup.resource(conn, row.get(5)?)?,
        scope: lookup.scope(conn, row.get(6)?)?,
    })
}

#[cfg(test)]
mod plan_tests {
    //! The query shapes must use the intended indexes and never sort a whole window. Ward runs no
    //! `ANALYZE`, so SQLite plans from the schema alone and a plan seen on an empty database is
    //! the plan used on a full one.

    use ward_model::filter::Filter;

    use super::*;
    use crate::schema::PARTITION_TEMPLATE_VERSION;

    const YMD: i32 = 20260101;

    fn db() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        schema::migrate(&mut conn, 0).unwrap();
        for kind in [Kind::Logs, Kind::Spans] {
            conn.execute_batch(&schema::partition_ddl(kind, YMD))
                .unwrap();
        }
        crate::functions::register(&conn).unwrap();
        conn
    }

    fn part() -> PartitionInfo {
        PartitionInfo {
            day: Day::from_ymd(YMD).unwrap(),
            ymd: YMD,
            template_version: PARTITION_TEMPLATE_VERSION,
            spill_ns: 0,
        }
    }

    fn plan(conn: &Connection, sql: &str, params: Vec<Value>) -> String {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = stmt
            .query_map(params_from_iter(params), |r| r.get::<_, String>(3))
            .unwrap();
        rows.map(|r| r.unwrap()).collect::<Vec<_>>().join(" | ")
    }

    #[test]
    fn log_queries_use_the_intended_indexes() {
        // Words and trace ids are checked against each block's Bloom filter, so every query
        // walks an index newest-first: the service index when a service is named.
        let conn = db();
        let trace = "trace:5b8efff798038103d269b633813fc60c";
        let trace_text = format!("{trace} timeout");
        let tenant = "SEARCH l USING INDEX logs_20260101_tenant (tenant_id=? AND id>? AND id<?)";
        let service = "SEARCH l USING INDEX logs_20260101_service (tenant_id=? AND service_id=? AND id>? AND id<?)";
        let cases = [
            ("", tenant),
            ("level>=error", tenant),
            ("service:svc level>=warn", service),
            (trace, tenant),
            (&trace_text, tenant),
            ("timeout", tenant),
            ("日本語", tenant),
            ("\"connection timeout\" service:svc", service),
            ("-service:svc level<warn", tenant),
            ("span:eee19b7ec3c1b174 timeout", tenant),
            ("user.id=u-42", tenant),
            ("service:svc user.id=u-42", service),
        ];
        for (text, expected) in cases {
            let filter = compile_log_blocks(&Filter::parse(text).unwrap()).unwrap();
            let (sql, params) = log_block_sql(&filter, &part(), 1, 0, i64::MAX, 0, 1);
            let plan = plan(&conn, &sql, params);
            println!("{text:<45} {plan}");
            assert!(plan.contains(expected), "{text}: {plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{text}: {plan}");
        }
    }

    #[test]
    fn span_queries_use_the_intended_indexes() {
        let conn = db();
        let cases = [
            (
                "",
                "SEARCH s USING INDEX spans_20260101_tenant (tenant_id=? AND id>? AND id<?)",
            ),
            (
                "status:error",
                "SEARCH s USING INDEX spans_20260101_tenant (tenant_id=? AND id>? AND id<?)",
            ),
            (
                "service:svc",
                "SEARCH s USING INDEX spans_20260101_service (tenant_id=? AND service_id=? AND id>? AND id<?)",
            ),
            (
                "service:svc name:op",
                "SEARCH s USING INDEX spans_20260101_name (tenant_id=? AND service_id=? AND name=? AND id>? AND id<?)",
            ),
            (
                "trace:5b8efff798038103d269b633813fc60c",
                "INDEX spans_20260101_trace (tenant_id=? AND trace_id=? AND rowid>? AND rowid<?)",
            ),
            (
                "duration>1s",
                "SEARCH s USING INDEX spans_20260101_tenant (tenant_id=? AND id>? AND id<?)",
            ),
        ];
        for (text, expected) in cases {
            let filter = compile(&Filter::parse(text).unwrap(), Target::Spans).unwrap();
            let (sql, params) = span_scan_sql(&filter, &part(), 1, 0, i64::MAX, 0, 1);
            let plan = plan(&conn, &sql, params);
            println!("{text:<45} {plan}");
            assert!(plan.contains(expected), "{text}: {plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{text}: {plan}");
        }
        let trace = plan(
            &conn,
            "SELECT s.id FROM spans_20260101 AS s WHERE s.tenant_id = ?1 AND s.trace_id = ?2",
            vec![Value::Integer(1), Value::Blob(vec![1; 16])],
        );
        println!("{:<45} {trace}", "get_trace / summaries");
        assert!(
            trace.contains("INDEX spans_20260101_trace (tenant_id=? AND trace_id=?)"),
            "{trace}"
        );
    }
}
