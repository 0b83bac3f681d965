//! `--format github`: GitHub Actions workflow commands, one per finding
//! (`::warning`) and per error (`::error`), which the runner turns into
//! annotations on the pull request's lines.

use super::report::{ErrorReport, FindingReport, Output};

/// Every annotation of a run, one per line.
pub fn annotations(out: &Output) -> String {
    let mut text = String::new();
    for finding in &out.findings {
        text += &finding_line(finding);
        text.push('\n');
    }
    for error in &out.errors {
        text += &error_line(error);
        text.push('\n');
    }
    text
}

fn finding_line(finding: &FindingReport) -> String {
    let (start, end) = (&finding.range.start, &finding.range.end);
    format!(
        "::warning file={},line={},col={},endLine={},endColumn={},title={}::{}",
        property(&finding.file),
        start.line,
        start.column,
        end.line,
        end.column,
        property(&format!("{} {}", finding.rule, finding.name)),
        data(&format!("{}{}", finding.message, finding.fix_hint()))
    )
}

fn error_line(error: &ErrorReport) -> String {
    let at = match (error.line, error.column) {
        (Some(line), Some(column)) => format!(",line={line},col={column}"),
        _ => String::new(),
    };
    format!(
        "::error file={}{at},title=dockfix::{}",
        property(&error.file),
        data(&error.message)
    )
}

/// A command's message: `%`, CR and LF escaped, as the Actions toolkit does.
fn data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A command's property value: `:` and `,` escaped too.
fn property(text: &str) -> String {
    data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_properties_are_escaped() {
        assert_eq!(data("100%\r\nok: a,b"), "100%25%0D%0Aok: a,b");
        assert_eq!(property("a:b,c%"), "a%3Ab%2Cc%25");
        let error = ErrorReport {
            file: "dir,x/Dockerfile".into(),
            line: Some(2),
            column: Some(6),
            message: "could not pin `node`: cannot reach http://x".into(),
        };
        assert_eq!(
            error_line(&error),
            "::error file=dir%2Cx/Dockerfile,line=2,col=6,title=dockfix::could not pin `node`: cannot reach http://x"
        );
    }
}
