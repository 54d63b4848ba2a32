//! SHA-1 (FIPS 180-4) and standard base64 (RFC 4648, with padding), only as much
//! as a Community ID needs: one short message hashed on the stack, no allocation.
//!
//! Where the processor has the SHA extensions, a block takes a third of the
//! time of the portable rounds: 58 ns against 170 ns in a loop of 2 million
//! blocks on an Intel Xeon. On the bench's mixed capture, with a record per
//! eight packets, `wsd` took 2% less time there.
//! Calling those instructions is the one use of `unsafe` outside the libpcap
//! binding.
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
#[cfg(test)]
pub(crate) const MAX_MESSAGE_LEN: usize = 119;

/// Returns the SHA-1 digest of `message`, which is at most [`MAX_MESSAGE_LEN`]
/// bytes long. Longer input is cut to that length, which no caller in this crate
/// produces (the longest Community ID input is 40 bytes).
///
/// The Community ID builds its message in a block and calls
/// [`sha1_padded_block`], so only tests call this general form.
#[cfg(test)]
pub(crate) fn sha1(message: &[u8]) -> [u8; DIGEST_LEN] {
    let message = &message[..message.len().min(MAX_MESSAGE_LEN)];
    if message.len() <= MAX_ONE_BLOCK_LEN {
        let mut block = [0u8; BLOCK_LEN];
        block[..message.len()].copy_from_slice(message);
        return sha1_padded_block(&mut block, message.len());
    }

    // The padded message: the bytes, 0x80, zeros, and the bit length as a
    // big-endian u64 at the end of the second block.
    let mut padded = [0u8; 2 * BLOCK_LEN];
    padded[..message.len()].copy_from_slice(message);
    padded[message.len()] = 0x80;
    let bit_len = (message.len() as u64) * 8;
    padded[2 * BLOCK_LEN - 8..].copy_from_slice(&bit_len.to_be_bytes());

    let mut state = INITIAL_STATE;
    for block in padded.chunks_exact(BLOCK_LEN) {
        compress(&mut state, block);
    }
    digest_bytes(state)
}

/// Maximum length of a message that fits one block with its padding: the
/// 0x80 byte and the 8-byte bit length take the other 9 bytes.
pub(crate) const MAX_ONE_BLOCK_LEN: usize = BLOCK_LEN - 9;

/// Returns the SHA-1 digest of the message in `block[..len]`, where `len` is at
/// most [`MAX_ONE_BLOCK_LEN`] and the rest of `block` is zero. Writes the
/// padding into `block`.
///
/// A caller that builds its message in place avoids the copy that [`sha1`]
/// makes. A longer `len` is cut to [`MAX_ONE_BLOCK_LEN`].
pub(crate) fn sha1_padded_block(block: &mut [u8; BLOCK_LEN], len: usize) -> [u8; DIGEST_LEN] {
    let len = len.min(MAX_ONE_BLOCK_LEN);
    block[len] = 0x80;
    let bit_len = (len as u64) * 8;
    block[BLOCK_LEN - 8..].copy_from_slice(&bit_len.to_be_bytes());

    let mut state = INITIAL_STATE;
    compress(&mut state, block);
    digest_bytes(state)
}

/// Length of a SHA-1 block in bytes.
pub(crate) const BLOCK_LEN: usize = 64;

const INITIAL_STATE: [u32; 5] = [
    0x6745_2301,
    0xefcd_ab89,
    0x98ba_dcfe,
    0x1032_5476,
    0xc3d2_e1f0,
];

fn digest_bytes(state: [u32; 5]) -> [u8; DIGEST_LEN] {
    let mut digest = [0u8; DIGEST_LEN];
    for (bytes, word) in digest.chunks_exact_mut(4).zip(state) {
        bytes.copy_from_slice(&word.to_be_bytes());
    }
    digest
}

/// Returns schedule word `t` (0 to 79) from the last 16 words in `window`,
/// where word `t` sits at index `t % 16`. Words from 16 on replace the word 16
/// places back, which no later word needs.
#[inline(always)]
fn schedule_word(window: &mut [u32; 16], t: usize) -> u32 {
    if t >= 16 {
        // Words t - 3, t - 8, t - 14 and t - 16, modulo 16.
        let mixed =
            window[(t + 13) % 16] ^ window[(t + 8) % 16] ^ window[(t + 2) % 16] ^ window[t % 16];
        window[t % 16] = mixed.rotate_left(1);
    }
    window[t % 16]
}

