//! A Java program packaged in one stage by Maven or Gradle, read for
//! DF503: the RUN that packages the jar, the directory the jar lands in,
//! the JDK the toolchain's tag names (whose JRE runs the jar), and whether
//! the jar's manifest names libraries beside it.

use super::builder::{self, Build, Output, Source};
use crate::facts::commands::RunCommand;
use crate::model::Stage;
use crate::rules::Context;
use crate::scope::absolute;
use crate::syntax::Instruction;

/// Maven's phases that package the jar; Gradle's tasks that do.
const MAVEN_PACKAGES: &[&str] = &["package", "verify", "install"];
const GRADLE_PACKAGES: &[&str] = &["build", "assemble", "jar", "bootJar", "shadowJar"];

/// Options that build another project, or write elsewhere.
const MOVES_OUTPUT: &[&str] = &[
    "-f",
    "--file",
    "-pl",
    "--projects",
    "-p",
    "--project-dir",
    "-b",
    "--build-file",
];

/// What a build file says when the jar's manifest names other jars (by a
/// path relative to the jar, or in the local repository), which the
/// runtime would lack.
const CLASS_PATH: &[&str] = &[
    "addClasspath",
    "classpathPrefix",
    "Class-Path",
    "copy-dependencies",
];

/// The build files whose text names the manifest's class path.
const BUILD_FILES: &[&str] = &["pom.xml", "build.gradle", "build.gradle.kts"];

/// The RUN in the stage that packages a jar: `None` when the stage
/// packages none, an error when dockfix cannot follow it.
pub(super) fn build<'f>(cx: &Context<'f>, stage: &Stage<'f>) -> Option<Result<Build<'f>, String>> {
    Some(
        builder::only_build(cx, stage, &|c| tool(c).is_some(), "a package build")?
            .and_then(|(position, run, command)| read_build(cx, position, run, &command)),
    )
}

/// The directory a command's build tool writes jars to, relative to the
/// project: Maven's `target`, Gradle's `build/libs`; `None` for a command
/// that packages no jar.
fn tool(command: &RunCommand) -> Option<&'static str> {
    let (output, goals) = match command.program()? {
        "mvn" | "mvnw" => ("target", MAVEN_PACKAGES),
        "gradle" | "gradlew" => ("build/libs", GRADLE_PACKAGES),
        _ => return None,
    };
    command.words[1..]
        .iter()
        .filter_map(|(w, _)| w.as_deref())
        .any(|w| goals.contains(&w))
        .then_some(output)
}

fn read_build<'f>(
    cx: &Context<'f>,
    position: usize,
    run: &'f Instruction,
    command: &RunCommand,
) -> Result<Build<'f>, String> {
    let line = run.start_line;
    if command.shell_error {
        return Err(format!("dockfix cannot read the shell of line {line}"));
    }
    let output = tool(command).expect("a package build");
    for word in command.words[1..].iter().map(|(w, _)| w.as_deref()) {
        let Some(word) = word else {
            return Err(format!(
                "the build on line {line} takes a word a variable names"
            ));
        };
        let flag = word.split_once('=').map_or(word, |(flag, _)| flag);
        if MOVES_OUTPUT.contains(&flag) || flag.starts_with("-Dproject.build") {
            return Err(format!(
                "the build on line {line} takes `{flag}`, which builds another project or moves the jar"
            ));
        }
    }
    let commands = cx.commands_of(run, 0);
    if commands
        .iter()
        .take_while(|c| c.range != command.range)
        .any(|c| c.word(0) == Some("cd"))
    {
        return Err(format!("line {line} changes directory before the build"));
    }
    let workdir = cx.scope_at(0, run.span().start).workdir;
    let output = absolute(output, workdir.as_deref())
        .ok_or_else(|| format!("dockfix cannot tell the working directory of line {line}"))?;
    Ok(Build {
        run,
        position,
        outputs: vec![Output::In(output)],
        command_start: command.range.start,
        placing: Vec::new(),
        interpreter: Some("java"),
        ships: Vec::new(),
        finish: None,
        finished: None,
        start: None,
    })
}

/// The jar `java` runs (`java -Xmx512m -jar app.jar`): `None` when it runs
/// no jar, or takes an option that reads more than the jar (`-cp`,
/// `-javaagent:`).
pub(super) fn jar(words: &[String]) -> Option<&str> {
    let mut words = words[1..].iter();
    while let Some(word) = words.next() {
        match word.as_str() {
            "-jar" => return words.next().map(String::as_str),
            w if w.starts_with("-D") || w.starts_with("-X") || w == "-server" => {}
            _ => return None,
        }
    }
    None
}

