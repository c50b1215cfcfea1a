//! `upload_to_container` / `download_from_container` (docker cp both ways).

use std::io::Read;

use anyhow::{Context, Result, ensure};
use bollard::query_parameters::{DownloadFromContainerOptions, UploadToContainerOptions};
use bytes::Bytes;
use futures_util::TryStreamExt;

use crate::ctx::{Ctx, GUARD, collect, expect_eq, expect_status};

fn one_file_tar(name: &str, data: &[u8]) -> Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(data.len() as u64);
    header.set_mode(0o640);
    header.set_cksum();
    builder.append_data(&mut header, name, data)?;
    Ok(builder.into_inner()?)
}

/// (path, contents) of the regular files in a tar.
fn files_of(tar_bytes: &[u8]) -> Result<Vec<(String, String)>> {
    let mut archive = tar::Archive::new(tar_bytes);
    let mut files = Vec::new();
    for entry in archive.entries()? {
        let mut entry = entry?;
        if entry.header().entry_type().is_file() {
            let path = entry.path()?.to_string_lossy().into_owned();
            let mut text = String::new();
            entry.read_to_string(&mut text)?;
            files.push((path, text));
        }
    }
    files.sort();
    Ok(files)
}

pub async fn upload_download(ctx: &Ctx) -> Result<()> {
    let id = ctx.run_detached("cp", ctx.body(&["sleep", "300"])).await?;
    let tar = one_file_tar("in.txt", b"into the container\n")?;
    ctx.docker
        .upload_to_container(
            &id,
            Some(UploadToContainerOptions {
                path: "/tmp".into(),
                ..Default::default()
            }),
            bollard::body_full(Bytes::from(tar)),
        )
        .await
        .context("upload")?;
    let exec = ctx
        .docker
        .create_exec(
            &id,
            bollard::exec::CreateExecOptions {
                cmd: Some(vec!["sh", "-c", "cat /tmp/in.txt; stat -c %a /tmp/in.txt; mkdir /tmp/d; echo one > /tmp/d/a; echo two > /tmp/d/b"]),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..Default::default()
            },
        )
        .await?;
    let bollard::exec::StartExecResults::Attached { output, .. } =
        ctx.docker.start_exec(&exec.id, None).await?
    else {
        anyhow::bail!("exec did not attach");
    };
    let out = collect(output).await?;
    expect_eq(
        out.stdout.as_str(),
        "into the container\n640\n",
        "uploaded file and its mode",
    )?;

    let download = |path: &str| {
        let stream = ctx.docker.download_from_container(
            &id,
            Some(DownloadFromContainerOptions { path: path.into() }),
        );
        async move {
            let chunks: Vec<Bytes> = tokio::time::timeout(GUARD, stream.try_collect())
                .await
                .context("hang guard: download")??;
            anyhow::Ok(chunks.concat())
        }
    };
    let files = files_of(&download("/tmp/d").await?)?;
    expect_eq(
        files,
        vec![
            ("d/a".to_owned(), "one\n".to_owned()),
            ("d/b".to_owned(), "two\n".to_owned()),
        ],
        "files of the downloaded directory",
    )?;
    let files = files_of(&download("/tmp/in.txt").await?)?;
    expect_eq(files.len(), 1, "files of a one-file download")?;
    ensure!(files[0].0 == "in.txt", "name {:?}", files[0].0);
    let missing = download("/no/such/path").await;
    let missing = match missing {
        Ok(bytes) => Ok(bytes),
        Err(e) => Err(e
            .downcast::<bollard::errors::Error>()
            .context("not a daemon error")?),
    };
    expect_status(missing, 404, "", "download of a missing path")?;
    Ok(())
}
