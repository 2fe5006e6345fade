/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The write queue is full; the caller should shed load (e.g. answer 503 / `RESOURCE_EXHAUSTED`).
    #[error("store is overloaded: {queued} records queued (limit {limit})")]
    Overloaded {
        /// Records queued when the batch was refused.
        queued: usize,
        /// The configured `max_queue_records`.
        limit: usize,
    },
    /// [`Store::shutdown`](crate::Store::shutdown) has begun; nothing new is accepted.
    #[error("store is shutting down")]
    ShuttingDown,
    /// A pagination cursor was not produced by this store for this kind of query.
    #[error("invalid cursor")]
    InvalidCursor,
    /// A filter the store cannot evaluate (only possible for filters built in code, never for
    /// ones produced by `Filter::parse`).
    #[error("invalid query: {0}")]
    InvalidQuery(String),
    /// SQLite reported an error.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A file-system operation failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The database schema could not be brought up to date.
    #[error("schema migration failed: {0}")]
    Migration(String),
    /// Stored data could not be decoded.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The write transaction that carried this batch failed and was rolled back; every batch
    /// of the same group commit gets this error. Nothing of the batch was stored.
    #[error("write failed: {0}")]
    WriteFailed(String),
    /// A bug or a crashed background thread; details in the message.
    #[error("internal store error: {0}")]
    Internal(String),
}

/// Shorthand used throughout the crate.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
