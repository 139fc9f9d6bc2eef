//! Where a workspace's enrolment in an email sequence stands.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnrolmentStatus {
    /// Steps are still to come.
    Active,
    /// Every step ran (sent or skipped).
    Completed,
    /// Stopped early (conversion, payment, unsubscribe); the reason is kept beside it.
    Stopped,
}

impl EnrolmentStatus {
    pub fn parse(input: &str) -> Result<EnrolmentStatus, String> {
        match input {
            "active" => Ok(EnrolmentStatus::Active),
            "completed" => Ok(EnrolmentStatus::Completed),
            "stopped" => Ok(EnrolmentStatus::Stopped),
            other => Err(format!("unknown enrolment status “{other}”")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EnrolmentStatus::Active => "active",
            EnrolmentStatus::Completed => "completed",
            EnrolmentStatus::Stopped => "stopped",
        }
    }
}

impl fmt::Display for EnrolmentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::EnrolmentStatus;

    #[test]
    fn every_status_reads_back_from_its_stored_word() {
        for status in [EnrolmentStatus::Active, EnrolmentStatus::Completed, EnrolmentStatus::Stopped] {
            assert_eq!(EnrolmentStatus::parse(status.as_str()), Ok(status));
        }
        assert!(EnrolmentStatus::parse("paused").is_err());
    }
}
