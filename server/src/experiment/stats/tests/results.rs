//! Per-agent results: bb/100 and its interval, the duplicate estimate,
//! blind levels, refused hands, tallies by index, merging, and invariants
//! over random play.

use super::*;

#[test]
fn one_agent_in_several_seats_adds_up() {
    let mut stats = StatsAccumulator::new();
    stats
        .record_hand(10, &names(&["a", "b", "a"]), 1, &raise_fold())
        .expect("recorded");
    stats
        .record_hand(10, &names(&["b", "a", "", "nobody"]), 2, &check_down())
        .expect("recorded");
    let results = stats.results();
    assert_eq!(
        results.iter().map(|r| r.agent.as_str()).collect::<Vec<_>>(),
        ["a", "b"],
        "sorted by name"
    );
    // a: seats 0 and 2 of the raise-fold (+15, -10), seat 1 of the check-down (+10).
    let a = result(&results, "a");
    assert_eq!((a.hands, a.net_chips), (3, 15));
    assert_eq!(
        (a.counters.vpip, a.counters.pfr, a.counters.showdowns_won),
        (1, 1, 1)
    );
    assert_close(a.vpip, 1.0 / 3.0);
    assert_close(a.bb_per_100, 50.0);
    // b: seat 1 of the raise-fold (-5), seat 0 of the check-down (-10).
    let b = result(&results, "b");
    assert_eq!(
        (b.hands, b.net_chips, b.counters.vpip, b.counters.showdowns),
        (2, -15, 1, 1)
    );
    assert_eq!(b.won_at_showdown, Some(0.0));
    assert_eq!(stats.total_net(), 0);
    // Two seats of one deal group like two rotations: a averages
    // +0.25 bb on deal 1 and +1 bb on deal 2; b never repeats a deal.
    let duplicate = a.duplicate.as_ref().expect("a holds two seats of deal 1");
    assert_eq!(duplicate.deals, 2);
    assert_close(duplicate.bb_per_100, 62.5);
    assert!(b.duplicate.is_none());
}

#[test]
fn confidence_interval_matches_a_hand_computed_example() {
    // Per-hand nets of 2, -1, 0, 3 bb: mean 1, sample variance 10/3,
    // so 100 · (1 ± 1.96 · sqrt(10/3) / 2).
    let mut stats = StatsAccumulator::new();
    let agents = names(&["a", "b"]);
    for (hand, net) in [20, -10, 0, 30].into_iter().enumerate() {
        let hand = hand as u64;
        stats
            .record_hand(10, &agents, hand, &heads_up(hand, net))
            .expect("recorded");
    }
    let results = stats.results();
    let a = result(&results, "a");
    assert_eq!((a.hands, a.net_chips), (4, 40));
    assert_close(a.bb_per_100, 100.0);
    let [lo, hi] = a.bb_per_100_ci95.expect("four hands");
    assert_close(lo, -78.92270211835427);
    assert_close(hi, 278.9227021183542);
    let b = result(&results, "b");
    assert_close(b.bb_per_100, -100.0);
    let [lo, hi] = b.bb_per_100_ci95.expect("four hands");
    assert_close(lo, -278.9227021183542);
    assert_close(hi, 78.92270211835427);

    let mut one = StatsAccumulator::new();
    one.record_hand(10, &agents, 0, &heads_up(0, 20))
        .expect("recorded");
    assert_eq!(one.results()[0].bb_per_100_ci95, None, "one hand has no interval");
    assert_eq!(one.results()[0].bb_per_100, 200.0);
}

