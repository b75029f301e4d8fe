//! Node rows, table leases and fenced writes (issue 18), on SQLite, the
//! in-memory store and (when `TEST_DATABASE_URL` is set) Postgres: a write fenced with an
//! epoch that a claim has moved past fails and stores nothing, events and
//! money alike, also when every event of the write was stored before.

mod helpers;

use std::time::Duration;

use helpers::{PgSchema, events, sqlite_repo, table};
use schema::{
    Claim, Cluster, EventWriter, Fence, NodeRecord, PlayerRecord, Repository, StoreError, TableStatus,
    WriterConfig,
};

/// Instantiates `$body(repo)` once per backend.
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let (repo, _db) = super::sqlite_repo().await;
                    super::$name(repo).await;
                }
            )*
        }
        /// The in-memory store (its clock is the wall clock, as the
        /// database's is to the others, so a lapse takes real time).
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(schema::MemoryRepo::new()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(pg) = super::PgSchema::new(concat!("leases::postgres::", stringify!($name))) else {
                        return;
                    };
                    let repo = pg.connect().await;
                    super::$name(repo.clone()).await;
                    repo.close().await;
                }
            )*
        }
    };
}

both_backends!(
    nodes_register_renew_and_lapse,
    claims_bump_the_epoch_and_respect_live_holders,
    fenced_appends_fail_after_a_claim,
    a_stale_writer_never_acks_events_someone_else_stored,
    money_moves_are_fenced,
    orphans_are_claimed_a_few_at_a_time,
    concurrent_claimers_split_the_orphans,
    a_node_back_from_a_lapse_reclaims_its_own_tables,
);

/// Long enough that a test never sees its nodes lapse unless it waits.
const LONG_TTL: u64 = 60_000;
/// Short enough that a test can wait for a lapse.
const SHORT_TTL: u64 = 150;

fn node(instance: &str, name: &str) -> NodeRecord {
    NodeRecord {
        instance: instance.to_owned(),
        name: name.to_owned(),
        address: format!("http://{name}.test:8080"),
        started_at_ms: 1,
        expires_at_ms: 0,
    }
}

fn fence(table_id: &str, epoch: u64) -> Fence {
    Fence {
        table_id: table_id.to_owned(),
        epoch,
    }
}

async fn claimed<R: Cluster>(repo: &R, table: &str, instance: &str) -> u64 {
    match repo.claim_table(table, instance).await.expect("claim") {
        Claim::Claimed { epoch } => epoch,
        other => panic!("{instance} could not claim {table}: {other:?}"),
    }
}

/// Waits until a node registered with `SHORT_TTL` has lapsed on the database clock.
async fn lapse() {
    tokio::time::sleep(Duration::from_millis(SHORT_TTL * 2)).await;
}

/// A node that stopped renewing: its row is removed, which makes it as
/// dead to claimers as a lapsed one (without waiting on the clock, so tests
/// that do some work first do not race the TTL).
async fn die<R: Cluster>(repo: &R, instance: &str) {
    repo.remove_node(instance).await.expect("remove node");
}

async fn running_table<R: Repository>(repo: &R, id: &str) {
    repo.create_table(&table(id)).await.expect("create table");
    repo.set_table_status(id, TableStatus::Running)
        .await
        .expect("status");
}

