//! Detach keys: the key sequence that ends an attach to a TTY container while
//! the container keeps running (`detachKeys`, default ctrl-p ctrl-q), parsed
//! and matched as dockerd does (its `term.ToBytes` and `copyEscapable`).

/// dockerd's default detach sequence: ctrl-p, ctrl-q.
pub const DEFAULT_DETACH_KEYS: &[u8] = &[0x10, 0x11];

/// Parses a `detachKeys` value: comma-separated keys, each a single
/// character or `ctrl-<c>` for `c` in `a`–`z`, `@`, `[`, `\`, `]`, `^`, `_`.
/// An empty value means the default sequence.
pub fn parse_detach_keys(keys: &str) -> Result<Vec<u8>, String> {
    if keys.is_empty() {
        return Ok(DEFAULT_DETACH_KEYS.to_vec());
    }
    let invalid = || format!("Invalid detach keys ({keys}) provided");
    let mut out = Vec::new();
    for key in keys.split(',') {
        let lower = key.to_ascii_lowercase();
        if let Some(rest) = lower.strip_prefix("ctrl-") {
            let code = match rest.as_bytes() {
                [c @ b'a'..=b'z'] => c - b'a' + 1,
                [b'@'] => 0,
                [b'['] => 27,
                [b'\\'] => 28,
                [b']'] => 29,
                [b'^'] => 30,
                [b'_'] => 31,
                _ => return Err(invalid()),
            };
            out.push(code);
        } else if key.len() == 1 {
            out.push(key.as_bytes()[0]);
        } else {
            return Err(invalid());
        }
    }
    Ok(out)
}

/// Watches stdin for the detach sequence. Bytes that could start the
/// sequence are held back until they either complete it (detach: they are
/// never sent) or stop matching (sent, as dockerd does).
#[derive(Debug, Clone)]
pub struct DetachWatch {
    keys: Vec<u8>,
    matched: usize,
}

/// What to do with a chunk of stdin.
#[derive(Debug, PartialEq, Eq)]
pub enum Scan {
    /// Forward these bytes to the process.
    Forward(Vec<u8>),
    /// The sequence was typed: forward these bytes (before it), then detach.
    Detach(Vec<u8>),
}

impl DetachWatch {
    /// A watch for `keys` (never empty: an empty sequence would detach at once).
    pub fn new(keys: Vec<u8>) -> Option<Self> {
        (!keys.is_empty()).then_some(Self { keys, matched: 0 })
    }

    /// Feeds one chunk of stdin.
    pub fn scan(&mut self, chunk: &[u8]) -> Scan {
        let mut out = Vec::with_capacity(chunk.len());
        for &byte in chunk {
            if byte == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    self.matched = 0;
                    return Scan::Detach(out);
                }
                continue;
            }
            // A broken match: what was held back goes out, then this byte
            // may start the sequence anew.
            out.extend_from_slice(&self.keys[..self.matched]);
            self.matched = 0;
            if byte == self.keys[0] {
                self.matched = 1;
                if self.keys.len() == 1 {
                    self.matched = 0;
                    return Scan::Detach(out);
                }
            } else {
                out.push(byte);
            }
        }
        Scan::Forward(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_dockerd() {
        assert_eq!(parse_detach_keys(""), Ok(vec![0x10, 0x11]));
        assert_eq!(parse_detach_keys("ctrl-p,ctrl-q"), Ok(vec![0x10, 0x11]));
        assert_eq!(parse_detach_keys("ctrl-a,x"), Ok(vec![1, b'x']));
        assert_eq!(
            parse_detach_keys("ctrl-@,ctrl-\\,ctrl-_"),
            Ok(vec![0, 28, 31])
        );
        assert_eq!(parse_detach_keys("CTRL-Z"), Ok(vec![26]));
        for bad in ["ctrl-", "ctrl-1", "ab", "ctrl-p,,ctrl-q", "ctrl-pq"] {
            assert_eq!(
                parse_detach_keys(bad),
                Err(format!("Invalid detach keys ({bad}) provided")),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_sequence_detaches_and_is_never_sent() {
        let mut w = DetachWatch::new(vec![0x10, 0x11]).expect("keys");
        assert_eq!(w.scan(b"ls\n"), Scan::Forward(b"ls\n".to_vec()));
        assert_eq!(w.scan(b"a\x10"), Scan::Forward(b"a".to_vec()));
        assert_eq!(w.scan(b"\x11rest"), Scan::Detach(Vec::new()));
    }

    #[test]
    fn a_broken_match_sends_what_was_held_back() {
        let mut w = DetachWatch::new(vec![0x10, 0x11]).expect("keys");
        assert_eq!(w.scan(b"\x10x"), Scan::Forward(b"\x10x".to_vec()));
        assert_eq!(w.scan(b"\x10\x10\x11"), Scan::Detach(b"\x10".to_vec()));
        let mut one = DetachWatch::new(vec![b'q']).expect("keys");
        assert_eq!(one.scan(b"abq"), Scan::Detach(b"ab".to_vec()));
        assert!(DetachWatch::new(Vec::new()).is_none());
    }
}
