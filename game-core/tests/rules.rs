//! Scenario tests of the No-Limit Hold'em rules, each with a prepared deck.

mod helpers;

use game_core::{Action, Command, Event, RuleError, Street};
use helpers::{act, awards, stacked, stacks, table, table_with};

#[test]
fn heads_up_button_posts_small_blind_acts_first_preflop_and_last_after() {
    let mut t = table(&[1000, 1000]);
    let events = t.apply(Command::StartHand { seed: 1 }).unwrap();
    let Some(Event::HandStarted {
        button,
        small_blind,
        big_blind,
        ..
    }) = events
        .iter()
        .find(|e| matches!(e, Event::HandStarted { .. }))
        .cloned()
    else {
        panic!("no HandStarted")
    };
    assert_eq!((button, small_blind, big_blind), (0, 0, 1));
    assert_eq!(t.to_act(), Some(0), "button acts first preflop");
    act(&mut t, 0, Action::Call);
    act(&mut t, 1, Action::Check);
    assert_eq!(t.view(game_core::Viewer::Spectator).street, Some(Street::Flop));
    assert_eq!(t.to_act(), Some(1), "big blind acts first after the flop");
}

#[test]
fn min_raise_is_the_last_full_raise_and_amounts_mean_to() {
    let mut t = table(&[10_000, 10_000, 10_000]);
    t.apply(Command::StartHand { seed: 2 }).unwrap();
    // Button (seat 0) first preflop, facing the 100 big blind.
    let legal = t.legal_actions(0);
    assert_eq!(legal.call, Some(100));
    assert_eq!(legal.raise.map(|r| (r.min, r.max)), Some((200, 10_000)));
    let before = t.clone();
    assert_eq!(
        t.apply(Command::Act {
            seat: 0,
            action: Action::Raise { to: 150 }
        }),
        Err(RuleError::RaiseTooSmall { min: 200 })
    );
    assert_eq!(t, before, "a refused command changes nothing");
    assert_eq!(
        t.apply(Command::Act {
            seat: 0,
            action: Action::Bet { to: 300 }
        }),
        Err(RuleError::AlreadyBet { current: 100 })
    );
    act(&mut t, 0, Action::Raise { to: 350 }); // a raise of 250
    assert_eq!(t.legal_actions(1).raise.map(|r| r.min), Some(600));
    assert_eq!(
        t.apply(Command::Act {
            seat: 1,
            action: Action::Raise { to: 20_000 }
        }),
        Err(RuleError::AmountTooLarge { max: 10_000 })
    );
    assert_eq!(
        t.apply(Command::Act {
            seat: 2,
            action: Action::Fold
        }),
        Err(RuleError::NotYourTurn { to_act: Some(1) })
    );
}

#[test]
fn short_all_in_does_not_reopen_betting_for_those_who_acted() {
    // Seat 1 (small blind) has only 250 behind after the flop.
    let mut t = table(&[5000, 400, 5000, 5000]);
    t.apply(Command::StartHand { seed: 3 }).unwrap();
    // Button 0, SB 1, BB 2, first to act 3.
    act(&mut t, 3, Action::Call);
    act(&mut t, 0, Action::Call);
    act(&mut t, 1, Action::Call);
    act(&mut t, 2, Action::Check);
    // Flop: seat 1 first.
    act(&mut t, 1, Action::Check);
    act(&mut t, 2, Action::Bet { to: 200 });
    act(&mut t, 3, Action::Call);
    act(&mut t, 0, Action::Call);
    act(&mut t, 1, Action::Raise { to: 300 }); // all-in, +100: less than a full raise
    let legal = t.legal_actions(2);
    assert_eq!(legal.call, Some(100));
    assert!(legal.raise.is_none(), "seat 2 already acted: call or fold only");
    assert_eq!(
        t.apply(Command::Act {
            seat: 2,
            action: Action::Raise { to: 600 }
        }),
        Err(RuleError::RaiseNotAllowed)
    );
    act(&mut t, 2, Action::Call);
}

