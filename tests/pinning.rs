//! Pinning base images against a real registry on loopback (Debian's
//! `docker-registry`), started and stopped by each test.

mod common;
#[path = "registry/local.rs"]
mod local;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::Ordering;

use local::{docker_config, Gate, Private, Registry, TokenGate};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// `args`, asking the registry at `mirror` for Docker Hub's images.
fn mirrored<'a>(mirror: &'a str, args: &[&'a str]) -> Vec<&'a str> {
    let mut all = args.to_vec();
    all.extend(["--registry-mirror", mirror]);
    all
}

/// dockfix on `dir/Dockerfile`, with a Docker config and a cache of the
/// test's own (never the user's).
fn dockfix(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dockfix"));
    command
        .current_dir(dir)
        .args(args)
        .arg("Dockerfile")
        .env("DOCKER_CONFIG", dir.join("docker"))
        .env("DOCKFIX_CACHE_DIR", dir.join("cache"))
        .env("NO_PROXY", "127.0.0.1,localhost");
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn project(dockerfile: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("docker")).unwrap();
    std::fs::write(dir.path().join("Dockerfile"), dockerfile).unwrap();
    dir
}

fn dockerfile(dir: &tempfile::TempDir) -> String {
    std::fs::read_to_string(dir.path().join("Dockerfile")).unwrap()
}

/// A registry shaped like Docker Hub's `node`: `latest` and its version
/// tags share a digest, an older release and an alpine variant have
/// theirs, and a release candidate sorts above them all.
struct Node {
    registry: Registry,
    latest: String,
    older: String,
    alpine: String,
}

fn node_registry() -> Node {
    let registry = Registry::start(None);
    let repo = "library/node";
    let latest = registry
        .push_image(
            repo,
            "22.11.0",
            "amd64",
            &["latest", "lts", "22", "22.11", "22.11.0"],
        )
        .0;
    let older = registry
        .push_image(repo, "21.7.3", "amd64", &["21", "21.7", "21.7.3"])
        .0;
    let alpine = registry
        .push_image(
            repo,
            "alpine",
            "amd64",
            &["alpine", "22-alpine", "22.11.0-alpine"],
        )
        .0;
    registry.push_image(repo, "rc", "amd64", &["23.0.0-rc.1", "23.0.0rc1"]);
    Node {
        registry,
        latest,
        older,
        alpine,
    }
}

/// The `node` registry behind a token gate, and the mirror option for it.
fn gated(options: Gate) -> (Node, TokenGate, String) {
    let node = node_registry();
    let gate = TokenGate::start(&node.registry.url(), options);
    let mirror = format!("docker.io=http://{}", gate.addr);
    (node, gate, mirror)
}

/// A pinning run that must succeed and leave `expected`.
fn assert_pinned(dir: &Path, args: &[&str], expected: &str) {
    let run = dockfix(dir, args, &[]);
    assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
    assert_eq!(
        std::fs::read_to_string(dir.join("Dockerfile")).unwrap(),
        expected
    );
}

/// A pinning run that must fail (exit 2) saying `why`, and leave the file
/// as it was.
fn assert_not_pinned(dir: &Path, args: &[&str], why: &str) {
    let before = std::fs::read(dir.join("Dockerfile")).unwrap();
    let run = dockfix(dir, args, &[]);
    assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
    assert!(run.stderr.contains(why), "{args:?}: {}", run.stderr);
    assert_eq!(std::fs::read(dir.join("Dockerfile")).unwrap(), before);
}

#[test]
fn floating_tags_become_versions_and_every_tag_gets_its_digest() {
    let node = node_registry();
    let mirror = format!("docker.io={}", node.registry.url());
    let dir = project(
        "# build\nFROM node AS deps\nRUN npm ci\n\nFROM node:alpine AS test\nFROM docker.io/library/node:21 AS old\nFROM scratch\nFROM deps\n",
    );
    assert_pinned(dir.path(), &mirrored(&mirror, &["--write", "--select", "DF4", "--pin", "both"]), &format!(
            "# build\nFROM node:22.11.0@{} AS deps\nRUN npm ci\n\nFROM node:22.11.0-alpine@{} AS test\nFROM docker.io/library/node:21@{} AS old\nFROM scratch\nFROM deps\n",
            node.latest, node.alpine, node.older
        ));
    // Pinned: nothing more to do, and no need to ask again.
    let again = dockfix(
        dir.path(),
        &mirrored(&mirror, &["--check", "--select", "DF4", "--pin", "both"]),
        &[],
    );
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
}

#[test]
fn version_and_digest_modes_alone() {
    let node = node_registry();
    let mirror = format!("docker.io={}", node.registry.url());
    let dir = project("FROM node:lts\nFROM node:21\n");
    assert_pinned(
        dir.path(),
        &mirrored(&mirror, &["--write", "--pin", "version"]),
        "FROM node:22.11.0\nFROM node:21\n",
    );

    // A digest pins a floating tag too: the tag is kept, readable.
    let dir = project("FROM node\nFROM node:21\n");
    let lint = dockfix(dir.path(), &mirrored(&mirror, &["--pin", "digest"]), &[]);
    assert!(
        lint.stdout.contains("DF401") && lint.stdout.contains("--pin version"),
        "{}",
        lint.stdout
    );
    assert_pinned(
        dir.path(),
        &mirrored(&mirror, &["--write", "--pin", "digest"]),
        &format!(
            "FROM node:latest@{}\nFROM node:21@{}\n",
            node.latest, node.older
        ),
    );
}

#[test]
fn a_multi_platform_image_is_pinned_to_its_index() {
    let registry = Registry::start(None);
    let (index, platforms) = registry.push_index(
        "library/python",
        "3.13.1",
        &["latest", "3", "3.13", "3.13.1"],
    );
    let mirror = format!("docker.io={}", registry.url());
    let dir = project("FROM python\n");
    assert_pinned(
        dir.path(),
        &mirrored(&mirror, &["--write", "--pin", "both"]),
        &format!("FROM python:3.13.1@{index}\n"),
    );
    assert!(!platforms.contains(&index));
}

#[test]
fn registries_are_named_as_docker_names_them() {
    let registry = Registry::start(None);
    let digest = registry
        .push_image("team/app", "1", "amd64", &["1.4.2", "latest"])
        .0;
    let image = format!("{}/team/app", registry.addr);
    let dir = project(&format!("FROM {image}\n"));
    // A loopback registry is spoken to over plain HTTP, as Docker does.
    assert_pinned(
        dir.path(),
        &["--write", "--pin", "both"],
        &format!("FROM {image}:1.4.2@{digest}\n"),
    );
}

#[test]
fn a_private_registry_takes_the_docker_config_credentials() {
    use base64::Engine;
    let registry = Registry::start(Some(("ci", "s3cret")));
    let digest = registry.push_image("team/app", "1", "amd64", &["2.0"]).0;
    let source = format!("FROM {}/team/app:2.0\n", registry.addr);

    // Without credentials: an error with the reason, the file untouched.
    let dir = project(&source);
    assert_not_pinned(dir.path(), &["--write", "--pin", "digest"], "docker login");

    // `auths`, as `docker login` writes it.
    let auth = base64::engine::general_purpose::STANDARD.encode("ci:s3cret");
    docker_config(
        &dir.path().join("docker"),
        &format!(
            r#"{{"auths": {{"{}": {{"auth": "{auth}"}}}}}}"#,
            registry.addr
        ),
    );
    assert_pinned(
        dir.path(),
        &["--write", "--pin", "digest"],
        &format!("FROM {}/team/app:2.0@{digest}\n", registry.addr),
    );

    // A credential helper on PATH, as `credHelpers` names it; wrong
    // credentials are refused.
    for (password, pinned) in [("s3cret", true), ("wrong", false)] {
        let dir = project(&source);
        let path = credential_helper(
            &dir,
            &registry.addr,
            &format!(
                "[ \"$server\" = {} ] || {{ echo 'credentials not found in native keychain'; exit 1; }}\necho '{{\"ServerURL\":\"'$server'\",\"Username\":\"ci\",\"Secret\":\"{password}\"}}'\n",
                registry.addr
            ),
        );
        let run = dockfix(
            dir.path(),
            &["--write", "--pin", "digest"],
            &[("PATH", &path)],
        );
        assert_eq!(run.code == 0, pinned, "{password}: {}", run.stderr);
        assert_eq!(dockerfile(&dir).contains(&digest), pinned);
    }
}

/// `docker-credential-test`, answering `get` with `script` (the server
/// read into `$server`), as `credHelpers` names it for `host`; the `PATH`
/// that finds it.
fn credential_helper(dir: &tempfile::TempDir, host: &str, script: &str) -> String {
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let helper = bin.join("docker-credential-test");
    std::fs::write(
        &helper,
        format!("#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread server\n{script}"),
    )
    .unwrap();
    let mut permissions = std::fs::metadata(&helper).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&helper, permissions).unwrap();
    docker_config(
        &dir.path().join("docker"),
        &format!(r#"{{"credHelpers": {{"{host}": "test"}}}}"#),
    );
    format!("{}:{}", bin.display(), std::env::var("PATH").unwrap())
}

#[test]
fn what_a_credential_helper_writes_is_never_shown() {
    let registry = Registry::start(Some(("ci", "s3cret")));
    registry.push_image("team/app", "1", "amd64", &["2.0"]);
    let source = format!("FROM {}/team/app:2.0\n", registry.addr);
    const SECRET: &str = "424242-hunter2";
    for (script, why) in [
        // Fails, with the secret in its error on stdout and stderr.
        (
            format!("echo \"error: token {SECRET} expired\"\necho \"{SECRET}\" >&2\nexit 3\n"),
            "docker-credential-test failed for",
        ),
        // Answers JSON serde cannot read, quoting the secret.
        (
            "echo '{\"Username\":\"ci\",\"Secret\":424242}'\n".to_string(),
            "answered something other than its JSON",
        ),
    ] {
        let dir = project(&source);
        let path = credential_helper(&dir, &registry.addr, &script);
        for format in ["text", "json", "sarif"] {
            let run = dockfix(
                dir.path(),
                &["--pin", "digest", "--format", format],
                &[("PATH", &path)],
            );
            assert_eq!(run.code, 2, "{format}: {}", run.stderr);
            let output = run.stdout + &run.stderr;
            assert!(output.contains(why), "{format}: {output}");
            assert!(!output.contains("424242"), "{format}: {output}");
            assert!(!output.contains("hunter2"), "{format}: {output}");
        }
        assert_eq!(dockerfile(&dir), source);
    }
}

#[test]
fn a_token_server_s_answer_is_never_shown() {
    let (_node, _gate, mirror) = gated(Gate {
        numeric_tokens: true,
        ..Default::default()
    });
    let dir = project("FROM node\n");
    let run = dockfix(dir.path(), &mirrored(&mirror, &["--pin", "digest"]), &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("the answer is not JSON holding a token"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("4242424242"), "{}", run.stderr);
}

#[test]
fn a_bearer_token_challenge_is_answered_and_busy_registries_retried() {
    // The first two requests get 503 with Retry-After: dockfix retries.
    let (node, gate, mirror) = gated(Gate {
        failures: 2,
        ..Default::default()
    });
    let dir = project("FROM node\n");
    assert_pinned(
        dir.path(),
        &mirrored(&mirror, &["--write", "--pin", "both"]),
        &format!("FROM node:22.11.0@{}\n", node.latest),
    );
    assert!(gate.requests.load(Ordering::SeqCst) > 3);
}

#[test]
fn a_private_token_server_takes_a_password_or_a_refresh_token() {
    use base64::Engine;
    let private = Private {
        user: "bot".into(),
        password: "pw".into(),
        refresh_token: "refresh-123".into(),
    };
    let (node, gate, mirror) = gated(Gate {
        private: Some(private),
        ..Default::default()
    });
    let args = mirrored(&mirror, &["--write", "--pin", "digest"]);
    let pinned = format!("FROM node:21@{}\n", node.older);

    let dir = project("FROM node:21\n");
    assert_not_pinned(dir.path(), &args, "anonymous access was refused");

    // A mirror's credentials are filed under the mirror's address.
    let auth = base64::engine::general_purpose::STANDARD.encode("bot:pw");
    for entry in [
        format!(r#"{{"auth": "{auth}"}}"#),
        r#"{"identitytoken": "refresh-123"}"#.to_string(),
    ] {
        let dir = project("FROM node:21\n");
        let config = format!(r#"{{"auths": {{"{}": {entry}}}}}"#, gate.addr);
        docker_config(&dir.path().join("docker"), &config);
        let run = dockfix(dir.path(), &args, &[]);
        assert_eq!(run.code, 0, "{entry}: {}", run.stderr);
        assert_eq!(dockerfile(&dir), pinned);
    }
    let dir = project("FROM node:21\n");
    let config = format!(
        r#"{{"auths": {{"{}": {{"identitytoken": "stale"}}}}}}"#,
        gate.addr
    );
    docker_config(&dir.path().join("docker"), &config);
    let run = dockfix(dir.path(), &args, &[]);
    assert!(
        run.stderr.contains("the credentials were refused"),
        "{}",
        run.stderr
    );
}

#[test]
fn without_digest_headers_the_manifest_is_hashed() {
    let registry = Registry::start(None);
    let (index, _) = registry.push_index("library/python", "3.13.1", &["latest", "3.13.1"]);
    let gate = TokenGate::start(
        &registry.url(),
        Gate {
            without_digests: true,
            ..Default::default()
        },
    );
    let mirror = format!("docker.io=http://{}", gate.addr);
    let dir = project("FROM python\n");
    assert_pinned(
        dir.path(),
        &mirrored(&mirror, &["--write", "--pin", "both"]),
        &format!("FROM python:3.13.1@{index}\n"),
    );
}

#[test]
fn registries_that_refuse_head_or_lost_a_tag_still_answer() {
    let node = node_registry();
    // The list still names 24, newest, but its manifest is gone.
    node.registry
        .push_image("library/node", "24", "amd64", &["24"]);
    let gate = TokenGate::start(
        &node.registry.url(),
        Gate {
            without_head: true,
            missing: vec!["24".into()],
            ..Default::default()
        },
    );
    let mirror = format!("docker.io=http://{}", gate.addr);
    let dir = project("FROM node:lts\n");
    assert_pinned(
        dir.path(),
        &mirrored(&mirror, &["--write", "--pin", "both"]),
        &format!("FROM node:22.11.0@{}\n", node.latest),
    );
}

/// Registries that answer nonsense: a login page for a manifest (as a
/// captive portal does), tag list pages that never end.
#[test]
fn nonsense_from_a_registry_pins_nothing() {
    let login_page = Gate {
        login_page: true,
        ..Default::default()
    };
    let looping_links = Gate {
        looping_links: true,
        ..Default::default()
    };
    for (gate, mode, why) in [
        (login_page, "digest", "not an image manifest"),
        (looping_links, "version", "pages do not end"),
    ] {
        let (_node, _gate, mirror) = gated(gate);
        let dir = project("FROM node\n");
        let args = mirrored(&mirror, &["--write", "--pin", mode]);
        assert_not_pinned(dir.path(), &args, why);
    }
}

#[test]
fn registry_options_are_checked() {
    let dir = project("FROM node\n");
    for bad in [
        ["--insecure-registry", "http://10.0.0.1"],
        ["--registry-mirror", "docker.io=http://10.0.0.1/?token=x"],
        ["--registry-mirror", "docker.io=http://me:pw@10.0.0.1"],
    ] {
        let run = dockfix(dir.path(), &["--pin", "both", bad[0], bad[1]], &[]);
        assert_eq!(run.code, 2, "{bad:?}");
        assert!(!run.stderr.contains("pw@"), "{}", run.stderr);
    }
}

#[test]
fn a_registry_that_never_answers_times_out() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let image = format!("{}/team/app:1", silent.local_addr().unwrap());
    let options = dockfix::registry::Options {
        timeout: std::time::Duration::from_millis(300),
        retry_delays: vec![std::time::Duration::ZERO],
        ..Default::default()
    };
    let client = dockfix::registry::Client::new(Default::default(), options);
    let image = dockfix::registry::Reference::parse(&image).unwrap();
    let started = std::time::Instant::now();
    let error = client.digest(&image).unwrap_err();
    assert!(
        error.contains("no answer from") && error.contains("0.3 s"),
        "{error}"
    );
    // Asked twice (one retry), then not again in this run.
    assert!(client.digest(&image).unwrap_err() == error);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn arg_defaults_are_pinned_only_when_asked() {
    let node = node_registry();
    let mirror = format!("docker.io={}", node.registry.url());
    let source = "ARG NODE_TAG=latest\nFROM node:${NODE_TAG}\nRUN node --version\n";
    let dir = project(source);
    let run = dockfix(
        dir.path(),
        &mirrored(&mirror, &["--write", "--pin", "both"]),
        &[],
    );
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("--pin-args"), "{}", run.stderr);
    assert_eq!(dockerfile(&dir), source);
    assert_pinned(
        dir.path(),
        &mirrored(&mirror, &["--write", "--pin", "both", "--pin-args"]),
        &format!(
            "ARG NODE_TAG=22.11.0@{}\nFROM node:${{NODE_TAG}}\nRUN node --version\n",
            node.latest
        ),
    );
}

#[test]
fn answers_are_cached_until_they_expire() {
    let node = node_registry();
    let mirror = format!("docker.io={}", node.registry.url());
    let dir = project("FROM node\n");
    let args = mirrored(&mirror, &["--diff", "--pin", "both"]);
    assert_eq!(dockfix(dir.path(), &args, &[]).code, 1);
    let latest = node.latest.clone();
    drop(node);
    // The registry is gone: the cached answers still pin.
    let run = dockfix(dir.path(), &args, &[]);
    assert!(
        run.stdout.contains(&format!("+FROM node:22.11.0@{latest}")),
        "{}{}",
        run.stdout,
        run.stderr
    );
    // Answers an hour old are asked again, and the registry is gone.
    let cache = dir.path().join("cache/registry.json");
    let text = std::fs::read_to_string(&cache).unwrap();
    let old = regex::Regex::new(r#""at":\d+"#)
        .unwrap()
        .replace_all(&text, r#""at":1"#);
    std::fs::write(&cache, old.as_bytes()).unwrap();
    let run = dockfix(dir.path(), &args, &[]);
    assert_eq!(run.code, 2, "nothing to rewrite: {}", run.stdout);
    assert!(run.stdout.is_empty());
    assert!(run.stderr.contains("could not pin"), "{}", run.stderr);
}

#[test]
fn without_a_registry_answer_nothing_is_rewritten() {
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let dir = project("FROM node\nFROM python:3.12\n");
    let mirror = format!("docker.io=http://{closed}");
    let run = dockfix(
        dir.path(),
        &mirrored(&mirror, &["--write", "--pin", "both"]),
        &[],
    );
    // Asked to pin and could not: an error (exit 2) at each FROM.
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("DF401") && run.stderr.contains("DF402"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("could not be asked"), "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "Dockerfile:2:6: could not pin `docker.io/library/python:3.12`: cannot reach"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(dockerfile(&dir), "FROM node\nFROM python:3.12\n");
    // --check and --diff, which print no findings, fail too: CI must not
    // pass a pinning check it could not make.
    for mode in ["--check", "--diff"] {
        let args = mirrored(&mirror, &[mode, "--pin", "both"]);
        assert_not_pinned(dir.path(), &args, "could not pin");
    }
}

#[test]
fn only_selected_rules_pin() {
    let (node, gate, mirror) = gated(Gate::default());
    let source = "FROM node\nFROM node:21\n";
    // Without DF401, floating tags get digests like any other.
    let dir = project(source);
    let args = mirrored(&mirror, &["--write", "--pin", "both", "--ignore", "DF401"]);
    assert_eq!(dockfix(dir.path(), &args, &[]).code, 0);
    assert_eq!(
        dockerfile(&dir),
        format!(
            "FROM node:latest@{}\nFROM node:21@{}\n",
            node.latest, node.older
        )
    );
    // `--select` is final: no digests without DF402, no questions at all
    // without either rule.
    let dir = project(source);
    let args = mirrored(&mirror, &["--write", "--pin", "both", "--select", "DF401"]);
    assert_eq!(dockfix(dir.path(), &args, &[]).code, 0);
    assert_eq!(dockerfile(&dir), "FROM node:22.11.0\nFROM node:21\n");
    let before = gate.requests.load(Ordering::SeqCst);
    let dir = project(source);
    let args = mirrored(&mirror, &["--write", "--pin", "both", "--select", "DF101"]);
    dockfix(dir.path(), &args, &[]);
    assert_eq!(gate.requests.load(Ordering::SeqCst), before);
}

#[test]
fn without_pin_the_registry_is_never_asked() {
    let (_node, gate, mirror) = gated(Gate::default());
    let dir = project("FROM node\n");
    let run = dockfix(dir.path(), &mirrored(&mirror, &["--write"]), &[]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("DF401") && run.stderr.contains("--pin version"),
        "{}",
        run.stderr
    );
    assert_eq!(gate.requests.load(Ordering::SeqCst), 0);
    assert_eq!(dockerfile(&dir), "FROM node\n");
}

/// Docker Hub pages its tag lists; the version tag dockfix needs is on
/// the last page (tags come in lexical order: `21`, `21.7`, ... `lts`).
#[test]
fn tag_lists_are_read_across_pages() {
    let (node, gate, mirror) = gated(Gate {
        page_size: Some(2),
        ..Default::default()
    });
    let dir = project("FROM node\n");
    let args = mirrored(&mirror, &["--write", "--pin", "version"]);
    assert_pinned(dir.path(), &args, "FROM node:22.11.0\n");
    // 16 tags, 2 a page: 8 list requests (and their token challenges).
    assert!(gate.requests.load(Ordering::SeqCst) >= 8);
    drop(node);
}

#[cfg(target_os = "linux")]
#[test]
fn a_terminal_shows_which_image_is_being_asked_about() {
    let node = node_registry();
    let mirror = format!("docker.io={}", node.registry.url());
    let dir = project("FROM node\nFROM node:21\nFROM node\n");
    let mut command = Command::new(env!("CARGO_BIN_EXE_dockfix"));
    command
        .current_dir(dir.path())
        .args(["--pin", "both", "--registry-mirror", &mirror, "Dockerfile"])
        .env("DOCKER_CONFIG", dir.path().join("docker"))
        .env("DOCKFIX_CACHE_DIR", dir.path().join("cache"));
    let shown = common::on_tty(command, common::Tty::Stderr);
    assert!(
        shown.contains(&format!(
            "pinning 1/2: docker.io/library/node:latest ({})",
            node.registry.url()
        )) && shown.contains("pinning 2/2"),
        "{shown:?}"
    );
    // Not on a pipe: the messages are for people.
    let piped = dockfix(dir.path(), &mirrored(&mirror, &["--pin", "both"]), &[]);
    assert!(!piped.stderr.contains("pinning 1/2"), "{}", piped.stderr);
}
