//! One case per `Backend` method: the call made through `RemoteBackend`,
//! the arguments the backend must see, and the answer compared with the
//! canned one.

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use sockerless_api::docker::{
    AuthConfig, ContainerCreateBody, ContainerUpdateBody, ExecConfig, ExecStartConfig,
    NetworkConnectRequest, NetworkCreateRequest, NetworkDisconnectRequest, VolumeCreateRequest,
};
use sockerless_api::{
    AttachOptions, AttachedOutput, Backend, ByteStream, CommitOptions, CreateContainerRequest,
    Filters, ImportImageOptions, InputStream, ListContainersOptions, ListImagesOptions,
    LogsOptions, PullImageOptions, RemoteBackend, RemoveContainerOptions, RemoveImageOptions,
    Result, StopOptions, WaitCondition,
};

use super::answers::answer;

/// What came back and what should have.
pub(super) type Outcome = (Value, Value);
type Run = Box<dyn Fn(RemoteBackend) -> Pin<Box<dyn Future<Output = Outcome> + Send>>>;

/// One method's case.
pub struct Case {
    pub op: &'static str,
    pub args: Value,
    pub run: Run,
}

pub(super) fn case<F, Fut>(op: &'static str, args: Value, run: F) -> Case
where
    F: Fn(RemoteBackend) -> Fut + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    Case {
        op,
        args,
        run: Box::new(move |b| Box::pin(run(b))),
    }
}

/// An ID with characters that must survive as one path segment.
const ID: &str = "c/1:x y%";

pub(super) fn j(x: impl Serialize) -> Value {
    serde_json::to_value(x).expect("serializes")
}

fn filters() -> Filters {
    [("label".to_owned(), vec!["a=b".to_owned(), "c".to_owned()])].into()
}

pub(super) fn login() -> Option<AuthConfig> {
    Some(AuthConfig {
        username: Some("user".into()),
        password: Some("secret".into()),
        serveraddress: Some("registry.example".into()),
    })
}

fn stdin(text: &'static str) -> Option<InputStream> {
    Some(Box::pin(futures_util::stream::iter([Bytes::from_static(
        text.as_bytes(),
    )])))
}

pub(super) fn upload(text: &'static str) -> ByteStream {
    let (a, b) = text.split_at(text.len() / 2);
    let chunks = [
        Ok(Bytes::from_static(a.as_bytes())),
        Ok(Bytes::from_static(b.as_bytes())),
    ];
    Box::pin(futures_util::stream::iter(chunks))
}

/// The answer as `T`, compared as JSON with the canned one read as `T`.
fn back<T: Serialize + DeserializeOwned>(op: &str, got: Result<T>) -> Outcome {
    let got = got.unwrap_or_else(|e| panic!("{op}: {e:?}"));
    let want: T = serde_json::from_value(answer(op)).expect("canned answer");
    (j(got), j(want))
}

pub(super) async fn items_back<T: Serialize + DeserializeOwned>(
    op: &str,
    got: Result<Pin<Box<dyn Stream<Item = Result<T>> + Send>>>,
) -> Outcome {
    let stream = got.unwrap_or_else(|e| panic!("{op}: {e:?}"));
    let items: Result<Vec<T>> = stream.collect::<Vec<_>>().await.into_iter().collect();
    back(op, items)
}

async fn bytes_back(op: &str, got: Result<ByteStream>) -> Outcome {
    let mut stream = got.unwrap_or_else(|e| panic!("{op}: {e:?}"));
    let mut all = Vec::new();
    while let Some(chunk) = stream.next().await {
        all.extend_from_slice(&chunk.unwrap_or_else(|e| panic!("{op}: {e:?}")));
    }
    (json!(String::from_utf8_lossy(&all)), answer(op))
}

/// Output chunks as `{"tty", "out"}`; `echoed` is the stdin the fake echoes.
async fn output_back(op: &str, got: Result<AttachedOutput>, echoed: Option<&str>) -> Outcome {
    let out = got.unwrap_or_else(|e| panic!("{op}: {e:?}"));
    let chunks: Vec<Value> = out
        .output
        .map(|c| {
            let c = c.unwrap_or_else(|e| panic!("{op}: {e:?}"));
            json!([c.stream.as_byte(), String::from_utf8_lossy(&c.data)])
        })
        .collect()
        .await;
    let mut want = answer(op);
    if let (Some(text), Some(list)) = (echoed, want["out"].as_array_mut()) {
        list.push(json!([1, text]));
    }
    (json!({"tty": out.tty, "out": chunks}), want)
}

