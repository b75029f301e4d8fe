//! Whole-engine speed: complete hands per second on one thread, 6 seats,
//! random legal actions (`sim::uniform_action`: each available kind of action
//! equally likely, uniform bet sizes), events collected into a reused
//! buffer as a server would.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use game_core::sim::{SplitMix64, play_out_with, seated_table, uniform_action};
use game_core::{Command, Table, TableConfig};

const HANDS: u64 = 1000;

fn six_max() -> Table {
    seated_table(TableConfig::new(6, 50, 100), 10_000).expect("valid config")
}

fn hands(c: &mut Criterion) {
    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(HANDS));
    group.bench_function("6-max random hands", |b| {
        let mut table = six_max();
        let mut rng = SplitMix64::new(1);
        let mut events = Vec::with_capacity(256);
        b.iter(|| {
            for _ in 0..HANDS {
                for seat in 0..6 {
                    if table.stack(seat) == Some(0) {
                        events.clear();
                        table
                            .apply_into(Command::AddChips { seat, amount: 10_000 }, &mut events)
                            .expect("top up");
                    }
                }
                events.clear();
                table
                    .apply_into(Command::StartHand { seed: rng.next_u64() }, &mut events)
                    .expect("start");
                play_out_with(&mut table, &mut rng, &mut events, uniform_action).expect("legal play");
            }
            events.len()
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(5));
    targets = hands
}
criterion_main!(benches);
