//! sea-orm entities, one per table, kept thin: behaviour lives in `tenancy`, `domain` and the
//! route modules, not here.

pub mod account_link;
pub mod activity;
pub mod api_key;
pub mod email;
pub mod email_suppression;
pub mod enrolment;
pub mod export;
pub mod health_score;
pub mod import;
pub mod import_row;
pub mod invitation;
pub mod invitation_tally;
pub mod invoice;
pub mod login_attempt;
pub mod membership;
pub mod monthly_revenue;
pub mod recovery_code;
pub mod refund;
pub mod request_count;
pub mod revenue_month;
pub mod run_event;
pub mod schedule;
pub mod session;
pub mod stripe_event;
pub mod user;
pub mod workflow_run;
pub mod workspace;
