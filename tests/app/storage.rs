//! File storage (`offstage::storage`): a file written in parts reads back whole, a write never
//! finished leaves no file, a deleted one is gone, and a deleted folder takes only its own files;
//! on disk always, and on a real S3-compatible server (moto's server mode) when OFFSTAGE_TEST_S3=1.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use offstage::storage::Storage;

use crate::helpers::process::{KillOnDrop, free_port};

/// 12 MiB in 64 KiB pieces: three parts of S3's 5 MiB minimum, the last one short.
const PIECES: usize = 192;
const PIECE: usize = 64 * 1024;

fn piece(n: usize) -> Vec<u8> {
    (0..PIECE).map(|i| ((i * 31 + n * 7) % 251) as u8).collect()
}

async fn read_all(storage: &Storage, key: &str) -> Vec<u8> {
    let mut stream = storage.read(key).await.unwrap();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        bytes.extend_from_slice(&chunk.unwrap());
    }
    bytes
}

async fn a_file_is_whole_or_absent(storage: &Storage) {
    let mut writer = storage.writer("exports/exp_test.csv").await.unwrap();
    let mut expected = Vec::new();
    for n in 0..PIECES {
        let bytes = piece(n);
        writer.write(&bytes).await.unwrap();
        expected.extend_from_slice(&bytes);
    }
    assert_eq!(storage.size("exports/exp_test.csv").await.unwrap(), None, "not there before it is finished");
    assert_eq!(writer.finish().await.unwrap(), (PIECES * PIECE) as u64);
    assert_eq!(storage.size("exports/exp_test.csv").await.unwrap(), Some((PIECES * PIECE) as u64));
    assert!(read_all(storage, "exports/exp_test.csv").await == expected, "the bytes read back are the bytes written");

    let mut abandoned = storage.writer("exports/exp_abandoned.csv").await.unwrap();
    for n in 0..100 {
        abandoned.write(&piece(n)).await.unwrap();
    }
    abandoned.abort().await.unwrap();
    assert_eq!(storage.size("exports/exp_abandoned.csv").await.unwrap(), None, "an aborted write leaves no file");

    storage.put("exports/small.txt", bytes::Bytes::from_static(b"hello")).await.unwrap();
    assert_eq!(read_all(storage, "exports/small.txt").await, b"hello");
    storage.delete("exports/exp_test.csv").await.unwrap();
    storage.delete("exports/exp_test.csv").await.unwrap();
    assert_eq!(storage.size("exports/exp_test.csv").await.unwrap(), None, "deleted, and deleting again is fine");
    assert!(storage.writer("../outside.csv").await.is_err(), "a key cannot climb out of the storage");

    let parts = ["exports/exp_f/parts/00-000000", "exports/exp_f/parts/00-000001", "exports/exp_f/parts/01-000000"];
    for key in parts.into_iter().chain(["exports/exp_f/export", "exports/exp_f/parts2"]) {
        storage.put(key, bytes::Bytes::from_static(b"part")).await.unwrap();
    }
    storage.delete_folder("exports/exp_f/parts").await.unwrap();
    for key in parts {
        assert_eq!(storage.size(key).await.unwrap(), None, "{key} is deleted with its folder");
    }
    for key in ["exports/exp_f/export", "exports/exp_f/parts2"] {
        assert_eq!(storage.size(key).await.unwrap(), Some(4), "{key}, beside the folder, stays");
    }
    storage.delete_folder("exports/exp_f/parts").await.unwrap();
    storage.delete_folder("exports/exp_none/parts").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_on_disk_are_written_in_parts_and_are_whole_or_absent() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::from_settings(None, dir.path()).unwrap();
    assert_eq!(storage.location(), dir.path().join("files").display().to_string());
    a_file_is_whole_or_absent(&storage).await;
    assert!(dir.path().join("files/exports/small.txt").exists(), "under OFFSTAGE_DATA_DIR/files");
    let bad = Storage::from_settings(Some("https://example.com/files"), dir.path()).unwrap_err().to_string();
    assert!(bad.contains("is not s3://bucket/prefix"), "{bad}");
}

/// moto's S3 server on a free port with a bucket `offstage-test`, and a storage under
/// `s3://offstage-test/{prefix}` on it; None (said in the output) unless OFFSTAGE_TEST_S3=1.
/// The server stops when the first value is dropped.
pub(crate) async fn moto_storage(prefix: &str, dir: &std::path::Path) -> Option<(KillOnDrop, Storage, String)> {
    if std::env::var("OFFSTAGE_TEST_S3").as_deref() != Ok("1") {
        eprintln!("OFFSTAGE_TEST_S3 is not 1: the S3 part of this test does not run here");
        return None;
    }
    let port = free_port();
    let moto = KillOnDrop(
        Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server is installed (pip install \"moto[server]\")"),
    );
    let endpoint = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let started = Instant::now();
    // moto takes any credentials; a bucket is made with one unsigned PUT.
    loop {
        if let Ok(response) = client.put(format!("{endpoint}/offstage-test")).send().await {
            assert!(response.status().is_success(), "creating the bucket: {}", response.status());
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "moto_server did not start within 30 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let settings = [
        ("aws_endpoint_url", endpoint.as_str()),
        ("aws_allow_http", "true"),
        ("aws_access_key_id", "test"),
        ("aws_secret_access_key", "test"),
        ("aws_region", "us-east-1"),
    ];
    let storage = Storage::open(Some(&format!("s3://offstage-test/{prefix}")), dir, &settings).unwrap();
    Some((moto, storage, endpoint))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_on_an_s3_compatible_server_are_written_in_parts_and_are_whole_or_absent() {
    let dir = tempfile::tempdir().unwrap();
    let Some((_moto, storage, endpoint)) = moto_storage("some/prefix", dir.path()).await else { return };
    assert_eq!(storage.location(), "s3://offstage-test/some/prefix");
    a_file_is_whole_or_absent(&storage).await;
    let client = reqwest::Client::new();
    let listing =
        client.get(format!("{endpoint}/offstage-test?list-type=2")).send().await.unwrap().text().await.unwrap();
    assert!(listing.contains("<Key>some/prefix/exports/small.txt</Key>"), "keys go under the prefix: {listing}");
}
