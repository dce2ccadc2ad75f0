// SPDX-License-Identifier: MIT
//! FER2013 val pictures for the tools' tests (the `image` crate is a tools dependency, not the
//! web crate's, which shares tests/common).

/// The first picture (by file name) of `class` in FER2013 val (48x48 JPEG), as packed RGB.
pub fn fer_val_face(class: &str) -> emotiondetect_core::preprocess::Image<Vec<u8>> {
    let dir = super::common::shared_dir().join("datasets/fer2013/val").join(class);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("FER2013 val not found at {}: {e}; it lives in ../shared/datasets", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    files.sort();
    let rgb = image::open(&files[0]).expect("a FER2013 image decodes").to_rgb8();
    let (width, height) = (rgb.width() as usize, rgb.height() as usize);
    emotiondetect_core::preprocess::Image {
        layout: emotiondetect_core::preprocess::PixelLayout::Packed { bpp: 3, r: 0, g: 1, b: 2 },
        width,
        height,
        planes: [rgb.into_raw(), Vec::new(), Vec::new()],
        strides: [width * 3, 0, 0],
    }
}
