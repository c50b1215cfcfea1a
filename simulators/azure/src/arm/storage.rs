//! `Microsoft.Storage` file shares. Each share is a host directory under the
//! data dir (`fileshares/{account}/{share}`), which AzureFile volumes mount.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::{ArmError, ArmResult, parse_body, resource_not_found};
use crate::state::AppState;

fn share_id(sub: &str, rg: &str, account: &str, share: &str) -> String {
    format!(
        "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/{account}/fileServices/default/shares/{share}"
    )
}

/// Host directory that backs a share; names that are not plain path
/// components are refused (callers validate them as Azure does first).
pub fn share_dir(
    data_dir: &std::path::Path,
    account: &str,
    share: &str,
) -> Result<PathBuf, String> {
    crate::util::confined(data_dir, &["fileshares", account, share])
}

/// Storage account names: 3–24 lowercase letters and digits.
pub fn validate_account(account: &str) -> Result<(), ArmError> {
    let ok = (3..=24).contains(&account.len())
        && account
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(ArmError::bad_request(
            "AccountNameInvalid",
            format!(
                "{account} is not a valid storage account name. Storage account name must be between 3 and 24 characters in length and use numbers and lower-case letters only."
            ),
        ))
    }
}

/// Share names: 3–63 characters of lowercase letters, digits and '-',
/// starting and ending with a letter or digit, no '--'.
pub fn validate_share_name(share: &str) -> Result<(), ArmError> {
    let ok = (3..=63).contains(&share.len())
        && share
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && share.starts_with(|c: char| c.is_ascii_alphanumeric())
        && share.ends_with(|c: char| c.is_ascii_alphanumeric())
        && !share.contains("--");
    if ok {
        Ok(())
    } else {
        Err(ArmError::bad_request(
            "InvalidResourceName",
            format!(
                "The specified resource name '{share}' is not valid. Share names must be 3-63 characters of lowercase letters, numbers and single hyphens, starting and ending with a letter or number."
            ),
        ))
    }
}

fn validate_properties(props: &Value) -> Result<(), ArmError> {
    let bad = |m: String| ArmError::bad_request("InvalidParameterValue", m);
    let Some(p) = props.as_object() else {
        return Err(bad("'properties' must be an object.".into()));
    };
    if let Some(m) = p.get("metadata").filter(|m| !m.is_null()) {
        let ok = m.as_object().is_some_and(|o| {
            o.iter().all(|(k, v)| {
                v.is_string()
                    && k.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                    && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            })
        });
        if !ok {
            return Err(bad(
                "'metadata' must map C identifier names to strings.".into()
            ));
        }
    }
    if let Some(q) = p.get("shareQuota").filter(|q| !q.is_null())
        && !q.as_i64().is_some_and(|q| (1..=102400).contains(&q))
    {
        return Err(bad(format!(
            "shareQuota '{q}' must be an integer between 1 and 102400 (GiB)."
        )));
    }
    let check = |key: &str, allowed: &[&str]| -> Result<(), ArmError> {
        match p.get(key) {
            None | Some(Value::Null) => Ok(()),
            Some(Value::String(s)) if allowed.contains(&s.as_str()) => Ok(()),
            Some(v) => Err(bad(format!(
                "The value {v} of '{key}' is not valid. Allowed values: {}.",
                allowed.join(", ")
            ))),
        }
    };
    check(
        "accessTier",
        &["TransactionOptimized", "Hot", "Cool", "Premium"],
    )?;
    check("enabledProtocols", &["SMB", "NFS"])?;
    check("rootSquash", &["NoRootSquash", "RootSquash", "AllSquash"])
}

