//! An exec's inspect.

use serde::{Deserialize, Serialize};

use super::Model;

/// `GET /exec/{id}/json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExecInspect {
    pub can_remove: bool,
    pub detach_keys: String,
    #[serde(rename = "ID", skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub running: bool,
    pub exit_code: Option<i64>,
    pub process_config: ProcessConfig,
    pub open_stdin: bool,
    pub open_stderr: bool,
    pub open_stdout: bool,
    #[serde(rename = "ContainerID")]
    pub container_id: String,
    pub pid: i64,
}

impl Model for ExecInspect {
    const SWAGGER: &'static str = "/paths/~1exec~1{id}~1json/get/responses/200/schema";
}

/// An exec's `ProcessConfig`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcessConfig {
    pub privileged: bool,
    pub user: String,
    pub tty: bool,
    pub entrypoint: String,
    pub arguments: Vec<String>,
}

impl Model for ProcessConfig {
    const SWAGGER: &'static str = "/definitions/ProcessConfig";
}
