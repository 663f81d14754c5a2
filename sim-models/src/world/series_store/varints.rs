//! [`Varints`]: an append-only log of unsigned integers, each in as few bytes as it needs.

/// Bytes per chunk. A chunk is allocated whole and never grows, so the log holds what its
/// values take plus at most one part-filled chunk (a `Vec` grown by doubling holds up to
/// twice its contents, and copies them as it grows).
const CHUNK: usize = 16 * 1024;

/// The most bytes a [`Row`] takes: 10 values of 64 bits with room to spare, or ten 128-bit
/// ones. A writer pushing more is a bug, and panics.
pub(crate) const ROW: usize = 192;

/// Unsigned integers as LEB128 varints (7 bits a byte, the high bit set on every byte but
/// the last): below 128 in one byte, below 16,384 in two. Written a [`Row`] at a time, read
/// back in order, one value at a time.
#[derive(Debug, Default)]
pub(crate) struct Varints {
    /// Each chunk is `CHUNK` bytes of capacity; a row never straddles two.
    chunks: Vec<Vec<u8>>,
}

/// A few values encoded on the stack, then appended to a [`Varints`] in one copy: the log
/// checks its room once a row, not once a value (a window's 69 values for v0.4 cost about
/// 50 instructions each when each found its own room).
pub(crate) struct Row {
    bytes: [u8; ROW],
    len: usize,
}

impl Row {
    pub fn new() -> Self {
        Row {
            bytes: [0; ROW],
            len: 0,
        }
    }

    /// Appends `v`: one byte per 7 bits it needs.
    #[inline(always)]
    pub fn push(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.bytes[self.len] = (v as u8) | 0x80;
            self.len += 1;
            v >>= 7;
        }
        self.bytes[self.len] = v as u8;
        self.len += 1;
    }

    /// Appends a 128-bit `v`, encoded as [`push`](Self::push) encodes (a value that fits
    /// 64 bits takes the same bytes either way).
    #[inline]
    pub fn push_wide(&mut self, mut v: u128) {
        if let Ok(v) = u64::try_from(v) {
            return self.push(v);
        }
        while v >= 0x80 {
            self.bytes[self.len] = (v as u8) | 0x80;
            self.len += 1;
            v >>= 7;
        }
        self.bytes[self.len] = v as u8;
        self.len += 1;
    }
}

impl Varints {
    /// Appends the row's values, in a new chunk if the last cannot take them all.
    #[inline]
    pub fn append(&mut self, row: &Row) {
        let bytes = &row.bytes[..row.len];
        match self.chunks.last_mut() {
            Some(c) if c.len() + bytes.len() <= CHUNK => c.extend_from_slice(bytes),
            _ => self.new_chunk(bytes),
        }
    }

    #[cold]
    fn new_chunk(&mut self, bytes: &[u8]) {
        let mut c = Vec::with_capacity(CHUNK);
        c.extend_from_slice(bytes);
        self.chunks.push(c);
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
    /// Most values are below 128, one byte: they take the short way.
    #[inline]
    pub fn u64(&mut self) -> u64 {
        if self.current.is_empty() {
            self.current = self.chunks.next().expect("read past the last value");
        }
        match self.current {
            [byte @ 0..0x80, rest @ ..] => {
                self.current = rest;
                u64::from(*byte)
            }
            _ => self.long_u64(),
        }
    }

    /// [`u64`](Self::u64) of a value of two bytes or more.
    #[inline(never)]
    fn long_u64(&mut self) -> u64 {
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

    /// The most bytes one value takes: 128 bits, 7 a byte.
    const MAX_LEN: usize = 19;

    /// `values` pushed as 128-bit values, rows of 1 to 10 values in turn, so that rows of
    /// many lengths meet chunk ends.
    fn log_of(values: &[u128]) -> Varints {
        let mut log = Varints::default();
        let (mut at, mut per_row) = (0, 1);
        while at < values.len() {
            let mut row = Row::new();
            for &v in values[at..].iter().take(per_row) {
                row.push_wide(v);
            }
            log.append(&row);
            at += per_row;
            per_row = per_row % 10 + 1;
        }
        log
    }

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
        let log = log_of(&values);
        assert!(log.chunks.len() > 3, "{} chunks", log.chunks.len());
        assert!(log.chunks.iter().all(|c| c.capacity() == CHUNK));
        // Every chunk but the last is full to within one row.
        let n = log.chunks.len();
        assert!(log.chunks[..n - 1].iter().all(|c| c.len() > CHUNK - ROW));
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
        for row in values.chunks(7) {
            let mut r = Row::new();
            for &v in row {
                r.push(v);
            }
            log.append(&r);
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
        let mut row = Row::new();
        for v in [0, 127] {
            row.push(v);
        }
        log.append(&row);
        assert_eq!(log.bytes(), 2);
        let mut row = Row::new();
        row.push(128);
        row.push_wide(16_383);
        log.append(&row);
        assert_eq!(log.bytes(), 6);
        let mut row = Row::new();
        row.push(u64::MAX);
        row.push_wide(u128::from(u64::MAX));
        row.push_wide(u128::MAX);
        log.append(&row);
        assert_eq!(log.bytes(), 6 + 10 + 10 + MAX_LEN);
        let mut r = log.reader();
        let back: Vec<u128> = (0..7).map(|_| r.next()).collect();
        let max = u128::from(u64::MAX);
        assert_eq!(back, [0, 127, 128, 16_383, max, max, u128::MAX]);
    }

    #[test]
    fn a_full_row_of_the_widest_values_fits() {
        let mut row = Row::new();
        for _ in 0..ROW / MAX_LEN {
            row.push_wide(u128::MAX);
        }
        let mut log = Varints::default();
        log.append(&row);
        let mut r = log.reader();
        assert!((0..ROW / MAX_LEN).all(|_| r.next() == u128::MAX));
        assert!(r.at_end());
    }

    #[test]
    fn an_empty_log_is_at_its_end() {
        assert!(Varints::default().reader().at_end());
    }
}