/// `PUT .../fileServices/default/shares/{shareName}`: 201 new, 200 update.
pub async fn put_share(
    State(state): State<Arc<AppState>>,
    Path((sub, rg, account, share)): Path<(String, String, String, String)>,
    body: Bytes,
) -> ArmResult {
    validate_account(&account)?;
    validate_share_name(&share)?;
    let body = parse_body(&body)?;
    let mut props = body.get("properties").cloned().unwrap_or_else(|| json!({}));
    if props.is_null() {
        props = json!({});
    }
    validate_properties(&props)?;
    let dir = share_dir(&state.data_dir, &account, &share)
        .map_err(|e| ArmError::bad_request("InvalidResourceName", e))?;
    std::fs::create_dir_all(&dir).map_err(|e| {
        ArmError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            format!("could not create the share's storage: {e}"),
        )
    })?;
    let id = share_id(&sub, &rg, &account, &share);
    let mut arm = state.arm();
    let existing = arm.shares.get(&id.to_ascii_lowercase()).cloned();
    let mut merged = existing
        .as_ref()
        .map(|e| e["properties"].clone())
        .unwrap_or_else(|| {
            json!({
                "shareQuota": 5120,
                "accessTier": "TransactionOptimized",
                "enabledProtocols": "SMB",
                "leaseStatus": "Unlocked",
                "leaseState": "Available",
                "shareUsageBytes": 0,
            })
        });
    if let (Some(m), Some(p)) = (merged.as_object_mut(), props.as_object()) {
        for (k, v) in p {
            m.insert(k.clone(), v.clone());
        }
    }
    merged["lastModifiedTime"] = json!(crate::util::now_rfc3339());
    let resource = json!({
        "id": id,
        "name": share,
        "type": "Microsoft.Storage/storageAccounts/fileServices/shares",
        "etag": format!("\"0x{:X}\"", chrono::Utc::now().timestamp_micros()),
        "properties": merged,
    });
    arm.shares.insert(id.to_ascii_lowercase(), resource.clone());
    let status = if existing.is_some() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, axum::Json(resource)).into_response())
}

/// `GET .../shares/{shareName}`.
pub async fn get_share(
    State(state): State<Arc<AppState>>,
    Path((sub, rg, account, share)): Path<(String, String, String, String)>,
) -> ArmResult {
    let arm = state.arm();
    arm.shares
        .get(&share_id(&sub, &rg, &account, &share).to_ascii_lowercase())
        .map(|s| axum::Json(s.clone()).into_response())
        .ok_or_else(|| {
            resource_not_found(
                "Microsoft.Storage/storageAccounts/fileServices/shares",
                &format!("{account}/default/{share}"),
                &rg,
            )
        })
}

/// `DELETE .../shares/{shareName}`: 200, or 204 when absent; the data goes too.
pub async fn delete_share(
    State(state): State<Arc<AppState>>,
    Path((sub, rg, account, share)): Path<(String, String, String, String)>,
) -> ArmResult {
    let removed = state
        .arm()
        .shares
        .remove(&share_id(&sub, &rg, &account, &share).to_ascii_lowercase());
    if removed.is_none() {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let Ok(dir) = share_dir(&state.data_dir, &account, &share) else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    if let Err(e) = std::fs::remove_dir_all(&dir)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(dir = %dir.display(), error = %e, "could not remove share data");
    }
    Ok(StatusCode::OK.into_response())
}

/// `GET .../fileServices/default/shares` (no paging: `$maxpagesize` is honoured
/// by returning at most that many; `$filter` is refused).
pub async fn list_shares(
    State(state): State<Arc<AppState>>,
    Path((sub, rg, account)): Path<(String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> ArmResult {
    if q.contains_key("$filter") {
        return Err(ArmError::bad_request(
            "InvalidQueryParameterValue",
            "$filter is not supported by this emulator.",
        ));
    }
    let max = match q.get("$maxpagesize") {
        None => usize::MAX,
        Some(m) => m.parse::<usize>().ok().filter(|m| *m > 0).ok_or_else(|| {
            ArmError::bad_request(
                "InvalidQueryParameterValue",
                format!("$maxpagesize '{m}' must be a positive integer."),
            )
        })?,
    };
    let prefix = format!("{}/", share_id(&sub, &rg, &account, ""))
        .to_ascii_lowercase()
        .trim_end_matches('/')
        .to_string()
        + "/";
    let arm = state.arm();
    let value: Vec<Value> = arm
        .shares
        .iter()
        .filter(|(k, _)| k.starts_with(&prefix))
        .map(|(_, v)| v.clone())
        .take(max)
        .collect();
    Ok(axum::Json(json!({ "value": value })).into_response())
}
