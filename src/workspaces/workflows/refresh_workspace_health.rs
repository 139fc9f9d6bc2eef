//! `refresh_workspace_health`: computes a workspace's health score (0–100) and stores it.
//!
//! The score adds four factors:
//! - members: 6 points per member, up to 30 (5 members);
//! - activity: 1 point per activity entry in the last 30 days, up to 20;
//! - billing: active 40, trialing 30, no subscription 15, past due 10, paused 10, anything else 0;
//! - integration: 10 points when the workspace has an active API key.

use chrono::{Duration, Utc};
use schemars::JsonSchema;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::db::entities::{activity, api_key, health_score};
use crate::domain::SubscriptionStatus;
use crate::engine::{Outcome, Priority, RunContext, Workflow};

pub struct RefreshWorkspaceHealth;

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    pub workspace_id: String,
}

/// The documented formula, apart from the queries that feed it.
pub fn score(
    members: u64,
    recent_activity: u64,
    status: SubscriptionStatus,
    has_api_key: bool,
) -> (i32, serde_json::Value) {
    let members_points = (members.min(5) * 6) as i32;
    let activity_points = recent_activity.min(20) as i32;
    let billing_points = match status {
        SubscriptionStatus::Active => 40,
        SubscriptionStatus::Trialing => 30,
        SubscriptionStatus::None => 15,
        SubscriptionStatus::PastDue | SubscriptionStatus::Paused => 10,
        _ => 0,
    };
    let integration_points = if has_api_key { 10 } else { 0 };
    let total = members_points + activity_points + billing_points + integration_points;
    let factors = json!({
        "members": { "count": members, "points": members_points },
        "activity_30d": { "count": recent_activity, "points": activity_points },
        "billing": { "status": status.as_str(), "points": billing_points },
        "api_key": { "present": has_api_key, "points": integration_points },
    });
    (total, factors)
}

impl Workflow for RefreshWorkspaceHealth {
    const NAME: &'static str = "refresh_workspace_health";
    const DESCRIPTION: &'static str =
        "Computes the workspace's health score from its members, activity, billing and API use.";
    const PRIORITY: Priority = Priority::Bulk;
    type Params = Params;

    async fn run(ctx: RunContext, _params: Params) -> anyhow::Result<Outcome> {
        let scope = ctx.scope().await?;
        let members = scope.member_count(&ctx.db).await?;
        let recent_activity = activity::Entity::find()
            .filter(activity::Column::WorkspaceId.eq(scope.workspace_id()))
            .filter(activity::Column::CreatedAt.gt(Utc::now() - Duration::days(30)))
            .count(&ctx.db)
            .await?;
        let has_api_key = api_key::Entity::find()
            .filter(api_key::Column::WorkspaceId.eq(scope.workspace_id()))
            .filter(api_key::Column::RevokedAt.is_null())
            .count(&ctx.db)
            .await?
            > 0;
        let (total, factors) = score(members, recent_activity, scope.workspace().status(), has_api_key);
        health_score::Entity::insert(health_score::ActiveModel {
            workspace_id: Set(scope.workspace_id().to_owned()),
            score: Set(total),
            factors: Set(factors.to_string()),
            computed_at: Set(Utc::now()),
            ..Default::default()
        })
        .exec(&ctx.db)
        .await?;
        Ok(Outcome::output(json!({ "score": total, "factors": factors })))
    }
}

#[cfg(test)]
mod tests {
    use super::score;
    use crate::domain::SubscriptionStatus;

    #[test]
    fn the_score_adds_its_documented_factors() {
        assert_eq!(score(1, 0, SubscriptionStatus::None, false).0, 6 + 15);
        assert_eq!(score(9, 50, SubscriptionStatus::Active, true).0, 100);
        assert_eq!(score(2, 3, SubscriptionStatus::PastDue, false).0, 12 + 3 + 10);
        assert_eq!(score(0, 0, SubscriptionStatus::Canceled, false).0, 0);
    }
}
