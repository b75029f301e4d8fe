//! Views: what one seat, or a spectator, may see of a table. A view never
//! holds another seat's hole cards before they are shown, nor the seed or
//! the undealt cards.

use serde::{Deserialize, Serialize};

use crate::card::Card;
use crate::rules::{HandAction, LegalActions, Pot, SeatIndex, Street, Table, TableConfig, pots};

/// Who is looking.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "as", content = "seat", rename_all = "snake_case")]
pub enum Viewer {
    /// The player in this seat.
    Seat(SeatIndex),
    /// Anyone else: public information only.
    Spectator,
}

/// One seat as a viewer sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatView {
    /// The seat number.
    pub seat: SeatIndex,
    /// Opaque player identity.
    pub player: String,
    /// Chips behind.
    pub stack: u64,
    /// Skips hands.
    pub sitting_out: bool,
    /// Dealt into the current hand.
    pub in_hand: bool,
    /// Folded in the current hand.
    pub folded: bool,
    /// All-in in the current hand.
    pub all_in: bool,
    /// Chips in front of it on this street.
    pub street_bet: u64,
    /// Chips it committed this hand.
    pub committed: u64,
    /// Its hole cards if the viewer may see them (its own, or shown).
    pub cards: Option<[Card; 2]>,
}

/// The whole table from one viewpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableView {
    /// Who this view is for.
    pub viewer: Viewer,
    /// Stakes and size.
    pub config: TableConfig,
    /// Current (or last) hand number.
    pub hand: u64,
    /// Whether a hand is being played.
    pub hand_in_progress: bool,
    /// The button.
    pub button: Option<SeatIndex>,
    /// Small blind seat of the current hand.
    pub small_blind: Option<SeatIndex>,
    /// Big blind seat of the current hand.
    pub big_blind: Option<SeatIndex>,
    /// Every seat, `None` when empty.
    pub seats: Vec<Option<SeatView>>,
    /// The current street.
    pub street: Option<Street>,
    /// Community cards.
    pub board: Vec<Card>,
    /// Pots as they stand (main first), counting chips bet on this street.
    pub pots: Vec<Pot>,
    /// The seat to act.
    pub to_act: Option<SeatIndex>,
    /// The street's bet level.
    pub current_bet: u64,
    /// The minimum raise increment.
    pub min_raise: u64,
    /// This hand's betting decisions so far.
    pub actions: Vec<HandAction>,
    /// What the viewer may do now (empty unless it is the viewer's turn).
    pub legal: LegalActions,
}

impl Table {
    /// The table as `viewer` may see it.
    pub fn view(&self, viewer: Viewer) -> TableView {
        let hand = self.hand.as_ref();
        let seats = self
            .seats()
            .iter()
            .enumerate()
            .map(|(seat, s)| {
                let s = s.as_ref()?;
                let p = hand.and_then(|h| h.player(seat));
                let own = viewer == Viewer::Seat(seat);
                Some(SeatView {
                    seat,
                    player: s.player.clone(),
                    stack: p.map_or(s.stack, |p| p.stack),
                    sitting_out: s.sitting_out,
                    in_hand: p.is_some(),
                    folded: hand.is_some_and(|h| h.folded.contains(seat)),
                    all_in: p.is_some_and(|p| p.stack == 0),
                    street_bet: p.map_or(0, |p| p.street_bet),
                    committed: p.map_or(0, |p| p.total),
                    cards: p
                        .filter(|_| own || hand.is_some_and(|h| h.shown.contains(seat)))
                        .map(|p| p.hole),
                })
            })
            .collect();
        TableView {
            viewer,
            config: self.config().clone(),
            hand: self.hand_number(),
            hand_in_progress: hand.is_some(),
            button: self.button(),
            small_blind: hand.map(|h| h.small_blind),
            big_blind: hand.map(|h| h.big_blind),
            seats,
            street: hand.map(|h| h.street),
            board: hand.map_or_else(Vec::new, |h| h.board[..h.board_len].to_vec()),
            pots: hand.map_or_else(Vec::new, pots),
            to_act: hand.and_then(|h| h.to_act),
            current_bet: hand.map_or(0, |h| h.current_bet),
            min_raise: hand.map_or(0, |h| h.min_raise),
            actions: self.history.clone(),
            legal: match viewer {
                Viewer::Seat(seat) => self.legal_actions(seat),
                Viewer::Spectator => LegalActions::default(),
            },
        }
    }
}
