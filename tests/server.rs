//! `dockfix server` driven as an editor drives it: the protocol's framing
//! on the server's standard input and output, one session per test.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::{json, Value};

struct Editor {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
    next_id: i64,
}

impl Editor {
    fn start(dir: &Path) -> Editor {
        let mut child = Command::new(env!("CARGO_BIN_EXE_dockfix"))
            .arg("server")
            .current_dir(dir)
            // The rules' documentation files go beside the test's files.
            .env("DOCKFIX_CACHE_DIR", dir.join(".dockfix-cache"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let input = child.stdin.take().unwrap();
        let output = BufReader::new(child.stdout.take().unwrap());
        let mut editor = Editor {
            child,
            input,
            output,
            next_id: 0,
        };
        let init = editor.request(
            "initialize",
            json!({"processId": null, "rootUri": null, "capabilities": {}}),
        );
        let caps = &init["result"]["capabilities"];
        assert_eq!(caps["textDocumentSync"], 2, "incremental sync");
        assert_eq!(caps["positionEncoding"], "utf-16");
        editor.notify("initialized", json!({}));
        editor
    }

    fn send(&mut self, message: Value) {
        let body = message.to_string();
        write!(self.input, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        self.input.flush().unwrap();
    }

    fn receive(&mut self) -> Value {
        let mut length = 0;
        loop {
            let mut line = String::new();
            assert!(
                self.output.read_line(&mut line).unwrap() > 0,
                "the server hung up"
            );
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some(n) = line.strip_prefix("Content-Length: ") {
                length = n.parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        self.output.read_exact(&mut body).unwrap();
        serde_json::from_slice(&body).unwrap()
    }

    /// Sends a request and returns its response; what comes before it
    /// (diagnostics) is dropped.
    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let message = self.receive();
            if message["id"] == id && message.get("method").is_none() {
                return message;
            }
        }
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// The next diagnostics published for `uri`.
    fn diagnostics(&mut self, uri: &str) -> Vec<Value> {
        loop {
            let message = self.receive();
            if message["method"] == "textDocument/publishDiagnostics"
                && message["params"]["uri"] == uri
            {
                return message["params"]["diagnostics"].as_array().unwrap().clone();
            }
        }
    }

    fn open(&mut self, uri: &str, text: &str) -> Vec<Value> {
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": "dockerfile", "version": 1, "text": text}}),
        );
        self.diagnostics(uri)
    }

    fn shutdown(mut self) {
        let response = self.request("shutdown", Value::Null);
        assert!(response.get("error").is_none(), "{response}");
        self.notify("exit", Value::Null);
        assert!(self.child.wait().unwrap().success());
    }
}

fn file_uri(path: &Path) -> String {
    let text = path.to_str().unwrap();
    format!("file://{}", text.replace(' ', "%20"))
}

/// `text` with each of `edits` (LSP text edits on one document) applied,
/// positions counted in UTF-16 units as the server announced.
fn apply(text: &str, edits: &[Value]) -> String {
    let offset = |position: &Value| -> usize {
        let line = position["line"].as_u64().unwrap() as usize;
        let character = position["character"].as_u64().unwrap() as usize;
        let start: usize = text.split_inclusive('\n').take(line).map(str::len).sum();
        let mut units = 0;
        for (i, c) in text[start..].char_indices() {
            if units >= character || c == '\n' || c == '\r' {
                return start + i;
            }
            units += c.len_utf16();
        }
        text.len()
    };
    let mut edits: Vec<(usize, usize, &str)> = edits
        .iter()
        .map(|e| {
            (
                offset(&e["range"]["start"]),
                offset(&e["range"]["end"]),
                e["newText"].as_str().unwrap(),
            )
        })
        .collect();
    edits.sort_by_key(|e| std::cmp::Reverse(e.0));
    let mut text = text.to_string();
    for (start, end, new) in edits {
        text.replace_range(start..end, new);
    }
    text
}

/// The edits a workspace edit makes to the document `uri`.
fn edits_of(edit: &Value, uri: &str) -> Vec<Value> {
    edit["documentChanges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["textDocument"]["uri"] == uri)
        .flat_map(|c| c["edits"].as_array().unwrap().clone())
        .collect()
}

#[test]
fn diagnostics_follow_incremental_edits_and_count_utf16_in_crlf_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("Dockerfile");
    let uri = file_uri(&path);
    // A non-ASCII label before the finding, CRLF line endings.
    let text = "FROM debian:12\r\nLABEL note=\"héllo 𝄞\"\r\nRUN apt-get install curl\r\n";
    let mut editor = Editor::start(dir.path());
    let diagnostics = editor.open(&uri, text);
    let yes = diagnostics
        .iter()
        .find(|d| d["code"] == "DF201")
        .expect("DF201 for apt-get without -y");
    assert_eq!(yes["source"], "dockfix");
    assert_eq!(yes["range"]["start"]["line"], 2);
    // The code links to the rule's documentation, a file the server wrote.
    let href = yes["codeDescription"]["href"].as_str().unwrap();
    let doc_path = href.strip_prefix("file://").unwrap();
    let doc = std::fs::read_to_string(doc_path).unwrap();
    assert!(doc.starts_with("# DF201 apt-get-yes"), "{doc}");
    // Replace `curl` (line 2, UTF-16 columns 20..24) with `wget`: the
    // finding stays, on the same line.
    editor.notify(
        "textDocument/didChange",
        json!({
            "textDocument": {"uri": uri, "version": 2},
            "contentChanges": [{"range": {"start": {"line": 2, "character": 20}, "end": {"line": 2, "character": 24}}, "text": "wget"}]
        }),
    );
    let after = editor.diagnostics(&uri);
    assert!(after.iter().any(|d| d["code"] == "DF201"));
    // An edit on the non-ASCII line: `𝄞` is two UTF-16 units. Replacing
    // the label's value leaves the rest of the file where it was.
    editor.notify(
        "textDocument/didChange",
        json!({
            "textDocument": {"uri": uri, "version": 3},
            "contentChanges": [{"range": {"start": {"line": 1, "character": 12}, "end": {"line": 1, "character": 19}}, "text": "hi"}]
        }),
    );
    editor.diagnostics(&uri);
    let hover = editor.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": uri}, "position": {"line": 2, "character": 6}}),
    );
    let shown = hover["result"]["contents"]["value"].as_str().unwrap();
    assert!(shown.starts_with("# DF201 apt-get-yes"), "{shown}");
    // The document as the server now has it: fix-all leaves the label
    // line as edited, and the `-y` added.
    let actions = editor.request(
        "textDocument/codeAction",
        json!({
            "textDocument": {"uri": uri},
            "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}},
            "context": {"diagnostics": [], "only": ["source.fixAll"]}
        }),
    );
    let all = &actions["result"][0];
    assert_eq!(all["kind"], "source.fixAll.dockfix");
    let edits = edits_of(&all["edit"], &uri);
    let current = "FROM debian:12\r\nLABEL note=\"hi\"\r\nRUN apt-get install wget\r\n";
    assert_eq!(
        apply(current, &edits),
        "FROM debian:12\r\nLABEL note=\"hi\"\r\nRUN apt-get install -y wget\r\n"
    );
    editor.shutdown();
}

#[test]
fn a_quick_fix_on_a_corpus_file_equals_what_write_makes() {
    // The first real corpus file with a DF203 finding; without the corpus,
    // DF203's own fixture.
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/rules/DF203/cases/Dockerfile");
    let case = common::corpus()
        .and_then(|corpus| {
            let mut files: Vec<_> = std::fs::read_dir(corpus.join("real"))
                .ok()?
                .flatten()
                .map(|e| e.path())
                .collect();
            files.sort();
            files.into_iter().find(|file| {
                let status = Command::new(env!("CARGO_BIN_EXE_dockfix"))
                    .args(["--isolated", "--select", "DF203"])
                    .arg(file)
                    .output()
                    .unwrap()
                    .status;
                status.code() == Some(1)
            })
        })
        .unwrap_or(fixture);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("Dockerfile");
    let text = std::fs::read_to_string(&case).unwrap();
    std::fs::write(&path, &text).unwrap();
    std::fs::write(dir.path().join(".dockfix.toml"), "select = [\"DF203\"]\n").unwrap();
    let uri = file_uri(&path);
    let mut editor = Editor::start(dir.path());
    let diagnostics = editor.open(&uri, &text);
    assert!(!diagnostics.is_empty(), "{case:?} has DF203 findings");
    assert!(
        diagnostics.iter().all(|d| d["code"] == "DF203"),
        "the configuration selects"
    );
    // Every finding's quick fix, applied one after another as an editor
    // would, each on the document as the last left it.
    let mut current = text.clone();
    let mut version = 1;
    loop {
        let actions = editor.request(
            "textDocument/codeAction",
            json!({
                "textDocument": {"uri": uri},
                "range": {"start": {"line": 0, "character": 0}, "end": {"line": 999, "character": 0}},
                "context": {"diagnostics": [], "only": ["quickfix"]}
            }),
        );
        let Some(fix) = actions["result"].as_array().unwrap().first().cloned() else {
            break;
        };
        assert_eq!(fix["kind"], "quickfix");
        current = apply(&current, &edits_of(&fix["edit"], &uri));
        version += 1;
        editor.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": current}]}),
        );
        editor.diagnostics(&uri);
    }
    // `dockfix.fixAll` through executeCommand: the server asks the editor
    // to apply an edit, here none is left.
    let done = editor.request(
        "workspace/executeCommand",
        json!({"command": "dockfix.fixAll", "arguments": [{"uri": uri}]}),
    );
    assert!(done.get("error").is_none(), "{done}");
    editor.shutdown();
    let write = Command::new(env!("CARGO_BIN_EXE_dockfix"))
        .current_dir(dir.path())
        .args(["--write", "Dockerfile"])
        .output()
        .unwrap();
    assert!(write.status.success(), "{write:?}");
    assert_eq!(current, std::fs::read_to_string(&path).unwrap());
    assert_ne!(current, text, "the quick fixes changed the file");
}

#[test]
fn fix_all_by_command_asks_the_editor_to_apply_the_edit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("Dockerfile");
    let uri = file_uri(&path);
    let text = "FROM alpine:3.20\nRUN apk add curl\n";
    let mut editor = Editor::start(dir.path());
    let diagnostics = editor.open(&uri, text);
    assert!(diagnostics.iter().any(|d| d["code"] == "DF203"));
    editor.next_id += 1;
    let id = editor.next_id;
    editor.send(
        json!({"jsonrpc": "2.0", "id": id, "method": "workspace/executeCommand",
        "params": {"command": "dockfix.fixAll", "arguments": [{"uri": uri}]}}),
    );
    // The server's own request comes first, then the answer to ours.
    let apply_request = loop {
        let message = editor.receive();
        if message["method"] == "workspace/applyEdit" {
            break message;
        }
    };
    let edits = edits_of(&apply_request["params"]["edit"], &uri);
    assert_eq!(
        apply(text, &edits),
        "FROM alpine:3.20\nRUN apk add --no-cache curl\n"
    );
    editor.send(json!({"jsonrpc": "2.0", "id": apply_request["id"], "result": {"applied": true}}));
    loop {
        let message = editor.receive();
        if message["id"] == id {
            assert!(message.get("error").is_none(), "{message}");
            break;
        }
    }
    // A file that does not parse is one error at its place.
    editor.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": "FROM alpine\nFOO bar\n"}]}),
    );
    let error = editor.diagnostics(&uri);
    assert_eq!(error.len(), 1);
    assert_eq!(error[0]["severity"], 1);
    assert_eq!(error[0]["range"]["start"]["line"], 1);
    editor.shutdown();
}

