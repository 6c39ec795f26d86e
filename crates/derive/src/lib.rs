//! `#[derive(JsonError)]`, re-exported as `hub_runtime::http::JsonError` beside the trait
//! of the same name: a REST service's error enum states each variant's status next to
//! the variant, and the impls every service used to write by hand are generated.
//!
//! ```ignore
//! #[derive(Debug, thiserror::Error, JsonError)]
//! #[json(key = "message", headers = Self::retry_after)] // headers: optional
//! pub enum ApiError {
//!     #[json(status = BAD_REQUEST)]
//!     #[error("{0}")]
//!     BadRequest(String),
//!     #[json(failure)]
//!     #[error("{}", .0.text("Service temporarily unavailable", "Internal server error"))]
//!     Failed(#[from] Failure),
//! }
//! ```
//!
//! generates
//! - `impl hub_runtime::http::JsonError`: `KEY` (the original's body key), `status()`
//!   (each variant's `StatusCode::<NAME>`; the `failure` variant's own 503 or 500) and,
//!   with `headers = f`, `headers()` calling `f(&self, &mut HeaderMap)`;
//! - `impl IntoResponse`: `{"<KEY>": "<Display text>"}`, the `failure` variant logged as
//!   the server's failure (WARN or ERROR), every other variant as the caller's mistake
//!   (not logged). The response trait is axum's, so no blanket impl could do this.
//!
//! A variant without `#[json(...)]` is a compile error: no status is chosen by default.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::quote;
use syn::{Data, DeriveInput, Fields, Ident, LitStr, Path, parse_macro_input};

/// See the crate documentation.
#[proc_macro_derive(JsonError, attributes(json))]
pub fn derive_json_error(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// What a variant's `#[json(...)]` says.
enum Status {
    /// `status = NAME`: `StatusCode::NAME`.
    Code(Ident),
    /// `failure`: the server's own failure, holding a `Failure`.
    Failure,
}

fn expand(input: &DeriveInput) -> syn::Result<TokenStream2> {
    let name = &input.ident;
    let Data::Enum(data) = &input.data else {
        return Err(syn::Error::new_spanned(
            name,
            "JsonError is derived for enums only",
        ));
    };
    let (key, headers) = enum_settings(input)?;

    let http = quote!(::hub_runtime::http);
    let status_code = quote!(#http::__axum::http::StatusCode);
    let mut arms = Vec::new();
    let mut failed: Option<&Ident> = None;
    for variant in &data.variants {
        let v = &variant.ident;
        match variant_status(variant)? {
            Status::Code(code) => arms.push(quote! { Self::#v { .. } => #status_code::#code, }),
            Status::Failure => {
                let holds_one =
                    matches!(&variant.fields, Fields::Unnamed(f) if f.unnamed.len() == 1);
                if !holds_one {
                    return Err(syn::Error::new_spanned(
                        variant,
                        "the failure variant holds one Failure: `Failed(#[from] Failure)`",
                    ));
                }
                if failed.replace(v).is_some() {
                    return Err(syn::Error::new_spanned(
                        variant,
                        "only one variant may be #[json(failure)]",
                    ));
                }
                arms.push(quote! { Self::#v(failure) => failure.status(), });
            }
        }
    }

    let headers = headers.map(|f| {
        quote! {
            fn headers(&self, headers: &mut #http::__axum::http::HeaderMap) {
                #f(self, headers)
            }
        }
    });
    let cause = match failed {
        Some(v) => quote! {
            match &self {
                Self::#v(failure) => failure.cause(),
                _ => #http::Cause::Client,
            }
        },
        None => quote!(#http::Cause::Client),
    };
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    Ok(quote! {
        impl #impl_generics #http::JsonError for #name #ty_generics #where_clause {
            const KEY: &'static str = #key;

            fn status(&self) -> #status_code {
                match self {
                    #(#arms)*
                }
            }

            #headers
        }

        impl #impl_generics #http::__axum::response::IntoResponse for #name #ty_generics #where_clause {
            fn into_response(self) -> #http::__axum::response::Response {
                let cause = #cause;
                #http::json_error_response(&self, cause)
            }
        }
    })
}

/// The enum's `#[json(key = "...", headers = path)]`; the key is required.
fn enum_settings(input: &DeriveInput) -> syn::Result<(LitStr, Option<Path>)> {
    let (mut key, mut headers) = (None, None);
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("json")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("key") {
                key = Some(meta.value()?.parse::<LitStr>()?);
            } else if meta.path.is_ident("headers") {
                headers = Some(meta.value()?.parse::<Path>()?);
            } else {
                return Err(meta.error("expected `key = \"...\"` or `headers = path`"));
            }
            Ok(())
        })?;
    }
    let key = key.ok_or_else(|| {
        syn::Error::new_spanned(
            &input.ident,
            "missing #[json(key = \"...\")]: the original's error body key",
        )
    })?;
    Ok((key, headers))
}

/// A variant's `#[json(status = NAME)]` or `#[json(failure)]`, exactly one.
fn variant_status(variant: &syn::Variant) -> syn::Result<Status> {
    let mut status = None;
    for attr in variant.attrs.iter().filter(|a| a.path().is_ident("json")) {
        attr.parse_nested_meta(|meta| {
            let said = if meta.path.is_ident("status") {
                Status::Code(meta.value()?.parse::<Ident>()?)
            } else if meta.path.is_ident("failure") {
                Status::Failure
            } else {
                return Err(meta.error("expected `status = NAME` or `failure`"));
            };
            if status.replace(said).is_some() {
                return Err(meta.error("one status per variant"));
            }
            Ok(())
        })?;
    }
    status.ok_or_else(|| {
        syn::Error::new_spanned(
            &variant.ident,
            "each variant needs #[json(status = NAME)] (a StatusCode constant) or #[json(failure)]",
        )
    })
}
