//! [`Varints`]: an append-only log of unsigned integers, each in as few bytes as it needs.

/// Bytes of a log's first chunk: a short run's ~70 logs take ~17 KiB (one chunk of 16 KiB
/// held the rows before), and one allocation each for its first ~200 windows.
const FIRST: usize = 256;

/// Bytes of a chunk at most; each new chunk is twice the last up to this. A chunk is
/// allocated whole and never grows, so a log holds what its values take plus at most one
/// part-filled chunk (a `Vec` grown by doubling holds up to twice its contents, and copies
/// them as it grows); ~70 logs of 4 KiB chunks leave at most ~280 KiB unused.
const CHUNK: usize = 4096;

/// The most bytes one value takes: a zero byte and 128 bits. A chunk ends with fewer
/// unused bytes than this.
#[cfg(test)]
const ROOM: usize = 17;

/// A value's prefix by the leading zeros of `v | 1`: `n - 1` for a value of `n` bytes, one
/// per 7 bits it needs; 8 past 56 bits (the long form: a zero byte, then 8 bytes).
const PREFIX_ZEROS: [u8; 64] = {
    let mut t = [0; 64];
    let mut lz: usize = 0;
    while lz < 64 {
        let n = (64 - lz).div_ceil(7);
        t[lz] = if n > 8 { 8 } else { n as u8 - 1 };
        lz += 1;
    }
    t
};

/// Unsigned integers as prefix varints: a value below 2^56 takes one byte per 7 bits it
/// needs (as LEB128: one byte below 128, two below 16,384), stored little-endian shifted
/// left by its length `n`, the low `n` bits being `n - 1` zeros and a one; larger values
/// are a zero byte, then 8 bytes (16 for one pushed as 128 bits). Unlike LEB128, whose
/// every byte carries a continuation bit, a value is written with one 8-byte store and
/// read with one byte's test or one 8-byte load, whatever its length. One log holds one
/// column (a series store keeps one per value of a window), so a column is read back
/// without the others.
#[derive(Clone, Debug, Default)]
pub(crate) struct Varints {
    /// Chunks filled (to within [`ROOM`]), in order.
    full: Vec<Chunk>,
    /// The chunk written to (empty, unallocated, before the first value).
    last: Chunk,
}

#[derive(Clone, Debug, Default)]
struct Chunk {
    bytes: Box<[u8]>,
    /// Bytes written; a value never straddles two chunks.
    len: usize,
}

impl Varints {
    /// Appends `v`: one byte per 7 bits it needs, a one-byte value with one store, a longer
    /// one with one store of 8 bytes (the bytes past the value's are overwritten by the next
    /// value, or left unused at the chunk's end). One comparison of the room left: closing a
    /// window pushes ~70 values, each to its own log.
    #[inline(always)]
    pub fn push(&mut self, v: u64) {
        let c = &mut self.last;
        if v < 0x80 {
            // One byte, the usual case (counts of a window, zeros), without the length.
            if let Some(b) = c.bytes.get_mut(c.len) {
                *b = (v as u8) << 1 | 1;
                c.len += 1;
                return;
            }
        } else {
            let zeros = PREFIX_ZEROS[(v | 1).leading_zeros() as usize];
            if zeros < 8 {
                let room = c.bytes.get_mut(c.len..).and_then(|b| b.first_chunk_mut());
                if let Some(room) = room {
                    *room = ((v << 1 | 1) << zeros).to_le_bytes();
                    c.len += usize::from(zeros) + 1;
                    return;
                }
            } else if self.put_long(&v.to_le_bytes()) {
                return;
            }
        }
        self.push_in_new_chunk(v);
    }

    #[cold]
    #[inline(never)]
    fn push_in_new_chunk(&mut self, v: u64) {
        self.new_chunk();
        self.push(v);
    }

    /// Appends a 128-bit `v`: as [`push`](Self::push) below 2^56, else a zero byte and
    /// its 16 bytes (so it must be read back with [`Reader::next`]).
    #[inline(always)]
    pub fn push_wide(&mut self, v: u128) {
        match u64::try_from(v) {
            Ok(v) if v < 1 << 56 => self.push(v),
            _ => {
                if !self.put_long(&v.to_le_bytes()) {
                    self.new_chunk();
                    assert!(self.put_long(&v.to_le_bytes()), "room in a new chunk");
                }
            }
        }
    }

    /// The long form, if the last chunk has room for it.
    #[inline]
    fn put_long(&mut self, bytes: &[u8]) -> bool {
        let c = &mut self.last;
        match c.bytes.get_mut(c.len..) {
            Some(room) if room.len() > bytes.len() => {
                room[0] = 0;
                room[1..=bytes.len()].copy_from_slice(bytes);
                c.len += 1 + bytes.len();
                true
            }
            _ => false,
        }
    }

    #[cold]
    fn new_chunk(&mut self) {
        let size = (self.last.bytes.len() * 2).clamp(FIRST, CHUNK);
        let chunk = Chunk {
            bytes: vec![0; size].into_boxed_slice(),
            len: 0,
        };
        let done = std::mem::replace(&mut self.last, chunk);
        if done.len > 0 {
            self.full.push(done);
        }
    }

    /// Bytes the values take (not counting the unused ends of chunks).
    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.full.iter().map(|c| c.len).sum::<usize>() + self.last.len
    }

    /// The values in the order they were pushed.
    pub fn reader(&self) -> Reader<'_> {
        Reader {
            chunks: self.full.iter(),
            last: self.last.values(),
            current: &[],
        }
    }
}

