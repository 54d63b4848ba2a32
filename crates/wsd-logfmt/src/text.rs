//! Hand-written appenders for numbers, addresses and padding.
//!
//! Every function appends ASCII to a `Vec<u8>` and never goes through `core::fmt`,
//! which costs tens of nanoseconds per value and would dominate a packet line.
//!
//! Each value's length is computed first. The value is then written in place into
//! the output, which has grown by a constant-size chunk and is truncated after.
//! Constant-size copies compile to a few vector stores, where a variable-size copy
//! calls `memcpy`, and writing in place avoids reading back bytes just stored in
//! a stack buffer, which stalls store-to-load forwarding.
//!
//! A flow record line grows the output once by an upper bound of its length
//! ([`push_with_cursor`]) and pushes every value through a [`Cursor`], which
//! saves the growth and capacity check per value.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use wsd_decode::MacAddr;

/// The decimal digits of 0 to 99, two bytes each, so one lookup emits two digits.
const DIGIT_PAIRS: [u8; 200] = {
    let mut table = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        table[2 * i] = b'0' + (i / 10) as u8;
        table[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    table
};

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Spaces to copy padding from, at least as many as the widest column.
const SPACES: [u8; 32] = [b' '; 32];

/// Placeholder bytes that grow the output before a value is written over them,
/// at least as many as the longest value.
const PLACEHOLDER: [u8; 40] = [0; 40];

/// A value with a text form whose length is known before it is written.
pub(crate) trait Text {
    /// The length of the longest text of this type, at most `PLACEHOLDER.len()`.
    const MAX_LEN: usize;

    /// Length of the text in bytes.
    fn len(&self) -> usize;

    /// Writes the text into `dst`, which is exactly `self.len()` bytes long.
    fn write(&self, dst: &mut [u8]);
}

/// Appends `text`.
pub(crate) fn push_text<T: Text>(out: &mut Vec<u8>, text: &T) {
    write_text(out, text, text.len());
}

/// Appends `text`, whose length `len` the caller computed.
// Forced inlining made packet lines 10 to 20% faster in the `format_timing` example,
// when they were written with it. JSON records still are.
#[inline(always)]
fn write_text<T: Text>(out: &mut Vec<u8>, text: &T, len: usize) {
    let start = out.len();
    out.extend_from_slice(&PLACEHOLDER[..T::MAX_LEN]);
    text.write(&mut out[start..start + len]);
    out.truncate(start + len);
}

/// Appends `n` in decimal, without padding.
#[inline]
pub(crate) fn push_u64(out: &mut Vec<u8>, n: u64) {
    // Many counters of a record are single digits, often zero, and a lone
    // digit needs neither the length computation nor the placeholder.
    if n < 10 {
        out.push(b'0' + n as u8);
    } else {
        push_decimal(out, n);
    }
}

/// Appends `n` in decimal, without padding. [`push_u64`] calls it for the
/// values of two digits or more, so that only the single-digit case is inlined.
#[inline(never)]
fn push_decimal(out: &mut Vec<u8>, n: u64) {
    push_text(out, &Decimal(n));
}

/// Returns the last two decimal digits of `n`, zero-padded.
pub(crate) fn two_digits(n: u32) -> [u8; 2] {
    let pair = (n % 100) as usize * 2;
    [DIGIT_PAIRS[pair], DIGIT_PAIRS[pair + 1]]
}

/// An unsigned integer in decimal, without padding.
pub(crate) struct Decimal(pub(crate) u64);

impl Text for Decimal {
    const MAX_LEN: usize = 20;

    fn len(&self) -> usize {
        self.0.checked_ilog10().map_or(1, |log| log as usize + 1)
    }

    fn write(&self, dst: &mut [u8]) {
        // Fill from the last digit backwards, two digits at a time.
        let mut end = dst.len();
        let mut rest = self.0;
        while rest >= 100 {
            end -= 2;
            dst[end..end + 2].copy_from_slice(&two_digits((rest % 100) as u32));
            rest /= 100;
        }
        if rest >= 10 {
            dst[..2].copy_from_slice(&two_digits(rest as u32));
        } else {
            dst[0] = b'0' + rest as u8;
        }
    }
}

/// A number below 1,000,000 as exactly six zero-padded digits, such as the
/// microseconds of a timestamp.
pub(crate) struct SixDigits(pub(crate) u32);

impl Text for SixDigits {
    const MAX_LEN: usize = 6;

    fn len(&self) -> usize {
        6
    }

    fn write(&self, dst: &mut [u8]) {
        for (slot, divisor) in dst.chunks_exact_mut(2).zip([10_000, 100, 1]) {
            slot.copy_from_slice(&two_digits(self.0 / divisor));
        }
    }
}

/// A forward writer into a slice that the caller sized for the whole text.
///
/// Writing past the end of the slice panics, so every caller sizes the slice
/// for the longest text it can write.
pub(crate) struct Cursor<'a> {
    dst: &'a mut [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(dst: &'a mut [u8]) -> Cursor<'a> {
        Cursor { dst, pos: 0 }
    }

    pub(crate) fn push(&mut self, byte: u8) {
        self.dst[self.pos] = byte;
        self.pos += 1;
    }

    pub(crate) fn push_slice(&mut self, bytes: &[u8]) {
        self.dst[self.pos..self.pos + bytes.len()].copy_from_slice(bytes);
        self.pos += bytes.len();
    }

    /// Pushes `n` in lower-case hex without leading zeros (`0` for zero).
    fn push_hex(&mut self, n: u16) {
        for digit in (0..hex_len(n)).rev() {
            self.push(HEX_DIGITS[usize::from((n >> (4 * digit)) & 0xf)]);
        }
    }

    /// Pushes the first `len` bytes of `padded`. Copies all of `padded`, which
    /// costs less than a copy of variable length, so the caller must leave
    /// room for it. Later pushes overwrite the bytes past `len`.
    pub(crate) fn push_padded<const N: usize>(&mut self, padded: &[u8; N], len: usize) {
        self.dst[self.pos..self.pos + N].copy_from_slice(padded);
        self.pos += len.min(N);
    }

    /// Pushes `text`, which takes exactly `text.len()` bytes.
    pub(crate) fn push_text<T: Text>(&mut self, text: &T) {
        let end = self.pos + text.len();
        text.write(&mut self.dst[self.pos..end]);
        self.pos = end;
    }

    /// Returns the number of bytes pushed so far.
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    /// Pushes `count` spaces.
    pub(crate) fn push_spaces(&mut self, count: usize) {
        if count <= SPACES.len() {
            self.push_padded(&SPACES, count);
        } else {
            for _ in 0..count {
                self.push(b' ');
            }
        }
    }

    /// Pushes `n` in decimal, without padding.
    #[inline]
    pub(crate) fn push_u64(&mut self, n: u64) {
        // Many counters of a record are single digits, often zero.
        if n < 10 {
            self.push(b'0' + n as u8);
        } else if n < 100 {
            self.push_slice(&two_digits(n as u32));
        } else {
            self.push_text(&Decimal(n));
        }
    }

    /// Pushes a MAC address as [`Mac`] writes it.
    pub(crate) fn push_mac(&mut self, mac: MacAddr) {
        // Each byte copies its three-byte table entry but moves on only past
        // its digits and colon, and the last colon is dropped. The copies thus
        // reach up to two bytes past the address, which later pushes overwrite.
        for byte in mac.0 {
            let entry = &HEX_BYTE_COLON[usize::from(byte)];
            self.dst[self.pos..self.pos + 3].copy_from_slice(entry);
            self.pos += 2 + usize::from(byte >= 0x10);
        }
        self.pos -= 1;
    }

    /// Pushes an IP address as [`Ip`] writes it.
    pub(crate) fn push_ip(&mut self, ip: IpAddr) {
        let IpAddr::V4(v4) = ip else {
            self.push_text(&Ip(ip));
            return;
        };
        // Each octet copies its four-byte table entry but moves on only past
        // its digits and dot, and the last dot is dropped. The copies thus
        // reach up to three bytes past the address, which later pushes overwrite.
        for octet in v4.octets() {
            let entry = &OCTET_DOT[usize::from(octet)];
            self.dst[self.pos..self.pos + 4].copy_from_slice(entry);
            self.pos += 2 + usize::from(octet >= 10) + usize::from(octet >= 100);
        }
        self.pos -= 1;
    }
}