#[test]
fn unsafe_fixes_are_marked_and_suppressions_hold() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("Dockerfile");
    let uri = file_uri(&path);
    let text = "FROM debian:12\n# dockfix: ignore[DF201]\nRUN apt-get install curl\nRUN apt-get update && apt-get install -y wget\n";
    let mut editor = Editor::start(dir.path());
    let diagnostics = editor.open(&uri, text);
    assert!(
        diagnostics.iter().all(|d| d["code"] != "DF201"),
        "suppressed"
    );
    let recommends = diagnostics
        .iter()
        .filter(|d| d["code"] == "DF207")
        .max_by_key(|d| d["range"]["start"]["line"].as_u64())
        .expect("DF207 on the second install");
    let line = recommends["range"]["start"]["line"].clone();
    let actions = editor.request(
        "textDocument/codeAction",
        json!({
            "textDocument": {"uri": uri},
            "range": {"start": {"line": line, "character": 0}, "end": {"line": line, "character": 0}},
            "context": {"diagnostics": [recommends]}
        }),
    );
    let titles: Vec<&str> = actions["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["title"].as_str().unwrap())
        .collect();
    let unsafe_fix = titles
        .iter()
        .find(|t| t.starts_with("DF207"))
        .expect("DF207's quick fix");
    assert!(unsafe_fix.ends_with("(unsafe)"), "{titles:?}");
    editor.shutdown();
}