#[test]
fn no_raise_when_nobody_can_call_it_and_the_refusal_says_so() {
    // Three-handed: two opponents all-in below the bet leave only a call.
    let mut t = table(&[5000, 5000, 200]);
    t.apply(Command::StartHand { seed: 6 }).unwrap();
    // Button 0, SB 1, BB 2 (200 in all, 100 posted).
    act(&mut t, 0, Action::Call);
    act(&mut t, 1, Action::Raise { to: 5000 }); // all-in
    act(&mut t, 2, Action::Call); // all-in for 200
    let legal = t.legal_actions(0);
    assert_eq!(legal.call, Some(4900));
    assert!(legal.raise.is_none());
    assert_eq!(
        t.apply(Command::Act {
            seat: 0,
            action: Action::Raise { to: 5000 }
        }),
        Err(RuleError::CannotAffordRaise)
    );

    // The seat has more chips than the bet, but every opponent is all-in.
    let mut t = table(&[9000, 5000, 200]);
    t.apply(Command::StartHand { seed: 7 }).unwrap();
    act(&mut t, 0, Action::Call);
    act(&mut t, 1, Action::Raise { to: 5000 }); // all-in
    act(&mut t, 2, Action::Call); // all-in for 200
    assert!(t.legal_actions(0).raise.is_none());
    let refused = t.apply(Command::Act {
        seat: 0,
        action: Action::Raise { to: 9000 },
    });
    assert_eq!(refused, Err(RuleError::NoOpponentCanCall));
    assert_eq!(
        refused.expect_err("refused").to_string(),
        "no opponent can call a bet or raise: call or fold"
    );
    act(&mut t, 0, Action::Call);
}

#[test]
fn short_all_ins_adding_up_to_a_full_raise_reopen_betting() {
    let mut t = table(&[5000, 5000, 5000, 350, 450]);
    t.apply(Command::StartHand { seed: 4 }).unwrap();
    // Button 0, SB 1, BB 2; seat 3 first preflop.
    act(&mut t, 3, Action::Raise { to: 250 }); // full raise of 150
    act(&mut t, 4, Action::Call);
    act(&mut t, 0, Action::Call);
    act(&mut t, 1, Action::Call);
    act(&mut t, 2, Action::Call);
    // Flop: seat 1 bets 100, seat 2 calls, seat 3 all-in 100 (a call), seat 4 all-in 200 (+100 full)...
    act(&mut t, 1, Action::Bet { to: 100 });
    act(&mut t, 2, Action::Call);
    act(&mut t, 3, Action::Call); // all-in for exactly 100
    act(&mut t, 4, Action::Raise { to: 200 }); // all-in, a full raise of 100
    act(&mut t, 0, Action::Call);
    // Seat 1 faced 100 when it acted; 200 is a full raise above it: reopened.
    assert!(t.legal_actions(1).raise.is_some());
}

#[test]
fn several_short_all_ins_reopen_only_when_they_add_up() {
    let mut t = table(&[10_000, 10_000, 1_180, 1_230, 10_000]);
    t.apply(Command::StartHand { seed: 5 }).unwrap();
    // Button 0, SB 1, BB 2, seat 3 first preflop.
    act(&mut t, 3, Action::Call);
    act(&mut t, 4, Action::Call);
    act(&mut t, 0, Action::Call);
    act(&mut t, 1, Action::Call);
    act(&mut t, 2, Action::Check);
    // Flop, seat 1 first. Stacks behind: seat 2 1080, seat 3 1130.
    act(&mut t, 1, Action::Bet { to: 1000 });
    act(&mut t, 2, Action::Raise { to: 1080 }); // all-in +80
    act(&mut t, 3, Action::Raise { to: 1130 }); // all-in +50: 130 in all, a full raise is 1000
    act(&mut t, 4, Action::Call);
    act(&mut t, 0, Action::Call);
    assert!(
        t.legal_actions(1).raise.is_none(),
        "130 of raises is less than the 1000 bet"
    );
    act(&mut t, 1, Action::Call);
}

