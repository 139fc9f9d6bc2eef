//! An export's files in `crate::storage`: the part each run of its chain writes
//! (`exports/{id}/parts/{section}-{n}`), and the joining of the parts into the export's one file
//! at the end: a plain file (the preamble, then the parts in order), or a ZIP with one CSV per
//! section. Parts are read and written as they stream, so memory stays flat however big the
//! export is.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use futures::StreamExt;
use zip::CompressionMethod;
use zip::write::SimpleFileOptions;

use super::Format;
use super::source::Section;
use crate::storage::{Error, FileWriter, Storage};

/// The folder of the parts of export `export_id`.
pub fn parts_folder(export_id: &str) -> String {
    format!("exports/{export_id}/parts")
}

/// The key of part `n` of `section` of export `export_id`.
pub fn part_key(export_id: &str, section: usize, n: u32) -> String {
    format!("{}/{section:02}-{n:06}", parts_folder(export_id))
}

/// Writes `file_key` from the parts (`parts[s]` of section `s`) as one plain file in `format`;
/// returns its size in bytes.
pub async fn join_plain(
    storage: &Storage,
    export_id: &str,
    file_key: &str,
    format: Format,
    section: &Section,
    parts: u32,
) -> Result<u64, Error> {
    let mut out = storage.writer(file_key).await?;
    let written = async {
        out.write(&format.preamble(section.header)).await?;
        for n in 0..parts {
            let mut chunks = storage.read(&part_key(export_id, 0, n)).await?;
            while let Some(chunk) = chunks.next().await {
                out.write(&chunk?).await?;
            }
        }
        Ok::<(), Error>(())
    }
    .await;
    finish_or_abort(out, written).await
}

/// Writes `file_key` as a ZIP holding `{section}.csv` for each section, from its parts.
pub async fn join_zip(
    storage: &Storage,
    export_id: &str,
    file_key: &str,
    sections: &[Section],
    parts: &[u32],
) -> Result<u64, Error> {
    let mut out = storage.writer(file_key).await?;
    let written = async {
        let spill = Spill::default();
        let mut zip = zip::ZipWriter::new_stream(spill.clone());
        let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
        for (index, section) in sections.iter().enumerate() {
            zip.start_file(format!("{}.csv", section.name), options).map_err(zip_error)?;
            zip.write_all(&Format::Csv.preamble(section.header))?;
            for n in 0..parts.get(index).copied().unwrap_or(0) {
                let mut chunks = storage.read(&part_key(export_id, index, n)).await?;
                while let Some(chunk) = chunks.next().await {
                    zip.write_all(&chunk?)?;
                    out.write(&spill.take()).await?;
                }
            }
        }
        zip.finish().map_err(zip_error)?;
        out.write(&spill.take()).await?;
        Ok::<(), Error>(())
    }
    .await;
    finish_or_abort(out, written).await
}

/// Removes the parts once the file is whole (a part already gone is fine).
pub async fn delete_parts(storage: &Storage, export_id: &str, parts: &[u32]) -> Result<(), Error> {
    for (section, count) in parts.iter().enumerate() {
        for n in 0..*count {
            storage.delete(&part_key(export_id, section, n)).await?;
        }
    }
    Ok(())
}

async fn finish_or_abort(out: FileWriter, written: Result<(), Error>) -> Result<u64, Error> {
    match written {
        Ok(()) => out.finish().await,
        Err(err) => {
            // The file never appears; what was sent of it is cleaned up where the store can.
            let _ = out.abort().await;
            Err(err)
        }
    }
}

fn zip_error(err: zip::result::ZipError) -> Error {
    Error::Io(std::io::Error::other(err))
}

/// What the ZIP writer has written since the last `take`: the ZIP crate writes synchronously,
/// the storage asynchronously, so each chunk passes through here.
#[derive(Clone, Default)]
struct Spill(Arc<Mutex<Vec<u8>>>);

impl Spill {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Write for Spill {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
