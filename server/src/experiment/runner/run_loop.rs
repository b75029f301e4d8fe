//! The run loop ([`run`]): one task per table plays its deals in batches,
//! and the writer puts their hands back in deal order, adds them up, hands
//! them to the sink, enforces budgets, checkpoints and reports progress.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use super::checkpoint::{Checkpoint, Progress};
use super::dealer::{Dealer, HandRow, seatings};
use super::sink::{CostMeter, DEGRADED_AFTER, HandSink, StopReason, over_fallback_limit};
use super::table::{SeatAgent, TableRun};
use crate::experiment::ExperimentError;
use crate::experiment::spec::{ExperimentSpec, Stacks};
use crate::experiment::stats::AgentTallies;

/// Most rows a bot-only table hands to the writer at once: each batch wakes
/// the writer, which on a machine whose cores all run tables takes a core
/// from a table (and its caches) until it has written the batch, so larger
/// batches mean fewer such switches (2,048 rows, about 900 KB, took 5-10%
/// less CPU time than 512 with two tables on two cores; 128, 10% more).
const ROW_BATCH_MAX: usize = 2048;

/// Fewest rows a bot-only table hands over at once, and the batch of rows
/// that carry their events (PHH): about 12 KB each rather than 500 bytes.
const ROW_BATCH_MIN: usize = 32;

/// Rows all bot-only tables' batches hold together when PHH is not written
/// (about 3.5 MB): each table's batch is its share (between the two bounds
/// above), so that memory does not grow with the number of tables.
const BATCHED_ROWS: usize = 8_192;

/// Progress is reported every 250 ms, and at least every this many hands.
const PROGRESS_EVERY_HANDS: u64 = 1_000;

/// How far tables may run ahead of the writer, in deals per table (bounds
/// memory), at least: with larger batches, twice a batch, so that a table
/// can fill its next batch while the writer writes the last one.
const WINDOW_PER_TABLE: u64 = 64;

/// What a run plays with.
pub struct Plan {
    /// The spec.
    pub spec: Arc<ExperimentSpec>,
    /// Agents by agent index (spec order).
    pub agents: Arc<Vec<SeatAgent>>,
    /// LLM calls are booked to this id.
    pub experiment_id: String,
    /// LLM spending of this session, for budgets and progress.
    pub cost: Arc<dyn CostMeter>,
}

