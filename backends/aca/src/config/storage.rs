//! The storage keys of the configuration: the account key (base64, as Azure
//! issues it), the Azure Files endpoint and the share holding the volumes.

use super::{Config, ConfigError, SecretString, non_empty, parse_url};

/// Applies `storage_account_key`, `storage_file_endpoint` and
/// `storage_share_name` (raw values) to `config`, checking each.
pub(super) fn apply(
    config: &mut Config,
    key: Option<String>,
    endpoint: Option<String>,
    share: Option<String>,
) -> Result<(), ConfigError> {
    config.storage_account_key = non_empty(key).map(SecretString);
    if let Some(key) = &config.storage_account_key {
        use base64::Engine;
        if base64::engine::general_purpose::STANDARD
            .decode(key.expose().trim())
            .is_err()
        {
            return Err(ConfigError::Invalid(
                "storage_account_key is not valid base64 (an Azure storage account key is)".into(),
            ));
        }
    }
    if let Some(v) = non_empty(endpoint) {
        config.storage_file_endpoint = Some(parse_url("storage_file_endpoint", &v)?);
    }
    if let Some(v) = non_empty(share) {
        if !crate::names::is_valid_file_share_name(&v) {
            return Err(ConfigError::Invalid(format!(
                "storage_share_name: {v:?} is not a valid Azure Files share name (3-63 lowercase letters, digits and single hyphens)"
            )));
        }
        config.storage_share_name = v;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_keys_are_checked() {
        let mut c = Config::new("s", "r", "e", "l");
        apply(
            &mut c,
            Some("a2V5".into()),
            Some("http://127.0.0.1:1/files/acct".into()),
            Some("vols".into()),
        )
        .expect("valid");
        assert_eq!(c.storage_share_name, "vols");
        assert_eq!(
            c.storage_file_endpoint.as_ref().map(|u| u.as_str()),
            Some("http://127.0.0.1:1/files/acct")
        );
        let mut c = Config::new("s", "r", "e", "l");
        assert!(apply(&mut c, Some("not base64!".into()), None, None).is_err());
        assert!(apply(&mut c, None, Some("ftp://x".into()), None).is_err());
        assert!(apply(&mut c, None, None, Some("Bad_Share".into())).is_err());
        apply(&mut c, Some(String::new()), Some(String::new()), None).expect("empty is unset");
        assert_eq!(c.storage_account_key, None);
        assert_eq!(
            c.storage_share_name,
            crate::config::DEFAULT_STORAGE_SHARE_NAME
        );
    }
}
