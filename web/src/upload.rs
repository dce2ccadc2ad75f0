// SPDX-License-Identifier: MIT
//! The bytes of an upload, whichever way a client sends them: the raw request body (`curl
//! --data-binary @x.jpg`, the page's `fetch`), or the file of a `multipart/form-data` form
//! (`curl -F file=@x.jpg`, an HTML `<form>`). The form is parsed as it streams in (multer), so
//! the size limits and the minimum upload rate hold for both.

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap};
use futures_util::stream::BoxStream;
use futures_util::StreamExt;

/// A chunk of the upload, or why it could not be read.
pub type Chunk = Result<Bytes, UploadError>;

/// Why an upload could not be read.
#[derive(Debug)]
pub enum UploadError {
    /// The body itself failed (the client went away, or was too slow: see
    /// [`crate::server::too_slow`], which finds the cause inside).
    Body(axum::Error),
    /// A form that is not `multipart/form-data` as sent, or that holds no file.
    Form(String),
}

impl UploadError {
    fn from_multer(e: multer::Error) -> UploadError {
        match e {
            multer::Error::StreamReadFailed(_) => UploadError::Body(axum::Error::new(e)),
            e => UploadError::Form(format!("the multipart/form-data body cannot be read: {e}")),
        }
    }
}

/// Whether `headers` announce a `multipart/form-data` body.
fn is_form(headers: &HeaderMap) -> bool {
    content_type(headers).is_some_and(|t| t.to_ascii_lowercase().starts_with("multipart/form-data"))
}

fn content_type(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok())
}

/// The upload's bytes as a stream: the body, or the first file field of a form (a field with a
/// file name, else one named `file`; other fields are skipped).
///
/// Errors: [`UploadError::Form`] for a form without a boundary or without a file;
/// [`UploadError::Body`] when the body fails before the file starts.
pub async fn stream(headers: &HeaderMap, body: Body) -> Result<BoxStream<'static, Chunk>, UploadError> {
    if !is_form(headers) {
        return Ok(body.into_data_stream().map(|c| c.map_err(UploadError::Body)).boxed());
    }
    let boundary = content_type(headers).and_then(|t| multer::parse_boundary(t).ok());
    let boundary = boundary.ok_or_else(|| UploadError::Form("a multipart/form-data body without a boundary".into()))?;
    let mut form = multer::Multipart::new(body.into_data_stream(), boundary);
    while let Some(field) = form.next_field().await.map_err(UploadError::from_multer)? {
        if field.file_name().is_some() || field.name() == Some("file") {
            return Ok(field.map(|c| c.map_err(UploadError::from_multer)).boxed());
        }
    }
    Err(UploadError::Form("the form has no file: send it as a field with a file name (curl -F file=@photo.jpg)".into()))
}

/// Reads the whole upload, at most `limit` bytes.
///
/// Errors: `Ok(None)` past `limit`; the upload's own errors.
pub async fn collect(mut chunks: BoxStream<'static, Chunk>, limit: usize) -> Result<Option<Bytes>, UploadError> {
    let mut all = Vec::new();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk?;
        if all.len() + chunk.len() > limit {
            return Ok(None);
        }
        all.extend_from_slice(&chunk);
    }
    Ok(Some(all.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(parts: &[(&str, Option<&str>, &[u8])]) -> (HeaderMap, Body) {
        let mut body = Vec::new();
        for (name, file, data) in parts {
            let file = file.map(|f| format!("; filename=\"{f}\"")).unwrap_or_default();
            body.extend_from_slice(format!("--XyZ\r\nContent-Disposition: form-data; name=\"{name}\"{file}\r\n\r\n").as_bytes());
            body.extend_from_slice(data);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"--XyZ--\r\n");
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, "multipart/form-data; boundary=XyZ".parse().unwrap());
        (headers, Body::from(body))
    }

    async fn read(headers: HeaderMap, body: Body, limit: usize) -> Result<Option<Bytes>, UploadError> {
        collect(stream(&headers, body).await?, limit).await
    }

    #[tokio::test]
    async fn a_raw_body_is_the_upload_and_a_form_gives_its_file() {
        let raw = read(HeaderMap::new(), Body::from(&b"\xff\xd8jpeg"[..]), 100).await.unwrap();
        assert_eq!(raw.as_deref(), Some(&b"\xff\xd8jpeg"[..]));
        let (h, b) = form(&[("note", None, b"hello"), ("photo", Some("x.jpg"), b"\xff\xd8jpeg\r\n--not-the-end")]);
        assert_eq!(read(h, b, 100).await.unwrap().as_deref(), Some(&b"\xff\xd8jpeg\r\n--not-the-end"[..]));
        let (h, b) = form(&[("file", None, b"bytes")]);
        assert_eq!(read(h, b, 100).await.unwrap().as_deref(), Some(&b"bytes"[..]), "a field named file without a file name");
    }

    #[tokio::test]
    async fn limits_hold_and_a_form_without_a_file_or_boundary_is_refused() {
        let (h, b) = form(&[("file", Some("x.jpg"), &[7u8; 64])]);
        assert!(read(h, b, 63).await.unwrap().is_none(), "past the limit");
        let (h, b) = form(&[("note", None, b"hello")]);
        assert!(matches!(read(h, b, 100).await, Err(UploadError::Form(m)) if m.contains("no file")));
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, "multipart/form-data".parse().unwrap());
        assert!(matches!(read(h, Body::from("x"), 100).await, Err(UploadError::Form(m)) if m.contains("boundary")));
    }
}
