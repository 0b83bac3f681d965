//! `dockfix server`: a Language Server Protocol server over standard input
//! and output (framing and the initialize handshake by `lsp-server`). It
//! publishes a diagnostic for each finding of an open Dockerfile, offers
//! each fix as a quick fix (unsafe ones marked so) and every safe fix as
//! `source.fixAll.dockfix` (also as the `dockfix.fixAll` command, which
//! asks the editor to apply the edit), and shows a finding's rule
//! documentation on hover. Documents sync incrementally; each change is
//! linted at once, with the command line's settings and configuration.

mod analysis;
mod docs;
mod document;
mod uri;

use std::collections::HashMap;

use lsp_server::{Connection, Message, Notification, Request, RequestId, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, Notification as _,
    PublishDiagnostics,
};
use lsp_types::request::{
    ApplyWorkspaceEdit, CodeActionRequest, ExecuteCommand, HoverRequest, Request as _,
};
use lsp_types::{
    ApplyWorkspaceEditParams, CodeActionKind, CodeActionOptions, CodeActionOrCommand,
    CodeActionParams, CodeActionProviderCapability, DidChangeTextDocumentParams,
    DidCloseTextDocumentParams, DidOpenTextDocumentParams, ExecuteCommandOptions,
    ExecuteCommandParams, HoverParams, HoverProviderCapability, PositionEncodingKind,
    PublishDiagnosticsParams, ServerCapabilities, TextDocumentSyncCapability, TextDocumentSyncKind,
    Uri,
};

use super::args::FixArgs;
use analysis::{Analysis, FIX_ALL};
use document::Document;

/// The command that applies every safe fix of the document its argument
/// names (`{"uri": ...}`), through `workspace/applyEdit`.
const FIX_ALL_COMMAND: &str = "dockfix.fixAll";

pub(super) fn serve(args: FixArgs) -> u8 {
    // The settings are checked before the editor is answered: a bad
    // `--select` is the user's error, said once on standard error.
    if let Err(e) = super::settings::Resolver::new(&args) {
        eprintln!("{e}");
        return 2;
    }
    let (connection, io) = Connection::stdio();
    let served = run(&connection, &args);
    drop(connection);
    let joined = io.join();
    match served.and(joined.map_err(|e| e.to_string())) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("dockfix server: {e}");
            2
        }
    }
}

fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        position_encoding: Some(PositionEncodingKind::UTF16),
        text_document_sync: Some(TextDocumentSyncCapability::Kind(
            TextDocumentSyncKind::INCREMENTAL,
        )),
        code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
            code_action_kinds: Some(vec![CodeActionKind::QUICKFIX, CodeActionKind::new(FIX_ALL)]),
            ..CodeActionOptions::default()
        })),
        execute_command_provider: Some(ExecuteCommandOptions {
            commands: vec![FIX_ALL_COMMAND.into()],
            ..ExecuteCommandOptions::default()
        }),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        ..ServerCapabilities::default()
    }
}

struct Server<'a> {
    connection: &'a Connection,
    args: &'a FixArgs,
    /// Each rule's documentation as a file a diagnostic links to.
    docs: docs::Docs,
    documents: HashMap<Uri, Document>,
    /// Each open document's last lint.
    analyses: HashMap<Uri, Analysis>,
    next_id: i32,
}

fn run(connection: &Connection, args: &FixArgs) -> Result<(), String> {
    let caps = serde_json::to_value(capabilities()).map_err(|e| e.to_string())?;
    connection.initialize(caps).map_err(|e| e.to_string())?;
    let mut server = Server {
        connection,
        args,
        docs: docs::Docs::written(),
        documents: HashMap::new(),
        analyses: HashMap::new(),
        next_id: 0,
    };
    for message in &connection.receiver {
        match message {
            Message::Request(request) => {
                if connection
                    .handle_shutdown(&request)
                    .map_err(|e| e.to_string())?
                {
                    return Ok(());
                }
                // A request or notification the server cannot read is
                // said and skipped; the session goes on.
                if let Err(e) = server.request(request) {
                    eprintln!("dockfix server: {e}");
                }
            }
            Message::Notification(notification) => {
                if let Err(e) = server.notification(notification) {
                    eprintln!("dockfix server: {e}");
                }
            }
            // The editor's answers to `workspace/applyEdit`.
            Message::Response(_) => {}
        }
    }
    Ok(())
}