async fn nodes_register_renew_and_lapse<R: Repository + Cluster>(repo: R) {
    let before = repo.db_now_ms().await.unwrap();
    let expires = repo.register_node(&node("a1", "a"), LONG_TTL).await.unwrap();
    assert!(expires >= before + LONG_TTL, "{expires} vs {before}");
    repo.register_node(&node("b1", "b"), SHORT_TTL).await.unwrap();
    let live: Vec<String> = repo
        .live_nodes()
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.instance)
        .collect();
    assert_eq!(live, ["a1", "b1"]);
    assert!(repo.renew_node("a1", LONG_TTL).await.unwrap().is_some());

    // b stops renewing: it lapses, and a lapsed row cannot be renewed back
    // to life (the node must register again as a new instance).
    lapse().await;
    assert_eq!(repo.renew_node("b1", LONG_TTL).await.unwrap(), None);
    let live: Vec<String> = repo
        .live_nodes()
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.instance)
        .collect();
    assert_eq!(live, ["a1"]);

    // A restarted node (same name, new instance) replaces its old row.
    repo.register_node(&node("a2", "a"), LONG_TTL).await.unwrap();
    assert_eq!(repo.renew_node("a1", LONG_TTL).await.unwrap(), None);
    let live = repo.live_nodes().await.unwrap();
    assert_eq!(live.len(), 1);
    assert_eq!(
        (live[0].instance.as_str(), live[0].address.as_str()),
        ("a2", "http://a.test:8080")
    );
    repo.remove_node("a2").await.unwrap();
    assert!(repo.live_nodes().await.unwrap().is_empty());
}

async fn claims_bump_the_epoch_and_respect_live_holders<R: Repository + Cluster>(repo: R) {
    repo.create_table(&table("t")).await.unwrap();
    repo.register_node(&node("a1", "a"), LONG_TTL).await.unwrap();
    repo.register_node(&node("b1", "b"), LONG_TTL).await.unwrap();
    assert_eq!(repo.lease("t").await.unwrap(), None);
    assert_eq!(claimed(&repo, "t", "a1").await, 1);

    // A live holder keeps it; the refusal says who and where.
    match repo.claim_table("t", "b1").await.unwrap() {
        Claim::Held(lease) => {
            assert_eq!(lease.owner.as_deref(), Some("a1"));
            assert_eq!(lease.epoch, 1);
            assert!(lease.owner_live);
            assert_eq!(lease.owner_address.as_deref(), Some("http://a.test:8080"));
        }
        other => panic!("b took a live node's table: {other:?}"),
    }
    // The holder may claim again (a reload): a new epoch.
    assert_eq!(claimed(&repo, "t", "a1").await, 2);
    // Releasing needs the current epoch.
    assert!(!repo.release_table(&fence("t", 1)).await.unwrap());
    assert!(repo.release_table(&fence("t", 2)).await.unwrap());
    let lease = repo.lease("t").await.unwrap().unwrap();
    assert_eq!((lease.owner, lease.owner_live), (None, false));
    assert_eq!(claimed(&repo, "t", "b1").await, 3);

    // A node whose row lapsed may not claim; nor may an unknown one.
    repo.register_node(&node("c1", "c"), SHORT_TTL).await.unwrap();
    lapse().await;
    repo.create_table(&table("u")).await.unwrap();
    assert_eq!(repo.claim_table("u", "c1").await.unwrap(), Claim::NotRegistered);
    assert_eq!(
        repo.claim_table("u", "ghost").await.unwrap(),
        Claim::NotRegistered
    );
    assert_eq!(repo.lease("u").await.unwrap(), None);
    // An unknown table is refused by the store.
    assert!(matches!(
        repo.claim_table("nowhere", "a1").await,
        Err(StoreError::MissingReference { .. })
    ));
}

