//! Azure resource names derived from sockerless IDs.
//!
//! Names are deterministic so that every lookup is a GET of one resource
//! (no listing). Each function documents the Azure naming rule it satisfies.

use sha2::{Digest, Sha256};
use sockerless_api::ApiError;

/// Prefix of every job this backend creates.
pub const JOB_PREFIX: &str = "sl-";

/// Longest Container Apps Job name Azure accepts.
pub const MAX_JOB_NAME_LEN: usize = 32;

/// The Container Apps Job name for a container.
///
/// Rule (Microsoft.App jobs): lowercase letters, digits and `-`, starting with
/// a letter, ending with a letter or digit, at most 32 characters, no `--`.
/// The name is `sl-` followed by up to 29 lowercase alphanumerics of the ID
/// (a 64-hex container ID gives `sl-` + its first 29 hex digits). At least 12
/// alphanumerics are required so that names stay unique in practice.
pub fn job_name(container_id: &str) -> Result<String, ApiError> {
    let body: String = container_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .take(MAX_JOB_NAME_LEN - JOB_PREFIX.len())
        .collect();
    if body.len() < 12 {
        return Err(ApiError::InvalidParameter(format!(
            "cannot derive an Azure job name from container ID {container_id:?}: \
             it needs at least 12 letters or digits"
        )));
    }
    Ok(format!("{JOB_PREFIX}{body}"))
}

/// Whether `name` satisfies the Container Apps Job naming rule.
pub fn is_valid_job_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    bytes.len() >= 2
        && bytes.len() <= MAX_JOB_NAME_LEN
        && first.is_ascii_lowercase()
        && (last.is_ascii_lowercase() || last.is_ascii_digit())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && !name.contains("--")
}

/// The Azure file share name (and environment storage name) for a Docker volume.
///
/// Docker volume names allow `_`, `.` and upper case, which Azure does not, so
/// the name is `slv-` plus 24 hex digits of the SHA-256 of the volume name:
/// 28 characters, valid for file shares (3–63, lowercase alphanumerics and
/// single hyphens) and for environment storages (≤ 32).
pub fn file_share_name(volume_name: &str) -> String {
    let digest = Sha256::digest(volume_name.as_bytes());
    let hex: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
    format!("slv-{hex}")
}

/// Whether `name` satisfies the Azure Files share naming rule.
pub fn is_valid_file_share_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    (3..=63).contains(&bytes.len())
        && first.is_ascii_alphanumeric()
        && last.is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && !name.contains("--")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn job_name_of_hex_id_is_prefix_plus_29_hex() {
        let id = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f809";
        let name = job_name(id).expect("valid id");
        assert_eq!(name, "sl-1a2b3c4d5e6f708192a3b4c5d6e7f");
        assert_eq!(name.len(), 32);
        assert!(is_valid_job_name(&name));
    }

    #[test]
    fn job_name_rejects_short_ids() {
        assert!(matches!(
            job_name("abc"),
            Err(ApiError::InvalidParameter(_))
        ));
        assert!(matches!(
            job_name("--__--"),
            Err(ApiError::InvalidParameter(_))
        ));
    }

    #[test]
    fn validator_rejects_bad_names() {
        for bad in [
            "",
            "a",
            "1abc",
            "abc-",
            "a--b",
            "Abc",
            "a_b",
            &"a".repeat(33),
        ] {
            assert!(!is_valid_job_name(bad), "{bad:?} should be invalid");
        }
    }

    proptest! {
        #[test]
        fn job_names_of_hex_ids_are_always_valid(id in "[0-9a-f]{64}") {
            let name = job_name(&id).expect("hex ids always give a name");
            prop_assert!(is_valid_job_name(&name), "{}", name);
            prop_assert!(name.ends_with(&id[..29]));
        }

        #[test]
        fn job_names_of_any_input_are_valid_or_rejected(id in "\\PC{0,80}") {
            if let Ok(name) = job_name(&id) {
                prop_assert!(is_valid_job_name(&name), "{}", name);
            }
        }

        #[test]
        fn file_share_names_are_always_valid(volume in "\\PC{0,100}") {
            let name = file_share_name(&volume);
            prop_assert!(is_valid_file_share_name(&name), "{}", name);
            prop_assert!(name.len() <= 32);
        }
    }
}
