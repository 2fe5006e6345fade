//! Database layout: versioned migrations of the fixed tables, the versioned DDL template of the
//! per-day partitions, day arithmetic and the ordering keys of partitioned rows.

use chrono::{Datelike, NaiveDate};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::error::{Result, StoreError};

/// Nanoseconds in a (UTC) day.
pub(crate) const NANOS_PER_DAY: i64 = 86_400 * 1_000_000_000;

/// Low bits of a row key that number rows sharing one nanosecond (see [`key_base`]).
pub(crate) const SEQ_BITS: u32 = 16;
/// Mask of the sequence bits.
pub(crate) const SEQ_MASK: i64 = (1 << SEQ_BITS) - 1;

/// Version of the per-day table template. Bump it (and teach a migration to upgrade the
/// partitions whose catalog row carries an older version) whenever [`partition_ddl`] changes.
/// Version 1 stored one row per log record; version 2 stores log blocks (see `upgrade`).
pub(crate) const PARTITION_TEMPLATE_VERSION: i64 = 2;

/// The three partitioned signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Kind {
    Logs,
    Spans,
    Metrics,
}

impl Kind {
    /// Name used in the `partitions` catalog and as table prefix.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Logs => "logs",
            Kind::Spans => "spans",
            Kind::Metrics => "metrics",
        }
    }

    /// Number used for the `signal` column of `services_summary`.
    pub(crate) fn signal(self) -> i64 {
        match self {
            Kind::Logs => 0,
            Kind::Spans => 1,
            Kind::Metrics => 2,
        }
    }
}

/// A UTC day, as days since 1970-01-01. Every `i64` nanosecond timestamp maps to a day between
/// 1677-09-21 and 2262-04-11, which all have four-digit years.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Day(pub(crate) i64);

/// Days from 0001-01-01 (chrono's "day 1 of the common era") to 1970-01-01.
const UNIX_EPOCH_DAYS_FROM_CE: i64 = 719_163;

impl Day {
    /// The day a timestamp falls on.
    pub(crate) fn of(unix_nanos: i64) -> Day {
        Day(unix_nanos.div_euclid(NANOS_PER_DAY))
    }

    /// First nanosecond of the day. `i128` because the first day of the `i64` range starts
    /// before `i64::MIN`.
    pub(crate) fn start(self) -> i128 {
        self.0 as i128 * NANOS_PER_DAY as i128
    }

    /// Nanoseconds since the start of the day (may be negative or beyond a day for timestamps
    /// of other days; callers clamp).
    pub(crate) fn offset_of(self, unix_nanos: i64) -> i128 {
        unix_nanos as i128 - self.start()
    }

    /// `YYYYMMDD`, the form used in table names and the catalog.
    pub(crate) fn ymd(self) -> i32 {
        let date = i32::try_from(self.0 + UNIX_EPOCH_DAYS_FROM_CE)
            .ok()
            .and_then(NaiveDate::from_num_days_from_ce_opt);
        match date {
            Some(d) => d.year() * 10_000 + d.month() as i32 * 100 + d.day() as i32,
            // Unreachable for days of i64 timestamps; a fixed value keeps this total.
            None => 0,
        }
    }

    /// Parses `YYYYMMDD` back; `None` for anything that is not a valid date.
    pub(crate) fn from_ymd(ymd: i32) -> Option<Day> {
        let date =
            NaiveDate::from_ymd_opt(ymd / 10_000, (ymd / 100 % 100) as u32, (ymd % 100) as u32)?;
        Some(Day(date.num_days_from_ce() as i64 - UNIX_EPOCH_DAYS_FROM_CE))
    }
}

/// The smallest row key of a nanosecond offset within its day: `offset << 16`. Span rows and
/// log blocks use `key = offset << 16 | seq` as their `INTEGER PRIMARY KEY` (for a block, the
/// offset of its newest record), where `seq` numbers rows of the same nanosecond in insertion
/// order. Ordering by key is therefore ordering by (time, insertion), so every index walks
/// newest-first and a query stops after a page. Offsets are below 8.64e13 < 2^47, so keys fit
/// in 63 bits with room to spare.
pub(crate) fn key_base(offset: i64) -> Option<i64> {
    offset.checked_mul(1 << SEQ_BITS)
}

