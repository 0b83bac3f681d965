//! The facts about a Dockerfile that several rules ask for: the commands of
//! its RUNs, what apt does with its lists, what a later RUN runs, yarn's
//! installs, a package install word by word. They sit beneath the rules:
//! nothing here knows about findings or fixes, and `Context` keeps the
//! answers that every site of a rule would otherwise find anew.

pub mod apt;
pub mod commands;
pub mod context_files;
pub mod copies;
pub mod package_install;
pub mod scripts;
pub mod yarn;

use std::path::Path;

use crate::syntax::Dockerfile;

/// What a rule sees: the parsed file and its build context directory.
pub struct Context<'a> {
    pub file: &'a Dockerfile,
    pub build_context: Option<&'a Path>,
    /// Whether fixes may change files besides the Dockerfile (not when it
    /// comes from standard input).
    pub companions: bool,
    /// Where the Dockerfile is, when it is a file.
    pub dockerfile: Option<&'a Path>,
    /// Registry answers, when pinning is asked for.
    pub pins: Option<&'a crate::pin::Pins>,
    /// The dependency ecosystems DF101 knows: a configuration's table, or
    /// `None` for the built-in one, read only when a rule asks.
    pub ecosystems: Option<&'a crate::deps::Ecosystems>,
    /// DF503's runtime images the configuration sets, by ecosystem.
    pub runtime_images: &'a std::collections::BTreeMap<String, String>,
    /// Whether this run applies a fix of rule `id` to a finding at offset
    /// `at`, safe or not (the rule runs, `--unsafe` allows it, nothing
    /// silences it): asked by a rule whose fix relies on another rule's
    /// in the same round. Nothing, unless the engine says.
    pub offered: &'a dyn Fn(&str, usize, bool) -> bool,
    /// The RUNs' commands, read once for all the rules that need them.
    commands: std::cell::OnceCell<Vec<commands::RunCommand>>,
    /// The file's stages, found once for all the rules.
    stages: std::cell::OnceCell<Vec<crate::model::Stage<'a>>>,
    /// Where each stage copies the whole build context; see `full_copies`.
    full_copies: std::cell::OnceCell<Vec<Vec<usize>>>,
    /// What each instruction sees of the variables and WORKDIRs before it.
    scopes: crate::scope::Scopes,
    /// Where each instruction runs, for the rules that read scripts.
    sites: std::cell::OnceCell<scripts::Sites<'a>>,
    /// The first later instruction passing a test, by the test's name.
    first_later: FirstLaterTables<'a>,
    /// What each RUN does with apt, by the RUN's offset; see `apt::AptUse`.
    apt_uses: std::cell::RefCell<std::collections::HashMap<usize, Option<apt::AptUse>>>,
    /// The build context's `.dockerignore`, read once for all the rules.
    dockerignore: std::cell::OnceCell<std::rc::Rc<crate::dockerignore::DockerIgnore>>,
    /// Answers about the whole file, by the question.
    file_facts: std::cell::RefCell<std::collections::HashMap<String, Box<dyn std::any::Any>>>,
}

fn nothing_offered(_: &str, _: usize, _: bool) -> bool {
    false
}

type FirstLaterTables<'a> = std::cell::RefCell<
    std::collections::HashMap<String, std::rc::Rc<crate::model::FirstLater<'a, String>>>,
>;

impl<'a> Context<'a> {
    pub fn new(file: &'a Dockerfile, build_context: Option<&'a Path>, companions: bool) -> Self {
        Context {
            file,
            build_context,
            companions,
            dockerfile: None,
            pins: None,
            ecosystems: None,
            runtime_images: &crate::config::NO_RUNTIME_IMAGES,
            offered: &nothing_offered,
            commands: Default::default(),
            sites: Default::default(),
            scopes: Default::default(),
            stages: Default::default(),
            full_copies: Default::default(),
            first_later: Default::default(),
            apt_uses: Default::default(),
            dockerignore: Default::default(),
            file_facts: Default::default(),
        }
    }