#[test]
fn duplicate_estimate_on_a_tiny_example() {
    // Deals 1, 2, 3 with two hands each: a nets (+4, -2), (-1, -1),
    // (+3, +1) bb, so 1, -1 and 2 bb per hand; mean 2/3, sample
    // variance 7/3: 100 · (2/3 ± 1.96 · sqrt(7/3) / sqrt(3)).
    let mut stats = StatsAccumulator::new();
    let agents = names(&["a", "b"]);
    let nets = [(1, 40), (1, -20), (2, -10), (2, -10), (3, 30), (3, 10)];
    for (hand, (deal, net)) in nets.into_iter().enumerate() {
        let hand = hand as u64;
        stats
            .record_hand(10, &agents, deal, &heads_up(hand, net))
            .expect("recorded");
    }
    let results = stats.results();
    let a = result(&results, "a");
    let duplicate = a.duplicate.as_ref().expect("deals repeat");
    assert_eq!(duplicate.deals, 3);
    assert_close(duplicate.bb_per_100, 200.0 / 3.0);
    let [lo, hi] = duplicate.ci95.expect("three deals");
    assert_close(lo, -106.18908565621994);
    assert_close(hi, 239.52241898955327);
    let b = result(&results, "b").duplicate.as_ref().expect("deals repeat");
    assert_close(b.bb_per_100, -200.0 / 3.0);
    // Deals of equal size: the same mean as per hand.
    assert_close(a.bb_per_100, 200.0 / 3.0);

    // One deal: an estimate without an interval.
    let mut one = StatsAccumulator::new();
    for hand in 0..2 {
        one.record_hand(10, &agents, 9, &heads_up(hand, 10))
            .expect("recorded");
    }
    let duplicate = one.results()[0].duplicate.clone().expect("one deal played twice");
    assert_eq!(
        (duplicate.deals, duplicate.bb_per_100, duplicate.ci95),
        (1, 100.0, None)
    );

    // Every deal once, or deals ignored: no estimate.
    let mut unique = StatsAccumulator::new();
    let mut ignored = StatsAccumulator::without_deals();
    for (hand, (deal, net)) in nets.into_iter().enumerate() {
        let hand = hand as u64;
        unique
            .record_hand(10, &agents, hand, &heads_up(hand, net))
            .expect("recorded");
        ignored
            .record_hand(10, &agents, deal, &heads_up(hand, net))
            .expect("recorded");
    }
    assert!(unique.results().iter().all(|r| r.duplicate.is_none()));
    assert!(ignored.results().iter().all(|r| r.duplicate.is_none()));
    assert_eq!(ignored.results()[0].bb_per_100_ci95, a.bb_per_100_ci95);
}

#[test]
fn blind_levels_are_kept_apart() {
    // +10 chips with a big blind of 20, then -10 with one of 10: +0.5 bb and -1 bb.
    let mut stats = StatsAccumulator::new();
    let agents = names(&["a", "b"]);
    stats
        .record_hand(20, &agents, 1, &heads_up(1, 10))
        .expect("recorded");
    stats
        .record_hand(10, &agents, 1, &heads_up(2, -10))
        .expect("recorded");
    let a = &stats.results()[0];
    assert_eq!(a.net_chips, 0);
    assert_close(a.bb_per_100, -25.0);
    let duplicate = a.duplicate.as_ref();
    assert!(
        duplicate.is_none(),
        "a deal id is scoped to its big blind: {duplicate:?}"
    );
}

