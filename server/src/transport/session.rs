//! One client connection, whatever the transport: decodes frames, enforces
//! the rate limit, authenticates, joins rooms, forwards each room's deltas
//! (filtered for what this client may see) and answers with `ack` or
//! `error`. WebSocket and Socket.IO only move text in and out.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use game_core::Action;
use schema::Repository;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use super::forward::{forward, forward_experiments};
use crate::app::App;
use crate::auth::{hash_token, plausible_token};
use crate::limits::{RateLimiter, RateVerdict};
use crate::protocol::{
    AckDetail, ActionKind, ClientMessage, ClientType, ErrorCode, Failure, HelloLimits, Role, ServerMessage,
    close, decode,
};
use crate::table::{ChatLine, JoinError, Presence, TableCommand, TableHandle};

/// Frames waiting to be written to one client. A client that does not read
/// fills this and its forwarders fall behind the table's broadcast buffer,
/// which resyncs them with a snapshot: memory per client stays bounded.
pub const OUTBOUND_CAPACITY: usize = 256;

pub use super::forward::Outbound;

/// Whether the transport should keep the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Keep reading.
    Continue,
    /// Close (the session already queued the close frame).
    Close,
}

/// A registered player behind this connection.
#[derive(Clone, Debug)]
struct Identity {
    id: Arc<str>,
    name: String,
    token_hash: String,
}

struct Joined {
    handle: TableHandle,
    forwarder: AbortHandle,
    as_player: bool,
}

/// One connection's protocol state.
pub struct Session {
    app: App,
    out: mpsc::Sender<Outbound>,
    identity: Option<Identity>,
    joined: HashMap<String, Joined>,
    limiter: RateLimiter,
    /// Forwards experiment progress while the client watches it.
    experiments: Option<AbortHandle>,
}

impl Session {
    /// A session that writes to `out`; sends the `hello` message.
    pub async fn start(app: App, out: mpsc::Sender<Outbound>) -> Session {
        let limits = &app.config.limits;
        let hello = ServerMessage::hello(HelloLimits {
            max_frame_bytes: limits.max_frame_bytes,
            messages_per_sec: limits.messages_per_sec,
            message_burst: limits.message_burst,
        })
        .text();
        let limiter = RateLimiter::new(limits);
        let session = Session {
            app,
            out,
            identity: None,
            joined: HashMap::new(),
            limiter,
            experiments: None,
        };
        session.send(hello).await;
        session
    }

    async fn send(&self, text: Arc<str>) {
        self.app.metrics.frames_out.fetch_add(1, Ordering::Relaxed);
        let _ = self.out.send(Outbound::Text(text)).await;
    }

    async fn error(&self, id: Option<u64>, table: Option<&str>, failure: &Failure) {
        self.app.metrics.error(failure.code.name());
        // Encoded before the await: a `ServerMessage` (the size of its
        // largest variant) must not live in the connection's future.
        let text = ServerMessage::Error {
            id,
            table,
            code: failure.code,
            message: &failure.message,
        }
        .text();
        self.send(text).await;
    }

    async fn ack(&self, id: Option<u64>, of: ClientType, table: Option<&str>, detail: Option<AckDetail>) {
        let text = ServerMessage::Ack {
            id,
            of,
            table,
            detail,
        }
        .text();
        self.send(text).await;
    }

    /// A frame over the size limit: report it and close (1009).
    pub async fn oversized(&mut self, len: usize) -> Flow {
        let max = self.app.config.limits.max_frame_bytes;
        let failure = Failure::new(
            ErrorCode::FrameTooLarge,
            format!("frame of {len} bytes exceeds the limit of {max} bytes"),
        );
        self.error(None, None, &failure).await;
        let _ = self
            .out
            .send(Outbound::Close(
                close::MESSAGE_TOO_BIG,
                "frame too large".to_owned(),
            ))
            .await;
        Flow::Close
    }

