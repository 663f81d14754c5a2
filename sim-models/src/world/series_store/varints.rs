//! [`Varints`]: an append-only log of unsigned integers, each in as few bytes as it needs.

/// Bytes per chunk. A chunk is allocated whole and never grows, so the log holds what its
/// values take plus at most one part-filled chunk (a `Vec` grown by doubling holds up to
/// twice its contents, and copies them as it grows).
const CHUNK: usize = 16 * 1024;

/// The room a [`Row`] is given: 20 values of 64 bits in the long form (9 bytes each) and
/// the 8 a store writes past the last, or ten 128-bit ones (17 bytes each). A writer
/// pushing more is a bug, and panics.
pub(crate) const ROW: usize = 192;

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
/// read with one byte's test or one 8-byte load, whatever its length (a window's ~70 values cost ~26
/// instructions each with LEB128's byte loop, written to the stack and copied). Written a
/// [`Row`] at a time, straight into the last chunk, read back in order, one value at a time.
#[derive(Debug, Default)]
pub(crate) struct Varints {
    chunks: Vec<Chunk>,
}

#[derive(Debug)]
struct Chunk {
    bytes: Box<[u8; CHUNK]>,
    /// Bytes written; a row never straddles two chunks.
    len: usize,
}

/// Values written into the room at the end of a [`Varints`]' last chunk; the log takes
/// them when the row is dropped. The row's length stays in a register: a row on the stack,
/// copied into the log, kept it in memory across every push (and was copied and zeroed).
pub(crate) struct Row<'a> {
    bytes: &'a mut [u8; ROW],
    len: usize,
    /// The last chunk's length, moved past the row when it is dropped.
    end: &'a mut usize,
}

impl Row<'_> {
    /// Appends `v`: one byte per 7 bits it needs, in one store of 8 bytes (the bytes past
    /// the value's are overwritten by the next value, or past the log's end).
    #[inline(always)]
    pub fn push(&mut self, v: u64) {
        if v < 0x80 {
            // One byte, the usual case (counts of a window, zeros), without the length.
            return self.put(v << 1 | 1, 1);
        }
        let zeros = PREFIX_ZEROS[(v | 1).leading_zeros() as usize];
        if zeros < 8 {
            self.put((v << 1 | 1) << zeros, usize::from(zeros) + 1);
        } else {
            self.put_long(&v.to_le_bytes());
        }
    }

    /// Appends a 128-bit `v`: as [`push`](Self::push) below 2^56, else a zero byte and
    /// its 16 bytes (so it must be read back with [`Reader::next`]).
    #[inline]
    pub fn push_wide(&mut self, v: u128) {
        match u64::try_from(v) {
            Ok(v) if v < 1 << 56 => self.push(v),
            _ => self.put_long(&v.to_le_bytes()),
        }
    }

    /// Writes the 8 bytes of `x` at the end and keeps the first `n` of them.
    #[inline(always)]
    fn put(&mut self, x: u64, n: usize) {
        // One comparison, which the slice's own bounds checks then follow from.
        assert!(self.len <= ROW - 8, "a row within its room");
        self.bytes[self.len..][..8].copy_from_slice(&x.to_le_bytes());
        self.len += n;
    }

    /// The long form, in line: a call taking the row would keep its length in memory.
    #[inline(always)]
    fn put_long(&mut self, bytes: &[u8]) {
        let at = self.len;
        self.bytes[at] = 0;
        self.bytes[at + 1..at + 1 + bytes.len()].copy_from_slice(bytes);
        self.len += 1 + bytes.len();
    }
}

impl Drop for Row<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        *self.end += self.len;
    }
}

