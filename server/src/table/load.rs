//! Loading a table: its latest snapshot plus the events after it (the
//! whole log without one), and the money the log decides settled.

use std::collections::{HashMap, VecDeque};

use ai_players::SeatKind;
use game_core::{Event, Table, TableConfig, TableSnapshot};
use schema::Repository;
use tracing::{error, info, warn};

use super::agents::Agents;
use super::{Occupant, TableDeps, TableError, TableState};
use crate::auth::random_u64;

/// Events read per store query while loading a table.
const LOAD_PAGE: u64 = 5_000;

/// A table's state rebuilt from its log.
pub(crate) struct Loaded {
    pub state: TableState,
    pub hand_log: Vec<Event>,
    pub hand_first_seq: u64,
    /// Events replayed after the snapshot (all of them without one).
    pub replayed: u64,
}

/// An empty table for `config` (a table without a usable snapshot).
fn fresh_table(id: &str, config: &TableConfig) -> Result<Table, TableError> {
    Table::new(config.clone()).map_err(|e| {
        error!(table = %id, "unplayable table config: {e}");
        TableError::UnplayableConfig(e)
    })
}

/// Rebuilds a table's state from its latest snapshot and the events after
/// it (the whole log when it has no snapshot), and settles money the log
/// decides: pending buy-ins (confirmed if the seat was taken, else refunded)
/// and cash-outs of every `SeatLeft` since the snapshot (exactly once, keyed
/// by seq). A mirror (`settle` false: another node owns the table) only
/// reads: money is the owner's to settle.
pub(crate) async fn load_state(
    deps: &TableDeps,
    id: &str,
    config: TableConfig,
    time_bank_ms: u64,
    fence: Option<&schema::Fence>,
    settle: bool,
) -> Result<Loaded, TableError> {
    let repo = &deps.repo;
    // The latest snapshot, if any and usable: then only the events after it
    // are read and replayed.
    let (start, base) = match repo.latest_snapshot(id).await? {
        Some(record) => match serde_json::from_str::<TableSnapshot>(&record.state)
            .map_err(|e| e.to_string())
            .and_then(|s| Table::restore(config.clone(), s).map_err(|e| e.to_string()))
        {
            Ok(table) => (table, record.seq),
            Err(e) => {
                warn!(table = %id, "unusable snapshot at seq {} ({e}); replaying the whole log", record.seq);
                (fresh_table(id, &config)?, 0)
            }
        },
        None => (fresh_table(id, &config)?, 0),
    };
    // `events[i]` is the event at seq `base + 1 + i`.
    let mut events = Vec::new();
    let mut after = base;
    loop {
        let page = repo.events_since(id, after, LOAD_PAGE).await?;
        let n = page.len() as u64;
        for record in page {
            if record.seq != after + 1 {
                error!(table = %id, "event log has a gap at {}", after + 1);
                return Err(TableError::LogGap { at: after + 1 });
            }
            after = record.seq;
            events.push(record.event()?);
        }
        if n < LOAD_PAGE {
            break;
        }
    }
    let seq = after;
    // Who sat where when the snapshot was taken, for the cash-outs below.
    let mut owners: Vec<Option<String>> = start
        .seats()
        .iter()
        .map(|s| s.as_ref().map(|s| s.player.clone()))
        .collect();
    let engine = Table::replay_onto(start, &events).map_err(|e| {
        error!(table = %id, "event log does not replay: {e}");
        TableError::LogDoesNotReplay(Box::new(e))
    })?;

    // Money the log decides. A snapshot is only taken while the table has
    // no buy-in or cash-out left to settle (see `TableTask::snapshot`), so
    // what is still pending concerns seats taken or left after it.
    let pending = if settle {
        repo.pending_buy_ins(id).await?
    } else {
        Vec::new()
    };
    for buy_in in pending {
        let in_tail = events.iter().enumerate().any(|(i, e)| {
            base + (i as u64) + 1 > buy_in.after_seq
                && matches!(e, Event::SeatTaken { seat, player, .. }
                    if *seat as u64 == buy_in.seat && *player == buy_in.player_id)
        });
        let in_snapshot = buy_in.after_seq < base
            && usize::try_from(buy_in.seat)
                .ok()
                .and_then(|seat| owners.get(seat))
                .is_some_and(|o| o.as_deref() == Some(buy_in.player_id.as_str()));
        let seated = in_tail || in_snapshot;
        let result = if seated {
            repo.confirm_buy_in_fenced(buy_in.id, fence).await
        } else {
            info!(table = %id, player = %buy_in.player_id, "refunding a buy-in whose seat was never taken");
            repo.refund_buy_in_fenced(buy_in.id, fence).await
        };
        result?;
    }
    // The last turn's identity (a snapshot is taken between hands, so a
    // turn in progress always started in the tail).
    let mut last_turn_seq = 0;
    for (i, event) in events.iter().enumerate() {
        if matches!(event, Event::TurnStarted { .. }) {
            last_turn_seq = base + i as u64 + 1;
        }
        match event {
            Event::SeatTaken { seat, player, .. } => {
                if let Some(owner) = owners.get_mut(*seat) {
                    *owner = Some(player.clone());
                }
            }
            Event::SeatLeft { seat, stack } if settle => {
                if let Some(player) = owners
                    .get_mut(*seat)
                    .and_then(Option::take)
                    .filter(|p| crate::auth::is_player_id(p))
                {
                    repo.cash_out_fenced(id, base + i as u64 + 1, &player, *stack, schema::now_ms(), fence)
                        .await?;
                }
            }
            _ => {}
        }
    }

    // Who sits where, with names.
    let mut occupants: Vec<Option<Occupant>> = vec![None; config.seats];
    for (seat, s) in engine.seats().iter().enumerate() {
        let Some(s) = s else { continue };
        let (name, kind, bank) = if crate::auth::is_player_id(&s.player) {
            let name = match repo.load_player(&s.player).await {
                Ok(p) => p.display_name,
                Err(e) => {
                    warn!(table = %id, player = %s.player, "cannot load player name: {e}");
                    s.player.clone()
                }
            };
            (name, SeatKind::Human, time_bank_ms)
        } else {
            (
                deps.agents.display_name(&s.player, seat),
                Agents::kind(&s.player),
                0,
            )
        };
        occupants[seat] = Some(Occupant {
            id: s.player.as_str().into(),
            name,
            kind,
            connections: 0,
            disconnected_at: if kind == SeatKind::Human {
                Some(tokio::time::Instant::now())
            } else {
                None
            },
            bank_ms: bank,
            leaving: false,
        });
    }

    // The hand in progress, for its history at the end.
    let (hand_log, hand_first_seq) = if engine.hand_in_progress() {
        let start = events
            .iter()
            .rposition(|e| matches!(e, Event::HandStarted { .. }))
            .unwrap_or(0);
        let from = start.saturating_sub(1);
        (events[from..].to_vec(), base + start as u64 + 1)
    } else {
        (Vec::new(), 0)
    };

    let state = TableState {
        engine,
        seq,
        epoch: random_u64() >> 12,
        last_turn_seq,
        loaded_seq: seq,
        ring: VecDeque::new(),
        ring_from: seq + 1,
        occupants,
        chat: VecDeque::new(),
        clock: None,
        watchers: 0,
        spectators: 0,
        present: HashMap::new(),
        idle_since: Some(tokio::time::Instant::now()),
        remote_watch_until: None,
        closed: false,
    };
    Ok(Loaded {
        state,
        hand_log,
        hand_first_seq,
        replayed: seq - base,
    })
}
