//! Edits built from higher-level actions, for the rules' fixes: moving
//! instructions earlier, appending a command to a RUN, removing commands
//! or words from one, and keeping the case of a keyword being replaced.
//! They return byte-range `Edit`s on the original file and know nothing of
//! rules or findings.

pub mod append;
pub mod moves;
pub mod remove;

/// Matches the case style of a keyword being replaced: `ADD` -> `COPY`,
/// `add` -> `copy`, `Add` -> `Copy`.
pub fn keyword_like(original: &str, replacement: &str) -> String {
    if original.chars().all(|c| !c.is_ascii_uppercase()) {
        replacement.to_ascii_lowercase()
    } else if original.chars().skip(1).all(|c| !c.is_ascii_uppercase()) {
        let lower = replacement.to_ascii_lowercase();
        let mut chars = lower.chars();
        chars
            .next()
            .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
            .unwrap_or_default()
    } else {
        replacement.to_ascii_uppercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyword_case_follows_the_original() {
        assert_eq!(keyword_like("ADD", "copy"), "COPY");
        assert_eq!(keyword_like("add", "COPY"), "copy");
        assert_eq!(keyword_like("Add", "COPY"), "Copy");
    }
}
