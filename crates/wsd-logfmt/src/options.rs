//! Settings that shape flow records, shared by the text and JSON formats.

/// The format of flow records and packet lines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutputFormat {
    /// `TCPFLOW key=value` lines and the aligned per-packet lines.
    #[default]
    Text,
    /// JSON Lines: one JSON object per record or packet.
    Json,
}

/// Settings of flow record formatting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecordOptions {
    /// Seed of the Community ID hash (default 0, the value other monitors use
    /// unless configured otherwise).
    pub community_id_seed: u16,
    /// True to write text records with only the keys of the classic format, so
    /// that older parsers read them unchanged. JSON ignores it.
    pub compat: bool,
}
