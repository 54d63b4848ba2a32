//! Loss-tolerant flow tracking.
