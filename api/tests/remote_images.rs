//! Issue 16 [images]: `save`, `push`, `import`, `distribution`, `changes`
//! and `commit` through `RemoteBackend` and `server::router`: arguments
//! and answers cross the internal API intact (streams both ways).

mod common;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use common::{Server, info, unix_addr};
use futures_util::StreamExt;
use sockerless_api::docker::{
    AuthConfig, ChangeType, CreateImageInfo, DistributionInspect, FilesystemChange, IdResponse,
    OciDescriptor,
};
use sockerless_api::{
    ApiError, Backend, BackendInfo, ByteStream, CommitOptions, ImportImageOptions, ProgressStream,
    PushAux, PushProgress, PushStream, RemoteBackend, Result,
};

struct Images;

#[async_trait]
impl Backend for Images {
    async fn capabilities(&self) -> Result<BackendInfo> {
        Ok(info())
    }

    async fn image_save(&self, names: Vec<String>) -> Result<ByteStream> {
        let text = names.join(",");
        Ok(Box::pin(futures_util::stream::iter([
            Ok(Bytes::from(text)),
            Ok(Bytes::from_static(b"|tar")),
        ])))
    }

    async fn image_push(
        &self,
        name: &str,
        tag: Option<&str>,
        auth: Option<AuthConfig>,
    ) -> Result<PushStream> {
        let user = auth.and_then(|a| a.username).unwrap_or_default();
        let line = PushProgress {
            info: CreateImageInfo {
                status: Some(format!("{name} {} {user}", tag.unwrap_or("-"))),
                ..Default::default()
            },
            aux: Some(PushAux {
                tag: "1".into(),
                digest: "sha256:d".into(),
                size: 3,
            }),
        };
        Ok(Box::pin(futures_util::stream::iter([
            Ok(line),
            Err(ApiError::Unavailable("registry went away".into())),
        ])))
    }

    async fn image_import(
        &self,
        opts: ImportImageOptions,
        mut tarball: ByteStream,
    ) -> Result<ProgressStream> {
        let mut n = 0;
        while let Some(chunk) = tarball.next().await {
            n += chunk?.len();
        }
        let status = format!(
            "{} {n} {}",
            opts.repo.unwrap_or_default(),
            opts.changes.join(";")
        );
        Ok(Box::pin(futures_util::stream::iter([Ok(
            CreateImageInfo {
                status: Some(status),
                ..Default::default()
            },
        )])))
    }

    async fn distribution_inspect(
        &self,
        name: &str,
        auth: Option<AuthConfig>,
    ) -> Result<DistributionInspect> {
        Ok(DistributionInspect {
            descriptor: OciDescriptor {
                digest: Some(format!("{name}:{}", auth.is_some())),
                ..Default::default()
            },
            platforms: Vec::new(),
        })
    }

    async fn container_changes(&self, id: &str) -> Result<Vec<FilesystemChange>> {
        if id == "missing" {
            return Err(ApiError::NotFound("No such container: missing".into()));
        }
        Ok(vec![FilesystemChange {
            path: format!("/{id}"),
            kind: ChangeType::_1,
        }])
    }

    async fn container_commit(&self, opts: CommitOptions) -> Result<IdResponse> {
        Ok(IdResponse {
            id: format!("{}:{}:{}", opts.container, opts.pause, opts.changes.len()),
        })
    }
}

#[tokio::test]
async fn image_transfer_methods_cross_the_internal_api() {
    let dir = tempfile::tempdir().expect("tempdir");
    let addr = unix_addr(&dir, "internal.sock");
    let server = Server::start(
        &addr,
        sockerless_api::server::router(Arc::new(Images)),
        Duration::from_secs(3600),
    )
    .await;
    let client = RemoteBackend::new(server.addr.clone());

    let tar: Vec<u8> = client
        .image_save(vec!["a".into(), "b:1".into()])
        .await
        .expect("save")
        .map(|c| c.expect("chunk"))
        .collect::<Vec<_>>()
        .await
        .concat();
    assert_eq!(tar, b"a,b:1|tar");

    let auth = AuthConfig {
        username: Some("u".into()),
        ..Default::default()
    };
    let pushed: Vec<_> = client
        .image_push("reg/x", Some("1"), Some(auth.clone()))
        .await
        .expect("push")
        .collect()
        .await;
    let first = pushed[0].as_ref().expect("line");
    assert_eq!(first.info.status.as_deref(), Some("reg/x 1 u"));
    assert_eq!(first.aux.as_ref().map(|a| a.size), Some(3));
    assert_eq!(
        pushed[1],
        Err(ApiError::Unavailable("registry went away".into()))
    );

    let body: ByteStream = Box::pin(futures_util::stream::iter([
        Ok(Bytes::from_static(b"12")),
        Ok(Bytes::from_static(b"345")),
    ]));
    let opts = ImportImageOptions {
        repo: Some("imp".into()),
        changes: vec!["CMD x".into(), "ENV a=b".into()],
        ..Default::default()
    };
    let imported: Vec<_> = client
        .image_import(opts, body)
        .await
        .expect("import")
        .collect()
        .await;
    assert_eq!(
        imported[0].as_ref().expect("line").status.as_deref(),
        Some("imp 5 CMD x;ENV a=b")
    );

    let dist = client
        .distribution_inspect("busybox:latest", Some(auth))
        .await
        .expect("distribution");
    assert_eq!(
        dist.descriptor.digest.as_deref(),
        Some("busybox:latest:true")
    );

    let changes = client.container_changes("c1").await.expect("changes");
    assert_eq!(changes[0].path, "/c1");
    assert_eq!(changes[0].kind, ChangeType::_1);
    assert_eq!(
        client.container_changes("missing").await,
        Err(ApiError::NotFound("No such container: missing".into()))
    );

    let id = client
        .container_commit(CommitOptions {
            container: "c1".into(),
            pause: true,
            changes: vec!["CMD x".into()],
            ..Default::default()
        })
        .await
        .expect("commit");
    assert_eq!(id.id, "c1:true:1");
    server.stop().await;
}
