// SPDX-License-Identifier: MIT
//! The element's frames: the formats it takes, mapping a buffer as an `Image`, and for the
//! formats without a fast path, GStreamer's own conversion (VideoConverter, to a fast-path
//! format for the analysis) and blending (VideoOverlayComposition, for the drawing).
//!
//! Why two drawing paths: the fast-path formats are drawn in place by `core::overlay`; the others
//! get the same boxes and labels as BGRA sprites blended by `VideoOverlayComposition`. Drawing
//! the fast-path formats through sprites too was measured (2026-12-04, 7 interleaved runs of
//! `bench-pipeline`, medians, 2 cores): Megamind.avi at detector-size=640, 2 faces a frame,
//! 94.0 fps either way; the 1080p crowd clip (`bench/make_crowd_clip.py`, 145 faces a frame)
//! 13.6 fps in place against 10.3 fps through sprites, 24 % slower (five BGRA rectangles a
//! face, each converted to the frame's format and blended by GStreamer). That is over the 3 % a
//! single path may cost, so both stay.

use gst_video::prelude::*;
use gst_video::{VideoFormat, VideoFrameRef, VideoInfo};

use emotiondetect_core::analyser::{Analyser, FrameParams};
use emotiondetect_core::error::{Error, FrameAction, Result};
use emotiondetect_core::frame_report::FrameReport;
use emotiondetect_core::overlay::Sprite;
use emotiondetect_core::preprocess::{Image, PixelLayout, YuvSpec};

/// The formats accepted in and out, listed once: first those analysed and drawn in place (the
/// fast path), then those converted for the analysis and drawn by blending.
pub(super) const FORMATS: [VideoFormat; 23] = [
    VideoFormat::I420,
    VideoFormat::Nv12,
    VideoFormat::Yuy2,
    VideoFormat::Uyvy,
    VideoFormat::Yvyu,
    VideoFormat::Bgrx,
    VideoFormat::Rgbx,
    VideoFormat::Xrgb,
    VideoFormat::Xbgr,
    VideoFormat::Bgra,
    VideoFormat::Rgba,
    VideoFormat::Argb,
    VideoFormat::Abgr,
    VideoFormat::Rgb,
    VideoFormat::Bgr,
    VideoFormat::Nv21,
    VideoFormat::Nv16,
    VideoFormat::Y42b,
    VideoFormat::Y444,
    VideoFormat::Gray8,
    VideoFormat::Gray16Le,
    VideoFormat::P01010le,
    VideoFormat::I42010le,
];

/// Where the channels of a fast-path format live, and for YUV how they map to RGB (the
/// stream's matrix and range); `None` for the formats that are converted.
pub(super) fn pixel_layout(info: &VideoInfo) -> Option<PixelLayout> {
    let c = info.colorimetry();
    let yuv =
        YuvSpec::from_colorimetry(c.matrix() == gst_video::VideoColorMatrix::Bt709, c.range() == gst_video::VideoColorRange::Range0_255);
    let packed = |bpp, r, g, b| Some(PixelLayout::Packed { bpp, r, g, b });
    let yuv422 = |y, u, v| Some(PixelLayout::Yuv422 { spec: yuv, y, u, v });
    match info.format() {
        VideoFormat::Rgb => packed(3, 0, 1, 2),
        VideoFormat::Bgr => packed(3, 2, 1, 0),
        VideoFormat::Rgbx | VideoFormat::Rgba => packed(4, 0, 1, 2),
        VideoFormat::Bgrx | VideoFormat::Bgra => packed(4, 2, 1, 0),
        VideoFormat::Xrgb | VideoFormat::Argb => packed(4, 1, 2, 3),
        VideoFormat::Xbgr | VideoFormat::Abgr => packed(4, 3, 2, 1),
        VideoFormat::I420 => Some(PixelLayout::I420(yuv)),
        VideoFormat::Nv12 => Some(PixelLayout::Nv12(yuv)),
        VideoFormat::Yuy2 => yuv422(0, 1, 3),
        VideoFormat::Uyvy => yuv422(1, 0, 2),
        VideoFormat::Yvyu => yuv422(0, 3, 1),
        _ => None,
    }
}

/// A format without a fast path (the other YUV layouts, deep and grey ones): each frame is
/// converted by GStreamer's `VideoConverter` for the analysis to the fast-path format that
/// keeps its picture: 8-bit I420 for 4:2:0 and grey, YUY2 for 4:2:2, BGRx for 4:4:4 (whose
/// chroma no 8-bit YUV fast path holds). YUV targets keep the stream's range and (BT.601 or
/// BT.709) matrix, so that the analysis converts to RGB as the stream says. The marks are
/// blended back into the original frame.
pub(super) struct Conversion {
    converter: gst_video::VideoConverter,
    info: VideoInfo,
}

