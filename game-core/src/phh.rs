//! Poker Hand History (PHH), the TOML format `pokerkit` reads and writes.
//!
//! Players are numbered by position, not seat: `p1` is the first seat left of
//! the button (the small blind) and the last player is the button; heads-up,
//! `p1` is the big blind and `p2` the button, which posts the small blind.
//! `cbr N` bets or raises *to* N, `cc` checks or calls, `f` folds, `sm`
//! shows (with cards) or mucks (without), `d dh` deals hole cards and `d db`
//! the board. The seed and undealt cards are never written.

use std::fmt::Write as _;

use serde::Deserialize;

use crate::card::{Card, RANK_CHARS, SUIT_CHARS, format_cards, parse_cards};
use crate::command::{Action, Command};
use crate::event::Event;
use crate::rules::{RuleError, SeatIndex, Street, Table, TableConfig};

/// Why a hand history could not be written or replayed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PhhError {
    /// The events do not hold one complete hand.
    #[error("not a complete hand: {0}")]
    Incomplete(&'static str),
    /// The file is not valid PHH.
    #[error("invalid PHH: {0}")]
    Invalid(String),
    /// A feature of the file this engine does not play (straddles, uneven antes, ...).
    #[error("unsupported PHH: {0}")]
    Unsupported(String),
    /// An action the rules refuse, with its position in `actions`.
    #[error("illegal action #{index} `{action}`: {error}")]
    Illegal {
        /// Index into the `actions` list.
        index: usize,
        /// The action text.
        action: String,
        /// Why the rules refuse it.
        error: RuleError,
    },
    /// A dealt card in the file differs from the engine's (or a card is used twice).
    #[error("action #{index} `{action}`: {reason}")]
    Mismatch {
        /// Index into the `actions` list.
        index: usize,
        /// The action text.
        action: String,
        /// What differs.
        reason: String,
    },
}

/// Writes one finished hand as PHH.
///
/// `events` must hold the hand from `HandStarted` to `HandEnded` with every
/// seat's `HoleCardsDealt` (the server's full log); other events around it
/// are ignored. `players` names the seats (by seat index) if known.
pub fn to_phh(
    config: &TableConfig,
    events: &[Event],
    players: &[Option<String>],
) -> Result<String, PhhError> {
    to_phh_with_comments(config, events, players, &[])
}

