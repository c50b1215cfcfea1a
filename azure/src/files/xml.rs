//! The two XML bodies of the Azure Files data plane the backend reads: a
//! directory listing (`EnumerationResults`) and an error (`Error/Code`).
//! A small scanner, not a general XML parser: elements are matched by name.

use super::Entry;

/// One page of `Directory_ListFilesAndDirectoriesSegment`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// Files and directories of the page.
    pub entries: Vec<Entry>,
    /// `NextMarker`; empty or absent on the last page.
    pub next_marker: Option<String>,
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';') else { break };
        let entity = &rest[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            e if e.starts_with("#x") => u32::from_str_radix(&e[2..], 16)
                .ok()
                .and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn percent_decode(s: &str) -> Option<String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|decoded| decoded.into_owned())
}

/// The inner text of the first `<tag …>…</tag>` in `s` with its opening tag,
/// and the rest after it. `<tag/>` gives an empty text.
fn element<'a>(s: &'a str, tag: &str) -> Option<(&'a str, &'a str, &'a str)> {
    let mut from = 0;
    loop {
        let start = from + s[from..].find(&format!("<{tag}"))?;
        let after = &s[start + tag.len() + 1..];
        let next = after.chars().next()?;
        if next != '>' && next != ' ' && next != '/' {
            from = start + 1;
            continue;
        }
        let open_end = after.find('>')?;
        let open = &after[..open_end];
        if open.ends_with('/') {
            return Some((open, "", &after[open_end + 1..]));
        }
        let body = &after[open_end + 1..];
        let close = format!("</{tag}>");
        let end = body.find(&close)?;
        return Some((open, &body[..end], &body[end + close.len()..]));
    }
}

fn name_of(item: &str) -> Result<String, String> {
    let (open, text, _) = element(item, "Name").ok_or("an entry has no Name")?;
    let text = unescape(text);
    if open.contains("Encoded=\"true\"") {
        percent_decode(&text).ok_or_else(|| format!("bad encoded name {text:?}"))
    } else {
        Ok(text)
    }
}

/// Parses a listing page.
pub fn parse_listing(xml: &str) -> Result<Listing, String> {
    let (_, results, _) = element(xml, "EnumerationResults").ok_or("no EnumerationResults")?;
    let mut listing = Listing::default();
    if let Some((_, entries, _)) = element(results, "Entries") {
        let mut rest = entries;
        loop {
            let file = element(rest, "File").map(|(_, b, r)| (b, r, true));
            let dir = element(rest, "Directory").map(|(_, b, r)| (b, r, false));
            // Take whichever comes first in the text.
            let pos = |x: &Option<(&str, &str, bool)>| {
                x.map(|(_, r, _)| rest.len() - r.len())
                    .unwrap_or(usize::MAX)
            };
            let next = if pos(&file) <= pos(&dir) { file } else { dir };
            let Some((body, r, is_file)) = next else {
                break;
            };
            let name = name_of(body)?;
            listing.entries.push(if is_file {
                Entry::File(name)
            } else {
                Entry::Directory(name)
            });
            rest = r;
        }
    }
    // NextMarker follows Entries; search after them so a file named so does not confuse.
    let tail = results
        .rfind("</Entries>")
        .map_or(results, |i| &results[i..]);
    listing.next_marker = element(tail, "NextMarker")
        .map(|(_, t, _)| unescape(t))
        .filter(|m| !m.is_empty());
    Ok(listing)
}

/// `Error/Code` of an error body.
pub(crate) fn parse_error_code(xml: &str) -> Option<String> {
    let (_, err, _) = element(xml, "Error")?;
    element(err, "Code").map(|(_, c, _)| unescape(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_with_encoded_names_and_marker() {
        let xml = r#"<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="https://a.file.core.windows.net/" ShareName="s" DirectoryPath="v1"><Prefix /><Entries><File><Name>a&amp;b.txt</Name><Properties><Content-Length>3</Content-Length></Properties></File><Directory><Name>sub</Name><Properties /></Directory><File><Name Encoded="true">x%01y</Name><Properties><Content-Length>0</Content-Length></Properties></File><FileX/></Entries><NextMarker>m2</NextMarker></EnumerationResults>"#;
        let l = parse_listing(xml).expect("parse");
        assert_eq!(
            l.entries,
            vec![
                Entry::File("a&b.txt".into()),
                Entry::Directory("sub".into()),
                Entry::File("x\u{1}y".into()),
            ]
        );
        assert_eq!(l.next_marker.as_deref(), Some("m2"));
        let last =
            parse_listing("<EnumerationResults><Entries /><NextMarker /></EnumerationResults>")
                .expect("parse");
        assert_eq!(last, Listing::default());
    }

    #[test]
    fn error_code() {
        let xml = "<?xml version=\"1.0\"?><Error><Code>DirectoryNotEmpty</Code><Message>x</Message></Error>";
        assert_eq!(parse_error_code(xml).as_deref(), Some("DirectoryNotEmpty"));
        assert_eq!(parse_error_code(""), None);
    }
}