#[test]
fn bad_hands_are_refused_and_change_nothing() {
    let mut stats = StatsAccumulator::new();
    let agents = names(&["a", "b", "c"]);
    stats.record_hand(10, &agents, 1, &walk()).expect("recorded");
    let before = stats.clone();

    let hand = raise_fold();
    let refuse = |stats: &mut StatsAccumulator, agents: &[Option<String>], events: &[Event]| {
        stats.record_hand(10, agents, 2, events).expect_err("refused")
    };
    assert_eq!(
        refuse(&mut stats, &agents, &hand[..hand.len() - 1]),
        StatsError::NoHandEnded { hand: 1 }
    );
    assert_eq!(refuse(&mut stats, &agents, &hand[2..]), StatsError::NoHandStarted);
    let two: Vec<Event> = hand.iter().chain(&walk()).cloned().collect();
    assert_eq!(
        refuse(&mut stats, &agents, &two),
        StatsError::SeveralHands { first: 1, second: 4 }
    );
    assert_eq!(
        refuse(&mut stats, &names(&["a", "b"]), &hand),
        StatsError::NoAgent { seat: 2 }
    );
    assert_eq!(
        refuse(&mut stats, &names(&["a", "", "c"]), &hand),
        StatsError::NoAgent { seat: 1 }
    );
    let mut stranger = hand.clone();
    stranger.insert(
        3,
        Event::ActionTaken {
            seat: 5,
            action: Action::Call,
            amount: 10,
            stack: 0,
            all_in: true,
            timed_out: false,
        },
    );
    assert_eq!(
        refuse(&mut stats, &agents, &stranger),
        StatsError::SeatNotDealtIn { seat: 5 }
    );
    let mut renumbered = hand.clone();
    if let Some(Event::HandEnded { hand, .. }) = renumbered.last_mut() {
        *hand = 9;
    }
    assert_eq!(
        refuse(&mut stats, &agents, &renumbered),
        StatsError::HandMismatch { started: 1, ended: 9 }
    );
    let mut short = hand.clone();
    if let Some(Event::HandEnded { stacks, .. }) = short.last_mut() {
        *stacks = SeatList::from_slice(&stacks[..2]).expect("two seats");
    }
    assert_eq!(
        refuse(&mut stats, &agents, &short),
        StatsError::MissingFinalStack { seat: 2 }
    );
    assert_eq!(
        stats.record_hand(0, &agents, 2, &hand).expect_err("refused"),
        StatsError::ZeroBigBlind
    );
    assert_eq!(stats, before);
}

#[test]
fn tallies_by_agent_index_equal_recording_by_name() {
    let (hands, _) = random_hands(600);
    let agents = sim_agents();
    // The distinct agents, and each seat's index among them.
    let names: Vec<String> = ["alice", "bob", "carol", "dave"].map(String::from).into();
    let index = |seat: usize| {
        let name = agents[seat].as_deref().expect("every seat has an agent");
        names.iter().position(|n| n == name).expect("known agent")
    };
    for tracked in [true, false] {
        let fresh = || {
            if tracked {
                StatsAccumulator::new()
            } else {
                StatsAccumulator::without_deals()
            }
        };
        let mut by_name = fresh();
        let mut by_index = fresh();
        let mut tallies = AgentTallies::new(names.clone(), by_index.tracks_deals());
        for (i, (deal, events)) in hands.iter().enumerate() {
            by_name.record_hand(10, &agents, *deal, events).expect("valid");
            let summary = HandSummary::from_events(events).expect("valid");
            for hand in &summary.seats {
                tallies.record(index(hand.seat), 10, *deal, hand);
            }
            // Moved over now and then, as a run's checkpoints do.
            if i % 97 == 0 {
                tallies.move_into(&mut by_index);
            }
        }
        tallies.move_into(&mut by_index);
        assert_eq!(by_index, by_name);
        assert_eq!(by_index.results(), by_name.results());
    }
}