/// Ch, the round function of rounds 0 to 19, in a form with one operation
/// fewer than `(b & c) | (!b & d)`.
#[inline(always)]
fn choose(b: u32, c: u32, d: u32) -> u32 {
    d ^ (b & (c ^ d))
}

/// Parity, the round function of rounds 20 to 39 and 60 to 79.
#[inline(always)]
fn parity(b: u32, c: u32, d: u32) -> u32 {
    b ^ c ^ d
}

/// Maj, the round function of rounds 40 to 59.
#[inline(always)]
fn majority(b: u32, c: u32, d: u32) -> u32 {
    (b & c) | (d & (b | c))
}

/// One SHA-1 round `t` on the working variables named in the order (a, b, c,
/// d, e). The new `a` goes into the variable named `e`, and the new `c` into
/// the one named `b`. The next round therefore names the same variables in the
/// order (e, a, b, c, d), and no value moves between variables.
macro_rules! round {
    ($function:ident, $k:expr, $window:ident, $t:expr, $a:ident, $b:ident, $c:ident, $d:ident, $e:ident) => {
        $e = $a
            .rotate_left(5)
            .wrapping_add($function($b, $c, $d))
            .wrapping_add($e)
            .wrapping_add($k)
            .wrapping_add(schedule_word(&mut $window, $t));
        $b = $b.rotate_left(30);
    };
}

/// Five rounds from round `t`, after which every variable has its original
/// name again.
macro_rules! five_rounds {
    ($function:ident, $k:expr, $window:ident, $t:expr, $a:ident, $b:ident, $c:ident, $d:ident, $e:ident) => {
        round!($function, $k, $window, $t, $a, $b, $c, $d, $e);
        round!($function, $k, $window, $t + 1, $e, $a, $b, $c, $d);
        round!($function, $k, $window, $t + 2, $d, $e, $a, $b, $c);
        round!($function, $k, $window, $t + 3, $c, $d, $e, $a, $b);
        round!($function, $k, $window, $t + 4, $b, $c, $d, $e, $a);
    };
}

/// Twenty rounds from round `t`, all with one round function and constant.
macro_rules! twenty_rounds {
    ($function:ident, $k:expr, $window:ident, $t:expr, $a:ident, $b:ident, $c:ident, $d:ident, $e:ident) => {
        five_rounds!($function, $k, $window, $t, $a, $b, $c, $d, $e);
        five_rounds!($function, $k, $window, $t + 5, $a, $b, $c, $d, $e);
        five_rounds!($function, $k, $window, $t + 10, $a, $b, $c, $d, $e);
        five_rounds!($function, $k, $window, $t + 15, $a, $b, $c, $d, $e);
    };
}

/// Applies the SHA-1 compression function to one 64-byte block, with the
/// processor's SHA instructions where it has them.
fn compress(state: &mut [u32; 5], block: &[u8]) {
    let mut window = [0u32; 16];
    for (word, bytes) in window.iter_mut().zip(block.chunks_exact(4)) {
        *word = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    }
    #[cfg(target_arch = "x86_64")]
    if sha_instructions::compress(state, &window) {
        return;
    }
    compress_words(state, window);
}

/// Applies the SHA-1 compression function to one block given as 16 words.
///
/// The 80 rounds are unrolled, so every schedule index is a constant and
/// the message schedule needs only a 16-word window.
fn compress_words(state: &mut [u32; 5], mut window: [u32; 16]) {
    let [mut a, mut b, mut c, mut d, mut e] = *state;
    twenty_rounds!(choose, 0x5a82_7999, window, 0, a, b, c, d, e);
    twenty_rounds!(parity, 0x6ed9_eba1, window, 20, a, b, c, d, e);
    twenty_rounds!(majority, 0x8f1b_bcdc, window, 40, a, b, c, d, e);
    twenty_rounds!(parity, 0xca62_c1d6, window, 60, a, b, c, d, e);

    for (word, value) in state.iter_mut().zip([a, b, c, d, e]) {
        *word = word.wrapping_add(value);
    }
}

/// SHA-1 with the SHA extensions of x86-64 processors (Intel's since Ice Lake,
/// AMD's since Zen), which do four rounds in one instruction.
#[cfg(target_arch = "x86_64")]
mod sha_instructions {
    use std::arch::x86_64::{
        __m128i, _mm_add_epi32, _mm_extract_epi32, _mm_set_epi32, _mm_sha1msg1_epu32,
        _mm_sha1msg2_epu32, _mm_sha1nexte_epu32, _mm_sha1rnds4_epu32, _mm_xor_si128,
    };

