//! HTTP handlers, grouped by what they serve. Which scope each route needs is declared in one
//! place, [`crate::router`].

pub mod audit;
pub mod health;
pub mod ingest;
pub mod keys;
pub mod query;
pub mod tail;
pub mod views;
