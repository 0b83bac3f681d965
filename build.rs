//! Turns transforms/recommends.toml, a table of thousands of packages
//! derived from Debian's and Ubuntu's metadata, into sorted static arrays:
//! parsed at run time it would cost each run more than linting a file.

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
        writeln!(out, "pub static {name}: &[(&str, &[&str])] = &[").unwrap();
        // A BTreeMap iterates in the order a binary search needs.
        for (package, needed) in map {
            writeln!(out, "    ({package:?}, &{needed:?}),").unwrap();
        }
        writeln!(out, "];").unwrap();
    }
    let dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    std::fs::write(format!("{dir}/recommends.rs"), out).expect("OUT_DIR is writable");
}
