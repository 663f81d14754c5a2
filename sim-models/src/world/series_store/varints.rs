//! [`Varints`]: an append-only log of unsigned integers, each in as few bytes as it needs.

/// Bytes per chunk. A chunk is allocated whole and never grows, so the log holds what its
/// values take plus at most one part-filled chunk (a `Vec` grown by doubling holds up to
/// twice its contents, and copies them as it grows).
const CHUNK: usize = 16 * 1024;

/// The most bytes one value takes: 128 bits, 7 a byte.
const MAX_LEN: usize = 19;

/// Unsigned integers as LEB128 varints (7 bits a byte, the high bit set on every byte but
/// the last): below 128 in one byte, below 16,384 in two. Read back in order only.
#[derive(Debug, Default)]
pub(crate) struct Varints {
    /// Each chunk is `CHUNK` bytes of capacity; a value never straddles two.
    chunks: Vec<Vec<u8>>,
}

impl Varints {
    /// Appends `v`: one byte per 7 bits it needs.
    #[inline]
    pub fn push(&mut self, mut v: u64) {
        let chunk = self.chunk_with_room();
        while v >= 0x80 {
            chunk.push((v as u8) | 0x80);
            v >>= 7;
        }
        chunk.push(v as u8);
    }

    /// Appends a 128-bit `v`, encoded as [`push`](Self::push) encodes (a value that fits
    /// 64 bits takes the same bytes either way).
    pub fn push_wide(&mut self, mut v: u128) {
        if let Ok(v) = u64::try_from(v) {
            return self.push(v);
        }
        let chunk = self.chunk_with_room();
        while v >= 0x80 {
            chunk.push((v as u8) | 0x80);
            v >>= 7;
        }
        chunk.push(v as u8);
    }

    /// The last chunk, or a new one if the last cannot take a whole value.
    #[inline]
    fn chunk_with_room(&mut self) -> &mut Vec<u8> {
        if self.chunks.last().is_none_or(|c| c.len() + MAX_LEN > CHUNK) {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        self.chunks.last_mut().expect("a chunk with room")
    }

    /// Bytes the values take (not counting the unused end of the last chunk).
    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.chunks.iter().map(Vec::len).sum()
    }

    /// The values in the order they were pushed.
    pub fn reader(&self) -> Reader<'_> {
        Reader {
            chunks: self.chunks.iter(),
            current: &[],
        }
    }
}

pub(crate) struct Reader<'a> {
    chunks: std::slice::Iter<'a, Vec<u8>>,
    current: &'a [u8],
}

impl Reader<'_> {
    /// The next value; panics past the last (a reader and its writer disagree: a bug).
    pub fn next(&mut self) -> u128 {
        if self.current.is_empty() {
            self.current = self.chunks.next().expect("read past the last value");
        }
        let (mut v, mut shift) = (0u128, 0);
        loop {
            let (&byte, rest) = self.current.split_first().expect("a whole value");
            self.current = rest;
            v |= u128::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return v;
            }
            shift += 7;
        }
    }

    /// The next value, pushed as a `u64`: decoded in 64 bits, not through `next`'s 128
    /// (filling the columns at a run's end is mostly this: about half the instructions).
    #[inline]
    pub fn u64(&mut self) -> u64 {
        if self.current.is_empty() {
            self.current = self.chunks.next().expect("read past the last value");
        }
        let (mut v, mut shift) = (0u64, 0u32);
        loop {
            let (&byte, rest) = self.current.split_first().expect("a whole value");
            self.current = rest;
            assert!(shift < u64::BITS, "pushed as a u64");
            v |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return v;
            }
            shift += 7;
        }
    }

    pub fn at_end(&self) -> bool {
        self.current.is_empty() && self.chunks.as_slice().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_edges_and_crosses_chunks() {
        let edges = [
            0,
            1,
            127,
            128,
            16_383,
            16_384,
            u128::from(u32::MAX),
            u128::from(u64::MAX),
            u128::MAX - 1,
            u128::MAX,
        ];
        // Enough values to fill several chunks, so that chunk ends are crossed.
        let values: Vec<u128> = (0..20_000u128)
            .map(|i| edges[(i % 10) as usize] ^ (i * 7919 % 3))
            .collect();
        let mut log = Varints::default();
        for &v in &values {
            log.push_wide(v);
        }
        assert!(log.chunks.len() > 3, "{} chunks", log.chunks.len());
        assert!(log.chunks.iter().all(|c| c.capacity() == CHUNK));
        let mut r = log.reader();
        for (i, &v) in values.iter().enumerate() {
            assert_eq!(r.next(), v, "value {i}");
        }
        assert!(r.at_end());
    }

    #[test]
    fn u64s_read_back_in_64_bits_across_chunks() {
        let edges = [
            0,
            1,
            127,
            128,
            16_383,
            16_384,
            u64::from(u32::MAX),
            u64::MAX - 1,
            u64::MAX,
        ];
        let values: Vec<u64> = (0..20_000u64)
            .map(|i| edges[(i % 9) as usize] ^ (i % 3))
            .collect();
        let mut log = Varints::default();
        for &v in &values {
            log.push(v);
        }
        assert!(log.chunks.len() > 1, "{} chunks", log.chunks.len());
        let mut r = log.reader();
        for (i, &v) in values.iter().enumerate() {
            assert_eq!(r.u64(), v, "value {i}");
        }
        assert!(r.at_end());
    }

    #[test]
    fn small_values_take_few_bytes() {
        let mut log = Varints::default();
        for v in [0, 127] {
            log.push(v);
        }
        assert_eq!(log.bytes(), 2);
        log.push(128);
        log.push_wide(16_383);
        assert_eq!(log.bytes(), 6);
        log.push(u64::MAX);
        log.push_wide(u128::from(u64::MAX));
        assert_eq!(log.bytes(), 6 + 10 + 10);
        log.push_wide(u128::MAX);
        assert_eq!(log.bytes(), 26 + MAX_LEN);
        let mut r = log.reader();
        let back: Vec<u128> = (0..7).map(|_| r.next()).collect();
        let max = u128::from(u64::MAX);
        assert_eq!(back, [0, 127, 128, 16_383, max, max, u128::MAX]);
    }

    #[test]
    fn an_empty_log_is_at_its_end() {
        assert!(Varints::default().reader().at_end());
    }
}
