use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use mlopsctl::cli::Cli;
use mlopsctl::commands::{self, Context, Exit};

fn main() -> ExitCode {
    // kube's TLS uses ring; installed before anything can build a TLS client.
    mlopsctl::collect::install_crypto_provider();
    // Installed as `kubectl-mlops`, kubectl runs it as `kubectl mlops …`: say so in help.
    let invoked_as_plugin = std::env::args_os()
        .next()
        .and_then(|a| {
            std::path::Path::new(&a)
                .file_name()
                .map(|n| n.to_string_lossy().starts_with("kubectl-"))
        })
        .unwrap_or(false);
    let command = if invoked_as_plugin {
        Cli::command().bin_name("kubectl mlops")
    } else {
        Cli::command()
    };
    let cli = match Cli::from_arg_matches(&command.get_matches()) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let ctx = Context {
        style: commands::resolve_style(cli.color, no_color),
        cwd: std::env::current_dir().unwrap_or_default(),
        today: commands::utc_date(std::time::SystemTime::now()),
        interactive: io::stdin().is_terminal() && io::stderr().is_terminal(),
        journal_dir: mlopsctl::changes::journal::default_dir(
            std::env::var_os("XDG_STATE_HOME").map(Into::into),
            std::env::var_os("HOME").map(Into::into),
        ),
    };
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let result = mlopsctl::run(&cli, &ctx, &mut out).and_then(|exit| {
        out.flush()?;
        Ok(exit)
    });
    match result {
        Ok(exit) => ExitCode::from(exit as u8),
        // `mlopsctl doctor | head` closing the pipe early is not an error.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = out.flush();
            eprintln!("error: {e:#}");
            ExitCode::from(Exit::Error as u8)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}
