//! Shared helpers for game-core's integration tests.
#![allow(dead_code)]

use game_core::card::parse_cards;
use game_core::{Action, Card, Command, Event, SeatIndex, Table, TableConfig};

/// A table with these stacks in seats 0.. and blinds 50/100.
pub fn table(stacks: &[u64]) -> Table {
    table_with(TableConfig::new(stacks.len(), 50, 100), stacks)
}

/// A table with `config` and these stacks in seats 0..
pub fn table_with(config: TableConfig, stacks: &[u64]) -> Table {
    let mut t = Table::new(config).expect("valid config");
    for (seat, &stack) in stacks.iter().enumerate() {
        if stack > 0 {
            t.apply(Command::Sit {
                seat,
                player: format!("p{seat}"),
                stack,
            })
            .expect("sit");
        }
    }
    t
}

/// A 52-card deck that deals `holes` (in dealing order: the seat left of
/// the button first) and then `board`, with burns in between.
pub fn stacked(holes: &[&str], board: &str) -> Vec<Card> {
    let holes: Vec<Vec<Card>> = holes.iter().map(|h| parse_cards(h).expect("cards")).collect();
    let board = parse_cards(board).expect("board");
    let mut order: Vec<Option<Card>> = vec![None; 52];
    let n = holes.len();
    for (i, h) in holes.iter().enumerate() {
        order[i] = Some(h[0]);
        order[n + i] = Some(h[1]);
    }
    let mut slot = 2 * n;
    for (i, c) in board.iter().enumerate() {
        if i == 0 || i == 3 || i == 4 {
            slot += 1; // burn
        }
        order[slot] = Some(*c);
        slot += 1;
    }
    let used: Vec<Card> = order.iter().flatten().copied().collect();
    let mut spare = Card::ALL.iter().copied().filter(|c| !used.contains(c));
    order
        .into_iter()
        .map(|c| c.or_else(|| spare.next()).expect("52 cards"))
        .collect()
}

/// Applies an action for the seat to act, which must be `seat`.
pub fn act(t: &mut Table, seat: SeatIndex, action: Action) -> Vec<Event> {
    assert_eq!(t.to_act(), Some(seat), "expected seat {seat} to act");
    t.apply(Command::Act { seat, action })
        .unwrap_or_else(|e| panic!("seat {seat} {action:?}: {e}"))
}

/// One `PotAwarded`: pot index, amount, and (seat, share) per winner.
pub type Award = (usize, u64, Vec<(SeatIndex, u64)>);

/// Every `PotAwarded` in `events`.
pub fn awards(events: &[Event]) -> Vec<Award> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::PotAwarded {
                pot, amount, winners, ..
            } => Some((
                *pot,
                *amount,
                winners.iter().map(|w| (w.seat, w.amount)).collect(),
            )),
            _ => None,
        })
        .collect()
}

/// Current stacks of seats 0..n.
pub fn stacks(t: &Table) -> Vec<u64> {
    (0..t.config().seats).map(|s| t.stack(s).unwrap_or(0)).collect()
}
