//! Password hashing off the request path. argon2 spends tens of milliseconds of CPU on purpose;
//! on a web worker's thread that would stall every request the worker serves, so hashing runs on
//! tokio's blocking pool, at most one per core but one at once (a core stays for the web), and a
//! flood of sign-ins waits its turn here, or is told to try again, instead of starving the web.

use std::sync::OnceLock;
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::domain::{Password, PasswordHash};
use crate::error::AppError;

/// How long a sign-in waits for a turn before it is told to try again.
const QUEUE_LIMIT: Duration = Duration::from_secs(10);

fn turns() -> &'static Semaphore {
    static TURNS: OnceLock<Semaphore> = OnceLock::new();
    TURNS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        Semaphore::new(cores.saturating_sub(1).max(1))
    })
}

async fn on_the_blocking_pool<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, AppError> {
    let busy = || AppError::TooManyRequests {
        message: "Too many sign-ins at once; try again in a few seconds.".into(),
        retry_after: 5,
    };
    let _turn = tokio::time::timeout(QUEUE_LIMIT, turns().acquire()).await.map_err(|_| busy())?.map_err(|_| busy())?;
    tokio::task::spawn_blocking(work).await.map_err(|err| AppError::Internal(anyhow::anyhow!("hashing: {err}")))
}

/// Whether `candidate` matches `hash`; against a decoy hash when there is no account, so the
/// time taken does not tell whether an email has one.
pub async fn verify(hash: Option<String>, candidate: &str) -> Result<bool, AppError> {
    let candidate = candidate.to_owned();
    on_the_blocking_pool(move || match hash {
        Some(hash) => PasswordHash(hash).verify(&candidate),
        None => {
            PasswordHash::decoy().verify(&candidate);
            false
        }
    })
    .await
}

/// The argon2id hash of a new password.
pub async fn hash(password: &Password) -> Result<PasswordHash, AppError> {
    let password = password.clone();
    on_the_blocking_pool(move || password.hash())
        .await?
        .map_err(|err| AppError::Internal(anyhow::anyhow!("hashing a password: {err}")))
}
