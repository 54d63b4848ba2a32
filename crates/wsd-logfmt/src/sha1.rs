//! SHA-1 (FIPS 180-4) and standard base64 (RFC 4648, with padding), only as much
//! as a Community ID needs: one short message hashed on the stack, no allocation.
//!
//! SHA-1 is broken for collision resistance. Community ID version 1 fixes it as
//! its hash, and an ID only has to tell flows apart, so that does not matter here.

/// Length of a SHA-1 digest in bytes.
pub(crate) const DIGEST_LEN: usize = 20;

/// Length of the base64 text of a SHA-1 digest: 20 bytes are 7 groups of three,
/// the last one padded.
pub(crate) const DIGEST_BASE64_LEN: usize = 28;

/// Maximum length of a message that [`sha1`] accepts, so that the padded message
/// fits two blocks.
pub(crate) const MAX_MESSAGE_LEN: usize = 119;

const BLOCK_LEN: usize = 64;

/// Returns the SHA-1 digest of `message`, which is at most [`MAX_MESSAGE_LEN`]
/// bytes long. Longer input is cut to that length, which no caller in this crate
/// produces (the longest Community ID input is 40 bytes).
pub(crate) fn sha1(message: &[u8]) -> [u8; DIGEST_LEN] {
    let message = &message[..message.len().min(MAX_MESSAGE_LEN)];

    // The padded message: the bytes, 0x80, zeros, and the bit length as a
    // big-endian u64 at the end of the last block.
    let mut padded = [0u8; 2 * BLOCK_LEN];
    padded[..message.len()].copy_from_slice(message);
    padded[message.len()] = 0x80;
    let blocks = if message.len() + 9 <= BLOCK_LEN { 1 } else { 2 };
    let end = blocks * BLOCK_LEN;
    let bit_len = (message.len() as u64) * 8;
    padded[end - 8..end].copy_from_slice(&bit_len.to_be_bytes());

    let mut state: [u32; 5] = [
        0x6745_2301,
        0xefcd_ab89,
        0x98ba_dcfe,
        0x1032_5476,
        0xc3d2_e1f0,
    ];
    for block in padded[..end].chunks_exact(BLOCK_LEN) {
        compress(&mut state, block);
    }

    let mut digest = [0u8; DIGEST_LEN];
    for (bytes, word) in digest.chunks_exact_mut(4).zip(state) {
        bytes.copy_from_slice(&word.to_be_bytes());
    }
    digest
}

/// Applies the SHA-1 compression function to one 64-byte block.
fn compress(state: &mut [u32; 5], block: &[u8]) {
    let mut schedule = [0u32; 80];
    for (word, bytes) in schedule.iter_mut().zip(block.chunks_exact(4)) {
        *word = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    }
    for t in 16..80 {
        schedule[t] = (schedule[t - 3] ^ schedule[t - 8] ^ schedule[t - 14] ^ schedule[t - 16])
            .rotate_left(1);
    }

    // One loop per round function, so that no round picks its function at
    // run time. Ch and Maj use equivalent forms with fewer operations.
    let mut working = *state;
    for &word in &schedule[..20] {
        let [_, b, c, d, _] = working;
        working = round(working, d ^ (b & (c ^ d)), 0x5a82_7999, word);
    }
    for &word in &schedule[20..40] {
        let [_, b, c, d, _] = working;
        working = round(working, b ^ c ^ d, 0x6ed9_eba1, word);
    }
    for &word in &schedule[40..60] {
        let [_, b, c, d, _] = working;
        working = round(working, (b & c) | (d & (b | c)), 0x8f1b_bcdc, word);
    }
    for &word in &schedule[60..] {
        let [_, b, c, d, _] = working;
        working = round(working, b ^ c ^ d, 0xca62_c1d6, word);
    }

    for (word, value) in state.iter_mut().zip(working) {
        *word = word.wrapping_add(value);
    }
}

/// Returns the working variables (a, b, c, d, e) after one SHA-1 round with
/// round function value `f`, constant `k` and schedule word `word`.
#[inline(always)]
fn round([a, b, c, d, e]: [u32; 5], f: u32, k: u32, word: u32) -> [u32; 5] {
    let temp = a
        .rotate_left(5)
        .wrapping_add(f)
        .wrapping_add(e)
        .wrapping_add(k)
        .wrapping_add(word);
    [temp, a, b.rotate_left(30), c, d]
}

const BASE64_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Returns the standard base64 text of a SHA-1 digest, with `=` padding.
pub(crate) fn digest_base64(digest: &[u8; DIGEST_LEN]) -> [u8; DIGEST_BASE64_LEN] {
    let base64_char = |bits: u32, shift: u32| BASE64_ALPHABET[((bits >> shift) & 0x3f) as usize];
    let mut text = [b'='; DIGEST_BASE64_LEN];
    // Six groups of three bytes give four characters each.
    for (group, chars) in digest.chunks_exact(3).zip(text.chunks_exact_mut(4)) {
        let bits = u32::from(group[0]) << 16 | u32::from(group[1]) << 8 | u32::from(group[2]);
        chars.copy_from_slice(&[
            base64_char(bits, 18),
            base64_char(bits, 12),
            base64_char(bits, 6),
            base64_char(bits, 0),
        ]);
    }
    // The last two bytes give three characters and the `=` already there.
    let bits = u32::from(digest[18]) << 16 | u32::from(digest[19]) << 8;
    text[24..27].copy_from_slice(&[
        base64_char(bits, 18),
        base64_char(bits, 12),
        base64_char(bits, 6),
    ]);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(digest: &[u8]) -> String {
        digest.iter().map(|byte| format!("{byte:02x}")).collect()
    }

    /// Digests from FIPS 180-4's examples and RFC 3174, section 7.3.
    #[test]
    fn sha1_known_digests() {
        let cases: [(&[u8], &str); 4] = [
            (b"", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
            (b"abc", "a9993e364706816aba3e25717850c26c9cd0d89d"),
            (
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                "84983e441c3bd26ebaae4aa1f95129e5e54670f1",
            ),
            (
                b"The quick brown fox jumps over the lazy dog",
                "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12",
            ),
        ];
        for (message, expected) in cases {
            assert_eq!(hex(&sha1(message)), expected, "message {message:?}");
        }
    }

    /// Lengths around the one-block limit (55 bytes) and the two-block limit.
    #[test]
    fn sha1_block_boundaries() {
        let cases = [
            (55, "c1c8bbdc22796e28c0e15163d20899b65621d65a"),
            (56, "c2db330f6083854c99d4b5bfb6e8f29f201be699"),
            (64, "0098ba824b5c16427bd7a1122a5a442a25ec644d"),
            (119, "ee971065aaa017e0632a8ca6c77bb3bf8b1dfc56"),
        ];
        for (len, expected) in cases {
            let message = vec![b'a'; len];
            assert_eq!(hex(&sha1(&message)), expected, "{len} bytes of 'a'");
        }
    }

    /// Encodings from RFC 4648, section 10, padded out to a digest's length.
    #[test]
    fn base64_of_digests() {
        let mut digest = [0u8; DIGEST_LEN];
        digest[..6].copy_from_slice(b"foobar");
        let text = digest_base64(&digest);
        assert!(text.starts_with(b"Zm9vYmFy"), "{text:?}");
        assert_eq!(&text[24..], b"AAA=");

        let all_ones = digest_base64(&[0xff; DIGEST_LEN]);
        assert_eq!(&all_ones, b"//////////////////////////8=");
    }
}
