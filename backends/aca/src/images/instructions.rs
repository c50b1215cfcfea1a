//! The `changes` of `docker commit` and `docker import` (`--change`):
//! Dockerfile instructions applied to an image config (pure). Honoured:
//! `CMD`, `ENTRYPOINT`, `ENV`, `EXPOSE`, `LABEL`, `USER`, `WORKDIR`,
//! `VOLUME`, `STOPSIGNAL`; refused by name: `ONBUILD` and `HEALTHCHECK`
//! (not carried into what ACA runs) and anything dockerd refuses.

use serde_json::{Map, Value, json};
use sockerless_api::ApiError;

fn bad(message: String) -> ApiError {
    ApiError::InvalidParameter(message)
}

/// `["a","b"]` as a list, else `None` (the shell form).
fn json_form(args: &str) -> Option<Vec<String>> {
    args.trim_start()
        .starts_with('[')
        .then(|| serde_json::from_str::<Vec<String>>(args.trim()).ok())
        .flatten()
}

fn exec_form(args: &str) -> Vec<String> {
    json_form(args).unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into(), args.trim().to_owned()])
}

fn unquote(s: &str) -> String {
    let t = s.trim();
    if t.len() >= 2
        && ((t.starts_with('"') && t.ends_with('"')) || (t.starts_with('\'') && t.ends_with('\'')))
    {
        t[1..t.len() - 1].to_owned()
    } else {
        t.to_owned()
    }
}

/// `k=v k2="v 2"` pairs, or the legacy `k v` form when there is no `=`.
fn pairs(instruction: &str, args: &str) -> Result<Vec<(String, String)>, ApiError> {
    let args = args.trim();
    let first = args.split_whitespace().next().unwrap_or_default();
    if !first.contains('=') {
        let (k, v) = args
            .split_once(char::is_whitespace)
            .ok_or_else(|| bad(format!("{instruction} requires at least one argument")))?;
        return Ok(vec![(k.to_owned(), unquote(v))]);
    }
    let mut out = Vec::new();
    let mut rest = args;
    while !rest.is_empty() {
        let (key, after) = rest
            .split_once('=')
            .ok_or_else(|| bad(format!("{instruction}: syntax error near {rest:?}")))?;
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted
                .find('"')
                .ok_or_else(|| bad(format!("{instruction}: unterminated quote")))?;
            (quoted[..end].to_owned(), &quoted[end + 1..])
        } else {
            let end = after.find(char::is_whitespace).unwrap_or(after.len());
            (after[..end].to_owned(), &after[end..])
        };
        out.push((key.trim().to_owned(), value));
        rest = next.trim_start();
    }
    Ok(out)
}

fn object<'a>(config: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let slot = config.entry(key.to_owned()).or_insert_with(|| json!({}));
    if !slot.is_object() {
        *slot = json!({});
    }
    slot.as_object_mut().expect("made an object above")
}

/// Applies each of `changes` to `config` (the image config's `config` object).
pub fn apply(config: &mut Map<String, Value>, changes: &[String]) -> Result<(), ApiError> {
    for change in changes.iter().flat_map(|c| c.lines()) {
        let change = change.trim();
        if change.is_empty() || change.starts_with('#') {
            continue;
        }
        let (word, args) = change
            .split_once(char::is_whitespace)
            .unwrap_or((change, ""));
        let instruction = word.to_ascii_uppercase();
        let need_args = || {
            if args.trim().is_empty() {
                Err(bad(format!("{instruction} requires at least one argument")))
            } else {
                Ok(())
            }
        };
        match instruction.as_str() {
            "CMD" => {
                need_args()?;
                config.insert("Cmd".into(), json!(exec_form(args)));
            }
            "ENTRYPOINT" => {
                need_args()?;
                config.insert("Entrypoint".into(), json!(exec_form(args)));
            }
            "ENV" => {
                need_args()?;
                for (k, v) in pairs(&instruction, args)? {
                    let env = config.entry("Env").or_insert_with(|| json!([]));
                    let list = env
                        .as_array_mut()
                        .ok_or_else(|| bad("Env is not a list".into()))?;
                    let prefix = format!("{k}=");
                    list.retain(|e| !e.as_str().is_some_and(|e| e.starts_with(&prefix)));
                    list.push(json!(format!("{k}={v}")));
                }
            }
            "LABEL" => {
                need_args()?;
                for (k, v) in pairs(&instruction, args)? {
                    object(config, "Labels").insert(unquote(&k), json!(v));
                }
            }
            "EXPOSE" => {
                need_args()?;
                for port in args.split_whitespace() {
                    let port = if port.contains('/') {
                        port.to_ascii_lowercase()
                    } else {
                        format!("{port}/tcp")
                    };
                    let number = port.split('/').next().unwrap_or_default();
                    if number.parse::<u16>().is_err() {
                        return Err(bad(format!("invalid containerPort: {number}")));
                    }
                    object(config, "ExposedPorts").insert(port, json!({}));
                }
            }
            "VOLUME" => {
                need_args()?;
                let paths = json_form(args)
                    .unwrap_or_else(|| args.split_whitespace().map(str::to_owned).collect());
                for path in paths {
                    object(config, "Volumes").insert(path, json!({}));
                }
            }
            "USER" => {
                need_args()?;
                config.insert("User".into(), json!(args.trim()));
            }
            "WORKDIR" => {
                need_args()?;
                config.insert("WorkingDir".into(), json!(args.trim()));
            }
            "STOPSIGNAL" => {
                need_args()?;
                config.insert("StopSignal".into(), json!(args.trim()));
            }
            "ONBUILD" | "HEALTHCHECK" => {
                return Err(ApiError::NotImplemented(format!(
                    "{instruction} is not supported as a change command by sockerless"
                )));
            }
            _ => {
                return Err(bad(format!("{word} is not a valid change command")));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
