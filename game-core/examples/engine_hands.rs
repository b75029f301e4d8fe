//! Plays N random 6-max hands on one thread and prints hands per second:
//! a quick check outside criterion (`cargo run --release --example engine_hands -- 1000000`).

use game_core::sim::{SplitMix64, play_out_with, seated_table, uniform_action};
use game_core::{Command, TableConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let hands: u64 = std::env::args().nth(1).map_or(Ok(1_000_000), |a| a.parse())?;
    let mut table = seated_table(TableConfig::new(6, 50, 100), 10_000)?;
    let mut rng = SplitMix64::new(1);
    let mut events = Vec::with_capacity(256);
    let mut total_events = 0;
    let start = std::time::Instant::now();
    for _ in 0..hands {
        for seat in 0..6 {
            if table.stack(seat) == Some(0) {
                table.apply_into(Command::AddChips { seat, amount: 10_000 }, &mut events)?;
            }
        }
        table.apply_into(Command::StartHand { seed: rng.next_u64() }, &mut events)?;
        play_out_with(&mut table, &mut rng, &mut events, uniform_action)?;
        total_events += events.len();
        events.clear();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{hands} hands, {total_events} events in {secs:.3} s: {:.0} hands/s",
        hands as f64 / secs
    );
    Ok(())
}
