//! `unix-nc PATH`: a test helper in the `sockerless-test/busybox-unix` image
//! (busybox's `nc` has no Unix sockets). Connects to the Unix socket at
//! PATH, writes its stdin to it (without half-closing: the server ends the
//! exchange, as an HTTP/1.0 server does), and copies what the socket sends
//! to stdout until the server closes. Exit 1 when it cannot connect.
//! Built with `rustc` alone (std only), statically, by `cargo xtask images`.

use std::io::{Write, copy};
use std::os::unix::net::UnixStream;
use std::process::exit;

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: unix-nc PATH");
        exit(2);
    };
    let stream = match UnixStream::connect(&path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("unix-nc: connect {path}: {e}");
            exit(1);
        }
    };
    let mut up = match stream.try_clone() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("unix-nc: {e}");
            exit(1);
        }
    };
    std::thread::spawn(move || {
        let _ = copy(&mut std::io::stdin().lock(), &mut up);
    });
    let mut down = stream;
    let mut out = std::io::stdout().lock();
    if let Err(e) = copy(&mut down, &mut out) {
        eprintln!("unix-nc: read {path}: {e}");
        exit(1);
    }
    let _ = out.flush();
}
