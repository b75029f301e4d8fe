//! The rows the store reads and writes, independent of the backend.
//!
//! `schema` depends on `game-core` only (see `docs/architecture.md`), so LLM usage
//! and decisions are plain rows here; the server converts `ai-players`'
//! `UsageRecord` and `Decision` into [`UsageRow`] and [`DecisionRow`].

use game_core::{DealKey, Event, TableConfig, Visibility};

use crate::error::StoreError;

/// A registered player. The bearer token itself is never stored, only its hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlayerRecord {
    /// Stable id.
    pub id: String,
    /// Name shown at the table.
    pub display_name: String,
    /// Hash of the bearer token (the caller chooses the hash; lookups compare it exactly).
    pub token_hash: String,
    /// Creation time, ms since the Unix epoch.
    pub created_at_ms: u64,
    /// Chips in the player's account, off the tables. Buy-ins take from it,
    /// cash-outs and refunds add to it; the store never lets it go negative.
    pub balance: u64,
}

/// Whether a table is waiting, playing, or finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TableStatus {
    /// Created, waiting for players.
    Open,
    /// Hands are being played.
    Running,
    /// Finished; kept for history.
    Closed,
}

impl TableStatus {
    /// The name stored in the `status` column.
    pub fn name(self) -> &'static str {
        match self {
            TableStatus::Open => "open",
            TableStatus::Running => "running",
            TableStatus::Closed => "closed",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Result<TableStatus, StoreError> {
        match name {
            "open" => Ok(TableStatus::Open),
            "running" => Ok(TableStatus::Running),
            "closed" => Ok(TableStatus::Closed),
            other => Err(StoreError::Corrupt {
                what: "table status",
                detail: format!("unknown status {other:?}"),
            }),
        }
    }
}

/// A table as stored: its config and where it stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableRecord {
    /// Stable id (also the `table_id` of its events).
    pub id: String,
    /// Name shown in the lobby.
    pub name: String,
    /// Stakes and size.
    pub config: TableConfig,
    /// Where it stands.
    pub status: TableStatus,
    /// Creation time, ms since the Unix epoch.
    pub created_at_ms: u64,
    /// Server-owned settings as JSON text (buy-in range, clocks, pace, AI
    /// seats); the store keeps it verbatim and never parses it.
    pub settings: String,
    /// The secret every hand's deck seed is derived from (server-only).
    pub deal_key: DealKey,
}

/// Chips taken from a player's balance for a seat that the table's event log
/// does not show yet. Each one ends confirmed (the seat is in the log: the
/// chips stay at the table) or refunded (the chips go back to the balance).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingBuyIn {
    /// Assigned by the store when the buy-in is reserved.
    pub id: u64,
    /// Whose balance paid.
    pub player_id: String,
    /// The table being joined.
    pub table_id: String,
    /// The seat asked for.
    pub seat: u64,
    /// Chips taken from the balance.
    pub amount: u64,
    /// The table's last event seq when the buy-in was reserved: the seat, if
    /// it was taken, is in the log after this seq.
    pub after_seq: u64,
    /// When it was reserved, ms since the Unix epoch.
    pub created_at_ms: u64,
}

/// One entry of a table's event log, in its stored form.
///
/// Sequence numbers are assigned by the caller (the table task, which already
/// numbers the deltas it broadcasts): 1 for a table's first event, then +1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventRecord {
    /// The table.
    pub table_id: String,
    /// Position in the table's log, from 1, gap-free.
    pub seq: u64,
    /// Hand number the event belongs to (0 before the first hand).
    pub hand: u64,
    /// The event's serde tag (`hand_started`, `chips_added`, ...).
    pub kind: String,
    /// Who may see it: `public`, `server` or `seat:N`.
    pub visibility: String,
    /// The event as serde_json text.
    pub payload: String,
}

impl EventRecord {
    /// Encodes `event` for storage at `seq` in `table_id`'s log.
    pub fn new(table_id: &str, seq: u64, hand: u64, event: &Event) -> Result<EventRecord, StoreError> {
        let encode = |e: serde_json::Error| StoreError::Encode {
            what: "event",
            detail: e.to_string(),
        };
        let payload = serde_json::to_string(event).map_err(encode)?;
        let kind = kind_of(&payload).ok_or_else(|| StoreError::Encode {
            what: "event",
            detail: "payload has no \"type\" tag".to_owned(),
        })?;
        Ok(EventRecord {
            table_id: table_id.to_owned(),
            seq,
            hand,
            kind,
            visibility: visibility_name(event.visibility()),
            payload,
        })
    }

