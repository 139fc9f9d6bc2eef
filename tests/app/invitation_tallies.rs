//! The daily invitation limit's counter (`invitation_tallies`): filled on upgrade from the last
//! day's invitations, and counting the current hour and the 24 before it.

use chrono::{Duration, Utc};
use migrations::MigratorTrait;
use offstage::db::entities::{invitation, invitation_tally};
use sea_orm::{ActiveValue::Set, EntityTrait};

use crate::on_both_databases;

fn sent(workspace_id: &str, n: i64, ago: Duration) -> invitation::ActiveModel {
    invitation::ActiveModel {
        id: Set(format!("inv_upgrade_{n}")),
        workspace_id: Set(workspace_id.to_owned()),
        email: Set(format!("before{n}@example.com")),
        role: Set("member".into()),
        token_hash: Set(format!("hash-{n}")),
        invited_by: Set(None),
        created_at: Set(Utc::now() - ago),
        expires_at: Set(Utc::now() + Duration::days(6)),
        accepted_at: Set(None),
        revoked_at: Set(None),
    }
}

on_both_databases! {
    async fn invitations_sent_before_the_upgrade_count_toward_the_daily_limit_for_a_day(app: TestApp) {
        let acme = app.create_workspace("Acme", &app.admin).await;
        // Back to before migration 27 (and every one after it).
        let all = migrations::Migrator::migrations();
        let at = all.iter().position(|m| m.name().contains("_000027_")).unwrap();
        migrations::Migrator::down(&app.db, Some((all.len() - at) as u32)).await.unwrap();
        let before = [sent(&acme.id, 1, Duration::minutes(5)), sent(&acme.id, 2, Duration::hours(23)), sent(&acme.id, 3, Duration::hours(30))];
        invitation::Entity::insert_many(before).exec(&app.db).await.unwrap();
        migrations::Migrator::up(&app.db, None).await.unwrap();
        let limit = u64::from(app.config.limits.invitations_per_day);
        let left = app.scope(&acme).invitations_left(&app.db, &app.config).await.unwrap();
        assert_eq!(left, limit - 2, "the two of the last 24 hours count, the one of 30 hours ago does not");

        // An hour 25 hours back no longer counts; one 24 hours back still does (never more than
        // the limit in any 24 hours).
        let hour = Utc::now().timestamp().div_euclid(3600);
        let tally = |hour: i64, sent: i64| invitation_tally::ActiveModel { workspace_id: Set(acme.id.clone()), hour: Set(hour), sent: Set(sent) };
        invitation_tally::Entity::insert_many([tally(hour - 25, 10), tally(hour - 24, 3)]).exec(&app.db).await.unwrap();
        let left = app.scope(&acme).invitations_left(&app.db, &app.config).await.unwrap();
        assert_eq!(left, limit - 5);
        let invitee = offstage::domain::Email::parse("new@example.com").unwrap();
        app.scope(&acme).invite(&app.db, &invitee, offstage::domain::Role::Member, &app.config).await.unwrap();
        assert_eq!(app.scope(&acme).invitations_left(&app.db, &app.config).await.unwrap(), limit - 6, "a new one counts");
    }
}
