//! Who may write which key: the upload rules, apart from HTTP.
//!
//! A key named by a user's id (`<user id>.<extension>`, the avatars front-ends upload)
//! belongs to that user. Three policies ([`Policy`], from `UPLOAD_REQUIRE_JWT` and
//! `UPLOAD_ANONYMOUS_REPLACE`):
//!
//! * **create-only** (the default): anyone may create a key that does not exist yet (the
//!   legacy registration page uploads `<new user id>.png` before its user has a token),
//!   and nobody replaces one without the owner's token: the write is conditional
//!   (`If-None-Match: *`), so S3 itself refuses it, atomically, when the key exists. An
//!   upload carrying the owner's token (verified, not revoked) to `<own id>.<extension>`
//!   replaces it. A key named by no user id can then never be replaced.
//! * **token required** (`UPLOAD_REQUIRE_JWT=true`): every upload needs a token that
//!   stands, and writes only its own user's key, replacing it.
//! * **anonymous replace** (`UPLOAD_ANONYMOUS_REPLACE=true`): the original's rule, any
//!   upload replaces the object of the same name; tokens are not read.

use uuid::Uuid;

use crate::{error::ApiError, keys};

/// Who may write which key (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// The default: anonymous uploads create new keys only; the owner's token replaces.
    CreateOnly,
    /// `UPLOAD_REQUIRE_JWT=true`: a token is required, and writes its own key only.
    TokenRequired,
    /// `UPLOAD_ANONYMOUS_REPLACE=true`: anyone replaces anything (the original).
    AnonymousReplace,
}

/// Why a token that was sent does not count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenProblem {
    /// Past its `exp`.
    Expired,
    /// Bad signature, malformed, revoked, or its user no longer exists.
    Invalid,
}

impl TokenProblem {
    /// The answer for it (401 with `WWW-Authenticate: Bearer`).
    pub fn error(self) -> ApiError {
        match self {
            Self::Expired => ApiError::TokenExpired,
            Self::Invalid => ApiError::InvalidToken,
        }
    }
}

/// The uploader, as far as its token says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uploader {
    /// No token, or one that does not count (create-only policy: then `refused` says
    /// why, which is the answer if the upload needed it).
    Anonymous {
        /// The problem with the token that was sent, if one was.
        refused: Option<TokenProblem>,
    },
    /// A token that verifies and stands (not revoked, its user exists).
    User(Uuid),
}

/// How the object is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// Only if the key does not exist yet (S3 `If-None-Match: *`).
    CreateOnly,
    /// Creating or replacing.
    Replace,
}

/// The name to store under (before its extension follows the detected type) and how,
/// for a sanitised `name` uploaded by `uploader` under `policy`; or the refusal, before
/// anything is stored. With a user's token, the user's own key is exactly
/// `<user id>.<extension>` (the id in its canonical lower-case form, whatever case was
/// sent).
pub fn target(
    policy: Policy,
    uploader: Uploader,
    name: String,
) -> Result<(String, Write), ApiError> {
    let own = match uploader {
        Uploader::User(user) => own_key(&name, user),
        Uploader::Anonymous { .. } => None,
    };
    match (policy, own) {
        (Policy::AnonymousReplace, _) => Ok((name, Write::Replace)),
        (_, Some(own)) => Ok((own, Write::Replace)),
        (Policy::CreateOnly, None) => Ok((name, Write::CreateOnly)),
        (Policy::TokenRequired, None) => {
            if let Uploader::User(user) = uploader {
                tracing::info!(user.id = %user, "upload to another key refused");
            }
            Err(ApiError::NotOwnKey)
        }
    }
}

/// What a create-only write that found its key taken answers: a user's token that is
/// not the key's owner is told to use its own key; a token that was sent but does not
/// count gets its own answer (the owner's token would have replaced); no token, that
/// the image exists and replacing it needs its owner's token.
pub fn key_taken(uploader: Uploader) -> ApiError {
    match uploader {
        Uploader::User(_) => ApiError::NotOwnKey,
        Uploader::Anonymous {
            refused: Some(problem),
        } => problem.error(),
        Uploader::Anonymous { refused: None } => ApiError::ImageExists,
    }
}

/// `<user>.<extension>` when `name` is the user's own key (its stem is the user's id,
/// in any case).
fn own_key(name: &str, user: Uuid) -> Option<String> {
    let (stem, ext) = keys::split_extension(name);
    stem.eq_ignore_ascii_case(&user.to_string())
        .then(|| ext.map_or_else(|| user.to_string(), |ext| format!("{user}.{ext}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANON: Uploader = Uploader::Anonymous { refused: None };

    fn ok(policy: Policy, uploader: Uploader, name: &str) -> (String, Write) {
        target(policy, uploader, name.to_owned()).unwrap()
    }

    #[test]
    fn by_default_anonymous_uploads_only_create_and_the_owner_replaces() {
        let ana = Uuid::new_v4();
        let bob = Uuid::new_v4();
        let own = format!("{ana}.png");
        let write = |uploader, name: &str| ok(Policy::CreateOnly, uploader, name);
        assert_eq!(write(ANON, &own), (own.clone(), Write::CreateOnly));
        assert_eq!(write(ANON, "a.png"), ("a.png".into(), Write::CreateOnly));
        assert_eq!(
            write(
                Uploader::User(ana),
                &format!("{}.png", ana.to_string().to_uppercase())
            ),
            (own.clone(), Write::Replace)
        );
        assert_eq!(
            write(Uploader::User(ana), &ana.to_string()),
            (ana.to_string(), Write::Replace)
        );
        assert_eq!(
            write(Uploader::User(bob), &own),
            (own.clone(), Write::CreateOnly),
            "another user may only create"
        );
        assert_eq!(
            write(Uploader::User(ana), &format!("{ana}x.png")),
            (format!("{ana}x.png"), Write::CreateOnly)
        );
    }

    #[test]
    fn a_taken_key_tells_each_uploader_what_would_have_replaced_it() {
        let ana = Uuid::new_v4();
        assert!(matches!(key_taken(ANON), ApiError::ImageExists));
        assert!(matches!(
            key_taken(Uploader::User(ana)),
            ApiError::NotOwnKey
        ));
        let expired = Uploader::Anonymous {
            refused: Some(TokenProblem::Expired),
        };
        assert!(matches!(key_taken(expired), ApiError::TokenExpired));
        let invalid = Uploader::Anonymous {
            refused: Some(TokenProblem::Invalid),
        };
        assert!(matches!(key_taken(invalid), ApiError::InvalidToken));
    }

    #[test]
    fn with_tokens_required_only_the_own_key_is_written() {
        let ana = Uuid::new_v4();
        let own = format!("{ana}.png");
        assert_eq!(
            ok(Policy::TokenRequired, Uploader::User(ana), &own),
            (own.clone(), Write::Replace)
        );
        for name in ["me.png".to_owned(), format!("{}.png", Uuid::new_v4())] {
            let refused = target(Policy::TokenRequired, Uploader::User(ana), name);
            assert!(matches!(refused, Err(ApiError::NotOwnKey)));
        }
    }

    #[test]
    fn the_originals_rule_replaces_whatever_the_token() {
        for uploader in [ANON, Uploader::User(Uuid::new_v4())] {
            assert_eq!(
                ok(Policy::AnonymousReplace, uploader, "a.png"),
                ("a.png".into(), Write::Replace)
            );
        }
    }
}
