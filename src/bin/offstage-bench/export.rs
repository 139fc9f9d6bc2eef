//! `offstage-bench export --db sqlite|postgres --workspaces N [--s3]`: "export all workspaces"
//! of N workspaces (each with an owner), run by a real `offstage worker` process (the binary
//! beside this one), to local storage and, with `--s3`, to moto's S3-compatible server (which
//! the bench starts). Prints the time from the chain's first run starting to the file being
//! recorded, and the worker process's peak RSS (VmHWM) over its whole life.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use offstage::domain::RunId;
use offstage::engine::{NewRun, runs};
use offstage::exports::Format;
use offstage::exports::record;
use offstage::exports::workflows::export_workspaces::{self, ExportWorkspaces, Params};
use offstage::tenancy::Platform;
use serde_json::{Value, json};

use crate::common::{BenchDb, Db, insert_workspaces, round, vm_hwm_mb};

/// Kills the child when dropped, whatever happened meanwhile.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub async fn run(which: Db, workspaces: u64, s3: bool) -> anyhow::Result<Value> {
    let bench = BenchDb::create(which, 4).await?;
    insert_workspaces(&bench.db, workspaces).await?;
    // What a process does once at start after workspaces arrive behind its back (a weekly digest
    // schedule each) is done here, so the worker measured does the export alone.
    offstage::startup::prepare_database(&bench.config).await?.close().await?;
    let mut line = json!({ "bench": "export", "db": which.name(), "workspaces": workspaces });
    line["local"] = export_once(&bench, &[]).await?;
    if s3 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let _moto = Killed(
            Command::new("moto_server")
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|err| anyhow::anyhow!("moto_server: {err} (pip install \"moto[server]\")"))?,
        );
        let endpoint = format!("http://127.0.0.1:{port}");
        create_bucket(&endpoint).await?;
        let env = [
            ("OFFSTAGE_STORAGE_URL", "s3://bench/files".to_owned()),
            ("AWS_ENDPOINT_URL", endpoint),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_ACCESS_KEY_ID", "bench".into()),
            ("AWS_SECRET_ACCESS_KEY", "bench".into()),
            ("AWS_REGION", "us-east-1".into()),
        ];
        line["s3"] = export_once(&bench, &env).await?;
    }
    bench.drop().await?;
    Ok(line)
}

/// Starts a worker process with `env`, exports every workspace through it, and measures.
async fn export_once(bench: &BenchDb, env: &[(&str, String)]) -> anyhow::Result<Value> {
    let binary = std::env::current_exe()?.with_file_name("offstage");
    anyhow::ensure!(binary.exists(), "{} is missing: cargo build --release --bin offstage", binary.display());
    let mut command = Command::new(&binary);
    command
        .arg("worker")
        .env("OFFSTAGE_DATABASE_URL", &bench.config.database_url)
        .env("OFFSTAGE_DATA_DIR", &bench.config.data_dir)
        .env("OFFSTAGE_SECRET_KEY", bench.config.secret_key.expose())
        .env("OFFSTAGE_LOG", "warn")
        .stdout(Stdio::null());
    for (key, value) in env {
        command.env(key, value);
    }
    let worker = Killed(command.spawn()?);
    // Its memory once started, before the export: what the export adds is the difference.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let idle_rss_mb = vm_hwm_mb(&format!("/proc/{}/status", worker.0.id()));
    let made = record::create(&bench.db, export_workspaces::new_export(Format::Csv, None)).await?;
    let params = Params { export_id: Some(made.id.clone()), format: Format::Csv, at: Default::default() };
    let first = runs::start(&bench.db, NewRun::of::<ExportWorkspaces>(&params)).await?;
    let waited = Instant::now();
    let done = loop {
        let export = record::find(&bench.db, &made.id).await?.ok_or_else(|| anyhow::anyhow!("the export vanished"))?;
        if export.status == "succeeded" {
            break export;
        }
        anyhow::ensure!(waited.elapsed() < Duration::from_secs(900), "the export took over 900 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let peak_rss_mb = vm_hwm_mb(&format!("/proc/{}/status", worker.0.id()));
    drop(worker);
    let started = runs::get(&bench.db, &RunId::from(first.id.as_str().to_owned()), &Platform::system())
        .await?
        .and_then(|run| run.started_at)
        .ok_or_else(|| anyhow::anyhow!("the export's first run has no start time"))?;
    let seconds = (done.finished_at.unwrap_or_else(chrono::Utc::now) - started).num_milliseconds() as f64 / 1000.0;
    Ok(json!({
        "rows": done.rows,
        "bytes": done.bytes,
        "s": round(seconds),
        "rows_per_s": round(done.rows as f64 / seconds.max(0.001)),
        "worker_peak_rss_mb": peak_rss_mb,
        "worker_rss_before_export_mb": idle_rss_mb,
    }))
}

async fn create_bucket(endpoint: &str) -> anyhow::Result<()> {
    use std::io::{Read, Write};
    let address = endpoint.trim_start_matches("http://");
    let started = Instant::now();
    loop {
        // moto makes a bucket from one unsigned PUT; until it listens, connecting fails.
        if let Ok(mut stream) = std::net::TcpStream::connect(address) {
            write!(stream, "PUT /bench HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")?;
            let mut answer = String::new();
            stream.read_to_string(&mut answer)?;
            anyhow::ensure!(answer.starts_with("HTTP/1.1 200"), "moto did not create the bucket: {answer}");
            return Ok(());
        }
        anyhow::ensure!(started.elapsed() < Duration::from_secs(30), "moto_server did not start within 30 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
