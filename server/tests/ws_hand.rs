//! A full hand over `/ws` between two WebSocket players and two bots,
//! checked move by move, then both players stand and get their chips back.
//! The checks are `helpers::hand`'s, the same `socketio.rs` runs over
//! Socket.IO.

mod helpers;

use helpers::TestServer;
use helpers::hand::MoveByMove;

#[tokio::test]
async fn two_players_and_two_bots_play_a_hand_move_by_move() {
    let server = TestServer::start("ws-hand").await;
    let hand = MoveByMove::create(&server, "move by move").await;
    let alice = server.connect().await;
    let bob = server.connect().await;
    hand.play(&server, alice, bob).await;
    server.server.shutdown().await.expect("clean shutdown");
}