/// [`to_phh`] with a comment after some betting actions: `comments` holds
/// `(n, text)` for the `n`-th `ActionTaken` of the hand (from 0), written
/// as PHH action commentary (`'p2 cbr 300 # text'`, which pokerkit reads
/// back as the action's `commentary`). Quotes and line breaks in a text are
/// replaced so the file stays valid TOML.
pub fn to_phh_with_comments(
    config: &TableConfig,
    events: &[Event],
    players: &[Option<String>],
    comments: &[(usize, &str)],
) -> Result<String, PhhError> {
    let mut action_index = 0;
    let start = events
        .iter()
        .position(|e| matches!(e, Event::HandStarted { .. }))
        .ok_or(PhhError::Incomplete("no HandStarted"))?;
    let Event::HandStarted {
        hand,
        button,
        players: dealt,
        ..
    } = &events[start]
    else {
        return Err(PhhError::Incomplete("no HandStarted"));
    };
    let n = config.seats;
    // Positions: clockwise from the seat left of the button, the button last.
    let order: Vec<SeatIndex> = (1..=n)
        .map(|k| (button + k) % n)
        .filter(|s| dealt.iter().any(|d| d.seat == *s))
        .collect();
    let position = |seat: SeatIndex| order.iter().position(|&s| s == seat).map(|p| p + 1);
    let stack_of = |seat: SeatIndex| dealt.iter().find(|d| d.seat == seat).map_or(0, |d| d.stack);

    let mut blinds = vec![0u64; order.len()];
    blinds[0] = config.small_blind;
    if order.len() > 1 {
        blinds[1] = config.big_blind;
    }
    let mut holes: Vec<Option<[Card; 2]>> = vec![None; order.len()];
    // The action lines, written as they appear in the file. Everything goes
    // into a few growing strings: a `format!` per line was most of the cost
    // of an experiment that writes every hand's history.
    let mut actions = String::new();
    // Boards dealt after the last betting action (an all-in run-out) come
    // after the showdown in PHH: pokerkit turns the hands up first.
    let mut runout = String::new();
    let mut ended = None;
    for event in &events[start + 1..] {
        match event {
            Event::HoleCardsDealt { seat, cards } => {
                if let Some(p) = position(*seat) {
                    holes[p - 1] = Some(*cards);
                }
            }
            Event::ActionTaken { seat, action, .. } => {
                let p = position(*seat).ok_or(PhhError::Incomplete("action by a seat not dealt in"))?;
                actions.push_str(&runout);
                runout.clear();
                actions.push_str("  'p");
                push_number(&mut actions, p as u64);
                match action {
                    Action::Fold => actions.push_str(" f"),
                    Action::Check | Action::Call => actions.push_str(" cc"),
                    Action::Bet { to } | Action::Raise { to } => {
                        actions.push_str(" cbr ");
                        push_number(&mut actions, *to);
                    }
                }
                if let Some((_, text)) = comments.iter().find(|(n, _)| *n == action_index) {
                    actions.push_str(" # ");
                    actions.extend(text.chars().map(|c| match c {
                        '\'' => '\u{2019}',
                        '\\' => '/',
                        c if c.is_control() => ' ',
                        c => c,
                    }));
                }
                actions.push_str("',\n");
                action_index += 1;
            }
            Event::BoardDealt { cards, .. } => {
                runout.push_str("  'd db ");
                push_cards(&mut runout, cards);
                runout.push_str("',\n");
            }
            Event::HandShown { seat, cards, .. } => {
                let p = position(*seat).ok_or(PhhError::Incomplete("show by a seat not dealt in"))?;
                actions.push_str("  'p");
                push_number(&mut actions, p as u64);
                actions.push_str(" sm ");
                push_cards(&mut actions, cards);
                actions.push_str("',\n");
            }
            Event::HandMucked { seat } => {
                let p = position(*seat).ok_or(PhhError::Incomplete("muck by a seat not dealt in"))?;
                actions.push_str("  'p");
                push_number(&mut actions, p as u64);
                actions.push_str(" sm',\n");
            }
            Event::HandEnded { stacks, .. } => {
                actions.push_str(&runout);
                ended = Some(*stacks);
                break;
            }
            Event::HandStarted { .. } => return Err(PhhError::Incomplete("two hands in one history")),
            _ => {}
        }
    }
    let ended = ended.ok_or(PhhError::Incomplete("no HandEnded"))?;

    let mut out = String::with_capacity(256 + actions.len());
    let list = |out: &mut String, values: &mut dyn Iterator<Item = u64>| {
        for (i, value) in values.enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            push_number(out, value);
        }
        out.push_str("]\n");
    };
    out.push_str("variant = 'NT'\n");
    out.push_str("ante_trimming_status = true\n");
    out.push_str("antes = [");
    list(&mut out, &mut order.iter().map(|_| config.ante));
    out.push_str("blinds_or_straddles = [");
    list(&mut out, &mut blinds.iter().copied());
    let _ = writeln!(out, "min_bet = {}", config.big_blind);
    out.push_str("starting_stacks = [");
    list(&mut out, &mut order.iter().map(|&s| stack_of(s)));
    out.push_str("actions = [\n");
    for (i, hole) in holes.iter().enumerate() {
        let cards = hole.ok_or(PhhError::Incomplete(
            "hole cards missing (use the server's full log)",
        ))?;
        out.push_str("  'd dh p");
        push_number(&mut out, i as u64 + 1);
        out.push(' ');
        push_cards(&mut out, &cards);
        out.push_str("',\n");
    }
    out.push_str(&actions);
    out.push_str("]\n");
    let _ = writeln!(out, "hand = {hand}");
    out.push_str("seats = [");
    list(&mut out, &mut order.iter().map(|&s| s as u64 + 1));
    let _ = writeln!(out, "seat_count = {n}");
    if order.iter().all(|&s| players.get(s).is_some_and(Option::is_some)) {
        out.push_str("players = [");
        for (i, &s) in order.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(&toml_string(players[s].as_deref().unwrap_or_default()));
        }
        out.push_str("]\n");
    }
    out.push_str("finishing_stacks = [");
    list(
        &mut out,
        &mut order
            .iter()
            .map(|&s| ended.iter().find(|e| e.seat == s).map_or(0, |e| e.stack)),
    );
    Ok(out)
}

