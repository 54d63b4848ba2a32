//! The part of a cache file between its format version and its trailer, whole in
//! memory or read from the file in a window that moves on as decoding goes.

use std::borrow::Cow;
use std::io::{self, Read};

use crate::reader::Reader;
use crate::CacheError;

/// Bytes an item is first decoded from. An encoded flow takes a few hundred
/// bytes, so an item longer than this is in no file this crate writes. When
/// decoding fails before the window reaches the end of the body, the window
/// doubles and decoding starts again, so the result is the same as with the
/// whole body in memory.
const ITEM_WINDOW: usize = 64 << 10;

/// Bytes read from the file at least, each time the window moves on.
const READ_CHUNK: usize = 256 << 10;

/// The body of a cache file, addressed by offsets in the whole file.
pub(crate) struct Body<'a> {
    /// Bytes of the file from offset `base` on.
    window: Cow<'a, [u8]>,
    /// File offset of `window[0]`.
    base: usize,
    /// File offset where the body ends: the start of the trailer.
    end: usize,
    /// The file the window is read from and its name for errors, or none when
    /// the body is whole in memory.
    source: Option<(&'a mut dyn Read, String)>,
}

impl<'a> Body<'a> {
    /// Returns the body of a file held whole in `bytes`, which end where the
    /// trailer starts.
    pub(crate) fn whole(bytes: &'a [u8]) -> Body<'a> {
        Body {
            window: Cow::Borrowed(bytes),
            base: 0,
            end: bytes.len(),
            source: None,
        }
    }

    /// Returns the body of the file `name`, from offset `start` to `end`, read
    /// from `source`, which is positioned at `start`.
    pub(crate) fn streamed(
        source: &'a mut dyn Read,
        name: String,
        start: usize,
        end: usize,
    ) -> Body<'a> {
        Body {
            window: Cow::Owned(Vec::new()),
            base: start,
            end,
            source: Some((source, name)),
        }
    }

    /// Returns the number of bytes of the body from offset `at` to its end.
    pub(crate) fn len_after(&self, at: usize) -> usize {
        self.end.saturating_sub(at)
    }

    /// Decodes one item at offset `at` with `read`. Returns the item and the
    /// offset after it, or in the inner error what `read` found wrong.
    ///
    /// # Errors
    ///
    /// Returns [`CacheError::Io`] if the file cannot be read.
    pub(crate) fn decode<T>(
        &mut self,
        at: usize,
        read: impl Fn(&mut Reader<'_>) -> Result<T, String>,
    ) -> Result<Result<(T, usize), String>, CacheError> {
        let mut want = ITEM_WINDOW;
        loop {
            self.fill(at, want)?;
            let mut reader = Reader::new(&self.window, at.saturating_sub(self.base));
            match read(&mut reader) {
                Ok(item) => return Ok(Ok((item, self.base + reader.position()))),
                Err(err) if self.base + self.window.len() >= self.end => return Ok(Err(err)),
                Err(_) => want = want.saturating_mul(2),
            }
        }
    }

    /// Returns the bytes from offset `at` to the end of the body.
    ///
    /// # Errors
    ///
    /// Returns [`CacheError::Io`] if the file cannot be read.
    pub(crate) fn rest(&mut self, at: usize) -> Result<&[u8], CacheError> {
        self.fill(at, self.len_after(at))?;
        let from = at.saturating_sub(self.base).min(self.window.len());
        Ok(&self.window[from..])
    }

    /// Makes the window hold the bytes from offset `at` to `at + want`, or to
    /// the end of the body if that comes first. Bytes before `at` are dropped
    /// only when more must be read, so that each byte moves a bounded number of
    /// times.
    fn fill(&mut self, at: usize, want: usize) -> Result<(), CacheError> {
        let target = at.saturating_add(want).min(self.end);
        if self.base + self.window.len() >= target {
            return Ok(());
        }
        let Some((source, name)) = self.source.as_mut() else {
            return Ok(());
        };
        let window = self.window.to_mut();
        let done = at.saturating_sub(self.base).min(window.len());
        window.drain(..done);
        self.base += done;
        let goal = target
            .max(self.base + window.len() + READ_CHUNK)
            .min(self.end);
        let filled = window.len();
        window.resize(goal - self.base, 0);
        let read =
            read_up_to(&mut **source, &mut window[filled..]).map_err(|source| CacheError::Io {
                operation: format!("reading {name}"),
                source,
            })?;
        window.truncate(filled + read);
        if self.base + window.len() < goal {
            // The file ended early, cut since its checksum was read.
            self.end = self.base + window.len();
        }
        Ok(())
    }
}

/// Reads into `buf` until it is full or the input ends, and returns the
/// number of bytes read.
pub(crate) fn read_up_to(source: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match source.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(filled)
}
