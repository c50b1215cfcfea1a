//! ACR authentication: `/oauth2/exchange` (AAD token → ACR refresh token),
//! `/oauth2/token` (refresh token or admin password → access token), and the
//! check of registry requests (bearer access token or basic auth).
//!
//! As ACR does: the exchange takes only Entra ID tokens for ARM or ACR and
//! only this registry as `service`; an access token carries, per requested
//! scope, the actions the identity's roles allow (the admin user gets all),
//! and with a role table a request needs a token granting its scope.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::store::valid_repo_name;
use crate::auth::{ACR_AUDIENCES, AccessEntry, Claims};
use crate::state::AppState;

/// User name ACR expects with a refresh token as password.
pub const NULL_GUID: &str = "00000000-0000-0000-0000-000000000000";
/// Most scopes one token request may name (bounds the token's size).
const MAX_SCOPES: usize = 16;
/// ACR's wording when a request lacks credentials or rights.
const AUTH_REQUIRED: &str =
    "authentication required, visit https://aka.ms/acr/authorization for more information.";

/// An ACR error body (`{"errors":[{code,message,detail}]}`).
pub fn acr_error(status: StatusCode, code: &str, message: &str) -> Response {
    acr_error_detail(status, code, message, Value::Null)
}

fn acr_error_detail(status: StatusCode, code: &str, message: &str, detail: Value) -> Response {
    (
        status,
        axum::Json(json!({"errors": [{"code": code, "message": message, "detail": detail}]})),
    )
        .into_response()
}

/// An injected 429 (`FaultConfig::acr_rate_429`), or `None` to serve the request.
pub fn throttled(state: &AppState) -> Option<Response> {
    let retry = {
        let mut f = state.faults();
        if !f.draw_acr_429() {
            return None;
        }
        f.config.retry_after_secs
    };
    let mut r = acr_error(
        StatusCode::TOO_MANY_REQUESTS,
        "TOOMANYREQUESTS",
        "too many requests (injected by the emulator)",
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry));
    Some(r)
}

/// A token scope: `repository:<name>:<actions>` or `registry:catalog:*`.
#[derive(Debug, Clone, PartialEq)]
pub struct Scope {
    /// `repository` or `registry`.
    pub kind: String,
    /// Repository name or `catalog`.
    pub name: String,
    /// Requested actions.
    pub actions: Vec<String>,
}

/// Parses a scope as the distribution token spec writes it, keeping to what
/// this registry serves; `None` when malformed.
pub fn parse_scope(s: &str) -> Option<Scope> {
    let (kind, rest) = s.split_once(':')?;
    let (name, actions) = rest.rsplit_once(':')?;
    let actions: Vec<String> = actions.split(',').map(str::to_string).collect();
    let ok = match kind {
        "repository" => {
            valid_repo_name(name)
                && actions
                    .iter()
                    .all(|a| matches!(a.as_str(), "pull" | "push" | "delete" | "*"))
        }
        "registry" => name == "catalog" && actions == ["*"],
        _ => false,
    };
    ok.then(|| Scope {
        kind: kind.to_string(),
        name: name.to_string(),
        actions,
    })
}

fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(rest.trim()).ok()?).ok()?;
    let (u, p) = decoded.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

/// Who a credential stands for.
enum Caller {
    /// The registry's admin user: every action.
    Admin,
    /// An Entra ID identity (from its ACR refresh token): what its roles allow.
    Identity(Box<Claims>),
}

