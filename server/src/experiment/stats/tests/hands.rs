//! Reading hands: the summaries of hands of known outcome, and the
//! tracker against the summary of random play.

use super::*;

#[test]
fn preflop_raise_and_folds() {
    let summary = HandSummary::from_events(&raise_fold()).expect("valid hand");
    assert_eq!(summary.hand, 1);
    let raiser = seat(&summary, 0);
    assert_eq!((raiser.net, raiser.vpip, raiser.pfr), (15, true, true));
    assert!(!raiser.saw_flop && !raiser.showdown && !raiser.won_at_showdown);
    for (blind, net) in [(1, -5), (2, -10)] {
        let hand = seat(&summary, blind);
        assert_eq!(
            hand,
            SeatHand {
                seat: blind,
                net,
                ..SeatHand::default()
            }
        );
    }
}

#[test]
fn limp_and_calls() {
    let summary = HandSummary::from_events(&limp_call()).expect("valid hand");
    let limper = seat(&summary, 0);
    assert_eq!(
        limper,
        SeatHand {
            seat: 0,
            net: 80,
            vpip: true,
            pfr: false,
            postflop_bets_raises: 1,
            postflop_calls: 1,
            saw_flop: true,
            showdown: false,
            won_at_showdown: false,
        }
    );
    let small = seat(&summary, 1);
    assert_eq!(
        (small.net, small.vpip, small.pfr, small.saw_flop),
        (-10, true, false, true)
    );
    assert_eq!((small.postflop_bets_raises, small.postflop_calls), (0, 0));
    let big = seat(&summary, 2);
    assert_eq!((big.net, big.vpip, big.saw_flop), (-70, false, true));
    assert_eq!((big.postflop_bets_raises, big.postflop_calls), (2, 0));

    let mut stats = StatsAccumulator::new();
    stats
        .record_hand(10, &names(&["a", "b", "c"]), 1, &limp_call())
        .expect("recorded");
    let results = stats.results();
    let a = result(&results, "a");
    assert_eq!((a.vpip, a.pfr, a.aggression_factor), (1.0, 0.0, Some(1.0)));
    assert_eq!((a.went_to_showdown, a.won_at_showdown), (Some(0.0), None));
    assert_eq!(result(&results, "b").aggression_factor, None);
    assert_eq!(
        result(&results, "c").aggression_factor,
        None,
        "bets but never calls"
    );
    assert_eq!(
        result(&results, "c").vpip,
        0.0,
        "checking the big blind is not voluntary"
    );
    assert_eq!(stats.total_net(), 0);
}

#[test]
fn check_down_to_a_showdown() {
    let summary = HandSummary::from_events(&check_down()).expect("valid hand");
    let button = seat(&summary, 0);
    let big = seat(&summary, 1);
    assert_eq!((button.net, button.vpip, button.pfr), (-10, true, false));
    assert_eq!((big.net, big.vpip, big.pfr), (10, false, false));
    assert!(
        button.saw_flop && button.showdown && !button.won_at_showdown,
        "mucking is a showdown"
    );
    assert!(big.saw_flop && big.showdown && big.won_at_showdown);

    let mut stats = StatsAccumulator::new();
    stats
        .record_hand(10, &names(&["a", "b"]), 1, &check_down())
        .expect("recorded");
    let results = stats.results();
    let (a, b) = (result(&results, "a"), result(&results, "b"));
    assert_eq!((a.went_to_showdown, a.won_at_showdown), (Some(1.0), Some(0.0)));
    assert_eq!((b.went_to_showdown, b.won_at_showdown), (Some(1.0), Some(1.0)));
    assert_eq!((a.bb_per_100, b.bb_per_100), (-100.0, 100.0));
    assert_eq!(a.aggression_factor, None);
}

#[test]
fn a_walk_is_not_a_showdown() {
    let summary = HandSummary::from_events(&walk()).expect("valid hand");
    let big = seat(&summary, 2);
    assert_eq!(big.net, 5);
    assert!(!big.vpip && !big.saw_flop && !big.showdown && !big.won_at_showdown);
    assert_eq!(seat(&summary, 1).net, -5);
    assert_eq!(seat(&summary, 0).net, 0);

    let mut stats = StatsAccumulator::new();
    stats
        .record_hand(10, &names(&["a", "b", "c"]), 1, &walk())
        .expect("recorded");
    let results = stats.results();
    let c = result(&results, "c");
    assert_eq!((c.went_to_showdown, c.won_at_showdown), (None, None));
    assert_eq!(c.counters.showdowns, 0);
}

#[test]
fn an_all_in_runs_out_to_a_split_showdown() {
    let summary = HandSummary::from_events(&all_in_split()).expect("valid hand");
    let shover = seat(&summary, 0);
    let caller = seat(&summary, 2);
    assert_eq!((shover.net, shover.vpip, shover.pfr), (3, true, true));
    assert_eq!((caller.net, caller.vpip, caller.pfr), (2, true, false));
    for hand in [shover, caller] {
        assert!(hand.saw_flop && hand.showdown && hand.won_at_showdown, "{hand:?}");
        assert_eq!((hand.postflop_bets_raises, hand.postflop_calls), (0, 0));
    }
    let folded = seat(&summary, 1);
    assert!(!folded.saw_flop && !folded.showdown);
}

/// Events before `HandStarted` and after `HandEnded` (seed, top-ups) are not part of the hand.
#[test]
fn surrounding_events_are_ignored() {
    let mut events = vec![Event::ChipsAdded {
        seat: 0,
        amount: 500,
        stack: 1000,
    }];
    events.extend(check_down());
    events.push(Event::SeatLeft { seat: 1, stack: 1010 });
    let summary = HandSummary::from_events(&events).expect("one hand");
    assert_eq!(
        summary,
        HandSummary::from_events(&check_down()).expect("one hand")
    );
}

#[test]
fn tracking_a_hand_gives_the_summary_of_its_events() {
    let mut rng = SplitMix64::new(77);
    let mut tracker = HandTracker::default();
    for hand in 0..3_000u64 {
        // 2 to 6 seats, antes in half the hands, stacks from 1 chip (all-in
        // on the blinds, hands that end in `StartHand`) to deep.
        let seats = 2 + (hand % 5) as usize;
        let config = TableConfig {
            ante: (hand % 2) * 2,
            ..TableConfig::new(seats, 5, 10)
        };
        let mut table = Table::new(config).expect("valid table");
        for seat in 0..seats {
            let stack = [1, 4, 15, 60, 400, 3_000][rng.below(6) as usize];
            table
                .apply(Command::Sit {
                    seat,
                    player: format!("p{seat}"),
                    stack,
                })
                .expect("sit");
        }
        let mut events = table
            .apply(Command::StartHand { seed: rng.next_u64() })
            .expect("start");
        tracker.start(&events).expect("started");
        let mut last = 0;
        while let Some(seat) = table.to_act() {
            let street = table.street().expect("a hand in progress");
            last = events.len();
            // Now and then the clock acts instead, as for a slow agent.
            let command = if rng.below(10) == 0 {
                Command::Timeout { seat }
            } else {
                let action =
                    game_core::sim::random_action(&table.legal_actions(seat), &mut rng).expect("an action");
                Command::Act { seat, action }
            };
            table.apply_into(command, &mut events).expect("legal");
            tracker.decision(street, &events[last]).expect("a decision");
        }
        let tracked = tracker.finish(&events[last..]).expect("ended");
        assert_eq!(Ok(tracked), HandSummary::from_events(&events), "hand {hand}");
    }
}
