//! CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), as used by zlib and PNG.

/// Computes the CRC-32 of `bytes`.
///
/// `crc32fast` 1.5 picks its method at run time: carry-less multiplication
/// (PCLMULQDQ) on x86-64, the CRC32 instructions on AArch64, and a table that
/// takes 16 bytes per step elsewhere. A cache of a million flows is close to
/// 100 MB, so a table taking one byte per step was a large part of reading it.
pub fn crc32(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_value() {
        // The standard check value of CRC-32/ISO-HDLC.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }
}