/// Appends text of at most `max_len` bytes that `write` pushes to a cursor.
///
/// The output grows by `max_len` zero bytes once, `write` fills them without a
/// capacity check per value, and the output is cut back to what was written.
/// `write` must not push more than `max_len` bytes, or it panics.
pub(crate) fn push_with_cursor(
    out: &mut Vec<u8>,
    max_len: usize,
    write: impl FnOnce(&mut Cursor<'_>),
) {
    let start = out.len();
    out.resize(start + max_len, 0);
    let mut cursor = Cursor::new(&mut out[start..]);
    write(&mut cursor);
    let len = cursor.pos;
    out.truncate(start + len);
}

/// For each byte, its lower-case hex digits without zero padding and a colon,
/// padded with a zero to three bytes.
const HEX_BYTE_COLON: [[u8; 3]; 256] = {
    let mut table = [[0u8; 3]; 256];
    let mut i = 0;
    while i < 256 {
        let high = HEX_DIGITS[i >> 4];
        let low = HEX_DIGITS[i & 0xf];
        table[i] = if i < 0x10 {
            [low, b':', 0]
        } else {
            [high, low, b':']
        };
        i += 1;
    }
    table
};

/// For each octet, its decimal digits and a dot, padded with zeros to four
/// bytes.
const OCTET_DOT: [[u8; 4]; 256] = {
    let mut table = [[0u8; 4]; 256];
    let mut i = 0;
    while i < 256 {
        let hundreds = b'0' + (i / 100) as u8;
        let tens = b'0' + (i / 10 % 10) as u8;
        let ones = b'0' + (i % 10) as u8;
        table[i] = if i >= 100 {
            [hundreds, tens, ones, b'.']
        } else if i >= 10 {
            [tens, ones, b'.', 0]
        } else {
            [ones, b'.', 0, 0]
        };
        i += 1;
    }
    table
};

/// Number of hex digits of `n` without leading zeros, 1 for zero.
fn hex_len(n: u16) -> usize {
    1 + usize::from(n > 0xf) + usize::from(n > 0xff) + usize::from(n > 0xfff)
}

/// A MAC address as lower-case hex bytes without zero padding, like
/// `8:5b:e:6d:14:e8`: the same text as `MacAddr`'s `Display`.
pub(crate) struct Mac(pub(crate) MacAddr);

impl Text for Mac {
    const MAX_LEN: usize = 17;

    fn len(&self) -> usize {
        let one_digit_bytes = self.0 .0.iter().filter(|&&byte| byte < 0x10).count();
        Self::MAX_LEN - one_digit_bytes
    }

    fn write(&self, dst: &mut [u8]) {
        let mut cursor = Cursor::new(dst);
        for (i, byte) in self.0 .0.into_iter().enumerate() {
            if i > 0 {
                cursor.push(b':');
            }
            cursor.push_hex(u16::from(byte));
        }
    }
}

/// An IP address in the text form of std's `Display`: dotted decimal for IPv4,
/// RFC 5952 for IPv6.
pub(crate) struct Ip(pub(crate) IpAddr);

impl Text for Ip {
    /// The length of an IPv6 address of eight 4-digit groups.
    const MAX_LEN: usize = 39;

    fn len(&self) -> usize {
        match self.0 {
            IpAddr::V4(v4) => ipv4_len(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IPV4_MAPPED_PREFIX.len() + ipv4_len(v4),
                None => ipv6_len(&v6.segments()),
            },
        }
    }

    fn write(&self, dst: &mut [u8]) {
        let mut cursor = Cursor::new(dst);
        match self.0 {
            IpAddr::V4(v4) => write_ipv4(&mut cursor, v4),
            IpAddr::V6(v6) => write_ipv6(&mut cursor, v6),
        }
    }
}

const IPV4_MAPPED_PREFIX: &[u8] = b"::ffff:";

fn ipv4_len(ip: Ipv4Addr) -> usize {
    let digits: usize = ip
        .octets()
        .iter()
        .map(|&octet| 1 + usize::from(octet >= 10) + usize::from(octet >= 100))
        .sum();
    digits + 3
}

fn write_ipv4(cursor: &mut Cursor<'_>, ip: Ipv4Addr) {
    for (i, octet) in ip.octets().into_iter().enumerate() {
        if i > 0 {
            cursor.push(b'.');
        }
        if octet >= 100 {
            cursor.push(b'0' + octet / 100);
        }
        if octet >= 10 {
            cursor.push(b'0' + octet / 10 % 10);
        }
        cursor.push(b'0' + octet % 10);
    }
}

/// Length of the hex groups of an IPv6 address that is not IPv4-mapped, with the
/// longest zero run compressed as [`write_ipv6`] does.
fn ipv6_len(groups: &[u16; 8]) -> usize {
    let (run_start, run_len) = longest_zero_run(groups);
    if run_len < 2 {
        return hex_groups_len(groups);
    }
    let before = &groups[..run_start];
    let after = &groups[run_start + run_len..];
    hex_groups_len(before) + 2 + hex_groups_len(after)
}

/// Length of hex groups joined by `:`.
fn hex_groups_len(groups: &[u16]) -> usize {
    let digits: usize = groups.iter().map(|&group| hex_len(group)).sum();
    digits + groups.len().saturating_sub(1)
}

/// Writes an IPv6 address in the RFC 5952 form that std's `Display` produces:
/// IPv4-mapped addresses as `::ffff:a.b.c.d`, otherwise hex groups with the
/// longest run of two or more zero groups (the first such run on a tie) as `::`.
fn write_ipv6(cursor: &mut Cursor<'_>, ip: Ipv6Addr) {
    if let Some(v4) = ip.to_ipv4_mapped() {
        cursor.push_slice(IPV4_MAPPED_PREFIX);
        write_ipv4(cursor, v4);
        return;
    }

    let groups = ip.segments();
    let (run_start, run_len) = longest_zero_run(&groups);
    if run_len < 2 {
        write_hex_groups(cursor, &groups);
        return;
    }

    write_hex_groups(cursor, &groups[..run_start]);
    cursor.push_slice(b"::");
    write_hex_groups(cursor, &groups[run_start + run_len..]);
}

/// Returns the start and length of the first longest run of zero groups.
fn longest_zero_run(groups: &[u16; 8]) -> (usize, usize) {
    let mut best = (0, 0);
    let mut current_start = 0;
    let mut current_len = 0;

    for (i, &group) in groups.iter().enumerate() {
        if group != 0 {
            current_len = 0;
            continue;
        }
        if current_len == 0 {
            current_start = i;
        }
        current_len += 1;
        if current_len > best.1 {
            best = (current_start, current_len);
        }
    }
    best
}

fn write_hex_groups(cursor: &mut Cursor<'_>, groups: &[u16]) {
    for (i, &group) in groups.iter().enumerate() {
        if i > 0 {
            cursor.push(b':');
        }
        cursor.push_hex(group);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(push: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        push(&mut out);
        String::from_utf8(out).expect("appenders write ASCII only")
    }

    #[test]
    fn u64_matches_std() {
        let mut values = vec![0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, u64::MAX];
        for power in 0..20 {
            let p = 10u64.pow(power);
            values.extend([p - 1, p, p + 1]);
        }
        for n in values {
            assert_eq!(text(|out| push_u64(out, n)), n.to_string(), "value {n}");
        }
    }

    #[test]
    fn six_digits_zero_padded() {
        for (n, expected) in [
            (0, "000000"),
            (970_290, "970290"),
            (4_504, "004504"),
            (999_999, "999999"),
        ] {
            assert_eq!(text(|out| push_text(out, &SixDigits(n))), expected);
        }
    }

    #[test]
    fn two_digits_zero_padded() {
        assert_eq!(&two_digits(7), b"07");
        assert_eq!(&two_digits(59), b"59");
        assert_eq!(&two_digits(2018), b"18");
    }

    #[test]
    fn mac_matches_display() {
        let macs = [
            MacAddr([0x10, 0xc3, 0x7b, 0x9b, 0x41, 0xc9]),
            MacAddr([0x08, 0x5b, 0x0e, 0x6d, 0x14, 0xe8]),
            MacAddr([0; 6]),
            MacAddr([0xff; 6]),
        ];
        for mac in macs {
            assert_eq!(text(|out| push_text(out, &Mac(mac))), mac.to_string());
        }
    }

    #[test]
    fn ipv4_matches_display() {
        for ip in ["0.0.0.0", "172.20.1.144", "255.255.255.255", "10.0.100.9"] {
            let addr: IpAddr = ip.parse().expect("valid test address");
            assert_eq!(text(|out| push_text(out, &Ip(addr))), ip);
        }
    }

    #[test]
    fn ipv6_special_cases_match_display() {
        let cases = [
            "::",
            "::1",
            "1::",
            "2001:db8::1",
            "2001:db8:0:1:1:1:1:1",
            "2001:0:0:1:0:0:0:1",
            "2001:db8:0:0:1:0:0:1",
            "fe80::1:2:3:4",
            "::ffff:192.0.2.1",
            "::192.0.2.1",
            "64:ff9b::192.0.2.33",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "1:0:1:0:1:0:1:0",
        ];
        for case in cases {
            let addr: Ipv6Addr = case.parse().expect("valid test address");
            assert_eq!(
                text(|out| push_text(out, &Ip(IpAddr::V6(addr)))),
                addr.to_string(),
                "address {case}"
            );
        }
    }

    /// Every address whose groups are drawn from {0, 1, 0xabcd}: all placements of
    /// zero runs, including ties and IPv4-mapped forms.
    #[test]
    fn ipv6_zero_runs_match_display() {
        let choices = [0u16, 1, 0xabcd];
        for mut code in 0..3usize.pow(8) {
            let mut groups = [0u16; 8];
            for group in &mut groups {
                *group = choices[code % 3];
                code /= 3;
            }
            let addr = Ipv6Addr::from(groups);
            assert_eq!(
                text(|out| push_text(out, &Ip(IpAddr::V6(addr)))),
                addr.to_string()
            );
        }

        let mapped = Ipv6Addr::from([0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0201]);
        assert_eq!(
            text(|out| push_text(out, &Ip(IpAddr::V6(mapped)))),
            mapped.to_string()
        );
    }

    proptest::proptest! {
        #[test]
        fn ipv6_random_matches_display(bits: u128) {
            let addr = Ipv6Addr::from(bits);
            proptest::prop_assert_eq!(text(|out| push_text(out, &Ip(IpAddr::V6(addr)))), addr.to_string());
        }

        /// Random addresses with about half their groups zero, so zero runs of
        /// every length and position occur often.
        #[test]
        fn ipv6_sparse_matches_display(groups: [u16; 8], zero_mask: u8) {
            let mut groups = groups;
            for (i, group) in groups.iter_mut().enumerate() {
                if zero_mask & (1 << i) != 0 {
                    *group = 0;
                }
            }
            let addr = Ipv6Addr::from(groups);
            proptest::prop_assert_eq!(text(|out| push_text(out, &Ip(IpAddr::V6(addr)))), addr.to_string());
        }

        #[test]
        fn u64_random_matches_std(n: u64) {
            proptest::prop_assert_eq!(text(|out| push_u64(out, n)), n.to_string());
        }
    }

    /// Text pushed through a cursor, with room to spare after it.
    fn cursor_text(push: impl FnOnce(&mut Cursor<'_>)) -> String {
        text(|out| push_with_cursor(out, 64, push))
    }

    #[test]
    fn cursor_mac_matches_display() {
        let mut macs = vec![
            MacAddr([0x10, 0xc3, 0x7b, 0x9b, 0x41, 0xc9]),
            MacAddr([0x08, 0x5b, 0x0e, 0x6d, 0x14, 0xe8]),
            MacAddr([0; 6]),
            MacAddr([0xff; 6]),
        ];
        for byte in 0..=255u8 {
            macs.push(MacAddr([byte, 0, byte, 0xf, byte, byte]));
        }
        for mac in macs {
            assert_eq!(cursor_text(|cursor| cursor.push_mac(mac)), mac.to_string());
        }
    }

    #[test]
    fn cursor_ipv4_matches_display() {
        for octet in 0..=255u8 {
            for addr in [
                Ipv4Addr::new(octet, 0, 9, octet),
                Ipv4Addr::new(10, octet, 100, 99),
                Ipv4Addr::new(255, 10, octet, 1),
            ] {
                assert_eq!(
                    cursor_text(|cursor| cursor.push_ip(IpAddr::V4(addr))),
                    addr.to_string()
                );
            }
        }
    }

    /// The bytes that the table copies reach past an address are overwritten
    /// by what follows it, and cut off at the end of the text.
    #[test]
    fn cursor_overwrites_table_padding() {
        let addr = IpAddr::V4(Ipv4Addr::new(1, 2, 3, 4));
        let mac = MacAddr([1, 2, 3, 4, 5, 6]);
        let text = cursor_text(|cursor| {
            cursor.push_ip(addr);
            cursor.push(b' ');
            cursor.push_mac(mac);
        });
        assert_eq!(text, "1.2.3.4 1:2:3:4:5:6");
    }

    #[test]
    fn cursor_ipv6_matches_display() {
        for case in [
            "::",
            "2001:db8::1",
            "::ffff:192.0.2.1",
            "fe80::8a5b:eff:fe6d:14e8",
        ] {
            let addr: IpAddr = case.parse().expect("valid test address");
            assert_eq!(cursor_text(|cursor| cursor.push_ip(addr)), case);
        }
    }

    proptest::proptest! {
        #[test]
        fn cursor_u64_matches_std(n: u64) {
            proptest::prop_assert_eq!(cursor_text(|cursor| cursor.push_u64(n)), n.to_string());
        }
    }

    #[test]
    fn cursor_u64_powers_of_ten() {
        for power in 0..20 {
            let p = 10u64.pow(power);
            for n in [p - 1, p, p + 1] {
                assert_eq!(cursor_text(|cursor| cursor.push_u64(n)), n.to_string());
            }
        }
        assert_eq!(
            cursor_text(|cursor| cursor.push_u64(u64::MAX)),
            u64::MAX.to_string()
        );
    }

    #[test]
    fn cursor_spaces_beyond_chunk() {
        assert_eq!(cursor_text(|cursor| cursor.push_spaces(40)), " ".repeat(40));
        assert_eq!(cursor_text(|cursor| cursor.push_spaces(3)), "   ");
        assert_eq!(cursor_text(|cursor| cursor.push_spaces(0)), "");
    }

    #[test]
    fn widest_texts_fit() {
        assert_eq!(Mac(MacAddr([0xff; 6])).len(), Mac::MAX_LEN);
        assert_eq!(
            Ip(IpAddr::V6(Ipv6Addr::from([0xffff; 8]))).len(),
            Ip::MAX_LEN
        );
        let mapped = IpAddr::V6(Ipv4Addr::BROADCAST.to_ipv6_mapped());
        assert_eq!(Ip(mapped).len(), "::ffff:255.255.255.255".len());
        assert_eq!(Decimal(u64::MAX).len(), Decimal::MAX_LEN);
        for max_len in [
            Decimal::MAX_LEN,
            SixDigits::MAX_LEN,
            Mac::MAX_LEN,
            Ip::MAX_LEN,
        ] {
            assert!(max_len <= PLACEHOLDER.len());
        }
    }
}
