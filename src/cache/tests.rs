use super::*;

fn parsed(source: &str) -> Dockerfile {
    crate::syntax::parse(source.as_bytes()).unwrap()
}

fn labels(model: &Model) -> Vec<String> {
    model.steps.iter().map(|s| model.label(s)).collect()
}

/// The labels of the steps a change of `changed` reruns, with a `?` after
/// those that rerun only if files taken from a stage came out different.
fn rerun(source: &str, changed: &[&str], ignore: &str) -> Vec<String> {
    let file = parsed(source);
    let model = Model::of(&file);
    let changed: Vec<String> = changed.iter().map(|c| c.to_string()).collect();
    let reruns = model.reruns(&changed, &DockerIgnore::parse(ignore));
    model
        .steps
        .iter()
        .zip(&reruns)
        .filter_map(|(s, r)| {
            let mark = if r.as_ref()?.certain { "" } else { "?" };
            Some(format!("{}{mark}", model.label(s)))
        })
        .collect()
}

const PIP: &str = "FROM python:3.12\nWORKDIR /app\nENV A=1\nCOPY requirements.txt .\nRUN pip install -r requirements.txt\nCOPY . .\nCMD [\"python\", \"app.py\"]\n";

#[test]
fn steps_are_numbered_as_buildkit_numbers_them() {
    let file = parsed(PIP);
    let model = Model::of(&file);
    assert_eq!(
        labels(&model),
        ["[1/5]", "[2/5]", "[3/5]", "[4/5]", "[5/5]"]
    );
    // Named and unnamed stages; a stage built on a stage has no FROM step;
    // scratch has none either; a total of ten pads the number.
    let file = parsed(
        "FROM golang:1.22 AS build\nRUN a\nFROM build AS test\nRUN b\nFROM scratch\nCOPY --from=build /a /a\nWORKDIR /x\nRUN c\nRUN d\nRUN e\nRUN f\nRUN g\nRUN h\nRUN i\nRUN j\n",
    );
    let model = Model::of(&file);
    // `test` is not needed by the last stage: not built.
    assert!(!model.stages[1].built);
    assert_eq!(
        labels(&model),
        [
            "[build 1/2]",
            "[build 2/2]",
            "[stage-2  1/10]",
            "[stage-2  2/10]",
            "[stage-2  3/10]",
            "[stage-2  4/10]",
            "[stage-2  5/10]",
            "[stage-2  6/10]",
            "[stage-2  7/10]",
            "[stage-2  8/10]",
            "[stage-2  9/10]",
            "[stage-2 10/10]",
        ]
    );
}

#[test]
fn stage_names_and_root_workdirs_follow_buildkit() {
    // An image taken by COPY --from makes the build two stages: named.
    let file = parsed("FROM alpine\nCOPY --from=busybox:1 /bin/sh /sh\nWORKDIR /\nRUN a\n");
    let model = Model::of(&file);
    // `WORKDIR /` is counted in the total but makes no step.
    assert_eq!(
        labels(&model),
        ["[stage-0 1/4]", "[stage-0 2/4]", "[stage-0 3/4]"]
    );
    // So does any mount: one without `from=` takes scratch.
    for mount in [
        "from=busybox:1,target=/b",
        "type=cache,target=/root/.npm",
        "type=secret,id=a,target=/a",
    ] {
        let mounted = parsed(&format!("FROM alpine\nRUN --mount={mount} true\n"));
        assert_eq!(
            labels(&Model::of(&mounted)),
            ["[stage-0 1/2]", "[stage-0 2/2]"],
            "{mount}"
        );
    }
    assert_eq!(
        model.steps[1].inputs,
        [Input::ImageFiles {
            image: "busybox:1".into(),
            sources: vec!["bin/sh".into()],
        }]
    );
}

#[test]
fn a_source_edit_reruns_from_the_copy_that_reads_it() {
    assert_eq!(rerun(PIP, &["app.py"], ""), ["[5/5]"]);
    assert_eq!(
        rerun(PIP, &["requirements.txt"], ""),
        ["[3/5]", "[4/5]", "[5/5]"]
    );
    // A file .dockerignore leaves out changes nothing; nor does no file.
    assert!(rerun(PIP, &["notes/todo.md"], "notes\n").is_empty());
    assert!(rerun(PIP, &[], "").is_empty());
    let file = parsed(PIP);
    let model = Model::of(&file);
    let first = model.any_edit_reruns_from(&DockerIgnore::default());
    assert_eq!(
        first.map(|i| model.label(&model.steps[i])).as_deref(),
        Some("[5/5]")
    );
}

#[test]
fn stages_rerun_through_what_they_take() {
    let go = "FROM golang:1.22 AS build\nWORKDIR /src\nCOPY go.mod .\nRUN go mod download\nCOPY . .\nRUN go build -o /out/app .\nFROM debian:bookworm-slim\nCOPY --from=build /out/app /app\nCMD /app\n";
    // The binary may come out the same: BuildKit keys the copy on it.
    assert_eq!(
        rerun(go, &["main.go"], ""),
        ["[build 5/6]", "[build 6/6]", "[stage-1 2/2]?"]
    );
    // A stage built on a stage reruns with it.
    let chained = "FROM node:20 AS deps\nCOPY package.json .\nRUN npm install\nFROM deps\nCOPY . .\nRUN npm test\n";
    assert_eq!(
        rerun(chained, &["package.json"], ""),
        ["[deps 2/3]", "[deps 3/3]", "[stage-1 1/2]", "[stage-1 2/2]"]
    );
    let file = parsed(go);
    let model = Model::of(&file);
    let why: Vec<Option<Why>> = model
        .reruns(&["main.go".into()], &DockerIgnore::default())
        .into_iter()
        .map(|r| r.map(|r| r.why))
        .collect();
    assert_eq!(why[4], Some(Why::Reads("main.go".into())));
    assert_eq!(why[5], Some(Why::After(4)));
    assert_eq!(why[7], Some(Why::TakesFrom(0)));
}

