//! The SAS blob client against a small in-process blob server: small
//! uploads are one `Put Blob`, large ones blocks and a block list; reads by
//! range; properties with metadata; the SAS query never in an error.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes as AxumBytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Method as AxumMethod, StatusCode as AxumStatus};
use axum::response::{IntoResponse, Response};

use super::*;

#[derive(Default)]
struct Server {
    calls: Vec<String>,
    blocks: HashMap<String, Vec<u8>>,
    blob: Option<Vec<u8>>,
}

type Shared = Arc<Mutex<Server>>;

async fn handle(
    State(state): State<Shared>,
    method: AxumMethod,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: AxumBytes,
) -> Response {
    let q: HashMap<String, String> =
        url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let mut s = state.lock().expect("lock");
    if q.get("sig").map(String::as_str) != Some("secret") {
        return (
            AxumStatus::FORBIDDEN,
            [("x-ms-error-code", "AuthenticationFailed")],
        )
            .into_response();
    }
    let comp = q.get("comp").cloned().unwrap_or_default();
    s.calls.push(format!("{method} {comp} {}", body.len()));
    match (method.as_str(), comp.as_str()) {
        ("PUT", "block") => {
            let id = q.get("blockid").cloned().unwrap_or_default();
            s.blocks.insert(id, body.to_vec());
            AxumStatus::CREATED.into_response()
        }
        ("PUT", "blocklist") => {
            let xml = String::from_utf8_lossy(&body).to_string();
            let mut blob = Vec::new();
            for part in xml.split("<Latest>").skip(1) {
                let id = part.split("</Latest>").next().unwrap_or_default();
                blob.extend_from_slice(&s.blocks[id]);
            }
            s.blob = Some(blob);
            AxumStatus::CREATED.into_response()
        }
        ("PUT", _) => {
            assert_eq!(headers["x-ms-blob-type"], "BlockBlob");
            s.blob = Some(body.to_vec());
            AxumStatus::CREATED.into_response()
        }
        ("HEAD", _) => match &s.blob {
            Some(b) => (
                [
                    ("content-length", b.len().to_string()),
                    ("x-ms-meta-Complete", "successful".to_owned()),
                ],
                (),
            )
                .into_response(),
            None => AxumStatus::NOT_FOUND.into_response(),
        },
        ("GET", _) => {
            let Some(b) = s.blob.clone() else {
                return AxumStatus::NOT_FOUND.into_response();
            };
            let range = headers["range"].to_str().expect("range").to_owned();
            let (from, to) = range
                .trim_start_matches("bytes=")
                .split_once('-')
                .expect("range");
            let from: usize = from.parse().expect("from");
            let to: usize = to.parse().expect("to");
            if from >= b.len() {
                return (
                    AxumStatus::RANGE_NOT_SATISFIABLE,
                    [("x-ms-error-code", "InvalidRange")],
                )
                    .into_response();
            }
            (
                AxumStatus::PARTIAL_CONTENT,
                b[from..b.len().min(to + 1)].to_vec(),
            )
                .into_response()
        }
        _ => AxumStatus::METHOD_NOT_ALLOWED.into_response(),
    }
}

async fn server() -> (String, Shared) {
    let state: Shared = Arc::default();
    let app = axum::Router::new()
        .fallback(handle)
        .layer(axum::extract::DefaultBodyLimit::max(16 << 20))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (
        format!("http://{addr}/acct/src/x.tar.gz?sv=1&sig=secret"),
        state,
    )
}

fn chunks(
    data: &[u8],
    size: usize,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + use<> {
    let parts: Vec<Result<Bytes, std::io::Error>> = data
        .chunks(size)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    futures_util::stream::iter(parts)
}

#[test]
fn block_ids_share_a_length_and_the_list_keeps_their_order() {
    assert_eq!(block_id(0).len(), block_id(49_999).len());
    let xml = block_list_xml(2);
    let first = xml.find(&block_id(0)).expect("first");
    let second = xml.find(&block_id(1)).expect("second");
    assert!(first < second);
}

#[tokio::test]
async fn a_small_upload_is_one_put_and_reads_back_by_range() {
    let (url, state) = server().await;
    let client = BlobClient::new();
    let sent = client
        .upload_stream(&url, chunks(b"hello world", 3))
        .await
        .expect("upload");
    assert_eq!(sent, 11);
    assert_eq!(state.lock().expect("lock").calls, ["PUT  11"]);
    let props = client
        .properties(&url)
        .await
        .expect("head")
        .expect("exists");
    assert_eq!(props.length, 11);
    assert_eq!(props.metadata["complete"], "successful");
    assert_eq!(
        &client.read_range(&url, 6, 100).await.expect("read")[..],
        b"world"
    );
    assert!(
        client
            .read_range(&url, 11, 100)
            .await
            .expect("past the end")
            .is_empty()
    );
}

#[tokio::test]
async fn a_large_upload_goes_in_blocks_in_order() {
    let (url, state) = server().await;
    let data: Vec<u8> = (0..(BLOCK_SIZE * 2 + 1000))
        .map(|i| (i % 251) as u8)
        .collect();
    let sent = BlobClient::new()
        .upload_stream(&url, chunks(&data, 100_000))
        .await
        .expect("upload");
    assert_eq!(sent, data.len() as u64);
    let s = state.lock().expect("lock");
    assert_eq!(
        s.calls,
        [
            format!("PUT block {BLOCK_SIZE}"),
            format!("PUT block {BLOCK_SIZE}"),
            "PUT block 1000".to_owned(),
            format!("PUT blocklist {}", block_list_xml(3).len()),
        ]
    );
    assert_eq!(s.blob.as_deref(), Some(&data[..]));
}

#[tokio::test]
async fn a_refused_sas_is_denied_without_its_signature_in_the_message() {
    let (url, _) = server().await;
    let bad = url.replace("sig=secret", "sig=wrong");
    let err = BlobClient::new()
        .upload_stream(&bad, chunks(b"x", 1))
        .await
        .expect_err("refused");
    assert_eq!(err.kind(), crate::ErrorKind::Denied);
    assert!(!err.to_string().contains("wrong"), "{err}");
    assert!(client_missing(&url).await);
}

async fn client_missing(url: &str) -> bool {
    BlobClient::new()
        .properties(url)
        .await
        .expect("head")
        .is_none()
}

#[tokio::test]
async fn an_input_error_is_invalid_input() {
    let (url, _) = server().await;
    let input = futures_util::stream::iter([
        Ok(Bytes::from_static(b"abc")),
        Err(std::io::Error::other("client went away")),
    ]);
    let err = BlobClient::new()
        .upload_stream(&url, input)
        .await
        .expect_err("input error");
    assert_eq!(err.kind(), crate::ErrorKind::InvalidInput);
}
