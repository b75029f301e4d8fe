//! Plays an experiment: tables in parallel (tokio tasks, so bot-only runs
//! use every core and LLM seats wait without blocking), one hand a pure
//! function of (spec, deal, rotation) in `reset` mode, results written in
//! deal order so that the same spec gives the same files however the tables
//! interleave, and a checkpoint after every batch so a stopped run resumes
//! exactly where it was.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ai_players::Agent;
use ai_players::AgentSpec;
use ai_players::bots::{Bot, Spot, bot};
use ai_players::{CallContext, Lane, Turn};
use game_core::event::SeatList;
use game_core::sim::SplitMix64;
use game_core::{Command, Event, RuleError, Street, Table, Viewer};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};

use super::spec::{ExperimentSpec, Stacks, mix, mix_more};
use super::stats::{AgentTallies, HandSummary, HandTracker, StatsAccumulator};
use crate::protocol::{ErrorCode, Failure};
use crate::table::agents::Agents;

/// How a seat decides.
#[derive(Clone)]
pub enum SeatAgent {
    /// A heuristic bot, called directly with a per-hand generator (deterministic, no awaits).
    Bot(Arc<dyn Bot>),
    /// An LLM seat (or any async agent), through the executor.
    Async(Arc<dyn Agent>),
}

impl SeatAgent {
    /// The agent for a spec; LLM seats need `agents` to have an executor.
    pub fn build(spec: &str, agents: &Agents, seed: u64) -> Result<SeatAgent, Failure> {
        if let AgentSpec::Bot(name) = spec.parse::<AgentSpec>()? {
            return bot(&name)
                .map(SeatAgent::Bot)
                .ok_or_else(|| Failure::new(ErrorCode::UnknownAgent, format!("unknown bot {name:?}")));
        }
        agents.build(spec, seed).map(SeatAgent::Async)
    }
}

pub use super::llm_stats::DecisionRecord;

/// A finished hand, as the writer needs it. The table that played it has
/// already read its results from the events (`summary`), so that the writer,
/// one task for all tables, only adds them up and writes them.
pub struct HandRow {
    /// The deal.
    pub deal: u64,
    /// Which rotation of the deal (0 outside duplicate mode).
    pub rotation: u64,
    /// Table that played it.
    pub table: usize,
    /// Which seating (see [`seatings`]): the agents moved this many seats,
    /// agent `(seat + seating) % n` at `seat`. An index rather than the
    /// shared names: a reference count taken by the table's thread and
    /// dropped by the writer's was a cache line bouncing between cores
    /// twice a hand.
    pub seating: usize,
    /// Every dealt-in seat's net chips and tracker counters, in seat order
    /// (kept up by a [`HandTracker`] as the hand was played).
    pub summary: HandSummary,
    /// The hand's events (HandStarted to HandEnded, with the server-only
    /// seed) when the spec writes PHH or has LLM seats; empty otherwise, as
    /// nothing else reads them.
    pub events: Vec<Event>,
    /// Stacks after the hand, by agent index, in `carry` mode (for its
    /// checkpoints); empty otherwise, as nothing else reads them.
    pub stacks_after: Vec<u64>,
    /// LLM decisions in the hand.
    pub decisions: Vec<DecisionRecord>,
}

/// What a table keeps from one hand to the next, so that a bot-only hand
/// allocates next to nothing: an engine [`Table`] per seating, reset for
/// each hand (reset mode makes every hand independent) with its players
/// kept, so that only stacks change; the event buffer, the seats'
/// generators, and the agent names of every seating.
pub struct Dealer {
    /// By shift (see [`TableRun::play_on`]): a table with that seating, once used.
    tables: Vec<Option<Table>>,
    config: game_core::TableConfig,
    events: Vec<Event>,
    rngs: Vec<SplitMix64>,
    tracker: HandTracker,
    /// By shift (see [`TableRun::play_on`]): the agent name per seat.
    seatings: Seatings,
    /// Rows carry the events (PHH, or LLM seats).
    keep_events: bool,
    /// When every seat is a bot: this table's own instances, by agent index
    /// (nothing a decision reads is shared with another table's thread).
    bots: Option<Box<[Arc<dyn Bot>]>>,
}