/// Lower and upper (exclusive) key bounds of the rows of `day` whose time lies in
/// `[from, to)`, or `None` when the day does not overlap the range. `spill_ns` widens the
/// upper bound for partitions where more than 65,536 rows shared a nanosecond and some were
/// pushed to the key space of later nanoseconds (the caller then also filters on the time
/// column, so the result stays exact).
pub(crate) fn key_range(day: Day, from: i64, to: i64, spill_ns: i64) -> Option<(i64, i64)> {
    let lo_off = day.offset_of(from);
    let hi_off = day.offset_of(to);
    if hi_off <= 0 || lo_off >= NANOS_PER_DAY as i128 || from >= to {
        return None;
    }
    let lo = if lo_off <= 0 {
        i64::MIN
    } else {
        (lo_off as i64) << SEQ_BITS
    };
    let hi = if hi_off >= NANOS_PER_DAY as i128 {
        i64::MAX
    } else {
        let widened = hi_off + spill_ns.max(0) as i128;
        let key = widened << SEQ_BITS;
        i64::try_from(key).unwrap_or(i64::MAX)
    };
    Some((lo, hi))
}

/// Table name of a partition.
pub(crate) fn table(kind: Kind, ymd: i32) -> String {
    format!("{}_{ymd}", kind.as_str())
}

/// Name of the table holding the records of a log partition's blocks.
pub(crate) fn log_data_table(ymd: i32) -> String {
    format!("logs_{ymd}_data")
}

/// DDL of one partition (template [`PARTITION_TEMPLATE_VERSION`]). Table names are built from a
/// validated integer day only, never from user input.
pub(crate) fn partition_ddl(kind: Kind, ymd: i32) -> String {
    let t = table(kind, ymd);
    match kind {
        // Log partitions hold blocks (`crate::block`): the records of one (tenant, resource,
        // scope, level) from one batch, in time order, with a Bloom filter of their words and
        // trace ids. `id` is the block key: the row key (`key_base`) of its newest record's
        // time, so ordering blocks by id orders them by their newest record.
        // The partition table is the catalog of its blocks, with their filters; the records
        // are in `{t}_data` under the same id. Queries walk the small catalog rows and read
        // records only for blocks whose filter admits the search, so a search pays a few
        // hundred bytes per block ruled out rather than the block's records.
        // Indexes (each implicitly ends in the key, i.e. in time order):
        //  * (tenant, id, level): time-range scans of a tenant; `level` is exact per block.
        //  * (tenant, service, id, level): service queries, newest first.
        Kind::Logs => format!(
            "CREATE TABLE {t} (
                id INTEGER PRIMARY KEY,
                tenant_id INTEGER NOT NULL,
                service_id INTEGER NOT NULL,
                level INTEGER NOT NULL,
                resource_id INTEGER NOT NULL,
                scope_id INTEGER,
                min_time_ns INTEGER NOT NULL,
                max_time_ns INTEGER NOT NULL,
                count INTEGER NOT NULL,
                bloom BLOB NOT NULL
            );
            CREATE TABLE {data} (
                id INTEGER PRIMARY KEY,
                data BLOB NOT NULL
            );
            CREATE INDEX {t}_tenant ON {t}(tenant_id, id, level);
            CREATE INDEX {t}_service ON {t}(tenant_id, service_id, id, level);",
            data = log_data_table(ymd)
        ),
        Kind::Spans => format!(
            "CREATE TABLE {t} (
                id INTEGER PRIMARY KEY,
                tenant_id INTEGER NOT NULL,
                service_id INTEGER NOT NULL,
                start_ns INTEGER NOT NULL,
                end_ns INTEGER NOT NULL,
                duration_ns INTEGER NOT NULL,
                kind INTEGER NOT NULL,
                status_code INTEGER NOT NULL,
                resource_id INTEGER NOT NULL,
                scope_id INTEGER,
                trace_id BLOB NOT NULL,
                span_id BLOB NOT NULL,
                parent_span_id BLOB,
                name TEXT NOT NULL,
                trace_state TEXT,
                status_message TEXT,
                attributes TEXT,
                events TEXT,
                links TEXT
            );
            CREATE INDEX {t}_tenant ON {t}(tenant_id, id, status_code);
            CREATE INDEX {t}_trace ON {t}(tenant_id, trace_id);
            CREATE INDEX {t}_service ON {t}(tenant_id, service_id, id);
            CREATE INDEX {t}_name ON {t}(tenant_id, service_id, name, id);"
        ),
        Kind::Metrics => format!(
            "CREATE TABLE {t} (
                id INTEGER PRIMARY KEY,
                tenant_id INTEGER NOT NULL,
                service_id INTEGER NOT NULL,
                resource_id INTEGER NOT NULL,
                scope_id INTEGER,
                time_ns INTEGER NOT NULL,
                start_time_ns INTEGER NOT NULL,
                monotonic INTEGER NOT NULL,
                kind TEXT NOT NULL,
                temporality TEXT NOT NULL,
                name TEXT NOT NULL,
                description TEXT,
                unit TEXT,
                attributes TEXT,
                value TEXT NOT NULL
            );
            CREATE INDEX {t}_name ON {t}(tenant_id, name, time_ns);"
        ),
    }
}

