//! Scrubbing engine (being written).