    /// True if the processor has the instructions [`compress`] needs.
    fn available() -> bool {
        std::arch::is_x86_feature_detected!("sha") && std::arch::is_x86_feature_detected!("sse4.1")
    }

    /// Applies the compression function to the block `words` and returns
    /// true, or returns false without a change where the processor lacks the
    /// instructions. The standard library caches what the processor has, so
    /// the check costs a load and a test.
    pub(super) fn compress(state: &mut [u32; 5], words: &[u32; 16]) -> bool {
        if !available() {
            return false;
        }
        // SAFETY: the processor has the SHA and SSE4.1 instructions, checked
        // above, which are all that `compress_with` needs beyond the SSE2 of
        // every x86-64 processor.
        #[allow(unsafe_code)]
        unsafe {
            compress_with(state, words);
        }
        true
    }

    /// Four schedule words, the first in the highest lane as the
    /// instructions expect.
    #[target_feature(enable = "sse2")]
    fn lanes(words: &[u32]) -> __m128i {
        _mm_set_epi32(
            words[0] as i32,
            words[1] as i32,
            words[2] as i32,
            words[3] as i32,
        )
    }

    /// Four rounds of group `$group` (0 to 19) with the rounds function
    /// `$function`. From group 4 on, the group's schedule words replace those
    /// of the group 4 before in `$w`, computed from them and from `$w1`,
    /// `$w2` and `$w3`, the words of the groups 3, 2 and 1 before.
    macro_rules! group {
        ($abcd:ident, $earlier:ident, $group:literal, $function:literal, $w:ident, $w1:ident, $w2:ident, $w3:ident) => {
            if $group >= 4 {
                $w = _mm_sha1msg2_epu32(_mm_xor_si128(_mm_sha1msg1_epu32($w, $w1), $w2), $w3);
            }
            let e = _mm_sha1nexte_epu32($earlier, $w);
            $earlier = $abcd;
            $abcd = _mm_sha1rnds4_epu32::<$function>($abcd, e);
        };
    }

    /// Applies the compression function to the block `words` with the SHA
    /// instructions.
    #[target_feature(enable = "sha,sse2,sse4.1")]
    fn compress_with(state: &mut [u32; 5], words: &[u32; 16]) {
        // A, B, C and D from the highest lane down, and E in the highest lane
        // of a register of its own.
        let start_abcd = _mm_set_epi32(
            state[0] as i32,
            state[1] as i32,
            state[2] as i32,
            state[3] as i32,
        );
        let start_e = _mm_set_epi32(state[4] as i32, 0, 0, 0);

        let mut w0 = lanes(&words[0..4]);
        let mut w1 = lanes(&words[4..8]);
        let mut w2 = lanes(&words[8..12]);
        let mut w3 = lanes(&words[12..16]);

        // The first group adds E itself, and later ones derive it from A of
        // four rounds before.
        let mut abcd = start_abcd;
        let mut earlier = abcd;
        abcd = _mm_sha1rnds4_epu32::<0>(abcd, _mm_add_epi32(start_e, w0));
        group!(abcd, earlier, 1, 0, w1, w2, w3, w0);
        group!(abcd, earlier, 2, 0, w2, w3, w0, w1);
        group!(abcd, earlier, 3, 0, w3, w0, w1, w2);
        group!(abcd, earlier, 4, 0, w0, w1, w2, w3);
        group!(abcd, earlier, 5, 1, w1, w2, w3, w0);
        group!(abcd, earlier, 6, 1, w2, w3, w0, w1);
        group!(abcd, earlier, 7, 1, w3, w0, w1, w2);
        group!(abcd, earlier, 8, 1, w0, w1, w2, w3);
        group!(abcd, earlier, 9, 1, w1, w2, w3, w0);
        group!(abcd, earlier, 10, 2, w2, w3, w0, w1);
        group!(abcd, earlier, 11, 2, w3, w0, w1, w2);
        group!(abcd, earlier, 12, 2, w0, w1, w2, w3);
        group!(abcd, earlier, 13, 2, w1, w2, w3, w0);
        group!(abcd, earlier, 14, 2, w2, w3, w0, w1);
        group!(abcd, earlier, 15, 3, w3, w0, w1, w2);
        group!(abcd, earlier, 16, 3, w0, w1, w2, w3);
        group!(abcd, earlier, 17, 3, w1, w2, w3, w0);
        group!(abcd, earlier, 18, 3, w2, w3, w0, w1);
        group!(abcd, earlier, 19, 3, w3, w0, w1, w2);

        let e = _mm_sha1nexte_epu32(earlier, start_e);
        let abcd = _mm_add_epi32(abcd, start_abcd);
        state[0] = _mm_extract_epi32::<3>(abcd) as u32;
        state[1] = _mm_extract_epi32::<2>(abcd) as u32;
        state[2] = _mm_extract_epi32::<1>(abcd) as u32;
        state[3] = _mm_extract_epi32::<0>(abcd) as u32;
        state[4] = _mm_extract_epi32::<3>(e) as u32;
    }
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

