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
use url::Url;

use crate::Secret;
use crate::pipeline::{AzureOptions, RequestIdPolicy, may_carry_token};
use crate::{AzureError, CallContext, ErrorKind, error_chain};

mod refusal;
pub use refusal::{PullError, Refusal, RefusalCode};
pub mod blobs;

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
    pub password: Option<Secret>,
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

/// A repository at a registry, with the tag or digest to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullTarget {
    /// Registry host (with port) to talk to.
    pub registry: String,
    /// Repository path at that registry.
    pub repository: String,
    /// Tag to read (ignored when `digest` is set).
    pub tag: Option<String>,
    /// Digest to read.
    pub digest: Option<String>,
    /// Use plain http.
    pub plain_http: bool,
    /// A registry mirror (read anonymously unless a login is given).
    pub mirrored: bool,
}

impl PullTarget {
    /// How to reach the registry: https, or plain http when the target says so.
    pub fn protocol(&self) -> ClientProtocol {
        ClientProtocol::HttpsExcept(if self.plain_http {
            vec![self.registry.clone()]
        } else {
            Vec::new()
        })
    }

    fn oci_reference(&self) -> Reference {
        match (&self.digest, &self.tag) {
            (Some(d), _) => {
                Reference::with_digest(self.registry.clone(), self.repository.clone(), d.clone())
            }
            (None, t) => Reference::with_tag(
                self.registry.clone(),
                self.repository.clone(),
                t.clone().unwrap_or_else(|| "latest".to_owned()),
            ),
        }
    }
}

impl std::fmt::Display for PullTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        match (&self.digest, &self.tag) {
            (Some(d), _) => write!(f, "@{d}"),
            (None, Some(t)) => write!(f, ":{t}"),
            (None, None) => Ok(()),
        }
    }
}

/// A user's registry login (`X-Registry-Auth`). `Debug` redacts the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Login {
    /// User name.
    pub username: String,
    /// Password or token.
    pub password: String,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// A platform to choose from an image index (`os/arch[/variant]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformSpec {
    /// e.g. `linux`.
    pub os: String,
    /// e.g. `amd64`.
    pub architecture: String,
    /// e.g. `v8`.
    pub variant: Option<String>,
}

impl Default for PlatformSpec {
    fn default() -> Self {
        Self {
            os: "linux".to_owned(),
            architecture: "amd64".to_owned(),
            variant: None,
        }
    }
}

impl PlatformSpec {
    /// Parses Docker's `platform` parameter (`linux/amd64`, `linux/arm64/v8`).
    pub fn parse(value: &str) -> Result<Self, AzureError> {
        let parts: Vec<&str> = value.split('/').collect();
        let bad = || {
            AzureError::invalid(format!(
                "invalid platform {value:?}: expected os/arch[/variant]"
            ))
        };
        if parts.iter().any(|p| p.is_empty()) {
            return Err(bad());
        }
        match parts.as_slice() {
            [os, arch] => Ok(Self {
                os: os.to_ascii_lowercase(),
                architecture: arch.to_ascii_lowercase(),
                variant: None,
            }),
            [os, arch, variant] => Ok(Self {
                os: os.to_ascii_lowercase(),
                architecture: arch.to_ascii_lowercase(),
                variant: Some(variant.to_ascii_lowercase()),
            }),
            _ => Err(bad()),
        }
    }

    /// The digest of the index entry for this platform.
    pub fn choose(&self, entries: &[oci_client::manifest::ImageIndexEntry]) -> Option<String> {
        entries
            .iter()
            .find(|e| {
                e.platform.as_ref().is_some_and(|p| {
                    p.os.to_string() == self.os
                        && p.architecture.to_string() == self.architecture
                        && self
                            .variant
                            .as_ref()
                            .is_none_or(|v| p.variant.as_deref() == Some(v.as_str()))
                })
            })
            .map(|e| e.digest.clone())
    }
}

