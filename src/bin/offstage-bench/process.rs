//! Offstage under test as a process of its own would run it: on a tokio runtime of its own
//! threads, apart from the benchmark's client, whose requests should not wait in the server's
//! task queue (no real client, Stripe say, does). Both still share the machine's cores.

use std::thread::JoinHandle;

use offstage::config::Config;
use offstage::startup::{Application, Mode};
use tokio::sync::oneshot;

pub struct OffstageProcess {
    port: Option<u16>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl OffstageProcess {
    /// Builds and starts Offstage in `mode`; returns once it is listening (or its workers run).
    pub async fn start(config: Config, mode: Mode) -> anyhow::Result<OffstageProcess> {
        let (started, ready) = oneshot::channel::<anyhow::Result<Option<u16>>>();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
                Ok(runtime) => runtime,
                Err(err) => return drop(started.send(Err(err.into()))),
            };
            runtime.block_on(async move {
                let app = match Application::build(config, mode).await {
                    Ok(app) => app,
                    Err(err) => return drop(started.send(Err(err))),
                };
                let _ = started.send(Ok(app.port()));
                tokio::select! {
                    result = app.run_until_stopped() => if let Err(err) = result { eprintln!("offstage stopped: {err:#}") },
                    _ = stopped => {}
                }
            });
            // Dropping the runtime ends every task of this "process", as an exit would.
        });
        let port = ready.await??;
        Ok(OffstageProcess { port, stop: Some(stop), thread: Some(thread) })
    }

    pub fn webhook_url(&self) -> String {
        format!("http://127.0.0.1:{}/webhooks/stripe", self.port.unwrap_or_default())
    }

    /// Stops it, as SIGKILL would, and waits until its runtime is gone.
    pub fn kill(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