    /// Decodes the stored payload back into an event.
    pub fn event(&self) -> Result<Event, StoreError> {
        serde_json::from_str(&self.payload).map_err(|e| StoreError::Corrupt {
            what: "event payload",
            detail: format!("table {:?} seq {}: {e}", self.table_id, self.seq),
        })
    }
}

/// The `type` tag of a serialised event, read without decoding the rest.
fn kind_of(payload: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Tag {
        #[serde(rename = "type")]
        kind: String,
    }
    serde_json::from_str::<Tag>(payload).ok().map(|t| t.kind)
}

/// The stored form of a visibility: `public`, `server` or `seat:N`.
pub fn visibility_name(visibility: Visibility) -> String {
    match visibility {
        Visibility::Public => "public".to_owned(),
        Visibility::Server => "server".to_owned(),
        Visibility::Seat(seat) => format!("seat:{seat}"),
    }
}

/// The lease a writer holds on a table: its writes succeed only while the
/// table's lease is still at `epoch` (checked in the write's transaction).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Fence {
    /// The table.
    pub table_id: String,
    /// The lease epoch the writer holds.
    pub epoch: u64,
}

/// A registered node of a cluster (one row per process start).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeRecord {
    /// Unique per process start.
    pub instance: String,
    /// The operator's name for the node.
    pub name: String,
    /// Where peers and clients reach it (`http://host:port`).
    pub address: String,
    /// When the process started (its own clock).
    pub started_at_ms: u64,
    /// When its registration lapses unless renewed (database clock).
    pub expires_at_ms: u64,
}

/// Who holds a table's lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseRecord {
    /// The table.
    pub table_id: String,
    /// The owning instance (`None`: released).
    pub owner: Option<String>,
    /// The lease epoch.
    pub epoch: u64,
    /// The owner's address, when its node row is live.
    pub owner_address: Option<String>,
    /// Whether the owner's node row is live (unexpired).
    pub owner_live: bool,
}

/// A table's latest snapshot: its engine state between hands (JSON of
/// `game_core::TableSnapshot`) and the last event seq it covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableSnapshotRecord {
    /// The table.
    pub table_id: String,
    /// The last event seq the snapshot covers; a load replays the events after it.
    pub seq: u64,
    /// The state, as JSON.
    pub state: String,
    /// When it was taken, ms since the Unix epoch.
    pub taken_at_ms: u64,
}

/// The summary of a finished hand, for history and analysis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandRecord {
    /// The table.
    pub table_id: String,
    /// Hand number.
    pub hand: u64,
    /// The deck seed (server-only information).
    pub seed: u64,
    /// The players dealt in, as JSON (seats, ids, stacks).
    pub players: String,
    /// The pots, as JSON.
    pub pots: String,
    /// The winners and their shares, as JSON.
    pub winners: String,
    /// The hand in Poker Hand History (PHH) text.
    pub phh: String,
    /// First event seq of the hand.
    pub first_seq: u64,
    /// Last event seq of the hand.
    pub last_seq: u64,
    /// When the hand ended, ms since the Unix epoch.
    pub ended_at_ms: u64,
    /// The reasons LLM seats gave for their actions, as JSON
    /// `[{seat, seq, reason}]` (public once the hand is over).
    pub reasons: String,
}

/// A chat line at a table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatMessage {
    /// Assigned by the store on insert (ignored when adding).
    pub id: u64,
    /// The table.
    pub table_id: String,
    /// The registered player who wrote it, if any (spectators are anonymous).
    pub player_id: Option<String>,
    /// Name shown.
    pub author: String,
    /// The text.
    pub body: String,
    /// When, ms since the Unix epoch.
    pub at_ms: u64,
}

/// Where an experiment stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExperimentStatus {
    /// Queued.
    Pending,
    /// Hands are being played.
    Running,
    /// Stopped by an operator; resumable.
    Paused,
    /// Finished; results are final.
    Done,
    /// Stopped when a budget (cost, tokens, wall time) was reached; results are final.
    BudgetReached,
    /// Stopped because its LLM seats fell back to bots more often than the
    /// spec allows: the results would pass bot play off as the model's.
    Degraded,
    /// Stopped by an error.
    Failed,
    /// Stopped by an operator.
    Cancelled,
}

