//! What the server says about one document: its findings as diagnostics,
//! each fix as a quick fix, every safe fix at once, and a finding's rule
//! documentation on hover. The same settings, rules and fixes as the
//! command line: a `.dockfix.toml` applies, suppressions hold.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use lsp_types::{
    CodeAction, CodeActionKind, CreateFile, CreateFileOptions, Diagnostic, DiagnosticSeverity,
    DocumentChangeOperation, DocumentChanges, Hover, HoverContents, MarkupContent, MarkupKind,
    NumberOrString, OneOf, OptionalVersionedTextDocumentIdentifier, Position, Range, ResourceOp,
    TextDocumentEdit, TextEdit, Uri, WorkspaceEdit,
};

use super::docs::Docs;
use super::document::Document;
use super::uri;
use crate::cli::args::FixArgs;
use crate::cli::discover::Input;
use crate::cli::settings::{FileSettings, Resolver};
use crate::engine::{self, Companion, Settings};
use crate::rules::{Applicability, Finding};

/// The kind of the action that applies every safe fix.
pub const FIX_ALL: &str = "source.fixAll.dockfix";

/// One lint of a document: the parsed text's findings, or why it does not
/// parse.
pub struct Analysis {
    pub findings: Vec<Finding>,
    pub error: Option<(usize, String)>,
    file: Option<crate::syntax::Dockerfile>,
    path: Option<PathBuf>,
    settings: std::rc::Rc<FileSettings>,
}

impl Analysis {
    /// Lints `doc` as `dockfix` lints the file at `uri`, with the
    /// configuration nearest to it (read anew, so edits of it count).
    pub fn of(args: &FixArgs, uri: &Uri, doc: &Document) -> Result<Analysis, String> {
        let path = uri::path(uri);
        let mut resolver = Resolver::new(args)?;
        let input = match &path {
            Some(path) => Input::File(path.clone()),
            None => Input::Stdin,
        };
        let Some(settings) = resolver.settings(&input, None) else {
            let why = resolver
                .errors()
                .map(|e| e.text())
                .collect::<Vec<_>>()
                .join("; ");
            return Err(why);
        };
        let mut analysis = Analysis {
            findings: Vec::new(),
            error: None,
            file: None,
            path,
            settings,
        };
        match crate::syntax::parse(doc.text.as_bytes()) {
            Ok(file) => {
                analysis.findings = engine::lint(&file, &analysis.engine_settings(false));
                analysis.file = Some(file);
            }
            Err(e) => analysis.error = Some((doc.offset_of(e.line, e.column), e.message)),
        }
        Ok(analysis)
    }

    /// The engine's settings for this document; `all_unsafe` offers every
    /// unsafe fix too.
    fn engine_settings(&self, all_unsafe: bool) -> Settings<'_> {
        let dir = self.path.as_deref().and_then(Path::parent);
        Settings {
            rules: self.settings.rules.clone(),
            unsafe_fixes: self.settings.unsafe_fixes || all_unsafe,
            build_context: dir,
            companions: self.path.is_some(),
            dockerfile: self.path.as_deref(),
            // Never the network: base images are reported, not pinned.
            pins: None,
            ecosystems: self.settings.ecosystems(),
            runtime_images: &self.settings.runtime_images,
        }
    }

    pub fn diagnostics(&self, doc: &Document, docs: &Docs) -> Vec<Diagnostic> {
        if let Some((at, message)) = &self.error {
            return vec![Diagnostic {
                range: doc.range(*at..*at),
                severity: Some(DiagnosticSeverity::ERROR),
                source: Some("dockfix".into()),
                message: message.clone(),
                ..Diagnostic::default()
            }];
        }
        self.findings
            .iter()
            .map(|f| Diagnostic {
                code_description: docs.link(f.rule.id),
                ..diagnostic(doc, f)
            })
            .collect()
    }

    /// A quick fix for each finding with a fix on the lines of `range` (a
    /// cursor anywhere on a finding's line asks for it; unsafe ones are
    /// marked so), and the action that applies every safe fix.
    pub fn actions(&self, doc: &Document, uri: &Uri, range: Range) -> Vec<CodeAction> {
        let (first, last) = (range.start.line, range.end.line);
        let mut actions: Vec<CodeAction> = self
            .findings
            .iter()
            .filter(|f| {
                let lines = doc.range(f.range.clone());
                lines.start.line <= last && first <= lines.end.line
            })
            .filter_map(|f| {
                let fix = f.fix.as_ref()?;
                // A fix that needs others applies with them, in "fix all".
                if !fix.requires.is_empty() {
                    return None;
                }
                let edits = fix
                    .edits
                    .iter()
                    .map(|e| TextEdit::new(doc.range(e.range.clone()), e.replacement.to_string()))
                    .collect();
                let appends: Vec<(PathBuf, Vec<String>)> = fix
                    .appends
                    .iter()
                    .map(|a| (a.path.clone(), a.lines.clone()))
                    .collect();
                let safe = fix.applicability == Applicability::Safe;
                Some(CodeAction {
                    title: format!(
                        "{}: {}{}",
                        f.rule.id,
                        f.rule.fix_title,
                        if safe { "" } else { " (unsafe)" }
                    ),
                    kind: Some(CodeActionKind::QUICKFIX),
                    diagnostics: Some(vec![diagnostic(doc, f)]),
                    edit: Some(workspace_edit(uri, doc, edits, &companions(&appends))),
                    is_preferred: Some(safe),
                    ..CodeAction::default()
                })
            })
            .collect();
        if let Some(edit) = self.fix_all(uri, doc) {
            actions.push(CodeAction {
                title: "dockfix: apply every safe fix".into(),
                kind: Some(CodeActionKind::new(FIX_ALL)),
                edit: Some(edit),
                ..CodeAction::default()
            });
        }
        actions
    }

    /// What `dockfix --write` makes of the document: every fix its
    /// settings apply, round after round; `None` when nothing changes.
    pub fn fix_all(&self, uri: &Uri, doc: &Document) -> Option<WorkspaceEdit> {
        let file = self.file.clone()?;
        let settings = self.engine_settings(false);
        let fixed = engine::fix_parsed(file, self.findings.clone(), &settings).ok()?;
        let text = String::from_utf8(fixed.file.source).ok()?;
        if text == doc.text && fixed.companions.is_empty() {
            return None;
        }
        let whole = TextEdit::new(doc.range(0..doc.text.len()), text);
        Some(workspace_edit(uri, doc, vec![whole], &fixed.companions))
    }

    /// The documentation of the rules whose findings cover `position`.
    pub fn hover(&self, doc: &Document, position: Position) -> Option<Hover> {
        let at = doc.offset(position);
        let docs: Vec<&str> = self
            .findings
            .iter()
            .filter(|f| f.range.start <= at && at <= f.range.end)
            .map(|f| f.rule.doc)
            .collect();
        if docs.is_empty() {
            return None;
        }
        Some(Hover {
            contents: HoverContents::Markup(MarkupContent {
                kind: MarkupKind::Markdown,
                value: docs.join("\n---\n"),
            }),
            range: None,
        })
    }
}

