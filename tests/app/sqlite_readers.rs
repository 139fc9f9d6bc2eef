//! SQLite's reader connections (`db::readers`): they read the last commit while the one writer
//! connection is busy, and cannot write, each with a small page cache beside the writer's large
//! one; a database with no file is read through its writer.

use std::time::Duration;

use offstage::config::DatabaseKind;
use sea_orm::ConnectionTrait;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_readers_read_the_last_commit_while_the_writer_is_busy_and_cannot_write() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let readers = offstage::db::readers(&app.db);
    app.create_workspace("Committed", &app.admin).await;
    let before = count(&readers, "SELECT COUNT(*) AS n FROM workspaces").await;
    assert!(before >= 1, "the reader does not see the committed workspace");
    // The writer connection (the pool's only one) is held by a transaction with a write not yet
    // committed: a reader answers at once, from the last commit.
    let txn = offstage::db::begin_write(&app.db).await.unwrap();
    txn.execute_unprepared("DELETE FROM workspaces").await.unwrap();
    let during = tokio::time::timeout(Duration::from_secs(2), count(&readers, "SELECT COUNT(*) AS n FROM workspaces"))
        .await
        .expect("a reader waited for the writer's transaction");
    assert_eq!(during, before, "a reader saw a write that was not committed");
    txn.rollback().await.unwrap();
    let refused = readers.execute_unprepared("DELETE FROM workspaces").await.unwrap_err();
    assert!(refused.to_string().contains("readonly"), "{refused}");
    assert_eq!(count(&app.db, "SELECT COUNT(*) AS n FROM workspaces").await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_readers_keep_8_mib_of_page_cache_each_and_the_writer_16_mib() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let readers = offstage::db::readers(&app.db);
    assert_eq!(count(&readers, "SELECT cache_size AS n FROM pragma_cache_size").await, -8192);
    assert_eq!(count(&app.db, "SELECT cache_size AS n FROM pragma_cache_size").await, -16384);
}

#[tokio::test]
async fn a_sqlite_database_in_memory_is_read_through_its_writer() {
    let db = offstage::db::connect("sqlite::memory:", DatabaseKind::Sqlite).await.unwrap();
    db.execute_unprepared("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('kept')").await.unwrap();
    let readers = offstage::db::readers(&db);
    assert_eq!(count(&readers, "SELECT COUNT(*) AS n FROM notes").await, 1);
}
