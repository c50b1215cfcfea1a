//! Container registry access (OCI distribution via `oci-client`): resolves an
//! image's manifest and config.
//!
//! Auth, per registry: a configured mirror is read anonymously; the configured
//! `registry_server` with user name and password uses them; an ACR registry
//! without them uses ACR's token exchange (Entra ID token → `/oauth2/exchange`
//! refresh token → `/oauth2/token` access token); anything else is anonymous.
//! Plain http is used for loopback registries and `http://` mirrors only.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;

use azure_core::credentials::TokenCredential;
use azure_core::http::{Context, Method, Pipeline, Request};
use oci_client::client::{ClientConfig, ClientProtocol, linux_amd64_resolver};
use oci_client::errors::OciDistributionError;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use serde::Deserialize;
use serde_json::Value;
use sockerless_api::ApiError;
use url::Url;

use super::pipeline::{AzureOptions, RequestIdPolicy, may_carry_token};
use crate::config::SecretString;
use crate::errors::{CallContext, error_chain, map_azure_error};

/// Scope of the Entra ID token exchanged for an ACR refresh token.
const ACR_AAD_SCOPE: &str = "https://management.azure.com/.default";

/// Registry settings.
#[derive(Debug, Clone, Default)]
pub struct RegistrySettings {
    /// The configured registry server (e.g. `myreg.azurecr.io`).
    pub server: Option<String>,
    /// User name for `server`.
    pub username: Option<String>,
    /// Password for `server`.
    pub password: Option<SecretString>,
    /// Registry host → mirror base URL.
    pub mirrors: BTreeMap<String, Url>,
}

/// An image's resolved manifest and config.
#[derive(Debug, Clone, PartialEq)]
pub struct PulledConfig {
    /// Normalised reference, e.g. `docker.io/library/busybox:latest`.
    pub reference: String,
    /// Manifest digest.
    pub digest: String,
    /// The image manifest.
    pub manifest: Value,
    /// The OCI image config (`config.Entrypoint`, `config.Cmd`, `config.Env`, …).
    pub config: Value,
}

/// Reads image manifests and configs.
#[derive(Debug, Clone)]
pub struct RegistryClient {
    settings: RegistrySettings,
    credential: Arc<dyn TokenCredential>,
    exchange: Pipeline,
}

#[derive(Deserialize)]
struct RefreshToken {
    refresh_token: String,
}

#[derive(Deserialize)]
struct AccessTokenBody {
    access_token: String,
}

