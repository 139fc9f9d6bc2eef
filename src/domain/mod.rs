//! Pure domain types with no I/O: every value here is parsed once at the edge and trusted after.
//! Nothing in this module may touch the database, the network or the clock.

mod cron_expr;
mod duration;
mod email;
mod enrolment_status;
mod ids;
mod money;
mod month;
mod password;
mod public_id;
mod rate;
mod role;
mod slug;
mod subscription_status;
mod timezone;
mod workspace_name;

pub use cron_expr::CronExpr;
pub use duration::{describe_duration, parse_duration};
pub use email::Email;
pub use enrolment_status::EnrolmentStatus;
pub use ids::{RunId, WorkspaceId};
pub use money::Money;
pub use month::Month;
pub use password::{Password, PasswordHash};
pub use public_id::PublicId;
pub use rate::Rate;
pub use role::Role;
pub use slug::Slug;
pub use subscription_status::SubscriptionStatus;
pub use timezone::Timezone;
pub use workspace_name::WorkspaceName;
