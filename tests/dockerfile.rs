//! The Dockerfile keeps the shape the image needs. No builder runs here (no
//! daemon, no registry), so it is read with a Dockerfile parser instead: the
//! same stages, line continuations and exec forms a builder sees.

use std::path::PathBuf;

use dockerfile_parser::{Dockerfile, Instruction, Stage, StageParent};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn dockerfile() -> Dockerfile {
    let text = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    Dockerfile::parse(&text).expect("the Dockerfile parses")
}

/// The arguments of a stage's instructions a parser has no type for
/// (`USER`, `WORKDIR`), by instruction name.
fn misc(stage: &Stage<'_>, name: &str) -> Vec<String> {
    stage
        .instructions
        .iter()
        .filter_map(|i| i.as_misc())
        .filter(|m| m.instruction.content.eq_ignore_ascii_case(name))
        .map(|m| m.arguments.to_string().trim().to_string())
        .collect()
}

/// A base image pinned by a digest, or by a tag other than `latest`: a
/// rebuild then gets the same Debian release and ABI.
fn pinned(stage: &Stage<'_>) -> String {
    let StageParent::Image(image) = &stage.root else {
        panic!("stage {} starts from an image", stage.index);
    };
    let name = image.to_string();
    assert!(
        image.hash.is_some() || image.tag.as_deref().is_some_and(|t| t != "latest"),
        "{name} is not pinned by a tag or a digest"
    );
    name
}

#[test]
fn final_stage_runs_the_release_binary_as_non_root_without_a_shell() {
    let file = dockerfile();
    let stages = file.stages();
    assert!(stages.stages.len() >= 2, "a multi-stage build");
    let last = stages.stages.last().unwrap();
    let base = pinned(last);
    assert!(
        base.contains("distroless"),
        "{base}: a minimal runtime base"
    );

    // The binary comes from the builder stage's release build.
    let (copy, from) = last
        .instructions
        .iter()
        .filter_map(|i| i.as_copy())
        .find_map(|c| {
            let from = c.flags.iter().find(|f| f.name.content == "from")?;
            Some((c, from.value.content.as_str()))
        })
        .expect("the final stage copies from another stage");
    let builder = stages.get(from).expect("COPY --from names a stage");
    assert_eq!(builder.index, 0, "the first stage builds");
    assert_eq!(copy.sources.len(), 1);
    assert!(
        copy.sources[0]
            .content
            .ends_with("/target/release/mlopsctl"),
        "{} is the release binary",
        copy.sources[0].content
    );
    let installed = copy.destination.content.clone();

    let users = misc(last, "USER");
    let user = users.last().expect("the final stage sets USER");
    let uid = user.split(':').next().unwrap();
    // Numeric, so the kubelet can check `runAsNonRoot`; deploy/ runs as it.
    assert_eq!(uid, "65532", "USER {user}: non-root, numeric");

    let entrypoint = last
        .instructions
        .iter()
        .filter_map(|i| i.as_entrypoint())
        .next_back()
        .expect("the final stage has an ENTRYPOINT");
    let argv = entrypoint
        .expr
        .as_exec()
        .expect("ENTRYPOINT in exec form: a shell form needs /bin/sh, which the image lacks")
        .as_str_vec();
    assert_eq!(argv, [installed.as_str()], "ENTRYPOINT runs the binary");
    for i in &last.instructions {
        if let Instruction::Cmd(cmd) = i {
            assert!(cmd.expr.as_exec().is_some(), "CMD in exec form");
        }
        assert!(
            !matches!(i, Instruction::Run(_)),
            "the runtime stage runs nothing at build time: it has no shell"
        );
    }
}

#[test]
fn builder_stage_builds_the_locked_release_for_the_runtime_base() {
    let file = dockerfile();
    let stages = file.stages();
    let last = stages.stages.last().unwrap();
    let builder = &stages.stages[0];
    // The binary links the builder's glibc and libssl3: the runtime must be
    // the same Debian release to provide them.
    let (build_base, run_base) = (pinned(builder), pinned(last));
    assert!(
        build_base.contains("bookworm") && run_base.contains("debian12"),
        "{build_base} and {run_base} are both Debian 12"
    );
    let builds: Vec<Vec<String>> = builder
        .instructions
        .iter()
        .filter_map(|i| i.as_run())
        .filter_map(|r| r.expr.as_shell())
        .map(|s| s.to_string().split_whitespace().map(String::from).collect())
        .filter(|words: &Vec<String>| words.windows(2).any(|w| w == ["cargo", "build"]))
        .collect();
    let [words] = builds.as_slice() else {
        panic!("one `cargo build` in the builder stage, got {builds:?}");
    };
    for flag in ["--release", "--locked"] {
        assert!(words.iter().any(|w| w == flag), "cargo build {flag}");
    }
    // distroless has no libz.so.1, which librdkafka would otherwise link.
    let features = words
        .iter()
        .position(|w| w == "--features")
        .map(|i| words[i + 1].as_str());
    assert!(
        features.is_some_and(|f| f.split(',').any(|f| f == "rdkafka/libz-static")),
        "zlib linked statically: {words:?}"
    );
}

/// The builder copies what the build reads, and the context keeps it.
#[test]
fn dockerignore_keeps_what_the_build_copies() {
    let ignore = std::fs::read_to_string(root().join(".dockerignore")).unwrap();
    let ignored: Vec<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    for heavy in ["target", "fuzz", ".git"] {
        assert!(
            ignored.contains(&heavy),
            "{heavy} is kept out of the context"
        );
    }
    let file = dockerfile();
    let stages = file.stages();
    let mut copied = Vec::new();
    for copy in stages.stages[0]
        .instructions
        .iter()
        .filter_map(|i| i.as_copy())
    {
        for source in &copy.sources {
            let top = source.content.trim_end_matches('/');
            assert!(root().join(top).exists(), "COPY {top}: no such path");
            assert!(!ignored.contains(&top), "{top} is copied but ignored");
            copied.push(top.to_string());
        }
    }
    // What `cargo build` reads: the manifest and lock, build.rs and the
    // checks it embeds, the sources, and the declared [[bench]]'s folder.
    for needed in [
        "Cargo.toml",
        "Cargo.lock",
        "build.rs",
        "src",
        "checks",
        "benches",
    ] {
        assert!(
            copied.iter().any(|c| c == needed),
            "the builder copies {needed}"
        );
    }
}