impl Conversion {
    /// The conversion of frames described by `info`, or `None` when its format has a fast path.
    ///
    /// Errors: [`Error::Frame`] when GStreamer cannot convert it.
    pub(super) fn for_format(info: &VideoInfo) -> Result<Option<Conversion>> {
        if pixel_layout(info).is_some() {
            return Ok(None);
        }
        let bad = |e: gst::glib::BoolError| frame_error(FrameAction::Convert, info.format(), Some(e));
        let target = analysis_format(info);
        let mut out = VideoInfo::builder(target, info.width(), info.height());
        // Grey and RGB targets take GStreamer's defaults for the target, as videoconvert does.
        let colorimetry = yuv_colorimetry(info);
        if target != VideoFormat::Bgrx && !info.format_info().is_gray() {
            out = out.colorimetry(&colorimetry);
        }
        let out = out.fps(info.fps()).par(info.par()).interlace_mode(info.interlace_mode()).build().map_err(bad)?;
        let mut config = gst_video::VideoConverterConfig::new();
        config.set_threads(std::thread::available_parallelism().map_or(1, |n| n.get().min(4) as u32));
        // Dithering would add noise to what the models see; 10 bits are rounded instead.
        config.set_dither_method(gst_video::VideoDitherMethod::None);
        let converter = gst_video::VideoConverter::new(info, &out, Some(config)).map_err(bad)?;
        Ok(Some(Conversion { converter, info: out }))
    }

    /// The format frames are converted to.
    pub(super) fn format(&self) -> VideoFormat {
        self.info.format()
    }

    /// `buf` (a frame of the negotiated format) converted to a new buffer of the analysis format.
    ///
    /// Errors: [`Error::Frame`] when a frame cannot be mapped.
    fn convert(&self, buf: &gst::BufferRef, in_info: &VideoInfo) -> Result<gst::Buffer> {
        let mut out =
            gst::Buffer::with_size(self.info.size()).map_err(|e| frame_error(FrameAction::Allocate, self.info.format(), Some(e)))?;
        let src =
            VideoFrameRef::from_buffer_ref_readable(buf, in_info).map_err(|e| frame_error(FrameAction::Map, in_info.format(), Some(e)))?;
        let mut dest = VideoFrameRef::from_buffer_ref_writable(out.get_mut().expect("a new buffer is writable"), &self.info)
            .map_err(|e| frame_error(FrameAction::Map, self.info.format(), Some(e)))?;
        self.converter.frame_ref(&src, &mut dest);
        drop(dest);
        Ok(out)
    }
}

/// The fast-path format that holds a picture of `info`'s format without losing resolution.
fn analysis_format(info: &VideoInfo) -> VideoFormat {
    let f = info.format_info();
    match (f.is_gray(), f.w_sub().get(1).copied().unwrap_or(0), f.h_sub().get(1).copied().unwrap_or(0)) {
        (true, _, _) | (false, 1, 1) => VideoFormat::I420,
        (false, 1, 0) => VideoFormat::Yuy2,
        _ => VideoFormat::Bgrx,
    }
}

/// The stream's colorimetry for an 8-bit YUV copy: its range and matrix, with matrices the
/// analysis does not read (BT.2020, ...) converted to BT.709.
fn yuv_colorimetry(info: &VideoInfo) -> gst_video::VideoColorimetry {
    let c = info.colorimetry();
    let matrix = match c.matrix() {
        m @ (gst_video::VideoColorMatrix::Bt601 | gst_video::VideoColorMatrix::Bt709) => m,
        _ => gst_video::VideoColorMatrix::Bt709,
    };
    gst_video::VideoColorimetry::new(c.range(), matrix, c.transfer(), c.primaries())
}

/// The picture a frame is analysed on: the frame itself, or its converted copy (or why the copy
/// failed: the frame then passes through with a warning).
pub(super) struct Analysed {
    converted: Option<Result<(gst::Buffer, VideoInfo)>>,
}

impl Analysed {
    /// Converts `buf` when `conversion` is set.
    pub(super) fn new(buf: &gst::BufferRef, info: &VideoInfo, conversion: Option<&Conversion>) -> Analysed {
        let converted = conversion.map(|c| c.convert(buf, info).map(|b| (b, c.info.clone())));
        Analysed { converted }
    }

    /// Runs `f` (the detector) on the picture.
    ///
    /// Errors: [`Error::Frame`] when the frame could not be converted or mapped, else `f`'s.
    pub(super) fn read<R>(&self, buf: &gst::BufferRef, info: &VideoInfo, f: impl FnOnce(&Image<&[u8]>) -> Result<R>) -> Result<R> {
        match &self.converted {
            Some(Ok((c, c_info))) => with_readable_image(c, c_info, f),
            Some(Err(e)) => Err(e.clone()),
            None => with_readable_image(buf, info, f),
        }
    }

