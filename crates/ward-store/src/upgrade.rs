//! Upgrades partitions created by older versions of the partition template (see
//! `schema::PARTITION_TEMPLATE_VERSION`), at open, before the writer starts.
//!
//! * Version 1 → 2: log partitions held one row per record, with an FTS5 table and a trace-id
//!   index; version 2 holds blocks. The records are re-read in time order and written as blocks
//!   by the same code as new ones, in one transaction per partition. Span and metric
//!   partitions did not change and only have their catalog version raised.

use rusqlite::{Connection, TransactionBehavior, params};

use crate::block;
use crate::error::{Result, StoreError};
use crate::schema::Day;
use crate::schema::{self, Kind, PARTITION_TEMPLATE_VERSION};
use crate::writer::{Caches, Ids, write_log_block};

/// Records read per step of a log partition's conversion (bounds memory).
const CHUNK_ROWS: i64 = 50_000;

/// Brings every partition up to [`PARTITION_TEMPLATE_VERSION`].
pub(crate) fn upgrade_partitions(conn: &mut Connection, now: i64) -> Result<()> {
    for kind in [Kind::Logs, Kind::Spans, Kind::Metrics] {
        for part in schema::all_partitions(conn, kind)? {
            match part.template_version {
                PARTITION_TEMPLATE_VERSION => {}
                1 if kind == Kind::Logs => logs_v1_to_blocks(conn, part.ymd, now)?,
                1 => {
                    conn.execute(
                        "UPDATE partitions SET template_version = ?1 WHERE kind = ?2 AND day = ?3",
                        params![PARTITION_TEMPLATE_VERSION, kind.as_str(), part.ymd],
                    )?;
                }
                v => {
                    return Err(StoreError::Migration(format!(
                        "partition {}_{} has template version {v}, which this build cannot read; \
                         use a newer Ward",
                        kind.as_str(),
                        part.ymd
                    )));
                }
            }
        }
    }
    Ok(())
}

/// One record of a version-1 log partition.
struct V1Row {
    id: i64,
    tenant: i64,
    service: i64,
    level: u8,
    time: i64,
    observed: i64,
    severity_number: u8,
    resource_id: i64,
    scope_id: Option<i64>,
    trace_id: Option<[u8; 16]>,
    span_id: Option<[u8; 8]>,
    severity_text: String,
    attributes: Option<String>,
    body: String,
}

fn logs_v1_to_blocks(conn: &mut Connection, ymd: i32, now: i64) -> Result<()> {
    let table = schema::table(Kind::Logs, ymd);
    let old = format!("{table}_v1");
    tracing::info!(partition = %table, "converting a log partition to blocks");
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(&format!(
        "DROP INDEX IF EXISTS {table}_tenant;
         DROP INDEX IF EXISTS {table}_service;
         DROP INDEX IF EXISTS {table}_trace;
         DROP TABLE IF EXISTS logs_fts_{ymd};
         ALTER TABLE {table} RENAME TO {old};
         {ddl}",
        ddl = schema::partition_ddl(Kind::Logs, ymd),
    ))?;
    tx.execute(
        "UPDATE partitions SET template_version = ?1 WHERE kind = 'logs' AND day = ?2",
        params![PARTITION_TEMPLATE_VERSION, ymd],
    )?;
    let mut caches = Caches::default();
    let mut after: (i64, i64) = (i64::MIN, i64::MIN);
    loop {
        let rows = read_chunk(&tx, &old, after)?;
        let Some(last) = rows.last() else { break };
        after = (last.time, last.id);
        let block_rows = rows
            .iter()
            .map(|r| block::Row {
                group: (
                    Ids {
                        tenant: r.tenant,
                        resource: r.resource_id,
                        service: r.service,
                        scope: r.scope_id,
                    },
                    r.level,
                    Day::of(r.time),
                ),
                entry: block::Entry {
                    time: r.time,
                    observed: r.observed,
                    severity_number: r.severity_number,
                    trace_id: r.trace_id,
                    span_id: r.span_id,
                    severity_text: &r.severity_text,
                    body: &r.body,
                    attributes: r.attributes.as_deref(),
                },
            })
            .collect();
        for b in block::build(block_rows)? {
            let (ids, level, day) = b.group;
            write_log_block(&tx, &mut caches, ids, level, day, &b, now)?;
        }
    }
    tx.execute_batch(&format!("DROP TABLE {old}"))?;
    tx.commit()?;
    Ok(())
}

/// The next rows after (time, id), in that order.
fn read_chunk(conn: &Connection, table: &str, after: (i64, i64)) -> Result<Vec<V1Row>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT id, tenant_id, service_id, level, time_ns, observed_ns, severity_number, resource_id,
                scope_id, trace_id, span_id, severity_text, attributes, body
         FROM {table} WHERE (time_ns, id) > (?1, ?2) ORDER BY time_ns, id LIMIT ?3"
    ))?;
    let mut rows = stmt.query(params![after.0, after.1, CHUNK_ROWS])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let small =
            |n: i64| u8::try_from(n).map_err(|_| StoreError::Corrupt(format!("{table} level {n}")));
        let body: String = r.get(13)?;
        out.push(V1Row {
            id: r.get(0)?,
            tenant: r.get(1)?,
            service: r.get(2)?,
            level: small(r.get(3)?)?,
            time: r.get(4)?,
            observed: r.get(5)?,
            severity_number: small(r.get(6)?)?,
            resource_id: r.get(7)?,
            scope_id: r.get(8)?,
            trace_id: fixed(r.get(9)?, table, "trace id")?,
            span_id: fixed(r.get(10)?, table, "span id")?,
            severity_text: r.get::<_, Option<String>>(11)?.unwrap_or_default(),
            attributes: r.get(12)?,
            body,
        });
    }
    Ok(out)
}

