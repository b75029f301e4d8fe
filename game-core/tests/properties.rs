//! Property tests over thousands of random games: 2 to 10 seats, random
//! stacks (many short, so many all-ins), random legal and illegal commands.

mod helpers;

use game_core::sim::{SplitMix64, random_action};
use game_core::{Action, Card, Command, Event, Table, TableConfig, TableSnapshot, Viewer, Visibility};
use proptest::prelude::*;

/// A random command that is often illegal: wrong seat, odd amounts, bets
/// when a raise is due, sitting in occupied seats, starting a hand twice.
fn wild_command(rng: &mut SplitMix64, seats: usize) -> Command {
    let seat = rng.below(seats as u64 + 2) as usize;
    let amount = match rng.below(4) {
        0 => 0,
        1 => rng.below(300),
        2 => rng.below(100_000),
        _ => u64::MAX - rng.below(3),
    };
    match rng.below(12) {
        0 => Command::Act {
            seat,
            action: Action::Fold,
        },
        1 => Command::Act {
            seat,
            action: Action::Check,
        },
        2 => Command::Act {
            seat,
            action: Action::Call,
        },
        3 => Command::Act {
            seat,
            action: Action::Bet { to: amount },
        },
        4 => Command::Act {
            seat,
            action: Action::Raise { to: amount },
        },
        5 => Command::Timeout { seat },
        6 => Command::StartHand { seed: amount },
        7 => Command::Sit {
            seat,
            player: "intruder".into(),
            stack: amount,
        },
        8 => Command::Stand { seat },
        9 => Command::AddChips { seat, amount },
        10 => Command::SitOut { seat },
        _ => Command::SitIn { seat },
    }
}

/// Hole cards of every seat in the current hand, from the server's log.
fn hole_cards(events: &[Event]) -> Vec<(usize, [Card; 2])> {
    let start = events
        .iter()
        .rposition(|e| matches!(e, Event::HandStarted { .. }))
        .unwrap_or(0);
    events[start..]
        .iter()
        .filter_map(|e| match e {
            Event::HoleCardsDealt { seat, cards } => Some((*seat, *cards)),
            _ => None,
        })
        .collect()
}

fn check_views(table: &Table, events: &[Event]) {
    let holes = hole_cards(events);
    let shown: Vec<usize> = {
        let start = events
            .iter()
            .rposition(|e| matches!(e, Event::HandStarted { .. }))
            .unwrap_or(0);
        events[start..]
            .iter()
            .filter_map(|e| match e {
                Event::HandShown { seat, .. } => Some(*seat),
                _ => None,
            })
            .collect()
    };
    let seats = table.config().seats;
    let viewers = (0..seats).map(Viewer::Seat).chain([Viewer::Spectator]);
    for viewer in viewers {
        let view = table.view(viewer);
        let json = serde_json::to_string(&view).expect("view serialises");
        for (seat, cards) in &holes {
            let visible = Viewer::Seat(*seat) == viewer || shown.contains(seat);
            let in_view = view.seats[*seat].as_ref().and_then(|s| s.cards);
            if !visible {
                assert_eq!(in_view, None, "{viewer:?} sees seat {seat}'s cards");
                for card in cards {
                    // A hidden hole card may only appear if it is on the board.
                    if !view.board.contains(card) {
                        assert!(
                            !json.contains(&format!("\"{card}\"")),
                            "{viewer:?} view leaks {card}"
                        );
                    }
                }
            }
        }
        // Undealt cards never appear: every card in the view is a hole card
        // the viewer may see or a board card.
        let allowed: Vec<Card> = view
            .seats
            .iter()
            .flatten()
            .filter_map(|s| s.cards)
            .flatten()
            .chain(view.board.iter().copied())
            .collect();
        for card in Card::ALL {
            if json.contains(&format!("\"{card}\"")) {
                assert!(allowed.contains(&card), "{viewer:?} view holds {card}");
            }
        }
    }
    // Event filtering: a viewer's stream holds only its own hole cards and never the seed.
    for viewer in (0..seats).map(Viewer::Seat).chain([Viewer::Spectator]) {
        for e in events.iter().filter(|e| e.visibility().visible_to(viewer)) {
            match e {
                Event::HoleCardsDealt { seat, .. } => assert_eq!(Viewer::Seat(*seat), viewer),
                Event::DeckShuffled { .. } | Event::DeckStacked { .. } => panic!("{viewer:?} sees the deck"),
                _ => {}
            }
            assert_ne!(e.visibility(), Visibility::Server);
        }
    }
}

