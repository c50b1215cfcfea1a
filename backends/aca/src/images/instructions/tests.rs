//! `changes` applied to an image config (pure).

use serde_json::json;

use super::*;

fn applied(changes: &[&str]) -> Result<Value, ApiError> {
    let mut config = Map::new();
    config.insert("Env".into(), json!(["PATH=/bin", "A=old"]));
    let changes: Vec<String> = changes.iter().map(|c| (*c).to_owned()).collect();
    apply(&mut config, &changes).map(|()| Value::Object(config))
}

#[test]
fn exec_and_shell_forms() {
    let c = applied(&["CMD [\"echo\", \"hi\"]", "ENTRYPOINT top -b"]).expect("ok");
    assert_eq!(c["Cmd"], json!(["echo", "hi"]));
    assert_eq!(c["Entrypoint"], json!(["/bin/sh", "-c", "top -b"]));
}

#[test]
fn env_replaces_and_adds() {
    let c = applied(&["ENV A=new B=\"two words\"", "ENV C three"]).expect("ok");
    assert_eq!(
        c["Env"],
        json!(["PATH=/bin", "A=new", "B=two words", "C=three"])
    );
}

#[test]
fn ports_labels_volumes_user_workdir() {
    let c = applied(&[
        "EXPOSE 80 53/UDP",
        "LABEL a=b \"c\"=\"d e\"",
        "VOLUME [\"/data\"]",
        "VOLUME /x /y",
        "USER nobody",
        "WORKDIR /srv",
        "STOPSIGNAL SIGINT",
        "cmd sh",
    ])
    .expect("ok");
    assert_eq!(c["ExposedPorts"], json!({"80/tcp": {}, "53/udp": {}}));
    assert_eq!(c["Labels"], json!({"a": "b", "c": "d e"}));
    assert_eq!(c["Volumes"], json!({"/data": {}, "/x": {}, "/y": {}}));
    assert_eq!(c["User"], "nobody");
    assert_eq!(c["WorkingDir"], "/srv");
    assert_eq!(c["StopSignal"], "SIGINT");
    assert_eq!(c["Cmd"], json!(["/bin/sh", "-c", "sh"]));
}

#[test]
fn refusals_name_the_instruction() {
    let e = applied(&["FROM busybox"]).expect_err("refused");
    assert_eq!(e.message(), "FROM is not a valid change command");
    let e = applied(&["ONBUILD RUN x"]).expect_err("refused");
    assert!(matches!(e, ApiError::NotImplemented(_)), "{e:?}");
    assert!(e.message().contains("ONBUILD"));
    let e = applied(&["HEALTHCHECK CMD true"]).expect_err("refused");
    assert!(e.message().contains("HEALTHCHECK"));
    let e = applied(&["CMD"]).expect_err("refused");
    assert_eq!(e.message(), "CMD requires at least one argument");
    let e = applied(&["EXPOSE http"]).expect_err("refused");
    assert!(e.message().contains("invalid containerPort"));
}
