// SPDX-License-Identifier: MIT
//! A face's thumbnail from a raw video frame: the box with a margin, cropped, scaled and
//! converted to RGB in one pass by GStreamer's `VideoConverter`, then encoded as JPEG. Used by
//! `emotionpublish mode=events event-thumbnails=true` and by `emotiondetect-video`'s report.

/// The long side of a thumbnail, pixels.
pub const THUMBNAIL_SIZE: u32 = 96;
/// Margin around the face box, as a fraction of its size on each side (hair and chin).
const MARGIN: f64 = 0.2;

/// A box in frame pixels: left, top, width, height.
pub type Rect = (u32, u32, u32, u32);

/// The face box `rect` (x, y, w, h in frame pixels) of `buffer` with a margin, clamped to the
/// frame, scaled to a long side of [`THUMBNAIL_SIZE`] and converted to RGB.
///
/// Errors: an empty box, or a frame GStreamer cannot map or convert.
pub fn crop(buffer: &gst::Buffer, info: &gst_video::VideoInfo, rect: Rect) -> Result<image::RgbImage, String> {
    let (x, y, w, h) = with_margin(rect, info.width(), info.height()).ok_or("empty box")?;
    let scale = f64::from(THUMBNAIL_SIZE) / f64::from(w.max(h));
    let (out_w, out_h) = (((f64::from(w) * scale).round() as u32).max(1), ((f64::from(h) * scale).round() as u32).max(1));
    let out_info = gst_video::VideoInfo::builder(gst_video::VideoFormat::Rgb, out_w, out_h)
        .fps(info.fps())
        .interlace_mode(info.interlace_mode())
        .build()
        .map_err(|e| e.to_string())?;
    let mut config = gst_video::VideoConverterConfig::new();
    config.set_src_x(x as i32);
    config.set_src_y(y as i32);
    config.set_src_width(Some(w as i32));
    config.set_src_height(Some(h as i32));
    let converter = gst_video::VideoConverter::new(info, &out_info, Some(config)).map_err(|e| e.to_string())?;
    let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer.as_ref(), info).map_err(|e| e.to_string())?;
    let mut out = gst::Buffer::with_size(out_info.size()).map_err(|e| e.to_string())?;
    {
        let out_ref = out.get_mut().ok_or("new buffer not writable")?;
        let mut out_frame = gst_video::VideoFrameRef::from_buffer_ref_writable(out_ref, &out_info).map_err(|e| e.to_string())?;
        converter.frame_ref(&frame, &mut out_frame);
    }
    let map = out.map_readable().map_err(|e| e.to_string())?;
    let stride = out_info.stride()[0] as usize;
    let row = out_w as usize * 3;
    let pixels: Vec<u8> = map.chunks(stride).take(out_h as usize).flat_map(|r| &r[..row]).copied().collect();
    image::RgbImage::from_raw(out_w, out_h, pixels).ok_or_else(|| "short frame".to_string())
}

/// `rect` grown by [`MARGIN`] on each side and clamped to a `width` x `height` frame; `None`
/// when nothing of it is inside.
pub fn with_margin((x, y, w, h): Rect, width: u32, height: u32) -> Option<Rect> {
    let (mx, my) = ((f64::from(w) * MARGIN) as i64, (f64::from(h) * MARGIN) as i64);
    let left = (i64::from(x) - mx).clamp(0, i64::from(width));
    let top = (i64::from(y) - my).clamp(0, i64::from(height));
    let right = (i64::from(x) + i64::from(w) + mx).clamp(0, i64::from(width));
    let bottom = (i64::from(y) + i64::from(h) + my).clamp(0, i64::from(height));
    (right > left && bottom > top).then(|| (left as u32, top as u32, (right - left) as u32, (bottom - top) as u32))
}

/// `image` as a JPEG (quality 85).
///
/// Errors: the encoder's.
pub fn jpeg(image: &image::RgbImage) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85).encode_image(image).map_err(|e| e.to_string())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margins_stay_in_the_frame() {
        assert_eq!(with_margin((100, 100, 50, 100), 640, 480), Some((90, 80, 70, 140)));
        assert_eq!(with_margin((0, 0, 50, 50), 640, 480), Some((0, 0, 60, 60)), "clamped at the top left");
        assert_eq!(with_margin((620, 470, 50, 50), 640, 480), Some((610, 460, 30, 20)), "clamped at the bottom right");
        assert_eq!(with_margin((700, 10, 5, 5), 640, 480), None, "outside");
        assert_eq!(with_margin((10, 10, 0, 0), 640, 480), None, "empty");
    }
}