/// The agent name per seat for every shift of the agents (`[shift][seat]`
/// is agent `(seat + shift) % n`), shared by all tables of a run: the
/// writer recognises a row's seating by pointer and so knows each seat's
/// agent index without comparing names.
pub type Seatings = Arc<[Arc<[String]>]>;

/// Every seating of `spec`'s agents, by [`HandRow::seating`].
pub fn seatings(spec: &ExperimentSpec) -> Seatings {
    let names = spec.agent_names();
    let n = names.len();
    (0..n)
        .map(|shift| (0..n).map(|seat| names[(seat + shift) % n].clone()).collect())
        .collect()
}

impl Dealer {
    /// A dealer for tables of `spec`.
    pub fn new(spec: &ExperimentSpec) -> Result<Dealer, Failure> {
        Dealer::with_seatings(spec, seatings(spec))
    }

    fn with_seatings(spec: &ExperimentSpec, seatings: Seatings) -> Result<Dealer, Failure> {
        let config = spec.table_config();
        config.validate().map_err(engine_error)?;
        Ok(Dealer {
            tables: vec![None; seatings.len()],
            config,
            events: Vec::with_capacity(128),
            rngs: Vec::with_capacity(spec.seats.len()),
            tracker: HandTracker::default(),
            seatings,
            keep_events: spec.write_phh || !spec.bots_only(),
            bots: spec
                .seats
                .iter()
                .map(|seat| seat.agent.parse::<AgentSpec>().ok()?.bot_name().and_then(bot))
                .collect::<Option<Box<[_]>>>(),
        })
    }
}

/// What one table plays with.
pub struct TableRun {
    /// Spec.
    pub spec: Arc<ExperimentSpec>,
    /// Agents by agent index (spec order).
    pub agents: Arc<Vec<SeatAgent>>,
    /// Table index.
    pub table: usize,
    /// Carried stacks by agent index (`carry` mode).
    pub stacks: Vec<u64>,
    /// Lane for LLM calls.
    pub lane: Lane,
    /// Booked to this experiment.
    pub experiment_id: String,
}

/// Whether anything was refused: the engine refusing a bot's own choice is a bug, reported.
fn engine_error(e: RuleError) -> Failure {
    Failure::new(ErrorCode::Internal, format!("the engine refused a move: {e}"))
}

/// The hand a [`Dealer`] is playing: set up by [`Dealer::begin`], told
/// every decision by [`Dealer::apply`], turned into a row by [`Dealer::end`].
struct HandInPlay {
    deal: u64,
    rotation: u64,
    /// Which seating (and engine table) plays it.
    shift: usize,
    /// Index of the hand in the run.
    index: u64,
    /// Where the events of the last command start: the one that ends the
    /// hand is read for its pots and final stacks.
    last: usize,
}

impl HandInPlay {
    /// The agent index at `seat`: `(seat + shift) % n` without a division
    /// (`shift < n`).
    #[inline]
    fn agent_at(&self, seat: usize, n: usize) -> usize {
        let agent = seat + self.shift;
        if agent >= n { agent - n } else { agent }
    }

    fn stats_error(&self, e: impl std::fmt::Display) -> Failure {
        Failure::new(
            ErrorCode::Internal,
            format!("statistics of hand {}: {e}", self.index),
        )
    }
}

