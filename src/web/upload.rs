//! Uploaded files: a request body, or a file field of an admin form (`multipart/form-data`,
//! whose `csrf_token` must match the session's), read as they stream in and refused (413) as
//! soon as they pass the limit, so a large upload never sits in memory whole.

use actix_multipart::Multipart;
use actix_session::Session;
use actix_web::web;
use futures::{Stream, StreamExt};

use crate::error::AppError;

fn too_large(max: usize) -> AppError {
    AppError::TooLarge(format!(
        "The file is larger than the {} MB an upload may be; split it into smaller files.",
        max / (1024 * 1024)
    ))
}

/// Everything `chunks` yield, up to `max` bytes.
async fn collect<E: std::fmt::Display>(
    mut chunks: impl Stream<Item = Result<web::Bytes, E>> + Unpin,
    max: usize,
) -> Result<Vec<u8>, AppError> {
    let mut body = Vec::new();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|err| AppError::BadRequest(format!("The upload could not be read: {err}")))?;
        if body.len() + chunk.len() > max {
            return Err(too_large(max));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A request body sent as the file itself (the API).
pub async fn body(payload: web::Payload, max: usize) -> Result<Vec<u8>, AppError> {
    collect(payload, max).await
}

/// The file in the form field `name`, once the form's CSRF token matched the session's.
pub async fn form_file(session: &Session, mut form: Multipart, name: &str, max: usize) -> Result<Vec<u8>, AppError> {
    let (mut token, mut file) = (None, None);
    while let Some(field) = form.next().await {
        let field = field.map_err(|err| AppError::BadRequest(format!("The form could not be read: {err}")))?;
        match field.name() {
            Some("csrf_token") => token = Some(String::from_utf8_lossy(&collect(field, 1024).await?).into_owned()),
            Some(field_name) if field_name == name => file = Some(collect(field, max).await?),
            _ => drop(collect(field, 1024).await?),
        }
    }
    super::csrf::verify(session, token.as_deref())?;
    file.filter(|bytes| !bytes.is_empty()).ok_or_else(|| AppError::Unprocessable("Choose a CSV file to upload.".into()))
}
