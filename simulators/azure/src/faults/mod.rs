//! Cross-cutting middleware: request IDs, the request log behind
//! `GET /_sim/requests`, and fault injection (`/_sim/faults`); and the
//! replica network's description (`GET /_sim/network`).

pub mod routes;

use serde::Serialize;
use serde_json::{Value, json};

use crate::config::FaultConfig;

/// Largest body kept in the request log.
const MAX_LOGGED_BODY: usize = 1 << 20;

/// One logged request.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestRecord {
    /// Sequence number from 1.
    pub seq: u64,
    /// Method.
    pub method: String,
    /// Path without query.
    pub path: String,
    /// `api-version` query parameter, if any.
    pub api_version: Option<String>,
    /// JSON body (secrets redacted), or `null`.
    pub body: Value,
    /// Response status (0 when the connection was dropped before one).
    pub status: u16,
    /// When the request arrived: RFC 3339, UTC, microseconds (as Azure's
    /// activity log stamps events; lets a reader place calls in a timeline).
    pub time: String,
    /// Bytes it holds, estimated, for the log's bound.
    #[serde(skip)]
    pub cost: usize,
}

/// Accumulators that make injected faults deterministic.
#[derive(Debug, Default)]
pub struct FaultState {
    /// Current settings.
    pub config: FaultConfig,
    acc_429: f64,
    acc_500: f64,
    acc_503: f64,
    acc_drop: f64,
    acc_lost: f64,
    acc_token_429: f64,
    acc_acr_429: f64,
}

impl FaultState {
    /// New state with `config`.
    pub fn new(config: FaultConfig) -> Self {
        FaultState {
            config,
            acc_429: 0.0,
            acc_500: 0.0,
            acc_503: 0.0,
            acc_drop: 0.0,
            acc_lost: 0.0,
            acc_token_429: 0.0,
            acc_acr_429: 0.0,
        }
    }

    /// Whether this token request (Entra ID, managed identity) is throttled.
    pub fn draw_token_429(&mut self) -> bool {
        crate::util::draw(&mut self.acc_token_429, self.config.token_rate_429)
    }

    /// Whether this ACR request (token endpoints, `/v2/`) is throttled.
    pub fn draw_acr_429(&mut self) -> bool {
        crate::util::draw(&mut self.acc_acr_429, self.config.acr_rate_429)
    }
}

/// Removes secret values from a logged body.
pub fn redact(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                let lower = k.to_ascii_lowercase();
                if lower == "secrets" {
                    for s in val.as_array_mut().into_iter().flatten() {
                        if let Some(o) = s.as_object_mut()
                            && o.contains_key("value")
                        {
                            o.insert("value".into(), json!("<redacted>"));
                        }
                    }
                } else if lower.contains("password")
                    || lower == "accountkey"
                    || lower == "client_secret"
                    || lower == "sharedkey"
                {
                    *val = json!("<redacted>");
                } else {
                    redact(val);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(redact),
        _ => {}
    }
}
