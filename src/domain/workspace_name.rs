//! A workspace's display name: 1 to 80 printable characters.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceName(String);

impl WorkspaceName {
    pub fn parse(input: &str) -> Result<WorkspaceName, String> {
        let value = input.trim();
        if value.is_empty() {
            return Err("Enter a name for the workspace".into());
        }
        if value.chars().count() > 80 || value.chars().any(char::is_control) {
            return Err("Use a workspace name of at most 80 printable characters".into());
        }
        Ok(WorkspaceName(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