impl ExperimentStatus {
    /// The name stored in the `status` column.
    pub fn name(self) -> &'static str {
        match self {
            ExperimentStatus::Pending => "pending",
            ExperimentStatus::Running => "running",
            ExperimentStatus::Paused => "paused",
            ExperimentStatus::Done => "done",
            ExperimentStatus::BudgetReached => "budget_reached",
            ExperimentStatus::Degraded => "degraded",
            ExperimentStatus::Failed => "failed",
            ExperimentStatus::Cancelled => "cancelled",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Result<ExperimentStatus, StoreError> {
        match name {
            "pending" => Ok(ExperimentStatus::Pending),
            "running" => Ok(ExperimentStatus::Running),
            "paused" => Ok(ExperimentStatus::Paused),
            "done" => Ok(ExperimentStatus::Done),
            "budget_reached" => Ok(ExperimentStatus::BudgetReached),
            "degraded" => Ok(ExperimentStatus::Degraded),
            "failed" => Ok(ExperimentStatus::Failed),
            "cancelled" => Ok(ExperimentStatus::Cancelled),
            other => Err(StoreError::Corrupt {
                what: "experiment status",
                detail: format!("unknown status {other:?}"),
            }),
        }
    }
}

impl ExperimentStatus {
    /// Whether no more hands will be played (done, budget reached, failed, cancelled).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ExperimentStatus::Done
                | ExperimentStatus::BudgetReached
                | ExperimentStatus::Failed
                | ExperimentStatus::Cancelled
        )
    }
}

/// One hand of an experiment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExperimentHandRow {
    /// The experiment.
    pub experiment_id: String,
    /// Index of the hand in the run, from 0.
    pub hand: u64,
    /// The deal (the same cards for every rotation in duplicate mode).
    pub deal: u64,
    /// Which rotation of the deal (0 outside duplicate mode).
    pub rotation: u64,
    /// Which of the experiment's parallel tables played it.
    pub table_index: u64,
    /// JSON array: the agent's name per seat.
    pub agents: String,
    /// JSON array: net chips per seat.
    pub nets: String,
    /// The hand history (PHH), when kept.
    pub phh: Option<String>,
}

/// What an experiment's runner saves at a checkpoint, in one transaction:
/// the hands and decisions since the last one and where the run stands.
#[derive(Clone, Debug, Default)]
pub struct ExperimentBatch {
    /// The experiment.
    pub id: String,
    /// Status to record.
    pub status: Option<ExperimentStatus>,
    /// Hands done, after this batch.
    pub hands_done: u64,
    /// The runner's checkpoint (JSON).
    pub checkpoint: String,
    /// Results (JSON), when they changed.
    pub results: Option<String>,
    /// Hands since the last checkpoint.
    pub hands: Vec<ExperimentHandRow>,
    /// Decisions since the last checkpoint.
    pub decisions: Vec<DecisionRow>,
    /// Now, ms since the Unix epoch.
    pub now_ms: u64,
}

/// An experiment: what to run, how far it got, what it found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExperimentRecord {
    /// Stable id (also the `experiment_id` of its usage and decisions).
    pub id: String,
    /// The spec as JSON (agents, hands, seeds, budgets).
    pub spec: String,
    /// Where it stands.
    pub status: ExperimentStatus,
    /// Hands played so far.
    pub hands_done: u64,
    /// Hands planned.
    pub hands_total: u64,
    /// Results as JSON, once there are any.
    pub results: Option<String>,
    /// Creation time, ms since the Unix epoch.
    pub created_at_ms: u64,
    /// Last update, ms since the Unix epoch.
    pub updated_at_ms: u64,
}