async fn fenced_appends_fail_after_a_claim<R: Repository + Cluster>(repo: R) {
    repo.create_table(&table("t")).await.unwrap();
    repo.register_node(&node("a1", "a"), LONG_TTL).await.unwrap();
    repo.register_node(&node("b1", "b"), LONG_TTL).await.unwrap();
    let a = claimed(&repo, "t", "a1").await;
    repo.append_fenced(&events("t", 1, 3), &[], &[fence("t", a)])
        .await
        .unwrap();

    // a stops renewing; b takes the table over.
    die(&repo, "a1").await;
    let b = claimed(&repo, "t", "b1").await;
    assert_eq!(b, a + 1);
    let err = repo
        .append_fenced(&events("t", 4, 5), &[], &[fence("t", a)])
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Fenced { ref table_id, epoch } if table_id == "t" && epoch == a),
        "{err:?}"
    );
    assert_eq!(
        repo.last_seq("t").await.unwrap(),
        3,
        "a fenced write stores nothing"
    );
    repo.append_fenced(&events("t", 4, 5), &[], &[fence("t", b)])
        .await
        .unwrap();
    assert_eq!(repo.last_seq("t").await.unwrap(), 5);

    // A table without a lease cannot be written fenced at all.
    repo.create_table(&table("free")).await.unwrap();
    assert!(matches!(
        repo.append_fenced(&events("free", 1, 1), &[], &[fence("free", 1)])
            .await,
        Err(StoreError::Fenced { .. })
    ));
    // One fenced table fails the whole transaction, the others' events too.
    repo.create_table(&table("u")).await.unwrap();
    let u = claimed(&repo, "u", "b1").await;
    let mut both = events("u", 1, 2);
    both.extend(events("t", 6, 6));
    assert!(matches!(
        repo.append_fenced(&both, &[], &[fence("u", u), fence("t", a)])
            .await,
        Err(StoreError::Fenced { .. })
    ));
    assert_eq!(repo.last_seq("u").await.unwrap(), 0);
}

/// The pitfall the design names: a stale owner whose writer re-reads the
/// log, finds "its" seqs already stored (by the new owner) and would skip
/// them, must not be told they are durable.
async fn a_stale_writer_never_acks_events_someone_else_stored<R: Repository + Cluster>(repo: R) {
    repo.create_table(&table("t")).await.unwrap();
    repo.register_node(&node("a1", "a"), LONG_TTL).await.unwrap();
    repo.register_node(&node("b1", "b"), LONG_TTL).await.unwrap();
    let a = claimed(&repo, "t", "a1").await;
    let (writer, task) = EventWriter::spawn(repo.clone(), WriterConfig::default());
    writer
        .append_fenced(events("t", 1, 2), Vec::new(), Some(fence("t", a)))
        .await
        .unwrap()
        .durable()
        .await
        .unwrap();

    die(&repo, "a1").await;
    let b = claimed(&repo, "t", "b1").await;
    repo.append_fenced(&events("t", 3, 6), &[], &[fence("t", b)])
        .await
        .unwrap();

    // a's writer forgets the table (as after an error) and re-reads it: seqs
    // 3..=4 look stored. Without the fence check they would be acked.
    writer.forget("t");
    let receipt = writer
        .append_fenced(events("t", 3, 4), Vec::new(), Some(fence("t", a)))
        .await
        .unwrap();
    assert!(matches!(receipt.durable().await, Err(StoreError::Fenced { .. })));
    // The same request under the live lease is an idempotent resend.
    writer
        .append_fenced(events("t", 3, 4), Vec::new(), Some(fence("t", b)))
        .await
        .unwrap()
        .durable()
        .await
        .unwrap();
    // Fenced requests of other tables in the same batch are unaffected.
    repo.create_table(&table("u")).await.unwrap();
    let u = claimed(&repo, "u", "b1").await;
    let stale = writer
        .append_fenced(events("t", 7, 7), Vec::new(), Some(fence("t", a)))
        .await
        .unwrap();
    let fine = writer
        .append_fenced(events("u", 1, 3), Vec::new(), Some(fence("u", u)))
        .await
        .unwrap();
    assert!(matches!(stale.durable().await, Err(StoreError::Fenced { .. })));
    fine.durable().await.unwrap();
    assert_eq!(repo.last_seq("t").await.unwrap(), 6);
    assert_eq!(repo.last_seq("u").await.unwrap(), 3);
    drop(writer);
    task.join().await.unwrap();
}