impl Dealer {
    /// Deals hand `(deal, rotation)` of `spec` on the table of its seating,
    /// `carried` being the stacks by agent index in `carry` mode.
    fn begin(
        &mut self,
        spec: &ExperimentSpec,
        carried: &[u64],
        deal: u64,
        rotation: u64,
    ) -> Result<HandInPlay, Failure> {
        let n = spec.seats.len();
        // Agents move one seat per rotation (duplicate) or per deal (otherwise),
        // so every agent plays every position.
        let shift = if spec.duplicate { rotation } else { deal % n as u64 } as usize;
        let hand = HandInPlay {
            deal,
            rotation,
            shift,
            index: deal * spec.hands_per_deal() + rotation,
            last: 0,
        };
        let mut stacks = SeatList::<u64>::new();
        for seat in 0..n {
            stacks.push(match spec.stacks {
                Stacks::Reset => spec.starting_stack,
                Stacks::Carry => match carried.get(hand.agent_at(seat, n)) {
                    Some(0) | None => spec.starting_stack,
                    Some(&s) => s,
                },
            });
        }
        // A table reset to a new one's state puts the button in the same seat
        // every hand: in duplicate mode each rotation sees the same cards at
        // the same seats.
        let table = match &mut self.tables[shift] {
            Some(table) => {
                table.reset_stacks(&stacks).map_err(engine_error)?;
                table
            }
            slot @ None => {
                let mut table = Table::new(self.config.clone()).map_err(engine_error)?;
                let players: Vec<(&str, u64)> = self.seatings[shift]
                    .iter()
                    .map(String::as_str)
                    .zip(stacks.iter().copied())
                    .collect();
                table.reset_seated(&players).map_err(engine_error)?;
                slot.insert(table)
            }
        };
        let seed = mix(&[spec.seed, deal]);
        self.events.clear();
        table
            .apply_into(Command::StartHand { seed }, &mut self.events)
            .map_err(engine_error)?;
        self.tracker
            .start(&self.events)
            .map_err(|e| hand.stats_error(e))?;
        // Each seat's generator is seeded with mix(seed, deal, rotation,
        // agent, 0xB07): the shared prefix is mixed once per hand.
        let rotation_mixed = mix_more(seed, &[rotation]);
        self.rngs.clear();
        self.rngs.extend(
            (0..n).map(|seat| {
                SplitMix64::new(mix_more(rotation_mixed, &[hand.agent_at(seat, n) as u64, 0xB07]))
            }),
        );
        Ok(hand)
    }

    /// The row of the finished `hand`, appended to `rows`; in `carry` mode
    /// the stacks after it replace `carried`.
    fn end(
        &mut self,
        spec: &ExperimentSpec,
        hand: &HandInPlay,
        table_index: usize,
        carried: &mut Vec<u64>,
        decisions: Vec<DecisionRecord>,
        rows: &mut Vec<HandRow>,
    ) -> Result<(), Failure> {
        let n = spec.seats.len();
        let mut stacks_after = Vec::new();
        if spec.stacks == Stacks::Carry {
            stacks_after = vec![0; n];
            for (seat, s) in table_of(&mut self.tables, hand)?.seats().iter().enumerate() {
                stacks_after[hand.agent_at(seat, n)] = s.as_ref().map_or(0, |s| s.stack);
            }
            carried.clear();
            carried.extend_from_slice(&stacks_after);
        }
        let events = if self.keep_events {
            let capacity = self.events.capacity();
            std::mem::replace(&mut self.events, Vec::with_capacity(capacity))
        } else {
            Vec::new()
        };
        let ended = if self.keep_events {
            &events[hand.last..]
        } else {
            &self.events[hand.last..]
        };
        // The summary is written where the row is (a push of the finished
        // row copied it twice).
        rows.push(HandRow {
            deal: hand.deal,
            rotation: hand.rotation,
            table: table_index,
            seating: hand.shift,
            summary: HandSummary::default(),
            events: Vec::new(),
            stacks_after,
            decisions,
        });
        let Some(row) = rows.last_mut() else {
            return Err(Failure::new(ErrorCode::Internal, "a hand gave no row"));
        };
        if let Err(e) = self.tracker.finish_into(ended, &mut row.summary) {
            rows.pop();
            return Err(hand.stats_error(e));
        }
        debug_assert_eq!(
            Ok(row.summary),
            HandSummary::from_events(if self.keep_events { &events } else { &self.events })
        );
        row.events = events;
        Ok(())
    }
}

/// The table `hand` is played on (of a dealer's `tables`).
fn table_of<'a>(tables: &'a mut [Option<Table>], hand: &HandInPlay) -> Result<&'a mut Table, Failure> {
    tables
        .get_mut(hand.shift)
        .and_then(Option::as_mut)
        .ok_or_else(|| Failure::new(ErrorCode::Internal, "a hand without a table"))
}

