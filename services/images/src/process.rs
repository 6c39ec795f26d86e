//! Every accepted image decoded and written out anew (issue 26): what is stored is never
//! the bytes that were sent.
//!
//! * **Private:** the encoders write pixels (and the ICC colour profile, when the
//!   original had one) and nothing else: no EXIF (GPS position, camera, date), XMP or
//!   comments survive. The EXIF orientation is applied to the pixels first, so the
//!   image still shows the right way up without it.
//! * **Bounded:** the header is read first; the declared width and height
//!   ([`Limits::max_image_width`], `max_image_height`) and their product (the pixel
//!   limit) are checked before any pixel is decoded, and the decoders run under
//!   `max_alloc` (four bytes a pixel at the pixel limit), which also bounds every GIF
//!   frame's buffer (a frame may declare more than the GIF's screen). Of an animation,
//!   only the first frame is decoded and stored.
//! * **Sized:** variants fitting in `px` × `px` boxes (never enlarged), in the
//!   original's format and in WebP (lossless: image-rs writes no lossy WebP).
//!
//! Pure and synchronous: the route runs [`process`] on tokio's blocking pool under the
//! decode semaphore, so a decode never holds a request thread and at most
//! `IMAGE_DECODE_CONCURRENCY` run at once.

use std::{io::Cursor, sync::Arc};

use hub_runtime::http::Failure;
use image::{
    DynamicImage, ImageDecoder, ImageEncoder, ImageError, ImageFormat, ImageReader, Limits,
    codecs::{
        gif::GifEncoder,
        jpeg::JpegEncoder,
        png::{CompressionType, FilterType, PngEncoder},
        webp::WebPEncoder,
    },
};
use sha2::{Digest as _, Sha256};
use tokio::sync::Semaphore;

use crate::error::ApiError;

/// JPEG quality of re-encoded JPEGs (full size and variants).
const JPEG_QUALITY: u8 = 85;
/// NeuQuant speed of re-encoded GIFs (1 best, 30 fastest; 10 is gif's own default).
const GIF_SPEED: i32 = 10;

/// How large an image may be, in pixels, before anything is decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelLimits {
    /// `MAX_IMAGE_PIXELS`: width × height.
    pub max_pixels: u64,
    /// `MAX_IMAGE_SIDE`: width and height, each.
    pub max_side: u32,
}

impl PixelLimits {
    /// The most a decoder may allocate: four bytes (RGBA8) a pixel at the pixel limit.
    pub fn max_alloc(&self) -> u64 {
        self.max_pixels.saturating_mul(4)
    }
}

/// Why an image was refused.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The declared dimensions (or a frame's, or the decoder's buffers) exceed the limits.
    #[error("image too large in pixels")]
    TooManyPixels,
    /// Not a decodable image of its type (truncated, corrupt, unsupported variant).
    #[error("undecodable image: {0}")]
    Invalid(ImageError),
    /// Encoding failed (a bug or an unsupported colour type): a server error.
    #[error("encoding failed: {0}")]
    Encode(ImageError),
}

/// One re-encoded image: the full size and its variants.
#[derive(Debug)]
pub struct Processed {
    /// The stored type (the content's, as detected).
    pub mime: &'static str,
    /// The canonical extension of `mime` (`png`, `jpg`, `gif`, `webp`).
    pub ext: &'static str,
    /// Width and height after the orientation was applied.
    pub dimensions: (u32, u32),
    /// The full-size image, re-encoded.
    pub full: Vec<u8>,
    /// Lower-case hex SHA-256 of `full`: the content address of this version.
    pub sha256: String,
    /// One per configured size, in the order given.
    pub variants: Vec<Variant>,
}

/// One variant: the image fitted in a `px` × `px` box.
#[derive(Debug)]
pub struct Variant {
    /// The box side.
    pub px: u32,
    /// In the original's format.
    pub original: Vec<u8>,
    /// In WebP; `None` when the original is WebP (`original` is then the WebP).
    pub webp: Option<Vec<u8>>,
}

/// Runs [`process`] off the request threads: on tokio's blocking pool, at most
/// `IMAGE_DECODE_CONCURRENCY` at once (the others wait for a permit). Cheap to clone.
#[derive(Clone)]
pub struct Imaging {
    permits: Arc<Semaphore>,
    limits: PixelLimits,
    sizes: Arc<[u32]>,
}

