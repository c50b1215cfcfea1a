//! Azure RBAC as the emulator models it: a table of role assignments
//! (principal, built-in role, scope), the actions Azure's built-in roles
//! allow, and the checks ARM, Log Analytics and ACR make before serving a
//! caller (`403 AuthorizationFailed`, `403 InsufficientAccessError`, ACR
//! access tokens that carry only the granted actions).
//!
//! Without a table ([`crate::SimConfig::roles`] `None`) every identity holds
//! every role. Scopes are honoured for ARM requests (an assignment covers its
//! scope and everything under it); Log Analytics and the registry have no
//! ARM ID here, so for them only the role counts.

pub mod checks;

use axum::http::Method;
use serde::{Deserialize, Serialize};

use crate::auth::Claims;

/// Most assignments a table may hold (a real subscription allows 4 000).
pub const MAX_ASSIGNMENTS: usize = 4_000;

/// Why a role table was refused.
#[derive(Debug, thiserror::Error)]
pub enum RoleError {
    /// Not JSON of the expected shape.
    #[error("invalid role table: {0}")]
    Parse(#[from] serde_json::Error),
    /// A role this emulator does not know.
    #[error("unknown role '{0}' (known: {known})", known = known_roles())]
    UnknownRole(String),
    /// A scope that is not an ARM path.
    #[error("invalid scope '{0}': it must be '/' or start with '/subscriptions/'")]
    Scope(String),
    /// More than [`MAX_ASSIGNMENTS`].
    #[error("too many role assignments ({0}, at most {MAX_ASSIGNMENTS})")]
    TooMany(usize),
}

/// One role assignment, with the field names of `az role assignment list`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoleAssignment {
    /// Who: a client (application) ID or an object ID, as tokens carry them
    /// (`appid`, `oid`; the managed identity's `client_id`).
    pub principal_id: String,
    /// A built-in role name, e.g. `Reader`, `AcrPull`.
    pub role_definition_name: String,
    /// Where: `/`, a subscription, a resource group or a resource. `None`: `/`.
    #[serde(default)]
    pub scope: Option<String>,
}

/// The role assignments of the emulated tenant (`--roles-file`): JSON
/// `{"roleAssignments":[{"principalId","roleDefinitionName","scope"}]}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoleTable {
    /// The assignments.
    pub role_assignments: Vec<RoleAssignment>,
}

/// A built-in role: its `actions` and `notActions`, as Azure defines them
/// (the parts the emulated services ask about).
struct RoleDefinition {
    name: &'static str,
    actions: &'static [&'static str],
    not_actions: &'static [&'static str],
}

const AUTHORIZATION_WRITES: &[&str] = &[
    "Microsoft.Authorization/*/Delete",
    "Microsoft.Authorization/*/Write",
    "Microsoft.Authorization/elevateAccess/Action",
];

const ROLES: &[RoleDefinition] = &[
    RoleDefinition {
        name: "Owner",
        actions: &["*"],
        not_actions: &[],
    },
    RoleDefinition {
        name: "Contributor",
        actions: &["*"],
        not_actions: AUTHORIZATION_WRITES,
    },
    RoleDefinition {
        name: "Reader",
        actions: &["*/read"],
        not_actions: &[],
    },
    RoleDefinition {
        name: "Log Analytics Reader",
        actions: &[
            "*/read",
            "Microsoft.OperationalInsights/workspaces/analytics/query/action",
            "Microsoft.OperationalInsights/workspaces/search/action",
            "Microsoft.Support/*",
        ],
        not_actions: &["Microsoft.OperationalInsights/workspaces/sharedKeys/read"],
    },
    RoleDefinition {
        name: "Log Analytics Contributor",
        actions: &["*/read", "Microsoft.OperationalInsights/*"],
        not_actions: &[],
    },
    RoleDefinition {
        name: "Container Registry Tasks Contributor",
        actions: ACR_TASKS_ACTIONS,
        not_actions: &[],
    },
    RoleDefinition {
        name: "AcrPull",
        actions: &[ACR_PULL],
        not_actions: &[],
    },
    RoleDefinition {
        name: "AcrPush",
        actions: &[ACR_PULL, ACR_PUSH],
        not_actions: &[],
    },
    RoleDefinition {
        name: "AcrDelete",
        actions: &[ACR_DELETE],
        not_actions: &[],
    },
];

