//! A workspace's URL name: lower-case letters, digits and single hyphens, 2 to 48 characters.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slug(String);

impl Slug {
    pub fn parse(input: &str) -> Result<Slug, String> {
        let value = input.trim();
        let valid_chars = value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !(2..=48).contains(&value.len())
            || !valid_chars
            || value.starts_with('-')
            || value.ends_with('-')
            || value.contains("--")
        {
            return Err(format!(
                "“{value}” is not a valid slug: use 2–48 lower-case letters, digits and single hyphens"
            ));
        }
        Ok(Slug(value.to_owned()))
    }

    /// Derives a slug from a display name: "Acme Corp." → "acme-corp".
    pub fn from_name(name: &str) -> Slug {
        let mut out = String::new();
        for c in name.trim().to_lowercase().chars() {
            if c.is_ascii_alphanumeric() {
                out.push(c);
            } else if !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
        }
        let mut out: String = out.trim_end_matches('-').chars().take(40).collect();
        out = out.trim_end_matches('-').to_owned();
        if out.len() < 2 {
            out = format!("workspace-{out}").trim_end_matches('-').to_owned();
        }
        Slug(out)
    }

    /// The same slug with a numeric suffix, used when the plain one is taken.
    pub fn with_suffix(&self, n: u32) -> Slug {
        Slug(format!("{}-{n}", self.0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::Slug;

    #[test]
    fn names_become_readable_slugs() {
        assert_eq!(Slug::from_name("Acme Corp.").as_str(), "acme-corp");
        assert_eq!(Slug::from_name("  Ünïcode & Co ").as_str(), "n-code-co");
        assert_eq!(Slug::from_name("!").as_str(), "workspace");
    }

    #[test]
    fn bad_slugs_are_rejected() {
        for bad in ["a", "-acme", "acme-", "ac--me", "Acme", "ac me"] {
            assert!(Slug::parse(bad).is_err(), "{bad}");
        }
        assert!(Slug::parse("acme-2").is_ok());
    }
}