#[test]
fn a_fix_that_needs_dockerignore_lines_brings_them_in_the_same_edit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("Dockerfile");
    let uri = file_uri(&path);
    let text = "FROM node:20\nWORKDIR /app\nCOPY . .\nRUN npm ci\n";
    std::fs::write(
        dir.path().join("package.json"),
        r#"{"name": "app", "version": "1.0.0"}"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("package-lock.json"),
        r#"{"name": "app", "lockfileVersion": 3}"#,
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("node_modules")).unwrap();
    let ignore = dir.path().join(".dockerignore");
    // `é` is two bytes and one UTF-16 unit: the file ends at line 1, character 5.
    std::fs::write(&ignore, "# café\nnpm-é").unwrap();
    let mut editor = Editor::start(dir.path());
    let diagnostics = editor.open(&uri, text);
    assert!(
        diagnostics.iter().any(|d| d["code"] == "DF101"),
        "{diagnostics:?}"
    );
    let actions = editor.request(
        "textDocument/codeAction",
        json!({
            "textDocument": {"uri": uri},
            "range": {"start": {"line": 3, "character": 0}, "end": {"line": 3, "character": 0}},
            "context": {"diagnostics": [], "only": ["quickfix"]}
        }),
    );
    let fix = actions["result"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["title"].as_str().unwrap().starts_with("DF101"))
        .expect("DF101's quick fix")
        .clone();
    let ignore_uri = file_uri(&ignore);
    let added = edits_of(&fix["edit"], &ignore_uri);
    assert_eq!(added.len(), 1, "{fix}");
    assert_eq!(
        added[0]["range"]["start"],
        json!({"line": 1, "character": 5})
    );
    assert_eq!(added[0]["newText"], "\nnode_modules\n");
    let before = std::fs::read_to_string(&ignore).unwrap();
    assert_eq!(apply(&before, &added), "# café\nnpm-é\nnode_modules\n");
    editor.shutdown();
}
