//! The credential chain (Rust's `azure_identity` has no `DefaultAzureCredential`).
//!
//! Order: environment client secret → workload identity → managed identity
//! via `IDENTITY_ENDPOINT` → developer tools (Azure CLI, azd) → IMDS. IMDS is
//! last because it is the slow one: it is probed with short retries and only
//! when no `IDENTITY_ENDPOINT` is set. The first source that yields a token
//! wins and is used from then on; when none does, the error lists every source
//! and why it failed.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::{AccessToken, Secret, TokenCredential, TokenRequestOptions};
use azure_core::error::ErrorKind;
use azure_core::http::{ClientOptions, ExponentialRetryOptions, RetryOptions};
use azure_core::time::Duration;
use azure_identity::{
    ClientAssertionCredentialOptions, ClientSecretCredential, ClientSecretCredentialOptions,
    DeveloperToolsCredential, ManagedIdentityCredential, ManagedIdentityCredentialOptions,
    UserAssignedId, WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};
use url::Url;

use crate::error_chain;

/// One link of the chain: a credential, or why it could not be built.
#[derive(Debug, Clone)]
pub struct ChainSource {
    /// Name used in errors and logs, e.g. `ManagedIdentityCredential`.
    pub name: &'static str,
    /// The credential, or the reason it is unavailable (e.g. unset variables).
    pub credential: Result<Arc<dyn TokenCredential>, String>,
}

/// A `TokenCredential` trying its sources in order; the first to succeed wins.
#[derive(Debug)]
pub struct ChainedCredential {
    sources: Vec<ChainSource>,
    winner: OnceLock<usize>,
}

impl ChainedCredential {
    /// A chain of `sources`, tried in order.
    pub fn new(sources: Vec<ChainSource>) -> Self {
        Self {
            sources,
            winner: OnceLock::new(),
        }
    }