impl Chunk {
    fn values(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// Reads a [`Varints`] from its first value on (the default reads an empty log).
#[derive(Default)]
pub(crate) struct Reader<'a> {
    chunks: std::slice::Iter<'a, Chunk>,
    /// The last chunk's values, until it is `current`.
    last: &'a [u8],
    current: &'a [u8],
}

impl Reader<'_> {
    /// The next value, pushed with [`Varints::push_wide`]; panics past the last (a reader
    /// and its writer disagree: a bug).
    pub fn next(&mut self) -> u128 {
        self.refill();
        if self.current[0] == 0 {
            self.current = &self.current[1..];
            return u128::from_le_bytes(self.take());
        }
        u128::from(self.u64())
    }

    /// The next value, pushed with [`Varints::push`]. Most values are below 128, one byte:
    /// they take the short way, in line (decoding a column is mostly this).
    #[inline]
    pub fn u64(&mut self) -> u64 {
        self.refill();
        match *self.current {
            [byte, ref rest @ ..] if byte & 1 == 1 => {
                self.current = rest;
                u64::from(byte >> 1)
            }
            _ => self.long_u64(),
        }
    }

    /// [`u64`](Self::u64) of a value of two bytes or more: one 8-byte load while 8 bytes
    /// are left in the chunk (a value never straddles two).
    #[inline(never)]
    fn long_u64(&mut self) -> u64 {
        let first = *self.current.first().expect("a whole value");
        if first == 0 {
            self.current = &self.current[1..];
            return u64::from_le_bytes(self.take());
        }
        let n = first.trailing_zeros() as usize + 1;
        let x = match self.current.first_chunk::<8>() {
            Some(b) => u64::from_le_bytes(*b) & u64::MAX >> (64 - 8 * n),
            None => {
                let mut b = [0; 8];
                b[..n].copy_from_slice(&self.current[..n]);
                u64::from_le_bytes(b)
            }
        };
        self.current = &self.current[n..];
        x >> n
    }

    /// Moves to the next chunk when this one is read.
    #[inline(always)]
    fn refill(&mut self) {
        if self.current.is_empty() {
            self.next_chunk();
        }
    }

    /// Panics past the last value (a reader and its writer disagree: a bug).
    #[cold]
    fn next_chunk(&mut self) {
        self.current = match self.chunks.next() {
            Some(c) => c.values(),
            None => std::mem::take(&mut self.last),
        };
        assert!(!self.current.is_empty(), "read past the last value");
    }

    /// The next `K` bytes.
    fn take<const K: usize>(&mut self) -> [u8; K] {
        let (b, rest) = self.current.split_first_chunk().expect("a whole value");
        self.current = rest;
        *b
    }

    #[cfg(test)]
    pub fn at_end(&self) -> bool {
        self.current.is_empty() && self.chunks.as_slice().is_empty() && self.last.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The most bytes one value takes: a zero byte and 128 bits.
    const MAX_LEN: usize = 17;

    /// `values` pushed as 128-bit values.
    fn log_of(values: &[u128]) -> Varints {
        let mut log = Varints::default();
        for &v in values {
            log.push_wide(v);
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
        assert!(log.full.len() > 8, "{} chunks", log.full.len());
        // Chunks double from the first up to the largest, each full to within a value.
        let sizes: Vec<usize> = log.full.iter().map(|c| c.bytes.len()).collect();
        assert_eq!(sizes[..4], [FIRST, 2 * FIRST, 4 * FIRST, 8 * FIRST]);
        assert!(sizes.iter().all(|&s| s <= CHUNK) && sizes.contains(&CHUNK));
        assert!(log.full.iter().all(|c| c.len + ROOM > c.bytes.len()));
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
        assert!(log.full.len() > 1, "{} chunks", log.full.len());
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
        log.push((1 << 56) - 1);
        log.push(1 << 56);
        log.push(u64::MAX);
        log.push_wide((1 << 56) - 1);
        log.push_wide(1 << 56);
        log.push_wide(u128::MAX);
        assert_eq!(log.bytes(), 6 + 8 + 9 + 9 + 8 + MAX_LEN + MAX_LEN);
        let mut r = log.reader();
        let back: Vec<u128> = [0, 1, 2, 3].map(|_| u128::from(r.u64())).to_vec();
        assert_eq!(back, [0, 127, 128, 16_383]);
        let back = [0; 3].map(|_| r.u64());
        assert_eq!(back, [(1 << 56) - 1, 1 << 56, u64::MAX]);
        let back = [0; 3].map(|_| r.next());
        assert_eq!(back, [(1 << 56) - 1, 1 << 56, u128::MAX]);
        assert!(r.at_end());
    }

    /// Every length of every value: each bit count, and its neighbours, both ways.
    #[test]
    fn every_length_reads_back() {
        let values: Vec<u64> = (0..64)
            .flat_map(|b| {
                let v = 1u64 << b;
                [v - 1, v, v + 1]
            })
            .chain([u64::MAX - 1, u64::MAX])
            .collect();
        let mut log = Varints::default();
        for &v in &values {
            log.push(v);
            log.push_wide(u128::from(v) << 64 | u128::from(v));
        }
        let mut r = log.reader();
        for &v in &values {
            assert_eq!(r.u64(), v);
            assert_eq!(r.next(), u128::from(v) << 64 | u128::from(v));
        }
        assert!(r.at_end());
    }

    #[test]
    fn the_widest_values_fill_chunks() {
        let mut log = Varints::default();
        for _ in 0..1000 {
            log.push_wide(u128::MAX);
        }
        assert_eq!(log.bytes(), 1000 * MAX_LEN);
        let mut r = log.reader();
        assert!((0..1000).all(|_| r.next() == u128::MAX));
        assert!(r.at_end());
    }

    #[test]
    fn an_empty_log_is_at_its_end() {
        assert!(Varints::default().reader().at_end());
        assert!(Reader::default().at_end());
    }
}