    /// Handles one text frame.
    pub async fn on_frame(&mut self, text: &str) -> Flow {
        self.app.metrics.frames_in.fetch_add(1, Ordering::Relaxed);
        if text.len() > self.app.config.limits.max_frame_bytes {
            return self.oversized(text.len()).await;
        }
        match self.limiter.check() {
            RateVerdict::Allow => {}
            RateVerdict::Refuse => {
                let wait = self.limiter.retry_after().as_millis().max(1);
                let failure = Failure::new(
                    ErrorCode::RateLimited,
                    format!("too many messages; this one was dropped, retry in {wait} ms"),
                );
                self.error(request_id(text), None, &failure).await;
                return Flow::Continue;
            }
            RateVerdict::Disconnect => {
                let failure = Failure::new(ErrorCode::RateLimited, "flooding past the rate limit; closing");
                self.error(None, None, &failure).await;
                let _ = self
                    .out
                    .send(Outbound::Close(
                        close::POLICY_VIOLATION,
                        "rate limit exceeded".to_owned(),
                    ))
                    .await;
                return Flow::Close;
            }
        }
        let message = match decode(text) {
            Ok(message) => message,
            Err((id, failure)) => {
                self.error(id, None, &failure).await;
                return Flow::Continue;
            }
        };
        self.dispatch(message).await;
        Flow::Continue
    }

    async fn dispatch(&mut self, message: ClientMessage) {
        match message {
            ClientMessage::Join {
                id,
                table,
                role,
                token,
                last_seq,
                epoch,
            } => {
                if let Err(f) = self.join(id, &table, role, token, last_seq, epoch).await {
                    self.error(id, Some(&table), &f).await;
                }
            }
            ClientMessage::Leave { id, table } => match self.leave(&table).await {
                true => self.ack(id, ClientType::Leave, Some(&table), None).await,
                false => {
                    let f = Failure::new(ErrorCode::NotJoined, "you have not joined this table");
                    self.error(id, Some(&table), &f).await;
                }
            },
            ClientMessage::Sit {
                id,
                table,
                seat,
                buy_in,
            } => match self.sit(&table, seat, buy_in).await {
                Ok(stack) => {
                    let detail = AckDetail::Sit { seat, stack };
                    self.ack(id, ClientType::Sit, Some(&table), Some(detail)).await
                }
                Err(f) => self.error(id, Some(&table), &f).await,
            },
            ClientMessage::Stand { id, table } => {
                let result = match self.player_table(&table) {
                    Ok((handle, player)) => handle
                        .request(|reply| TableCommand::Stand {
                            player_id: player.to_string(),
                            reply,
                        })
                        .await
                        .map_err(Failure::from),
                    Err(f) => Err(f),
                };
                match result {
                    Ok(r) => {
                        let detail = AckDetail::Stand {
                            cashed_out: r.cashed_out,
                            after_hand: r.after_hand,
                        };
                        self.ack(id, ClientType::Stand, Some(&table), Some(detail)).await;
                    }
                    Err(f) => self.error(id, Some(&table), &f).await,
                }
            }
            ClientMessage::SitOut { id, table } => self.sit_out(id, &table, true).await,
            ClientMessage::SitIn { id, table } => self.sit_out(id, &table, false).await,
            ClientMessage::Act {
                id,
                table,
                action,
                amount,
                turn,
            } => match self.act(&table, action, amount, turn).await {
                Ok(seq) => {
                    self.ack(id, ClientType::Act, Some(&table), Some(AckDetail::Act { seq }))
                        .await
                }
                Err(f) => self.error(id, Some(&table), &f).await,
            },
            ClientMessage::Chat { id, table, text } => match self.chat(&table, text).await {
                Ok(()) => self.ack(id, ClientType::Chat, Some(&table), None).await,
                Err(f) => self.error(id, Some(&table), &f).await,
            },
            ClientMessage::Ping { id } => {
                let text = ServerMessage::Pong { id }.text();
                self.send(text).await;
            }
            ClientMessage::WatchExperiments { id } => {
                if let Some(old) = self.experiments.take() {
                    old.abort();
                }
                // Subscribe before reading the list: no change falls in between.
                let updates = self.app.experiments.subscribe();
                match self.app.experiments.list().await {
                    Ok(list) => {
                        let detail = AckDetail::Watch { count: list.len() };
                        self.ack(id, ClientType::WatchExperiments, None, Some(detail))
                            .await;
                        let task = tokio::spawn(forward_experiments(
                            self.app.clone(),
                            list,
                            updates,
                            self.out.clone(),
                        ));
                        self.experiments = Some(task.abort_handle());
                    }
                    Err(e) => self.error(id, None, &e.into()).await,
                }
            }
            ClientMessage::UnwatchExperiments { id } => {
                if let Some(old) = self.experiments.take() {
                    old.abort();
                }
                self.ack(id, ClientType::UnwatchExperiments, None, None).await;
            }
        }
    }