#[test]
fn side_pots_with_three_all_ins_are_awarded_separately() {
    // Button 0, SB 1, BB 2, seat 3. Dealing order: 1, 2, 3, 0.
    let mut t = table(&[1000, 300, 600, 2000]);
    let deck = stacked(&["AsAd", "KsKd", "QsQd", "JsJd"], "2c3h7d8h9c");
    t.apply(Command::StartStackedHand { deck }).unwrap();
    act(&mut t, 3, Action::Raise { to: 2000 });
    act(&mut t, 0, Action::Call); // all-in 1000
    act(&mut t, 1, Action::Call); // all-in 300
    let events = act(&mut t, 2, Action::Call); // all-in 600
    // Seat 3's 1000 above seat 0's 1000 comes back.
    assert!(events.contains(&Event::UncalledBetReturned {
        seat: 3,
        amount: 1000
    }));
    // Main 4x300 to AA (seat 1), side 3x300 to KK (seat 2), side 2x400 to JJ (seat 0 beats QQ? no: QQ is seat 3).
    let a = awards(&events);
    assert_eq!(a.len(), 3);
    assert_eq!(
        a[0],
        (2, 800, vec![(3, 800)]),
        "last side pot first: seats 0 and 3, QQ wins"
    );
    assert_eq!(a[1], (1, 900, vec![(2, 900)]));
    assert_eq!(a[2], (0, 1200, vec![(1, 1200)]));
    assert_eq!(stacks(&t), vec![0, 1200, 900, 1800]);
    assert_eq!(t.total_chips(), 3900);
}

#[test]
fn split_pot_odd_chips_go_to_the_first_winner_left_of_the_button() {
    // Three seats with 5/10 blinds; the board plays for everyone.
    let config = game_core::TableConfig::new(3, 5, 10);
    let mut t = table_with(config, &[1000, 1000, 1000]);
    // Dealing order 1, 2, 0. Board is a royal flush: all three split.
    let deck = stacked(&["2c3d", "2d3c", "4c4d"], "AsKsQsJsTs");
    t.apply(Command::StartStackedHand { deck }).unwrap();
    act(&mut t, 0, Action::Call);
    act(&mut t, 1, Action::Fold);
    act(&mut t, 2, Action::Check);
    for _ in 0..3 {
        act(&mut t, 2, Action::Check);
        act(&mut t, 0, Action::Check);
    }
    // Pot: 10 + 10 + 5 = 25; two winners (seats 2, 0): 12 each, odd chip to seat 2 (left of button 0).
    assert_eq!(stacks(&t), vec![1002, 995, 1003]);
}

#[test]
fn short_big_blind_still_makes_others_call_the_full_blind() {
    let mut t = table(&[1000, 1000, 40]);
    t.apply(Command::StartHand { seed: 6 }).unwrap();
    // BB (seat 2) posted 40 all-in; seat 0 must call 100.
    assert_eq!(t.legal_actions(0).call, Some(100));
    act(&mut t, 0, Action::Call);
    assert_eq!(t.legal_actions(1).call, Some(50));
}

#[test]
fn big_blind_keeps_its_option() {
    let mut t = table(&[1000, 1000, 1000]);
    t.apply(Command::StartHand { seed: 7 }).unwrap();
    act(&mut t, 0, Action::Call);
    act(&mut t, 1, Action::Call);
    let legal = t.legal_actions(2);
    assert!(
        legal.check && legal.raise.is_some(),
        "the big blind may check or raise"
    );
    assert_eq!(
        t.apply(Command::Act {
            seat: 2,
            action: Action::Fold
        }),
        Err(RuleError::CannotFold)
    );
}

#[test]
fn uncalled_bet_returns_and_folds_win_the_pot() {
    let mut t = table(&[1000, 1000, 1000]);
    t.apply(Command::StartHand { seed: 8 }).unwrap();
    act(&mut t, 0, Action::Raise { to: 500 });
    act(&mut t, 1, Action::Fold);
    let events = act(&mut t, 2, Action::Fold);
    assert!(events.contains(&Event::UncalledBetReturned { seat: 0, amount: 400 }));
    assert_eq!(awards(&events), vec![(0, 250, vec![(0, 250)])]);
    assert_eq!(stacks(&t), vec![1150, 950, 900]);
    assert!(!t.hand_in_progress());
}

