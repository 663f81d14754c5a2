//! A ring buffer of `Copy` values: a service's queue of attempts.
//!
//! `VecDeque::push_back` calls `push_back_mut`, which is not inlined (~16 instructions per
//! queued attempt on M/M/1); here the push is in line and only growing is out of line.

/// A double-ended queue in a power-of-two buffer: slot `(head + i) & mask` holds item `i`.
pub(crate) struct Ring<T> {
    buf: Vec<T>,
    head: usize,
    len: usize,
}

impl<T> Default for Ring<T> {
    fn default() -> Self {
        Ring {
            buf: Vec::new(),
            head: 0,
            len: 0,
        }
    }
}

impl<T: Copy + Default> Ring<T> {
    fn slot(&self, i: usize) -> usize {
        (self.head + i) & (self.buf.len().wrapping_sub(1))
    }

    #[inline]
    pub(crate) fn push_back(&mut self, x: T) {
        if self.len == self.buf.len() {
            self.grow();
        }
        let i = self.slot(self.len);
        self.buf[i] = x;
        self.len += 1;
    }

    #[inline]
    pub(crate) fn pop_front(&mut self) -> Option<T> {
        if self.len == 0 {
            return None;
        }
        let x = self.buf[self.head];
        self.head = self.slot(1);
        self.len -= 1;
        Some(x)
    }

    #[inline]
    pub(crate) fn pop_back(&mut self) -> Option<T> {
        if self.len == 0 {
            return None;
        }
        self.len -= 1;
        Some(self.buf[self.slot(self.len)])
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The items, front first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        (0..self.len).map(|i| &self.buf[self.slot(i)])
    }

    /// Empties the ring, returning its items front first.
    pub(crate) fn take_all(&mut self) -> Vec<T> {
        let items = self.iter().copied().collect();
        self.head = 0;
        self.len = 0;
        items
    }

    /// Doubles the buffer (at least 4 slots), the items moved to its start in order.
    #[cold]
    #[inline(never)]
    fn grow(&mut self) {
        let cap = (self.buf.len() * 2).max(4);
        let mut buf = Vec::with_capacity(cap);
        buf.extend(self.iter().copied());
        buf.resize(cap, T::default());
        self.buf = buf;
        self.head = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::Ring;
    use std::collections::VecDeque;

    /// The same pushes and pops, front and back, give what a `VecDeque` gives.
    #[test]
    fn matches_vecdeque() {
        let (mut ring, mut deque) = (Ring::default(), VecDeque::new());
        let mut x = 1u64;
        for step in 0..10_000u64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            match x >> 62 {
                0 | 1 => {
                    ring.push_back(step);
                    deque.push_back(step);
                }
                2 => assert_eq!(ring.pop_front(), deque.pop_front()),
                _ => assert_eq!(ring.pop_back(), deque.pop_back()),
            }
            assert_eq!(ring.len(), deque.len());
            if step % 1000 == 0 {
                assert!(ring.iter().eq(deque.iter()));
            }
        }
        assert_eq!(ring.take_all(), deque.drain(..).collect::<Vec<_>>());
        assert_eq!((ring.len(), ring.pop_front()), (0, None));
    }
}
