//! Group commit of single starts: concurrent starts (API calls, workflows starting runs) hand
//! their run to a `Starter`, whose tasks start every run waiting at that moment together, in
//! one transaction (`start_batch`), each answered only after that commit. A batch that fails as
//! a whole (one run's workspace deleted meanwhile, a key raced) is started again one run at a
//! time, so a bad start fails alone.

use sea_orm::DatabaseConnection;

use super::{NewRun, RunView, Started, read_back, start_batch};
use crate::db::batcher::Batcher;
use crate::engine::Error;

/// Runs per commit at most: more than are ever started at once, well under one INSERT's rows.
const RUNS_PER_COMMIT: usize = 256;
/// Commits at once on PostgreSQL: one slow commit does not hold up every start behind it.
const WRITERS: usize = 4;

/// Hands single starts to the group-commit tasks (`AppState::starter`, `JobContext::starter`).
#[derive(Clone)]
pub struct Starter {
    db: DatabaseConnection,
    batcher: Batcher<NewRun, Result<Started, Error>>,
}

impl Starter {
    /// Starts the tasks on the current runtime.
    pub fn new(db: DatabaseConnection) -> Starter {
        let batcher = Batcher::start(db.clone(), WRITERS, RUNS_PER_COMMIT, start_together);
        Starter { db, batcher }
    }

    /// Starts `new` (or finds the run of its idempotency key), once committed.
    pub async fn start_quietly(&self, new: NewRun) -> Result<Started, Error> {
        self.batcher.submit(new).await.map_err(Error::Corrupt)?
    }

    /// Starts `new` and reads the run back (`runs::start`).
    pub async fn start(&self, new: NewRun) -> Result<RunView, Error> {
        Ok(self.start_or_find(new).await?.0)
    }

    /// Starts `new`; for a repeated idempotency key, the first run and `true` (`runs::start_or_find`).
    pub async fn start_or_find(&self, new: NewRun) -> Result<(RunView, bool), Error> {
        read_back(&self.db, self.start_quietly(new).await?).await
    }
}

async fn start_together(db: DatabaseConnection, news: Vec<NewRun>) -> Result<Vec<Result<Started, Error>>, String> {
    match start_batch(&db, &news).await {
        Ok(started) => return Ok(started.into_iter().map(Ok).collect()),
        Err(err) if news.len() == 1 => return Ok(vec![Err(err)]),
        Err(_) => {}
    }
    let mut answers = Vec::with_capacity(news.len());
    for new in &news {
        let one = start_batch(&db, std::slice::from_ref(new)).await;
        answers.push(one.and_then(|mut started| started.pop().ok_or_else(|| Error::Corrupt("nothing started".into()))));
    }
    Ok(answers)
}