fn diagnostic(doc: &Document, finding: &Finding) -> Diagnostic {
    let fixable = match finding.fix.as_ref().map(|f| f.applicability) {
        Some(Applicability::Safe) => " [fix]",
        Some(Applicability::Unsafe) => " [unsafe fix]",
        None => "",
    };
    Diagnostic {
        range: doc.range(finding.range.clone()),
        severity: Some(DiagnosticSeverity::WARNING),
        code: Some(NumberOrString::String(finding.rule.id.into())),
        source: Some("dockfix".into()),
        message: format!("{} ({}){fixable}", finding.message, finding.rule.name),
        ..Diagnostic::default()
    }
}

/// The other files (`.dockerignore`) as a fix's appends leave them: each
/// with the lines it lacks added, in its line endings.
fn companions(appends: &[(PathBuf, Vec<String>)]) -> Vec<Companion> {
    appends
        .iter()
        .map(|(path, lines)| {
            let before = crate::context::read_regular(path).ok();
            let mut after = before.clone().unwrap_or_default();
            engine::append_missing(&mut after, lines);
            Companion {
                path: path.clone(),
                before,
                after,
            }
        })
        .collect()
}

/// The edits of the document and, after them, the text the companions add
/// at their ends (a file created first when it does not exist). A fix only
/// appends to them.
fn workspace_edit(
    uri: &Uri,
    doc: &Document,
    edits: Vec<TextEdit>,
    companions: &[Companion],
) -> WorkspaceEdit {
    let mut operations = vec![DocumentChangeOperation::Edit(TextDocumentEdit {
        text_document: OptionalVersionedTextDocumentIdentifier {
            uri: uri.clone(),
            version: Some(doc.version),
        },
        edits: edits.into_iter().map(OneOf::Left).collect(),
    })];
    for companion in companions {
        let before = companion.before.as_deref().unwrap_or_default();
        let added = companion.after.get(before.len()..).unwrap_or_default();
        let Some(target) = uri::from_path(&companion.path).filter(|_| !added.is_empty()) else {
            continue;
        };
        if companion.before.is_none() {
            operations.push(DocumentChangeOperation::Op(ResourceOp::Create(
                CreateFile {
                    uri: target.clone(),
                    options: Some(CreateFileOptions {
                        overwrite: Some(false),
                        ignore_if_exists: Some(true),
                    }),
                    annotation_id: None,
                },
            )));
        }
        // Its end, as an editor that decodes it finds it.
        let existing = crate::syntax::lossy(before).into_owned();
        let end_offset = existing.len();
        let end = Document::new(existing, 0).position(end_offset);
        operations.push(DocumentChangeOperation::Edit(TextDocumentEdit {
            text_document: OptionalVersionedTextDocumentIdentifier {
                uri: target,
                version: None,
            },
            edits: vec![OneOf::Left(TextEdit::new(
                Range::new(end, end),
                crate::syntax::lossy(added).into_owned(),
            ))],
        }));
    }
    WorkspaceEdit {
        changes: None::<HashMap<Uri, Vec<TextEdit>>>,
        document_changes: Some(DocumentChanges::Operations(operations)),
        change_annotations: None,
    }
}
