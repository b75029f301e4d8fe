//! Sets of seats as bits: who is dealt in, folded, all-in, has acted.

use super::SeatIndex;

/// A set of seats, bit `s` for seat `s`. Ten seats fit in 16 bits, so the
/// questions asked after every action (how many seats are live, who has
/// chips behind, who still has to act) are a few bit operations instead of
/// scans over the seat array.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct SeatSet(u16);

impl SeatSet {
    /// No seats.
    pub const EMPTY: SeatSet = SeatSet(0);

    /// Whether `seat` is in the set.
    pub fn contains(self, seat: SeatIndex) -> bool {
        seat < 16 && self.0 >> seat & 1 != 0
    }

    /// Adds `seat` (below [`super::MAX_SEATS`]).
    pub fn insert(&mut self, seat: SeatIndex) {
        self.0 |= 1 << seat;
    }

    /// Removes `seat`.
    pub fn remove(&mut self, seat: SeatIndex) {
        self.0 &= !(1 << seat);
    }

    /// Adds `seat` if `on`, else removes it.
    pub fn set(&mut self, seat: SeatIndex, on: bool) {
        if on {
            self.insert(seat);
        } else {
            self.remove(seat);
        }
    }

    /// Number of seats in the set.
    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// Whether the set holds two seats or more. Cheaper than `len() > 1`:
    /// the baseline x86-64 target has no `popcnt` instruction, so
    /// `count_ones` is a dozen instructions where this is two.
    pub fn has_several(self) -> bool {
        self.0 & self.0.wrapping_sub(1) != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The seats in both sets.
    pub fn and(self, other: SeatSet) -> SeatSet {
        SeatSet(self.0 & other.0)
    }

    /// The seats of `self` not in `other`.
    pub fn minus(self, other: SeatSet) -> SeatSet {
        SeatSet(self.0 & !other.0)
    }

    /// The lowest seat, if any.
    pub fn first(self) -> Option<SeatIndex> {
        (self.0 != 0).then(|| self.0.trailing_zeros() as SeatIndex)
    }

    /// The first seat clockwise after `from` (exclusive), `from` itself last.
    pub fn next_after(self, from: SeatIndex) -> Option<SeatIndex> {
        let above = Self::above(self.0, from);
        let pick = if above != 0 { above } else { self.0 };
        (pick != 0).then(|| pick.trailing_zeros() as SeatIndex)
    }

    /// The bits of `bits` for seats above `from`.
    fn above(bits: u16, from: SeatIndex) -> u16 {
        // Two shifts of `from` and 1 so that `from` = 15 does not overflow.
        (u32::from(bits) >> from >> 1 << 1 << from) as u16
    }

    /// Seats in increasing order.
    pub fn iter(self) -> Seats {
        Seats(self.0)
    }

    /// Every seat clockwise from the one after `from`, `from` itself last:
    /// the order of turns and of dealing.
    pub fn clockwise_after(self, from: SeatIndex) -> std::iter::Chain<Seats, Seats> {
        // Seats above `from` come first, then the rest (`from` included).
        let above = Self::above(self.0, from);
        Seats(above).chain(Seats(self.0 & !above))
    }
}

/// The seats of a [`SeatSet`] in increasing order.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Seats(u16);

impl Iterator for Seats {
    type Item = SeatIndex;

    fn next(&mut self) -> Option<SeatIndex> {
        if self.0 == 0 {
            return None;
        }
        let seat = self.0.trailing_zeros() as SeatIndex;
        self.0 &= self.0 - 1;
        Some(seat)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.0.count_ones() as usize;
        (n, Some(n))
    }
}

impl ExactSizeIterator for Seats {}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(seats: &[SeatIndex]) -> SeatSet {
        let mut s = SeatSet::EMPTY;
        for &seat in seats {
            s.insert(seat);
        }
        s
    }

    #[test]
    fn clockwise_order_wraps_and_ends_with_from() {
        let s = set(&[0, 2, 5, 9]);
        assert_eq!(s.clockwise_after(2).collect::<Vec<_>>(), vec![5, 9, 0, 2]);
        assert_eq!(s.clockwise_after(9).collect::<Vec<_>>(), vec![0, 2, 5, 9]);
        assert_eq!(s.clockwise_after(3).collect::<Vec<_>>(), vec![5, 9, 0, 2]);
        assert_eq!(s.next_after(9), Some(0));
        assert_eq!(set(&[4]).next_after(4), Some(4));
        assert_eq!(SeatSet::EMPTY.next_after(4), None);
    }

    #[test]
    fn set_operations() {
        let a = set(&[1, 3, 4]);
        let b = set(&[3, 7]);
        assert_eq!(a.and(b), set(&[3]));
        assert_eq!(a.minus(b), set(&[1, 4]));
        assert_eq!(a.len(), 3);
        assert!(a.has_several() && set(&[1, 9]).has_several());
        assert!(!set(&[9]).has_several() && !SeatSet::EMPTY.has_several());
        assert_eq!(a.first(), Some(1));
        assert!(a.contains(4) && !a.contains(5) && !a.contains(20));
        let mut c = a;
        c.set(4, false);
        c.set(8, true);
        assert_eq!(c.iter().collect::<Vec<_>>(), vec![1, 3, 8]);
    }
}