/// Every method's case, in the trait's order.
pub fn all() -> Vec<Case> {
    let mut cases = system();
    cases.extend(containers());
    cases.extend(exec_and_images());
    cases.extend(super::build_case::cases());
    cases.extend(networks_and_volumes());
    cases
}

fn system() -> Vec<Case> {
    vec![
        case("capabilities", json!([]), |b| async move {
            back("capabilities", b.capabilities().await)
        }),
        case("ping", json!([]), |b| async move {
            back("ping", b.ping().await)
        }),
        case("system_info", json!([]), |b| async move {
            back("system_info", b.system_info().await)
        }),
        case("system_version", json!([]), |b| async move {
            back("system_version", b.system_version().await)
        }),
        case("auth", json!([j(login())]), |b| async move {
            let config = login().unwrap_or_default();
            back("auth", b.auth(config).await)
        }),
        case("events", json!([5, 9, j(filters())]), |b| async move {
            items_back("events", b.events(Some(5), Some(9), filters()).await).await
        }),
    ]
}

fn create_request() -> CreateContainerRequest {
    CreateContainerRequest {
        name: Some("web".into()),
        platform: Some("linux/amd64".into()),
        config: ContainerCreateBody {
            image: Some("busybox".into()),
            cmd: Some(vec!["sh".into(), "-c".into(), "true".into()]),
            ..Default::default()
        },
    }
}

fn stop() -> StopOptions {
    StopOptions {
        signal: Some("SIGTERM".into()),
        timeout_secs: Some(3),
    }
}

fn logs() -> LogsOptions {
    LogsOptions {
        follow: true,
        stdout: true,
        stderr: true,
        since_nanos: Some(1),
        until_nanos: Some(2),
        timestamps: true,
        tail: Some(10),
    }
}

fn attach() -> AttachOptions {
    AttachOptions {
        stream: true,
        stdin: true,
        stdout: true,
        detach_keys: Some("ctrl-p,ctrl-q".into()),
        ..Default::default()
    }
}

fn update() -> ContainerUpdateBody {
    ContainerUpdateBody {
        cpu_shares: Some(512),
        ..Default::default()
    }
}

fn commit() -> CommitOptions {
    CommitOptions {
        container: ID.into(),
        repo: Some("repo/x".into()),
        tag: Some("1".into()),
        comment: Some("c".into()),
        author: Some("a".into()),
        pause: true,
        changes: vec!["ENV A=1".into()],
        config: None,
    }
}