    /// The dependency ecosystems DF101 knows.
    pub fn ecosystems(&self) -> &'a crate::deps::Ecosystems {
        crate::deps::Ecosystems::or_builtin(self.ecosystems)
    }

    /// The file's stages; see `model::stages`.
    pub(crate) fn stages(&self) -> &[crate::model::Stage<'a>] {
        self.stages.get_or_init(|| crate::model::stages(self.file))
    }

    /// The positions in each stage of its copies of the whole build
    /// context (`copies::full_copy`), found once: the ordering rules look
    /// for them in every stage, and reading each COPY for each of them was
    /// most of their time on a file of thousands of COPYs.
    pub(crate) fn full_copies(&self) -> &[Vec<usize>] {
        self.full_copies.get_or_init(|| {
            let of_stage = |stage: &crate::model::Stage| {
                stage
                    .each_with(&["copy", "add"], Dockerfile::WHOLE_CONTEXT)
                    .filter(|(_, i)| copies::full_copy(i).is_some())
                    .map(|(position, _)| position)
                    .collect()
            };
            self.stages().iter().map(of_stage).collect()
        })
    }

    /// What the instruction at file offset `at` in stage `index` sees;
    /// see `scope::Scopes`.
    pub(crate) fn scope_at(&self, index: usize, at: usize) -> crate::scope::Scope {
        self.scopes.at(self.stages(), index, at)
    }

    /// The build context's `.dockerignore`; empty without a build context.
    pub(crate) fn dockerignore(&self) -> std::rc::Rc<crate::dockerignore::DockerIgnore> {
        std::rc::Rc::clone(self.dockerignore.get_or_init(|| {
            std::rc::Rc::new(
                self.build_context
                    .map(crate::dockerignore::DockerIgnore::load)
                    .unwrap_or_default(),
            )
        }))
    }

    /// The paths of the build context at `root` that a COPY source names
    /// (`context::resolve`), found once per source: the script reader asks
    /// about the same sources for every program each RUN runs, and one
    /// corpus file had the file system asked 1,249 times for one missing
    /// directory.
    pub(crate) fn context_paths(
        &self,
        root: &Path,
        source: &str,
    ) -> std::rc::Rc<Vec<std::path::PathBuf>> {
        let key = format!("paths of {source:?} in {}", root.display());
        self.file_fact(&key, || {
            std::rc::Rc::new(crate::context::resolve(root, source))
        })
    }

    /// Where each instruction runs; see `scripts::Sites`.
    pub(crate) fn sites(&self) -> &scripts::Sites<'a> {
        self.sites
            .get_or_init(|| scripts::Sites::new(self.stages()))
    }

    /// The answer to a question about the whole file, found once per
    /// `key`: every site of a rule asks the same.
    pub(crate) fn file_fact<T: Clone + 'static>(&self, key: &str, find: impl FnOnce() -> T) -> T {
        if let Some(fact) = self
            .file_facts
            .borrow()
            .get(key)
            .and_then(|f| f.downcast_ref::<T>())
        {
            return fact.clone();
        }
        let fact = find();
        self.file_facts
            .borrow_mut()
            .insert(key.to_string(), Box::new(fact.clone()));
        fact
    }

    /// For each point of the file, the first later instruction that `test`
    /// passes (see `model::FirstLater`), built once per `key`: every site
    /// of a rule asks the same question.
    pub(crate) fn first_later(
        &self,
        key: &str,
        test: impl Fn(&'a crate::syntax::Instruction) -> Option<String>,
    ) -> std::rc::Rc<crate::model::FirstLater<'a, String>> {
        if let Some(table) = self.first_later.borrow().get(key) {
            return std::rc::Rc::clone(table);
        }
        let table = std::rc::Rc::new(crate::model::FirstLater::new(self.stages(), test));
        self.first_later
            .borrow_mut()
            .insert(key.to_string(), std::rc::Rc::clone(&table));
        table
    }

    /// Every command of every shell-form RUN; see `commands::run_commands`.
    pub(crate) fn run_commands(&self) -> &[commands::RunCommand] {
        self.commands
            .get_or_init(|| commands::run_commands(self.file, self.stages()))
    }

    /// The commands of one RUN of stage `stage`: its share of
    /// `run_commands`, or read anew for a RUN that list leaves out (one
    /// naming no package manager it knows, an ONBUILD RUN).
    pub(crate) fn commands_of(
        &self,
        run: &crate::syntax::Instruction,
        stage: usize,
    ) -> std::borrow::Cow<'_, [commands::RunCommand]> {
        let all = self.run_commands();
        let span = run.span();
        let from = all.partition_point(|c| c.range.start < span.start);
        let to = all.partition_point(|c| c.range.start < span.end);
        match &all[from..to] {
            [] => commands::instruction_commands(self.file, run, stage).into(),
            own => own.into(),
        }
    }
}