/// The ACR Tasks actions of the built-in "Container Registry Tasks
/// Contributor" (the emulator's part of them: quick runs and their logs).
const ACR_TASKS_ACTIONS: &[&str] = &[
    "Microsoft.ContainerRegistry/registries/read",
    "Microsoft.ContainerRegistry/registries/tasks/*",
    "Microsoft.ContainerRegistry/registries/runs/*",
    "Microsoft.ContainerRegistry/registries/taskruns/*",
    "Microsoft.ContainerRegistry/registries/scheduleRun/action",
    "Microsoft.ContainerRegistry/registries/listBuildSourceUploadUrl/action",
];

/// Pulling from a registry (a read action: `Reader` may pull too).
pub const ACR_PULL: &str = "Microsoft.ContainerRegistry/registries/pull/read";
/// Pushing to a registry.
pub const ACR_PUSH: &str = "Microsoft.ContainerRegistry/registries/push/write";
/// Deleting manifests and blobs.
pub const ACR_DELETE: &str = "Microsoft.ContainerRegistry/registries/artifacts/delete";
/// Querying a Log Analytics workspace.
pub const LOG_ANALYTICS_QUERY: &str = "Microsoft.OperationalInsights/workspaces/query/read";

fn known_roles() -> String {
    ROLES.iter().map(|r| r.name).collect::<Vec<_>>().join(", ")
}

fn role(name: &str) -> Option<&'static RoleDefinition> {
    ROLES.iter().find(|r| r.name.eq_ignore_ascii_case(name))
}

/// Azure's action patterns: `*` matches any run of characters, case-insensitively.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.to_ascii_lowercase(), text.to_ascii_lowercase());
    let mut parts = p.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = t.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

impl RoleDefinition {
    fn allows(&self, action: &str) -> bool {
        self.actions.iter().any(|a| glob(a, action))
            && !self.not_actions.iter().any(|a| glob(a, action))
    }
}

/// Whether `scope` (an assignment's) covers `resource`: equal, or a parent
/// on a segment boundary.
fn covers(scope: Option<&str>, resource: &str) -> bool {
    let scope = scope
        .unwrap_or("/")
        .trim_end_matches('/')
        .to_ascii_lowercase();
    if scope.is_empty() {
        return true;
    }
    let resource = resource.trim_end_matches('/').to_ascii_lowercase();
    resource == scope
        || resource
            .strip_prefix(&scope)
            .is_some_and(|r| r.starts_with('/'))
}

impl RoleTable {
    /// Parses and checks a table (`--roles-file`).
    pub fn from_json(text: &str) -> Result<RoleTable, RoleError> {
        let table: RoleTable = serde_json::from_str(text)?;
        table.validate()?;
        Ok(table)
    }

    /// Checks role names, scopes and the size.
    pub fn validate(&self) -> Result<(), RoleError> {
        if self.role_assignments.len() > MAX_ASSIGNMENTS {
            return Err(RoleError::TooMany(self.role_assignments.len()));
        }
        for a in &self.role_assignments {
            if role(&a.role_definition_name).is_none() {
                return Err(RoleError::UnknownRole(a.role_definition_name.clone()));
            }
            if let Some(s) = &a.scope
                && s != "/"
                && !s.to_ascii_lowercase().starts_with("/subscriptions/")
            {
                return Err(RoleError::Scope(s.clone()));
            }
        }
        Ok(())
    }

    /// Whether one of `principals` holds a role allowing `action` over
    /// `scope` (`None`: wherever the assignment is).
    pub fn allows(&self, principals: &[&str], action: &str, scope: Option<&str>) -> bool {
        self.role_assignments.iter().any(|a| {
            principals
                .iter()
                .any(|p| !p.is_empty() && p.eq_ignore_ascii_case(&a.principal_id))
                && scope.is_none_or(|s| covers(a.scope.as_deref(), s))
                && role(&a.role_definition_name).is_some_and(|r| r.allows(action))
        })
    }
}

/// The identities a token names: its subject, application and object IDs.
pub fn principals(claims: &Claims) -> [&str; 3] {
    [&claims.sub, &claims.appid, &claims.oid]
}