/// An id column as a fixed-size array.
fn fixed<const N: usize>(
    bytes: Option<Vec<u8>>,
    table: &str,
    what: &str,
) -> Result<Option<[u8; N]>> {
    bytes
        .map(|b| {
            b.try_into()
                .map_err(|_| StoreError::Corrupt(format!("{table} {what}")))
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;
    use ward_model::LogRecord;

    use crate::Store;
    use crate::tests::{SEC, T0, all_logs, config, log, logs_batch, trace_id, write};

    /// The log partition DDL of template version 1, as released.
    const V1_LOGS: &str = "CREATE TABLE logs_20260102 (
            id INTEGER PRIMARY KEY, tenant_id INTEGER NOT NULL, service_id INTEGER NOT NULL,
            level INTEGER NOT NULL, time_ns INTEGER NOT NULL, observed_ns INTEGER NOT NULL,
            severity_number INTEGER NOT NULL, resource_id INTEGER NOT NULL, scope_id INTEGER,
            trace_id BLOB, span_id BLOB, severity_text TEXT, attributes TEXT, body TEXT NOT NULL);
        CREATE INDEX logs_20260102_tenant ON logs_20260102(tenant_id, id, level);
        CREATE INDEX logs_20260102_service ON logs_20260102(tenant_id, service_id, id, level);
        CREATE INDEX logs_20260102_trace ON logs_20260102(tenant_id, trace_id) WHERE trace_id IS NOT NULL;
        CREATE VIRTUAL TABLE logs_fts_20260102 USING fts5(body, content='', columnsize=0,
            tokenize='unicode61 remove_diacritics 0', detail=full);";

    #[tokio::test]
    async fn version_1_log_partitions_are_converted_to_blocks_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let day2 = T0 + 86_400 * SEC;
        // A current store creates the tenant, service and resource rows the old rows refer to.
        let store = Store::open(config(dir.path())).unwrap();
        write(
            &store,
            logs_batch("default", vec![log(T0, "svc", 9, "today")]),
        )
        .await;
        store.shutdown().await.unwrap();
        drop(store);

        // A version-1 partition for the next day, as an older Ward left it.
        let conn = Connection::open(dir.path().join("ward.db")).unwrap();
        let (tenant, service, resource): (i64, i64, i64) = conn
            .query_row(
                "SELECT t.id, r.service_id, r.id FROM tenants t, resources r WHERE t.name = 'default'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        conn.execute_batch(V1_LOGS).unwrap();
        conn.execute(
            "INSERT INTO partitions (kind, day, template_version, created_at, spill_ns) VALUES ('logs', 20260102, 1, 0, 0)",
            [],
        )
        .unwrap();
        let mut expected: Vec<LogRecord> = Vec::new();
        for i in 0..2_500i64 {
            let mut rec = log(
                day2 + i * SEC / 10,
                "svc",
                [9, 13, 17][i as usize % 3],
                &format!("old record {i} Timeout"),
            );
            rec.trace_id = (i % 2 == 0).then(|| trace_id(i as u64));
            rec.attributes.insert("n".into(), serde_json::json!(i));
            conn.execute(
                "INSERT INTO logs_20260102 (id, tenant_id, service_id, level, time_ns, observed_ns, severity_number,
                    resource_id, scope_id, trace_id, span_id, severity_text, attributes, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL, ?9, NULL, NULL, ?10, ?11)",
                rusqlite::params![
                    (rec.time_unix_nano - day2) << 16,
                    tenant,
                    service,
                    rec.severity().number(),
                    rec.time_unix_nano,
                    rec.observed_time_unix_nano,
                    rec.severity_number,
                    resource,
                    rec.trace_id.map(|t| t.0.to_vec()),
                    serde_json::to_string(&rec.attributes).unwrap(),
                    rec.body,
                ],
            )
            .unwrap();
            expected.push(rec);
        }
        drop(conn);

        let store = Store::open(config(dir.path())).unwrap();
        expected.reverse();
        let all = all_logs(&store, "default", "", day2, day2 + 86_400 * SEC, 500).await;
        assert_eq!(all, expected);
        let traced = all_logs(
            &store,
            "default",
            &format!("trace:{}", trace_id(1000)),
            day2,
            day2 + 86_400 * SEC,
            10,
        )
        .await;
        assert_eq!(traced.len(), 1);
        assert_eq!(traced[0].body, "old record 1000 Timeout");
        let words = all_logs(
            &store,
            "default",
            "\"record 7\" level>=warn",
            day2,
            day2 + 86_400 * SEC,
            10,
        )
        .await;
        assert_eq!(
            words.iter().map(|r| r.body.as_str()).collect::<Vec<_>>(),
            ["old record 7 Timeout"]
        );
        // The old table and its FTS index are gone, the catalog says version 2, and new records
        // go into the converted partition.
        write(
            &store,
            logs_batch("default", vec![log(day2 + 5, "svc", 9, "new")]),
        )
        .await;
        assert_eq!(
            all_logs(&store, "default", "new", day2, day2 + 1_000, 10)
                .await
                .len(),
            1
        );
        store.shutdown().await.unwrap();
        let conn = Connection::open(dir.path().join("ward.db")).unwrap();
        let leftovers: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name LIKE 'logs_fts_%' OR name LIKE '%_v1'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(leftovers, 0);
        let version: i64 = conn
            .query_row(
                "SELECT template_version FROM partitions WHERE kind = 'logs' AND day = 20260102",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(version, 2);
    }
}
