//! The middleware (request IDs, the request log, injected faults) and the
//! `/_sim/*` endpoints that read and set them.

use super::*;
use crate::config::FaultConfig;
use crate::state::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

fn is_faultable(path: &str) -> bool {
    path.starts_with("/subscriptions/") || path.starts_with("/v1/workspaces/")
}

/// Adds `x-ms-request-id`, echoes `x-ms-correlation-request-id`, logs the
/// request, and injects faults on ARM and Log Analytics paths.
pub async fn middleware(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let correlation = req
        .headers()
        .get("x-ms-correlation-request-id")
        .cloned()
        .unwrap_or_else(|| {
            HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
                .unwrap_or(HeaderValue::from_static(""))
        });
    let path = req.uri().path().to_string();
    let method = req.method().to_string();
    let method_of_request = method.clone();
    let api_version = req.uri().query().and_then(|q| {
        q.split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == "api-version")
            .map(|(_, v)| v.to_string())
    });
    let sim_internal = path.starts_with("/_sim/");
    // Registry and blob bodies (layers, build contexts) stream to files.
    let streamed = path.starts_with("/v2/") || path.starts_with("/blob/");
    let (req, body, body_len) = if streamed || sim_internal {
        (req, Value::Null, 0)
    } else {
        let (parts, body) = req.into_parts();
        let bytes = match axum::body::to_bytes(body, 64 << 20).await {
            Ok(b) => b,
            Err(_) => {
                return (StatusCode::PAYLOAD_TOO_LARGE, axum::Json(json!({"error": {"code": "RequestTooLarge", "message": "The request body is too large."}}))).into_response();
            }
        };
        let is_form = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
        let mut logged = if is_form || bytes.len() > MAX_LOGGED_BODY {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        };
        redact(&mut logged);
        let logged_len = if logged.is_null() { 0 } else { bytes.len() };
        (
            Request::from_parts(parts, Body::from(bytes)),
            logged,
            logged_len,
        )
    };
    let seq = if sim_internal {
        None
    } else {
        // A parsed body holds a few times the bytes of its text.
        let cost = 256 + path.len() + 4 * body_len;
        Some(state.log_request(RequestRecord {
            seq: 0,
            method,
            path: path.clone(),
            api_version,
            body,
            status: 0,
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            cost,
        }))
    };
    let mut resp = match inject(&state, &method_of_request, &path).await {
        Some(fault) => fault,
        None => {
            let resp = next.run(req).await;
            lose_response(&state, &method_of_request, &path, resp)
        }
    };
    if let Some(seq) = seq {
        let status = if resp.extensions().get::<Dropped>().is_some() {
            0
        } else {
            resp.status().as_u16()
        };
        state.set_request_status(seq, status);
    }
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        h.insert("x-ms-request-id", v);
    }
    h.insert("x-ms-correlation-request-id", correlation);
    resp
}

/// Whether a request changes ARM state: the writes whose response
/// `lostResponseRate` may lose (a `list*` POST only reads).
fn is_arm_write(method: &str, path: &str) -> bool {
    if !path.starts_with("/subscriptions/") {
        return false;
    }
    match method {
        "PUT" | "PATCH" | "DELETE" => true,
        "POST" => !path
            .rsplit('/')
            .next()
            .is_some_and(|last| last.to_ascii_lowercase().starts_with("list")),
        _ => false,
    }
}

/// `lostResponseRate`: a write that took effect answers 500 all the same,
/// as when Azure applied it and the response was lost on the way back. A
/// client that retries must cope with the change being there already.
fn lose_response(state: &AppState, method: &str, path: &str, resp: Response) -> Response {
    if !resp.status().is_success() || !is_arm_write(method, path) {
        return resp;
    }
    let lost = {
        let mut f = state.faults();
        let rate = f.config.lost_response_rate;
        crate::util::draw(&mut f.acc_lost, rate)
    };
    if !lost {
        return resp;
    }
    tracing::info!(%method, %path, "injected fault: response lost after the write took effect");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        axum::Json(json!({"error": {"code": "InternalServerError", "message": "An internal error occurred (injected by the emulator)."}})),
    )
        .into_response()
}

/// `dropRate`: the connection goes without a response. The middleware cannot
/// reach the socket, so the response's body fails before its first byte:
/// hyper then closes the connection with the head still unsent (it is only
/// buffered until the body yields), and the client sees the connection
/// closed before any response, as after a reset.
fn dropped_connection() -> Response {
    let stream = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "connection dropped (injected by the emulator)",
        ))
    });
    let mut resp = Response::new(Body::from_stream(stream));
    // Marks it for the request log (status 0: no response was sent).
    resp.extensions_mut().insert(Dropped);
    resp
}

/// Marker of a [`dropped_connection`] response.
#[derive(Debug, Clone, Copy)]
struct Dropped;