/// What `bot` plays at `seat`, from the cheapest reading of the table it
/// can decide from.
#[inline]
fn bot_action(
    table: &Table,
    rngs: &mut [SplitMix64],
    bot: &dyn Bot,
    seat: usize,
) -> Result<game_core::Action, Failure> {
    let to_call = table.amount_to_call(seat).unwrap_or(0);
    if let Some(action) = bot.act_on_amount_to_call(to_call) {
        return Ok(action);
    }
    let rng = rngs
        .get_mut(seat)
        .ok_or_else(|| Failure::new(ErrorCode::Internal, format!("no generator for seat {seat}")))?;
    let spot = Spot {
        legal: table.legal_actions(seat),
        pot: table.pot_total(),
        current_bet: table.current_bet(),
    };
    Ok(match bot.act_on_spot(&spot, rng) {
        Some(action) => action,
        None => bot.act(seat, &table.view(Viewer::Seat(seat)), rng),
    })
}

/// Plays `action` at `seat` of `hand`, telling `tracker`: agents answer
/// legal actions; if one did not, the clock's rule decides.
#[inline]
fn apply_action(
    table: &mut Table,
    events: &mut Vec<Event>,
    tracker: &mut HandTracker,
    hand: &mut HandInPlay,
    seat: usize,
    action: game_core::Action,
) -> Result<(), Failure> {
    let street = table.street().unwrap_or(Street::Preflop);
    hand.last = events.len();
    if table.apply_into(Command::Act { seat, action }, events).is_err() {
        table
            .apply_into(Command::Timeout { seat }, events)
            .map_err(engine_error)?;
    }
    if let Some(event) = events.get(hand.last) {
        tracker.decision(street, event).map_err(|e| hand.stats_error(e))?;
    }
    Ok(())
}

impl TableRun {
    /// Plays one hand of `deal` with the agents rotated by `rotation` seats.
    pub async fn play(&mut self, deal: u64, rotation: u64) -> Result<HandRow, Failure> {
        let mut dealer = Dealer::new(&self.spec)?;
        self.play_on(&mut dealer, deal, rotation).await
    }

    /// [`TableRun::play`] on `dealer`'s table and buffers: the same hand,
    /// without setting up a table.
    pub async fn play_on(
        &mut self,
        dealer: &mut Dealer,
        deal: u64,
        rotation: u64,
    ) -> Result<HandRow, Failure> {
        let mut rows = Vec::with_capacity(1);
        self.play_into(dealer, deal, rotation, &mut rows).await?;
        rows.pop()
            .ok_or_else(|| Failure::new(ErrorCode::Internal, "a hand gave no row"))
    }