/// Plays the run from `checkpoint` until done, stopped, or over budget.
pub async fn run<S: HandSink>(
    plan: Plan,
    mut checkpoint: Checkpoint,
    sink: &mut S,
    mut stop: watch::Receiver<bool>,
    mut progress: impl FnMut(&Progress),
) -> Result<(StopReason, Checkpoint), ExperimentError> {
    let Plan {
        spec,
        agents,
        experiment_id,
        cost,
    } = plan;
    let experiment_id = experiment_id.as_str();
    let deals = spec.deals();
    let tables = spec
        .tables
        .min(usize::try_from(deals).unwrap_or(usize::MAX))
        .max(1);
    let lane = spec.lane;
    let n = spec.seats.len();
    if checkpoint.table_stacks.len() < tables {
        checkpoint
            .table_stacks
            .resize(tables, vec![spec.starting_stack; n]);
    }
    let started = Instant::now();
    let done_at_start = checkpoint.hands_done;
    // Bot-only tables hand over rows in batches (one wake-up per batch, not
    // per hand); tables with LLM seats hand over every hand at once.
    let batch_size = if !spec.bots_only() {
        1
    } else if spec.write_phh {
        ROW_BATCH_MIN
    } else {
        (BATCHED_ROWS / tables).clamp(ROW_BATCH_MIN, ROW_BATCH_MAX)
    };
    let window = WINDOW_PER_TABLE.max(2 * batch_size as u64) * tables as u64;
    let (written_tx, written_rx) = watch::channel(checkpoint.next_deal);
    let (halt_tx, halt_rx) = watch::channel(false);
    let (rows_tx, mut rows_rx) = mpsc::channel::<Result<Vec<HandRow>, ExperimentError>>(64);
    let mut workers = Vec::new();
    let seating_list = seatings(&spec);
    // Written batches go back to their table, emptied, to be filled again:
    // a new batch for every one handed over was a fresh allocation (pages
    // the kernel had to zero) on one thread freed on another.
    let mut empties = Vec::with_capacity(tables);
    for t in 0..tables {
        let (empty_tx, mut empty_rx) = mpsc::unbounded_channel::<Vec<HandRow>>();
        empties.push(empty_tx);
        let mut run = TableRun {
            spec: spec.clone(),
            agents: agents.clone(),
            table: t,
            stacks: checkpoint.table_stacks[t].clone(),
            lane,
            experiment_id: experiment_id.to_owned(),
        };
        let rows = rows_tx.clone();
        let mut written = written_rx.clone();
        let mut halt = halt_rx.clone();
        let seating_list = seating_list.clone();
        let first = checkpoint.next_deal
            + ((t as u64 + tables as u64 - checkpoint.next_deal % tables as u64) % tables as u64);
        workers.push(tokio::spawn(async move {
            let mut dealer = match Dealer::with_seatings(&run.spec, seating_list.clone()) {
                Ok(dealer) => dealer,
                Err(e) => {
                    let _ = rows.send(Err(e)).await;
                    return;
                }
            };
            let mut deal = first;
            let mut batch = Vec::with_capacity(batch_size);
            let mut next_batch = || {
                empty_rx
                    .try_recv()
                    .unwrap_or_else(|_| Vec::with_capacity(batch_size))
            };
            // The writer's position as last read: reading the channel takes
            // its lock, a cache line shared with the writer and the other
            // tables, so it is read again only when this table is about to
            // outrun it, and a halt is looked for once a batch.
            let mut written_seen = *written.borrow();
            'deals: while deal < deals {
                if batch.is_empty() && *halt.borrow() {
                    break;
                }
                if deal >= written_seen + window {
                    written_seen = *written.borrow();
                }
                // Bounded reorder buffer: wait while this deal is too far ahead
                // of the writer (handing over what is batched first, which the
                // writer may be waiting for).
                if deal >= written_seen + window
                    && !batch.is_empty()
                    && rows
                        .send(Ok(std::mem::replace(&mut batch, next_batch())))
                        .await
                        .is_err()
                {
                    return;
                }
                // A halt ends the wait too: once another table has stopped,
                // the writer may never reach this deal.
                while deal >= written_seen + window {
                    tokio::select! {
                        changed = written.changed() => {
                            if changed.is_err() {
                                return;
                            }
                            written_seen = *written.borrow();
                        }
                        halted = halt.changed() => {
                            if halted.is_err() || *halt.borrow() {
                                break 'deals;
                            }
                        }
                    }
                }
                for rotation in 0..run.spec.hands_per_deal() {
                    if let Err(e) = run.play_into(&mut dealer, deal, rotation, &mut batch).await {
                        let _ = rows.send(Err(e)).await;
                        return;
                    }
                }
                deal += tables as u64;
                if batch.len() >= batch_size {
                    if rows
                        .send(Ok(std::mem::replace(&mut batch, next_batch())))
                        .await
                        .is_err()
                    {
                        return;
                    }
                    // Bot-only tables never await: let other tasks (other tables) run.
                    tokio::task::yield_now().await;
                }
            }
            if !batch.is_empty() {
                let _ = rows.send(Ok(batch)).await;
            }
        }));
    }
    drop(rows_tx);

    let hands_per_deal = spec.hands_per_deal();
    let per_deal = usize::try_from(hands_per_deal).unwrap_or(usize::MAX);
    // Rows waiting for the deals before theirs, in the batches they came in:
    // table `t` plays the deals `t + k * tables` in order and hands them over
    // in batches of whole deals, so deal `d` is the next row of table
    // `d % tables`' oldest batch. Rows are read where they are rather than
    // moved into one reorder buffer (a row is about 500 bytes). Tables run
    // at most `window` deals ahead of the writer, which bounds the batches.
    let mut waiting: Vec<VecDeque<Vec<HandRow>>> = (0..tables).map(|_| VecDeque::new()).collect();
    // How many rows of each table's oldest batch are written.
    let mut written_rows = vec![0usize; tables];
    // Hands are added up by agent index (see `Seatings`) and moved into
    // `checkpoint.stats` before it is saved or returned.
    let names = spec.agent_names();
    let mut tallies = AgentTallies::new(names.clone(), checkpoint.stats.tracks_deals());
    // Every agent's place in the curve, registered in spec order: the order
    // in which the first hand (deal 0, no shift) would have shown them.
    let curve_slots: Vec<usize> = names
        .iter()
        .map(|name| checkpoint.curve.agent_index(name))
        .collect();
    let mut reason = StopReason::Done;
    let mut last_checkpoint = Instant::now();
    let mut last_progress = Instant::now();
    let mut reported_hands = checkpoint.hands_done;
    let big_blind = spec.big_blind;
    let report = |checkpoint: &Checkpoint, progress: &mut dyn FnMut(&Progress)| {
        let session = started.elapsed().as_secs_f64().max(1e-9);
        let rate = (checkpoint.hands_done - done_at_start) as f64 / session;
        let total = deals * hands_per_deal;
        let (cost_usd, tokens) = cost.spent();
        let (cost_usd, tokens) = (checkpoint.cost_usd + cost_usd, checkpoint.tokens + tokens);
        progress(&Progress {
            hands_done: checkpoint.hands_done,
            hands_total: total,
            hands_per_sec: rate,
            eta_secs: (rate > 0.0).then(|| total.saturating_sub(checkpoint.hands_done) as f64 / rate),
            cost_usd,
            tokens,
        });
    };
    loop {
        let row = tokio::select! {
            row = rows_rx.recv() => row,
            _ = stop.changed() => {
                if *stop.borrow() {
                    reason = StopReason::Stopped;
                    let _ = halt_tx.send(true);
                }
                continue;
            }
        };
        let Some(rows) = row else { break };
        let rows = rows?;
        let Some(first) = rows.first() else { continue };
        if first.deal < checkpoint.next_deal || first.table >= tables {
            return Err(ExperimentError::Inconsistent(format!(
                "deal {} came back after it was written",
                first.deal
            )));
        }
        waiting[first.table].push_back(rows);
        // Write every complete deal at the front, in order.
        let mut wrote = false;
        loop {
            let next = checkpoint.next_deal;
            let t = usize::try_from(next % tables as u64).unwrap_or(0);
            let Some(batch) = waiting[t].front() else { break };
            let Some(deal_rows) = batch.get(written_rows[t]..written_rows[t] + per_deal) else {
                return Err(ExperimentError::Inconsistent(format!(
                    "table {t} handed over part of a deal"
                )));
            };
            for (r, row) in deal_rows.iter().enumerate() {
                if row.deal != next || row.rotation != r as u64 {
                    return Err(ExperimentError::Inconsistent(format!(
                        "table {t} handed over deal {} out of order",
                        row.deal
                    )));
                }
                let index = next * hands_per_deal + r as u64;
                let (Some(agents), true) = (seating_list.get(row.seating), row.seating < n) else {
                    return Err(ExperimentError::Inconsistent(format!(
                        "table {t} handed over hand {index} with no seating"
                    )));
                };
                // `(seat + seating) % n` without a division (both below `n`).
                let agent_of = |seat: usize| {
                    let agent = seat + row.seating;
                    if agent >= n { agent - n } else { agent }
                };
                for hand in &row.summary.seats {
                    if hand.seat >= n {
                        return Err(ExperimentError::Inconsistent(format!(
                            "hand {index} has a seat {} at a table of {n}",
                            hand.seat
                        )));
                    }
                    tallies.record(agent_of(hand.seat), big_blind, row.deal, hand);
                }
                checkpoint.curve.record_indexed(
                    row.summary
                        .seats
                        .iter()
                        .map(|hand| (curve_slots[agent_of(hand.seat)], hand.net)),
                );
                if spec.stacks == Stacks::Carry {
                    let stacks = &mut checkpoint.table_stacks[row.table];
                    stacks.clear();
                    stacks.extend_from_slice(&row.stacks_after);
                }
                for d in &row.decisions {
                    checkpoint.llm.entry(d.agent.clone()).or_default().record(d);
                }
                if !row.decisions.is_empty()
                    && reason == StopReason::Done
                    && !over_fallback_limit(&checkpoint.llm, spec.max_fallback_rate, DEGRADED_AFTER)
                        .is_empty()
                {
                    reason = StopReason::Degraded;
                    let _ = halt_tx.send(true);
                }
                sink.hand(index, row, agents)?;
                checkpoint.hands_done += 1;
            }
            written_rows[t] += per_deal;
            if written_rows[t] == batch.len() {
                if let Some(mut done) = waiting[t].pop_front() {
                    done.clear();
                    // A table that has finished no longer takes them.
                    let _ = empties[t].send(done);
                }
                written_rows[t] = 0;
            }
            checkpoint.next_deal += 1;
            wrote = true;
        }
        if wrote {
            let _ = written_tx.send(checkpoint.next_deal);
        }
        if reason == StopReason::Done {
            let (cost_usd, tokens) = cost.spent();
            let (cost_usd, tokens) = (checkpoint.cost_usd + cost_usd, checkpoint.tokens + tokens);
            let over_cost = spec.budget.max_cost_usd.is_some_and(|max| cost_usd >= max);
            let over_tokens = spec.budget.max_tokens.is_some_and(|max| tokens >= max);
            let over_time = spec
                .budget
                .max_wall_secs
                .is_some_and(|max| checkpoint.elapsed_ms / 1000 + started.elapsed().as_secs() >= max);
            if over_cost || over_tokens || over_time {
                reason = StopReason::Budget;
                let _ = halt_tx.send(true);
            }
        }
        if last_checkpoint.elapsed() >= Duration::from_millis(500) {
            tallies.move_into(&mut checkpoint.stats);
            // Saved with this session's time and costs added, which are put
            // back afterwards (rather than saving a clone: its curve alone
            // is a thousand small vectors).
            let kept = (checkpoint.elapsed_ms, checkpoint.cost_usd, checkpoint.tokens);
            checkpoint.elapsed_ms += u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            let (cost_usd, tokens) = cost.spent();
            checkpoint.cost_usd += cost_usd;
            checkpoint.tokens += tokens;
            let saved = sink.checkpoint(&checkpoint).await;
            (checkpoint.elapsed_ms, checkpoint.cost_usd, checkpoint.tokens) = kept;
            saved?;
            last_checkpoint = Instant::now();
        }
        if last_progress.elapsed() >= Duration::from_millis(250)
            || checkpoint.hands_done >= reported_hands + PROGRESS_EVERY_HANDS
        {
            reported_hands = checkpoint.hands_done;
            report(&checkpoint, &mut progress);
            last_progress = Instant::now();
        }
    }
    for worker in workers {
        let _ = worker.await;
    }
    checkpoint.elapsed_ms += u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    // This session's LLM cost is added by the caller once the last usage
    // records are in (they trail the decisions).
    // Hands played beyond the last complete deal are dropped: a resume plays them again.
    tallies.move_into(&mut checkpoint.stats);
    sink.checkpoint(&checkpoint).await?;
    report(&checkpoint, &mut progress);
    if reason == StopReason::Done
        && !over_fallback_limit(&checkpoint.llm, spec.max_fallback_rate, 1).is_empty()
    {
        reason = StopReason::Degraded;
    }
    if reason == StopReason::Done && checkpoint.next_deal < deals {
        reason = StopReason::Stopped;
    }
    Ok((reason, checkpoint))
}