/// Appends `value` in decimal, as `write!` would, without the formatting
/// machinery (most of the numbers of a history go through here).
fn push_number(out: &mut String, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    for &digit in &digits[start..] {
        out.push(char::from(digit));
    }
}

/// Appends cards in their text form (`"AsKd"`).
fn push_cards(out: &mut String, cards: &[Card]) {
    for card in cards {
        out.push(RANK_CHARS[card.rank() as usize]);
        out.push(SUIT_CHARS[card.suit() as usize]);
    }
}

/// A TOML basic string with everything escaped that must be.
fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The PHH fields this engine reads.
#[derive(Deserialize)]
struct PhhFile {
    variant: String,
    #[serde(default)]
    ante_trimming_status: bool,
    #[serde(default)]
    antes: Vec<u64>,
    blinds_or_straddles: Vec<u64>,
    min_bet: u64,
    starting_stacks: Vec<u64>,
    actions: Vec<String>,
    #[serde(default)]
    finishing_stacks: Option<Vec<u64>>,
}

/// One hand replayed from PHH by this engine.
#[derive(Clone, Debug)]
pub struct ReplayedHand {
    /// The table config derived from the file.
    pub config: TableConfig,
    /// Every event the engine produced, server view (the log a server would store).
    pub events: Vec<Event>,
    /// Final stacks, by position (`p1` first), as the engine computed them.
    pub finishing_stacks: Vec<u64>,
    /// The file's own `finishing_stacks`, if it has them.
    pub recorded_finishing_stacks: Option<Vec<u64>>,
    /// Indices of `cc` actions accepted without effect: checks by a seat
    /// that faced no bet when nobody could answer a raise (pokerkit still
    /// asks the big blind for its option then; this engine skips it).
    pub moot_checks: Vec<usize>,
}

