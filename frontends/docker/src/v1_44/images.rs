//! Images: inspect and the list's summary.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::Model;
use super::containers::GraphDriverData;
use super::host_config::ContainerConfig;

/// `GET /images/{name}/json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageInspect {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
    pub parent: String,
    pub comment: String,
    pub created: String,
    // Deprecated in v1.44 and dropped in v1.45, but v1.44 still sends them.
    pub container: String,
    pub container_config: ContainerConfig,
    pub docker_version: String,
    pub author: String,
    pub config: ContainerConfig,
    pub architecture: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    pub os: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
    pub size: i64,
    // Named by the v1.44 swagger, no longer sent by a v1.44 dockerd.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub virtual_size: Option<i64>,
    pub graph_driver: GraphDriverData,
    #[serde(rename = "RootFS")]
    pub root_fs: RootFs,
    pub metadata: ImageMetadata,
}

impl Default for ImageInspect {
    fn default() -> Self {
        Self {
            id: None,
            repo_tags: Vec::new(),
            repo_digests: Vec::new(),
            parent: String::new(),
            comment: String::new(),
            created: String::new(),
            container: String::new(),
            container_config: Default::default(),
            docker_version: String::new(),
            author: String::new(),
            config: Default::default(),
            architecture: String::new(),
            variant: None,
            os: "linux".to_owned(),
            os_version: None,
            size: 0,
            virtual_size: None,
            graph_driver: Default::default(),
            root_fs: Default::default(),
            metadata: Default::default(),
        }
    }
}

impl Model for ImageInspect {
    const SWAGGER: &'static str = "/definitions/ImageInspect";
}

/// One element of `GET /images/json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageSummary {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub parent_id: String,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
    pub created: i64,
    pub size: i64,
    pub shared_size: i64,
    // Named by the v1.44 swagger, no longer sent by a v1.44 dockerd.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub virtual_size: Option<i64>,
    pub labels: Option<HashMap<String, String>>,
    pub containers: i64,
}

impl Default for ImageSummary {
    fn default() -> Self {
        Self {
            id: None,
            parent_id: String::new(),
            repo_tags: Vec::new(),
            repo_digests: Vec::new(),
            created: 0,
            size: 0,
            shared_size: -1,
            virtual_size: None,
            labels: None,
            containers: -1,
        }
    }
}

impl Model for ImageSummary {
    const SWAGGER: &'static str = "/definitions/ImageSummary";
}

/// An image's `RootFS`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RootFs {
    #[serde(rename = "Type")]
    pub typ: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layers: Option<Vec<String>>,
}

impl Default for RootFs {
    fn default() -> Self {
        Self {
            typ: "layers".to_owned(),
            layers: None,
        }
    }
}

impl Model for RootFs {
    const SWAGGER: &'static str = "/definitions/ImageInspect/properties/RootFS";
}

/// An image's `Metadata`: never tagged.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageMetadata {
    pub last_tag_time: String,
}

impl Default for ImageMetadata {
    fn default() -> Self {
        Self {
            last_tag_time: "0001-01-01T00:00:00Z".to_owned(),
        }
    }
}

impl Model for ImageMetadata {
    const SWAGGER: &'static str = "/definitions/ImageInspect/properties/Metadata";
}
