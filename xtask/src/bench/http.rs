//! A minimal blocking HTTP/1.1 client on a Unix socket: the Docker API of
//! both daemons, with keep-alive, so latencies are measured in this process
//! (no client spawn, no connection setup per request) with the same code on
//! both sides. Enough of HTTP for the Docker API: Content-Length and chunked
//! bodies, and connection upgrades (attach).

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// The newest API version asked for (the frontend's); an older daemon (the
/// engine may be dockerd 20.10: 1.41) is spoken to in its own version.
pub const API_VERSION: (u32, u32) = (1, 44);

/// A keep-alive connection to one daemon (reopened when the daemon closes it).
pub struct Client {
    socket: PathBuf,
    conn: Option<BufReader<UnixStream>>,
    /// `/v1.xx`, negotiated at the first request.
    prefix: Option<String>,
}

/// A response with its whole body.
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Response {
    /// The body as JSON; fails on a non-2xx status, naming it.
    pub fn json(&self) -> Result<serde_json::Value> {
        self.ok()?;
        serde_json::from_slice(&self.body).context("response body is not JSON")
    }

    /// Fails on a non-2xx status with the body (Docker's `{"message"}`).
    pub fn ok(&self) -> Result<()> {
        if !(200..300).contains(&self.status) {
            bail!(
                "HTTP {}: {}",
                self.status,
                String::from_utf8_lossy(&self.body).trim()
            );
        }
        Ok(())
    }
}

impl Client {
    pub fn new(socket: &Path) -> Self {
        Self {
            socket: socket.to_owned(),
            conn: None,
            prefix: None,
        }
    }

    /// `/v1.xx`: the lower of [`API_VERSION`] and the daemon's (`GET /version`).
    fn prefix(&mut self) -> Result<String> {
        if let Some(p) = &self.prefix {
            return Ok(p.clone());
        }
        let v = self.try_request("GET", "/version", None)?.json()?;
        let theirs = v["ApiVersion"].as_str().and_then(parse_version);
        let (major, minor) = theirs.map_or(API_VERSION, |t| t.min(API_VERSION));
        let p = format!("/v{major}.{minor}");
        self.prefix = Some(p.clone());
        Ok(p)
    }

    /// Sends one request (JSON body if any) and reads the whole response.
    /// A request on a connection the daemon closed in between is retried once
    /// on a new one (all requests here are safe to resend before any byte of
    /// answer came back).
    /// `path` is unversioned (`/containers/json`).
    pub fn request(&mut self, method: &str, path: &str, body: Option<&[u8]>) -> Result<Response> {
        let path = &format!("{}{path}", self.prefix()?);
        let reused = self.conn.is_some();
        match self.try_request(method, path, body) {
            Ok(r) => Ok(r),
            Err(e) if reused && e.downcast_ref::<Stale>().is_some() => {
                self.conn = None;
                self.try_request(method, path, body)
            }
            Err(e) => {
                self.conn = None;
                Err(e)
            }
        }
    }

    pub fn get(&mut self, path: &str) -> Result<Response> {
        self.request("GET", path, None)
    }

    pub fn post(&mut self, path: &str, body: &serde_json::Value) -> Result<Response> {
        let bytes = serde_json::to_vec(body)?;
        self.request("POST", path, Some(&bytes))
    }

    fn try_request(&mut self, method: &str, path: &str, body: Option<&[u8]>) -> Result<Response> {
        if self.conn.is_none() {
            let s = UnixStream::connect(&self.socket)
                .with_context(|| format!("connecting to {}", self.socket.display()))?;
            self.conn = Some(BufReader::new(s));
        }
        let conn = self.conn.as_mut().context("no connection")?;
        conn.get_mut()
            .write_all(&head(method, path, body, &[]))
            .map_err(|_| Stale)?;
        if let Some(b) = body {
            conn.get_mut().write_all(b).map_err(|_| Stale)?;
        }
        let (status, headers) = match read_head(conn) {
            Ok(h) => h,
            Err(e) if e.downcast_ref::<std::io::Error>().is_some() || e.is::<Stale>() => {
                return Err(Stale.into());
            }
            Err(e) => return Err(e),
        };
        let body = read_body(conn, method, status, &headers)?;
        if header(&headers, "connection").is_some_and(|v| v.eq_ignore_ascii_case("close")) {
            self.conn = None;
        }
        Ok(Response { status, body })
    }

