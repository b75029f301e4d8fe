//! What the conformance suite leaves out: a failed call changes nothing
//! (the SQL backends get that from rolled-back transactions).

use game_core::{DealKey, Event, TableConfig};

use super::MemoryRepo;
use crate::error::StoreError;
use crate::model::{EventRecord, ExperimentBatch, ExperimentHandRow, ExperimentRecord, ExperimentStatus};
use crate::model::{HandRecord, PlayerRecord, TableRecord, TableStatus};
use crate::repository::Repository;

fn table(id: &str) -> TableRecord {
    TableRecord {
        id: id.to_owned(),
        name: id.to_owned(),
        config: TableConfig::new(6, 1, 2),
        status: TableStatus::Open,
        created_at_ms: 1,
        settings: "{}".to_owned(),
        deal_key: DealKey::from_bytes([1; 32]),
    }
}

fn player(id: &str, balance: u64) -> PlayerRecord {
    PlayerRecord {
        id: id.to_owned(),
        display_name: id.to_owned(),
        token_hash: format!("hash-{id}"),
        created_at_ms: 1,
        balance,
    }
}

fn hand_end(table_id: &str, seq: u64, hand: u64) -> EventRecord {
    let e = Event::HandEnded {
        hand,
        stacks: game_core::event::SeatList::new(),
    };
    EventRecord::new(table_id, seq, hand, &e).expect("encode")
}

fn history(table_id: &str, hand: u64) -> HandRecord {
    HandRecord {
        table_id: table_id.to_owned(),
        hand,
        seed: 1,
        players: "[]".to_owned(),
        pots: "[]".to_owned(),
        winners: "[]".to_owned(),
        phh: String::new(),
        first_seq: 1,
        last_seq: 1,
        ended_at_ms: 1,
        reasons: "[]".to_owned(),
    }
}

#[tokio::test]
async fn a_batch_with_a_bad_history_stores_no_event() {
    let repo = MemoryRepo::new();
    repo.create_table(&table("t")).await.expect("table");
    let err = repo
        .append_batch(&[hand_end("t", 1, 1)], &[history("t", 1), history("ghost", 1)])
        .await
        .expect_err("a history of an unknown table");
    assert!(
        matches!(err, StoreError::MissingReference { what: "hand", .. }),
        "{err:?}"
    );
    assert_eq!(repo.last_seq("t").await.expect("seq"), 0);
    assert!(repo.unrecorded_hands(10).await.expect("hands").is_empty());
    assert!(repo.load_hand("t", 1).await.is_err());
    // A seq twice in one batch is a duplicate too, and stores nothing.
    let twice = [hand_end("t", 1, 1), hand_end("t", 1, 1)];
    assert!(matches!(
        repo.append_events(&twice).await,
        Err(StoreError::Duplicate { what: "event", .. })
    ));
    assert_eq!(repo.last_seq("t").await.expect("seq"), 0);
}

#[tokio::test]
async fn money_that_cannot_move_stays_where_it_is() {
    let repo = MemoryRepo::new();
    repo.create_table(&table("t")).await.expect("table");
    repo.create_player(&player("p", 100)).await.expect("player");
    let buy_in = repo
        .reserve_buy_in("p", "t", 0, 100, 0, 1)
        .await
        .expect("reserve");
    assert_eq!(buy_in.id, 1, "ids count from 1");
    let top = i64::MAX as u64;
    assert_eq!(repo.credit_balance("p", top).await.expect("credit"), top);
    // The refund would overflow the balance: it fails and the buy-in stays pending.
    assert!(matches!(
        repo.refund_buy_in(buy_in.id).await,
        Err(StoreError::Encode { what: "balance", .. })
    ));
    assert_eq!(repo.pending_buy_ins("t").await.expect("pending"), vec![buy_in]);
    // So does a cash-out, which records nothing: its seq can pay later.
    assert!(repo.cash_out("t", 9, "p", 1, 1).await.is_err());
    repo.reserve_buy_in("p", "t", 1, 1, 0, 1).await.expect("reserve");
    assert!(repo.cash_out("t", 9, "p", 1, 1).await.expect("cash-out"));
    assert_eq!(repo.load_player("p").await.expect("player").balance, top);
}

#[tokio::test]
async fn an_experiment_batch_repeating_a_hand_changes_nothing() {
    let repo = MemoryRepo::new();
    repo.create_experiment(&ExperimentRecord {
        id: "x".to_owned(),
        spec: "{}".to_owned(),
        status: ExperimentStatus::Running,
        hands_done: 0,
        hands_total: 2,
        results: None,
        created_at_ms: 1,
        updated_at_ms: 1,
    })
    .await
    .expect("experiment");
    let hand = |n| ExperimentHandRow {
        experiment_id: "x".to_owned(),
        hand: n,
        deal: n,
        rotation: 0,
        table_index: 0,
        agents: "[]".to_owned(),
        nets: "[]".to_owned(),
        phh: None,
    };
    let batch = ExperimentBatch {
        id: "x".to_owned(),
        status: Some(ExperimentStatus::Done),
        hands_done: 2,
        checkpoint: "{}".to_owned(),
        hands: vec![hand(0), hand(0)],
        now_ms: 5,
        ..ExperimentBatch::default()
    };
    assert!(matches!(
        repo.save_experiment_batch(&batch).await,
        Err(StoreError::Duplicate { .. })
    ));
    let x = repo.load_experiment("x").await.expect("experiment");
    assert_eq!(
        (x.status, x.hands_done, x.updated_at_ms),
        (ExperimentStatus::Running, 0, 1)
    );
    assert_eq!(repo.experiment_checkpoint("x").await.expect("checkpoint"), None);
    assert!(repo.experiment_hands("x", 0, 10).await.expect("hands").is_empty());
}
