//! The package caches an image carries: the bytes of regular files under the
//! places package managers keep their downloads and indexes, found by one
//! probe run in the image (`docker run --rm IMAGE sh -c PROBE`).
//!
//! Only what a cache mount or a cleanup is meant to keep out counts: apt's
//! package lists (but its lock and `partial/`), apt's binary caches and
//! downloaded packages, pip's, npm's and yarn's caches, Go's build cache and
//! module cache, Cargo's registry and git checkouts. A path the image lacks
//! counts 0, as does an empty directory (a cache mount leaves its target
//! behind, empty).
//!
//! Also read here: what BuildKit keeps in cache mounts, outside any image.

use std::collections::BTreeMap;

/// The caches, by name, and the `find` arguments that select their files.
pub const CACHES: &[(&str, &str)] = &[
    (
        "apt-lists",
        "/var/lib/apt/lists ! -name lock ! -path '*/partial/*'",
    ),
    (
        "apt-archives",
        r"/var/cache/apt \( -name '*.bin' -o -name '*.deb' \)",
    ),
    ("pip", "/root/.cache/pip"),
    ("npm", "/root/.npm/_cacache"),
    ("yarn", "/usr/local/share/.cache/yarn"),
    ("go-build", "/root/.cache/go-build"),
    ("go-mod", "/go/pkg/mod /root/go/pkg/mod"),
    (
        "cargo-registry",
        "/usr/local/cargo/registry /root/.cargo/registry",
    ),
    ("cargo-git", "/usr/local/cargo/git /root/.cargo/git"),
];

/// The last line of the probe's output, so a probe cut short is an error.
const END: &str = "end";

/// The `sh -c` script: one `NAME BYTES` line per cache, then `end`. Sizes
/// are counted by reading the files (`cat | wc -c`), which busybox images can
/// do too (`find -printf` and `du -b` are GNU's); an image without those
/// tools stops the probe before `end` rather than report no caches.
/// Under `root` (`""` in the image itself), the paths are read from an
/// image unpacked on the host.
pub fn probe(root: &str) -> String {
    let mut script = String::from(
        "for t in find cat wc; do command -v $t >/dev/null || { echo \"no $t in the image\"; exit 1; }; done\n\
         c() { n=$1; shift; echo \"$n $(find \"$@\" -type f -exec cat {} + 2>/dev/null | wc -c)\"; }\n",
    );
    for (name, args) in CACHES {
        let args: Vec<String> = args
            .split(' ')
            .map(|word| match word.starts_with('/') && !root.is_empty() {
                true => format!("'{root}'{word}"),
                false => word.to_string(),
            })
            .collect();
        script += &format!("c {name} {}\n", args.join(" "));
    }
    script + "echo " + END + "\n"
}

/// The bytes of each cache, from the probe's output; an error unless every
/// cache is there once with a number and the output is complete.
pub fn parse(output: &str) -> Result<BTreeMap<String, u64>, String> {
    let mut bytes = BTreeMap::new();
    let mut ended = false;
    for line in output.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if line == END {
            ended = true;
            continue;
        }
        let mut words = line.split_whitespace();
        let (Some(name), Some(count), None) = (words.next(), words.next(), words.next()) else {
            return Err(format!("unexpected probe line {line:?}"));
        };
        if !known(name) {
            return Err(format!("unexpected probe line {line:?}"));
        }
        let count: u64 = count
            .parse()
            .map_err(|_| format!("unexpected probe line {line:?}"))?;
        if bytes.insert(name.to_string(), count).is_some() {
            return Err(format!("{name} reported twice by the probe"));
        }
    }
    if !ended || bytes.len() != CACHES.len() {
        return Err(format!("the probe stopped short: {output:?}"));
    }
    Ok(bytes)
}

/// All bytes of package caches.
pub fn total(bytes: &BTreeMap<String, u64>) -> u64 {
    bytes.values().sum()
}

/// The caches that hold any bytes and are not `allowed`.
pub fn unexpected(bytes: &BTreeMap<String, u64>, allowed: &[String]) -> Vec<String> {
    bytes
        .iter()
        .filter(|(name, &count)| count > 0 && !allowed.contains(name))
        .map(|(name, count)| format!("{name} ({count} bytes)"))
        .collect()
}

/// Whether `name` is one of the caches the probe measures.
pub fn known(name: &str) -> bool {
    CACHES.iter().any(|(known, _)| *known == name)
}

/// The bytes BuildKit keeps in each cache mount, by target path, from
/// `docker system df -v --format '{{json .BuildCache}}'` (its records of type
/// `exec.cachemount` describe themselves as `cached mount TARGET from exec
/// ...`, with a human-readable size).
pub fn mounts(build_cache_json: &str) -> Result<BTreeMap<String, u64>, String> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Record {
        cache_type: String,
        description: String,
        size: String,
    }
    let text = build_cache_json.trim();
    let records: Vec<Record> = if text.is_empty() || text == "null" {
        vec![]
    } else {
        serde_json::from_str(text).map_err(|e| format!("build cache records: {e}"))?
    };
    let mut bytes = BTreeMap::new();
    for record in records.iter().filter(|r| r.cache_type == "exec.cachemount") {
        let target = record
            .description
            .strip_prefix("cached mount ")
            .and_then(|rest| rest.split_once(" from "))
            .map_or(record.description.as_str(), |(target, _)| target);
        let size = human_size(&record.size)
            .ok_or_else(|| format!("cache mount size {:?}", record.size))?;
        *bytes.entry(target.to_string()).or_insert(0) += size;
    }
    Ok(bytes)
}