    /// [`TableRun::play_on`], its row appended to `rows` (a batch): a row is
    /// about 500 bytes, and returning it through the future and then pushing
    /// it copied it several times. Hands of bots only are played by
    /// [`TableRun::play_bots_into`], which never awaits.
    pub async fn play_into(
        &mut self,
        dealer: &mut Dealer,
        deal: u64,
        rotation: u64,
        rows: &mut Vec<HandRow>,
    ) -> Result<(), Failure> {
        // Taken out for the hand (and put back) rather than cloned per hand.
        if let Some(bots) = dealer.bots.take() {
            let played = self.play_bots_into(dealer, &bots, deal, rotation, rows);
            dealer.bots = Some(bots);
            return played;
        }
        let spec = self.spec.clone();
        let n = spec.seats.len();
        let mut hand = dealer.begin(&spec, &self.stacks, deal, rotation)?;
        let mut decisions = Vec::new();
        let Dealer {
            tables,
            events,
            rngs,
            tracker,
            seatings,
            ..
        } = &mut *dealer;
        let table = table_of(tables, &hand)?;
        while let Some(seat) = table.to_act() {
            let action = match &self.agents[hand.agent_at(seat, n)] {
                SeatAgent::Bot(bot) => bot_action(table, rngs, &**bot, seat)?,
                SeatAgent::Async(agent) => {
                    let turn = Turn {
                        seat,
                        view: table.view(Viewer::Seat(seat)),
                        deadline: tokio::time::Instant::now()
                            + Duration::from_millis(spec.decision_timeout_ms),
                        lane: self.lane,
                        context: CallContext {
                            table_id: Some(format!("{}:{}", self.experiment_id, self.table)),
                            hand: Some(hand.index),
                            experiment_id: Some(self.experiment_id.clone()),
                            seat: Some(seat as u64),
                        },
                    };
                    let decision = agent.decide(&turn).await;
                    let tokens = decision.tokens.unwrap_or_default();
                    decisions.push(DecisionRecord {
                        hand: hand.index,
                        seat,
                        agent: seatings[hand.shift][seat].clone(),
                        source: decision.source_name().to_owned(),
                        fallback_reason: decision.fallback_reason().map(|r| r.name().to_owned()),
                        model: decision.model(),
                        steps: decision.steps.clone(),
                        action: decision.action,
                        latency_ms: u64::try_from(decision.latency.as_millis()).unwrap_or(u64::MAX),
                        prompt_tokens: tokens.prompt,
                        completion_tokens: tokens.completion,
                        reason: decision.reason.clone(),
                    });
                    decision.action
                }
            };
            apply_action(table, events, tracker, &mut hand, seat, action)?;
        }
        dealer.end(&spec, &hand, self.table, &mut self.stacks, decisions, rows)
    }

    /// [`TableRun::play_into`] for a table of bots only (`bots`, by agent
    /// index): a plain function, so that the hand's loop runs in registers
    /// rather than in the state of a future.
    fn play_bots_into(
        &mut self,
        dealer: &mut Dealer,
        bots: &[Arc<dyn Bot>],
        deal: u64,
        rotation: u64,
        rows: &mut Vec<HandRow>,
    ) -> Result<(), Failure> {
        let spec = &*self.spec;
        let n = spec.seats.len();
        let mut hand = dealer.begin(spec, &self.stacks, deal, rotation)?;
        let Dealer {
            tables,
            events,
            rngs,
            tracker,
            ..
        } = &mut *dealer;
        let table = table_of(tables, &hand)?;
        while let Some(seat) = table.to_act() {
            let bot = bots
                .get(hand.agent_at(seat, n))
                .ok_or_else(|| Failure::new(ErrorCode::Internal, format!("no agent for seat {seat}")))?;
            let action = bot_action(table, rngs, &**bot, seat)?;
            apply_action(table, events, tracker, &mut hand, seat, action)?;
        }
        dealer.end(spec, &hand, self.table, &mut self.stacks, Vec::new(), rows)
    }
}

/// Where a run stands; saved after every batch.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Every deal below this is played and written.
    pub next_deal: u64,
    /// Hands written.
    pub hands_done: u64,
    /// Statistics so far.
    pub stats: StatsAccumulator,
    /// Carried stacks per table, by agent index (`carry` mode).
    pub table_stacks: Vec<Vec<u64>>,
    /// Wall time spent in earlier sessions, ms.
    pub elapsed_ms: u64,
    /// LLM decisions per agent.
    pub llm: BTreeMap<String, super::llm_stats::LlmAgentStats>,
    /// LLM cost of earlier sessions, USD.
    pub cost_usd: f64,
    /// LLM tokens of earlier sessions.
    pub tokens: u64,
    /// Cumulative winnings per agent over hands, for charts.
    #[serde(default)]
    pub curve: Curve,
}

/// Most points a [`Curve`] keeps: when full, every other point is dropped
/// and the step between points doubles.
const CURVE_POINTS: usize = 1_024;

/// Cumulative net chips per agent, sampled every `step` hands (a bounded
/// number of points however long the run).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Curve {
    /// Agents, in order of first appearance.
    pub agents: Vec<String>,
    /// Hands between two points.
    pub step: u64,
    /// `(hands, net chips per agent)`, from `(0, zeros)`.
    pub points: Vec<(u64, Vec<i64>)>,
    /// Net chips per agent after the last recorded hand.
    running: Vec<i64>,
    /// Hands recorded.
    hands: u64,
}

