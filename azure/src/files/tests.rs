//! Shared Key signing of the Azure Files data plane: the canonical string and the HMAC.

use super::*;

#[test]
fn canonical_string_to_sign() {
    let url = Url::parse(
        "https://acct.file.core.windows.net/vols/a%20b?restype=directory&comp=list&marker=x%2Fy",
    )
    .expect("url");
    let sts = string_to_sign(
        "GET",
        &url,
        "/",
        "acct",
        &[
            ("x-ms-version", FILES_VERSION),
            ("X-Ms-Date", " Sat, 05 Dec 2026 10:00:00 GMT "),
        ],
    );
    assert_eq!(
        sts,
        format!(
            "GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:Sat, 05 Dec 2026 10:00:00 GMT\nx-ms-version:{FILES_VERSION}\n/acct/vols/a%20b\ncomp:list\nmarker:x/y\nrestype:directory"
        )
    );
    // RFC 4231 test case 2 (HMAC-SHA256, key "Jefe").
    assert_eq!(
        sign(b"Jefe", "what do ya want for nothing?"),
        STANDARD.encode([
            0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24, 0x26, 0x08, 0x95,
            0x75, 0xc7, 0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27, 0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9,
            0x64, 0xec, 0x38, 0x43
        ])
    );
}

#[test]
fn urls_encode_each_segment() {
    let c = FilesClient::new(
        Url::parse("http://127.0.0.1:1/files/acct").expect("url"),
        "acct",
        &Secret::new("a2V5"),
        "vols",
    )
    .expect("client");
    let url = c
        .url(&["v1/a b#?"], &[("restype", "directory")])
        .expect("url");
    assert_eq!(
        url.as_str(),
        "http://127.0.0.1:1/files/acct/vols/v1/a%20b%23%3F?restype=directory"
    );
    let sts = string_to_sign("DELETE", &url, "/files/acct/", "acct", &[]);
    assert!(
        sts.ends_with("\n/acct/vols/v1/a%20b%23%3F\nrestype:directory"),
        "{sts}"
    );
    assert!(FilesClient::new(url, "acct", &Secret::new("not base64!"), "s").is_err());
}