fn same_host(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// An ACR refresh token of this registry.
fn refresh_claims(state: &AppState, token: &str) -> Option<Claims> {
    state
        .tokens
        .verify(token)
        .ok()
        .filter(|c| c.typ == "acr_refresh" && same_host(&c.aud, &state.registry_host()))
}

/// Admin credentials, or the null GUID with a refresh token.
fn password_caller(state: &AppState, user: &str, password: &str) -> Option<Caller> {
    if user == state.config.registry_username && password == state.config.registry_password {
        return Some(Caller::Admin);
    }
    if user != NULL_GUID {
        return None;
    }
    refresh_claims(state, password).map(|c| Caller::Identity(Box::new(c)))
}

/// What `caller` gets of `scope`.
fn grant(state: &AppState, caller: &Caller, scope: &Scope) -> AccessEntry {
    let actions = match caller {
        Caller::Admin => scope.actions.clone(),
        Caller::Identity(c) => {
            crate::roles::checks::acr_grant(state, c, &scope.kind, &scope.actions)
        }
    };
    AccessEntry {
        kind: scope.kind.clone(),
        name: scope.name.clone(),
        actions,
    }
}

fn covers(access: &[AccessEntry], scope: &Scope) -> bool {
    scope.actions.iter().all(|want| {
        access.iter().any(|e| {
            e.kind == scope.kind
                && e.name == scope.name
                && e.actions.iter().any(|a| a == want || a == "*")
        })
    })
}

/// Checks a registry request that needs `scope` (empty: any valid
/// credential); on failure, ACR's 401 with the Bearer challenge. Scopes
/// are enforced when a role table is configured.
pub fn check(state: &AppState, headers: &HeaderMap, scope: &str) -> Result<(), Box<Response>> {
    let needed = parse_scope(scope);
    let enforce = state.config.roles.is_some();
    let allowed = if let Some((u, p)) = basic(headers) {
        match password_caller(state, &u, &p) {
            Some(Caller::Admin) => true,
            Some(caller) => {
                !enforce
                    || needed
                        .as_ref()
                        .is_none_or(|s| covers(&[grant(state, &caller, s)], s))
            }
            None => false,
        }
    } else if let Some(token) = crate::auth::bearer(headers) {
        match state.tokens.verify(token) {
            Ok(c) if c.typ == "acr_access" && same_host(&c.aud, &state.registry_host()) => {
                !enforce || needed.as_ref().is_none_or(|s| covers(&c.access, s))
            }
            _ => false,
        }
    } else {
        false
    };
    if allowed {
        return Ok(());
    }
    let host = state.registry_host();
    let challenge = format!(
        "Bearer realm=\"{}/oauth2/token\",service=\"{host}\"{}",
        state.base_url(),
        if scope.is_empty() {
            String::new()
        } else {
            format!(",scope=\"{scope}\"")
        }
    );
    let detail = match &needed {
        Some(s) => Value::Array(
            s.actions
                .iter()
                .map(|a| json!({"Type": s.kind, "Name": s.name, "Action": a}))
                .collect(),
        ),
        None => Value::Null,
    };
    let mut resp = acr_error_detail(
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
        AUTH_REQUIRED,
        detail,
    );
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    Err(Box::new(resp))
}

fn bad_request(message: &str) -> Response {
    acr_error(StatusCode::BAD_REQUEST, "INVALID_REQUEST", message)
}

fn unauthorized(message: &str) -> Response {
    acr_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message)
}

/// `service` must name this registry (its login server); the refusal if not.
fn check_service(state: &AppState, service: Option<&str>) -> Option<Response> {
    match service.filter(|s| !s.is_empty()) {
        None => Some(bad_request("service is required")),
        Some(s) if same_host(s, &state.registry_host()) => None,
        Some(s) => Some(bad_request(&format!(
            "the service '{s}' is not this registry; use '{}'",
            state.registry_host()
        ))),
    }
}

/// The scopes of a token request, each well formed, at most [`MAX_SCOPES`].
fn scopes<'a>(values: impl Iterator<Item = &'a str>) -> Result<Vec<Scope>, Box<Response>> {
    let mut out = Vec::new();
    // Several scopes may also come space-separated in one field.
    for s in values.flat_map(str::split_whitespace) {
        let Some(scope) = parse_scope(s) else {
            return Err(Box::new(bad_request(&format!(
                "invalid scope '{s}': expected 'repository:<name>:<actions>' or 'registry:catalog:*'"
            ))));
        };
        out.push(scope);
        if out.len() > MAX_SCOPES {
            return Err(Box::new(bad_request("too many scopes")));
        }
    }
    Ok(out)
}