impl Imaging {
    /// `concurrency` decodes at once, within `limits`, making variants of `sizes`.
    pub fn new(concurrency: usize, limits: PixelLimits, sizes: &[u32]) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(concurrency)),
            limits,
            sizes: sizes.into(),
        }
    }

    /// The configured variant sizes.
    pub fn sizes(&self) -> &[u32] {
        &self.sizes
    }

    /// Decodes and re-encodes `bytes` (of type `mime`): 413 over the pixel limits, 400
    /// when it does not decode, 500 if encoding fails.
    pub async fn run(&self, bytes: Vec<u8>, mime: &'static str) -> Result<Processed, ApiError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| Failure::Internal(e.into()))?;
        let (limits, sizes) = (self.limits, self.sizes.clone());
        let processed = tokio::task::spawn_blocking(move || process(&bytes, mime, limits, &sizes))
            .await
            .map_err(|e| Failure::Internal(e.into()))?;
        processed.map_err(|e| match e {
            ProcessError::TooManyPixels => {
                tracing::info!("image refused: declared size over the pixel limits");
                ApiError::TooManyPixels(self.limits.max_pixels, self.limits.max_side)
            }
            ProcessError::Invalid(e) => {
                tracing::info!(error = %e, "image refused: does not decode");
                ApiError::InvalidImage
            }
            e @ ProcessError::Encode(_) => Failure::Internal(e.into()).into(),
        })
    }
}

/// The image-rs format and canonical extension of an accepted MIME type.
fn format_of(mime: &str) -> Option<(ImageFormat, &'static str)> {
    match mime {
        "image/png" => Some((ImageFormat::Png, "png")),
        "image/jpeg" => Some((ImageFormat::Jpeg, "jpg")),
        "image/gif" => Some((ImageFormat::Gif, "gif")),
        "image/webp" => Some((ImageFormat::WebP, "webp")),
        _ => None,
    }
}

/// Reads the header of `bytes` (of type `mime`, from [`crate::magic`]) and refuses it
/// if its declared size exceeds `limits`; only then decodes it, applies its EXIF
/// orientation, and encodes the full size and one variant per entry of `sizes`,
/// keeping the ICC profile and nothing else of the original's metadata.
pub fn process(
    bytes: &[u8],
    mime: &'static str,
    limits: PixelLimits,
    sizes: &[u32],
) -> Result<Processed, ProcessError> {
    let (format, ext) = format_of(mime).ok_or(ProcessError::Invalid(ImageError::Unsupported(
        image::error::UnsupportedError::from_format_and_kind(
            image::error::ImageFormatHint::Unknown,
            image::error::UnsupportedErrorKind::Format(image::error::ImageFormatHint::Unknown),
        ),
    )))?;
    let (image, icc) = decode(bytes, format, limits)?;
    let full = encode(&image, format, icc.as_deref())?;
    let sha256 = hex::encode(Sha256::digest(&full));
    let dimensions = (image.width(), image.height());
    let mut variants = Vec::with_capacity(sizes.len());
    for &px in sizes {
        // Never enlarged: a small image's variant is the image itself, re-encoded.
        let fitted = if image.width() > px || image.height() > px {
            image.thumbnail(px, px)
        } else {
            image.clone()
        };
        let original = encode(&fitted, format, icc.as_deref())?;
        let webp = match format {
            ImageFormat::WebP => None,
            _ => Some(encode(&fitted, ImageFormat::WebP, icc.as_deref())?),
        };
        variants.push(Variant { px, original, webp });
    }
    Ok(Processed {
        mime,
        ext,
        dimensions,
        full,
        sha256,
        variants,
    })
}

/// The decoded first frame, right way up, and its ICC profile.
fn decode(
    bytes: &[u8],
    format: ImageFormat,
    limits: PixelLimits,
) -> Result<(DynamicImage, Option<Vec<u8>>), ProcessError> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut decoder_limits = Limits::default();
    decoder_limits.max_image_width = Some(limits.max_side);
    decoder_limits.max_image_height = Some(limits.max_side);
    decoder_limits.max_alloc = Some(limits.max_alloc());
    reader.limits(decoder_limits);
    // Reads the header only; the decoder refuses a side over the limit here.
    let mut decoder = reader.into_decoder().map_err(refusal)?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > limits.max_pixels
        || decoder.total_bytes() > limits.max_alloc()
    {
        return Err(ProcessError::TooManyPixels);
    }
    // Both read from the header (before the pixels); a broken EXIF block only loses
    // its orientation, as browsers do.
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let icc = decoder.icc_profile().ok().flatten();
    let mut image = DynamicImage::from_decoder(decoder).map_err(refusal)?;
    image.apply_orientation(orientation);
    Ok((image, icc))
}

