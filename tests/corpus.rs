//! Every corpus Dockerfile parses without panicking and round-trips byte for
//! byte through the syntax tree.

mod common;

use dockfix::syntax::parse;

#[test]
fn corpus_round_trips_byte_for_byte() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let files = common::dockerfiles(&corpus);
    assert_eq!(files.len(), 255, "the corpus holds 255 Dockerfiles");
    let (mut parsed, mut rejected) = (0, Vec::new());
    for path in &files {
        let bytes = std::fs::read(path).unwrap();
        match parse(&bytes) {
            Ok(file) => {
                let mut joined = Vec::with_capacity(bytes.len());
                let mut at = 0;
                for item in &file.items {
                    assert_eq!(item.span.start, at, "{}: gap or overlap", path.display());
                    joined.extend_from_slice(&bytes[item.span.clone()]);
                    at = item.span.end;
                }
                assert!(joined == bytes, "{}: round trip differs", path.display());
                parsed += 1;
            }
            Err(e) => rejected.push(format!("{}: {e}", path.display())),
        }
    }
    // BuildKit's negative cases are the only corpus files it rejects.
    assert!(
        rejected.iter().all(|r| r.contains("testfiles-negative")) && rejected.len() == 4,
        "unexpected rejections:\n{}",
        rejected.join("\n")
    );
    assert_eq!(parsed, 251);
}