fn access_token(state: &AppState, caller: &Caller, scopes: &[Scope]) -> Response {
    let sub = match caller {
        Caller::Admin => state.config.registry_username.clone(),
        Caller::Identity(c) => c.sub.clone(),
    };
    let access = scopes.iter().map(|s| grant(state, caller, s)).collect();
    let (token, _) = state
        .tokens
        .issue_access(&state.registry_host(), &sub, "acr_access", access);
    axum::Json(json!({ "access_token": token })).into_response()
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// `POST /oauth2/exchange`.
pub async fn exchange(
    State(state): State<Arc<AppState>>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(r) = throttled(&state) {
        return r;
    }
    let grant = f.get("grant_type").map(String::as_str);
    if !matches!(
        grant,
        Some("access_token") | Some("access_token_refresh_token")
    ) {
        return acr_error(
            StatusCode::BAD_REQUEST,
            "UNSUPPORTED",
            "grant_type must be 'access_token'",
        );
    }
    if let Some(r) = check_service(&state, f.get("service").map(String::as_str)) {
        return r;
    }
    let Some(aad) = f.get("access_token") else {
        return bad_request("access_token is required");
    };
    let claims = match state.tokens.verify(aad) {
        Ok(c) if c.typ == "aad" => c,
        _ => return unauthorized("the AAD access token is invalid or expired"),
    };
    let aud = claims.aud.trim_end_matches('/');
    if !ACR_AUDIENCES.iter().any(|a| a.eq_ignore_ascii_case(aud)) {
        return unauthorized(&format!(
            "the AAD access token has audience '{}'; the registry accepts tokens for {}",
            claims.aud,
            ACR_AUDIENCES.join(", ")
        ));
    }
    if f.get("tenant")
        .is_some_and(|t| !t.is_empty() && !t.eq_ignore_ascii_case(&claims.tid))
    {
        return unauthorized("the AAD access token is not from the given tenant");
    }
    let (refresh, _) = state
        .tokens
        .issue(&state.registry_host(), &claims.sub, "acr_refresh");
    axum::Json(json!({ "refresh_token": refresh })).into_response()
}

/// `POST /oauth2/token` (grant_type `refresh_token` or `password`).
pub async fn token_post(
    State(state): State<Arc<AppState>>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    if let Some(r) = throttled(&state) {
        return r;
    }
    if let Some(r) = check_service(&state, field(&f, "service")) {
        return r;
    }
    let caller = match field(&f, "grant_type") {
        Some("refresh_token") => {
            match field(&f, "refresh_token").and_then(|t| refresh_claims(&state, t)) {
                Some(c) => Caller::Identity(Box::new(c)),
                None => return unauthorized("the refresh token is invalid or expired"),
            }
        }
        Some("password") => {
            let u = field(&f, "username").unwrap_or_default();
            let p = field(&f, "password").unwrap_or_default();
            match password_caller(&state, u, p) {
                Some(c) => c,
                None => return unauthorized("invalid username or password"),
            }
        }
        _ => {
            return acr_error(
                StatusCode::BAD_REQUEST,
                "UNSUPPORTED",
                "grant_type must be 'refresh_token' or 'password'",
            );
        }
    };
    let requested = f
        .iter()
        .filter(|(k, _)| k == "scope")
        .map(|(_, v)| v.as_str());
    let scopes = match scopes(requested) {
        Ok(s) if s.is_empty() => return bad_request("scope is required"),
        Ok(s) => s,
        Err(r) => return *r,
    };
    access_token(&state, &caller, &scopes)
}

/// `GET /oauth2/token?service=&scope=` with basic auth (what `docker login`
/// and the engine's pull do; no scope gives a token for `/v2/` alone).
pub async fn token_get(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    if let Some(r) = throttled(&state) {
        return r;
    }
    if let Some(service) = field(&q, "service")
        && let Some(r) = check_service(&state, Some(service))
    {
        return r;
    }
    let Some(caller) = basic(&headers).and_then(|(u, p)| password_caller(&state, &u, &p)) else {
        return unauthorized(AUTH_REQUIRED);
    };
    let requested = q
        .iter()
        .filter(|(k, _)| k == "scope")
        .map(|(_, v)| v.as_str());
    match scopes(requested) {
        Ok(s) => access_token(&state, &caller, &s),
        Err(r) => *r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_parsed_as_the_token_spec_writes_them() {
        assert_eq!(
            parse_scope("repository:team/app:pull,push"),
            Some(Scope {
                kind: "repository".into(),
                name: "team/app".into(),
                actions: vec!["pull".into(), "push".into()],
            })
        );
        assert!(parse_scope("registry:catalog:*").is_some());
        for bad in [
            "",
            "repository",
            "repository:app",
            "repository:App:pull",
            "repository:app:fly",
            "repository:app:",
            "registry:other:*",
            "registry:catalog:pull",
            "bucket:app:pull",
        ] {
            assert_eq!(parse_scope(bad), None, "{bad}");
        }
    }

    #[test]
    fn an_access_list_covers_only_what_it_names() {
        let scope = parse_scope("repository:app:pull,push").expect("scope");
        let entry = |name: &str, actions: &[&str]| AccessEntry {
            kind: "repository".into(),
            name: name.into(),
            actions: actions.iter().map(|a| a.to_string()).collect(),
        };
        assert!(covers(&[entry("app", &["pull", "push"])], &scope));
        assert!(covers(&[entry("app", &["*"])], &scope));
        assert!(!covers(&[entry("app", &["pull"])], &scope));
        assert!(!covers(&[entry("other", &["*"])], &scope));
        assert!(!covers(&[], &scope));
    }
}
