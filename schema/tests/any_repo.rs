//! `AnyRepo`: opening a backend from a database URL, and behaving like the
//! repository inside.

mod helpers;

use helpers::{PgSchema, TempDb, sqlite_repo, table};
use schema::{AnyRepo, PlayerRecord, Repository, StoreError};

fn player(id: &str) -> PlayerRecord {
    PlayerRecord {
        id: id.to_owned(),
        display_name: format!("Player {id}"),
        token_hash: format!("hash-{id}"),
        created_at_ms: 7,
        balance: 321,
    }
}

/// One create/load round trip of a player and a table, and one balance move.
async fn round_trip(repo: &AnyRepo) {
    repo.create_player(&player("p1")).await.unwrap();
    assert_eq!(repo.load_player("p1").await.unwrap(), player("p1"));
    let mut t = table("t1");
    t.settings = r#"{"buy_in":{"min":20,"max":100}}"#.to_owned();
    repo.create_table(&t).await.unwrap();
    assert_eq!(repo.load_table("t1").await.unwrap(), t);
    let b = repo.reserve_buy_in("p1", "t1", 2, 100, 0, 9).await.unwrap();
    assert_eq!(repo.pending_buy_ins("t1").await.unwrap(), vec![b.clone()]);
    assert!(repo.refund_buy_in(b.id).await.unwrap());
    assert_eq!(repo.credit_balance("p1", 9).await.unwrap(), 330);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opens_sqlite_from_every_spelling() {
    for prefix in ["sqlite://", "sqlite:", ""] {
        let db = TempDb::new();
        let url = format!("{prefix}{}", db.path.display());
        let repo = AnyRepo::open(&url).await.unwrap();
        assert!(matches!(repo, AnyRepo::Sqlite(_)), "{url}");
        assert_eq!(repo.backend(), "sqlite");
        round_trip(&repo).await;
        repo.close().await;
        // The data is in the file the URL named.
        let reopened = schema::SqliteRepo::open(&db.path).await.unwrap();
        assert_eq!(reopened.load_player("p1").await.unwrap().balance, 330);
        reopened.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wraps_an_open_repo() {
    let (inner, _db) = sqlite_repo().await;
    let repo = AnyRepo::from(inner.clone());
    round_trip(&repo).await;
    // Both handles see one store.
    assert_eq!(inner.load_player("p1").await.unwrap().balance, 330);
    assert_eq!(
        inner.load_table("t1").await.unwrap(),
        repo.load_table("t1").await.unwrap()
    );
    repo.close().await;
    assert!(matches!(
        inner.load_player("p1").await,
        Err(StoreError::Database {
            op: "load_player",
            ..
        })
    ));
}

/// The in-memory store behind `AnyRepo`: the same round trip, one store
/// shared by every clone, and closing it through `AnyRepo` closes it for all;
/// under paused time, no call moves the clock.
#[tokio::test(start_paused = true)]
async fn wraps_a_memory_repo() {
    let inner = schema::MemoryRepo::new();
    let repo = AnyRepo::from(inner.clone());
    assert!(matches!(repo, AnyRepo::Memory(_)));
    assert_eq!(repo.backend(), "memory");
    let started = tokio::time::Instant::now();
    round_trip(&repo).await;
    assert_eq!(
        tokio::time::Instant::now(),
        started,
        "no store call waits on the clock"
    );
    assert_eq!(inner.load_player("p1").await.unwrap().balance, 330);
    repo.close().await;
    assert!(matches!(
        inner.load_player("p1").await,
        Err(StoreError::Database {
            op: "load_player",
            ..
        })
    ));
}

#[tokio::test]
async fn rejects_unknown_urls() {
    let err = AnyRepo::open("mysql://root:secret@db/showdown")
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::UnsupportedUrl { ref scheme } if scheme == "mysql"),
        "{err:?}"
    );
    assert!(!err.to_string().contains("secret"), "{err}");
    for empty in ["sqlite://", "sqlite:", ""] {
        assert!(
            matches!(
                AnyRepo::open(empty).await,
                Err(StoreError::Connect {
                    backend: "sqlite",
                    ..
                })
            ),
            "{empty:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opens_postgres() {
    let Some(pg) = PgSchema::new("any_repo::opens_postgres") else {
        return;
    };
    // Creates the test's own schema; the URL then points at it.
    pg.connect().await.close().await;
    let sep = if pg.url.contains('?') { '&' } else { '?' };
    let url = format!("{}{sep}options[search_path]={}", pg.url, pg.schema);
    let repo = AnyRepo::open(&url).await.unwrap();
    assert!(matches!(repo, AnyRepo::Postgres(_)));
    assert_eq!(repo.backend(), "postgres");
    round_trip(&repo).await;
    repo.close().await;
    // The long scheme names the same backend.
    if let Some(rest) = url.strip_prefix("postgres://") {
        let repo = AnyRepo::open(&format!("postgresql://{rest}")).await.unwrap();
        assert_eq!(repo.backend(), "postgres");
        assert_eq!(
            repo.load_table("t1").await.unwrap().settings,
            r#"{"buy_in":{"min":20,"max":100}}"#
        );
        repo.close().await;
    }
    let repo = AnyRepo::from(pg.connect().await);
    assert_eq!(repo.load_player("p1").await.unwrap().balance, 330);
    repo.close().await;
}