fn run_game(seed: u64, seats: usize, hands: usize) {
    let mut rng = SplitMix64::new(seed);
    let big_blind = [2, 10, 100][rng.below(3) as usize];
    let config = TableConfig {
        seats,
        small_blind: (big_blind / 2).max(1),
        big_blind,
        ante: if rng.below(3) == 0 { big_blind / 5 } else { 0 },
    };
    let mut table = Table::new(config.clone()).unwrap();
    let mut log: Vec<Event> = Vec::new();
    let mut chips = 0;
    for seat in 0..seats {
        if rng.below(6) == 0 {
            continue; // an empty seat
        }
        let depth = if rng.below(2) == 0 {
            5 * big_blind
        } else {
            300 * big_blind
        };
        let stack = 1 + rng.below(depth);
        log.extend(
            table
                .apply(Command::Sit {
                    seat,
                    player: format!("p{seat}"),
                    stack,
                })
                .unwrap(),
        );
        chips += stack;
    }
    // Snapshots at hand boundaries, with the log position they cover.
    let mut snapshots = Vec::new();
    for _ in 0..hands {
        let snapshot = table.snapshot().expect("between hands");
        let text = serde_json::to_string(&snapshot).expect("a snapshot serialises");
        assert_eq!(
            serde_json::from_str::<TableSnapshot>(&text).expect("and reads back"),
            snapshot
        );
        snapshots.push((log.len(), snapshot));
        match table.apply(Command::StartHand { seed: rng.next_u64() }) {
            Ok(events) => log.extend(events),
            Err(_) => break, // fewer than two players with chips
        }
        while let Some(seat) = table.to_act() {
            // Illegal or random commands first: refused ones must change nothing.
            for _ in 0..rng.below(3) {
                let before = table.clone();
                let command = wild_command(&mut rng, seats);
                match table.apply(command.clone()) {
                    Err(_) => assert_eq!(table, before, "refused {command:?} changed the table"),
                    Ok(events) => {
                        if let Command::Sit { stack, .. } | Command::AddChips { amount: stack, .. } = command
                        {
                            chips += stack;
                        }
                        if let Some(Event::SeatLeft { stack, .. }) = events.first() {
                            chips -= stack;
                        }
                        log.extend(events);
                    }
                }
                assert_eq!(table.total_chips(), chips, "chips not conserved");
            }
            if table.to_act() != Some(seat) {
                continue;
            }
            let legal = table.legal_actions(seat);
            let action = random_action(&legal, &mut rng).expect("the seat to act has actions");
            let events = table
                .apply(Command::Act { seat, action })
                .unwrap_or_else(|e| panic!("legal {action:?} refused: {e}"));
            log.extend(events);
            assert_eq!(table.total_chips(), chips, "chips not conserved");
            check_views(&table, &log);
        }
        check_views(&table, &log);
        // Sitting-out players come back now and then.
        for seat in 0..seats {
            if table.seats()[seat].as_ref().is_some_and(|s| s.sitting_out) && rng.below(2) == 0 {
                log.extend(table.apply(Command::SitIn { seat }).unwrap());
            }
        }
    }
    let replayed = Table::replay(config.clone(), &log).expect("the log replays");
    assert_eq!(replayed, table, "replay differs from the live table");
    // A snapshot plus the events after it is the same table as the whole log.
    for (at, snapshot) in snapshots {
        let restored = Table::restore(config.clone(), snapshot).expect("the snapshot fits");
        let resumed = Table::replay_onto(restored, &log[at..]).expect("the tail replays");
        assert_eq!(
            resumed, table,
            "snapshot + tail at event {at} differs from the full replay"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_games_conserve_chips_refuse_cleanly_hide_cards_and_replay(
        seed in any::<u64>(),
        seats in 2usize..=10,
        hands in 1usize..6,
    ) {
        run_game(seed, seats, hands);
    }
}