#[test]
fn random_play_keeps_the_invariants() {
    let (hands, won) = random_hands(2000);
    let agents = sim_agents();
    let mut stats = StatsAccumulator::new();
    let mut showdowns = 0;
    for (deal, events) in &hands {
        let summary = stats
            .record_hand(10, &agents, *deal, events)
            .expect("engine hands are valid");
        assert_eq!(summary.seats.len(), 6, "every seat has chips");
        assert_eq!(
            summary.seats.iter().map(|s| s.net).sum::<i64>(),
            0,
            "chips change hands"
        );
        let shown = events
            .iter()
            .any(|e| matches!(e, Event::HandShown { .. } | Event::HandMucked { .. }));
        assert_eq!(
            shown,
            summary.seats.iter().any(|s| s.showdown),
            "showdown is when hands are shown or mucked: {events:?}"
        );
        for hand in &summary.seats {
            assert!(!hand.pfr || hand.vpip, "{hand:?}");
            assert!(!hand.showdown || hand.saw_flop, "{hand:?}");
            assert!(!hand.won_at_showdown || hand.showdown, "{hand:?}");
        }
        if shown {
            assert!(summary.seats.iter().filter(|s| s.showdown).count() >= 2);
            assert!(summary.seats.iter().any(|s| s.won_at_showdown));
            showdowns += 1;
        }
    }
    assert!(showdowns > 100, "random play reaches showdowns: {showdowns}");
    assert_eq!(stats.total_net(), 0);

    let results = stats.results();
    assert_eq!(results.len(), 4);
    assert_eq!(results.iter().map(|r| r.hands).sum::<u64>(), 2000 * 6);
    assert_eq!(result(&results, "alice").hands, 4000);
    // Seats 0 and 4 are alice, 1 and 5 bob, 2 carol, 3 dave.
    for (agent, seats) in [
        ("alice", &[0, 4][..]),
        ("bob", &[1, 5]),
        ("carol", &[2]),
        ("dave", &[3]),
    ] {
        let table: i64 = seats.iter().map(|&seat| won[seat]).sum();
        assert_eq!(result(&results, agent).net_chips, table, "{agent}");
    }
    for r in &results {
        assert!(0.0 <= r.pfr && r.pfr <= r.vpip && r.vpip <= 1.0, "{r:?}");
        assert!(r.counters.pfr > 0 && r.counters.showdowns_won > 0, "{r:?}");
        let won = r.won_at_showdown.expect("showdowns");
        assert!((0.0..=1.0).contains(&won), "{r:?}");
        let went = r.went_to_showdown.expect("flops");
        assert!((0.0..=1.0).contains(&went), "{r:?}");
        assert!(r.aggression_factor.expect("calls") > 0.0);
        let [lo, hi] = r.bb_per_100_ci95.expect("many hands");
        assert!(lo < r.bb_per_100 && r.bb_per_100 < hi, "{r:?}");
        let duplicate = r.duplicate.as_ref().expect("deals of three hands");
        assert_eq!(duplicate.deals, 667);
        assert_close(r.bb_per_100, r.net_chips as f64 / 10.0 / r.hands as f64 * 100.0);
    }

    let json = serde_json::to_string(&stats).expect("serialisable");
    let back: StatsAccumulator = serde_json::from_str(&json).expect("deserialisable");
    assert_eq!(back, stats);
    assert_eq!(back.results(), results);
    let summary = serde_json::to_value(&results).expect("serialisable");
    assert!(summary[0]["bb_per_100_ci95"].is_array());
}

#[test]
fn merging_equals_recording_everything_in_one() {
    let (hands, _) = random_hands(600);
    let agents = sim_agents();
    let mut whole = StatsAccumulator::new();
    // Three "tables" that share deals: hand i goes to table i % 3.
    let mut parts = [
        StatsAccumulator::new(),
        StatsAccumulator::new(),
        StatsAccumulator::new(),
    ];
    for (i, (deal, events)) in hands.iter().enumerate() {
        whole.record_hand(10, &agents, *deal, events).expect("valid");
        parts[i % 3]
            .record_hand(10, &agents, *deal, events)
            .expect("valid");
    }
    for extra in [check_down(), limp_call()] {
        whole
            .record_hand(10, &names(&["erin", "bob", "alice"]), 1000, &extra)
            .expect("valid");
        parts[1]
            .record_hand(10, &names(&["erin", "bob", "alice"]), 1000, &extra)
            .expect("valid");
    }
    let [first, second, third] = parts;
    let mut merged = StatsAccumulator::new();
    merged.merge(third);
    merged.merge(first);
    merged.merge(second);
    assert_eq!(merged, whole);
    assert_eq!(merged.results(), whole.results());
    assert_eq!(merged.total_net(), 0);

    // Merging with an accumulator that ignores deals drops the estimate.
    let mut ignoring = StatsAccumulator::without_deals();
    ignoring
        .record_hand(10, &names(&["a", "b"]), 1, &check_down())
        .expect("valid");
    merged.merge(ignoring);
    let results = merged.results();
    assert!(results.iter().all(|r| r.duplicate.is_none()));
    assert_eq!(result(&results, "a").hands, 1);
    assert_eq!(result(&results, "alice").hands, whole.results()[0].hands);
}