#[test]
fn what_follows_a_copy_from_a_rerun_stage_may_rerun_unless_it_reads_a_change() {
    // After a copy that may rerun, steps may rerun; one that reads the
    // changed file surely reruns, and so does everything after it.
    let file = "FROM golang:1.22 AS build\nCOPY . .\nRUN go build -o /app .\nFROM alpine AS run\nCOPY --from=build /etc/ssl/certs /etc/ssl/certs\nRUN update-ca-certificates\nCOPY main.go /doc/\nRUN ls\nFROM run\nRUN true\n";
    assert_eq!(
        rerun(file, &["main.go"], ""),
        [
            "[build 2/3]",
            "[build 3/3]",
            "[run 2/5]?",
            "[run 3/5]?",
            "[run 4/5]",
            "[run 5/5]",
            "[stage-2 1/1]",
        ]
    );
    // A stage built on one whose steps only may rerun may rerun too; so
    // may a step whose every changed input is a copy from a rerun stage.
    assert_eq!(
        rerun(file, &["other.go"], ""),
        [
            "[build 2/3]",
            "[build 3/3]",
            "[run 2/5]?",
            "[run 3/5]?",
            "[run 4/5]?",
            "[run 5/5]?",
            "[stage-2 1/1]?",
        ]
    );
    // A source edit reruns two steps surely and five more perhaps.
    let parsed = parsed(file);
    let edit = Model::of(&parsed).source_edit(&DockerIgnore::default());
    assert_eq!((edit.rerun, edit.may_rerun), (2, 5));
    assert_eq!(
        edit.expensive,
        [("RUN go build -o /app .".to_string(), Cost::Compile)]
    );
}

#[test]
fn mounts_patterns_excludes_and_unknown_sources() {
    let mount = "FROM golang:1.22\nRUN --mount=type=bind,source=go.sum,target=go.sum --mount=type=cache,target=/root/.cache go mod download\nCOPY src/ ./src/\n";
    assert_eq!(
        rerun(mount, &["go.sum"], ""),
        ["[stage-0 2/3]", "[stage-0 3/3]"]
    );
    assert_eq!(rerun(mount, &["src/a/b.go"], ""), ["[stage-0 3/3]"]);
    assert!(rerun(mount, &["srcs/b.go"], "").is_empty());
    let excluded = "# syntax=docker/dockerfile:1.7-labs\nFROM alpine\nCOPY --exclude=*.md . /app\n";
    assert!(rerun(excluded, &["README.md"], "").is_empty());
    assert_eq!(rerun(excluded, &["main.c"], ""), ["[2/2]"]);
    let unknown = "FROM alpine\nARG DIR\nCOPY $DIR/ /app\nRUN x\n";
    assert_eq!(rerun(unknown, &["anything"], ""), ["[2/3]", "[3/3]"]);
    let known = "FROM alpine\nENV DIR=web\nCOPY ${DIR}/ /app\n";
    assert_eq!(rerun(known, &["web/index.html"], ""), ["[2/2]"]);
    assert!(rerun(known, &["api/main.go"], "").is_empty());
}

#[test]
fn inputs_and_costs_of_each_step() {
    let file = parsed("FROM debian:bookworm\nARG V=1\nENV E=x\nWORKDIR app\nRUN apt-get update && apt-get install -y curl\nRUN pip install -r r.txt\nRUN go build ./...\nCOPY <<EOF /etc/x\nhi\nEOF\nADD https://example.invalid/a.tgz /a\n");
    let model = Model::of(&file);
    let step = |n: usize| &model.steps[n];
    assert_eq!(step(0).inputs, [Input::Image("debian:bookworm".into())]);
    // Relative to the base image's directory, which the file does not say.
    assert_eq!(step(1).inputs, [Input::Path("app".into())]);
    assert_eq!(
        step(2).inputs,
        [
            Input::Command("apt-get update && apt-get install -y curl".into()),
            Input::Variables(vec![("E".into(), Some("x".into())), ("V".into(), None)]),
        ]
    );
    let costs: Vec<Option<Cost>> = model.steps.iter().map(|s| s.cost).collect();
    assert_eq!(
        costs,
        [
            None,
            None,
            Some(Cost::PackageInstall),
            Some(Cost::DependencyInstall),
            Some(Cost::Compile),
            None,
            None,
        ]
    );
    assert_eq!(step(5).inputs, [Input::Inline]);
    assert_eq!(
        step(6).inputs,
        [Input::Remote("https://example.invalid/a.tgz".into())]
    );
}

#[test]
fn installs_of_a_configured_ecosystem_weigh_as_dependency_installs() {
    #[derive(serde::Deserialize)]
    struct Extra {
        ecosystem: Vec<crate::transforms::Ecosystem>,
    }
    let extra: Extra = toml::from_str(
        "[[ecosystem]]\nname = \"fake\"\ninstall = [\"fakepm install\"]\nmanifests = [\"fake.lock\"]\n",
    )
    .unwrap();
    let table = crate::deps::Ecosystems::with(extra.ecosystem).unwrap();
    let file = parsed("FROM alpine\nCOPY . .\nRUN fakepm install\n");
    let weighed = |model: Model| model.steps.last().and_then(|s| s.cost);
    assert_eq!(weighed(Model::of(&file)), None);
    assert_eq!(
        weighed(Model::building(&file, None, &table)),
        Some(Cost::DependencyInstall)
    );
}