/// The RBAC action and scope of an ARM request: `{namespace}/{types}/read`
/// (GET), `/write` (PUT, PATCH), `/delete`, or `/{verb}/action` (POST), over
/// the resource (a list: over its parent; an action: over its resource).
pub fn arm_action(method: &Method, path: &str) -> (String, String) {
    let path = path.trim_end_matches('/');
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let Some(p) = segs
        .iter()
        .position(|s| s.eq_ignore_ascii_case("providers"))
    else {
        return (
            format!("Microsoft.Resources/{}", verb(method)),
            path.to_string(),
        );
    };
    let Some(namespace) = segs.get(p + 1) else {
        return (
            format!("Microsoft.Resources/{}", verb(method)),
            path.to_string(),
        );
    };
    let rest = &segs[p + 2..];
    let mut types: Vec<&str> = rest.iter().step_by(2).copied().collect();
    let ends_at_type = rest.len() % 2 == 1;
    let parent = |n: usize| format!("/{}", segs[..segs.len() - n].join("/"));
    let (last, scope) = if ends_at_type && *method == Method::POST && types.len() > 1 {
        // `.../jobs/{job}/start`: an action on the job.
        let action = types.pop().unwrap_or_default();
        (format!("{action}/action"), parent(1))
    } else if ends_at_type {
        // A list: authorised over its parent; a top-level list over the
        // resource group or subscription.
        let n = if rest.len() == 1 { 3 } else { 1 };
        (verb(method).to_string(), parent(n))
    } else {
        (verb(method).to_string(), path.to_string())
    };
    let mut action = (*namespace).to_string();
    for t in types {
        action.push('/');
        action.push_str(t);
    }
    (format!("{action}/{last}"), scope)
}