/// One LLM call as accounted by the executor (`ai-players`' `UsageRecord`, flattened).
#[derive(Clone, Debug, PartialEq)]
pub struct UsageRow {
    /// When the call was requested, ms since the Unix epoch.
    pub at_ms: u64,
    /// Provider name.
    pub provider: String,
    /// Model name.
    pub model: String,
    /// Lane name (`live`, `watched`, `bulk`).
    pub lane: String,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Cost in USD.
    pub cost_usd: f64,
    /// From request to reply, ms.
    pub latency_ms: u64,
    /// Time waiting for capacity, ms.
    pub queue_wait_ms: u64,
    /// Attempts after the first.
    pub retries: u32,
    /// 429 answers along the way.
    pub rate_limited: u32,
    /// Outcome name (`ok`, `deadline`, ...).
    pub outcome: String,
    /// Last HTTP status, if any.
    pub http_status: Option<u16>,
    /// The table the call was for.
    pub table_id: Option<String>,
    /// The hand the call was for.
    pub hand: Option<u64>,
    /// The experiment the call is booked to.
    pub experiment_id: Option<String>,
}

/// Which usage or decision rows to read back.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordQuery {
    /// Only rows for this table.
    pub table_id: Option<String>,
    /// Only rows booked to this experiment.
    pub experiment_id: Option<String>,
    /// At most this many rows (oldest first); `None` for all.
    pub limit: Option<u64>,
}

/// Totals over usage rows, for cost reports.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UsageTotals {
    /// Number of calls.
    pub calls: u64,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Cost in USD.
    pub cost_usd: f64,
}

/// What calls to one model came to, for `GET /api/usage`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModelUsage {
    /// Provider name.
    pub provider: String,
    /// Model name.
    pub model: String,
    /// Calls made.
    pub calls: u64,
    /// Calls that ended without a reply (`outcome` other than `ok` and `cached`).
    pub failed: u64,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Cost in USD.
    pub cost_usd: f64,
    /// Mean latency of a call, ms.
    pub mean_latency_ms: f64,
    /// Slowest call, ms.
    pub max_latency_ms: u64,
}

/// A captured AI decision: what the model saw, what it said, what was played.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecisionRow {
    /// Assigned by the store on insert (ignored when recording).
    pub id: u64,
    /// When, ms since the Unix epoch (retention counts from here).
    pub at_ms: u64,
    /// The table.
    pub table_id: Option<String>,
    /// The hand.
    pub hand: Option<u64>,
    /// The seat that acted.
    pub seat: u64,
    /// The experiment, if any.
    pub experiment_id: Option<String>,
    /// Who decided: `model`, `bot` or `fallback` (`DecisionSource` kind).
    pub source: String,
    /// The prompt sent, if captured.
    pub prompt: Option<String>,
    /// The model's raw reply, if captured.
    pub raw_reply: Option<String>,
    /// The action played, as JSON.
    pub parsed_action: Option<String>,
    /// Why a fallback acted (`FallbackReason` name), if one did.
    pub fallback_reason: Option<String>,
    /// The model's short reason for the action, if it gave one.
    pub reason: Option<String>,
    /// The model that decided (`provider/model`), when one did.
    pub model: Option<String>,
    /// The models that failed before the decision, as JSON `[{model, reason}]`.
    pub steps: Option<String>,
}

/// Stores a u64 in a signed 64-bit column.
pub(crate) fn to_i64(what: &'static str, value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::Encode {
        what,
        detail: format!("{value} does not fit a signed 64-bit column"),
    })
}

/// Reads a u64 back from a signed 64-bit column.
pub(crate) fn to_u64(what: &'static str, value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt {
        what,
        detail: format!("negative value {value}"),
    })
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use game_core::{Card, Event};

    use super::EventRecord;

    #[test]
    fn event_record_names_kind_and_visibility() {
        let hole = Event::HoleCardsDealt {
            seat: 3,
            cards: [Card::ALL[0], Card::ALL[51]],
        };
        let r = EventRecord::new("t", 7, 2, &hole).expect("encode");
        assert_eq!(
            (r.kind.as_str(), r.visibility.as_str()),
            ("hole_cards_dealt", "seat:3")
        );
        assert_eq!(r.event().expect("decode"), hole);
        let shuffled = EventRecord::new(
            "t",
            1,
            1,
            &Event::DeckShuffled {
                hand: 1,
                seed: u64::MAX,
            },
        )
        .expect("encode");
        assert_eq!(
            (shuffled.kind.as_str(), shuffled.visibility.as_str()),
            ("deck_shuffled", "server")
        );
        let corrupt = EventRecord {
            payload: "{".to_owned(),
            ..shuffled
        };
        assert!(corrupt.event().is_err());
    }
}
