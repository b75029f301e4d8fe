//! The prompt: the situation in poker terms (position, stacks and pot in big
//! blinds, board, the hand's action so far, the legal actions with their
//! amounts) and the JSON schema of the only legal answers.

use std::fmt::Write;

use game_core::card::format_cards;
use game_core::view::TableView;
use game_core::{Action, LegalActions, SeatIndex, Street};
use serde_json::{Value, json};

/// The system message: the role, the personality and the answer format.
pub fn system_message(personality: &str) -> String {
    let mut s = String::from(
        "You are a No-Limit Texas Hold'em player at a cash game table. Decide your action for the \
         current turn. Amounts are chips; a bet or raise amount is the TOTAL you will have put in \
         on this street (raise TO), not the increment.",
    );
    if !personality.trim().is_empty() {
        let _ = write!(s, " Your playing style: {}.", personality.trim());
    }
    s.push_str(
        " Answer with only a JSON object: {\"action\": one of the legal actions, \"amount\": the \
         bet/raise-to amount as an integer or null, \"reason\": a short sentence}.",
    );
    s
}

/// A seat's position name at this table (BTN, SB, BB, UTG, ..., CO).
pub fn position_name(view: &TableView, seat: SeatIndex) -> &'static str {
    let n = view.config.seats;
    let Some(button) = view.button else { return "?" };
    let dealt: Vec<SeatIndex> = (1..=n)
        .map(|k| (button + k) % n)
        .filter(|&s| view.seats[s].as_ref().is_some_and(|v| v.in_hand))
        .collect();
    let Some(index) = dealt.iter().position(|&s| s == seat) else {
        return "?";
    };
    let count = dealt.len();
    if count == 2 {
        return if index == 1 { "BTN/SB" } else { "BB" };
    }
    // Order from the seat left of the button: SB, BB, then early to late, BTN last.
    let from_end = count - 1 - index;
    match (index, from_end) {
        (0, _) => "SB",
        (1, _) => "BB",
        (_, 0) => "BTN",
        (_, 1) => "CO",
        (_, 2) => "HJ",
        (2, _) => "UTG",
        (3, _) => "UTG+1",
        _ => "MP",
    }
}

fn bb(chips: u64, big_blind: u64) -> String {
    let v = chips as f64 / big_blind.max(1) as f64;
    if (v - v.round()).abs() < 0.05 {
        format!("{:.0} bb", v.round())
    } else {
        format!("{v:.1} bb")
    }
}

fn street_name(street: Street) -> &'static str {
    match street {
        Street::Preflop => "preflop",
        Street::Flop => "flop",
        Street::Turn => "turn",
        Street::River => "river",
    }
}

/// The user message describing the turn of `seat`.
pub fn situation(view: &TableView, seat: SeatIndex) -> String {
    situation_within(view, seat, usize::MAX)
}

/// [`situation`] with at most the last `max_actions` of the hand's actions
/// (the others are summarised in one line), for models with a small
/// context window.
pub fn situation_within(view: &TableView, seat: SeatIndex, max_actions: usize) -> String {
    let c = &view.config;
    let bbv = c.big_blind;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Hand #{}, {}-seat table, blinds {}/{}{}.",
        view.hand,
        c.seats,
        c.small_blind,
        c.big_blind,
        if c.ante > 0 {
            format!(", ante {}", c.ante)
        } else {
            String::new()
        }
    );
    if let Some(me) = view.seats.get(seat).and_then(Option::as_ref) {
        let _ = writeln!(
            s,
            "You are seat {seat} ({}), stack {} ({} chips).",
            position_name(view, seat),
            bb(me.stack, bbv),
            me.stack
        );
        if let Some(cards) = me.cards {
            let _ = writeln!(s, "Your cards: {}.", format_cards(&cards));
        }
    }
    match view.street {
        Some(street) if !view.board.is_empty() => {
            let _ = writeln!(
                s,
                "Board ({}): {}.",
                street_name(street),
                format_cards(&view.board)
            );
        }
        _ => {
            let _ = writeln!(s, "Board: none yet (preflop).");
        }
    }
    let pot: u64 = view.pots.iter().map(|p| p.amount).sum();
    let _ = writeln!(
        s,
        "Pot: {} ({} chips), counting bets on this street.",
        bb(pot, bbv),
        pot
    );
    let _ = writeln!(s, "Players:");
    for v in view.seats.iter().flatten().filter(|v| v.in_hand) {
        let status = if v.folded {
            "folded"
        } else if v.all_in {
            "all-in"
        } else {
            "in the hand"
        };
        let _ = writeln!(
            s,
            "- seat {} ({}){}: stack {}, {} in front this street, {}.",
            v.seat,
            position_name(view, v.seat),
            if v.seat == seat { " (you)" } else { "" },
            bb(v.stack, bbv),
            bb(v.street_bet, bbv),
            status
        );
    }
    let _ = writeln!(s, "Action so far this hand:");
    if view.actions.is_empty() {
        let _ = writeln!(s, "- none (blinds posted).");
    }
    let skipped = view.actions.len().saturating_sub(max_actions);
    if skipped > 0 {
        let _ = write!(s, "({skipped} earlier actions not shown)");
    }
    let mut last_street = None;
    for a in &view.actions[skipped..] {
        if last_street != Some(a.street) {
            let _ = write!(s, "{}:", street_name(a.street));
            last_street = Some(a.street);
        }
        let what = match a.action {
            Action::Fold => "folds".to_string(),
            Action::Check => "checks".to_string(),
            Action::Call => format!("calls {}", a.amount),
            Action::Bet { to } => format!("bets {to}"),
            Action::Raise { to } => format!("raises to {to}"),
        };
        let _ = write!(
            s,
            " seat {} {}{};",
            a.seat,
            what,
            if a.all_in { " (all-in)" } else { "" }
        );
    }
    if !view.actions.is_empty() {
        s.push('\n');
    }
    let _ = writeln!(s, "Legal actions now:");
    s.push_str(&legal_lines(&view.legal, bbv));
    s
}