/// Docker's decimal human sizes (`0B`, `704B`, `2.108MB`, `1.2GB`), in bytes.
fn human_size(text: &str) -> Option<u64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let scale = match unit {
        "B" => 1e0,
        "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "TB" => 1e12,
        _ => return None,
    };
    let number: f64 = number.trim().parse().ok()?;
    Some((number * scale).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(pip: u64) -> String {
        let mut out = String::new();
        for (name, _) in CACHES {
            let count = if *name == "pip" { pip } else { 0 };
            // busybox's wc pads its count.
            out += &format!("{name}       {count}\n");
        }
        out + "end\n"
    }

    #[test]
    fn the_probe_names_every_cache_once_and_ends() {
        let script = probe("");
        for (name, args) in CACHES {
            assert_eq!(
                script.matches(&format!("\nc {name} {args}\n")).count(),
                1,
                "{name}"
            );
        }
        assert!(script.ends_with("echo end\n"));
        assert!(script.contains("-type f -exec cat {} +"));
    }

    #[test]
    fn the_probe_reads_an_unpacked_image_from_the_host() {
        let root = tempfile::tempdir().unwrap();
        let lists = root.path().join("var/lib/apt/lists");
        std::fs::create_dir_all(lists.join("partial")).unwrap();
        std::fs::write(lists.join("index"), "0123456789").unwrap();
        std::fs::write(lists.join("partial/skipped"), "xx").unwrap();
        let output = std::process::Command::new("sh")
            .arg("-c")
            .arg(probe(&root.path().to_string_lossy()))
            .output()
            .unwrap();
        let bytes = parse(&String::from_utf8_lossy(&output.stdout)).unwrap();
        assert_eq!(bytes["apt-lists"], 10);
        assert_eq!(bytes["pip"], 0);
    }

    #[test]
    fn parses_every_cache() {
        let bytes = parse(&output(1234)).unwrap();
        assert_eq!(bytes.len(), CACHES.len());
        assert_eq!(bytes["pip"], 1234);
        assert_eq!(bytes["apt-lists"], 0);
        assert_eq!(total(&bytes), 1234);
    }

    #[test]
    fn a_short_or_garbled_probe_is_an_error() {
        let full = output(0);
        assert!(parse(&full.replace("end\n", "")).is_err());
        assert!(parse(&full.replace("npm       0\n", "")).is_err());
        assert!(parse(&full.replace("npm       0", "npm")).is_err());
        assert!(parse(&full.replace("npm       0", "npm x")).is_err());
        assert!(parse(&(full.clone() + "pip 3\n")).is_err());
        assert!(parse(&full.replace("npm ", "nmp ")).is_err());
        assert!(parse("sh: 1: find: not found\n").is_err());
    }

    #[test]
    fn cache_mounts_by_target() {
        let json = r#"[{"CacheType":"regular","Description":"[stage-0 5/5] COPY . /app","ID":"a","Size":"704B"},
            {"CacheType":"exec.cachemount","Description":"cached mount /var/cache/apt from exec /bin/sh -c apt-get update with id \"/apt-cache\"","ID":"b","Size":"35.44MB"},
            {"CacheType":"exec.cachemount","Description":"cached mount /root/.cache/pip from exec /bin/sh -c pip install -r requirements.txt with id \"/pip\"","ID":"c","Size":"0B"},
            {"CacheType":"exec.cachemount","Description":"cached mount /var/cache/apt from exec /bin/sh -c apt-get install -y jq with id \"/apt-cache\"","ID":"d","Size":"2.108MB"}]"#;
        let bytes = mounts(json).unwrap();
        assert_eq!(bytes.len(), 2);
        assert_eq!(bytes["/var/cache/apt"], 37_548_000);
        assert_eq!(bytes["/root/.cache/pip"], 0);
        assert!(mounts("[]").unwrap().is_empty());
        assert!(mounts("null\n").unwrap().is_empty());
        assert!(mounts("").unwrap().is_empty());
        assert!(mounts("not json").is_err());
        assert!(mounts(
            r#"[{"CacheType":"exec.cachemount","Description":"x","Size":"12 parsecs"}]"#
        )
        .is_err());
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_size("0B"), Some(0));
        assert_eq!(human_size("704B"), Some(704));
        assert_eq!(human_size("1.5kB"), Some(1_500));
        assert_eq!(human_size("2.108MB"), Some(2_108_000));
        assert_eq!(human_size("1.2GB"), Some(1_200_000_000));
        assert_eq!(human_size("MB"), None);
        assert_eq!(human_size("3KiB"), None);
    }

    #[test]
    fn only_caches_with_bytes_and_not_allowed_are_unexpected() {
        let bytes = parse(&output(10)).unwrap();
        assert_eq!(unexpected(&bytes, &[]), vec!["pip (10 bytes)"]);
        assert!(unexpected(&bytes, &["pip".into()]).is_empty());
        assert!(unexpected(&parse(&output(0)).unwrap(), &[]).is_empty());
        assert!(known("apt-lists") && known("go-mod") && !known("pipx"));
        assert!(known("cargo-registry") && known("cargo-git"));
    }
}