    async fn authenticate(&mut self, token: Option<String>) -> Result<Identity, Failure> {
        let token = token
            .ok_or_else(|| Failure::new(ErrorCode::Unauthorized, "joining as a player needs your token"))?;
        if !plausible_token(&token) {
            return Err(Failure::new(ErrorCode::Unauthorized, "malformed token"));
        }
        let hash = hash_token(&token);
        if let Some(identity) = self.identity.as_ref().filter(|i| i.token_hash == hash) {
            return Ok(identity.clone());
        }
        if self.identity.is_some() {
            return Err(Failure::new(
                ErrorCode::Forbidden,
                "this connection already acts for another player",
            ));
        }
        let player = self
            .app
            .repo
            .player_by_token_hash(&hash)
            .await
            .map_err(Failure::from)?
            .ok_or_else(|| Failure::new(ErrorCode::Unauthorized, "unknown token"))?;
        let identity = Identity {
            id: player.id.into(),
            name: player.display_name,
            token_hash: hash,
        };
        self.identity = Some(identity.clone());
        Ok(identity)
    }

    async fn join(
        &mut self,
        id: Option<u64>,
        table: &str,
        role: Role,
        token: Option<String>,
        last_seq: Option<u64>,
        epoch: Option<u64>,
    ) -> Result<(), Failure> {
        let max = self.app.config.limits.max_joined_tables;
        if !self.joined.contains_key(table) && self.joined.len() >= max {
            return Err(Failure::new(
                ErrorCode::InvalidRequest,
                format!("a connection may join at most {max} tables"),
            ));
        }
        let player = match role {
            Role::Player => Some(self.authenticate(token).await?),
            Role::Spectator => None,
        };
        // Joining again (e.g. to resync) replaces the old subscription.
        self.leave(table).await;
        let player_id = player.as_ref().map(|p| p.id.clone());
        let spectator = role == Role::Spectator;
        let max_spectators = self.app.config.limits.max_spectators_per_table;
        let resume = last_seq.map(|l| (l, epoch));
        let mut attempt = 0;
        let (handle, subscription) = loop {
            let handle = self.app.tables.open(table).await?;
            match handle.subscribe(player_id.as_deref(), spectator, resume, max_spectators) {
                Ok(sub) => break (handle, sub),
                Err(JoinError::Closed) if attempt == 0 => attempt += 1,
                Err(JoinError::Closed) => {
                    return Err(Failure::new(
                        ErrorCode::Unavailable,
                        "the table is reloading; join again",
                    ));
                }
                Err(JoinError::Refused(e)) => return Err(e.into()),
            }
        };
        let seat = player_id.as_deref().and_then(|p| handle.seat_of(p));
        self.ack(
            id,
            ClientType::Join,
            Some(table),
            Some(AckDetail::Join { role, seat }),
        )
        .await;
        if let Some(p) = &player_id {
            let _ = handle
                .send(TableCommand::Presence {
                    player_id: p.to_string(),
                    change: Presence::Joined,
                })
                .await;
        }
        let forwarder = tokio::spawn(forward(
            self.app.clone(),
            handle.clone(),
            player_id,
            subscription,
            self.out.clone(),
        ));
        self.joined.insert(
            table.to_owned(),
            Joined {
                handle,
                forwarder: forwarder.abort_handle(),
                as_player: !spectator,
            },
        );
        Ok(())
    }

    /// Leaves a room; false if it was not joined.
    async fn leave(&mut self, table: &str) -> bool {
        let Some(joined) = self.joined.remove(table) else {
            return false;
        };
        joined.forwarder.abort();
        if joined.as_player
            && let Some(identity) = &self.identity
        {
            let _ = joined
                .handle
                .send(TableCommand::Presence {
                    player_id: identity.id.to_string(),
                    change: Presence::Left,
                })
                .await;
        }
        true
    }