/// The ordered migrations of the fixed (non-partitioned) tables. Never edit a released entry:
/// append a new one.
const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        "CREATE TABLE tenants (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE service_names (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE
    );
    CREATE TABLE resources (
        id INTEGER PRIMARY KEY,
        hash BLOB NOT NULL UNIQUE,
        service_id INTEGER NOT NULL,
        attributes TEXT
    );
    CREATE TABLE scopes (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        version TEXT NOT NULL,
        UNIQUE (name, version)
    );
    CREATE TABLE partitions (
        kind TEXT NOT NULL,
        day INTEGER NOT NULL,
        template_version INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        spill_ns INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (kind, day)
    ) WITHOUT ROWID;
    CREATE TABLE services_summary (
        tenant_id INTEGER NOT NULL,
        day INTEGER NOT NULL,
        service_id INTEGER NOT NULL,
        signal INTEGER NOT NULL,
        count INTEGER NOT NULL,
        first_seen INTEGER NOT NULL,
        last_seen INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, day, service_id, signal)
    ) WITHOUT ROWID;
    CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        tenant_id INTEGER NOT NULL REFERENCES tenants(id),
        name TEXT NOT NULL,
        scopes TEXT NOT NULL,
        secret_hash BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        revoked INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX api_keys_tenant ON api_keys(tenant_id);",
    ),
    (
        2,
        "CREATE TABLE security_events (
        id INTEGER PRIMARY KEY,
        tenant_id INTEGER NOT NULL REFERENCES tenants(id),
        time_ns INTEGER NOT NULL,
        kind TEXT NOT NULL,
        severity INTEGER NOT NULL,
        service TEXT NOT NULL,
        message TEXT NOT NULL,
        details TEXT NOT NULL
    );
    CREATE INDEX security_events_tenant ON security_events(tenant_id);",
    ),
    (
        3,
        "ALTER TABLE api_keys ADD COLUMN expires_at INTEGER;
    ALTER TABLE api_keys ADD COLUMN replaced_by TEXT;
    ALTER TABLE api_keys ADD COLUMN last_used_at INTEGER;
    ALTER TABLE api_keys ADD COLUMN use_count INTEGER NOT NULL DEFAULT 0;",
    ),
];

/// The newest schema version this build knows.
pub(crate) fn latest_version() -> i64 {
    MIGRATIONS.last().map(|(v, _)| *v).unwrap_or(0)
}

