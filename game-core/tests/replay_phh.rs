//! Replaying event logs, and PHH hand histories in both directions.

mod helpers;

use game_core::phh::{PhhError, from_phh, to_phh};
use game_core::rules::ReplayError;
use game_core::sim::{SplitMix64, play_out};
use game_core::{Command, Event, RuleError, Table};

fn played_log(hands: usize) -> (Table, Vec<Event>) {
    let mut t = helpers::table(&[2000, 1500, 3000, 800]);
    let mut log: Vec<Event> = Vec::new();
    let mut rng = SplitMix64::new(99);
    for hand in 0..hands {
        for seat in 0..4 {
            if t.stack(seat) == Some(0) {
                log.extend(t.apply(Command::AddChips { seat, amount: 1000 }).unwrap());
            }
        }
        log.extend(t.apply(Command::StartHand { seed: hand as u64 }).unwrap());
        play_out(&mut t, &mut rng, &mut log).unwrap();
    }
    (t, log)
}

#[test]
fn replay_rebuilds_the_table_mid_hand() {
    let mut t = helpers::table(&[2000, 1500, 3000]);
    let mut log = Vec::new();
    // Log of the seating, plus a hand interrupted after two actions.
    for seat in 0..3 {
        log.push(Event::SeatTaken {
            seat,
            player: format!("p{seat}"),
            stack: [2000, 1500, 3000][seat],
        });
    }
    log.extend(t.apply(Command::StartHand { seed: 5 }).unwrap());
    log.extend(
        t.apply(Command::Act {
            seat: 0,
            action: game_core::Action::Call,
        })
        .unwrap(),
    );
    log.extend(t.apply(Command::Timeout { seat: 1 }).unwrap());
    let replayed = Table::replay(t.config().clone(), &log).unwrap();
    assert_eq!(replayed, t);
    assert_eq!(replayed.to_act(), Some(2), "the hand goes on where it stopped");
}

/// A follower (a cluster node's mirror) applies a log one command at a
/// time as it arrives: it ends where a full replay ends, a batch cut inside
/// a command leaves the table as it was, and a bad event is refused
/// without changing it.
#[test]
fn replay_step_follows_a_log_command_by_command() {
    let (t, log) = played_log(3);
    let mut with_seating: Vec<Event> = (0..4)
        .map(|seat| Event::SeatTaken {
            seat,
            player: format!("p{seat}"),
            stack: [2000, 1500, 3000, 800][seat],
        })
        .collect();
    with_seating.extend(log);
    let mut follower = Table::new(t.config().clone()).unwrap();
    let mut index = 0;
    let mut steps = 0;
    while index < with_seating.len() {
        let n = follower.replay_step(&with_seating[index..]).unwrap();
        assert!(n >= 1);
        index += n;
        steps += 1;
    }
    assert_eq!(follower, t, "stepping ends where the log's table ends");
    assert!(steps < with_seating.len(), "some commands produce several events");

    // Cut inside a command (the deal): Truncated, nothing applied.
    let mut follower = Table::new(t.config().clone()).unwrap();
    let deal = with_seating
        .iter()
        .position(|e| matches!(e, Event::HoleCardsDealt { .. }))
        .unwrap();
    // Step up to the command whose events include the deal.
    let mut index = 0;
    loop {
        let mut probe = follower.clone();
        let n = probe.replay_step(&with_seating[index..]).unwrap();
        if index + n > deal {
            break;
        }
        follower = probe;
        index += n;
    }
    let before = follower.clone();
    assert!(matches!(
        follower.replay_step(&with_seating[index..deal]),
        Err(ReplayError::Truncated { .. })
    ));
    assert_eq!(follower, before, "a truncated step changes nothing");
    // The same command once the rest has arrived.
    assert!(follower.replay_step(&with_seating[index..]).is_ok());
    // An event that starts no command: refused, nothing changed.
    let before = follower.clone();
    assert!(follower.replay_step(&with_seating[deal..]).is_err());
    assert_eq!(follower, before);
}

