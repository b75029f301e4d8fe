//! A TCP proxy in front of the database that a test can cut, to play a
//! network partition between one server and its store. Declared by the
//! tests that use it with `#[path = "helpers/proxy.rs"] mod proxy;`.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

/// A TCP proxy to the database that can be cut: existing connections are
/// dropped and new ones refused until it is restored.
pub struct Proxy {
    pub addr: SocketAddr,
    open: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<AbortHandle>>>,
}

impl Proxy {
    pub async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let open = Arc::new(AtomicBool::new(true));
        let links: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let (o, l) = (open.clone(), links.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !o.load(Ordering::SeqCst) {
                    continue; // dropped: connection refused, in effect
                }
                let upstream = upstream.clone();
                let link = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                l.lock().push(link.abort_handle());
            }
        });
        Proxy { addr, open, links }
    }

    pub fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for link in self.links.lock().drain(..) {
            link.abort();
        }
    }

    pub fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

/// `url` with its host:port replaced by `addr`.
pub fn via(url: &str, addr: SocketAddr) -> (String, String) {
    let start = url
        .find('@')
        .map_or_else(|| url.find("://").map_or(0, |i| i + 3), |i| i + 1);
    let end = url[start..].find('/').map_or(url.len(), |i| start + i);
    (
        format!("{}{addr}{}", &url[..start], &url[end..]),
        url[start..end].to_owned(),
    )
}
