// SPDX-License-Identifier: MIT
//! `GstEmotionReportMeta`: the whole [`FrameReport`] of a buffer, attached by `emotiondetect`
//! and read by `emotionpublish` (as DL Streamer's `gvametapublish` reads what its inference
//! elements attach). A registered Rust meta, built the way gstreamer-rs' custom meta example
//! does; the ROI metas stay the interoperable per-face form. The report is shared (`Arc`), so a
//! buffer copy costs a reference count, not a copy of the faces.

use std::sync::Arc;

use emotiondetect_core::frame_report::FrameReport;
use gst::glib;
use gst::prelude::*;

/// The report of one analysed buffer, read-only once attached.
#[repr(transparent)]
pub struct ReportMeta(imp::ReportMeta);

// The meta only holds an `Arc<FrameReport>`, which is Send + Sync.
unsafe impl Send for ReportMeta {}
unsafe impl Sync for ReportMeta {}

impl ReportMeta {
    /// Attaches `report` to `buffer` (a second call adds a second meta; the first is read).
    pub fn add(buffer: &mut gst::BufferRef, report: Arc<FrameReport>) {
        let mut params = std::mem::ManuallyDrop::new(imp::Params { report });
        // SAFETY: `init` moves the params out of the pointer, which lives until the call returns.
        unsafe {
            gst::ffi::gst_buffer_add_meta(buffer.as_mut_ptr(), imp::meta_info(), &mut *params as *mut imp::Params as glib::ffi::gpointer);
        }
    }

    /// The buffer's report.
    pub fn report(&self) -> &Arc<FrameReport> {
        &self.0.report
    }
}

// SAFETY: `GstType` is the C layout registered by `imp::meta_info` for this API type.
unsafe impl MetaAPI for ReportMeta {
    type GstType = imp::ReportMeta;

    fn meta_api() -> glib::Type {
        imp::meta_api_type()
    }
}

impl std::fmt::Debug for ReportMeta {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportMeta").field("faces", &self.0.report.objects.len()).finish()
    }
}

/// Registers the meta's API and implementation (at plugin load, so that `gst-inspect-1.0`
/// and other threads never race the first registration).
pub fn register() {
    imp::meta_info();
}

mod imp {
    use std::ptr;
    use std::sync::{Arc, LazyLock};

    use emotiondetect_core::frame_report::FrameReport;
    use gst::glib;
    use gst::glib::translate::{from_glib, IntoGlib};

    pub(super) struct Params {
        pub(super) report: Arc<FrameReport>,
    }

    #[repr(C)]
    pub struct ReportMeta {
        parent: gst::ffi::GstMeta,
        pub(super) report: Arc<FrameReport>,
    }

    pub(super) fn meta_api_type() -> glib::Type {
        static TYPE: LazyLock<glib::Type> = LazyLock::new(|| {
            // The tags of GstVideoRegionOfInterestMeta: pixel coordinates, so elements that
            // scale or rotate the picture drop it, and colour conversion keeps it.
            let tags = [c"video".as_ptr(), c"orientation".as_ptr(), c"size".as_ptr(), ptr::null()];
            // SAFETY: a NUL-terminated name and a NULL-terminated array of static strings.
            let t: glib::Type = unsafe {
                from_glib(gst::ffi::gst_meta_api_type_register(c"GstEmotionReportMetaAPI".as_ptr(), tags.as_ptr() as *mut *const _))
            };
            assert_ne!(t, glib::Type::INVALID, "registering GstEmotionReportMetaAPI");
            t
        });
        *TYPE
    }

    unsafe extern "C" fn init(
        meta: *mut gst::ffi::GstMeta,
        params: glib::ffi::gpointer,
        _buffer: *mut gst::ffi::GstBuffer,
    ) -> glib::ffi::gboolean {
        if params.is_null() {
            return false.into_glib();
        }
        let meta = &mut *(meta as *mut ReportMeta);
        let params = ptr::read(params as *const Params);
        ptr::write(&mut meta.report, params.report);
        true.into_glib()
    }

    unsafe extern "C" fn free(meta: *mut gst::ffi::GstMeta, _buffer: *mut gst::ffi::GstBuffer) {
        ptr::drop_in_place(&mut (*(meta as *mut ReportMeta)).report);
    }

    unsafe extern "C" fn transform(
        dest: *mut gst::ffi::GstBuffer,
        meta: *mut gst::ffi::GstMeta,
        _buffer: *mut gst::ffi::GstBuffer,
        kind: glib::ffi::GQuark,
        _data: glib::ffi::gpointer,
    ) -> glib::ffi::gboolean {
        // Only copies: a scaled or cropped picture no longer matches the report's pixels.
        if kind != glib::ffi::g_quark_from_static_string(c"gst-copy".as_ptr()) {
            return false.into_glib();
        }
        let report = (*(meta as *const ReportMeta)).report.clone();
        let mut params = std::mem::ManuallyDrop::new(Params { report });
        gst::ffi::gst_buffer_add_meta(dest, meta_info(), &mut *params as *mut Params as glib::ffi::gpointer);
        true.into_glib()
    }

    struct Info(ptr::NonNull<gst::ffi::GstMetaInfo>);
    // SAFETY: GStreamer's meta infos are immutable once registered.
    unsafe impl Send for Info {}
    unsafe impl Sync for Info {}

    pub(super) fn meta_info() -> *const gst::ffi::GstMetaInfo {
        static INFO: LazyLock<Info> = LazyLock::new(|| {
            // SAFETY: the callbacks match the layout of `ReportMeta`.
            let info = unsafe {
                gst::ffi::gst_meta_register(
                    meta_api_type().into_glib(),
                    c"GstEmotionReportMeta".as_ptr(),
                    std::mem::size_of::<ReportMeta>(),
                    Some(init),
                    Some(free),
                    Some(transform),
                )
            };
            Info(ptr::NonNull::new(info as *mut _).expect("registering GstEmotionReportMeta"))
        });
        INFO.0.as_ptr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_rides_on_the_buffer_and_its_copies() {
        gst::init().unwrap();
        register();
        let mut buffer = gst::Buffer::with_size(16).unwrap();
        let report = Arc::new(FrameReport { timestamp: Some(7), ..FrameReport::new(4, 2) });
        ReportMeta::add(buffer.get_mut().unwrap(), report.clone());
        assert_eq!(Arc::strong_count(&report), 2);
        let copy = buffer.copy();
        let read = copy.meta::<ReportMeta>().expect("the copy has the meta");
        assert!(Arc::ptr_eq(read.report(), &report), "shared, not copied");
        assert_eq!(buffer.meta::<ReportMeta>().unwrap().report().timestamp, Some(7));
        drop((buffer, copy));
        assert_eq!(Arc::strong_count(&report), 1, "freed with the buffers");
        assert!(gst::Buffer::new().meta::<ReportMeta>().is_none());
    }
}