    /// The joined table and the player for a seat command.
    fn player_table(&self, table: &str) -> Result<(TableHandle, Arc<str>), Failure> {
        let joined = self
            .joined
            .get(table)
            .ok_or_else(|| Failure::new(ErrorCode::NotJoined, "join the table first"))?;
        let identity = match (&self.identity, joined.as_player) {
            (Some(identity), true) => identity,
            _ => {
                return Err(Failure::new(
                    ErrorCode::Unauthorized,
                    "join the table as a player (with your token) first",
                ));
            }
        };
        Ok((joined.handle.clone(), identity.id.clone()))
    }

    async fn sit(&mut self, table: &str, seat: usize, buy_in: u64) -> Result<u64, Failure> {
        let (handle, player) = self.player_table(table)?;
        let name = self.identity.as_ref().map(|i| i.name.clone()).unwrap_or_default();
        Ok(crate::table::seat::sit(&self.app.repo, &handle, &player, name, seat, buy_in).await?)
    }

    async fn sit_out(&mut self, id: Option<u64>, table: &str, out: bool) {
        let result = match self.player_table(table) {
            Ok((handle, player)) => handle
                .request(|reply| TableCommand::SitOut {
                    player_id: player.to_string(),
                    out,
                    reply,
                })
                .await
                .map_err(Failure::from),
            Err(f) => Err(f),
        };
        let of = if out {
            ClientType::SitOut
        } else {
            ClientType::SitIn
        };
        match result {
            Ok(()) => self.ack(id, of, Some(table), None).await,
            Err(f) => self.error(id, Some(table), &f).await,
        }
    }

    async fn act(
        &mut self,
        table: &str,
        action: ActionKind,
        amount: Option<u64>,
        turn: Option<u64>,
    ) -> Result<u64, Failure> {
        let (handle, player) = self.player_table(table)?;
        let need_amount = |what: &str| {
            Failure::new(
                ErrorCode::InvalidMessage,
                format!("{what} needs an `amount`: the total to {what} to"),
            )
        };
        let action = match action {
            ActionKind::Fold => Action::Fold,
            ActionKind::Check => Action::Check,
            ActionKind::Call => Action::Call,
            ActionKind::Bet => Action::Bet {
                to: amount.ok_or_else(|| need_amount("bet"))?,
            },
            ActionKind::Raise => Action::Raise {
                to: amount.ok_or_else(|| need_amount("raise"))?,
            },
        };
        Ok(handle
            .request(|reply| TableCommand::Act {
                player_id: player.to_string(),
                action,
                turn,
                reply,
            })
            .await?)
    }

    async fn chat(&mut self, table: &str, text: String) -> Result<(), Failure> {
        let joined = self
            .joined
            .get(table)
            .ok_or_else(|| Failure::new(ErrorCode::NotJoined, "join the table first"))?;
        let identity = self
            .identity
            .as_ref()
            .ok_or_else(|| Failure::new(ErrorCode::Unauthorized, "only registered players may chat"))?;
        let text = text.trim();
        let max = self.app.config.limits.max_chat_chars;
        if text.is_empty() {
            return Err(Failure::new(ErrorCode::InvalidRequest, "empty chat message"));
        }
        if text.chars().count() > max {
            return Err(Failure::new(
                ErrorCode::InvalidRequest,
                format!("chat messages may be at most {max} characters"),
            ));
        }
        let line = ChatLine {
            from: identity.name.clone(),
            player_id: Some(identity.id.to_string()),
            text: text.to_owned(),
            at_ms: schema::now_ms(),
        };
        Ok(joined
            .handle
            .request(|reply| TableCommand::Chat {
                line: Box::new(line),
                reply,
            })
            .await?)
    }

    /// Leaves every room (the connection is gone).
    pub async fn close(mut self) {
        if let Some(task) = self.experiments.take() {
            task.abort();
        }
        let tables: Vec<String> = self.joined.keys().cloned().collect();
        for table in tables {
            self.leave(&table).await;
        }
    }
}

/// The `id` of a frame, if it has one (for errors about frames not otherwise decoded).
fn request_id(text: &str) -> Option<u64> {
    #[derive(serde::Deserialize)]
    struct Id {
        id: Option<u64>,
    }
    serde_json::from_str::<Id>(text).ok().and_then(|i| i.id)
}
