//! ACR Tasks (`Microsoft.ContainerRegistry`, api-version
//! [`ACR_TASKS_API_VERSION`]): a quick build's source upload URL,
//! `scheduleRun` of a `DockerBuildRequest`, the run, its log's SAS URL and
//! its cancellation. The source and the log are blobs reached through the
//! SAS URLs these calls answer (see [`crate::blobs`]).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::arm::ArmClient;
use crate::{AzureError, CallContext};

/// The ACR Tasks api-version these calls speak.
pub const ACR_TASKS_API_VERSION: &str = "2019-06-01-preview";

/// Run statuses after which nothing more happens.
const TERMINAL: [&str; 5] = ["Succeeded", "Failed", "Canceled", "Error", "Timeout"];

/// `SourceUploadDefinition`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceUpload {
    /// The blob's SAS URL to `PUT` the source to.
    #[serde(default)]
    pub upload_url: String,
    /// What `sourceLocation` names it by.
    #[serde(default)]
    pub relative_path: String,
}

/// `PlatformProperties`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunPlatform {
    /// `Linux` or `Windows`.
    pub os: String,
    /// `amd64`, `arm64`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
    /// `v7`, `v8`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// `Argument` of a build.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunArgument {
    /// `ARG` name.
    pub name: String,
    /// Its value.
    pub value: String,
    /// Kept out of ACR's logs.
    pub is_secret: bool,
}

/// `SecretObject` of type `Opaque`: the value itself.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct OpaqueSecret {
    /// The secret.
    pub value: String,
    /// Always `Opaque`.
    #[serde(rename = "type")]
    pub kind: String,
}

impl std::fmt::Debug for OpaqueSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl OpaqueSecret {
    /// `value` as an opaque secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self {
            value: value.into(),
            kind: "Opaque".to_owned(),
        }
    }
}

/// `CustomRegistryCredentials`: a login the build uses to pull base images.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomRegistryLogin {
    /// User name.
    pub user_name: OpaqueSecret,
    /// Password or token.
    pub password: OpaqueSecret,
}

/// A `DockerBuildRequest` (`RunRequest` of `type: DockerBuildRequest`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DockerBuildRequest {
    /// Names pushed, relative to the registry (`repo:tag`).
    pub image_names: Vec<String>,
    /// Push the image (to every name) when the build succeeds.
    pub is_push_enabled: bool,
    /// `--no-cache`.
    pub no_cache: bool,
    /// The Dockerfile's path in the source.
    pub docker_file_path: String,
    /// `--target`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// `--build-arg`s.
    pub arguments: Vec<RunArgument>,
    /// Seconds the run may take.
    pub timeout: u32,
    /// The platform built for.
    pub platform: RunPlatform,
    /// The uploaded source's `relativePath`.
    pub source_location: String,
    /// Logins for base images' registries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials: Option<RunCredentials>,
}

/// `Credentials` of a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunCredentials {
    /// Logins by registry server.
    pub custom_registries: std::collections::BTreeMap<String, CustomRegistryLogin>,
}

/// `ImageDescriptor` of a run's output.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct OutputImage {
    /// The registry's login server.
    #[serde(default)]
    pub registry: String,
    /// The repository.
    #[serde(default)]
    pub repository: String,
    /// The tag.
    #[serde(default)]
    pub tag: String,
    /// The manifest digest pushed.
    #[serde(default)]
    pub digest: String,
}

/// `RunProperties`, as far as a build needs them.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunProperties {
    /// e.g. `ca1`.
    #[serde(default)]
    pub run_id: String,
    /// `Queued` … `Succeeded`, `Failed`, `Canceled`, `Error`, `Timeout`.
    #[serde(default)]
    pub status: String,
    /// The images pushed.
    #[serde(default)]
    pub output_images: Vec<OutputImage>,
    /// Why it failed.
    #[serde(default)]
    pub run_error_message: Option<String>,
}

/// A `Run`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Run {
    /// Its properties.
    #[serde(default)]
    pub properties: RunProperties,
}

impl Run {
    /// Whether the run is over.
    pub fn is_done(&self) -> bool {
        TERMINAL
            .iter()
            .any(|s| s.eq_ignore_ascii_case(&self.properties.status))
    }

