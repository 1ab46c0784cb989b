//! Reproducible randomness: a `--seed` gives the same draws on every monkeywrench version and every
//! platform, so a seed written down with a run still names the same victims a year later.
//!
//! `rand`'s `StdRng` may switch algorithm in any release and `std`'s `DefaultHasher` is unspecified,
//! so neither backs a seed. Instead:
//! - [`SeededRng`] is ChaCha8, a fixed algorithm, keyed directly with the seed's little-endian bytes;
//! - its draws (below `n`, the unit interval, sampling without replacement) are written out here
//!   rather than taken from `rand`'s distributions, whose algorithms change between releases;
//! - [`Fnv`] is FNV-1a over explicit little-endian bytes, never fed through `std::hash::Hash` (whose
//!   byte stream differs across platforms and compiler versions).
//!
//! Changing anything in this file changes which targets a recorded seed picks: the tests pin
//! literal outputs so that such a change cannot go unnoticed.

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};

/// A deterministic random stream derived from a 64-bit seed.
#[derive(Debug, Clone)]
pub struct SeededRng(ChaCha8Rng);

impl SeededRng {
    /// The stream of `seed` (the same on every platform and version).
    pub fn new(seed: u64) -> SeededRng {
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&seed.to_le_bytes());
        SeededRng(ChaCha8Rng::from_seed(key))
    }

    /// The next 64 raw bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        top_53_bits(self.next_u64())
    }

    /// Uniform in `0..n`, without modulo bias; 0 when `n` is 0.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        // Reject the top partial copy of 0..n so every residue is equally likely.
        let limit = u64::MAX - u64::MAX % n;
        loop {
            let x = self.next_u64();
            if x < limit {
                return x % n;
            }
        }
    }

    /// Uniform in `low..high` (half-open); `low` when the range is empty.
    pub fn between(&mut self, low: i64, high: i64) -> i64 {
        if high <= low {
            return low;
        }
        let span = high.abs_diff(low);
        low.wrapping_add_unsigned(self.below(span))
    }

    /// `count` distinct indices of `0..len` (all of them when `count >= len`), in draw order.
    pub fn sample(&mut self, len: usize, count: usize) -> Vec<usize> {
        let count = count.min(len);
        // A partial Fisher–Yates shuffle: position i takes a uniform pick of what is left.
        let mut pool: Vec<usize> = (0..len).collect();
        for i in 0..count {
            let j = i + self.below((len - i) as u64) as usize;
            pool.swap(i, j);
        }
        pool.truncate(count);
        pool
    }
}

/// FNV-1a (64 bit) over explicitly encoded values: the stable hash behind derived seeds and
/// per-user sampling.
#[derive(Debug, Clone, Copy)]
pub struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv::new()
    }
}

impl Fnv {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x100_0000_01b3;

    /// The empty hash.
    pub fn new() -> Fnv {
        Fnv(Fnv::OFFSET_BASIS)
    }

    /// Adds raw bytes.
    pub fn bytes(mut self, bytes: &[u8]) -> Fnv {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(Fnv::PRIME);
        }
        self
    }

    /// Adds a number as 8 little-endian bytes.
    pub fn u64(self, value: u64) -> Fnv {
        self.bytes(&value.to_le_bytes())
    }

    /// Adds a signed number as 8 little-endian bytes.
    pub fn i64(self, value: i64) -> Fnv {
        self.bytes(&value.to_le_bytes())
    }

    /// Adds a string, length first, so `("ab", "c")` and `("a", "bc")` differ.
    pub fn str(self, text: &str) -> Fnv {
        self.u64(text.len() as u64).bytes(text.as_bytes())
    }

    /// The hash so far.
    pub fn finish(self) -> u64 {
        self.0
    }
}

/// A uniform draw in `[0, 1)` made from one hash: for one-off decisions (does this toxic hit this
/// connection, this request, this user) where a whole [`SeededRng`] would cost more than the rest.
pub fn unit_from_hash(hash: u64) -> f64 {
    top_53_bits(mix(hash))
}

/// SplitMix64's finalizer: spreads FNV's weakly mixed low bits over the whole word.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn top_53_bits(x: u64) -> f64 {
    (x >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Literal values: if one of these changes, every recorded seed picks differently.
    #[test]
    fn the_stream_of_a_seed_is_fixed() {
        // ChaCha8 block 0 of the key "42 as 8 little-endian bytes, then zeros" (checked against an
        // independent implementation of the algorithm).
        let mut rng = SeededRng::new(42);
        let first: Vec<u64> = (0..3).map(|_| rng.next_u64()).collect();
        assert_eq!(
            first,
            [
                6424161053832095879,
                5270208426312333099,
                9102960255288774902
            ]
        );
        let mut rng = SeededRng::new(42);
        let draws = (rng.below(10), rng.between(-5, 5), rng.sample(10, 3));
        assert_eq!(draws, (9, 4, vec![2, 7, 4]));
    }

    #[test]
    fn fnv_matches_the_published_test_vectors() {
        // From the FNV reference test suite (FNV-1a, 64 bit).
        assert_eq!(Fnv::new().finish(), 0xcbf2_9ce4_8422_2325);
        assert_eq!(Fnv::new().bytes(b"a").finish(), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(Fnv::new().bytes(b"foobar").finish(), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn strings_are_length_prefixed() {
        assert_ne!(
            Fnv::new().str("ab").str("c").finish(),
            Fnv::new().str("a").str("bc").finish()
        );
    }

    #[test]
    fn draws_stay_in_range() {
        let mut rng = SeededRng::new(7);
        for n in 1..50u64 {
            assert!(rng.below(n) < n);
            let x = rng.between(-(n as i64), n as i64);
            assert!((-(n as i64)..n as i64).contains(&x));
            let u = rng.unit();
            assert!((0.0..1.0).contains(&u));
        }
        assert_eq!(rng.below(0), 0);
        assert_eq!(rng.between(3, 3), 3);
        let mut picked = rng.sample(10, 4);
        assert_eq!(picked.len(), 4);
        picked.sort_unstable();
        picked.dedup();
        assert_eq!(picked.len(), 4, "distinct");
        assert_eq!(rng.sample(3, 9).len(), 3);
    }

    #[test]
    fn a_hash_draw_is_fixed() {
        assert_eq!(
            unit_from_hash(Fnv::new().str("alice").finish()),
            0.1503187236068484
        );
    }
}
