//! Turns transforms/recommends.toml, a table of thousands of packages
//! derived from Debian's and Ubuntu's metadata, into sorted static arrays:
//! parsed at run time it would cost each run more than linting a file.
//! The names are one string with the offsets where each ends, and what
//! each needs an index into the few distinct lists: an array of `&str`
//! was a pointer per name for the loader to relocate, writing a private
//! copy of a hundred-odd pages at every start.
//!
//! The other tables stay TOML in the repository and reach the binary as
//! JSON: a run reads them with serde_json in a fraction of what the TOML
//! parser takes, and reading them was half of what a run over a small
//! Dockerfile executed.

use std::collections::BTreeMap;
use std::fmt::Write;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Recommends {
    needs: BTreeMap<String, Vec<String>>,
    zypper: BTreeMap<String, Vec<String>>,
}

fn main() {
    let path = "transforms/recommends.toml";
    println!("cargo::rerun-if-changed={path}");
    let text = std::fs::read_to_string(path).expect("transforms/recommends.toml is readable");
    let table: Recommends = toml::from_str(&text).expect("transforms/recommends.toml is valid");
    let mut out = String::new();
    for (name, map) in [("APT_NEEDS", &table.needs), ("ZYPPER_NEEDS", &table.zypper)] {
        // A BTreeMap iterates in the order a binary search needs.
        let mut names = String::new();
        let (mut ends, mut needed, mut lists) =
            (Vec::new(), Vec::new(), Vec::<&Vec<String>>::new());
        for (package, needs) in map {
            names.push_str(package);
            ends.push(u32::try_from(names.len()).expect("the names fit in 4 GiB"));
            let list = lists.iter().position(|l| *l == needs).unwrap_or_else(|| {
                lists.push(needs);
                lists.len() - 1
            });
            needed.push(u8::try_from(list).expect("at most 256 distinct lists"));
        }
        let lists: Vec<String> = lists.iter().map(|l| format!("&{l:?}")).collect();
        let lists = lists.join(", ");
        writeln!(
            out,
            "pub static {name}: Needs = Needs {{\n    names: {names:?},\n    ends: &{ends:?},\n    needed: &{needed:?},\n    lists: &[{lists}],\n}};"
        )
        .unwrap();
    }
    let dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    std::fs::write(format!("{dir}/recommends.rs"), out).expect("OUT_DIR is writable");
    for table in TABLES {
        let path = format!("transforms/{table}.toml");
        println!("cargo::rerun-if-changed={path}");
        let text = std::fs::read_to_string(&path).expect("the transforms tables are readable");
        let value: toml::Table = toml::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
        let json = serde_json::to_string(&value).expect("a TOML table is JSON");
        std::fs::write(format!("{dir}/{table}.json"), json).expect("OUT_DIR is writable");
    }
}

/// The tables `src/transforms.rs` reads, by file name.
const TABLES: [&str; 6] = [
    "package_managers",
    "cache_mounts",
    "pinning",
    "stages",
    "context",
    "ecosystems",
];
