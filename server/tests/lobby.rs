//! The lobby's paging: `GET /api/tables?after=ID&limit=N` walks every table
//! that is not closed, live or stored, in id order, one page at a time,
//! with `next` as the cursor; bad `limit` and `after` values are 400s.

mod helpers;

use std::collections::BTreeSet;

use game_core::{DealKey, TableConfig};
use helpers::TestServer;
use schema::{Repository, TableRecord, TableStatus};
use serde_json::{Value, json};

/// A table that exists only in the store (never loaded, so never live).
fn stored(id: &str, status: TableStatus) -> TableRecord {
    TableRecord {
        id: id.to_owned(),
        name: format!("Stored {id}"),
        config: TableConfig {
            seats: 6,
            small_blind: 1,
            big_blind: 2,
            ante: 0,
        },
        status,
        created_at_ms: schema::now_ms(),
        settings: "{}".to_owned(),
        deal_key: DealKey::from_bytes([7; 32]),
    }
}

/// The ids of a page, checking its shape on the way.
fn page_ids(page: &Value) -> Vec<String> {
    let tables = page["tables"]
        .as_array()
        .unwrap_or_else(|| panic!("no tables: {page}"));
    assert!(page.get("next").is_some(), "a page always has `next`: {page}");
    tables
        .iter()
        .map(|t| t["id"].as_str().expect("an id").to_owned())
        .collect()
}

/// Every page from the start with `query` (e.g. `limit=7`), following `next`.
async fn walk(server: &TestServer, query: &str) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            None if query.is_empty() => "/api/tables".to_owned(),
            None => format!("/api/tables?{query}"),
            Some(id) if query.is_empty() => format!("/api/tables?after={id}"),
            Some(id) => format!("/api/tables?{query}&after={id}"),
        };
        let (status, page) = server.get_json(&path).await;
        assert_eq!(status, 200, "{path}: {page}");
        let ids = page_ids(&page);
        match page["next"].as_str() {
            Some(next) => {
                assert_eq!(
                    Some(next),
                    ids.last().map(String::as_str),
                    "`next` is the page's last id"
                );
                after = Some(next.to_owned());
                pages.push(ids);
            }
            None => {
                assert!(page["next"].is_null(), "{page}");
                pages.push(ids);
                return pages;
            }
        }
        assert!(pages.len() < 1000, "the walk never ends");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lobby_pages_through_every_table_in_id_order() {
    let server = TestServer::start("lobby-pages").await;
    let (_, ann) = server.register("Ann").await;
    let mut live = BTreeSet::new();
    for n in 0..3 {
        let id = server
            .create_table(
                &ann,
                json!({"name": format!("Live {n}"), "seats": 2, "small_blind": 1, "big_blind": 2}),
            )
            .await;
        live.insert(id);
    }
    let repo = &server.server.app().repo;
    let mut expected: BTreeSet<String> = live.clone();
    for _ in 0..102 {
        let id = server::auth::new_id("t_");
        repo.create_table(&stored(&id, TableStatus::Open))
            .await
            .expect("store a table");
        expected.insert(id);
    }
    let running = server::auth::new_id("t_");
    repo.create_table(&stored(&running, TableStatus::Open))
        .await
        .expect("store");
    repo.set_table_status(&running, TableStatus::Running)
        .await
        .expect("status");
    expected.insert(running);
    let closed = server::auth::new_id("t_");
    repo.create_table(&stored(&closed, TableStatus::Closed))
        .await
        .expect("store");
    let expected: Vec<String> = expected.into_iter().collect();
    assert_eq!(expected.len(), 106);

    // No parameters: the first 100 (the default page), then the rest.
    let pages = walk(&server, "").await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), vec![100, 6]);
    assert_eq!(
        pages.concat(),
        expected,
        "every open table once, in id order, no closed one"
    );

    // Small pages walk the same list.
    let pages = walk(&server, "limit=7").await;
    assert_eq!(pages.len(), 106usize.div_ceil(7));
    assert!(pages.iter().all(|p| p.len() <= 7));
    assert_eq!(pages.concat(), expected);

    // One page of the largest size holds them all; the last page says so.
    let (status, all) = server.get_json("/api/tables?limit=500").await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(page_ids(&all), expected);
    assert!(all["next"].is_null(), "{all}");

    // Live tables carry their live line; stored ones the stored line.
    for line in all["tables"].as_array().expect("tables") {
        let id = line["id"].as_str().expect("id");
        assert_eq!(line["live"], json!(live.contains(id)), "{line}");
        if live.contains(id) {
            assert_eq!(line["seated"], 0, "{line}");
        } else {
            assert_eq!(line["name"], format!("Stored {id}"), "{line}");
            assert!(line.get("seated").is_none(), "{line}");
        }
    }

    // The cursor is a position: any id-like value works, a table or not.
    let (status, tail) = server
        .get_json(&format!("/api/tables?after={}&limit=500", expected[103]))
        .await;
    assert_eq!(status, 200, "{tail}");
    assert_eq!(page_ids(&tail), expected[104..].to_vec());
    let (status, past) = server.get_json("/api/tables?after=zzz").await;
    assert_eq!(status, 200, "{past}");
    assert_eq!(past, json!({"tables": [], "next": null}));

    // A page that ends exactly at the last table has no `next`.
    let (status, exact) = server
        .get_json(&format!("/api/tables?after={}&limit=2", expected[103]))
        .await;
    assert_eq!(status, 200, "{exact}");
    assert_eq!(page_ids(&exact), expected[104..].to_vec());
    assert!(exact["next"].is_null(), "{exact}");
    server.server.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_paging_values_answer_400() {
    let server = TestServer::start("lobby-bad-paging").await;
    let long = "t".repeat(65);
    let cases = [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=-1", "limit"),
        ("limit=abc", "limit"),
        ("limit=1.5", "limit"),
        ("limit=", "limit"),
        ("limit=99999999999999999999999", "limit"),
        ("after=", "after"),
        ("after=t_%21x", "after"),
        ("after=t_1%20", "after"),
        ("after=%00", "after"),
        (&format!("after={long}"), "after"),
        ("limit=1&limit=2", "limit"),
    ];
    for (query, names) in cases {
        let (status, body) = server.get_json(&format!("/api/tables?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error"]["code"], "invalid_request", "{query}: {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(names),
            "{query}: the message names `{names}`: {body}"
        );
    }
    // Good values next to an unknown parameter still work.
    let (status, body) = server.get_json("/api/tables?limit=500&after=t_0&extra=1").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"tables": [], "next": null}));
    server.server.shutdown().await.expect("clean shutdown");
}