#[test]
fn timeout_checks_when_free_and_folds_when_facing_a_bet() {
    let mut t = table(&[1000, 1000, 1000]);
    t.apply(Command::StartHand { seed: 9 }).unwrap();
    let events = t.apply(Command::Timeout { seat: 0 }).unwrap();
    assert!(matches!(
        events[0],
        Event::ActionTaken {
            action: Action::Fold,
            timed_out: true,
            ..
        }
    ));
    act(&mut t, 1, Action::Call);
    let events = t.apply(Command::Timeout { seat: 2 }).unwrap();
    assert!(matches!(
        events[0],
        Event::ActionTaken {
            action: Action::Check,
            timed_out: true,
            ..
        }
    ));
    assert_eq!(
        t.apply(Command::Timeout { seat: 2 }),
        Err(RuleError::NotYourTurn { to_act: Some(1) })
    );
}

#[test]
fn button_skips_empty_sitting_out_and_broke_seats() {
    let mut t = table(&[1000, 0, 1000, 1000, 1000]);
    t.apply(Command::SitOut { seat: 3 }).unwrap();
    let button_of = |events: &[Event]| {
        events.iter().find_map(|e| match e {
            Event::HandStarted {
                button,
                small_blind,
                big_blind,
                players,
                ..
            } => Some((
                *button,
                *small_blind,
                *big_blind,
                players.iter().map(|p| p.seat).collect::<Vec<_>>(),
            )),
            _ => None,
        })
    };
    let events = t.apply(Command::StartHand { seed: 10 }).unwrap();
    assert_eq!(button_of(&events), Some((0, 2, 4, vec![0, 2, 4])));
    while let Some(seat) = t.to_act() {
        t.apply(Command::Timeout { seat }).unwrap();
    }
    let events = t.apply(Command::StartHand { seed: 11 }).unwrap();
    assert_eq!(button_of(&events).map(|b| b.0), Some(2));
    assert_eq!(
        t.apply(Command::Stand { seat: 2 }),
        Err(RuleError::SeatInHand { seat: 2 })
    );
    assert_eq!(
        t.apply(Command::StartHand { seed: 12 }),
        Err(RuleError::HandInProgress)
    );
}

#[test]
fn a_hand_needs_two_players_with_chips() {
    let mut t = table(&[1000, 0, 0]);
    assert_eq!(
        t.apply(Command::StartHand { seed: 1 }),
        Err(RuleError::NotEnoughPlayers)
    );
    assert_eq!(
        t.apply(Command::Sit {
            seat: 0,
            player: "x".into(),
            stack: 5
        }),
        Err(RuleError::SeatTaken { seat: 0 })
    );
    assert_eq!(
        t.apply(Command::Sit {
            seat: 9,
            player: "x".into(),
            stack: 5
        }),
        Err(RuleError::NoSuchSeat { seat: 9, seats: 3 })
    );
    assert_eq!(
        t.apply(Command::StartStackedHand { deck: vec![] }),
        Err(RuleError::InvalidDeck)
    );
}

#[test]
fn all_in_preflop_runs_out_the_board_and_shows_every_hand() {
    let mut t = table(&[1000, 1000]);
    // Heads-up dealing order: seat 1 then seat 0.
    let deck = stacked(&["7c2d", "AhKh"], "Qh Jh 3s 4d 9h");
    t.apply(Command::StartStackedHand { deck }).unwrap();
    act(&mut t, 0, Action::Raise { to: 1000 });
    let events = act(&mut t, 1, Action::Call);
    let boards = events
        .iter()
        .filter(|e| matches!(e, Event::BoardDealt { .. }))
        .count();
    assert_eq!(boards, 3);
    let shown = events
        .iter()
        .filter(|e| matches!(e, Event::HandShown { .. }))
        .count();
    assert_eq!(shown, 2);
    assert_eq!(stacks(&t), vec![2000, 0]);
}