/// Whether a registry host (`host[:port]`) is loopback.
pub fn is_loopback_registry(registry: &str) -> bool {
    let host = Url::parse(&format!("http://{registry}/"))
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned));
    match host.as_deref() {
        Some("localhost") => true,
        Some(h) => IpAddr::from_str(h.trim_start_matches('[').trim_end_matches(']'))
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

fn is_acr(registry: &str) -> bool {
    let host = registry.split(':').next().unwrap_or(registry);
    [".azurecr.io", ".azurecr.cn", ".azurecr.us"]
        .iter()
        .any(|s| host.ends_with(s))
}

impl RegistryClient {
    /// A registry client; `credential` is used for ACR's token exchange.
    pub fn new(
        settings: RegistrySettings,
        credential: Arc<dyn TokenCredential>,
        options: &AzureOptions,
    ) -> Self {
        let exchange = Pipeline::new(
            Some(env!("CARGO_PKG_NAME")),
            Some(env!("CARGO_PKG_VERSION")),
            azure_core::http::ClientOptions {
                retry: azure_core::http::RetryOptions::exponential(options.retry.clone()),
                ..Default::default()
            },
            Vec::new(),
            vec![Arc::new(RequestIdPolicy)],
            None,
        );
        Self {
            settings,
            credential,
            exchange,
        }
    }

    /// Resolves `image` (e.g. `busybox`, `myreg.azurecr.io/app:v1`) for linux/amd64.
    pub async fn pull_config(&self, image: &str) -> Result<PulledConfig, ApiError> {
        let ctx = CallContext::new(
            format!("aca: pull image {image}"),
            "AcrPull on the registry".to_owned(),
        );
        let mut reference = Reference::from_str(image).map_err(|e| {
            ApiError::InvalidParameter(format!("invalid reference format: {image}: {e}"))
        })?;
        let registry = reference.registry().to_owned();
        let mut plain_http = Vec::new();
        let auth = if let Some(mirror) = self.settings.mirrors.get(&registry) {
            let host = mirror_host(mirror).ok_or_else(|| {
                ApiError::Internal(format!(
                    "{}: registry mirror {mirror} has no host",
                    ctx.operation
                ))
            })?;
            if mirror.scheme() == "http" {
                plain_http.push(host.clone());
            }
            reference.set_mirror_registry(host);
            RegistryAuth::Anonymous
        } else {
            if is_loopback_registry(&registry) {
                plain_http.push(registry.clone());
            }
            self.auth_for(&ctx, &registry, reference.repository())
                .await?
        };
        let client = Client::new(ClientConfig {
            protocol: ClientProtocol::HttpsExcept(plain_http),
            platform_resolver: Some(Box::new(linux_amd64_resolver)),
            ..Default::default()
        });
        let (manifest, digest, config) = client
            .pull_manifest_and_config(&reference, &auth)
            .await
            .map_err(|e| map_oci_error(&ctx, image, &e))?;
        let manifest = serde_json::to_value(&manifest)
            .map_err(|e| ApiError::Internal(format!("{}: {e}", ctx.operation)))?;
        let config: Value = serde_json::from_str(&config).map_err(|e| {
            ApiError::Internal(format!("{}: image config is not JSON: {e}", ctx.operation))
        })?;
        Ok(PulledConfig {
            reference: reference.whole(),
            digest,
            manifest,
            config,
        })
    }

    async fn auth_for(
        &self,
        ctx: &CallContext,
        registry: &str,
        repository: &str,
    ) -> Result<RegistryAuth, ApiError> {
        let is_server = self.settings.server.as_deref() == Some(registry);
        if is_server
            && let (Some(user), Some(password)) = (&self.settings.username, &self.settings.password)
        {
            return Ok(RegistryAuth::Basic(
                user.clone(),
                password.expose().to_owned(),
            ));
        }
        if is_server || is_acr(registry) {
            return self
                .acr_token(ctx, registry, repository)
                .await
                .map(RegistryAuth::Bearer);
        }
        Ok(RegistryAuth::Anonymous)
    }

    /// ACR token exchange; returns a pull token for `repository`.
    async fn acr_token(
        &self,
        ctx: &CallContext,
        registry: &str,
        repository: &str,
    ) -> Result<String, ApiError> {
        let scheme = if is_loopback_registry(registry) {
            "http"
        } else {
            "https"
        };
        let base = Url::parse(&format!("{scheme}://{registry}/")).map_err(|e| {
            ApiError::InvalidParameter(format!(
                "{}: invalid registry {registry}: {e}",
                ctx.operation
            ))
        })?;
        if !may_carry_token(&base) {
            return Err(ApiError::Internal(format!(
                "{}: refusing to send tokens over http to {registry}",
                ctx.operation
            )));
        }
        let aad = self
            .credential
            .get_token(&[ACR_AAD_SCOPE], None)
            .await
            .map_err(|e| map_azure_error(ctx, &e))?;
        let refresh: RefreshToken = self
            .post_form(
                ctx,
                &base,
                "oauth2/exchange",
                &[
                    ("grant_type", "access_token"),
                    ("service", registry),
                    ("access_token", aad.token.secret()),
                ],
            )
            .await?;
        let scope = format!("repository:{repository}:pull");
        let access: AccessTokenBody = self
            .post_form(
                ctx,
                &base,
                "oauth2/token",
                &[
                    ("grant_type", "refresh_token"),
                    ("service", registry),
                    ("scope", &scope),
                    ("refresh_token", &refresh.refresh_token),
                ],
            )
            .await?;
        Ok(access.access_token)
    }

    async fn post_form<T: serde::de::DeserializeOwned>(
        &self,
        ctx: &CallContext,
        base: &Url,
        path: &str,
        fields: &[(&str, &str)],
    ) -> Result<T, ApiError> {
        let url = base
            .join(path)
            .map_err(|e| ApiError::Internal(format!("{}: {e}", ctx.operation)))?;
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let mut request = Request::new(url, Method::Post);
        request.insert_header("content-type", "application/x-www-form-urlencoded");
        request.set_body(body.into_bytes());
        let response = self
            .exchange
            .send(&Context::new(), &mut request, None)
            .await
            .map_err(|e| map_azure_error(ctx, &e))?;
        serde_json::from_slice(&response.into_body()).map_err(|e| {
            ApiError::Internal(format!(
                "{}: unexpected answer from {path}: {e}",
                ctx.operation
            ))
        })
    }
}

fn mirror_host(mirror: &Url) -> Option<String> {
    let host = mirror.host_str()?;
    Some(match mirror.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    })
}

fn map_oci_error(ctx: &CallContext, image: &str, err: &OciDistributionError) -> ApiError {
    let text = format!("{}: {}", ctx.operation, error_chain(err));
    match err {
        OciDistributionError::ImageManifestNotFoundError(_) => {
            ApiError::NotFound(format!("No such image: {image} ({text})"))
        }
        OciDistributionError::RegistryError { envelope, .. }
            if envelope.errors.iter().any(|e| {
                matches!(
                    e.code,
                    oci_client::errors::OciErrorCode::ManifestUnknown
                        | oci_client::errors::OciErrorCode::NameUnknown
                        | oci_client::errors::OciErrorCode::NotFound
                )
            }) =>
        {
            ApiError::NotFound(format!("No such image: {image} ({text})"))
        }
        OciDistributionError::ServerError { code: 404, .. } => {
            ApiError::NotFound(format!("No such image: {image} ({text})"))
        }
        OciDistributionError::AuthenticationFailure(_)
        | OciDistributionError::UnauthorizedError { .. } => ApiError::Internal(format!(
            "{text} (the registry refused access: the backend's identity needs {})",
            ctx.required_role
        )),
        OciDistributionError::ServerError {
            code: 429 | 502 | 503 | 504,
            ..
        }
        | OciDistributionError::RequestError(_) => ApiError::Unavailable(text),
        _ => ApiError::Internal(text),
    }
}

#[cfg(test)]
#[path = "registry_tests.rs"]
mod tests;
