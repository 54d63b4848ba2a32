//! Helpers shared by the integration tests: locating the shared capture files, reading a
//! capture to the end, and a small JSON reader for the expected results.

#![allow(dead_code)] // Each test binary uses a different part of this module.

use std::path::{Path, PathBuf};

use wsd_capture::{CaptureError, FileSource, PacketSource, ReadStats, Timestamp};

/// Returns the folder of shared test data, a sibling of the repository, and fails the
/// test when it is missing.
pub fn shared_dir() -> PathBuf {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared"));
    assert!(
        dir.is_dir(),
        "shared test data not found: expected the folder {} (the `shared` folder beside \
         the repository), with `cases/` and `corpus/` inside",
        dir.display()
    );
    dir.to_path_buf()
}

/// Returns a subfolder of the shared test data, and fails the test when it is missing.
pub fn shared_subdir(name: &str) -> PathBuf {
    let dir = shared_dir().join(name);
    assert!(
        dir.is_dir(),
        "shared test folder not found: {}",
        dir.display()
    );
    dir
}

/// A packet copied out of the reader.
#[derive(Clone, Debug)]
pub struct OwnedPacket {
    pub ts: Timestamp,
    pub linktype: u32,
    pub data: Vec<u8>,
    pub orig_len: u32,
}

/// Everything read from one file.
#[derive(Debug)]
pub struct Reading {
    pub packets: Vec<OwnedPacket>,
    pub stats: ReadStats,
    pub position: u64,
    /// The error that ended reading, if any.
    pub error: Option<CaptureError>,
}

/// Reads every packet of an opened source, stopping at the first error.
pub fn read_source(mut source: FileSource) -> Reading {
    let mut packets = Vec::new();
    let error = loop {
        match source.next_packet() {
            Ok(Some(packet)) => packets.push(OwnedPacket {
                ts: packet.ts,
                linktype: packet.linktype,
                data: packet.data.to_vec(),
                orig_len: packet.orig_len,
            }),
            Ok(None) => break None,
            Err(error) => break Some(error),
        }
    };
    Reading {
        packets,
        stats: source.stats().clone(),
        position: source.position(),
        error,
    }
}

/// Opens and reads a file that must open.
pub fn read_file(path: &Path) -> Reading {
    let source = FileSource::open(path)
        .unwrap_or_else(|error| panic!("{} does not open: {error}", path.display()));
    read_source(source)
}

/// A JSON value, enough to read the expected results of the test cases.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    /// Parses a JSON document, panicking with the byte offset of the first syntax error.
    pub fn parse(text: &str) -> Json {
        let mut parser = JsonParser {
            bytes: text.as_bytes(),
            pos: 0,
        };
        let value = parser.value();
        parser.skip_whitespace();
        assert_eq!(
            parser.pos,
            text.len(),
            "trailing characters after JSON value"
        );
        value
    }

    /// Returns the member `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(members) => members
                .iter()
                .find(|(name, _)| name == key)
                .map(|(_, value)| value),
            _ => None,
        }
    }

    /// Returns the members of an object, in document order.
    pub fn members(&self) -> &[(String, Json)] {
        match self {
            Json::Object(members) => members,
            _ => &[],
        }
    }

    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Json::Number(number) if number.fract() == 0.0 && *number >= 0.0 => Some(*number as u64),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(text) => Some(text),
            _ => None,
        }
    }

    pub fn as_array(&self) -> &[Json] {
        match self {
            Json::Array(items) => items,
            _ => &[],
        }
    }
}

struct JsonParser<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl JsonParser<'_> {
    fn fail(&self, what: &str) -> ! {
        panic!("invalid JSON at byte {}: {what}", self.pos)
    }

    fn skip_whitespace(&mut self) {
        while self.pos < self.bytes.len() && self.bytes[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8) {
        self.skip_whitespace();
        if self.bytes.get(self.pos) != Some(&byte) {
            self.fail(&format!("expected '{}'", byte as char));
        }
        self.pos += 1;
    }

    fn value(&mut self) -> Json {
        self.skip_whitespace();
        match self.bytes.get(self.pos) {
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => Json::String(self.string()),
            Some(b't') => self.literal("true", Json::Bool(true)),
            Some(b'f') => self.literal("false", Json::Bool(false)),
            Some(b'n') => self.literal("null", Json::Null),
            Some(_) => self.number(),
            None => self.fail("unexpected end of input"),
        }
    }

    fn literal(&mut self, word: &str, value: Json) -> Json {
        if !self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.fail(&format!("expected {word}"));
        }
        self.pos += word.len();
        value
    }

    fn number(&mut self) -> Json {
        let start = self.pos;
        while self.pos < self.bytes.len()
            && matches!(
                self.bytes[self.pos],
                b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'
            )
        {
            self.pos += 1;
        }
        let text = std::str::from_utf8(&self.bytes[start..self.pos]).unwrap();
        match text.parse() {
            Ok(number) => Json::Number(number),
            Err(_) => self.fail(&format!("invalid number {text:?}")),
        }
    }

    fn string(&mut self) -> String {
        self.expect(b'"');
        let mut out = String::new();
        loop {
            let Some(&byte) = self.bytes.get(self.pos) else {
                self.fail("unterminated string");
            };
            self.pos += 1;
            match byte {
                b'"' => return out,
                b'\\' => {
                    let escaped = self.bytes.get(self.pos).copied();
                    self.pos += 1;
                    match escaped {
                        Some(b'n') => out.push('\n'),
                        Some(b't') => out.push('\t'),
                        Some(b'r') => out.push('\r'),
                        Some(b'u') => {
                            let hex = std::str::from_utf8(&self.bytes[self.pos..self.pos + 4])
                                .unwrap_or("");
                            let code = u32::from_str_radix(hex, 16)
                                .unwrap_or_else(|_| self.fail("invalid \\u escape"));
                            out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                            self.pos += 4;
                        }
                        Some(other) => out.push(other as char),
                        None => self.fail("unterminated escape"),
                    }
                }
                _ => {
                    // Copy a whole UTF-8 sequence starting at this byte.
                    let start = self.pos - 1;
                    let mut end = self.pos;
                    while end < self.bytes.len() && (self.bytes[end] & 0xc0) == 0x80 {
                        end += 1;
                    }
                    out.push_str(std::str::from_utf8(&self.bytes[start..end]).unwrap());
                    self.pos = end;
                }
            }
        }
    }

    fn array(&mut self) -> Json {
        self.expect(b'[');
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.bytes.get(self.pos) == Some(&b']') {
            self.pos += 1;
            return Json::Array(items);
        }
        loop {
            items.push(self.value());
            self.skip_whitespace();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Json::Array(items);
                }
                _ => self.fail("expected ',' or ']'"),
            }
        }
    }

    fn object(&mut self) -> Json {
        self.expect(b'{');
        let mut members = Vec::new();
        self.skip_whitespace();
        if self.bytes.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            return Json::Object(members);
        }
        loop {
            self.skip_whitespace();
            let key = self.string();
            self.expect(b':');
            members.push((key, self.value()));
            self.skip_whitespace();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Json::Object(members);
                }
                _ => self.fail("expected ',' or '}'"),
            }
        }
    }
}