/// The JDK's major version and the distribution suffix (`-jammy`,
/// `-alpine`, or none) a toolchain's tag names: `maven:3.9-eclipse-temurin-17`,
/// `gradle:8.5-jdk21-jammy`, `eclipse-temurin:17-jdk`.
pub(super) fn jdk(repository: &str, tag: &str) -> Option<(String, String)> {
    let rest = match repository {
        "maven" => tag.split_once("eclipse-temurin-")?.1,
        "gradle" => {
            let at = tag.find("jdk")?;
            (at == 0 || tag[..at].ends_with('-')).then_some(&tag[at + 3..])?
        }
        "eclipse-temurin" => {
            let (version, rest) = tag.split_once('-').unwrap_or((tag, ""));
            let major = version.split(['.', '_', '+']).next()?;
            let rest = rest.strip_prefix("jdk").unwrap_or(rest);
            if rest.starts_with("jre") || !major.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            return Some((major.to_string(), suffix(rest)?));
        }
        _ => return None,
    };
    let (major, rest) = rest.split_once('-').unwrap_or((rest, ""));
    if major.is_empty() || !major.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((major.to_string(), suffix(rest)?))
}

/// `-jammy` for `jammy`, nothing for nothing; `None` for more than one word.
fn suffix(rest: &str) -> Option<String> {
    let rest = rest.trim_start_matches('-');
    match rest {
        "" => Some(String::new()),
        name if name.bytes().all(|b| b.is_ascii_alphanumeric()) => Some(format!("-{name}")),
        _ => None,
    }
}

/// Why the jar may need more than itself: a build file that writes a
/// class path into its manifest, or no build file to tell.
pub(super) fn classpath(sources: &[Source]) -> Result<(), String> {
    let files: Vec<&Source> = sources
        .iter()
        .filter(|s| BUILD_FILES.contains(&s.relative.rsplit('/').next().unwrap_or("")))
        .collect();
    if files.is_empty() {
        return Err("the sources hold no pom.xml or build.gradle, so dockfix cannot tell what the jar needs beside it".into());
    }
    for source in files {
        let relative = &source.relative;
        let text = source
            .text()
            .map_err(|e| format!("dockfix cannot read `{relative}`: {e}"))?;
        if let Some(word) = CLASS_PATH.iter().find(|w| text.contains(*w)) {
            return Err(format!(
                "`{relative}` names other jars in the jar's manifest (`{word}`), which the runtime would lack"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn the_jar_java_runs() {
        let jar_of = |words: &[&str]| jar(&strings(words)).map(String::from);
        assert_eq!(
            jar_of(&["java", "-jar", "app.jar"]).as_deref(),
            Some("app.jar")
        );
        assert_eq!(
            jar_of(&[
                "java",
                "-Xmx1g",
                "-Dspring.profiles.active=prod",
                "-jar",
                "a.jar",
                "x"
            ])
            .as_deref(),
            Some("a.jar")
        );
        assert_eq!(jar_of(&["java", "-cp", "lib/*", "-jar", "a.jar"]), None);
        assert_eq!(
            jar_of(&["java", "-javaagent:agent.jar", "-jar", "a.jar"]),
            None
        );
        assert_eq!(jar_of(&["java", "dev.App"]), None);
    }

    #[test]
    fn the_jdk_a_tag_names() {
        let pair = |r: &str, t: &str| jdk(r, t).map(|(a, b)| format!("{a}{b}"));
        assert_eq!(
            pair("maven", "3.9-eclipse-temurin-17").as_deref(),
            Some("17")
        );
        assert_eq!(
            pair("maven", "3.9.6-eclipse-temurin-21-jammy").as_deref(),
            Some("21-jammy")
        );
        assert_eq!(
            pair("maven", "3-eclipse-temurin-17-alpine").as_deref(),
            Some("17-alpine")
        );
        assert_eq!(pair("maven", "3.9"), None);
        assert_eq!(pair("maven", "3-openjdk-17"), None);
        assert_eq!(pair("maven", "latest"), None);
        assert_eq!(pair("gradle", "8.5-jdk17").as_deref(), Some("17"));
        assert_eq!(pair("gradle", "jdk21-jammy").as_deref(), Some("21-jammy"));
        assert_eq!(pair("gradle", "8.5"), None);
        assert_eq!(pair("gradle", "8-jdk-lts-and-current"), None);
        assert_eq!(pair("eclipse-temurin", "17-jdk").as_deref(), Some("17"));
        assert_eq!(pair("eclipse-temurin", "17").as_deref(), Some("17"));
        assert_eq!(
            pair("eclipse-temurin", "17.0.9_9-jdk-jammy").as_deref(),
            Some("17-jammy")
        );
        assert_eq!(pair("eclipse-temurin", "17-jre"), None);
        assert_eq!(pair("eclipse-temurin", "latest"), None);
    }
}
