//! Plays random hands with the engine and writes each as a PHH file, for the
//! differential check against pokerkit (`tests/pokerkit/differential.py`).
//!
//! Usage: `phh_random HANDS SEED OUT_DIR`. Tables have 2 to 9 players with
//! uneven stacks (many short, so all-ins are frequent), random blinds and
//! sometimes an ante.

use game_core::phh::to_phh;
use game_core::sim::{SplitMix64, play_out};
use game_core::{Command, Table, TableConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, hands, seed, out] = args.as_slice() else {
        return Err("usage: phh_random HANDS SEED OUT_DIR".into());
    };
    let hands: usize = hands.parse()?;
    let mut rng = SplitMix64::new(seed.parse()?);
    std::fs::create_dir_all(out)?;
    for i in 0..hands {
        let players = 2 + rng.below(8) as usize;
        let big_blind = [2, 10, 100][rng.below(3) as usize];
        let small_blind = if rng.below(4) == 0 {
            big_blind
        } else {
            big_blind / 2
        };
        let ante = if rng.below(3) == 0 { big_blind / 2 } else { 0 };
        let config = TableConfig {
            seats: players,
            small_blind,
            big_blind,
            ante,
        };
        let mut table = Table::new(config.clone())?;
        let mut events = Vec::new();
        let mut names = Vec::new();
        for seat in 0..players {
            // Stacks from a fraction of a big blind to 200 big blinds.
            let stack = match rng.below(4) {
                0 => 1 + rng.below(3 * big_blind),
                1 => big_blind * (1 + rng.below(20)) + rng.below(big_blind),
                _ => big_blind * (20 + rng.below(180)) + rng.below(big_blind),
            };
            table.apply_into(
                Command::Sit {
                    seat,
                    player: format!("player {seat}"),
                    stack,
                },
                &mut events,
            )?;
            names.push(Some(format!("player {seat}")));
        }
        // Move the button a random number of places with empty hands? No:
        // the first hand's button is seat 0; positions are what matter.
        table.apply_into(Command::StartHand { seed: rng.next_u64() }, &mut events)?;
        play_out(&mut table, &mut rng, &mut events)?;
        let phh = to_phh(&config, &events, &names)?;
        std::fs::write(format!("{out}/{i:06}.phh"), phh)?;
    }
    Ok(())
}