/// An injected fault response, or `None` to let the request through.
async fn inject(state: &AppState, method: &str, path: &str) -> Option<Response> {
    if !is_faultable(path) {
        return None;
    }
    let (latency, fault) = {
        let mut f = state.faults();
        let cfg = f.config.clone();
        let fault = if cfg
            .fail_methods
            .iter()
            .any(|m| m.eq_ignore_ascii_case(method))
        {
            Some(500)
        } else if crate::util::draw(&mut f.acc_429, cfg.rate_429) {
            Some(429)
        } else if crate::util::draw(&mut f.acc_500, cfg.rate_500) {
            Some(500)
        } else if crate::util::draw(&mut f.acc_503, cfg.rate_503) {
            Some(503)
        } else if crate::util::draw(&mut f.acc_drop, cfg.drop_rate) {
            Some(0)
        } else {
            None
        };
        (cfg.latency_ms, fault.map(|c| (c, cfg.retry_after_secs)))
    };
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    match fault {
        Some((0, _)) => {
            tracing::info!(%method, %path, "injected fault: connection dropped");
            Some(dropped_connection())
        }
        Some((429, retry)) => {
            let mut r = (
                StatusCode::TOO_MANY_REQUESTS,
                axum::Json(json!({"error": {"code": "TooManyRequests", "message": "The request was throttled (injected by the emulator)."}})),
            )
                .into_response();
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry));
            Some(r)
        }
        Some((503, retry)) => {
            let mut r = (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(json!({"error": {"code": "ServiceUnavailable", "message": "The service is temporarily unavailable (injected by the emulator)."}})),
            )
                .into_response();
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry));
            Some(r)
        }
        Some(_) => Some(
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                axum::Json(json!({"error": {"code": "InternalServerError", "message": "An internal error occurred (injected by the emulator)."}})),
            )
                .into_response(),
        ),
        None => None,
    }
}

/// `GET /_sim/requests`.
pub async fn list_requests(State(state): State<Arc<AppState>>) -> Response {
    axum::Json(state.requests()).into_response()
}

/// `DELETE /_sim/requests`.
pub async fn clear_requests(State(state): State<Arc<AppState>>) -> Response {
    state.clear_requests();
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /_sim/faults`.
pub async fn get_faults(State(state): State<Arc<AppState>>) -> Response {
    axum::Json(state.faults_snapshot()).into_response()
}

/// `GET /_sim/config`: the effective timing and fault figures (no secrets).
pub async fn get_config(State(state): State<Arc<AppState>>) -> Response {
    let c = &state.config;
    axum::Json(json!({
        "profile": c.profile,
        "ingestionDelayMs": u64::try_from(c.ingestion_delay.as_millis()).unwrap_or(u64::MAX),
        "timing": state.timing(),
        "faults": state.faults_snapshot(),
        "consoleLogMaxBytes": c.console_log_max_bytes,
    }))
    .into_response()
}

/// `PUT /_sim/timing` with a (partial) `Timing` in camelCase; missing fields
/// take their defaults (none: no scheduling delay, no jitter). Replicas
/// scheduled and rows ingested from then on follow it.
pub async fn put_timing(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    match serde_json::from_slice::<crate::config::Timing>(&body) {
        Ok(t) if (0.0..=1.0).contains(&t.scheduling_tail_rate) => {
            state.set_timing(t.clone());
            axum::Json(t).into_response()
        }
        Ok(_) => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"message": "schedulingTailRate must be between 0 and 1"})),
        )
            .into_response(),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"message": format!("invalid timing: {e}")})),
        )
            .into_response(),
    }
}

/// `PUT /_sim/faults` with a (partial) `FaultConfig` in camelCase; missing
/// fields take their defaults.
pub async fn put_faults(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    match serde_json::from_slice::<FaultConfig>(&body) {
        Ok(cfg)
            if [cfg.rate_429, cfg.rate_500, cfg.rate_503]
                .iter()
                .chain(&[cfg.lro_fail_rate, cfg.lro_cancel_rate])
                .chain(&[cfg.drop_rate, cfg.lost_response_rate])
                .all(|r| (0.0..=1.0).contains(r)) =>
        {
            *state.faults() = FaultState::new(cfg.clone());
            state.arm().reset_lro_draws();
            axum::Json(cfg).into_response()
        }
        Ok(_) => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"message": "rates must be between 0 and 1"})),
        )
            .into_response(),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"message": format!("invalid fault config: {e}")})),
        )
            .into_response(),
    }
}

/// `GET /_sim/network`: the replica network (`name`, `id`, `subnet`,
/// `gateway`: the host's address as replicas see it, `owned`), preparing it
/// if the engine was unavailable at start; 503 while it cannot be.
pub async fn get_network(State(state): State<Arc<AppState>>) -> Response {
    match state.runner.prepare_network().await {
        Ok(net) => axum::Json(net).into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"message": format!("no replica network: {e}")})),
        )
            .into_response(),
    }
}
