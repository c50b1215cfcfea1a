//! Volumes: one volume, the list, and `system df`'s usage data.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sockerless_api::docker;

use super::Model;

/// `GET /volumes/{name}` and each volume of `GET /volumes`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Volume {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub driver: String,
    pub mountpoint: String,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<HashMap<String, HashMap<String, Value>>>,
    pub labels: Option<HashMap<String, String>>,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_volume: Option<docker::ClusterVolume>,
    pub options: Option<HashMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_data: Option<VolumeUsageData>,
}

impl Default for Volume {
    fn default() -> Self {
        Self {
            name: None,
            driver: "local".to_owned(),
            mountpoint: String::new(),
            created_at: String::new(),
            status: None,
            labels: None,
            scope: "local".to_owned(),
            cluster_volume: None,
            options: None,
            usage_data: None,
        }
    }
}

impl Model for Volume {
    const SWAGGER: &'static str = "/definitions/Volume";
}

/// `GET /volumes`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeListResponse {
    pub volumes: Vec<Volume>,
    pub warnings: Option<Vec<String>>,
}

impl Model for VolumeListResponse {
    const SWAGGER: &'static str = "/definitions/VolumeListResponse";
}

/// A volume's `UsageData`; `-1` is dockerd's "not available".
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeUsageData {
    pub size: i64,
    pub ref_count: i64,
}

impl Default for VolumeUsageData {
    fn default() -> Self {
        Self {
            size: -1,
            ref_count: -1,
        }
    }
}

impl Model for VolumeUsageData {
    const SWAGGER: &'static str = "/definitions/Volume/properties/UsageData";
}