/// Brings the schema up to date in one transaction. Safe to run on every open and from several
/// processes at once (`BEGIN IMMEDIATE` serialises them; the second finds nothing to do).
pub(crate) fn migrate(conn: &mut Connection, now_nanos: i64) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY,
            applied_at INTEGER NOT NULL
        );",
    )?;
    let current: i64 = tx.query_row(
        "SELECT IFNULL(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )?;
    if current > latest_version() {
        return Err(StoreError::Migration(format!(
            "the database has schema version {current}, newer than the {} this build knows; \
             use a newer Ward or restore a backup",
            latest_version()
        )));
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        tx.execute_batch(sql)
            .map_err(|e| StoreError::Migration(format!("migration {version}: {e}")))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
            params![version, now_nanos],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// Applied versions, oldest first.
pub(crate) fn applied_versions(conn: &Connection) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare("SELECT version FROM schema_migrations ORDER BY version")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

/// One row of the `partitions` catalog.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PartitionInfo {
    pub(crate) day: Day,
    pub(crate) ymd: i32,
    pub(crate) template_version: i64,
    pub(crate) spill_ns: i64,
}

/// Partitions of `kind` whose day lies in `[first, last]`, newest first.
pub(crate) fn partitions(
    conn: &Connection,
    kind: Kind,
    first: Day,
    last: Day,
) -> Result<Vec<PartitionInfo>> {
    partitions_between(conn, kind, first.ymd(), last.ymd())
}

fn partitions_between(
    conn: &Connection,
    kind: Kind,
    first_ymd: i32,
    last_ymd: i32,
) -> Result<Vec<PartitionInfo>> {
    let mut stmt = conn.prepare_cached(
        "SELECT day, template_version, spill_ns FROM partitions
         WHERE kind = ?1 AND day BETWEEN ?2 AND ?3 ORDER BY day DESC",
    )?;
    let rows = stmt.query_map(params![kind.as_str(), first_ymd, last_ymd], |r| {
        Ok((
            r.get::<_, i32>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (ymd, template_version, spill_ns) = row?;
        let day = Day::from_ymd(ymd)
            .ok_or_else(|| StoreError::Corrupt(format!("partition day {ymd}")))?;
        out.push(PartitionInfo {
            day,
            ymd,
            template_version,
            spill_ns,
        });
    }
    Ok(out)
}

/// Every partition of `kind`, newest first.
pub(crate) fn all_partitions(conn: &Connection, kind: Kind) -> Result<Vec<PartitionInfo>> {
    partitions_between(conn, kind, i32::MIN, i32::MAX)
}

/// Looks up (kind, day) in the catalog.
pub(crate) fn partition(conn: &Connection, kind: Kind, ymd: i32) -> Result<Option<(i64, i64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT template_version, spill_ns FROM partitions WHERE kind = ?1 AND day = ?2",
    )?;
    Ok(stmt
        .query_row(params![kind.as_str(), ymd], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip_through_ymd() {
        assert_eq!(Day::of(0).ymd(), 19700101);
        assert_eq!(Day::of(-1).ymd(), 19691231);
        assert_eq!(Day::of(1_700_000_000 * 1_000_000_000).ymd(), 20231114);
        assert_eq!(Day::of(i64::MIN).ymd(), 16770921);
        assert_eq!(Day::of(i64::MAX).ymd(), 22620411);
        for ns in [i64::MIN, -1, 0, 1, 1_700_000_000_000_000_000, i64::MAX] {
            let d = Day::of(ns);
            assert_eq!(Day::from_ymd(d.ymd()), Some(d));
            let off = d.offset_of(ns);
            assert!((0..NANOS_PER_DAY as i128).contains(&off));
        }
        assert_eq!(Day::from_ymd(20231340), None);
        assert_eq!(Day::from_ymd(-5), None);
    }

    #[test]
    fn key_ranges_cover_exactly_the_window() {
        let day = Day::of(1_700_000_000 * 1_000_000_000);
        let start = day.start() as i64;
        // Whole day.
        assert_eq!(
            key_range(day, start - 5, start + NANOS_PER_DAY, 0),
            Some((i64::MIN, i64::MAX))
        );
        // Window inside the day.
        assert_eq!(
            key_range(day, start + 10, start + 20, 0),
            Some((10 << SEQ_BITS, 20 << SEQ_BITS))
        );
        assert_eq!(
            key_range(day, start + 10, start + 20, 3),
            Some((10 << SEQ_BITS, 23 << SEQ_BITS))
        );
        // Disjoint.
        assert_eq!(
            key_range(day, start + NANOS_PER_DAY, start + NANOS_PER_DAY + 5, 0),
            None
        );
        assert_eq!(key_range(day, start - 10, start, 0), None);
        assert_eq!(key_range(day, start + 5, start + 5, 0), None);
        // Extremes do not overflow.
        assert!(key_range(Day::of(i64::MIN), i64::MIN, i64::MAX, i64::MAX).is_some());
    }
}
