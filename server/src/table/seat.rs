//! Taking a seat: the buy-in is reserved in the store, then the table seats
//! the player (and confirms or refunds it). At a mirror (a table another
//! node owns) the whole request goes to the owner, which does both.

use schema::{AnyRepo, Repository};

use super::{TableCommand, TableError, TableHandle};

/// Seats `player` at `seat` with `buy_in` chips from their balance; the
/// stack they sit with. Shared by the protocol and REST.
pub async fn sit(
    repo: &AnyRepo,
    handle: &TableHandle,
    player: &str,
    name: String,
    seat: usize,
    buy_in: u64,
) -> Result<u64, TableError> {
    let settings = &handle.settings;
    if buy_in < settings.min_buy_in || buy_in > settings.max_buy_in {
        return Err(TableError::InvalidBuyIn {
            min: settings.min_buy_in,
            max: settings.max_buy_in,
        });
    }
    if seat >= handle.config.seats {
        return Err(TableError::NoSuchSeat {
            seat,
            last: handle.config.seats - 1,
        });
    }
    if handle.seat_of(player).is_some() {
        return Err(TableError::AlreadySeated);
    }
    if handle.mirror {
        // The owner reserves the buy-in under its lease and seats the player.
        return handle
            .request(|reply| TableCommand::SitAtOwner {
                player_id: player.to_owned(),
                name,
                seat,
                buy_in,
                reply,
            })
            .await;
    }
    let (after_seq, _) = handle.chip_count();
    let pending = repo
        .reserve_buy_in_fenced(
            player,
            &handle.id,
            seat as u64,
            buy_in,
            after_seq,
            schema::now_ms(),
            handle.fence.as_ref(),
        )
        .await?;
    let pending_id = pending.id;
    let (reply, answer) = tokio::sync::oneshot::channel();
    let command = TableCommand::Sit {
        player_id: player.to_owned(),
        name,
        seat,
        buy_in: Box::new(pending),
        reply,
    };
    if let Err(e) = handle.send(command).await {
        // The table never got the command: the chips go straight back.
        let _ = repo.refund_buy_in_fenced(pending_id, handle.fence.as_ref()).await;
        return Err(e);
    }
    // Once the table has the command it settles the buy-in (confirm or
    // refund); if it stops first, the next load settles it from the log.
    answer.await.unwrap_or(Err(TableError::SeatNotSettled))
}
