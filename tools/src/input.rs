// SPDX-License-Identifier: MIT
//! Checks of an input before anything decodes it: the picture size a header declares against a
//! pixel limit (a 1 KB JPEG can declare 30000x30000, 2.7 GB of RGB once decoded), and a JPEG
//! that ends before its end-of-image marker (libjpeg, under GStreamer's jpegdec, fills the rest
//! with grey and says nothing: a cut photo would look like an empty scene).
//!
//! Used by `emotiondetect-video` and `emotiondetect-web` (photos, webcam frames, video
//! uploads); the header is read by the `image` crate, nothing is decoded.

/// Default `--max-pixels` for a still picture: 40 MP (a 7952 x 5304 camera photo fits).
pub const DEFAULT_MAX_IMAGE_PIXELS: u64 = 40_000_000;
/// Default `--max-pixels` for a video frame: 8K UHD, 7680 x 4320 (33.2 MP).
pub const DEFAULT_MAX_VIDEO_PIXELS: u64 = 7680 * 4320;

/// Why an input is refused before decoding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InputError {
    /// The declared picture or frame size is over the limit (pixels).
    TooLarge { width: u64, height: u64, max_pixels: u64 },
    /// The data is cut short or damaged: what is wrong.
    Corrupt(String),
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InputError::TooLarge { width, height, max_pixels } => write!(
                f,
                "the picture declares {width}x{height} ({:.1} MP), over the limit of {max_pixels} pixels (--max-pixels)",
                (width * height) as f64 / 1e6
            ),
            InputError::Corrupt(what) => write!(f, "the data is corrupt: {what}"),
        }
    }
}

/// Checks a frame size (pixels) against `max_pixels`.
///
/// Errors: [`InputError::TooLarge`] when `width * height > max_pixels`.
pub fn check_size(width: u64, height: u64, max_pixels: u64) -> Result<(), InputError> {
    if width.saturating_mul(height) > max_pixels {
        return Err(InputError::TooLarge { width, height, max_pixels });
    }
    Ok(())
}

/// Checks a JPEG or PNG in memory: its declared size (pixels) against `max_pixels`, and for a
/// JPEG that its entropy-coded data ends with the end-of-image marker. Returns (width, height)
/// in pixels. Other formats are not checked here (`Ok(None)`): their decoders report damage.
///
/// Errors: [`InputError::TooLarge`]; [`InputError::Corrupt`] for a JPEG or PNG whose header
/// does not read or a JPEG cut before its end.
pub fn check_picture(data: &[u8], max_pixels: u64) -> Result<Option<(u64, u64)>, InputError> {
    let reader = image::ImageReader::new(std::io::Cursor::new(data)).with_guessed_format();
    let format = reader.as_ref().ok().and_then(|r| r.format());
    let Some(format @ (image::ImageFormat::Jpeg | image::ImageFormat::Png)) = format else { return Ok(None) };
    let (width, height) = reader
        .map_err(|e| e.to_string())
        .and_then(|r| r.into_dimensions().map_err(|e| e.to_string()))
        .map_err(|e| InputError::Corrupt(format!("its header does not read ({e})")))?;
    let (width, height) = (u64::from(width), u64::from(height));
    check_size(width, height, max_pixels)?;
    if format == image::ImageFormat::Jpeg && !jpeg_complete(data) {
        return Err(InputError::Corrupt(format!("the JPEG ({width}x{height}, {} bytes) is cut short: no end-of-image marker", data.len())));
    }
    Ok(Some((width, height)))
}

/// Whether a JPEG has an end-of-image marker (FF D9) after its first start-of-scan. The
/// segments before the scan are skipped by their lengths, so an EXIF thumbnail's own marker
/// (inside APP1) does not count; in the scan data an FF byte is always stuffed (FF 00) or a
/// marker, so FF D9 there is the real end.
fn jpeg_complete(data: &[u8]) -> bool {
    let mut i = 2; // after SOI
    while i + 4 <= data.len() {
        if data[i] != 0xFF {
            return false;
        }
        let marker = data[i + 1];
        if marker == 0xFF {
            i += 1; // fill byte
            continue;
        }
        let length = usize::from(u16::from_be_bytes([data[i + 2], data[i + 3]]));
        if marker == 0xDA {
            return data[i + 2..].windows(2).any(|w| w == [0xFF, 0xD9]);
        }
        i += 2 + length;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real 64x48 JPEG, encoded here by the `image` crate.
    fn jpeg() -> Vec<u8> {
        let img = image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([(x * 4) as u8, (y * 5) as u8, 128]));
        let mut out = Vec::new();
        image::DynamicImage::ImageRgb8(img).write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Jpeg).unwrap();
        out
    }

    /// `jpeg` with its SOF0 width and height replaced.
    fn declaring(mut jpeg: Vec<u8>, width: u16, height: u16) -> Vec<u8> {
        let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        jpeg[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
        jpeg[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
        jpeg
    }

    #[test]
    fn a_whole_jpeg_passes_with_its_size() {
        assert_eq!(check_picture(&jpeg(), DEFAULT_MAX_IMAGE_PIXELS), Ok(Some((64, 48))));
        assert_eq!(check_picture(b"not a picture", 1), Ok(None));
    }

    #[test]
    fn a_declared_size_over_the_limit_is_refused() {
        let big = declaring(jpeg(), 30000, 30000);
        let err = check_picture(&big, DEFAULT_MAX_IMAGE_PIXELS).unwrap_err();
        assert_eq!(err, InputError::TooLarge { width: 30000, height: 30000, max_pixels: DEFAULT_MAX_IMAGE_PIXELS });
        assert!(err.to_string().contains("30000x30000 (900.0 MP)"), "{err}");
        assert!(check_picture(&jpeg(), 64 * 48 - 1).is_err() && check_picture(&jpeg(), 64 * 48).is_ok());
        assert!(check_size(u64::MAX, 2, u64::MAX - 1).is_err());
    }

    #[test]
    fn a_cut_jpeg_is_corrupt() {
        let whole = jpeg();
        for cut in [whole.len() - 2, whole.len() / 2, 400] {
            let err = check_picture(&whole[..cut], DEFAULT_MAX_IMAGE_PIXELS).unwrap_err();
            assert!(matches!(err, InputError::Corrupt(_)), "cut at {cut}: {err:?}");
        }
        assert!(matches!(check_picture(&whole[..30], DEFAULT_MAX_IMAGE_PIXELS), Err(InputError::Corrupt(_))));
    }
}
