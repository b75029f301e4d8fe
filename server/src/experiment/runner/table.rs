//! One table's hands: how a seat decides ([`SeatAgent`]), what one table
//! plays with ([`TableRun`]), and the loop of a hand on a [`Dealer`]'s
//! table, with bots called directly and LLM seats awaited.

use std::sync::Arc;
use std::time::Duration;

use ai_players::bots::{Bot, Spot, bot};
use ai_players::{Agent, AgentSpec, CallContext, Lane, Turn};
use game_core::sim::SplitMix64;
use game_core::{Command, Event, Street, Table, Viewer};

use super::dealer::{Dealer, HandInPlay, HandRow, engine_error, table_of};
use crate::experiment::ExperimentError;
use crate::experiment::llm_stats::DecisionRecord;
use crate::experiment::spec::ExperimentSpec;
use crate::experiment::stats::HandTracker;
use crate::table::AgentError;
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
    pub fn build(spec: &str, agents: &Agents, seed: u64) -> Result<SeatAgent, ExperimentError> {
        if let AgentSpec::Bot(name) = spec.parse::<AgentSpec>().map_err(AgentError::from)? {
            return match bot(&name) {
                Some(bot) => Ok(SeatAgent::Bot(bot)),
                None => Err(ExperimentError::UnknownBot { name }),
            };
        }
        Ok(agents.build(spec, seed).map(SeatAgent::Async)?)
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

/// What `bot` plays at `seat`, from the cheapest reading of the table it
/// can decide from.
#[inline]
fn bot_action(
    table: &Table,
    rngs: &mut [SplitMix64],
    bot: &dyn Bot,
    seat: usize,
) -> Result<game_core::Action, ExperimentError> {
    let to_call = table.amount_to_call(seat).unwrap_or(0);
    if let Some(action) = bot.act_on_amount_to_call(to_call) {
        return Ok(action);
    }
    let rng = rngs
        .get_mut(seat)
        .ok_or_else(|| ExperimentError::Inconsistent(format!("no generator for seat {seat}")))?;
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
) -> Result<(), ExperimentError> {
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
    pub async fn play(&mut self, deal: u64, rotation: u64) -> Result<HandRow, ExperimentError> {
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
    ) -> Result<HandRow, ExperimentError> {
        let mut rows = Vec::with_capacity(1);
        self.play_into(dealer, deal, rotation, &mut rows).await?;
        rows.pop()
            .ok_or_else(|| ExperimentError::Inconsistent("a hand gave no row".into()))
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
    ) -> Result<(), ExperimentError> {
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
    ) -> Result<(), ExperimentError> {
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
                .ok_or_else(|| ExperimentError::Inconsistent(format!("no agent for seat {seat}")))?;
            let action = bot_action(table, rngs, &**bot, seat)?;
            apply_action(table, events, tracker, &mut hand, seat, action)?;
        }
        dealer.end(spec, &hand, self.table, &mut self.stacks, Vec::new(), rows)
    }
}