    /// Runs `analyse` on the picture and draws what `params` asks: in place on a fast-path
    /// format; else the marks are blended into `buf` by `VideoOverlayComposition`.
    ///
    /// Errors: [`Error::Frame`] when the frame could not be converted, mapped or blended, else
    /// `analyse`'s.
    pub(super) fn analyse(
        self,
        analyser: &mut Analyser,
        buf: &mut gst::BufferRef,
        info: &VideoInfo,
        params: &FrameParams,
        analyse: impl FnOnce(&mut Analyser, &mut Image<&mut [u8]>, &FrameParams) -> Result<FrameReport>,
    ) -> Result<FrameReport> {
        let (mut converted, c_info) = match self.converted {
            None => return with_image(buf, info, |image| analyse(analyser, image, params)),
            Some(c) => c?,
        };
        let undrawn = FrameParams { draw: false, ..*params };
        let (report, sprites) = with_image(converted.make_mut(), &c_info, |image| {
            let report = analyse(analyser, image, &undrawn)?;
            let sprites = if params.draw { analyser.sprites(image, &report, params) } else { Vec::new() };
            Ok((report, sprites))
        })?;
        blend(buf, info, &sprites)?;
        Ok(report)
    }
}

/// Blends opaque BGRA `sprites` into the frame with GStreamer's overlay composition, which
/// draws on every accepted format.
///
/// Errors: [`Error::Frame`] when the frame cannot be mapped or blended.
fn blend(buf: &mut gst::BufferRef, info: &VideoInfo, sprites: &[Sprite]) -> Result<()> {
    if sprites.is_empty() {
        return Ok(());
    }
    let rects = sprites.iter().map(rectangle).collect::<Result<Vec<_>>>()?;
    let composition =
        gst_video::VideoOverlayComposition::new(rects.iter()).map_err(|e| frame_error(FrameAction::Overlay, OVERLAY_FORMAT, Some(e)))?;
    let mut frame =
        VideoFrameRef::from_buffer_ref_writable(buf, info).map_err(|e| frame_error(FrameAction::Map, info.format(), Some(e)))?;
    composition.blend(&mut frame).map_err(|e| frame_error(FrameAction::Blend, info.format(), Some(e)))
}

/// GStreamer's overlay pixel format (`GST_VIDEO_OVERLAY_COMPOSITION_FORMAT_RGB`): B, G, R, A
/// bytes in memory on little-endian machines, which the sprites are.
#[cfg(target_endian = "little")]
const OVERLAY_FORMAT: VideoFormat = VideoFormat::Bgra;

fn rectangle(s: &Sprite) -> Result<gst_video::VideoOverlayRectangle> {
    let (w, h) = (s.width as u32, s.height as u32);
    let mut buffer = gst::Buffer::from_slice(s.bgra.clone());
    gst_video::VideoMeta::add(
        buffer.get_mut().expect("a new buffer is writable"),
        gst_video::VideoFrameFlags::empty(),
        OVERLAY_FORMAT,
        w,
        h,
    )
    .map_err(|e| frame_error(FrameAction::Overlay, OVERLAY_FORMAT, Some(e)))?;
    Ok(gst_video::VideoOverlayRectangle::new_raw(&buffer, s.x as i32, s.y as i32, w, h, gst_video::VideoOverlayFormatFlags::empty()))
}

/// An [`Error::Frame`]: `action` failed on a frame of `format`, for GStreamer's reason `source`.
fn frame_error(action: FrameAction, format: VideoFormat, source: Option<gst::glib::BoolError>) -> Error {
    Error::Frame { action, format: format.to_str().to_string(), source: source.map(|e| std::sync::Arc::new(e) as _) }
}

/// Maps `buf` writable as an [`Image`] and runs `f` on it; the map is released on return.
///
/// Errors: [`Error::Frame`] when the format has no fast path or the buffer cannot be mapped,
/// else `f`'s.
fn with_image<R>(buf: &mut gst::BufferRef, info: &VideoInfo, f: impl FnOnce(&mut Image<&mut [u8]>) -> Result<R>) -> Result<R> {
    let layout = pixel_layout(info).ok_or_else(|| frame_error(FrameAction::Unsupported, info.format(), None))?;
    let mut frame =
        VideoFrameRef::from_buffer_ref_writable(buf, info).map_err(|e| frame_error(FrameAction::Map, info.format(), Some(e)))?;
    let strides = plane_strides(frame.plane_stride());
    let (width, height) = (frame.width() as usize, frame.height() as usize);
    let [p0, p1, p2, _] = frame.planes_data_mut();
    f(&mut Image { layout, width, height, planes: [p0, p1, p2], strides })
}

/// [`with_image`], read-only (the pipelined detector).
fn with_readable_image<R>(buf: &gst::BufferRef, info: &VideoInfo, f: impl FnOnce(&Image<&[u8]>) -> Result<R>) -> Result<R> {
    let layout = pixel_layout(info).ok_or_else(|| frame_error(FrameAction::Unsupported, info.format(), None))?;
    let frame = VideoFrameRef::from_buffer_ref_readable(buf, info).map_err(|e| frame_error(FrameAction::Map, info.format(), Some(e)))?;
    let plane = |i: u32| if i < frame.n_planes() { frame.plane_data(i).unwrap_or(&[]) } else { &[] };
    let (width, height) = (frame.width() as usize, frame.height() as usize);
    f(&Image { layout, width, height, planes: [plane(0), plane(1), plane(2)], strides: plane_strides(frame.plane_stride()) })
}

fn plane_strides(strides: &[i32]) -> [usize; 3] {
    [0, 1, 2].map(|i| strides.get(i).copied().unwrap_or(0).max(0) as usize)
}
