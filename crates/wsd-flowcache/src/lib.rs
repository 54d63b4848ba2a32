//! The flow-cache file format that carries unfinished flows from one run to the next.
