//! The owner's side of forwarded commands: listens on this node's Redis
//! channel, runs the commands other nodes' mirrors forward to tables this
//! node owns (through the same table task as its own clients' commands),
//! answers them, and routes the answers to this node's own forwarded
//! commands (see [`crate::table::remote`]).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::task::JoinHandle;
use tracing::debug;

use crate::bus::BusMessage;
use crate::protocol::Failure;
use crate::table::registry::Tables;
use crate::table::remote::{NodeMessage, Remote, RemoteCommand, RemoteError};
use crate::table::{Presence, StandResult, TableCommand, TableError, TableHandle};

/// Listens on this node's channel: serves commands forwarded to its tables
/// and routes the answers to its own forwarded commands.
pub fn spawn(remote: Arc<Remote>, tables: Tables) -> JoinHandle<()> {
    let mut rx = remote.bus.subscribe(&remote.bus.node_channel(&remote.address));
    tokio::spawn(async move {
        while let Some(message) = rx.recv().await {
            let BusMessage::Payload(bytes) = message else {
                continue;
            };
            match serde_json::from_slice::<NodeMessage>(&bytes) {
                Ok(NodeMessage::Reply { id, result }) => remote.on_reply(id, result),
                Ok(NodeMessage::Request {
                    id,
                    reply_to,
                    table,
                    command,
                }) => {
                    let remote = remote.clone();
                    let tables = tables.clone();
                    tokio::spawn(async move {
                        remote.metrics.forwarded_served.fetch_add(1, Ordering::Relaxed);
                        let result = serve(&tables, &table, command).await.map_err(|e| {
                            let failure = Failure::from(e);
                            RemoteError {
                                code: failure.code,
                                message: failure.message,
                            }
                        });
                        if id != 0 {
                            remote.send(&reply_to, &NodeMessage::Reply { id, result });
                        }
                    });
                }
                Err(e) => debug!("unreadable message on the node channel: {e}"),
            }
        }
    })
}

/// Runs a forwarded command at a table this node owns, as for its own clients.
async fn serve(
    tables: &Tables,
    table: &str,
    command: RemoteCommand,
) -> Result<serde_json::Value, TableError> {
    let handle: TableHandle = tables.open_owned(table).await?;
    let value = match command {
        RemoteCommand::Sit {
            player_id,
            name,
            seat,
            buy_in,
        } => serde_json::json!(
            crate::table::seat::sit(&tables.deps.repo, &handle, &player_id, name, seat, buy_in).await?
        ),
        RemoteCommand::Stand { player_id } => {
            let result: StandResult = handle
                .request(|reply| TableCommand::Stand { player_id, reply })
                .await?;
            serde_json::to_value(result).unwrap_or_default()
        }
        RemoteCommand::SitOut { player_id, out } => {
            handle
                .request(|reply| TableCommand::SitOut {
                    player_id,
                    out,
                    reply,
                })
                .await?;
            serde_json::Value::Null
        }
        RemoteCommand::Act {
            player_id,
            action,
            turn,
        } => serde_json::json!(
            handle
                .request(|reply| TableCommand::Act {
                    player_id,
                    action,
                    turn,
                    reply,
                })
                .await?
        ),
        RemoteCommand::Chat { line } => {
            handle
                .request(|reply| TableCommand::Chat {
                    line: Box::new(line),
                    reply,
                })
                .await?;
            serde_json::Value::Null
        }
        RemoteCommand::Presence { player_id, joined } => {
            let change = if joined { Presence::Joined } else { Presence::Left };
            handle.send(TableCommand::Presence { player_id, change }).await?;
            serde_json::Value::Null
        }
        RemoteCommand::Watch => {
            handle.send(TableCommand::RemoteWatch).await?;
            serde_json::Value::Null
        }
    };
    Ok(value)
}