impl Server<'_> {
    fn send(&self, message: impl Into<Message>) -> Result<(), String> {
        self.connection
            .sender
            .send(message.into())
            .map_err(|e| e.to_string())
    }

    fn request(&mut self, request: Request) -> Result<(), String> {
        let id = request.id.clone();
        let result = match request.method.as_str() {
            CodeActionRequest::METHOD => {
                let params: CodeActionParams = params(request)?;
                let uri = params.text_document.uri;
                let actions = match (self.documents.get(&uri), self.analyses.get(&uri)) {
                    (Some(doc), Some(analysis)) => analysis
                        .actions(doc, &uri, params.range)
                        .into_iter()
                        .filter(|a| wanted(&params.context.only, a.kind.as_ref()))
                        .map(CodeActionOrCommand::CodeAction)
                        .collect(),
                    _ => Vec::new(),
                };
                serde_json::to_value(actions)
            }
            HoverRequest::METHOD => {
                let params: HoverParams = params(request)?;
                let at = params.text_document_position_params;
                let uri = at.text_document.uri;
                let hover = match (self.documents.get(&uri), self.analyses.get(&uri)) {
                    (Some(doc), Some(analysis)) => analysis.hover(doc, at.position),
                    _ => None,
                };
                serde_json::to_value(hover)
            }
            ExecuteCommand::METHOD => {
                let params: ExecuteCommandParams = params(request)?;
                self.execute(params)?;
                Ok(serde_json::Value::Null)
            }
            _ => {
                let error = Response::new_err(
                    id,
                    lsp_server::ErrorCode::MethodNotFound as i32,
                    format!("dockfix does not serve {}", request.method),
                );
                return self.send(error);
            }
        };
        let result = result.map_err(|e| e.to_string())?;
        self.send(Response::new_ok(id, result))
    }

    /// `dockfix.fixAll`: the edit goes to the editor as a request of ours.
    fn execute(&mut self, params: ExecuteCommandParams) -> Result<(), String> {
        if params.command != FIX_ALL_COMMAND {
            return Ok(());
        }
        let uri: Option<Uri> = params
            .arguments
            .first()
            .and_then(|a| a.get("uri"))
            .and_then(|u| serde_json::from_value(u.clone()).ok());
        let Some(uri) = uri else {
            return Ok(());
        };
        let edit = match (self.documents.get(&uri), self.analyses.get(&uri)) {
            (Some(doc), Some(analysis)) => analysis.fix_all(&uri, doc),
            _ => None,
        };
        if let Some(edit) = edit {
            self.next_id += 1;
            let apply = ApplyWorkspaceEditParams {
                label: Some("dockfix: apply every safe fix".into()),
                edit,
            };
            self.send(Request::new(
                RequestId::from(format!("dockfix-{}", self.next_id)),
                ApplyWorkspaceEdit::METHOD.into(),
                apply,
            ))?;
        }
        Ok(())
    }

    fn notification(&mut self, notification: Notification) -> Result<(), String> {
        match notification.method.as_str() {
            DidOpenTextDocument::METHOD => {
                let params: DidOpenTextDocumentParams = extract(notification)?;
                let doc = params.text_document;
                self.documents
                    .insert(doc.uri.clone(), Document::new(doc.text, doc.version));
                self.lint(doc.uri)
            }
            DidChangeTextDocument::METHOD => {
                let params: DidChangeTextDocumentParams = extract(notification)?;
                let uri = params.text_document.uri;
                let Some(doc) = self.documents.get_mut(&uri) else {
                    return Ok(());
                };
                for change in params.content_changes {
                    doc.change(change);
                }
                doc.version = params.text_document.version;
                self.lint(uri)
            }
            DidCloseTextDocument::METHOD => {
                let params: DidCloseTextDocumentParams = extract(notification)?;
                let uri = params.text_document.uri;
                self.documents.remove(&uri);
                self.analyses.remove(&uri);
                self.publish(uri, Vec::new(), None)
            }
            _ => Ok(()),
        }
    }

    /// Lints a document and publishes its diagnostics. A configuration
    /// that cannot be used is said as one diagnostic at the start.
    fn lint(&mut self, uri: Uri) -> Result<(), String> {
        let Some(doc) = self.documents.get(&uri) else {
            return Ok(());
        };
        let version = Some(doc.version);
        let diagnostics = match Analysis::of(self.args, &uri, doc) {
            Ok(analysis) => {
                let diagnostics = analysis.diagnostics(doc, &self.docs);
                self.analyses.insert(uri.clone(), analysis);
                diagnostics
            }
            Err(why) => {
                self.analyses.remove(&uri);
                vec![lsp_types::Diagnostic {
                    range: doc.range(0..0),
                    severity: Some(lsp_types::DiagnosticSeverity::ERROR),
                    source: Some("dockfix".into()),
                    message: why,
                    ..lsp_types::Diagnostic::default()
                }]
            }
        };
        self.publish(uri, diagnostics, version)
    }

    fn publish(
        &self,
        uri: Uri,
        diagnostics: Vec<lsp_types::Diagnostic>,
        version: Option<i32>,
    ) -> Result<(), String> {
        self.send(Notification::new(
            PublishDiagnostics::METHOD.into(),
            PublishDiagnosticsParams {
                uri,
                diagnostics,
                version,
            },
        ))
    }
}

/// Whether an action of `kind` is among the kinds the editor asked for
/// (a kind asks for itself and the kinds below it).
fn wanted(only: &Option<Vec<CodeActionKind>>, kind: Option<&CodeActionKind>) -> bool {
    let (Some(only), Some(kind)) = (only, kind) else {
        return true;
    };
    only.iter().any(|o| {
        kind.as_str() == o.as_str() || kind.as_str().starts_with(&format!("{}.", o.as_str()))
    })
}

fn params<P: serde::de::DeserializeOwned>(request: Request) -> Result<P, String> {
    serde_json::from_value(request.params).map_err(|e| format!("{}: {e}", request.method))
}

fn extract<P: serde::de::DeserializeOwned>(notification: Notification) -> Result<P, String> {
    serde_json::from_value(notification.params).map_err(|e| format!("{}: {e}", notification.method))
}
