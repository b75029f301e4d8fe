//! Hand histories: the summary and PHH of a finished hand, built from the
//! hand's events. A live table builds one when a hand ends and commits it in
//! the same transaction as the hand's last events; [`repair`] rebuilds any
//! that a store written before that rule lacks, from the event log.

use std::collections::BTreeMap;

use game_core::{Event, TableConfig};
use schema::{AnyRepo, HandRecord, Repository, StoreError};
use tracing::{info, warn};

pub use crate::protocol::HandReason;

/// Where a finished hand lies in its table's log, and when it ended.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HandSpan {
    /// The seq of its `hand_started`.
    pub first_seq: u64,
    /// The seq of its `hand_ended`.
    pub last_seq: u64,
    /// When it ended, ms since the Unix epoch.
    pub ended_at_ms: u64,
}

/// The history of one finished hand.
///
/// `log` holds the hand's events from its `deck_shuffled` (or
/// `deck_stacked`) to its `hand_ended`; `names` the player at each seat
/// (by seat index) during the hand; `span` where it lies in the log.
/// `None` if `log` holds no finished hand.
pub(crate) fn hand_record(
    table_id: &str,
    config: &TableConfig,
    log: &[Event],
    names: &[Option<String>],
    span: HandSpan,
    reasons: &[HandReason],
) -> Option<HandRecord> {
    let HandSpan {
        first_seq,
        last_seq,
        ended_at_ms,
    } = span;
    let Some(Event::HandEnded { hand, stacks }) =
        log.iter().rev().find(|e| matches!(e, Event::HandEnded { .. }))
    else {
        return None;
    };
    let seed = log
        .iter()
        .find_map(|e| match e {
            Event::DeckShuffled { seed, .. } => Some(*seed),
            _ => None,
        })
        .unwrap_or(0);
    // Each reason goes after its action in the PHH, as the action's commentary.
    let mut action_seqs = Vec::new();
    let from_start = log.iter().skip_while(|e| !matches!(e, Event::HandStarted { .. }));
    for (seq, event) in (first_seq..).zip(from_start) {
        if matches!(event, Event::ActionTaken { .. }) {
            action_seqs.push(seq);
        }
    }
    let comments: Vec<(usize, String)> = reasons
        .iter()
        .filter_map(|r| {
            let n = action_seqs.iter().position(|&s| s == r.seq)?;
            Some((n, format!("seat {}: {}", r.seat, r.reason)))
        })
        .collect();
    let comments: Vec<(usize, &str)> = comments.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let phh = game_core::phh::to_phh_with_comments(config, log, names, &comments).unwrap_or_else(|e| {
        warn!(table = %table_id, hand, "cannot export PHH: {e}");
        String::new()
    });
    let pots: Vec<&Event> = log
        .iter()
        .filter(|e| matches!(e, Event::PotAwarded { .. }))
        .collect();
    let winners: Vec<(usize, u64)> = log
        .iter()
        .filter_map(|e| match e {
            Event::PotAwarded { winners, .. } => Some(winners.iter().map(|w| (w.seat, w.amount))),
            _ => None,
        })
        .flatten()
        .collect();
    Some(HandRecord {
        table_id: table_id.to_owned(),
        hand: *hand,
        seed,
        players: serde_json::to_string(&stacks).unwrap_or_default(),
        pots: serde_json::to_string(&pots).unwrap_or_default(),
        winners: serde_json::to_string(&winners).unwrap_or_default(),
        phh,
        first_seq,
        last_seq,
        ended_at_ms,
        reasons: serde_json::to_string(reasons).unwrap_or_else(|_| "[]".to_owned()),
    })
}

/// What the start-up consistency check found and did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RepairReport {
    /// Finished hands in the log without a history.
    pub missing: u64,
    /// Histories rebuilt from the log and stored.
    pub rebuilt: u64,
}

/// Hands looked up per query by the consistency check.
const REPAIR_PAGE: u64 = 1_000;
/// Events read per query while rebuilding.
const READ_PAGE: u64 = 5_000;

/// The start-up consistency check: finds every finished hand whose
/// `hand_ended` is stored but whose history is not, rebuilds each from the
/// table's event log and stores it. Logs what it found.
pub async fn repair(repo: &AnyRepo) -> Result<RepairReport, StoreError> {
    let mut report = RepairReport::default();
    loop {
        let missing = repo.unrecorded_hands(REPAIR_PAGE).await?;
        if missing.is_empty() {
            break;
        }
        let mut by_table: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        for (table, hand) in missing {
            by_table.entry(table).or_default().push(hand);
        }
        let before = report.rebuilt;
        for (table, hands) in by_table {
            report.missing += hands.len() as u64;
            warn!(%table, ?hands, "finished hands without a history; rebuilding them from the event log");
            let records = rebuild(repo, &table, &hands).await?;
            report.rebuilt += records.len() as u64;
            repo.append_batch(&[], &records).await?;
        }
        if report.rebuilt == before {
            // Nothing could be rebuilt (a log that does not hold the hands
            // it names): stop rather than find the same hands again.
            break;
        }
    }
    if report.missing > 0 {
        info!(
            missing = report.missing,
            rebuilt = report.rebuilt,
            "hand history check: rebuilt missing histories from the event log"
        );
    }
    Ok(report)
}

/// Rebuilds the histories of `hands` of one table by reading its log once,
/// following who sits where.
async fn rebuild(repo: &AnyRepo, table_id: &str, hands: &[u64]) -> Result<Vec<HandRecord>, StoreError> {
    let config = repo.load_table(table_id).await?.config;
    let last = hands.iter().copied().max().unwrap_or(0);
    let mut names: Vec<Option<String>> = vec![None; config.seats];
    let mut log: Vec<Event> = Vec::new();
    let mut first_seq = 0;
    let mut records = Vec::new();
    let mut after = 0;
    'read: loop {
        let page = repo.events_since(table_id, after, READ_PAGE).await?;
        let n = page.len() as u64;
        for record in page {
            after = record.seq;
            let event = record.event()?;
            match &event {
                Event::SeatTaken { seat, player, .. } => {
                    if let Some(name) = names.get_mut(*seat) {
                        *name = Some(player.clone());
                    }
                }
                Event::SeatLeft { seat, .. } => {
                    if let Some(name) = names.get_mut(*seat) {
                        *name = None;
                    }
                }
                Event::DeckShuffled { .. } | Event::DeckStacked { .. } => log.clear(),
                Event::HandStarted { .. } => first_seq = record.seq,
                _ => {}
            }
            let ended = match &event {
                Event::HandEnded { hand, .. } => Some(*hand),
                _ => None,
            };
            log.push(event);
            if let Some(hand) = ended {
                if hands.contains(&hand)
                    && let Some(history) = hand_record(
                        table_id,
                        &config,
                        &log,
                        &names,
                        HandSpan {
                            first_seq,
                            last_seq: record.seq,
                            ended_at_ms: schema::now_ms(),
                        },
                        // Reasons are not in the event log: a rebuilt history has none.
                        &[],
                    )
                {
                    records.push(history);
                }
                log.clear();
                if hand >= last {
                    break 'read;
                }
            }
        }
        if n < READ_PAGE {
            break;
        }
    }
    Ok(records)
}
