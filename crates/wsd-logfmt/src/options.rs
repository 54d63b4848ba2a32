//! Settings that shape flow records, shared by the text and JSON formats.

/// The format of flow and statistics records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutputFormat {
    /// `key=value` lines that start with a keyword such as `TCPFLOW`.
    #[default]
    Text,
    /// JSON Lines: one JSON object per record and per packet line.
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