    /// The standard chain, configured from `env` (pass `std::env::vars()`).
    /// `authority_host` is the Entra ID host for client-secret and workload
    /// identity credentials (it must be https).
    pub fn from_environment<I>(env: I, authority_host: &Url) -> Self
    where
        I: IntoIterator<Item = (String, String)>,
    {
        let env: HashMap<String, String> = env.into_iter().filter(|(_, v)| !v.is_empty()).collect();
        let var = |k: &str| env.get(k).cloned();
        let cloud = || -> Option<Arc<CloudConfiguration>> {
            let mut custom = CustomConfiguration::default();
            custom.authority_host = authority_host.as_str().trim_end_matches('/').to_owned();
            Some(Arc::new(CloudConfiguration::from(custom)))
        };
        let client_options = || ClientOptions {
            cloud: cloud(),
            ..Default::default()
        };

        let mut sources = Vec::new();

        sources.push(ChainSource {
            name: "EnvironmentCredential",
            credential: match (
                var("AZURE_TENANT_ID"),
                var("AZURE_CLIENT_ID"),
                var("AZURE_CLIENT_SECRET"),
            ) {
                (Some(tenant), Some(client), Some(secret)) => ClientSecretCredential::new(
                    &tenant,
                    client,
                    Secret::new(secret),
                    Some(ClientSecretCredentialOptions {
                        client_options: client_options(),
                    }),
                )
                .map(|c| c as Arc<dyn TokenCredential>)
                .map_err(|e| error_chain(&e)),
                _ => Err(
                    "AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET are not all set"
                        .into(),
                ),
            },
        });

        sources.push(ChainSource {
            name: "WorkloadIdentityCredential",
            credential: match (var("AZURE_FEDERATED_TOKEN_FILE"), var("AZURE_TENANT_ID"), var("AZURE_CLIENT_ID")) {
                (Some(file), Some(tenant), Some(client)) => {
                    WorkloadIdentityCredential::new(Some(WorkloadIdentityCredentialOptions {
                        credential_options: ClientAssertionCredentialOptions {
                            client_options: client_options(),
                        },
                        client_id: Some(client),
                        tenant_id: Some(tenant),
                        token_file_path: Some(file.into()),
                    }))
                    .map(|c| c as Arc<dyn TokenCredential>)
                    .map_err(|e| error_chain(&e))
                }
                _ => Err("AZURE_FEDERATED_TOKEN_FILE, AZURE_TENANT_ID and AZURE_CLIENT_ID are not all set".into()),
            },
        });

        let user_assigned_id = var("AZURE_CLIENT_ID").map(UserAssignedId::ClientId);
        let has_identity_endpoint =
            var("IDENTITY_ENDPOINT").is_some() && var("IDENTITY_HEADER").is_some();
        sources.push(ChainSource {
            name: "ManagedIdentityCredential",
            credential: if has_identity_endpoint {
                ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
                    user_assigned_id: user_assigned_id.clone(),
                    ..Default::default()
                }))
                .map(|c| c as Arc<dyn TokenCredential>)
                .map_err(|e| error_chain(&e))
            } else {
                Err("IDENTITY_ENDPOINT and IDENTITY_HEADER are not set".into())
            },
        });

        sources.push(ChainSource {
            name: "DeveloperToolsCredential",
            credential: DeveloperToolsCredential::new(None)
                .map(|c| c as Arc<dyn TokenCredential>)
                .map_err(|e| error_chain(&e)),
        });

        if !has_identity_endpoint {
            let quick_retries = ClientOptions {
                retry: RetryOptions::exponential(ExponentialRetryOptions {
                    initial_delay: Duration::milliseconds(200),
                    max_retries: 2,
                    max_total_elapsed: Duration::seconds(5),
                    max_delay: Duration::seconds(2),
                }),
                ..Default::default()
            };
            sources.push(ChainSource {
                name: "ImdsManagedIdentityCredential",
                credential: ManagedIdentityCredential::new(Some(
                    ManagedIdentityCredentialOptions {
                        user_assigned_id,
                        client_options: quick_retries,
                    },
                ))
                .map(|c| c as Arc<dyn TokenCredential>)
                .map_err(|e| error_chain(&e)),
            });
        }
        Self::new(sources)
    }

    /// Names of the sources, in order.
    pub fn source_names(&self) -> Vec<&'static str> {
        self.sources.iter().map(|s| s.name).collect()
    }

    /// The source that produced the first token, once one has.
    pub fn winner(&self) -> Option<&'static str> {
        self.winner.get().map(|i| self.sources[*i].name)
    }
}

#[async_trait]
impl TokenCredential for ChainedCredential {
    async fn get_token(
        &self,
        scopes: &[&str],
        options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        if let Some(&index) = self.winner.get()
            && let Ok(credential) = &self.sources[index].credential
        {
            return credential.get_token(scopes, options).await;
        }
        let mut tried = Vec::with_capacity(self.sources.len());
        for (index, source) in self.sources.iter().enumerate() {
            let credential = match &source.credential {
                Ok(c) => c,
                Err(reason) => {
                    tried.push(format!("{}: {reason}", source.name));
                    continue;
                }
            };
            match credential.get_token(scopes, options.clone()).await {
                Ok(token) => {
                    if self.winner.set(index).is_ok() {
                        tracing::info!(credential = source.name, "using Azure credential");
                    }
                    return Ok(token);
                }
                Err(err) => tried.push(format!("{}: {}", source.name, error_chain(&err))),
            }
        }
        Err(azure_core::Error::with_message(
            ErrorKind::Credential,
            format!("no Azure credential worked; tried {}", tried.join("; ")),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Debug)]
    struct Fake {
        token: Option<&'static str>,
        calls: AtomicUsize,
    }

    impl Fake {
        fn new(token: Option<&'static str>) -> Arc<Self> {
            Arc::new(Self {
                token,
                calls: AtomicUsize::new(0),
            })
        }
    }

    #[async_trait]
    impl TokenCredential for Fake {
        async fn get_token(
            &self,
            _: &[&str],
            _: Option<TokenRequestOptions<'_>>,
        ) -> azure_core::Result<AccessToken> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            match self.token {
                Some(t) => Ok(AccessToken::new(
                    t,
                    azure_core::time::OffsetDateTime::now_utc() + Duration::hours(1),
                )),
                None => Err(azure_core::Error::with_message(
                    ErrorKind::Credential,
                    "fake refused",
                )),
            }
        }
    }