fn containers() -> Vec<Case> {
    vec![
        case(
            "container_create",
            json!([j(create_request())]),
            |b| async move {
                back(
                    "container_create",
                    b.container_create(create_request()).await,
                )
            },
        ),
        case("container_start", json!([ID]), |b| async move {
            back("container_start", b.container_start(ID).await)
        }),
        case("container_inspect", json!([ID]), |b| async move {
            back("container_inspect", b.container_inspect(ID).await)
        }),
        case(
            "container_list",
            json!([j(ListContainersOptions {
                all: true,
                limit: Some(2),
                size: true,
                filters: filters()
            })]),
            |b| async move {
                let opts = ListContainersOptions {
                    all: true,
                    limit: Some(2),
                    size: true,
                    filters: filters(),
                };
                back("container_list", b.container_list(opts).await)
            },
        ),
        case("container_logs", json!([ID, j(logs())]), |b| async move {
            output_back("container_logs", b.container_logs(ID, logs()).await, None).await
        }),
        case("container_stop", json!([ID, j(stop())]), |b| async move {
            back("container_stop", b.container_stop(ID, stop()).await)
        }),
        case(
            "container_restart",
            json!([ID, j(stop())]),
            |b| async move { back("container_restart", b.container_restart(ID, stop()).await) },
        ),
        case("container_kill", json!([ID, "SIGUSR1"]), |b| async move {
            back(
                "container_kill",
                b.container_kill(ID, Some("SIGUSR1".into())).await,
            )
        }),
        case(
            "container_remove",
            json!([ID, {"force": true, "volumes": true, "link": false}]),
            |b| async move {
                let opts = RemoveContainerOptions {
                    force: true,
                    volumes: true,
                    link: false,
                };
                back("container_remove", b.container_remove(ID, opts).await)
            },
        ),
        case("container_wait", json!([ID, "next-exit"]), |b| async move {
            back(
                "container_wait",
                b.container_wait(ID, WaitCondition::NextExit).await,
            )
        }),
        case(
            "container_attach",
            json!([ID, j(attach()), true]),
            |b| async move {
                let out = b.container_attach(ID, attach(), stdin("typed")).await;
                output_back("container_attach", out, Some("typed")).await
            },
        ),
        case("container_resize", json!([ID, 24, 80]), |b| async move {
            back("container_resize", b.container_resize(ID, 24, 80).await)
        }),
        case(
            "container_rename",
            json!([ID, "new/name"]),
            |b| async move { back("container_rename", b.container_rename(ID, "new/name").await) },
        ),
        case(
            "container_archive_stat",
            json!([ID, "/etc/a b"]),
            |b| async move {
                back(
                    "container_archive_stat",
                    b.container_archive_stat(ID, "/etc/a b").await,
                )
            },
        ),
        case("container_archive_get", json!([ID, "/d"]), |b| async move {
            let (stat, bytes) = b
                .container_archive_get(ID, "/d")
                .await
                .expect("archive get");
            let (data, _) = bytes_back("container_archive_get", Ok(bytes)).await;
            let want = answer("container_archive_get");
            (json!({"stat": j(stat), "bytes": data}), want)
        }),
        case(
            "container_archive_put",
            json!([ID, "/x", "a tar file"]),
            |b| async move {
                let put = b
                    .container_archive_put(ID, "/x", upload("a tar file"))
                    .await;
                back("container_archive_put", put)
            },
        ),
        case("container_top", json!([ID, "-ef"]), |b| async move {
            back(
                "container_top",
                b.container_top(ID, Some("-ef".into())).await,
            )
        }),
        case(
            "container_stats",
            json!([ID, true, false]),
            |b| async move {
                items_back("container_stats", b.container_stats(ID, true, false).await).await
            },
        ),
        case("container_pause", json!([ID]), |b| async move {
            back("container_pause", b.container_pause(ID).await)
        }),
        case("container_unpause", json!([ID]), |b| async move {
            back("container_unpause", b.container_unpause(ID).await)
        }),
        case("container_export", json!([ID]), |b| async move {
            bytes_back("container_export", b.container_export(ID).await).await
        }),
        case(
            "container_update",
            json!([ID, j(update())]),
            |b| async move { back("container_update", b.container_update(ID, update()).await) },
        ),
        case("container_prune", json!([j(filters())]), |b| async move {
            back("container_prune", b.container_prune(filters()).await)
        }),
        case("container_changes", json!([ID]), |b| async move {
            back("container_changes", b.container_changes(ID).await)
        }),
        case("container_commit", json!([j(commit())]), |b| async move {
            back("container_commit", b.container_commit(commit()).await)
        }),
    ]
}

fn exec_config() -> ExecConfig {
    ExecConfig {
        cmd: Some(vec!["ls".into(), "-l".into()]),
        attach_stdout: Some(true),
        ..Default::default()
    }
}

fn exec_start() -> ExecStartConfig {
    ExecStartConfig {
        tty: Some(false),
        ..Default::default()
    }
}

fn pull() -> PullImageOptions {
    PullImageOptions {
        from_image: "docker.io/library/busybox".into(),
        tag: Some("1.36".into()),
        platform: Some("linux/arm64".into()),
    }
}

fn import() -> ImportImageOptions {
    ImportImageOptions {
        repo: Some("imported".into()),
        tag: Some("v1".into()),
        changes: vec!["CMD [\"sh\"]".into()],
        message: Some("m".into()),
        platform: None,
    }
}

const IMAGE: &str = "docker.io/library/busybox:latest";

