//! The internal API's routes, declared once: the server mounts them
//! ([`crate::server::router`]) and the client builds its URLs from them
//! ([`crate::RemoteBackend`]), so a method or path cannot drift between the two.
//!
//! One [`Route`] per [`crate::Backend`] method, named after it. Paths are
//! under `/internal/v1`; a `{id}` or `{name}` segment is the object's ID or
//! name, percent-encoded by the client. Collections are plural
//! (`/containers/...`), single objects singular (`/container/{id}/...`), so
//! no name can collide with a collection route.

use http::Method;

use crate::wire::pct_encode;

/// How a route is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// `GET`, answered with JSON or 204.
    Get,
    /// `POST` with a JSON body, answered with JSON or 204.
    Post,
    /// A `GET` WebSocket upgrade framed as described in [`crate::wire`].
    Stream,
}

impl Verb {
    /// The HTTP method on the wire (a stream is a `GET` upgrade).
    pub fn method(self) -> Method {
        match self {
            Verb::Get | Verb::Stream => Method::GET,
            Verb::Post => Method::POST,
        }
    }
}

/// One endpoint of the internal API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The [`crate::Backend`] method it serves.
    pub op: &'static str,
    /// How it is called.
    pub verb: Verb,
    /// The path template under `/internal/v1`, in axum's syntax (`{id}`).
    pub path: &'static str,
}

impl Route {
    /// The path with each `{...}` segment replaced by the next of `args`,
    /// percent-encoded (image names hold `/` and `:`). A missing argument
    /// leaves the segment empty; [`ALL`]'s test checks the counts.
    pub fn expand(&self, args: &[&str]) -> String {
        let mut out = String::with_capacity(self.path.len() + 16);
        let mut args = args.iter();
        for segment in self.path.split('/').skip(1) {
            out.push('/');
            if segment.starts_with('{') && segment.ends_with('}') {
                out.push_str(&pct_encode(args.next().copied().unwrap_or_default()));
            } else {
                out.push_str(segment);
            }
        }
        out
    }

    /// How many `{...}` segments the path has.
    pub fn params(&self) -> usize {
        self.path.split('/').filter(|s| s.starts_with('{')).count()
    }
}

/// Declares each route as a constant named after its `Backend` method, and [`ALL`].
macro_rules! routes {
    ($($konst:ident = $op:ident: $verb:ident $path:literal;)*) => {
        $(
            #[doc = concat!("[`Backend::", stringify!($op), "`](crate::Backend::", stringify!($op), "): `", $path, "`.")]
            pub const $konst: Route = Route { op: stringify!($op), verb: Verb::$verb, path: $path };
        )*
        /// Every route, one per `Backend` method.
        pub const ALL: &[&Route] = &[$(&$konst),*];
    };
}

