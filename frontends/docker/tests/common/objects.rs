//! Images, networks and volumes of the in-memory test backend.

use futures_util::StreamExt;
use sockerless_api::docker::*;
use sockerless_api::*;

use super::backend::{MemBackend, progress};

impl MemBackend {
    pub async fn do_image_pull(
        &self,
        opts: PullImageOptions,
        auth: Option<AuthConfig>,
    ) -> Result<ProgressStream> {
        self.seen().pull_auth = Some(auth);
        match opts.from_image.rsplit('/').next().unwrap_or_default() {
            "missing" => Ok(Box::pin(futures_util::stream::iter(vec![Err(
                ApiError::NotFound(
                    "pull access denied for missing, repository does not exist".into(),
                ),
            )]))),
            "broken" => Ok(Box::pin(futures_util::stream::iter(vec![
                progress("Pulling from library/broken"),
                Err(ApiError::Unavailable("registry went away".into())),
                progress("never sent"),
            ]))),
            _ => {
                let name = opts.from_image.as_str();
                let tag = opts.tag.unwrap_or_else(|| "latest".into());
                self.store()
                    .images
                    .insert(format!("{name}:{tag}"), format!("sha256:{:064x}", 9));
                Ok(Box::pin(futures_util::stream::iter(vec![
                    progress(&format!("Pulling from {name}")),
                    progress(&format!("Status: Downloaded newer image for {name}:{tag}")),
                ])))
            }
        }
    }

    pub async fn do_image_inspect(&self, name: &str) -> Result<ImageInspect> {
        let store = self.store();
        let id = store
            .images
            .get(name)
            .ok_or_else(|| ApiError::NotFound(format!("No such image: {name}")))?;
        Ok(ImageInspect {
            id: Some(id.clone()),
            repo_tags: Some(vec![name.to_owned()]),
            ..Default::default()
        })
    }

    pub async fn do_image_list(&self, opts: ListImagesOptions) -> Result<Vec<ImageSummary>> {
        self.seen().filters = Some(opts.filters);
        let store = self.store();
        Ok(store
            .images
            .iter()
            .map(|(tag, id)| ImageSummary {
                id: id.clone(),
                repo_tags: vec![tag.clone()],
                size: 100,
                ..Default::default()
            })
            .collect())
    }

    pub async fn do_image_load(
        &self,
        mut tarball: ByteStream,
        _quiet: bool,
    ) -> Result<ProgressStream> {
        let mut size = 0;
        while let Some(chunk) = tarball.next().await {
            size += chunk?.len();
        }
        self.seen().loaded_bytes = Some(size);
        Ok(Box::pin(futures_util::stream::iter(vec![progress(
            "Loaded image: loaded:latest",
        )])))
    }

    pub async fn do_image_tag(&self, name: &str, repo: &str, tag: Option<&str>) -> Result<()> {
        let mut store = self.store();
        let id = store
            .images
            .get(name)
            .cloned()
            .ok_or_else(|| ApiError::NotFound(format!("No such image: {name}")))?;
        store
            .images
            .insert(format!("{repo}:{}", tag.unwrap_or("latest")), id);
        Ok(())
    }

    pub async fn do_image_remove(
        &self,
        name: &str,
        _opts: RemoveImageOptions,
    ) -> Result<Vec<ImageDeleteResponseItem>> {
        let mut store = self.store();
        store
            .images
            .remove(name)
            .ok_or_else(|| ApiError::NotFound(format!("No such image: {name}")))?;
        Ok(vec![ImageDeleteResponseItem {
            untagged: Some(name.to_owned()),
            deleted: None,
        }])
    }

    pub async fn do_network_create(
        &self,
        req: NetworkCreateRequest,
    ) -> Result<NetworkCreateResponse> {
        let mut store = self.store();
        store.next += 1;
        let id = format!("{:064x}", 0x4e7_u64 * 1000 + store.next);
        store.networks.insert(
            id.clone(),
            NetworkInspect {
                id: Some(id.clone()),
                name: Some(req.name),
                driver: Some("bridge".into()),
                ..Default::default()
            },
        );
        Ok(NetworkCreateResponse {
            id,
            warning: String::new(),
        })
    }

    pub async fn do_network_list(&self, filters: Filters) -> Result<Vec<NetworkInspect>> {
        self.seen().filters = Some(filters);
        Ok(self.store().networks.values().cloned().collect())
    }

    pub async fn do_network_inspect(&self, id: &str) -> Result<NetworkInspect> {
        let store = self.store();
        store
            .networks
            .values()
            .find(|n| n.id.as_deref() == Some(id) || n.name.as_deref() == Some(id))
            .cloned()
            .ok_or_else(|| ApiError::NotFound(format!("network {id} not found")))
    }

    pub async fn do_network_connect(&self, id: &str, _req: NetworkConnectRequest) -> Result<()> {
        self.network_inspect(id).await.map(|_| ())
    }

    pub async fn do_network_disconnect(
        &self,
        id: &str,
        _req: NetworkDisconnectRequest,
    ) -> Result<()> {
        self.network_inspect(id).await.map(|_| ())
    }

    pub async fn do_network_remove(&self, id: &str) -> Result<()> {
        let found = self.network_inspect(id).await?;
        self.store()
            .networks
            .remove(found.id.as_deref().unwrap_or_default());
        Ok(())
    }

    pub async fn do_network_prune(&self, filters: Filters) -> Result<NetworkPruneResponse> {
        self.seen().filters = Some(filters);
        let mut store = self.store();
        let names = store
            .networks
            .values()
            .filter_map(|n| n.name.clone())
            .collect();
        store.networks.clear();
        Ok(NetworkPruneResponse {
            networks_deleted: Some(names),
        })
    }

    pub async fn do_volume_create(&self, req: VolumeCreateRequest) -> Result<Volume> {
        let mut store = self.store();
        store.next += 1;
        let name = req
            .name
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| format!("{:064x}", store.next));
        let volume = Volume {
            name: name.clone(),
            driver: "local".into(),
            mountpoint: format!("/mem/{name}"),
            ..Default::default()
        };
        store.volumes.insert(name, volume.clone());
        Ok(volume)
    }

    pub async fn do_volume_list(&self, filters: Filters) -> Result<VolumeListResponse> {
        self.seen().filters = Some(filters);
        Ok(VolumeListResponse {
            volumes: Some(self.store().volumes.values().cloned().collect()),
            warnings: None,
        })
    }

    pub async fn do_volume_inspect(&self, name: &str) -> Result<Volume> {
        self.store()
            .volumes
            .get(name)
            .cloned()
            .ok_or_else(|| ApiError::NotFound(format!("get {name}: no such volume")))
    }

    pub async fn do_volume_remove(&self, name: &str, _force: bool) -> Result<()> {
        self.store()
            .volumes
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| ApiError::NotFound(format!("get {name}: no such volume")))
    }

    pub async fn do_volume_prune(&self, _filters: Filters) -> Result<VolumePruneResponse> {
        let mut store = self.store();
        let names = store.volumes.keys().cloned().collect();
        store.volumes.clear();
        Ok(VolumePruneResponse {
            volumes_deleted: Some(names),
            space_reclaimed: Some(0),
        })
    }
}
