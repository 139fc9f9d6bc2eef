//! Fresh PostgreSQL databases per test, cloned from a template migrated once per schema.

use super::*;
use sea_orm::{ConnectionTrait, Database, Statement};

static TEMPLATE: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
static COUNTER: AtomicU32 = AtomicU32::new(0);

fn admin_url() -> String {
    std::env::var("OFFSTAGE_TEST_POSTGRES_URL").expect("OFFSTAGE_TEST_POSTGRES_URL")
}

fn url_for(database: &str) -> String {
    let mut url = url::Url::parse(&admin_url()).expect("OFFSTAGE_TEST_POSTGRES_URL is a URL");
    url.set_path(&format!("/{database}"));
    url.to_string()
}

async fn exec(db: &DatabaseConnection, sql: String) -> Result<(), sea_orm::DbErr> {
    db.execute_raw(Statement::from_string(db.get_database_backend(), sql)).await.map(|_| ())
}

/// The template's name changes whenever the set of migrations does (or how a template is made).
fn template_name() -> String {
    use migrations::MigratorTrait;
    let names: Vec<String> = migrations::Migrator::migrations().iter().map(|m| m.name().to_owned()).collect();
    let recipe = format!("{};without built-in schedules", names.join(","));
    format!("offstage_tpl_{}", &offstage::tokens::sha256_hex(&recipe)[..12])
}

async fn template() -> String {
    TEMPLATE
        .get_or_init(|| async {
            let name = template_name();
            let admin = Database::connect(admin_url()).await.expect("connect to OFFSTAGE_TEST_POSTGRES_URL");
            // Several test processes may start at once: one builds the template, the others wait.
            exec(&admin, "SELECT pg_advisory_lock(7223010)".into()).await.unwrap();
            let exists = admin
                .query_one_raw(Statement::from_string(
                    admin.get_database_backend(),
                    format!("SELECT 1 AS one FROM pg_database WHERE datname = '{name}'"),
                ))
                .await
                .unwrap()
                .is_some();
            if !exists {
                exec(&admin, format!("CREATE DATABASE {name}_building")).await.ok();
                let url = url_for(&format!("{name}_building"));
                let config = offstage::config::Config { ..super::test_config(&url, std::path::Path::new("/tmp")) };
                let db = offstage::startup::prepare_database(&config).await.expect("migrate template");
                // The template outlives the day it was made: a built-in schedule's next tick
                // (03:00 UTC) would be long past in a later clone, and fire in every test. Each
                // app creates its own at start-up, as on a fresh SQLite file.
                exec(&db, "DELETE FROM schedules".into()).await.unwrap();
                db.close().await.unwrap();
                exec(&admin, format!("ALTER DATABASE {name}_building RENAME TO {name}")).await.unwrap();
            }
            exec(&admin, "SELECT pg_advisory_unlock(7223010)".into()).await.unwrap();
            admin.close().await.unwrap();
            name
        })
        .await
        .clone()
}

/// Runs one statement as the administrator (outside the test's own database).
pub async fn admin_exec(sql: &str) {
    let admin = Database::connect(admin_url()).await.unwrap();
    exec(&admin, sql.to_owned()).await.unwrap();
    admin.close().await.unwrap();
}

pub async fn fresh_database() -> (String, String) {
    let template = template().await;
    let name = format!(
        "offstage_t_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst),
        &ulid::Ulid::new().to_string()[20..].to_lowercase()
    );
    let admin = Database::connect(admin_url()).await.unwrap();
    let mut attempts = 0;
    // CREATE DATABASE … TEMPLATE fails while another clone is being made from it; retry.
    while let Err(err) = exec(&admin, format!("CREATE DATABASE {name} TEMPLATE {template}")).await {
        attempts += 1;
        assert!(attempts < 50, "cannot clone the template database: {err}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    admin.close().await.unwrap();
    (url_for(&name), name)
}

pub fn drop_database_in_background(name: String) {
    let handle = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            if let Ok(admin) = Database::connect(admin_url()).await {
                let _ = exec(&admin, format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
                let _ = admin.close().await;
            }
        });
    });
    let _ = handle.join();
}
