//! The database goes away mid-run: Postgres kills every connection of the
//! store, once between commits (the pool reconnects: no error) and once in
//! the middle of one (its callers get a typed error). Callers
//! re-send from their last durable seq, and the logs end up complete and
//! gap-free.

mod helpers;

use helpers::{PgSchema, events, log, table};
use schema::{EventWriter, Repository, StoreError, WriterConfig};

const TABLES: usize = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_connections_killed_mid_run() {
    let Some(pg) = PgSchema::new("postgres_connections_killed_mid_run") else {
        return;
    };
    let repo = pg.connect().await;
    for t in 0..TABLES {
        repo.create_table(&table(&format!("o{t}"))).await.unwrap();
    }
    let admin = sqlx::PgPool::connect(&pg.url).await.unwrap();
    let (writer, _task) = EventWriter::spawn(repo.clone(), WriterConfig::default());
    let mut acked = [0u64; TABLES];
    let mut errors = Vec::new();
    for round in 0..20 {
        if round % 5 == 4 {
            // Kill every connection of this store's pool (they carry the schema as application_name).
            sqlx::query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE application_name = $1 AND pid <> pg_backend_pid()",
            )
            .bind(&pg.schema)
            .execute(&admin)
            .await
            .unwrap();
        }
        if round == 12 {
            // Kill the connections while a commit is in flight: hold a lock
            // so the insert waits, then terminate it mid-statement.
            let mut lock = admin.begin().await.unwrap();
            let sql = format!("LOCK TABLE {}.table_events IN ACCESS EXCLUSIVE MODE", pg.schema);
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut *lock)
                .await
                .unwrap();
            let receipt = writer
                .append(events("o0", acked[0] + 1, acked[0] + 3))
                .await
                .unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            sqlx::query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE application_name = $1 AND pid <> pg_backend_pid()",
            )
            .bind(&pg.schema)
            .execute(&admin)
            .await
            .unwrap();
            let err = receipt.durable().await.unwrap_err();
            assert!(
                matches!(
                    err,
                    StoreError::Database {
                        op: "append_events",
                        ..
                    }
                ),
                "{err:?}"
            );
            errors.push(err.to_string());
            lock.rollback().await.unwrap();
        }
        for (t, acked) in acked.iter_mut().enumerate() {
            let id = format!("o{t}");
            // Re-send everything since the last acknowledgement.
            match writer
                .append_durable(events(&id, *acked + 1, (round + 1) * 10))
                .await
            {
                Ok(()) => *acked = (round + 1) * 10,
                Err(e) => {
                    assert!(matches!(e, StoreError::Database { .. }), "{e:?}");
                    errors.push(e.to_string());
                }
            }
        }
    }
    // Whatever failed is sent again once more.
    for (t, acked) in acked.iter_mut().enumerate() {
        let id = format!("o{t}");
        writer.append_durable(events(&id, *acked + 1, 200)).await.unwrap();
        *acked = 200;
    }
    for t in 0..TABLES {
        let id = format!("o{t}");
        assert_eq!(
            repo.events_since(&id, 0, 1000).await.unwrap(),
            events(&id, 1, 200)
        );
    }
    assert!(!errors.is_empty(), "the in-flight commit must fail");
    log(format!(
        "outage: {} append(s) failed while connections were killed; first: {:?}",
        errors.len(),
        errors.first()
    ));
    repo.close().await;
    admin.close().await;
}