impl Varints {
    /// A row at the end of the log, in a new chunk if the last has no room for one.
    #[inline]
    pub fn row(&mut self) -> Row<'_> {
        if self.chunks.last().is_none_or(|c| c.len > CHUNK - ROW) {
            self.new_chunk();
        }
        let c = self.chunks.last_mut().expect("a chunk");
        Row {
            bytes: c.bytes[c.len..].first_chunk_mut().expect("room"),
            len: 0,
            end: &mut c.len,
        }
    }

    #[cold]
    fn new_chunk(&mut self) {
        let bytes = vec![0; CHUNK].into_boxed_slice().try_into();
        self.chunks.push(Chunk {
            bytes: bytes.expect("CHUNK bytes"),
            len: 0,
        });
    }

    /// Bytes the values take (not counting the unused end of the last chunk).
    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.chunks.iter().map(|c| c.len).sum()
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
    chunks: std::slice::Iter<'a, Chunk>,
    current: &'a [u8],
}

impl Chunk {
    fn values(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl Reader<'_> {
    /// The next value, pushed with [`Row::push_wide`]; panics past the last (a reader and
    /// its writer disagree: a bug).
    pub fn next(&mut self) -> u128 {
        self.refill();
        if self.current[0] == 0 {
            self.current = &self.current[1..];
            return u128::from_le_bytes(self.take());
        }
        u128::from(self.u64())
    }

    /// The next value, pushed with [`Row::push`]. Most values are below 128, one byte:
    /// they take the short way, in line (filling the columns at a run's end is mostly this).
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

    /// Moves to the next chunk when this one is read; panics past the last value (a reader
    /// and its writer disagree: a bug).
    #[inline(always)]
    fn refill(&mut self) {
        if self.current.is_empty() {
            self.current = self
                .chunks
                .next()
                .map(Chunk::values)
                .expect("read past the last value");
        }
    }

    /// The next `K` bytes.
    fn take<const K: usize>(&mut self) -> [u8; K] {
        let (b, rest) = self.current.split_first_chunk().expect("a whole value");
        self.current = rest;
        *b
    }

    pub fn at_end(&self) -> bool {
        self.current.is_empty() && self.chunks.as_slice().iter().all(|c| c.len == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The most bytes one value takes: a zero byte and 128 bits.
    const MAX_LEN: usize = 17;

    /// `values` pushed as 128-bit values, rows of 1 to 10 values in turn, so that rows of
    /// many lengths meet chunk ends.
    fn log_of(values: &[u128]) -> Varints {
        let mut log = Varints::default();
        let (mut at, mut per_row) = (0, 1);
        while at < values.len() {
            let mut row = log.row();
            for &v in values[at..].iter().take(per_row) {
                row.push_wide(v);
            }
            drop(row);
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
        // Every chunk but the last is full to within one row.
        let n = log.chunks.len();
        assert!(log.chunks[..n - 1].iter().all(|c| c.len > CHUNK - ROW));
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
            let mut r = log.row();
            for &v in row {
                r.push(v);
            }
            drop(r);
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
        let mut row = log.row();
        for v in [0, 127] {
            row.push(v);
        }
        drop(row);
        assert_eq!(log.bytes(), 2);
        let mut row = log.row();
        row.push(128);
        row.push_wide(16_383);
        drop(row);
        assert_eq!(log.bytes(), 6);
        let mut row = log.row();
        row.push((1 << 56) - 1);
        row.push(1 << 56);
        row.push(u64::MAX);
        row.push_wide((1 << 56) - 1);
        row.push_wide(1 << 56);
        row.push_wide(u128::MAX);
        drop(row);
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
            let mut row = log.row();
            row.push(v);
            row.push_wide(u128::from(v) << 64 | u128::from(v));
            drop(row);
        }
        let mut r = log.reader();
        for &v in &values {
            assert_eq!(r.u64(), v);
            assert_eq!(r.next(), u128::from(v) << 64 | u128::from(v));
        }
        assert!(r.at_end());
    }

    #[test]
    fn a_full_row_of_the_widest_values_fits() {
        let mut log = Varints::default();
        let mut row = log.row();
        for _ in 0..ROW / MAX_LEN {
            row.push_wide(u128::MAX);
        }
        drop(row);
        let mut r = log.reader();
        assert!((0..ROW / MAX_LEN).all(|_| r.next() == u128::MAX));
        assert!(r.at_end());
    }

    #[test]
    fn an_empty_log_is_at_its_end() {
        assert!(Varints::default().reader().at_end());
    }
}