    /// Textbook SHA-1 of a message of at most 119 bytes, with the full 80-word
    /// schedule and one loop over all rounds, to check the unrolled one against.
    fn reference_sha1(message: &[u8]) -> [u8; DIGEST_LEN] {
        let mut padded = message.to_vec();
        padded.push(0x80);
        while padded.len() % 64 != 56 {
            padded.push(0);
        }
        padded.extend_from_slice(&((message.len() as u64) * 8).to_be_bytes());

        let mut state = INITIAL_STATE;
        for block in padded.chunks_exact(64) {
            let mut w = [0u32; 80];
            for (t, bytes) in block.chunks_exact(4).enumerate() {
                w[t] = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
            }
            for t in 16..80 {
                w[t] = (w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16]).rotate_left(1);
            }
            let [mut a, mut b, mut c, mut d, mut e] = state;
            for (t, &word) in w.iter().enumerate() {
                let (f, k) = match t {
                    0..=19 => ((b & c) | (!b & d), 0x5a82_7999),
                    20..=39 => (b ^ c ^ d, 0x6ed9_eba1),
                    40..=59 => ((b & c) | (b & d) | (c & d), 0x8f1b_bcdc),
                    _ => (b ^ c ^ d, 0xca62_c1d6),
                };
                let temp = a
                    .rotate_left(5)
                    .wrapping_add(f)
                    .wrapping_add(e)
                    .wrapping_add(k)
                    .wrapping_add(word);
                (e, d, c, b, a) = (d, c, b.rotate_left(30), a, temp);
            }
            for (word, value) in state.iter_mut().zip([a, b, c, d, e]) {
                *word = word.wrapping_add(value);
            }
        }
        digest_bytes(state)
    }

    #[test]
    fn padded_block_matches_sha1() {
        for len in 0..=MAX_ONE_BLOCK_LEN {
            let message: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let mut block = [0u8; BLOCK_LEN];
            block[..len].copy_from_slice(&message);
            assert_eq!(
                sha1_padded_block(&mut block, len),
                sha1(&message),
                "{len} bytes"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn sha1_matches_reference(message in proptest::collection::vec(proptest::num::u8::ANY, 0..=MAX_MESSAGE_LEN)) {
            proptest::prop_assert_eq!(sha1(&message), reference_sha1(&message));
        }
    }

    fn block_words(block: &[u8]) -> [u32; 16] {
        let mut words = [0u32; 16];
        for (word, bytes) in words.iter_mut().zip(block.chunks_exact(4)) {
            *word = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        }
        words
    }

    /// On an x86-64 processor that reports the SHA extensions, `compress` uses
    /// them, so the property test below checks them and not the portable
    /// rounds twice.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn sha_instructions_used_where_reported() {
        let reported = std::arch::is_x86_feature_detected!("sha")
            && std::arch::is_x86_feature_detected!("sse4.1");
        let mut state = INITIAL_STATE;
        assert_eq!(sha_instructions::compress(&mut state, &[0; 16]), reported);
    }

    proptest::proptest! {
        /// On a processor with the SHA instructions, `compress` uses them, so
        /// this checks them against the portable rounds, from any state.
        #[test]
        fn compress_paths_agree(
            block in proptest::collection::vec(proptest::num::u8::ANY, BLOCK_LEN),
            start in proptest::array::uniform5(proptest::num::u32::ANY),
        ) {
            let mut chosen = start;
            compress(&mut chosen, &block);
            let mut portable = start;
            compress_words(&mut portable, block_words(&block));
            proptest::prop_assert_eq!(chosen, portable);
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
