//! Formatting of flow records and per-packet lines.