fn legal_lines(legal: &LegalActions, big_blind: u64) -> String {
    let mut s = String::new();
    if legal.fold {
        s.push_str("- fold\n");
    }
    if legal.check {
        s.push_str("- check\n");
    }
    if let Some(call) = legal.call {
        let _ = writeln!(s, "- call {call} ({})", bb(call, big_blind));
    }
    for (name, range) in [("bet", legal.bet), ("raise", legal.raise)] {
        if let Some(r) = range {
            if r.min == r.max {
                let _ = writeln!(s, "- {name} to {} (all-in)", r.max);
            } else {
                let _ = writeln!(s, "- {name} to any amount from {} to {} (all-in)", r.min, r.max);
            }
        }
    }
    s
}

/// The legal action names for the schema's enum.
pub fn legal_names(legal: &LegalActions) -> Vec<&'static str> {
    let mut names = Vec::new();
    if legal.fold {
        names.push("fold");
    }
    if legal.check {
        names.push("check");
    }
    if legal.call.is_some() {
        names.push("call");
    }
    if legal.bet.is_some() {
        names.push("bet");
    }
    if legal.raise.is_some() {
        names.push("raise");
    }
    names
}

/// The JSON schema of the only legal answers: an object whose `action` can
/// only be a legal one and whose `amount` is bounded by the legal range.
/// The executor sends it the way each model takes it.
pub fn answer_schema(legal: &LegalActions) -> Value {
    let mut amount = json!({ "type": ["integer", "null"] });
    if let Some(range) = legal.bet.or(legal.raise) {
        amount["minimum"] = json!(range.min);
        amount["maximum"] = json!(range.max);
    }
    json!({
        "type": "object",
        "properties": {
            "action": { "type": "string", "enum": legal_names(legal) },
            "amount": amount,
            "reason": { "type": "string" }
        },
        "required": ["action", "amount", "reason"],
        "additionalProperties": false
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use game_core::sim::seated_table;
    use game_core::{Command, TableConfig, Viewer};

    #[test]
    fn the_prompt_states_the_situation_and_hides_other_cards() {
        let mut t = seated_table(TableConfig::new(6, 50, 100), 10_000).unwrap();
        t.apply(Command::StartHand { seed: 3 }).unwrap();
        let seat = t.to_act().unwrap();
        t.apply(Command::Act {
            seat,
            action: Action::Raise { to: 300 },
        })
        .unwrap();
        let me = t.to_act().unwrap();
        let view = t.view(Viewer::Seat(me));
        let text = situation(&view, me);
        assert!(text.contains("blinds 50/100"));
        assert!(text.contains(&format!("You are seat {me} (")));
        assert!(text.contains("raises to 300"));
        assert!(text.contains("- call 300 (3 bb)"));
        assert!(text.contains("- raise to any amount from 500 to 10000"));
        let mine = view.seats[me].as_ref().unwrap().cards.unwrap();
        assert!(text.contains(&format_cards(&mine)));
        let full = t.view(Viewer::Seat(seat));
        let theirs = full.seats[seat].as_ref().unwrap().cards.unwrap();
        assert!(!text.contains(&format_cards(&theirs)));
        let schema = answer_schema(&view.legal);
        assert_eq!(
            schema["properties"]["action"]["enum"],
            json!(["fold", "call", "raise"])
        );
        assert_eq!(schema["properties"]["amount"]["minimum"], json!(500));
        let short = situation_within(&view, me, 0);
        assert!(short.contains("(1 earlier actions not shown)"), "{short}");
        assert!(!short.contains("raises to 300"));
        assert!(short.len() < text.len());
    }

    #[test]
    fn positions_are_named_from_the_button() {
        let mut t = seated_table(TableConfig::new(6, 50, 100), 10_000).unwrap();
        t.apply(Command::StartHand { seed: 1 }).unwrap();
        let v = t.view(Viewer::Spectator);
        let names: Vec<&str> = (0..6).map(|s| position_name(&v, s)).collect();
        assert_eq!(names, ["BTN", "SB", "BB", "UTG", "HJ", "CO"]);
    }
}