    /// Whether it succeeded.
    pub fn succeeded(&self) -> bool {
        self.properties.status.eq_ignore_ascii_case("Succeeded")
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LogLink {
    #[serde(default)]
    log_link: String,
}

/// The ACR Tasks calls on one registry.
#[derive(Debug, Clone)]
pub struct AcrTasksClient {
    arm: ArmClient,
    registry_path: String,
    registry_name: String,
}

impl AcrTasksClient {
    /// Registry `name` in `resource_group` of `subscription_id`.
    pub fn new(arm: ArmClient, subscription_id: &str, resource_group: &str, name: &str) -> Self {
        Self {
            arm,
            registry_path: format!(
                "/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/Microsoft.ContainerRegistry/registries/{name}"
            ),
            registry_name: name.to_owned(),
        }
    }

    /// The registry's ARM name.
    pub fn registry_name(&self) -> &str {
        &self.registry_name
    }

    fn ctx(&self, what: impl std::fmt::Display) -> CallContext {
        CallContext::new(
            format!("acr tasks: {what}"),
            format!(
                "Contributor (or Container Registry Tasks Contributor) on registry {}",
                self.registry_name
            ),
        )
    }

    fn run_path(&self, run_id: &str) -> String {
        format!("{}/runs/{run_id}", self.registry_path)
    }

    /// `Registries_GetBuildSourceUploadUrl`.
    pub async fn source_upload_url(&self) -> Result<SourceUpload, AzureError> {
        let ctx = self.ctx("list build source upload URL");
        let path = format!("{}/listBuildSourceUploadUrl", self.registry_path);
        let answer = self
            .arm
            .post(&ctx, &path, ACR_TASKS_API_VERSION, None)
            .await?;
        answer.json(&ctx)
    }

    /// `Registries_ScheduleRun` of a Docker build: sent once (a second
    /// send would build twice), its operation followed to the run.
    pub async fn schedule_build(&self, request: &DockerBuildRequest) -> Result<Run, AzureError> {
        let ctx = self.ctx("schedule run");
        let mut body = serde_json::to_value(request)
            .map_err(|e| AzureError::other(format!("{}: {e}", ctx.operation)))?;
        if let Value::Object(map) = &mut body {
            map.insert("type".to_owned(), Value::from("DockerBuildRequest"));
        }
        let path = format!("{}/scheduleRun", self.registry_path);
        let answer = self
            .arm
            .post_once(&ctx, &path, ACR_TASKS_API_VERSION, Some(&body))
            .await?;
        answer.json(&ctx)
    }

    /// `Runs_Get`.
    pub async fn run(&self, run_id: &str) -> Result<Run, AzureError> {
        self.arm
            .get(
                &self.ctx(format!("get run {run_id}")),
                &self.run_path(run_id),
                ACR_TASKS_API_VERSION,
            )
            .await
    }

    /// `Runs_GetLogSasUrl`: the read SAS URL of the run's log blob.
    pub async fn log_url(&self, run_id: &str) -> Result<String, AzureError> {
        let ctx = self.ctx(format!("list log SAS URL of run {run_id}"));
        let path = format!("{}/listLogSasUrl", self.run_path(run_id));
        let answer = self
            .arm
            .post(&ctx, &path, ACR_TASKS_API_VERSION, None)
            .await?;
        let link: LogLink = answer.json(&ctx)?;
        Ok(link.log_link)
    }

    /// `Runs_Cancel`.
    pub async fn cancel(&self, run_id: &str) -> Result<(), AzureError> {
        let ctx = self.ctx(format!("cancel run {run_id}"));
        let path = format!("{}/cancel", self.run_path(run_id));
        self.arm
            .post(&ctx, &path, ACR_TASKS_API_VERSION, None)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_build_request_is_the_specs_shape() {
        let request = DockerBuildRequest {
            image_names: vec!["library/app:1".into()],
            is_push_enabled: true,
            docker_file_path: "Dockerfile".into(),
            timeout: 3600,
            platform: RunPlatform {
                os: "Linux".into(),
                architecture: Some("amd64".into()),
                variant: None,
            },
            source_location: "source/x.tar.gz".into(),
            arguments: vec![RunArgument {
                name: "X".into(),
                value: "y".into(),
                is_secret: false,
            }],
            credentials: Some(RunCredentials {
                custom_registries: [(
                    "r.example".to_owned(),
                    CustomRegistryLogin {
                        user_name: OpaqueSecret::new("u"),
                        password: OpaqueSecret::new("p"),
                    },
                )]
                .into(),
            }),
            ..Default::default()
        };
        let body = serde_json::to_value(&request).expect("json");
        assert_eq!(body["imageNames"][0], "library/app:1");
        assert_eq!(body["dockerFilePath"], "Dockerfile");
        assert_eq!(body["platform"]["os"], "Linux");
        assert_eq!(body["arguments"][0]["isSecret"], false);
        assert_eq!(
            body["credentials"]["customRegistries"]["r.example"]["password"]["type"],
            "Opaque"
        );
        assert!(body.get("target").is_none());
        assert!(!format!("{request:?}").contains("\"p\""));
    }

    #[test]
    fn a_run_is_done_at_its_terminal_statuses() {
        let run: Run = serde_json::from_str(
            r#"{"properties":{"runId":"ca1","status":"Running"},"name":"ca1"}"#,
        )
        .expect("run");
        assert!(!run.is_done());
        for status in ["Succeeded", "Failed", "Canceled", "Error", "Timeout"] {
            let mut r = run.clone();
            r.properties.status = status.into();
            assert!(r.is_done(), "{status}");
        }
    }
}
