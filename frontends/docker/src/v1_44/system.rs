//! `/version`, `/system/df`, events, progress lines and `{"Id"}` answers.

use serde::{Deserialize, Serialize};
use sockerless_api::docker;

use super::Model;

/// `GET /version`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SystemVersion {
    pub platform: VersionPlatform,
    pub components: Vec<docker::SystemVersionComponents>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    #[serde(rename = "MinAPIVersion", skip_serializing_if = "Option::is_none")]
    pub min_api_version: Option<String>,
    pub git_commit: String,
    pub go_version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    pub kernel_version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub experimental: Option<bool>,
    pub build_time: String,
}

impl Model for SystemVersion {
    const SWAGGER: &'static str = "/definitions/SystemVersion";
}

/// `Version.Platform`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VersionPlatform {
    pub name: String,
}

impl Model for VersionPlatform {
    const SWAGGER: &'static str = "/definitions/SystemVersion/properties/Platform";
}

/// `{"Id": …}` (bollard-stubs' `IdResponse` serializes `id`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IdResponse {
    pub id: String,
}

impl Model for IdResponse {
    const SWAGGER: &'static str = "/definitions/IdResponse";
}

/// A line of a pull's or load's progress, with the deprecated `error` v1.44
/// still sends.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateImageInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_detail: Option<docker::ErrorDetail>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress_detail: Option<docker::ProgressDetail>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

impl CreateImageInfo {
    /// A backend's progress message; an error's message also as `error`
    /// (the CLI reads either).
    pub fn from_progress(info: &docker::CreateImageInfo) -> Self {
        Self {
            error: info.error_detail.as_ref().and_then(|d| d.message.clone()),
            error_detail: info.error_detail.clone(),
            id: info.id.clone(),
            progress: None,
            progress_detail: info.progress_detail.clone(),
            status: info.status.clone(),
        }
    }

    /// The line that ends a progress stream on an error.
    pub fn error(message: &str) -> Self {
        Self {
            error: Some(message.to_owned()),
            error_detail: Some(docker::ErrorDetail {
                code: None,
                message: Some(message.to_owned()),
            }),
            ..Default::default()
        }
    }
}

impl Model for CreateImageInfo {
    const SWAGGER: &'static str = "/definitions/CreateImageInfo";
}

/// An event, with the deprecated `status`, `id` and `from` v1.44 still sends.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventMessage {
    #[serde(rename = "Action", skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(rename = "Actor", skip_serializing_if = "Option::is_none")]
    pub actor: Option<docker::EventActor>,
    #[serde(rename = "Type", skip_serializing_if = "Option::is_none")]
    pub typ: Option<docker::EventMessageTypeEnum>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<docker::EventMessageScopeEnum>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_nano: Option<i64>,
}

impl Model for EventMessage {
    const SWAGGER: &'static str = "/definitions/EventMessage";
    const EXTRA: &'static [&'static str] = &["status", "id", "from"];
}

/// `GET /system/df`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SystemDataUsage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layers_size: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub images: Option<Vec<docker::ImageSummary>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub containers: Option<Vec<docker::ContainerSummary>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volumes: Option<Vec<docker::Volume>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_cache: Option<Vec<docker::BuildCache>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub builder_size: Option<i64>,
}

impl Model for SystemDataUsage {
    const SWAGGER: &'static str = "/paths/~1system~1df/get/responses/200/schema";
    const EXTRA: &'static [&'static str] = &["BuilderSize"];
}