impl Curve {
    /// The index of `agent` in `agents`, added (with no chips yet) if new:
    /// a caller looks a name up once and then uses
    /// [`Curve::record_indexed`].
    pub fn agent_index(&mut self, agent: &str) -> usize {
        match self.agents.iter().position(|a| a == agent) {
            Some(i) => i,
            None => {
                self.agents.push(agent.to_owned());
                self.running.push(0);
                self.agents.len() - 1
            }
        }
    }

    /// Adds one hand: `(agent index from Curve::agent_index, net chips)` per seat.
    pub fn record_indexed(&mut self, nets: impl IntoIterator<Item = (usize, i64)>) {
        self.start();
        for (i, net) in nets {
            self.running[i] += net;
        }
        self.end_hand();
    }

    fn start(&mut self) {
        if self.points.is_empty() {
            self.step = 1;
            self.points.push((0, Vec::new()));
        }
    }

    fn end_hand(&mut self) {
        self.hands += 1;
        if self.hands.is_multiple_of(self.step) {
            if self.points.len() >= CURVE_POINTS {
                let mut keep = 0;
                self.points.retain(|_| {
                    keep += 1;
                    keep % 2 == 1
                });
                self.step *= 2;
            }
            if self.hands.is_multiple_of(self.step) {
                self.points.push((self.hands, self.running.clone()));
            }
        }
    }

    /// The points, each padded to every agent, plus the last hand if it
    /// falls between two points.
    pub fn to_json(&self, big_blind: u64) -> serde_json::Value {
        let n = self.agents.len();
        let pad = |net: &[i64]| {
            let mut v = net.to_vec();
            v.resize(n, 0);
            v
        };
        let mut points: Vec<serde_json::Value> = self
            .points
            .iter()
            .map(|(hands, net)| serde_json::json!({"hands": hands, "net": pad(net)}))
            .collect();
        if self.points.last().is_some_and(|(h, _)| *h != self.hands) {
            points.push(serde_json::json!({"hands": self.hands, "net": pad(&self.running)}));
        }
        serde_json::json!({"agents": self.agents, "big_blind": big_blind, "points": points})
    }
}

/// Progress, for the CLI's bar and the API.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Progress {
    /// Hands done.
    pub hands_done: u64,
    /// Hands planned.
    pub hands_total: u64,
    /// Hands per second in this session.
    pub hands_per_sec: f64,
    /// Estimated seconds left.
    pub eta_secs: Option<f64>,
    /// LLM cost so far, USD.
    pub cost_usd: f64,
    /// LLM tokens so far.
    pub tokens: u64,
}

/// Receives finished hands in deal order: the results folder of a CLI run,
/// or the store for a server run.
pub trait HandSink: Send {
    /// One hand, in order.
    /// `agents` is the row's seating: the agent name per seat.
    fn hand(&mut self, index: u64, row: &HandRow, agents: &Arc<[String]>) -> Result<(), Failure>;
    /// A batch is complete; make it durable with this checkpoint.
    fn checkpoint(&mut self, checkpoint: &Checkpoint) -> impl Future<Output = Result<(), Failure>> + Send;
}

/// Why a run stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// Every hand was played.
    Done,
    /// Stopped on request (Ctrl-C, pause, cancel); resumable.
    Stopped,
    /// A budget was reached.
    Budget,
    /// LLM seats fell back to their bots more often than the spec allows.
    Degraded,
}

/// LLM decisions a seat makes before its fallback share can stop a run
/// (at the end of a run, any number counts).
pub const DEGRADED_AFTER: u64 = 20;

/// The LLM agents whose fallback bot made more than `max_rate` of their
/// decisions, once they made at least `min_decisions`.
pub fn over_fallback_limit(
    llm: &std::collections::BTreeMap<String, super::llm_stats::LlmAgentStats>,
    max_rate: f64,
    min_decisions: u64,
) -> Vec<(&String, &super::llm_stats::LlmAgentStats)> {
    llm.iter()
        .filter(|(_, s)| s.decisions >= min_decisions.max(1) && s.fallback_share() > max_rate)
        .collect()
}

