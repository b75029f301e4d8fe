//! `hands.csv` formatting for runs of millions of hands: every hand's
//! lines are written into one buffer by index, with fixed-size copies of
//! padded pieces (the hand's leading columns, each seat's `seat,agent,`)
//! and digits written in place, instead of a `memcpy` call and a number
//! format per column.

/// At most `N` bytes in an `N`-byte array: copied with a fixed-size move.
#[derive(Clone, Copy)]
pub struct Padded<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> Default for Padded<N> {
    fn default() -> Self {
        Padded {
            bytes: [0; N],
            len: 0,
        }
    }
}

impl<const N: usize> Padded<N> {
    /// `bytes` padded, if they fit.
    pub fn new(bytes: &[u8]) -> Option<Padded<N>> {
        let mut padded = Padded::default();
        padded.bytes.get_mut(..bytes.len())?.copy_from_slice(bytes);
        padded.len = bytes.len();
        Some(padded)
    }

    /// Appends `value` and a comma.
    ///
    /// # Panics
    /// If they do not fit (a caller's bug: [`HEAD`] holds four of any `u64`).
    pub fn push_u64_comma(&mut self, value: u64) {
        self.len = write_u64(&mut self.bytes, self.len, value);
        self.bytes[self.len] = b',';
        self.len += 1;
    }
}

/// Room for a hand's leading columns: four `u64` and their commas, and the
/// scratch the last number's copy writes.
pub const HEAD: usize = 4 * 21 + U64_ROOM;

/// The longest `seat,agent,` kept padded; longer ones are copied as they are.
const COLUMN: usize = 64;

/// Bytes an `i64` and a newline can take, scratch included.
const NET_AND_NEWLINE: usize = 1 + U64_ROOM + 1;

/// One seat's `seat,agent,` columns.
#[derive(Clone)]
pub enum SeatColumns {
    /// Most: at most [`COLUMN`] bytes.
    Short(Padded<COLUMN>),
    /// A long agent name.
    Long(Vec<u8>),
}

impl SeatColumns {
    /// Wraps formatted columns.
    pub fn new(bytes: Vec<u8>) -> SeatColumns {
        match Padded::new(&bytes) {
            Some(padded) => SeatColumns::Short(padded),
            None => SeatColumns::Long(bytes),
        }
    }

    /// The most bytes a line of this seat takes in a [`CsvLines`] buffer,
    /// padding included.
    pub fn line_room(&self) -> usize {
        let columns = match self {
            SeatColumns::Short(_) => COLUMN,
            SeatColumns::Long(bytes) => bytes.len(),
        };
        HEAD + columns + NET_AND_NEWLINE
    }
}

/// Lines formatted and not yet written. `buf` is all initialised; `filled`
/// bytes of it are lines, and what lies beyond is scratch that padded
/// copies may overwrite.
pub struct CsvLines {
    buf: Vec<u8>,
    filled: usize,
}

impl CsvLines {
    /// A buffer of `len` bytes.
    pub fn new(len: usize) -> CsvLines {
        CsvLines {
            buf: vec![0; len],
            filled: 0,
        }
    }

    /// Whether `room` more bytes fit after the lines.
    pub fn fits(&self, room: usize) -> bool {
        self.filled + room <= self.buf.len()
    }

    /// Grows the buffer so that `room` bytes fit after the lines.
    pub fn make_room(&mut self, room: usize) {
        if !self.fits(room) {
            self.buf.resize(self.filled + room, 0);
        }
    }

    /// The lines.
    pub fn lines(&self) -> &[u8] {
        &self.buf[..self.filled]
    }

    /// Forgets the lines (once written).
    pub fn clear(&mut self) {
        self.filled = 0;
    }

    /// Appends a padded piece (its `N` bytes must fit).
    #[inline]
    pub fn push_padded<const N: usize>(&mut self, piece: &Padded<N>) {
        let at = self.filled;
        self.buf[at..at + N].copy_from_slice(&piece.bytes);
        self.filled = at + piece.len;
    }

    /// Appends a seat's columns.
    #[inline]
    pub fn push_columns(&mut self, columns: &SeatColumns) {
        match columns {
            SeatColumns::Short(padded) => self.push_padded(padded),
            SeatColumns::Long(bytes) => self.push_bytes(bytes),
        }
    }

    /// Appends bytes.
    #[inline]
    pub fn push_bytes(&mut self, bytes: &[u8]) {
        let at = self.filled;
        self.buf[at..at + bytes.len()].copy_from_slice(bytes);
        self.filled = at + bytes.len();
    }

    /// Appends `value` in decimal.
    #[inline]
    pub fn push_u64(&mut self, value: u64) {
        self.filled = write_u64(&mut self.buf, self.filled, value);
    }

    /// Appends `value` in decimal and a newline.
    #[inline]
    pub fn push_i64_line(&mut self, value: i64) {
        if value < 0 {
            self.buf[self.filled] = b'-';
            self.filled += 1;
        }
        self.push_u64(value.unsigned_abs());
        self.buf[self.filled] = b'\n';
        self.filled += 1;
    }
}

/// Two decimal digits of every number below 100.
const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Bytes [`write_u64`] may write past `at`: the digits of any `u64` and
/// then scratch.
const U64_ROOM: usize = 20;

/// Writes `value` in decimal at `out[at..]` (two digits a step, then one
/// fixed-size copy, which writes scratch up to `at + U64_ROOM`); returns
/// where the digits end.
#[inline]
fn write_u64(out: &mut [u8], at: usize, value: u64) -> usize {
    let mut digits = [0u8; 2 * U64_ROOM];
    let mut start = U64_ROOM;
    let mut rest = value;
    while rest >= 100 {
        let pair = (rest % 100) as usize * 2;
        rest /= 100;
        start -= 2;
        digits[start..start + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if rest >= 10 {
        let pair = rest as usize * 2;
        start -= 2;
        digits[start..start + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        start -= 1;
        digits[start] = b'0' + rest as u8;
    }
    out[at..at + U64_ROOM].copy_from_slice(&digits[start..start + U64_ROOM]);
    at + (U64_ROOM - start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_match_what_format_writes() {
        let mut lines = CsvLines::new(64);
        let short = SeatColumns::new(b"3,bot:random,".to_vec());
        let long = SeatColumns::new(format!("4,{},", "x".repeat(100)).into_bytes());
        let mut head = Padded::<HEAD>::default();
        for value in [u64::MAX, 0, 10, 1_000_000] {
            head.push_u64_comma(value);
        }
        let mut expected = String::new();
        for (columns, text, net) in [
            (&short, "3,bot:random,".to_owned(), i64::MIN),
            (&long, format!("4,{},", "x".repeat(100)), 0),
            (&short, "3,bot:random,".to_owned(), 9_999),
            (&short, "3,bot:random,".to_owned(), -10),
        ] {
            if !lines.fits(columns.line_room()) {
                lines.make_room(columns.line_room());
            }
            lines.push_padded(&head);
            lines.push_columns(columns);
            lines.push_i64_line(net);
            expected += &format!("{},0,10,1000000,{text}{net}\n", u64::MAX);
        }
        assert_eq!(std::str::from_utf8(lines.lines()), Ok(expected.as_str()));
        lines.clear();
        assert!(lines.lines().is_empty());
    }
}