fn exec_and_images() -> Vec<Case> {
    vec![
        case(
            "exec_create",
            json!([ID, j(exec_config())]),
            |b| async move { back("exec_create", b.exec_create(ID, exec_config()).await) },
        ),
        case(
            "exec_start",
            json!(["e/1", j(exec_start()), true]),
            |b| async move {
                let out = b.exec_start("e/1", exec_start(), stdin("input")).await;
                output_back("exec_start", out, Some("input")).await
            },
        ),
        case("exec_inspect", json!(["e/1"]), |b| async move {
            back("exec_inspect", b.exec_inspect("e/1").await)
        }),
        case("exec_resize", json!(["e/1", 50, 132]), |b| async move {
            back("exec_resize", b.exec_resize("e/1", 50, 132).await)
        }),
        case(
            "image_pull",
            json!([j(pull()), j(login())]),
            |b| async move { items_back("image_pull", b.image_pull(pull(), login()).await).await },
        ),
        case("image_inspect", json!([IMAGE]), |b| async move {
            back("image_inspect", b.image_inspect(IMAGE).await)
        }),
        case(
            "image_list",
            json!([{"all": true, "digests": true, "filters": j(filters())}]),
            |b| async move {
                let opts = ListImagesOptions {
                    all: true,
                    digests: true,
                    filters: filters(),
                };
                back("image_list", b.image_list(opts).await)
            },
        ),
        case(
            "image_load",
            json!(["an image tarball", true]),
            |b| async move {
                items_back(
                    "image_load",
                    b.image_load(upload("an image tarball"), true).await,
                )
                .await
            },
        ),
        case(
            "image_tag",
            json!([IMAGE, "repo/y", "v2"]),
            |b| async move { back("image_tag", b.image_tag(IMAGE, "repo/y", Some("v2")).await) },
        ),
        case(
            "image_remove",
            json!([IMAGE, {"force": true, "noprune": true}]),
            |b| async move {
                let opts = RemoveImageOptions {
                    force: true,
                    noprune: true,
                };
                back("image_remove", b.image_remove(IMAGE, opts).await)
            },
        ),
        case("image_prune", json!([j(filters())]), |b| async move {
            back("image_prune", b.image_prune(filters()).await)
        }),
        case("image_save", json!([["a:1", "b:2"]]), |b| async move {
            let names = vec!["a:1".to_owned(), "b:2".to_owned()];
            bytes_back("image_save", b.image_save(names).await).await
        }),
        case(
            "image_push",
            json!([IMAGE, "1", j(login())]),
            |b| async move {
                items_back("image_push", b.image_push(IMAGE, Some("1"), login()).await).await
            },
        ),
        case(
            "image_import",
            json!([j(import()), "a rootfs tar"]),
            |b| async move {
                let progress = b.image_import(import(), upload("a rootfs tar")).await;
                items_back("image_import", progress).await
            },
        ),
        case(
            "distribution_inspect",
            json!([IMAGE, j(login())]),
            |b| async move {
                back(
                    "distribution_inspect",
                    b.distribution_inspect(IMAGE, login()).await,
                )
            },
        ),
    ]
}

fn network_create() -> NetworkCreateRequest {
    NetworkCreateRequest {
        name: "net".into(),
        driver: Some("bridge".into()),
        ..Default::default()
    }
}

fn connect() -> NetworkConnectRequest {
    NetworkConnectRequest {
        container: ID.into(),
        ..Default::default()
    }
}

fn disconnect() -> NetworkDisconnectRequest {
    NetworkDisconnectRequest {
        container: ID.into(),
        force: Some(true),
    }
}

fn volume_create() -> VolumeCreateRequest {
    VolumeCreateRequest {
        name: Some("v-1".into()),
        driver: Some("local".into()),
        ..Default::default()
    }
}

fn networks_and_volumes() -> Vec<Case> {
    vec![
        case(
            "network_create",
            json!([j(network_create())]),
            |b| async move { back("network_create", b.network_create(network_create()).await) },
        ),
        case("network_list", json!([j(filters())]), |b| async move {
            back("network_list", b.network_list(filters()).await)
        }),
        case("network_inspect", json!(["n/1"]), |b| async move {
            back("network_inspect", b.network_inspect("n/1").await)
        }),
        case(
            "network_connect",
            json!(["n/1", j(connect())]),
            |b| async move { back("network_connect", b.network_connect("n/1", connect()).await) },
        ),
        case(
            "network_disconnect",
            json!(["n/1", j(disconnect())]),
            |b| async move {
                back(
                    "network_disconnect",
                    b.network_disconnect("n/1", disconnect()).await,
                )
            },
        ),
        case("network_remove", json!(["n/1"]), |b| async move {
            back("network_remove", b.network_remove("n/1").await)
        }),
        case("network_prune", json!([j(filters())]), |b| async move {
            back("network_prune", b.network_prune(filters()).await)
        }),
        case(
            "volume_create",
            json!([j(volume_create())]),
            |b| async move { back("volume_create", b.volume_create(volume_create()).await) },
        ),
        case("volume_list", json!([j(filters())]), |b| async move {
            back("volume_list", b.volume_list(filters()).await)
        }),
        case("volume_inspect", json!(["v 1"]), |b| async move {
            back("volume_inspect", b.volume_inspect("v 1").await)
        }),
        case("volume_remove", json!(["v 1", true]), |b| async move {
            back("volume_remove", b.volume_remove("v 1", true).await)
        }),
        case("volume_prune", json!([j(filters())]), |b| async move {
            back("volume_prune", b.volume_prune(filters()).await)
        }),
    ]
}
