//! The pure parts of the blob protocol: `Put Block List` bodies, block IDs
//! and `Range` headers.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Largest block `Put Block` takes (Azure: 4000 MiB since 2019; the
/// emulator keeps the older 100 MiB, which the backend's 4 MiB blocks are
/// far below).
pub const MAX_BLOCK: u64 = 100 << 20;
/// Largest blob one `Put Blob` takes (Azure: 5000 MiB; bounded lower here,
/// the emulator's disk being a developer's).
pub const MAX_PUT_BLOB: u64 = 1 << 30;
/// Most blocks a block list may name (Azure's limit).
pub const MAX_BLOCKS: usize = 50_000;

/// A block ID as a file name: the hex of its decoded bytes (Azure: base64
/// of at most 64 bytes).
pub fn block_file_name(id: &str) -> Option<String> {
    let raw = STANDARD.decode(id).ok()?;
    if raw.is_empty() || raw.len() > 64 {
        return None;
    }
    Some(raw.iter().map(|b| format!("{b:02x}")).collect())
}

/// The block IDs of a `Put Block List` body, in order. `Latest`,
/// `Committed` and `Uncommitted` all name a block this emulator holds
/// uncommitted (it commits a blob's blocks once).
pub fn parse_block_list(xml: &str) -> Result<Vec<String>, String> {
    let start = xml
        .find("<BlockList>")
        .ok_or_else(|| "the body has no <BlockList> element".to_string())?;
    let end = xml
        .find("</BlockList>")
        .ok_or_else(|| "the <BlockList> element is not closed".to_string())?;
    let mut rest = xml
        .get(start + "<BlockList>".len()..end)
        .unwrap_or_default();
    let mut ids = Vec::new();
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        let Some(tag_end) = rest.find('>') else {
            return Err("an element is not closed".into());
        };
        let tag = rest.get(1..tag_end).unwrap_or_default();
        if !rest.starts_with('<') || !matches!(tag, "Latest" | "Committed" | "Uncommitted") {
            return Err(format!(
                "unexpected content '{}'",
                rest.chars().take(40).collect::<String>()
            ));
        }
        let close = format!("</{tag}>");
        let body = &rest[tag_end + 1..];
        let Some(close_at) = body.find(&close) else {
            return Err(format!("<{tag}> is not closed"));
        };
        ids.push(body[..close_at].trim().to_string());
        if ids.len() > MAX_BLOCKS {
            return Err(format!("more than {MAX_BLOCKS} blocks"));
        }
        rest = &body[close_at + close.len()..];
    }
    Ok(ids)
}

/// Why a `Range` header cannot be served.
#[derive(Debug, PartialEq, Eq)]
pub enum RangeError {
    /// The range starts at or past the end (416 `InvalidRange`).
    Unsatisfiable,
}

/// The inclusive byte range a `Range` header asks of a blob of `len`
/// bytes: `None` for the whole blob (no header, or one this parser does not
/// read, which Azure also answers with the whole blob).
pub fn parse_range(header: Option<&str>, len: u64) -> Result<Option<(u64, u64)>, RangeError> {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Ok(None);
    };
    let Some((a, b)) = spec.split_once('-') else {
        return Ok(None);
    };
    let Ok(start) = a.trim().parse::<u64>() else {
        return Ok(None);
    };
    let end = match b.trim() {
        "" => len.saturating_sub(1),
        b => match b.parse::<u64>() {
            Ok(e) if e >= start => e.min(len.saturating_sub(1)),
            _ => return Ok(None),
        },
    };
    if start >= len {
        return Err(RangeError::Unsatisfiable);
    }
    Ok(Some((start, end)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_lists_keep_their_order_and_every_kind() {
        let xml = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<BlockList>\n  <Latest>QUFB</Latest>\n  <Uncommitted>QkJC</Uncommitted><Committed> Q0ND </Committed>\n</BlockList>";
        assert_eq!(
            parse_block_list(xml),
            Ok(vec!["QUFB".to_string(), "QkJC".into(), "Q0ND".into()])
        );
        assert_eq!(parse_block_list("<BlockList></BlockList>"), Ok(vec![]));
        assert!(parse_block_list("<Blocks/>").is_err());
        assert!(parse_block_list("<BlockList><Latest>QUFB</BlockList>").is_err());
        assert!(parse_block_list("<BlockList><Other>QUFB</Other></BlockList>").is_err());
        assert!(parse_block_list("<BlockList>text</BlockList>").is_err());
    }

    #[test]
    fn block_ids_become_safe_file_names() {
        assert_eq!(block_file_name("QUFB").as_deref(), Some("414141"));
        assert_eq!(block_file_name("../x"), None);
        assert_eq!(block_file_name(""), None);
        assert_eq!(block_file_name(&STANDARD.encode([0u8; 65])), None);
    }

    #[test]
    fn ranges_as_azure_reads_them() {
        assert_eq!(parse_range(None, 10), Ok(None));
        assert_eq!(parse_range(Some("bytes=0-"), 10), Ok(Some((0, 9))));
        assert_eq!(parse_range(Some("bytes=4-"), 10), Ok(Some((4, 9))));
        assert_eq!(parse_range(Some("bytes=2-5"), 10), Ok(Some((2, 5))));
        assert_eq!(parse_range(Some("bytes=2-50"), 10), Ok(Some((2, 9))));
        assert_eq!(
            parse_range(Some("bytes=10-"), 10),
            Err(RangeError::Unsatisfiable)
        );
        assert_eq!(
            parse_range(Some("bytes=0-"), 0),
            Err(RangeError::Unsatisfiable)
        );
        assert_eq!(parse_range(Some("bytes=5-2"), 10), Ok(None));
        assert_eq!(parse_range(Some("items=0-1"), 10), Ok(None));
    }
}
