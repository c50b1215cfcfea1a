//! The Azure Files data plane: Shared Key, shares, directories, listings, deletes.

mod common;

use axum::http::{HeaderMap as AxHeaders, HeaderValue, Method as AxMethod, Uri};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use sha2::Sha256;
use sockerless_azure_sim::files::sharedkey::string_to_sign;
use sockerless_azure_sim::{RunningSim, Simulator, StorageAccountSeed};

const ACCOUNT: &str = "sockerlesssim";

struct Files {
    sim: RunningSim,
    http: reqwest::Client,
    key: String,
}

struct Reply {
    status: StatusCode,
    code: Option<String>,
    body: String,
}

impl Files {
    async fn start() -> Files {
        let sim = Simulator::start(common::fast_config()).await.expect("sim");
        Files {
            sim,
            http: reqwest::Client::new(),
            key: StorageAccountSeed::default().key,
        }
    }

    fn now() -> String {
        chrono::Utc::now()
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string()
    }

    /// A request signed with `key`, with `extra` x-ms headers.
    async fn call_with(
        &self,
        method: Method,
        path_query: &str,
        extra: &[(&str, &str)],
        key: &str,
        version: bool,
    ) -> Reply {
        let url = format!("{}{path_query}", self.sim.file_endpoint(ACCOUNT));
        let mut headers = AxHeaders::new();
        headers.insert(
            "x-ms-date",
            HeaderValue::from_str(&Self::now()).expect("date"),
        );
        if version {
            headers.insert("x-ms-version", HeaderValue::from_static("2025-01-05"));
        }
        for (k, v) in extra {
            headers.insert(
                axum::http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                HeaderValue::from_str(v).expect("header"),
            );
        }
        if method == Method::PUT {
            headers.insert("content-length", HeaderValue::from_static("0"));
        }
        let uri: Uri = url.parse().expect("uri");
        let ax_method = AxMethod::from_bytes(method.as_str().as_bytes()).expect("method");
        let sts = string_to_sign(&ax_method, &uri, &headers, ACCOUNT);
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&STANDARD.decode(key).expect("key")).expect("mac");
        mac.update(sts.as_bytes());
        let sig = STANDARD.encode(mac.finalize().into_bytes());
        let mut req = self.http.request(method, &url);
        for (k, v) in &headers {
            req = req.header(k.as_str(), v.to_str().expect("ascii"));
        }
        let resp = req
            .header("authorization", format!("SharedKey {ACCOUNT}:{sig}"))
            .send()
            .await
            .expect("send");
        let status = resp.status();
        let code = resp
            .headers()
            .get("x-ms-error-code")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Reply {
            status,
            code,
            body: resp.text().await.expect("body"),
        }
    }

    async fn call(&self, method: Method, path_query: &str, extra: &[(&str, &str)]) -> Reply {
        let key = self.key.clone();
        self.call_with(method, path_query, extra, &key, true).await
    }

    async fn mkdir(&self, path: &str) -> Reply {
        self.call(
            Method::PUT,
            &format!("{path}?restype=directory"),
            &[
                ("x-ms-file-attributes", "Directory"),
                ("x-ms-file-permission", "inherit"),
            ],
        )
        .await
    }
}

