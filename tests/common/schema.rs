//! JSON Schema validation for the machine-readable outputs.

use std::path::Path;

use serde_json::Value;

/// A schema (a path in the repository), compiled with format assertions on
/// (`uri`, `uri-reference`), so a malformed value fails too.
pub struct Validator {
    schemas: boon::Schemas,
    index: boon::SchemaIndex,
}

impl Validator {
    pub fn new(schema: &str) -> Validator {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(schema);
        let mut schemas = boon::Schemas::new();
        let mut compiler = boon::Compiler::new();
        compiler.enable_format_assertions();
        let index = compiler
            .compile(path.to_str().unwrap(), &mut schemas)
            .unwrap_or_else(|e| panic!("{schema} compiles: {e:#}"));
        Validator { schemas, index }
    }

    pub fn check(&self, document: &Value) -> Result<(), String> {
        self.schemas
            .validate(document, self.index)
            .map_err(|e| format!("{e:#}"))
    }
}