fn verb(method: &Method) -> &'static str {
    match *method {
        Method::GET | Method::HEAD => "read",
        Method::DELETE => "delete",
        Method::POST => "action",
        _ => "write",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(role: &str, scope: Option<&str>) -> RoleTable {
        RoleTable {
            role_assignments: vec![RoleAssignment {
                principal_id: "app".into(),
                role_definition_name: role.into(),
                scope: scope.map(str::to_string),
            }],
        }
    }

    #[test]
    fn action_patterns_match_as_azure_does() {
        assert!(glob("*", "Microsoft.App/jobs/write"));
        assert!(glob("*/read", "Microsoft.App/jobs/read"));
        assert!(!glob("*/read", "Microsoft.App/jobs/write"));
        assert!(glob(
            "microsoft.authorization/*/write",
            "Microsoft.Authorization/roleAssignments/write"
        ));
        assert!(!glob("Microsoft.Support/*", "Microsoft.App/jobs/read"));
        assert!(glob(ACR_PULL, ACR_PULL));
        assert!(!glob(ACR_PULL, ACR_PUSH));
    }

    #[test]
    fn arm_requests_map_to_rbac_actions_and_scopes() {
        let rg = "/subscriptions/s/resourceGroups/rg";
        let job = format!("{rg}/providers/Microsoft.App/jobs/j");
        let cases = [
            (
                Method::GET,
                job.clone(),
                "Microsoft.App/jobs/read",
                job.clone(),
            ),
            (
                Method::PUT,
                job.clone(),
                "Microsoft.App/jobs/write",
                job.clone(),
            ),
            (
                Method::PATCH,
                job.clone(),
                "Microsoft.App/jobs/write",
                job.clone(),
            ),
            (
                Method::DELETE,
                job.clone(),
                "Microsoft.App/jobs/delete",
                job.clone(),
            ),
            (
                Method::POST,
                format!("{job}/start"),
                "Microsoft.App/jobs/start/action",
                job.clone(),
            ),
            (
                Method::POST,
                format!("{job}/listSecrets"),
                "Microsoft.App/jobs/listSecrets/action",
                job.clone(),
            ),
            (
                Method::POST,
                format!("{job}/executions/e/stop"),
                "Microsoft.App/jobs/executions/stop/action",
                format!("{job}/executions/e"),
            ),
            (
                Method::GET,
                format!("{job}/executions"),
                "Microsoft.App/jobs/executions/read",
                job.clone(),
            ),
            (
                Method::GET,
                format!("{rg}/providers/Microsoft.App/jobs"),
                "Microsoft.App/jobs/read",
                rg.to_string(),
            ),
            (
                Method::GET,
                "/subscriptions/s/providers/Microsoft.App/jobs".to_string(),
                "Microsoft.App/jobs/read",
                "/subscriptions/s".to_string(),
            ),
            (
                Method::PUT,
                format!(
                    "{rg}/providers/Microsoft.Storage/storageAccounts/a/fileServices/default/shares/x"
                ),
                "Microsoft.Storage/storageAccounts/fileServices/shares/write",
                format!(
                    "{rg}/providers/Microsoft.Storage/storageAccounts/a/fileServices/default/shares/x"
                ),
            ),
        ];
        for (method, path, action, scope) in cases {
            assert_eq!(
                arm_action(&method, &path),
                (action.to_string(), scope),
                "{method} {path}"
            );
        }
    }

    #[test]
    fn acr_tasks_requests_map_to_their_actions() {
        let reg =
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/r";
        let run = format!("{reg}/runs/ca1");
        let cases = [
            (
                Method::POST,
                format!("{reg}/scheduleRun"),
                "scheduleRun/action",
                reg.to_string(),
            ),
            (
                Method::POST,
                format!("{reg}/listBuildSourceUploadUrl"),
                "listBuildSourceUploadUrl/action",
                reg.to_string(),
            ),
            (
                Method::GET,
                format!("{reg}/runs"),
                "runs/read",
                reg.to_string(),
            ),
            (Method::GET, run.clone(), "runs/read", run.clone()),
            (
                Method::POST,
                format!("{run}/listLogSasUrl"),
                "runs/listLogSasUrl/action",
                run.clone(),
            ),
            (
                Method::POST,
                format!("{run}/cancel"),
                "runs/cancel/action",
                run.clone(),
            ),
        ];
        let tasks = table("Container Registry Tasks Contributor", Some(reg));
        let reader = table("Reader", None);
        for (method, path, action, scope) in cases {
            let action = format!("Microsoft.ContainerRegistry/registries/{action}");
            assert_eq!(
                arm_action(&method, &path),
                (action.clone(), scope.clone()),
                "{method} {path}"
            );
            assert!(tasks.allows(&["app"], &action, Some(&scope)), "{action}");
            assert_eq!(
                reader.allows(&["app"], &action, Some(&scope)),
                method == Method::GET,
                "{action}"
            );
        }
        let elsewhere = "/subscriptions/s/resourceGroups/other/providers/Microsoft.ContainerRegistry/registries/r";
        assert!(!tasks.allows(
            &["app"],
            "Microsoft.ContainerRegistry/registries/scheduleRun/action",
            Some(elsewhere)
        ));
    }

    #[test]
    fn roles_allow_their_actions_within_their_scope() {
        let reader = table("Reader", None);
        assert!(reader.allows(
            &["app"],
            "Microsoft.App/jobs/read",
            Some("/subscriptions/s")
        ));
        assert!(!reader.allows(
            &["app"],
            "Microsoft.App/jobs/write",
            Some("/subscriptions/s")
        ));
        assert!(!reader.allows(
            &["other"],
            "Microsoft.App/jobs/read",
            Some("/subscriptions/s")
        ));
        assert!(reader.allows(&["APP"], ACR_PULL, None), "Reader may pull");
        let contributor = table("Contributor", Some("/subscriptions/s/resourceGroups/rg"));
        let job = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.App/jobs/j";
        assert!(contributor.allows(&["app"], "Microsoft.App/jobs/write", Some(job)));
        assert!(!contributor.allows(
            &["app"],
            "Microsoft.App/jobs/write",
            Some("/subscriptions/s/resourceGroups/rg2/providers/Microsoft.App/jobs/j")
        ));
        assert!(
            !contributor.allows(
                &["app"],
                "Microsoft.App/jobs/write",
                Some("/subscriptions/s/resourceGroups/rgx")
            ),
            "segment boundary"
        );
        assert!(!contributor.allows(
            &["app"],
            "Microsoft.Authorization/roleAssignments/write",
            Some(job)
        ));
        let pull = table("AcrPull", None);
        assert!(pull.allows(&["app"], ACR_PULL, None));
        assert!(!pull.allows(&["app"], ACR_PUSH, None));
        assert!(!pull.allows(&["app"], "Microsoft.App/jobs/read", Some(job)));
        let la = table("Log Analytics Reader", None);
        assert!(la.allows(&["app"], LOG_ANALYTICS_QUERY, None));
        assert!(!la.allows(
            &["app"],
            "Microsoft.OperationalInsights/workspaces/sharedKeys/read",
            None
        ));
    }

    #[test]
    fn tables_are_checked_when_loaded() {
        let ok = r#"{"roleAssignments":[{"principalId":"a","roleDefinitionName":"acrpush","scope":"/"}]}"#;
        assert!(RoleTable::from_json(ok).is_ok());
        let unknown = r#"{"roleAssignments":[{"principalId":"a","roleDefinitionName":"Wizard"}]}"#;
        assert!(matches!(
            RoleTable::from_json(unknown),
            Err(RoleError::UnknownRole(_))
        ));
        let scope = r#"{"roleAssignments":[{"principalId":"a","roleDefinitionName":"Reader","scope":"rg"}]}"#;
        assert!(matches!(
            RoleTable::from_json(scope),
            Err(RoleError::Scope(_))
        ));
        assert!(matches!(
            RoleTable::from_json("{\"x\":1}"),
            Err(RoleError::Parse(_))
        ));
    }
}
