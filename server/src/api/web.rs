//! The browser client (`web/`), embedded in the binary so one file deploys:
//! `/` is `index.html` and every other file is `/static/NAME`. With
//! `SHOWDOWN_WEB_DIR` set to a folder, files are read from it on each
//! request instead (edit, reload, no rebuild); only plain file names with a
//! known extension are served from it, so nothing else on disk leaks.
//!
//! Every response carries an `ETag` and `Cache-Control: no-cache`: a
//! browser revalidates on each load (a 304 when nothing changed), so a new
//! binary is never hidden behind a stale cache.

use std::sync::OnceLock;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use super::ApiError;
use crate::app::App;
use crate::protocol::{ErrorCode, Failure};

/// The environment variable naming a folder served instead of the embedded files.
pub const WEB_DIR_ENV: &str = "SHOWDOWN_WEB_DIR";

/// One file of the client, as compiled in.
struct Asset {
    name: &'static str,
    body: &'static [u8],
}

macro_rules! assets {
    ($($name:literal),* $(,)?) => {
        &[$(Asset { name: $name, body: include_bytes!(concat!("../../../web/", $name)) }),*]
    };
}

/// Every file of the client. A test checks that this list and `web/` agree.
const ASSETS: &[Asset] = assets![
    "index.html",
    "app.js",
    "api.js",
    "connection.js",
    "cards.js",
    "lobby.js",
    "table.js",
    "table-state.js",
    "experiments.js",
    "chart.js",
    "style.css",
    "favicon.svg",
];

/// The policy for every client file: scripts and styles from this origin
/// only, the WebSocket to this origin, no framing.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The client's routes: `/` and `/static/{name}`.
pub fn routes() -> Router<App> {
    Router::new()
        .route("/", get(index))
        .route("/static/{name}", get(file))
}

async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

async fn file(Path(name): Path<String>, headers: HeaderMap) -> Response {
    serve(&name, &headers)
}

/// The folder from `SHOWDOWN_WEB_DIR`, read once.
fn web_dir() -> Option<&'static std::path::Path> {
    static DIR: OnceLock<Option<std::path::PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        std::env::var_os(WEB_DIR_ENV)
            .filter(|v| !v.is_empty())
            .map(std::path::PathBuf::from)
    })
    .as_deref()
}

fn serve(name: &str, headers: &HeaderMap) -> Response {
    let Some(content_type) = content_type(name) else {
        return not_found(name);
    };
    match web_dir() {
        Some(dir) => match std::fs::read(dir.join(name)) {
            Ok(body) => {
                let etag = etag(&body);
                respond(content_type, etag, body, headers)
            }
            Err(_) => not_found(name),
        },
        None => match embedded(name) {
            Some((body, etag)) => respond(content_type, etag.to_owned(), body.to_vec(), headers),
            None => not_found(name),
        },
    }
}

/// The embedded file `name` and its ETag (hashed once per process).
fn embedded(name: &str) -> Option<(&'static [u8], &'static str)> {
    static ETAGS: OnceLock<Vec<String>> = OnceLock::new();
    let etags = ETAGS.get_or_init(|| ASSETS.iter().map(|a| etag(a.body)).collect());
    let index = ASSETS.iter().position(|a| a.name == name)?;
    Some((ASSETS[index].body, etags[index].as_str()))
}

fn etag(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

fn respond(content_type: &'static str, etag: String, body: Vec<u8>, headers: &HeaderMap) -> Response {
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, content_type)], body).into_response()
    };
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    if let Ok(value) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, value);
    }
    response
}

/// The content type of a servable file name; `None` for anything else (a
/// path, a hidden file, an unknown extension).
fn content_type(name: &str) -> Option<&'static str> {
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if !plain {
        return None;
    }
    let (_, extension) = name.rsplit_once('.')?;
    Some(match extension {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "json" => "application/json",
        _ => return None,
    })
}

fn not_found(name: &str) -> Response {
    ApiError(Failure::new(
        ErrorCode::InvalidRequest,
        format!("no such file: {name}"),
    ))
    .with_status(StatusCode::NOT_FOUND)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embeds_every_client_file() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../web");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .expect("web/ exists")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| content_type(n).is_some())
            .collect();
        on_disk.sort();
        let mut embedded: Vec<String> = ASSETS.iter().map(|a| a.name.to_owned()).collect();
        embedded.sort();
        assert_eq!(on_disk, embedded, "web/ and the ASSETS list in api/web.rs differ");
    }

    #[test]
    fn serves_only_plain_names() {
        assert_eq!(content_type("app.js"), Some("text/javascript; charset=utf-8"));
        assert_eq!(content_type("../Cargo.toml"), None);
        assert_eq!(content_type(".gitignore"), None);
        assert_eq!(content_type("e2e"), None);
        assert_eq!(content_type("a/b.js"), None);
        assert_eq!(content_type("x.exe"), None);
    }
}