async fn money_moves_are_fenced<R: Repository + Cluster>(repo: R) {
    repo.create_table(&table("t")).await.unwrap();
    repo.create_player(&PlayerRecord {
        id: "p".to_owned(),
        display_name: "P".to_owned(),
        token_hash: "h".to_owned(),
        created_at_ms: 1,
        balance: 1_000,
    })
    .await
    .unwrap();
    repo.register_node(&node("a1", "a"), LONG_TTL).await.unwrap();
    repo.register_node(&node("b1", "b"), LONG_TTL).await.unwrap();
    let a = claimed(&repo, "t", "a1").await;
    let fa = fence("t", a);
    let kept = repo
        .reserve_buy_in_fenced("p", "t", 0, 300, 0, 5, Some(&fa))
        .await
        .unwrap();
    let refunded = repo
        .reserve_buy_in_fenced("p", "t", 1, 100, 0, 5, Some(&fa))
        .await
        .unwrap();
    let balance = |repo: &R| {
        let repo = repo.clone();
        async move { repo.load_player("p").await.unwrap().balance }
    };
    assert_eq!(balance(&repo).await, 600);

    die(&repo, "a1").await;
    let b = claimed(&repo, "t", "b1").await;
    let fb = fence("t", b);
    // The stale holder can neither take, return, confirm nor pay out chips.
    assert!(matches!(
        repo.reserve_buy_in_fenced("p", "t", 2, 100, 0, 6, Some(&fa))
            .await,
        Err(StoreError::Fenced { .. })
    ));
    assert!(matches!(
        repo.refund_buy_in_fenced(refunded.id, Some(&fa)).await,
        Err(StoreError::Fenced { .. })
    ));
    assert!(matches!(
        repo.confirm_buy_in_fenced(kept.id, Some(&fa)).await,
        Err(StoreError::Fenced { .. })
    ));
    assert!(matches!(
        repo.cash_out_fenced("t", 9, "p", 300, 7, Some(&fa)).await,
        Err(StoreError::Fenced { .. })
    ));
    assert_eq!(balance(&repo).await, 600);
    assert_eq!(repo.pending_buy_ins("t").await.unwrap().len(), 2);

    // The new holder settles them, exactly once.
    assert!(repo.refund_buy_in_fenced(refunded.id, Some(&fb)).await.unwrap());
    assert!(repo.confirm_buy_in_fenced(kept.id, Some(&fb)).await.unwrap());
    assert!(
        repo.cash_out_fenced("t", 9, "p", 300, 7, Some(&fb))
            .await
            .unwrap()
    );
    assert!(
        !repo
            .cash_out_fenced("t", 9, "p", 300, 7, Some(&fb))
            .await
            .unwrap()
    );
    assert_eq!(balance(&repo).await, 1_000);
    assert!(repo.pending_buy_ins("t").await.unwrap().is_empty());
}

async fn orphans_are_claimed_a_few_at_a_time<R: Repository + Cluster>(repo: R) {
    repo.register_node(&node("a1", "a"), LONG_TTL).await.unwrap();
    repo.register_node(&node("b1", "b"), LONG_TTL).await.unwrap();
    for id in ["t1", "t2", "t3", "t4", "t5"] {
        running_table(&repo, id).await;
        claimed(&repo, id, "a1").await;
    }
    // Open (idle) tables are not resumed by anyone; released running ones are.
    repo.create_table(&table("idle")).await.unwrap();
    claimed(&repo, "idle", "a1").await;
    running_table(&repo, "handed").await;
    let handed = claimed(&repo, "handed", "b1").await;
    assert!(repo.release_table(&fence("handed", handed)).await.unwrap());

    // While a is live, only the released table is an orphan.
    let first = repo.claim_orphans("b1", 10).await.unwrap();
    assert_eq!(first, vec![("handed".to_owned(), handed + 1)]);

    die(&repo, "a1").await;
    let mut all = Vec::new();
    loop {
        let batch = repo.claim_orphans("b1", 2).await.unwrap();
        assert!(batch.len() <= 2, "{batch:?}");
        if batch.is_empty() {
            break;
        }
        all.extend(batch);
    }
    assert_eq!(
        all,
        ["t1", "t2", "t3", "t4", "t5"].map(|t| (t.to_owned(), 2)).to_vec()
    );
    assert_eq!(
        repo.lease("idle").await.unwrap().unwrap().owner.as_deref(),
        Some("a1")
    );
    // A lapsed node claims nothing.
    repo.register_node(&node("c1", "c"), SHORT_TTL).await.unwrap();
    lapse().await;
    assert!(repo.claim_orphans("c1", 10).await.unwrap().is_empty());
}

