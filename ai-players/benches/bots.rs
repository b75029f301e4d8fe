//! Heuristic bot speed: decisions per second on one thread, over views taken
//! from real hands (mixed 2-, 6- and 9-seat tables of all three bots, 100 big
//! blinds deep), with the tight-aggressive bot's preflop (charts, plus
//! equity for committing prices) and postflop (Monte Carlo equity)
//! decisions measured apart. A plain binary: `cargo bench -p ai-players
//! --bench bots` prints a table.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ai_players::bots::{BOT_NAMES, Bot, CallingStation, RandomBot, TightAggressive, bot};
use game_core::rules::Street;
use game_core::sim::SplitMix64;
use game_core::view::TableView;
use game_core::{Command, SeatIndex, Table, TableConfig, Viewer};

/// Hands played per table size to collect decision points.
const HANDS: u32 = 1500;

/// Each measurement repeats its decisions until at least this long.
const MEASURE: Duration = Duration::from_secs(2);

/// Every decision point of `hands` hands at a `seats`-seat table where each
/// seat plays one of the bots in turn.
fn decision_points(seats: usize, hands: u32, seed: u64) -> Vec<(SeatIndex, TableView)> {
    let bots: Vec<Arc<dyn Bot>> = (0..seats)
        .map(|s| bot(BOT_NAMES[s % BOT_NAMES.len()]).expect("known bot"))
        .collect();
    let mut table = Table::new(TableConfig::new(seats, 50, 100)).expect("valid config");
    let mut rng = SplitMix64::new(seed);
    let mut points = Vec::new();
    for _ in 0..hands {
        for seat in 0..seats {
            if table.seats()[seat].is_some() {
                table.apply(Command::Stand { seat }).expect("stand");
            }
            let player = format!("seat {seat}");
            table
                .apply(Command::Sit {
                    seat,
                    player,
                    stack: 10_000,
                })
                .expect("sit");
        }
        table
            .apply(Command::StartHand { seed: rng.next_u64() })
            .expect("start hand");
        while let Some(seat) = table.to_act() {
            let view = table.view(Viewer::Seat(seat));
            let action = bots[seat].act(seat, &view, &mut rng);
            points.push((seat, view));
            table
                .apply(Command::Act { seat, action })
                .expect("bots act legally");
        }
    }
    points
}

/// One measured row: decisions per second and per-decision times.
struct Row {
    label: String,
    decisions: usize,
    per_second: f64,
    median: Duration,
    p99: Duration,
    p999: Duration,
}

/// Times `bot` over `points`: throughput from whole passes (repeated for at
/// least [`MEASURE`]), latency percentiles from one pass timed per decision.
fn measure(label: &str, bot: &dyn Bot, points: &[&(SeatIndex, TableView)]) -> Row {
    let mut rng = SplitMix64::new(7);
    // Warm up, and time each decision once.
    let mut times: Vec<Duration> = points
        .iter()
        .map(|(seat, view)| {
            let start = Instant::now();
            black_box(bot.act(*seat, black_box(view), &mut rng));
            start.elapsed()
        })
        .collect();
    times.sort_unstable();
    let mut decided = 0usize;
    let start = Instant::now();
    while start.elapsed() < MEASURE {
        for (seat, view) in points {
            black_box(bot.act(*seat, black_box(view), &mut rng));
        }
        decided += points.len();
    }
    let elapsed = start.elapsed();
    let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
    Row {
        label: label.to_string(),
        decisions: points.len(),
        per_second: decided as f64 / elapsed.as_secs_f64(),
        median: at(0.5),
        p99: at(0.99),
        p999: at(0.999),
    }
}

fn micros(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e6)
}

fn main() {
    let mut points = Vec::new();
    for (seats, seed) in [(2, 1), (6, 2), (9, 3)] {
        points.extend(decision_points(seats, HANDS, seed));
    }
    let all: Vec<&(SeatIndex, TableView)> = points.iter().collect();
    let (preflop, postflop): (Vec<_>, Vec<_>) = all
        .iter()
        .copied()
        .partition(|(_, view)| view.street == Some(Street::Preflop));
    let live_opponents: usize = postflop
        .iter()
        .map(|(seat, view)| {
            let live = view.seats.iter().flatten().filter(|s| s.in_hand && !s.folded);
            live.filter(|s| s.seat != *seat).count()
        })
        .sum();
    println!(
        "{} decision points from {} hands at 2, 6 and 9 seats: {} preflop, {} postflop \
         (against {:.2} live opponents on average)",
        all.len(),
        3 * HANDS,
        preflop.len(),
        postflop.len(),
        live_opponents as f64 / postflop.len().max(1) as f64
    );

    let tight = TightAggressive::default();
    let rows = [
        measure(RandomBot::NAME, &RandomBot, &all),
        measure(CallingStation::NAME, &CallingStation, &all),
        measure("tight-aggressive (all)", &tight, &all),
        measure("tight-aggressive preflop", &tight, &preflop),
        measure("tight-aggressive postflop", &tight, &postflop),
    ];
    println!();
    println!("| bot | decisions | decisions / s | median µs | p99 µs | p99.9 µs |");
    println!("|---|---:|---:|---:|---:|---:|");
    for row in rows {
        println!(
            "| {} | {} | {:.0} | {} | {} | {} |",
            row.label,
            row.decisions,
            row.per_second,
            micros(row.median),
            micros(row.p99),
            micros(row.p999)
        );
    }
}
