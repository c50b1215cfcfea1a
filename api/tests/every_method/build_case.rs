//! `image_build`'s case: options with a login (its password must cross),
//! the context in two chunks, the three kinds of progress message back.

use std::collections::BTreeMap;

use serde_json::json;
use sockerless_api::{Backend, BuildImageOptions};

use super::cases::{Case, case, items_back, j, login, upload};

fn build() -> BuildImageOptions {
    BuildImageOptions {
        tags: vec!["app:1".into(), "app:latest".into()],
        dockerfile: "sub dir/Dockerfile".into(),
        build_args: BTreeMap::from([("X".into(), "y z".into())]),
        target: Some("final".into()),
        labels: BTreeMap::from([("a".into(), "b".into())]),
        no_cache: true,
        quiet: false,
        platform: Some("linux/amd64".into()),
        pull: true,
        registry_config: login()
            .map(|l| ("registry.example".to_owned(), l))
            .into_iter()
            .collect(),
    }
}

pub fn cases() -> Vec<Case> {
    vec![case(
        "image_build",
        json!([j(build()), "a context tar"]),
        |b| async move {
            let progress = b.image_build(build(), upload("a context tar")).await;
            items_back("image_build", progress).await
        },
    )]
}