/// Costs so far, read between hands for budgets and progress.
pub trait CostMeter: Send + Sync {
    /// (USD, tokens) spent so far by this run.
    fn spent(&self) -> (f64, u64);
}

/// A meter for runs without LLM seats.
pub struct NoCost;

impl CostMeter for NoCost {
    fn spent(&self) -> (f64, u64) {
        (0.0, 0)
    }
}

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
) -> Result<(StopReason, Checkpoint), Failure> {
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
    let (rows_tx, mut rows_rx) = mpsc::channel::<Result<Vec<HandRow>, Failure>>(64);
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
            return Err(Failure::new(
                ErrorCode::Internal,
                format!("deal {} came back after it was written", first.deal),
            ));
        }
        waiting[first.table].push_back(rows);
        // Write every complete deal at the front, in order.
        let mut wrote = false;
        loop {
            let next = checkpoint.next_deal;
            let t = usize::try_from(next % tables as u64).unwrap_or(0);
            let Some(batch) = waiting[t].front() else { break };
            let Some(deal_rows) = batch.get(written_rows[t]..written_rows[t] + per_deal) else {
                return Err(Failure::new(
                    ErrorCode::Internal,
                    format!("table {t} handed over part of a deal"),
                ));
            };
            for (r, row) in deal_rows.iter().enumerate() {
                if row.deal != next || row.rotation != r as u64 {
                    return Err(Failure::new(
                        ErrorCode::Internal,
                        format!("table {t} handed over deal {} out of order", row.deal),
                    ));
                }
                let index = next * hands_per_deal + r as u64;
                let (Some(agents), true) = (seating_list.get(row.seating), row.seating < n) else {
                    return Err(Failure::new(
                        ErrorCode::Internal,
                        format!("table {t} handed over hand {index} with no seating"),
                    ));
                };
                // `(seat + seating) % n` without a division (both below `n`).
                let agent_of = |seat: usize| {
                    let agent = seat + row.seating;
                    if agent >= n { agent - n } else { agent }
                };
                for hand in &row.summary.seats {
                    if hand.seat >= n {
                        return Err(Failure::new(
                            ErrorCode::Internal,
                            format!("hand {index} has a seat {} at a table of {n}", hand.seat),
                        ));
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

#[cfg(test)]
mod tests {
    use super::{CURVE_POINTS, Curve};

    #[test]
    fn curve_keeps_exact_sums_at_bounded_points() {
        let mut curve = Curve::default();
        let hands = 5_000u64;
        for h in 1..=hands {
            let net = i64::try_from(h % 7).unwrap_or(0) - 3;
            let (a, b) = (curve.agent_index("a"), curve.agent_index("b"));
            curve.record_indexed([(a, net), (b, -net)]);
            if h == 10 {
                // A third agent joins late: earlier points have no entry for it.
                let c = curve.agent_index("c");
                curve.record_indexed([(c, 0)]);
            }
        }
        assert!(curve.points.len() <= CURVE_POINTS);
        assert!(curve.step.is_power_of_two() && curve.step > 1);
        let exact = |n: u64| -> i64 {
            // The hand recorded after hand 10 is agent c's alone.
            let played = if n > 10 { n - 1 } else { n };
            (1..=played).map(|h| i64::try_from(h % 7).unwrap_or(0) - 3).sum()
        };
        for (at, net) in &curve.points {
            assert_eq!(at % curve.step, 0);
            assert_eq!(net.first().copied().unwrap_or(0), exact(*at));
            assert_eq!(net.get(1).copied().unwrap_or(0), -exact(*at));
        }
        let json = curve.to_json(2);
        assert_eq!(json["agents"], serde_json::json!(["a", "b", "c"]));
        let points = json["points"].as_array().expect("points");
        let last = points.last().expect("a last point");
        assert_eq!(last["hands"], hands + 1);
        assert_eq!(last["net"][0], exact(hands + 1));
        assert!(
            points
                .iter()
                .all(|p| p["net"].as_array().map(Vec::len) == Some(3))
        );
    }
}