#[tokio::test]
async fn shares_directories_listing_and_deletes() {
    let f = Files::start().await;
    let r = f.call(Method::PUT, "/vols?restype=share", &[]).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = f.call(Method::PUT, "/vols?restype=share", &[]).await;
    assert_eq!(
        (r.status, r.code.as_deref()),
        (StatusCode::CONFLICT, Some("ShareAlreadyExists"))
    );

    assert_eq!(f.mkdir("/vols/v1").await.status, StatusCode::CREATED);
    let r = f.mkdir("/vols/v1").await;
    assert_eq!(r.code.as_deref(), Some("ResourceAlreadyExists"));
    let r = f.mkdir("/vols/nope/deeper").await;
    assert_eq!(
        (r.status, r.code.as_deref()),
        (StatusCode::NOT_FOUND, Some("ParentNotFound"))
    );
    let r = f.call(Method::PUT, "/vols/v2?restype=directory", &[]).await;
    assert_eq!(r.code.as_deref(), Some("MissingRequiredHeader"));
    let r = f.mkdir("/vols/bad%3Aname").await;
    assert_eq!(r.code.as_deref(), Some("InvalidResourceName"));
    let r = f.mkdir("/nosuchshare/v1").await;
    assert_eq!(r.code.as_deref(), Some("ShareNotFound"));

    // What a replica writes lands in the share's directory.
    let dir = sockerless_azure_sim::arm::storage::share_dir(f.sim.data_dir(), ACCOUNT, "vols")
        .expect("share dir")
        .join("v1");
    std::fs::create_dir_all(dir.join("sub")).expect("mkdir");
    std::fs::write(dir.join("a b&c"), b"abc").expect("write");
    std::fs::write(dir.join("sub/x"), b"x").expect("write");
    std::os::unix::fs::symlink("/etc", dir.join("link")).expect("symlink");

    let r = f
        .call(Method::GET, "/vols/v1?restype=directory&comp=list", &[])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body
            .contains("<File><Name>a b&amp;c</Name><Properties><Content-Length>3</Content-Length>"),
        "{}",
        r.body
    );
    assert!(r.body.contains("<Directory><Name>sub</Name>"), "{}", r.body);
    assert!(
        r.body.contains("<File><Name>link</Name>"),
        "a symlink is listed as a file: {}",
        r.body
    );
    let r = f
        .call(
            Method::GET,
            "/vols/v1?restype=directory&comp=list&maxresults=1",
            &[],
        )
        .await;
    assert!(
        r.body.contains("<NextMarker>link</NextMarker>"),
        "{}",
        r.body
    );
    let r = f
        .call(
            Method::GET,
            "/vols/v1?restype=directory&comp=list&maxresults=2&marker=link",
            &[],
        )
        .await;
    assert!(
        r.body.contains("<Name>link</Name>")
            && r.body.contains("<Name>sub</Name>")
            && !r.body.contains("a b"),
        "{}",
        r.body
    );
    assert!(r.body.contains("<NextMarker></NextMarker>"), "{}", r.body);
    let r = f
        .call(Method::GET, "/vols?restype=directory&comp=list", &[])
        .await;
    assert!(r.body.contains("<Directory><Name>v1</Name>"), "{}", r.body);

    let r = f
        .call(Method::DELETE, "/vols/v1?restype=directory", &[])
        .await;
    assert_eq!(
        (r.status, r.code.as_deref()),
        (StatusCode::CONFLICT, Some("DirectoryNotEmpty"))
    );
    for file in ["/vols/v1/a%20b%26c", "/vols/v1/sub/x", "/vols/v1/link"] {
        let r = f.call(Method::DELETE, file, &[]).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{file}: {}", r.body);
    }
    assert!(
        std::path::Path::new("/etc/passwd").exists(),
        "the link target is untouched"
    );
    let r = f.call(Method::DELETE, "/vols/v1/sub", &[]).await;
    assert_eq!(r.code.as_deref(), Some("ResourceTypeMismatch"));
    assert_eq!(
        f.call(Method::DELETE, "/vols/v1/sub?restype=directory", &[])
            .await
            .status,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        f.call(Method::DELETE, "/vols/v1?restype=directory", &[])
            .await
            .status,
        StatusCode::ACCEPTED
    );
    let r = f
        .call(Method::DELETE, "/vols/v1?restype=directory", &[])
        .await;
    assert_eq!(
        (r.status, r.code.as_deref()),
        (StatusCode::NOT_FOUND, Some("ResourceNotFound"))
    );
    assert!(!dir.exists());
}

#[tokio::test]
async fn shared_key_is_checked() {
    let f = Files::start().await;
    let wrong = STANDARD.encode(b"not the key");
    let r = f
        .call_with(Method::PUT, "/vols?restype=share", &[], &wrong, true)
        .await;
    assert_eq!(
        (r.status, r.code.as_deref()),
        (StatusCode::FORBIDDEN, Some("AuthenticationFailed"))
    );
    assert!(r.body.contains("string to sign"), "{}", r.body);
    let key = f.key.clone();
    let r = f
        .call_with(Method::PUT, "/vols?restype=share", &[], &key, false)
        .await;
    assert_eq!(r.code.as_deref(), Some("MissingRequiredHeader"));
    let r = f
        .http
        .put(format!(
            "{}/vols?restype=share",
            f.sim.file_endpoint(ACCOUNT)
        ))
        .header("x-ms-version", "2025-01-05")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = f
        .http
        .get(format!(
            "{}/vols?restype=share",
            f.sim.file_endpoint("nosuchaccount")
        ))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}