    fn source(name: &'static str, fake: &Arc<Fake>) -> ChainSource {
        ChainSource {
            name,
            credential: Ok(fake.clone() as Arc<dyn TokenCredential>),
        }
    }

    #[tokio::test]
    async fn first_working_source_wins_and_sticks() {
        let failing = Fake::new(None);
        let second = Fake::new(Some("second"));
        let third = Fake::new(Some("third"));
        let chain = ChainedCredential::new(vec![
            ChainSource {
                name: "Unconfigured",
                credential: Err("X is not set".into()),
            },
            source("Failing", &failing),
            source("Second", &second),
            source("Third", &third),
        ]);
        let token = chain
            .get_token(&["scope/.default"], None)
            .await
            .expect("token");
        assert_eq!(token.token.secret(), "second");
        assert_eq!(chain.winner(), Some("Second"));
        chain
            .get_token(&["scope/.default"], None)
            .await
            .expect("token again");
        assert_eq!(
            failing.calls.load(Ordering::SeqCst),
            1,
            "the winner is remembered"
        );
        assert_eq!(second.calls.load(Ordering::SeqCst), 2);
        assert_eq!(third.calls.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn error_lists_every_source_tried() {
        let a = Fake::new(None);
        let chain = ChainedCredential::new(vec![
            ChainSource {
                name: "EnvironmentCredential",
                credential: Err("AZURE_TENANT_ID unset".into()),
            },
            source("ManagedIdentityCredential", &a),
        ]);
        let err = chain
            .get_token(&["s"], None)
            .await
            .expect_err("nothing works");
        assert_eq!(err.kind(), &ErrorKind::Credential);
        let text = err.to_string();
        assert!(
            text.contains("EnvironmentCredential: AZURE_TENANT_ID unset"),
            "{text}"
        );
        assert!(
            text.contains("ManagedIdentityCredential: fake refused"),
            "{text}"
        );
        assert_eq!(chain.winner(), None);
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn chain_order_and_configuration_follow_the_environment() {
        let authority = Url::parse("https://login.microsoftonline.com").expect("url");
        let chain = ChainedCredential::from_environment(env(&[]), &authority);
        assert_eq!(
            chain.source_names(),
            [
                "EnvironmentCredential",
                "WorkloadIdentityCredential",
                "ManagedIdentityCredential",
                "DeveloperToolsCredential",
                "ImdsManagedIdentityCredential"
            ]
        );
        assert!(chain.sources[0].credential.is_err());
        assert!(chain.sources[2].credential.is_err());

        let chain = ChainedCredential::from_environment(
            env(&[
                ("AZURE_TENANT_ID", "72f988bf-86f1-41af-91ab-2d7cd011db47"),
                ("AZURE_CLIENT_ID", "c"),
                ("AZURE_CLIENT_SECRET", "s"),
            ]),
            &authority,
        );
        assert!(
            chain.sources[0].credential.is_ok(),
            "{:?}",
            chain.sources[0].credential
        );
        assert!(
            chain.sources[1].credential.is_err(),
            "no federated token file"
        );

        let http_authority = Url::parse("http://127.0.0.1:1").expect("url");
        let chain = ChainedCredential::from_environment(
            env(&[
                ("AZURE_TENANT_ID", "t"),
                ("AZURE_CLIENT_ID", "c"),
                ("AZURE_CLIENT_SECRET", "s"),
                ("IDENTITY_ENDPOINT", "http://127.0.0.1:1/msi/token"),
                ("IDENTITY_HEADER", "h"),
            ]),
            &http_authority,
        );
        assert!(
            chain.sources[0].credential.is_err(),
            "azure_identity refuses an http authority"
        );
        assert_eq!(
            chain.source_names().len(),
            4,
            "no IMDS when IDENTITY_ENDPOINT is set"
        );
    }
}