/// Reads a PHH hand and replays every action through the engine, rejecting
/// the first illegal one with the reason.
///
/// Position `p(k)` sits at seat `k % n` so that seat 0 holds the button.
pub fn from_phh(text: &str) -> Result<ReplayedHand, PhhError> {
    let file: PhhFile = toml::from_str(text).map_err(|e| PhhError::Invalid(e.to_string()))?;
    if file.variant != "NT" {
        return Err(PhhError::Unsupported(format!(
            "variant {:?} (only 'NT')",
            file.variant
        )));
    }
    let n = file.starting_stacks.len();
    if !(2..=crate::rules::MAX_SEATS).contains(&n) {
        return Err(PhhError::Unsupported(format!("{n} players (2 to 10)")));
    }
    let ante = file.antes.first().copied().unwrap_or(0);
    if file.antes.iter().any(|&a| a != ante) || (!file.antes.is_empty() && file.antes.len() != n) {
        return Err(PhhError::Unsupported("antes that differ by position".into()));
    }
    if ante > 0 && !file.ante_trimming_status {
        return Err(PhhError::Unsupported(
            "ante_trimming_status = false (antes as dead money in the main pot); this engine counts antes as each player's contribution".into(),
        ));
    }
    let blinds = &file.blinds_or_straddles;
    if blinds.len() != n || blinds.iter().skip(2).any(|&b| b != 0) || blinds.len() < 2 {
        return Err(PhhError::Unsupported(
            "straddles, or blinds not in the first two positions".into(),
        ));
    }
    let config = TableConfig {
        seats: n,
        small_blind: blinds[0],
        big_blind: blinds[1],
        ante,
    };
    if file.min_bet != config.big_blind {
        return Err(PhhError::Unsupported(
            "a minimum bet other than the big blind".into(),
        ));
    }
    let mut table = Table::new(config.clone()).map_err(|e| PhhError::Invalid(e.to_string()))?;
    let seat_of = |position: usize| (position + 1) % n; // 0-based position
    let mut events = Vec::new();
    for (position, &stack) in file.starting_stacks.iter().enumerate() {
        let command = Command::Sit {
            seat: seat_of(position),
            player: format!("p{}", position + 1),
            stack,
        };
        table
            .apply_into(command, &mut events)
            .map_err(|e| PhhError::Invalid(format!("starting stack of p{}: {e}", position + 1)))?;
    }

    // Build the deck: hole cards round by round from p1, then burn/flop/burn/turn/burn/river.
    let mut slots: Vec<Option<Card>> = vec![None; 52];
    let mut used = 0u64;
    let mut board_slot = 2 * n;
    let mut board_dealt = 0;
    for (index, action) in file.actions.iter().enumerate() {
        let words: Vec<&str> = action
            .split('#')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        let mut place = |slot: usize, card: Card| -> Result<(), PhhError> {
            if used & (1 << card.index()) != 0 {
                return Err(PhhError::Mismatch {
                    index,
                    action: action.clone(),
                    reason: format!("card {card} is dealt twice"),
                });
            }
            used |= 1 << card.index();
            slots[slot] = Some(card);
            Ok(())
        };
        match words.as_slice() {
            ["d", "dh", player, cards] => {
                let p = parse_player(player, n, index, action)?;
                if cards.chars().all(|c| c == '?') {
                    continue;
                }
                let cards =
                    parse_cards(cards).map_err(|e| PhhError::Invalid(format!("action #{index}: {e}")))?;
                if cards.len() != 2 {
                    return Err(PhhError::Invalid(format!(
                        "action #{index}: two hole cards expected"
                    )));
                }
                place(p, cards[0])?;
                place(n + p, cards[1])?;
            }
            ["d", "db", cards] => {
                let cards =
                    parse_cards(cards).map_err(|e| PhhError::Invalid(format!("action #{index}: {e}")))?;
                let expected = match board_dealt {
                    0 => 3,
                    1 | 2 => 1,
                    _ => 0,
                };
                if cards.len() != expected {
                    return Err(PhhError::Invalid(format!(
                        "action #{index}: {expected} board cards expected"
                    )));
                }
                board_slot += 1; // burn
                for card in cards {
                    place(board_slot, card)?;
                    board_slot += 1;
                }
                board_dealt += 1;
            }
            _ => {}
        }
    }
    let mut spare = Card::ALL.iter().copied().filter(|c| used & (1 << c.index()) == 0);
    let deck: Vec<Card> = slots
        .into_iter()
        .map(|slot| slot.or_else(|| spare.next()).unwrap_or(Card::ALL[0]))
        .collect();
    table
        .apply_into(Command::StartStackedHand { deck }, &mut events)
        .map_err(|e| PhhError::Invalid(format!("cannot start the hand: {e}")))?;

    let mut file_board = Vec::with_capacity(5);
    let mut moot_checks = Vec::new();
    for (index, action) in file.actions.iter().enumerate() {
        let words: Vec<&str> = action
            .split('#')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        let command = match words.as_slice() {
            ["d", "dh", ..] | [] => continue,
            ["d", "db", cards] => {
                file_board.extend(parse_cards(cards).map_err(|e| PhhError::Invalid(e.to_string()))?);
                // The engine may already have run out later streets (all-in).
                let dealt = dealt_board(&events);
                if !dealt.starts_with(&file_board) {
                    return Err(PhhError::Mismatch {
                        index,
                        action: action.clone(),
                        reason: format!("the engine's board is {}", format_cards(&dealt)),
                    });
                }
                continue;
            }
            [player, "sm", ..] => {
                parse_player(player, n, index, action)?;
                continue;
            }
            [player, "cc"] if table.to_act() != Some(seat_of(parse_player(player, n, index, action)?)) => {
                let seat = seat_of(parse_player(player, n, index, action)?);
                if !moot_check(&table, &events, seat) {
                    return Err(PhhError::Illegal {
                        index,
                        action: action.clone(),
                        error: RuleError::NotYourTurn {
                            to_act: table.to_act(),
                        },
                    });
                }
                moot_checks.push(index);
                continue;
            }
            [player, verb, rest @ ..] => {
                let seat = seat_of(parse_player(player, n, index, action)?);
                let legal = table.legal_actions(seat);
                let action_value = match (*verb, rest) {
                    ("f", []) => Action::Fold,
                    ("cc", []) if legal.call.is_some() => Action::Call,
                    ("cc", []) => Action::Check,
                    ("cbr", [amount]) => {
                        let to: u64 = amount.parse().map_err(|_| {
                            PhhError::Invalid(format!("action #{index}: bad amount {amount:?}"))
                        })?;
                        if table.view(crate::view::Viewer::Spectator).current_bet == 0 {
                            Action::Bet { to }
                        } else {
                            Action::Raise { to }
                        }
                    }
                    _ => return Err(PhhError::Unsupported(format!("action #{index} `{action}`"))),
                };
                Command::Act {
                    seat,
                    action: action_value,
                }
            }
            _ => return Err(PhhError::Invalid(format!("action #{index} `{action}`"))),
        };
        table
            .apply_into(command, &mut events)
            .map_err(|error| PhhError::Illegal {
                index,
                action: action.clone(),
                error,
            })?;
    }
    if table.hand_in_progress() {
        return Err(PhhError::Incomplete("the actions end before the hand does"));
    }
    let finishing_stacks = (0..n).map(|p| table.stack(seat_of(p)).unwrap_or(0)).collect();
    Ok(ReplayedHand {
        config,
        events,
        finishing_stacks,
        recorded_finishing_stacks: file.finishing_stacks,
        moot_checks,
    })
}

