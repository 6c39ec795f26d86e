//! Image type detection by content (magic bytes), never by file name or the
//! client's `Content-Type`, which a client chooses freely.

/// What the first bytes of an upload say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniff {
    /// An accepted image; the MIME type to store on the object.
    Image(&'static str),
    /// Too few bytes yet to decide.
    NeedMore,
    /// Not an accepted image type.
    Refused,
}

/// An accepted type: its signature, the byte positions that may hold anything (WebP's
/// chunk size) and the MIME type stored on the object.
struct Signature {
    bytes: &'static [u8],
    wildcard: std::ops::Range<usize>,
    mime: &'static str,
}

const SIGNATURES: &[Signature] = &[
    Signature {
        bytes: b"\x89PNG\r\n\x1a\n",
        wildcard: 0..0,
        mime: "image/png",
    },
    Signature {
        bytes: b"\xff\xd8\xff",
        wildcard: 0..0,
        mime: "image/jpeg",
    },
    Signature {
        bytes: b"GIF87a",
        wildcard: 0..0,
        mime: "image/gif",
    },
    Signature {
        bytes: b"GIF89a",
        wildcard: 0..0,
        mime: "image/gif",
    },
    Signature {
        bytes: b"RIFF\0\0\0\0WEBP",
        wildcard: 4..8,
        mime: "image/webp",
    },
];

/// Classifies the start of an upload. `complete` says `head` is the whole file, so a
/// short file that could still have matched is refused rather than waited on.
pub fn sniff(head: &[u8], complete: bool) -> Sniff {
    let mut undecided = false;
    for signature in SIGNATURES {
        let prefix_matches = signature
            .bytes
            .iter()
            .zip(head)
            .enumerate()
            .all(|(i, (want, got))| signature.wildcard.contains(&i) || want == got);
        if !prefix_matches {
            continue;
        }
        if head.len() >= signature.bytes.len() {
            return Sniff::Image(signature.mime);
        }
        undecided = true;
    }
    if undecided && !complete {
        Sniff::NeedMore
    } else {
        Sniff::Refused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    #[test]
    fn each_accepted_type_is_recognised_from_its_signature() {
        assert_eq!(sniff(PNG, false), Sniff::Image("image/png"));
        assert_eq!(
            sniff(b"\xff\xd8\xff\xe0\0\x10JFIF", true),
            Sniff::Image("image/jpeg")
        );
        assert_eq!(sniff(b"GIF87a\x01\0", true), Sniff::Image("image/gif"));
        assert_eq!(sniff(b"GIF89a\x01\0", true), Sniff::Image("image/gif"));
        assert_eq!(
            sniff(b"RIFF\x24\0\0\0WEBPVP8 ", true),
            Sniff::Image("image/webp")
        );
    }

    #[test]
    fn other_content_is_refused_whatever_it_claims_to_be() {
        assert_eq!(sniff(b"<svg xmlns=", false), Sniff::Refused);
        assert_eq!(sniff(b"%PDF-1.7\n", false), Sniff::Refused);
        assert_eq!(sniff(b"RIFF\x24\0\0\0WAVEfmt ", false), Sniff::Refused);
        assert_eq!(sniff(b"GIF88a", false), Sniff::Refused);
        assert_eq!(sniff(b"", true), Sniff::Refused);
    }

    #[test]
    fn a_short_prefix_waits_for_more_unless_the_file_has_ended() {
        assert_eq!(sniff(b"\x89PN", false), Sniff::NeedMore);
        assert_eq!(sniff(b"RIFF\0\0", false), Sniff::NeedMore);
        assert_eq!(sniff(b"", false), Sniff::NeedMore);
        assert_eq!(sniff(b"\x89PN", true), Sniff::Refused);
        assert_eq!(sniff(b"RIFF\0\0", true), Sniff::Refused);
    }
}