    /// Sends `method path` asking to upgrade the connection (attach) and
    /// returns the raw stream once the daemon answered 101 (or 200, which
    /// older daemons send before streaming).
    pub fn upgrade(&mut self, method: &str, path: &str) -> Result<BufReader<UnixStream>> {
        let path = &format!("{}{path}", self.prefix()?);
        let s = UnixStream::connect(&self.socket)
            .with_context(|| format!("connecting to {}", self.socket.display()))?;
        let mut conn = BufReader::new(s);
        let extra = [("Connection", "Upgrade"), ("Upgrade", "tcp")];
        conn.get_mut()
            .write_all(&head(method, path, None, &extra))?;
        let (status, _) = read_head(&mut conn)?;
        if status != 101 && status != 200 {
            let mut rest = Vec::new();
            let _ = conn.read_to_end(&mut rest);
            bail!(
                "{method} {path}: HTTP {status}: {}",
                String::from_utf8_lossy(&rest).trim()
            );
        }
        Ok(conn)
    }
}

/// `1.41` → (1, 41).
fn parse_version(v: &str) -> Option<(u32, u32)> {
    let (major, minor) = v.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// The connection was closed by the daemon before answering.
#[derive(Debug)]
struct Stale;

impl std::fmt::Display for Stale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection closed before an answer")
    }
}

impl std::error::Error for Stale {}

fn head(method: &str, path: &str, body: Option<&[u8]>, extra: &[(&str, &str)]) -> Vec<u8> {
    let mut h = format!("{method} {path} HTTP/1.1\r\nHost: docker\r\n");
    if let Some(b) = body {
        h.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    } else if method == "POST" {
        h.push_str("Content-Length: 0\r\n");
    }
    for (k, v) in extra {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    h.push_str("\r\n");
    h.into_bytes()
}

type Headers = Vec<(String, String)>;

fn header<'a>(headers: &'a Headers, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn read_line(r: &mut impl BufRead) -> Result<String> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(Stale.into());
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

fn read_head(r: &mut impl BufRead) -> Result<(u16, Headers)> {
    let status_line = read_line(r)?;
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("bad status line {status_line:?}"))?;
    let mut headers = Vec::new();
    loop {
        let line = read_line(r)?;
        if line.is_empty() {
            return Ok((status, headers));
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
}

fn read_body(
    r: &mut impl BufRead,
    method: &str,
    status: u16,
    headers: &Headers,
) -> Result<Vec<u8>> {
    if method == "HEAD" || status == 204 || status == 304 || (100..200).contains(&status) {
        return Ok(Vec::new());
    }
    if header(headers, "transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        return read_chunked(r);
    }
    if let Some(len) = header(headers, "content-length") {
        let len: usize = len.parse().context("bad Content-Length")?;
        let mut body = vec![0; len];
        r.read_exact(&mut body)?;
        return Ok(body);
    }
    let mut body = Vec::new();
    r.read_to_end(&mut body)?;
    Ok(body)
}

/// Decodes a chunked body (trailers skipped).
pub fn read_chunked(r: &mut impl BufRead) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line = read_line(r)?;
        let size = line.split(';').next().unwrap_or("").trim();
        let size =
            usize::from_str_radix(size, 16).with_context(|| format!("bad chunk size {line:?}"))?;
        if size == 0 {
            while !read_line(r)?.is_empty() {}
            return Ok(body);
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..])?;
        read_line(r)?;
    }
}

/// Reads one frame of Docker's multiplexed stream (8-byte header: stream,
/// 3 zero bytes, big-endian length); `None` at the end of the stream.
pub fn read_frame(r: &mut impl Read, buf: &mut Vec<u8>) -> Result<Option<u8>> {
    let mut header = [0u8; 8];
    match r.read_exact(&mut header) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
    buf.resize(len, 0);
    r.read_exact(buf)?;
    Ok(Some(header[0]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically() {
        assert_eq!(parse_version("1.41"), Some((1, 41)));
        assert!(parse_version("1.9").expect("parses") < (1, 44));
        assert_eq!(parse_version("x"), None);
    }

    #[test]
    fn chunked_bodies_are_decoded() {
        let raw = b"4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nTrailer: x\r\n\r\n";
        let body = read_chunked(&mut &raw[..]).expect("decodes");
        assert_eq!(body, b"Wikipedia");
    }

    #[test]
    fn frames_are_split_by_their_header() {
        let raw = [
            1, 0, 0, 0, 0, 0, 0, 2, b'h', b'i', 2, 0, 0, 0, 0, 0, 0, 1, b'!',
        ];
        let (mut r, mut buf) = (&raw[..], Vec::new());
        assert_eq!(read_frame(&mut r, &mut buf).expect("frame"), Some(1));
        assert_eq!(buf, b"hi");
        assert_eq!(read_frame(&mut r, &mut buf).expect("frame"), Some(2));
        assert_eq!(buf, b"!");
        assert_eq!(read_frame(&mut r, &mut buf).expect("end"), None);
    }

    #[test]
    fn a_head_is_parsed() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nApi-Version: 1.44\r\n\r\nOK";
        let mut r = &raw[..];
        let (status, headers) = read_head(&mut r).expect("head");
        assert_eq!(status, 200);
        assert_eq!(
            read_body(&mut r, "GET", status, &headers).expect("body"),
            b"OK"
        );
    }
}