/// An image's manifest and config as read from its registry.
#[derive(Debug, Clone)]
pub struct PulledImage {
    /// The platform's image manifest.
    pub manifest: oci_client::manifest::OciImageManifest,
    /// Digest of that manifest.
    pub digest: String,
    /// Digest of the index it was chosen from, when the reference named an index.
    pub list_digest: Option<String>,
    /// The image config JSON.
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
    pub async fn pull_config(&self, image: &str) -> Result<PulledConfig, AzureError> {
        let ctx = CallContext::new(
            format!("aca: pull image {image}"),
            "AcrPull on the registry".to_owned(),
        );
        let mut reference = Reference::from_str(image)
            .map_err(|e| AzureError::invalid(format!("invalid reference format: {image}: {e}")))?;
        let registry = reference.registry().to_owned();
        let mut plain_http = Vec::new();
        let auth = if let Some(mirror) = self.settings.mirrors.get(&registry) {
            let host = mirror_host(mirror).ok_or_else(|| {
                AzureError::other(format!(
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
            .map_err(|e| map_oci_error(&ctx, image, e))?;
        let manifest = serde_json::to_value(&manifest)
            .map_err(|e| AzureError::other(format!("{}: {e}", ctx.operation)))?;
        let config: Value = serde_json::from_str(&config).map_err(|e| {
            AzureError::other(format!("{}: image config is not JSON: {e}", ctx.operation))
        })?;
        Ok(PulledConfig {
            reference: reference.whole(),
            digest,
            manifest,
            config,
        })
    }

    /// Reads an image's manifest (for `platform`, linux/amd64 by default,
    /// from an index) and config from `target` (a registry already chosen:
    /// mirrors are the caller's business). `login` is the user's
    /// `X-Registry-Auth`; without it the configured login, ACR's token
    /// exchange or anonymous access is used as for [`Self::pull_config`].
    /// The registry's refusals (unknown manifest or repository, denied) are
    /// [`PullError::Refused`], for the caller to word with the image's name.
    pub async fn pull_image(
        &self,
        target: &PullTarget,
        login: Option<&Login>,
        platform: Option<&PlatformSpec>,
    ) -> Result<PulledImage, PullError> {
        let shown = target.to_string();
        let ctx = CallContext::new(
            format!("aca: pull image {shown}"),
            "pull access to the registry".to_owned(),
        );
        let reference = target.oci_reference();
        let auth = match login {
            Some(l) => RegistryAuth::Basic(l.username.clone(), l.password.clone()),
            None if target.mirrored => RegistryAuth::Anonymous,
            None => {
                self.auth_for(&ctx, &target.registry, &target.repository)
                    .await?
            }
        };
        let wanted = platform.cloned().unwrap_or_default();
        let client = Client::new(ClientConfig {
            protocol: target.protocol(),
            platform_resolver: Some(Box::new(move |entries| wanted.choose(entries))),
            ..Default::default()
        });
        let (manifest, digest, config, list_digest) = client
            .pull_manifest_and_config_and_list_digest(&reference, &auth)
            .await
            .map_err(|e| match Refusal::of(&e) {
                Some(refusal) => PullError::Refused {
                    refusal,
                    context: format!("{}: {}", ctx.operation, error_chain(&e)),
                },
                None => PullError::Other(map_oci_error(&ctx, &shown, e)),
            })?;
        let config_json: Value = serde_json::from_str(&config).map_err(|e| {
            AzureError::other(format!("{}: image config is not JSON: {e}", ctx.operation))
        })?;
        Ok(PulledImage {
            manifest,
            digest,
            list_digest,
            config: config_json,
        })
    }

    /// Pushes an image (layers as given, config, an OCI manifest) to
    /// `target` (its tag) with the configured login for that registry (or
    /// ACR's token exchange); returns the manifest digest.
    pub async fn push_image(
        &self,
        target: &PullTarget,
        layers: Vec<(bytes::Bytes, String)>,
        config: bytes::Bytes,
    ) -> Result<String, AzureError> {
        let shown = target.to_string();
        let ctx = CallContext::new(
            format!("aca: push image {shown}"),
            "push access (AcrPush) to the registry".to_owned(),
        );
        let reference = target.oci_reference();
        let auth = self
            .auth_for_actions(&ctx, &target.registry, &target.repository, "pull,push")
            .await?;
        let client = Client::new(ClientConfig {
            protocol: target.protocol(),
            ..Default::default()
        });
        let layers: Vec<oci_client::client::ImageLayer> = layers
            .into_iter()
            .map(|(data, media_type)| oci_client::client::ImageLayer::new(data, media_type, None))
            .collect();
        let config = oci_client::client::Config::oci_v1(config, None);
        let mut manifest = oci_client::manifest::OciImageManifest::build(&layers, &config, None);
        // `build` leaves the top-level mediaType out; registries want it.
        manifest.media_type = Some(oci_client::manifest::OCI_IMAGE_MEDIA_TYPE.to_owned());
        client
            .push(&reference, &layers, config, &auth, Some(manifest))
            .await
            .map_err(|e| map_oci_error(&ctx, &shown, e))?;
        client
            .fetch_manifest_digest(&reference, &auth)
            .await
            .map_err(|e| map_oci_error(&ctx, &shown, e))
    }

    async fn auth_for(
        &self,
        ctx: &CallContext,
        registry: &str,
        repository: &str,
    ) -> Result<RegistryAuth, AzureError> {
        self.auth_for_actions(ctx, registry, repository, "pull")
            .await
    }

    async fn auth_for_actions(
        &self,
        ctx: &CallContext,
        registry: &str,
        repository: &str,
        actions: &str,
    ) -> Result<RegistryAuth, AzureError> {
        let is_server = self.settings.server.as_deref() == Some(registry);
        if is_server
            && let (Some(user), Some(password)) = (&self.settings.username, &self.settings.password)
        {
            return Ok(RegistryAuth::Basic(
                user.clone(),
                password.secret().to_owned(),
            ));
        }
        if is_server || is_acr(registry) {
            return self
                .acr_token(ctx, registry, repository, actions)
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
        actions: &str,
    ) -> Result<String, AzureError> {
        let scheme = if is_loopback_registry(registry) {
            "http"
        } else {
            "https"
        };
        let base = Url::parse(&format!("{scheme}://{registry}/")).map_err(|e| {
            AzureError::invalid(format!(
                "{}: invalid registry {registry}: {e}",
                ctx.operation
            ))
        })?;
        if !may_carry_token(&base) {
            return Err(AzureError::other(format!(
                "{}: refusing to send tokens over http to {registry}",
                ctx.operation
            )));
        }
        let aad = self
            .credential
            .get_token(&[ACR_AAD_SCOPE], None)
            .await
            .map_err(|e| AzureError::from_core(ctx, e))?;
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
        let scope = format!("repository:{repository}:{actions}");
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
    ) -> Result<T, AzureError> {
        let url = base
            .join(path)
            .map_err(|e| AzureError::other(format!("{}: {e}", ctx.operation)))?;
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
            .map_err(|e| AzureError::from_core(ctx, e))?;
        serde_json::from_slice(&response.into_body()).map_err(|e| {
            AzureError::other(format!(
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

fn map_oci_error(ctx: &CallContext, image: &str, err: OciDistributionError) -> AzureError {
    let text = format!("{}: {}", ctx.operation, error_chain(&err));
    let not_found = || AzureError::not_found(format!("No such image: {image} ({text})"));
    let mapped = match &err {
        OciDistributionError::ImageManifestNotFoundError(_) => not_found(),
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
            not_found()
        }
        OciDistributionError::ServerError { code: 404, .. } => not_found(),
        OciDistributionError::AuthenticationFailure(_)
        | OciDistributionError::UnauthorizedError { .. } => AzureError::new(
            ErrorKind::Denied,
            format!(
                "{text} (the registry refused access: the backend's identity needs {})",
                ctx.required_role
            ),
        ),
        OciDistributionError::ServerError {
            code: 429 | 502 | 503 | 504,
            ..
        }
        | OciDistributionError::RequestError(_) => AzureError::unavailable(text),
        _ => AzureError::other(text),
    };
    mapped.with_source(err)
}

#[cfg(test)]
mod tests;