/// A node whose registration lapsed (Postgres was out of reach) registers
/// again as a new instance and takes back the running tables its previous
/// instance held, with new epochs; tables another node claimed meanwhile,
/// idle tables and other nodes' tables stay where they are.
async fn a_node_back_from_a_lapse_reclaims_its_own_tables<R: Repository + Cluster>(repo: R) {
    repo.register_node(&node("a1", "a"), SHORT_TTL).await.unwrap();
    repo.register_node(&node("b1", "b"), LONG_TTL).await.unwrap();
    for id in ["t1", "t2", "taken"] {
        running_table(&repo, id).await;
        claimed(&repo, id, "a1").await;
    }
    repo.create_table(&table("idle")).await.unwrap();
    claimed(&repo, "idle", "a1").await;
    running_table(&repo, "theirs").await;
    let theirs = claimed(&repo, "theirs", "b1").await;
    lapse().await;
    // b claimed one of a's tables while a was away.
    let taken = claimed(&repo, "taken", "b1").await;
    // A lapsed instance reclaims nothing for itself.
    assert!(repo.reclaim_tables("a1", "a1").await.unwrap().is_empty());
    repo.register_node(&node("a2", "a"), LONG_TTL).await.unwrap();
    let back = repo.reclaim_tables("a1", "a2").await.unwrap();
    assert_eq!(back, vec![("t1".to_owned(), 2), ("t2".to_owned(), 2)]);
    for (id, owner, epoch) in [
        ("t1", "a2", 2),
        ("taken", "b1", taken),
        ("theirs", "b1", theirs),
        ("idle", "a1", 1),
    ] {
        let lease = repo.lease(id).await.unwrap().unwrap();
        assert_eq!(
            (lease.owner.as_deref(), lease.epoch),
            (Some(owner), epoch),
            "{id}"
        );
    }
    // The old epoch is fenced.
    assert!(matches!(
        repo.append_fenced(&events("t1", 1, 1), &[], &[fence("t1", 1)])
            .await,
        Err(StoreError::Fenced { .. })
    ));
    // Nothing left to reclaim.
    assert!(repo.reclaim_tables("a1", "a2").await.unwrap().is_empty());
}

async fn concurrent_claimers_split_the_orphans<R: Repository + Cluster>(repo: R) {
    repo.register_node(&node("dead", "dead"), LONG_TTL).await.unwrap();
    let ids: Vec<String> = (0..24).map(|i| format!("t{i:02}")).collect();
    for id in &ids {
        running_table(&repo, id).await;
        claimed(&repo, id, "dead").await;
    }
    for n in ["x", "y", "z"] {
        repo.register_node(&node(&format!("{n}1"), n), LONG_TTL)
            .await
            .unwrap();
    }
    die(&repo, "dead").await;
    let claimers = ["x1", "y1", "z1"].map(|instance| {
        let repo = repo.clone();
        tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let batch = repo.claim_orphans(instance, 3).await.expect("claim");
                if batch.is_empty() {
                    break mine;
                }
                mine.extend(batch.into_iter().map(|(t, epoch)| (t, epoch, instance)));
            }
        })
    });
    let mut all = Vec::new();
    for c in claimers {
        all.extend(c.await.unwrap());
    }
    all.sort();
    // Every table claimed exactly once, at epoch 2, and the lease agrees.
    let tables: Vec<&str> = all.iter().map(|(t, _, _)| t.as_str()).collect();
    assert_eq!(tables, ids.iter().map(String::as_str).collect::<Vec<_>>());
    for (t, epoch, instance) in &all {
        assert_eq!(*epoch, 2);
        let lease = repo.lease(t).await.unwrap().unwrap();
        assert_eq!((lease.owner.as_deref(), lease.epoch), (Some(*instance), 2));
    }
}