#[test]
fn replay_reports_corrupt_and_truncated_logs() {
    let (t, log) = played_log(3);
    let config = t.config().clone();
    let mut with_seating: Vec<Event> = (0..4)
        .map(|seat| Event::SeatTaken {
            seat,
            player: format!("p{seat}"),
            stack: [2000, 1500, 3000, 800][seat],
        })
        .collect();
    with_seating.extend(log);
    assert_eq!(Table::replay(config.clone(), &with_seating).unwrap(), t);

    // A log cut inside one command's events.
    let cut = with_seating
        .iter()
        .position(|e| matches!(e, Event::HoleCardsDealt { .. }))
        .unwrap();
    assert!(matches!(
        Table::replay(config.clone(), &with_seating[..cut]),
        Err(ReplayError::Truncated { .. })
    ));
    // A log whose recorded outcome was altered.
    let mut tampered = with_seating.clone();
    let i = tampered
        .iter()
        .position(|e| matches!(e, Event::HandEnded { .. }))
        .unwrap();
    if let Event::HandEnded { stacks, .. } = &mut tampered[i] {
        stacks[0].stack += 1;
    }
    assert!(matches!(
        Table::replay(config.clone(), &tampered),
        Err(ReplayError::Diverged { .. })
    ));
    // A log that starts in the middle.
    assert!(matches!(
        Table::replay(config, &with_seating[cut..]),
        Err(ReplayError::UnexpectedEvent { index: 0, .. })
    ));
}

#[test]
fn exported_hands_replay_to_the_same_stacks() {
    let (t, log) = played_log(40);
    let starts: Vec<usize> = log
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e, Event::HandStarted { .. }))
        .map(|(i, _)| i)
        .collect();
    let names = vec![Some("Ann".to_string()), Some("Bo \"B\"".to_string()), None, None];
    for (k, &start) in starts.iter().enumerate() {
        let end = starts.get(k + 1).copied().unwrap_or(log.len());
        let text = to_phh(t.config(), &log[start..end], &names).unwrap();
        let hand = from_phh(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(
            Some(hand.finishing_stacks.clone()),
            hand.recorded_finishing_stacks,
            "{text}"
        );
        assert!(!text.contains("seed"), "the seed is never exported");
    }
}

#[test]
fn illegal_phh_actions_are_rejected_with_the_reason() {
    let text = "variant = 'NT'\nantes = [0, 0, 0]\nblinds_or_straddles = [1, 2, 0]\nmin_bet = 2\n\
                starting_stacks = [200, 200, 200]\n\
                actions = ['d dh p1 AsKs', 'd dh p2 2c2d', 'd dh p3 7h8h', 'p3 cbr 3', 'p1 f']\n";
    match from_phh(text) {
        Err(PhhError::Illegal {
            index: 3,
            error: RuleError::RaiseTooSmall { min: 4 },
            ..
        }) => {}
        other => panic!("expected a refused min-raise, got {other:?}"),
    }
    let duplicate = text.replace("2c2d", "AsKs");
    assert!(matches!(from_phh(&duplicate), Err(PhhError::Mismatch { .. })));
    assert!(matches!(from_phh("variant = 'FT'"), Err(PhhError::Invalid(_))));
    assert!(matches!(from_phh("not toml ["), Err(PhhError::Invalid(_))));
    let unfinished = text.replace(", 'p3 cbr 3', 'p1 f'", "");
    assert!(matches!(from_phh(&unfinished), Err(PhhError::Incomplete(_))));
}

#[test]
fn phh_replay_prints_one_json_line_per_file() {
    let dir = std::env::temp_dir().join(format!("phh-replay-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.phh");
    std::fs::write(
        &good,
        "variant = 'NT'\nantes = [0, 0]\nblinds_or_straddles = [1, 2]\nmin_bet = 2\n\
         starting_stacks = [100, 100]\nactions = ['d dh p1 AsKs', 'd dh p2 2c2d', 'p2 f']\n",
    )
    .unwrap();
    let bad = dir.join("bad.phh");
    std::fs::write(
        &bad,
        "variant = 'NT'\nantes = [0, 0]\nblinds_or_straddles = [1, 2]\nmin_bet = 2\n\
         starting_stacks = [100, 100]\nactions = ['d dh p1 AsKs', 'd dh p2 2c2d', 'p1 f']\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_phh-replay"))
        .arg(&good)
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success(), "a failed file fails the run");
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Heads-up: p1 is the big blind, p2 the button/small blind, who folds.
    assert_eq!(lines[0]["finishing_stacks"], serde_json::json!([101, 99]));
    let error = lines[1]["error"].as_str().unwrap();
    assert!(error.contains("p1 f"), "{error}");
    std::fs::remove_dir_all(dir).ok();
}