/// A decoder's error: over a limit, or a bad image.
fn refusal(e: ImageError) -> ProcessError {
    match e {
        ImageError::Limits(_) => ProcessError::TooManyPixels,
        e => ProcessError::Invalid(e),
    }
}

/// `image` written as `format`, with `icc` when the encoder takes one, no other
/// metadata.
fn encode(
    image: &DynamicImage,
    format: ImageFormat,
    icc: Option<&[u8]>,
) -> Result<Vec<u8>, ProcessError> {
    let mut out = Vec::new();
    let written = match format {
        ImageFormat::Png => with_icc(
            PngEncoder::new_with_quality(&mut out, CompressionType::Default, FilterType::Adaptive),
            image,
            icc,
        ),
        ImageFormat::Jpeg => with_icc(
            JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY),
            image,
            icc,
        ),
        ImageFormat::WebP => with_icc(WebPEncoder::new_lossless(&mut out), image, icc),
        // GIF takes no ICC profile; `encode` on a still image (Rgba8 quantised).
        _ => {
            let rgba = image.to_rgba8();
            GifEncoder::new_with_speed(&mut out, GIF_SPEED).encode(
                rgba.as_raw(),
                rgba.width(),
                rgba.height(),
                image::ExtendedColorType::Rgba8,
            )
        }
    };
    written.map_err(ProcessError::Encode)?;
    Ok(out)
}

fn with_icc(
    mut encoder: impl ImageEncoder,
    image: &DynamicImage,
    icc: Option<&[u8]>,
) -> image::ImageResult<()> {
    if let Some(icc) = icc {
        // An encoder that cannot embed it writes the pixels without it.
        let _ = encoder.set_icc_profile(icc.to_vec());
    }
    image.write_with_encoder(encoder)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: PixelLimits = PixelLimits {
        max_pixels: 1 << 20,
        max_side: 4096,
    };

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbaImage::from_fn(w, h, |x, y| image::Rgba([x as u8, y as u8, 7, 255]));
        let mut out = Vec::new();
        DynamicImage::ImageRgba8(img)
            .write_to(Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    /// A PNG header (signature and IHDR, valid CRC) declaring `w` × `h`, and no pixels.
    fn png_bomb(w: u32, h: u32) -> Vec<u8> {
        let mut full = png(1, 1);
        full[16..20].copy_from_slice(&w.to_be_bytes());
        full[20..24].copy_from_slice(&h.to_be_bytes());
        // IHDR's CRC covers its type and data (bytes 12..29).
        let crc = crc32(&full[12..29]);
        full[29..33].copy_from_slice(&crc.to_be_bytes());
        full
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn variants_fit_their_box_in_both_formats_and_small_images_are_not_enlarged() {
        let out = process(&png(300, 150), "image/png", LIMITS, &[64, 256, 512]).unwrap();
        assert_eq!(out.dimensions, (300, 150));
        assert_eq!(out.ext, "png");
        assert_eq!(out.sha256, hex::encode(Sha256::digest(&out.full)));
        let dims = |b: &[u8]| {
            let img = image::load_from_memory(b).unwrap();
            (img.width(), img.height())
        };
        assert_eq!(dims(&out.variants[0].original), (64, 32));
        assert_eq!(dims(out.variants[0].webp.as_deref().unwrap()), (64, 32));
        assert_eq!(
            image::guess_format(out.variants[0].webp.as_deref().unwrap()).unwrap(),
            ImageFormat::WebP
        );
        assert_eq!(dims(&out.variants[1].original), (256, 128));
        assert_eq!(dims(&out.variants[2].original), (300, 150));
    }

    #[test]
    fn a_declared_size_over_the_limits_is_refused_before_decoding() {
        for (w, h) in [(60_000, 60_000), (4097, 1), (1025, 1024)] {
            let bomb = png_bomb(w, h);
            assert!(bomb.len() < 100);
            assert!(
                matches!(
                    process(&bomb, "image/png", LIMITS, &[64]),
                    Err(ProcessError::TooManyPixels)
                ),
                "{w}x{h}"
            );
        }
        assert!(matches!(
            process(&png_bomb(1024, 1024), "image/png", LIMITS, &[64]),
            Err(ProcessError::Invalid(_))
        ));
    }

    #[test]
    fn content_that_only_looks_like_an_image_is_invalid() {
        let mut fake = b"\x89PNG\r\n\x1a\n".to_vec();
        fake.extend_from_slice(&[b'x'; 200]);
        assert!(matches!(
            process(&fake, "image/png", LIMITS, &[64]),
            Err(ProcessError::Invalid(_))
        ));
    }
}
