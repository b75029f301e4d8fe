//! Bulk play on one reused table: `Table::reset_seated` (and
//! `Table::reset_stacks`, keeping the players) gives exactly a new table's
//! state, and the cheap accessors bots read (`pot_total`, `current_bet`,
//! `amount_to_call`) agree with the view they stand in for.

use game_core::sim::{SplitMix64, random_action};
use game_core::{Command, RuleError, Table, TableConfig, Viewer};

/// A new table with `players` seated by `Sit` commands.
fn fresh(config: &TableConfig, players: &[(&str, u64)]) -> Table {
    let mut table = Table::new(config.clone()).expect("valid config");
    for (seat, &(player, stack)) in players.iter().enumerate() {
        table
            .apply(Command::Sit {
                seat,
                player: player.to_owned(),
                stack,
            })
            .expect("seat free");
    }
    table
}

#[test]
fn a_reset_table_equals_a_new_one_and_plays_the_same_hands() {
    let mut rng = SplitMix64::new(5);
    for seats in 2..=10 {
        let config = TableConfig::new(seats, 1, 2);
        let mut reused = Table::new(config.clone()).expect("valid config");
        for hand in 0..50u64 {
            // Fewer players than seats now and then, with other names and stacks.
            let count = if hand % 7 == 3 { 2 } else { seats };
            // Names change every fourth hand.
            let names: Vec<String> = (0..count).map(|s| format!("p{}-{}", s, hand / 4 % 3)).collect();
            let players: Vec<(&str, u64)> = names
                .iter()
                .map(|name| (name.as_str(), 1 + rng.below(400)))
                .collect();
            // With the same players as last hand, only the stacks are reset.
            let same_players = reused
                .seats()
                .iter()
                .map(|s| s.as_ref().map(|s| s.player.as_str()))
                .eq(names
                    .iter()
                    .map(|n| Some(n.as_str()))
                    .chain(std::iter::repeat_n(None, seats - count)));
            if same_players {
                let stacks: Vec<u64> = players.iter().map(|&(_, stack)| stack).collect();
                reused.reset_stacks(&stacks).expect("between hands");
            } else {
                reused.reset_seated(&players).expect("between hands");
            }
            let mut new = fresh(&config, &players);
            assert_eq!(reused, new, "{seats} seats, hand {hand}");

            let seed = rng.next_u64();
            let mut a = reused.apply(Command::StartHand { seed }).expect("hand starts");
            let mut b = new.apply(Command::StartHand { seed }).expect("hand starts");
            while let Some(seat) = reused.to_act() {
                let view = reused.view(Viewer::Seat(seat));
                let pots: u64 = view.pots.iter().map(|p| p.amount).sum();
                assert_eq!(reused.pot_total(), pots);
                assert_eq!(reused.current_bet(), view.current_bet);
                let to_call = reused.amount_to_call(seat).expect("its turn");
                assert_eq!(to_call == 0, view.legal.check);
                let behind = reused.stack(seat).expect("dealt in");
                assert_eq!(view.legal.call, (to_call > 0).then(|| to_call.min(behind)));
                let action = random_action(&view.legal, &mut rng).expect("an action");
                reused
                    .apply_into(Command::Act { seat, action }, &mut a)
                    .expect("legal");
                new.apply_into(Command::Act { seat, action }, &mut b)
                    .expect("legal");
            }
            assert_eq!(a, b);
            assert_eq!(reused, new);
            assert_eq!((reused.pot_total(), reused.current_bet()), (0, 0));
        }
    }
}

#[test]
fn reset_refuses_what_sit_refuses_and_leaves_the_table_unchanged() {
    let config = TableConfig::new(3, 1, 2);
    let mut table = fresh(&config, &[("a", 100), ("b", 100), ("c", 100)]);
    let before = table.clone();
    assert_eq!(
        table.reset_seated(&[("a", 10), ("b", 0)]),
        Err(RuleError::ZeroAmount)
    );
    assert!(matches!(
        table.reset_seated(&[("a", 10), ("b", u64::MAX)]),
        Err(RuleError::TooManyChips { .. })
    ));
    assert!(matches!(
        table.reset_seated(&[("a", 1), ("b", 1), ("c", 1), ("d", 1)]),
        Err(RuleError::NoSuchSeat { seat: 3, seats: 3 })
    ));
    assert_eq!(table.reset_stacks(&[10, 0, 10]), Err(RuleError::ZeroAmount));
    assert_eq!(
        table.reset_stacks(&[10, 10]),
        Err(RuleError::SeatTaken { seat: 2 })
    );
    assert!(matches!(
        table.reset_stacks(&[1, 1, 1, 1]),
        Err(RuleError::NoSuchSeat { seat: 3, seats: 3 })
    ));
    assert_eq!(table, before);
    table.apply(Command::StartHand { seed: 1 }).expect("hand starts");
    let during = table.clone();
    assert_eq!(
        table.reset_seated(&[("a", 10), ("b", 10)]),
        Err(RuleError::HandInProgress)
    );
    assert_eq!(table.reset_stacks(&[10, 10, 10]), Err(RuleError::HandInProgress));
    assert_eq!(table, during);
}