routes! {
    // system
    CAPABILITIES = capabilities: Get "/capabilities";
    PING = ping: Get "/ping";
    SYSTEM_INFO = system_info: Get "/system/info";
    SYSTEM_VERSION = system_version: Get "/system/version";
    AUTH = auth: Post "/system/auth";
    EVENTS = events: Stream "/system/events";

    // containers
    CONTAINER_CREATE = container_create: Post "/containers/create";
    CONTAINER_LIST = container_list: Post "/containers/list";
    CONTAINER_PRUNE = container_prune: Post "/containers/prune";
    CONTAINER_COMMIT = container_commit: Post "/containers/commit";
    CONTAINER_INSPECT = container_inspect: Get "/container/{id}/json";
    CONTAINER_START = container_start: Post "/container/{id}/start";
    CONTAINER_STOP = container_stop: Post "/container/{id}/stop";
    CONTAINER_RESTART = container_restart: Post "/container/{id}/restart";
    CONTAINER_KILL = container_kill: Post "/container/{id}/kill";
    CONTAINER_REMOVE = container_remove: Post "/container/{id}/remove";
    CONTAINER_WAIT = container_wait: Post "/container/{id}/wait";
    CONTAINER_RESIZE = container_resize: Post "/container/{id}/resize";
    CONTAINER_RENAME = container_rename: Post "/container/{id}/rename";
    CONTAINER_UPDATE = container_update: Post "/container/{id}/update";
    CONTAINER_PAUSE = container_pause: Post "/container/{id}/pause";
    CONTAINER_UNPAUSE = container_unpause: Post "/container/{id}/unpause";
    CONTAINER_TOP = container_top: Post "/container/{id}/top";
    CONTAINER_CHANGES = container_changes: Get "/container/{id}/changes";
    CONTAINER_LOGS = container_logs: Stream "/container/{id}/logs";
    CONTAINER_ATTACH = container_attach: Stream "/container/{id}/attach";
    CONTAINER_STATS = container_stats: Stream "/container/{id}/stats";
    CONTAINER_EXPORT = container_export: Stream "/container/{id}/export";
    CONTAINER_ARCHIVE_STAT = container_archive_stat: Post "/container/{id}/archive/stat";
    CONTAINER_ARCHIVE_GET = container_archive_get: Stream "/container/{id}/archive/get";
    CONTAINER_ARCHIVE_PUT = container_archive_put: Stream "/container/{id}/archive/put";

    // exec
    EXEC_CREATE = exec_create: Post "/container/{id}/exec";
    EXEC_START = exec_start: Stream "/exec/{id}/start";
    EXEC_INSPECT = exec_inspect: Get "/exec/{id}/json";
    EXEC_RESIZE = exec_resize: Post "/exec/{id}/resize";

    // images
    IMAGE_PULL = image_pull: Stream "/images/pull";
    IMAGE_LIST = image_list: Post "/images/list";
    IMAGE_PRUNE = image_prune: Post "/images/prune";
    IMAGE_LOAD = image_load: Stream "/images/load";
    IMAGE_SAVE = image_save: Stream "/images/save";
    IMAGE_PUSH = image_push: Stream "/images/push";
    IMAGE_IMPORT = image_import: Stream "/images/import";
    IMAGE_BUILD = image_build: Stream "/images/build";
    DISTRIBUTION_INSPECT = distribution_inspect: Post "/distribution/inspect";
    IMAGE_INSPECT = image_inspect: Get "/image/{name}/json";
    IMAGE_TAG = image_tag: Post "/image/{name}/tag";
    IMAGE_REMOVE = image_remove: Post "/image/{name}/remove";

    // networks
    NETWORK_CREATE = network_create: Post "/networks/create";
    NETWORK_LIST = network_list: Post "/networks/list";
    NETWORK_PRUNE = network_prune: Post "/networks/prune";
    NETWORK_INSPECT = network_inspect: Get "/network/{id}/json";
    NETWORK_CONNECT = network_connect: Post "/network/{id}/connect";
    NETWORK_DISCONNECT = network_disconnect: Post "/network/{id}/disconnect";
    NETWORK_REMOVE = network_remove: Post "/network/{id}/remove";

    // volumes
    VOLUME_CREATE = volume_create: Post "/volumes/create";
    VOLUME_LIST = volume_list: Post "/volumes/list";
    VOLUME_PRUNE = volume_prune: Post "/volumes/prune";
    VOLUME_INSPECT = volume_inspect: Get "/volume/{name}/json";
    VOLUME_REMOVE = volume_remove: Post "/volume/{name}/remove";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expand_encodes_segments() {
        assert_eq!(
            IMAGE_TAG.expand(&["docker.io/library/busybox:1"]),
            "/image/docker.io%2Flibrary%2Fbusybox%3A1/tag"
        );
        assert_eq!(CAPABILITIES.expand(&[]), "/capabilities");
    }

    #[test]
    fn routes_are_unique() {
        for (i, a) in ALL.iter().enumerate() {
            for b in &ALL[i + 1..] {
                assert_ne!(a.op, b.op);
                assert_ne!(a.path, b.path);
            }
            assert!(a.params() <= 1, "{}", a.path);
        }
    }
}
