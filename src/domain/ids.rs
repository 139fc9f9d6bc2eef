//! Ids of different kinds are different types: a run's id cannot be passed where a workspace's
//! is expected. Each reads as the `str` it is stored as (in SQL, templates and JSON).

use std::fmt;
use std::ops::Deref;

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                $name(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                $name(id.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl From<$name> for sea_orm::Value {
            fn from(id: $name) -> sea_orm::Value {
                id.0.into()
            }
        }

        impl From<&$name> for sea_orm::Value {
            fn from(id: &$name) -> sea_orm::Value {
                id.0.clone().into()
            }
        }

        impl Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl PartialEq<$name> for &str {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }
    };
}

id_type!(
    /// A workflow run's id (a ULID), which is also its job's.
    RunId
);

id_type!(
    /// A workspace's id, `ws_…`.
    WorkspaceId
);

#[cfg(test)]
mod tests {
    use super::{RunId, WorkspaceId};

    #[test]
    fn an_id_reads_as_the_text_it_is_stored_as() {
        let run = RunId::from("01JD5X");
        assert_eq!(run, "01JD5X");
        assert_eq!(run.to_string(), "01JD5X");
        assert_eq!(serde_json::to_value(&run).ok(), Some(serde_json::json!("01JD5X")));
        let workspace: WorkspaceId = serde_json::from_str("\"ws_1\"").unwrap_or_else(|_| WorkspaceId::from(""));
        assert_eq!(workspace.as_str(), "ws_1");
    }
}
