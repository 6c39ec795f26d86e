//! Look-alike usernames: the key under which two usernames that look the same are one.
//!
//! [`username_skeleton`] is Unicode's confusable skeleton (UTS #39, section 4) of the
//! username as stored, then case folded. Two usernames with the same key look alike: a
//! registration whose key is taken is a duplicate username. It is stored in
//! `"user".username_skeleton` (migration `username_skeleton`), computed here only:
//! PostgreSQL has no confusables data.
//!
//! Why the skeleton comes before the case folding, not after it as
//! `skeleton(identity_canonical(name))` would: UTS #39's prototypes are case-sensitive
//! (capital `I` and digit `1` look like `l`, Cyrillic `Н` like capital `H`, digit `0`
//! like capital `O`), and what others see is the name as stored. Folding first would
//! turn `PayPaI` into `paypai` and Cyrillic `НАНА` into `нана`, whose skeletons no
//! longer match `paypal` and `HAHA`. Folding after the skeleton makes the key ignore
//! case as identities do (`BOB` is the account `bob`, so `B0B`, which looks like `BOB`,
//! is a look-alike of `bob`). Canonical equality (NFKC and case folding) is not this
//! key's job: the canonical indexes still decide it, so the key needs no NFKC, and
//! keeps UTS #39's answer where NFKC would differ (`ſ`, long s, looks like `f`).
//!
//! The key does not have to equal any SQL expression: it is only ever compared with keys
//! this same function computed (at registration, and by the backfill of older rows).
//! Its data is `unicode-security`'s (pinned by `Cargo.lock`) and Rust's case mappings
//! (pinned by the toolchain); a new version that maps a character differently changes
//! the key of names holding that character only.

/// The look-alike key of `username`: its UTS #39 skeleton (NFD, default-ignorable code
/// points removed, each character replaced by its confusable prototype, NFD again),
/// then upper- and lower-case mapped (full Unicode mappings, so `ß` = `ss`).
///
/// Consequences, as UTS #39 decides them: `bob1`, `bobl`, `bobI` and `BOBI` are one
/// name (`1` and `I` look like `l`), so are `rn` and `m`, `b0b` and `bob` (`0` looks like
/// `O`), `john` and `joһn` (Cyrillic `һ`); `bobi` and `bobl` stay two (`i` does not look
/// like `l`). Never empty for a non-empty username made of visible characters.
pub fn username_skeleton(username: &str) -> String {
    let skeleton: String = unicode_security::skeleton(username).collect();
    skeleton.to_uppercase().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::username_skeleton as key;

    #[track_caller]
    fn alike(a: &str, b: &str) {
        assert_eq!(key(a), key(b), "{a} and {b} look alike");
    }

    #[track_caller]
    fn distinct(a: &str, b: &str) {
        assert_ne!(key(a), key(b), "{a} and {b} are different names");
    }

    #[test]
    fn other_scripts_letters_that_look_latin_are_the_latin_name() {
        alike("john", "jo\u{04BB}n"); // Cyrillic shha
        alike("john", "\u{0458}ohn"); // Cyrillic je
        alike("john", "j\u{03BF}hn"); // Greek omicron
        alike("paypal", "p\u{0430}yp\u{0430}l"); // Cyrillic a
        alike("HAHA", "\u{041D}\u{0410}\u{041D}\u{0410}"); // Cyrillic capitals
        alike("haha", "\u{041D}\u{0410}\u{041D}\u{0410}");
        alike("BOB", "\u{0412}\u{041E}\u{0412}");
    }

    #[test]
    fn uts39_merges_digits_and_letter_pairs_that_look_alike() {
        alike("bob1", "bobl");
        alike("bobI", "bobl");
        alike("BOBI", "bobl");
        alike("PayPaI", "paypal");
        alike("rnary", "mary");
        alike("b0b", "bob");
        alike("B0B", "BOB");
        alike("stra\u{00DF}e", "strasse"); // ß folds to ss
        alike("str\u{03B1}sse", "Stra\u{00DF}e"); // Greek alpha
    }

    #[test]
    fn case_width_and_invisible_characters_do_not_make_a_new_name() {
        alike("Ann", "aNN");
        alike("Ann", "\u{FF21}\u{FF4E}\u{FF4E}"); // fullwidth
        alike("Jos\u{00E9}", "jose\u{0301}"); // composed, decomposed
        alike("john", "jo\u{200B}hn"); // zero-width space (a legacy row may hold one)
        alike("\u{1D41B}ob", "bob"); // mathematical bold b
    }

    #[test]
    fn names_that_do_not_look_alike_keep_their_own_key() {
        distinct("bobi", "bobl");
        distinct("john", "jane");
        distinct("ana", "anna");
        distinct("jos\u{00E9}", "jose");
        distinct("\u{043D}\u{0430}\u{043D}\u{0430}", "haha"); // small Cyrillic en: small-cap H
        assert!(!key("x").is_empty());
    }

    #[test]
    fn any_input_has_a_key_and_keys_are_stable() {
        for s in [
            "",
            " ",
            "\u{0301}",
            "\u{FFFF}",
            "\u{10FFFF}",
            "\u{E0001}",
            "ﷺ",
            "\u{0345}",
        ] {
            assert_eq!(key(s), key(s));
        }
        assert_eq!(key("bob1"), "bobl");
        assert_eq!(key("jo\u{04BB}n"), "john");
    }
}