/// Whether a `cc` the engine did not ask for is a check that changes
/// nothing: the seat is still in the hand and faces no bet.
fn moot_check(table: &Table, events: &[Event], seat: SeatIndex) -> bool {
    if table.hand_in_progress() {
        let view = table.view(crate::view::Viewer::Spectator);
        return view.seats[seat]
            .as_ref()
            .is_some_and(|s| s.in_hand && !s.folded && s.street_bet >= view.current_bet);
    }
    let start = events
        .iter()
        .rposition(|e| matches!(e, Event::HandStarted { .. }))
        .unwrap_or(0);
    let folded = events[start..]
        .iter()
        .any(|e| matches!(e, Event::ActionTaken { seat: s, action: Action::Fold, .. } if *s == seat));
    let last_round_bets = events[start..]
        .iter()
        .rev()
        .take_while(|e| !matches!(e, Event::BoardDealt { .. }))
        .any(|e| {
            matches!(
                e,
                Event::ActionTaken {
                    action: Action::Bet { .. } | Action::Raise { .. },
                    ..
                }
            )
        });
    !folded && !last_round_bets
}

/// `p3` -> position index 2.
fn parse_player(word: &str, n: usize, index: usize, action: &str) -> Result<usize, PhhError> {
    word.strip_prefix('p')
        .and_then(|d| d.parse::<usize>().ok())
        .filter(|&p| (1..=n).contains(&p))
        .map(|p| p - 1)
        .ok_or_else(|| PhhError::Invalid(format!("action #{index} `{action}`: no player {word}")))
}

/// The board dealt so far in the last hand of `events`.
fn dealt_board(events: &[Event]) -> Vec<Card> {
    let start = events
        .iter()
        .rposition(|e| matches!(e, Event::HandStarted { .. }))
        .unwrap_or(0);
    events[start..]
        .iter()
        .filter_map(|e| match e {
            Event::BoardDealt { cards, street } if *street >= Street::Flop => Some(cards.to_vec()),
            _ => None,
        })
        .flatten()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::push_number;

    #[test]
    fn numbers_are_written_as_display_writes_them() {
        for value in [0, 7, 10, 99, 100, 123_456_789, u64::MAX] {
            let mut out = String::from("x");
            push_number(&mut out, value);
            assert_eq!(out, format!("x{value}"));
        }
    }
}
