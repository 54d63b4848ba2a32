//! A small seeded pseudo-random number generator, so that generated traffic is
//! the same on every machine and in every run.

/// SplitMix64: a 64-bit state advanced by a constant and scrambled on output.
///
/// It is fast and its output passes common statistical tests, which is all that
/// synthetic traffic needs. It is not suitable for cryptography.
///
/// ```
/// use wsd_synth::Rng;
///
/// let mut a = Rng::new(7);
/// let mut b = Rng::new(7);
/// assert_eq!(a.next_u64(), b.next_u64());
/// assert!(a.below(10) < 10);
/// ```
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// Creates a generator whose output is fixed by `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    /// Returns the next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Returns the next 32 random bits.
    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// Returns a number in `0..bound`, or 0 if `bound` is 0.
    ///
    /// The high half of a 128-bit product maps the 64 random bits onto the range.
    /// The result is biased by at most `bound / 2^64`, far below what a traffic
    /// mix can show.
    pub fn below(&mut self, bound: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }

    /// Returns a number in `low..=high`; `high` must not be below `low`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        debug_assert!(low <= high, "empty range {low}..={high}");
        low + self.below(high.saturating_sub(low).saturating_add(1))
    }

    /// Returns true with a probability of `per_mille` thousandths.
    pub fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence() {
        let mut a = Rng::new(42);
        let mut b = Rng::new(42);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
    }

    #[test]
    fn matches_splitmix64_for_seed_zero() {
        // The first two outputs of SplitMix64 for seed 0, the values other
        // implementations of the algorithm test against.
        let mut rng = Rng::new(0);
        assert_eq!(rng.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(rng.next_u64(), 0x6e78_9e6a_a1b9_65f4);
    }

    #[test]
    fn below_stays_in_range() {
        let mut rng = Rng::new(1);
        for bound in [1, 2, 3, 10, 1000, u64::MAX] {
            for _ in 0..1000 {
                assert!(rng.below(bound) < bound);
            }
        }
        assert_eq!(rng.below(0), 0);
    }

    #[test]
    fn between_covers_both_ends() {
        let mut rng = Rng::new(3);
        let mut seen = [false; 4];
        for _ in 0..1000 {
            let value = rng.between(5, 8);
            assert!((5..=8).contains(&value));
            seen[(value - 5) as usize] = true;
        }
        assert_eq!(seen, [true; 4]);
    }

    #[test]
    fn chance_matches_rate() {
        let mut rng = Rng::new(9);
        let hits = (0..100_000).filter(|_| rng.chance(250)).count();
        assert!((24_000..26_000).contains(&hits), "{hits} hits of 100000");
    }
}
