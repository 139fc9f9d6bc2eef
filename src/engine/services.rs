//! What the composition root hands every run besides the database and the settings (the mailer,
//! say), found by type: the engine carries them without knowing what they are.

use std::any::{Any, TypeId, type_name};
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Clone, Default)]
pub struct Services {
    by_type: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
}

impl Services {
    pub fn new() -> Services {
        Services::default()
    }

    /// Adds `value`, replacing an earlier one of the same type.
    pub fn with<T: Send + Sync + 'static>(mut self, value: T) -> Services {
        self.by_type.insert(TypeId::of::<T>(), Arc::new(value));
        self
    }

    /// The service of type `T`; an error naming the type when the process was started without it.
    pub fn get<T: Send + Sync + 'static>(&self) -> anyhow::Result<&T> {
        self.by_type
            .get(&TypeId::of::<T>())
            .and_then(|value| value.downcast_ref::<T>())
            .ok_or_else(|| anyhow::anyhow!("the workers were started without a {}", type_name::<T>()))
    }
}

#[cfg(test)]
mod tests {
    use super::Services;

    #[test]
    fn a_service_is_found_by_its_type_and_a_missing_one_is_named() {
        let services = Services::new().with(42_u32).with(String::from("mailer"));
        assert_eq!(services.get::<u32>().ok(), Some(&42));
        assert_eq!(services.get::<String>().map(String::as_str).ok(), Some("mailer"));
        let missing = services.get::<i64>().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(missing.contains("i64"), "{missing}");
    }
}
